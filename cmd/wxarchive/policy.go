package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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
			tw := newTable(a.stdout)
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

func (a *app) policyShowCmd() *cobra.Command {
	var asJSON bool
	var version int
	c := &cobra.Command{
		Use:   "show NAME [--version N]",
		Short: "A policy's file as applied (the latest version, or --version N) and its history of versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			vs, err := r.Store.PolicyVersions(ctx, args[0])
			if err != nil {
				return err
			}
			if len(vs) == 0 {
				return usageErr("no policy %q (wxarchive policy list)", args[0])
			}
			shown := vs[len(vs)-1]
			if version != 0 {
				if version < 1 || version > len(vs) {
					return usageErr("--version: %s has versions 1 to %d, not %d", args[0], len(vs), version)
				}
				shown = vs[version-1]
			}
			at := func(p store.PolicyRow) string { return p.Time.Time.In(r.Config.Location()).Format(time.RFC3339) }
			type ver struct {
				Version      int    `json:"version"`
				SHA256       string `json:"sha256"`
				AppliedBy    string `json:"applied_by"`
				AppliedAt    string `json:"applied_at"`
				JournalIndex uint64 `json:"journal_index"`
			}
			var hist []ver
			for _, v := range vs {
				hist = append(hist, ver{v.Version, v.SHA256.String(), v.Actor, at(v), v.JournalIndex})
			}
			if asJSON {
				return a.printJSON(map[string]any{"policy": shown.Policy, "version": shown.Version, "latest_version": len(vs),
					"sha256": shown.SHA256.String(), "applied_by": shown.Actor, "applied_at": at(shown), "source": shown.Source, "versions": hist})
			}
			fmt.Fprintf(a.stdout, "# policy %s version %d of %d, applied by %s at %s (journal %d)\n# sha256 %s\n", shown.Policy, shown.Version, len(vs),
				shown.Actor, at(shown), shown.JournalIndex, shown.SHA256)
			io.WriteString(a.stdout, shown.Source)
			if !strings.HasSuffix(shown.Source, "\n") {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintln(a.stdout, "\n# versions:")
			for _, h := range hist {
				fmt.Fprintf(a.stdout, "#   %d  %s  %s  %s\n", h.Version, h.AppliedAt, h.AppliedBy, h.SHA256[:12])
			}
			return nil
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
			ctx := cmd.Context()
			switch status {
			case "", "open", "unassigned", review.StatusClaimed, review.StatusEscalated, review.StatusClosed, "overdue":
			default:
				return usageErr("--status: open, unassigned, claimed, escalated, overdue or closed, not %q", status)
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
				Detail        string   `json:"detail,omitempty"`
				Department    string   `json:"department,omitempty"`
				Assignee      string   `json:"assignee,omitempty"`
				RaisedAt      string   `json:"raised_at"`
				AgeDays       int      `json:"age_days"`
				Overdue       bool     `json:"overdue"`
				SameMessage   []uint64 `json:"same_message,omitempty"` // the other alerts on this message
			}
			acts := map[uint64][]store.ReviewActionRow{}
			if err := r.Store.ReviewActions(ctx, 0, func(ra store.ReviewActionRow) error {
				acts[ra.Alert] = append(acts[ra.Alert], ra)
				return nil
			}); err != nil {
				return err
			}
			now, sla := time.Now(), r.Config.Supervision.SLA()
			var matched []alert
			bySerial := map[uint64][]uint64{}
			err = r.Store.Alerts(ctx, 0, pol, 0, func(al store.AlertRow) error {
				bySerial[al.Serial] = append(bySerial[al.Serial], al.JournalIndex)
				st := review.StateOf(acts[al.JournalIndex])
				age := int(now.Sub(al.Time.Time).Hours() / 24)
				closed := st.Status == review.StatusClosed
				overdue := !closed && age > sla
				switch {
				case status == "open" && closed, status == "closed" && !closed, status == "overdue" && !overdue,
					status == "unassigned" && st.Status != review.StatusOpen,
					(status == review.StatusClaimed || status == review.StatusEscalated) && st.Status != status,
					dept != "" && al.Department != dept, rule != "" && al.Rule != rule:
					return nil
				}
				if closed {
					age = 0
				}
				matched = append(matched, alert{ID: al.JournalIndex, Serial: al.Serial, SourceID: al.SourceID, Policy: al.Policy,
					PolicyVersion: al.PolicyVersion, Rule: al.Rule, Status: st.Status, Spans: al.Spans, InAttachment: al.InAttachment,
					Masked: al.Masked, Detail: al.Detail, Department: al.Department, Assignee: st.Assignee,
					RaisedAt: al.Time.Time.In(r.Config.Location()).Format(time.RFC3339), AgeDays: age, Overdue: overdue})
				return nil
			})
			if err != nil {
				return err
			}
			// Alerts on the same message are reviewed together: each names
			// the others, and the list keeps them next to each other (in
			// the order of the message's first alert).
			first := map[uint64]int{}
			for i := range matched {
				al := &matched[i]
				for _, id := range bySerial[al.Serial] {
					if id != al.ID {
						al.SameMessage = append(al.SameMessage, id)
					}
				}
				if _, ok := first[al.Serial]; !ok {
					first[al.Serial] = i
				}
			}
			sort.SliceStable(matched, func(i, j int) bool { return first[matched[i].Serial] < first[matched[j].Serial] })
			if limit > 0 && len(matched) > limit {
				matched = matched[:limit]
			}
			out := matched
			if out == nil {
				out = []alert{}
			}
			if asJSON {
				return a.printJSON(map[string]any{"alerts": out})
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stdout, "no alerts")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "ID\tSERIAL\tPOLICY\tRULE\tDEPARTMENT\tSTATUS\tAGE\tRAISED")
			for i, al := range out {
				serial := fmt.Sprint(al.Serial)
				if i > 0 && out[i-1].Serial == al.Serial {
					serial = "〃" // same message as the line above
				}
				age := fmt.Sprintf("%dd", al.AgeDays)
				if al.Overdue {
					age += " overdue"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s v%d\t%s\t%s\t%s\t%s\t%s\n", al.ID, serial, al.Policy, al.PolicyVersion, al.Rule, orDash(al.Department), al.Status, age, al.RaisedAt)
			}
			return tw.Flush()
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
			ctx := cmd.Context()
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			qs, err := review.Queues(ctx, r.Store, time.Now(), r.Config.Supervision.SLA())
			if err != nil {
				return err
			}
			if queuesJSON {
				return a.printJSON(map[string]any{"sla_days": r.Config.Supervision.SLA(), "queues": qs})
			}
			if len(qs) == 0 {
				fmt.Fprintln(a.stdout, "no open alerts")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintf(tw, "POLICY\tDEPARTMENT\tOPEN\tUNASSIGNED\tESCALATED\tOVERDUE (>%dd)\tOLDEST\n", r.Config.Supervision.SLA())
			for _, q := range qs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%dd\n", q.Policy, orDash(q.Department), q.Open, q.Unassigned, q.Escalated, q.Overdue, q.OldestDays)
			}
			return tw.Flush()
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
			ctx := cmd.Context()
			p, err := readPolicy(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			// Sample texts are an access to archived messages, journaled
			// before they are shown; without samples nothing is shown.
			var r *repo.Repo
			if samples > 0 {
				r, err = a.openWriter(ctx, false)
			} else {
				r, err = repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			}
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
			if len(bt.Samples) > 0 {
				var serials []uint64
				for _, s := range bt.Samples {
					serials = append(serials, s.Serial)
				}
				if _, err := r.Engine.Append(ctx, repo.AccessEvent(actor("cli"), "backtest:"+bt.Policy, "cli", serials...)); err != nil {
					return err
				}
			}
			if asJSON {
				return a.printJSON(bt)
			}
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
