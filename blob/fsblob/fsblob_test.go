package fsblob_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/blobtest"
	"github.com/wxarchive/wxarchive/blob/fsblob"
)

// The paths below are spelled out from the documented layout on purpose,
// not taken from the package, so these tests check the layout itself.
func objectPath(dir string, id archive.BlobID) string {
	h := id.String()
	return filepath.Join(dir, "objects", h[:2], h)
}

func metaPath(dir string, id archive.BlobID) string {
	h := id.String()
	return filepath.Join(dir, "meta", h[:2], h+".json")
}

// tamperer damages objects the way a failing disk or an intruder with
// write access to the directory would: mode 0444 stops only accidents.
type tamperer struct{ dir string }

func (tm tamperer) FlipByte(id archive.BlobID, offset int64) error {
	return tm.rewrite(id, func(b []byte) []byte { b[offset] ^= 0xff; return b })
}

func (tm tamperer) Remove(id archive.BlobID) error { return os.Remove(objectPath(tm.dir, id)) }

func (tm tamperer) Replace(id, withContentOf archive.BlobID) error {
	src, err := os.ReadFile(objectPath(tm.dir, withContentOf))
	if err != nil {
		return err
	}
	return tm.rewrite(id, func([]byte) []byte { return src })
}

func (tm tamperer) rewrite(id archive.BlobID, f func([]byte) []byte) error {
	p := objectPath(tm.dir, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := os.Chmod(p, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(p, f(b), 0o644); err != nil {
		return err
	}
	return os.Chmod(p, 0o444)
}

func open(t testing.TB, dir string, opts fsblob.Options) *fsblob.Store {
	t.Helper()
	s, err := fsblob.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	// Durable mode, as in production: the suite also exercises every fsync.
	blobtest.Run(t, func(t *testing.T) (blob.Store, blobtest.Tamperer) {
		dir := t.TempDir()
		return open(t, dir, fsblob.Options{}), tamperer{dir}
	})
}

func TestConformanceNoSync(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) (blob.Store, blobtest.Tamperer) {
		dir := t.TempDir()
		return open(t, dir, fsblob.Options{NoSync: true}), tamperer{dir}
	})
}

var ctx = context.Background()

// TestLayout pins the documented on-disk format with a known id.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	until := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	id, err := s.Put(ctx, []byte("hello"), blob.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	const hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if id.String() != hello {
		t.Fatalf("id = %s", id)
	}
	obj := filepath.Join(dir, "objects", "2c", hello)
	if b, err := os.ReadFile(obj); err != nil || string(b) != "hello" {
		t.Fatalf("%s: %q, %v", obj, b, err)
	}
	meta := filepath.Join(dir, "meta", "2c", hello+".json")
	wantFile(t, meta, `{"retain_until":"2032-01-01T00:00:00.000Z","legal_hold":false}`+"\n")
	for _, p := range []string{obj, meta} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o444 {
			t.Errorf("%s has mode %v, want 0444", p, fi.Mode())
		}
	}

	if err := s.SetLegalHold(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	wantFile(t, meta, `{"retain_until":"2032-01-01T00:00:00.000Z","legal_hold":true}`+"\n")

	// No retention and no hold: no meta file at all.
	id2, err := s.Put(ctx, []byte("no retention"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(metaPath(dir, id2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("meta file for a blob without retention: %v", err)
	}
	// A hold without retention omits retain_until.
	if err := s.SetLegalHold(ctx, id2, true); err != nil {
		t.Fatal(err)
	}
	wantFile(t, metaPath(dir, id2), `{"legal_hold":true}`+"\n")

	if p := s.Properties(); p != (blob.Properties{Name: "fsblob", Location: dir, ObjectLock: false}) {
		t.Errorf("Properties = %+v", p)
	}
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("%s = %q, want %q", path, b, want)
	}
}

func TestPutCannotShortenMeta(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	data := []byte("attachment")
	late := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	id, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: late, LegalHold: true})
	if err != nil {
		t.Fatal(err)
	}
	// Earlier date, no hold: neither may take anything away.
	if _, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: late.AddDate(-1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	wantFile(t, metaPath(dir, id), `{"retain_until":"2031-06-01T00:00:00.000Z","legal_hold":true}`+"\n")
}

func TestTmpEmptyAfterPuts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	for i := range 50 {
		opts := blob.PutOptions{}
		if i%2 == 0 {
			opts.RetainUntil = time.Now().Add(time.Hour) // writes meta through tmp/ too
		}
		data := []byte{byte(i), byte(i % 5)}
		if _, err := s.Put(ctx, data, opts); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, data, opts); err != nil { // the duplicate path
			t.Fatal(err)
		}
	}
	wantEmptyTmp(t, dir)
}

func wantEmptyTmp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in tmp/: %s", e.Name())
	}
}

func TestStaleTempCleanedAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	id, err := s.Put(ctx, []byte("kept"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a writer killed mid-Put leaves: a half-written temp file, and
	// a temp file already linked to its object.
	stale := filepath.Join(dir, "tmp", "put-crashed")
	if err := os.WriteFile(stale, []byte("half a blo"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(objectPath(dir, id), filepath.Join(dir, "tmp", "put-linked")); err != nil {
		t.Fatal(err)
	}

	if hasFlock() {
		// While s is open its temp files may be live: a second Open must
		// not remove them.
		s2 := open(t, dir, fsblob.Options{})
		if _, err := os.Stat(stale); err != nil {
			t.Fatalf("Open removed a temp file while another Store had the directory open: %v", err)
		}
		s2.Close()
	}
	s.Close()

	s3 := open(t, dir, fsblob.Options{})
	wantEmptyTmp(t, dir)
	if b, err := s3.Get(ctx, id); err != nil || string(b) != "kept" {
		t.Fatalf("Get after cleanup: %q, %v", b, err)
	}
}

func hasFlock() bool {
	switch runtime.GOOS {
	case "darwin", "dragonfly", "freebsd", "linux", "netbsd", "openbsd", "solaris":
		return true
	}
	return false
}

// Retention decisions use the injected clock, not the machine's.
func TestInjectedClock(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := open(t, t.TempDir(), fsblob.Options{Now: now})
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	id, err := s.Put(ctx, []byte("evidence"), blob.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete in 2029: %v, want ErrRetained", err)
	}
	mu.Lock()
	clock = until.Add(-time.Millisecond)
	mu.Unlock()
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete 1ms before retain-until: %v, want ErrRetained", err)
	}
	mu.Lock()
	clock = until // retain-until is the first instant it may go
	mu.Unlock()
	if err := s.Delete(ctx, id, blob.Retention{}); err != nil {
		t.Fatalf("Delete at retain-until: %v", err)
	}
}

// Meta keeps milliseconds; a finer retain-until is rounded up, so storing
// it never shortens what was asked, and asking again is not "shortening".
func TestRetentionRoundsUp(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	until := time.Date(2033, 3, 3, 3, 3, 3, 123_000_001, time.FixedZone("CST", 8*3600))
	id, err := s.Put(ctx, []byte("x"), blob.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, metaPath(dir, id), `{"retain_until":"2033-03-02T19:03:03.124Z","legal_hold":false}`+"\n")
	info, err := s.Stat(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.RetainUntil.Before(until) {
		t.Fatalf("stored retain-until %v is before the requested %v", info.RetainUntil, until)
	}
	if err := s.SetRetention(ctx, id, until); err != nil {
		t.Fatalf("SetRetention to the same instant: %v", err)
	}
}

// A meta file this version cannot read must stop every retention decision
// rather than be taken for "no retention".
func TestBadMetaFailsClosed(t *testing.T) {
	for name, content := range map[string]string{
		"not-json":       "{retain_until: tomorrow",
		"unknown-member": `{"retain_until":"2099-01-01T00:00:00.000Z","legal_hold":false,"hold_ids":["h1"]}` + "\n",
		"bad-time":       `{"retain_until":"next year","legal_hold":false}` + "\n",
		"two-objects":    `{"legal_hold":false}{"legal_hold":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, fsblob.Options{})
			id, err := s.Put(ctx, []byte(name), blob.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(metaPath(dir, id), []byte(content), 0o444); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, id, blob.Retention{}); err == nil {
				t.Fatal("Delete succeeded despite an unreadable meta file")
			}
			if err := s.SetRetention(ctx, id, time.Now()); err == nil {
				t.Error("SetRetention succeeded despite an unreadable meta file")
			}
			if _, err := s.Stat(ctx, id); err == nil {
				t.Error("Stat succeeded despite an unreadable meta file")
			}
			if err := s.List(ctx, func(blob.Info) error { return nil }); err == nil {
				t.Error("List succeeded despite an unreadable meta file")
			}
			if b, err := s.Get(ctx, id); err != nil || string(b) != name {
				t.Errorf("Get: %q, %v", b, err)
			}
		})
	}
}

// A meta file left without its object by an interrupted Put is honoured
// when the object arrives: it can only add retention.
func TestOrphanMeta(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	data := []byte("interrupted")
	id := archive.Hash(data)
	if err := os.MkdirAll(filepath.Dir(metaPath(dir, id)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metaPath(dir, id), []byte(`{"retain_until":"2099-01-01T00:00:00.000Z","legal_hold":false}`+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of a meta file without object: %v", err)
	}
	if _, err := s.Put(ctx, data, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete: %v, want ErrRetained from the orphan meta", err)
	}
}

func TestListSkipsJunk(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	id, err := s.Put(ctx, []byte("real"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := archive.Hash([]byte("elsewhere")).String()
	upper := archive.Hash([]byte("upper")).String()
	for _, p := range []string{
		"objects/README",
		"objects/zz/" + other,
		"objects/" + id.String()[:2] + "/notes.txt",
		"objects/" + id.String()[:2] + "/" + id.String() + ".bak",
		"objects/" + id.String()[:2] + "/" + other,                        // wrong shard
		"objects/" + upper[:2] + "/" + strings.ToUpper(upper),             // upper case
		"objects/" + id.String()[:2] + "/" + "ab" + id.String()[2:] + "/", // directory with an id-like name
		"objects/ABC/",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o750); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte("junk"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	var got []archive.BlobID
	if err := s.List(ctx, func(i blob.Info) error { got = append(got, i.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != id {
		t.Fatalf("List = %v, want only %s", got, id)
	}
}

// Two Stores on one directory stand in for two processes: their shard
// locks are separate, so only the flock keeps retention from regressing.
func TestTwoStoresOneDir(t *testing.T) {
	if !hasFlock() {
		t.Skip("no flock: one process per directory")
	}
	dir := t.TempDir()
	a := open(t, dir, fsblob.Options{NoSync: true})
	b := open(t, dir, fsblob.Options{NoSync: true})
	data := []byte("shared between processes")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if _, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: base.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	info, err := a.Stat(ctx, archive.Hash(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := base.Add(31 * time.Hour); !info.RetainUntil.Equal(want) {
		t.Fatalf("retain-until = %v, want %v", info.RetainUntil, want)
	}
	wantEmptyTmp(t, dir)
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{})
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	id, err := s.Put(ctx, []byte("survives"), blob.PutOptions{RetainUntil: until, LegalHold: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, dir, fsblob.Options{})
	info, err := s2.Stat(ctx, id)
	if err != nil || !info.RetainUntil.Equal(until) || !info.LegalHold || info.Size != 8 {
		t.Fatalf("Stat after reopen: %+v, %v", info, err)
	}
}

func TestOpenRejectsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fsblob.Open(f, fsblob.Options{}); err == nil {
		t.Fatal("Open of a regular file succeeded")
	}
	if _, err := fsblob.Open("", fsblob.Options{}); err == nil {
		t.Fatal("Open of an empty name succeeded")
	}
}

// steadyState creates every shard directory, as a store that has been in use
// for a while has them, so that benchmarks of a few hundred Puts do not
// mostly measure first-use mkdirs.
func steadyState(b *testing.B) (*fsblob.Store, string) {
	dir := b.TempDir()
	s := open(b, dir, fsblob.Options{})
	for i := range 256 {
		for _, kind := range []string{"objects", "meta"} {
			if err := os.Mkdir(filepath.Join(dir, kind, fmt.Sprintf("%02x", i)), 0o750); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, dir
}

func benchPut(b *testing.B, size int, opts blob.PutOptions) {
	s, _ := steadyState(b)
	data := make([]byte, size)
	b.SetBytes(int64(size))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(data, uint64(i)) // distinct blobs
		if _, err := s.Put(ctx, data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutSmall is the attachment and pack path: durable create of a
// new 1 KiB blob (two fsyncs: file and directory).
func BenchmarkPutSmall(b *testing.B) { benchPut(b, 1<<10, blob.PutOptions{}) }

// BenchmarkPutSmallRetained adds the meta file (two more fsyncs).
func BenchmarkPutSmallRetained(b *testing.B) {
	benchPut(b, 1<<10, blob.PutOptions{RetainUntil: time.Now().AddDate(6, 0, 0)})
}

// BenchmarkPutSmallDuplicate is replayed ingest: the bytes already exist.
func BenchmarkPutSmallDuplicate(b *testing.B) {
	s := open(b, b.TempDir(), fsblob.Options{})
	data := make([]byte, 1<<10)
	if _, err := s.Put(ctx, data, blob.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Put(ctx, data, blob.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut1MiB(b *testing.B) { benchPut(b, 1<<20, blob.PutOptions{}) }

func BenchmarkGet1MiB(b *testing.B) {
	s := open(b, b.TempDir(), fsblob.Options{})
	data := make([]byte, 1<<20)
	id, err := s.Put(ctx, data, blob.PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Get(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineFsync is the floor for a durable create on this machine,
// measured in the same run: write 1 KiB, fsync the file, fsync its
// directory. BenchmarkPutSmall should cost about this plus a link.
func BenchmarkBaselineFsync(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 1<<10)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		d, err := os.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

// TestWalkFiles: every object and meta file, with the mode it has on
// disk, so that a checker sees a file someone made writable.
func TestWalkFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, fsblob.Options{NoSync: true})
	a, _ := s.Put(ctx, []byte("with retention"), blob.PutOptions{RetainUntil: time.Now().Add(time.Hour)})
	b, _ := s.Put(ctx, []byte("without"), blob.PutOptions{})
	os.WriteFile(filepath.Join(dir, "objects", "stray"), []byte("x"), 0o666)
	walk := func() map[string]os.FileMode {
		got := map[string]os.FileMode{}
		if err := s.WalkFiles(ctx, func(p string, m os.FileMode) error { got[p] = m.Perm(); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := map[string]os.FileMode{objectPath(dir, a): 0o444, metaPath(dir, a): 0o444, objectPath(dir, b): 0o444}
	if got := walk(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("WalkFiles = %v, want %v", got, want)
	}
	if err := os.Chmod(metaPath(dir, a), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := walk(); got[metaPath(dir, a)] != 0o644 {
		t.Fatalf("a meta file made writable shows %v", got[metaPath(dir, a)])
	}
}
