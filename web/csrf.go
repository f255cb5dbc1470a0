package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
)

// CSRFField is the form field of the token every state-changing form
// carries.
const CSRFField = "csrf"

// ErrCSRF: a state-changing form without the session's token.
var ErrCSRF = errors.New("the form's CSRF token is missing or not this session's")

// csrfToken is the session's form token: a hash of the session secret
// under a label of its own. It is per session (a new one at every
// login), needs no server state (so any replica checks it), and tells
// nothing of the secret, which only the HttpOnly cookie holds.
func csrfToken(sessionSecret string) string {
	h := sha256.Sum256([]byte("wxarchive csrf v1\x00" + sessionSecret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// CheckCSRF checks the form token of a state-changing request
// authenticated by a session cookie, in constant time. A request with a
// bearer token carries no ambient credential and needs none. It is on
// top of the cross-origin check every request passes (httpx.Guard).
func (u *UI) CheckCSRF(r *http.Request) error {
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	c, err := r.Cookie(u.opts.SessionCookie)
	if err != nil || c.Value == "" {
		return ErrCSRF
	}
	got := r.PostFormValue(CSRFField)
	want := csrfToken(c.Value)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrCSRF
	}
	return nil
}

// csrfOf is the token for the forms of a page requested with a session.
func (u *UI) csrfOf(r *http.Request) string {
	if c, err := r.Cookie(u.opts.SessionCookie); err == nil && c.Value != "" {
		return csrfToken(c.Value)
	}
	return ""
}
