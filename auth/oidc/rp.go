// Package oidc is single sign-on with OpenID Connect: the relying party
// that sends a browser to an identity provider and checks what comes
// back, for several providers at once.
//
// Glossary:
//   - issuer, provider: the identity provider (Entra ID, Okta, Keycloak…),
//     named by its issuer URL and, here, by a short configured name;
//   - Begin: the redirect to the provider's authorization endpoint, with
//     a PKCE challenge (S256), a state and a nonce;
//   - state: a random value that ties the callback to one Begin, kept
//     server side (StateStore), usable once, only by the browser holding
//     the binding cookie Begin set, and only for StateTTL;
//   - Complete: the callback — the state checked, the code exchanged with
//     the PKCE verifier, the ID token verified (signature by the issuer's
//     JWKS, issuer, audience, expiry, nonce) and its claims read;
//   - Claims: who signed in; the caller maps them to roles
//     (auth.Service's MapOIDC) and starts the session.
//
// Every refusal is a *LoginError naming the check that failed, for the log
// and the journal; the HTTP answer must not say which (see LoginError).
package oidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// Options are the relying party's settings that are not configuration.
type Options struct {
	// States keeps pending sign-ins; a MemoryStates of DefaultMaxPending
	// when nil (right for one server process).
	States StateStore
	// StateTTL is how long a user has between Begin and the callback
	// (DefaultStateTTL when 0): the time to type a password and a second
	// factor at the provider.
	StateTTL time.Duration
	// Now is the clock for state expiry and token times (time.Now when
	// nil).
	Now func() time.Time
	// ClockSkew is the leeway allowed between the provider's clock and
	// ours on exp, nbf and iat (DefaultClockSkew when 0; negative: none).
	ClockSkew time.Duration
	// Transport carries the requests to providers (a transport with
	// timeouts when nil); tests pass their TLS server's.
	Transport http.RoundTripper
	// Timeout bounds each request to a provider (DefaultTimeout when 0),
	// discovery included.
	Timeout time.Duration
	// MaxResponseBytes bounds each answer of a provider
	// (DefaultMaxResponseBytes when 0).
	MaxResponseBytes int64
	// Logger receives warnings (a secret file others can read) and the
	// discovery of each provider (slog.Default when nil).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultStateTTL  = 10 * time.Minute
	DefaultClockSkew = time.Minute
)

// Claims is who signed in, from a verified ID token.
type Claims struct {
	// Provider is the configured name of the issuer ("corp").
	Provider string `json:"provider"`
	// Issuer and Subject (iss, sub) identify the user for good: a
	// username or an email can be reassigned, the pair cannot.
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	// Username is the username claim (see Issuer.UsernameClaim).
	Username string `json:"username"`
	// Email is the email claim, empty when absent or when the provider
	// says it is not verified.
	Email string `json:"email,omitempty"`
	// Groups is the groups claim, each group once, in the token's order.
	Groups []string `json:"groups,omitempty"`
	// ReturnTo is not a claim: the path Begin was given, for the redirect
	// after the session has started.
	ReturnTo string `json:"return_to"`
}

// RP is the relying party: Begin and Complete for the configured issuers.
// It is safe for concurrent use.
type RP struct {
	issuers map[string]*issuer
	names   []string
	states  StateStore
	ttl     time.Duration
	skew    time.Duration
	now     func() time.Time
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger
}

type issuer struct {
	cfg      Issuer
	secret   string
	username ClaimPath // nil: the default chain
	groups   ClaimPath
	secure   bool // the redirect URL is https: the binding cookie is Secure and __Host-

	mu   sync.Mutex // held while discovering, so one request at a time goes out
	disc *discovered
}

// discovered is what the provider's discovery document says, kept for the
// life of the process (its JWKS is re-read when a token names a key it
// does not have).
type discovered struct {
	oauth oauth2.Config
	keys  oidc.KeySet
	algs  []string
}

// New validates cfg, reads every client secret and returns the relying
// party. Providers are not contacted here: each is discovered at its first
// sign-in (and again after a failed discovery), so an unreachable provider
// does not stop the server.
func New(cfg Config, opts Options) (*RP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rp := &RP{
		issuers: map[string]*issuer{},
		states:  opts.States,
		ttl:     opts.StateTTL,
		skew:    opts.ClockSkew,
		now:     opts.Now,
		timeout: opts.Timeout,
		log:     opts.Logger,
	}
	if rp.states == nil {
		rp.states = NewMemoryStates(DefaultMaxPending)
	}
	if rp.ttl <= 0 {
		rp.ttl = DefaultStateTTL
	}
	switch {
	case rp.skew == 0:
		rp.skew = DefaultClockSkew
	case rp.skew < 0:
		rp.skew = 0
	}
	if rp.now == nil {
		rp.now = time.Now
	}
	if rp.timeout <= 0 {
		rp.timeout = DefaultTimeout
	}
	if rp.log == nil {
		rp.log = slog.Default()
	}
	maxBytes := opts.MaxResponseBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	rp.client = newClient(opts.Transport, rp.timeout, maxBytes)

	var problems []Problem
	for i, ic := range cfg.Issuers {
		secret, err := ic.ClientSecret.Resolve()
		if err != nil {
			problems = append(problems, Problem{Field: fmt.Sprintf("issuers[%d].client_secret", i), Reason: err.Error()})
			continue
		}
		if warn, exposed := ic.ClientSecret.Exposed(); exposed {
			rp.log.Warn("oidc client secret file is readable by other users", "issuer", ic.Name, "field", fmt.Sprintf("issuers[%d].client_secret", i), "problem", warn)
		}
		is := &issuer{cfg: ic, secret: secret, secure: strings.HasPrefix(ic.RedirectURL, "https:")}
		if ic.UsernameClaim != "" {
			is.username, _ = ParseClaimPath(ic.UsernameClaim) // Validate parsed it
		}
		g := ic.GroupsClaim
		if g == "" {
			g = DefaultGroupsClaim
		}
		is.groups, _ = ParseClaimPath(g)
		rp.issuers[ic.Name] = is
		rp.names = append(rp.names, ic.Name)
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return rp, nil
}

// Issuers lists the configured issuers' names, in configuration order.
func (rp *RP) Issuers() []string { return slices.Clone(rp.names) }

// Binding cookie names: with https the __Host- prefix makes browsers
// refuse the cookie unless it is Secure, host-only and for the whole
// path, so a sibling subdomain cannot plant one.
const (
	cookieName       = "wxarchive-oidc"
	secureCookieName = "__Host-wxarchive-oidc"
)

func (is *issuer) cookieName() string {
	if is.secure {
		return secureCookieName
	}
	return cookieName
}

// Begin starts a sign-in with the issuer named issuerName: it keeps a
// pending sign-in (state, nonce, PKCE verifier, returnTo) in the state
// store, sets the binding cookie and redirects the browser to the
// provider (302). returnTo is where the user goes after Complete ("" for
// "/"); it must be a path of this site (SafeReturnTo). On an error
// nothing has been written to w: ErrUnknownIssuer and ErrReturnTo are the
// caller's input (HTTP 400); a *LoginError with CheckDiscovery (matching
// ErrUnavailable) is the provider's fault (HTTP 502/503).
func (rp *RP) Begin(w http.ResponseWriter, r *http.Request, issuerName, returnTo string) error {
	is, ok := rp.issuers[issuerName]
	if !ok {
		return fmt.Errorf("%w: %q (configured: %s)", ErrUnknownIssuer, issuerName, strings.Join(rp.names, ", "))
	}
	rt, err := SafeReturnTo(returnTo)
	if err != nil {
		return err
	}
	d, err := rp.discover(r.Context(), is)
	if err != nil {
		return err
	}
	// One binding per browser, not per sign-in: a second tab's Begin keeps
	// the first tab's sign-in completable.
	binding := ""
	if c, err := r.Cookie(is.cookieName()); err == nil && validBinding(c.Value) {
		binding = c.Value
	} else {
		binding = randomString()
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	now := rp.now()
	p := Pending{
		Issuer: is.cfg.Name, Verifier: verifier, Nonce: nonce, ReturnTo: rt,
		Browser: sha256.Sum256([]byte(binding)),
		Created: now, Expires: now.Add(rp.ttl),
	}
	if err := rp.states.Put(r.Context(), stateKey(state), p); err != nil {
		return fmt.Errorf("oidc: keep the sign-in state: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: is.cookieName(), Value: binding, Path: "/",
		MaxAge: int(rp.ttl / time.Second), HttpOnly: true, Secure: is.secure,
		// Lax: the callback is a top-level navigation from the provider's
		// site, which Strict would strip the cookie from.
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	target := d.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// Complete checks the provider's callback (a GET to the redirect URL) and
// returns who signed in. The checks, in order, each a *LoginError with its
// Check when it fails: the state (CheckState: missing, unknown, expired,
// used — it is used up by this call whatever follows), the browser
// (CheckBrowser), the provider's answer (CheckProvider; CheckIssuer when
// its iss parameter names another issuer, RFC 9207), the code exchange
// with the PKCE verifier (CheckExchange), then the ID token: well formed
// (CheckToken), signed by a key of the issuer's JWKS with an algorithm it
// announces (CheckSignature), iss (CheckIssuer), aud and azp
// (CheckAudience), exp/nbf/iat (CheckExpiry), nonce (CheckNonce), and the
// username, subject and groups claims (CheckClaims).
func (rp *RP) Complete(r *http.Request) (*Claims, error) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return nil, refuse("", CheckState, ErrStateUnknown, "the callback carries no state")
	}
	p, err := rp.states.Take(ctx, stateKey(state), rp.now())
	if err != nil {
		if errors.Is(err, ErrStateUnknown) || errors.Is(err, ErrStateExpired) || errors.Is(err, ErrStateReplayed) {
			return nil, refuse("", CheckState, err, "%v", err)
		}
		return nil, refuse("", CheckState, fmt.Errorf("%w: %v", ErrUnavailable, err), "the state store failed: %v", err)
	}
	is, ok := rp.issuers[p.Issuer]
	if !ok { // the configuration changed since Begin
		return nil, refuse(p.Issuer, CheckState, ErrStateUnknown, "the state names issuer %q, no longer configured", p.Issuer)
	}
	name := is.cfg.Name
	c, err := r.Cookie(is.cookieName())
	if err != nil {
		return nil, refuse(name, CheckBrowser, nil, "no binding cookie: the sign-in was begun in another browser, or cookies are blocked")
	}
	got := sha256.Sum256([]byte(c.Value))
	if subtle.ConstantTimeCompare(got[:], p.Browser[:]) != 1 {
		return nil, refuse(name, CheckBrowser, nil, "the binding cookie is another sign-in's: the sign-in was begun in another browser")
	}
	if e := q.Get("error"); e != "" {
		return nil, refuse(name, CheckProvider, nil, "the provider answered %s%s", printable(e, 64), describe(q.Get("error_description")))
	}
	if iss := q.Get("iss"); iss != "" && iss != is.cfg.IssuerURL {
		return nil, refuse(name, CheckIssuer, nil, "the authorization response is from issuer %q, not %q", printable(iss, 256), is.cfg.IssuerURL)
	}
	code := q.Get("code")
	if code == "" {
		return nil, refuse(name, CheckProvider, nil, "the callback carries no code")
	}
	d, err := rp.discover(ctx, is)
	if err != nil {
		return nil, err
	}
	xctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, rp.client), rp.timeout)
	defer cancel()
	tok, err := d.oauth.Exchange(xctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			// RetrieveError's own text carries the whole response body;
			// only the error code and a bounded description go further.
			return nil, refuse(name, CheckExchange, nil, "the token endpoint refused the code: %s%s", printable(re.ErrorCode, 64), describe(re.ErrorDescription))
		}
		return nil, refuse(name, CheckExchange, fmt.Errorf("%w: %s", ErrUnavailable, exchangeFailure(err)), "the token endpoint could not be used: %s", exchangeFailure(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, refuse(name, CheckToken, nil, "the token response has no id_token")
	}
	cl, lerr := rp.verify(ctx, is, d, raw, p.Nonce)
	if lerr != nil {
		return nil, lerr
	}
	cl.ReturnTo = p.ReturnTo
	return cl, nil
}

// exchangeFailure says why the token endpoint could not be used without
// quoting a response body (which may echo the request).
func exchangeFailure(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return "HTTP " + re.Response.Status
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + ue.URL + ": " + errors.Unwrap(ue).Error()
	}
	return err.Error()
}

// algorithms a JWS is parsed with before its header is checked against the
// issuer's own list: every asymmetric one go-jose knows. HMAC and "none"
// are never accepted (an HMAC "signed" with the client secret proves
// nothing about the provider's key).
var asymmetric = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// idToken is the part of an ID token's payload that is checked.
type idToken struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	AZP      string          `json:"azp"`
	Expiry   *json.Number    `json:"exp"`
	IssuedAt *json.Number    `json:"iat"`
	NotBef   *json.Number    `json:"nbf"`
	Nonce    *string         `json:"nonce"`
}

func (rp *RP) verify(ctx context.Context, is *issuer, d *discovered, raw, nonce string) (*Claims, *LoginError) {
	name := is.cfg.Name
	jws, err := jose.ParseSigned(raw, asymmetric)
	if err != nil {
		return nil, refuse(name, CheckToken, nil, "the id_token is not a signed JWT with an asymmetric algorithm: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(name, CheckToken, nil, "the id_token has %d signatures, not 1", len(jws.Signatures))
	}
	if alg := jws.Signatures[0].Header.Algorithm; !slices.Contains(d.algs, alg) {
		return nil, refuse(name, CheckSignature, nil, "the id_token is signed with %s; the issuer signs with %s", alg, strings.Join(d.algs, ", "))
	}
	kctx, cancel := context.WithTimeout(ctx, rp.timeout)
	defer cancel()
	payload, err := d.keys.VerifySignature(kctx, raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
			return nil, refuse(name, CheckSignature, fmt.Errorf("%w: %v", ErrUnavailable, err), "the issuer's keys could not be read: %v", err)
		}
		return nil, refuse(name, CheckSignature, nil, "the id_token's signature does not verify with the issuer's keys: %v", err)
	}
	var tok idToken
	var all map[string]any
	if err := decodeJSON(payload, &tok); err != nil {
		return nil, refuse(name, CheckToken, nil, "the id_token's claims are not a JSON object: %v", err)
	}
	if err := decodeJSON(payload, &all); err != nil {
		return nil, refuse(name, CheckToken, nil, "the id_token's claims are not a JSON object: %v", err)
	}

	if tok.Issuer != is.cfg.IssuerURL {
		return nil, refuse(name, CheckIssuer, nil, "the id_token is issued by %q, not %q", printable(tok.Issuer, 256), is.cfg.IssuerURL)
	}
	aud, err := audience(tok.Audience)
	if err != nil {
		return nil, refuse(name, CheckAudience, nil, "%v", err)
	}
	cid := is.cfg.ClientID
	switch {
	case !slices.Contains(aud, cid):
		return nil, refuse(name, CheckAudience, nil, "the id_token is for %s, not this client (%s)", quoteList(aud), cid)
	case tok.AZP != "" && tok.AZP != cid:
		return nil, refuse(name, CheckAudience, nil, "the id_token was issued to client %q (azp), not %q", printable(tok.AZP, 256), cid)
	case len(aud) > 1 && tok.AZP == "":
		// OIDC Core 3.1.3.7: a token for several audiences must say which
		// of them it was issued to.
		return nil, refuse(name, CheckAudience, nil, "the id_token is for several audiences (%s) without azp", quoteList(aud))
	}
	now := rp.now()
	exp, err := numericDate(tok.Expiry)
	if err != nil || tok.Expiry == nil {
		return nil, refuse(name, CheckExpiry, nil, "the id_token has no valid exp")
	}
	iat, err := numericDate(tok.IssuedAt)
	if err != nil || tok.IssuedAt == nil {
		return nil, refuse(name, CheckExpiry, nil, "the id_token has no valid iat")
	}
	nbf, err := numericDate(tok.NotBef)
	if err != nil {
		return nil, refuse(name, CheckExpiry, nil, "the id_token's nbf is not a time")
	}
	switch {
	case !now.Before(exp.Add(rp.skew)):
		return nil, refuse(name, CheckExpiry, nil, "the id_token expired at %s", exp.UTC().Format(time.RFC3339))
	case iat.After(now.Add(rp.skew)):
		return nil, refuse(name, CheckExpiry, nil, "the id_token is issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	case !nbf.IsZero() && nbf.After(now.Add(rp.skew)):
		return nil, refuse(name, CheckExpiry, nil, "the id_token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if tok.Nonce == nil {
		return nil, refuse(name, CheckNonce, nil, "the id_token has no nonce")
	}
	if subtle.ConstantTimeCompare([]byte(*tok.Nonce), []byte(nonce)) != 1 {
		return nil, refuse(name, CheckNonce, nil, "the id_token's nonce is not the one this sign-in sent")
	}
	if err := checkName(tok.Subject); err != nil {
		return nil, refuse(name, CheckClaims, nil, "sub: %v", err)
	}
	cl := &Claims{Provider: name, Issuer: tok.Issuer, Subject: tok.Subject}
	cl.Email = email(all)
	user, claim, err := is.usernameOf(all, cl)
	if err != nil {
		return nil, refuse(name, CheckClaims, nil, "%v", err)
	}
	if err := checkName(user); err != nil {
		return nil, refuse(name, CheckClaims, nil, "%s: %v", claim, err)
	}
	cl.Username = user
	if cl.Groups, err = groupsOf(all, is.groups); err != nil {
		return nil, refuse(name, CheckClaims, nil, "%v", err)
	}
	return cl, nil
}

// usernameOf returns the username and the claim it came from.
func (is *issuer) usernameOf(all map[string]any, cl *Claims) (string, string, error) {
	if is.username != nil {
		v, ok := is.username.Lookup(all)
		if !ok {
			return "", "", fmt.Errorf("the id_token has no %s claim (username_claim)", is.username)
		}
		s, isStr := v.(string)
		if !isStr {
			return "", "", fmt.Errorf("the %s claim (username_claim) is not a string", is.username)
		}
		return s, is.username.String(), nil
	}
	if s, ok := all[DefaultUsernameClaim].(string); ok && s != "" {
		return s, DefaultUsernameClaim, nil
	}
	if cl.Email != "" {
		return cl.Email, "email", nil
	}
	return cl.Subject, "sub", nil
}

// email is the email claim unless the token says it is unverified.
func email(all map[string]any) string {
	s, _ := all["email"].(string)
	if v, ok := all["email_verified"]; ok {
		switch v := v.(type) {
		case bool:
			if !v {
				return ""
			}
		case string: // some providers send "false"
			if v == "false" {
				return ""
			}
		}
	}
	if checkName(s) != nil {
		return ""
	}
	return s
}

// Bounds of the claims read from a token.
const (
	maxName   = 256
	maxGroups = 1024
)

// checkName: a username, subject or group is non-empty UTF-8 without
// control characters, at most maxName bytes — it ends up in logs, the
// journal and the user table.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > maxName:
		return fmt.Errorf("longer than %d bytes", maxName)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("has a control character")
		}
	}
	return nil
}

// groupsOf reads the groups claim at path: a list of strings, or a single
// string; absent means no groups.
func groupsOf(all map[string]any, path ClaimPath) ([]string, error) {
	v, ok := path.Lookup(all)
	if !ok {
		// Entra ID leaves the groups out of a token of a user in too many
		// groups and names a Graph query instead ("overage"): no groups
		// would silently mean no roles.
		if names, isObj := all["_claim_names"].(map[string]any); isObj {
			if _, over := names[path[0]]; over {
				return nil, fmt.Errorf("the %s claim is not in the token but must be fetched from the provider (too many groups: in Entra ID, emit only the groups assigned to the application)", path)
			}
		}
		return nil, nil
	}
	var list []any
	switch v := v.(type) {
	case string:
		list = []any{v}
	case []any:
		list = v
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("the %s claim (groups_claim) is not a list of strings", path)
	}
	if len(list) > maxGroups {
		return nil, fmt.Errorf("the %s claim has %d groups (at most %d)", path, len(list), maxGroups)
	}
	var out []string
	for i, g := range list {
		s, isStr := g.(string)
		if !isStr {
			return nil, fmt.Errorf("the %s claim (groups_claim): element %d is not a string", path, i)
		}
		if err := checkName(s); err != nil {
			return nil, fmt.Errorf("the %s claim (groups_claim): element %d: %v", path, i, err)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the claims")
	}
	return nil
}

// audience reads aud: a string or a list of strings.
func audience(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("the id_token has no aud")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, errors.New("the id_token's aud is neither a string nor a list of strings")
	}
	return many, nil
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional); nil
// is the zero time.
func numericDate(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("not a time: %s", n.String())
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

func quoteList(ss []string) string {
	q := make([]string, 0, len(ss))
	for i, s := range ss {
		if i == 8 {
			q = append(q, "…")
			break
		}
		q = append(q, fmt.Sprintf("%q", printable(s, 128)))
	}
	return strings.Join(q, ", ")
}

// printable bounds a value from the network before it goes into a log
// line: at most n bytes, control characters replaced.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

func describe(desc string) string {
	if desc == "" {
		return ""
	}
	return " (" + printable(desc, 200) + ")"
}

// discover reads the issuer's discovery document once; a failure is not
// kept, so the next sign-in tries again.
func (rp *RP) discover(ctx context.Context, is *issuer) (*discovered, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.disc != nil {
		return is.disc, nil
	}
	name := is.cfg.Name
	fail := func(format string, a ...any) error {
		reason := fmt.Sprintf(format, a...)
		rp.log.Warn("oidc discovery failed", "issuer", name, "url", is.cfg.IssuerURL, "error", reason)
		return refuse(name, CheckDiscovery, fmt.Errorf("%w: %s", ErrUnavailable, reason), "%s", reason)
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, rp.client), rp.timeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, is.cfg.IssuerURL)
	if err != nil {
		return nil, fail("%s: %v", is.cfg.IssuerURL, err)
	}
	var meta struct {
		JWKS          string   `json:"jwks_uri"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		PKCEMethods   []string `json:"code_challenge_methods_supported"`
		ResponseTypes []string `json:"response_types_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fail("the discovery document: %v", err)
	}
	ep := p.Endpoint()
	for _, u := range []struct{ field, url string }{
		{"authorization_endpoint", ep.AuthURL}, {"token_endpoint", ep.TokenURL}, {"jwks_uri", meta.JWKS},
	} {
		if err := checkURL(u.url, false); err != nil {
			return nil, fail("the discovery document's %s: %v", u.field, err)
		}
	}
	if len(meta.PKCEMethods) > 0 && !slices.Contains(meta.PKCEMethods, "S256") {
		return nil, fail("the provider does not support PKCE with S256 (code_challenge_methods_supported: %s)", strings.Join(meta.PKCEMethods, ", "))
	}
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(asymmetric, jose.SignatureAlgorithm(a)) {
			algs = append(algs, a)
		}
	}
	if len(meta.Algs) == 0 {
		algs = []string{string(jose.RS256)} // the one algorithm every provider must support
	}
	if len(algs) == 0 {
		return nil, fail("the provider signs ID tokens with none of the asymmetric algorithms (%s)", strings.Join(meta.Algs, ", "))
	}
	// client_secret_basic is the default of the standard; post only when
	// that is all the provider takes. (No auto-detection: it retries a
	// refused exchange the other way, and a code is single-use.)
	style := oauth2.AuthStyleInHeader
	if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") && slices.Contains(meta.AuthMethods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	ep.AuthStyle = style
	is.disc = &discovered{
		oauth: oauth2.Config{
			ClientID: is.cfg.ClientID, ClientSecret: is.secret,
			Endpoint: ep, RedirectURL: is.cfg.RedirectURL, Scopes: is.cfg.scopes(),
		},
		// The key set outlives this request: its context only carries the
		// client (go-oidc ignores its cancellation).
		keys: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), rp.client), meta.JWKS),
		algs: algs,
	}
	rp.log.Info("oidc provider discovered", "issuer", name, "url", is.cfg.IssuerURL, "algorithms", strings.Join(algs, ","))
	return is.disc, nil
}

// SafeReturnTo checks a return path: "" is "/"; otherwise an absolute
// path of this site — it starts with one "/", holds no backslash (which
// browsers read as "/"), no control character (which they strip, turning
// "/\t/evil.example" into "//evil.example") and no scheme or host. An
// error matches ErrReturnTo.
func SafeReturnTo(s string) (string, error) {
	if s == "" {
		return "/", nil
	}
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q %s", ErrReturnTo, printable(s, 128), why)
	}
	switch {
	case len(s) > 2048:
		return bad("is longer than 2048 bytes")
	case s[0] != '/':
		return bad("does not start with /")
	case len(s) > 1 && (s[1] == '/' || s[1] == '\\'):
		return bad("names another host")
	case strings.ContainsRune(s, '\\'):
		return bad("holds a backslash")
	case !utf8.ValidString(s):
		return bad("is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == ' ' {
			return bad("holds a control character or space")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("is not a URL path")
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return bad("names another site")
	}
	return s, nil
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validBinding: a binding cookie this package set (32 random bytes).
func validBinding(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}

func stateKey(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}
