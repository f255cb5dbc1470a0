package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// User administration. Every change is one journal event (user.added,
// user.changed, user.disabled, token.created, token.revoked, oidc.mapped)
// appended with the rows it writes in one transaction; actor is who made
// it (the journal actor, e.g. cli:alice). Permission checks belong to the
// caller (app/): these methods check the change itself.

// Grant is what a user may do: roles, a reviewer's departments, a
// regulator's scope, and when access ends (mandatory for a regulator).
type Grant struct {
	Roles       []Role    `json:"roles"`
	Departments []string  `json:"departments,omitempty"`
	Scope       *Scope    `json:"scope,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
}

// NewUser is a user to add: a local password, or none for single sign-on
// only.
type NewUser struct {
	Name     string
	Password string // "" : SSO-only
	Grant
}

// UserInfo is a user as administrators see it: never a hash or secret.
type UserInfo struct {
	Name        string    `json:"name"`
	Roles       []Role    `json:"roles"`
	Departments []string  `json:"departments,omitempty"`
	Scope       *Scope    `json:"scope,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	Login       string    `json:"login"` // password or sso
	TOTP        bool      `json:"totp"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// checkGrant validates g at now and returns it normalized (roles in the
// order of Roles, no duplicates).
func checkGrant(g Grant, now time.Time) (Grant, error) {
	if len(g.Roles) == 0 {
		return g, fieldErr("roles", "at least one role is needed")
	}
	var roles []Role
	for _, r := range g.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return g, fieldErr("roles", "%v", err)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	g.Roles = sortRoles(roles)
	if len(g.Departments) > maxDepts {
		return g, fieldErr("departments", "%d departments, more than %d", len(g.Departments), maxDepts)
	}
	var depts []string
	for _, d := range g.Departments {
		if d == "" || len(d) > maxDeptBytes || !utf8Valid(d) {
			return g, fieldErr("departments", "a department must be 1 to %d bytes of text", maxDeptBytes)
		}
		if !slices.Contains(depts, d) {
			depts = append(depts, d)
		}
	}
	g.Departments = depts
	isReg := slices.Contains(g.Roles, Regulator)
	if isReg && g.Expires.IsZero() {
		return g, fieldErr("expires", "a regulator's access needs an expiry")
	}
	if !g.Expires.IsZero() && !g.Expires.After(now) {
		return g, fieldErr("expires", "%s is not in the future", g.Expires.UTC().Format(time.RFC3339))
	}
	if g.Scope != nil {
		if !isReg {
			return g, fieldErr("scope", "only a regulator has a scope")
		}
		if !g.Scope.From.IsZero() && !g.Scope.To.IsZero() && !g.Scope.To.After(g.Scope.From) {
			return g, fieldErr("scope", "to is not after from")
		}
		if len(g.Scope.Query) > 4096 || len(g.Scope.Conversations) > 10000 {
			return g, fieldErr("scope", "too large")
		}
		if g.Scope.Query == "" && g.Scope.From.IsZero() && g.Scope.To.IsZero() && len(g.Scope.Conversations) == 0 {
			g.Scope = nil
		}
	}
	return g, nil
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func scopeJSON(sc *Scope) []byte {
	if sc == nil {
		return nil
	}
	b, _ := json.Marshal(sc) // plain fields always marshal
	return b
}

func journalScope(sc *Scope) *archive.AccessScope {
	if sc == nil {
		return nil
	}
	a := &archive.AccessScope{Query: sc.Query, Conversations: sc.Conversations}
	if !sc.From.IsZero() {
		a.From = archive.At(sc.From)
	}
	if !sc.To.IsZero() {
		a.To = archive.At(sc.To)
	}
	return a
}

func loginOf(u store.UserRow) string {
	if u.PasswordHash == "" {
		return "sso"
	}
	return "password"
}

func (s *Service) userEvent(typ, actor string, u store.UserRow, changed []string) (journal.Event, error) {
	id := s.identity(u, "")
	var roles []string
	for _, r := range id.Roles {
		roles = append(roles, string(r))
	}
	ev := &archive.UserEvent{User: u.Name, Roles: roles, Departments: u.Departments, Scope: journalScope(id.Scope),
		Login: loginOf(u), TOTP: len(u.TOTPSecret) > 0, Disabled: u.Disabled, Changed: changed}
	if !u.Expires.IsZero() {
		ev.Expires = archive.At(u.Expires)
	}
	return journal.NewEvent(typ, actor, archive.Time{}, []string{"user:" + u.Name}, ev)
}

func rolesStrings(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// AddUser creates a user; an error matching store.ErrExists if the name
// is taken.
func (s *Service) AddUser(ctx context.Context, actor string, nu NewUser) (*UserInfo, error) {
	now := s.now()
	if err := CheckUserName(nu.Name); err != nil {
		return nil, err
	}
	g, err := checkGrant(nu.Grant, now)
	if err != nil {
		return nil, err
	}
	u := store.UserRow{Name: nu.Name, Roles: rolesStrings(g.Roles), Departments: g.Departments, Scope: scopeJSON(g.Scope),
		Expires: g.Expires, Created: now, Updated: now}
	if nu.Password != "" {
		if err := CheckPassword(nu.Password); err != nil {
			return nil, fieldErr("password", "%v", err)
		}
		if u.PasswordHash, err = HashPassword(nu.Password, s.argon, s.rand); err != nil {
			return nil, err
		}
	}
	ev, err := s.userEvent(archive.EventUserAdded, actor, u, nil)
	if err != nil {
		return nil, err
	}
	if _, err := s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AddUser(ctx, u) }, ev); err != nil {
		return nil, err
	}
	return s.info(u), nil
}

func (s *Service) info(u store.UserRow) *UserInfo {
	id := s.identity(u, "")
	return &UserInfo{Name: u.Name, Roles: id.Roles, Departments: u.Departments, Scope: id.Scope, Expires: u.Expires,
		Login: loginOf(u), TOTP: len(u.TOTPSecret) > 0, Disabled: u.Disabled, Created: u.Created, Updated: u.Updated}
}

// Users lists every user, by name.
func (s *Service) Users(ctx context.Context) ([]UserInfo, error) {
	var out []UserInfo
	err := s.st.Users(ctx, func(u store.UserRow) error { out = append(out, *s.info(u)); return nil })
	return out, err
}

// User returns one user; an error matching store.ErrNotFound if none.
func (s *Service) User(ctx context.Context, name string) (*UserInfo, error) {
	u, err := s.st.User(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.info(u), nil
}

// change applies edit to the committed row of name and journals it as
// typ, naming what changed; the row is written only if it is still what
// was read (else ErrConcurrent), in the event's transaction.
func (s *Service) change(ctx context.Context, actor, typ, name string, edit func(u *store.UserRow) ([]string, error), also func(ctx context.Context, tx store.Tx) error) (*UserInfo, error) {
	cur, err := s.st.User(ctx, name)
	if err != nil {
		return nil, err
	}
	next := cur
	next.Roles, next.Departments = slices.Clone(cur.Roles), slices.Clone(cur.Departments)
	changed, err := edit(&next)
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return s.info(cur), nil // nothing to journal
	}
	next.Updated = s.now()
	if !next.Updated.After(cur.Updated) {
		next.Updated = cur.Updated.Add(time.Nanosecond) // the row's version moves
	}
	ev, err := s.userEvent(typ, actor, next, changed)
	if err != nil {
		return nil, err
	}
	_, err = s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.User(ctx, name)
		if err != nil {
			return err
		}
		got.TOTPStep = cur.TOTPStep // moves on every login; not part of the version
		if !reflect.DeepEqual(got, cur) {
			return fmt.Errorf("user %s: %w", name, ErrConcurrent)
		}
		if also != nil {
			if err := also(ctx, tx); err != nil {
				return err
			}
		}
		return tx.UpdateUser(ctx, next)
	}, ev)
	if err != nil {
		return nil, err
	}
	return s.info(next), nil
}

// SetGrant replaces a user's roles, departments, scope and expiry.
func (s *Service) SetGrant(ctx context.Context, actor, name string, g Grant) (*UserInfo, error) {
	g, err := checkGrant(g, s.now())
	if err != nil {
		return nil, err
	}
	return s.change(ctx, actor, archive.EventUserChanged, name, func(u *store.UserRow) ([]string, error) {
		var changed []string
		set := func(what string, differ bool) {
			if differ {
				changed = append(changed, what)
			}
		}
		roles, sc := rolesStrings(g.Roles), scopeJSON(g.Scope)
		set("roles", !slices.Equal(u.Roles, roles))
		set("departments", !slices.Equal(u.Departments, g.Departments))
		set("scope", string(u.Scope) != string(sc))
		set("expires", !u.Expires.Equal(g.Expires))
		u.Roles, u.Departments, u.Scope, u.Expires = roles, g.Departments, sc, g.Expires
		return changed, nil
	}, nil)
}

// Disable stops a user from logging in and ends their sessions; their
// tokens stop working too. Disabling a disabled user changes nothing.
func (s *Service) Disable(ctx context.Context, actor, name string) (*UserInfo, error) {
	return s.change(ctx, actor, archive.EventUserDisabled, name, func(u *store.UserRow) ([]string, error) {
		if u.Disabled {
			return nil, nil
		}
		u.Disabled = true
		return []string{"disabled"}, nil
	}, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSessions(ctx, name) })
}

// SetPassword sets a local password (an SSO-only user gains one). The
// user's sessions end: whoever knew the old password is logged out.
func (s *Service) SetPassword(ctx context.Context, actor, name, password string) (*UserInfo, error) {
	if err := CheckPassword(password); err != nil {
		return nil, fieldErr("password", "%v", err)
	}
	hash, err := HashPassword(password, s.argon, s.rand)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, actor, archive.EventUserChanged, name, func(u *store.UserRow) ([]string, error) {
		u.PasswordHash = hash
		return []string{"password"}, nil
	}, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSessions(ctx, name) })
}

// EnrolTOTP gives a user a new TOTP key (replacing any) and returns it
// with its otpauth:// URI, to show once. From then on the user's logins
// need a code.
func (s *Service) EnrolTOTP(ctx context.Context, actor, name string) (key []byte, uri string, err error) {
	key, err = NewTOTPSecret(s.rand)
	if err != nil {
		return nil, "", err
	}
	_, err = s.change(ctx, actor, archive.EventUserChanged, name, func(u *store.UserRow) ([]string, error) {
		u.TOTPSecret = key
		return []string{"totp"}, nil
	}, nil)
	if err != nil {
		return nil, "", err
	}
	return key, TOTPURI(s.issuer, name, key), nil
}

// ---- tokens ---------------------------------------------------------------

// NewToken is a token to create: scopes ⊆ the owner's permissions
// (empty: all of them), an expiry within MaxTokenLifetime.
type NewToken struct {
	Name    string
	Owner   string
	Scopes  []Permission
	Expires time.Time
}

// TokenInfo is a token as administrators see it: never its secret.
type TokenInfo struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Owner    string       `json:"owner"`
	Scopes   []Permission `json:"scopes,omitempty"`
	Created  time.Time    `json:"created"`
	Expires  time.Time    `json:"expires"`
	Revoked  time.Time    `json:"revoked,omitzero"`
	LastUsed time.Time    `json:"last_used,omitzero"`
}

func tokenInfo(t store.TokenRow) TokenInfo {
	ti := TokenInfo{ID: t.ID, Name: t.Name, Owner: t.Owner, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, LastUsed: t.LastUsed}
	for _, p := range t.Scopes {
		ti.Scopes = append(ti.Scopes, Permission(p))
	}
	return ti
}

// allPermissions lists every permission some role grants.
func allPermissions() []Permission {
	var out []Permission
	for _, r := range Roles {
		for _, p := range Grants[r] {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// CreateToken issues a token and returns its secret — shown once, stored
// only as its SHA-256.
func (s *Service) CreateToken(ctx context.Context, actor string, nt NewToken) (secret string, _ *TokenInfo, err error) {
	now := s.now()
	switch {
	case strings.TrimSpace(nt.Name) == "" || len(nt.Name) > maxTokenName || !utf8Valid(nt.Name):
		return "", nil, fieldErr("name", "a token needs a name of 1 to %d bytes", maxTokenName)
	case nt.Expires.IsZero():
		return "", nil, fieldErr("expires", "a token needs an expiry")
	case !nt.Expires.After(now):
		return "", nil, fieldErr("expires", "%s is not in the future", nt.Expires.UTC().Format(time.RFC3339))
	case nt.Expires.Sub(now) > MaxTokenLifetime:
		return "", nil, fieldErr("expires", "more than %d days away", int(MaxTokenLifetime/(24*time.Hour)))
	}
	owner, err := s.st.User(ctx, nt.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, fieldErr("owner", "no user %q", bound(nt.Owner))
	} else if err != nil {
		return "", nil, err
	}
	if owner.Disabled {
		return "", nil, fieldErr("owner", "%s is disabled", owner.Name)
	}
	oid := s.identity(owner, MethodToken)
	var scopes []string
	for _, p := range nt.Scopes {
		if !slices.Contains(allPermissions(), p) {
			return "", nil, fieldErr("scopes", "unknown permission %q", p)
		}
		if !oid.Can(p) {
			return "", nil, fieldErr("scopes", "%s does not hold %s (roles: %v)", owner.Name, p, oid.Roles)
		}
		if !slices.Contains(scopes, string(p)) {
			scopes = append(scopes, string(p))
		}
	}
	b := make([]byte, tokenSecretBytes+tokenIDBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", nil, fmt.Errorf("token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:tokenSecretBytes])
	row := store.TokenRow{ID: "tok_" + hex.EncodeToString(b[tokenSecretBytes:]), Name: nt.Name, Owner: owner.Name, Scopes: scopes,
		Hash: sha256.Sum256([]byte(secret)), Created: now, Expires: nt.Expires}
	ev, err := journal.NewEvent(archive.EventTokenCreated, actor, archive.Time{}, []string{"token:" + row.ID, "user:" + owner.Name},
		&archive.TokenEvent{ID: row.ID, Name: row.Name, Owner: row.Owner, Scopes: scopes, Expires: archive.At(row.Expires)})
	if err != nil {
		return "", nil, err
	}
	_, err = s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.User(ctx, owner.Name)
		if err != nil {
			return err
		}
		if u.Disabled || !slices.Equal(u.Roles, owner.Roles) {
			return fmt.Errorf("user %s: %w", owner.Name, ErrConcurrent)
		}
		return tx.AddToken(ctx, row)
	}, ev)
	if err != nil {
		return "", nil, err
	}
	ti := tokenInfo(row)
	return secret, &ti, nil
}

// Tokens lists the tokens of owner ("" : everyone's), by id.
func (s *Service) Tokens(ctx context.Context, owner string) ([]TokenInfo, error) {
	var out []TokenInfo
	err := s.st.Tokens(ctx, owner, func(t store.TokenRow) error { out = append(out, tokenInfo(t)); return nil })
	return out, err
}

// RevokeToken stops a token: the next request with it fails. Revoking a
// revoked token changes nothing.
func (s *Service) RevokeToken(ctx context.Context, actor, id string) (*TokenInfo, error) {
	t, err := s.st.Token(ctx, id)
	if err != nil {
		return nil, err
	}
	if !t.Revoked.IsZero() {
		ti := tokenInfo(t)
		return &ti, nil
	}
	now := s.now()
	ev, err := journal.NewEvent(archive.EventTokenRevoked, actor, archive.Time{}, []string{"token:" + t.ID, "user:" + t.Owner},
		&archive.TokenEvent{ID: t.ID, Name: t.Name, Owner: t.Owner, Scopes: t.Scopes, Expires: archive.At(t.Expires)})
	if err != nil {
		return nil, err
	}
	if _, err := s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, id, now) }, ev); err != nil {
		return nil, err
	}
	t.Revoked = now
	ti := tokenInfo(t)
	return &ti, nil
}

// ---- single sign-on --------------------------------------------------------

// MapOIDC turns a verified single sign-on identity (the issuer and
// subject of an ID token, its preferred user name and groups claim) into
// an identity: the user the subject is mapped to — created, SSO-only, at
// its first sign-in — with the roles its groups map to now (the groups are
// authoritative: a group left at the identity provider is a role lost at
// the next sign-in). Departments and everything else stay as the
// administrators set them. A subject none of whose groups maps to a role
// is refused (ForbiddenError); so is a first sign-in under the name of a
// user with a local password (an identity provider cannot take over a
// local account), and a disabled user (ErrUnauthenticated). Every
// sign-in is journaled (oidc.mapped, with user.added or user.changed when
// it created the user or changed their roles).
func (s *Service) MapOIDC(ctx context.Context, issuer, subject, username string, groups []string) (*Identity, error) {
	now := s.now()
	if issuer == "" || subject == "" || len(issuer) > 1024 || len(subject) > 256 {
		return nil, fieldErr("oidc", "an identity needs an issuer (up to 1024 bytes) and a subject (up to 256)")
	}
	roles, matched := s.pol.GroupRoles(groups)
	m, err := s.st.OIDCUser(ctx, issuer, subject)
	mapped := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	name := username
	if mapped {
		name = m.User
	} else if err := CheckUserName(name); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, &ForbiddenError{User: name, Reason: "none of the groups of this sign-in maps to a role (auth.oidc_groups)"}
	}
	cur, err := s.st.User(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if exists && !mapped && cur.PasswordHash != "" {
		return nil, &ForbiddenError{User: name, Reason: "a local user of this name exists; an administrator must remove its password before it can sign in through single sign-on"}
	}
	if exists && cur.Disabled {
		s.append(ctx, archive.EventLoginFailed, serviceActor, &archive.LoginEvent{User: name, Method: string(MethodOIDC), Reason: "disabled"})
		return nil, ErrUnauthenticated
	}
	rs := rolesStrings(roles)
	next := cur
	var evs []journal.Event
	var uev journal.Event
	switch {
	case !exists:
		next = store.UserRow{Name: name, Roles: rs, Created: now, Updated: now}
		uev, err = s.userEvent(archive.EventUserAdded, serviceActor, next, nil)
	case !slices.Equal(cur.Roles, rs):
		next.Roles, next.Updated = rs, now
		uev, err = s.userEvent(archive.EventUserChanged, serviceActor, next, []string{"roles"})
	}
	if err != nil {
		return nil, err
	}
	if uev.Type != "" {
		evs = append(evs, uev)
	}
	oev, err := journal.NewEvent(archive.EventOIDCMapped, serviceActor, archive.Time{}, []string{"user:" + name},
		&archive.OIDCEvent{Issuer: issuer, Subject: subject, User: name, Groups: matched, Roles: rs, Created: !exists})
	if err != nil {
		return nil, err
	}
	evs = append(evs, oev)
	_, err = s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.User(ctx, name)
		switch {
		case !exists && err == nil:
			return fmt.Errorf("user %s: %w", name, ErrConcurrent)
		case !exists:
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.AddUser(ctx, next); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			got.TOTPStep = cur.TOTPStep
			if !reflect.DeepEqual(got, cur) {
				return fmt.Errorf("user %s: %w", name, ErrConcurrent)
			}
			if uev.Type != "" {
				if err := tx.UpdateUser(ctx, next); err != nil {
					return err
				}
			}
		}
		o := store.OIDCRow{Issuer: issuer, Subject: subject, User: name, Created: now, LastUsed: now}
		if mapped {
			o.Created = m.Created
		}
		return tx.PutOIDC(ctx, o)
	}, evs...)
	if err != nil {
		return nil, err
	}
	id := s.identity(next, MethodOIDC)
	return id, nil
}
