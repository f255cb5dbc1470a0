package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/supervise"
	"github.com/wxarchive/wxarchive/textindex"
)

func (a *app) policyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Supervision policies: validate and backtest policy files",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.policyValidateCmd(), a.policyBacktestCmd(), a.policyDefaultsCmd(), a.policyApplyCmd(), a.policyListCmd(), a.policyShowCmd())
	return c
}

func (a *app) policyApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE...",
		Short: "Make policy files the archive's current versions (journaled with who applied them)",
		Long: `Apply validates each file and journals it as the next version of its policy
(policy.applied, with the file and its SHA-256, and you as the author). A file
identical to the current version writes nothing. Alerts record the version that
raised them. New messages are evaluated by serve, ingest, import and demo.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			type file struct {
				name string
				data []byte
			}
			var files []file
			for _, f := range args {
				data, err := readFileLimited(f, policy.MaxFileBytes)
				if err != nil {
					return usageErr("%v", err)
				}
				if _, err := policy.Parse(filepath.Base(f), data); err != nil {
					return usageErr("%v", err)
				}
				files = append(files, file{filepath.Base(f), data})
			}
			return a.withApp(ctx, journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				for _, f := range files {
					res, err := u.ApplyPolicy(ctx, "", f.name, f.data)
					if err != nil {
						return err
					}
					if res.Changed {
						fmt.Fprintf(a.stdout, "%s: version %d applied\n", f.name, res.Version)
					} else {
						fmt.Fprintf(a.stdout, "%s: unchanged (version %d)\n", f.name, res.Version)
					}
				}
				return nil
			})
		},
	}
}

func (a *app) policyListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "The archive's policies: current version, author, rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Policies(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "POLICY\tVERSION\tENABLED\tRULES\tAPPLIED BY\tAT")
				for _, it := range v.Policies {
					fmt.Fprintf(tw, "%s\t%d\t%v\t%d\t%s\t%s\n", it.Policy, it.Version, it.Enabled, it.Rules, it.AppliedBy, it.AppliedAt)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) policyShowCmd() *cobra.Command {
	var asJSON bool
	var version int
	c := &cobra.Command{
		Use:   "show NAME [--version N]",
		Short: "A policy's file as applied (the latest version, or --version N) and its history of versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Policy(ctx, args[0], version)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				fmt.Fprintf(a.stdout, "# policy %s version %d of %d, applied by %s at %s (journal %d)\n# sha256 %s\n", v.Policy, v.Version, v.Latest,
					v.AppliedBy, v.AppliedAt, v.JournalIndex, v.SHA256)
				io.WriteString(a.stdout, v.Source)
				if !strings.HasSuffix(v.Source, "\n") {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintln(a.stdout, "\n# versions:")
				for _, h := range v.Versions {
					fmt.Fprintf(a.stdout, "#   %d  %s  %s  %s\n", h.Version, h.AppliedAt, h.AppliedBy, h.SHA256[:12])
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.Flags().IntVar(&version, "version", 0, "an earlier version")
	return c
}

func (a *app) alertsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "alerts",
		Short: "Supervision alerts raised by the archive's policies",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	var asJSON bool
	var status, pol, dept, rule string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts, oldest first, alerts on the same message together (a review queue with --policy and --department)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageErr("--limit: at least 0 (0: all), not %d", limit)
			}
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				page, err := u.Alerts(ctx, uc.AlertFilter{Status: status, Policy: pol, Rule: rule, Department: dept, Limit: limit, All: true})
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(page)
				}
				if len(page.Alerts) == 0 {
					fmt.Fprintln(a.stdout, "no alerts")
					return nil
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "ID\tSERIAL\tSENDER\tPOLICY\tRULE\tDEPARTMENT\tSTATUS\tASSIGNEE\tAGE\tRAISED")
				for i, al := range page.Alerts {
					serial := fmt.Sprint(al.Serial)
					if i > 0 && page.Alerts[i-1].Serial == al.Serial {
						serial = "〃" // same message as the line above
					}
					age := fmt.Sprintf("%dd", al.AgeDays)
					if al.Overdue {
						age += " overdue"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s v%d\t%s\t%s\t%s\t%s\t%s\t%s\n", al.ID, serial, orDash(strings.TrimSpace(al.SenderName+" "+al.Sender)), al.Policy, al.PolicyVersion, al.Rule,
						orDash(al.Department), al.Status, orDash(al.Assignee), age, al.RaisedAt)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	list.Flags().StringVar(&status, "status", "", "open (not closed), unassigned, claimed, escalated, overdue (open past supervision.sla_days) or closed")
	list.Flags().StringVar(&pol, "policy", "", "only this policy's alerts")
	list.Flags().StringVar(&rule, "rule", "", "only this rule's alerts")
	list.Flags().StringVar(&dept, "department", "", "only alerts queued to this department")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	var queuesJSON bool
	queues := &cobra.Command{
		Use:   "queues",
		Short: "Open alerts by policy and department: unassigned, escalated, overdue (past supervision.sla_days), oldest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Queues(ctx)
				if err != nil {
					return err
				}
				if queuesJSON {
					return a.printJSON(v)
				}
				if len(v.Queues) == 0 {
					fmt.Fprintln(a.stdout, "no open alerts")
					return nil
				}
				tw := newTable(a.stdout)
				fmt.Fprintf(tw, "POLICY\tDEPARTMENT\tOPEN\tUNASSIGNED\tESCALATED\tOVERDUE (>%dd)\tOLDEST\n", v.SLADays)
				for _, q := range v.Queues {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%dd\n", q.Policy, orDash(q.Department), q.Open, q.Unassigned, q.Escalated, q.Overdue, q.OldestDays)
				}
				return tw.Flush()
			})
		},
	}
	queues.Flags().BoolVar(&queuesJSON, "json", false, "print as JSON")
	c.AddCommand(list, queues, a.alertsShowCmd())
	return c
}

// superviseWhileRunning evaluates the policies over new messages while a
// command archives them (ingest, import, demo), right behind the engine as
// serve does; finish evaluates what is left and returns what was done.
func (a *app) superviseWhileRunning(r *repo.Repo) (finish func(ctx context.Context) (supervise.Result, error)) {
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Logger: a.logger, Location: r.Config.Location()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, time.Second)
	}()
	var once sync.Once
	var res supervise.Result
	var err error
	// Idempotent, so a deferred call on an early return is harmless.
	return func(ctx context.Context) (supervise.Result, error) {
		once.Do(func() {
			cancel()
			<-done
			var last supervise.Result
			last, err = s.CatchUp(ctx)
			if err == nil && last.CaughtUp {
				_, err = s.TopUp(ctx)
			}
			res = s.Totals()
		})
		return res, err
	}
}

func readPolicy(path string) (*policy.Policy, error) {
	data, err := readFileLimited(path, policy.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return policy.Parse(filepath.Base(path), data)
}

func (a *app) policyValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check policy files; every problem is printed with its line (exit 2)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed bool
			for _, f := range args {
				p, err := readPolicy(f)
				var pe *policy.ParseError
				switch {
				case errors.As(err, &pe):
					fmt.Fprintln(a.stderr, err)
					failed = true
				case err != nil:
					return usageErr("%v", err)
				default:
					fmt.Fprintf(a.stdout, "%s: policy %s, %d rules: OK\n", f, p.Name, len(p.Rules))
				}
			}
			if failed {
				return &exitError{code: exitUsage}
			}
			return nil
		},
	}
}

func (a *app) policyDefaultsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "defaults DIR",
		Short: "Write the default policy pack (English and Chinese) to DIR, to read or adapt",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := policy.DefaultPackFiles()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return usageErr("%v", err)
			}
			for name, b := range files {
				p := filepath.Join(args[0], name)
				if _, err := os.Stat(p); err == nil {
					return usageErr("%s exists: not overwritten", p)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, p)
			}
			return nil
		},
	}
}

func (a *app) policyBacktestCmd() *cobra.Command {
	var from, to string
	var samples int
	var asJSON bool
	c := &cobra.Command{
		Use:   "backtest FILE [--from DATE] [--to DATE]",
		Short: "Run a draft policy over archived messages without raising alerts: hits, reviewers' dispositions and precision per rule, samples",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileLimited(args[0], policy.MaxFileBytes)
			if err != nil {
				return usageErr("%v", err)
			}
			// Sample texts are an access to archived messages, journaled
			// before they are shown; without samples nothing is shown.
			mode := readOnly
			if samples > 0 {
				mode = journaling
			}
			return a.withApp(cmd.Context(), mode, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				bt, err := u.Backtest(ctx, uc.BacktestRequest{File: filepath.Base(args[0]), Data: data, Period: uc.Range{From: from, To: to}, Samples: samples})
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(bt)
				}
				a.renderBacktest(bt)
				return nil
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "first day (in the archive's time zone)")
	c.Flags().StringVar(&to, "to", "", "day after the last")
	c.Flags().IntVar(&samples, "samples", 20, "sample matches to show")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) renderBacktest(bt *policy.Backtest) {
	fmt.Fprintf(a.stdout, "policy %s: %d messages in the period, %d in scope, %d with hits\n\n", bt.Policy, bt.Scanned, bt.InScope, bt.Messages)
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "RULE\tHITS\tREVIEWED\tVIOLATION\tFALSE POSITIVE\tNO ISSUE\tPRECISION")
	for _, rr := range bt.Rules {
		prec := "-"
		if rr.Precision != nil {
			prec = fmt.Sprintf("%.0f%%", *rr.Precision*100)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", rr.Rule, rr.Hits, rr.Dispositioned, rr.Violations, rr.FalsePositive, rr.NoIssue, prec)
	}
	tw.Flush()
	if len(bt.Samples) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, "\nsamples:")
	for _, s := range bt.Samples {
		spans := make([]textindex.Span, len(s.Spans))
		for i, sp := range s.Spans {
			spans[i] = textindex.Span{Start: runeToByte(s.Text, sp[0]), End: runeToByte(s.Text, sp[1])}
		}
		snip, hl := textindex.Snippet(s.Text, spans, uc.SnippetWidth)
		fmt.Fprintf(a.stdout, "  %-8d %-16s %s\n", s.Serial, s.Rule, markSnippet(snip, hl, "«", "»"))
	}
}

func runeToByte(s string, n int) int {
	i := 0
	for k := range s {
		if i == n {
			return k
		}
		i++
	}
	return len(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
