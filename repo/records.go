package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Records reads records wherever they are: still pending in the database or
// sealed in a pack. Every read is checked against the hash the journal
// recorded.
type Records struct {
	st    store.Reader
	blobs blob.Store
	packs []store.PackRow // when set: pack locations from the journal, not the index
	// reach[i] is the largest Last of packs[0..i]: how far back a pack
	// covering an index can start.
	reach []uint64

	mu    sync.Mutex
	cache map[archive.BlobID]*pack.Pack
	order []archive.BlobID
}

const packCacheSize = 8

// NewRecords returns a record reader.
func NewRecords(st store.Reader, blobs blob.Store) *Records {
	return &Records{st: st, blobs: blobs, cache: map[archive.BlobID]*pack.Pack{}}
}

// ErrRecordMissing is returned when a record is neither pending nor in any pack.
var ErrRecordMissing = errors.New("record missing")

// Get returns the record's bytes, verified against want.
func (r *Records) Get(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error) {
	if r.packs != nil {
		// Reading through the journal (verify, reindex) is a scan: most
		// records are sealed, so look in the pack first.
		if b, err := r.fromPacks(ctx, key, want); !errors.Is(err, ErrRecordMissing) {
			return b, err
		}
	}
	pr, err := r.st.PendingRecord(ctx, key)
	if err == nil {
		if got := archive.Hash(pr.Data); got != want {
			return nil, fmt.Errorf("record %d/%d (pending): content hashes to %s, journal says %s", key.JournalIndex, key.Ordinal, got, want)
		}
		return pr.Data, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return r.fromPacks(ctx, key, want)
}

// PackOf returns the pack that holds a sealed record (ok false when no
// pack covering its journal index holds it).
func (r *Records) PackOf(ctx context.Context, key store.RecordKey) (id archive.BlobID, ok bool, err error) {
	packs, err := r.covering(ctx, key.JournalIndex)
	if err != nil {
		return id, false, err
	}
	for _, pr := range packs {
		p, err := r.pack(ctx, pr.Blob)
		if err != nil {
			continue // a damaged pack is the checker's to report
		}
		if _, err := p.Record(key.JournalIndex, key.Ordinal); err == nil {
			return pr.Blob, true, nil
		}
	}
	return id, false, nil
}

func (r *Records) fromPacks(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error) {
	packs, err := r.covering(ctx, key.JournalIndex)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, pr := range packs {
		p, err := r.pack(ctx, pr.Blob)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b, err := p.Record(key.JournalIndex, key.Ordinal)
		if errors.Is(err, pack.ErrRecordNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", pr.Blob, err)
		}
		if got := archive.Hash(b); got != want {
			return nil, fmt.Errorf("record %d/%d in pack %s hashes to %s, journal says %s", key.JournalIndex, key.Ordinal, pr.Blob, got, want)
		}
		return b, nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nil, fmt.Errorf("record %d/%d (%s): %w", key.JournalIndex, key.Ordinal, want.Short(), ErrRecordMissing)
}

func (r *Records) covering(ctx context.Context, jidx uint64) ([]store.PackRow, error) {
	if r.packs == nil {
		return r.st.PacksCovering(ctx, jidx)
	}
	var out []store.PackRow
	// Scan back from the last pack starting at or before jidx while a
	// pack so far back can still reach it. Packs of one seal run overlap
	// (one per retain-until day: many when the rules date records by
	// their send time and a run interleaves send days).
	i := sort.Search(len(r.packs), func(i int) bool { return r.packs[i].First > jidx })
	for j := i - 1; j >= 0 && r.reach[j] >= jidx; j-- {
		if p := r.packs[j]; p.First <= jidx && p.Last >= jidx {
			out = append(out, p)
		}
	}
	return out, nil
}

// With returns a record reader that reads the index through st (a
// snapshot) and the same blob store.
func (r *Records) With(st store.Reader) *Records {
	return &Records{st: st, blobs: r.blobs, packs: r.packs, reach: r.reach, cache: map[archive.BlobID]*pack.Pack{}}
}

// FromJournal returns a reader that locates sealed records through the
// records.sealed events of the journal instead of the index, for readers
// that must not trust the index (verify) or are rebuilding it (reindex).
func (r *Records) FromJournal(ctx context.Context) (*Records, error) {
	head, err := r.st.Head(ctx)
	if err != nil {
		return nil, err
	}
	var packs []store.PackRow
	err = r.st.Leaves(ctx, 0, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		if p, ok := SealedPack(idx, leaf); ok {
			packs = append(packs, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.WithPacks(packs), nil
}

var sealMarker = []byte(`"type":"` + archive.EventRecordsSealed + `"`)

// SealedPack returns the pack a records.sealed leaf seals (ok false for
// any other leaf), for a reader that scans the journal once for several
// purposes (verify) and hands the packs to WithPacks.
func SealedPack(idx uint64, leaf []byte) (store.PackRow, bool) {
	if !bytes.Contains(leaf, sealMarker) {
		return store.PackRow{}, false
	}
	// A seal event that is not in the documented form still says where
	// its records are (verify reports the leaf itself).
	ev, err := journal.DecodeLeaf(idx, leaf)
	if err != nil || ev.Type != archive.EventRecordsSealed {
		return store.PackRow{}, false // reported by verify; a reader skips it
	}
	var p archive.SealEvent
	if ev.DecodePayload(&p) != nil {
		return store.PackRow{}, false
	}
	return store.PackRow{Blob: p.Pack, First: p.First, Last: p.Last, Count: p.Count, Bytes: p.Bytes, RetainUntil: p.RetainUntil, JournalIndex: idx}, true
}

// WithPacks returns a reader that locates sealed records through packs
// (the records.sealed events of the journal, as SealedPack reads them)
// instead of the index.
func (r *Records) WithPacks(packs []store.PackRow) *Records {
	packs = append([]store.PackRow{}, packs...)
	sort.SliceStable(packs, func(i, j int) bool { return packs[i].First < packs[j].First })
	reach := make([]uint64, len(packs))
	for i, p := range packs {
		reach[i] = p.Last
		if i > 0 {
			reach[i] = max(reach[i-1], p.Last)
		}
	}
	return &Records{st: r.st, blobs: r.blobs, packs: packs, reach: reach, cache: map[archive.BlobID]*pack.Pack{}}
}

func (r *Records) pack(ctx context.Context, id archive.BlobID) (*pack.Pack, error) {
	r.mu.Lock()
	p, ok := r.cache[id]
	r.mu.Unlock()
	if ok {
		return p, nil
	}
	b, err := r.blobs.Get(ctx, id)
	var ie *blob.IntegrityError
	if errors.As(err, &ie) && ie.Data != nil {
		// A damaged pack fails small: every record in it carries its own
		// SHA-256 (and Get checks it against the journal's), so the
		// records the damage did not touch stay readable, and the one it
		// did is refused on its own. The parsed pack is cached like an
		// intact one, so reading a damaged pack record by record costs
		// one read, not one per record.
		b, err = ie.Data, nil
	}
	if err != nil {
		return nil, err
	}
	p, err = pack.Parse(b)
	if err != nil {
		if ie != nil {
			return nil, fmt.Errorf("pack %s: %w (its bytes were altered: %v)", id, err, ie)
		}
		return nil, fmt.Errorf("pack %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cache[id]; !ok {
		r.cache[id] = p
		r.order = append(r.order, id)
		if len(r.order) > packCacheSize {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
	}
	return p, nil
}
