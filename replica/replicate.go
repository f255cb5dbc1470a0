package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// EventReplicaSynced is journaled by the primary after each run that
// copied something besides its own earlier replica.synced events.
const EventReplicaSynced = "replica.synced"

// SyncedEvent is the payload of replica.synced.
type SyncedEvent struct {
	ReplicaID string         `json:"replica_id"`
	Location  string         `json:"location"` // the replica's URL without credentials or query
	From      uint64         `json:"from"`
	TreeSize  uint64         `json:"tree_size"`
	Manifest  archive.BlobID `json:"manifest"`
	Copied    Counts         `json:"copied"`
}

// Primary is what a run reads from the archive it copies.
type Primary struct {
	Store store.Reader
	Blobs blob.Store
	// ArchiveID … SealDelay describe the primary (its configuration).
	ArchiveID, Origin, PublicKey, TimeZone string
	RetentionYears                         int
	SealDelay                              time.Duration
	// Writer journals replica.synced (nil: nothing is journaled).
	Writer ingest.EventWriter
	Actor  string
	// HintDir, when set, holds a small file per replica naming its latest
	// manifest, so that a run need not list the replica to find it. It is
	// only a hint: the replica's own manifests decide.
	HintDir string
}

// Options configure a run.
type Options struct {
	Now func() time.Time
	// Location names the replica in events and hints (no secrets).
	Location string
}

// Result says what a run did.
type Result struct {
	ReplicaID string
	From      uint64
	TreeSize  uint64
	Manifest  archive.BlobID // zero when nothing was new
	Copied    Counts
	Journaled bool
}

// ErrForeignReplica is returned when the replica holds another archive.
var ErrForeignReplica = errors.New("the replica holds another archive")

// Replicate copies to dst everything the primary sealed since the
// replica's latest manifest: segments, the packs and attachments their
// events reference (and packs sealed later holding records of those
// events), each re-hashed on read and on write, with the primary's
// retain-until and legal hold; then writes a manifest, then journals
// replica.synced. A run killed at any point leaves only complete blobs
// (the store's Put is atomic) and the previous manifest in force; the next
// run copies again what the killed one had not recorded.
func Replicate(ctx context.Context, p Primary, dst blob.Store, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	latest, err := latestManifest(ctx, p, dst, opts.Location)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if latest != nil {
		if latest.ArchiveID != p.ArchiveID || latest.Origin != p.Origin {
			return nil, fmt.Errorf("%w: archive %s (%s), not %s", ErrForeignReplica, latest.ArchiveID, latest.Origin, p.ArchiveID)
		}
		res.ReplicaID, res.From = latest.ReplicaID, latest.TreeSize
	} else {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		res.ReplicaID = hex.EncodeToString(b[:])
	}
	res.TreeSize = res.From
	snap, release, err := p.Store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var segs []store.SegmentRow
	if err := snap.Segments(ctx, func(s store.SegmentRow) error {
		if s.End > res.From {
			segs = append(segs, s)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return res, nil
	}
	if segs[0].First != res.From {
		return nil, fmt.Errorf("replica reached leaf %d but the primary's segment starts at %d: the primary's segments do not continue the replica", res.From, segs[0].First)
	}
	m := &Manifest{Version: ManifestVersion, ReplicaID: res.ReplicaID, ArchiveID: p.ArchiveID, Origin: p.Origin,
		PublicKey: p.PublicKey, RetentionYears: p.RetentionYears, TimeZone: p.TimeZone, SealDelayMS: p.SealDelay.Milliseconds(),
		From: res.From}
	c := &copier{ctx: ctx, p: p, dst: dst, counts: &m.Copied, done: map[archive.BlobID]bool{}}
	onlyOwn := true
	var segRetain time.Time
	for _, s := range segs {
		if s.First != m.TreeSizeOr(res.From) {
			return nil, fmt.Errorf("primary segments: gap before leaf %d", s.First)
		}
		b, err := p.Blobs.Get(ctx, s.Blob)
		if err != nil {
			return nil, fmt.Errorf("read segment %d..%d: %w", s.First, s.End, err)
		}
		seg, err := journal.ParseSegment(b)
		if err != nil || seg.First != s.First || seg.End() != s.End {
			return nil, fmt.Errorf("segment %s (%d..%d) does not parse as its row says: %v", s.Blob.Short(), s.First, s.End, err)
		}
		for i, leaf := range seg.Leaves {
			// Most leaves reference no blob (a text message, an access
			// event): their type is read off the canonical encoding and
			// only those that may reference one are decoded.
			if typ, ok := journal.PeekType(leaf); ok && !mayReference(typ, leaf) {
				if typ != EventReplicaSynced {
					onlyOwn = false
				}
				continue
			}
			ev, err := journal.DecodeLeaf(seg.First+uint64(i), leaf)
			if err != nil {
				return nil, fmt.Errorf("segment %s: %w", s.Blob.Short(), err)
			}
			if ev.Type != EventReplicaSynced {
				onlyOwn = false
			}
			if err := c.event(ev); err != nil {
				return nil, err
			}
		}
		if err := c.flush(); err != nil {
			return nil, err
		}
		// The segment last: its events' blobs are in the replica first.
		info, err := c.copyBlob(ctx, s.Blob, b, &m.Copied.Segments)
		if err != nil {
			return nil, err
		}
		if info.RetainUntil.After(segRetain) {
			segRetain = info.RetainUntil
		}
		m.Segments = append(m.Segments, SegmentRef{First: s.First, End: s.End, Blob: s.Blob})
		m.TreeSize = s.End
		if len(seg.Checkpoints) > 0 {
			m.Checkpoint = string(seg.Checkpoints[len(seg.Checkpoints)-1])
		}
	}
	// Packs sealed after the replica's tree size that hold records of its
	// events: the replica holds every record its journal needs.
	head, err := snap.Head(ctx)
	if err != nil {
		return nil, err
	}
	if err := snap.Leaves(ctx, m.TreeSize, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		if typ, ok := journal.PeekType(leaf); ok && typ != archive.EventRecordsSealed {
			return nil
		}
		ev, err := journal.DecodeLeaf(idx, leaf)
		if err != nil || ev.Type != archive.EventRecordsSealed {
			return err
		}
		var sp archive.SealEvent
		if err := ev.DecodePayload(&sp); err != nil {
			return err
		}
		if sp.First >= m.TreeSize {
			return nil
		}
		c.queue(sp.Pack, &m.Copied.Packs)
		m.Ahead = append(m.Ahead, PackRef{Pack: sp.Pack, First: sp.First, Last: sp.Last, Count: sp.Count, Bytes: sp.Bytes, RetainUntil: sp.RetainUntil, Sealed: idx})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	m.WrittenAt = archive.At(opts.Now())
	mb, err := m.Encode()
	if err != nil {
		return nil, err
	}
	// The manifest is kept as long as the newest segment it lists.
	mid, err := dst.Put(ctx, mb, blob.PutOptions{RetainUntil: segRetain})
	if err != nil {
		return nil, fmt.Errorf("write the replica manifest: %w", err)
	}
	res.TreeSize, res.Manifest, res.Copied = m.TreeSize, mid, m.Copied
	writeHint(p.HintDir, opts.Location, mid)
	if p.Writer != nil && !onlyOwn {
		payload := SyncedEvent{ReplicaID: res.ReplicaID, Location: opts.Location, From: res.From, TreeSize: res.TreeSize, Manifest: mid, Copied: m.Copied}
		ev, err := journal.NewEvent(EventReplicaSynced, p.Actor, archive.Time{}, []string{"replica:" + res.ReplicaID}, &payload)
		if err != nil {
			return nil, err
		}
		if _, err := p.Writer.Append(ctx, ev); err != nil {
			return res, fmt.Errorf("journal replica.synced: %w", err)
		}
		res.Journaled = true
	}
	return res, nil
}

// TreeSizeOr is the manifest's tree size so far, or from before any
// segment was added.
func (m *Manifest) TreeSizeOr(from uint64) uint64 {
	if len(m.Segments) == 0 {
		return from
	}
	return m.TreeSize
}

type copier struct {
	ctx    context.Context
	p      Primary
	dst    blob.Store
	counts *Counts
	// queued are the blobs the current segment's events reference, in
	// order, copied together by flush; extends are its retention
	// changes, applied after them.
	queued  []queuedBlob
	extends []*archive.RetentionExtendedEvent

	mu   sync.Mutex // guards counts and done while flush's workers copy
	done map[archive.BlobID]bool
}

type queuedBlob struct {
	id    archive.BlobID
	count *int
}

// copyWorkers is how many blobs flush copies at once: each copy waits on
// the replica's fsyncs (or an S3 round trip), which overlap.
const copyWorkers = 8

// mayReference says whether a leaf of type typ can reference a blob or
// change a blob's retention (what the copier must decode).
func mayReference(typ string, leaf []byte) bool {
	switch typ {
	case archive.EventRecordsSealed, archive.EventAttachmentFetched, archive.EventRetentionExtended:
		return true
	case archive.EventMessageArchived, archive.EventMessageConflict:
		return bytes.Contains(leaf, []byte(`"blob":"`))
	}
	return false
}

// event copies the blobs one event references and brings the replica's
// retention up to the primary's for the messages a retention change names.
func (c *copier) event(ev *journal.Event) error {
	switch ev.Type {
	case archive.EventMessageArchived, archive.EventMessageConflict:
		var pl archive.MessageEvent
		if err := ev.DecodePayload(&pl); err != nil {
			return err
		}
		for _, a := range pl.Attachments {
			if !a.Blob.IsZero() {
				c.queue(a.Blob, &c.counts.Attachments)
			}
		}
	case archive.EventAttachmentFetched:
		var pl archive.AttachmentFetchedEvent
		if err := ev.DecodePayload(&pl); err != nil {
			return err
		}
		c.queue(pl.Blob, &c.counts.Attachments)
	case archive.EventRecordsSealed:
		var pl archive.SealEvent
		if err := ev.DecodePayload(&pl); err != nil {
			return err
		}
		c.queue(pl.Pack, &c.counts.Packs)
	case archive.EventRetentionExtended:
		var pl archive.RetentionExtendedEvent
		if err := ev.DecodePayload(&pl); err != nil {
			return err
		}
		c.extends = append(c.extends, &pl)
	}
	return nil
}

func (c *copier) queue(id archive.BlobID, count *int) {
	c.queued = append(c.queued, queuedBlob{id, count})
}

// flush copies the queued blobs, then applies the queued retention
// changes. copyWorkers read from the primary at once (each Get re-hashes);
// a replica that can store a batch (blob.BatchPutter: one durability
// barrier for many blobs) gets them in batches of up to batchBytes, any
// other each by its own Put in the workers. The first error stops it (the
// blobs already copied stay: a later run finds and verifies them).
func (c *copier) flush() error {
	work := make(chan queuedBlob)
	read := make(chan readBlob, copyWorkers)
	errs := make(chan error, copyWorkers+1)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	bp, batched := c.dst.(blob.BatchPutter)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		cancel()
	}
	var wg sync.WaitGroup
	for range min(copyWorkers, len(c.queued)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range work {
				rb, ok, err := c.read(ctx, q)
				if err != nil {
					fail(err)
					return
				}
				if !ok {
					continue // copied already
				}
				if !batched {
					if err := c.store(ctx, []readBlob{rb}, nil); err != nil {
						fail(err)
						return
					}
					continue
				}
				select {
				case read <- rb:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		var batch []readBlob
		var size int
		for rb := range read {
			batch = append(batch, rb)
			size += len(rb.data)
			if size >= batchBytes || len(batch) >= batchBlobs {
				if err := c.store(ctx, batch, bp); err != nil {
					fail(err)
					for range read {
					}
					return
				}
				batch, size = batch[:0], 0
			}
		}
		if len(batch) > 0 && ctx.Err() == nil {
			if err := c.store(ctx, batch, bp); err != nil {
				fail(err)
			}
		}
	}()
	seen := map[archive.BlobID]bool{}
feed:
	for _, q := range c.queued {
		if seen[q.id] {
			continue
		}
		seen[q.id] = true
		select {
		case work <- q:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(read)
	<-collected
	c.queued = c.queued[:0]
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	for _, e := range c.extends {
		if err := c.extend(e); err != nil {
			return err
		}
	}
	c.extends = c.extends[:0]
	return nil
}

// A batch to a BatchPutter replica holds up to batchBytes or batchBlobs.
const (
	batchBytes = 32 << 20
	batchBlobs = 512
)

// readBlob is a blob read (and re-hashed) from the primary, with the
// retention and hold it is to be copied with.
type readBlob struct {
	id    archive.BlobID
	data  []byte
	opts  blob.PutOptions
	isNew bool // not in the replica before this run
	count *int
}

// read fetches a queued blob from the primary; ok is false when this run
// copied it already.
func (c *copier) read(ctx context.Context, q queuedBlob) (readBlob, bool, error) {
	c.mu.Lock()
	done := c.done[q.id]
	c.mu.Unlock()
	if done {
		return readBlob{}, false, nil
	}
	b, err := c.p.Blobs.Get(ctx, q.id)
	if err != nil {
		// Get re-hashes: damaged evidence is never copied as if intact.
		return readBlob{}, false, fmt.Errorf("read %s from the primary: %w", q.id, err)
	}
	info, err := c.p.Blobs.Stat(ctx, q.id)
	if err != nil {
		return readBlob{}, false, fmt.Errorf("stat %s on the primary: %w", q.id, err)
	}
	_, statErr := c.dst.Stat(ctx, q.id)
	return readBlob{id: q.id, data: b, opts: blob.PutOptions{RetainUntil: info.RetainUntil, LegalHold: info.LegalHold},
		isNew: errors.Is(statErr, blob.ErrNotFound), count: q.count}, true, nil
}

// store writes blobs to the replica (in one batch when bp is set) and
// checks it stored each under the id copied.
func (c *copier) store(ctx context.Context, rbs []readBlob, bp blob.BatchPutter) error {
	var got []archive.BlobID
	if bp != nil {
		items := make([]blob.BatchItem, len(rbs))
		for i, rb := range rbs {
			items[i] = blob.BatchItem{Data: rb.data, Opts: rb.opts}
		}
		ids, err := bp.PutBatch(ctx, items)
		if err != nil {
			return fmt.Errorf("copy %d blobs to the replica: %w", len(rbs), err)
		}
		got = ids
	} else {
		for _, rb := range rbs {
			id, err := c.dst.Put(ctx, rb.data, rb.opts)
			if err != nil {
				return fmt.Errorf("copy %s to the replica: %w", rb.id, err)
			}
			got = append(got, id)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, rb := range rbs {
		if got[i] != rb.id {
			return fmt.Errorf("copy %s to the replica: stored as %s", rb.id, got[i])
		}
		c.done[rb.id] = true
		if rb.isNew {
			*rb.count++
			c.counts.Bytes += int64(len(rb.data))
		}
	}
	return nil
}

// extend gives the replica's copies of the packs and attachments of the
// messages a retention.extended event names the primary's (later)
// retain-until. Retention only grows: a replica copy already kept longer
// is left as it is.
func (c *copier) extend(e *archive.RetentionExtendedEvent) error {
	for _, g := range e.Groups {
		for _, serial := range g.Serials {
			m, err := c.p.Store.Message(c.ctx, serial)
			if err != nil {
				return fmt.Errorf("retention.extended: serial %d: %w", serial, err)
			}
			ids := []archive.BlobID{}
			packs, err := c.p.Store.PacksCovering(c.ctx, m.JournalIndex)
			if err != nil {
				return err
			}
			for _, pr := range packs {
				ids = append(ids, pr.Blob)
			}
			atts, err := c.p.Store.Attachments(c.ctx, serial)
			if err != nil {
				return err
			}
			for _, a := range atts {
				if !a.Blob.IsZero() {
					ids = append(ids, a.Blob)
				}
			}
			for _, id := range ids {
				src, err := c.p.Blobs.Stat(c.ctx, id)
				if err != nil {
					return fmt.Errorf("retention.extended: %w", err)
				}
				got, err := c.dst.Stat(c.ctx, id)
				if errors.Is(err, blob.ErrNotFound) {
					continue // copied later with the primary's retention
				}
				if err != nil {
					return err
				}
				if src.RetainUntil.After(got.RetainUntil) {
					if err := c.dst.SetRetention(c.ctx, id, src.RetainUntil); err != nil && !errors.Is(err, blob.ErrRetentionShortened) {
						return err
					}
				}
			}
		}
	}
	return nil
}

// copyBlob writes b (already re-hashed by the primary's Get) to the
// replica with the primary's retention and legal hold, and checks the
// replica stored it under the same id.
func (c *copier) copyBlob(ctx context.Context, id archive.BlobID, b []byte, count *int) (blob.Info, error) {
	info, err := c.p.Blobs.Stat(ctx, id)
	if err != nil {
		return info, fmt.Errorf("stat %s on the primary: %w", id, err)
	}
	c.mu.Lock()
	done := c.done[id]
	c.mu.Unlock()
	if done {
		return info, nil
	}
	_, statErr := c.dst.Stat(ctx, id)
	got, err := c.dst.Put(ctx, b, blob.PutOptions{RetainUntil: info.RetainUntil, LegalHold: info.LegalHold})
	if err != nil {
		return info, fmt.Errorf("copy %s to the replica: %w", id, err)
	}
	if got != id {
		return info, fmt.Errorf("copy %s to the replica: stored as %s", id, got)
	}
	c.mu.Lock()
	c.done[id] = true
	if errors.Is(statErr, blob.ErrNotFound) {
		*count++
		c.counts.Bytes += int64(len(b))
	}
	c.mu.Unlock()
	return info, nil
}

type hint struct {
	Location string         `json:"location"`
	Manifest archive.BlobID `json:"manifest"`
}

func hintPath(dir, location string) string {
	h := archive.Hash([]byte(location))
	return filepath.Join(dir, "replica-"+h.String()[:16]+".json")
}

// writeHint records the latest manifest; failing to is harmless (the next
// run lists the replica instead), so errors are dropped.
func writeHint(dir, location string, id archive.BlobID) {
	if dir == "" {
		return
	}
	b, _ := json.Marshal(hint{Location: location, Manifest: id})
	p := hintPath(dir, location)
	tmp := p + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, p)
	}
}

// latestManifest returns the replica's manifest with the largest tree
// size (nil for an empty replica): the hint's if it is in the replica and
// is the newest the hint knows, else found by listing the replica.
func latestManifest(ctx context.Context, p Primary, dst blob.Store, location string) (*Manifest, error) {
	if p.HintDir != "" {
		if b, err := os.ReadFile(hintPath(p.HintDir, location)); err == nil {
			var h hint
			if json.Unmarshal(b, &h) == nil && h.Location == location {
				if mb, err := dst.Get(ctx, h.Manifest); err == nil {
					if m, err := ParseManifest(mb); err == nil {
						return m, nil
					}
				}
			}
		}
	}
	all, err := Manifests(ctx, dst)
	if err != nil {
		return nil, err
	}
	var best *Manifest
	for _, m := range all {
		if best == nil || m.Manifest.TreeSize > best.TreeSize {
			best = m.Manifest
		}
	}
	return best, nil
}

// Found is a manifest found in a replica, or a blob that starts like one
// and does not parse (Err).
type Found struct {
	ID       archive.BlobID
	Manifest *Manifest
	Err      error
}

// Manifests lists the replica and reads every manifest in it. Blobs that
// cannot be read are skipped here (the checker reports them).
func Manifests(ctx context.Context, dst blob.Store) ([]Found, error) {
	var ids []archive.BlobID
	if err := dst.List(ctx, func(i blob.Info) error {
		// Manifests are small; attachments and packs are not read here.
		if i.Size <= MaxManifestBytes && i.Size > int64(len(ManifestMagic)) {
			ids = append(ids, i.ID)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list the replica: %w", err)
	}
	var out []Found
	for _, id := range ids {
		b, err := dst.Get(ctx, id)
		if err != nil || !isManifest(b) {
			continue
		}
		m, err := ParseManifest(b)
		if err != nil {
			out = append(out, Found{ID: id, Err: err})
			continue
		}
		out = append(out, Found{ID: id, Manifest: m})
	}
	return out, nil
}
