package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/repo"
)

// replicaLocation is a replica URL without credentials or query, for
// events and logs.
func replicaLocation(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Scheme != "" && pu.Opaque == "" {
		pu.User, pu.RawQuery, pu.Fragment = nil, "", ""
		return pu.String()
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// openReplica opens the blob store of a replica URL; a relative file: path
// is relative to the current directory.
func openReplica(ctx context.Context, flag, u string) (blob.Store, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	s, err := engines().OpenBlobs(ctx, u, repo.BlobOptions{Dir: cwd})
	if err != nil {
		return nil, usageErr("--%s %s: %v", flag, u, err)
	}
	return s, nil
}

func closeBlobs(s blob.Store) {
	if c, ok := s.(interface{ Close() error }); ok {
		c.Close()
	}
}

func primaryOf(r *repo.Repo, actorName string) replica.Primary {
	return replica.Primary{Store: r.Store, Blobs: r.Blobs, ArchiveID: r.Config.ArchiveID, Origin: r.Config.Origin,
		PublicKey: r.Config.PublicKey, TimeZone: r.Config.TimeZone, RetentionYears: r.Config.RetentionYears,
		SealDelay: r.Config.SealDelay, Writer: r.Engine, Actor: actorName, HintDir: r.Dir}
}

func (a *app) replicateCmd() *cobra.Command {
	var to string
	var asJSON bool
	c := &cobra.Command{
		Use:   "replicate --to URL",
		Short: "Copy the archive's sealed state to a second blob store (a backup that verifies on its own)",
		Long: `Replicate copies every sealed journal segment and every pack and attachment
their events reference to the blob store URL names (file:DIR, s3://…), each re-hashed,
with the primary's retain-until and legal hold, then writes a manifest in the
replica and journals replica.synced. A second run copies only what is new; a run
killed part way leaves only complete objects and resumes from the last manifest.
The index database is not copied: 'wxarchive restore' rebuilds it. Everything
pending is sealed first when this command holds the archive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if to == "" {
				return usageErr("--to URL is required")
			}
			dst, err := openReplica(ctx, "to", to)
			if err != nil {
				return err
			}
			defer closeBlobs(dst)
			r, err := a.openWriter(ctx, false)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			// Seal what is pending so that the copy reaches the journal's
			// end (a guest next to serve leaves sealing to serve).
			if _, err := r.Engine.Seal(ctx, true); err != nil {
				return fmt.Errorf("seal before replicating: %w", err)
			}
			res, err := replica.Replicate(ctx, primaryOf(r, actor("cli")), dst, replica.Options{Location: replicaLocation(to)})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(res)
			}
			if res.Manifest.IsZero() {
				fmt.Fprintf(a.stdout, "Replica %s is up to date at %d journal events\n", res.ReplicaID, res.TreeSize)
				return nil
			}
			fmt.Fprintf(a.stdout, "Replica %s: journal events %d..%d, copied %d segments, %d packs, %d attachments (%.1f MB); manifest %s\n",
				res.ReplicaID, res.From, res.TreeSize, res.Copied.Segments, res.Copied.Packs, res.Copied.Attachments, float64(res.Copied.Bytes)/1e6, res.Manifest.Short())
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "the replica's blob store: file:DIR or s3://BUCKET?…")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

// replicating is serve's continuous replication.
type replicating struct {
	c      *replica.Continuous
	stores []blob.Store
	stop   context.CancelFunc
	done   chan struct{}
}

// startReplicating keeps the configured replicas up while serve runs
// (faults in capture health, lag in health and metrics). A replica that
// cannot be opened (a missing mount, a refused bucket) stops serve from
// starting: a backup configured and silently not kept is worse than none.
func (a *app) startReplicating(r *repo.Repo, health *capture.Tracker, reg prometheus.Registerer, logger *slog.Logger) (*replicating, error) {
	rp := &replicating{done: make(chan struct{})}
	if len(r.Config.Replicas) == 0 {
		close(rp.done)
		return rp, nil
	}
	m, err := replica.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	c := &replica.Continuous{Primary: primaryOf(r, "connector:archive"), Interval: r.Config.ReplicaInterval, MaxLag: r.Config.ReplicaMaxLag,
		Faults: health, Metrics: m, Logger: logger}
	for i, rc := range r.Config.Replicas {
		s, err := engines().OpenBlobs(context.Background(), rc.URL, repo.BlobOptions{Dir: r.Dir})
		if err != nil {
			for _, s := range rp.stores {
				closeBlobs(s)
			}
			return nil, usageErr("%s: replicas[%d].url %s: %v", repo.ConfigFile, i, replicaLocation(rc.URL), err)
		}
		rp.stores = append(rp.stores, s)
		c.Targets = append(c.Targets, replica.Target{Location: replicaLocation(rc.URL), Store: s})
	}
	rp.c = c
	if health != nil {
		health.SetReplicas(func(ts func(time.Time) string) []capture.ReplicaReport {
			var out []capture.ReplicaReport
			for _, s := range c.Status() {
				rr := capture.ReplicaReport{Location: s.Location, ReplicaID: s.ReplicaID, TreeSize: s.TreeSize, SealedSize: s.SealedSize,
					LagEvents: s.LagEvents, LastError: s.LastError, Behind: s.Behind}
				if !s.Oldest.IsZero() {
					rr.OldestUncopied, rr.LagSeconds = ts(s.Oldest), max(0, time.Since(s.Oldest).Seconds())
				}
				if !s.LastSuccess.IsZero() {
					rr.LastSuccess = ts(s.LastSuccess)
				}
				out = append(out, rr)
			}
			return out
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	rp.stop = cancel
	go func() {
		defer close(rp.done)
		c.Run(ctx)
	}()
	logger.Info("replicating", "replicas", len(c.Targets), "interval", c.Interval.String())
	return rp, nil
}

// Stop ends replication (a run in progress is cancelled: the next one
// resumes from the replica's last manifest) and closes the replicas. With
// final (serve's shutdown, the writer still open and its loops stopped)
// everything is sealed and copied once more first, within a minute, so
// the replicas hold what the server did last.
func (rp *replicating) Stop(final *repo.Repo) {
	if rp.stop != nil {
		rp.stop()
	}
	<-rp.done
	if final != nil && rp.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := final.Engine.Seal(ctx, true); err == nil {
			rp.c.RunOnce(ctx)
		}
		cancel()
	}
	for _, s := range rp.stores {
		closeBlobs(s)
	}
}
