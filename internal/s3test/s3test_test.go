package s3test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The server signs: an anonymous client is refused, the keyed one is not,
// and the bucket has Object Lock on.
func TestServer(t *testing.T) {
	s := Shared(t)
	ctx := context.Background()
	b := s.Bucket(t)
	c := s.Client()
	if _, err := c.PutObject(ctx, b, "x", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	lock, _, _, _, err := c.GetObjectLockConfig(ctx, b)
	if err != nil || lock != "Enabled" {
		t.Fatalf("bucket %s object lock = %q, %v", b, lock, err)
	}
	anon, err := minio.New(s.Endpoint, &minio.Options{Region: Region})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.PutObject(ctx, b, "y", strings.NewReader("y"), 1, minio.PutObjectOptions{}); err == nil {
		t.Fatal("an anonymous put was accepted")
	}
}
