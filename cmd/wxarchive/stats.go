package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/store"
)

type statsOut struct {
	ArchiveID      string         `json:"archive_id"`
	Messages       int64          `json:"messages"`
	Attachments    int64          `json:"attachments"`
	AttachFaults   int64          `json:"attachment_faults"`
	Conflicts      int64          `json:"conflicts"`
	Recalled       int64          `json:"recalled"`
	Quarantined    int64          `json:"quarantined"`
	JournalSize    uint64         `json:"journal_size"`
	SealedSize     uint64         `json:"sealed_size"`
	PendingRecords int64          `json:"pending_records"`
	Packs          int64          `json:"packs"`
	Segments       int64          `json:"segments"`
	Checkpoints    int64          `json:"checkpoints"`
	Checkpoint     map[string]any `json:"checkpoint"`
	PublicKey      string         `json:"public_key"`
	RetentionYears int            `json:"retention_years"`
}

func (a *app) statsCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "Summarize the archive: counts, journal size, latest checkpoint, public key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			cnt, err := r.Store.Counts(ctx)
			if err != nil {
				return err
			}
			head, err := r.Store.Head(ctx)
			if err != nil {
				return err
			}
			out := statsOut{ArchiveID: r.Config.ArchiveID, Messages: cnt.Messages, Attachments: cnt.Attachments,
				AttachFaults: cnt.AttachFaults, Conflicts: cnt.Conflicts, Recalled: cnt.Recalled, Quarantined: cnt.Rejects,
				JournalSize: head.JournalSize, SealedSize: head.SealedSize, PendingRecords: cnt.PendingRecords,
				Packs: cnt.Packs, Segments: cnt.Segments, Checkpoints: cnt.Checkpoints, PublicKey: r.Config.PublicKey,
				RetentionYears: r.Config.RetentionYears}
			row, err := r.Store.LatestCheckpoint(ctx)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				cp, verr := r.Verifier.Open(row.Note)
				out.Checkpoint = map[string]any{"size": row.Size, "time": row.Time, "note": string(row.Note), "signature_ok": verr == nil}
				if verr == nil {
					out.Checkpoint["root_hash"] = fmt.Sprintf("%x", cp.Root)
				}
			}
			if asJSON {
				return a.printJSON(out)
			}
			w := a.stdout
			fmt.Fprintf(w, "archive        %s (%s)\n", r.Config.ArchiveID, a.dir)
			fmt.Fprintf(w, "messages       %d (%d conflicting versions, %d recalled)\n", out.Messages, out.Conflicts, out.Recalled)
			fmt.Fprintf(w, "attachments    %d (%d not fetched intact)\n", out.Attachments, out.AttachFaults)
			fmt.Fprintf(w, "quarantined    %d inputs\n", out.Quarantined)
			fmt.Fprintf(w, "journal        %d events, %d sealed in %d segments, %d checkpoints\n", out.JournalSize, out.SealedSize, out.Segments, out.Checkpoints)
			fmt.Fprintf(w, "records        %d packs, %d pending\n", out.Packs, out.PendingRecords)
			fmt.Fprintf(w, "retention      %d years\n", out.RetentionYears)
			if out.Checkpoint != nil {
				fmt.Fprintf(w, "checkpoint     size %d at %s\n%s", row.Size, row.Time, indent(string(row.Note)))
			}
			fmt.Fprintf(w, "public key     %s\n", out.PublicKey)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("               " + l + "\n")
	}
	return b.String()
}
