package s3blob

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ParseURL parses the blobs URL of wxarchive.yaml,
//
//	s3://BUCKET?endpoint=HOST[:PORT]&region=REGION&secure=false&prefix=P/&access_key_env=NAME&secret_key_env=NAME
//
// loc may lack the "s3:" scheme (the engine registry passes what follows
// it). endpoint is required; secure defaults to true; prefix defaults to
// empty. Credentials come by reference only: the environment variables
// named by access_key_env and secret_key_env, by default
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, read through getenv. An
// inline key is refused, and errors name the field at fault without ever
// quoting a secret.
func ParseURL(loc string, getenv func(string) string) (Options, error) {
	raw := loc
	if !strings.HasPrefix(raw, "s3:") {
		raw = "s3:" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("blobs URL: %v", errors.Unwrap(err))
	}
	if u.Opaque != "" || u.Host == "" {
		return Options{}, errors.New("blobs URL: want s3://BUCKET?endpoint=HOST:PORT…")
	}
	if u.User != nil {
		return Options{}, errors.New("blobs URL: credentials never go in the URL: use access_key_env and secret_key_env")
	}
	if u.Path != "" && u.Path != "/" {
		return Options{}, fmt.Errorf("blobs URL: path %q: put a key prefix in the prefix parameter", u.Path)
	}
	if u.Fragment != "" {
		return Options{}, errors.New("blobs URL: unexpected fragment")
	}
	o := Options{Bucket: u.Host, Secure: true}
	if err := checkBucketName(o.Bucket); err != nil {
		return Options{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Options{}, fmt.Errorf("blobs URL: query: %v", err)
	}
	accessEnv, secretEnv := "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := q[k]
		if len(vs) != 1 {
			return Options{}, fmt.Errorf("blobs URL: parameter %s given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			if v == "" || strings.ContainsAny(v, "/?#@ ") {
				return Options{}, fmt.Errorf("blobs URL: endpoint %q: want HOST or HOST:PORT", v)
			}
			o.Endpoint = v
		case "region":
			o.Region = v
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Options{}, fmt.Errorf("blobs URL: secure %q: want true or false", v)
			}
			o.Secure = b
		case "prefix":
			if err := checkPrefix(v); err != nil {
				return Options{}, err
			}
			o.Prefix = v
		case "access_key_env":
			if !envName(v) {
				return Options{}, fmt.Errorf("blobs URL: access_key_env %q is not an environment variable name", v)
			}
			accessEnv = v
		case "secret_key_env":
			if !envName(v) {
				return Options{}, fmt.Errorf("blobs URL: secret_key_env %q is not an environment variable name", v)
			}
			secretEnv = v
		case "access_key", "secret_key", "access_key_id", "secret_access_key", "password", "token":
			return Options{}, fmt.Errorf("blobs URL: parameter %s: secrets are never inline: name an environment variable with access_key_env / secret_key_env", k)
		default:
			return Options{}, fmt.Errorf("blobs URL: unknown parameter %q (known: endpoint, region, secure, prefix, access_key_env, secret_key_env)", k)
		}
	}
	if o.Endpoint == "" {
		return Options{}, errors.New("blobs URL: parameter endpoint is required (e.g. endpoint=s3.example.com:443)")
	}
	if o.AccessKey = getenv(accessEnv); o.AccessKey == "" {
		return Options{}, fmt.Errorf("blobs URL: access key: environment variable %s is not set", accessEnv)
	}
	if o.SecretKey = getenv(secretEnv); o.SecretKey == "" {
		return Options{}, fmt.Errorf("blobs URL: secret key: environment variable %s is not set", secretEnv)
	}
	return o, nil
}

func envName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkBucketName applies the S3 bucket naming rules (3–63 characters of
// lower-case letters, digits, hyphens and dots, starting and ending with a
// letter or digit).
func checkBucketName(b string) error {
	bad := func(why string) error { return fmt.Errorf("s3blob: bucket %q: %s", b, why) }
	if len(b) < 3 || len(b) > 63 {
		return bad("want 3 to 63 characters")
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return bad("only lower-case letters, digits, '-' and '.' are allowed")
		}
	}
	if first, last := b[0], b[len(b)-1]; first == '-' || first == '.' || last == '-' || last == '.' {
		return bad("must start and end with a letter or digit")
	}
	if strings.Contains(b, "..") {
		return bad("no two dots in a row")
	}
	return nil
}

// checkPrefix accepts an empty prefix or a relative, clean one ending in
// "/", so keys never climb out of it.
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("s3blob: prefix %q: %s", p, why) }
	if !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") {
		return bad("want a relative prefix ending in '/', e.g. archive1/")
	}
	if len(p) > 512 {
		return bad("longer than 512 bytes")
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty, '.' and '..' segments are not allowed")
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == 0xfffd {
			return bad("control characters, backslashes and invalid UTF-8 are not allowed")
		}
	}
	return nil
}
