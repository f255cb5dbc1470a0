package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store/sqlite"
)

// lockFailing is a blob store whose SetRetention fails while fail is set.
type lockFailing struct {
	blob.Store
	fail atomic.Bool
	sets atomic.Int64
}

func (l *lockFailing) SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error {
	l.sets.Add(1)
	if l.fail.Load() {
		return &blob.Error{Op: "set-retention", ID: id, Err: errors.New("injected")}
	}
	return l.Store.SetRetention(ctx, id, until)
}

// lockEnv is an engine over a blob store the test decorates.
type lockEnv struct {
	st    *sqlite.Store
	blobs *fsblob.Store
	lf    *lockFailing
	eng   *ingest.Engine
	clock *clock
}

func newLockEnv(t *testing.T) *lockEnv {
	t.Helper()
	dir := t.TempDir()
	e := &lockEnv{clock: &clock{t: time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)}}
	var err error
	if e.st, err = sqlite.Open(ctx, filepath.Join(dir, "index.db"), sqlite.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = fsblob.Open(filepath.Join(dir, "blobs"), fsblob.Options{Now: e.clock.Now, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	var sg *journal.Signer
	sg, _ = signer(t)
	e.lf = &lockFailing{Store: e.blobs}
	e.eng = ingest.New(ingest.Config{Now: e.clock.Now}, e.st, e.lf, sg)
	t.Cleanup(func() {
		e.eng.Close(ctx, false)
		e.st.Close()
		e.blobs.Close()
	})
	return e
}

func (e *lockEnv) retention(t *testing.T, id archive.BlobID) time.Time {
	t.Helper()
	info, err := e.blobs.Stat(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return info.RetainUntil
}

func withMedia(t *testing.T, e *lockEnv, id string, media []byte) ingest.Item {
	t.Helper()
	it := item(id, "见附件 "+id)
	it.Message.Kind = archive.KindFile
	it.Message.Attachments = []archive.Attachment{{Role: "file", FileName: id + ".pdf", SourceRef: id}}
	if err := ingest.ResolveMedia(ctx, it.Message, mapMedia{id: media}, e.lf); err != nil {
		t.Fatal(err)
	}
	return it
}

// TestAttachmentsLockedOnCommit: an attachment is staged (no retention)
// until its message is durable, then carries the message's retain-until
// before Archive returns; one whose commit failed stays unlocked.
func TestAttachmentsLockedOnCommit(t *testing.T) {
	e := newLockEnv(t)
	it := withMedia(t, e, "lock-1", []byte("%PDF-1.4 一"))
	blobID := it.Message.Attachments[0].Blob
	if r := e.retention(t, blobID); !r.IsZero() {
		t.Fatalf("before the commit: retained until %v, want staged", r)
	}
	res := archiveItems(t, e.eng, it)
	row, err := e.st.Message(ctx, res[0].Serial)
	if err != nil {
		t.Fatal(err)
	}
	want := e.eng.RetainUntil(e.clock.Now()).Time
	if r := e.retention(t, blobID); !r.Equal(want) || !row.RetainUntil.Time.Equal(want) {
		t.Fatalf("acknowledged: blob retained until %v, message until %v, want %v", r, row.RetainUntil, want)
	}
	// A commit that fails (the engine closed before it): nothing
	// acknowledged, nothing locked.
	orphan := withMedia(t, e, "lock-2", []byte("%PDF-1.4 二"))
	if err := e.eng.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{orphan}); !errors.Is(err, ingest.ErrClosed) {
		t.Fatalf("archive after close: %v", err)
	}
	if r := e.retention(t, orphan.Message.Attachments[0].Blob); !r.IsZero() {
		t.Fatalf("the attachment of a failed ingest is retained until %v", r)
	}
}

// TestAttachmentLockFailure: when locking fails after the commit, the
// request fails (not acknowledged); its retry is a duplicate whose Wait
// locks the stored version's attachments; and the sealer locks what a
// request committed but never locked, before sealing its leaf.
func TestAttachmentLockFailure(t *testing.T) {
	e := newLockEnv(t)
	it := withMedia(t, e, "lf-1", []byte("%PDF-1.4 三"))
	blobID := it.Message.Attachments[0].Blob
	e.lf.fail.Store(true)
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{it}); err == nil {
		t.Fatal("Archive succeeded though its attachment could not be locked")
	}
	if r := e.retention(t, blobID); !r.IsZero() {
		t.Fatalf("retained until %v after a failed lock", r)
	}
	e.lf.fail.Store(false)
	retry := withMedia(t, e, "lf-1", []byte("%PDF-1.4 三"))
	res := archiveItems(t, e.eng, retry)
	if res[0].Outcome != ingest.Duplicate {
		t.Fatalf("retry: %v", res[0].Outcome)
	}
	row, _ := e.st.Message(ctx, res[0].Serial)
	if r := e.retention(t, blobID); !r.Equal(row.RetainUntil.Time) {
		t.Fatalf("after the duplicate: retained until %v, want the stored version's %v", r, row.RetainUntil)
	}

	// Committed, never waited for (a crash, a caller gone): the sealer
	// locks it before sealing the leaf that references it.
	lost := withMedia(t, e, "lf-2", []byte("%PDF-1.4 四"))
	lostID := lost.Message.Attachments[0].Blob
	e.lf.fail.Store(true)
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{lost}); err == nil {
		t.Fatal("Archive succeeded though its attachment could not be locked")
	}
	// While the blob store refuses, the leaf is not sealed.
	if _, err := e.eng.Seal(ctx, true); err == nil {
		t.Fatal("sealed a leaf whose attachment could not be locked")
	}
	e.lf.fail.Store(false)
	if _, err := e.eng.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	want := e.eng.RetainUntil(e.clock.Now()).Time
	if r := e.retention(t, lostID); !r.Equal(want) {
		t.Fatalf("after sealing: retained until %v, want %v", r, want)
	}
	// Retention only grows: locking again with an earlier date (a later
	// duplicate of an older version) is not an error and shortens
	// nothing.
	longer := want.AddDate(1, 0, 0)
	if err := e.blobs.SetRetention(ctx, lostID, longer); err != nil {
		t.Fatal(err)
	}
	again := withMedia(t, e, "lf-2", []byte("%PDF-1.4 四"))
	if res := archiveItems(t, e.eng, again); res[0].Outcome != ingest.Duplicate {
		t.Fatalf("again: %v", res[0].Outcome)
	}
	if r := e.retention(t, lostID); !r.Equal(longer) {
		t.Fatalf("retention %v, want it left at %v", r, longer)
	}
}

// BenchmarkArchiveWithAttachment is the cost of stage-then-lock: b.N
// messages with one attachment each, stored, archived batch at a time and
// locked before Archive returns (ns/op is per message).
func BenchmarkArchiveWithAttachment(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			dir := b.TempDir()
			st, _ := sqlite.Open(ctx, filepath.Join(dir, "index.db"), sqlite.Options{NoSync: true})
			blobs, _ := fsblob.Open(filepath.Join(dir, "blobs"), fsblob.Options{NoSync: true})
			sg, _ := signer(b)
			eng := ingest.New(ingest.Config{}, st, blobs, sg)
			defer func() { eng.Close(ctx, false); st.Close(); blobs.Close() }()
			var items []ingest.Item
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("bench-%d", i)
				it := item(id, "附件")
				it.Message.Attachments = []archive.Attachment{{Role: "file", SourceRef: id}}
				if err := ingest.ResolveMedia(ctx, it.Message, mapMedia{id: []byte("%PDF " + id)}, blobs); err != nil {
					b.Fatal(err)
				}
				if items = append(items, it); len(items) == batch {
					if _, err := eng.Archive(ctx, "bench", items); err != nil {
						b.Fatal(err)
					}
					items = nil
				}
			}
		})
	}
}

// TestRecentBoundedInBytes: the latest messages the engine keeps for the
// supervisor stay within Config.RecentBytes: large messages push the
// oldest out, the newest stay readable.
func TestRecentBoundedInBytes(t *testing.T) {
	e := newEnv(t, ingest.Config{RecentBytes: 256 << 10}, nil)
	big := strings.Repeat("长消息", 4000) // 12 KB of text, ~40 KB with its terms
	var items []ingest.Item
	for i := range 40 {
		items = append(items, item(fmt.Sprintf("recent-%02d", i), fmt.Sprintf("%d %s", i, big)))
	}
	res := archiveItems(t, e.eng, items...)
	held := 0
	for i, r := range res {
		row, err := e.st.Message(ctx, r.Serial)
		if err != nil {
			t.Fatal(err)
		}
		_, _, ok := e.eng.Recent(r.Serial, row.RecordHash)
		// The held ones are the newest: once one is held, all after it are.
		if !ok && held > 0 {
			t.Fatalf("message %d dropped though an older one is held", i)
		}
		if ok {
			held++
		}
	}
	if held == 0 || held >= len(res) {
		t.Fatalf("%d of %d held within 256 KiB", held, len(res))
	}
}
