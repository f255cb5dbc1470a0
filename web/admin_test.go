package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// lockedBuffer is a log sink the server's goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// adminSite is newSite with the server's log kept.
func adminSite(t *testing.T) (*site, *lockedBuffer) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies, TimeZone: "Asia/Shanghai"}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	s := &site{t: t, r: r, auth: archivetest.NewAuth()}
	s.auth.User(principalUser, "pw-"+principalUser, auth.Principal)
	s.auth.User(adminUser, "pw-"+adminUser, auth.Admin)
	s.auth.UserWith(&auth.Identity{User: "rex", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部"}}, "pw-rex")
	s.srv = httptest.NewServer(httpapi.New(r, httpapi.Options{Auth: s.auth, Ingesters: archivetest.Ingesters(r, nil),
		Logger: slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	t.Cleanup(func() {
		s.srv.Close()
		r.Close(context.Background())
	})
	return s, log
}

// TestAdminUsersPage: the administrator adds a user (a refusal shown at
// its field, the password never echoed), changes their roles and
// departments, and disables them, each journaled; a form without the
// CSRF token, or from a principal (no users.admin), writes nothing.
func TestAdminUsersPage(t *testing.T) {
	s, log := adminSite(t)
	adam := s.browser()
	adam.login(adminUser, "/")
	home := adam.get("/")
	if !strings.Contains(home.body, `href="/admin/users"`) || !strings.Contains(home.body, `href="/admin/connectors"`) || !strings.Contains(home.body, `href="/policies"`) {
		t.Errorf("the administrator's navigation lacks administration, connectors or policies:\n%s", home.body)
	}
	up := adam.get("/admin/users")
	checkPage(t, "/admin/users", up, "en")
	if !strings.Contains(up.body, `id="no-users"`) {
		t.Fatalf("the empty user list:\n%s", up.body)
	}
	token := csrf(t, up)
	add := url.Values{"csrf": {token}, "name": {"rosa"}, "password": {"a-long-secret-passphrase-9"}, "departments": {"财富管理部, 投资银行部"}}

	before := journalSize(t, s.r)
	// No role: refused at the roles, the form refilled but the password.
	p := adam.do("POST", "/admin/users", add)
	checkPage(t, "a refused add", p, "en")
	if p.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`(?s)<legend>Roles</legend>.*class="field-error" role="alert">at least one role`).MatchString(p.body) ||
		!strings.Contains(p.body, `value="rosa"`) {
		t.Fatalf("an add without a role: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, "a-long-secret-passphrase-9") {
		t.Fatal("the refused form echoes the password")
	}
	add["roles"] = []string{"reviewer"}
	noToken := url.Values{}
	for k, v := range add {
		if k != "csrf" {
			noToken[k] = v
		}
	}
	if p := adam.do("POST", "/admin/users", noToken); p.status != http.StatusForbidden {
		t.Fatalf("an add without the CSRF token: %d", p.status)
	}
	pat := s.browser()
	pat.login(principalUser, "/")
	ptok := csrf(t, pat.get("/"))
	withTok := func(v url.Values, tok string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		out.Set("csrf", tok)
		return out
	}
	if p := pat.do("POST", "/admin/users", withTok(add, ptok)); p.status != http.StatusForbidden || !strings.Contains(p.body, `data-need="users.admin"`) {
		t.Fatalf("a principal adding a user: %d", p.status)
	}
	if p := pat.get("/admin/users"); p.status != http.StatusForbidden {
		t.Errorf("a principal on the users page: %d", p.status)
	}
	if journalSize(t, s.r) != before {
		t.Fatal("a refused form wrote to the journal")
	}

	p = adam.do("POST", "/admin/users", add)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/users?done=added&user=rosa" {
		t.Fatalf("add: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if journalSize(t, s.r) == before {
		t.Fatal("adding a user journaled nothing")
	}
	up = adam.get(p.header.Get("Location"))
	if !strings.Contains(up.body, `id="done"`) || !regexp.MustCompile(`(?s)data-user="rosa">.*?reviewer.*?财富管理部, 投资银行部`).MatchString(up.body) {
		t.Fatalf("the list after adding rosa:\n%s", up.body)
	}
	// Taken.
	if p := adam.do("POST", "/admin/users", add); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already exists") {
		t.Errorf("adding rosa again: %d", p.status)
	}

	grant := url.Values{"csrf": {token}, "roles": {"reviewer", "auditor"}, "departments": {"投资银行部"}}
	if p := adam.do("POST", "/admin/users/rosa/grant", url.Values{"csrf": {token}, "departments": {"x"}}); p.status != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`(?s)id="edit-0" open>.*at least one role`).MatchString(p.body) {
		t.Errorf("a grant without a role: %d\n%s", p.status, p.body)
	}
	p = adam.do("POST", "/admin/users/rosa/grant", grant)
	if p.status != http.StatusSeeOther {
		t.Fatalf("grant: %d\n%s", p.status, p.body)
	}
	up = adam.get(p.header.Get("Location"))
	if !regexp.MustCompile(`(?s)data-user="rosa">.*?reviewer, auditor</td><td>投资银行部</td>`).MatchString(up.body) {
		t.Fatalf("the list after the grant:\n%s", up.body)
	}
	if p := adam.do("POST", "/admin/users/nobody/grant", grant); p.status != http.StatusNotFound {
		t.Errorf("a grant of an unknown user: %d", p.status)
	}
	if p := adam.do("POST", "/admin/users/rosa/disable", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("disable without the CSRF token: %d", p.status)
	}
	p = adam.do("POST", "/admin/users/rosa/disable", url.Values{"csrf": {token}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", p.status, p.body)
	}
	up = adam.get(p.header.Get("Location"))
	if !regexp.MustCompile(`(?s)data-user="rosa">.*?<span class="bad">disabled</span>`).MatchString(up.body) {
		t.Fatalf("the list after disabling:\n%s", up.body)
	}
	adam.lang = "zh-CN"
	checkPage(t, "/admin/users in Chinese", adam.get("/admin/users?done=disabled&user=rosa"), "zh-Hans")
	if strings.Contains(log.String(), "a-long-secret-passphrase-9") {
		t.Fatal("the server logged the password")
	}
}

// TestAdminTokensPage: a token is created with its secret shown once —
// in no later page and no log —, listed, and revoked; the forms need the
// CSRF token and users.admin.
func TestAdminTokensPage(t *testing.T) {
	s, log := adminSite(t)
	adam := s.browser()
	adam.login(adminUser, "/")
	tp := adam.get("/admin/tokens")
	checkPage(t, "/admin/tokens", tp, "en")
	token := csrf(t, tp)
	// The owner must exist: add one through the users page.
	if p := adam.do("POST", "/admin/users", url.Values{"csrf": {token}, "name": {"loader"}, "roles": {"ingest"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add the owner: %d\n%s", p.status, p.body)
	}
	expires := time.Now().AddDate(0, 1, 0).Format("2006-01-02")
	create := url.Values{"csrf": {token}, "name": {"nightly"}, "owner": {"loader"}, "scopes": {"ingest"}, "expires": {expires}}
	before := journalSize(t, s.r)
	if p := adam.do("POST", "/admin/tokens", url.Values{"name": {"nightly"}, "owner": {"loader"}, "expires": {expires}}); p.status != http.StatusForbidden {
		t.Fatalf("create without the CSRF token: %d", p.status)
	}
	rex := s.browser()
	rex.login("rex", "/")
	if p := rex.do("POST", "/admin/tokens", url.Values{"csrf": {csrf(t, rex.get("/"))}, "name": {"x"}, "owner": {"loader"}, "expires": {expires}}); p.status != http.StatusForbidden {
		t.Fatalf("a reviewer creating a token: %d", p.status)
	}
	bad := url.Values{"csrf": {token}, "name": {"nightly"}, "owner": {"loader"}, "expires": {"2001-01-01"}}
	if p := adam.do("POST", "/admin/tokens", bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="nt-expires" name="expires" type="date" required value="2001-01-01" aria-invalid="true"`) {
		t.Fatalf("a token expiring in the past: %d\n%s", p.status, p.body)
	}
	if journalSize(t, s.r) != before {
		t.Fatal("a refused token form wrote to the journal")
	}
	p := adam.do("POST", "/admin/tokens", create)
	checkPage(t, "a new token", p, "en")
	m := regexp.MustCompile(`id="token-secret" type="text" readonly value="([^"]+)"`).FindStringSubmatch(p.body)
	if p.status != http.StatusCreated || m == nil {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	secret := m[1]
	id := regexp.MustCompile(`data-token="([^"]+)"`).FindStringSubmatch(p.body)
	if id == nil {
		t.Fatal("the new token is not listed")
	}
	list := adam.get("/admin/tokens")
	if strings.Contains(list.body, secret) || strings.Contains(log.String(), secret) {
		t.Fatal("the secret is shown again, or logged")
	}
	if !regexp.MustCompile(`(?s)data-token="` + regexp.QuoteMeta(id[1]) + `">.*?nightly.*?loader.*?ingest`).MatchString(list.body) {
		t.Fatalf("the token list:\n%s", list.body)
	}
	if p := adam.do("POST", "/admin/tokens/"+id[1]+"/revoke", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("revoke without the CSRF token: %d", p.status)
	}
	p = adam.do("POST", "/admin/tokens/"+id[1]+"/revoke", url.Values{"csrf": {token}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", p.status, p.body)
	}
	list = adam.get(p.header.Get("Location"))
	if !strings.Contains(list.body, `id="done"`) || !regexp.MustCompile(`(?s)data-token="`+regexp.QuoteMeta(id[1])+`">.*?<span class="bad">revoked</span>`).MatchString(list.body) {
		t.Fatalf("the list after revoking:\n%s", list.body)
	}
	adam.lang = "zh-CN"
	checkPage(t, "/admin/tokens in Chinese", adam.get("/admin/tokens?owner=loader"), "zh-Hans")
	if p := adam.do("POST", "/admin/tokens/nope/revoke", url.Values{"csrf": {token}}); p.status != http.StatusNotFound {
		t.Errorf("revoking an unknown token: %d", p.status)
	}
}

// TestAdminConnectorsPage: capture health for those with capture.health
// (administrator, principal, auditor), refused to a reviewer.
func TestAdminConnectorsPage(t *testing.T) {
	s, _ := adminSite(t)
	s.ingestFixture()
	for _, lang := range []struct{ accept, html string }{{"en", "en"}, {"zh-CN", "zh-Hans"}} {
		adam := s.browser()
		adam.lang = lang.accept
		adam.login(adminUser, "/")
		p := adam.get("/admin/connectors")
		checkPage(t, "/admin/connectors", p, lang.html)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="health-state"`) || !strings.Contains(p.body, `id="supervision-lag"`) {
			t.Fatalf("the connectors page: %d\n%s", p.status, p.body)
		}
		if !strings.Contains(p.body, `href="/admin/tokens"`) {
			t.Errorf("the administrator's tabs lack the tokens page")
		}
	}
	pat := s.browser()
	pat.login(principalUser, "/")
	if p := pat.get("/admin/connectors"); p.status != http.StatusOK || strings.Contains(p.body, `href="/admin/tokens"`) {
		t.Errorf("a principal on the connectors page: %d, or offered the tokens tab", p.status)
	}
	rex := s.browser()
	rex.login("rex", "/")
	if p := rex.get("/admin/connectors"); p.status != http.StatusForbidden || !strings.Contains(p.body, `data-need="capture.health"`) {
		t.Errorf("a reviewer on the connectors page: %d", p.status)
	}
}
