package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestOpen: each call gives a distinct, empty, usable database.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	a, b := Open(t), Open(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	for _, u := range []string{a, b} {
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d tables in a fresh database", u, n)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE x (a int)`); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
	}
}
