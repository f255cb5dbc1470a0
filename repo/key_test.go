package repo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
)

// TestRotationRecovery: a rotation interrupted after its event committed
// is finished by the next exclusive open (the journal says the new key is
// in force), whether the crash came before the next key replaced the key
// file or after it, before the configuration was rewritten; one
// interrupted before the event committed is discarded (the old key stays).
func TestRotationRecovery(t *testing.T) {
	ctx := context.Background()
	for _, stage := range []string{"journaled", "key file replaced", "not journaled"} {
		committed := stage != "not journaled"
		dir := t.TempDir()
		cfg, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies})
		if err != nil {
			t.Fatal(err)
		}
		r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		oldKey, _ := os.ReadFile(filepath.Join(dir, repo.KeyFile))
		old, _ := journal.NewSigner(cfg.Origin, string(oldKey))
		skey, vkey, _ := journal.GenerateKey("wxarchive-" + cfg.ArchiveID[:12])
		next, _ := journal.NewSigner(cfg.Origin, skey)
		// What RotateKey does up to the crash.
		if err := os.WriteFile(filepath.Join(dir, repo.KeyFileNext), []byte(skey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if committed {
			note, _ := old.SignStatement(journal.RotationStatement(cfg.Origin, cfg.PublicKey, vkey))
			ev, _ := journal.NewEvent(archive.EventKeyRotated, "test", archive.Time{}, nil, &archive.KeyRotatedEvent{PublicKey: vkey, PreviousKey: cfg.PublicKey, Note: string(note)})
			if _, err := r.Engine.RotateSigner(ctx, ev, next); err != nil {
				t.Fatal(err)
			}
		}
		if stage == "key file replaced" {
			if err := os.Rename(filepath.Join(dir, repo.KeyFileNext), filepath.Join(dir, repo.KeyFile)); err != nil {
				t.Fatal(err)
			}
		}
		r.Engine.Close(ctx, false)
		r.Engine = nil
		r.Close(ctx)

		r, err = archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
		if err != nil {
			t.Fatalf("reopen after an interrupted rotation (%s): %v", stage, err)
		}
		want := cfg.PublicKey
		if committed {
			want = vkey
		}
		if r.Config.PublicKey != want {
			t.Errorf("%s: key in force %s, want %s", stage, r.Config.PublicKey, want)
		}
		if _, err := r.Engine.Append(ctx, accessEvent(t, "test", 1)); err != nil {
			t.Fatalf("%s: writing after recovery: %v", stage, err)
		}
		r.Close(ctx)
		onDisk, _ := repo.LoadConfig(dir)
		keyFile, _ := os.ReadFile(filepath.Join(dir, repo.KeyFile))
		if onDisk.PublicKey != want || (committed != (strings.TrimSpace(string(keyFile)) == skey)) {
			t.Errorf("%s: configuration %s, key file the new one: %v", stage, onDisk.PublicKey, strings.TrimSpace(string(keyFile)) == skey)
		}
		if _, err := os.Stat(filepath.Join(dir, repo.KeyFileNext)); !os.IsNotExist(err) {
			t.Errorf("%s: %s left behind", stage, repo.KeyFileNext)
		}
	}
}

// accessEvent is an access.view of one message, as the app journals it.
func accessEvent(t *testing.T, actor string, serial uint64) journal.Event {
	t.Helper()
	ev, err := journal.NewEvent(archive.EventAccessView, actor, archive.Time{}, []string{fmt.Sprintf("serial:%d", serial)},
		&archive.AccessEvent{What: "message", Serials: []uint64{serial}, Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
