package auth

import (
	"context"
	"time"
)

// Authenticator turns credentials into an identity; the HTTP edge calls it
// once per request, before the route's permission is checked (in one
// place). Contract, for every implementation:
//   - a bad credential of any kind (unknown user, wrong password or code,
//     unknown, revoked or expired token, unknown or timed-out session)
//     is an error matching ErrUnauthenticated, and takes the same code
//     path whether or not the user or token exists: the answer and its
//     timing tell an outsider nothing;
//   - secrets are compared in constant time and never logged, journaled
//     or put in an error;
//   - a revoked token or a disabled user fails on the very next call;
//   - a lockout after repeated failures (per user and per address) is an
//     error matching ErrUnauthenticated too (a *LockedError says until
//     when, for the journal and the operator, not for the response body).
type Authenticator interface {
	// Login checks a local user's password, and TOTP code when the user
	// has one enrolled (or their role requires it), for a request from
	// addr (the throttling key beside the user).
	Login(ctx context.Context, user, password, totp, addr string) (*Identity, error)
	// Token authenticates an API token's secret (the bearer string).
	Token(ctx context.Context, secret string) (*Identity, error)
	// StartSession opens a browser session for id — always a new session
	// id (no fixation) — and returns its secret for the cookie.
	StartSession(ctx context.Context, id *Identity, addr string) (secret string, s *Session, err error)
	// Session returns the identity of an open session, extending its idle
	// timeout; past the idle or absolute timeout it fails (and is gone).
	Session(ctx context.Context, secret string) (*Identity, *Session, error)
	// EndSession logs a session out: the secret never works again.
	EndSession(ctx context.Context, secret string) error
}

// Session is a browser session. Its secret is only in the cookie; the
// store keeps a hash.
type Session struct {
	ID       string    `json:"id"` // public id (a hash prefix of the secret): safe to log
	User     string    `json:"user"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	// IdleUntil and Expires are the idle and the absolute timeout.
	IdleUntil time.Time `json:"idle_until"`
	Expires   time.Time `json:"expires"`
}

// LockedError: logins for a user or from an address are refused until
// Until after repeated failures. It matches ErrUnauthenticated.
type LockedError struct {
	Key   string // "user:NAME" or "addr:ADDRESS"
	Until time.Time
}

func (e *LockedError) Error() string {
	return "too many failed logins for " + e.Key + ": locked until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes a LockedError an ErrUnauthenticated too.
func (e *LockedError) Is(target error) bool { return target == ErrUnauthenticated }
