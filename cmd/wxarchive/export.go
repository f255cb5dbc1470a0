package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) exportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "export",
		Short: "Productions for examiners and eDiscovery: RSMF, EML, PDF/HTML transcripts, load files, JSONL — with offline proofs",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.exportCreateCmd(), a.exportResumeCmd(), a.exportStatusCmd(), a.exportListCmd(), a.exportRecordCmd())
	return c
}

func (a *app) exportCreateCmd() *cobra.Command {
	var r uc.ExportRequest
	var formats, volume string
	var asJSON, createOnly bool
	c := &cobra.Command{
		Use:   "create --out DIR --format rsmf,eml,pdf,html,dat,csv,jsonl [--query Q] [--hold H] [--custodian ID]… [--conversation ID]… [--from DAY] [--to DAY]",
		Short: "Write a production of the messages in a scope (journaled when created and when finished)",
		Long: `Create writes a production into a new or empty directory: the messages that match
every criterion given — a search query (docs/SEARCH.md), a legal hold's scope,
custodians (employees: sent or received), conversations, sent from DAY (inclusive)
to DAY (exclusive) in the archive's time zone — within what you may see, in the
formats named (comma separated):

  rsmf   Relativity Short Message Format 2.0, one file per conversation per day
  eml    RFC 5322 messages, one per conversation per day, attachments as parts
  pdf    transcripts with an embedded CJK font and a production number per page
  html   transcripts with images inline
  dat    a Concordance load file (loadfile.dat)
  csv    the same rows as CSV (loadfile.csv)
  jsonl  the normalized and raw records byte for byte, one line per message

Every production holds the attachments (VOLnnn/NATIVES), an audit trail of the
exported messages (audit.jsonl), a coverage certificate of what the archive knows
it could not capture in the scope (coverage.json), a proof file per conversation
day (VOLnnn/PROOFS) and a manifest with every file's SHA-256, whose hash is
journaled (export.finished) and proved in a signed checkpoint
(manifest.proof.json). 'wxarchive verify-export DIR' checks it with no archive
and no network (docs/FORMAT.md §13).

An interrupted production resumes where it stopped: run 'wxarchive export resume
DIR' (or create again with the same --out), and the result is the production an
uninterrupted run writes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range strings.Split(formats, ",") {
				if f = strings.TrimSpace(f); f != "" {
					r.Formats = append(r.Formats, f)
				}
			}
			if volume != "" {
				n, err := parseBytes(volume)
				if err != nil {
					return usageErr("--volume-size: %v", err)
				}
				r.VolumeSize = n
			}
			r.Producer = "wxarchive " + buildVersion()
			if _, err := os.Stat(filepath.Join(r.Out, export.StateDir, "job.json")); err == nil && r.Out != "" {
				return a.resumeExport(cmd.Context(), r.Out, asJSON, &r)
			}
			mode := journaling
			if r.Offline {
				mode = readOnly
			}
			err := a.withApp(cmd.Context(), mode, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.CreateExport(ctx, r)
				if err != nil {
					return err
				}
				if createOnly {
					if asJSON {
						return a.printJSON(v)
					}
					a.printExport(v)
					fmt.Fprintf(a.stdout, "  write it with wxarchive export resume %s\n", v.Out)
					return nil
				}
				fmt.Fprintf(a.stderr, "%s: %d messages in %d conversation-days, writing %s\n", v.ID, v.Messages, v.Units, v.Out)
				return a.runExport(ctx, u, r.Out, asJSON)
			})
			if errors.Is(err, repo.ErrNoSigningKey) {
				return usageErr("%v\nWhile the primary is unavailable, make the production from this copy with --offline, and journal it on the primary later with 'wxarchive export record' (docs/PRODUCTION.md)", err)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&r.Out, "out", "", "the directory to write the production into: new or empty (required)")
	f.StringVar(&formats, "format", "", "formats, comma separated: rsmf, eml, pdf, html, dat, csv, jsonl (required)")
	f.StringVar(&r.Query, "query", "", "a search query the messages must match")
	f.StringVar(&r.Hold, "hold", "", "the messages a legal hold covers")
	f.StringArrayVar(&r.Custodians, "custodian", nil, "an employee id whose messages (sent or received) to export (repeat for several)")
	f.StringArrayVar(&r.Conversations, "conversation", nil, "a conversation id (repeat for several)")
	f.StringVar(&r.From, "from", "", "messages sent on or after this day ("+uc.DateLayout+")")
	f.StringVar(&r.To, "to", "", "messages sent before this day ("+uc.DateLayout+")")
	f.StringVar(&r.Prefix, "prefix", export.DefaultPrefix, "the production-number prefix (WXA0000001; pages WXA-P0000001)")
	f.StringVar(&volume, "volume-size", "10GiB", "split the production into volumes of at most about this size")
	f.StringVar(&r.LoadEncoding, "load-encoding", "utf-8", "the load files' encoding: utf-8 (with a BOM), utf-16le or gb18030")
	f.StringVar(&r.Font, "font", "", "the CJK font of PDF transcripts (a .ttf or .ttc; default: the first installed of wqy-microhei, wqy-zenhei…)")
	f.BoolVar(&r.Fallback, "font-fallback", false, "draw characters the font lacks as a visible [U+XXXX] marker instead of refusing")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&r.Offline, "offline", false, "make the production from a copy that cannot journal (a read-only archive, a restored replica) while the primary is unavailable; journal it later with 'export record' (docs/PRODUCTION.md)")
	f.BoolVar(&createOnly, "create-only", false, "plan and journal the production without writing it ('export resume DIR' writes it)")
	_ = c.MarkFlagRequired("out")
	_ = c.MarkFlagRequired("format")
	return c
}

// resumeExport resumes the unfinished production in dir; req, when set,
// is a create that named it again, which must ask for the same thing.
func (a *app) resumeExport(ctx context.Context, dir string, asJSON bool, req *uc.ExportRequest) error {
	mode := journaling
	if job, _, err := export.ReadState(dir); err == nil && job.Offline {
		mode = readOnly
	}
	return a.withApp(ctx, mode, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
		if req != nil {
			job, _, err := export.ReadState(dir)
			if err != nil {
				return usageErr("--out: %v", err)
			}
			want := slices.Clone(req.Formats)
			slices.Sort(want)
			have := slices.Clone(job.Formats)
			slices.Sort(have)
			if !slices.Equal(want, have) || job.Scope.Query != req.Query || job.Hold != req.Hold {
				return usageErr("--out %s holds the unfinished %s (formats %s, query %q, hold %q), not this one; resume it with 'wxarchive export resume %s' or choose another directory",
					dir, job.ID, strings.Join(job.Formats, ","), job.Scope.Query, job.Hold, dir)
			}
			fmt.Fprintf(a.stderr, "%s: resuming the unfinished production in %s\n", job.ID, dir)
		}
		return a.runExport(ctx, u, dir, asJSON)
	})
}

// exportMemoryLimit is the Go heap's soft limit while a production is
// written (unless GOMEMLIMIT says otherwise): the live heap is a few tens
// of megabytes whatever the production's size, and without a limit the
// collector lets garbage grow to twice the peak before collecting.
const exportMemoryLimit = 256 << 20

func (a *app) runExport(ctx context.Context, u *uc.App, dir string, asJSON bool) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(exportMemoryLimit))
	}
	var progress func(int, int)
	if a.interactive() {
		bar := a.progressBar(0, "export")
		progress = func(done, total int) {
			bar.ChangeMax(total)
			bar.Set(done)
		}
		defer bar.Finish()
	}
	v, err := u.RunExport(ctx, dir, progress)
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(v)
	}
	a.printExport(v)
	return nil
}

func (a *app) printExport(v *uc.ExportView) {
	fmt.Fprintf(a.stdout, "%s %s: %d of %d messages, %d conversation-days, formats %s\n", v.ID, v.State, v.Written, v.Messages, v.Units, strings.Join(v.Formats, ","))
	fmt.Fprintf(a.stdout, "  directory   %s\n", v.Out)
	if v.First != "" {
		fmt.Fprintf(a.stdout, "  numbers     %s – %s\n", v.First, v.Last)
	}
	if v.Files > 0 {
		fmt.Fprintf(a.stdout, "  files       %d (%.1f MB) in %d volume(s), %d transcript pages\n", v.Files, float64(v.Bytes)/1e6, v.Volumes, v.Pages)
	}
	if v.ManifestSHA256 != "" {
		fmt.Fprintf(a.stdout, "  manifest    sha256:%s", v.ManifestSHA256)
		if v.FinishedIndex > 0 {
			fmt.Fprintf(a.stdout, " (journaled at %d)", v.FinishedIndex)
		}
		fmt.Fprintln(a.stdout)
	}
	if strings.HasPrefix(v.State, "finished") {
		fmt.Fprintf(a.stdout, "  verify with wxarchive verify-export %s --public-key KEY\n", v.Out)
	}
}

func (a *app) exportResumeCmd() *cobra.Command {
	var asJSON, fallback bool
	var font string
	c := &cobra.Command{
		Use:   "resume DIR [--font FILE] [--font-fallback]",
		Short: "Resume an interrupted production where it stopped",
		Long: `Resume continues the unfinished production in DIR from the last conversation-day
it wrote completely. A production that stopped on a character its PDF font cannot
draw continues with --font (a font that has it) or --font-fallback (a visible
[U+XXXX] marker): the days already written had no such character, so the result is
the production those options would have written from the start.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("font") || cmd.Flags().Changed("font-fallback") {
				if err := export.SetFont(args[0], font, fallback); err != nil {
					return usageErr("%v", err)
				}
			}
			return a.resumeExport(cmd.Context(), args[0], asJSON, nil)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().StringVar(&font, "font", "", "the CJK font of PDF transcripts from now on")
	c.Flags().BoolVar(&fallback, "font-fallback", false, "draw characters the font lacks as a visible [U+XXXX] marker from now on")
	return c
}

func (a *app) exportRecordCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "record DIR",
		Short: "Journal on this archive a production made offline from a copy of it",
		Long: `Record journals a production made with 'export create --offline' from a read-only
copy of this archive (a restored replica) while it was unavailable: the production
must verify with this archive's key and its checkpoint must be one of this
archive's. export.created and export.finished are journaled, and the production's
manifest.proof.json is replaced by a proof of export.finished in a signed checkpoint:
the production is then what an online export would have been.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.RecordExport(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printExport(v)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func (a *app) exportStatusCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status DIR",
		Short: "How far a production got, or what a finished one holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.ExportStatus(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printExport(v)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) exportListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "Every production the journal records",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Exports(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "EXPORT\tCREATED\tBY\tMESSAGES\tFORMATS\tFINISHED\tOUT")
				for _, e := range v.Exports {
					fin := "-"
					if e.Finished != nil {
						fin = e.Finished.In(u.Location()).Format("2006-01-02 15:04")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.ID, e.Created.In(u.Location()).Format("2006-01-02 15:04"), e.Actor, e.Messages, strings.Join(e.Formats, ","), fin, orDash(e.Out))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) verifyExportCmd() *cobra.Command {
	var asJSON bool
	var publicKey string
	c := &cobra.Command{
		Use:   "verify-export DIR [--public-key KEY]",
		Short: "Check a production offline: every file, every proof, the signed manifest; exit 1 on any problem",
		Long: `Verify-export needs no archive and no network. It checks that the manifest's
SHA-256 is the one the archive journaled (export.finished), that this event is
included in a checkpoint signed with the archive's key and consistent with the
checkpoint the messages' proofs lead to, that every file is listed with its
SHA-256 and size (a changed, missing or extra file is named), that every message's
inclusion proof holds, and that the JSONL records and the attachments hash to what
the journal archived. Give --public-key with the archive's key as you obtained it
from the producing firm (or a witness): without it the production's own key is
used, which proves integrity but not who signed. The algorithm is in
docs/FORMAT.md §13.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := export.Verify(args[0], publicKey)
			if err != nil {
				return err
			}
			if asJSON {
				a.printJSON(rep)
			} else {
				for _, p := range rep.Problems {
					fmt.Fprintf(a.stdout, "PROBLEM %s\n        %s\n", p.Path, p.What)
				}
				verdict := "OK"
				if !rep.OK() {
					verdict = fmt.Sprintf("FAILED: %d problems", len(rep.Problems))
				}
				fmt.Fprintf(a.stdout, "%s — %s: %d messages (%d proved in the checkpoint of size %d), %d files\n", verdict, rep.ID, rep.Messages, rep.Proved, rep.TreeSize, rep.Files)
				if rep.Offline {
					fmt.Fprintf(a.stdout, "NOTE  made offline from a copy of the archive: every message is proved in its checkpoint of size %d, but nothing journaled the manifest yet ('wxarchive export record' on the archive does)\n", rep.TreeSize)
				}
				if !rep.KeyPinned {
					fmt.Fprintf(a.stdout, "NOTE  checked with the production's own key %s; pass --public-key with the key the archive published to know who signed it\n", rep.PublicKey)
				}
			}
			if !rep.OK() {
				return &exitError{code: exitFailure}
			}
			return nil
		},
	}
	c.Flags().StringVar(&publicKey, "public-key", "", "the archive's public key, obtained independently of the production")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}
