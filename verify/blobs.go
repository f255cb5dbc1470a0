package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// What refers to a blob. Attachments, media fetched later and packs are
// referenced by journal events; segments by the segment table (they are
// the journal's own copy).
type refKind uint8

const (
	refAttachment refKind = iota + 1
	refFetched
	refPack
	refSegment
)

type blobRef struct {
	kind   refKind
	serial uint64
	ord    int
	jidx   uint64 // the referring event; a segment's first leaf
	end    uint64 // a segment's end
}

func (r blobRef) String() string {
	switch r.kind {
	case refAttachment:
		return fmt.Sprintf("attachment %d of serial %d", r.ord, r.serial)
	case refFetched:
		return fmt.Sprintf("attachment %d of serial %d, fetched by journal event %d", r.ord, r.serial, r.jidx)
	case refPack:
		return fmt.Sprintf("pack sealed by journal event %d", r.jidx)
	case refSegment:
		return fmt.Sprintf("journal segment of leaves %d..%d", r.jidx, r.end-1)
	}
	return "blob"
}

// blobUse is everything that refers to one blob, and the latest
// retain-until those references require of it.
type blobUse struct {
	refs   []blobRef
	retain time.Time
}

func (u *blobUse) has(k refKind) bool {
	for _, r := range u.refs {
		if r.kind == k {
			return true
		}
	}
	return false
}

func (c *checker) use(id archive.BlobID, ref blobRef, retain time.Time) {
	u := c.uses[id]
	if u == nil {
		u = &blobUse{}
		c.uses[id] = u
	}
	u.refs = append(u.refs, ref)
	if retain.After(u.retain) {
		u.retain = retain
	}
}

// attachmentRetention is the retention an attachment referenced by the
// leaf at idx must have by now: the message's, once the leaf is sealed in
// a segment. Attachments are stored staged (no retention) and locked
// when their request is answered, and at the latest by the sealer before
// it seals the leaf (docs/FORMAT.md §2): before that, a writer's
// attachment without retention is expected, not a fault.
func (c *checker) attachmentRetention(idx uint64, retain time.Time) time.Time {
	if idx >= c.sealedEnd {
		return time.Time{}
	}
	return retain
}

// require raises the retention a referenced blob must have.
func (c *checker) require(id archive.BlobID, retain time.Time) {
	if u := c.uses[id]; u != nil && retain.After(u.retain) {
		u.retain = retain
	}
}

func (c *checker) notice(kind, object, format string, a ...any) {
	if len(c.rep.Notices) < c.opts.MaxFaultsPerKind {
		c.rep.Notices = append(c.rep.Notices, Fault{Kind: kind, Object: object, Detail: fmt.Sprintf(format, a...)})
	}
}

// Notice kinds.
const (
	NoticeOrphan   = "blob.orphan"    // a copy of evidence the journal holds, left by an interrupted seal
	NoticeInFlight = "blob.in_flight" // stored by a running writer, not referenced yet
	NoticeStaged   = "blob.staged"    // stored without retention and referenced by nothing: a failed ingest's attachment, deletable
)

// checkBlobs lists the blob store: every blob is re-hashed (those not
// read already), its retention compared with what the journal requires,
// and one nothing references is reported — unless it is a copy of
// evidence the journal already holds (a crash between a seal's write and
// its commit leaves one), or a running writer's that it has not
// referenced yet. A segment or pack of leaves the database's journal
// does not have is the disk revealing a rolled-back database.
func (c *checker) checkBlobs() error {
	var infos []blob.Info
	listed := map[archive.BlobID]bool{}
	var total int64
	err := c.r.Blobs.List(c.ctx, func(i blob.Info) error {
		listed[i.ID] = true
		infos = append(infos, i)
		total += i.Size
		return nil
	})
	if err != nil {
		// A store that cannot list itself (e.g. a damaged retention file)
		// is a finding, not a reason to stop: the blobs listed so far and
		// every referenced blob are still checked.
		c.fault(BlobUnreadable, "blob store", "listing the blob store failed: %v", err)
	}
	// The writer may go on while verify runs: whatever the journal and
	// the segment table say from the snapshot on is read from the live
	// store, after the listing, so a blob listed is either referenced by
	// then or still in flight.
	lv := &liveView{c: c}
	sort.Slice(infos, func(a, b int) bool { return bytes.Compare(infos[a].ID[:], infos[b].ID[:]) < 0 })
	var done int64
	for _, i := range infos {
		c.progress("blobs", done, total)
		done += i.Size
		u := c.uses[i.ID]
		if u != nil {
			if !c.verified[i.ID] {
				c.getBlob(i.ID, "blob")
			}
			c.checkRetention(i, u)
			continue
		}
		if what, ok := c.opts.External[i.ID]; ok {
			c.getBlob(i.ID, what)
			continue
		}
		b, ok := c.getBlob(i.ID, "blob")
		if !ok {
			continue // damaged: reported
		}
		if err := c.unreferenced(i, b, lv); err != nil {
			return err
		}
	}
	c.progress("blobs", total, total)
	ids := make([]archive.BlobID, 0, len(c.uses))
	for id := range c.uses {
		if !listed[id] {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return bytes.Compare(ids[a][:], ids[b][:]) < 0 })
	for _, id := range ids {
		u := c.uses[id]
		if !c.verified[id] {
			if _, ok := c.getBlob(id, u.refs[0].String()); !ok {
				continue
			}
		}
		// Present but not listed (the listing failed part way): its
		// retention is read on its own.
		info, err := c.r.Blobs.Stat(c.ctx, id)
		if err != nil {
			if !errors.Is(err, blob.ErrNotFound) {
				c.fault(BlobRetention, blobObj(id), "%s: its retention cannot be read: %v", u.refs[0], err)
			}
			continue
		}
		c.checkRetention(info, u)
	}
	return nil
}

// checkRetention compares the store's retention of a blob with what the
// journal says it must be: the latest retain-until of what it holds
// (message events for attachments, the seal event for a pack, the
// archive's retention from its last leaf for a segment). A store's record
// can be edited by anyone with file access; the journal cannot without
// breaking the tree, so the journal wins.
func (c *checker) checkRetention(i blob.Info, u *blobUse) {
	if u.retain.IsZero() || !i.RetainUntil.Before(u.retain.Truncate(time.Millisecond)) {
		return
	}
	have := "none"
	if !i.RetainUntil.IsZero() {
		have = archive.At(i.RetainUntil).String()
	}
	c.fault(BlobRetention, blobObj(i.ID), "%s: retained until %s in the blob store; the journal requires %s", u.refs[0], have, archive.At(u.retain))
}

// liveView is what the writer committed after the snapshot, read once and
// only if a blob nothing in the snapshot references is found.
type liveView struct {
	c        *checker
	loaded   bool
	size     uint64                  // the live journal's size, read after the listing
	refs     map[archive.BlobID]bool // blobs referenced by leaves after the snapshot or by the live segment table
	segments map[archive.BlobID]bool
}

func (lv *liveView) load() error {
	if lv.loaded {
		return nil
	}
	lv.loaded = true
	c := lv.c
	ctx := c.ctx
	head, err := c.r.Store.Head(ctx)
	if err != nil {
		return err
	}
	lv.size = head.JournalSize
	lv.refs = map[archive.BlobID]bool{}
	lv.segments = map[archive.BlobID]bool{}
	if err := c.r.Store.Segments(ctx, func(s store.SegmentRow) error { lv.segments[s.Blob] = true; return nil }); err != nil {
		return err
	}
	if lv.size <= c.journalSize {
		return nil
	}
	return c.r.Store.Leaves(ctx, c.journalSize, lv.size, func(idx uint64, _, leaf []byte) error {
		if p, ok := repo.SealedPack(idx, leaf); ok {
			lv.refs[p.Blob] = true
			return nil
		}
		if !bytes.Contains(leaf, []byte(`"blob":"`)) {
			return nil
		}
		ev, err := journal.DecodeLeaf(idx, leaf)
		if err != nil {
			return nil
		}
		switch ev.Type {
		case archive.EventMessageArchived, archive.EventMessageConflict:
			var p archive.MessageEvent
			if ev.DecodePayload(&p) == nil {
				for _, a := range p.Attachments {
					lv.refs[a.Blob] = true
				}
			}
		case archive.EventAttachmentFetched:
			var p archive.AttachmentFetchedEvent
			if ev.DecodePayload(&p) == nil {
				lv.refs[p.Blob] = true
			}
		}
		return nil
	})
}

// unreferenced decides what a blob nothing in the snapshot references is.
func (c *checker) unreferenced(i blob.Info, b []byte, lv *liveView) error {
	if err := lv.load(); err != nil {
		return err
	}
	obj := blobObj(i.ID)
	if lv.refs[i.ID] || lv.segments[i.ID] {
		return nil // referenced by what the writer committed after the snapshot
	}
	if seg, err := journal.ParseSegment(b); err == nil {
		switch {
		case seg.End() > lv.size:
			c.fault(BlobNewerThanJournal, obj, "a journal segment of leaves %d..%d; the journal has %d leaves: the database is older than its blob store (restored or rolled back)", seg.First, seg.End()-1, lv.size)
		case seg.End() > c.journalSize:
			c.notice(NoticeInFlight, obj, "a journal segment of leaves %d..%d, sealed after verify started", seg.First, seg.End()-1)
		case c.segmentMatches(seg):
			c.notice(NoticeOrphan, obj, "a copy of journal leaves %d..%d not in the segment table (a seal interrupted before its commit leaves one)", seg.First, seg.End()-1)
		default:
			c.fault(BlobUnreferenced, obj, "a journal segment of leaves %d..%d that differs from the journal, referenced by nothing", seg.First, seg.End()-1)
		}
		return nil
	}
	if p, err := pack.Parse(b); err == nil {
		var last uint64
		for _, e := range p.Entries() {
			last = max(last, e.JournalIndex)
		}
		switch {
		case last >= lv.size:
			c.fault(BlobNewerThanJournal, obj, "a pack of records of journal events up to %d; the journal has %d leaves: the database is older than its blob store (restored or rolled back)", last, lv.size)
		case last >= c.journalSize:
			c.notice(NoticeInFlight, obj, "a pack of records of events committed after verify started")
		default:
			if k, ok := c.knownRecords(p); !ok {
				c.fault(BlobUnreferenced, obj, "a pack no records.sealed event seals, holding record %d/%d that the journal does not reference", k.JournalIndex, k.Ordinal)
			} else {
				c.notice(NoticeOrphan, obj, "a copy of %d records the journal holds, sealed by no event (a seal interrupted before its commit leaves one)", p.Len())
			}
		}
		return nil
	}
	if c.r.WriterActive() && !i.StoredAt.IsZero() && i.StoredAt.After(c.opts.Now().Add(-c.opts.InFlight)) {
		c.notice(NoticeInFlight, obj, "stored at %s while a writer holds the archive; not referenced yet", archive.At(i.StoredAt))
		return nil
	}
	if i.RetainUntil.IsZero() && !i.LegalHold {
		// Staged and never locked: the attachment of an ingest that
		// failed before its message committed. Nothing protects or needs
		// it; it may be deleted.
		c.notice(NoticeStaged, obj, "%d bytes stored at %s without retention and referenced by no journal event (an attachment of a failed ingest): may be deleted", i.Size, archive.At(i.StoredAt))
		return nil
	}
	// Retained, or held, yet referenced by nothing: kept undeletable off
	// the record.
	c.fault(BlobUnreferenced, obj, "%d bytes stored at %s, %s, that no journal event references", i.Size, archive.At(i.StoredAt), protection(i))
	return nil
}

// segmentMatches reports whether a segment's leaves are the journal's.
func (c *checker) segmentMatches(seg *journal.Segment) bool {
	same := true
	err := c.st.Leaves(c.ctx, seg.First, seg.End(), func(idx uint64, _, leaf []byte) error {
		if !bytes.Equal(seg.Leaves[idx-seg.First], leaf) {
			same = false
			return errStop
		}
		return nil
	})
	return same && err == nil
}

// knownRecords reports whether every record of a pack is a record the
// journal references, with the same hash (read, like any record, pending
// or from its own pack); the first that is not, if any.
func (c *checker) knownRecords(p *pack.Pack) (store.RecordKey, bool) {
	for _, e := range p.Entries() {
		k := store.RecordKey{JournalIndex: e.JournalIndex, Ordinal: e.Ordinal}
		if _, err := c.records.Get(c.ctx, k, e.SHA256); err != nil {
			return k, false
		}
	}
	return store.RecordKey{}, true
}

// fileWalker is implemented by blob stores kept as local files (fsblob).
type fileWalker interface {
	WalkFiles(ctx context.Context, fn func(path string, mode fs.FileMode) error) error
}

// checkFileModes checks the modes that protect evidence from accidents
// and the key from other users: the signing key readable by its owner
// only, records and blobs (and their retention files) read-only.
func (c *checker) checkFileModes() error {
	rel := func(p string) string {
		if r, err := filepath.Rel(c.r.Dir, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	for _, name := range []string{repo.KeyFile, repo.KeyFileNext} {
		fi, err := os.Stat(filepath.Join(c.r.Dir, name))
		if err != nil {
			continue // no key here (a copy without it)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			c.fault(FileMode, "file:"+name, "mode %04o: the signing key must be readable by its owner only (0600)", m)
		}
	}
	w, ok := c.r.Blobs.(fileWalker)
	if !ok {
		return nil
	}
	err := w.WalkFiles(c.ctx, func(p string, mode fs.FileMode) error {
		if m := mode.Perm(); m&0o222 != 0 {
			c.fault(FileMode, "file:"+rel(p), "mode %04o: blob files are read-only (0444)", m)
		}
		return nil
	})
	if err != nil {
		c.fault(BlobUnreadable, "blob store", "walking the blob store's files failed: %v", err)
	}
	return nil
}

// protection says what keeps a blob from deletion.
func protection(i blob.Info) string {
	var p string
	if !i.RetainUntil.IsZero() {
		p = "retained until " + archive.At(i.RetainUntil).String()
	}
	if i.LegalHold {
		if p != "" {
			p += " and "
		}
		p += "under legal hold"
	}
	return p
}
