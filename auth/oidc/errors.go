package oidc

import (
	"errors"
	"fmt"

	"github.com/wxarchive/wxarchive/auth"
)

// Check names the check of a sign-in that failed.
type Check string

// The checks, in the order Complete makes them.
const (
	// CheckState: the callback's state is missing, unknown, expired or was
	// used already (ErrStateUnknown, ErrStateExpired, ErrStateReplayed).
	CheckState Check = "state"
	// CheckBrowser: the callback came from a browser other than the one
	// the sign-in began in (its binding cookie is missing or another's).
	CheckBrowser Check = "browser"
	// CheckProvider: the provider answered the authorization request with
	// an error (the user declined, the client is not allowed…), or with
	// no code.
	CheckProvider Check = "provider"
	// CheckDiscovery: the provider's discovery document could not be read
	// or is not this issuer's; matches ErrUnavailable.
	CheckDiscovery Check = "discovery"
	// CheckExchange: the token endpoint refused the code — unknown, used
	// already, another client's, or the PKCE verifier does not match —
	// or could not be reached (then it matches ErrUnavailable too).
	CheckExchange Check = "exchange"
	// CheckToken: the token response has no ID token, or one that is not
	// a well-formed signed JWT.
	CheckToken Check = "id_token"
	// CheckSignature: the ID token's signature does not verify with a key
	// of the issuer's JWKS, or uses an algorithm the issuer does not.
	CheckSignature Check = "signature"
	// CheckIssuer: the token (or the authorization response's iss) names
	// another issuer.
	CheckIssuer Check = "issuer"
	// CheckAudience: the token is not for this client (aud, azp).
	CheckAudience Check = "audience"
	// CheckExpiry: the token has expired, is not valid yet, or was issued
	// in the future.
	CheckExpiry Check = "expiry"
	// CheckNonce: the token's nonce is not the one this sign-in sent.
	CheckNonce Check = "nonce"
	// CheckClaims: no usable username or subject, or a groups claim that
	// is not a list of strings.
	CheckClaims Check = "claims"
)

// LoginError is a refused sign-in: which issuer, which check failed and
// why. Contract: Error and Reason are for the log and the journal — they
// never hold a secret, a code, a token or a nonce — while the HTTP answer
// must stay generic ("sign-in failed"), the same for every check: which
// check failed helps an attacker more than a user. A LoginError matches
// auth.ErrUnauthenticated (HTTP 401), except when the provider could not
// be reached, when it matches ErrUnavailable (HTTP 502/503) instead.
type LoginError struct {
	Issuer string // the configured name; "" when the state named none
	Check  Check
	Reason string
	Err    error // the cause, when there is one (a sentinel below, a provider's error)
}

func (e *LoginError) Error() string {
	via := ""
	if e.Issuer != "" {
		via = " via " + e.Issuer
	}
	return fmt.Sprintf("oidc sign-in%s refused: %s: %s", via, e.Check, e.Reason)
}

func (e *LoginError) Unwrap() error { return e.Err }

// Is makes a LoginError an auth.ErrUnauthenticated, or an ErrUnavailable
// when the provider could not be reached.
func (e *LoginError) Is(target error) bool {
	if target == auth.ErrUnauthenticated {
		return !errors.Is(e.Err, ErrUnavailable)
	}
	return false
}

// Errors.
var (
	// ErrUnknownIssuer: Begin was asked for an issuer not configured.
	ErrUnknownIssuer = errors.New("unknown identity provider")
	// ErrReturnTo: Begin's returnTo is not a path of this site.
	ErrReturnTo = errors.New("return path must be a path of this site (\"/...\")")
	// ErrUnavailable: the provider could not be reached or answered
	// nonsense (discovery, JWKS, token endpoint); try again later.
	ErrUnavailable = errors.New("identity provider unavailable")

	// The state store's answers (CheckState).
	ErrStateUnknown  = errors.New("unknown sign-in state")
	ErrStateExpired  = errors.New("sign-in state expired")
	ErrStateReplayed = errors.New("sign-in state already used")
)

func refuse(issuer string, c Check, err error, format string, a ...any) *LoginError {
	return &LoginError{Issuer: issuer, Check: c, Reason: fmt.Sprintf(format, a...), Err: err}
}
