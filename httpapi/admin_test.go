package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

// syncBuffer is a log sink the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// adminEnv is a server authenticating with the archive's own identity
// service (Options.Auth nil: the one the use cases administer), its log
// kept, and an administrator's token made with a second service over the
// same store (as `wxarchive user add` and `token create` would).
type adminEnv struct {
	*env
	api   *httptest.Server
	log   *syncBuffer
	admin string // the administrator's token
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	ctx := context.Background()
	e := newEnv(t)
	svc, err := auth.NewService(auth.Options{Store: e.r.Store, Journal: e.r.Engine,
		Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "root", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "setup", Owner: "root", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	a := &adminEnv{env: e, log: &syncBuffer{}, admin: secret}
	logger := slog.New(slog.NewJSONHandler(a.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a.api = httptest.NewServer(httpapi.New(e.r, httpapi.Options{Logger: logger, Gatherer: e.reg, Ingesters: archivetest.Ingesters(e.r, nil)}))
	t.Cleanup(a.api.Close)
	return a
}

// call sends a JSON body (nil: none) with the bearer token (or the
// cookie when token starts with "cookie:") and decodes the answer into
// out when out is not nil.
func (a *adminEnv) call(method, path, token string, body any, want int, out any) http.Header {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.api.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c, ok := strings.CutPrefix(token, "cookie:"); ok {
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: c})
		req.Header.Set("Origin", a.api.URL)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.Header
}

// TestAdminAPI: users and tokens administered over the API, each change
// in the audit log with the administrator who made it, bad requests
// refused naming the field and changing nothing, and a revoked token
// refused at its next request.
func TestAdminAPI(t *testing.T) {
	a := newAdminEnv(t)
	var u auth.UserInfo
	a.call("POST", "/api/v1/users", a.admin, map[string]any{"name": "rita", "password": "correct horse battery staple",
		"roles": []string{"reviewer"}, "departments": []string{"财富管理部"}}, 201, &u)
	if u.Name != "rita" || len(u.Roles) != 1 || u.Roles[0] != auth.Reviewer || u.Login != "password" {
		t.Fatalf("added %+v", u)
	}
	var problem struct {
		Error struct{ Code, Message, Field string }
	}
	a.call("POST", "/api/v1/users", a.admin, map[string]any{"name": "rita", "roles": []string{"auditor"}}, 409, &problem)
	a.call("POST", "/api/v1/users", a.admin, map[string]any{"name": "wiz", "roles": []string{"wizard"}}, 400, &problem)
	if !strings.Contains(problem.Error.Message+problem.Error.Field, "role") {
		t.Errorf("an unknown role: %+v, want the roles field named", problem)
	}
	a.call("POST", "/api/v1/users", a.admin, map[string]any{"name": "x", "roles": []string{"auditor"}, "colour": "red"}, 400, &problem)
	var users []auth.UserInfo
	a.call("GET", "/api/v1/users", a.admin, nil, 200, &users)
	if len(users) != 2 { // root and rita: the refused ones changed nothing
		t.Fatalf("users %+v, want root and rita", users)
	}
	a.call("PUT", "/api/v1/users/rita/grant", a.admin, map[string]any{"roles": []string{"reviewer", "auditor"}, "departments": []string{"财富管理部"}}, 200, &u)
	if len(u.Roles) != 2 {
		t.Fatalf("grant set: %+v", u)
	}
	a.call("PUT", "/api/v1/users/nobody/grant", a.admin, map[string]any{"roles": []string{"auditor"}}, 404, nil)

	var tc struct {
		Secret string
		Token  auth.TokenInfo
	}
	a.call("POST", "/api/v1/tokens", a.admin, map[string]any{"name": "laptop", "owner": "rita", "expires": time.Now().Add(time.Hour)}, 201, &tc)
	if !strings.HasPrefix(tc.Secret, "wxa_") || tc.Token.Owner != "rita" {
		t.Fatalf("token %+v", tc)
	}
	var me struct{ User string }
	a.call("GET", "/api/v1/auth/me", tc.Secret, nil, 200, &me)
	if me.User != "rita" {
		t.Fatalf("me %+v", me)
	}
	// rita is no administrator.
	a.call("GET", "/api/v1/users", tc.Secret, nil, 403, &problem)
	var list []json.RawMessage
	a.call("GET", "/api/v1/tokens?owner=rita", a.admin, nil, 200, &list)
	if len(list) != 1 || strings.Contains(string(list[0]), tc.Secret) {
		t.Fatalf("tokens %s", list)
	}
	a.call("POST", "/api/v1/tokens/"+tc.Token.ID+"/revoke", a.admin, nil, 200, nil)
	a.call("GET", "/api/v1/auth/me", tc.Secret, nil, 401, nil)
	a.call("POST", "/api/v1/users/rita/disable", a.admin, nil, 200, &u)
	if !u.Disabled {
		t.Fatalf("disabled %+v", u)
	}

	var page struct {
		Entries []struct{ Kind, Actor, User string }
		Next    uint64
	}
	a.call("GET", "/api/v1/audit?user=rita", a.admin, nil, 200, &page)
	var kinds []string
	for _, en := range page.Entries {
		want := "api:root"
		if en.Kind == "token.used" {
			want = "api:rita" // the token's first use of the day, as its owner
		}
		if en.Actor != want {
			t.Errorf("%s by %q, want %s", en.Kind, en.Actor, want)
		}
		kinds = append(kinds, en.Kind)
	}
	// Two requests with the token: one token.used (the day's first).
	if got := strings.Join(kinds, " "); got != "user.disabled token.revoked token.used token.created user.changed user.added" {
		t.Errorf("audit of rita (newest first): %s", got)
	}
	a.call("GET", "/api/v1/audit?limit=2", a.admin, nil, 200, &page)
	if len(page.Entries) != 2 || page.Next == 0 {
		t.Fatalf("a page of 2: %+v", page)
	}
	a.call("GET", "/api/v1/audit?kind=wizardry", a.admin, nil, 400, &problem)
	a.call("GET", "/api/v1/audit?limit=0", a.admin, nil, 400, &problem)
}

// TestSecretsNeverLeak makes every kind of secret the service hands out —
// a password, an API token, a session cookie, a TOTP key — uses each, and
// greps the server's log, /metrics and every journal leaf for all of
// them: none may appear anywhere but in the one answer that shows it.
func TestSecretsNeverLeak(t *testing.T) {
	a := newAdminEnv(t)
	const password = "Tr0ub4dor&3-秘密口令"
	a.call("POST", "/api/v1/users", a.admin, map[string]any{"name": "tina", "password": password, "roles": []string{"auditor"}}, 201, nil)
	var tc struct{ Secret string }
	a.call("POST", "/api/v1/tokens", a.admin, map[string]any{"name": "ci", "owner": "tina", "expires": time.Now().Add(time.Hour)}, 201, &tc)
	a.call("GET", "/api/v1/search?q=基金", tc.Secret, nil, 200, nil)
	a.call("GET", "/api/v1/search?q=基金", tc.Secret+"x", nil, 401, nil) // a near miss is logged as refused

	// A password login: the session cookie is a secret too.
	b, _ := json.Marshal(map[string]string{"user": "tina", "password": password})
	resp, err := http.Post(a.api.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == httpapi.SessionCookie {
			cookie = c.Value
		}
	}
	if resp.StatusCode != 200 || cookie == "" {
		t.Fatalf("login: %d, cookie %q", resp.StatusCode, cookie)
	}
	a.call("GET", "/api/v1/audit", "cookie:"+cookie, nil, 200, nil)
	// A failed login with the password's near miss.
	b, _ = json.Marshal(map[string]string{"user": "tina", "password": password + "!"})
	if resp, err := http.Post(a.api.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(b)); err == nil {
		resp.Body.Close()
	}
	var totp struct{ Secret string }
	a.call("POST", "/api/v1/users/tina/totp", a.admin, nil, 200, &totp)
	if totp.Secret == "" {
		t.Fatal("no TOTP secret")
	}
	a.call("POST", "/api/v1/auth/logout", "cookie:"+cookie, nil, 204, nil)

	var metrics []byte
	{
		req, _ := http.NewRequest("GET", a.api.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+a.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(metrics) == 0 {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
	}
	var leaves bytes.Buffer
	head := a.head()
	if err := a.r.Store.Leaves(context.Background(), 0, head.JournalSize, func(i uint64, _, leaf []byte) error {
		if _, err := journal.DecodeLeaf(i, leaf); err != nil {
			return err
		}
		leaves.Write(leaf)
		leaves.WriteByte('\n')
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	logs := a.log.String()
	if !strings.Contains(logs, "token created") || !strings.Contains(leaves.String(), "login.succeeded") {
		t.Fatalf("the log or the journal is not the one the requests wrote:\n%s", logs)
	}
	secrets := map[string]string{"password": password, "token": tc.Secret, "near-miss token": tc.Secret + "x",
		"admin token": a.admin, "session": cookie, "totp": totp.Secret}
	for what, s := range secrets {
		for where, text := range map[string]string{"log": logs, "metrics": string(metrics), "journal": leaves.String()} {
			if strings.Contains(text, s) {
				t.Errorf("the %s secret appears in the %s", what, where)
			}
			// Nor a recognizable part of it: the token without its prefix.
			if rest, ok := strings.CutPrefix(s, "wxa_"); ok && len(rest) > 12 && strings.Contains(text, rest[:12]) {
				t.Errorf("the first characters of the %s secret appear in the %s", what, where)
			}
		}
	}
}
