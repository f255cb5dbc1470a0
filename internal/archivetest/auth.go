package archivetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/auth"
)

// Auth is an auth.Authenticator for tests of the surfaces above it: the
// identities it knows are the ones a test gave it (Bearer, Login), so a
// test can act as any user with any roles without an identity store.
// The identity store's own tests (auth.Service) check credentials; this
// one only keeps the contract's shape — the same ErrUnauthenticated for
// everything it does not know, a revoked token failing on the next call.
type Auth struct {
	mu        sync.Mutex
	tokens    map[string]*auth.Identity
	passwords map[string]string
	users     map[string]*auth.Identity
	sessions  map[string]*auth.Identity
}

var _ auth.Authenticator = (*Auth)(nil)

// NewAuth returns an Auth knowing no one.
func NewAuth() *Auth {
	return &Auth{tokens: map[string]*auth.Identity{}, passwords: map[string]string{},
		users: map[string]*auth.Identity{}, sessions: map[string]*auth.Identity{}}
}

// AllRoles is every role but admin's: a tester who may do anything with
// content (an administrator is not a supervisor).
var AllRoles = []auth.Role{auth.Principal, auth.Reviewer, auth.Auditor, auth.Regulator, auth.Ingest}

// Bearer returns a new token secret for user with roles.
func (a *Auth) Bearer(user string, roles ...auth.Role) string {
	return a.BearerFor(&auth.Identity{User: user, Roles: roles})
}

// BearerFor returns a new token secret for id.
func (a *Auth) BearerFor(id *auth.Identity) string {
	sec := secret()
	c := *id
	c.Method = auth.MethodToken
	c.TokenID = sec[:8]
	a.mu.Lock()
	a.tokens[sec] = &c
	a.mu.Unlock()
	return sec
}

// Revoke makes a token secret fail from the next call.
func (a *Auth) Revoke(secret string) {
	a.mu.Lock()
	delete(a.tokens, secret)
	a.mu.Unlock()
}

// User lets user log in with password.
func (a *Auth) User(user, password string, roles ...auth.Role) {
	a.UserWith(&auth.Identity{User: user, Roles: roles}, password)
}

// UserWith lets id log in with password.
func (a *Auth) UserWith(id *auth.Identity, password string) {
	c := *id
	c.Method = auth.MethodPassword
	a.mu.Lock()
	a.passwords[id.User] = password
	a.users[id.User] = &c
	a.mu.Unlock()
}

func (a *Auth) Login(_ context.Context, user, password, _, _ string) (*auth.Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.passwords[user]; !ok || p != password {
		return nil, auth.ErrUnauthenticated
	}
	c := *a.users[user]
	return &c, nil
}

func (a *Auth) Token(_ context.Context, secret string) (*auth.Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.tokens[secret]
	if !ok {
		return nil, auth.ErrUnauthenticated
	}
	c := *id
	return &c, nil
}

func (a *Auth) StartSession(_ context.Context, id *auth.Identity, _ string) (string, *auth.Session, error) {
	sec := secret()
	c := *id
	a.mu.Lock()
	a.sessions[sec] = &c
	a.mu.Unlock()
	now := time.Now()
	return sec, &auth.Session{ID: sec[:8], User: id.User, Created: now, LastSeen: now, IdleUntil: now.Add(time.Hour), Expires: now.Add(8 * time.Hour)}, nil
}

func (a *Auth) Session(_ context.Context, secret string) (*auth.Identity, *auth.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.sessions[secret]
	if !ok {
		return nil, nil, auth.ErrUnauthenticated
	}
	c := *id
	c.Method = auth.MethodPassword
	return &c, &auth.Session{ID: secret[:8], User: id.User}, nil
}

func (a *Auth) EndSession(_ context.Context, secret string) error {
	a.mu.Lock()
	delete(a.sessions, secret)
	a.mu.Unlock()
	return nil
}

func secret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
