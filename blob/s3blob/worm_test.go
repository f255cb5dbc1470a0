package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/s3blob"
	"github.com/wxarchive/wxarchive/internal/s3test"
)

// WORM for real: what the server itself enforces, through this store and
// through raw S3 calls with the same credentials (an operator, or an
// intruder holding the archive's keys). Nothing here goes through the
// store's own checks only.

func readVersion(t *testing.T, c *minio.Client, bucket, key, version string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading %s version %s: %v", key, version, err)
	}
	return b
}

func currentVersion(t *testing.T, c *minio.Client, bucket, key string) string {
	t.Helper()
	oi, err := c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return oi.VersionID
}

// wantLocked checks, with raw calls, that version of key cannot be
// deleted nor have its retention shortened or dropped, in either mode,
// and still holds data, locked in COMPLIANCE mode until lockUntil.
func wantLocked(t *testing.T, c *minio.Client, bucket, key, version string, data []byte, lockUntil time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: version}); err == nil {
		t.Fatalf("raw DELETE of locked version %s succeeded", version)
	}
	if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: version, GovernanceBypass: true}); err == nil {
		t.Fatalf("raw DELETE with governance bypass of a COMPLIANCE version %s succeeded", version)
	}
	earlier := lockUntil.Add(-30 * time.Minute)
	for _, mode := range []minio.RetentionMode{minio.Compliance, minio.Governance} {
		if err := c.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{
			Mode: &mode, RetainUntilDate: &earlier, VersionID: version, GovernanceBypass: true,
		}); err == nil {
			t.Fatalf("raw PutObjectRetention %s shortening to %v succeeded", mode, earlier)
		}
	}
	if err := c.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{VersionID: version, GovernanceBypass: true}); err == nil {
		t.Fatal("raw PutObjectRetention removing the retention succeeded")
	}
	mode, until, err := c.GetObjectRetention(ctx, bucket, key, version)
	if err != nil {
		t.Fatal(err)
	}
	if *mode != minio.Compliance || !until.Equal(lockUntil) {
		t.Fatalf("retention of %s = %s until %v, want COMPLIANCE until %v", version, *mode, until, lockUntil)
	}
	if got := readVersion(t, c, bucket, key, version); !bytes.Equal(got, data) {
		t.Fatalf("locked version %s now holds %d other bytes", version, len(got))
	}
}

func TestWORMRetention(t *testing.T) {
	s, srv := open(t)
	c := srv.Client()
	ctx := context.Background()
	data := []byte("a locked record")
	until := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	id, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	key, bucket := s.Key(id), s.Bucket()
	v := currentVersion(t, c, bucket, key)

	// Through the store.
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete: %v, want ErrRetained", err)
	}
	if err := s.SetRetention(ctx, id, until.Add(-time.Second)); !errors.Is(err, blob.ErrRetentionShortened) {
		t.Fatalf("SetRetention earlier: %v, want ErrRetentionShortened", err)
	}
	wantLocked(t, c, bucket, key, v, data, until)

	// Raw overwrite: a conditional PUT is refused; an unconditional one
	// adds a version above the locked one, which stays, and the store
	// reports what it now reads as damage instead of serving it.
	inm := minio.PutObjectOptions{DisableMultipart: true}
	inm.SetMatchETagExcept("*")
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader([]byte("forged")), 6, inm); minio.ToErrorResponse(err).StatusCode != 412 {
		t.Fatalf("raw PUT If-None-Match: * over an existing key: %v, want 412", err)
	}
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader([]byte("forged")), 6, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, blob.ErrIntegrity) {
		t.Fatalf("Get after a raw overwrite: %v, want ErrIntegrity", err)
	}
	wantLocked(t, c, bucket, key, v, data, until)

	// A raw plain DELETE only adds a delete marker: the locked version
	// stays, and removing the marker (the forged version went first)
	// brings the blob back whole.
	if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	wantLocked(t, c, bucket, key, v, data, until)
	for oi := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		if oi.VersionID != v {
			if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: oi.VersionID}); err != nil {
				t.Fatalf("removing the unlocked version/marker %s: %v", oi.VersionID, err)
			}
		}
	}
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after the forgeries were removed: %v", err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete: %v, want ErrRetained", err)
	}
}

// A legal hold blocks deletion after the retention has ended, on the
// server; released, the blob may go.
func TestWORMLegalHold(t *testing.T) {
	s, srv := open(t)
	c := srv.Client()
	ctx := context.Background()
	data := []byte("held record")
	until := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second).UTC()
	id, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: until, LegalHold: true})
	if err != nil {
		t.Fatal(err)
	}
	key, bucket := s.Key(id), s.Bucket()
	v := currentVersion(t, c, bucket, key)
	time.Sleep(time.Until(until) + time.Second)

	if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true}); err == nil {
		t.Fatal("raw DELETE of a held version after its retention succeeded")
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrLegalHold) {
		t.Fatalf("Delete of a held blob: %v, want ErrLegalHold", err)
	}
	st, err := c.GetObjectLegalHold(ctx, bucket, key, minio.GetObjectLegalHoldOptions{VersionID: v})
	if err != nil || *st != minio.LegalHoldEnabled {
		t.Fatalf("legal hold = %v, %v", st, err)
	}
	if got := readVersion(t, c, bucket, key, v); !bytes.Equal(got, data) {
		t.Fatal("held version changed")
	}

	if err := s.SetLegalHold(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id, blob.Retention{}); err != nil {
		t.Fatalf("Delete after release: %v", err)
	}
	n := 0
	for oi := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("after Delete %d versions or markers of %s remain, want none", n, key)
	}
}

// The lock survives a restart of the server on the same data directory.
func TestWORMSurvivesRestart(t *testing.T) {
	weed := s3test.RequireWeed(t)
	srv, err := s3test.Start(weed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	ctx := context.Background()
	bucket := srv.Bucket(t)
	s, err := s3blob.Open(ctx, options(srv, bucket))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("survives a restart")
	until := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	id, err := s.Put(ctx, data, blob.PutOptions{RetainUntil: until, LegalHold: true})
	if err != nil {
		t.Fatal(err)
	}
	v := currentVersion(t, srv.Client(), bucket, s.Key(id))

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	s, err = s3blob.Open(ctx, options(srv, bucket))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, id)
	if err != nil || !info.RetainUntil.Equal(until) || !info.LegalHold {
		t.Fatalf("Stat after restart = %+v, %v", info, err)
	}
	c := srv.Client()
	wantLocked(t, c, bucket, s.Key(id), v, data, until)
	if err := s.SetLegalHold(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	// Without the hold, the retention alone still refuses.
	wantLocked(t, c, bucket, s.Key(id), v, data, until)
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete after restart: %v, want ErrRetained", err)
	}
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, data) || archive.Hash(got) != id {
		t.Fatalf("Get after restart: %v", err)
	}
}

// A bucket default retention (docs/DEPLOY.md) locks a blob put without
// one: Stat reports the lock, retention cannot go below it, only beyond.
func TestBucketDefaultRetention(t *testing.T) {
	srv := s3test.Shared(t)
	ctx := context.Background()
	c := srv.Client()
	bucket := srv.Bucket(t)
	mode, days, unit := minio.Compliance, uint(1), minio.Days
	if err := c.SetObjectLockConfig(ctx, bucket, &mode, &days, &unit); err != nil {
		t.Fatal(err)
	}
	s, err := s3blob.Open(ctx, options(srv, bucket))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(24*time.Hour - 5*time.Second)
	id, err := s.Put(ctx, []byte("default-locked"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(24*time.Hour + 5*time.Second)
	info, err := s.Stat(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.RetainUntil.Before(before) || info.RetainUntil.After(after) {
		t.Fatalf("Stat retain-until %v under a 1-day default, want about %v", info.RetainUntil, before.Add(5*time.Second))
	}
	if err := s.Delete(ctx, id, blob.Retention{}); !errors.Is(err, blob.ErrRetained) {
		t.Fatalf("Delete under the default retention: %v, want ErrRetained", err)
	}
	if err := s.SetRetention(ctx, id, time.Now().Add(time.Hour)); !errors.Is(err, blob.ErrRetentionShortened) {
		t.Fatalf("SetRetention below the default lock: %v, want ErrRetentionShortened", err)
	}
	later := time.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	if err := s.SetRetention(ctx, id, later); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Stat(ctx, id); err != nil || !info.RetainUntil.Equal(later) {
		t.Fatalf("Stat after extending past the default = %+v, %v; want %v", info, err, later)
	}
	wantLocked(t, c, bucket, s.Key(id), currentVersion(t, c, bucket, s.Key(id)), []byte("default-locked"), later)
}
