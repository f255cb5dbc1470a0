package s3blob

import (
	"strings"
	"testing"
)

const secret = "S3CR3T-VALUE-never-in-errors"

func env(name string) string {
	switch name {
	case "AWS_ACCESS_KEY_ID", "MY_ACCESS":
		return "AKIDEXAMPLE"
	case "AWS_SECRET_ACCESS_KEY", "MY_SECRET":
		return secret
	}
	return ""
}

func TestParseURL(t *testing.T) {
	o, err := ParseURL("//archive-1?endpoint=127.0.0.1:8333&region=eu-west-1&secure=false&prefix=firm/a/&access_key_env=MY_ACCESS&secret_key_env=MY_SECRET", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Endpoint: "127.0.0.1:8333", Bucket: "archive-1", Prefix: "firm/a/", Region: "eu-west-1", AccessKey: "AKIDEXAMPLE", SecretKey: secret}
	if o.Endpoint != want.Endpoint || o.Bucket != want.Bucket || o.Prefix != want.Prefix || o.Region != want.Region || o.Secure || o.AccessKey != want.AccessKey || o.SecretKey != want.SecretKey {
		t.Fatalf("ParseURL = %+v", o)
	}
	// Defaults: HTTPS, the standard AWS variables, no prefix.
	o, err = ParseURL("s3://b12?endpoint=s3.example.com", env)
	if err != nil || !o.Secure || o.Prefix != "" || o.SecretKey != secret {
		t.Fatalf("ParseURL defaults = %+v, %v", o, err)
	}

	for _, c := range []struct{ url, want string }{
		{"s3://b12", "endpoint is required"},
		{"s3:b12?endpoint=x", "want s3://BUCKET"},
		{"s3://user:" + secret + "@b12?endpoint=x", "credentials never go in the URL"},
		{"s3://b12/path?endpoint=x", `path "/path"`},
		{"s3://B12?endpoint=x", `bucket "B12"`},
		{"s3://ab?endpoint=x", "3 to 63"},
		{"s3://b12?endpoint=x&endpoint=y", "endpoint given 2 times"},
		{"s3://b12?endpoint=x/y", `endpoint "x/y"`},
		{"s3://b12?endpoint=x&secure=yes", `secure "yes"`},
		{"s3://b12?endpoint=x&prefix=a", `prefix "a"`},
		{"s3://b12?endpoint=x&prefix=/a/", `prefix "/a/"`},
		{"s3://b12?endpoint=x&prefix=a/../", "'..'"},
		{"s3://b12?endpoint=x&secret_key=" + secret, "secrets are never inline"},
		{"s3://b12?endpoint=x&access_key_env=1X", "access_key_env"},
		{"s3://b12?endpoint=x&secret_key_env=NOPE", "environment variable NOPE is not set"},
		{"s3://b12?endpoint=x&access_key_env=NOPE", "environment variable NOPE is not set"},
		{"s3://b12?endpoint=x&retries=3", `unknown parameter "retries"`},
	} {
		_, err := ParseURL(c.url, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseURL(%q) = %v, want an error containing %q", c.url, err, c.want)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q): the error quotes the secret: %v", c.url, err)
		}
	}
}

// FuzzParseURL: any input is refused with an error or gives options of the
// shape Open accepts; no error ever quotes the secret from the environment.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"//archive-1?endpoint=127.0.0.1:8333&region=eu-west-1&secure=false&prefix=firm/a/",
		"s3://b12?endpoint=s3.example.com",
		"s3://b12?endpoint=x&access_key_env=MY_ACCESS&secret_key_env=MY_SECRET",
		"s3://user:pw@b12?endpoint=x",
		"s3://b12?endpoint=x&prefix=a/../",
		"s3://b12?endpoint=x&secret_key=" + secret,
		"s3://b12?%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseURL(s, env)
		if err != nil {
			// The secret read from the environment is never quoted (an
			// input may of course contain the same characters).
			if strings.Contains(err.Error(), secret) && !strings.Contains(s, secret) {
				t.Fatalf("error quotes the secret: %v", err)
			}
			return
		}
		if o.Endpoint == "" || o.AccessKey == "" || o.SecretKey == "" {
			t.Fatalf("accepted %q with %+v", s, o)
		}
		if err := checkBucketName(o.Bucket); err != nil {
			t.Fatalf("accepted bucket: %v", err)
		}
		if err := checkPrefix(o.Prefix); err != nil {
			t.Fatalf("accepted prefix: %v", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	s := &Store{prefix: "p/"}
	id := [32]byte{0xab, 1}
	k := s.Key(id)
	if got, ok := s.parseKey(k); !ok || got != id {
		t.Fatalf("parseKey(Key) = %v, %v", got, ok)
	}
	for _, bad := range []string{k + "x", strings.ToUpper(k), "p/blobs/00/" + k[len("p/blobs/ab/"):], "q/" + k[2:], k[:len(k)-1]} {
		if _, ok := s.parseKey(bad); ok {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
}
