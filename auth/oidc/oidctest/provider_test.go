package oidctest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/wxarchive/wxarchive/auth/oidc/oidctest"
)

const redirect = "http://127.0.0.1:9/callback"

func start(t *testing.T, opts oidctest.Options) *oidctest.Provider {
	t.Helper()
	p, err := oidctest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.AddClient(oidctest.Client{ID: "app", Secret: "s3cret", RedirectURIs: []string{redirect}})
	p.AddUser(oidctest.User{Subject: "u1", Username: "alice", Email: "a@example.com", EmailVerified: true, Groups: []string{"g1"}})
	return p
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authorize asks for a code and returns the redirect's query.
func authorize(t *testing.T, p *oidctest.Provider, mod func(url.Values)) (int, url.Values) {
	t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect}, "scope": {"openid email"},
		"state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	resp, err := noFollow.Get(p.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return resp.StatusCode, nil
	}
	if !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("redirected to %q", loc)
	}
	u, _ := url.Parse(loc)
	return resp.StatusCode, u.Query()
}

// exchange posts to the token endpoint and returns the status and the
// decoded answer.
func exchange(t *testing.T, p *oidctest.Provider, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("app", "s3cret")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

func TestCodeFlow(t *testing.T) {
	p := start(t, oidctest.Options{})
	_, q := authorize(t, p, nil)
	if q.Get("state") != "st" || q.Get("iss") != p.URL || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	status, out := exchange(t, p, codeForm(q.Get("code")), true)
	if status != http.StatusOK || out["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", status, out)
	}
	// The ID token verifies with the JWKS and says what it should.
	resp, err := http.Get(p.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	jws, err := jose.ParseSigned(out["id_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys", jws.Signatures[0].Header.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	if c["iss"] != p.URL || c["aud"] != "app" || c["sub"] != "u1" || c["nonce"] != "nn" || c["preferred_username"] != "alice" ||
		c["email"] != "a@example.com" || c["email_verified"] != true {
		t.Errorf("claims %v", c)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 300 {
		t.Errorf("exp %v iat %v", exp, iat)
	}

	// client_secret_post works too.
	_, q = authorize(t, p, nil)
	form := codeForm(q.Get("code"))
	form.Set("client_id", "app")
	form.Set("client_secret", "s3cret")
	if status, out := exchange(t, p, form, false); status != http.StatusOK {
		t.Errorf("client_secret_post: %d %v", status, out)
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	p := start(t, oidctest.Options{})
	// Never a redirect to a URI the client did not register, nor for an
	// unknown client.
	for name, mod := range map[string]func(url.Values){
		"unregistered redirect_uri": func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"unknown client":            func(q url.Values) { q.Set("client_id", "other") },
	} {
		if status, q := authorize(t, p, mod); status != http.StatusBadRequest || q != nil {
			t.Errorf("%s: %d %v, want 400 without a redirect", name, status, q)
		}
	}
	for name, tc := range map[string]struct {
		mod  func(url.Values)
		want string
	}{
		"no PKCE":       {func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		"plain PKCE":    {func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		"no openid":     {func(q url.Values) { q.Set("scope", "email") }, "invalid_scope"},
		"implicit flow": {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		"unknown user":  {func(q url.Values) { q.Set("login_hint", "mallory") }, "login_required"},
	} {
		_, q := authorize(t, p, tc.mod)
		if q.Get("error") != tc.want || q.Get("code") != "" || q.Get("state") != "st" {
			t.Errorf("%s: %v, want error=%s and the state back", name, q, tc.want)
		}
	}
}

func TestTokenRefuses(t *testing.T) {
	var shift atomic.Int64
	p := start(t, oidctest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})
	code := func() string {
		_, q := authorize(t, p, nil)
		return q.Get("code")
	}
	cases := []struct {
		name   string
		form   func() url.Values
		basic  bool
		status int
		error  string
		says   string
	}{
		{"no client authentication", func() url.Values { return codeForm(code()) }, false, 401, "invalid_client", ""},
		{"wrong client secret", func() url.Values {
			f := codeForm(code())
			f.Set("client_id", "app")
			f.Set("client_secret", "guess")
			return f
		}, false, 401, "invalid_client", ""},
		{"unknown code", func() url.Values { return codeForm("made-up") }, true, 400, "invalid_grant", "unknown"},
		{"missing verifier", func() url.Values { f := codeForm(code()); f.Del("code_verifier"); return f }, true, 400, "invalid_grant", "code_verifier required"},
		{"wrong verifier", func() url.Values {
			f := codeForm(code())
			f.Set("code_verifier", strings.Repeat("x", 43))
			return f
		}, true, 400, "invalid_grant", "does not match"},
		{"other redirect_uri", func() url.Values {
			f := codeForm(code())
			f.Set("redirect_uri", "http://127.0.0.1:9/other")
			return f
		}, true, 400, "invalid_grant", "redirect_uri"},
		{"refresh grant", func() url.Values { f := codeForm(code()); f.Set("grant_type", "refresh_token"); return f }, true, 400, "unsupported_grant_type", ""},
	}
	for _, tc := range cases {
		status, out := exchange(t, p, tc.form(), tc.basic)
		if status != tc.status || out["error"] != tc.error || !strings.Contains(out["error_description"].(string), tc.says) || out["id_token"] != nil {
			t.Errorf("%s: %d %v, want %d %s (%s)", tc.name, status, out, tc.status, tc.error, tc.says)
		}
	}

	// A code works once, and a failed attempt spends it too.
	c := code()
	if status, _ := exchange(t, p, codeForm(c), true); status != http.StatusOK {
		t.Fatal("first use refused")
	}
	if status, out := exchange(t, p, codeForm(c), true); status != 400 || !strings.Contains(out["error_description"].(string), "already used") {
		t.Errorf("second use: %d %v", status, out)
	}
	c = code()
	bad := codeForm(c)
	bad.Set("code_verifier", strings.Repeat("y", 43))
	exchange(t, p, bad, true)
	if status, _ := exchange(t, p, codeForm(c), true); status != 400 {
		t.Errorf("a code after a failed attempt: %d", status)
	}
	// And expires.
	c = code()
	shift.Store(int64(2 * time.Minute))
	if status, out := exchange(t, p, codeForm(c), true); status != 400 || !strings.Contains(out["error_description"].(string), "expired") {
		t.Errorf("an expired code: %d %v", status, out)
	}
}
