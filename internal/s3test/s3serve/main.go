// Command s3serve runs one throw-away SeaweedFS server (s3test.Start) with
// an Object Lock bucket for a whole test run, so that suites above the
// blob conformance suite can run on it through WXARCHIVE_TEST_BLOBS
// (internal/archivetest). It writes a shell file of exports once the
// server is ready, and stops the server on SIGINT or SIGTERM:
//
//	go build -o /tmp/s3serve ./internal/s3test/s3serve
//	/tmp/s3serve -env /tmp/s3.env & pid=$!
//	while [ ! -s /tmp/s3.env ]; do sleep 0.2; done   # (with a timeout)
//	. /tmp/s3.env; go test ./verify/ ./repo/; kill $pid; wait $pid
//
// The file exports WXARCHIVE_TEST_BLOBS (an s3:// URL naming the bucket
// and, by reference, the two variables holding the credentials) and those
// two variables. Test-only: the server's data goes with it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/wxarchive/wxarchive/internal/s3test"
)

func main() {
	envFile := flag.String("env", "", "write the exports to this file once the server is ready (required)")
	bucket := flag.String("bucket", "wxarchive-test", "Object Lock bucket to create")
	flag.Parse()
	if *envFile == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: s3serve -env FILE [-bucket NAME]")
		os.Exit(2)
	}
	if err := run(*envFile, *bucket); err != nil {
		fmt.Fprintln(os.Stderr, "s3serve:", err)
		os.Exit(1)
	}
}

func run(envFile, bucket string) error {
	weed, why := s3test.WeedPath()
	if weed == "" {
		return fmt.Errorf("%s: build it with tools/seaweedfs/build.sh or set WXARCHIVE_WEED", why)
	}
	dir, err := os.MkdirTemp("", "wxarchive-s3serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	srv, err := s3test.Start(weed, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := srv.Client().MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{Region: s3test.Region, ObjectLocking: true}); err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	const accessEnv, secretEnv = "WXARCHIVE_TEST_S3_ACCESS_KEY", "WXARCHIVE_TEST_S3_SECRET_KEY"
	env := fmt.Sprintf("export %s=%s\nexport %s=%s\nexport WXARCHIVE_TEST_BLOBS='%s'\n",
		accessEnv, srv.AccessKey, secretEnv, srv.SecretKey, srv.URL(bucket, accessEnv, secretEnv))
	tmp := filepath.Join(filepath.Dir(envFile), "."+filepath.Base(envFile)+".tmp")
	if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, envFile); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "s3serve: SeaweedFS S3 at %s, bucket %s; exports in %s\n", srv.Endpoint, bucket, envFile)
	<-sigs
	return nil
}
