package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

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
				r, err := a.openWriter(ctx, false)
				if err != nil {
					return err
				}
				defer r.Close(ctx)
				s := &review.Service{Engine: r.Engine, Store: r.Store, Principals: r.Config.Supervision.Principals}
				idx, err := s.Do(ctx, review.Action{Action: act.name, Alerts: ids, Actor: actor("cli"), Disposition: disposition,
					Note: note, Reason: reason, Assignee: assignee})
				var re *review.Error
				if errors.As(err, &re) {
					return usageErr("%v", err)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: %d %s (journal %d)\n", act.name, len(ids), plural(int64(len(ids)), "alert", "alerts"), idx)
				return nil
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
			r, err := a.openWriter(ctx, false)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			s := &review.Service{Engine: r.Engine, Store: r.Store, Principals: r.Config.Supervision.Principals}
			al, err := r.Store.Alert(ctx, ids[0])
			if err != nil {
				return usageErr("%v", err)
			}
			if _, err := s.Do(ctx, review.Action{Action: review.View, Alerts: ids, Actor: actor("cli")}); err != nil {
				return err
			}
			st, err := s.AlertState(ctx, ids[0])
			if err != nil {
				return err
			}
			msg, err := r.Store.Message(ctx, al.Serial)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"alert": al, "state": st, "text": msg.Text})
			}
			fmt.Fprintf(a.stdout, "alert %d: policy %s v%d, rule %s, %s\n", al.JournalIndex, al.Policy, al.PolicyVersion, al.Rule, st.Status)
			fmt.Fprintf(a.stdout, "message %d from %s: %s\n", al.Serial, msg.Sender, msg.Text)
			if st.Disposition != "" {
				fmt.Fprintf(a.stdout, "closed by %s: %s %s\n", st.ClosedBy, st.Disposition, st.Note)
			}
			return nil
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
	var from, to, format string
	ev := &cobra.Command{
		Use:   "review-evidence --from DATE --to DATE",
		Short: "Evidence of review per alert raised in the period (CSV or JSON): reviewed or not, by whom, when, disposition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if format != "csv" && format != "json" {
				return usageErr("--format: csv or json, not %q", format)
			}
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			loc := r.Config.Location()
			fromT, err := time.ParseInLocation("2006-01-02", from, loc)
			if err != nil {
				return usageErr("--from: %q is not a date (2006-01-02)", from)
			}
			toT, err := time.ParseInLocation("2006-01-02", to, loc)
			if err != nil {
				return usageErr("--to: %q is not a date (2006-01-02)", to)
			}
			rows, err := review.Evidence(ctx, r.Store, fromT, toT, time.Now(), loc)
			if err != nil {
				return err
			}
			if format == "json" {
				return a.printJSON(map[string]any{"from": from, "to": to, "alerts": rows})
			}
			return review.WriteEvidenceCSV(a.stdout, rows)
		},
	}
	ev.Flags().StringVar(&from, "from", "", "first day")
	ev.Flags().StringVar(&to, "to", "", "day after the last")
	ev.Flags().StringVar(&format, "format", "csv", "csv or json")
	ev.MarkFlagRequired("from")
	ev.MarkFlagRequired("to")
	c.AddCommand(ev)
	return c
}
