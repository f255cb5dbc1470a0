// Package oidctest is an OpenID Connect provider for tests, on 127.0.0.1:
// discovery, a JWKS, the authorization endpoint (authorization code flow,
// PKCE S256, auto-consent for a configured user) and the token endpoint
// (client authentication, PKCE verification, single-use codes), issuing
// ID tokens signed with RS256. It implements the protocol the way a real
// provider does — it checks what a real one checks — and has knobs to
// issue the bad tokens a relying party must refuse.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is who /authorize signs in.
type User struct {
	Subject  string
	Username string // preferred_username ("" leaves the claim out)
	Email    string // "" leaves the claim out
	// EmailVerified is sent as email_verified when Email is set.
	EmailVerified bool
	// Groups is sent as the "groups" claim when not nil.
	Groups []string
	// Claims are more claims, set last (so they may replace the above):
	// e.g. {"realm_access": {"roles": [...]}} for a Keycloak-style token.
	Claims map[string]any
}

// Client is a registered relying party.
type Client struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

// Knobs make the provider issue the tokens a relying party must refuse.
// The zero value issues correct tokens.
type Knobs struct {
	ForeignKey    bool          // sign with a key that is not in the JWKS
	Audience      []string      // aud instead of the client id
	AZP           string        // an azp claim
	Issuer        string        // iss instead of the issuer URL
	Nonce         *string       // nonce instead of the one /authorize received (a pointer to "" sends an empty one)
	OmitNonce     bool          // no nonce claim at all
	ExpiresIn     time.Duration // ID token lifetime (5 minutes when 0; negative: already expired)
	IssuedAtShift time.Duration // added to iat
	Algorithm     string        // the alg header written with the RSA key (e.g. RS512)
	OmitIDToken   bool          // the token response carries no id_token
	// AuthorizeError makes /authorize redirect back with this error
	// ("access_denied") instead of a code.
	AuthorizeError string
}

// Provider is a running test provider. Its fields may not be changed
// once it serves; use the setters.
type Provider struct {
	// URL is the issuer identifier (http://127.0.0.1:PORT).
	URL string

	srv        *httptest.Server
	key        *rsa.PrivateKey
	foreign    *rsa.PrivateKey
	kid        string
	now        func() time.Time
	codeTTL    time.Duration
	mu         sync.Mutex
	clients    map[string]Client
	users      map[string]User
	defaultUsr string
	knobs      Knobs
	codes      map[string]*grant
	tokenCalls int
}

type grant struct {
	client, redirect, nonce string
	challenge, method       string
	user                    User
	scope                   string
	expires                 time.Time
	used                    bool
}

// Options of New.
type Options struct {
	// Now is the provider's clock (time.Now when nil).
	Now func() time.Time
	// CodeTTL is how long a code may be exchanged (1 minute when 0).
	CodeTTL time.Duration
}

// New starts a provider on 127.0.0.1 with a fresh 2048-bit RSA key. Close
// it when done.
func New(opts Options) (*Provider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		key: key, foreign: foreign, kid: randomString()[:16],
		now: opts.Now, codeTTL: opts.CodeTTL,
		clients: map[string]Client{}, users: map[string]User{}, codes: map[string]*grant{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.codeTTL <= 0 {
		p.codeTTL = time.Minute
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// AddClient registers a relying party.
func (p *Provider) AddClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
}

// AddUser adds a user; the first one added is who /authorize signs in
// unless the request has a login_hint naming another's Username or
// Subject.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := u.Username
	if key == "" {
		key = u.Subject
	}
	p.users[key] = u
	if p.defaultUsr == "" {
		p.defaultUsr = key
	}
}

// SetKnobs replaces the knobs for the tokens issued from now on.
func (p *Provider) SetKnobs(k Knobs) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.knobs = k
}

// TokenRequests counts the requests the token endpoint has received.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenCalls
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         p.URL,
		"authorization_endpoint":                         p.URL + "/authorize",
		"token_endpoint":                                 p.URL + "/token",
		"jwks_uri":                                       p.URL + "/jwks",
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                               []string{"openid", "profile", "email", "groups"},
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "nonce", "preferred_username", "email", "email_verified", "groups"},
		"authorization_response_iss_parameter_supported": true,
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}})
}

var verifierPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// authorize: RFC 6749 §4.1.1 with PKCE (RFC 7636). An unknown client or a
// redirect_uri not registered for it is answered here (400), never by a
// redirect (§4.1.2.1: that would make the provider an open redirector);
// every other error is sent back to the client's redirect_uri.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[q.Get("client_id")]
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, redirect) {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		params.Set("iss", p.URL)
		if s := q.Get("state"); s != "" {
			params.Set("state", s)
		}
		u, _ := url.Parse(redirect) // registered, so it parses
		u.RawQuery = params.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code")
		return
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		fail("invalid_scope", "the openid scope is required")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "":
		fail("invalid_request", "code_challenge is required (PKCE)")
		return
	case method != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case len(challenge) != 43:
		fail("invalid_request", "code_challenge is not a base64url SHA-256")
		return
	}
	if p.knobs.AuthorizeError != "" {
		fail(p.knobs.AuthorizeError, "refused by the test provider's knobs")
		return
	}
	who := p.defaultUsr
	if h := q.Get("login_hint"); h != "" {
		who = h
	}
	u, ok := p.users[who]
	if !ok {
		fail("login_required", "no such user")
		return
	}
	code := randomString()
	p.codes[code] = &grant{
		client: c.ID, redirect: redirect, nonce: q.Get("nonce"),
		challenge: challenge, method: method, user: u, scope: q.Get("scope"),
		expires: p.now().Add(p.codeTTL),
	}
	back(url.Values{"code": {code}})
}

// token: RFC 6749 §4.1.3 with client_secret_basic or client_secret_post
// and PKCE verification; a code works once (§4.1.2: a second use is
// refused).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenCalls++
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id) // RFC 6749 §2.3.1: form-encoded before Basic
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			tokenError(w, http.StatusUnauthorized, "invalid_client", "malformed client credentials")
			return
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := p.clients[id]
	if !ok || secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	g, ok := p.codes[r.PostForm.Get("code")]
	switch {
	case !ok:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case g.used:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	}
	g.used = true // used whatever follows: a failed attempt must not be retried with the same code
	switch {
	case !p.now().Before(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
		return
	case g.client != c.ID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code issued to another client")
		return
	case r.PostForm.Get("redirect_uri") != g.redirect:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	if verifier == "" {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier required (PKCE)")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if !verifierPattern.MatchString(verifier) ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	resp := map[string]any{
		"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "scope": g.scope,
	}
	if !p.knobs.OmitIDToken {
		idt, err := p.idToken(c.ID, g)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["id_token"] = idt
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) idToken(clientID string, g *grant) (string, error) {
	k := p.knobs
	now := p.now()
	life := k.ExpiresIn
	if life == 0 {
		life = 5 * time.Minute
	}
	claims := map[string]any{
		"iss": p.URL, "sub": g.user.Subject, "aud": clientID,
		"iat": now.Add(k.IssuedAtShift).Unix(), "exp": now.Add(life).Unix(),
		"auth_time": now.Unix(),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if k.Issuer != "" {
		claims["iss"] = k.Issuer
	}
	if len(k.Audience) == 1 {
		claims["aud"] = k.Audience[0]
	} else if len(k.Audience) > 1 {
		claims["aud"] = k.Audience
	}
	if k.AZP != "" {
		claims["azp"] = k.AZP
	}
	if k.Nonce != nil {
		claims["nonce"] = *k.Nonce
	}
	if k.OmitNonce {
		delete(claims, "nonce")
	}
	u := g.user
	if u.Username != "" {
		claims["preferred_username"] = u.Username
	}
	if u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	if u.Groups != nil {
		claims["groups"] = u.Groups
	}
	maps.Copy(claims, u.Claims)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key := p.key
	if k.ForeignKey {
		key = p.foreign
	}
	alg := jose.RS256
	if k.Algorithm != "" {
		alg = jose.SignatureAlgorithm(k.Algorithm)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: p.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // only our own values: an error is the client gone
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
