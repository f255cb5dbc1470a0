package secretref

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	t.Setenv("WXA_TEST_SECRET", "from-env")
	for _, tc := range []struct {
		s       Ref
		want    string
		wantErr string
	}{
		{Ref{File: p}, "s3cret", ""},
		{Ref{Env: "WXA_TEST_SECRET"}, "from-env", ""},
		{Ref{Env: "WXA_TEST_UNSET_SECRET"}, "", "WXA_TEST_UNSET_SECRET is not set"},
		{Ref{File: filepath.Join(dir, "none")}, "", "read " + filepath.Join(dir, "none")},
		{Ref{}, "", "not configured"},
		{Inline(3), "", "written in the configuration file"},
	} {
		got, err := tc.s.Resolve()
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: %q, %v; want %q, %q", tc.s, got, err, tc.want, tc.wantErr)
		}
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := (Ref{File: p}).Resolve(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
}

func TestFormAndExposed(t *testing.T) {
	if err := Inline(7).Form(); err == nil || !strings.Contains(err.Error(), "(line 7)") {
		t.Errorf("inline: %v, want the line named", err)
	}
	if err := (Ref{Env: "A", File: "/b"}).Form(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both: %v", err)
	}
	if err := (Ref{}).Form(); err != nil {
		t.Errorf("zero: %v, want nil (not required)", err)
	}
	if err := (Ref{}).Required(); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("zero required: %v", err)
	}
	p := filepath.Join(t.TempDir(), "key")
	os.WriteFile(p, []byte("k"), 0o644)
	if warn, ok := (Ref{File: p}).Exposed(); !ok || !strings.Contains(warn, "0644") || strings.Contains(warn, "k\n") {
		t.Errorf("0644 file: %q %v", warn, ok)
	}
	os.Chmod(p, 0o600)
	if _, ok := (Ref{File: p}).Exposed(); ok {
		t.Error("0600 file reported exposed")
	}
}

func TestUnmarshal(t *testing.T) {
	var v struct{ S Ref }
	for src, want := range map[string]string{
		"s: {env: X}":         "",
		"s: {file: /x}":       "",
		"s: hunter2":          "line 1",
		"s: {env: X, key: y}": `unknown key "key"`,
		"s: [a]":              "expected {env: NAME}",
	} {
		v.S = Ref{}
		err := yaml.Unmarshal([]byte(src), &v)
		if err == nil {
			err = v.S.Form()
		}
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the secret", src)
		}
	}
}
