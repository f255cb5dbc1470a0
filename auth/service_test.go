package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

var ctx = context.Background()

// clock is the tests' injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)} }
func must[T any](v T, err error) T {
	if err != nil {
		panic(err) // a setup step failed
	}
	return v
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type env struct {
	r    *repo.Repo
	svc  *auth.Service
	clk  *clock
	logs *bytes.Buffer
	// secrets are every credential the test made: none may appear in
	// the journal or the logs.
	secrets []string
}

const pw = "a long enough password"

func newEnv(t *testing.T, cfg auth.Config) *env {
	t.Helper()
	r := archivetest.New(t)
	pol, err := cfg.Policy()
	check(t, err)
	e := &env{r: r, clk: newClock(), logs: &bytes.Buffer{}}
	e.svc, err = auth.NewService(auth.Options{Store: r.Store, Journal: r.Engine, Policy: pol, Now: e.clk.Now, Rand: rand.Reader,
		Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	check(t, err)
	e.secrets = append(e.secrets, pw)
	return e
}

func (e *env) add(t *testing.T, name string, roles ...auth.Role) {
	t.Helper()
	g := auth.Grant{Roles: roles}
	for _, r := range roles {
		if r == auth.Regulator {
			g.Expires = e.clk.Now().Add(48 * time.Hour)
		}
	}
	check(t, second(e.svc.AddUser(ctx, "cli:root", auth.NewUser{Name: name, Password: pw, Grant: g})))
}

// events returns the journal's events of the given types, in order.
func (e *env) events(t *testing.T, types ...string) []journal.Event {
	t.Helper()
	h := must(e.r.Store.Head(ctx))
	var out []journal.Event
	check(t, e.r.Store.Leaves(ctx, 0, h.JournalSize, func(i uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(i, leaf)
		if err != nil {
			return err
		}
		for _, ty := range types {
			if ev.Type == ty {
				out = append(out, *ev)
			}
		}
		return nil
	}))
	return out
}

// noSecretLeaks greps every journal leaf and the logs for every secret
// the test created, in the encodings it could leak in.
func (e *env) noSecretLeaks(t *testing.T) {
	t.Helper()
	h := must(e.r.Store.Head(ctx))
	var all bytes.Buffer
	check(t, e.r.Store.Leaves(ctx, 0, h.JournalSize, func(_ uint64, _, leaf []byte) error { all.Write(leaf); return nil }))
	all.Write(e.logs.Bytes())
	check(t, e.r.Store.Users(ctx, func(u store.UserRow) error {
		if u.PasswordHash != "" {
			e.secrets = append(e.secrets, u.PasswordHash, strings.Split(u.PasswordHash, "$")[5])
		}
		if len(u.TOTPSecret) > 0 {
			e.secrets = append(e.secrets, hex.EncodeToString(u.TOTPSecret), base64.StdEncoding.EncodeToString(u.TOTPSecret),
				base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(u.TOTPSecret))
		}
		return nil
	}))
	if len(e.secrets) < 2 {
		t.Fatal("no secrets to look for")
	}
	for _, s := range e.secrets {
		if bytes.Contains(all.Bytes(), []byte(s)) {
			t.Errorf("a secret (%.8s…) is in the journal or the logs", s)
		}
	}
}

func TestLoginSameErrorUnknownUserWrongPassword(t *testing.T) {
	e := newEnv(t, auth.Config{})
	e.add(t, "alice", auth.Reviewer)
	id, err := e.svc.Login(ctx, "alice", pw, "", "10.0.0.1")
	check(t, err)
	if id.User != "alice" || id.Method != auth.MethodPassword || !id.Has(auth.Reviewer) {
		t.Fatalf("identity %+v", id)
	}
	_, errWrong := e.svc.Login(ctx, "alice", "not the password", "", "10.0.0.1")
	_, errUnknown := e.svc.Login(ctx, "mallory", pw, "", "10.0.0.1")
	for _, err := range []error{errWrong, errUnknown} {
		if err != auth.ErrUnauthenticated {
			t.Fatalf("err = %v, want exactly ErrUnauthenticated", err)
		}
	}
	fails := e.events(t, archive.EventLoginFailed)
	if len(fails) != 2 || !strings.Contains(string(fails[0].Payload), `"user":"alice"`) || !strings.Contains(string(fails[1].Payload), `"reason":"bad_credentials"`) {
		t.Fatalf("login.failed events: %v", fails)
	}
	if ok := e.events(t, archive.EventLoginSucceeded); len(ok) != 1 || !strings.Contains(string(ok[0].Payload), `"addr":"10.0.0.1"`) {
		t.Fatalf("login.succeeded events: %v", ok)
	}
	e.noSecretLeaks(t)
}

func TestDisabledUser(t *testing.T) {
	e := newEnv(t, auth.Config{})
	e.add(t, "bob", auth.Auditor)
	id := must(e.svc.Login(ctx, "bob", pw, "", "a"))
	secret, _, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	tok, _, err := e.svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "t", Owner: "bob", Expires: e.clk.Now().Add(time.Hour)})
	check(t, err)
	e.secrets = append(e.secrets, secret, tok)
	must(e.svc.Disable(ctx, "cli:root", "bob"))
	if _, err := e.svc.Login(ctx, "bob", pw, "", "a"); err != auth.ErrUnauthenticated {
		t.Errorf("login of a disabled user: %v", err)
	}
	if _, _, err := e.svc.Session(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("session of a disabled user: %v", err)
	}
	if _, err := e.svc.Token(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("token of a disabled user: %v", err)
	}
	evs := e.events(t, archive.EventUserDisabled)
	if len(evs) != 1 || evs[0].Actor != "cli:root" || !strings.Contains(string(evs[0].Payload), `"changed":["disabled"]`) {
		t.Fatalf("user.disabled: %v", evs)
	}
	e.noSecretLeaks(t)
}

func TestTokens(t *testing.T) {
	e := newEnv(t, auth.Config{})
	e.add(t, "svc", auth.Ingest)
	e.add(t, "carol", auth.Reviewer)
	exp := e.clk.Now().Add(24 * time.Hour)
	secret, info, err := e.svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "box 1", Owner: "svc", Scopes: []auth.Permission{auth.PermIngest}, Expires: exp})
	check(t, err)
	e.secrets = append(e.secrets, secret, strings.TrimPrefix(secret, auth.TokenPrefix))
	if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) != 47 {
		t.Fatalf("secret %d chars", len(secret))
	}
	id, err := e.svc.Token(ctx, secret)
	check(t, err)
	if id.User != "svc" || id.TokenID != info.ID || id.Method != auth.MethodToken || !id.Can(auth.PermIngest) || id.Can(auth.PermContent) {
		t.Fatalf("identity %+v", id)
	}
	// One character changed: the last one carries 4 bits of the 32 bytes, so
	// it is one of 16 letters, "A" a sixteenth of the time.
	other := "A"
	if strings.HasSuffix(secret, "A") {
		other = "E"
	}
	for _, bad := range []string{"", "wxa_", secret[:len(secret)-1] + other, "Bearer " + secret, strings.ToUpper(secret)} {
		if _, err := e.svc.Token(ctx, bad); err != auth.ErrUnauthenticated {
			t.Errorf("Token(%.10q…) = %v", bad, err)
		}
	}
	// Scopes beyond the owner's permissions, no expiry, too long.
	for _, c := range []struct {
		nt    auth.NewToken
		field string
	}{
		{auth.NewToken{Name: "x", Owner: "carol", Scopes: []auth.Permission{auth.PermUsers}, Expires: exp}, "scopes"},
		{auth.NewToken{Name: "x", Owner: "carol", Scopes: []auth.Permission{"root"}, Expires: exp}, "scopes"},
		{auth.NewToken{Name: "x", Owner: "carol"}, "expires"},
		{auth.NewToken{Name: "x", Owner: "carol", Expires: e.clk.Now().Add(400 * 24 * time.Hour)}, "expires"},
		{auth.NewToken{Name: "", Owner: "carol", Expires: exp}, "name"},
		{auth.NewToken{Name: "x", Owner: "nobody", Expires: exp}, "owner"},
	} {
		_, _, err := e.svc.CreateToken(ctx, "cli:root", c.nt)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("CreateToken(%+v) = %v, want a FieldError on %s", c.nt, err, c.field)
		}
	}
	must(e.svc.RevokeToken(ctx, "cli:root", info.ID))
	if _, err := e.svc.Token(ctx, secret); err != auth.ErrUnauthenticated {
		t.Fatalf("revoked token, next call: %v", err)
	}
	// Expiry.
	s2, _, err := e.svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "short", Owner: "carol", Expires: e.clk.Now().Add(time.Hour)})
	check(t, err)
	e.secrets = append(e.secrets, s2)
	e.clk.Add(time.Hour)
	if _, err := e.svc.Token(ctx, s2); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired token: %v", err)
	}
	list := must(e.svc.Tokens(ctx, ""))
	if len(list) != 2 || list[0].Revoked.IsZero() == (list[0].ID == info.ID) {
		t.Fatalf("Tokens = %+v", list)
	}
	created, revoked := e.events(t, archive.EventTokenCreated), e.events(t, archive.EventTokenRevoked)
	if len(created) != 2 || len(revoked) != 1 || !strings.Contains(string(created[0].Payload), `"scopes":["ingest"]`) {
		t.Fatalf("token events: %v %v", created, revoked)
	}
	e.noSecretLeaks(t)
}

func TestRegulatorExpiry(t *testing.T) {
	e := newEnv(t, auth.Config{})
	_, err := e.svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "sec", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Regulator}}})
	var fe *auth.FieldError
	if !errors.As(err, &fe) || fe.Field != "expires" {
		t.Fatalf("regulator without expiry: %v", err)
	}
	if _, err := e.svc.User(ctx, "sec"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused user was stored: %v", err)
	}
	sc := &auth.Scope{Query: "client:acme", Conversations: []string{"c1"}}
	must(e.svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "sec", Password: pw,
		Grant: auth.Grant{Roles: []auth.Role{auth.Regulator}, Scope: sc, Expires: e.clk.Now().Add(time.Hour)}}))
	id := must(e.svc.Login(ctx, "sec", pw, "", "x"))
	if id.Scope == nil || id.Scope.Query != "client:acme" || check2(id.Authorize(auth.PermExport, e.clk.Now())) != nil {
		t.Fatalf("regulator identity %+v", id)
	}
	tok, _, err := e.svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "t", Owner: "sec", Expires: e.clk.Now().Add(100 * time.Hour)})
	check(t, err)
	secret, _, err := e.svc.StartSession(ctx, id, "x")
	check(t, err)
	e.secrets = append(e.secrets, tok, secret)
	e.clk.Add(time.Hour)
	var ee *auth.ExpiredError
	if _, err := e.svc.Login(ctx, "sec", pw, "", "x"); !errors.As(err, &ee) || !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("expired regulator login: %v", err)
	}
	if _, err := e.svc.Token(ctx, tok); !errors.As(err, &ee) {
		t.Errorf("expired regulator token: %v", err)
	}
	if _, _, err := e.svc.Session(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("expired regulator session: %v", err)
	}
	if !errors.As(id.Authorize(auth.PermContent, e.clk.Now()), &ee) {
		t.Error("the identity issued before expiry still authorizes")
	}
	ev := e.events(t, archive.EventUserAdded)
	if len(ev) != 1 || !strings.Contains(string(ev[0].Payload), `"scope":{"query":"client:acme","conversations":["c1"]}`) {
		t.Fatalf("user.added: %s", ev[0].Payload)
	}
}

func check2(err error) error { return err }

func TestTOTP(t *testing.T) {
	e := newEnv(t, auth.Config{RequireTOTP: []string{"admin"}, LockoutThreshold: 100})
	e.add(t, "root", auth.Admin)
	if _, err := e.svc.Login(ctx, "root", pw, "", "a"); err != auth.ErrUnauthenticated {
		t.Fatalf("admin without TOTP enrolled, when required: %v", err)
	}
	key, uri, err := e.svc.EnrolTOTP(ctx, "cli:root", "root")
	check(t, err)
	if !strings.HasPrefix(uri, "otpauth://totp/wxarchive:root?") {
		t.Fatalf("uri %s", uri)
	}
	e.secrets = append(e.secrets, uri)
	code := auth.TOTPCode(key, e.clk.Now())
	if _, err := e.svc.Login(ctx, "root", pw, "000000", "a"); err != auth.ErrUnauthenticated && code != "000000" {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := e.svc.Login(ctx, "root", "wrong password", code, "a"); err != auth.ErrUnauthenticated {
		t.Fatalf("right code, wrong password: %v", err)
	}
	check(t, second(e.svc.Login(ctx, "root", pw, code, "a")))
	if _, err := e.svc.Login(ctx, "root", pw, code, "a"); err != auth.ErrUnauthenticated {
		t.Fatalf("replayed code: %v", err)
	}
	// The previous step's code, still within the skew, is refused once
	// a later step was used (codes only move forward).
	if _, err := e.svc.Login(ctx, "root", pw, auth.TOTPCode(key, e.clk.Now().Add(-30*time.Second)), "a"); err != auth.ErrUnauthenticated {
		t.Fatalf("an earlier step's code after a later one: %v", err)
	}
	e.clk.Add(30 * time.Second)
	check(t, second(e.svc.Login(ctx, "root", pw, auth.TOTPCode(key, e.clk.Now()), "a")))
	reasons := ""
	for _, ev := range e.events(t, archive.EventLoginFailed) {
		reasons += string(ev.Payload)
	}
	for _, r := range []string{"totp_required", "bad_code", "code_reused"} {
		if !strings.Contains(reasons, r) {
			t.Errorf("no login.failed with reason %s", r)
		}
	}
	e.noSecretLeaks(t)
}

func second[T any](_ T, err error) error { return err }

func TestLockout(t *testing.T) {
	e := newEnv(t, auth.Config{LockoutThreshold: 3, LockoutWindow: 10 * time.Minute, LockoutDuration: 15 * time.Minute})
	e.add(t, "dan", auth.Reviewer)
	for range 3 {
		if _, err := e.svc.Login(ctx, "dan", "guess", "", "10.1.1.1"); err != auth.ErrUnauthenticated {
			t.Fatal(err)
		}
	}
	// Locked: even the right password fails, with a LockedError that
	// matches ErrUnauthenticated.
	_, err := e.svc.Login(ctx, "dan", pw, "", "10.9.9.9")
	var le *auth.LockedError
	if !errors.As(err, &le) || !errors.Is(err, auth.ErrUnauthenticated) || le.Key != "user:dan" || !le.Until.Equal(e.clk.Now().Add(15*time.Minute)) {
		t.Fatalf("locked login: %v", err)
	}
	// The address is locked too, for every user name.
	e.add(t, "erin", auth.Reviewer)
	if _, err := e.svc.Login(ctx, "erin", pw, "", "10.1.1.1"); !errors.As(err, &le) || le.Key != "addr:10.1.1.1" {
		t.Fatalf("login from a locked address: %v", err)
	}
	check(t, second(e.svc.Login(ctx, "erin", pw, "", "10.2.2.2")))
	locks := e.events(t, archive.EventLoginLocked)
	if len(locks) != 2 || !strings.Contains(string(locks[0].Payload), `"key":"user:dan"`) || !strings.Contains(string(locks[0].Payload), `"failures":3`) {
		t.Fatalf("login.locked events: %v", locks)
	}
	e.clk.Add(15 * time.Minute)
	check(t, second(e.svc.Login(ctx, "dan", pw, "", "10.1.1.1")))
	// Failures outside the window do not add up.
	for range 2 {
		e.svc.Login(ctx, "dan", "guess", "", "10.3.3.3")
	}
	e.clk.Add(11 * time.Minute)
	e.svc.Login(ctx, "dan", "guess", "", "10.3.3.3")
	check(t, second(e.svc.Login(ctx, "dan", pw, "", "10.4.4.4")))
}

func TestSessions(t *testing.T) {
	e := newEnv(t, auth.Config{SessionIdle: 10 * time.Minute, SessionAbsolute: time.Hour})
	e.add(t, "fay", auth.Principal)
	id := must(e.svc.Login(ctx, "fay", pw, "", "a"))
	s1, sess, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	s2, sess2, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	e.secrets = append(e.secrets, s1, s2)
	if s1 == s2 || sess.ID == sess2.ID || sess.ID != auth.SessionID(s1) || strings.Contains(s1, sess.ID) {
		t.Fatal("sessions are not new each time, or the public id reveals the secret")
	}
	for i := range 5 { // activity keeps the session alive up to the absolute timeout
		e.clk.Add(9 * time.Minute)
		got, s, err := e.svc.Session(ctx, s1)
		if err != nil || got.User != "fay" || !s.IdleUntil.Equal(e.clk.Now().Add(10*time.Minute)) {
			t.Fatalf("step %d: %v %+v", i, err, s)
		}
	}
	if _, _, err := e.svc.Session(ctx, s2); err != auth.ErrUnauthenticated {
		t.Fatalf("idle session: %v", err)
	}
	e.clk.Add(9 * time.Minute) // 54 min
	check(t, third(e.svc.Session(ctx, s1)))
	e.clk.Add(6 * time.Minute) // 60 min: absolute
	if _, _, err := e.svc.Session(ctx, s1); err != auth.ErrUnauthenticated {
		t.Fatalf("session past its absolute timeout: %v", err)
	}
	s3, _, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	e.secrets = append(e.secrets, s3)
	check(t, e.svc.EndSession(ctx, s3))
	if _, _, err := e.svc.Session(ctx, s3); err != auth.ErrUnauthenticated {
		t.Fatalf("session after logout: %v", err)
	}
	if err := e.svc.EndSession(ctx, s3); err != auth.ErrUnauthenticated {
		t.Fatalf("second logout: %v", err)
	}
	if evs := e.events(t, archive.EventSessionEnded); len(evs) != 1 {
		t.Fatalf("session.ended: %v", evs)
	}
	// A role taken away applies to an open session at once.
	s4, _, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	e.secrets = append(e.secrets, s4)
	must(e.svc.SetGrant(ctx, "cli:root", "fay", auth.Grant{Roles: []auth.Role{auth.Auditor}}))
	got, _, err := e.svc.Session(ctx, s4)
	check(t, err)
	if got.Has(auth.Principal) || !got.Has(auth.Auditor) {
		t.Fatalf("roles after the change: %v", got.Roles)
	}
	// A new password ends the sessions.
	must(e.svc.SetPassword(ctx, "cli:root", "fay", "another long password"))
	e.secrets = append(e.secrets, "another long password")
	if _, _, err := e.svc.Session(ctx, s4); err != auth.ErrUnauthenticated {
		t.Fatalf("session after a password change: %v", err)
	}
	// A session never presented again is swept by the next login's.
	s5, _, err := e.svc.StartSession(ctx, id, "a")
	check(t, err)
	e.secrets = append(e.secrets, s5)
	e.clk.Add(11 * time.Minute)
	check(t, third(e.svc.StartSession(ctx, id, "a")))
	if _, err := e.r.Store.SessionByHash(ctx, sha256.Sum256([]byte(s5))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an idle session's row stays: %v", err)
	}
	e.noSecretLeaks(t)
}

func third[A, B any](_ A, _ B, err error) error { return err }

func TestUserValidation(t *testing.T) {
	e := newEnv(t, auth.Config{})
	e.add(t, "gus", auth.Reviewer)
	for _, c := range []struct {
		nu    auth.NewUser
		field string
	}{
		{auth.NewUser{Name: "bad name", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}, "user"},
		{auth.NewUser{Name: "x", Password: pw}, "roles"},
		{auth.NewUser{Name: "x", Password: pw, Grant: auth.Grant{Roles: []auth.Role{"root"}}}, "roles"},
		{auth.NewUser{Name: "x", Password: "short", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}, "password"},
		{auth.NewUser{Name: "x", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Admin}, Scope: &auth.Scope{Query: "q"}}}, "scope"},
		{auth.NewUser{Name: "x", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Reviewer}, Departments: []string{""}}}, "departments"},
	} {
		_, err := e.svc.AddUser(ctx, "cli:root", c.nu)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("AddUser(%+v) = %v, want a FieldError on %s", c.nu, err, c.field)
		}
	}
	if _, err := e.svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "gus", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser of an existing name: %v", err)
	}
	if _, err := e.svc.SetGrant(ctx, "cli:root", "nobody", auth.Grant{Roles: []auth.Role{auth.Admin}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetGrant of no one: %v", err)
	}
	users := must(e.svc.Users(ctx))
	if len(users) != 1 || users[0].Name != "gus" {
		t.Fatalf("refused users were stored: %+v", users)
	}
	// Departments, then roles: each change one event naming what changed.
	must(e.svc.SetGrant(ctx, "cli:root", "gus", auth.Grant{Roles: []auth.Role{auth.Reviewer}, Departments: []string{"销售部"}}))
	must(e.svc.SetGrant(ctx, "cli:root", "gus", auth.Grant{Roles: []auth.Role{auth.Reviewer}, Departments: []string{"销售部"}})) // no change: no event
	evs := e.events(t, archive.EventUserChanged)
	if len(evs) != 1 || !strings.Contains(string(evs[0].Payload), `"changed":["departments"]`) || !strings.Contains(string(evs[0].Payload), "销售部") {
		t.Fatalf("user.changed: %v", evs)
	}
}

func TestMapOIDC(t *testing.T) {
	e := newEnv(t, auth.Config{OIDCGroups: map[string][]string{"wx-compliance": {"principal"}, "wx-audit": {"auditor"}}})
	const iss = "https://idp.example.com"
	id, err := e.svc.MapOIDC(ctx, iss, "sub-1", "hana", []string{"everyone", "wx-compliance"})
	check(t, err)
	if id.User != "hana" || id.Method != auth.MethodOIDC || !id.Has(auth.Principal) || len(id.Roles) != 1 {
		t.Fatalf("identity %+v", id)
	}
	// The mapping wins over a changed user name claim; groups are
	// authoritative.
	id, err = e.svc.MapOIDC(ctx, iss, "sub-1", "hana.renamed", []string{"wx-audit"})
	check(t, err)
	if id.User != "hana" || id.Has(auth.Principal) || !id.Has(auth.Auditor) {
		t.Fatalf("second sign-in %+v", id)
	}
	var fe *auth.ForbiddenError
	if _, err := e.svc.MapOIDC(ctx, iss, "sub-2", "ivan", []string{"everyone"}); !errors.As(err, &fe) {
		t.Fatalf("no mapped group: %v", err)
	}
	e.add(t, "jo", auth.Admin)
	if _, err := e.svc.MapOIDC(ctx, iss, "sub-3", "jo", []string{"wx-audit"}); !errors.As(err, &fe) {
		t.Fatalf("an identity provider took over a local account: %v", err)
	}
	if _, err := e.svc.Login(ctx, "hana", "", "", "a"); err != auth.ErrUnauthenticated {
		t.Fatalf("password login of an SSO-only user: %v", err)
	}
	must(e.svc.Disable(ctx, "cli:root", "hana"))
	if _, err := e.svc.MapOIDC(ctx, iss, "sub-1", "hana", []string{"wx-audit"}); err != auth.ErrUnauthenticated {
		t.Fatalf("a disabled user signed in: %v", err)
	}
	mapped := e.events(t, archive.EventOIDCMapped)
	if len(mapped) != 2 || !strings.Contains(string(mapped[0].Payload), `"groups":["wx-compliance"],"roles":["principal"],"created":true`) {
		t.Fatalf("oidc.mapped: %v", mapped)
	}
	if len(e.events(t, archive.EventUserAdded)) != 2 || len(e.events(t, archive.EventUserChanged)) != 1 {
		t.Fatal("the user's creation and role change were not journaled once each")
	}
}

// TestReindexKeepsIdentity: users, tokens and sessions are primary, not
// a projection: `wxarchive reindex` keeps them.
func TestReindexKeepsIdentity(t *testing.T) {
	r, dir := archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true})
	svc, err := auth.NewService(auth.Options{Store: r.Store, Journal: r.Engine, Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	check(t, err)
	must(svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "kim", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Auditor}}}))
	tok, _, err := svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "t", Owner: "kim", Expires: time.Now().Add(time.Hour)})
	check(t, err)
	id := must(svc.Login(ctx, "kim", pw, "", "a"))
	sess, _, err := svc.StartSession(ctx, id, "a")
	check(t, err)
	check(t, r.Close(ctx))
	r2 := archivetest.OpenDir(t, dir)
	check(t, r2.Reindex(ctx, nil))
	svc2, err := auth.NewService(auth.Options{Store: r2.Store, Journal: r2.Engine})
	check(t, err)
	if _, err := svc2.Login(ctx, "kim", pw, "", "a"); err != nil {
		t.Errorf("login after reindex: %v", err)
	}
	if _, err := svc2.Token(ctx, tok); err != nil {
		t.Errorf("token after reindex: %v", err)
	}
	if _, _, err := svc2.Session(ctx, sess); err != nil {
		t.Errorf("session after reindex: %v", err)
	}
}

// BenchmarkLogin is a whole password login with DefaultArgon2 — lookups,
// the hash, throttling and the journal event — for a known user (right
// and wrong password) and an unknown one: the three take the same time
// (the unknown user's login verifies a dummy hash), so timing tells an
// outsider nothing of which names exist (docs/BENCHMARKS.md).
func BenchmarkLogin(b *testing.B) {
	r := archivetest.New(b)
	pol, _ := auth.Config{LockoutThreshold: 1000}.Policy()
	svc, err := auth.NewService(auth.Options{Store: r.Store, Journal: r.Engine, Policy: pol})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, "cli:root", auth.NewUser{Name: "alice", Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Reviewer}}}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, user, pw string }{
		{"known-right", "alice", pw}, {"known-wrong", "alice", "not the password"}, {"unknown", "mallory", pw},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, err := svc.Login(ctx, c.user, c.pw, "", "10.0.0.1")
				if (err == nil) != (c.name == "known-right") {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingStore counts token lookups; versioned adds the store's identity
// version, so the service may keep what a lookup found.
type countingStore struct {
	store.AuthStore
	lookups int
}

func (c *countingStore) TokenByHash(ctx context.Context, h [32]byte) (store.TokenRow, error) {
	c.lookups++
	return c.AuthStore.TokenByHash(ctx, h)
}

type versioned struct {
	*countingStore
	store.IdentityVersioner
}

// TestTokenCache: with a store that reports identity changes, a token is
// looked up once while nothing changes — and every change that matters
// (a grant, a disabled owner, a revocation, expiry) holds from the next
// request on. Without one, every request looks the token up.
func TestTokenCache(t *testing.T) {
	e := newEnv(t, auth.Config{})
	e.add(t, "bob", auth.Auditor)
	cs := &countingStore{AuthStore: e.r.Store}
	svc, err := auth.NewService(auth.Options{Store: versioned{cs, e.r.Store.(store.IdentityVersioner)}, Journal: e.r.Engine, Now: e.clk.Now})
	check(t, err)
	tok, info, err := svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "t", Owner: "bob", Expires: e.clk.Now().Add(2 * time.Hour)})
	check(t, err)
	other, _, err := svc.CreateToken(ctx, "cli:root", auth.NewToken{Name: "u", Owner: "bob", Expires: e.clk.Now().Add(2 * time.Hour)})
	check(t, err)
	e.secrets = append(e.secrets, tok, other)
	use := func(secret string) (*auth.Identity, error) { return svc.Token(ctx, secret) }
	must(use(tok)) // first use: journaled (token.used), which moves the version
	cs.lookups = 0
	for range 5 {
		if id := must(use(tok)); !id.Has(auth.Auditor) {
			t.Fatalf("identity %+v", id)
		}
	}
	if cs.lookups != 1 {
		t.Fatalf("5 requests with nothing changed made %d lookups, want 1", cs.lookups)
	}
	must(svc.SetGrant(ctx, "cli:root", "bob", auth.Grant{Roles: []auth.Role{auth.Reviewer}}))
	if id := must(use(tok)); id.Has(auth.Auditor) || !id.Has(auth.Reviewer) {
		t.Fatalf("after a new grant the token acts with %v", id.Roles)
	}
	must(use(other))
	must(svc.RevokeToken(ctx, "cli:root", info.ID))
	if _, err := use(tok); err != auth.ErrUnauthenticated {
		t.Fatalf("revoked token, next request: %v", err)
	}
	if _, err := use(other); err != nil {
		t.Fatalf("another token of the owner after a revocation: %v", err)
	}
	e.clk.Add(2 * time.Hour)
	if _, err := use(other); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired token served from the cache: %v", err)
	}
	e.clk.Add(-2 * time.Hour)
	must(svc.Disable(ctx, "cli:root", "bob"))
	if _, err := use(other); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("token of a disabled owner: %v", err)
	}

	// A store that cannot tell: a lookup per request.
	e.add(t, "carol", auth.Auditor)
	plain := &countingStore{AuthStore: e.r.Store}
	svc2, err := auth.NewService(auth.Options{Store: plain, Journal: e.r.Engine, Now: e.clk.Now})
	check(t, err)
	tok2, _, err := svc2.CreateToken(ctx, "cli:root", auth.NewToken{Name: "t", Owner: "carol", Expires: e.clk.Now().Add(time.Hour)})
	check(t, err)
	e.secrets = append(e.secrets, tok2)
	for range 3 {
		must(svc2.Token(ctx, tok2))
	}
	if plain.lookups != 3 {
		t.Fatalf("3 requests through a store without a version made %d lookups", plain.lookups)
	}
	e.noSecretLeaks(t)
}
