package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIRetention: check prints every problem with its line and exits 2
// changing nothing; apply journals a version with its author; show gives
// it back, and the history; the example checks clean.
func TestCLIRetention(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	mustCLI(t, "--dir", dir, "init")
	ex := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(ex, []byte(mustCLI(t, "retention", "example")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, "retention", "check", ex); !strings.Contains(out, "rule set example-global-firm, 4 rules: OK") || !strings.Contains(out, "3y (the floor)") {
		t.Fatalf("check example:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("retention: firm\ncolour: red\nrules:\n  - name: a\n    period: {years: 0}\n"), 0o644)
	before := mustCLI(t, "--dir", dir, "stats", "--json")
	out, errs, code := runCLI(t, "retention", "check", bad)
	if code != 2 || !strings.Contains(errs, "bad.yaml:2: colour: unknown key") || !strings.Contains(errs, "bad.yaml:5: rules[0].period.years") {
		t.Fatalf("check bad: exit %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "retention", "apply", bad); code != 2 || !strings.Contains(errs, "bad.yaml:2: colour") {
		t.Fatalf("apply bad: exit %d\n%s", code, errs)
	}
	if after := mustCLI(t, "--dir", dir, "stats", "--json"); after != before {
		t.Fatalf("a refused file changed the archive:\n%s\n%s", before, after)
	}
	if _, _, code := runCLI(t, "--dir", dir, "retention", "show"); code != 2 {
		t.Fatalf("show with no rule set: exit %d, want 2", code)
	}
	if out := mustCLI(t, "--dir", dir, "retention", "apply", ex); !strings.Contains(out, "version 1 applied") {
		t.Fatalf("apply:\n%s", out)
	}
	if out := mustCLI(t, "--dir", dir, "retention", "apply", ex); !strings.Contains(out, "unchanged (version 1)") {
		t.Fatalf("apply again:\n%s", out)
	}
	var v struct {
		Version   int    `json:"version"`
		Latest    int    `json:"latest_version"`
		AppliedBy string `json:"applied_by"`
		Name      string `json:"name"`
		Source    string `json:"source"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "--dir", dir, "retention", "show", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.Latest != 1 || !strings.HasPrefix(v.AppliedBy, "cli:") || v.Name != "example-global-firm" || !strings.Contains(v.Source, "hk-sfc") {
		t.Fatalf("show: %+v", v)
	}
	if _, _, code := runCLI(t, "--dir", dir, "retention", "show", "--version", "2"); code != 2 {
		t.Fatalf("show --version 2: exit %d, want 2", code)
	}

	// Recompute and report run on the archive as it is.
	if out := mustCLI(t, "--dir", dir, "retention", "recompute"); !strings.Contains(out, "recomputed 0 messages under version 1") {
		t.Fatalf("recompute:\n%s", out)
	}
	var rep struct {
		Version  int `json:"version"`
		Eligible []struct {
			Days     int   `json:"days"`
			Messages int64 `json:"messages"`
		} `json:"eligible"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "--dir", dir, "retention", "report", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Version != 1 || len(rep.Eligible) != 4 || rep.Eligible[1].Days != 30 || rep.Eligible[3].Days != 365 {
		t.Fatalf("report: %+v", rep)
	}
}
