package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

func (a *app) verifyCmd() *cobra.Command {
	var asJSON bool
	var publicKey, replicaURL string
	var alone bool
	var witnesses, witnessKeys, checkpoints []string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check every blob, the journal, every checkpoint and the index; exit 1 on any fault",
		Long: `Verify re-hashes every blob, recomputes the Merkle tree from the journal leaves,
checks every checkpoint signature and that consecutive checkpoints are consistent,
compares the sealed journal segments and packs with the database, and rebuilds
the index from the journal to compare it row by row with the live one. It also
checks what someone with access to the files could change behind the journal's
back: blobs nothing references, a database older than its blob store, retention
shorter than the journal requires, the supervisor's cursor against its journaled
progress, leaf times, the configured key against the keys the journal records,
and file modes. Every fault is reported with its kind and the object at fault;
notices (crash leftovers the journal already accounts for) do not fail it. Use
--public-key with a copy of the archive's public key kept elsewhere (the one it
was created with, or a later one after 'wxarchive key rotate'), so that a
replaced configuration cannot vouch for itself.

With --witness (a directory, an http(s):// checkpoint store, or c2sp+https://… with
the witness's --witness-key) and --checkpoint FILE (a checkpoint an auditor kept),
verify also proves the journal consistent with every checkpoint kept outside the
archive: a rollback, a directory restored from an older copy, or a history
rewritten and re-signed with the archive's own key is reported (witness.rollback,
witness.inconsistent). The witnesses in wxarchive.yaml are checked too.

With --replica URL verify checks a replica ('wxarchive replicate') on its own, with
no index database: every manifest and the chain of segments from the first event,
then everything above on an index restored from the replica into a scratch
database — every hash, the tree, every checkpoint's signature and consistency,
every record and retention — and names what is wrong with the copy: a rolled-back
replica (replica.rollback), a journal that is not a prefix of the archive's
(replica.diverged), damaged manifests or segments. Run from the archive's
directory (--dir), the archive's public key is the one checkpoints must be signed
with, the replica's journal must be consistent with the archive's latest
checkpoint (an RFC 6962 consistency proof), and it must hold at least what the
archive journaled it copied (replica.synced). --alone ignores the archive; then
the key is --public-key's, or the replica's own (a notice says so).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if replicaURL != "" {
				if len(witnesses)+len(checkpoints) > 0 {
					return usageErr("--witness and --checkpoint check an archive; with --replica, verify the archive separately")
				}
				return a.verifyReplica(cmd, replicaURL, publicKey, alone, asJSON)
			}
			r, err := a.openReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			opts := verify.Options{Scratch: engines().Scratch, PublicKey: publicKey}
			if opts.Witnesses, err = witnessSources(r.Config, witnesses, witnessKeys); err != nil {
				return err
			}
			for _, f := range checkpoints {
				b, err := os.ReadFile(f)
				if err != nil {
					return usageErr("--checkpoint: %v", err)
				}
				opts.Checkpoints = append(opts.Checkpoints, verify.KeptCheckpoint{Name: f, Note: b})
			}
			var bar *progressbar.ProgressBar
			var phase string
			if a.interactive() {
				opts.Progress = func(p string, done, total int64) {
					if p != phase || bar == nil {
						if bar != nil {
							bar.Finish()
						}
						phase = p
						bar = a.progressBar(total, "verify "+p)
					}
					bar.Set64(done)
				}
			}
			rep, err := verify.Run(ctx, r, opts)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			return a.report(rep, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().StringVar(&replicaURL, "replica", "", "verify the replica at this blob store URL (file:DIR, s3://…) instead of the archive")
	c.Flags().BoolVar(&alone, "alone", false, "with --replica: do not compare with the archive in --dir")
	c.Flags().StringVar(&publicKey, "public-key", "", "verify checkpoints with this public key instead of the configured one")
	c.Flags().StringArrayVar(&witnesses, "witness", nil, "a witness to check the journal against: DIR, http(s)://URL or c2sp+https://URL (repeatable)")
	c.Flags().StringArrayVar(&witnessKeys, "witness-key", nil, "a C2SP witness's public key, to check its cosignatures (repeatable)")
	c.Flags().StringArrayVar(&checkpoints, "checkpoint", nil, "a checkpoint note kept outside the archive (repeatable)")
	return c
}

// report prints a verify report and fails the command on any fault.
func (a *app) report(rep *verify.Report, asJSON bool) error {
	if asJSON {
		a.printJSON(rep)
	} else {
		s := rep.Stats
		for _, f := range rep.Faults {
			fmt.Fprintf(a.stdout, "FAULT %-24s %s\n      %s\n", f.Kind, f.Object, f.Detail)
		}
		for _, n := range rep.Notices {
			fmt.Fprintf(a.stdout, "NOTE  %-24s %s\n      %s\n", n.Kind, n.Object, n.Detail)
		}
		verdict := "OK"
		if !rep.OK {
			verdict = fmt.Sprintf("FAILED: %d faults", len(rep.Faults))
		}
		fmt.Fprintf(a.stdout, "%s — %d journal events (%d messages), %d checkpoints, %d segments, %d packs, %d blobs (%.1f MB), %d index rows in %s\n",
			verdict, s.Leaves, s.Messages, s.Checkpoints, s.Segments, s.Packs, s.Blobs, float64(s.BlobBytes)/1e6, s.IndexRows, rep.Duration.Round(time.Millisecond))
	}
	if !rep.OK {
		return &exitError{code: exitFailure}
	}
	return nil
}

// verifyReplica runs verify --replica: against the archive in --dir when
// there is one (and not --alone), else on the replica alone.
func (a *app) verifyReplica(cmd *cobra.Command, u, publicKey string, alone, asJSON bool) error {
	ctx := cmd.Context()
	src, err := openReplica(ctx, "replica", u)
	if err != nil {
		return err
	}
	defer closeBlobs(src)
	opts := replica.VerifyOptions{Scratch: engines().Scratch, PublicKey: publicKey}
	if !alone {
		cfg, err := repo.LoadConfig(a.dir)
		switch {
		case err == nil:
			chain, _, err := replica.ReadChain(ctx, src)
			if err == nil && chain.Latest.ArchiveID != cfg.ArchiveID {
				return usageErr("the replica at %s holds archive %s; %s holds %s (use --alone to check the replica without it)",
					replicaLocation(u), chain.Latest.ArchiveID, a.dir, cfg.ArchiveID)
			}
			r, err := a.openReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			if opts.PublicKey == "" {
				opts.PublicKey = r.Config.PublicKey
			}
			opts.Primary = r.Store
		case errors.Is(err, repo.ErrNoArchive):
			if cmd.Flags().Changed("dir") {
				return err
			}
			// No archive here: the replica alone.
		default:
			return err
		}
	}
	var bar *progressbar.ProgressBar
	var phase string
	if a.interactive() {
		opts.Progress = func(p string, done, total int64) {
			if p != phase || bar == nil {
				if bar != nil {
					bar.Finish()
				}
				phase = p
				bar = a.progressBar(total, "verify replica "+p)
			}
			bar.Set64(done)
		}
	}
	start := time.Now()
	rep, err := replica.Verify(ctx, src, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	rep.Duration = time.Since(start)
	return a.report(rep, asJSON)
}
