package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/capture/importer"
)

func (a *app) importCmd() *cobra.Command {
	var owner string
	var employees []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "import FORMAT PATH",
		Short: "Archive a chat export the firm already holds (chatlog, WeChatMsg, PyWxDump, jsonl)",
		Long: `Archive an existing chat export (docs/IMPORT.md), as the tools write it:
chatlog-csv and chatlog-json (sjzar/chatlog's /api/v1/chatlog), wechatmsg-csv
(WeChatMsg / MemoTrace's CSV), pywxdump-csv and pywxdump-json (PyWxDump's
export), or jsonl (wxarchive's generic format). Naive times are China Standard
Time. --owner names whose export it is (required where the file does not say).
Imported messages are marked as imported — source "import:FORMAT:OWNER", a "capture"
detail and an origin naming the file, its SHA-256 and the line — never as live
capture. Without --owner, the employees are those the archive already knows (the
directory, earlier imports, captures); a file in which some message has no
employee among its participants is refused, naming its senders (exit 2,
nothing archived): give --owner or --employee. Rows that cannot be archived
are quarantined with their line and field
(exit 2). An interrupted import resumes after the last durable line when run
again; importing the same file twice archives nothing new.

wxarchive reads exports only: it never extracts keys from or decrypts WeChat's
local databases.`,
		Example: `  wxarchive import wechatmsg-csv exports/王总.csv --owner wxid_zhangwei
  wxarchive import chatlog-csv wxid_lilei01_2025-03-01_2025-03-31.csv --owner zhangwei
  wxarchive import pywxdump-csv export/wxid_zhangwei/csv/wxid_lilei01/wxid_lilei01_0_5000.csv
  wxarchive import jsonl messages.jsonl`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format := importer.Format(args[0])
			known := false
			for _, f := range importer.Formats {
				known = known || f == format
			}
			if !known {
				return usageErr("unknown format %q (expected one of %v)", args[0], importer.Formats)
			}
			data, err := readFileLimited(args[1], importer.MaxFileBytes)
			if err != nil {
				return usageErr("%v", err)
			}
			emps := map[string]bool{}
			for _, e := range employees {
				emps[e] = true
			}
			r, err := a.openWriter(ctx, true)
			if err != nil {
				return err
			}
			lines := int64(bytes.Count(data, []byte("\n")) + 1)
			bar := a.progressBar(lines, "import")
			im := &importer.Importer{Engine: r.Engine, Store: r.Store, Actor: actor("cli"),
				Options: importer.Options{Owner: owner, Employees: emps}}
			if bar != nil {
				im.Progress = func(line int) { bar.Set64(int64(line)) }
			}
			start := time.Now()
			var sum *importer.Summary
			ran := false
			runErr, closeErr := a.whileWriting(ctx, r, func() (err error) {
				ran = true
				sum, err = im.Run(ctx, format, args[1], data)
				if bar != nil {
					bar.Finish()
				}
				return err
			})
			if !ran {
				return errors.Join(runErr, closeErr) // witnessing could not start: nothing ran
			}
			var fe *importer.FileError
			if errors.As(runErr, &fe) {
				if sum != nil && sum.Archived+len(sum.Rejected) > 0 {
					a.printImportSummary(sum, time.Since(start))
				}
				return usageErr("%s: %v (rows before it are archived; fix the file and run again to continue)", filepath.Base(args[1]), fe)
			}
			var ue *importer.UnclassifiedError
			if errors.As(runErr, &ue) {
				return usageErr("%s: %v", filepath.Base(args[1]), ue)
			}
			if runErr != nil {
				return runErr
			}
			if closeErr != nil {
				return closeErr
			}
			if asJSON {
				a.printJSON(sum)
			} else {
				a.printImportSummary(sum, time.Since(start))
			}
			if len(sum.Rejected) > 0 {
				return &exitError{code: exitUsage}
			}
			return nil
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "the employee whose export this is (required for wechatmsg-csv)")
	c.Flags().StringSliceVar(&employees, "employee", nil, "other ids to classify as employees (repeatable)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over the %d-byte limit", path, limit)
	}
	return data, nil
}

func (a *app) printImportSummary(s *importer.Summary, elapsed time.Duration) {
	w := a.stdout
	fmt.Fprintf(w, "%s (%s, sha256 %s…): %d rows in %s: %d archived, %d duplicate, %d rejected\n",
		s.File, s.Format, s.SHA256[:16], s.Rows, elapsed.Round(time.Millisecond), s.Archived, s.Duplicates, len(s.Rejected))
	if s.Resumed > 0 {
		fmt.Fprintf(w, "resumed after line %d (archived by an earlier run)\n", s.Resumed)
	}
	if len(s.Rejected) > 0 {
		fmt.Fprintln(w, "rejected rows (kept in quarantine, see `wxarchive quarantine`):")
		for i, e := range s.Rejected {
			if i == 50 {
				fmt.Fprintf(w, "  … and %d more\n", len(s.Rejected)-50)
				break
			}
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(e.Error()))
		}
	}
}
