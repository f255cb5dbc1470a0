package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// Problem kinds a replica's own structure can show (docs/FORMAT.md §7,
// with verify's kinds for everything its journal and blobs show).
const (
	ProblemManifest = "replica.manifest" // a manifest that does not parse, or of another archive
	ProblemSegments = "replica.segments" // the manifests' segments do not cover the journal from leaf 0 without a gap
	ProblemSegment  = "replica.segment"  // a segment a manifest lists is missing, damaged or not the leaves it is listed for
	ProblemRollback = "replica.rollback" // the replica is behind what it once held or what the primary journaled it held
	ProblemDiverged = "replica.diverged" // the replica's journal is not a prefix of the primary's
	ProblemEmpty    = "replica.empty"    // no manifest at all
)

// Problem is one fault of a replica's structure.
type Problem struct {
	Kind, Object, Detail string
}

// ErrNoReplica is returned when a blob store holds no manifest.
var ErrNoReplica = errors.New("no replica here (no manifest)")

// Chain is what a replica's manifests describe together: the latest
// manifest (its configuration and the packs it holds ahead), and the
// segments from leaf 0 to the largest tree size.
type Chain struct {
	Latest    *Manifest
	LatestID  archive.BlobID
	Manifests []archive.BlobID // every manifest blob, parsed or not
	Segments  []SegmentRef
	TreeSize  uint64
}

// ReadChain lists a replica's manifests and joins their segments. It
// fails only when the replica cannot be listed or holds no manifest; what
// is wrong with the manifests themselves comes back as problems (a
// checker reports every one; a restore refuses to go on).
func ReadChain(ctx context.Context, src blob.Store) (*Chain, []Problem, error) {
	found, err := Manifests(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	var probs []Problem
	c := &Chain{}
	var good []Found
	for _, f := range found {
		c.Manifests = append(c.Manifests, f.ID)
		if f.Err != nil {
			probs = append(probs, Problem{ProblemManifest, "blob:" + f.ID.String(), f.Err.Error()})
			continue
		}
		good = append(good, f)
	}
	if len(good) == 0 {
		return nil, probs, ErrNoReplica
	}
	sort.SliceStable(good, func(i, j int) bool { return good[i].Manifest.TreeSize < good[j].Manifest.TreeSize })
	latest := good[len(good)-1]
	c.Latest, c.LatestID, c.TreeSize = latest.Manifest, latest.ID, latest.Manifest.TreeSize
	bySize := map[uint64]SegmentRef{} // First → segment
	for _, f := range good {
		m := f.Manifest
		if m.ArchiveID != c.Latest.ArchiveID || m.Origin != c.Latest.Origin {
			probs = append(probs, Problem{ProblemManifest, "blob:" + f.ID.String(),
				fmt.Sprintf("a manifest of archive %s (%s) in a replica of %s", m.ArchiveID, m.Origin, c.Latest.ArchiveID)})
			continue
		}
		for _, s := range m.Segments {
			if prev, ok := bySize[s.First]; ok && (prev.End != s.End || prev.Blob != s.Blob) {
				probs = append(probs, Problem{ProblemManifest, "blob:" + f.ID.String(),
					fmt.Sprintf("lists segment %s for leaves %d..%d; another manifest lists %s for %d..%d", s.Blob.Short(), s.First, s.End, prev.Blob.Short(), prev.First, prev.End)})
				continue
			}
			bySize[s.First] = s
		}
	}
	for next := uint64(0); next < c.TreeSize; {
		s, ok := bySize[next]
		if !ok {
			probs = append(probs, Problem{ProblemSegments, fmt.Sprintf("journal:%d", next),
				fmt.Sprintf("no manifest lists a segment starting at leaf %d; the latest manifest reaches %d", next, c.TreeSize)})
			break
		}
		c.Segments = append(c.Segments, s)
		next = s.End
	}
	return c, probs, nil
}

// Config is the configuration of the archive a replica holds, as its
// latest manifest records it (what a restored archive is configured with).
func (c *Chain) Config() *repo.Config {
	m := c.Latest
	return &repo.Config{ArchiveID: m.ArchiveID, Origin: m.Origin, PublicKey: m.PublicKey, RetentionYears: m.RetentionYears,
		TimeZone: m.TimeZone, SealDelay: msDuration(m.SealDelayMS)}
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Progress, if set, is told how many leaves are restored.
	Progress func(done, total uint64)
	// Lenient makes Restore carry on past a damaged segment (a checker
	// restoring to look at everything): the leaves it held are missing
	// from the restored journal, and each such segment is a problem.
	// Without it the first one fails the restore.
	Lenient bool
}

// RestoreResult says what a restore rebuilt.
type RestoreResult struct {
	TreeSize uint64
	Segments int
	Messages uint64
	// Pending is the number of records restored as pending: those of
	// events in the replica's journal held by ahead packs, whose seal the
	// replica's journal does not reach yet.
	Pending  int
	Problems []Problem
}

// Restore writes into dst, an empty store, the journal the replica's
// segments hold — leaves, tree nodes, checkpoints, the segment table, the
// next serial — then the index, replayed from that journal exactly as
// reindex does, reading records from the replica's packs. Records of the
// journal's events held only by ahead packs become pending records (the
// restored archive seals them again). Every blob read is re-hashed by
// src's Get. Nothing is trusted that a later check cannot see: signatures
// are not checked here (verify does, with a key from outside the replica).
func Restore(ctx context.Context, src blob.Store, dst store.Store, chain *Chain, opts RestoreOptions) (*RestoreResult, error) {
	head, err := dst.Head(ctx)
	if err != nil {
		return nil, err
	}
	if head.JournalSize != 0 {
		return nil, fmt.Errorf("restore: the target index is not empty (%d journal events)", head.JournalSize)
	}
	res := &RestoreResult{}
	// Which journal events the ahead packs hold records of: their
	// records are restored as pending, dated as their events.
	aheadIdx := map[uint64]bool{}
	for _, p := range chain.Latest.Ahead {
		for i := p.First; i <= p.Last && i < chain.TreeSize; i++ {
			aheadIdx[i] = true
		}
	}
	eventTime := map[uint64]archive.Time{}
	tx, err := dst.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	tree := journal.NewTree()
	var next, nextSerial uint64 = 0, 1
	// The supervisor's cursor is primary state, moved in the commit of
	// each supervision.progress event: restored from the latest.
	var supervised *store.CursorRow
	var supervisedThrough uint64
	for _, s := range chain.Segments {
		obj := "segment:" + s.Blob.String()
		if s.First != next {
			break // the journal stops at the first damaged segment (Lenient)
		}
		b, err := src.Get(ctx, s.Blob)
		var seg *journal.Segment
		if err == nil {
			seg, err = journal.ParseSegment(b)
			if err == nil && (seg.First != s.First || seg.End() != s.End) {
				err = fmt.Errorf("holds leaves %d..%d, listed for %d..%d", seg.First, seg.End(), s.First, s.End)
			}
		}
		if err != nil {
			p := Problem{ProblemSegment, obj, fmt.Sprintf("leaves %d..%d: %v", s.First, s.End, err)}
			if !opts.Lenient {
				return nil, fmt.Errorf("restore: %s: %s", p.Object, p.Detail)
			}
			res.Problems = append(res.Problems, p)
			break
		}
		var sealedAt archive.Time
		for i, leaf := range seg.Leaves {
			idx := seg.First + uint64(i)
			h := journal.LeafHash(leaf)
			if err := tx.AppendLeaf(ctx, idx, h, leaf); err != nil {
				return nil, err
			}
			var nodeErr error
			tree.Append(h, func(n journal.Node) {
				if err := tx.PutNode(ctx, n); err != nil && nodeErr == nil {
					nodeErr = err
				}
			})
			if nodeErr != nil {
				return nil, nodeErr
			}
			// A leaf the journal's reader refuses is still restored as
			// it is: the tree and the checkpoints commit to it, and
			// verify names it.
			if ev, err := journal.DecodeLeaf(idx, leaf); err == nil {
				if aheadIdx[idx] {
					eventTime[idx] = ev.Time
				}
				if ev.Type == archive.EventSupervisionProgress {
					var p archive.SupervisionProgressEvent
					if ev.DecodePayload(&p) == nil && (supervised == nil || p.Through >= supervisedThrough) {
						supervisedThrough = p.Through
						supervised = &store.CursorRow{Connector: store.SupervisionCursor, Value: strconv.FormatUint(p.Through, 10), UpdatedAt: ev.Time}
					}
				}
				if ev.Type == archive.EventMessageArchived || ev.Type == archive.EventMessageConflict {
					var p archive.MessageEvent
					if ev.DecodePayload(&p) == nil && p.Serial >= nextSerial {
						nextSerial = p.Serial + 1
						res.Messages++
					}
				}
			}
		}
		for _, note := range seg.Checkpoints {
			cp, err := journal.PeekCheckpoint(note)
			if err != nil {
				// Kept out of the table; verify finds the journal
				// longer than its checkpoints and the segment's note bad.
				res.Problems = append(res.Problems, Problem{ProblemSegment, obj, fmt.Sprintf("checkpoint note: %v", err)})
				continue
			}
			if err := tx.PutCheckpoint(ctx, store.CheckpointRow{Size: cp.Size, Time: cp.Time, Note: note}); err != nil {
				return nil, err
			}
			sealedAt = cp.Time
		}
		if err := tx.PutSegment(ctx, store.SegmentRow{First: s.First, End: s.End, Blob: s.Blob, SealedAt: sealedAt}); err != nil {
			return nil, err
		}
		next = s.End
		res.Segments++
		if opts.Progress != nil {
			opts.Progress(next, chain.TreeSize)
		}
	}
	res.TreeSize = next
	if err := tx.SetNextSerial(ctx, nextSerial); err != nil {
		return nil, err
	}
	if supervised != nil {
		if err := tx.PutCursor(ctx, *supervised); err != nil {
			return nil, err
		}
	}
	n, err := restorePending(ctx, src, tx, chain.Latest.Ahead, next, eventTime)
	if err != nil {
		return nil, err
	}
	res.Pending = n
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	// The index, as reindex builds it: records located through the
	// journal's seal events, pending ones from the table just written.
	rec, err := repo.NewRecords(dst, src).FromJournal(ctx)
	if err != nil {
		return nil, err
	}
	load := rec.Get
	if opts.Lenient {
		load = func(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error) {
			b, err := rec.Get(ctx, key, want)
			if err != nil && ctx.Err() == nil {
				// verify names the record; the event is left out of the
				// index, as verify's own rebuild leaves it out.
				return nil, fmt.Errorf("%w: %v", ingest.ErrSkipRecord, err)
			}
			return b, err
		}
	}
	malformed := func(*journal.LeafError, bool) {} // verify reports them
	if err := ingest.Reindex(ctx, dst, load, nil, malformed); err != nil {
		return nil, err
	}
	return res, dst.Sync(ctx)
}

// restorePending writes the records of events below size that ahead packs
// hold as pending records.
func restorePending(ctx context.Context, src blob.Store, tx store.Tx, ahead []PackRef, size uint64, eventTime map[uint64]archive.Time) (int, error) {
	n := 0
	for _, p := range ahead {
		b, err := src.Get(ctx, p.Pack)
		if err != nil {
			return n, fmt.Errorf("restore: ahead pack %s: %w", p.Pack.Short(), err)
		}
		pk, err := pack.Parse(b)
		if err != nil {
			return n, fmt.Errorf("restore: ahead pack %s: %w", p.Pack.Short(), err)
		}
		for _, e := range pk.Entries() {
			if e.JournalIndex >= size {
				continue // an event the replica's journal does not reach
			}
			data, err := pk.Record(e.JournalIndex, e.Ordinal)
			if err != nil {
				return n, fmt.Errorf("restore: ahead pack %s: record %d/%d: %w", p.Pack.Short(), e.JournalIndex, e.Ordinal, err)
			}
			if err := tx.PutPending(ctx, store.PendingRecord{Key: store.RecordKey{JournalIndex: e.JournalIndex, Ordinal: e.Ordinal},
				Hash: e.SHA256, Data: data, RetainUntil: p.RetainUntil, CreatedAt: eventTime[e.JournalIndex]}); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// CopyBlobs copies into dst every blob of the replica but its manifests
// and the packs ahead of its journal (their records are restored as
// pending, and the restored archive seals them again), each re-hashed on
// read and kept with the replica's retain-until and legal hold: the blob
// store of an archive restored from the replica. verify then checks each
// blob's retention against what the journal requires.
func CopyBlobs(ctx context.Context, src, dst blob.Store, chain *Chain, progress func(done, total int64)) (Counts, error) {
	skip := map[archive.BlobID]bool{}
	for _, id := range chain.Manifests {
		skip[id] = true
	}
	for _, p := range chain.Latest.Ahead {
		skip[p.Pack] = true
	}
	var todo []blob.Info
	var total int64
	if err := src.List(ctx, func(i blob.Info) error {
		if !skip[i.ID] {
			todo = append(todo, i)
			total += i.Size
		}
		return nil
	}); err != nil {
		return Counts{}, fmt.Errorf("list the replica: %w", err)
	}
	var n Counts
	for _, i := range todo {
		if progress != nil {
			progress(n.Bytes, total)
		}
		b, err := src.Get(ctx, i.ID)
		if err != nil {
			return n, fmt.Errorf("copy blob %s: %w", i.ID, err)
		}
		id, err := dst.Put(ctx, b, blob.PutOptions{RetainUntil: i.RetainUntil, LegalHold: i.LegalHold})
		if err != nil {
			return n, fmt.Errorf("copy blob %s: %w", i.ID, err)
		}
		if id != i.ID {
			return n, fmt.Errorf("copy blob %s: stored as %s", i.ID, id)
		}
		switch {
		case isSegmentBytes(b):
			n.Segments++
		case isPackBytes(b):
			n.Packs++
		default:
			n.Attachments++
		}
		n.Bytes += int64(len(b))
	}
	if progress != nil {
		progress(total, total)
	}
	return n, nil
}

// Counting only: the magic says what a blob is meant to be (verify
// parses it).
func isSegmentBytes(b []byte) bool { return bytes.HasPrefix(b, []byte("WXSEG001")) }
func isPackBytes(b []byte) bool    { return bytes.HasPrefix(b, []byte(pack.Magic)) }
