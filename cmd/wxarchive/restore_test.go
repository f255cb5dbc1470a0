package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/repo"
)

// TestCLIReplicaVerifyAndRestore: replicate, verify the replica from the
// archive's directory (pinned key, consistency with the archive) and
// alone (the replica's own key, with a notice), restore it read-only and
// writable, and refuse a wrong key, a non-empty target and a damaged
// replica.
func TestCLIReplicaVerifyAndRestore(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	rep := filepath.Join(t.TempDir(), "replica")
	mustCLI(t, "--dir", dir, "replicate", "--to", "file:"+rep)

	out := mustCLI(t, "--dir", dir, "verify", "--replica", "file:"+rep)
	if !strings.HasPrefix(out, "OK — ") || strings.Contains(out, "replica.self_key") {
		t.Fatalf("verify --replica from the archive:\n%s", out)
	}
	alone := mustCLI(t, "--dir", dir, "verify", "--replica", "file:"+rep, "--alone")
	if !strings.Contains(alone, "OK — ") || !strings.Contains(alone, "NOTE  replica.self_key") {
		t.Fatalf("verify --replica --alone:\n%s", alone)
	}
	// Another archive's directory is refused, naming both archives.
	other := t.TempDir()
	mustCLI(t, "--dir", other, "init")
	if _, errs, code := runCLI(t, "--dir", other, "verify", "--replica", "file:"+rep); code != exitUsage || !strings.Contains(errs, "holds archive") {
		t.Fatalf("verify --replica against another archive: exit %d\n%s", code, errs)
	}

	orig := cliGetStats(t, dir)
	ro := filepath.Join(t.TempDir(), "restored")
	out = mustCLI(t, "restore", "--from", "file:"+rep, "--dir", ro)
	if !strings.Contains(out, "Restored archive") || !strings.Contains(out, "read-only") {
		t.Fatalf("restore:\n%s", out)
	}
	got := cliGetStats(t, ro)
	if got.Messages != orig.Messages || got.Messages != 32 || got.PublicKey != orig.PublicKey {
		t.Fatalf("restored stats %+v, original %+v", got, orig)
	}
	cliVerifyOK(t, ro)
	// Search journals its access: it needs the signing key.
	if _, errs, code := runCLI(t, "--dir", ro, "search", "基金"); code == 0 || !strings.Contains(errs, "signing key") {
		t.Fatalf("search of a restore without its key: exit %d\n%s", code, errs)
	}

	// With the key: writable, and the journal goes on from the original's.
	rw := filepath.Join(t.TempDir(), "restored-rw")
	mustCLI(t, "restore", "--from", "file:"+rep, "--dir", rw, "--key", filepath.Join(dir, repo.KeyFile))
	origSearch := mustCLI(t, "--dir", dir, "search", "基金")
	if s := mustCLI(t, "--dir", rw, "search", "基金"); s != origSearch || !strings.Contains(s, "基金") {
		t.Fatalf("search differs:\noriginal\n%s\nrestored\n%s", origSearch, s)
	}
	line := `{"msgid":"after-restore","action":"send","from":"zhangwei","tolist":["lisi"],"roomid":"","msgtime":1700000090000,"msgtype":"text","text":{"content":"written after the restore"}}` + "\n"
	more := filepath.Join(t.TempDir(), "more.jsonl")
	os.WriteFile(more, []byte(line), 0o644)
	mustCLI(t, "--dir", rw, "ingest", "wecom-archive", more)
	if s := cliGetStats(t, rw); s.Messages != 33 {
		t.Fatalf("after ingest into the restored archive: %+v", s)
	}
	cliVerifyOK(t, rw)

	// Refusals change nothing.
	otherKey := filepath.Join(other, repo.KeyFile)
	bad := filepath.Join(t.TempDir(), "bad")
	if _, errs, code := runCLI(t, "restore", "--from", "file:"+rep, "--dir", bad, "--key", otherKey); code == 0 || !strings.Contains(errs, "not the archive's") {
		t.Fatalf("restore with another archive's key: exit %d\n%s", code, errs)
	}
	if ents, _ := os.ReadDir(bad); len(ents) != 0 {
		t.Fatalf("a refused restore left %d entries", len(ents))
	}
	if _, errs, code := runCLI(t, "restore", "--from", "file:"+rep, "--dir", ro); code == 0 || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore into an existing archive: exit %d\n%s", code, errs)
	}
	if _, errs, code := runCLI(t, "restore", "--from", "file:"+t.TempDir(), "--dir", bad); code == 0 || !strings.Contains(errs, "no replica") {
		t.Fatalf("restore from an empty directory: exit %d\n%s", code, errs)
	}

	// A pack removed from the replica: verify names it and fails.
	var pack string
	filepath.WalkDir(filepath.Join(rep, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && pack == "" {
			if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), "WXPACK01") {
				pack = p
			}
		}
		return nil
	})
	if pack == "" {
		t.Fatal("no pack in the replica")
	}
	os.Remove(pack)
	out, _, code := runCLI(t, "--dir", dir, "verify", "--replica", "file:"+rep)
	if code != exitFailure || !strings.Contains(out, "FAULT blob.missing") || !strings.Contains(out, filepath.Base(pack)) {
		t.Fatalf("verify --replica of a replica missing a pack: exit %d\n%s", code, out)
	}
}
