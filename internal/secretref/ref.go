// Package secretref is how a configuration file names a secret without
// holding it: {env: NAME} or {file: PATH}. The connectors' settings and
// the single-sign-on clients' secrets use it; a secret written in the
// file itself is refused, because configuration files are copied and
// backed up far more widely than a secret should be.
//
// It imports nothing of the project, so any floor may use it
// (docs/ARCHITECTURE.md, the utility rule).
package secretref

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Ref says where a secret is read from: an environment variable or a file
// (its content, without a final newline).
type Ref struct {
	Env  string `yaml:"env,omitempty"`
	File string `yaml:"file,omitempty"`

	inline bool // written as a plain value (its text is not kept)
	line   int
}

// UnmarshalYAML accepts {env: NAME} or {file: PATH}. A plain value is
// remembered — not its text — so Form can point at its line.
func (s *Ref) UnmarshalYAML(n *yaml.Node) error {
	s.line = n.Line
	if n.Kind == yaml.ScalarNode {
		s.inline = n.Value != ""
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected {env: NAME} or {file: PATH}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != "env" && k.Value != "file" {
			return fmt.Errorf("line %d: unknown key %q (expected env or file)", k.Line, k.Value)
		}
	}
	var p struct {
		Env  string `yaml:"env"`
		File string `yaml:"file"`
	}
	if err := n.Decode(&p); err != nil {
		return err
	}
	s.Env, s.File = p.Env, p.File
	return nil
}

// Inline returns a Ref as a plain value on line would have parsed (for
// tests of the refusal).
func Inline(line int) Ref { return Ref{inline: true, line: line} }

// IsZero reports whether no secret is configured.
func (s Ref) IsZero() bool { return s.Env == "" && s.File == "" && !s.inline }

// Form checks how the secret is given: not written in the file, not both
// env and file. A zero Ref passes (Required says whether one must be).
func (s Ref) Form() error {
	switch {
	case s.inline:
		return fmt.Errorf("a secret must not be written in the configuration file: use {env: NAME} or {file: PATH} (line %d)", s.line)
	case s.Env != "" && s.File != "":
		return errors.New("give env or file, not both")
	}
	return nil
}

// Required is Form for a secret that must be configured.
func (s Ref) Required() error {
	if s.IsZero() {
		return errors.New("required ({env: NAME} or {file: PATH})")
	}
	return s.Form()
}

// Resolve reads the secret. Errors name where it was looked for, never
// its value.
func (s Ref) Resolve() (string, error) {
	if err := s.Form(); err != nil {
		return "", err
	}
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", s.File, errors.Unwrap(err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s is empty", s.File)
		}
		return v, nil
	}
	return "", errors.New("not configured ({env: NAME} or {file: PATH})")
}

// Exposed reports, for a secret read from a file, whether other users of
// the machine can read that file (group or other permission bits), with
// the file and its mode for a warning — never the secret.
func (s Ref) Exposed() (string, bool) {
	if s.File == "" {
		return "", false
	}
	fi, err := os.Stat(s.File)
	if err != nil {
		return "", false // Resolve reports it
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Sprintf("%s is readable by other users (mode %04o): chmod 600 it", s.File, m), true
	}
	return "", false
}
