package httpapi

import (
	"net"
	"net/http"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
)

// maxLoginBody bounds a login request (a user name, a password, a code).
const maxLoginBody = 4 << 10

// loginRequest is POST /api/v1/auth/login's body.
type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

// sessionView is what login and /auth/me answer: who, with which roles,
// and until when (never the session secret: that is only in the cookie).
type sessionView struct {
	User        string       `json:"user"`
	Roles       []auth.Role  `json:"roles"`
	Method      auth.Method  `json:"method"`
	Departments []string     `json:"departments,omitempty"`
	Scope       *auth.Scope  `json:"scope,omitempty"`
	Expires     time.Time    `json:"expires,omitzero"`
	Session     *sessionInfo `json:"session,omitempty"`
}

type sessionInfo struct {
	ID        string    `json:"id"`
	IdleUntil time.Time `json:"idle_until"`
	Expires   time.Time `json:"expires"`
}

func viewOf(id *auth.Identity, s *auth.Session) sessionView {
	v := sessionView{User: id.User, Roles: id.Roles, Method: id.Method, Departments: id.Departments, Scope: id.Scope, Expires: id.Expires}
	if s != nil {
		v.Session = &sessionInfo{ID: s.ID, IdleUntil: s.IdleUntil, Expires: s.Expires}
	}
	return v
}

// login: POST /api/v1/auth/login {user, password, totp} → a new session
// (always a new id: a cookie the browser had before is not reused) in an
// HttpOnly, SameSite=Lax cookie, Secure under TLS. Every failure is the
// same 401: the Authenticator throttles and journals.
func (s *Server) login(w http.ResponseWriter, req *http.Request) error {
	if s.opts.Auth == nil {
		return auth.ErrUnauthenticated
	}
	body, err := httpx.ReadBody(w, req, maxLoginBody, "application/json")
	if err != nil {
		return err
	}
	var lr loginRequest
	if err := httpx.DecodeJSON(body, &lr, "a login request"); err != nil {
		return err
	}
	if lr.User == "" || lr.Password == "" {
		return httpx.Errorf(http.StatusBadRequest, "bad_login", "user and password are required")
	}
	id, sess, err := s.signIn(w, req, lr.User, lr.Password, lr.TOTP)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, viewOf(id, sess))
	return nil
}

// signIn checks a local user's credentials and starts a new session in
// the cookie: the JSON login and the login page both. Every refused
// credential is ErrUnauthenticated (the Authenticator throttles and
// journals).
func (s *Server) signIn(w http.ResponseWriter, req *http.Request, user, password, totp string) (*auth.Identity, *auth.Session, error) {
	if s.opts.Auth == nil {
		return nil, nil, auth.ErrUnauthenticated
	}
	addr := remoteIP(req)
	id, err := s.opts.Auth.Login(req.Context(), user, password, totp, addr)
	if err != nil {
		s.refused(req, err)
		return nil, nil, err
	}
	secret, sess, err := s.opts.Auth.StartSession(req.Context(), id, addr)
	if err != nil {
		return nil, nil, err
	}
	s.setSessionCookie(w, req, secret, sess.Expires)
	return id, sess, nil
}

// logout: POST /api/v1/auth/logout ends the cookie's session (the secret
// never works again) and clears the cookie. A token caller has no session:
// nothing to end.
func (s *Server) logout(w http.ResponseWriter, req *http.Request) error {
	if err := s.signOut(w, req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signOut ends the cookie's session, if the request has one, and clears
// the cookie: the JSON logout and the logout form both.
func (s *Server) signOut(w http.ResponseWriter, req *http.Request) error {
	if c, err := req.Cookie(SessionCookie); err == nil && req.Header.Get("Authorization") == "" {
		if err := s.opts.Auth.EndSession(req.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookies(req), SameSite: http.SameSiteLaxMode})
	return nil
}

// me: GET /api/v1/auth/me, the caller's identity.
func (s *Server) me(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	p, _ := app.PrincipalFrom(req.Context())
	httpx.JSON(w, http.StatusOK, viewOf(p.Identity, nil))
	return nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, req *http.Request, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: expires, HttpOnly: true,
		Secure: s.secureCookies(req), SameSite: http.SameSiteLaxMode})
}

// secureCookies: under TLS (or behind a TLS-terminating proxy the
// configuration names) a cookie is never sent over plain HTTP.
func (s *Server) secureCookies(req *http.Request) bool { return req.TLS != nil || s.opts.SecureCookies }

// remoteIP is the address logins are throttled by.
func remoteIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}
