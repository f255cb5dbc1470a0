// Package pgtest gives tests a fresh, empty PostgreSQL database each.
//
// With WXARCHIVE_PG_URL set, databases are created on that server (the
// URL's user must be allowed CREATE DATABASE). Otherwise a throw-away
// PostgreSQL 15 cluster is started once per test binary (docs in
// /work/shared/ENGINES.md: initdb as user postgres, fsync off, socket and
// log inside a temporary directory), and stopped by Main after the tests.
// Each test gets `CREATE DATABASE … TEMPLATE` of an empty template (a few
// milliseconds, cheaper than running migrations into a new cluster), dropped
// when the test ends.
//
// Tests are skipped only when no PostgreSQL binaries exist; any other
// failure to start the cluster fails the test, so a broken setup is never
// mistaken for a pass.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "WXARCHIVE_PG_URL"

// PGBin is where the Debian package installs PostgreSQL 15.
var PGBin = "/usr/lib/postgresql/15/bin"

const template = "wxarchive_template"

// templateLockKey serializes creating the template across test binaries.
const templateLockKey int64 = 0x7778617263680010

var (
	once     sync.Once
	startErr error
	skipMsg  string
	adminURL string // the maintenance database of the server
	dataDir  string // the throw-away cluster's directory ("" when external)
	tmpRoot  string
	seq      atomic.Int64
)

// Open returns the URL of a new, empty database for this test, dropped in
// t.Cleanup.
func Open(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if skipMsg != "" {
		if os.Getenv("CI") == "true" {
			// CI installs PostgreSQL (.ci/run): missing there is a failure.
			t.Fatalf("pgtest: %s (CI=true)", skipMsg)
		}
		t.Skip(skipMsg)
	}
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), seq.Add(1))
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	// Identifiers cannot be bound parameters; name is built above from
	// digits only.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		// FORCE: a store the test forgot to close must not leak the database.
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(adminURL, name)
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

// Main runs the tests and stops the throw-away cluster, if one was
// started: use it from TestMain (os.Exit(pgtest.Main(m))).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the throw-away cluster (immediate mode: its data is
// disposable) and removes its directory.
func Stop() {
	if dataDir == "" {
		return
	}
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(PGBin, "pg_ctl"), "-D", dataDir, "-m", "immediate", "-w", "stop")
	cmd.Run()
	os.RemoveAll(tmpRoot)
	dataDir = ""
}

func setup() {
	if u := os.Getenv(EnvURL); u != "" {
		adminURL = u
		startErr = makeTemplate()
		return
	}
	if _, err := os.Stat(filepath.Join(PGBin, "initdb")); err != nil {
		skipMsg = fmt.Sprintf("PostgreSQL binaries not found in %s (install postgresql-15 or set %s)", PGBin, EnvURL)
		return
	}
	if startErr = startCluster(); startErr == nil {
		startErr = makeTemplate()
	}
}

func run(name string, args ...string) error {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(PGBin, name)}, args...)...)
	} else {
		cmd = exec.Command(filepath.Join(PGBin, name), args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func startCluster() error {
	dir, err := os.MkdirTemp("", "wxarchive-pg-")
	if err != nil {
		return err
	}
	tmpRoot = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200", dir, port)
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	dataDir = data
	adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return nil
}

// freePort asks the kernel for a free TCP port. Another process could
// take it before the server binds it; pg_ctl then fails and says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeTemplate creates the empty template database every test copies
// (once per server; an external server may already have it).
func makeTemplate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	// Test binaries of several packages may start on one server at once:
	// they take turns (a session lock: CREATE DATABASE cannot run in a
	// transaction).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("lock the template: %w", err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockKey)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", template).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// template0 with C collation: no locale surprises, whatever the
	// server's default.
	_, err = conn.Exec(ctx, "CREATE DATABASE "+template+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
	if err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the server"
	}
	return u.Redacted()
}
