package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/store"
)

// The identity tables (migration 0007, store/auth.go). Store's methods
// read committed state and write each change in its own transaction; Tx's
// run inside the journal's commit. Both go through the functions below.

var (
	_ store.AuthStore = (*Store)(nil)
	_ store.AuthTx    = (*Tx)(nil)
)

type execQueryer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // a string slice always marshals
	return string(b)
}

func parseList(field, s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// w returns the write connection, or why there is none.
func (s *Store) writer() (*sql.DB, error) {
	if s.write == nil {
		return nil, errors.New("index database is open read-only")
	}
	return s.write, nil
}

const userCols = `name, roles, departments, disabled, password_hash, totp_secret, totp_step, scope, expires, created, updated`

func scanUser(row interface{ Scan(...any) error }) (store.UserRow, error) {
	var u store.UserRow
	var roles, depts string
	var disabled int
	var exp, created, updated int64
	if err := row.Scan(&u.Name, &roles, &depts, &disabled, &u.PasswordHash, &u.TOTPSecret, &u.TOTPStep, &u.Scope, &exp, &created, &updated); err != nil {
		return u, err
	}
	var err error
	if u.Roles, err = parseList("roles", roles); err != nil {
		return u, fmt.Errorf("user %s: %w", u.Name, err)
	}
	if u.Departments, err = parseList("departments", depts); err != nil {
		return u, fmt.Errorf("user %s: %w", u.Name, err)
	}
	u.Disabled = disabled != 0
	u.Expires, u.Created, u.Updated = fromNanos(exp), fromNanos(created), fromNanos(updated)
	return u, nil
}

func getUser(ctx context.Context, q queryer, name string) (store.UserRow, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	return u, err
}

func listUsers(ctx context.Context, q queryer, fn func(store.UserRow) error) error {
	rows, err := q.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return rows.Err()
}

func addUser(ctx context.Context, db execQueryer, u store.UserRow) error {
	_, err := db.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Name, jsonList(u.Roles), jsonList(u.Departments), u.Disabled, u.PasswordHash, u.TOTPSecret, u.TOTPStep, u.Scope,
		nanos(u.Expires), nanos(u.Created), nanos(u.Updated))
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", u.Name, store.ErrExists)
	}
	return noSpace(err)
}

func updateUser(ctx context.Context, db execQueryer, u store.UserRow) error {
	res, err := db.ExecContext(ctx, `UPDATE users SET roles = ?, departments = ?, disabled = ?, password_hash = ?, totp_secret = ?,
		scope = ?, expires = ?, created = ?, updated = ? WHERE name = ?`,
		jsonList(u.Roles), jsonList(u.Departments), u.Disabled, u.PasswordHash, u.TOTPSecret, u.Scope,
		nanos(u.Expires), nanos(u.Created), nanos(u.Updated), u.Name)
	return affected(res, noSpace(err), "user %q", u.Name)
}

// affected turns "no row changed" into ErrNotFound.
func affected(res sql.Result, err error, format string, a ...any) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf(format+": %w", append(a, store.ErrNotFound)...)
	}
	return nil
}

func useTOTPStep(ctx context.Context, db execQueryer, user string, step int64) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE users SET totp_step = ? WHERE name = ? AND totp_step < ?`, step, user, step)
	if err != nil {
		return false, noSpace(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func getOIDC(ctx context.Context, q queryer, issuer, subject string) (store.OIDCRow, error) {
	o := store.OIDCRow{Issuer: issuer, Subject: subject}
	var created, used int64
	err := q.QueryRowContext(ctx, `SELECT user, created, last_used FROM oidc_identities WHERE issuer = ? AND subject = ?`, issuer, subject).
		Scan(&o.User, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("identity %s of %s: %w", subject, issuer, store.ErrNotFound)
	}
	o.Created, o.LastUsed = fromNanos(created), fromNanos(used)
	return o, err
}

func putOIDC(ctx context.Context, db execQueryer, o store.OIDCRow) error {
	_, err := db.ExecContext(ctx, `INSERT INTO oidc_identities (issuer, subject, user, created, last_used) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (issuer, subject) DO UPDATE SET user = excluded.user, last_used = excluded.last_used`,
		o.Issuer, o.Subject, o.User, nanos(o.Created), nanos(o.LastUsed))
	return noSpace(err)
}

const tokenCols = `id, name, owner, scopes, hash, created, expires, revoked, last_used`

func scanToken(row interface{ Scan(...any) error }) (store.TokenRow, error) {
	var t store.TokenRow
	var scopes string
	var hash []byte
	var created, exp, rev, used int64
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &scopes, &hash, &created, &exp, &rev, &used); err != nil {
		return t, err
	}
	var err error
	if t.Scopes, err = parseList("scopes", scopes); err != nil {
		return t, fmt.Errorf("token %s: %w", t.ID, err)
	}
	if len(hash) != len(t.Hash) {
		return t, fmt.Errorf("token %s: hash of %d bytes", t.ID, len(hash))
	}
	copy(t.Hash[:], hash)
	t.Created, t.Expires, t.Revoked, t.LastUsed = fromNanos(created), fromNanos(exp), fromNanos(rev), fromNanos(used)
	return t, nil
}

func getToken(ctx context.Context, q queryer, where string, arg any, what string) (store.TokenRow, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE `+where+` = ?`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", what, store.ErrNotFound)
	}
	return t, err
}

func listTokens(ctx context.Context, q queryer, owner string, fn func(store.TokenRow) error) error {
	rows, err := q.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE ? = '' OR owner = ? ORDER BY id`, owner, owner)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return rows.Err()
}

func addToken(ctx context.Context, db execQueryer, t store.TokenRow) error {
	_, err := db.ExecContext(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Owner, jsonList(t.Scopes), t.Hash[:], nanos(t.Created), nanos(t.Expires), nanos(t.Revoked), nanos(t.LastUsed))
	if isUnique(err) {
		return fmt.Errorf("token %s: %w", t.ID, store.ErrExists)
	}
	return noSpace(err)
}

func revokeToken(ctx context.Context, db execQueryer, id string, at time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE api_tokens SET revoked = CASE WHEN revoked = 0 THEN ? ELSE revoked END WHERE id = ?`, nanos(at), id)
	return affected(res, noSpace(err), "token %s", id)
}

func touchToken(ctx context.Context, db execQueryer, id string, at time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, nanos(at), id)
	return affected(res, noSpace(err), "token %s", id)
}

const sessionByHash = `SELECT id, user, method, addr, created, last_seen, idle_until, expires FROM sessions WHERE hash = ?`

func scanSession(row interface{ Scan(...any) error }, hash [32]byte) (store.SessionRow, error) {
	s := store.SessionRow{Hash: hash}
	var created, seen, idle, exp int64
	err := row.Scan(&s.ID, &s.User, &s.Method, &s.Addr, &created, &seen, &idle, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	s.Created, s.LastSeen, s.IdleUntil, s.Expires = fromNanos(created), fromNanos(seen), fromNanos(idle), fromNanos(exp)
	return s, err
}

func putSession(ctx context.Context, db execQueryer, s store.SessionRow) error {
	_, err := db.ExecContext(ctx, `INSERT INTO sessions (hash, id, user, method, addr, created, last_seen, idle_until, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.Hash[:], s.ID, s.User, s.Method, s.Addr,
		nanos(s.Created), nanos(s.LastSeen), nanos(s.IdleUntil), nanos(s.Expires))
	if isUnique(err) {
		return fmt.Errorf("session %s: %w", s.ID, store.ErrExists)
	}
	return noSpace(err)
}

func touchSession(ctx context.Context, db execQueryer, hash [32]byte, seen, idle time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE sessions SET last_seen = ?, idle_until = ? WHERE hash = ?`, nanos(seen), nanos(idle), hash[:])
	return affected(res, noSpace(err), "session")
}

func exec(ctx context.Context, db execQueryer, query string, args ...any) error {
	_, err := db.ExecContext(ctx, query, args...)
	return noSpace(err)
}

func deleteExpiredSessions(ctx context.Context, db execQueryer, now time.Time) (int, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE idle_until <= ? OR expires <= ?`, nanos(now), nanos(now))
	if err != nil {
		return 0, noSpace(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func loginFailures(ctx context.Context, q queryer, key string, since time.Time) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?`, key, nanos(since)).Scan(&n)
	return n, err
}

func lockout(ctx context.Context, q queryer, key string) (time.Time, error) {
	var until int64
	err := q.QueryRowContext(ctx, `SELECT until FROM login_lockouts WHERE key = ?`, key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromNanos(until), err
}

func setLockout(ctx context.Context, db execQueryer, key string, until time.Time) error {
	if until.IsZero() {
		return exec(ctx, db, `DELETE FROM login_lockouts WHERE key = ?`, key)
	}
	return exec(ctx, db, `INSERT INTO login_lockouts (key, until) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET until = excluded.until`, key, nanos(until))
}

// The Store's methods: reads from committed state, each write its own
// transaction on the write connection.

// User and TokenByHash run on every authenticated request: prepared once
// (parsing the SQL each time cost as much as running it).
func (s *Store) User(ctx context.Context, name string) (store.UserRow, error) {
	st, err := s.idStmt(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`)
	if err != nil {
		return store.UserRow{}, err
	}
	u, err := scanUser(st.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	return u, err
}
func (s *Store) Users(ctx context.Context, fn func(store.UserRow) error) error {
	return listUsers(ctx, s.rq, fn)
}
func (s *Store) OIDCUser(ctx context.Context, issuer, subject string) (store.OIDCRow, error) {
	return getOIDC(ctx, s.rq, issuer, subject)
}
func (s *Store) Token(ctx context.Context, id string) (store.TokenRow, error) {
	return getToken(ctx, s.rq, "id", id, id)
}
func (s *Store) TokenByHash(ctx context.Context, hash [32]byte) (store.TokenRow, error) {
	st, err := s.idStmt(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`)
	if err != nil {
		return store.TokenRow{}, err
	}
	t, err := scanToken(st.QueryRowContext(ctx, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token (by hash): %w", store.ErrNotFound)
	}
	return t, err
}
func (s *Store) Tokens(ctx context.Context, owner string, fn func(store.TokenRow) error) error {
	return listTokens(ctx, s.rq, owner, fn)
}
func (s *Store) SessionByHash(ctx context.Context, hash [32]byte) (store.SessionRow, error) {
	st, err := s.idStmt(ctx, sessionByHash)
	if err != nil {
		return store.SessionRow{}, err
	}
	return scanSession(st.QueryRowContext(ctx, hash[:]), hash)
}
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	return loginFailures(ctx, s.rq, key, since)
}
func (s *Store) Lockout(ctx context.Context, key string) (time.Time, error) {
	return lockout(ctx, s.rq, key)
}

// withWrite runs fn on the write connection in one transaction.
func (s *Store) withWrite(ctx context.Context, fn func(db execQueryer) error) error {
	w, err := s.writer()
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return noSpace(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return noSpace(tx.Commit())
}

// IdentityVersion implements store.IdentityVersioner: one process holds
// the archive's write lock, so every identity write passes here.
func (s *Store) IdentityVersion() uint64 { return s.idVersion.Load() }

func (s *Store) AddUser(ctx context.Context, u store.UserRow) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return addUser(ctx, db, u) })
}
func (s *Store) UpdateUser(ctx context.Context, u store.UserRow) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return updateUser(ctx, db, u) })
}
func (s *Store) UseTOTPStep(ctx context.Context, user string, step int64) (ok bool, err error) {
	err = s.withWrite(ctx, func(db execQueryer) error { ok, err = useTOTPStep(ctx, db, user, step); return err })
	return ok, err
}
func (s *Store) PutOIDC(ctx context.Context, o store.OIDCRow) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return putOIDC(ctx, db, o) })
}
func (s *Store) AddToken(ctx context.Context, t store.TokenRow) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return addToken(ctx, db, t) })
}
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return revokeToken(ctx, db, id, at) })
}
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	defer s.idVersion.Add(1)
	return s.withWrite(ctx, func(db execQueryer) error { return touchToken(ctx, db, id, at) })
}
func (s *Store) PutSession(ctx context.Context, r store.SessionRow) error {
	return s.withWrite(ctx, func(db execQueryer) error { return putSession(ctx, db, r) })
}
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, seen, idle time.Time) error {
	return s.withWrite(ctx, func(db execQueryer) error { return touchSession(ctx, db, hash, seen, idle) })
}
func (s *Store) DeleteSession(ctx context.Context, hash [32]byte) error {
	return s.withWrite(ctx, func(db execQueryer) error { return exec(ctx, db, `DELETE FROM sessions WHERE hash = ?`, hash[:]) })
}
func (s *Store) DeleteSessions(ctx context.Context, user string) error {
	return s.withWrite(ctx, func(db execQueryer) error { return exec(ctx, db, `DELETE FROM sessions WHERE user = ?`, user) })
}
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (n int, err error) {
	err = s.withWrite(ctx, func(db execQueryer) error { n, err = deleteExpiredSessions(ctx, db, now); return err })
	return n, err
}
func (s *Store) AddLoginFailure(ctx context.Context, key string, at, forget time.Time) error {
	return s.withWrite(ctx, func(db execQueryer) error { return addLoginFailure(ctx, db, key, at, forget) })
}
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	return s.withWrite(ctx, func(db execQueryer) error { return exec(ctx, db, `DELETE FROM login_failures WHERE key = ?`, key) })
}
func (s *Store) SetLockout(ctx context.Context, key string, until time.Time) error {
	return s.withWrite(ctx, func(db execQueryer) error { return setLockout(ctx, db, key, until) })
}

func addLoginFailure(ctx context.Context, db execQueryer, key string, at, forget time.Time) error {
	if err := exec(ctx, db, `DELETE FROM login_failures WHERE at < ?`, nanos(forget)); err != nil {
		return err
	}
	return exec(ctx, db, `INSERT INTO login_failures (key, at) VALUES (?, ?)`, key, nanos(at))
}

// The Tx's methods: inside the journal's commit.

func (t *Tx) User(ctx context.Context, name string) (store.UserRow, error) {
	return getUser(ctx, t.tx, name)
}
func (t *Tx) Token(ctx context.Context, id string) (store.TokenRow, error) {
	return getToken(ctx, t.tx, "id", id, id)
}
func (t *Tx) OIDCUser(ctx context.Context, issuer, subject string) (store.OIDCRow, error) {
	return getOIDC(ctx, t.tx, issuer, subject)
}
func (t *Tx) AddUser(ctx context.Context, u store.UserRow) error {
	t.identity = true
	return addUser(ctx, t.tx, u)
}
func (t *Tx) UpdateUser(ctx context.Context, u store.UserRow) error {
	t.identity = true
	return updateUser(ctx, t.tx, u)
}
func (t *Tx) UseTOTPStep(ctx context.Context, user string, step int64) (bool, error) {
	return useTOTPStep(ctx, t.tx, user, step)
}
func (t *Tx) PutOIDC(ctx context.Context, o store.OIDCRow) error {
	t.identity = true
	return putOIDC(ctx, t.tx, o)
}
func (t *Tx) AddToken(ctx context.Context, r store.TokenRow) error {
	t.identity = true
	return addToken(ctx, t.tx, r)
}
func (t *Tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	t.identity = true
	return revokeToken(ctx, t.tx, id, at)
}
func (t *Tx) TouchToken(ctx context.Context, id string, at time.Time) error {
	t.identity = true
	return touchToken(ctx, t.tx, id, at)
}
func (t *Tx) PutSession(ctx context.Context, r store.SessionRow) error {
	return putSession(ctx, t.tx, r)
}
func (t *Tx) TouchSession(ctx context.Context, hash [32]byte, seen, idle time.Time) error {
	return touchSession(ctx, t.tx, hash, seen, idle)
}
func (t *Tx) DeleteSession(ctx context.Context, hash [32]byte) error {
	return exec(ctx, t.tx, `DELETE FROM sessions WHERE hash = ?`, hash[:])
}
func (t *Tx) DeleteSessions(ctx context.Context, user string) error {
	return exec(ctx, t.tx, `DELETE FROM sessions WHERE user = ?`, user)
}
func (t *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return deleteExpiredSessions(ctx, t.tx, now)
}
func (t *Tx) AddLoginFailure(ctx context.Context, key string, at, forget time.Time) error {
	return addLoginFailure(ctx, t.tx, key, at, forget)
}
func (t *Tx) ClearLoginFailures(ctx context.Context, key string) error {
	return exec(ctx, t.tx, `DELETE FROM login_failures WHERE key = ?`, key)
}
func (t *Tx) SetLockout(ctx context.Context, key string, until time.Time) error {
	return setLockout(ctx, t.tx, key, until)
}
