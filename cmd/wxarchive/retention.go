package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/retention"
)

func (a *app) retentionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "retention",
		Short: "Retention rules: how long each record is kept (check, apply, show, report)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.retentionCheckCmd(), a.retentionApplyCmd(), a.retentionShowCmd(), a.retentionExampleCmd(), a.retentionRecomputeCmd(), a.retentionReportCmd())
	return c
}

// readRetention reads a rule-set file, refusing one over the limit.
func readRetention(path string) ([]byte, error) {
	return readFileLimited(path, retention.MaxFileBytes)
}

func (a *app) retentionCheckCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a rule-set file: every problem is printed with its line (exit 2); nothing is changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readRetention(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			// A check needs no archive: the file alone decides.
			v, err := uc.New(uc.Deps{}).CheckRetention(filepath.Base(args[0]), data)
			var re *uc.RetentionError
			if errors.As(err, &re) {
				fmt.Fprintln(a.stderr, err)
				return &exitError{code: exitUsage}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(v)
			}
			fmt.Fprintf(a.stdout, "%s: rule set %s, %d rules: OK\n", args[0], v.Name, len(v.Rules))
			a.printRetentionSet(v)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) printRetentionSet(v *uc.RetentionSetView) {
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "RULE\tPERIOD\tEFFECTIVE\tMATCHES\tOVERRIDE")
	for _, r := range v.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Period, r.Effective, r.Match, orDash(r.Override))
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", "(default)", v.Default, v.Default, "what no rule matches", "-")
	tw.Flush()
	if len(v.Jurisdictions) > 0 {
		fmt.Fprintln(a.stdout, "\njurisdictions:")
		for _, tag := range slices.Sorted(maps.Keys(v.Jurisdictions)) {
			fmt.Fprintf(a.stdout, "  %s: %s\n", tag, v.Jurisdictions[tag])
		}
	}
}

func (a *app) retentionApplyCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "apply FILE",
		Short: "Make a rule-set file the archive's retention rules (journaled with you as the author)",
		Long: `Apply validates the file and journals it as the next version of the archive's
retention rule set (retention.applied, with the file, its SHA-256, the rules it
lets go below the 3-year floor and their reasons, and you as the author). A file
identical to the current version writes nothing. Messages archived from then on
take their retain-until from it, and the messages already archived are recomputed:
those the new version keeps longer are extended (their packs and attachments in
the blob store, then retention.extended in the journal); those it would keep less
are reported with examples and left as they are — retention is never shortened.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readRetention(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			name := filepath.Base(args[0])
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				res, err := u.ApplyRetention(ctx, name, data)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(res)
				}
				if !res.Changed {
					fmt.Fprintf(a.stdout, "%s: unchanged (version %d)\n", name, res.Version)
					return nil
				}
				fmt.Fprintf(a.stdout, "%s: rule set %s, version %d applied\n", name, res.Name, res.Version)
				for _, o := range res.Overrides {
					fmt.Fprintf(a.stdout, "  override journaled: rule %s keeps %s, below the %d-year floor: %s\n", o.Rule, o.Period, retention.FloorYears, o.Reason)
				}
				if res.Recompute != nil {
					a.printRecompute(res.Recompute)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) printRecompute(r *retention.RecomputeResult) {
	fmt.Fprintf(a.stdout, "recomputed %d messages under version %d: %d extended (%d retention.extended events), %d unchanged\n",
		r.Scanned, r.Version, r.Extended, r.Events, r.Unchanged)
	for _, c := range r.ExtendedExample {
		fmt.Fprintf(a.stdout, "  extended serial %d (%s): %s → %s by %s\n", c.Serial, c.SourceID, c.From.Time.Format(uc.DateLayout), c.To.Time.Format(uc.DateLayout), c.Rule)
	}
	if r.Shortened > 0 {
		fmt.Fprintf(a.stdout, "NOT applied: %d messages the rules would keep less than they already are (retention is never shortened), e.g.:\n", r.Shortened)
		for _, c := range r.ShortenedExamples {
			fmt.Fprintf(a.stdout, "  serial %d (%s): kept until %s; %s would give %s\n", c.Serial, c.SourceID, c.From.Time.Format(uc.DateLayout), c.Rule, c.To.Time.Format(uc.DateLayout))
		}
	}
	if r.Pending > 0 {
		fmt.Fprintf(a.stdout, "%d messages to extend were not sealed yet: run wxarchive retention recompute again\n", r.Pending)
	}
}

func (a *app) retentionRecomputeCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "recompute",
		Short: "Re-evaluate archived messages under the rule set in force: extend what it keeps longer, report what it would shorten",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				res, err := u.RecomputeRetention(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(res)
				}
				a.printRecompute(res)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) retentionReportCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "report",
		Short: "Messages per retention rule, and how many become eligible (past retain-until) now and in 30, 90 and 365 days",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.RetentionReport(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				if v.Version == 0 {
					fmt.Fprintln(a.stdout, "no retention rule set applied: every message is kept retention_years from its capture")
				} else {
					fmt.Fprintf(a.stdout, "rule set version %d in force\n", v.Version)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "RULE\tVERSION\tMESSAGES\tEARLIEST RETAIN-UNTIL\tLATEST")
				for _, r := range v.Rules {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Rule, r.Version, r.Messages, r.Earliest, r.Latest)
				}
				tw.Flush()
				fmt.Fprintln(a.stdout, "\neligible (past retain-until; legal holds not counted):")
				for _, e := range v.Eligible {
					label := "now"
					if e.Days > 0 {
						label = fmt.Sprintf("within %d days", e.Days)
					}
					fmt.Fprintf(a.stdout, "  %-16s %d\n", label, e.Messages)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) retentionShowCmd() *cobra.Command {
	var asJSON bool
	var version int
	c := &cobra.Command{
		Use:   "show [--version N]",
		Short: "The rule set as applied (the latest version, or --version N) and its history of versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Retention(ctx, version)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				fmt.Fprintf(a.stdout, "# retention rule set %s version %d of %d, applied by %s at %s (journal %d)\n# sha256 %s\n", v.Name, v.Version, v.Latest,
					v.AppliedBy, v.AppliedAt, v.JournalIndex, v.SHA256)
				if v.Invalid != "" {
					fmt.Fprintf(a.stdout, "# this version no longer validates: %s\n", strings.ReplaceAll(v.Invalid, "\n", "\n#   "))
				}
				io.WriteString(a.stdout, v.Source)
				if !strings.HasSuffix(v.Source, "\n") {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintln(a.stdout, "\n# versions:")
				for _, h := range v.Versions {
					fmt.Fprintf(a.stdout, "#   %d  %s  %s  %s  %s\n", h.Version, h.AppliedAt, h.AppliedBy, h.Name, h.SHA256[:12])
					for _, o := range h.Overrides {
						fmt.Fprintf(a.stdout, "#       override %s %s: %s\n", o.Rule, o.Period, o.Reason)
					}
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.Flags().IntVar(&version, "version", 0, "the version to show (default: the latest)")
	return c
}

func (a *app) retentionExampleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print the example rule set (US broker-dealer 6 y, HK 2 y → floor 3 y, EU 5 y, UK 5 y) to adapt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.stdout.Write(retention.Example())
			return err
		},
	}
}
