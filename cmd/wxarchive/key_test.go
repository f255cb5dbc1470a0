package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/repo"
)

// TestKeyRotate: after `wxarchive key rotate` the archive keeps working
// and verifies — by the configured key, by the key it was created with
// (an auditor's old copy) and by the new one — and the configuration
// file keeps everything but the key byte for byte.
func TestKeyRotate(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")
	fixture := "../../capture/wecom/msgaudit/testdata/all-types.jsonl"
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	cfgBefore, _ := os.ReadFile(filepath.Join(dir, repo.ConfigFile))
	old, _ := repo.LoadConfig(dir)

	out := mustCLI(t, "--dir", dir, "key", "rotate", "--json")
	var rot struct {
		PublicKey    string `json:"public_key"`
		PreviousKey  string `json:"previous_key"`
		JournalIndex uint64 `json:"journal_index"`
	}
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.PreviousKey != old.PublicKey || rot.PublicKey == old.PublicKey {
		t.Fatalf("key rotate: %s (%v)", out, err)
	}
	cfgAfter, _ := os.ReadFile(filepath.Join(dir, repo.ConfigFile))
	if string(cfgAfter) != strings.Replace(string(cfgBefore), old.PublicKey, rot.PublicKey, 1) {
		t.Fatalf("configuration changed beyond its key:\n%s", cfgAfter)
	}
	if fi, err := os.Stat(filepath.Join(dir, repo.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, repo.KeyFileNext)); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", repo.KeyFileNext, err)
	}
	// Written after the rotation: signed by the new key.
	mustCLI(t, "--dir", dir, "consent", "wmExtClient001")
	for _, args := range [][]string{{}, {"--public-key", old.PublicKey}, {"--public-key", rot.PublicKey}} {
		out := mustCLI(t, append([]string{"--dir", dir, "verify", "--json"}, args...)...)
		var rep struct {
			OK    bool `json:"ok"`
			Stats struct {
				Keys int `json:"keys"`
			} `json:"stats"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || rep.Stats.Keys != 2 {
			t.Fatalf("verify %v after a rotation: %s", args, out)
		}
	}
	// A damaged configured key: verify given the auditor's key runs and
	// names the configuration; without it, a fault, not a crash.
	bad := rot.PublicKey[:len(rot.PublicKey)-3] + "AAA"
	if bad == rot.PublicKey {
		bad = rot.PublicKey[:len(rot.PublicKey)-3] + "BBB"
	}
	os.WriteFile(filepath.Join(dir, repo.ConfigFile), []byte(strings.Replace(string(cfgAfter), rot.PublicKey, bad, 1)), 0o644)
	for _, args := range [][]string{{"--public-key", old.PublicKey}, {}} {
		out, errs, code := runCLI(t, append([]string{"--dir", dir, "verify"}, args...)...)
		if code != exitFailure || !strings.Contains(out, "config.public_key") || strings.Count(out, "FAULT") != 1 {
			t.Fatalf("verify %v with a damaged configured key: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
}
