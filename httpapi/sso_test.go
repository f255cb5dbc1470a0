package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/auth/oidc/oidctest"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// TestSingleSignOn: end to end against a real OIDC provider started by
// the test, with the archive's own identity store: a sign-in maps the
// user's groups to roles (auth.oidc_groups), starts a session in the
// cookie and journals the mapping; the same callback replayed, a user
// whose groups map to no role, and a forged token are refused with 401
// or 403 and no session.
func TestSingleSignOn(t *testing.T) {
	ctx := context.Background()
	prov, err := oidctest.New(oidctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	prov.AddUser(oidctest.User{Subject: "s-alice", Username: "alice", Groups: []string{"wx-compliance", "staff"}})
	prov.AddUser(oidctest.User{Subject: "s-bob", Username: "bob", Groups: []string{"staff"}})

	dir := archivetest.InitDir(t, repo.InitOptions{Setup: archivetest.NoPolicies})
	cfg := filepath.Join(dir, repo.ConfigFile)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, "auth:\n  oidc_groups: {wx-compliance: [principal]}\n"...), 0o644)
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	redirect := base + "/auth/oidc/corp/callback"
	prov.AddClient(oidctest.Client{ID: "wxarchive", Secret: "client-secret", RedirectURIs: []string{redirect}})
	t.Setenv("WXA_TEST_SSO_SECRET", "client-secret")
	rp, err := oidc.New(oidc.Config{Issuers: []oidc.Issuer{{Name: "corp", IssuerURL: prov.URL, ClientID: "wxarchive",
		ClientSecret: oidc.Secret{Env: "WXA_TEST_SSO_SECRET"}, RedirectURL: redirect}}}, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: httpapi.New(r, httpapi.Options{OIDC: rp})}}
	srv.Start()
	defer srv.Close()

	// browser follows redirects until it is back on the archive's "/".
	// The provider signs in whom the authorize request's login_hint names
	// (the relying party sends none: the browser "types" it).
	var hint string
	follow := func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), prov.URL+"/authorize") {
			q := req.URL.Query()
			q.Set("login_hint", hint)
			req.URL.RawQuery = q.Encode()
		}
		if strings.HasPrefix(req.URL.String(), base) && !strings.HasPrefix(req.URL.Path, "/auth/oidc/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: follow}
	}
	signIn := func(c *http.Client, who string) (*http.Response, string) {
		t.Helper()
		hint = who
		resp, err := c.Get(base + "/auth/oidc/corp/login?return=/review")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	me := func(c *http.Client) (int, map[string]any) {
		resp, err := c.Get(base + "/api/v1/auth/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}

	alice := browser()
	resp, body := signIn(alice, "alice")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review" {
		t.Fatalf("alice's sign-in: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if st, v := me(alice); st != 200 || v["user"] != "alice" || v["method"] != "oidc" || !strings.Contains(jsonOf(v["roles"]), "principal") {
		t.Fatalf("alice after sign-in: %d %v", st, v)
	}
	if !journalHas(t, r, archive.EventOIDCMapped, "alice") {
		t.Fatal("the sign-in is not journaled")
	}

	// bob's groups map to no role: refused, no session.
	bob := browser()
	resp, _ = signIn(bob, "bob")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob's sign-in: %d", resp.StatusCode)
	}
	if st, _ := me(bob); st != 401 {
		t.Fatalf("bob has a session: %d", st)
	}

	// A forged ID token (a key not in the JWKS): the same generic 401.
	prov.SetKnobs(oidctest.Knobs{ForeignKey: true})
	mallory := browser()
	resp, body = signIn(mallory, "alice")
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "signature") {
		t.Fatalf("forged token: %d %s", resp.StatusCode, body)
	}
	if st, _ := me(mallory); st != 401 {
		t.Fatalf("a forged token gave a session: %d", st)
	}
	prov.SetKnobs(oidctest.Knobs{})

	// A callback replayed (its state is single-use): refused.
	c := browser()
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/auth/oidc/corp/callback") {
			return http.ErrUseLastResponse
		}
		return follow(req, via)
	}
	resp, _ = signIn(c, "alice")
	cb := resp.Header.Get("Location")
	if !strings.Contains(cb, "state=") {
		t.Fatalf("no callback URL: %d %q", resp.StatusCode, cb)
	}
	for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(cb)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("callback use %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// journalHas reports whether an event of typ mentioning s was journaled.
func journalHas(t *testing.T, r *repo.Repo, typ, s string) bool {
	t.Helper()
	ctx := context.Background()
	h, err := r.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	r.Store.Leaves(ctx, 0, h.JournalSize, func(_ uint64, _, leaf []byte) error {
		if strings.Contains(string(leaf), `"`+typ+`"`) && strings.Contains(string(leaf), s) {
			found = true
		}
		return nil
	})
	return found
}
