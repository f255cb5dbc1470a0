package repo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// TestConfigAuthSection: the auth section is validated when the archive
// is opened; an unknown role is a clear error naming the field, and the
// archive is not opened.
func TestConfigAuthSection(t *testing.T) {
	dir := archivetest.InitDir(t, repo.InitOptions{Setup: archivetest.NoPolicies})
	path := filepath.Join(dir, repo.ConfigFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ section, want string }{
		{"auth:\n  oidc_groups:\n    traders: [admin, trader]\n", `auth.oidc_groups.traders[1]: unknown role "trader"`},
		{"auth:\n  require_totp: [boss]\n", `auth.require_totp[0]: unknown role "boss"`},
		{"auth:\n  session_idle: 13h\n", "auth.session_idle"},
	} {
		if err := os.WriteFile(path, append(append([]byte{}, orig...), c.section...), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := repo.LoadConfig(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), repo.ConfigFile) {
			t.Errorf("%q: err = %v, want one naming %s and %q", c.section, err, repo.ConfigFile, c.want)
		}
	}
	// Problems of several sections come together, in one run.
	both := "auth:\n  require_totp: [boss]\nreplicas:\n  - url: \"\"\n"
	if err := os.WriteFile(path, append(append([]byte{}, orig...), both...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), `unknown role "boss"`) || !strings.Contains(err.Error(), "replicas[0].url is required") {
		t.Errorf("two sections' problems: %v", err)
	}
	good := "auth:\n  oidc_groups: {wx-compliance: [principal]}\n  require_totp: [admin]\n  lockout_threshold: 3\n"
	if err := os.WriteFile(path, append(append([]byte{}, orig...), good...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.AuthPolicy()
	if err != nil || p.LockoutThreshold != 3 {
		t.Fatalf("policy %+v, %v", p, err)
	}
}
