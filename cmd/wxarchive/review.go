package main

import (
	"context"
	"fmt"
	"strconv"

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
				al, st := v.Alert, v.State
				fmt.Fprintf(a.stdout, "alert %d: policy %s v%d, rule %s, %s\n", al.ID, al.Policy, al.PolicyVersion, al.Rule, st.Status)
				fmt.Fprintf(a.stdout, "message %d from %s: %s\n", al.Serial, v.Message.Sender, v.Text)
				if st.Disposition != "" {
					fmt.Fprintf(a.stdout, "closed by %s: %s %s\n", st.ClosedBy, st.Disposition, st.Note)
				}
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
	var from, to, format string
	ev := &cobra.Command{
		Use:   "review-evidence --from DATE --to DATE",
		Short: "Evidence of review per alert raised in the period (CSV or JSON): reviewed or not, by whom, when, disposition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "json" {
				return usageErr("--format: csv or json, not %q", format)
			}
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.ReviewEvidence(ctx, uc.Range{From: from, To: to})
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
	ev.MarkFlagRequired("from")
	ev.MarkFlagRequired("to")
	c.AddCommand(ev)
	return c
}
