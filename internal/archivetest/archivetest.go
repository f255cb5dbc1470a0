// Package archivetest opens fresh archives for tests, so that the tests
// of every package create one the same way (and change in one place when
// opening an archive does).
package archivetest

import (
	"context"
	"testing"

	"github.com/wxarchive/wxarchive/repo"
)

// Init creates an archive in a new temporary directory and returns the
// directory.
func Init(t testing.TB, opts repo.InitOptions) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := repo.Init(context.Background(), dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Open opens the archive in dir for writing; it is closed when the test
// ends (closing it earlier is fine).
func Open(t testing.TB, dir string) *repo.Repo {
	t.Helper()
	r, err := repo.Open(context.Background(), dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// New creates a fresh archive with the default options and opens it.
func New(t testing.TB) *repo.Repo {
	t.Helper()
	return Open(t, Init(t, repo.InitOptions{}))
}
