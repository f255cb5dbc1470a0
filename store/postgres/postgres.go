// Package postgres is the store.Store on PostgreSQL 15 (pgx v5, pgxpool):
// for an archive that outgrows one machine's disk, or whose operators run
// PostgreSQL already. It passes store/storetest like store/sqlite, whose
// semantics it follows; store/sqlite's comments explain the why of most
// rules, this package's the differences.
//
// Writers: exactly one Tx at a time, across every process using the
// database, by a transaction-scoped advisory lock that Begin takes and
// waits for (released by COMMIT or ROLLBACK, also when a client dies).
//
// Durability: connections run with synchronous_commit=on, so COMMIT
// returns only once the commit record is flushed to the WAL: Sync has
// nothing left to do and is a no-op.
//
// Readers: the pool's connections at READ COMMITTED, each statement seeing
// committed state; a Snapshot is one REPEATABLE READ READ ONLY transaction
// on one connection.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxarchive/wxarchive/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (any 64-bit constants unlikely to collide with
// another application's on the same database: "wxarch" + a suffix).
const (
	writeLockKey     int64 = 0x7778617263680001 // the single writer
	migrationLockKey int64 = 0x7778617263680002 // Open's migrations
)

// querier is what reads and writes go through: the pool, or one
// transaction (a Tx, a snapshot).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is a PostgreSQL-backed store.Store.
type Store struct {
	pool  *pgxpool.Pool // nil in a snapshot or a Tx's reader
	snaps store.Snapshots
	q     querier
	// single is set when q is one connection (a snapshot, a Tx): a
	// connection runs one query at a time, so a result set is read to the
	// end before callbacks run, which may query again.
	single bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres:// or postgresql://)
// and applies the migrations it lacks.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open index database: %w", err)
	}
	// Sync relies on it (see the package comment), whatever the server's
	// or the role's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// Store methods, the search and identity lookups share the pool; a
	// handful more than pgxpool's default (the cores, at least 4) keeps a
	// slow search from queueing the rest. pool_max_conns in the URL wins.
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open index database: %w", err)
	}
	s := &Store{pool: pool, q: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() []migration {
	ents, _ := fs.ReadDir(migrations, "migrations")
	var out []migration
	for _, e := range ents {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			continue
		}
		b, _ := migrations.ReadFile("migrations/" + e.Name())
		out = append(out, migration{n, e.Name(), string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// migrate applies the missing migrations in one transaction, recording
// each in schema_migrations. The advisory lock makes two processes opening
// a new database at once take turns instead of both creating tables.
func (s *Store) migrate(ctx context.Context) error {
	ms := loadMigrations()
	latest := ms[len(ms)-1].version
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > latest {
		// Written by a newer wxarchive: writing it with this one could
		// break invariants this program does not know about.
		return fmt.Errorf("index database is at schema %d, newer than this program's %d: upgrade wxarchive", v, latest)
	}
	for _, m := range ms {
		if m.version <= v {
			continue
		}
		// No arguments: pgx sends it as a simple query, which may hold
		// many statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes the pool. It waits for the connections in use to come
// back: release every snapshot and end every Tx first.
func (s *Store) Close() error {
	// pgxpool's Close waits for every acquired connection: release the
	// snapshots a caller never released first.
	err := s.snaps.ReleaseAll()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Sync is a no-op: with synchronous_commit on (set on every connection by
// Open), a COMMIT that returned is already flushed to the server's WAL.
func (s *Store) Sync(ctx context.Context) error { return nil }

// Snapshot returns a reader of the store as it is now: one REPEATABLE READ
// READ ONLY transaction, held on one pooled connection until release.
func (s *Store) Snapshot(ctx context.Context) (store.Reader, func() error, error) {
	if s.pool == nil {
		return nil, nil, errors.New("snapshot of a snapshot")
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	snap := &Store{q: &serialQuerier{q: tx}, single: true}
	// The snapshot is taken at the transaction's first statement.
	if _, err := snap.Head(ctx); err != nil {
		tx.Rollback(context.Background())
		return nil, nil, err
	}
	release := func() error { return tx.Rollback(context.Background()) }
	return snap, s.snaps.Track(release), nil
}

// serialQuerier lets goroutines share a snapshot's one connection, which
// runs one statement at a time: a statement holds it from the call until
// its rows are closed (or its row scanned). Reads in this package never
// query again while they hold rows open on a single connection, so this
// cannot deadlock.
type serialQuerier struct {
	mu sync.Mutex
	q  querier
}

func (s *serialQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.Exec(ctx, sql, args...)
}

func (s *serialQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	s.mu.Lock()
	rows, err := s.q.Query(ctx, sql, args...)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return &serialRows{Rows: rows, unlock: s.mu.Unlock}, nil
}

func (s *serialQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := s.Query(ctx, sql, args...)
	return &serialRow{rows: rows, err: err}
}

type serialRows struct {
	pgx.Rows
	once   sync.Once
	unlock func()
}

func (r *serialRows) Close() {
	r.Rows.Close()
	r.once.Do(r.unlock)
}

// serialRow is pgx's QueryRow semantics over serialRows: the first row,
// pgx.ErrNoRows if none.
type serialRow struct {
	rows pgx.Rows
	err  error
}

func (r *serialRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// scanner is a row being read (pgx.Row or pgx.Rows).
type scanner interface{ Scan(dest ...any) error }

// each runs a query and calls fn with every row scan makes of it, stopping
// at fn's first error. On one connection (single) the rows are read to
// the end first, so that fn may query the same connection.
func each[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), fn func(T) error, sql string, args ...any) error {
	rows, err := s.q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !s.single {
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var buf []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		buf = append(buf, v)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, v := range buf {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// collect is each into a slice.
func collect[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	var out []T
	err := each(ctx, s, scan, func(v T) error { out = append(out, v); return nil }, sql, args...)
	return out, err
}

// PostgreSQL error codes the store maps.
const (
	codeUniqueViolation = "23505"
	codeDiskFull        = "53100"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// noSpace makes the server's disk_full match syscall.ENOSPC (errors.Is),
// as store/sqlite does for SQLITE_FULL: the HTTP edge answers 507 and
// readiness goes down without knowing the engine.
func noSpace(err error) error {
	if err != nil && pgCode(err) == codeDiskFull {
		return &fullError{err}
	}
	return err
}

type fullError struct{ err error }

func (e *fullError) Error() string   { return e.err.Error() }
func (e *fullError) Unwrap() []error { return []error{e.err, syscall.ENOSPC} }
