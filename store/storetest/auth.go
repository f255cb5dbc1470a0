package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/store"
)

// The identity tables' clauses (store/auth.go).
var authTests = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	{"AuthUsers", testAuthUsers},
	{"AuthUsersInTx", testAuthUsersInTx},
	{"AuthTOTPStepOnce", testAuthTOTPStep},
	{"AuthOIDC", testAuthOIDC},
	{"AuthTokens", testAuthTokens},
	{"AuthSessions", testAuthSessions},
	{"AuthThrottling", testAuthThrottling},
	{"AuthSurvivesResetProjection", testAuthSurvivesReset},
	{"AuthIdentityVersion", testAuthIdentityVersion},
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func wantExists(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("%s: err = %v, want one matching store.ErrExists", what, err)
	}
}

func sampleUser(name string) store.UserRow {
	return store.UserRow{Name: name, Roles: []string{"reviewer", "auditor"}, Departments: []string{"销售部", "equities"},
		PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", TOTPSecret: []byte("12345678901234567890"),
		Scope: []byte(`{"query":"x"}`), Expires: t0.Add(72 * time.Hour), Created: t0, Updated: t0}
}

func testAuthUsers(t *testing.T, s store.Store) {
	_, err := s.User(ctx, "alice")
	wantNotFound(t, err, "User before AddUser")
	wantNotFound(t, s.UpdateUser(ctx, sampleUser("alice")), "UpdateUser of no one")
	a := sampleUser("alice")
	check(t, s.AddUser(ctx, a), "AddUser")
	wantExists(t, s.AddUser(ctx, sampleUser("alice")), "AddUser twice")
	got, err := s.User(ctx, "alice")
	check(t, err, "User")
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("User = %+v\nwant %+v", got, a)
	}
	sso := store.UserRow{Name: "bob", Roles: []string{"admin"}, Created: t0, Updated: t0}
	check(t, s.AddUser(ctx, sso), "AddUser sso")
	a.Roles, a.Departments, a.Disabled, a.TOTPSecret, a.Scope, a.Expires, a.Updated = []string{"principal"}, nil, true, nil, nil, time.Time{}, t0.Add(time.Hour)
	check(t, s.UpdateUser(ctx, a), "UpdateUser")
	var names []string
	var rows []store.UserRow
	check(t, s.Users(ctx, func(u store.UserRow) error { names = append(names, u.Name); rows = append(rows, u); return nil }), "Users")
	if !reflect.DeepEqual(names, []string{"alice", "bob"}) {
		t.Fatalf("Users = %v, want [alice bob] in name order", names)
	}
	if !reflect.DeepEqual(rows[0], a) || !reflect.DeepEqual(rows[1], sso) {
		t.Fatalf("Users rows = %+v, want %+v and %+v", rows, a, sso)
	}
}

func testAuthUsersInTx(t *testing.T, s store.Store) {
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	check(t, tx.AddUser(ctx, sampleUser("carol")), "tx.AddUser")
	if _, err := tx.User(ctx, "carol"); err != nil {
		t.Fatalf("tx.User of its own write: %v", err)
	}
	if _, err := s.User(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a reader sees an uncommitted user (err %v)", err)
	}
	check(t, tx.Rollback(), "Rollback")
	_, err = s.User(ctx, "carol")
	wantNotFound(t, err, "User after Rollback")
	write(t, s, func(tx store.Tx) {
		check(t, tx.AddUser(ctx, sampleUser("carol")), "tx.AddUser")
		check(t, tx.AddToken(ctx, store.TokenRow{ID: "t1", Name: "n", Owner: "carol", Hash: sha256.Sum256([]byte("s")), Created: t0, Expires: t0.Add(time.Hour)}), "tx.AddToken")
	})
	if _, err := s.User(ctx, "carol"); err != nil {
		t.Fatalf("User after Commit: %v", err)
	}
	if _, err := s.Token(ctx, "t1"); err != nil {
		t.Fatalf("Token after Commit: %v", err)
	}
}

func testAuthTOTPStep(t *testing.T, s store.Store) {
	check(t, s.AddUser(ctx, sampleUser("dave")), "AddUser")
	ok, err := s.UseTOTPStep(ctx, "dave", 100)
	check(t, err, "UseTOTPStep")
	if !ok {
		t.Fatal("first use of step 100 refused")
	}
	for _, step := range []int64{100, 99} {
		if ok, _ := s.UseTOTPStep(ctx, "dave", step); ok {
			t.Fatalf("step %d accepted after 100", step)
		}
	}
	// UpdateUser does not move the step back (a replay after an edit).
	check(t, s.UpdateUser(ctx, sampleUser("dave")), "UpdateUser")
	if ok, _ := s.UseTOTPStep(ctx, "dave", 100); ok {
		t.Fatal("step 100 accepted again after UpdateUser")
	}
	if ok, _ := s.UseTOTPStep(ctx, "dave", 101); !ok {
		t.Fatal("step 101 refused")
	}
	if ok, _ := s.UseTOTPStep(ctx, "nobody", 5); ok {
		t.Fatal("a step accepted for an unknown user")
	}
	// Concurrent uses of one step: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.UseTOTPStep(ctx, "dave", 200); err == nil && ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent uses of one step accepted, want 1", wins)
	}
}

func testAuthOIDC(t *testing.T, s store.Store) {
	_, err := s.OIDCUser(ctx, "https://idp", "sub-1")
	wantNotFound(t, err, "OIDCUser before PutOIDC")
	o := store.OIDCRow{Issuer: "https://idp", Subject: "sub-1", User: "erin", Created: t0, LastUsed: t0}
	check(t, s.PutOIDC(ctx, o), "PutOIDC")
	o2 := o
	o2.User, o2.Created, o2.LastUsed = "erin2", t0.Add(time.Hour), t0.Add(time.Hour)
	check(t, s.PutOIDC(ctx, o2), "PutOIDC again")
	got, err := s.OIDCUser(ctx, "https://idp", "sub-1")
	check(t, err, "OIDCUser")
	want := o
	want.User, want.LastUsed = "erin2", o2.LastUsed // created stays
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("OIDCUser = %+v, want %+v", got, want)
	}
	if _, err := s.OIDCUser(ctx, "https://other", "sub-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the same subject of another issuer is found (err %v)", err)
	}
}

func testAuthTokens(t *testing.T, s store.Store) {
	tk := store.TokenRow{ID: "tok1", Name: "ingest box", Owner: "svc", Scopes: []string{"ingest"}, Hash: sha256.Sum256([]byte("secret1")),
		Created: t0, Expires: t0.Add(24 * time.Hour)}
	check(t, s.AddToken(ctx, tk), "AddToken")
	dupID := tk
	dupID.Hash = sha256.Sum256([]byte("other"))
	wantExists(t, s.AddToken(ctx, dupID), "AddToken same id")
	dupHash := tk
	dupHash.ID = "tok9"
	wantExists(t, s.AddToken(ctx, dupHash), "AddToken same hash")
	tk2 := store.TokenRow{ID: "tok2", Name: "n2", Owner: "alice", Hash: sha256.Sum256([]byte("secret2")), Created: t0, Expires: t0.Add(time.Hour)}
	check(t, s.AddToken(ctx, tk2), "AddToken 2")
	got, err := s.TokenByHash(ctx, sha256.Sum256([]byte("secret1")))
	check(t, err, "TokenByHash")
	if !reflect.DeepEqual(got, tk) {
		t.Fatalf("TokenByHash = %+v, want %+v", got, tk)
	}
	_, err = s.TokenByHash(ctx, sha256.Sum256([]byte("nope")))
	wantNotFound(t, err, "TokenByHash unknown")
	_, err = s.Token(ctx, "nope")
	wantNotFound(t, err, "Token unknown")
	wantNotFound(t, s.RevokeToken(ctx, "nope", t0), "RevokeToken unknown")
	check(t, s.RevokeToken(ctx, "tok1", t0.Add(time.Minute)), "RevokeToken")
	check(t, s.RevokeToken(ctx, "tok1", t0.Add(time.Hour)), "RevokeToken again")
	check(t, s.TouchToken(ctx, "tok1", t0.Add(2*time.Minute)), "TouchToken")
	got, err = s.Token(ctx, "tok1")
	check(t, err, "Token")
	if !got.Revoked.Equal(t0.Add(time.Minute)) || !got.LastUsed.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("revoked %v last used %v, want the first revocation and the touch", got.Revoked, got.LastUsed)
	}
	var all, alices []string
	check(t, s.Tokens(ctx, "", func(r store.TokenRow) error { all = append(all, r.ID); return nil }), "Tokens")
	check(t, s.Tokens(ctx, "alice", func(r store.TokenRow) error { alices = append(alices, r.ID); return nil }), "Tokens alice")
	if !reflect.DeepEqual(all, []string{"tok1", "tok2"}) || !reflect.DeepEqual(alices, []string{"tok2"}) {
		t.Fatalf("Tokens = %v, alice's %v", all, alices)
	}
}

func testAuthSessions(t *testing.T, s store.Store) {
	h := sha256.Sum256([]byte("cookie"))
	r := store.SessionRow{Hash: h, ID: "ab12", User: "alice", Method: "password", Addr: "10.0.0.1",
		Created: t0, LastSeen: t0, IdleUntil: t0.Add(30 * time.Minute), Expires: t0.Add(12 * time.Hour)}
	check(t, s.PutSession(ctx, r), "PutSession")
	wantExists(t, s.PutSession(ctx, r), "PutSession twice")
	got, err := s.SessionByHash(ctx, h)
	check(t, err, "SessionByHash")
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("SessionByHash = %+v, want %+v", got, r)
	}
	check(t, s.TouchSession(ctx, h, t0.Add(time.Minute), t0.Add(31*time.Minute)), "TouchSession")
	got, _ = s.SessionByHash(ctx, h)
	if !got.LastSeen.Equal(t0.Add(time.Minute)) || !got.IdleUntil.Equal(t0.Add(31*time.Minute)) {
		t.Fatalf("after touch: %+v", got)
	}
	wantNotFound(t, s.TouchSession(ctx, sha256.Sum256([]byte("x")), t0, t0), "TouchSession unknown")
	check(t, s.DeleteSession(ctx, h), "DeleteSession")
	_, err = s.SessionByHash(ctx, h)
	wantNotFound(t, err, "SessionByHash after DeleteSession")
	check(t, s.DeleteSession(ctx, h), "DeleteSession of none")

	for i, u := range []string{"alice", "alice", "bob"} {
		r := r
		r.Hash, r.User = sha256.Sum256([]byte{byte(i)}), u
		check(t, s.PutSession(ctx, r), "PutSession %d", i)
	}
	check(t, s.DeleteSessions(ctx, "alice"), "DeleteSessions")
	if _, err := s.SessionByHash(ctx, sha256.Sum256([]byte{0})); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a session of alice survives DeleteSessions")
	}
	if _, err := s.SessionByHash(ctx, sha256.Sum256([]byte{2})); err != nil {
		t.Fatalf("bob's session is gone: %v", err)
	}
	n, err := s.DeleteExpiredSessions(ctx, t0.Add(30*time.Minute))
	check(t, err, "DeleteExpiredSessions")
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions removed %d, want 1 (idle until t0+30m)", n)
	}
}

func testAuthThrottling(t *testing.T, s store.Store) {
	for i := range 3 {
		check(t, s.AddLoginFailure(ctx, "user:alice", t0.Add(time.Duration(i)*time.Minute), t0.Add(-time.Hour)), "AddLoginFailure")
	}
	check(t, s.AddLoginFailure(ctx, "addr:10.0.0.1", t0, t0.Add(-time.Hour)), "AddLoginFailure addr")
	for _, c := range []struct {
		key   string
		since time.Time
		want  int
	}{
		{"user:alice", t0, 3}, {"user:alice", t0.Add(90 * time.Second), 1}, {"addr:10.0.0.1", t0, 1}, {"user:bob", t0, 0},
	} {
		n, err := s.LoginFailures(ctx, c.key, c.since)
		check(t, err, "LoginFailures")
		if n != c.want {
			t.Errorf("LoginFailures(%s, %v) = %d, want %d", c.key, c.since, n, c.want)
		}
	}
	// Old failures are forgotten as new ones come.
	check(t, s.AddLoginFailure(ctx, "user:bob", t0.Add(time.Hour), t0.Add(90*time.Second)), "AddLoginFailure forgetting")
	if n, _ := s.LoginFailures(ctx, "user:alice", time.Time{}); n != 1 {
		t.Errorf("after forgetting, alice has %d failures, want 1", n)
	}
	check(t, s.ClearLoginFailures(ctx, "user:alice"), "ClearLoginFailures")
	if n, _ := s.LoginFailures(ctx, "user:alice", time.Time{}); n != 0 {
		t.Errorf("after clearing, alice has %d failures", n)
	}
	if u, err := s.Lockout(ctx, "user:alice"); err != nil || !u.IsZero() {
		t.Fatalf("Lockout of no one = %v, %v", u, err)
	}
	check(t, s.SetLockout(ctx, "user:alice", t0.Add(15*time.Minute)), "SetLockout")
	check(t, s.SetLockout(ctx, "user:alice", t0.Add(20*time.Minute)), "SetLockout again")
	if u, _ := s.Lockout(ctx, "user:alice"); !u.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("Lockout = %v", u)
	}
	check(t, s.SetLockout(ctx, "user:alice", time.Time{}), "unlock")
	if u, _ := s.Lockout(ctx, "user:alice"); !u.IsZero() {
		t.Fatalf("Lockout after unlock = %v", u)
	}
}

// The identity tables are primary: reindex (ResetProjection) keeps them
// and DumpProjection does not show them (verify compares projections only).
func testAuthSurvivesReset(t *testing.T, s store.Store) {
	check(t, s.AddUser(ctx, sampleUser("alice")), "AddUser")
	check(t, s.AddToken(ctx, store.TokenRow{ID: "t", Name: "n", Owner: "alice", Hash: sha256.Sum256([]byte("s")), Created: t0, Expires: t0.Add(time.Hour)}), "AddToken")
	h := sha256.Sum256([]byte("c"))
	check(t, s.PutSession(ctx, store.SessionRow{Hash: h, ID: "i", User: "alice", Created: t0, LastSeen: t0, IdleUntil: t0.Add(time.Hour), Expires: t0.Add(time.Hour)}), "PutSession")
	check(t, s.PutOIDC(ctx, store.OIDCRow{Issuer: "i", Subject: "s", User: "alice", Created: t0, LastUsed: t0}), "PutOIDC")
	write(t, s, func(tx store.Tx) { check(t, tx.ResetProjection(ctx), "ResetProjection") })
	if _, err := s.User(ctx, "alice"); err != nil {
		t.Errorf("user lost by ResetProjection: %v", err)
	}
	if _, err := s.Token(ctx, "t"); err != nil {
		t.Errorf("token lost by ResetProjection: %v", err)
	}
	if _, err := s.SessionByHash(ctx, h); err != nil {
		t.Errorf("session lost by ResetProjection: %v", err)
	}
	if _, err := s.OIDCUser(ctx, "i", "s"); err != nil {
		t.Errorf("OIDC mapping lost by ResetProjection: %v", err)
	}
	check(t, s.DumpProjection(ctx, func(table, key, row string) error {
		for _, name := range []string{"users", "api_tokens", "sessions", "oidc_identities", "login_failures", "login_lockouts"} {
			if table == name {
				t.Errorf("DumpProjection shows the identity table %s", table)
			}
		}
		return nil
	}), "DumpProjection")
}

// testAuthIdentityVersion: a store offering store.IdentityVersioner moves
// the version by the time each counted write returns, through the store
// and through a Tx's commit — never on a rolled-back Tx — so package auth
// can keep a token's rows and still see its revocation on the next request.
func testAuthIdentityVersion(t *testing.T, s store.Store) {
	vs, ok := s.(store.IdentityVersioner)
	if !ok {
		t.Skip("the store does not offer IdentityVersioner: tokens are looked up on every request")
	}
	tk := store.TokenRow{ID: "v1", Name: "n", Owner: "dave", Hash: sha256.Sum256([]byte("v1")), Created: t0, Expires: t0.Add(time.Hour)}
	steps := []struct {
		name  string
		write func() error
	}{
		{"AddUser", func() error { return s.AddUser(ctx, sampleUser("dave")) }},
		{"UpdateUser", func() error { u := sampleUser("dave"); u.Disabled = true; return s.UpdateUser(ctx, u) }},
		{"PutOIDC", func() error {
			return s.PutOIDC(ctx, store.OIDCRow{Issuer: "https://idp", Subject: "v", User: "dave", Created: t0})
		}},
		{"AddToken", func() error { return s.AddToken(ctx, tk) }},
		{"TouchToken", func() error { return s.TouchToken(ctx, "v1", t0.Add(time.Minute)) }},
		{"RevokeToken", func() error { return s.RevokeToken(ctx, "v1", t0.Add(2*time.Minute)) }},
		{"tx.UpdateUser", func() error {
			return inTx(s, func(tx store.Tx) error { return tx.UpdateUser(ctx, sampleUser("dave")) })
		}},
		{"tx.AddToken", func() error {
			k := tk
			k.ID, k.Hash = "v2", sha256.Sum256([]byte("v2"))
			return inTx(s, func(tx store.Tx) error { return tx.AddToken(ctx, k) })
		}},
		{"tx.TouchToken", func() error {
			return inTx(s, func(tx store.Tx) error { return tx.TouchToken(ctx, "v2", t0.Add(time.Minute)) })
		}},
		{"tx.RevokeToken", func() error {
			return inTx(s, func(tx store.Tx) error { return tx.RevokeToken(ctx, "v2", t0.Add(time.Minute)) })
		}},
		{"tx.PutOIDC", func() error {
			return inTx(s, func(tx store.Tx) error {
				return tx.PutOIDC(ctx, store.OIDCRow{Issuer: "https://idp", Subject: "w", User: "dave", Created: t0})
			})
		}},
	}
	for _, st := range steps {
		before := vs.IdentityVersion()
		check(t, st.write(), "%s", st.name)
		if vs.IdentityVersion() == before {
			t.Errorf("%s committed and the identity version stayed %d", st.name, before)
		}
	}
	// A session or a throttling counter is not an identity: logins must
	// not empty the token cache.
	before := vs.IdentityVersion()
	check(t, s.AddLoginFailure(ctx, "k", t0, t0.Add(-time.Hour)), "AddLoginFailure")
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	check(t, tx.RevokeToken(ctx, "v1", t0), "tx.RevokeToken")
	check(t, tx.Rollback(), "Rollback")
	if got := vs.IdentityVersion(); got != before {
		t.Errorf("a login failure and a rolled-back Tx moved the identity version %d → %d", before, got)
	}
}

// inTx runs fn in a write transaction and commits it.
func inTx(s store.Store, fn func(store.Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
