package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Journal is what the service journals through: the archive's single
// writer (ingest.EventWriter). A change of a grant is appended with
// AppendIf, its rows written by cond in the same transaction, so the
// change and its event are durable together or not at all.
type Journal interface {
	Append(ctx context.Context, events ...journal.Event) ([]uint64, error)
	AppendIf(ctx context.Context, cond func(ctx context.Context, tx store.Tx) error, events ...journal.Event) ([]uint64, error)
}

// Options configure a Service.
type Options struct {
	Store   store.AuthStore
	Journal Journal
	Policy  Policy           // zero: DefaultPolicy
	Now     func() time.Time // nil: time.Now
	Rand    io.Reader        // nil: crypto/rand
	Argon2  Argon2Params     // zero: DefaultArgon2
	Logger  *slog.Logger     // nil: discard
	// Issuer names the archive in authenticator apps (TOTP enrolment).
	Issuer string
}

// Service authenticates (Authenticator) and administers users and
// tokens over the identity store, journaling every change and login.
type Service struct {
	st     store.AuthStore
	j      Journal
	pol    Policy
	now    func() time.Time
	rand   io.Reader
	argon  Argon2Params
	log    *slog.Logger
	issuer string

	tokens tokenCache

	dummyOnce sync.Once
	dummy     string
	dummyErr  error
}

var _ Authenticator = (*Service)(nil)

// NewService returns the service over o.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Journal == nil {
		return nil, errors.New("auth: a service needs a store and a journal")
	}
	s := &Service{st: o.Store, j: o.Journal, pol: o.Policy, now: o.Now, rand: o.Rand, argon: o.Argon2, log: o.Logger, issuer: o.Issuer}
	if s.pol.SessionAbsolute == 0 {
		s.pol = DefaultPolicy()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.argon == (Argon2Params{}) {
		s.argon = DefaultArgon2
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.issuer == "" {
		s.issuer = "wxarchive"
	}
	return s, nil
}

// Actor of the events the service journals on its own behalf (logins).
const serviceActor = "auth"

// TokenPrefix starts every API token's secret, so that a leaked token is
// recognisable (secret scanners, logs) and a bearer string that is not
// one is refused without a lookup's worth of difference in time.
const TokenPrefix = "wxa_"

// Sizes of generated secrets (bytes of randomness).
const (
	tokenSecretBytes   = 32
	sessionSecretBytes = 32
	tokenIDBytes       = 8
)

var tokenSecretLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenSecretBytes)

// MaxTokenLifetime bounds a token's expiry: a machine credential is
// rotated at least yearly.
const MaxTokenLifetime = 366 * 24 * time.Hour

// Name bounds.
const (
	maxLoginField = 128 // a user name or address as journaled from a login attempt
	maxDeptBytes  = 128
	maxTokenName  = 128
	maxDepts      = 100
)

var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// FieldError is a request the caller must change: the field at fault,
// named. Nothing was changed.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// ErrConcurrent: the object changed between reading it and writing the
// change; nothing was written, and the caller may try again.
var ErrConcurrent = errors.New("changed by someone else meanwhile; try again")

// CheckUserName says why name cannot be a user name.
func CheckUserName(name string) error {
	if !userNamePattern.MatchString(name) {
		return fieldErr("user", "%q is not a user name (1–64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit)", bound(name))
	}
	return nil
}

// ---- the Authenticator -----------------------------------------------------

// dummyHash is verified for an unknown user (or one without a password),
// so that a login takes the time of a real one either way.
func (s *Service) dummyHash() (string, error) {
	s.dummyOnce.Do(func() {
		pw := make([]byte, 32)
		if _, err := io.ReadFull(s.rand, pw); err != nil {
			s.dummyErr = err
			return
		}
		s.dummy, s.dummyErr = HashPassword(hex.EncodeToString(pw), s.argon, s.rand)
	})
	return s.dummy, s.dummyErr
}

// bound cuts s to what a journal entry of a login attempt keeps.
func bound(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxLoginField {
		return s
	}
	cut := maxLoginField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Login implements Authenticator.
func (s *Service) Login(ctx context.Context, user, password, code, addr string) (*Identity, error) {
	now := s.now()
	name, addr := bound(user), bound(addr)
	keys := []string{"user:" + name, "addr:" + addr}
	var locked *LockedError
	for _, k := range keys {
		until, err := s.st.Lockout(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		if now.Before(until) && locked == nil {
			locked = &LockedError{Key: k, Until: until}
		}
	}
	u, uerr := s.st.User(ctx, name)
	if uerr != nil && !errors.Is(uerr, store.ErrNotFound) {
		return nil, fmt.Errorf("login: %w", uerr)
	}
	known := uerr == nil && u.PasswordHash != ""
	hash := u.PasswordHash
	if !known {
		var err error
		if hash, err = s.dummyHash(); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	// The hash is verified in every case — locked, unknown, disabled — so
	// the time taken tells nothing of which.
	match, verr := VerifyPassword(hash, password)
	if verr != nil && known {
		s.log.Error("login: a stored password hash does not parse", "user", name, "err", verr)
	}
	match = match && known
	fail := func(reason string) (*Identity, error) {
		return nil, s.failLogin(ctx, keys, name, addr, reason, now, locked)
	}
	switch {
	case locked != nil:
		return fail("locked")
	case !match:
		return fail("bad_credentials")
	case u.Disabled:
		return fail("disabled")
	}
	id := s.identity(u, MethodPassword)
	if len(u.TOTPSecret) > 0 || s.pol.RequiresTOTP(id.Roles) {
		if len(u.TOTPSecret) == 0 {
			return fail("totp_required")
		}
		step, ok := matchTOTP(u.TOTPSecret, code, now)
		if !ok {
			return fail("bad_code")
		}
		if fresh, err := s.st.UseTOTPStep(ctx, u.Name, step); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		} else if !fresh {
			return fail("code_reused")
		}
	}
	if !id.Expires.IsZero() && !now.Before(id.Expires) {
		s.failLogin(ctx, keys, name, addr, "expired", now, nil)
		return nil, &ExpiredError{User: u.Name, At: id.Expires}
	}
	if err := s.st.ClearLoginFailures(ctx, keys[0]); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if err := s.append(ctx, archive.EventLoginSucceeded, serviceActor, &archive.LoginEvent{User: u.Name, Method: string(MethodPassword), Addr: addr}); err != nil {
		return nil, err // a login that cannot be accounted for is refused
	}
	return id, nil
}

// failLogin records a failed login: a failure for the user and for the
// address, a lockout of either that reaches the threshold (journaled),
// and the failure itself. It returns what the caller is told: locked when
// a lockout was already in force, else ErrUnauthenticated.
func (s *Service) failLogin(ctx context.Context, keys []string, name, addr, reason string, now time.Time, locked *LockedError) error {
	var lockEvents []*archive.LoginEvent
	if locked == nil { // failures during a lockout do not lengthen it
		for _, k := range keys {
			if err := s.st.AddLoginFailure(ctx, k, now, now.Add(-s.pol.LockoutWindow)); err != nil {
				s.log.Error("login: record a failure", "key", k, "err", err)
				continue
			}
			n, err := s.st.LoginFailures(ctx, k, now.Add(-s.pol.LockoutWindow))
			if err != nil {
				s.log.Error("login: count failures", "key", k, "err", err)
				continue
			}
			if n >= s.pol.LockoutThreshold {
				until := now.Add(s.pol.LockoutDuration)
				if err := s.st.SetLockout(ctx, k, until); err != nil {
					s.log.Error("login: lock out", "key", k, "err", err)
					continue
				}
				if err := s.st.ClearLoginFailures(ctx, k); err != nil {
					s.log.Error("login: clear failures", "key", k, "err", err)
				}
				lockEvents = append(lockEvents, &archive.LoginEvent{User: name, Method: string(MethodPassword), Addr: addr,
					Reason: "locked", Key: k, Until: archive.At(until), Failures: n})
			}
		}
	}
	evs := []journal.Event{}
	if ev, err := journal.NewEvent(archive.EventLoginFailed, serviceActor, archive.Time{}, nil,
		&archive.LoginEvent{User: name, Method: string(MethodPassword), Addr: addr, Reason: reason}); err == nil {
		evs = append(evs, ev)
	}
	for _, le := range lockEvents {
		if ev, err := journal.NewEvent(archive.EventLoginLocked, serviceActor, archive.Time{}, nil, le); err == nil {
			evs = append(evs, ev)
		}
	}
	if _, err := s.j.Append(ctx, evs...); err != nil {
		s.log.Error("login: journal a failure", "err", err)
	}
	if locked != nil {
		return locked
	}
	return ErrUnauthenticated
}

// identity is u as an authenticated caller.
func (s *Service) identity(u store.UserRow, m Method) *Identity {
	id := &Identity{User: u.Name, Method: m, Departments: slices.Clone(u.Departments), Expires: u.Expires}
	for _, r := range u.Roles {
		if role, err := ParseRole(r); err == nil {
			id.Roles = append(id.Roles, role)
		} else {
			s.log.Warn("a stored role is unknown to this program; ignored", "user", u.Name, "role", r)
		}
	}
	if len(u.Scope) > 0 {
		var sc Scope
		if err := json.Unmarshal(u.Scope, &sc); err != nil {
			// A scope that does not read must not widen access: the
			// regulator sees nothing rather than everything.
			s.log.Error("a stored regulator scope does not read; access refused", "user", u.Name, "err", err)
			id.Expires = time.Unix(0, 1)
		}
		id.Scope = &sc
	}
	return id
}

// Token implements Authenticator.
func (s *Service) Token(ctx context.Context, secret string) (*Identity, error) {
	now := s.now()
	h := sha256.Sum256([]byte(secret))
	wellFormed := len(secret) == tokenSecretLen && strings.HasPrefix(secret, TokenPrefix)
	t, u, err := s.tokenRows(ctx, h)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("token: %w", err)
	}
	if err != nil || !wellFormed || subtle.ConstantTimeCompare(t.Hash[:], h[:]) != 1 || !t.Revoked.IsZero() {
		return nil, ErrUnauthenticated
	}
	if !now.Before(t.Expires) {
		return nil, &ExpiredError{User: t.Owner, At: t.Expires}
	}
	if u == nil {
		return nil, ErrUnauthenticated
	}
	if u.Disabled {
		return nil, ErrUnauthenticated
	}
	id := s.identity(*u, MethodToken)
	id.TokenID = t.ID
	for _, p := range t.Scopes {
		id.Scopes = append(id.Scopes, Permission(p))
	}
	if id.Expires.IsZero() || t.Expires.Before(id.Expires) {
		id.Expires = t.Expires
	}
	if !now.Before(id.Expires) {
		return nil, &ExpiredError{User: u.Name, At: id.Expires}
	}
	// A token's use is journaled, and its last use kept, once a day:
	// enough to say which machine acted on which day and to find unused
	// tokens, without a write per request (what each request did is
	// journaled by its use case, as the token's owner).
	if t.LastUsed.IsZero() || now.Sub(t.LastUsed) >= 24*time.Hour {
		if err := s.tokenUsed(ctx, t, now); err != nil {
			s.log.Warn("token: record its use", "token", t.ID, "err", err)
		}
	}
	return id, nil
}

// tokenCacheSize bounds the token lookups kept: more tokens in use than
// this only costs lookups.
const tokenCacheSize = 4096

// tokenCache keeps the rows a token's secret was found with, for a store
// that reports when any of them may have changed (store.IdentityVersioner):
// each request then costs a map lookup instead of two queries (about 3 %
// of a search's CPU, docs/BENCHMARKS.md), and everything Token checks —
// revocation, expiry, a disabled owner — is still checked on the rows the
// store holds now: any write to a user or token moves the version and
// empties the cache before the next request.
type tokenCache struct {
	mu      sync.Mutex
	version uint64
	rows    map[[32]byte]cachedToken
}

type cachedToken struct {
	t store.TokenRow
	u *store.UserRow // nil: the owner does not exist
}

// tokenRows returns the token whose secret hashes to h and its owner (nil
// if none) — from the cache when the store's identity version has not
// moved since they were read.
func (s *Service) tokenRows(ctx context.Context, h [32]byte) (store.TokenRow, *store.UserRow, error) {
	vs, cacheable := s.st.(store.IdentityVersioner)
	var v uint64
	if cacheable {
		// Read before the rows: a write committed after this moves the
		// version past v, so rows read under v are never kept as newer.
		v = vs.IdentityVersion()
		s.tokens.mu.Lock()
		c, ok := s.tokens.rows[h]
		if ok && s.tokens.version == v {
			s.tokens.mu.Unlock()
			return c.t, c.u, nil
		}
		s.tokens.mu.Unlock()
	}
	t, err := s.st.TokenByHash(ctx, h)
	if err != nil {
		// Unknown secrets are not kept: the cache holds only tokens that
		// exist, so guessing cannot grow it.
		return t, nil, err
	}
	var u *store.UserRow
	switch row, err := s.st.User(ctx, t.Owner); {
	case err == nil:
		u = &row
	case !errors.Is(err, store.ErrNotFound):
		return t, nil, err
	}
	if cacheable {
		s.tokens.mu.Lock()
		if s.tokens.version != v || len(s.tokens.rows) >= tokenCacheSize {
			if s.tokens.version > v {
				// A newer reader already refilled the cache; these
				// rows may be older than its.
				s.tokens.mu.Unlock()
				return t, u, nil
			}
			s.tokens.version, s.tokens.rows = v, map[[32]byte]cachedToken{}
		}
		if s.tokens.rows == nil {
			s.tokens.rows = map[[32]byte]cachedToken{}
		}
		s.tokens.rows[h] = cachedToken{t: t, u: u}
		s.tokens.mu.Unlock()
	}
	return t, u, nil
}

// SessionID is the public id of a session secret: a prefix of its hash,
// safe to log and journal.
func SessionID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:8])
}

// StartSession implements Authenticator.
func (s *Service) StartSession(ctx context.Context, id *Identity, addr string) (string, *Session, error) {
	if id == nil || id.User == "" {
		return "", nil, ErrUnauthenticated
	}
	now := s.now()
	b := make([]byte, sessionSecretBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", nil, fmt.Errorf("session: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(s.pol.SessionAbsolute)
	if !id.Expires.IsZero() && id.Expires.Before(exp) {
		exp = id.Expires
	}
	row := store.SessionRow{Hash: sha256.Sum256([]byte(secret)), ID: SessionID(secret), User: id.User, Method: string(id.Method),
		Addr: bound(addr), Created: now, LastSeen: now, IdleUntil: minTime(now.Add(s.pol.SessionIdle), exp), Expires: exp}
	// Sessions never presented again would stay; each new one sweeps
	// those past their timeouts (the table is as small as the users
	// logged in).
	if _, err := s.st.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.Warn("session: remove timed-out sessions", "err", err)
	}
	if err := s.st.PutSession(ctx, row); err != nil {
		return "", nil, fmt.Errorf("session: %w", err)
	}
	return secret, sessionOf(row), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func sessionOf(r store.SessionRow) *Session {
	return &Session{ID: r.ID, User: r.User, Created: r.Created, LastSeen: r.LastSeen, IdleUntil: r.IdleUntil, Expires: r.Expires}
}

// Session implements Authenticator.
func (s *Service) Session(ctx context.Context, secret string) (*Identity, *Session, error) {
	now := s.now()
	h := sha256.Sum256([]byte(secret))
	row, err := s.st.SessionByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrUnauthenticated
	} else if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	end := func() (*Identity, *Session, error) {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			s.log.Warn("session: remove a timed-out session", "session", row.ID, "err", err)
		}
		return nil, nil, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare(row.Hash[:], h[:]) != 1 || !now.Before(row.IdleUntil) || !now.Before(row.Expires) {
		return end()
	}
	u, err := s.st.User(ctx, row.User)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return end()
	} else if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	// The identity is read again on every request: a role taken away
	// applies to open sessions at once.
	id := s.identity(u, Method(row.Method))
	if !id.Expires.IsZero() && !now.Before(id.Expires) {
		s.st.DeleteSession(ctx, h)
		return nil, nil, &ExpiredError{User: u.Name, At: id.Expires}
	}
	row.LastSeen, row.IdleUntil = now, minTime(now.Add(s.pol.SessionIdle), row.Expires)
	if err := s.st.TouchSession(ctx, h, row.LastSeen, row.IdleUntil); err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	return id, sessionOf(row), nil
}

// EndSession implements Authenticator.
func (s *Service) EndSession(ctx context.Context, secret string) error {
	h := sha256.Sum256([]byte(secret))
	row, err := s.st.SessionByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnauthenticated
	} else if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if err := s.st.DeleteSession(ctx, h); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return s.append(ctx, archive.EventSessionEnded, serviceActor, &archive.SessionEvent{User: row.User, Session: row.ID, Reason: "logout"})
}

func (s *Service) append(ctx context.Context, typ, actor string, payload any) error {
	ev, err := journal.NewEvent(typ, actor, archive.Time{}, nil, payload)
	if err != nil {
		return err
	}
	if _, err := s.j.Append(ctx, ev); err != nil {
		return fmt.Errorf("journal %s: %w", typ, err)
	}
	return nil
}

// tokenUsed journals a token's first use of the day (token.used, as its
// owner) and keeps the time as its last use, in one commit.
func (s *Service) tokenUsed(ctx context.Context, t store.TokenRow, now time.Time) error {
	ev, err := journal.NewEvent(archive.EventTokenUsed, "api:"+t.Owner, archive.Time{}, []string{"token:" + t.ID, "user:" + t.Owner},
		&archive.TokenEvent{ID: t.ID, Name: t.Name, Owner: t.Owner, Scopes: t.Scopes, Expires: archive.At(t.Expires)})
	if err != nil {
		return err
	}
	_, err = s.j.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error { return tx.TouchToken(ctx, t.ID, now) }, ev)
	return err
}
