package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) statsCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "Summarize the archive: counts, journal size, latest checkpoint, public key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				out, err := u.Stats(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(out)
				}
				w := a.stdout
				fmt.Fprintf(w, "archive        %s (%s)\n", out.ArchiveID, a.dir)
				fmt.Fprintf(w, "messages       %d (%d conflicting versions, %d recalled)\n", out.Messages, out.Conflicts, out.Recalled)
				fmt.Fprintf(w, "attachments    %d (%d not fetched intact)\n", out.Attachments, out.AttachFaults)
				fmt.Fprintf(w, "quarantined    %d inputs\n", out.Quarantined)
				fmt.Fprintf(w, "journal        %d %s, %d sealed in %d %s, %d %s\n", out.JournalSize, plural(int64(out.JournalSize), "event", "events"),
					out.SealedSize, out.Segments, plural(int64(out.Segments), "segment", "segments"), out.Checkpoints, plural(int64(out.Checkpoints), "checkpoint", "checkpoints"))
				fmt.Fprintf(w, "records        %d packs, %d pending\n", out.Packs, out.PendingRecords)
				fmt.Fprintf(w, "retention      %d years\n", out.RetentionYears)
				fmt.Fprintf(w, "supervision    %d %s, %d %s (%d open, %d overdue)\n", out.Policies, plural(int64(out.Policies), "policy", "policies"),
					out.Alerts, plural(out.Alerts, "alert", "alerts"), out.OpenAlerts, out.OverdueAlerts)
				if cp := out.Checkpoint; cp != nil {
					fmt.Fprintf(w, "checkpoint     size %d at %s\n%s", cp.Size, cp.Time, indent(cp.Note))
				}
				fmt.Fprintf(w, "public key     %s\n", out.PublicKey)
				return nil
			})
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
