// Package sqlite is the embedded store.Store: one SQLite database file
// (modernc.org/sqlite, pure Go) in WAL mode.
//
// Durability: the write connection runs with synchronous=NORMAL, so COMMIT
// appends its frames to the WAL without waiting for the disk, and Sync
// fsyncs the WAL file. The engine acknowledges a commit only after a Sync,
// and meanwhile builds the next transaction: CPU work and the disk flush
// overlap instead of alternating. This is as safe as synchronous=FULL for
// acknowledged data: WAL frames are checksummed and recovery stops at the
// first frame that did not reach the disk, so a crash can only lose commits
// that no Sync covered (never acknowledged), and never leaves a hole;
// SQLite itself syncs the WAL before any checkpoint copies it.
//
// One connection writes (transactions begin IMMEDIATE, taking the write lock
// up front, so a writer in another process waits instead of failing late);
// a small pool reads.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wxarchive/wxarchive/internal/diskprobe"
	"github.com/wxarchive/wxarchive/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PageSize is the page size of new databases. A commit writes every page
// it dirtied to the WAL, about one per table for a small commit, so small
// pages favour single-message ingest (4 KiB: +28 % over 16 KiB at HTTP
// concurrency 1) and large pages favour batches (16 KiB: +12 % over 4 KiB
// at 1,000 per commit), measured in the same runs (docs/BENCHMARKS.md).
// 8 KiB sits between.
const PageSize = 8192

// Options tune a database.
type Options struct {
	ReadOnly bool // open for reading only (verify, stats): never creates or migrates
	// NoSync turns off fsync. Only for tests that measure something else;
	// an archive opened this way loses acknowledged messages on power loss.
	NoSync bool
}

// Store is a SQLite-backed store.Store.
type Store struct {
	path   string
	noSync bool
	write  *sql.DB // nil when read-only
	read   *sql.DB
	// rq is what every read goes through: the read pool, or, for a
	// snapshot, one read transaction.
	rq interface {
		queryer
		PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	}
	w writeStmts
	// readStmts are the prepared statements of hot read queries (a
	// supervisor reads one message row per message; parsing the SQL each
	// time cost more than running it), by query text.
	readStmts sync.Map // string → *sql.Stmt
	// idRead is the identity lookups' own small read pool (a token or a
	// session and its user, on every authenticated request): they never
	// queue behind searches holding the main pool's connections. nil in
	// a snapshot, whose reads all go through rq. idStmts are its
	// prepared statements.
	idRead  *sql.DB
	idStmts sync.Map // string → *sql.Stmt
	// idVersion is the identity version (store.IdentityVersioner).
	idVersion atomic.Uint64

	snaps store.Snapshots // unreleased snapshots, released by Close

	ckptDB    *sql.DB // background WAL checkpointer
	ckptStop  chan struct{}
	ckptDone  chan struct{}
	needReset atomic.Bool  // the writer should checkpoint so the WAL can rewind
	walSeen   atomic.Int64 // WAL file size at the writer's last checkpoint
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.IdentityVersioner = (*Store)(nil)
)

func dsn(path string, readOnly, noSync bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "foreign_keys(off)")
	q.Add("_pragma", "cache_size(-65536)")
	if readOnly {
		q.Add("_pragma", "query_only(true)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// The commit path never copies the WAL into the database: a
		// background checkpointer does (see checkpointer), so a commit
		// costs one WAL fsync and no database fsync.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		if noSync {
			q.Add("_pragma", "synchronous(OFF)")
		} else {
			q.Add("_pragma", "synchronous(NORMAL)") // commits are made durable by Sync
		}
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating and migrating if needed, unless ReadOnly) the
// database at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	s := &Store{path: path, noSync: opts.NoSync}
	if !opts.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := create(ctx, path); err != nil {
				return nil, err
			}
		}
		w, err := sql.Open("sqlite", dsn(path, false, opts.NoSync))
		if err != nil {
			return nil, err
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		s.write = w
		if err := s.migrate(ctx); err != nil {
			w.Close()
			return nil, err
		}
		if err := s.prepare(ctx); err != nil {
			w.Close()
			return nil, err
		}
		c, err := sql.Open("sqlite", dsn(path, false, opts.NoSync))
		if err != nil {
			w.Close()
			return nil, err
		}
		c.SetMaxOpenConns(1)
		s.ckptDB, s.ckptStop, s.ckptDone = c, make(chan struct{}), make(chan struct{})
		go s.checkpointer()
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open index database: %w", err)
	}
	rdsn := dsn(path, true, opts.NoSync)
	if opts.ReadOnly {
		// A read-only store opens the file read-only, so verifying a copy on
		// a read-only mount works and leaves nothing behind.
		rdsn += "&mode=ro"
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		s.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	// Keep all four: with database/sql's default of two idle, concurrent
	// readers (16 API clients) closed and reopened connections — a new
	// SQLite connection per request beyond the second.
	r.SetMaxIdleConns(4)
	s.read, s.rq = r, r
	if s.idRead, err = sql.Open("sqlite", rdsn); err != nil {
		s.Close()
		return nil, err
	}
	s.idRead.SetMaxOpenConns(2)
	s.idRead.SetMaxIdleConns(2)
	if opts.ReadOnly {
		var v int
		if err := r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			s.Close()
			return nil, fmt.Errorf("open index database %s: %w", path, err)
		}
		if v != latestVersion() {
			s.Close()
			return nil, fmt.Errorf("index database %s is at schema %d, this program reads %d", path, v, latestVersion())
		}
	}
	return s, nil
}

// create makes an empty database with the page size set before the first
// table materializes page 1 (it cannot change afterwards in WAL mode).
func create(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		return err
	}
	defer db.Close()
	for _, p := range []string{"PRAGMA page_size=" + strconv.Itoa(PageSize), "PRAGMA journal_mode=WAL"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("create index database: %s: %w", p, err)
		}
	}
	return nil
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

func latestVersion() int {
	ms := loadMigrations()
	return ms[len(ms)-1].version
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > latestVersion() {
		// Written by a newer wxarchive: writing it with this one could
		// break invariants this program does not know about.
		return fmt.Errorf("index database %s is at schema %d, newer than this program's %d: upgrade wxarchive", s.path, v, latestVersion())
	}
	for _, m := range loadMigrations() {
		if m.version <= v {
			continue
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", m.version)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// Checkpointer tuning: fold the WAL into the database once it holds this
// much, checking this often; past walResetBytes of frames, the writer
// finishes the job between two commits so that the WAL can start over.
var (
	walCheckpointBytes int64 = 64 << 20
	walResetBytes      int64 = 256 << 20
	walCheckInterval         = 250 * time.Millisecond
)

// checkpointer copies the WAL into the database file in the background
// (PASSIVE: it never blocks the writer or readers), keeping the WAL — and so
// read cost and recovery time — bounded without stalling commits.
//
// Under continuous ingest a background checkpoint never catches up with
// the newest frame, and SQLite only rewinds the WAL when a write
// transaction starts with every frame copied: the file would grow without
// end (5 GB for a million messages). So once the WAL holds walResetBytes,
// the checkpointer asks the writer (needReset) to run one PASSIVE
// checkpoint itself right after a commit — cheap, since the background has
// copied nearly everything — and the next transaction rewinds the WAL.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	t := time.NewTicker(walCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
		}
		if st, err := os.Stat(s.path + "-wal"); err == nil && st.Size() >= walCheckpointBytes {
			var busy, frames, copied int64
			if err := s.ckptDB.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err == nil &&
				frames*PageSize >= walResetBytes {
				s.needReset.Store(true)
			}
		}
	}
}

// resetWAL runs on the writer connection between transactions when the
// checkpointer asked for it, or when the WAL has reached walResetBytes
// without it: on a loaded machine the background ticker can fall behind a
// fast writer, and the bound must not depend on its timing (CI saw a 36 MB
// WAL against a 1 MiB threshold). The writer's own checkpoint then copies
// what the background has not, a stall that is the right back-pressure.
//
// The file keeps its high-water size after a rewind (frames overwrite it
// from the start), so the writer acts only when the file has grown past
// walResetBytes since its last look: a WAL that grows is one that did not
// rewind.
func (s *Store) resetWAL() {
	wal := s.path + "-wal"
	if !s.needReset.Swap(false) {
		st, err := os.Stat(wal)
		if err != nil || st.Size() < walResetBytes || st.Size() <= s.walSeen.Load() {
			return
		}
	}
	s.write.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	if st, err := os.Stat(wal); err == nil {
		s.walSeen.Store(st.Size())
	}
}

// Close closes the database, folding the WAL into it first.
func (s *Store) Close() error {
	// A snapshot never released would hold its read transaction, and the
	// final checkpoint would wait for it until the busy timeout.
	errs := []error{s.snaps.ReleaseAll()}
	if s.ckptDB != nil {
		close(s.ckptStop)
		<-s.ckptDone
		s.ckptDB.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		errs = append(errs, s.ckptDB.Close())
		s.ckptDB = nil
	}
	if s.write != nil {
		s.w.close()
		errs = append(errs, s.write.Close())
	}
	s.readStmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	s.idStmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	if s.idRead != nil {
		errs = append(errs, s.idRead.Close())
	}
	return errors.Join(errs...)
}

// Sync makes every committed transaction durable by fsyncing the WAL.
func (s *Store) Sync(ctx context.Context) error {
	if s.noSync || s.write == nil {
		return nil
	}
	// A fresh descriptor each time: the WAL file can be replaced when every
	// connection closes, and fsync applies to the file, whatever descriptor
	// is used.
	f, err := os.Open(s.path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing in the WAL: everything is in the synced database
	}
	if err != nil {
		return fmt.Errorf("sync index database: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync index database: %w", err)
	}
	return nil
}

// Checkpoint folds the WAL into the database file (after large writes such
// as reindex, so readers don't scan a huge WAL).
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.write == nil {
		return nil
	}
	_, err := s.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// readStmt returns the read pool's prepared statement for a query,
// preparing it on first use.
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.readStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rq.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.readStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// idStmt is readStmt for the identity lookups: prepared on idRead, or on
// rq in a snapshot.
func (s *Store) idStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.idRead == nil {
		return s.readStmt(ctx, query)
	}
	if st, ok := s.idStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.idRead.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.idStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Snapshot returns a reader of the store as it is now, whatever is
// committed afterwards: every read goes through one read transaction
// (SQLite WAL snapshot isolation) until release. verify uses it so that
// the journal it checks and the index it compares are of the same moment.
// A snapshot holds back WAL checkpointing while it lives; release it.
func (s *Store) Snapshot(ctx context.Context) (store.Reader, func() error, error) {
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	snap := &Store{path: s.path, noSync: s.noSync, rq: tx}
	// The snapshot is taken at the first read of the transaction.
	if _, err := head(ctx, tx); err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	release := func() error {
		snap.readStmts.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
		return tx.Rollback()
	}
	return snap, s.snaps.Track(release), nil
}

// CheckWritable writes, syncs and removes a probe file beside the
// database (repo.WriteChecker): after SQLITE_FULL, it tells when the disk
// has room again without writing to the database.
func (s *Store) CheckWritable(context.Context) error {
	if s.write == nil {
		return errors.New("index database is open read-only")
	}
	return diskprobe.Write(filepath.Dir(s.path))
}

// noSpace makes SQLite's "database or disk is full" match syscall.ENOSPC
// (errors.Is), like the file system's own error: the HTTP edge answers
// 507 and readiness goes down for either, without knowing the engine.
func noSpace(err error) error {
	var se *sqlite.Error
	if err != nil && errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return &fullError{err}
	}
	return err
}

type fullError struct{ err error }

func (e *fullError) Error() string   { return e.err.Error() }
func (e *fullError) Unwrap() []error { return []error{e.err, syscall.ENOSPC} }
