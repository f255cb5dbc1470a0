package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) reindexCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the index from the journal and the records",
		Long: `Reindex drops the index (messages, attachments, recalls, consent, participants,
quarantine, pack locations) and rebuilds it by replaying the journal over the
records, in one transaction: readers keep the old index until it commits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openWriter(ctx, true)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			head, err := r.Store.Head(ctx)
			if err != nil {
				return err
			}
			bar := a.progressBar(int64(head.JournalSize), "reindex")
			start := time.Now()
			err = r.Reindex(ctx, func(done, total uint64) {
				if bar != nil {
					bar.Set64(int64(done))
				}
			})
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			c, err := r.Store.Counts(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Rebuilt the index from %d journal events in %s: %d messages, %d attachments, %d quarantined\n",
				head.JournalSize, time.Since(start).Round(time.Millisecond), c.Messages, c.Attachments, c.Rejects)
			return nil
		},
	}
}
