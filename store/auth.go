package store

import (
	"context"
	"errors"
	"time"
)

// The identity tables: users, single sign-on identities, API tokens,
// browser sessions and login throttling. They hold credentials (hashes,
// TOTP secrets), which never enter the journal, so they are not a
// projection of it: primary tables that ResetProjection (reindex) keeps and
// DumpProjection leaves out. Every change of who may do what is journaled
// by the caller (package auth) in the transaction that makes it
// (ingest.EventWriter.AppendIf with the Tx's AuthWriter), so the journal
// and these tables cannot disagree about a grant. Sessions, throttling
// counters and TOTP steps change on every login or request and are written
// directly (Store's AuthWriter), outside the journal's transactions.
//
// Roles and permissions are plain strings here: the store does not know
// their meaning (package auth does).

// ErrExists is matched by errors for an object created twice (a user name
// or token id already taken).
var ErrExists = errors.New("already exists")

// AuthReader reads the identity tables (committed state).
type AuthReader interface {
	// User returns a user; an error matching ErrNotFound if none.
	User(ctx context.Context, name string) (UserRow, error)
	// Users visits every user in name order.
	Users(ctx context.Context, fn func(UserRow) error) error
	// OIDCUser returns the user an identity provider's subject is mapped
	// to; an error matching ErrNotFound if none.
	OIDCUser(ctx context.Context, issuer, subject string) (OIDCRow, error)
	// Token returns a token by id, TokenByHash by the SHA-256 of its
	// secret; an error matching ErrNotFound if none.
	Token(ctx context.Context, id string) (TokenRow, error)
	TokenByHash(ctx context.Context, hash [32]byte) (TokenRow, error)
	// Tokens visits the tokens of owner ("" for every owner) by id.
	Tokens(ctx context.Context, owner string, fn func(TokenRow) error) error
	// SessionByHash returns a session by the SHA-256 of its secret; an
	// error matching ErrNotFound if none.
	SessionByHash(ctx context.Context, hash [32]byte) (SessionRow, error)
	// LoginFailures counts the failed logins recorded for key at or after
	// since.
	LoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	// Lockout returns until when key is locked (zero: not locked, or a
	// lockout that has passed is reported as it was stored).
	Lockout(ctx context.Context, key string) (time.Time, error)
}

// AuthWriter changes the identity tables. Store implements it (each call
// its own transaction) and so does Tx (within the journal's commit).
type AuthWriter interface {
	// AddUser creates a user; an error matching ErrExists if the name is
	// taken.
	AddUser(ctx context.Context, u UserRow) error
	// UpdateUser replaces every field of an existing user but its TOTP
	// step (UseTOTPStep owns it); an error matching ErrNotFound if none.
	UpdateUser(ctx context.Context, u UserRow) error
	// UseTOTPStep records that user used the TOTP code of step: it
	// reports false, changing nothing, unless step is later than the last
	// one used (so a code is accepted once).
	UseTOTPStep(ctx context.Context, user string, step int64) (bool, error)
	// PutOIDC maps an identity provider's subject to a user (replacing
	// an earlier mapping of the same subject).
	PutOIDC(ctx context.Context, o OIDCRow) error
	// AddToken stores a token; an error matching ErrExists if its id or
	// hash is taken.
	AddToken(ctx context.Context, t TokenRow) error
	// RevokeToken marks a token revoked at at (a token already revoked
	// keeps its first revocation); an error matching ErrNotFound if none.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records a token's last use.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// PutSession stores a new session; an error matching ErrExists if its
	// hash is taken.
	PutSession(ctx context.Context, s SessionRow) error
	// TouchSession moves a session's last use and idle timeout; an error
	// matching ErrNotFound if none.
	TouchSession(ctx context.Context, hash [32]byte, lastSeen, idleUntil time.Time) error
	// DeleteSession removes a session (none: no error); DeleteSessions
	// every session of a user, DeleteExpiredSessions those whose idle or
	// absolute timeout is not after now.
	DeleteSession(ctx context.Context, hash [32]byte) error
	DeleteSessions(ctx context.Context, user string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// AddLoginFailure records a failed login for key at at, and forgets
	// the failures of every key older than forgetBefore (the table stays
	// as small as the throttling window). ClearLoginFailures forgets the
	// failures of key.
	AddLoginFailure(ctx context.Context, key string, at, forgetBefore time.Time) error
	ClearLoginFailures(ctx context.Context, key string) error
	// SetLockout locks key until until (zero: unlocks it).
	SetLockout(ctx context.Context, key string, until time.Time) error
}

// AuthTx is what the journal's transaction offers the identity tables: the
// rows a change depends on, read inside the transaction, and the writes.
type AuthTx interface {
	User(ctx context.Context, name string) (UserRow, error)
	Token(ctx context.Context, id string) (TokenRow, error)
	OIDCUser(ctx context.Context, issuer, subject string) (OIDCRow, error)
	AuthWriter
}

// IdentityVersioner is offered by a store that can tell, without a query,
// whether any user, token or single sign-on mapping may have changed:
// IdentityVersion returns a number that changes — before the commit that
// changed one returns, whether it wrote through a Tx or the store itself —
// whenever AddUser, UpdateUser, PutOIDC, AddToken, RevokeToken or
// TouchToken commits. It lets package auth keep what a token's lookup
// found between requests and still see a revocation on the next request.
// A store that other processes write to cannot promise this and does not
// offer it (its tokens are looked up on every request).
type IdentityVersioner interface {
	IdentityVersion() uint64
}

// AuthStore is the identity store.
type AuthStore interface {
	AuthReader
	AuthWriter
}

// UserRow is a user.
type UserRow struct {
	Name        string
	Roles       []string
	Departments []string
	Disabled    bool
	// PasswordHash is a PHC string (auth: argon2id); empty for a user who
	// signs in through single sign-on only.
	PasswordHash string
	// TOTPSecret is the RFC 6238 key (nil: not enrolled); TOTPStep the
	// time step of the last code accepted.
	TOTPSecret []byte
	TOTPStep   int64
	// Scope is a regulator's scope as the auth package encodes it (JSON,
	// opaque here), Expires when the user's access ends (zero: never).
	Scope   []byte
	Expires time.Time
	Created time.Time
	Updated time.Time
}

// OIDCRow maps an identity provider's subject to a user.
type OIDCRow struct {
	Issuer   string
	Subject  string
	User     string
	Created  time.Time
	LastUsed time.Time
}

// TokenRow is an API token. The secret is never stored, only its SHA-256.
type TokenRow struct {
	ID       string
	Name     string
	Owner    string
	Scopes   []string
	Hash     [32]byte
	Created  time.Time
	Expires  time.Time
	Revoked  time.Time // zero: not revoked
	LastUsed time.Time // zero: never used
}

// SessionRow is a browser session. The secret is only in the cookie; the
// row keys on its SHA-256.
type SessionRow struct {
	Hash      [32]byte
	ID        string // public id, safe to log
	User      string
	Method    string // how the user authenticated (auth.Method)
	Addr      string
	Created   time.Time
	LastSeen  time.Time
	IdleUntil time.Time
	Expires   time.Time
}
