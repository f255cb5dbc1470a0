package oidc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/wxarchive/wxarchive/internal/secretref"
)

// Config is the oidc section of wxarchive.yaml: the identity providers a
// user may sign in with.
//
//	oidc:
//	  issuers:
//	    - name: corp
//	      issuer: https://login.microsoftonline.com/TENANT-ID/v2.0
//	      client_id: 00000000-0000-0000-0000-000000000000
//	      client_secret: {env: WXARCHIVE_OIDC_CORP_SECRET}
//	      redirect_url: https://archive.example.com/auth/oidc/corp/callback
//	      scopes: [profile, email]
//	      username_claim: preferred_username
//	      groups_claim: groups
type Config struct {
	Issuers []Issuer `yaml:"issuers"`
}

// Issuer is one identity provider (an OpenID Connect issuer and this
// archive's client registration there).
type Issuer struct {
	// Name is how routes, logs and the journal name the issuer: lower-case
	// letters, digits and dashes ("corp", "keycloak-eu").
	Name string `yaml:"name"`
	// IssuerURL is the issuer identifier exactly as the provider's
	// discovery document and ID tokens state it (https, or http on a
	// loopback address for tests).
	IssuerURL string `yaml:"issuer"`
	// ClientID and ClientSecret are this archive's registration at the
	// provider (a confidential client: the code is exchanged server side).
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is the callback URL registered at the provider; the
	// route that calls Complete must answer there.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes are requested besides "openid" (always requested). Empty
	// means profile and email.
	Scopes []string `yaml:"scopes,omitempty"`
	// UsernameClaim is the claim (a ClaimPath) that names the user. Empty
	// means preferred_username, falling back to email (unless the token
	// says email_verified: false) and then sub. A claim set here is used
	// alone: a token without it is refused rather than mapped to another
	// name.
	UsernameClaim string `yaml:"username_claim,omitempty"`
	// GroupsClaim is the claim (a ClaimPath) holding the user's groups:
	// "groups" when empty; "realm_access.roles" for Keycloak realm roles.
	GroupsClaim string `yaml:"groups_claim,omitempty"`
}

// Defaults of an Issuer.
const (
	DefaultUsernameClaim = "preferred_username"
	DefaultGroupsClaim   = "groups"
)

// DefaultScopes are requested (besides openid) when an issuer sets none.
var DefaultScopes = []string{"profile", "email"}

// Problem is one fault of the configuration: the field ("issuers[1].client_id")
// and what is wrong with it.
type Problem struct {
	Field  string
	Reason string
}

func (p Problem) String() string { return "oidc." + p.Field + ": " + p.Reason }

// ConfigError lists every problem of a Config.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "invalid oidc configuration: " + strings.Join(s, "; ")
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate returns every problem of c as a *ConfigError, or nil. It reads
// no secret (New does, and names the field of one it cannot read).
func (c *Config) Validate() error {
	var ps []Problem
	add := func(field, format string, a ...any) {
		ps = append(ps, Problem{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if len(c.Issuers) == 0 {
		add("issuers", "at least one issuer is required")
	}
	seen := map[string]int{}
	for i, is := range c.Issuers {
		f := func(name string) string { return fmt.Sprintf("issuers[%d].%s", i, name) }
		switch {
		case is.Name == "":
			add(f("name"), "required")
		case !namePattern.MatchString(is.Name):
			add(f("name"), "%q: use lower-case letters, digits and dashes (at most 63)", is.Name)
		default:
			if j, dup := seen[is.Name]; dup {
				add(f("name"), "%q is also the name of issuers[%d]", is.Name, j)
			}
			seen[is.Name] = i
		}
		if err := checkURL(is.IssuerURL, false); err != nil {
			add(f("issuer"), "%v", err)
		}
		if is.ClientID == "" {
			add(f("client_id"), "required")
		}
		if err := is.ClientSecret.Required(); err != nil {
			add(f("client_secret"), "%v", err)
		}
		if err := checkURL(is.RedirectURL, true); err != nil {
			add(f("redirect_url"), "%v", err)
		}
		for j, s := range is.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
				add(fmt.Sprintf("issuers[%d].scopes[%d]", i, j), "%q is not a scope token", s)
			}
		}
		if is.UsernameClaim != "" {
			if _, err := ParseClaimPath(is.UsernameClaim); err != nil {
				add(f("username_claim"), "%v", err)
			}
		}
		if is.GroupsClaim != "" {
			if _, err := ParseClaimPath(is.GroupsClaim); err != nil {
				add(f("groups_claim"), "%v", err)
			}
		}
	}
	if len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	return nil
}

// checkURL: absolute, https (http only on a loopback host, for tests and
// a provider on the same machine), no user info, no fragment; a redirect
// URL also no query (the provider appends its own).
func checkURL(s string, redirect bool) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: must be an https URL", s)
	case u.Host == "":
		return fmt.Errorf("%q: has no host", s)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("%q: http is allowed on a loopback address only; use https", s)
	case u.User != nil:
		return fmt.Errorf("%q: must not carry a user or password", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q: must not have a fragment", s)
	case redirect && u.RawQuery != "":
		return fmt.Errorf("%q: must not have a query", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scopes is what an issuer requests: openid first, then its own (or the
// defaults), without duplicates.
func (is *Issuer) scopes() []string {
	extra := is.Scopes
	if len(extra) == 0 {
		extra = DefaultScopes
	}
	out := []string{"openid"}
	for _, s := range extra {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Secret says where a secret is read from: {env: NAME} or {file: PATH}
// (internal/secretref), the form the connectors' configuration uses; a
// secret written in the configuration file itself is refused.
type Secret = secretref.Ref
