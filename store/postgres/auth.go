package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxarchive/wxarchive/store"
)

// The identity tables (store/auth.go). Store's methods read committed
// state and write each change in its own transaction; Tx's run inside the
// journal's commit. Both go through the functions below, on a querier.
//
// Store does not offer store.IdentityVersioner: other processes may write
// the same database, so no in-process counter can promise to see every
// change.
//
// Creating an object twice is detected with ON CONFLICT DO NOTHING and the
// rows affected, not by catching the unique violation: inside a Tx, a
// failed statement would abort the journal's whole transaction.

var (
	_ store.AuthStore = (*Store)(nil)
	_ store.AuthTx    = (*Tx)(nil)
)

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

const userCols = `name, roles, departments, disabled, password_hash, totp_secret, totp_step, scope, expires, created, updated`

func scanUser(row scanner) (store.UserRow, error) {
	var u store.UserRow
	var roles, depts string
	var disabled, exp, created, updated int64
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

func getUser(ctx context.Context, q querier, name string) (store.UserRow, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	return u, err
}

func addUser(ctx context.Context, q querier, u store.UserRow) error {
	tag, err := q.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT DO NOTHING`,
		u.Name, jsonList(u.Roles), jsonList(u.Departments), boolInt(u.Disabled), u.PasswordHash, u.TOTPSecret, u.TOTPStep, u.Scope,
		nanos(u.Expires), nanos(u.Created), nanos(u.Updated))
	return created(tag, noSpace(err), "user %q", u.Name)
}

// created turns "no row inserted" (ON CONFLICT DO NOTHING) into ErrExists.
func created(tag pgconn.CommandTag, err error, format string, a ...any) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf(format+": %w", append(a, store.ErrExists)...)
	}
	return nil
}

// affected turns "no row changed" into ErrNotFound.
func affected(tag pgconn.CommandTag, err error, format string, a ...any) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf(format+": %w", append(a, store.ErrNotFound)...)
	}
	return nil
}

func updateUser(ctx context.Context, q querier, u store.UserRow) error {
	tag, err := q.Exec(ctx, `UPDATE users SET roles = $1, departments = $2, disabled = $3, password_hash = $4, totp_secret = $5,
		scope = $6, expires = $7, created = $8, updated = $9 WHERE name = $10`,
		jsonList(u.Roles), jsonList(u.Departments), boolInt(u.Disabled), u.PasswordHash, u.TOTPSecret, u.Scope,
		nanos(u.Expires), nanos(u.Created), nanos(u.Updated), u.Name)
	return affected(tag, noSpace(err), "user %q", u.Name)
}

func useTOTPStep(ctx context.Context, q querier, user string, step int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE users SET totp_step = $1 WHERE name = $2 AND totp_step < $1`, step, user)
	if err != nil {
		return false, noSpace(err)
	}
	return tag.RowsAffected() == 1, nil
}

func getOIDC(ctx context.Context, q querier, issuer, subject string) (store.OIDCRow, error) {
	o := store.OIDCRow{Issuer: issuer, Subject: subject}
	var created, used int64
	err := q.QueryRow(ctx, `SELECT "user", created, last_used FROM oidc_identities WHERE issuer = $1 AND subject = $2`, issuer, subject).
		Scan(&o.User, &created, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("identity %s of %s: %w", subject, issuer, store.ErrNotFound)
	}
	o.Created, o.LastUsed = fromNanos(created), fromNanos(used)
	return o, err
}

func putOIDC(ctx context.Context, q querier, o store.OIDCRow) error {
	_, err := q.Exec(ctx, `INSERT INTO oidc_identities (issuer, subject, "user", created, last_used) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (issuer, subject) DO UPDATE SET "user" = excluded."user", last_used = excluded.last_used`,
		o.Issuer, o.Subject, o.User, nanos(o.Created), nanos(o.LastUsed))
	return noSpace(err)
}

const tokenCols = `id, name, owner, scopes, hash, created, expires, revoked, last_used`

func scanToken(row scanner) (store.TokenRow, error) {
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

func getToken(ctx context.Context, q querier, byHash bool, arg any, what string) (store.TokenRow, error) {
	where := "id"
	if byHash {
		where = "hash"
	}
	t, err := scanToken(q.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE `+where+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", what, store.ErrNotFound)
	}
	return t, err
}

func addToken(ctx context.Context, q querier, t store.TokenRow) error {
	tag, err := q.Exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		t.ID, t.Name, t.Owner, jsonList(t.Scopes), t.Hash[:], nanos(t.Created), nanos(t.Expires), nanos(t.Revoked), nanos(t.LastUsed))
	return created(tag, noSpace(err), "token %s", t.ID)
}

func revokeToken(ctx context.Context, q querier, id string, at time.Time) error {
	tag, err := q.Exec(ctx, `UPDATE api_tokens SET revoked = CASE WHEN revoked = 0 THEN $1 ELSE revoked END WHERE id = $2`, nanos(at), id)
	return affected(tag, noSpace(err), "token %s", id)
}

func touchToken(ctx context.Context, q querier, id string, at time.Time) error {
	tag, err := q.Exec(ctx, `UPDATE api_tokens SET last_used = $1 WHERE id = $2`, nanos(at), id)
	return affected(tag, noSpace(err), "token %s", id)
}

func getSession(ctx context.Context, q querier, hash [32]byte) (store.SessionRow, error) {
	s := store.SessionRow{Hash: hash}
	var created, seen, idle, exp int64
	err := q.QueryRow(ctx, `SELECT id, "user", method, addr, created, last_seen, idle_until, expires FROM sessions WHERE hash = $1`, hash[:]).
		Scan(&s.ID, &s.User, &s.Method, &s.Addr, &created, &seen, &idle, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	s.Created, s.LastSeen, s.IdleUntil, s.Expires = fromNanos(created), fromNanos(seen), fromNanos(idle), fromNanos(exp)
	return s, err
}

func putSession(ctx context.Context, q querier, s store.SessionRow) error {
	tag, err := q.Exec(ctx, `INSERT INTO sessions (hash, id, "user", method, addr, created, last_seen, idle_until, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`, s.Hash[:], s.ID, s.User, s.Method, s.Addr,
		nanos(s.Created), nanos(s.LastSeen), nanos(s.IdleUntil), nanos(s.Expires))
	return created(tag, noSpace(err), "session %s", s.ID)
}

func touchSession(ctx context.Context, q querier, hash [32]byte, seen, idle time.Time) error {
	tag, err := q.Exec(ctx, `UPDATE sessions SET last_seen = $1, idle_until = $2 WHERE hash = $3`, nanos(seen), nanos(idle), hash[:])
	return affected(tag, noSpace(err), "session")
}

func execq(ctx context.Context, q querier, query string, args ...any) error {
	_, err := q.Exec(ctx, query, args...)
	return noSpace(err)
}

func deleteExpiredSessions(ctx context.Context, q querier, now time.Time) (int, error) {
	tag, err := q.Exec(ctx, `DELETE FROM sessions WHERE idle_until <= $1 OR expires <= $1`, nanos(now))
	if err != nil {
		return 0, noSpace(err)
	}
	return int(tag.RowsAffected()), nil
}

func addLoginFailure(ctx context.Context, q querier, key string, at, forget time.Time) error {
	if err := execq(ctx, q, `DELETE FROM login_failures WHERE at < $1`, nanos(forget)); err != nil {
		return err
	}
	return execq(ctx, q, `INSERT INTO login_failures (key, at) VALUES ($1, $2)`, key, nanos(at))
}

func setLockout(ctx context.Context, q querier, key string, until time.Time) error {
	if until.IsZero() {
		return execq(ctx, q, `DELETE FROM login_lockouts WHERE key = $1`, key)
	}
	return execq(ctx, q, `INSERT INTO login_lockouts (key, until) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until = excluded.until`, key, nanos(until))
}

// The Store's reads: committed state.

func (s *Store) User(ctx context.Context, name string) (store.UserRow, error) {
	return getUser(ctx, s.q, name)
}
func (s *Store) Users(ctx context.Context, fn func(store.UserRow) error) error {
	return each(ctx, s, scanUser, fn, `SELECT `+userCols+` FROM users ORDER BY name`)
}
func (s *Store) OIDCUser(ctx context.Context, issuer, subject string) (store.OIDCRow, error) {
	return getOIDC(ctx, s.q, issuer, subject)
}
func (s *Store) Token(ctx context.Context, id string) (store.TokenRow, error) {
	return getToken(ctx, s.q, false, id, id)
}
func (s *Store) TokenByHash(ctx context.Context, hash [32]byte) (store.TokenRow, error) {
	return getToken(ctx, s.q, true, hash[:], "(by hash)")
}
func (s *Store) Tokens(ctx context.Context, owner string, fn func(store.TokenRow) error) error {
	return each(ctx, s, scanToken, fn, `SELECT `+tokenCols+` FROM api_tokens WHERE $1 = '' OR owner = $1 ORDER BY id`, owner)
}
func (s *Store) SessionByHash(ctx context.Context, hash [32]byte) (store.SessionRow, error) {
	return getSession(ctx, s.q, hash)
}
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int64
	err := s.q.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE key = $1 AND at >= $2`, key, nanos(since)).Scan(&n)
	return int(n), err
}
func (s *Store) Lockout(ctx context.Context, key string) (time.Time, error) {
	var until int64
	err := s.q.QueryRow(ctx, `SELECT until FROM login_lockouts WHERE key = $1`, key).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromNanos(until), err
}

// withWrite runs fn in a transaction of its own: each of the Store's
// identity writes is atomic (AddLoginFailure is two statements). They do
// not take the journal's write lock: they are not journaled, and each is
// safe beside a Tx by its own constraints and conditions.
func (s *Store) withWrite(ctx context.Context, fn func(q querier) error) error {
	if s.pool == nil {
		return errors.New("a snapshot is read-only")
	}
	return noSpace(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(tx) }))
}

func (s *Store) AddUser(ctx context.Context, u store.UserRow) error {
	return s.withWrite(ctx, func(q querier) error { return addUser(ctx, q, u) })
}
func (s *Store) UpdateUser(ctx context.Context, u store.UserRow) error {
	return s.withWrite(ctx, func(q querier) error { return updateUser(ctx, q, u) })
}
func (s *Store) UseTOTPStep(ctx context.Context, user string, step int64) (ok bool, err error) {
	err = s.withWrite(ctx, func(q querier) error { ok, err = useTOTPStep(ctx, q, user, step); return err })
	return ok, err
}
func (s *Store) PutOIDC(ctx context.Context, o store.OIDCRow) error {
	return s.withWrite(ctx, func(q querier) error { return putOIDC(ctx, q, o) })
}
func (s *Store) AddToken(ctx context.Context, t store.TokenRow) error {
	return s.withWrite(ctx, func(q querier) error { return addToken(ctx, q, t) })
}
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.withWrite(ctx, func(q querier) error { return revokeToken(ctx, q, id, at) })
}
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.withWrite(ctx, func(q querier) error { return touchToken(ctx, q, id, at) })
}
func (s *Store) PutSession(ctx context.Context, r store.SessionRow) error {
	return s.withWrite(ctx, func(q querier) error { return putSession(ctx, q, r) })
}
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, seen, idle time.Time) error {
	return s.withWrite(ctx, func(q querier) error { return touchSession(ctx, q, hash, seen, idle) })
}
func (s *Store) DeleteSession(ctx context.Context, hash [32]byte) error {
	return s.withWrite(ctx, func(q querier) error { return execq(ctx, q, `DELETE FROM sessions WHERE hash = $1`, hash[:]) })
}
func (s *Store) DeleteSessions(ctx context.Context, user string) error {
	return s.withWrite(ctx, func(q querier) error { return execq(ctx, q, `DELETE FROM sessions WHERE "user" = $1`, user) })
}
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (n int, err error) {
	err = s.withWrite(ctx, func(q querier) error { n, err = deleteExpiredSessions(ctx, q, now); return err })
	return n, err
}
func (s *Store) AddLoginFailure(ctx context.Context, key string, at, forget time.Time) error {
	return s.withWrite(ctx, func(q querier) error { return addLoginFailure(ctx, q, key, at, forget) })
}
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	return s.withWrite(ctx, func(q querier) error { return execq(ctx, q, `DELETE FROM login_failures WHERE key = $1`, key) })
}
func (s *Store) SetLockout(ctx context.Context, key string, until time.Time) error {
	return s.withWrite(ctx, func(q querier) error { return setLockout(ctx, q, key, until) })
}

// The Tx's methods: inside the journal's commit.

func (t *Tx) User(ctx context.Context, name string) (store.UserRow, error) {
	return getUser(ctx, t.tx, name)
}
func (t *Tx) Token(ctx context.Context, id string) (store.TokenRow, error) {
	return getToken(ctx, t.tx, false, id, id)
}
func (t *Tx) OIDCUser(ctx context.Context, issuer, subject string) (store.OIDCRow, error) {
	return getOIDC(ctx, t.tx, issuer, subject)
}
func (t *Tx) AddUser(ctx context.Context, u store.UserRow) error { return addUser(ctx, t.tx, u) }
func (t *Tx) UpdateUser(ctx context.Context, u store.UserRow) error {
	return updateUser(ctx, t.tx, u)
}
func (t *Tx) UseTOTPStep(ctx context.Context, user string, step int64) (bool, error) {
	return useTOTPStep(ctx, t.tx, user, step)
}
func (t *Tx) PutOIDC(ctx context.Context, o store.OIDCRow) error { return putOIDC(ctx, t.tx, o) }
func (t *Tx) AddToken(ctx context.Context, r store.TokenRow) error {
	return addToken(ctx, t.tx, r)
}
func (t *Tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return revokeToken(ctx, t.tx, id, at)
}
func (t *Tx) TouchToken(ctx context.Context, id string, at time.Time) error {
	return touchToken(ctx, t.tx, id, at)
}
func (t *Tx) PutSession(ctx context.Context, r store.SessionRow) error {
	return putSession(ctx, t.tx, r)
}
func (t *Tx) TouchSession(ctx context.Context, hash [32]byte, seen, idle time.Time) error {
	return touchSession(ctx, t.tx, hash, seen, idle)
}
func (t *Tx) DeleteSession(ctx context.Context, hash [32]byte) error {
	return execq(ctx, t.tx, `DELETE FROM sessions WHERE hash = $1`, hash[:])
}
func (t *Tx) DeleteSessions(ctx context.Context, user string) error {
	return execq(ctx, t.tx, `DELETE FROM sessions WHERE "user" = $1`, user)
}
func (t *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return deleteExpiredSessions(ctx, t.tx, now)
}
func (t *Tx) AddLoginFailure(ctx context.Context, key string, at, forget time.Time) error {
	return addLoginFailure(ctx, t.tx, key, at, forget)
}
func (t *Tx) ClearLoginFailures(ctx context.Context, key string) error {
	return execq(ctx, t.tx, `DELETE FROM login_failures WHERE key = $1`, key)
}
func (t *Tx) SetLockout(ctx context.Context, key string, until time.Time) error {
	return setLockout(ctx, t.tx, key, until)
}
