package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
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
	c.AddCommand(a.policyValidateCmd(), a.policyBacktestCmd(), a.policyDefaultsCmd(), a.policyApplyCmd(), a.policyListCmd())
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
			r, err := a.openWriter(ctx, false)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			for _, f := range files {
				v, changed, err := supervise.Apply(ctx, r.Engine, r.Store, f.name, f.data, actor("cli"))
				if err != nil {
					return err
				}
				if changed {
					fmt.Fprintf(a.stdout, "%s: version %d applied\n", f.name, v)
				} else {
					fmt.Fprintf(a.stdout, "%s: unchanged (version %d)\n", f.name, v)
				}
			}
			return nil
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
			ctx := cmd.Context()
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			pols, rows, err := supervise.Policies(ctx, r.Store)
			if err != nil {
				return err
			}
			type item struct {
				Policy    string `json:"policy"`
				Version   int    `json:"version"`
				Enabled   bool   `json:"enabled"`
				Rules     int    `json:"rules"`
				AppliedBy string `json:"applied_by"`
				AppliedAt string `json:"applied_at"`
			}
			out := []item{}
			for i, p := range pols {
				out = append(out, item{p.Name, rows[i].Version, p.IsEnabled(), len(p.Rules), rows[i].Actor,
					rows[i].Time.Time.In(r.Config.Location()).Format(time.RFC3339)})
			}
			if asJSON {
				return a.printJSON(map[string]any{"policies": out})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POLICY\tVERSION\tENABLED\tRULES\tAPPLIED BY\tAT")
			for _, it := range out {
				fmt.Fprintf(tw, "%s\t%d\t%v\t%d\t%s\t%s\n", it.Policy, it.Version, it.Enabled, it.Rules, it.AppliedBy, it.AppliedAt)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
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
	var status, pol string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts (oldest first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if status != "" && status != "open" && status != "closed" {
				return usageErr("--status: open or closed, not %q", status)
			}
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			type alert struct {
				ID            uint64   `json:"id"`
				Serial        uint64   `json:"serial"`
				SourceID      string   `json:"source_id"`
				Policy        string   `json:"policy"`
				PolicyVersion int      `json:"policy_version"`
				Rule          string   `json:"rule"`
				Status        string   `json:"status"`
				Spans         [][2]int `json:"spans"`
				InAttachment  int      `json:"in_attachment,omitempty"`
				Masked        []string `json:"masked,omitempty"`
				RaisedAt      string   `json:"raised_at"`
			}
			out := []alert{}
			acts := map[uint64][]store.ReviewActionRow{}
			if err := r.Store.ReviewActions(ctx, 0, func(ra store.ReviewActionRow) error {
				acts[ra.Alert] = append(acts[ra.Alert], ra)
				return nil
			}); err != nil {
				return err
			}
			err = r.Store.Alerts(ctx, 0, pol, 0, func(al store.AlertRow) error {
				st := review.StateOf(acts[al.JournalIndex]).Status
				closed := st == review.StatusClosed
				if (status == "open" && closed) || (status == "closed" && !closed) || (limit > 0 && len(out) >= limit) {
					return nil
				}
				out = append(out, alert{al.JournalIndex, al.Serial, al.SourceID, al.Policy, al.PolicyVersion, al.Rule, st,
					al.Spans, al.InAttachment, al.Masked, al.Time.Time.In(r.Config.Location()).Format(time.RFC3339)})
				return nil
			})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"alerts": out})
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stdout, "no alerts")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERIAL\tPOLICY\tRULE\tSTATUS\tRAISED")
			for _, al := range out {
				fmt.Fprintf(tw, "%d\t%d\t%s v%d\t%s\t%s\t%s\n", al.ID, al.Serial, al.Policy, al.PolicyVersion, al.Rule, al.Status, al.RaisedAt)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	list.Flags().StringVar(&status, "status", "", "open or closed")
	list.Flags().StringVar(&pol, "policy", "", "only this policy's alerts")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	c.AddCommand(list, a.alertsShowCmd())
	return c
}

// supervise evaluates the policies over every message not yet evaluated
// (after ingest, import and demo; serve does it continuously).
func (a *app) supervise(ctx context.Context, r *repo.Repo) (supervise.Result, error) {
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Logger: a.logger}
	return s.CatchUp(ctx)
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
		Short: "Run a draft policy over archived messages without raising alerts: hits per rule and samples",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := readPolicy(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			loc := r.Config.Location()
			parse := func(flag, v string, def time.Time) (time.Time, error) {
				if v == "" {
					return def, nil
				}
				t, err := time.ParseInLocation("2006-01-02", v, loc)
				if err != nil {
					return t, usageErr("--%s: %q is not a date (2006-01-02)", flag, v)
				}
				return t, nil
			}
			fromT, err := parse("from", from, time.Unix(0, 0))
			if err != nil {
				return err
			}
			toT, err := parse("to", to, time.Now().AddDate(1, 0, 0))
			if err != nil {
				return err
			}
			bt, err := policy.RunBacktest(ctx, p, r.Store, r.Records, fromT, toT, samples)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(bt)
			}
			fmt.Fprintf(a.stdout, "policy %s: %d messages in the period, %d in scope, %d with hits\n\n", bt.Policy, bt.Scanned, bt.InScope, bt.Messages)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tHITS")
			for _, rr := range bt.Rules {
				fmt.Fprintf(tw, "%s\t%d\n", rr.Rule, rr.Hits)
			}
			tw.Flush()
			if len(bt.Samples) > 0 {
				fmt.Fprintln(a.stdout, "\nsamples:")
				for _, s := range bt.Samples {
					spans := make([]textindex.Span, len(s.Spans))
					for i, sp := range s.Spans {
						spans[i] = textindex.Span{Start: runeToByte(s.Text, sp[0]), End: runeToByte(s.Text, sp[1])}
					}
					snip, hl := textindex.Snippet(s.Text, spans, repo.SnippetWidth)
					fmt.Fprintf(a.stdout, "  %-8d %-16s %s\n", s.Serial, s.Rule, markSnippet(snip, hl, "«", "»"))
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "first day (in the archive's time zone)")
	c.Flags().StringVar(&to, "to", "", "day after the last")
	c.Flags().IntVar(&samples, "samples", 20, "sample matches to show")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
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
