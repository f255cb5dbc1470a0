package fsblob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/internal/diskprobe"
)

// Options configure a Store. The zero value is the production setting.
type Options struct {
	// Now decides whether a retain-until has passed (default time.Now).
	// Injected so that tests and simulations can move time; retention is
	// evidence, so it must never depend on a clock the caller cannot see.
	Now func() time.Time
	// NoSync skips every fsync. Tests only: with it, a machine crash can lose
	// blobs whose Put succeeded.
	NoSync bool
}

// Store is a blob.Store in a local directory; see the package doc for the
// layout. All methods are safe for concurrent use, also by several processes
// sharing the directory on a system with flock(2).
type Store struct {
	dir          string // absolute
	objects, tmp string // dir/objects, dir/tmp
	meta         string // dir/meta
	now          func() time.Time
	sync         bool

	// shards serializes, within this process, every change to one shard;
	// the flock on meta/<xx> (see lock) does the same across processes. Both
	// are needed: flock alone would park an OS thread per waiting goroutine.
	shards [256]sync.Mutex

	closeOnce sync.Once
	tmpLock   *os.File // shared flock on tmp/ while this Store is open
}

var _ blob.Store = (*Store)(nil)

// copyBufs holds buffers for hashing existing objects, the duplicate-Put
// path that replayed ingest takes for every attachment.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// writeChunk bounds how much Put writes between two checks of its context,
// so that cancelling a large Put does not wait for the whole write.
const writeChunk = 1 << 20

// Open opens the store in dir, creating the layout if it is missing, and
// removes temp files that a crashed writer left behind (only when no other
// process has the store open, since their temp files may be in use).
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsblob: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	s := &Store{
		dir:     abs,
		objects: filepath.Join(abs, "objects"),
		meta:    filepath.Join(abs, "meta"),
		tmp:     filepath.Join(abs, "tmp"),
		now:     opts.Now,
		sync:    !opts.NoSync,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, d := range []string{abs, s.objects, s.meta, s.tmp} {
		if err := s.mkdir(d); err != nil {
			return nil, fmt.Errorf("fsblob: open %s: %w", dir, err)
		}
	}
	if err := s.lockTmp(); err != nil {
		return nil, fmt.Errorf("fsblob: open %s: %w", dir, err)
	}
	return s, nil
}

// lockTmp takes the shared "store is open" lock on tmp/, emptying tmp/ first
// if no one else holds it.
func (s *Store) lockTmp() error {
	f, err := os.Open(s.tmp)
	if err != nil {
		return err
	}
	alone, err := tryLockExclusive(f)
	if err == nil && alone {
		err = s.cleanTmp()
	}
	if err == nil {
		// Downgrading is not atomic; another Open may slip in and clean,
		// which is harmless because this process has no temp files yet.
		err = lockShared(f)
	}
	if err != nil {
		f.Close()
		return err
	}
	s.tmpLock = f
	return nil
}

func (s *Store) cleanTmp() error {
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.tmp, e.Name())); err != nil {
			return fmt.Errorf("removing stale temp file: %w", err)
		}
	}
	return nil
}

// Close releases the store's hold on the directory. The Store must not be
// used afterwards.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.tmpLock.Close() })
	return err
}

// Properties implements blob.Store.
func (s *Store) Properties() blob.Properties {
	return blob.Properties{Name: "fsblob", Location: s.dir, ObjectLock: false}
}

// Paths are built only from the id's hex form, never from caller strings,
// so no id can name a file outside the store.
func (s *Store) objectPath(id archive.BlobID) string {
	h := id.String()
	return s.objects + string(filepath.Separator) + h[:2] + string(filepath.Separator) + h
}

func (s *Store) metaPath(id archive.BlobID) string {
	h := id.String()
	return s.meta + string(filepath.Separator) + h[:2] + string(filepath.Separator) + h + ".json"
}

func shardDir(root string, id archive.BlobID) string {
	return root + string(filepath.Separator) + id.String()[:2]
}

// fail turns err into the typed error the blob contract promises.
func fail(op string, id archive.BlobID, err error) error {
	var ie *blob.IntegrityError
	if errors.As(err, &ie) {
		return err // already names the id; wrapping would only repeat it
	}
	return &blob.Error{Op: op, ID: id, Err: err}
}

// notFound maps a missing object file to blob.ErrNotFound. Only the object
// file's absence means that: a missing temp or shard directory is an I/O
// fault, not an answer about the blob.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	return err
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, data []byte, opts blob.PutOptions) (archive.BlobID, error) {
	id := archive.Hash(data)
	if err := s.put(ctx, id, data, opts); err != nil {
		return archive.BlobID{}, fail("put", id, err)
	}
	return id, nil
}

func (s *Store) put(ctx context.Context, id archive.BlobID, data []byte, opts blob.PutOptions) error {
	obj := s.objectPath(id)
	var tmp string
	defer func() {
		// After a successful link the temp name is a second name of the
		// object; dropping it needs no fsync because Open empties tmp/.
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if tmp == "" {
			_, err := os.Lstat(obj)
			switch {
			case err == nil:
				// Exists: verify it instead of writing the bytes again
				// (replayed ingest puts the same attachments often).
			case errors.Is(err, fs.ErrNotExist):
				// Write and sync before taking the shard lock, so that
				// Puts in one shard overlap their slowest part.
				if tmp, err = s.writeTemp(ctx, "put-", data); err != nil {
					return err
				}
			default:
				return err
			}
		}
		done, err := s.putLocked(ctx, id, obj, tmp, opts)
		if done || err != nil {
			return err
		}
		// The object was deleted between Lstat and lock: go round again,
		// this time writing it.
	}
}

// putLocked makes tmp (if any) the object, or verifies the existing object,
// and merges opts into its meta. done is false only when the object seemed
// to exist but is gone.
func (s *Store) putLocked(ctx context.Context, id archive.BlobID, obj, tmp string, opts blob.PutOptions) (done bool, err error) {
	l, err := s.lock(id)
	if err != nil {
		return true, err
	}
	defer l.unlock()

	if tmp != "" {
		// Last moment a cancelled Put can fail without leaving a visible
		// blob; after the link it must finish, since failing then would
		// leave a visible blob behind a failed Put.
		if err := ctx.Err(); err != nil {
			return true, err
		}
		// Meta first, so a crash never leaves an object without the
		// retention it was put with.
		if err := s.mergeMeta(l, id, opts); err != nil {
			return true, err
		}
		err := s.link(tmp, obj, id)
		if err == nil {
			return true, s.syncDir(shardDir(s.objects, id))
		}
		if !errors.Is(err, fs.ErrExist) {
			return true, err
		}
		// A concurrent Put created it since our Lstat: verify it below.
	}

	f, err := os.Open(obj)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	defer f.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	// Hide f's WriteTo, which would allocate its own 32 KiB buffer per call.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return true, err
	}
	if actual := archive.BlobID(h.Sum(nil)); actual != id {
		// Leave the damaged copy: it is evidence for the checker, and
		// replacing it would hide the damage.
		return true, &blob.IntegrityError{ID: id, Actual: actual, Size: n}
	}
	if s.sync {
		// The object may have been made visible by a Put that crashed
		// before its fsyncs; we are about to acknowledge it, so make it
		// durable now. Both calls are cheap when nothing is dirty.
		if err := f.Sync(); err != nil {
			return true, err
		}
		if err := s.syncDir(shardDir(s.objects, id)); err != nil {
			return true, err
		}
	}
	if err := ctx.Err(); err != nil {
		return true, err
	}
	return true, s.mergeMeta(l, id, opts)
}

// link gives tmp the object's name. os.Link refuses an existing target,
// which makes objects create-only without a check-then-create race.
func (s *Store) link(tmp, obj string, id archive.BlobID) error {
	err := os.Link(tmp, obj)
	if errors.Is(err, fs.ErrNotExist) {
		// First object in this shard.
		if err := s.mkdir(shardDir(s.objects, id)); err != nil {
			return err
		}
		err = os.Link(tmp, obj)
	}
	return err
}

// writeTemp writes data to a new file in tmp/ with the final mode 0444 and
// syncs it.
func (s *Store) writeTemp(ctx context.Context, prefix string, data []byte) (name string, err error) {
	return s.writeTempFile(ctx, prefix, data, s.sync)
}

// writeTempFile is writeTemp, syncing the file only when doSync is set (a
// batch makes its temp files durable together).
func (s *Store) writeTempFile(ctx context.Context, prefix string, data []byte, doSync bool) (name string, err error) {
	var f *os.File
	for {
		name = filepath.Join(s.tmp, prefix+strconv.FormatUint(rand.Uint64(), 36))
		// Created 0444 straight away: the fd we get is still writable,
		// and the inode never exists with wider permissions.
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(len(data), writeChunk)
		if _, err := f.Write(data[:n]); err != nil {
			return "", err
		}
		data = data[n:]
	}
	// The umask may have narrowed the mode given at creation.
	if err := f.Chmod(0o444); err != nil {
		return "", err
	}
	if doSync {
		if err := f.Sync(); err != nil {
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, id archive.BlobID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail("get", id, err)
	}
	b, err := os.ReadFile(s.objectPath(id))
	if err != nil {
		return nil, fail("get", id, notFound(err))
	}
	if actual := archive.Hash(b); actual != id {
		return nil, &blob.IntegrityError{ID: id, Actual: actual, Size: int64(len(b)), Data: b}
	}
	return b, nil
}

// Stat implements blob.Store. It does not hash the object (Get does).
func (s *Store) Stat(ctx context.Context, id archive.BlobID) (blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fail("stat", id, err)
	}
	fi, err := s.statObject(id)
	if err != nil {
		return blob.Info{}, fail("stat", id, err)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return blob.Info{}, fail("stat", id, err)
	}
	return blob.Info{ID: id, Size: fi.Size(), RetainUntil: m.RetainUntil, LegalHold: m.LegalHold, StoredAt: fi.ModTime()}, nil
}

func (s *Store) statObject(id archive.BlobID) (fs.FileInfo, error) {
	fi, err := os.Lstat(s.objectPath(id))
	if err != nil {
		return nil, notFound(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", s.objectPath(id), fi.Mode().Type())
	}
	return fi, nil
}

// List implements blob.Store. Names that are not objects of this layout are
// skipped, not reported: reporting them is the checker's job, and a stray
// file must not stop a listing.
func (s *Store) List(ctx context.Context, fn func(blob.Info) error) error {
	shards, err := os.ReadDir(s.objects)
	if err != nil {
		return fmt.Errorf("fsblob: list %s: %w", s.objects, err)
	}
	for _, sh := range shards {
		if !sh.IsDir() || !isLowerHex(sh.Name(), 2) {
			continue
		}
		if err := s.listShard(ctx, sh.Name(), fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) listShard(ctx context.Context, shard string, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := os.ReadDir(filepath.Join(s.objects, shard))
	if err != nil {
		return fmt.Errorf("fsblob: list: %w", err)
	}
	// One directory read tells which blobs have a meta file, instead of one
	// failed open per blob without retention.
	hasMeta := map[string]bool{}
	metas, err := os.ReadDir(filepath.Join(s.meta, shard))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: list: %w", err)
	}
	for _, m := range metas {
		hasMeta[m.Name()] = true
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !isLowerHex(name, 64) || name[:2] != shard || !e.Type().IsRegular() {
			continue
		}
		id, err := archive.ParseBlobID(name)
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while we listed
		}
		if err != nil {
			return fail("list", id, err)
		}
		// An object is never modified once visible: its mtime is when its
		// temp file was written, just before it appeared.
		info := blob.Info{ID: id, Size: fi.Size(), StoredAt: fi.ModTime()}
		if hasMeta[name+".json"] {
			m, err := s.readMeta(id)
			if err != nil {
				// An Info without its retention would be a lie a
				// disposition job could act on.
				return fail("list", id, err)
			}
			info.RetainUntil, info.LegalHold = m.RetainUntil, m.LegalHold
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// WalkFiles visits every object and meta file of the store with its mode,
// for a checker of file modes (verify): both are written 0444 and never
// edited in place, so a write bit on one means someone changed it by hand
// or through another program. Names that are not of the layout are skipped
// like List skips them.
func (s *Store) WalkFiles(ctx context.Context, fn func(path string, mode fs.FileMode) error) error {
	for _, root := range []string{s.objects, s.meta} {
		shards, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("fsblob: walk %s: %w", root, err)
		}
		for _, sh := range shards {
			if !sh.IsDir() || !isLowerHex(sh.Name(), 2) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(root, sh.Name())
			ents, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("fsblob: walk: %w", err)
			}
			for _, e := range ents {
				if !e.Type().IsRegular() || !isLowerHex(strings.TrimSuffix(e.Name(), ".json"), 64) {
					continue
				}
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted while we walked
				}
				if err != nil {
					return fmt.Errorf("fsblob: walk: %w", err)
				}
				if err := fn(filepath.Join(dir, e.Name()), fi.Mode()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SetRetention implements blob.Store.
func (s *Store) SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error {
	if err := s.setRetention(ctx, id, until); err != nil {
		return fail("set-retention", id, err)
	}
	return nil
}

func (s *Store) setRetention(ctx context.Context, id archive.BlobID, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	until = ceilMilli(until)
	l, m, err := s.lockExisting(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if until.Before(m.RetainUntil) {
		return fmt.Errorf("%w: %s is before the current retain-until %s", blob.ErrRetentionShortened, fmtTime(until), fmtTime(m.RetainUntil))
	}
	if until.Equal(m.RetainUntil) {
		return nil
	}
	m.RetainUntil = until
	return s.writeMeta(l, id, m)
}

// SetLegalHold implements blob.Store.
func (s *Store) SetLegalHold(ctx context.Context, id archive.BlobID, on bool) error {
	if err := s.setLegalHold(ctx, id, on); err != nil {
		return fail("set-legal-hold", id, err)
	}
	return nil
}

func (s *Store) setLegalHold(ctx context.Context, id archive.BlobID, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, m, err := s.lockExisting(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if m.LegalHold == on {
		return nil
	}
	m.LegalHold = on
	return s.writeMeta(l, id, m)
}

// Delete implements blob.Store. The meta file is a file anyone with write
// access to the directory can edit, so it never decides alone: the
// caller's journal-derived retention must have passed too.
func (s *Store) Delete(ctx context.Context, id archive.BlobID, journal blob.Retention) error {
	if err := s.delete(ctx, id, journal); err != nil {
		return fail("delete", id, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, id archive.BlobID, journal blob.Retention) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, m, err := s.lockExisting(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if m.LegalHold {
		return blob.ErrLegalHold
	}
	if journal.LegalHold {
		return fmt.Errorf("%w (by the journal)", blob.ErrLegalHold)
	}
	now := s.now()
	if now.Before(m.RetainUntil) {
		return fmt.Errorf("%w until %s", blob.ErrRetained, fmtTime(m.RetainUntil))
	}
	if now.Before(journal.RetainUntil) {
		return fmt.Errorf("%w until %s (by the journal; the store's record says %s)", blob.ErrRetained, fmtTime(journal.RetainUntil), fmtTime(m.RetainUntil))
	}
	// Object first: a crash in between leaves retention without an object
	// (harmless), never an object without its retention.
	if err := os.Remove(s.objectPath(id)); err != nil {
		return err
	}
	if err := s.syncDir(shardDir(s.objects, id)); err != nil {
		return err
	}
	if err := os.Remove(s.metaPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.syncOpenDir(l.dir)
}

// lockExisting locks id's shard and reads its meta, failing with
// blob.ErrNotFound when the object does not exist.
func (s *Store) lockExisting(id archive.BlobID) (*shardLock, meta, error) {
	l, err := s.lock(id)
	if err != nil {
		return nil, meta{}, err
	}
	if _, err := s.statObject(id); err != nil {
		l.unlock()
		return nil, meta{}, err
	}
	m, err := s.readMeta(id)
	if err != nil {
		l.unlock()
		return nil, meta{}, err
	}
	return l, m, nil
}

// shardLock is held for every read-modify-write of one shard's objects and
// meta. Its dir is meta/<xx>, open for the flock and for syncing after a
// rename.
type shardLock struct {
	mu  *sync.Mutex
	dir *os.File
}

func (s *Store) lock(id archive.BlobID) (*shardLock, error) {
	mu := &s.shards[id[0]]
	mu.Lock()
	path := shardDir(s.meta, id)
	d, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err = s.mkdir(path); err == nil {
			d, err = os.Open(path)
		}
	}
	if err == nil {
		if err = lockExclusive(d); err != nil {
			d.Close()
		}
	}
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	return &shardLock{mu: mu, dir: d}, nil
}

func (l *shardLock) unlock() {
	l.dir.Close() // releases the flock
	l.mu.Unlock()
}

// mkdir creates dir (and missing parents) and fsyncs each parent, because a
// directory entry is only durable once its parent is synced.
func (s *Store) mkdir(dir string) error {
	err := os.Mkdir(dir, 0o750)
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.mkdir(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o750)
	}
	if errors.Is(err, fs.ErrExist) {
		fi, serr := os.Stat(dir)
		if serr != nil {
			return serr
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(dir))
}

func (s *Store) syncDir(dir string) error {
	if !s.sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = s.syncOpenDir(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) syncOpenDir(d *os.File) error {
	if !s.sync {
		return nil
	}
	return syncDirFile(d)
}

// CheckWritable writes, syncs and removes a probe file in the store's
// tmp/ directory (repo.WriteChecker), on the file system objects are
// written to. It is not a blob, and a crash leaves it in tmp/, which Open
// empties.
func (s *Store) CheckWritable(context.Context) error {
	return diskprobe.Write(s.tmp)
}
