package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/repo"
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
	c.AddCommand(a.policyValidateCmd(), a.policyBacktestCmd(), a.policyDefaultsCmd())
	return c
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
