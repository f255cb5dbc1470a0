// Package archivetest is what tests share to set up an archive: the
// embedded engines (SQLite, a blob directory), init and open, and the use
// cases acting as a test user — one helper instead of a hand copy of
// init-and-open per test file. Only tests import it.
package archivetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/cmd/engines"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/supervise"
)

// Engines are the engines cmd/wxarchive is built with (cmd/engines).
func Engines() *repo.Engines { return engines.All() }

// Init creates an archive in dir with the default policy pack, as
// `wxarchive init` does.
func Init(ctx context.Context, dir string, opts repo.InitOptions) (*repo.Config, error) {
	if opts.Setup == nil {
		opts.Setup = func(ctx context.Context, r *repo.Repo) error {
			return supervise.ApplyDefaultPack(ctx, r.Engine, r.Store, "cli:init")
		}
	}
	return InitBare(ctx, dir, opts)
}

// InitBare creates an archive without policies (opts.Setup, if any, runs).
// Unless opts name them, its engines are those of WXARCHIVE_TEST_INDEX and
// WXARCHIVE_TEST_BLOBS (URLs, as in wxarchive.yaml) when set, else the
// embedded ones: the suite above the conformance suites runs against an
// external engine by setting them.
func InitBare(ctx context.Context, dir string, opts repo.InitOptions) (*repo.Config, error) {
	if opts.Engines == nil {
		opts.Engines = Engines()
	}
	if opts.Index == "" {
		opts.Index = os.Getenv("WXARCHIVE_TEST_INDEX")
	}
	if opts.Blobs == "" {
		var err error
		if opts.Blobs, err = testBlobsURL(os.Getenv("WXARCHIVE_TEST_BLOBS")); err != nil {
			return nil, err
		}
	}
	return repo.Init(ctx, dir, opts)
}

// testBlobsURL gives each archive made from WXARCHIVE_TEST_BLOBS a store
// of its own: an s3:// URL names one bucket for the whole run, so each
// archive gets a fresh key prefix under the URL's (its List and verify
// must not see the other tests' blobs). Other URLs are used as they are.
//
// To run the suites on SeaweedFS: `go run ./internal/s3test/s3serve`
// prints the environment (WXARCHIVE_TEST_BLOBS and the credentials it
// names) of a server it keeps running until stdin closes; .ci/run does so.
func testBlobsURL(env string) (string, error) {
	if !strings.HasPrefix(env, "s3:") {
		return env, nil
	}
	u, err := url.Parse(env)
	if err != nil {
		return "", fmt.Errorf("WXARCHIVE_TEST_BLOBS: %v", err)
	}
	var b [8]byte
	rand.Read(b[:])
	q := u.Query()
	q.Set("prefix", q.Get("prefix")+"t"+hex.EncodeToString(b[:])+"/")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Open opens the archive in dir with the embedded engines.
func Open(ctx context.Context, dir string, opts repo.OpenOptions) (*repo.Repo, error) {
	if opts.Engines == nil {
		opts.Engines = Engines()
	}
	return repo.Open(ctx, dir, opts)
}

// New creates an archive with the default policy pack in a new directory
// and opens it for writing; it is closed when the test ends.
func New(t testing.TB) *repo.Repo {
	t.Helper()
	r, _ := NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true})
	return r
}

// InitDir creates an archive (with the default pack unless opts.Setup
// says otherwise) in a new temporary directory and returns the directory.
func InitDir(t testing.TB, opts repo.InitOptions) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := Init(context.Background(), dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// OpenDir opens the archive in dir for writing; it is closed when the test
// ends (closing it earlier is fine).
func OpenDir(t testing.TB, dir string) *repo.Repo {
	t.Helper()
	r, err := Open(context.Background(), dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// NewWith is New with options (opts.Setup nil: the default pack).
func NewWith(t testing.TB, init repo.InitOptions, open repo.OpenOptions) (*repo.Repo, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Init(ctx, dir, init); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir, open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r, dir
}

// Principal is the user tests act as.
var Principal = app.Principal{Actor: "cli:tester", User: "tester", Via: "cli"}

// App returns the use cases over r and a context acting as Principal.
func App(ctx context.Context, r *repo.Repo) (*app.App, context.Context) {
	return app.New(app.FromRepo(r)), app.WithPrincipal(ctx, Principal)
}

// NoPolicies is an InitOptions.Setup that installs nothing (an archive
// without the default pack).
func NoPolicies(context.Context, *repo.Repo) error { return nil }

// Ingesters are the registered request ingesters over r (what serve gives
// the API's ingest route), media looked up in media (nil: pending).
func Ingesters(r *repo.Repo, media ingest.MediaSource) map[string]capture.EntryIngester {
	return all.Registry(all.Options{}).Ingesters(capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store, Media: media})
}
