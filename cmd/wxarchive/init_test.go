package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/wxarchive/wxarchive/internal/s3test"
	"github.com/wxarchive/wxarchive/repo"
)

// `init --blobs s3://…` makes an archive whose blobs are in an Object Lock
// bucket on SeaweedFS: its configuration names the bucket and never the
// secret, ingest and verify work on it, and `stats` reads it back.
func TestCLIInitS3Blobs(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t)
	t.Setenv("WXT_CLI_S3_ACCESS", srv.AccessKey)
	t.Setenv("WXT_CLI_S3_SECRET", srv.SecretKey)
	url := srv.URL(bucket, "WXT_CLI_S3_ACCESS", "WXT_CLI_S3_SECRET")
	dir := cliArchiveDir(t)
	mustCLI(t, "--dir", dir, "init", "--blobs", url)
	cfg := mustRead(t, filepath.Join(dir, repo.ConfigFile))
	if !strings.Contains(cfg, "blobs: s3://"+bucket) || strings.Contains(cfg, srv.SecretKey) {
		t.Fatalf("wxarchive.yaml does not name the bucket, or holds the secret:\n%s", cfg)
	}
	if _, err := os.Stat(filepath.Join(dir, repo.BlobDir)); !os.IsNotExist(err) {
		t.Fatalf("an S3 archive made a local blob directory: %v", err)
	}
	if out, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture); code != 0 || cliSummary(t, out)[0] != 32 {
		t.Fatalf("ingest: exit %d\n%s\n%s", code, out, errs)
	}
	objs := 0
	for o := range srv.Client().ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		objs++
	}
	if objs == 0 {
		t.Fatal("ingest wrote no object to the bucket")
	}
	cliVerifyOK(t, dir)
	if st := cliGetStats(t, dir); st.Messages != 32 {
		t.Fatalf("stats: %+v", st)
	}
}

// An engine URL that does not open is a usage error naming it, and leaves
// nothing behind: the same init then succeeds with a good URL.
func TestCLIInitBadEngineURL(t *testing.T) {
	dir := cliArchiveDir(t)
	for _, c := range []struct{ flag, url, want string }{
		{"--blobs", "ftp://x/y", `no engine for "ftp"`},
		{"--blobs", "s3://bucket?endpoint=127.0.0.1:1&secret_key=abc", "secrets are never inline"},
		{"--index", "nosuch", "want SCHEME:LOCATION"},
	} {
		out, errs, code := runCLI(t, "--dir", dir, "init", c.flag, c.url)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Fatalf("init %s %s: exit %d, stderr %q; want exit %d saying %q\n%s", c.flag, c.url, code, errs, exitUsage, c.want, out)
		}
		if strings.Contains(errs, "abc") {
			t.Fatalf("the error repeats a secret from the URL: %s", errs)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("init %s %s left %v behind", c.flag, c.url, names)
		}
	}
	cliInit(t, dir)
}
