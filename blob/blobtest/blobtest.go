// Package blobtest is the conformance suite every blob.Store implementation
// runs: each clause of the contract in package blob is a subtest here, so a
// new implementation (fsblob, s3blob, a decorator) proves itself by calling
// Run from its own tests.
//
// Glossary:
//   - open: the implementation's constructor for the suite; it is called
//     once per subtest and must return a new, empty store.
//   - Tamperer: the implementation's back door for damaging stored bytes,
//     which is necessarily specific to how it stores them. With one, the
//     suite also checks that damage is detected and never papered over.
//
// Retention times are whole seconds relative to time.Now(), so a store that
// keeps retain-until with second precision passes, and a store must use the
// real clock (or one close to it) for the suite.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// Tamperer damages a stored blob behind the store's back, as a failing disk
// or an intruder would.
type Tamperer interface {
	// FlipByte inverts every bit of the stored byte at offset of blob id
	// (XOR 0xff), so flipping twice restores it.
	FlipByte(id archive.BlobID, offset int64) error
	// Remove deletes the stored blob without any retention check.
	Remove(id archive.BlobID) error
	// Replace overwrites the stored content of id with that of withContentOf.
	Replace(id, withContentOf archive.BlobID) error
}

// Run runs the conformance suite. open is called for each subtest and must
// return a new, empty store and, optionally, a Tamperer for it (nil skips
// the damage tests). Cleanup is open's business (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) (blob.Store, Tamperer)) {
	store := func(t *testing.T) blob.Store {
		t.Helper()
		s, _ := open(t)
		return s
	}
	t.Run("Properties", func(t *testing.T) { testProperties(t, store(t)) })
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, store(t)) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, store(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, store(t)) })
	t.Run("PutIdempotent", func(t *testing.T) { testPutIdempotent(t, store(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, store(t)) })
	t.Run("Stat", func(t *testing.T) { testStat(t, store(t)) })
	t.Run("List", func(t *testing.T) { testList(t, store(t)) })
	t.Run("SetRetention", func(t *testing.T) { testSetRetention(t, store(t)) })
	t.Run("DeleteRetained", func(t *testing.T) { testDeleteRetained(t, store(t)) })
	t.Run("DeleteLegalHold", func(t *testing.T) { testDeleteLegalHold(t, store(t)) })
	t.Run("DeleteExpired", func(t *testing.T) { testDeleteExpired(t, store(t)) })
	t.Run("DeleteJournalRetention", func(t *testing.T) { testDeleteJournalRetention(t, store(t)) })
	t.Run("StoredAt", func(t *testing.T) { testStoredAt(t, store(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, store(t)) })
	t.Run("ConcurrentRetention", func(t *testing.T) { testConcurrentRetention(t, store(t)) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, store(t)) })
	t.Run("PutBatch", func(t *testing.T) {
		s := store(t)
		bp, ok := s.(blob.BatchPutter)
		if !ok {
			t.Skip("the store stores one blob at a time")
		}
		testPutBatch(t, s, bp)
	})
	t.Run("Tamper", func(t *testing.T) {
		s, tam := open(t)
		if tam == nil {
			t.Skip("no Tamperer for this store")
		}
		testTamper(t, s, tam)
	})
}

// now returns the current time in whole seconds, UTC (see the package doc).
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// content returns n deterministic pseudo-random bytes for label, distinct
// for distinct labels.
func content(label string, n int) []byte {
	var seed [32]byte
	copy(seed[:], label)
	r := rand.NewChaCha8(seed)
	b := make([]byte, n)
	r.Read(b)
	return b
}

func put(t *testing.T, s blob.Store, data []byte, opts blob.PutOptions) archive.BlobID {
	t.Helper()
	id, err := s.Put(context.Background(), data, opts)
	if err != nil {
		t.Fatalf("Put(%d bytes, %+v): %v", len(data), opts, err)
	}
	if want := archive.Hash(data); id != want {
		t.Fatalf("Put returned id %s, want archive.Hash(data) = %s", id, want)
	}
	return id
}

func mustGet(t *testing.T, s blob.Store, id archive.BlobID, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id.Short(), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) returned %d bytes that differ from the %d put", id.Short(), len(got), len(want))
	}
}

func stat(t *testing.T, s blob.Store, id archive.BlobID) blob.Info {
	t.Helper()
	info, err := s.Stat(context.Background(), id)
	if err != nil {
		t.Fatalf("Stat(%s): %v", id.Short(), err)
	}
	if info.ID != id {
		t.Fatalf("Stat(%s).ID = %s", id.Short(), info.ID)
	}
	return info
}

func wantRetention(t *testing.T, s blob.Store, id archive.BlobID, until time.Time, hold bool) {
	t.Helper()
	info := stat(t, s, id)
	if !info.RetainUntil.Equal(until) || info.LegalHold != hold {
		t.Fatalf("Stat(%s) = retain-until %v, hold %v; want %v, %v", id.Short(), info.RetainUntil, info.LegalHold, until, hold)
	}
}

// wantErr checks that err matches sentinel and is a *blob.Error naming op
// and id: callers log and map these without parsing messages.
func wantErr(t *testing.T, err error, sentinel error, op string, id archive.BlobID) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s(%s): err = %v, want one matching %q", op, id.Short(), err, sentinel)
	}
	var be *blob.Error
	if !errors.As(err, &be) {
		t.Fatalf("%s(%s): err = %T %v, want a *blob.Error", op, id.Short(), err, err)
	}
	if be.ID != id || be.Op != op {
		t.Fatalf("%s(%s): *blob.Error names op %q id %s", op, id.Short(), be.Op, be.ID.Short())
	}
}

func wantIntegrityError(t *testing.T, err error, id archive.BlobID, what string) *blob.IntegrityError {
	t.Helper()
	var ie *blob.IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: err = %v, want a *blob.IntegrityError", what, err)
	}
	if !errors.Is(err, blob.ErrIntegrity) {
		t.Fatalf("%s: %v does not match blob.ErrIntegrity", what, err)
	}
	if ie.ID != id {
		t.Fatalf("%s: IntegrityError names %s, want %s", what, ie.ID.Short(), id.Short())
	}
	if ie.Actual == id {
		t.Fatalf("%s: IntegrityError.Actual equals the id", what)
	}
	return ie
}

func testProperties(t *testing.T, s blob.Store) {
	if p := s.Properties(); p.Name == "" || p.Location == "" {
		t.Fatalf("Properties() = %+v: Name and Location must be set", p)
	}
}

func testPutGet(t *testing.T, s blob.Store) {
	for _, n := range []int{1, 31, 1024, 64<<10 + 1} {
		data := content(fmt.Sprint("putget", n), n)
		orig := bytes.Clone(data)
		id := put(t, s, data, blob.PutOptions{})
		// The store must not keep the caller's slice...
		data[0] ^= 0xff
		mustGet(t, s, id, orig)
		// ...nor hand out its own.
		got, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		got[0] ^= 0xff
		mustGet(t, s, id, orig)
	}
}

func testEmpty(t *testing.T, s blob.Store) {
	id := put(t, s, nil, blob.PutOptions{})
	if id != archive.Hash([]byte{}) {
		t.Fatalf("empty blob id %s", id)
	}
	mustGet(t, s, id, []byte{})
	if id2 := put(t, s, []byte{}, blob.PutOptions{}); id2 != id {
		t.Fatalf("Put([]byte{}) = %s, Put(nil) = %s", id2, id)
	}
	if info := stat(t, s, id); info.Size != 0 {
		t.Fatalf("empty blob Size = %d", info.Size)
	}
}

func testLarge(t *testing.T, s blob.Store) {
	data := content("large", 8<<20)
	id := put(t, s, data, blob.PutOptions{})
	mustGet(t, s, id, data)
	if info := stat(t, s, id); info.Size != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", info.Size, len(data))
	}
}

func testPutIdempotent(t *testing.T, s blob.Store) {
	data := content("idempotent", 300)
	t0 := now()
	id := put(t, s, data, blob.PutOptions{RetainUntil: t0.Add(2 * time.Hour)})
	wantRetention(t, s, id, t0.Add(2*time.Hour), false)

	// Earlier and absent retain-until: accepted, retention unchanged.
	put(t, s, data, blob.PutOptions{RetainUntil: t0.Add(time.Hour)})
	wantRetention(t, s, id, t0.Add(2*time.Hour), false)
	put(t, s, data, blob.PutOptions{})
	wantRetention(t, s, id, t0.Add(2*time.Hour), false)

	// Later: extended.
	put(t, s, data, blob.PutOptions{RetainUntil: t0.Add(3 * time.Hour)})
	wantRetention(t, s, id, t0.Add(3*time.Hour), false)
	mustGet(t, s, id, data)

	n := 0
	if err := s.List(context.Background(), func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("after 4 Puts of the same bytes List visits %d blobs, want 1", n)
	}

	// A blob put with no retention gains it on a later Put.
	other := content("idempotent-2", 10)
	oid := put(t, s, other, blob.PutOptions{})
	wantRetention(t, s, oid, time.Time{}, false)
	put(t, s, other, blob.PutOptions{RetainUntil: t0.Add(time.Hour)})
	wantRetention(t, s, oid, t0.Add(time.Hour), false)
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, content("present", 10), blob.PutOptions{}) // a non-empty store
	id := archive.Hash([]byte("never stored"))
	_, err := s.Get(ctx, id)
	wantErr(t, err, blob.ErrNotFound, "get", id)
	_, err = s.Stat(ctx, id)
	wantErr(t, err, blob.ErrNotFound, "stat", id)
	wantErr(t, s.SetRetention(ctx, id, now().Add(time.Hour)), blob.ErrNotFound, "set-retention", id)
	wantErr(t, s.SetLegalHold(ctx, id, true), blob.ErrNotFound, "set-legal-hold", id)
	wantErr(t, s.Delete(ctx, id, blob.Retention{}), blob.ErrNotFound, "delete", id)
	// None of them may have created it.
	_, err = s.Stat(ctx, id)
	wantErr(t, err, blob.ErrNotFound, "stat", id)
}

func testStat(t *testing.T, s blob.Store) {
	t0 := now()
	for i, opts := range []blob.PutOptions{
		{},
		{RetainUntil: t0.Add(time.Hour)},
		{LegalHold: true},
		{RetainUntil: t0.Add(-time.Hour), LegalHold: true},
	} {
		data := content(fmt.Sprint("stat", i), 100+i)
		id := put(t, s, data, opts)
		info := stat(t, s, id)
		want := blob.Info{ID: id, Size: int64(len(data)), RetainUntil: opts.RetainUntil, LegalHold: opts.LegalHold}
		if !info.RetainUntil.Equal(want.RetainUntil) || info.Size != want.Size || info.LegalHold != want.LegalHold {
			t.Errorf("Stat = %+v, want %+v", info, want)
		}
	}
}

func testList(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if err := s.List(ctx, func(i blob.Info) error {
		t.Errorf("empty store lists %s", i.ID)
		return nil
	}); err != nil {
		t.Fatalf("List on an empty store: %v", err)
	}

	t0 := now()
	want := map[archive.BlobID]blob.Info{}
	for i := range 300 {
		// Sizes 0..299 include the empty blob; 300 blobs spread over most
		// shards of a 256-way sharded store.
		data := content(fmt.Sprint("list", i), i)
		opts := blob.PutOptions{}
		if i%3 == 0 {
			opts.RetainUntil = t0.Add(time.Duration(i) * time.Minute)
		}
		opts.LegalHold = i%7 == 0
		id := put(t, s, data, opts)
		want[id] = blob.Info{ID: id, Size: int64(i), RetainUntil: opts.RetainUntil, LegalHold: opts.LegalHold}
	}
	// A deleted blob is no longer listed.
	gone := put(t, s, content("list-deleted", 5), blob.PutOptions{})
	if err := s.Delete(ctx, gone, blob.Retention{}); err != nil {
		t.Fatal(err)
	}

	seen := map[archive.BlobID]int{}
	if err := s.List(ctx, func(i blob.Info) error {
		seen[i.ID]++
		w, ok := want[i.ID]
		if !ok {
			t.Errorf("List visits %s, which was not put (or was deleted)", i.ID)
		} else if i.Size != w.Size || !i.RetainUntil.Equal(w.RetainUntil) || i.LegalHold != w.LegalHold {
			t.Errorf("List gives %+v, want %+v", i, w)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("List visits %s %d times, want once", id.Short(), seen[id])
		}
	}

	// An error from fn stops the listing and comes back unchanged.
	stop := errors.New("stop here")
	calls := 0
	err := s.List(ctx, func(blob.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with a failing fn: err = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testSetRetention(t *testing.T, s blob.Store) {
	ctx := context.Background()
	t0 := now()
	id := put(t, s, content("setretention", 50), blob.PutOptions{})

	// From none to some, even a past one.
	if err := s.SetRetention(ctx, id, t0.Add(-time.Hour)); err != nil {
		t.Fatalf("SetRetention from none: %v", err)
	}
	wantRetention(t, s, id, t0.Add(-time.Hour), false)
	if err := s.SetRetention(ctx, id, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetRetention later: %v", err)
	}
	wantRetention(t, s, id, t0.Add(time.Hour), false)
	if err := s.SetRetention(ctx, id, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetRetention to the same time: %v", err)
	}

	// Earlier, by a second or to none: refused, unchanged.
	wantErr(t, s.SetRetention(ctx, id, t0.Add(time.Hour-time.Second)), blob.ErrRetentionShortened, "set-retention", id)
	wantErr(t, s.SetRetention(ctx, id, time.Time{}), blob.ErrRetentionShortened, "set-retention", id)
	wantRetention(t, s, id, t0.Add(time.Hour), false)

	// Legal hold is independent of retention and may be released.
	if err := s.SetLegalHold(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLegalHold(ctx, id, true); err != nil {
		t.Fatalf("setting a hold twice: %v", err)
	}
	wantRetention(t, s, id, t0.Add(time.Hour), true)
	if err := s.SetLegalHold(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	wantRetention(t, s, id, t0.Add(time.Hour), false)
}

func testDeleteRetained(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := content("retained", 40)
	id := put(t, s, data, blob.PutOptions{RetainUntil: now().Add(time.Hour)})
	wantErr(t, s.Delete(ctx, id, blob.Retention{}), blob.ErrRetained, "delete", id)
	mustGet(t, s, id, data)

	// Retention set after the Put counts the same.
	data2 := content("retained-later", 40)
	id2 := put(t, s, data2, blob.PutOptions{})
	if err := s.SetRetention(ctx, id2, now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Delete(ctx, id2, blob.Retention{}), blob.ErrRetained, "delete", id2)
	mustGet(t, s, id2, data2)
}

func testDeleteLegalHold(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := content("hold", 40)
	// Past retain-until: only the hold protects it.
	id := put(t, s, data, blob.PutOptions{RetainUntil: now().Add(-time.Hour), LegalHold: true})
	wantErr(t, s.Delete(ctx, id, blob.Retention{}), blob.ErrLegalHold, "delete", id)
	mustGet(t, s, id, data)

	// A hold set after the Put, on a blob without retention.
	data2 := content("hold-later", 40)
	id2 := put(t, s, data2, blob.PutOptions{})
	if err := s.SetLegalHold(ctx, id2, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Delete(ctx, id2, blob.Retention{}), blob.ErrLegalHold, "delete", id2)
	mustGet(t, s, id2, data2)

	// Released: deletable, then gone.
	if err := s.SetLegalHold(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); err != nil {
		t.Fatalf("Delete after the hold was released and retention passed: %v", err)
	}
	_, err := s.Get(ctx, id)
	wantErr(t, err, blob.ErrNotFound, "get", id)
	wantErr(t, s.Delete(ctx, id, blob.Retention{}), blob.ErrNotFound, "delete", id)
	mustGet(t, s, id2, data2)
}

func testDeleteExpired(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for i, opts := range []blob.PutOptions{{}, {RetainUntil: now().Add(-time.Hour)}} {
		data := content(fmt.Sprint("expired", i), 64)
		id := put(t, s, data, opts)
		if err := s.Delete(ctx, id, blob.Retention{}); err != nil {
			t.Fatalf("Delete of %+v: %v", opts, err)
		}
		_, err := s.Get(ctx, id)
		wantErr(t, err, blob.ErrNotFound, "get", id)
		_, err = s.Stat(ctx, id)
		wantErr(t, err, blob.ErrNotFound, "stat", id)

		// Lawfully deleted bytes may be stored again, and come back
		// without the old retention.
		put(t, s, data, blob.PutOptions{})
		mustGet(t, s, id, data)
		if i == 0 {
			wantRetention(t, s, id, time.Time{}, false)
		}
	}
}

// testDeleteJournalRetention: the retention the caller derives from the
// journal binds Delete as much as the store's own record, so an edited
// record (retention shortened behind the store's back, or never set)
// cannot let evidence go early.
func testDeleteJournalRetention(t *testing.T, s blob.Store) {
	ctx := context.Background()
	t0 := now()
	// The store's record says it may go (none, or long past)...
	for i, opts := range []blob.PutOptions{{}, {RetainUntil: t0.Add(-time.Hour)}} {
		data := content(fmt.Sprint("journal-retention", i), 80)
		id := put(t, s, data, opts)
		// ...the journal says not yet, or held.
		wantErr(t, s.Delete(ctx, id, blob.Retention{RetainUntil: t0.Add(time.Hour)}), blob.ErrRetained, "delete", id)
		wantErr(t, s.Delete(ctx, id, blob.Retention{LegalHold: true}), blob.ErrLegalHold, "delete", id)
		wantErr(t, s.Delete(ctx, id, blob.Retention{RetainUntil: t0.Add(-time.Hour), LegalHold: true}), blob.ErrLegalHold, "delete", id)
		mustGet(t, s, id, data)
		// Both agree it may go: it goes.
		if err := s.Delete(ctx, id, blob.Retention{RetainUntil: t0.Add(-time.Minute)}); err != nil {
			t.Fatalf("Delete with both retentions past: %v", err)
		}
		_, err := s.Get(ctx, id)
		wantErr(t, err, blob.ErrNotFound, "get", id)
	}
	// The store's own retention still binds when the journal says nothing.
	data := content("journal-retention-store", 80)
	id := put(t, s, data, blob.PutOptions{RetainUntil: t0.Add(time.Hour)})
	wantErr(t, s.Delete(ctx, id, blob.Retention{RetainUntil: t0.Add(-time.Hour)}), blob.ErrRetained, "delete", id)
	mustGet(t, s, id, data)
}

// testStoredAt: when a blob was stored, in Stat and List; a later Put of
// the same bytes does not make it newer.
func testStoredAt(t *testing.T, s blob.Store) {
	ctx := context.Background()
	// Filesystem and object-store timestamps may be coarse: allow two
	// seconds either side.
	before := time.Now().Add(-2 * time.Second)
	id := put(t, s, content("stored-at", 100), blob.PutOptions{})
	after := time.Now().Add(2 * time.Second)
	first := stat(t, s, id).StoredAt
	if first.Before(before) || first.After(after) {
		t.Fatalf("StoredAt %v, not between %v and %v", first, before, after)
	}
	time.Sleep(1100 * time.Millisecond)
	put(t, s, content("stored-at", 100), blob.PutOptions{RetainUntil: now().Add(time.Hour)})
	if again := stat(t, s, id).StoredAt; !again.Equal(first) {
		t.Fatalf("StoredAt moved from %v to %v on an idempotent Put", first, again)
	}
	n := 0
	if err := s.List(ctx, func(i blob.Info) error {
		n++
		if !i.StoredAt.Equal(first) {
			t.Errorf("List gives StoredAt %v, Stat %v", i.StoredAt, first)
		}
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("List: %d blobs, %v", n, err)
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	const workers, each = 16, 8
	shared := content("concurrent-shared", 4096)
	var wg sync.WaitGroup
	errs := make(chan error, workers*(each+1))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := content(fmt.Sprint("concurrent", w, i), 512+i)
				if id, err := s.Put(context.Background(), data, blob.PutOptions{}); err != nil || id != archive.Hash(data) {
					errs <- fmt.Errorf("worker %d Put distinct %d: id %s, %v", w, i, id.Short(), err)
				}
				if i == each/2 {
					if id, err := s.Put(context.Background(), shared, blob.PutOptions{}); err != nil || id != archive.Hash(shared) {
						errs <- fmt.Errorf("worker %d Put shared: id %s, %v", w, id.Short(), err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustGet(t, s, archive.Hash(shared), shared)
	n := 0
	if err := s.List(context.Background(), func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != workers*each+1 {
		t.Fatalf("List visits %d blobs, want %d", n, workers*each+1)
	}
	for w := range workers {
		for i := range each {
			data := content(fmt.Sprint("concurrent", w, i), 512+i)
			mustGet(t, s, archive.Hash(data), data)
		}
	}
}

// Racing Puts of the same bytes with different retain-untils must end with
// the latest one: no read-modify-write may lose an extension.
func testConcurrentRetention(t *testing.T, s blob.Store) {
	const workers = 16
	data := content("concurrent-retention", 1000)
	t0 := now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			until := t0.Add(time.Duration(w+1) * time.Hour)
			if _, err := s.Put(context.Background(), data, blob.PutOptions{RetainUntil: until}); err != nil {
				t.Errorf("worker %d: %v", w, err)
			}
			if err := s.SetRetention(context.Background(), archive.Hash(data), until.Add(30*time.Minute)); err != nil && !errors.Is(err, blob.ErrRetentionShortened) {
				t.Errorf("worker %d SetRetention: %v", w, err)
			}
		}()
	}
	wg.Wait()
	wantRetention(t, s, archive.Hash(data), t0.Add(workers*time.Hour+30*time.Minute), false)
}

func testCancelled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := content("cancelled", 2048)
	id := archive.Hash(data)
	if _, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: now().Add(time.Hour)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: err = %v, want context.Canceled", err)
	}
	_, err := s.Stat(context.Background(), id)
	wantErr(t, err, blob.ErrNotFound, "stat", id)
	n := 0
	if err := s.List(context.Background(), func(blob.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("after a cancelled Put, List visits %d blobs (err %v), want 0", n, err)
	}

	put(t, s, data, blob.PutOptions{})
	if _, err := s.Get(ctx, id); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := s.List(ctx, func(blob.Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context: err = %v, want context.Canceled", err)
	}
	mustGet(t, s, id, data)
}

func testTamper(t *testing.T, s blob.Store, tam Tamperer) {
	ctx := context.Background()
	t0 := now()
	a := content("tamper-a", 1000)
	b := content("tamper-b", 700)
	c := content("tamper-c", 300)
	d := content("tamper-d", 1)
	ida := put(t, s, a, blob.PutOptions{RetainUntil: t0.Add(time.Hour)})
	idb := put(t, s, b, blob.PutOptions{})
	idc := put(t, s, c, blob.PutOptions{})
	idd := put(t, s, d, blob.PutOptions{})

	// A flipped byte, at the first and at the last position.
	for _, off := range []int64{0, int64(len(a) - 1)} {
		if err := tam.FlipByte(ida, off); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, ida)
		ie := wantIntegrityError(t, err, ida, fmt.Sprintf("Get after FlipByte(%d)", off))
		if ie.Size != int64(len(a)) {
			t.Errorf("IntegrityError.Size = %d, want %d", ie.Size, len(a))
		}
		// Get's error carries what it read, so that the intact parts of a
		// damaged pack stay readable: the bytes stored, damage included.
		damaged := bytes.Clone(a)
		damaged[off] ^= 0xff
		if !bytes.Equal(ie.Data, damaged) || archive.Hash(ie.Data) != ie.Actual {
			t.Errorf("IntegrityError.Data after FlipByte(%d): %d bytes, not the %d stored", off, len(ie.Data), len(a))
		}
		// Putting the original bytes must not "succeed" over the damage:
		// the caller would believe its evidence stored.
		_, err = s.Put(ctx, a, blob.PutOptions{RetainUntil: t0.Add(2 * time.Hour)})
		wantIntegrityError(t, err, ida, "Put over a damaged copy")
		// ...and must leave the damage for the checker to find.
		_, err = s.Get(ctx, ida)
		wantIntegrityError(t, err, ida, "Get after Put over a damaged copy")
		if err := tam.FlipByte(ida, off); err != nil { // flip back
			t.Fatal(err)
		}
		mustGet(t, s, ida, a)
	}

	// A whole other blob's bytes under this id.
	if err := tam.Replace(idc, idb); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, idc)
	if ie := wantIntegrityError(t, err, idc, "Get after Replace"); ie.Actual != idb || ie.Size != int64(len(b)) {
		t.Errorf("IntegrityError after Replace = %+v, want Actual %s, Size %d", ie, idb.Short(), len(b))
	}
	_, err = s.Put(ctx, c, blob.PutOptions{})
	wantIntegrityError(t, err, idc, "Put over a replaced copy")
	mustGet(t, s, idb, b) // the source of the copy is untouched

	// A blob that vanished is not found, and may be put again.
	if err := tam.Remove(idd); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, idd)
	wantErr(t, err, blob.ErrNotFound, "get", idd)
	put(t, s, d, blob.PutOptions{})
	mustGet(t, s, idd, d)
}

// testPutBatch: a batch stores each item as Put would — its id, its
// retention and hold, an existing blob verified with its retention only
// extended, the same bytes twice stored once — and a batch that names a
// damaged stored blob fails without hiding the damage.
func testPutBatch(t *testing.T, s blob.Store, bp blob.BatchPutter) {
	ctx := context.Background()
	t0 := now()
	old := content("batch-existing", 500)
	oid := put(t, s, old, blob.PutOptions{RetainUntil: t0.Add(2 * time.Hour)})
	items := []blob.BatchItem{
		{Data: content("batch-a", 70000), Opts: blob.PutOptions{RetainUntil: t0.Add(time.Hour)}},
		{Data: content("batch-b", 10), Opts: blob.PutOptions{LegalHold: true}},
		{Data: old, Opts: blob.PutOptions{RetainUntil: t0.Add(3 * time.Hour)}},
		{Data: content("batch-a", 70000), Opts: blob.PutOptions{RetainUntil: t0.Add(time.Hour)}},
		{Data: []byte{}, Opts: blob.PutOptions{}},
	}
	ids, err := bp.PutBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(items) {
		t.Fatalf("PutBatch returned %d ids for %d items", len(ids), len(items))
	}
	for i, it := range items {
		if ids[i] != archive.Hash(it.Data) {
			t.Fatalf("item %d: id %s, want %s", i, ids[i].Short(), archive.Hash(it.Data).Short())
		}
		mustGet(t, s, ids[i], it.Data)
	}
	wantRetention(t, s, ids[0], t0.Add(time.Hour), false)
	wantRetention(t, s, ids[1], time.Time{}, true)
	wantRetention(t, s, oid, t0.Add(3*time.Hour), false)
	n := 0
	s.List(ctx, func(blob.Info) error { n++; return nil })
	if n != 4 {
		t.Fatalf("List visits %d blobs after the batch, want 4", n)
	}
	// An earlier retain-until in a later batch changes nothing.
	if _, err := bp.PutBatch(ctx, []blob.BatchItem{{Data: old, Opts: blob.PutOptions{RetainUntil: t0.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	wantRetention(t, s, oid, t0.Add(3*time.Hour), false)
	if ids, err := bp.PutBatch(ctx, nil); err != nil || len(ids) != 0 {
		t.Fatalf("empty batch: %v %v", ids, err)
	}
}
