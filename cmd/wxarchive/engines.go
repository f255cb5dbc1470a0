package main

import (
	"context"
	"fmt"
	"path/filepath"

	cmdengines "github.com/wxarchive/wxarchive/cmd/engines"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/supervise"
)

// engines is the registry of storage engines by URL scheme (an archive's
// `index:` and `blobs:` in wxarchive.yaml), from cmd/engines.
func engines() *repo.Engines { return cmdengines.All() }

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
	r, err := repo.Open(ctx, a.dir, o)
	if err == nil {
		for _, w := range r.Config.Warnings {
			fmt.Fprintf(a.stderr, "wxarchive: %s: %s\n", filepath.Join(a.dir, repo.ConfigFile), w)
		}
	}
	return r, err
}
