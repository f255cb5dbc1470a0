package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// NoticeSelfKey says a replica was checked with the public key its own
// manifest names: it proves the copy is whole and consistent, not that it
// is the archive's (pin the key with --public-key, or check it from the
// archive's directory).
const NoticeSelfKey = "replica.self_key"

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Now func() time.Time
	// PublicKey is the key checkpoints must be signed with (the archive's
	// own, from outside the replica). Empty: the latest manifest's key,
	// with a notice.
	PublicKey string
	// Scratch opens the empty stores the replica's journal is restored
	// into and verify rebuilds the index in (required; the engine is the
	// caller's choice, as for verify.Run).
	Scratch    func(ctx context.Context, dir string) (store.Store, error)
	ScratchDir string
	// Primary, when reachable, is the archive the replica copies: the
	// replica's journal must be a prefix of its journal (a consistency
	// proof against its latest checkpoint), and no smaller than what the
	// primary journaled it copied.
	Primary  store.Reader
	Progress func(phase string, done, total int64)
}

// Verify checks a replica on its own — no index database, no primary:
// every manifest, the chain of segments from leaf 0, then everything
// verify checks of an archive (every hash, the tree, every checkpoint's
// signature and consistency, every record, retention), on an index
// restored into a scratch store from the replica alone. A primary, when
// given, adds the prefix and rollback checks. The error is for failures to
// run at all; every problem with the replica is a fault of the report.
func Verify(ctx context.Context, src blob.Store, opts VerifyOptions) (*verify.Report, error) {
	if opts.Scratch == nil {
		return nil, verify.ErrNoScratch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	fault := func(rep *verify.Report, kind, obj, detail string) {
		rep.Faults = append(rep.Faults, verify.Fault{Kind: kind, Object: obj, Detail: detail})
	}
	chain, probs, err := ReadChain(ctx, src)
	if errors.Is(err, ErrNoReplica) {
		rep := &verify.Report{Faults: []verify.Fault{}}
		for _, p := range probs {
			fault(rep, p.Kind, p.Object, p.Detail)
		}
		fault(rep, ProblemEmpty, "replica", "no readable manifest: nothing here is a replica of an archive")
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	base := opts.ScratchDir
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "wxarchive-replica-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	restored := filepath.Join(dir, "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		return nil, err
	}
	st, err := opts.Scratch(ctx, restored)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var restoreProgress func(done, total uint64)
	if opts.Progress != nil {
		restoreProgress = func(done, total uint64) { opts.Progress("restore", int64(done), int64(total)) }
	}
	res, err := Restore(ctx, src, st, chain, RestoreOptions{Lenient: true, Progress: restoreProgress})
	if err != nil {
		return nil, err
	}
	probs = append(probs, res.Problems...)

	cfg := chain.Config()
	selfKey := opts.PublicKey == ""
	if !selfKey {
		cfg.PublicKey = opts.PublicKey
	}
	external := map[archive.BlobID]string{}
	for _, id := range chain.Manifests {
		external[id] = "manifest:" + id.String()
	}
	for _, p := range chain.Latest.Ahead {
		// Sealed by an event the replica's journal does not reach yet;
		// its records are checked as the restored pending records.
		external[p.Pack] = "pack:" + p.Pack.String()
	}
	r := &repo.Repo{Dir: dir, Config: cfg, Store: st, Blobs: src, Records: repo.NewRecords(st, src)}
	rep, err := verify.Run(ctx, r, verify.Options{Now: opts.Now, Scratch: opts.Scratch, ScratchDir: dir,
		Progress: opts.Progress, External: external, Restored: true})
	if err != nil {
		return nil, err
	}
	// A segment or pack beyond the journal the manifests reach is what a
	// removed manifest leaves: the replica was rolled back.
	for i, f := range rep.Faults {
		if f.Kind == verify.BlobNewerThanJournal {
			rep.Faults[i] = verify.Fault{Kind: ProblemRollback, Object: f.Object,
				Detail: fmt.Sprintf("%s; no manifest lists it: a newer manifest was removed", f.Detail)}
		}
	}
	for _, p := range probs {
		fault(rep, p.Kind, p.Object, p.Detail)
	}
	if selfKey {
		rep.Notices = append(rep.Notices, verify.Fault{Kind: NoticeSelfKey, Object: "manifest:" + chain.LatestID.String(),
			Detail: "checked with the public key the replica's own manifest names; pin the archive's key (--public-key) to prove the copy is the archive's"})
	}
	// The latest manifest's checkpoint is the newest segment's last.
	if chain.Latest.Checkpoint != "" && res.TreeSize == chain.TreeSize {
		cp, err := st.LatestCheckpoint(ctx)
		if err != nil || !bytes.Equal(cp.Note, []byte(chain.Latest.Checkpoint)) {
			fault(rep, ProblemManifest, "manifest:"+chain.LatestID.String(),
				fmt.Sprintf("its checkpoint (of %d leaves) is not the last checkpoint the segments hold", chain.TreeSize))
		}
	}
	if opts.Primary != nil {
		if err := checkAgainstPrimary(ctx, st, res.TreeSize, chain, opts.Primary, func(kind, obj, detail string) { fault(rep, kind, obj, detail) }); err != nil {
			return nil, err
		}
	}
	rep.OK = len(rep.Faults) == 0
	return rep, nil
}

// checkAgainstPrimary checks that the replica's journal (size n, in st) is
// a prefix of the primary's, by an RFC 6962 consistency proof from the
// replica's root to the primary's latest checkpoint, and that the primary
// never journaled this replica holding more.
func checkAgainstPrimary(ctx context.Context, st store.Reader, n uint64, chain *Chain, primary store.Reader, fault func(kind, obj, detail string)) error {
	head, err := primary.Head(ctx)
	if err != nil {
		return err
	}
	obj := "replica:" + chain.Latest.ReplicaID
	if n > head.JournalSize {
		fault(ProblemDiverged, obj, fmt.Sprintf("the replica holds %d journal leaves; the primary has %d", n, head.JournalSize))
		return nil
	}
	mine, err := journal.RootAt(ctx, st, n)
	if err != nil {
		return err
	}
	// Against the primary's latest checkpoint when it covers the replica
	// (it is what an examiner holds); else against its journal's root.
	size, against := head.JournalSize, "journal"
	theirs, err := journal.RootAt(ctx, primary, size)
	if err != nil {
		return err
	}
	if cpRow, err := primary.LatestCheckpoint(ctx); err == nil && cpRow.Size >= n {
		if cp, err := journal.PeekCheckpoint(cpRow.Note); err == nil {
			size, theirs, against = cp.Size, cp.Root, "latest checkpoint"
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	proof, err := journal.ConsistencyProof(ctx, primary, n, size)
	if err == nil {
		err = journal.VerifyConsistency(n, size, proof, mine, theirs)
	}
	if err != nil {
		fault(ProblemDiverged, obj, fmt.Sprintf("the replica's journal of %d leaves is not a prefix of the primary's (%s, %d leaves): %v", n, against, size, err))
	}
	// What the primary journaled this replica held.
	var synced uint64
	var at uint64
	if err := primary.Leaves(ctx, 0, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		if !bytes.Contains(leaf, []byte(EventReplicaSynced)) {
			return nil
		}
		ev, err := journal.DecodeLeaf(idx, leaf)
		if err != nil || ev.Type != EventReplicaSynced {
			return nil
		}
		var p SyncedEvent
		if ev.DecodePayload(&p) == nil && p.ReplicaID == chain.Latest.ReplicaID && p.TreeSize > synced {
			synced, at = p.TreeSize, idx
		}
		return nil
	}); err != nil {
		return err
	}
	if synced > n {
		fault(ProblemRollback, obj, fmt.Sprintf("the primary journaled (event %d) that this replica held %d leaves; it holds %d", at, synced, n))
	}
	return nil
}
