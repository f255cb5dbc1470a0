package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIHold: create (journaled, covering archived messages), list, show,
// check, release with a reason (exit 2 without one, or a second time), and
// usage errors for a hold without scope.
func TestCLIHold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	mustCLI(t, "--dir", dir, "demo", "--messages", "300")
	var v struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		Messages int64  `json:"messages"`
		Scope    struct {
			Custodians []string `json:"custodians"`
		} `json:"scope"`
	}
	out := mustCLI(t, "--dir", dir, "hold", "create", "smith", "--matter", "Smith v. Firm", "--reason", "complaint", "--from", "2000-01-01", "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Name != "smith" || v.State != "active" || v.Messages != 300 {
		t.Fatalf("create: %s (%v)", out, err)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "hold", "create", "empty", "--matter", "m", "--reason", "r"); code != 2 || !strings.Contains(errs, "scope") {
		t.Fatalf("create without scope: exit %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "hold", "create", "smith", "--matter", "m", "--reason", "r", "--custodian", "x"); code != 2 || !strings.Contains(errs, "exists already") {
		t.Fatalf("create twice: exit %d %s", code, errs)
	}
	if out := mustCLI(t, "--dir", dir, "hold", "list"); !strings.Contains(out, "smith  active") {
		t.Fatalf("list:\n%s", out)
	}
	if out := mustCLI(t, "--dir", dir, "hold", "check", "1"); !strings.Contains(out, "held by smith") {
		t.Fatalf("check:\n%s", out)
	}
	if _, _, code := runCLI(t, "--dir", dir, "hold", "release", "smith"); code != 2 {
		t.Fatalf("release without a reason: exit %d", code)
	}
	if out := mustCLI(t, "--dir", dir, "hold", "release", "smith", "--reason", "settled"); !strings.Contains(out, "(grace)") || !strings.Contains(out, "settled") {
		t.Fatalf("release:\n%s", out)
	}
	if out := mustCLI(t, "--dir", dir, "hold", "check", "1"); !strings.Contains(out, "held by smith") {
		t.Fatalf("check during the grace period:\n%s", out)
	}
	if _, _, code := runCLI(t, "--dir", dir, "hold", "release", "smith", "--reason", "again"); code != 2 {
		t.Fatalf("release twice: exit %d", code)
	}
	if out := mustCLI(t, "--dir", dir, "hold", "show", "smith"); !strings.Contains(out, "covers      300") {
		t.Fatalf("show:\n%s", out)
	}
	if out := mustCLI(t, "--dir", dir, "verify"); !strings.HasPrefix(out, "OK") {
		t.Fatalf("verify:\n%s", out)
	}
}
