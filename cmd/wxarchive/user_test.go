package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
)

// runCLIIn is runCLI with stdin.
func runCLIIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code := a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

func wantUsage(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errs, code := runCLI(t, args...)
	if code != exitUsage || !strings.Contains(errs, want) {
		t.Fatalf("wxarchive %s: exit %d, stderr %q; want exit %d saying %q\n%s", strings.Join(args, " "), code, errs, exitUsage, want, out)
	}
}

func TestCLIUsersTokensAudit(t *testing.T) {
	dir := cliArchiveDir(t)
	out := mustCLI(t, "--dir", dir, "init", "--admin", "root")
	m := regexp.MustCompile(`Administrator: root\nInitial password \(shown once[^\n]*\n  (\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init did not create the first administrator with a printed password:\n%s", out)
	}
	secrets := []string{m[1]}

	const pw = "a long enough password"
	secrets = append(secrets, pw)
	if out, errs, code := runCLIIn(t, pw+"\n", "--dir", dir, "user", "add", "alice", "--role", "reviewer", "--department", "财富管理部", "--password-stdin"); code != 0 ||
		!strings.Contains(out, "Added user alice (reviewer)") || strings.Contains(out, "password") {
		t.Fatalf("user add: exit %d\n%s%s", code, out, errs)
	}
	wantUsage(t, `--role: unknown role "trader"`, "--dir", dir, "user", "add", "bob", "--role", "trader")
	wantUsage(t, "a regulator's access needs an expiry", "--dir", dir, "user", "add", "sec", "--role", "regulator")
	wantUsage(t, "--expires", "--dir", dir, "user", "add", "sec", "--role", "regulator", "--expires", "someday")
	wantUsage(t, "already exists", "--dir", dir, "user", "add", "alice", "--role", "admin", "--sso")
	mustCLI(t, "--dir", dir, "user", "add", "sec", "--role", "regulator", "--expires", "30d", "--scope-query", "acme", "--sso")

	out = mustCLI(t, "--dir", dir, "token", "create", "--name", "reader", "--owner", "alice", "--scope", "content.read", "--expires", "10d")
	sm := regexp.MustCompile(`\n  (wxa_\S+)\n`).FindStringSubmatch(out)
	if sm == nil {
		t.Fatalf("token create printed no secret:\n%s", out)
	}
	secrets = append(secrets, sm[1], strings.TrimPrefix(sm[1], auth.TokenPrefix))
	wantUsage(t, "alice does not hold users.admin", "--dir", dir, "token", "create", "--name", "x", "--owner", "alice", "--scope", "users.admin")
	wantUsage(t, "more than 366 days", "--dir", dir, "token", "create", "--name", "x", "--owner", "alice", "--expires", "400d")
	var toks []auth.TokenInfo
	cliJSON(t, &toks, "--dir", dir, "token", "list", "--json")
	if len(toks) != 1 || toks[0].Owner != "alice" || toks[0].Scopes[0] != auth.PermContent {
		t.Fatalf("token list: %+v", toks)
	}
	mustCLI(t, "--dir", dir, "token", "revoke", toks[0].ID)
	if out := mustCLI(t, "--dir", dir, "token", "list"); !strings.Contains(out, "revoked") {
		t.Fatalf("token list after revoke:\n%s", out)
	}
	wantUsage(t, "not found", "--dir", dir, "token", "revoke", "tok_nope")

	mustCLI(t, "--dir", dir, "user", "roles", "alice", "--role", "reviewer,auditor", "--department", "财富管理部")
	mustCLI(t, "--dir", dir, "user", "disable", "alice")
	// The identity tables survive a reindex.
	mustCLI(t, "--dir", dir, "reindex")
	var users []auth.UserInfo
	cliJSON(t, &users, "--dir", dir, "user", "list", "--json")
	if len(users) != 3 || users[0].Name != "alice" || !users[0].Disabled || len(users[0].Roles) != 2 || users[1].Name != "root" {
		t.Fatalf("user list after reindex: %+v", users)
	}

	// A search and a view by the person at the terminal are in the audit
	// log with the changes.
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	mustCLI(t, "--dir", dir, "search", "type:text")
	mustCLI(t, "--dir", dir, "show", "1")
	var page uc.AuditPage
	cliJSON(t, &page, "--dir", dir, "audit", "--user", "alice", "--json")
	var kinds []string
	for _, e := range page.Entries {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, " ") != "user.disabled user.changed token.revoked token.created user.added" {
		t.Fatalf("audit of alice: %v", kinds)
	}
	me := "unknown"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	cliJSON(t, &page, "--dir", dir, "audit", "--kind", "access.view", "--json")
	var whats []string
	for _, e := range page.Entries {
		if e.Actor != "cli:"+me {
			t.Errorf("access by %s, want cli:%s", e.Actor, me)
		}
		var p struct{ What string }
		json.Unmarshal(e.Payload, &p)
		whats = append(whats, p.What)
	}
	if strings.Join(whats, " ") != "audit message search" {
		t.Fatalf("accesses: %v", whats)
	}
	wantUsage(t, "--kind", "--dir", dir, "audit", "--kind", "message.archived")
	wantUsage(t, "--to", "--dir", dir, "audit", "--from", "2026-02-01", "--to", "2026-01-01")

	// No secret in the whole audit log (every access and change event).
	all := mustCLI(t, "--dir", dir, "audit", "--json", "--limit", "1000")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a secret (%.6s…) is in the audit log", s)
		}
	}
}

func TestCLIDemoCreatesUsers(t *testing.T) {
	dir := cliArchiveDir(t)
	out := mustCLI(t, "--dir", dir, "demo", "--messages", "50")
	for _, r := range auth.Roles {
		if !regexp.MustCompile(`demo-` + string(r) + `\s+` + string(r) + `\s+\S{20,}`).MatchString(out) {
			t.Errorf("demo printed no login for the %s role:\n%s", r, out)
		}
	}
	// A second run keeps them and says so.
	out = mustCLI(t, "--dir", dir, "demo", "--messages", "10", "--seed", "2")
	if !strings.Contains(out, "(exists; wxarchive user passwd demo-admin)") {
		t.Fatalf("second demo:\n%s", out)
	}
}

// TestCLIAuditShowsAPIUser: a search, a view and a review action made over
// the API by a person with their own token are in `wxarchive audit` under
// that person — api:rita, not the server or the address — with the
// search's query.
func TestCLIAuditShowsAPIUser(t *testing.T) {
	dir := cliArchiveDir(t)
	mustCLI(t, "--dir", dir, "init")
	lines := crashLine(1) + "\n" + crashLine(2) + "\n"
	file := filepath.Join(t.TempDir(), "msgs.jsonl")
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", file)
	mustCLI(t, "--dir", dir, "user", "add", "rita", "--role", "principal", "--sso")
	var created struct{ Secret string }
	cliJSON(t, &created, "--dir", dir, "token", "create", "--name", "rita-laptop", "--owner", "rita", "--json")

	srv := startServe(t, dir)
	defer srv.stop(time.Minute)
	srv.token = created.Secret // every request below is rita's
	call := func(method, path, body string) []byte {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		resp, err := srv.do(method, "http://"+srv.addr+path, "application/json", r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s as rita: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	// serve supervises what was ingested before it started: wait for the
	// default pack's alert on 保本.
	var alerts struct {
		Alerts []struct {
			ID uint64 `json:"id"`
		} `json:"alerts"`
	}
	for deadline := time.Now().Add(20 * time.Second); len(alerts.Alerts) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no alert raised on the ingested messages")
		}
		json.Unmarshal(call("GET", "/api/v1/alerts", ""), &alerts)
	}
	call("GET", "/api/v1/search?q="+url.QueryEscape("保本"), "")
	call("GET", "/api/v1/messages/1", "")
	call("POST", "/api/v1/alerts/actions", fmt.Sprintf(`{"action":"comment","alerts":[%d],"note":"客户已确认"}`, alerts.Alerts[0].ID))
	if err := srv.stop(time.Minute); err != nil {
		t.Fatalf("serve: %v\n%s", err, srv.out.String())
	}

	var page uc.AuditPage
	cliJSON(t, &page, "--dir", dir, "audit", "--user", "rita", "--json")
	var got []string
	for _, e := range page.Entries {
		var p struct{ What, Query, Action string }
		json.Unmarshal(e.Payload, &p)
		switch e.Kind {
		case "access.view", "review.action":
			if e.Actor != "api:rita" {
				t.Errorf("%s %s by %q, want api:rita", e.Kind, p.What, e.Actor)
			}
			got = append(got, strings.Join(strings.Fields(e.Kind+" "+p.What+" "+p.Query+" "+p.Action), " "))
		}
	}
	want := []string{"review.action comment", "access.view message", "access.view search 保本"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("audit --user rita lacks %q: %q", w, got)
		}
	}
	// The human-readable form names rita too.
	if out := mustCLI(t, "--dir", dir, "audit", "--user", "rita"); !strings.Contains(out, "api:rita") || !strings.Contains(out, "保本") {
		t.Errorf("audit --user rita:\n%s", out)
	}
}
