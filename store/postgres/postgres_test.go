package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/wxarchive/wxarchive/internal/pgtest"
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
