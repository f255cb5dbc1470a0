package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/httpx"
)

// OIDCMapper turns a provider's verified claims into an identity (the
// group → role mapping of auth.oidc_groups); auth.Service is one.
type OIDCMapper interface {
	MapOIDC(ctx context.Context, issuer, subject, username string, groups []string) (*auth.Identity, error)
}

// ssoBegin: GET /auth/oidc/{issuer}/login[?return=/path] redirects the
// browser to the provider (authorization code flow with PKCE).
func (s *Server) ssoBegin(w http.ResponseWriter, req *http.Request) error {
	err := s.opts.OIDC.Begin(w, req, req.PathValue("issuer"), req.URL.Query().Get("return"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oidc.ErrUnknownIssuer):
		return httpx.Errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, oidc.ErrReturnTo):
		return httpx.BadParam("return: %v", err)
	}
	s.opts.Logger.Warn("single sign-on could not start", "issuer", req.PathValue("issuer"), "err", err)
	return httpx.Errorf(http.StatusServiceUnavailable, "idp_unavailable", "the identity provider cannot be reached; try again later")
}

// ssoCallback: GET /auth/oidc/{issuer}/callback completes the sign-in:
// the provider's ID token verified (oidc.RP.Complete), the user mapped to
// their roles, a new session in the cookie, and back to where they were.
// Every refusal is the same 401; the check that failed is logged.
func (s *Server) ssoCallback(w http.ResponseWriter, req *http.Request) error {
	claims, err := s.opts.OIDC.Complete(req)
	if err != nil {
		var le *oidc.LoginError
		if errors.As(err, &le) {
			s.opts.Logger.Warn("single sign-on refused", "issuer", le.Issuer, "check", le.Check, "reason", le.Reason, "remote", req.RemoteAddr)
		}
		if errors.Is(err, oidc.ErrUnavailable) {
			return httpx.Errorf(http.StatusServiceUnavailable, "idp_unavailable", "the identity provider cannot be reached; try again later")
		}
		return auth.ErrUnauthenticated
	}
	m, ok := s.opts.Auth.(OIDCMapper)
	if !ok {
		return auth.ErrUnauthenticated
	}
	id, err := m.MapOIDC(req.Context(), claims.Issuer, claims.Subject, claims.Username, claims.Groups)
	if err != nil {
		s.refused(req, err)
		return err
	}
	secret, sess, err := s.opts.Auth.StartSession(req.Context(), id, remoteIP(req))
	if err != nil {
		return err
	}
	s.setSessionCookie(w, req, secret, sess.Expires)
	to := claims.ReturnTo
	if to == "" {
		to = "/"
	}
	http.Redirect(w, req, to, http.StatusSeeOther)
	return nil
}
