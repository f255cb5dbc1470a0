package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// CreateFromOptions configure CreateFrom.
type CreateFromOptions struct {
	// Engines opens the new archive's index and blob store (required).
	Engines *Engines
	// SignerKey is the archive's signing key, as its key file holds it.
	// Empty: the new archive has none and opens read-only (verify,
	// search, show, export) until the key is put in KeyFile.
	SignerKey string
	// Fill writes the archive's content into its empty index and blob
	// store (a restore from a replica).
	Fill func(ctx context.Context, st store.Store, blobs blob.Store) error
	Now  func() time.Time
}

// CreateFrom creates in dir — absent or empty — an archive configured by
// cfg (an existing archive's identity: its id, origin, key and retention)
// whose content Fill writes, without journaling anything itself: the
// journal Fill writes is the archive's own. As with Init, the
// configuration file is written last, so a CreateFrom that fails leaves
// no archive (the directory is emptied again; objects written to a WORM
// blob store stay until their retention ends).
func CreateFrom(ctx context.Context, dir string, cfg *Config, opts CreateFromOptions) (err error) {
	if opts.Engines == nil || opts.Fill == nil {
		return errors.New("repo: CreateFrom needs Engines and Fill")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: restore into a new directory", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := opts.Engines.check(cfg.IndexURL(), cfg.BlobsURL()); err != nil {
		return err
	}
	v, err := journal.NewVerifier(cfg.Origin, cfg.PublicKey)
	if err != nil {
		return fmt.Errorf("the archive's public key: %w", err)
	}
	if opts.SignerKey != "" {
		signer, err := journal.NewSigner(cfg.Origin, strings.TrimSpace(opts.SignerKey))
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		probe, err := signer.Sign(0, journal.EmptyRoot(), archive.At(opts.Now()))
		if err != nil {
			return err
		}
		if _, err := v.Open(probe); err != nil {
			return fmt.Errorf("the signing key is not the archive's (its public key is %s): %w", cfg.PublicKey, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}()
	if opts.SignerKey != "" {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(KeyFile)), 0o700); err != nil {
			return err
		}
		if err := writeFileSync(filepath.Join(dir, KeyFile), []byte(strings.TrimSpace(opts.SignerKey)+"\n"), 0o600); err != nil {
			return err
		}
	}
	bl, err := opts.Engines.openBlobs(ctx, cfg.BlobsURL(), BlobOptions{Dir: dir, Now: opts.Now})
	if err != nil {
		return err
	}
	defer func() {
		if c, ok := bl.(interface{ Close() error }); ok {
			c.Close()
		}
	}()
	st, err := opts.Engines.openStore(ctx, cfg.IndexURL(), StoreOptions{Dir: dir})
	if err != nil {
		return err
	}
	if err := opts.Fill(ctx, st, bl); err != nil {
		st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := "# wxarchive archive configuration, restored from a replica. The public key\n# verifies every checkpoint; keep a copy outside this machine.\n"
	return writeFileSync(filepath.Join(dir, ConfigFile), append([]byte(header), y...), 0o644)
}
