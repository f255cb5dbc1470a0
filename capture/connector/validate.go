package connector

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Problem is one fault of a connector's configuration: the field (a key,
// or a path such as "private_keys[2]" or "api.room_refresh") and what is
// wrong with it. Validate adds which connector and which line.
type Problem struct {
	Field  string
	Reason string
}

// Problemf builds a Problem.
func Problemf(field, format string, a ...any) Problem {
	return Problem{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Rules are what a connector type checks of its configuration; a type
// registers them with capture.Registry, which hands them to Validate.
type Rules struct {
	// Fields are the keys the type reads besides id, type and enabled. A
	// connector that sets any other key is refused, naming the types that
	// do read it.
	Fields []string
	// Check returns the problems of the type's own fields: required ones
	// (RequireSecret for a secret), ranges, consistency. The form of every
	// secret (not inline, not both env and file) is checked for all types.
	Check func(c *Config) []Problem
	// Unique, if set, is a key that two enabled connectors of the type must
	// not share, with what it names (e.g. "corp ww1": one connector pulls
	// a corp); "" for none.
	Unique func(c *Config) string
}

// TypeRules looks up a type's rules; ok is false for a type nobody
// registered.
type TypeRules func(t Type) (r Rules, ok bool)

// RequireSecret is the problem of a required secret that is not
// configured (nil when it is).
func RequireSecret(field string, s Secret) []Problem {
	if s.IsZero() {
		return []Problem{Problemf(field, "required ({env: NAME} or {file: PATH})")}
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks every connector against the rules of its type (names
// lists the registered types, for the error about an unknown one) and
// returns every problem, each naming the line, the connector and the
// field, or nil. A secret's value is never part of an error.
func Validate(cs []Config, rules TypeRules, names []Type) error {
	var errs []error
	seen := map[string]int{}
	unique := map[string]int{} // type + key → connector index + 1
	readers := map[string][]string{}
	for _, t := range names {
		if r, ok := rules(t); ok {
			for _, f := range r.Fields {
				readers[f] = append(readers[f], string(t))
			}
		}
	}
	for i := range cs {
		c := &cs[i]
		bad := func(p Problem) {
			where := fmt.Sprintf("connectors[%d]", i)
			if c.ID != "" {
				where += " (" + c.ID + ")"
			}
			if c.line > 0 {
				where = fmt.Sprintf("line %d: %s", c.line, where)
			}
			errs = append(errs, fmt.Errorf("%s: %s: %s", where, p.Field, p.Reason))
		}
		switch {
		case c.ID == "":
			bad(Problemf("id", "required"))
		case !idPattern.MatchString(c.ID):
			bad(Problemf("id", "%q: use lower-case letters, digits and '-' (it appears in URLs)", c.ID))
		case seen[c.ID] > 0:
			bad(Problemf("id", "%q is also connectors[%d]", c.ID, seen[c.ID]-1))
		}
		seen[c.ID] = i + 1
		r, ok := rules(c.Type)
		if !ok {
			bad(Problemf("type", "%q: expected %s", c.Type, orList(names)))
			continue
		}
		reads := map[string]bool{}
		for _, f := range r.Fields {
			reads[f] = true
		}
		for _, f := range c.SetFields() {
			switch {
			case reads[f]:
			case len(readers[f]) == 0:
				bad(Problemf(f, "no connector type reads it"))
			default:
				bad(Problemf(f, "is for %s connectors", strings.Join(readers[f], ", ")))
			}
		}
		for _, p := range c.secretProblems() {
			bad(p)
		}
		if c.APIBase != "" && !strings.HasPrefix(c.APIBase, "https://") && !strings.HasPrefix(c.APIBase, "http://") {
			bad(Problemf("api_base", "%q is not an http(s) URL", c.APIBase))
		}
		if r.Check != nil {
			for _, p := range r.Check(c) {
				bad(p)
			}
		}
		if r.Unique != nil && c.IsEnabled() {
			if k := r.Unique(c); k != "" {
				if j := unique[string(c.Type)+"\x00"+k]; j > 0 {
					bad(Problemf("id", "a second %s connector for %s (connectors[%d] is one)", c.Type, k, j-1))
				} else {
					unique[string(c.Type)+"\x00"+k] = i + 1
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ExposedSecrets lists the secret files c reads that other users of the
// machine can read too (group or other permission bits): a callback token
// or a private key another account can copy forges or decrypts capture.
// Field is the setting, Reason names the file and its mode — never the
// secret.
func (c *Config) ExposedSecrets() []Problem {
	var out []Problem
	c.eachSecret(func(field string, s Secret) {
		if warn, exposed := s.Exposed(); exposed {
			out = append(out, Problemf(field, "%s", warn))
		}
	})
	return out
}

// UnresolvedSecrets lists the secrets c sets that cannot be read now (an
// environment variable not set, a file missing or empty): what serve
// would refuse to start on. Reasons name where the secret was looked for,
// never its value.
func (c *Config) UnresolvedSecrets() []Problem {
	var out []Problem
	c.eachSecret(func(field string, s Secret) {
		if s.IsZero() {
			return
		}
		if _, err := s.Resolve(); err != nil {
			out = append(out, Problemf(field, "%v", err))
		}
	})
	return out
}

// eachSecret calls fn for every secret setting of c, in a stable order.
func (c *Config) eachSecret(fn func(field string, s Secret)) {
	fn("token", c.Token)
	fn("aes_key", c.AESKey)
	fn("app_secret", c.AppSecret)
	fn("secret", c.Secret)
	vers := make([]int, 0, len(c.PrivateKeys))
	for v := range c.PrivateKeys {
		vers = append(vers, v)
	}
	sort.Ints(vers)
	for _, v := range vers {
		fn(fmt.Sprintf("private_keys[%d]", v), c.PrivateKeys[v])
	}
	fn("proxy_password", c.ProxyPassword)
	if c.API != nil {
		fn("api.contact_secret", c.API.ContactSecret)
	}
}

// EachSecretField calls fn with the name of every secret setting c has.
func (c *Config) EachSecretField(fn func(field string)) {
	c.eachSecret(func(field string, _ Secret) { fn(field) })
}

// secretProblems checks the form of every secret c sets: not written in
// the file, not both env and file.
func (c *Config) secretProblems() []Problem {
	var out []Problem
	check := func(field string, s Secret) {
		if err := s.Form(); err != nil {
			out = append(out, Problemf(field, "%s", err))
		}
	}
	c.eachSecret(check)
	return out
}

func orList(ts []Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	switch len(s) {
	case 0:
		return "a registered connector type (none is)"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
