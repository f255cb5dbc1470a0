package repo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// TestConfigReplicasSection: the replicas section is validated when the
// configuration is read; each error names the entry.
func TestConfigReplicasSection(t *testing.T) {
	dir := archivetest.InitDir(t, repo.InitOptions{Setup: archivetest.NoPolicies})
	path := filepath.Join(dir, repo.ConfigFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The archive's own store is whatever it was made with: file:blobs by
	// default, an S3 bucket when CI runs these suites on Object Lock.
	own := base.BlobsURL()
	for _, c := range []struct{ section, want string }{
		{"replicas:\n  - url: \"\"\n", "replicas[0].url is required"},
		{"replicas:\n  - url: file:/b\n  - url: file:/b\n", "replicas[1].url: file:/b is listed twice"},
		{"replicas:\n  - url: \"" + own + "\"\n", "replicas[0].url: the archive's own blob store"},
		{"replicas:\n  - url: file:/b\nreplica_max_lag: -1s\n", "must not be negative"},
	} {
		if err := os.WriteFile(path, append(append([]byte{}, orig...), c.section...), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.section, err, c.want)
		}
	}
	good := "replicas:\n  - url: file:/mnt/backup\nreplica_interval: 10s\n"
	os.WriteFile(path, append(append([]byte{}, orig...), good...), 0o644)
	cfg, err := repo.LoadConfig(dir)
	if err != nil || len(cfg.Replicas) != 1 || cfg.Replicas[0].URL != "file:/mnt/backup" || cfg.ReplicaInterval.Seconds() != 10 {
		t.Fatalf("good section: %+v %v", cfg, err)
	}
}
