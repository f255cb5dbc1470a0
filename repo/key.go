package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// KeyFileNext holds the next signing key during a rotation, until the
// journal says it is in force (docs/FORMAT.md §1).
const KeyFileNext = KeyFile + ".next"

// RotateKey replaces the archive's checkpoint signing key. The new key is
// journaled in a key.rotated event whose note the old key signs, and that
// event is committed under a checkpoint of the old key; every checkpoint
// after it is signed by the new key, so verify can follow the chain from
// the key archive.created records. The archive must be open exclusively.
//
// Order, for crashes: the new key is written to KeyFileNext (0600,
// fsync'd) before the event commits; once it has, KeyFileNext replaces
// KeyFile and the configured public key is updated. An exclusive Open
// finishes a rotation the journal records and discards one it does not.
func (r *Repo) RotateKey(ctx context.Context, actor string) (publicKey string, index uint64, err error) {
	if r.Engine == nil || r.lock == nil {
		return "", 0, errors.New("rotating the signing key needs the archive open exclusively")
	}
	old, err := r.readSigner(KeyFile)
	if err != nil {
		return "", 0, err
	}
	if old.Key() != strings.TrimSpace(r.Config.PublicKey) {
		return "", 0, fmt.Errorf("signing key %s does not match the public key in %s", KeyFile, ConfigFile)
	}
	skey, vkey, err := journal.GenerateKey(keyName(r.Config))
	if err != nil {
		return "", 0, err
	}
	next, err := journal.NewSigner(r.Config.Origin, skey)
	if err != nil {
		return "", 0, err
	}
	if err := writeFileSync(filepath.Join(r.Dir, KeyFileNext), []byte(skey+"\n"), 0o600); err != nil {
		return "", 0, fmt.Errorf("write the next signing key: %w", err)
	}
	note, err := old.SignStatement(journal.RotationStatement(r.Config.Origin, old.Key(), vkey))
	if err != nil {
		return "", 0, err
	}
	ev, err := journal.NewEvent(archive.EventKeyRotated, actor, archive.Time{}, nil,
		&archive.KeyRotatedEvent{PublicKey: vkey, PreviousKey: old.Key(), Note: string(note)})
	if err != nil {
		return "", 0, err
	}
	if index, err = r.Engine.RotateSigner(ctx, ev, next); err != nil {
		// Not journaled: the next key is never used.
		os.Remove(filepath.Join(r.Dir, KeyFileNext))
		return "", 0, fmt.Errorf("journal the key rotation: %w", err)
	}
	if err := r.finishRotation(old.Key(), vkey); err != nil {
		return "", 0, fmt.Errorf("key rotation journaled as event %d, but: %w (reopening the archive finishes it)", index, err)
	}
	return vkey, index, nil
}

// keyName is the name in the archive's note keys (docs/FORMAT.md §1).
func keyName(cfg *Config) string {
	id := cfg.ArchiveID
	if len(id) > 12 {
		id = id[:12]
	}
	return "wxarchive-" + id
}

func (r *Repo) readSigner(name string) (*journal.Signer, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	return journal.NewSigner(r.Config.Origin, string(b))
}

// finishRotation makes the journaled next key the archive's: key file,
// then configuration.
func (r *Repo) finishRotation(oldKey, newKey string) error {
	if err := os.Rename(filepath.Join(r.Dir, KeyFileNext), filepath.Join(r.Dir, KeyFile)); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(r.Dir, filepath.Dir(KeyFile))); err != nil {
		return err
	}
	return r.updateConfigKey(oldKey, newKey)
}

// updateConfigKey puts the new public key in the configuration, on disk
// and in memory.
func (r *Repo) updateConfigKey(oldKey, newKey string) error {
	if err := replaceConfigKey(r.Dir, oldKey, newKey); err != nil {
		return err
	}
	v, err := journal.NewVerifier(r.Config.Origin, newKey)
	if err != nil {
		return err
	}
	r.Config.PublicKey, r.Verifier = newKey, v
	return nil
}

// replaceConfigKey rewrites the public_key of the configuration file in
// place, keeping everything else (comments, connectors) byte for byte.
func replaceConfigKey(dir, oldKey, newKey string) error {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := bytes.Count(b, []byte(oldKey)); n != 1 {
		return fmt.Errorf("%s: the public key %s appears %d times, expected once: edit public_key to %s", ConfigFile, oldKey, n, newKey)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return writeFileSync(path, bytes.Replace(b, []byte(oldKey), []byte(newKey), 1), fi.Mode().Perm())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// recoverRotation finishes or discards a rotation a crash interrupted: a
// next key the journal names in its latest key.rotated event becomes the
// archive's key; any other is removed, unused. A crash after the next key
// replaced the key file but before the configuration was rewritten leaves
// a key file the journal's latest rotation names and the configuration
// the key it replaced: the configuration is brought up to date.
func (r *Repo) recoverRotation(ctx context.Context, st store.Reader) error {
	nextPath := filepath.Join(r.Dir, KeyFileNext)
	next, err := r.readSigner(KeyFileNext)
	if errors.Is(err, fs.ErrNotExist) {
		cur, err := r.readSigner(KeyFile)
		if err != nil || cur.Key() == strings.TrimSpace(r.Config.PublicKey) {
			return nil // nothing interrupted (a bad key file is reported by Open)
		}
		latest, err := latestRotation(ctx, st)
		if err != nil {
			return err
		}
		if latest == nil || latest.PublicKey != cur.Key() || strings.TrimSpace(latest.PreviousKey) != strings.TrimSpace(r.Config.PublicKey) {
			return nil // not a rotation's leftover: Open reports the mismatch
		}
		r.logger.Warn("finishing a signing key rotation interrupted before the configuration was updated", "public_key", latest.PublicKey)
		return r.updateConfigKey(latest.PreviousKey, latest.PublicKey)
	}
	if err != nil {
		return err
	}
	latest, err := latestRotation(ctx, st)
	if err != nil {
		return err
	}
	if latest == nil || latest.PublicKey != next.Key() {
		r.logger.Warn("signing key rotation was interrupted before it was journaled; the next key is discarded", "file", KeyFileNext)
		return os.Remove(nextPath)
	}
	r.logger.Warn("finishing a signing key rotation interrupted after it was journaled", "public_key", latest.PublicKey)
	return r.finishRotation(latest.PreviousKey, latest.PublicKey)
}

// latestRotation is the journal's last key.rotated event (nil if none).
func latestRotation(ctx context.Context, st store.Reader) (*archive.KeyRotatedEvent, error) {
	head, err := st.Head(ctx)
	if err != nil {
		return nil, err
	}
	marker := []byte(`"type":"` + archive.EventKeyRotated + `"`)
	var latest *archive.KeyRotatedEvent
	err = st.Leaves(ctx, 0, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		if !bytes.Contains(leaf, marker) {
			return nil
		}
		ev, err := journal.DecodeLeaf(idx, leaf)
		if err != nil || ev.Type != archive.EventKeyRotated {
			return nil
		}
		var p archive.KeyRotatedEvent
		if ev.DecodePayload(&p) == nil {
			latest = &p
		}
		return nil
	})
	return latest, err
}

// WriterActive reports whether a writer holds the archive (serve, ingest,
// demo, reindex…), this process or another: what a checker reading a live
// archive needs to know to tell a blob a writer is about to reference
// from one nothing references.
func (r *Repo) WriterActive() bool {
	if r.lock != nil {
		return true
	}
	f, err := os.Open(filepath.Join(r.Dir, LockFile))
	if err != nil {
		return false // never opened by a writer
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
