package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
)

func (a *app) ingestCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ingest",
		Short: "Archive messages from a file",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErr("ingest needs a source type, e.g. `wxarchive ingest wecom-archive FILE.jsonl`\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.ingestWecomArchiveCmd())
	return c
}

func (a *app) ingestWecomArchiveCmd() *cobra.Command {
	var mediaDir, corp string
	var asJSON bool
	c := &cobra.Command{
		Use:   "wecom-archive FILE.jsonl",
		Short: "Archive decrypted WeCom conversation-archive (msgaudit) messages, one JSON object per line",
		Long: `Archive decrypted WeCom conversation-archive messages, one JSON object per line, as
the Finance SDK's DecryptData returns them. With --media, attachments are read from
files named by their sdkfileid (sdkfileids containing '/' or '+' are looked up with
'_' and '-' instead), checked against their md5sum and stored; missing media and
checksum mismatches are recorded per attachment and reported, and the message is
archived regardless. Lines that cannot be archived are quarantined with the reason
and the exit status is 2. Re-running the same file writes nothing new.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := jsonl.CheckAccount(corp); err != nil {
				return usageErr("--corp: %v", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			defer f.Close()
			st, _ := f.Stat()
			if mediaDir != "" {
				if fi, err := os.Stat(mediaDir); err != nil || !fi.IsDir() {
					return usageErr("--media %s: not a directory", mediaDir)
				}
			}
			r, err := a.openWriter(ctx, true)
			if err != nil {
				return err
			}
			in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: msgaudit.Source(corp),
				Actor: actor("cli"), Origin: "file:" + filepath.Base(args[0])}
			if mediaDir != "" {
				in.Media = ingest.DirMedia{Dir: mediaDir}
			}
			bar := a.progressBar(st.Size(), "ingest")
			if bar != nil {
				in.Progress = func(_ int, bytes int64) { bar.Set64(bytes) }
			}
			start := time.Now()
			var sum *jsonl.Summary
			ran := false
			runErr, closeErr := a.whileWriting(ctx, r, func() (err error) {
				ran = true
				sum, err = in.Run(ctx, f)
				if bar != nil {
					bar.Finish()
				}
				return err
			})
			if !ran {
				return errors.Join(runErr, closeErr) // witnessing could not start: nothing ran
			}
			elapsed := time.Since(start)
			if asJSON {
				a.printJSON(sum)
			} else {
				a.printIngestSummary(sum, elapsed)
			}
			if runErr != nil {
				return runErr
			}
			if closeErr != nil {
				return closeErr
			}
			if sum.Rejected > 0 {
				return &exitError{code: exitUsage}
			}
			return nil
		},
	}
	c.Flags().StringVar(&mediaDir, "media", "", "directory of media files named by sdkfileid")
	c.Flags().StringVar(&corp, "corp", "default", "WeCom corp id the messages belong to (part of the source id)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}

func (a *app) printIngestSummary(s *jsonl.Summary, elapsed time.Duration) {
	w := a.stdout
	fmt.Fprintf(w, "%d lines in %s: %d archived, %d duplicate, %d conflict, %d rejected\n",
		s.Lines, elapsed.Round(time.Millisecond), s.Archived, s.Duplicates, s.Conflicts, s.Rejected)
	if s.LastSerial > 0 {
		fmt.Fprintf(w, "serials %d–%d\n", s.FirstSerial, s.LastSerial)
	}
	if len(s.AttachmentFaults) > 0 {
		fmt.Fprintf(w, "%d of %d attachments not fetched intact:\n", len(s.AttachmentFaults), s.Attachments)
		for i, f := range s.AttachmentFaults {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more (see `wxarchive show SERIAL`)\n", len(s.AttachmentFaults)-20)
				break
			}
			reason := ""
			if f.Reason != "" {
				reason = " (" + f.Reason + ")"
			} else if f.Status == archive.AttachmentPending {
				reason = " (no --media directory given)"
			}
			fmt.Fprintf(w, "  line %d serial %d %s %s: %s%s\n", f.Line, f.Serial, f.MsgID, f.Role, f.Status, reason)
		}
	}
	if len(s.DecodeWarnings) > 0 {
		fmt.Fprintf(w, "%d archived with fields set aside (kept as received in the message's details; decode_warning):\n", len(s.DecodeWarnings))
		for i, d := range s.DecodeWarnings {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more (see `wxarchive show SERIAL`)\n", len(s.DecodeWarnings)-20)
				break
			}
			fmt.Fprintf(w, "  line %d serial %d %s: %s\n", d.Line, d.Serial, d.MsgID, strings.Join(d.Fields, ", "))
		}
	}
	if len(s.Rejects) > 0 {
		fmt.Fprintf(w, "rejected lines (kept in quarantine, see `wxarchive quarantine`):\n")
		for i, f := range s.Rejects {
			if i == 50 {
				fmt.Fprintf(w, "  … and %d more\n", len(s.Rejects)-50)
				break
			}
			field := ""
			if f.Field != "" {
				field = fmt.Sprintf(" field %q:", f.Field)
			}
			fmt.Fprintf(w, "  line %d:%s %s\n", f.Line, field, f.Reason)
		}
	}
}
