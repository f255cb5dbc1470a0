package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/blobtest"
	"github.com/wxarchive/wxarchive/blob/s3blob"
	"github.com/wxarchive/wxarchive/internal/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func options(srv *s3test.Server, bucket string) s3blob.Options {
	return s3blob.Options{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	}
}

// open makes a store on a new Object Lock bucket of the package's server.
func open(t *testing.T) (*s3blob.Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Shared(t)
	s, err := s3blob.Open(context.Background(), options(srv, srv.Bucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) (blob.Store, blobtest.Tamperer) {
		s, srv := open(t)
		return s, tamperer{s: s, c: srv.Client()}
	})
}

// tamperer damages blobs as anyone holding the bucket's credentials can:
// by putting a new current version over the key (the locked version below
// it stays, but it is no longer what a reader gets), or by removing every
// version of an unlocked blob.
type tamperer struct {
	s *s3blob.Store
	c *minio.Client
}

func (tm tamperer) current(id archive.BlobID) ([]byte, error) {
	obj, err := tm.c.GetObject(context.Background(), tm.s.Bucket(), tm.s.Key(id), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func (tm tamperer) overwrite(id archive.BlobID, data []byte) error {
	_, err := tm.c.PutObject(context.Background(), tm.s.Bucket(), tm.s.Key(id), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true})
	return err
}

func (tm tamperer) FlipByte(id archive.BlobID, off int64) error {
	b, err := tm.current(id)
	if err != nil {
		return err
	}
	b[off] ^= 0xff
	return tm.overwrite(id, b)
}

func (tm tamperer) Replace(id, with archive.BlobID) error {
	b, err := tm.current(with)
	if err != nil {
		return err
	}
	return tm.overwrite(id, b)
}

func (tm tamperer) Remove(id archive.BlobID) error {
	return removeAllVersions(tm.c, tm.s.Bucket(), tm.s.Key(id))
}

func removeAllVersions(c *minio.Client, bucket, key string) error {
	ctx := context.Background()
	for oi := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			return oi.Err
		}
		if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: oi.VersionID}); err != nil {
			return err
		}
	}
	return nil
}

func TestProperties(t *testing.T) {
	s, _ := open(t)
	if p := s.Properties(); p.Name != "s3blob" || !p.ObjectLock {
		t.Fatalf("Properties() = %+v", p)
	}
}

// Open refuses a missing bucket and one without Object Lock, naming it.
func TestOpenRefuses(t *testing.T) {
	srv := s3test.Shared(t)
	ctx := context.Background()
	missing := s3test.BucketName(t)
	_, err := s3blob.Open(ctx, options(srv, missing))
	if !errors.Is(err, s3blob.ErrNoBucket) || !bytes.Contains([]byte(err.Error()), []byte(missing)) {
		t.Fatalf("Open(missing bucket) = %v, want ErrNoBucket naming %s", err, missing)
	}
	plain := s3test.BucketName(t)
	if err := srv.Client().MakeBucket(ctx, plain, minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		t.Fatal(err)
	}
	_, err = s3blob.Open(ctx, options(srv, plain))
	if !errors.Is(err, s3blob.ErrNoObjectLock) || !bytes.Contains([]byte(err.Error()), []byte(plain)) {
		t.Fatalf("Open(bucket without Object Lock) = %v, want ErrNoObjectLock naming %s", err, plain)
	}
	// Wrong credentials: refused, and the secret is not in the error.
	o := options(srv, srv.Bucket(t))
	o.SecretKey = "wrong-secret-value"
	_, err = s3blob.Open(ctx, o)
	if err == nil || bytes.Contains([]byte(err.Error()), []byte(o.SecretKey)) {
		t.Fatalf("Open with a wrong secret = %v", err)
	}
}

// A prefix keeps archives sharing a bucket apart.
func TestPrefix(t *testing.T) {
	srv := s3test.Shared(t)
	ctx := context.Background()
	bucket := srv.Bucket(t)
	oa, ob := options(srv, bucket), options(srv, bucket)
	oa.Prefix, ob.Prefix = "a/", "b/x/"
	a, err := s3blob.Open(ctx, oa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3blob.Open(ctx, ob)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Put(ctx, []byte("only in a"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a/blobs/" + id.String()[:2] + "/" + id.String(); a.Key(id) != want {
		t.Fatalf("Key = %s, want %s", a.Key(id), want)
	}
	if _, err := b.Stat(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("b.Stat of a's blob: %v", err)
	}
	n := 0
	if err := b.List(ctx, func(blob.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("b lists %d blobs (%v)", n, err)
	}
	// Keys under blobs/ that are not blobs are skipped.
	for _, k := range []string{"a/blobs/zz/nothex", "a/blobs/" + id.String(), "a/blobs/00/" + id.String(), "a/blobs/" + id.String()[:2] + "/" + id.String() + ".tmp"} {
		if _, err := srv.Client().PutObject(ctx, bucket, k, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n = 0
	if err := a.List(ctx, func(i blob.Info) error {
		n++
		if i.ID != id {
			t.Errorf("a lists %s", i.ID)
		}
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("a lists %d blobs (%v), want 1", n, err)
	}
}

// Retain-until with a fraction of a second: the lock rounds up, Stat
// gives the instant asked for.
func TestRetentionRoundsUp(t *testing.T) {
	s, srv := open(t)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Second).Add(250 * time.Millisecond).UTC()
	id, err := s.Put(ctx, []byte("fractional"), blob.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, id)
	if err != nil || !info.RetainUntil.Equal(until) {
		t.Fatalf("Stat = %+v, %v; want retain-until %v", info, err, until)
	}
	mode, lock, err := srv.Client().GetObjectRetention(ctx, s.Bucket(), s.Key(id), "")
	if err != nil {
		t.Fatal(err)
	}
	if *mode != minio.Compliance || !lock.Equal(until.Truncate(time.Second).Add(time.Second)) {
		t.Fatalf("lock = %s until %v, want COMPLIANCE until %v", *mode, lock, until.Truncate(time.Second).Add(time.Second))
	}
}
