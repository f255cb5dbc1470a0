// Package auth is who may do what: roles, the permissions each grants,
// the authenticated identity every request carries, and the errors that
// say why one was refused. It is the contract the HTTP edge (which
// authenticates and checks a route's permission in one place), app/
// (which applies a role's limits to what it returns — a reviewer's
// departments, a regulator's scope) and the identity store share.
//
// Glossary:
//   - user: a person with a login (local password, or single sign-on);
//     never a secret in the journal, only who and which roles.
//   - role: a named set of permissions (Grants); a user holds several.
//   - permission: what one route or use case needs (Perm…).
//   - identity: an authenticated caller — a user through a session, a
//     password or an API token, or the operating-system user of the CLI.
//   - scope: the limit of a regulator's access (query, period,
//     conversations), with a mandatory expiry.
package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Role is a named set of permissions.
type Role string

// The roles (docs/SECURITY.md has the matrix, generated from the route
// table).
const (
	// Admin manages users, tokens, connectors and settings, and reads
	// capture health and the access log — but not content by default: an
	// administrator is not a supervisor.
	Admin Role = "admin"
	// Principal is the supervising principal: every review action,
	// closing escalations, policies, evidence reports, content.
	Principal Role = "principal"
	// Reviewer reviews alerts and reads content within the departments
	// assigned to them only (an information barrier).
	Reviewer Role = "reviewer"
	// Auditor reads everything — content, alerts, evidence, the access
	// log — and changes nothing.
	Auditor Role = "auditor"
	// Regulator reads and exports within a scope (query, period,
	// conversations) until a mandatory expiry: the examiner or Designated
	// Third Party account.
	Regulator Role = "regulator"
	// Ingest is a service: the ingest API only.
	Ingest Role = "ingest"
)

// Roles lists every role, in the order the matrix shows them.
var Roles = []Role{Admin, Principal, Reviewer, Auditor, Regulator, Ingest}

// ParseRole returns the role named s, or an error naming it and the roles
// there are.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (roles: admin, principal, reviewer, auditor, regulator, ingest)", s)
}

// Permission is what a route or use case needs.
type Permission string

// The permissions.
const (
	PermIngest      Permission = "ingest"          // POST an ingest body
	PermContent     Permission = "content.read"    // view messages, search, inclusion proofs of a message, consent
	PermIntegrity   Permission = "integrity.read"  // checkpoints and consistency proofs (no content)
	PermHealth      Permission = "capture.health"  // capture health
	PermPolicyRead  Permission = "policy.read"     // list and show policies
	PermPolicyWrite Permission = "policy.write"    // apply a policy version
	PermBacktest    Permission = "policy.backtest" // run a policy over archived messages (shows matches)
	PermAlertsRead  Permission = "alerts.read"     // alerts, queues, an alert's history
	PermReview      Permission = "review.act"      // review actions (assign, note, close, escalate)
	// PermReviewPrincipal closes escalated alerts and approves: the
	// supervising principal's part of a review (FINRA 3110).
	PermReviewPrincipal Permission = "review.principal"
	PermEvidence        Permission = "reports.evidence" // review-evidence reports
	PermAudit           Permission = "audit.read"       // the access and change log
	PermUsers           Permission = "users.admin"      // users, roles, tokens, identity-provider mappings
	PermExport          Permission = "export"           // productions for regulators and litigation
	PermMetrics         Permission = "metrics.read"     // /metrics when it is not open
	// PermRetention applies a version of the retention rule set (how long
	// records are kept): the administrator's or the supervising
	// principal's decision, journaled with its author.
	PermRetention Permission = "retention.write"
	// PermSession is every authenticated caller's: who am I, log out.
	PermSession Permission = "session"
)

// Grants is what each role may do. A route or use case that needs a
// permission no role here has is refused to everyone.
var Grants = map[Role][]Permission{
	Admin:     {PermSession, PermIntegrity, PermHealth, PermPolicyRead, PermAudit, PermUsers, PermMetrics, PermRetention},
	Principal: {PermSession, PermContent, PermIntegrity, PermHealth, PermPolicyRead, PermPolicyWrite, PermBacktest, PermAlertsRead, PermReview, PermReviewPrincipal, PermEvidence, PermAudit, PermExport, PermRetention},
	Reviewer:  {PermSession, PermContent, PermIntegrity, PermPolicyRead, PermAlertsRead, PermReview},
	Auditor:   {PermSession, PermContent, PermIntegrity, PermHealth, PermPolicyRead, PermBacktest, PermAlertsRead, PermEvidence, PermAudit},
	Regulator: {PermSession, PermContent, PermIntegrity, PermEvidence, PermExport},
	Ingest:    {PermSession, PermIngest},
}

// Method is how an identity was authenticated.
type Method string

// The methods.
const (
	MethodPassword Method = "password" // a local user's password (and TOTP code)
	MethodOIDC     Method = "oidc"     // single sign-on
	MethodToken    Method = "token"    // an API token
	MethodCLI      Method = "cli"      // the operating-system user running the CLI
)

// Scope limits a regulator's access. Zero fields do not limit.
type Scope struct {
	Query         string    `json:"query,omitempty"`         // the search every view must match
	From          time.Time `json:"from,omitzero"`           // messages sent at or after
	To            time.Time `json:"to,omitzero"`             // messages sent before
	Conversations []string  `json:"conversations,omitempty"` // conversation ids
}

// Identity is an authenticated caller. A zero Identity is no one.
type Identity struct {
	User  string `json:"user"`
	Roles []Role `json:"roles"`
	// Method says how the caller proved it; TokenID names the API token
	// (never its secret) when Method is MethodToken, SessionID is never
	// set here (sessions are looked up, not carried).
	Method  Method `json:"method"`
	TokenID string `json:"token_id,omitempty"`
	// Scopes narrow a token to fewer permissions than its owner's roles
	// give (empty: all of them).
	Scopes []Permission `json:"scopes,omitempty"`
	// Departments bound a reviewer's content and alerts (information
	// barrier); empty for a reviewer means none.
	Departments []string `json:"departments,omitempty"`
	// Scope bounds a regulator; Expires is when the identity's access
	// ends (a regulator always has one; zero otherwise means none).
	Scope   *Scope    `json:"scope,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// Can reports whether id holds p through one of its roles (and its
// token's scopes, if any).
func (id *Identity) Can(p Permission) bool {
	if id == nil || id.User == "" {
		return false
	}
	if len(id.Scopes) > 0 && !slices.Contains(id.Scopes, p) {
		return false
	}
	for _, r := range id.Roles {
		if slices.Contains(Grants[r], p) {
			return true
		}
	}
	return false
}

// Has reports whether id holds role r.
func (id *Identity) Has(r Role) bool { return id != nil && slices.Contains(id.Roles, r) }

// Authorize checks that id may use p at now: ErrUnauthenticated without
// an identity, ExpiredError past its expiry, ForbiddenError without the
// permission.
func (id *Identity) Authorize(p Permission, now time.Time) error {
	if id == nil || id.User == "" {
		return ErrUnauthenticated
	}
	if !id.Expires.IsZero() && !now.Before(id.Expires) {
		return &ExpiredError{User: id.User, At: id.Expires}
	}
	if !id.Can(p) {
		return &ForbiddenError{User: id.User, Need: p}
	}
	return nil
}

// ErrUnauthenticated: no credentials, or none that hold (HTTP 401). The
// same error whatever was wrong — unknown user, wrong password, revoked
// or unknown token — so that an answer tells an outsider nothing.
var ErrUnauthenticated = errors.New("authentication required")

// ForbiddenError: an authenticated user without the permission (HTTP 403).
type ForbiddenError struct {
	User string
	Need Permission
	// Reason, when set, says why beyond the permission (outside the
	// reviewer's departments, outside the regulator's scope).
	Reason string
}

func (e *ForbiddenError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s may not do this: %s", e.User, e.Reason)
	}
	return fmt.Sprintf("%s may not do this: it needs the %s permission", e.User, e.Need)
}

// ExpiredError: an identity past its expiry — a regulator's account, a
// token (HTTP 401).
type ExpiredError struct {
	User string
	At   time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("the access of %s expired at %s", e.User, e.At.UTC().Format(time.RFC3339))
}

// Is makes an ExpiredError an ErrUnauthenticated too.
func (e *ExpiredError) Is(target error) bool { return target == ErrUnauthenticated }
