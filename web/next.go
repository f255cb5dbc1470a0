package web

import (
	"net/url"
	"strings"
)

// maxNext bounds a return path.
const maxNext = 2048

// SafeNext returns the path a login may send the browser back to, when
// next is one: a path of this site only — it starts with one "/", names
// no scheme or host (not "//evil.example", not "/\evil.example", which
// browsers read as another host), holds no backslash, control character
// or space — so a link to the login page cannot be used to send a
// signed-in user elsewhere (no open redirect).
func SafeNext(next string) (string, bool) {
	if next == "" || len(next) > maxNext || next[0] != '/' {
		return "", false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	return next, true
}
