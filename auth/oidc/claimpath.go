package oidc

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ClaimPath names a claim of an ID token, possibly nested in objects:
// "groups", "realm_access.roles" (Keycloak realm roles),
// "resource_access.wxarchive.roles" (Keycloak client roles). A segment
// that itself holds dots or quotes is written in double quotes, with \"
// and \\ as the only escapes: `"https://wxarchive.example/groups"` (an
// Auth0-style namespaced claim), `resource_access."archive.prod".roles`.
type ClaimPath []string

// maxClaimPath bounds a path's text (it comes from the configuration, but
// the parser is fuzzed as if it came from anyone).
const maxClaimPath = 512

// ParseClaimPath parses s; an error names the byte offset at fault.
func ParseClaimPath(s string) (ClaimPath, error) {
	if s == "" {
		return nil, errors.New("empty claim path")
	}
	if len(s) > maxClaimPath {
		return nil, fmt.Errorf("claim path longer than %d bytes", maxClaimPath)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("claim path is not valid UTF-8")
	}
	var p ClaimPath
	i := 0
	for {
		var seg strings.Builder
		if i < len(s) && s[i] == '"' {
			start := i
			i++
			closed := false
		quoted:
			for i < len(s) {
				c := s[i]
				switch {
				case c == '\\':
					if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
						return nil, fmt.Errorf("claim path %q: at byte %d: only \\\" and \\\\ may be escaped", s, i)
					}
					seg.WriteByte(s[i+1])
					i += 2
				case c == '"':
					closed = true
					break quoted
				case c < 0x20 || c == 0x7f:
					return nil, fmt.Errorf("claim path %q: at byte %d: a control character", s, i)
				default:
					seg.WriteByte(c)
					i++
				}
			}
			if !closed {
				return nil, fmt.Errorf("claim path %q: the quote at byte %d is not closed", s, start)
			}
			i++ // the closing quote
			if seg.Len() == 0 {
				return nil, fmt.Errorf("claim path %q: empty quoted segment at byte %d", s, start)
			}
		} else {
			start := i
			for i < len(s) && s[i] != '.' {
				c := s[i]
				if c == '"' || c == '\\' || c <= 0x20 || c == 0x7f {
					return nil, fmt.Errorf("claim path %q: at byte %d: %q must be inside a quoted segment", s, i, c)
				}
				i++
			}
			if i == start {
				return nil, fmt.Errorf("claim path %q: empty segment at byte %d", s, start)
			}
			seg.WriteString(s[start:i])
		}
		p = append(p, seg.String())
		if i == len(s) {
			return p, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("claim path %q: at byte %d: expected '.' after a quoted segment", s, i)
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("claim path %q: ends with '.'", s)
		}
	}
}

// String writes p back in the form ParseClaimPath reads: ParseClaimPath
// of it gives p again.
func (p ClaimPath) String() string {
	var b strings.Builder
	for i, seg := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		if seg != "" && !strings.ContainsAny(seg, ".\"\\") && !hasSpaceOrControl(seg) {
			b.WriteString(seg)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(seg); j++ {
			if seg[j] == '"' || seg[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(seg[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

func hasSpaceOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// Lookup returns the value at p in the decoded claims (objects are
// map[string]any, as encoding/json decodes them); ok is false when a
// segment is missing or a value on the way is not an object.
func (p ClaimPath) Lookup(claims map[string]any) (v any, ok bool) {
	var cur any = claims
	for _, seg := range p {
		m, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}
