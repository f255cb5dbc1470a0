package connector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	t.Setenv("WXA_TEST_SECRET", "from-env")
	for _, tc := range []struct {
		s       Secret
		want    string
		wantErr string
	}{
		{Secret{File: p}, "s3cret", ""},
		{Secret{Env: "WXA_TEST_SECRET"}, "from-env", ""},
		{Secret{Env: "WXA_TEST_UNSET_SECRET"}, "", "WXA_TEST_UNSET_SECRET is not set"},
		{Secret{File: filepath.Join(dir, "none")}, "", "read " + filepath.Join(dir, "none")},
		{Secret{}, "", "not configured"},
		{Secret{inline: true}, "", "written in the configuration file"},
	} {
		got, err := tc.s.Resolve()
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: %q, %v; want %q, %q", tc.s, got, err, tc.want, tc.wantErr)
		}
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := (Secret{File: p}).Resolve(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
}
