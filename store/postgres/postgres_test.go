package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/internal/pgtest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.Open(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func appendLeaf(t *testing.T, s store.Store, i uint64) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ev, err := journal.NewEvent("test.event", "postgres_test", archive.MillisTime(1700000000000), nil, map[string]uint64{"i": i})
	if err != nil {
		t.Fatal(err)
	}
	ev.Index = i
	leaf, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AppendLeaf(ctx, i, journal.LeafHash(leaf), leaf); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestReopenKeepsData: a second Open of the same database migrates
// nothing and sees what the first wrote; both URL schemes work.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Open(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	appendLeaf(t, s, 0)
	s.Close()
	s, err = Open(ctx, "postgresql://"+strings.TrimPrefix(url, "postgres://"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h, err := s.Head(ctx); err != nil || h.JournalSize != 1 {
		t.Fatalf("after reopening: head %+v, %v; want the leaf written before", h, err)
	}
	var n, latest int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	if ms := loadMigrations(); n != len(ms) || latest != ms[len(ms)-1].version {
		t.Fatalf("schema_migrations has %d rows up to %d, want one per migration (%d)", n, latest, len(ms))
	}
}

// TestSchemaNewer: a database written by a newer program is refused.
func TestSchemaNewer(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Open(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a database at a newer schema: %v, want a refusal", err)
	}
}

// TestConcurrentOpen: processes opening a new database at once take turns
// migrating it; none fails.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Open(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecondStoreWaits: the write lock holds across stores (processes),
// not only within one: a second Store's Begin waits for the first's Tx,
// then sees its commit.
func TestSecondStoreWaits(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Open(t)
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.SetNextSerial(ctx, 7); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	var second store.Tx
	go func() {
		var err error
		second, err = b.Begin(ctx)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second store's Begin returned (%v) while the first's Tx is open", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the second store's Begin still waits after the commit")
	}
	defer second.Rollback()
	if h, err := second.Head(ctx); err != nil || h.NextSerial != 7 {
		t.Fatalf("the second Tx sees head %+v (%v), want the first's commit", h, err)
	}
}

// TestSyncCommit: Sync is a no-op because every connection commits
// synchronously, whatever the server's default.
func TestSyncCommit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, err := s.pool.Exec(ctx, `ALTER DATABASE `+currentDB(t, s)+` SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	s.pool.Reset() // new connections pick the database default up
	var v string
	if err := s.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "on" {
		t.Fatalf("synchronous_commit = %s on the store's connections, want on (Sync relies on it)", v)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func currentDB(t *testing.T, s *Store) string {
	var name string
	if err := s.pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestSnapshotConcurrentReads: goroutines may share a snapshot (one
// connection underneath) as they share the store.
func TestSnapshotConcurrentReads(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for i := range uint64(20) {
		appendLeaf(t, s, i)
	}
	snap, release, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				n := 0
				if err := snap.Leaves(ctx, 0, 20, func(uint64, []byte, []byte) error { n++; return nil }); err != nil || n != 20 {
					errs <- fmt.Errorf("Leaves: %d leaves, %v", n, err)
					return
				}
				if _, err := snap.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
					errs <- fmt.Errorf("LatestCheckpoint: %v", err)
					return
				}
				if h, err := snap.Head(ctx); err != nil || h.JournalSize != 20 {
					errs <- fmt.Errorf("Head: %+v %v", h, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
