// Package engines registers the storage engines wxarchive is built with,
// by URL scheme: the one place adapters are chosen (DESIGN §6). The
// embedded defaults are here; PostgreSQL and S3 register beside them.
// cmd/wxarchive and the tests' archive helper share it.
package engines

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/blob/s3blob"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/store/postgres"
	"github.com/wxarchive/wxarchive/store/sqlite"
)

// All returns the registry of every engine: `sqlite:PATH` for the index,
// `file:DIR` for blobs (paths relative to the archive directory),
// `s3://BUCKET?endpoint=…` for blobs in an S3 Object Lock bucket
// (s3blob.ParseURL: credentials by reference to environment variables),
// and a SQLite scratch index for verify.
func All() *repo.Engines {
	e := &repo.Engines{}
	e.RegisterStore("sqlite", func(ctx context.Context, loc string, o repo.StoreOptions) (store.Store, error) {
		return sqlite.Open(ctx, repo.LocalPath(o.Dir, loc), sqlite.Options{ReadOnly: o.ReadOnly, NoSync: o.NoSync})
	})
	// PostgreSQL (store/postgres): the scale-out index, shared by several
	// serve processes. Migrations run at open (a reader of an older schema
	// brings it up to date; there is no separate read-only mode yet).
	for _, scheme := range []string{"postgres", "postgresql"} {
		e.RegisterStore(scheme, func(ctx context.Context, loc string, _ repo.StoreOptions) (store.Store, error) {
			return postgres.Open(ctx, scheme+":"+loc)
		})
	}
	e.RegisterBlobs("file", func(_ context.Context, loc string, o repo.BlobOptions) (blob.Store, error) {
		return fsblob.Open(repo.LocalPath(o.Dir, loc), fsblob.Options{Now: o.Now, NoSync: o.NoSync})
	})
	e.RegisterBlobs("s3", func(ctx context.Context, loc string, o repo.BlobOptions) (blob.Store, error) {
		opts, err := s3blob.ParseURL(loc, os.Getenv)
		if err != nil {
			return nil, err
		}
		opts.Now = o.Now
		s, err := s3blob.Open(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
		return s, nil
	})
	e.RegisterScratch(func(ctx context.Context, dir string) (store.Store, error) {
		return sqlite.Open(ctx, filepath.Join(dir, "rebuilt.db"), sqlite.Options{NoSync: true})
	})
	return e
}
