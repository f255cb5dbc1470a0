package archivetest

import (
	"os"
	"strings"
	"testing"
)

// The suites run on the engine WXARCHIVE_TEST_BLOBS names, and each
// archive has a store of its own: a run that meant to test S3 and quietly
// used the directory would prove nothing.
func TestBlobsFromEnvironment(t *testing.T) {
	env := os.Getenv("WXARCHIVE_TEST_BLOBS")
	a, b := New(t), New(t)
	want := map[string]string{"": "fsblob", "file": "fsblob", "s3": "s3blob"}[strings.SplitN(env, ":", 2)[0]]
	if want == "" {
		t.Skipf("WXARCHIVE_TEST_BLOBS=%s: no expectation for this scheme", env)
	}
	pa, pb := a.Blobs.Properties(), b.Blobs.Properties()
	if pa.Name != want {
		t.Fatalf("WXARCHIVE_TEST_BLOBS=%q: the archive's blob store is %s, want %s", env, pa.Name, want)
	}
	if pa.Location == pb.Location {
		t.Fatalf("two archives share the blob store %s", pa.Location)
	}
}

func TestTestBlobsURL(t *testing.T) {
	for _, env := range []string{"", "file:blobs"} {
		if got, err := testBlobsURL(env); err != nil || got != env {
			t.Errorf("testBlobsURL(%q) = %q, %v; want it unchanged", env, got, err)
		}
	}
	u1, err1 := testBlobsURL("s3://b12?endpoint=x&prefix=run/")
	u2, err2 := testBlobsURL("s3://b12?endpoint=x&prefix=run/")
	if err1 != nil || err2 != nil || u1 == u2 || !strings.Contains(u1, "prefix=run%2Ft") || !strings.Contains(u1, "endpoint=x") {
		t.Fatalf("testBlobsURL: %q, %q (%v, %v): want distinct prefixes under run/", u1, u2, err1, err2)
	}
}
