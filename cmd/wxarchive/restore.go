package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

func (a *app) restoreCmd() *cobra.Command {
	var from, keyFile, index, blobs string
	var asJSON bool
	c := &cobra.Command{
		Use:   "restore --from URL --dir NEW",
		Short: "Rebuild a working archive from a replica (the backup 'replicate' writes)",
		Long: `Restore rebuilds, in a new directory, the archive a replica holds: its configuration
(id, origin, public key, retention, time zone) from the replica's latest manifest,
every blob copied from the replica (re-hashed, with its retain-until and legal
hold), the journal — leaves, tree, checkpoints, segments — from its sealed
segments, and the index replayed from that journal, as 'reindex' builds it. The
replica's structure must be whole: a missing or damaged segment stops the restore
(run 'wxarchive verify --replica URL' to see every fault).

With --key (the original's keys/checkpoint.key, kept apart from the replica) it is
the archive again: search, show, export, capture and review, which journal every
access, work as before; the key must match the archive's public key. Without it
the restored archive can be verified and counted (verify, stats) but not read or
written, until the key is put in keys/checkpoint.key. Capture connectors resume
from their start (their cursors are not in the replica) and skip what is archived.
Run 'wxarchive verify --dir NEW' afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if from == "" {
				return usageErr("--from URL is required")
			}
			if !cmd.Flags().Changed("dir") && os.Getenv("WXARCHIVE_DIR") == "" {
				return usageErr("--dir NEW is required: the new archive's directory")
			}
			var skey string
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return usageErr("--key: %v", err)
				}
				skey = string(b)
			}
			src, err := openReplica(ctx, "from", from)
			if err != nil {
				return err
			}
			defer closeBlobs(src)
			chain, probs, err := replica.ReadChain(ctx, src)
			if err != nil {
				return fmt.Errorf("--from %s: %w", replicaLocation(from), err)
			}
			if len(probs) > 0 {
				for _, p := range probs {
					fmt.Fprintf(a.stderr, "FAULT %-24s %s\n      %s\n", p.Kind, p.Object, p.Detail)
				}
				return fmt.Errorf("the replica's manifests are not whole (%d faults): nothing restored", len(probs))
			}
			cfg := chain.Config()
			cfg.Index, cfg.Blobs = index, blobs
			var res *replica.RestoreResult
			var copied replica.Counts
			fill := func(ctx context.Context, st store.Store, dst blob.Store) error {
				bar := a.progressBar(0, "restore blobs")
				var progress func(done, total int64)
				if bar != nil {
					progress = func(done, total int64) { bar.ChangeMax64(total); bar.Set64(done) }
				}
				var err error
				if copied, err = replica.CopyBlobs(ctx, src, dst, chain, progress); err != nil {
					return err
				}
				if bar != nil {
					bar.Finish()
				}
				if res, err = replica.Restore(ctx, src, st, chain, replica.RestoreOptions{}); err != nil {
					return err
				}
				// The archive's creation time is its first event's.
				return st.Leaves(ctx, 0, 1, func(idx uint64, _, leaf []byte) error {
					if ev, err := journal.DecodeLeaf(idx, leaf); err == nil {
						cfg.CreatedAt = ev.Time
					}
					return nil
				})
			}
			if err := repo.CreateFrom(ctx, a.dir, cfg, repo.CreateFromOptions{Engines: engines(), SignerKey: skey, Fill: fill}); err != nil {
				return err
			}
			out := struct {
				Dir       string         `json:"dir"`
				ArchiveID string         `json:"archive_id"`
				Manifest  archive.BlobID `json:"manifest"`
				*replica.RestoreResult
				Copied   replica.Counts `json:"copied"`
				Writable bool           `json:"writable"`
			}{a.dir, cfg.ArchiveID, chain.LatestID, res, copied, skey != ""}
			if asJSON {
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "Restored archive %s into %s: %d journal events (%d messages) from %d segments, %d pending records; copied %d segments, %d packs, %d attachments (%.1f MB)\n",
				cfg.ArchiveID, a.dir, res.TreeSize, res.Messages, res.Segments, res.Pending, copied.Segments, copied.Packs, copied.Attachments, float64(copied.Bytes)/1e6)
			if skey == "" {
				fmt.Fprintf(a.stdout, "No signing key given: the archive is read-only (verify, stats) until its key is in %s\n", filepath.Join(a.dir, repo.KeyFile))
			}
			fmt.Fprintf(a.stdout, "Next: wxarchive verify --dir %s\n", a.dir)
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "the replica's blob store: file:DIR or s3://BUCKET?…")
	c.Flags().StringVar(&keyFile, "key", "", "the archive's signing key file (keys/checkpoint.key of the original), to make the restored archive writable")
	c.Flags().StringVar(&index, "index", "", "the new archive's index engine URL (default: the embedded SQLite)")
	c.Flags().StringVar(&blobs, "blobs", "", "the new archive's blob store URL (default: file:blobs in the new directory)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}
