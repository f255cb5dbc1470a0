package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/review"
)

func parseAlertIDs(args []string) ([]uint64, error) {
	var ids []uint64
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, usageErr("%q is not an alert id", a)
		}
		ids = append(ids, n)
	}
	return ids, nil
}

func (a *app) reviewCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "review",
		Short: "Review alerts: claim, assign, comment, escalate, close (with a disposition), reopen — all journaled",
		Long: `Every review action is a journal event naming you, the alerts, the hashes of their
messages and the policy versions: the evidence of review. An action on several
alerts at once needs --reason. Closing needs --disposition (no_issue,
false_positive or violation; a violation needs --note, the remediation). Only a
principal (supervision.principals in wxarchive.yaml) closes an escalated alert.
Viewing an alert (wxarchive alerts show) is recorded but is not a review.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	for _, act := range []struct{ name, short string }{
		{review.Claim, "take alerts to review"}, {review.Assign, "give alerts to a reviewer (--assignee)"},
		{review.Comment, "add a note (--note)"}, {review.Escalate, "escalate to a principal (--note: why)"},
		{review.Close, "close with --disposition"}, {review.Reopen, "reopen closed alerts"},
	} {
		var disposition, note, reason, assignee string
		sub := &cobra.Command{
			Use:   act.name + " ALERT...",
			Short: act.short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				ids, err := parseAlertIDs(args)
				if err != nil {
					return err
				}
				return a.withApp(ctx, journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
					res, err := u.Review(ctx, uc.ReviewRequest{Action: act.name, Alerts: ids, Disposition: disposition,
						Note: note, Reason: reason, Assignee: assignee})
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "%s: %d %s (journal %d)\n", act.name, len(ids), plural(int64(len(ids)), "alert", "alerts"), res.JournalIndex)
					return nil
				})
			},
		}
		sub.Flags().StringVar(&note, "note", "", "comment, escalation reason or remediation note")
		sub.Flags().StringVar(&reason, "reason", "", "why (required for several alerts at once)")
		if act.name == review.Close {
			sub.Flags().StringVar(&disposition, "disposition", "", "no_issue, false_positive or violation")
		}
		if act.name == review.Assign {
			sub.Flags().StringVar(&assignee, "assignee", "", "reviewer to assign to")
		}
		c.AddCommand(sub)
	}
	return c
}

func (a *app) alertsShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ALERT",
		Short: "Show an alert with its message and review history (recorded as a view, which is not a review)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ids, err := parseAlertIDs(args)
			if err != nil {
				return err
			}
			return a.withApp(ctx, journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Alert(ctx, ids[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printAlert(v)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) reportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "report",
		Short: "Compliance reports",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a report name is required\n%s", c.UsageString())
		},
	}
	var from, to, format, by string
	ev := &cobra.Command{
		Use:   "review-evidence --from DATE --to DATE [--by sent|raised]",
		Short: "Evidence of review per alert on the period's messages (CSV or JSON): reviewed or not, by whom, when, disposition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "json" {
				return usageErr("--format: csv or json, not %q", format)
			}
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.ReviewEvidence(ctx, uc.Range{From: from, To: to, By: by})
				if err != nil {
					return err
				}
				if format == "json" {
					return a.printJSON(v)
				}
				return review.WriteEvidenceCSV(a.stdout, v.Alerts)
			})
		},
	}
	ev.Flags().StringVar(&from, "from", "", "first day")
	ev.Flags().StringVar(&to, "to", "", "day after the last")
	ev.Flags().StringVar(&format, "format", "csv", "csv or json")
	ev.Flags().StringVar(&by, "by", "sent", "which date the period selects: sent (the message's) or raised (the alert's)")
	ev.MarkFlagRequired("from")
	ev.MarkFlagRequired("to")
	c.AddCommand(ev)
	return c
}

// printAlert tells an alert's whole story: what matched, in which message,
// where it stands, and every review action with its reviewer, time and
// note (views apart: a view is not a review).
func (a *app) printAlert(v *uc.AlertDetail) {
	w := a.stdout
	al, st := v.Alert, v.State
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k, val)
		}
	}
	fmt.Fprintf(w, "alert %d\n", al.ID)
	row("policy", fmt.Sprintf("%s v%d, rule %s", al.Policy, al.PolicyVersion, al.Rule))
	status := st.Status
	if al.Overdue {
		status += " (overdue)"
	}
	if al.AgeDays > 0 {
		status += fmt.Sprintf(", open %d %s", al.AgeDays, plural(int64(al.AgeDays), "day", "days"))
	}
	row("status", status)
	row("assignee", st.Assignee)
	row("raised", al.RaisedAt)
	row("department", al.Department)
	row("why", al.Detail)
	if len(al.Masked) > 0 {
		row("matched", strings.Join(al.Masked, ", "))
	}
	if len(al.Spans) > 0 {
		var hits []string
		for _, sp := range al.Spans {
			hits = append(hits, "«"+runeSlice(v.Text, sp[0], sp[1])+"»")
		}
		where := ""
		if al.InAttachment > 0 {
			where = fmt.Sprintf(" (in attachment %d)", al.InAttachment)
		}
		row("hits", strings.Join(hits, " ")+where)
	}
	m := v.Message
	when := m.SentAt
	if m.TimeUnknown {
		when += " (time unknown: the capture time)"
	}
	fmt.Fprintf(w, "message %d\n", m.Serial)
	row("from", strings.TrimSpace(al.SenderName+" "+m.Sender))
	row("sent", when)
	row("conversation", m.Conversation)
	if m.RecalledBy != 0 {
		row("recalled", fmt.Sprintf("by serial %d", m.RecalledBy))
	}
	row("text", v.Text)
	row("record", "sha256:"+m.RecordSHA256)
	if len(al.SameMessage) > 0 {
		var ids []string
		for _, id := range al.SameMessage {
			ids = append(ids, fmt.Sprint(id))
		}
		row("also raised", "alerts "+strings.Join(ids, ", ")+" on the same message")
	}
	var views, acts []uc.ActionView
	for _, x := range v.Actions {
		if x.Action == review.View {
			views = append(views, x)
		} else {
			acts = append(acts, x)
		}
	}
	fmt.Fprintf(w, "review (%d %s)\n", len(acts), plural(int64(len(acts)), "action", "actions"))
	for _, x := range acts {
		line := fmt.Sprintf("  %s  %-9s %s", x.Time, x.Action, x.Actor)
		if x.Assignee != "" {
			line += " → " + x.Assignee
		}
		if x.Disposition != "" {
			line += "  disposition " + x.Disposition
		}
		if x.Note != "" {
			line += "  note: " + x.Note
		}
		if x.Reason != "" {
			line += "  reason: " + x.Reason
		}
		fmt.Fprintf(w, "%s  (journal %d)\n", line, x.JournalIndex)
	}
	if st.Disposition != "" {
		fmt.Fprintf(w, "  closed by %s at %s: %s%s\n", st.ClosedBy, st.ClosedAt, st.Disposition, map[bool]string{true: " — " + st.Note, false: ""}[st.Note != ""])
	}
	if len(views) > 0 {
		var who []string
		for _, x := range views {
			who = append(who, x.Actor+" "+x.Time)
		}
		fmt.Fprintf(w, "viewed (%d, not reviews): %s\n", len(views), strings.Join(who, "; "))
	}
}

// runeSlice is s[from:to] counted in code points (alert spans are).
func runeSlice(s string, from, to int) string {
	r := []rune(s)
	if from < 0 || to > len(r) || from >= to {
		return ""
	}
	return string(r[from:to])
}
