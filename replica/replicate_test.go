package replica_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/repo"
)

const fixture = "../capture/wecom/msgaudit/testdata/all-types.jsonl"

// newArchive is an archive holding the fixture's 32 messages (two with
// media), sealed, open for writing.
func newArchive(t *testing.T) *repo.Repo {
	t.Helper()
	ctx := context.Background()
	r, _ := archivetest.NewWith(t, repo.InitOptions{Setup: archivetest.NoPolicies}, repo.OpenOptions{Exclusive: true})
	media := t.TempDir()
	os.WriteFile(filepath.Join(media, "SDKFILEID-IMAGE-0003"), bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 300), 0o644)
	os.WriteFile(filepath.Join(media, "SDKFILEID-VOICE-0009"), append([]byte("#!AMR\n"), bytes.Repeat([]byte{0x3c}, 320)...), 0o644)
	lines, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Media: ingest.DirMedia{Dir: media}, Source: "wecom-archive:test", Actor: "test", Origin: "file:fixture", BatchSize: 5}
	if sum, err := in.Run(ctx, bytes.NewReader(lines)); err != nil || sum.Archived != 32 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	return r
}

func primary(r *repo.Repo) replica.Primary {
	c := r.Config
	return replica.Primary{Store: r.Store, Blobs: r.Blobs, ArchiveID: c.ArchiveID, Origin: c.Origin, PublicKey: c.PublicKey,
		TimeZone: c.TimeZone, RetentionYears: c.RetentionYears, SealDelay: c.SealDelay, Writer: r.Engine, Actor: "cli:test", HintDir: r.Dir}
}

func openStore(t *testing.T, dir string) blob.Store {
	t.Helper()
	s, err := fsblob.Open(dir, fsblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func infos(t *testing.T, s blob.Store) map[archive.BlobID]blob.Info {
	t.Helper()
	out := map[archive.BlobID]blob.Info{}
	if err := s.List(context.Background(), func(i blob.Info) error { out[i.ID] = i; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplicateCopiesEverythingSealed: a first run copies every blob of
// the primary (segments, packs, attachments) with its retention, adds one
// manifest, and journals replica.synced; a run with nothing new copies
// nothing; after more ingest a run copies only the new blobs.
func TestReplicateCopiesEverythingSealed(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t)
	dst := openStore(t, t.TempDir())
	res, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:test"})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := r.Store.Head(ctx)
	if res.From != 0 || res.TreeSize == 0 || res.Manifest.IsZero() || !res.Journaled {
		t.Fatalf("first run: %+v", res)
	}
	src, got := infos(t, r.Blobs), infos(t, dst)
	if res.TreeSize != head.SealedSize {
		t.Fatalf("replica reached %d, primary sealed %d", res.TreeSize, head.SealedSize)
	}
	for id, si := range src {
		gi, ok := got[id]
		if !ok {
			t.Errorf("primary blob %s not in the replica", id.Short())
			continue
		}
		if !gi.RetainUntil.Equal(si.RetainUntil) || gi.LegalHold != si.LegalHold || gi.Size != si.Size {
			t.Errorf("blob %s: replica %+v, primary %+v", id.Short(), gi, si)
		}
	}
	if len(got) != len(src)+1 {
		t.Fatalf("replica holds %d blobs, primary %d (+1 manifest expected)", len(got), len(src))
	}
	if res.Copied.Attachments != 2 || res.Copied.Packs == 0 || res.Copied.Segments == 0 {
		t.Fatalf("counts %+v", res.Copied)
	}
	mb, err := dst.Get(ctx, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := replica.ParseManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.Verifier.Open([]byte(m.Checkpoint))
	if err != nil || cp.Size != m.TreeSize {
		t.Fatalf("manifest checkpoint: %v %+v", err, cp)
	}

	// The replica.synced event is sealed into a new segment: the next run
	// copies it, and journals nothing (only its own bookkeeping was new).
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	res2, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:test"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.From != res.TreeSize || res2.Copied.Segments != 1 || res2.Copied.Packs != 0 || res2.Copied.Attachments != 0 || res2.Journaled {
		t.Fatalf("second run: %+v", res2)
	}
	res3, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:test"})
	if err != nil || !res3.Manifest.IsZero() || res3.TreeSize != res2.TreeSize {
		t.Fatalf("third run (nothing new): %+v %v", res3, err)
	}

	// More messages: only they are copied.
	line := `{"msgid":"new-1","action":"send","from":"zhangwei","tolist":["lisi"],"roomid":"","msgtime":1700000070000,"msgtype":"text","text":{"content":"after the first copy"}}` + "\n"
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:more"}
	if sum, err := in.Run(ctx, bytes.NewReader([]byte(line))); err != nil || sum.Archived != 1 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	res4, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:test"})
	if err != nil {
		t.Fatal(err)
	}
	if res4.From != res2.TreeSize || res4.Copied.Packs != 1 || res4.Copied.Attachments != 0 || !res4.Journaled {
		t.Fatalf("fourth run: %+v", res4)
	}
	// Without the hint the latest manifest is found by listing the replica.
	os.Remove(filepath.Join(r.Dir, "replica-"+archive.Hash([]byte("file:test")).String()[:16]+".json"))
	res5, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:test"})
	if err != nil || res5.From != res4.TreeSize || res5.ReplicaID != res.ReplicaID {
		t.Fatalf("run without hint: %+v %v", res5, err)
	}
}

// TestReplicateResumesAfterInterruption: a run cancelled part way leaves
// no manifest for what it did not finish; the next run completes the copy
// and the replica then holds every primary blob.
func TestReplicateResumesAfterInterruption(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t)
	dir := t.TempDir()
	dst := openStore(t, dir)
	// Cancel after a few blobs have been written.
	cctx, cancel := context.WithCancel(ctx)
	counting := &cancelAfter{Store: dst, n: 3, cancel: cancel}
	if _, err := replica.Replicate(cctx, primary(r), counting, replica.Options{Location: "file:x"}); err == nil {
		t.Fatal("cancelled run succeeded")
	}
	if ms, err := replica.Manifests(ctx, dst); err != nil || len(ms) != 0 {
		t.Fatalf("manifests after the cancelled run: %v %v", ms, err)
	}
	res, err := replica.Replicate(ctx, primary(r), dst, replica.Options{Location: "file:x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 0 {
		t.Fatalf("resumed from %d", res.From)
	}
	src, got := infos(t, r.Blobs), infos(t, dst)
	for id := range src {
		if _, ok := got[id]; !ok {
			t.Errorf("blob %s missing after the resumed run", id.Short())
		}
	}
}

type cancelAfter struct {
	blob.Store
	n      int
	cancel func()
}

func (c *cancelAfter) Put(ctx context.Context, b []byte, o blob.PutOptions) (archive.BlobID, error) {
	c.n--
	if c.n < 0 {
		c.cancel()
	}
	return c.Store.Put(ctx, b, o)
}
