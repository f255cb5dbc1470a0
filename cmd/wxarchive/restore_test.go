package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestServeKeepsReplicaUp: with a replicas section, serve copies what it
// seals while clients ingest; health and /metrics show the lag, which
// reaches 0; after shutdown the replica verifies against the archive and
// holds every message.
func TestServeKeepsReplicaUp(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")
	rep := filepath.Join(t.TempDir(), "replica")
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	b, _ := os.ReadFile(cfgPath)
	s := strings.Replace(string(b), "seal_delay: 10s", "seal_delay: 2s", 1)
	if s == string(b) {
		t.Fatalf("no seal_delay line to shorten in:\n%s", b)
	}
	os.WriteFile(cfgPath, []byte(s+"replicas:\n  - url: file:"+rep+"\nreplica_interval: 300ms\n"), 0o644)
	srv := startServe(t, dir)
	defer srv.stop(30 * time.Second)

	n := 0
	for batch := 0; batch < 10; batch++ {
		var lines []string
		for i := 0; i < 50; i++ {
			n++
			lines = append(lines, crashLine(n))
		}
		resp, err := srv.do("POST", "http://"+srv.addr+"/api/v1/ingest/wecom-archive?corp=ww1", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
		time.Sleep(150 * time.Millisecond)
	}
	type replicaReport struct {
		Location   string `json:"location"`
		TreeSize   uint64 `json:"tree_size"`
		SealedSize uint64 `json:"sealed_size"`
		LagEvents  uint64 `json:"lag_events"`
		LastError  string `json:"last_error"`
	}
	var health struct {
		Replicas []replicaReport `json:"replicas"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := srv.do("GET", "http://"+srv.addr+"/api/v1/capture/health", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		health.Replicas = nil
		json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
		if len(health.Replicas) == 1 {
			r := health.Replicas[0]
			// Everything ingested is sealed and copied: the journal holds
			// at least the 500 messages' events.
			if r.LastError == "" && r.LagEvents == 0 && r.TreeSize == r.SealedSize && r.TreeSize > 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up within 30s: %+v\n%s", health, srv.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if health.Replicas[0].Location != "file:"+rep {
		t.Fatalf("replica location %q", health.Replicas[0].Location)
	}
	resp, err := srv.do("GET", "http://"+srv.addr+"/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`wxarchive_replica_lag_events{replica="file:` + rep + `"} 0`, `wxarchive_replica_runs_total{outcome="ok"`, "wxarchive_replica_tree_size{"} {
		if !strings.Contains(string(metrics), m) {
			t.Fatalf("metrics lack %s:\n%s", m, grepLines(string(metrics), "wxarchive_replica"))
		}
	}
	if err := srv.stop(30 * time.Second); err != nil {
		t.Fatalf("serve: %v\n%s", err, srv.out)
	}
	var vr struct {
		OK    bool `json:"ok"`
		Stats struct {
			Messages int64 `json:"messages"`
		} `json:"stats"`
	}
	out, errs, code := runCLI(t, "--dir", dir, "verify", "--replica", "file:"+rep, "--json")
	if err := json.Unmarshal([]byte(out), &vr); err != nil || code != 0 || !vr.OK || vr.Stats.Messages != int64(n) {
		t.Fatalf("verify --replica after serve: exit %d %+v\n%s\n%s", code, vr, out, errs)
	}
}
