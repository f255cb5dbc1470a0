package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/auth/oidc/oidctest"
	"go.yaml.in/yaml/v3"
)

// harness is a site with the relying party mounted at /login/{issuer} and
// /callback, and real OIDC providers on 127.0.0.1.
type harness struct {
	t     *testing.T
	app   *httptest.Server
	rp    *oidc.RP
	provs map[string]*oidctest.Provider
	clock atomic.Int64 // added to time.Now, in nanoseconds

	mu     sync.Mutex
	claims *oidc.Claims
	err    error
}

type issuerSetup struct {
	name  string
	users []oidctest.User
	edit  func(*oidc.Issuer)
}

func alice() oidctest.User {
	return oidctest.User{Subject: "00u-alice", Username: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"compliance", "wxarchive-reviewers"}}
}

func newHarness(t *testing.T, opts oidc.Options, setups ...issuerSetup) *harness {
	t.Helper()
	h := &harness{t: t, provs: map[string]*oidctest.Provider{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/{issuer}", func(w http.ResponseWriter, r *http.Request) {
		if err := h.rp.Begin(w, r, r.PathValue("issuer"), r.URL.Query().Get("return")); err != nil {
			h.record(nil, err)
			http.Error(w, "sign-in could not start", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := h.rp.Complete(r)
		h.record(c, err)
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusUnauthorized) // generic, whatever the check
			return
		}
		fmt.Fprintln(w, "signed in")
	})
	h.app = httptest.NewServer(mux)
	t.Cleanup(h.app.Close)
	if len(setups) == 0 {
		setups = []issuerSetup{{name: "corp", users: []oidctest.User{alice()}}}
	}
	var cfg oidc.Config
	for _, s := range setups {
		p, err := oidctest.New(oidctest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		secret := "secret-of-" + s.name
		p.AddClient(oidctest.Client{ID: "wxarchive-" + s.name, Secret: secret, RedirectURIs: []string{h.app.URL + "/callback"}})
		for _, u := range s.users {
			p.AddUser(u)
		}
		env := "WXA_TEST_OIDC_SECRET_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
		t.Setenv(env, secret)
		is := oidc.Issuer{
			Name: s.name, IssuerURL: p.URL, ClientID: "wxarchive-" + s.name,
			ClientSecret: oidc.Secret{Env: env}, RedirectURL: h.app.URL + "/callback",
		}
		if s.edit != nil {
			s.edit(&is)
		}
		cfg.Issuers = append(cfg.Issuers, is)
		h.provs[s.name] = p
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(h.clock.Load())) }
	}
	rp, err := oidc.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.rp = rp
	return h
}

func (h *harness) record(c *oidc.Claims, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claims, h.err = c, err
}

func (h *harness) result() (*oidc.Claims, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.claims, h.err
	h.claims, h.err = nil, nil
	return c, err
}

// browser is an http.Client with its own cookie jar that stops before
// the site's callback, so a test can choose who visits it.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// begin starts a sign-in and follows the provider's redirects up to the
// callback URL, which it returns without visiting.
func (b *browser) begin(h *harness, issuer, returnTo string) string {
	b.t.Helper()
	u := h.app.URL + "/login/" + issuer
	if returnTo != "" {
		u += "?return=" + url.QueryEscape(returnTo)
	}
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.app.URL+"/callback?") {
		b.t.Fatalf("begin %s: %s, Location %q; want a redirect to the callback", issuer, resp.Status, loc)
	}
	return loc
}

// visit GETs u (the callback) and returns the status.
func (b *browser) visit(u string) int {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *browser) login(h *harness, issuer, returnTo string) (*oidc.Claims, error) {
	b.t.Helper()
	b.visit(b.begin(h, issuer, returnTo))
	return h.result()
}

// refusedBy asserts err is a *LoginError of check c, a 401 for the edge.
func refusedBy(t *testing.T, err error, c oidc.Check) *oidc.LoginError {
	t.Helper()
	var le *oidc.LoginError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoginError (%s)", err, c)
	}
	if le.Check != c {
		t.Fatalf("refused by %q (%v), want %q", le.Check, le, c)
	}
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("%v does not match auth.ErrUnauthenticated", err)
	}
	return le
}

func TestLoginEndToEnd(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	b := newBrowser(t)
	step := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := step.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	// Begin: a redirect to the provider with PKCE, state and nonce, and
	// the binding cookie.
	first := get(h.app.URL + "/login/corp?return=%2Falerts%3Fqueue%3Dmine")
	if first.StatusCode != http.StatusFound {
		t.Fatalf("begin: %s", first.Status)
	}
	authz, err := url.Parse(first.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := authz.Query()
	if !strings.HasPrefix(authz.String(), h.provs["corp"].URL+"/authorize?") || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		len(q.Get("state")) != 43 || len(q.Get("nonce")) != 43 || q.Get("state") == q.Get("nonce") ||
		q.Get("client_id") != "wxarchive-corp" || q.Get("redirect_uri") != h.app.URL+"/callback" ||
		q.Get("scope") != "openid profile email" || q.Has("code_verifier") {
		t.Errorf("authorization request %s", authz)
	}
	if first.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", first.Header.Get("Cache-Control"))
	}
	var bind *http.Cookie
	for _, c := range first.Cookies() {
		if c.Name == "wxarchive-oidc" {
			bind = c
		}
	}
	if bind == nil || !bind.HttpOnly || bind.SameSite != http.SameSiteLaxMode || bind.Path != "/" || bind.MaxAge != 600 || bind.Secure {
		t.Fatalf("binding cookie %+v: want HttpOnly, SameSite=Lax, Path=/, MaxAge=600 (not Secure on http)", bind)
	}
	if strings.Contains(bind.Value, q.Get("state")) {
		t.Error("the cookie carries the state")
	}

	// The provider signs the user in and sends the browser back.
	back := get(authz.String())
	cb, err := url.Parse(back.Header.Get("Location"))
	if err != nil || back.StatusCode != http.StatusFound || cb.Query().Get("state") != q.Get("state") || cb.Query().Get("code") == "" {
		t.Fatalf("authorize: %s %q", back.Status, back.Header.Get("Location"))
	}
	if done := get(cb.String()); done.StatusCode != http.StatusOK {
		t.Fatalf("callback: %s", done.Status)
	}
	c, err := h.result()
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	want := oidc.Claims{
		Provider: "corp", Issuer: h.provs["corp"].URL, Subject: "00u-alice", Username: "alice",
		Email: "alice@example.com", Groups: []string{"compliance", "wxarchive-reviewers"}, ReturnTo: "/alerts?queue=mine",
	}
	if !equalClaims(*c, want) {
		t.Errorf("claims %+v\nwant   %+v", *c, want)
	}
	if got := h.rp.Issuers(); !slices.Equal(got, []string{"corp"}) {
		t.Errorf("Issuers() = %v", got)
	}

	// A second Begin in the same browser keeps its binding: two tabs can
	// both sign in.
	again := get(h.app.URL + "/login/corp")
	for _, c := range again.Cookies() {
		if c.Name == "wxarchive-oidc" && c.Value != bind.Value {
			t.Error("a second Begin replaced the browser's binding")
		}
	}
}

func mustRequest(t *testing.T, u string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func equalClaims(a, b oidc.Claims) bool {
	return a.Provider == b.Provider && a.Issuer == b.Issuer && a.Subject == b.Subject && a.Username == b.Username &&
		a.Email == b.Email && slices.Equal(a.Groups, b.Groups) && a.ReturnTo == b.ReturnTo
}

func ptr[T any](v T) *T { return &v }

// Each bad token or answer the provider can be made to give is refused by
// the check that catches it — and nothing else lets it through.
func TestBadTokensRefused(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	cases := []struct {
		name  string
		knobs oidctest.Knobs
		check oidc.Check
		says  string
	}{
		{"forged signature (a key not in the JWKS)", oidctest.Knobs{ForeignKey: true}, oidc.CheckSignature, "does not verify"},
		{"algorithm the issuer does not announce", oidctest.Knobs{Algorithm: "RS512"}, oidc.CheckSignature, "RS512"},
		{"expired", oidctest.Knobs{ExpiresIn: -10 * time.Minute}, oidc.CheckExpiry, "expired"},
		{"issued in the future", oidctest.Knobs{IssuedAtShift: time.Hour}, oidc.CheckExpiry, "future"},
		{"wrong audience", oidctest.Knobs{Audience: []string{"another-app"}}, oidc.CheckAudience, "another-app"},
		{"several audiences without azp", oidctest.Knobs{Audience: []string{"wxarchive-corp", "another-app"}}, oidc.CheckAudience, "without azp"},
		{"azp of another client", oidctest.Knobs{AZP: "another-app"}, oidc.CheckAudience, "azp"},
		{"wrong issuer", oidctest.Knobs{Issuer: "https://evil.example"}, oidc.CheckIssuer, "evil.example"},
		{"wrong nonce", oidctest.Knobs{Nonce: ptr("not-the-nonce")}, oidc.CheckNonce, "not the one"},
		{"empty nonce", oidctest.Knobs{Nonce: ptr("")}, oidc.CheckNonce, "not the one"},
		{"no nonce", oidctest.Knobs{OmitNonce: true}, oidc.CheckNonce, "no nonce"},
		{"no id_token", oidctest.Knobs{OmitIDToken: true}, oidc.CheckToken, "no id_token"},
		{"the user declined", oidctest.Knobs{AuthorizeError: "access_denied"}, oidc.CheckProvider, "access_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.provs["corp"].SetKnobs(tc.knobs)
			defer h.provs["corp"].SetKnobs(oidctest.Knobs{})
			b := newBrowser(t)
			status := b.visit(b.begin(h, "corp", ""))
			c, err := h.result()
			if c != nil {
				t.Fatalf("signed in as %+v", c)
			}
			le := refusedBy(t, err, tc.check)
			if le.Issuer != "corp" || !strings.Contains(le.Reason, tc.says) {
				t.Errorf("refusal %v: want issuer corp and a reason saying %q", le, tc.says)
			}
			if status != http.StatusUnauthorized {
				t.Errorf("callback answered %d", status)
			}
		})
	}
	// And with the knobs off again the same provider signs in.
	if _, err := newBrowser(t).login(h, "corp", ""); err != nil {
		t.Fatalf("a good token after the bad ones: %v", err)
	}
}

func TestReplayedState(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	b := newBrowser(t)
	cb := b.begin(h, "corp", "")
	b.visit(cb)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	calls := h.provs["corp"].TokenRequests()
	// The same callback again, from the same browser (a reload, or the
	// URL copied from history).
	b.visit(cb)
	_, err := h.result()
	refusedBy(t, err, oidc.CheckState)
	if !errors.Is(err, oidc.ErrStateReplayed) {
		t.Errorf("%v, want ErrStateReplayed", err)
	}
	if n := h.provs["corp"].TokenRequests(); n != calls {
		t.Errorf("the replayed code reached the token endpoint (%d requests, was %d)", n, calls)
	}
}

func TestStateFromAnotherBrowser(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	victim := newBrowser(t)
	cb := victim.begin(h, "corp", "")

	// A browser without the binding cookie (login CSRF: an attacker's
	// callback URL planted in someone else's browser).
	newBrowser(t).visit(cb)
	_, err := h.result()
	refusedBy(t, err, oidc.CheckBrowser)

	// A browser with a binding cookie of its own.
	other := newBrowser(t)
	other.begin(h, "corp", "")
	cb2 := victim.begin(h, "corp", "")
	other.visit(cb2)
	_, err = h.result()
	refusedBy(t, err, oidc.CheckBrowser)

	// A state shown to another browser is spent: the first browser cannot
	// use it either, and starts again.
	victim.visit(cb2)
	_, err = h.result()
	refusedBy(t, err, oidc.CheckState)
	if _, err := victim.login(h, "corp", ""); err != nil {
		t.Fatalf("a fresh sign-in: %v", err)
	}
}

func TestStateUnknownMissingExpired(t *testing.T) {
	h := newHarness(t, oidc.Options{StateTTL: time.Minute})
	b := newBrowser(t)
	cb := b.begin(h, "corp", "")
	u, _ := url.Parse(cb)

	for name, q := range map[string]string{
		"no state":      "code=" + u.Query().Get("code"),
		"unknown state": "code=" + u.Query().Get("code") + "&state=made-up",
	} {
		b.visit(h.app.URL + "/callback?" + q)
		_, err := h.result()
		refusedBy(t, err, oidc.CheckState)
		if !errors.Is(err, oidc.ErrStateUnknown) {
			t.Errorf("%s: %v, want ErrStateUnknown", name, err)
		}
	}

	h.clock.Store(int64(time.Minute + time.Second))
	b.visit(cb)
	_, err := h.result()
	refusedBy(t, err, oidc.CheckState)
	if !errors.Is(err, oidc.ErrStateExpired) {
		t.Errorf("%v, want ErrStateExpired", err)
	}
}

func TestCodeUsedTwice(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	b := newBrowser(t)
	first := b.begin(h, "corp", "")
	b.visit(first)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	// A new sign-in in the same browser, answered with the first (spent)
	// code: the state holds, the provider refuses the code.
	second, _ := url.Parse(b.begin(h, "corp", ""))
	q := second.Query()
	old, _ := url.Parse(first)
	q.Set("code", old.Query().Get("code"))
	second.RawQuery = q.Encode()
	b.visit(second.String())
	_, err := h.result()
	le := refusedBy(t, err, oidc.CheckExchange)
	if !strings.Contains(le.Reason, "invalid_grant") || !strings.Contains(le.Reason, "already used") {
		t.Errorf("reason %q, want the provider's invalid_grant (already used)", le.Reason)
	}
}

// tamperedStates changes the PKCE verifier of every sign-in it hands back:
// what an RP that lost (or never sent) its verifier would send.
type tamperedStates struct {
	oidc.StateStore
	verifier func(string) string
}

func (s tamperedStates) Take(ctx context.Context, key string, now time.Time) (oidc.Pending, error) {
	p, err := s.StateStore.Take(ctx, key, now)
	p.Verifier = s.verifier(p.Verifier)
	return p, err
}

func TestPKCEVerifierChecked(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verifier func(string) string
		says     string
	}{
		{"missing", func(string) string { return "" }, "code_verifier required"},
		{"another sign-in's", func(string) string { return strings.Repeat("A", 43) }, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, oidc.Options{States: tamperedStates{oidc.NewMemoryStates(0), tc.verifier}})
			_, err := newBrowser(t).login(h, "corp", "")
			le := refusedBy(t, err, oidc.CheckExchange)
			if !strings.Contains(le.Reason, tc.says) {
				t.Errorf("reason %q, want %q", le.Reason, tc.says)
			}
		})
	}
}

func TestKeycloakNestedGroups(t *testing.T) {
	kc := oidctest.User{Subject: "f3a1-bob", Username: "bob", Email: "bob@example.com", EmailVerified: true,
		Claims: map[string]any{
			"realm_access":    map[string]any{"roles": []string{"principal", "offline_access", "principal"}},
			"resource_access": map[string]any{"archive.prod": map[string]any{"roles": []string{"auditor"}}},
		}}
	h := newHarness(t, oidc.Options{},
		issuerSetup{name: "kc", users: []oidctest.User{kc}, edit: func(is *oidc.Issuer) { is.GroupsClaim = "realm_access.roles" }},
		issuerSetup{name: "kc-client", users: []oidctest.User{kc}, edit: func(is *oidc.Issuer) { is.GroupsClaim = `resource_access."archive.prod".roles` }},
		issuerSetup{name: "kc-wrong", users: []oidctest.User{kc}, edit: func(is *oidc.Issuer) { is.GroupsClaim = "realm_access" }},
	)
	c, err := newBrowser(t).login(h, "kc", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Groups, []string{"principal", "offline_access"}) {
		t.Errorf("realm roles %v", c.Groups)
	}
	if c, err = newBrowser(t).login(h, "kc-client", ""); err != nil || !slices.Equal(c.Groups, []string{"auditor"}) {
		t.Errorf("client roles %v, %v", c, err)
	}
	// A path that ends on an object, not a list: refused, not "no groups".
	_, err = newBrowser(t).login(h, "kc-wrong", "")
	le := refusedBy(t, err, oidc.CheckClaims)
	if !strings.Contains(le.Reason, "realm_access") {
		t.Errorf("reason %q", le.Reason)
	}
}

func TestUsernameClaims(t *testing.T) {
	h := newHarness(t, oidc.Options{},
		issuerSetup{name: "default", users: []oidctest.User{
			{Subject: "s-1", Email: "carol@example.com", EmailVerified: true},
			{Subject: "s-2", Email: "dave@example.com", EmailVerified: false},
			{Subject: "s-3", Username: "erin\x07", Email: "erin@example.com"},
		}},
		issuerSetup{name: "by-email", users: []oidctest.User{{Subject: "s-4", Username: "frank"}},
			edit: func(is *oidc.Issuer) { is.UsernameClaim = "email" }},
	)
	// login_hint picks the provider's user: the RP does not send one, so
	// add it to the authorization request by hand.
	hinted := func(issuer, hint string) (*oidc.Claims, error) {
		b := newBrowser(t)
		resp, err := (&http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(h.app.URL + "/login/" + issuer)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, _ := url.Parse(resp.Header.Get("Location"))
		q := u.Query()
		q.Set("login_hint", hint)
		u.RawQuery = q.Encode()
		resp, err = b.c.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		b.visit(resp.Header.Get("Location"))
		return h.result()
	}
	if c, err := hinted("default", "s-1"); err != nil || c.Username != "carol@example.com" {
		t.Errorf("no preferred_username: %+v %v, want the email", c, err)
	}
	if c, err := hinted("default", "s-2"); err != nil || c.Username != "s-2" || c.Email != "" {
		t.Errorf("unverified email: %+v %v, want sub and no email", c, err)
	}
	_, err := hinted("default", "erin\x07")
	refusedBy(t, err, oidc.CheckClaims)
	_, err = hinted("by-email", "frank")
	le := refusedBy(t, err, oidc.CheckClaims)
	if !strings.Contains(le.Reason, "no email claim") {
		t.Errorf("reason %q", le.Reason)
	}
}

func TestEntraGroupsOverage(t *testing.T) {
	u := alice()
	u.Groups = nil
	u.Claims = map[string]any{
		"_claim_names":   map[string]any{"groups": "src1"},
		"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
	}
	h := newHarness(t, oidc.Options{}, issuerSetup{name: "entra", users: []oidctest.User{u}})
	_, err := newBrowser(t).login(h, "entra", "")
	le := refusedBy(t, err, oidc.CheckClaims)
	if !strings.Contains(le.Reason, "too many groups") {
		t.Errorf("reason %q", le.Reason)
	}
}

func TestTwoIssuers(t *testing.T) {
	bob := oidctest.User{Subject: "kc-bob", Username: "bob", Groups: []string{"auditors"}}
	h := newHarness(t, oidc.Options{},
		issuerSetup{name: "corp", users: []oidctest.User{alice()}},
		issuerSetup{name: "keycloak", users: []oidctest.User{bob}},
	)
	if got := h.rp.Issuers(); !slices.Equal(got, []string{"corp", "keycloak"}) {
		t.Errorf("Issuers() = %v", got)
	}
	b := newBrowser(t)
	a, err := b.login(h, "corp", "")
	if err != nil || a.Provider != "corp" || a.Issuer != h.provs["corp"].URL || a.Username != "alice" {
		t.Fatalf("corp: %+v %v", a, err)
	}
	k, err := b.login(h, "keycloak", "/")
	if err != nil || k.Provider != "keycloak" || k.Issuer != h.provs["keycloak"].URL || k.Username != "bob" || !slices.Equal(k.Groups, []string{"auditors"}) {
		t.Fatalf("keycloak: %+v %v", k, err)
	}

	// Mix-up: a sign-in begun with keycloak answered with corp's code and
	// iss (RFC 9207).
	kcb, _ := url.Parse(b.begin(h, "keycloak", ""))
	ccb, _ := url.Parse(b.begin(h, "corp", ""))
	q := ccb.Query()
	q.Set("state", kcb.Query().Get("state"))
	mixed := *kcb
	mixed.RawQuery = q.Encode()
	b.visit(mixed.String())
	_, err = h.result()
	le := refusedBy(t, err, oidc.CheckIssuer)
	if le.Issuer != "keycloak" {
		t.Errorf("refusal names %q", le.Issuer)
	}
	// Without the iss parameter the code goes to keycloak's token
	// endpoint, which does not know it.
	q.Del("iss")
	mixed.RawQuery = q.Encode()
	kcb2, _ := url.Parse(b.begin(h, "keycloak", ""))
	q.Set("state", kcb2.Query().Get("state"))
	mixed.RawQuery = q.Encode()
	b.visit(mixed.String())
	_, err = h.result()
	refusedBy(t, err, oidc.CheckExchange)
}

func TestBeginRefusesBadInput(t *testing.T) {
	h := newHarness(t, oidc.Options{})
	for _, tc := range []struct {
		issuer, returnTo string
		want             error
	}{
		{"nope", "", oidc.ErrUnknownIssuer},
		{"corp", "//evil.example/", oidc.ErrReturnTo},
		{"corp", "https://evil.example/", oidc.ErrReturnTo},
		{"corp", "/\\evil.example", oidc.ErrReturnTo},
		{"corp", "/\t/evil.example", oidc.ErrReturnTo},
		{"corp", "alerts", oidc.ErrReturnTo},
	} {
		w := httptest.NewRecorder()
		err := h.rp.Begin(w, httptest.NewRequest(http.MethodGet, "/login", nil), tc.issuer, tc.returnTo)
		if !errors.Is(err, tc.want) {
			t.Errorf("Begin(%q, %q) = %v, want %v", tc.issuer, tc.returnTo, err, tc.want)
		}
		if len(w.Header()) != 0 || w.Body.Len() != 0 {
			t.Errorf("Begin(%q, %q) wrote %v %q", tc.issuer, tc.returnTo, w.Header(), w.Body)
		}
	}
}

func TestDiscoveryBoundedAndRetried(t *testing.T) {
	var mode atomic.Int32 // 0: huge document, 1: not found, 2: a real provider behind
	prov, err := oidctest.New(oidctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"issuer":"`+strings.Repeat("x", 2<<20)+`"}`)
		case 1:
			http.NotFound(w, r)
		case 2:
			base := "http://" + r.Host
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
				base, base+"/authorize", base+"/token", base+"/jwks")
		}
	}))
	defer front.Close()
	t.Setenv("WXA_TEST_DISC", "s")
	rp, err := oidc.New(oidc.Config{Issuers: []oidc.Issuer{{
		Name: "corp", IssuerURL: front.URL, ClientID: "c", ClientSecret: oidc.Secret{Env: "WXA_TEST_DISC"},
		RedirectURL: "http://127.0.0.1/callback",
	}}}, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []int32{0, 1} {
		mode.Store(m)
		w := httptest.NewRecorder()
		err := rp.Begin(w, httptest.NewRequest(http.MethodGet, "/login", nil), "corp", "")
		var le *oidc.LoginError
		if !errors.As(err, &le) || le.Check != oidc.CheckDiscovery || !errors.Is(err, oidc.ErrUnavailable) || errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("mode %d: %v, want a discovery failure matching ErrUnavailable only", m, err)
		}
		if m == 0 && !strings.Contains(le.Reason, "size limit") {
			t.Errorf("oversize document: %q", le.Reason)
		}
		if w.Code != http.StatusOK || len(w.Header()) != 0 {
			t.Errorf("mode %d: Begin wrote an answer", m)
		}
	}
	// A failed discovery is not kept: once the provider answers, sign-in
	// starts.
	mode.Store(2)
	w := httptest.NewRecorder()
	if err := rp.Begin(w, httptest.NewRequest(http.MethodGet, "/login", nil), "corp", ""); err != nil {
		t.Fatalf("after the provider recovered: %v", err)
	}
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || !strings.HasPrefix(loc, front.URL+"/authorize?") {
		t.Errorf("after the provider recovered: %d %q", w.Code, loc)
	}
	// And the discovery document is not read again.
	mode.Store(1)
	if err := rp.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/login", nil), "corp", ""); err != nil {
		t.Errorf("a cached discovery: %v", err)
	}
}

func TestSecretYAML(t *testing.T) {
	var cfg oidc.Config
	src := "issuers:\n  - name: corp\n    issuer: https://idp.example\n    client_id: c\n    client_secret: hunter2\n    redirect_url: https://a.example/cb\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "issuers[0].client_secret: a secret must not be written in the configuration file") ||
		!strings.Contains(err.Error(), "line 5") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("inline secret: %v", err)
	}
	bad := "issuers:\n  - name: corp\n    client_secret: {env: A, vault: B}\n"
	if err := yaml.Unmarshal([]byte(bad), &cfg); err == nil || !strings.Contains(err.Error(), `line 3: unknown key "vault"`) {
		t.Errorf("unknown key: %v", err)
	}
	good := "issuers:\n  - name: corp\n    issuer: https://idp.example\n    client_id: c\n    client_secret: {env: WXA_X}\n    redirect_url: https://a.example/cb\n    groups_claim: realm_access.roles\n"
	cfg = oidc.Config{}
	if err := yaml.Unmarshal([]byte(good), &cfg); err != nil || cfg.Validate() != nil || cfg.Issuers[0].ClientSecret.Env != "WXA_X" {
		t.Errorf("good config: %v %v %+v", err, cfg.Validate(), cfg)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cfg := oidc.Config{Issuers: []oidc.Issuer{
		{Name: "Corp!", IssuerURL: "http://idp.example.com", ClientSecret: oidc.Secret{Env: "X", File: "/y"}, RedirectURL: "https://a.example/cb?x=1", GroupsClaim: "realm_access..roles"},
		{Name: "kc", IssuerURL: "https://kc.example/realms/r", ClientID: "c", RedirectURL: "https://a.example/cb", Scopes: []string{"a b"}},
		{Name: "kc", IssuerURL: "https://kc.example/realms/r", ClientID: "c", ClientSecret: oidc.Secret{Env: "X"}, RedirectURL: "https://a.example/cb", UsernameClaim: `"open`},
	}}
	err := cfg.Validate()
	var ce *oidc.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Validate() = %v", err)
	}
	for _, want := range []string{
		"issuers[0].name", "issuers[0].issuer: \"http://idp.example.com\": http is allowed on a loopback address only",
		"issuers[0].client_id: required", "issuers[0].client_secret: give env or file, not both",
		"issuers[0].redirect_url", "issuers[0].groups_claim", "issuers[1].client_secret: required",
		"issuers[1].scopes[0]", "issuers[2].name: \"kc\" is also the name of issuers[1]", "issuers[2].username_claim",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	if err := (&oidc.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "at least one issuer") {
		t.Errorf("empty config: %v", err)
	}

	// New reads the secrets and names the field of one it cannot read,
	// never its value.
	dir := t.TempDir()
	good := oidc.Issuer{Name: "a", IssuerURL: "https://idp.example", ClientID: "c", RedirectURL: "https://a.example/cb"}
	missing := good
	missing.ClientSecret = oidc.Secret{File: filepath.Join(dir, "nope")}
	env := good
	env.Name = "b"
	env.ClientSecret = oidc.Secret{Env: "WXA_TEST_UNSET_SECRET"}
	_, err = oidc.New(oidc.Config{Issuers: []oidc.Issuer{missing, env}}, oidc.Options{})
	if err == nil || !strings.Contains(err.Error(), "issuers[0].client_secret: read "+filepath.Join(dir, "nope")) ||
		!strings.Contains(err.Error(), "issuers[1].client_secret: environment variable WXA_TEST_UNSET_SECRET is not set") {
		t.Errorf("New: %v", err)
	}
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := good
	ok.ClientSecret = oidc.Secret{File: f}
	if _, err := oidc.New(oidc.Config{Issuers: []oidc.Issuer{ok}}, oidc.Options{}); err != nil {
		t.Errorf("New with a secret file: %v", err)
	}
}

// With an https redirect URL the binding cookie is Secure and __Host-
// (a sibling subdomain cannot plant one), and only that cookie binds.
func TestSecureBindingCookie(t *testing.T) {
	const site = "https://archive.example"
	p, err := oidctest.New(oidctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.AddClient(oidctest.Client{ID: "app", Secret: "s", RedirectURIs: []string{site + "/auth/oidc/corp/callback"}})
	p.AddUser(alice())
	t.Setenv("WXA_TEST_SECURE", "s")
	rp, err := oidc.New(oidc.Config{Issuers: []oidc.Issuer{{
		Name: "corp", IssuerURL: p.URL, ClientID: "app", ClientSecret: oidc.Secret{Env: "WXA_TEST_SECURE"},
		RedirectURL: site + "/auth/oidc/corp/callback",
	}}}, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	callback := func() (string, *http.Cookie) {
		w := httptest.NewRecorder()
		if err := rp.Begin(w, httptest.NewRequest(http.MethodGet, site+"/auth/oidc/corp/login", nil), "corp", "/search"); err != nil {
			t.Fatal(err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		c := cookies[0]
		if c.Name != "__Host-wxarchive-oidc" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("binding cookie %+v", c)
		}
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location"), c
	}

	cb, c := callback()
	r := httptest.NewRequest(http.MethodGet, cb, nil)
	r.AddCookie(&http.Cookie{Name: "wxarchive-oidc", Value: c.Value}) // the plain name does not bind
	_, err = rp.Complete(r)
	refusedBy(t, err, oidc.CheckBrowser)

	cb, c = callback()
	r = httptest.NewRequest(http.MethodGet, cb, nil)
	r.AddCookie(c)
	got, err := rp.Complete(r)
	if err != nil || got.Username != "alice" || got.ReturnTo != "/search" {
		t.Fatalf("Complete: %+v %v", got, err)
	}
}
