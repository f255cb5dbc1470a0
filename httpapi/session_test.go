package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// postCookie sends a JSON POST with the given cookie (and no token).
func (e *env) postCookie(path, cookie, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: cookie})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

func (e *env) getCookie(path, cookie string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: cookie})
	}
	return e.send(req)
}

// send sends req as is: http.DefaultClient, not the env's client, which
// adds the tester's token.
func (e *env) send(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == httpapi.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", httpapi.SessionCookie, resp.Header["Set-Cookie"])
	return nil
}

// TestSessionLifecycle: a login sets a new HttpOnly SameSite session
// cookie (never the one the browser brought: no fixation), the cookie
// authenticates, a wrong password and an unknown user get the same 401,
// logout ends the session for good.
func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t)
	e.auth.UserWith(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部"}}, "correct horse")

	for _, body := range []string{`{"user":"rita","password":"wrong"}`, `{"user":"nobody","password":"wrong"}`} {
		resp, b := e.postCookie("/api/v1/auth/login", "", body, nil)
		if resp.StatusCode != 401 || len(resp.Cookies()) != 0 || !strings.Contains(string(b), `"unauthenticated"`) {
			t.Fatalf("bad login %s: %d %s %v", body, resp.StatusCode, b, resp.Cookies())
		}
	}
	unknown, _ := e.postCookie("/api/v1/auth/login", "", `{"user":"nobody","password":"wrong"}`, nil)
	wrong, _ := e.postCookie("/api/v1/auth/login", "", `{"user":"rita","password":"wrong"}`, nil)
	if unknown.Header.Get("Content-Length") != wrong.Header.Get("Content-Length") {
		t.Fatalf("unknown user and wrong password answered differently")
	}

	planted := "attacker-chosen-session-id"
	resp, b := e.postCookie("/api/v1/auth/login", planted, `{"user":"rita","password":"correct horse"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	c := sessionCookie(t, resp)
	if c.Value == planted || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("session cookie %+v", c)
	}
	if strings.Contains(string(b), c.Value) {
		t.Fatal("the session secret is in the answer body")
	}
	var me struct {
		User  string
		Roles []string
	}
	resp, b = e.getCookie("/api/v1/auth/me", c.Value)
	if resp.StatusCode != 200 || json.Unmarshal(b, &me) != nil || me.User != "rita" || len(me.Roles) != 1 || me.Roles[0] != "reviewer" {
		t.Fatalf("me: %d %s", resp.StatusCode, b)
	}
	// The reviewer may read alerts, not change policies.
	if resp, _ := e.getCookie("/api/v1/alerts", c.Value); resp.StatusCode != 200 {
		t.Fatalf("alerts with the session: %d", resp.StatusCode)
	}
	if resp, b := e.getCookie("/api/v1/capture/health", c.Value); resp.StatusCode != 403 || !strings.Contains(string(b), `"need":"capture.health"`) {
		t.Fatalf("capture health as a reviewer: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.getCookie("/api/v1/alerts", planted); resp.StatusCode != 401 {
		t.Fatalf("the planted cookie: %d", resp.StatusCode)
	}

	// A cross-site write with the cookie is refused before any handler.
	resp, b = e.postCookie("/api/v1/alerts/actions", c.Value, `{}`, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != 403 || !strings.Contains(string(b), "cross_origin") {
		t.Fatalf("cross-site write with the cookie: %d %s", resp.StatusCode, b)
	}

	resp, _ = e.postCookie("/api/v1/auth/logout", c.Value, "", nil)
	if resp.StatusCode != 204 || sessionCookie(t, resp).MaxAge >= 0 {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if resp, _ := e.getCookie("/api/v1/auth/me", c.Value); resp.StatusCode != 401 {
		t.Fatalf("the session after logout: %d", resp.StatusCode)
	}
}

// TestMalformedCredentials: a malformed Authorization header or an
// oversize cookie is a clear 401 naming what is wrong, and changes
// nothing.
func TestMalformedCredentials(t *testing.T) {
	e := newEnv(t)
	size := e.head().JournalSize
	for _, c := range []struct{ header, cookie, code string }{
		{header: "Bearer", code: "bad_authorization"},
		{header: "Token abc", code: "bad_authorization"},
		{header: "Bearer " + strings.Repeat("a", 600), code: "bad_authorization"},
		{cookie: strings.Repeat("s", 300), code: "bad_session_cookie"},
		{header: "Bearer not-a-token", code: "unauthenticated"},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/search?q=x", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: c.cookie})
		}
		resp, b := e.send(req)
		if resp.StatusCode != 401 || !strings.Contains(string(b), `"`+c.code+`"`) {
			t.Errorf("%q / cookie of %d bytes: %d %s, want 401 %s", c.header, len(c.cookie), resp.StatusCode, b, c.code)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/search?q=x", nil)
	req.Header.Add("Authorization", "Bearer "+e.token)
	req.Header.Add("Authorization", "Bearer "+e.token)
	if resp, b := e.send(req); resp.StatusCode != 401 || !strings.Contains(string(b), "2 times") {
		t.Errorf("two Authorization headers: %d %s", resp.StatusCode, b)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("refused requests journaled %d events", h.JournalSize-size)
	}
}

// TestCrossSiteWritesRefused: every state-changing route of the table
// (every method but GET and HEAD, the login included: a forged login is a
// CSRF too) sent with a valid session cookie from another site — by
// Sec-Fetch-Site, and by Origin for browsers without it — is refused 403
// cross_origin before its handler runs, and nothing is journaled. The
// same request from the archive's own pages is not refused as cross-site.
func TestCrossSiteWritesRefused(t *testing.T) {
	e := newEnv(t)
	e.auth.UserWith(&auth.Identity{User: "pat", Roles: archivetest.AllRoles}, "correct horse")
	resp, b := e.postCookie("/api/v1/auth/login", "", `{"user":"pat","password":"correct horse"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	cookie := sessionCookie(t, resp).Value
	size := e.head().JournalSize
	writes := 0
	for _, rt := range httpapi.New(e.r, httpapi.Options{}).Routes() {
		method := rt.Method()
		if method == "GET" || method == "HEAD" {
			continue
		}
		if method == "" {
			method = "POST"
		}
		writes++
		for _, hdr := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
			req, _ := http.NewRequest(method, e.srv.URL+concrete(rt.Path()), strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: cookie})
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, b := e.send(req)
			if resp.StatusCode != 403 || !strings.Contains(string(b), "cross_origin") {
				t.Errorf("%s %v with the session cookie: %d %s, want 403 cross_origin", rt.Pattern, hdr, resp.StatusCode, b)
			}
		}
	}
	if writes < 12 {
		t.Fatalf("%d state-changing routes: the table is not the server's", writes)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("refused cross-site writes journaled %d events", h.JournalSize-size)
	}
	// Same-origin: the archive's own page may write.
	resp, b = e.postCookie("/api/v1/alerts/actions", cookie, `{"action":"comment","alerts":[999],"note":"x"}`, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode == 403 {
		t.Fatalf("same-origin write refused: %s", b)
	}
}
