package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/web"
)

// SessionCookie is the browser session's cookie. Its value is the
// session secret; the server keeps only a hash.
const SessionCookie = "wxarchive_session"

// Bounds on credentials as they arrive: longer ones are malformed, not
// looked up (a token is wxa_ + 43 characters, a session secret 43).
const (
	maxBearerBytes = 512
	maxCookieBytes = 256
)

// authenticate finds who the request is from: an API token
// (Authorization: Bearer …) or, failing that, a session cookie. via is
// the surface the identity is journaled with: "api" for a token, "web"
// for a session.
func (s *Server) authenticate(req *http.Request) (id *auth.Identity, via string, err error) {
	if s.opts.Auth == nil {
		return nil, "", auth.ErrUnauthenticated
	}
	ctx := req.Context()
	if hs := req.Header.Values("Authorization"); len(hs) > 0 {
		scheme, tok, ok := strings.Cut(hs[0], " ")
		switch {
		case len(hs) > 1:
			return nil, "", httpx.Errorf(http.StatusUnauthorized, "bad_authorization", "the Authorization header is given %d times: give it once", len(hs))
		case !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "":
			return nil, "", httpx.Errorf(http.StatusUnauthorized, "bad_authorization", `the Authorization header must be "Bearer <token>"`)
		case len(tok) > maxBearerBytes:
			return nil, "", httpx.Errorf(http.StatusUnauthorized, "bad_authorization", "the bearer token is over %d bytes: not a wxarchive token", maxBearerBytes)
		}
		id, err := s.opts.Auth.Token(ctx, strings.TrimSpace(tok))
		return id, "api", err
	}
	if c, err := req.Cookie(SessionCookie); err == nil {
		if len(c.Value) > maxCookieBytes {
			return nil, "", httpx.Errorf(http.StatusUnauthorized, "bad_session_cookie", "the %s cookie is over %d bytes: log in again", SessionCookie, maxCookieBytes)
		}
		id, _, err := s.opts.Auth.Session(ctx, c.Value)
		return id, "web", err
	}
	return nil, "", auth.ErrUnauthenticated
}

// acting authenticates the request, checks perm — the one place every
// API route is authorized — and runs h as the identity, with push-back:
// a remote client is told to come back (503, Retry-After) rather than
// queued behind a saturated writer. Errors go to httpx's one mapping; a
// full disk also makes the server not ready (storageState).
func (s *Server) acting(perm auth.Permission, h httpx.HandlerFunc) http.Handler {
	return httpx.Handle(s.opts.Logger, func(w http.ResponseWriter, req *http.Request) error {
		id, via, err := s.authenticate(req)
		if err != nil && perm == auth.PermMetrics && s.opts.OpenMetrics && loopback(req.RemoteAddr) {
			// Metrics open on loopback by configuration: a local scraper
			// needs no token; anyone else still does.
			id, via, err = &auth.Identity{User: "loopback", Roles: []auth.Role{auth.Admin}, Scopes: []auth.Permission{auth.PermMetrics}}, "api", nil
		}
		if err != nil {
			s.refused(req, err)
			return err
		}
		// CSRF: a session cookie rides along with a cross-site request.
		// The guard in front of every route (httpx.Guard) refuses any
		// cross-origin state-changing request before it gets here, cookie
		// or not; the cookie is also SameSite.
		if err := id.Authorize(perm, s.now()); err != nil {
			s.refused(req, err)
			return err
		}
		err = h(w, s.asPrincipal(req, id, via))
		if err != nil && errors.Is(err, syscall.ENOSPC) {
			s.storage.full(httpx.StorageOf(err), err)
		}
		return err
	})
}

// asPrincipal is req acting as id (journaled with the surface via), with
// push-back.
func (s *Server) asPrincipal(req *http.Request, id *auth.Identity, via string) *http.Request {
	p := app.Principal{Actor: "api:" + id.User, User: id.User, Via: via, Identity: id}
	return req.WithContext(ingest.WithPushback(app.WithPrincipal(req.Context(), p)))
}

// pageActing is acting for a web page: without a valid credential the
// browser is sent to the login page (303, with the return path) rather
// than answered 401; a refused permission, a state-changing form without
// the session's CSRF token and every error of h are HTML pages.
func (s *Server) pageActing(perm auth.Permission, h httpx.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id, via, err := s.authenticate(req)
		if err == nil {
			err = id.Authorize(perm, s.now())
		}
		if err != nil {
			s.refused(req, err)
			if pr := httpx.ProblemOf(req, err); pr != nil && pr.Status == http.StatusUnauthorized {
				s.ui.SignInFirst(w, req)
				return
			}
			s.ui.Error(w, req, err)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			req.Body = http.MaxBytesReader(w, req.Body, web.MaxFormBytes)
			if err := s.ui.CheckCSRF(req); err != nil {
				s.refused(req, err)
				s.ui.Error(w, req, err)
				return
			}
		}
		req = s.asPrincipal(req, id, via)
		if err := h(w, req); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				s.storage.full(httpx.StorageOf(err), err)
			}
			s.ui.Error(w, req, err)
		}
	})
}

// refused logs a refused request — without its credentials — so an
// operator sees probing; logins are journaled by the Authenticator.
func (s *Server) refused(req *http.Request, err error) {
	s.opts.Logger.Info("request refused", "method", req.Method, "path", req.URL.Path, "remote", req.RemoteAddr, "reason", err.Error())
}

// loopback reports whether a RemoteAddr is a loopback address.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// actorOf is the journal actor of an authorized request.
func actorOf(req *http.Request) string {
	p, _ := app.PrincipalFrom(req.Context())
	return p.Actor
}

// handle runs a public route's handler with httpx's one error mapping.
func (s *Server) handle(h httpx.HandlerFunc) http.Handler { return httpx.Handle(s.opts.Logger, h) }
