package witness

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
)

// Kinds of witness location.
const (
	KindDir  = "dir"
	KindHTTP = "http"
	KindC2SP = "c2sp"
)

// Config is one witness in wxarchive.yaml (section witnesses):
//
//	witnesses:
//	  - dir: /mnt/other-host/wx-witness
//	  - url: https://witness.example.com/checkpoints/
//	  - url: https://witness.example.com/
//	    kind: c2sp
//	    key: witness.example.com+1a2b3c4d+BAbC…
//
// A bearer token (repo.WitnessConfig adds it, as a secret reference) is
// given to Open, never kept here.
type Config struct {
	// Name labels the witness in logs, metrics, health and verify reports
	// (default: the directory, or the URL's host and path).
	Name string `yaml:"name,omitempty"`
	Dir  string `yaml:"dir,omitempty"`
	URL  string `yaml:"url,omitempty"`
	// Kind of an URL witness: http (a plain checkpoint store, the
	// default) or c2sp (a C2SP tlog-witness).
	Kind string `yaml:"kind,omitempty"`
	// Key is a C2SP witness's cosignature/v1 public key.
	Key string `yaml:"key,omitempty"`
}

// Validate checks a configuration; field names the entry in messages
// (e.g. "witnesses[1]").
func (c *Config) Validate(field string) error {
	switch {
	case c.Dir != "" && c.URL != "":
		return fmt.Errorf("%s: give dir or url, not both", field)
	case c.Dir == "" && c.URL == "":
		return fmt.Errorf("%s: dir or url is required", field)
	case c.Dir != "":
		if c.Kind != "" && c.Kind != KindDir {
			return fmt.Errorf("%s.kind: %q is not a kind of directory witness", field, c.Kind)
		}
		if c.Key != "" {
			return fmt.Errorf("%s: a directory witness takes no key", field)
		}
		return nil
	}
	if _, err := newHTTPClient("", c.URL, "", nil); err != nil {
		return fmt.Errorf("%s.url: %v", field, err)
	}
	switch c.Kind {
	case "", KindHTTP:
		if c.Key != "" {
			return fmt.Errorf("%s.key: only a c2sp witness cosigns", field)
		}
	case KindC2SP:
		if c.Key == "" {
			return fmt.Errorf("%s.key: a c2sp witness needs its public key", field)
		}
		if _, err := NewCosignatureVerifier(c.Key); err != nil {
			return fmt.Errorf("%s.key: %v", field, err)
		}
	default:
		return fmt.Errorf("%s.kind: %q is not http or c2sp", field, c.Kind)
	}
	return nil
}

// DisplayName is Name, or one made from the location (never with a
// query string or credentials).
func (c *Config) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Dir != "" {
		return filepath.Clean(c.Dir)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(bad url)"
	}
	return u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
}

// Open returns the witness a configuration describes. token, if not
// empty, is sent to an URL witness as a bearer token; client nil means a
// default HTTP client.
func (c *Config) Open(token string, client *http.Client) (Witness, error) {
	if err := c.Validate("witness " + c.DisplayName()); err != nil {
		return nil, err
	}
	name := c.DisplayName()
	if c.Dir != "" {
		if token != "" {
			return nil, fmt.Errorf("witness %s: a directory witness takes no token", name)
		}
		return NewDirWitness(name, c.Dir), nil
	}
	if c.Kind == KindC2SP {
		return NewC2SPWitness(name, c.URL, token, []string{c.Key}, client)
	}
	return NewHTTPWitness(name, c.URL, token, client)
}

// ParseLocation reads a witness location given on the command line: a
// directory, an http(s):// URL (a plain checkpoint store) or
// c2sp+http(s)://… (a C2SP witness, whose cosignatures must verify under
// one of keys).
func ParseLocation(loc string, keys []string) (Witness, error) {
	switch {
	case loc == "":
		return nil, fmt.Errorf("empty witness location")
	case strings.HasPrefix(loc, "c2sp+"):
		u := strings.TrimPrefix(loc, "c2sp+")
		c := &Config{URL: u, Kind: KindC2SP}
		if len(keys) == 0 {
			return nil, fmt.Errorf("witness %s: give the C2SP witness's public key (--witness-key)", c.DisplayName())
		}
		c.Key = keys[0]
		if err := c.Validate("witness " + c.DisplayName()); err != nil {
			return nil, err
		}
		return NewC2SPWitness(c.DisplayName(), u, "", keys, nil)
	case strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://"):
		c := &Config{URL: loc}
		return c.Open("", nil)
	case strings.Contains(loc, "://"):
		return nil, fmt.Errorf("witness %q: a directory, an http(s):// URL or c2sp+https://…", redactURL(loc))
	}
	c := &Config{Dir: loc}
	return c.Open("", nil)
}
