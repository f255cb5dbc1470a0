package repo

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/store"
)

// Engines is the registry of storage engines by URL scheme: the index
// database (store.Store) and the blob store (blob.Store) of an archive are
// named in its configuration by URL (`index: sqlite:index.db`,
// `blobs: file:blobs`; later postgres://… and s3://…), and opened by the
// engine registered for the scheme. Only cmd/ (and test helpers) register
// adapters: the rest of the code knows the interfaces alone (DESIGN §6).
type Engines struct {
	stores  map[string]StoreOpener
	blobs   map[string]BlobOpener
	scratch ScratchOpener
}

// StoreOpener opens an index database. loc is what follows "scheme:"; a
// relative path is relative to the archive directory (StoreOptions.Dir).
type StoreOpener func(ctx context.Context, loc string, o StoreOptions) (store.Store, error)

// BlobOpener opens a blob store (loc as for StoreOpener).
type BlobOpener func(ctx context.Context, loc string, o BlobOptions) (blob.Store, error)

// ScratchOpener opens an empty, throw-away index database in dir: where
// verify rebuilds the index from the journal to compare it with the live
// one. It must behave exactly as the archive's engine does.
type ScratchOpener func(ctx context.Context, dir string) (store.Store, error)

// StoreOptions are given to a StoreOpener.
type StoreOptions struct {
	Dir      string // the archive directory
	ReadOnly bool   // open for reading only: never create or migrate
	NoSync   bool   // tests only: no fsync
}

// BlobOptions are given to a BlobOpener.
type BlobOptions struct {
	Dir    string           // the archive directory
	Now    func() time.Time // decides whether a retain-until has passed
	NoSync bool             // tests only: no fsync
}

// RegisterStore makes an index engine available under scheme.
func (e *Engines) RegisterStore(scheme string, open StoreOpener) {
	if e.stores == nil {
		e.stores = map[string]StoreOpener{}
	}
	e.stores[scheme] = open
}

// RegisterBlobs makes a blob engine available under scheme.
func (e *Engines) RegisterBlobs(scheme string, open BlobOpener) {
	if e.blobs == nil {
		e.blobs = map[string]BlobOpener{}
	}
	e.blobs[scheme] = open
}

// RegisterScratch sets how verify's scratch index is opened.
func (e *Engines) RegisterScratch(open ScratchOpener) { e.scratch = open }

// Scratch opens a throw-away index database in dir.
func (e *Engines) Scratch(ctx context.Context, dir string) (store.Store, error) {
	if e == nil || e.scratch == nil {
		return nil, fmt.Errorf("no scratch index engine is registered")
	}
	return e.scratch(ctx, dir)
}

// Default engine URLs of a new archive: the embedded engines.
const (
	DefaultIndexURL = "sqlite:" + DBFile
	DefaultBlobsURL = "file:" + BlobDir
)

func (e *Engines) openStore(ctx context.Context, url string, o StoreOptions) (store.Store, error) {
	open, loc, err := e.storeEngine(url)
	if err != nil {
		return nil, err
	}
	return open(ctx, loc, o)
}

// OpenBlobs opens the blob store a URL names (a replica's, `file:DIR` or
// `s3://…`), a relative path resolved against o.Dir.
func (e *Engines) OpenBlobs(ctx context.Context, url string, o BlobOptions) (blob.Store, error) {
	return e.openBlobs(ctx, url, o)
}

func (e *Engines) openBlobs(ctx context.Context, url string, o BlobOptions) (blob.Store, error) {
	open, loc, err := e.blobEngine(url)
	if err != nil {
		return nil, err
	}
	return open(ctx, loc, o)
}

// check reports an index or blobs URL no registered engine takes, before
// anything is created.
func (e *Engines) check(index, blobs string) error {
	if _, _, err := e.storeEngine(index); err != nil {
		return err
	}
	_, _, err := e.blobEngine(blobs)
	return err
}

func (e *Engines) storeEngine(url string) (StoreOpener, string, error) {
	scheme, loc, err := splitURL("index", url)
	if err != nil {
		return nil, "", err
	}
	open, ok := e.stores[scheme]
	if !ok {
		return nil, "", fmt.Errorf("index %q: no engine for %q (known: %s)", url, scheme, known(e.stores))
	}
	return open, loc, nil
}

func (e *Engines) blobEngine(url string) (BlobOpener, string, error) {
	scheme, loc, err := splitURL("blobs", url)
	if err != nil {
		return nil, "", err
	}
	open, ok := e.blobs[scheme]
	if !ok {
		return nil, "", fmt.Errorf("blobs %q: no engine for %q (known: %s)", url, scheme, known(e.blobs))
	}
	return open, loc, nil
}

func splitURL(field, url string) (scheme, loc string, err error) {
	scheme, loc, ok := strings.Cut(url, ":")
	if !ok || scheme == "" || loc == "" {
		return "", "", fmt.Errorf("%s %q: want SCHEME:LOCATION (e.g. sqlite:index.db, file:blobs)", field, url)
	}
	return scheme, loc, nil
}

func known[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "none registered"
	}
	return strings.Join(ks, ", ")
}

// LocalPath resolves a location that is a file system path: relative to
// the archive directory unless absolute.
func LocalPath(dir, loc string) string {
	if filepath.IsAbs(loc) {
		return loc
	}
	return filepath.Join(dir, loc)
}
