package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/wxarchive/wxarchive/journal"
)

// LatestFile names the newest checkpoint of an origin directory.
const LatestFile = "latest"

// OriginDir is the directory name of an origin's checkpoints: the origin
// path-escaped (so "wxarchive.local/ab12…" is "wxarchive.local%2Fab12…"),
// which can neither be empty nor climb out of the base directory.
func OriginDir(origin string) (string, error) {
	if origin == "" || len(origin) > 255 {
		return "", fmt.Errorf("%w: origin of %d bytes", ErrMalformed, len(origin))
	}
	for _, c := range origin {
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: control character in origin", ErrMalformed)
		}
	}
	name := url.PathEscape(origin)
	if name == "." || name == ".." || len(name) > 255 {
		return "", fmt.Errorf("%w: origin %q cannot name a directory", ErrMalformed, origin)
	}
	return name, nil
}

// Store keeps the checkpoints of one origin in a directory, one file per
// tree size plus "latest" (docs/FORMAT.md §9.1). It never replaces a
// checkpoint with one of a smaller tree, never changes a size file once
// written, and writes every file atomically (temporary file, fsync,
// link or rename, fsync of the directory). Appends from several processes
// are serialized by an flock on the directory's .lock file.
type Store struct {
	dir string
}

// OpenStore opens the store of origin under base; create makes the
// directories when absent (otherwise an absent store is ErrNotFound).
func OpenStore(base, origin string, create bool) (*Store, error) {
	name, err := OriginDir(origin)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, name)
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := syncDir(base); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Latest returns the newest checkpoint (nil, nil when there is none).
func (s *Store) Latest() (*Entry, error) {
	e, err := s.readFile(LatestFile, 0)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return e, err
}

// Read returns the checkpoint stored for a tree size. A file that does
// not parse, or holds another size, is ErrMalformed.
func (s *Store) Read(size uint64) (*Entry, error) {
	return s.readFile(strconv.FormatUint(size, 10), size)
}

func (s *Store) readFile(name string, size uint64) (*Entry, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxNoteSize+1))
	if err != nil {
		return nil, err
	}
	e, err := ParseNote(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if name != LatestFile && e.Size != size {
		return nil, fmt.Errorf("%s: %w: holds a checkpoint of size %d", name, ErrMalformed, e.Size)
	}
	return e, nil
}

// Sizes lists the stored tree sizes in increasing order. Names that are
// not canonical decimals (latest, .lock, temporary files) are not sizes.
func (s *Store) Sizes() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		if n, err := parseDecimal(e.Name()); err == nil && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Append stores e (a parsed checkpoint of the store's origin) as its size
// file and as latest. check, if not nil, is called with the newest stored
// checkpoint (nil: none) under the store's lock, so a check and the write
// it allows are atomic; its error is returned and nothing is written.
// Without an error from check, an entry smaller than the newest is
// ErrStale, and one of the same size with another root is ErrConflict.
// Storing a tree already stored is a no-op (stored false).
func (s *Store) Append(e *Entry, check func(latest *Entry) error) (stored bool, err error) {
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	latest, err := s.Latest()
	if err != nil && !errors.Is(err, ErrMalformed) {
		return false, err
	}
	if err != nil {
		// A damaged latest file is evidence: keep it, and decide from the
		// largest size file instead.
		latest, err = s.largest()
		if err != nil {
			return false, err
		}
	}
	if check != nil {
		if err := check(latest); err != nil {
			return false, err
		}
	}
	if latest != nil {
		switch {
		case e.Size < latest.Size:
			return false, fmt.Errorf("%w: holds %d leaves, offered %d", ErrStale, latest.Size, e.Size)
		case e.Size == latest.Size && !bytes.Equal(e.Root, latest.Root):
			return false, fmt.Errorf("%w: another root for %d leaves", ErrConflict, e.Size)
		case e.Size == latest.Size:
			return false, nil
		}
	}
	name := strconv.FormatUint(e.Size, 10)
	if err := s.create(name, e.Note); err != nil {
		return false, err
	}
	if err := s.replace(LatestFile, e.Note); err != nil {
		return false, err
	}
	return true, syncDir(s.dir)
}

// ErrStale and ErrConflict are a store's refusals (mapped to 409).
var (
	ErrStale    = errors.New("a larger tree is already witnessed")
	ErrConflict = errors.New("another checkpoint of this size is already witnessed")
)

func (s *Store) largest() (*Entry, error) {
	sizes, err := s.Sizes()
	if err != nil || len(sizes) == 0 {
		return nil, err
	}
	return s.Read(sizes[len(sizes)-1])
}

func (s *Store) tempFile(data []byte) (string, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(s.dir, ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// create writes a size file that must not exist yet (an identical one is
// accepted: a retry after a crash between the size file and latest).
func (s *Store) create(name string, data []byte) error {
	tmp, err := s.tempFile(data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrExist) {
		old, rerr := os.ReadFile(filepath.Join(s.dir, name))
		if rerr != nil {
			return rerr
		}
		if e, perr := ParseNote(old); perr == nil && bytes.Equal(e.Root, noteRoot(data)) {
			return nil
		}
		return fmt.Errorf("%w: %s exists with other contents", ErrConflict, name)
	}
	return err
}

func noteRoot(note []byte) []byte {
	e, err := ParseNote(note)
	if err != nil {
		return nil
	}
	return e.Root
}

func (s *Store) replace(name string, data []byte) error {
	tmp, err := s.tempFile(data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// witnessed reads the entries a Source returns from a store: the sizes
// (sampled to max) and latest when it differs from the newest size file.
func (s *Store) witnessed(object string, max int) ([]Witnessed, error) {
	sizes, err := s.Sizes()
	if err != nil {
		return nil, err
	}
	var out []Witnessed
	for _, n := range sample(sizes, max) {
		w := Witnessed{Object: fmt.Sprintf("%s/%d", object, n), Size: n}
		if e, err := s.Read(n); err != nil {
			w.Err = err
		} else {
			w.Note = e.Note
		}
		out = append(out, w)
	}
	// latest is checked too: it is what a reader of the directory sees
	// first, and it may differ from the size files if someone edited it.
	if e, err := s.Latest(); err != nil {
		out = append(out, Witnessed{Object: object + "/" + LatestFile, Err: err})
	} else if e != nil && (len(sizes) == 0 || e.Size != sizes[len(sizes)-1] || !bytes.Equal(e.Note, out[len(out)-1].Note)) {
		out = append(out, Witnessed{Object: object + "/" + LatestFile, Size: e.Size, Note: e.Note})
	}
	return out, nil
}

// DirWitness is a witness directory: on another mount or host (NFS, SMB,
// a replicated or snapshotted volume) that the archive's host can write
// but its insiders cannot rewrite. It cannot check consistency itself, so
// the publisher checks each checkpoint against the newest one there
// before writing.
type DirWitness struct {
	name string
	base string
}

var _ Witness = (*DirWitness)(nil)

// NewDirWitness returns the witness directory base (created on first
// publication).
func NewDirWitness(name, base string) *DirWitness { return &DirWitness{name: name, base: base} }

func (d *DirWitness) Name() string { return d.name }

// Publish writes cp to the directory after proving it consistent with
// the newest checkpoint there.
func (d *DirWitness) Publish(ctx context.Context, cp *journal.Checkpoint, log Log) (Ack, error) {
	if fi, err := os.Stat(d.base); err != nil || !fi.IsDir() {
		// The base must exist: a missing mount must not be papered over by
		// creating an empty directory on the archive's own disk.
		if err == nil {
			err = fmt.Errorf("%s is not a directory", d.base)
		}
		return Ack{}, &UnreachableError{Witness: d.name, Err: err}
	}
	st, err := OpenStore(d.base, cp.Origin, true)
	if err != nil {
		return Ack{}, &UnreachableError{Witness: d.name, Err: err}
	}
	e := &Entry{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Note: cp.Note}
	held := uint64(0)
	_, err = st.Append(e, func(latest *Entry) error {
		if latest != nil {
			held = latest.Size
		}
		_, err := checkAppend(ctx, d.name, latest, cp, log)
		return err
	})
	var re *RefusedError
	switch {
	case errors.As(err, &re):
		return Ack{Size: held}, err
	case err != nil:
		return Ack{}, &UnreachableError{Witness: d.name, Err: err}
	}
	return Ack{Size: cp.Size}, nil
}

// Witnessed reads the checkpoints of origin in the directory.
func (d *DirWitness) Witnessed(ctx context.Context, origin string, max int) ([]Witnessed, error) {
	if _, err := os.Stat(d.base); err != nil {
		return nil, &UnreachableError{Witness: d.name, Err: err}
	}
	st, err := OpenStore(d.base, origin, false)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, &UnreachableError{Witness: d.name, Err: err}
	}
	out, err := st.witnessed("witness:"+d.name, max)
	if err != nil {
		return nil, &UnreachableError{Witness: d.name, Err: err}
	}
	return out, nil
}
