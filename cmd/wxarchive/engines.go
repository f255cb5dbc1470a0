package main

import (
	"context"
	"path/filepath"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/store/sqlite"
	"github.com/wxarchive/wxarchive/supervise"
)

// engines is the registry of storage engines by URL scheme (an archive's
// `index:` and `blobs:` in wxarchive.yaml). This is the one place adapters
// are chosen (DESIGN §6): the embedded defaults here; PostgreSQL and S3
// register beside them.
func engines() *repo.Engines {
	e := &repo.Engines{}
	e.RegisterStore("sqlite", func(ctx context.Context, loc string, o repo.StoreOptions) (store.Store, error) {
		return sqlite.Open(ctx, repo.LocalPath(o.Dir, loc), sqlite.Options{ReadOnly: o.ReadOnly, NoSync: o.NoSync})
	})
	e.RegisterBlobs("file", func(_ context.Context, loc string, o repo.BlobOptions) (blob.Store, error) {
		return fsblob.Open(repo.LocalPath(o.Dir, loc), fsblob.Options{Now: o.Now, NoSync: o.NoSync})
	})
	e.RegisterScratch(func(ctx context.Context, dir string) (store.Store, error) {
		return sqlite.Open(ctx, filepath.Join(dir, "rebuilt.db"), sqlite.Options{NoSync: true})
	})
	return e
}

// initArchive creates an archive with the default supervision pack.
func initArchive(ctx context.Context, dir string, opts repo.InitOptions) (*repo.Config, error) {
	opts.Engines = engines()
	opts.Setup = func(ctx context.Context, r *repo.Repo) error {
		return supervise.ApplyDefaultPack(ctx, r.Engine, r.Store, "cli:init")
	}
	return repo.Init(ctx, dir, opts)
}

// open opens the archive of --dir with the registered engines.
func (a *app) open(ctx context.Context, o repo.OpenOptions) (*repo.Repo, error) {
	o.Engines = engines()
	return repo.Open(ctx, a.dir, o)
}
