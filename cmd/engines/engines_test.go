package engines_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/internal/pgtest"
	"github.com/wxarchive/wxarchive/internal/s3test"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

func TestMain(m *testing.M) {
	code := s3test.Main(m)
	pgtest.Stop()
	os.Exit(code)
}

// An archive whose index is PostgreSQL: init, ingest, seal, search,
// reopen, and verify (its scratch index is SQLite: the two engines'
// projections compare row for row) finds nothing wrong.
func TestPostgresArchiveVerifiesClean(t *testing.T) {
	url := pgtest.Open(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Index: url, Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var lines bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lines, `{"msgid":"pgm%04d","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"第%d条 保本理财 on PostgreSQL"}}`+"\n", i, 1700000000000+int64(i)*1000, i)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:pg", BatchSize: 7}
	if sum, err := in.Run(ctx, &lines); err != nil || sum.Archived != n {
		t.Fatalf("ingest: %+v, %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	page, err := r.Store.Search(ctx, store.SearchRequest{Exact: "保本", Limit: 100})
	if err != nil || len(page.Hits) != n {
		t.Fatalf("search 保本 on PostgreSQL: %d hits, %v", len(page.Hits), err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Stats.Messages != n {
		t.Fatalf("verify: OK %v, %d messages (want %d), faults %+v", rep.OK, rep.Stats.Messages, n, rep.Faults)
	}
}

func s3URL(t *testing.T) (string, *s3test.Server, string) {
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t)
	t.Setenv("WXT_S3_ACCESS", srv.AccessKey)
	t.Setenv("WXT_S3_SECRET", srv.SecretKey)
	return srv.URL(bucket, "WXT_S3_ACCESS", "WXT_S3_SECRET"), srv, bucket
}

// An archive whose blobs are in an Object Lock bucket on SeaweedFS: init,
// ingest, seal, and verify finds nothing wrong.
func TestS3ArchiveVerifiesClean(t *testing.T) {
	url, srv, bucket := s3URL(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Blobs: url, Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, repo.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "s3://"+bucket) || strings.Contains(string(cfg), srv.SecretKey) {
		t.Fatalf("wxarchive.yaml does not name the bucket, or holds the secret:\n%s", cfg)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Blobs.Properties(); p.Name != "s3blob" || !p.ObjectLock {
		t.Fatalf("blob store %+v, want s3blob with Object Lock", p)
	}
	const n = 25
	var lines bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lines, `{"msgid":"s3m%04d","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"message %d on SeaweedFS"}}`+"\n", i, 1700000000000+int64(i)*1000, i)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:s3", BatchSize: 10}
	sum, err := in.Run(ctx, &lines)
	if err != nil || sum.Archived != n {
		t.Fatalf("ingest: %+v, %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The evidence is in the bucket, under COMPLIANCE locks.
	c := srv.Client()
	objects, locked := 0, 0
	for oi := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "blobs/", Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		objects++
		if mode, until, err := c.GetObjectRetention(ctx, bucket, oi.Key, ""); err == nil && mode != nil && *mode == minio.Compliance && until.After(time.Now().AddDate(2, 0, 0)) {
			locked++
		}
	}
	if objects == 0 || locked == 0 {
		t.Fatalf("bucket holds %d objects, %d locked for years; want some of each", objects, locked)
	}

	r, err = archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Stats.Messages != n {
		t.Fatalf("verify: OK %v, %d messages (want %d), faults %+v", rep.OK, rep.Stats.Messages, n, rep.Faults)
	}
}

// A bad s3 URL fails init with an error naming the field, and leaves no
// archive behind.
func TestS3URLErrors(t *testing.T) {
	url, srv, _ := s3URL(t)
	ctx := context.Background()
	for _, c := range []struct{ url, want string }{
		{strings.Replace(url, "endpoint="+srv.Endpoint+"&", "", 1), "parameter endpoint is required"},
		{url + "&secret_key=hunter2", "secrets are never inline"},
		{strings.Replace(url, "WXT_S3_SECRET", "WXT_S3_UNSET", 1), "environment variable WXT_S3_UNSET is not set"},
		{strings.Replace(url, "secure=false", "secure=maybe", 1), `secure "maybe"`},
		{url + "&colour=blue", `unknown parameter "colour"`},
		{strings.Replace(url, "s3://", "s3://"+"missing-"+strings.ToLower(t.Name())[:4]+"x", 1), "bucket does not exist"},
	} {
		dir := t.TempDir()
		_, err := archivetest.Init(ctx, dir, repo.InitOptions{Blobs: c.url, Setup: archivetest.NoPolicies})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Init with %s: %v, want an error containing %q", c.url, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), srv.SecretKey) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes a secret: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, repo.ConfigFile)); err == nil {
			t.Errorf("Init with %s failed but wrote %s", c.url, repo.ConfigFile)
		}
	}
}
