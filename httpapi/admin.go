package httpapi

// The access-control API: the audit log, users and API tokens. Each route
// renders the app/ use case its CLI command renders (wxarchive audit,
// user add|list|roles|disable|passwd|totp, token create|list|revoke), with
// the same JSON; the use cases authorize (auth.PermAudit, auth.PermUsers)
// and journal every change (never a credential).

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
)

// MaxAdminBytes bounds a user or token request body.
const MaxAdminBytes = 64 << 10

// audit: GET /api/v1/audit[?user=&kind=&from=&to=&before=&limit=][&format=json|csv],
// the access and change log newest first; a page's next is the following
// page's before (as CSV, in the X-Next-Before header).
func (s *Server) audit(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "user", "kind", "from", "to", "before", "limit", "format"); err != nil {
		return err
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return httpx.BadParam("format: json or csv, not %q", format)
	}
	f := app.AuditFilter{User: q.Get("user"), Kind: q.Get("kind"), Period: app.Range{From: q.Get("from"), To: q.Get("to")}}
	if q.Has("before") {
		n, err := httpx.Uint("before", q.Get("before"))
		if err != nil {
			return err
		}
		f.Before = n
	}
	if q.Has("limit") {
		n, err := httpx.Int("limit", q.Get("limit"), 1, app.MaxAuditLimit)
		if err != nil {
			return err
		}
		f.Limit = n
	}
	page, err := s.app.Audit(req.Context(), f)
	if err != nil {
		return err
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
		if page.Next != 0 {
			w.Header().Set("X-Next-Before", strconv.FormatUint(page.Next, 10))
		}
		return app.WriteAuditCSV(w, page)
	}
	httpx.JSON(w, http.StatusOK, page)
	return nil
}

// userRequest is the body of POST /api/v1/users: a name, a password (none
// for a single-sign-on-only user) and the grant.
type userRequest struct {
	Name     string `json:"name"`
	Password string `json:"password,omitempty"`
	auth.Grant
}

// decodeBody reads a JSON body of at most MaxAdminBytes into v.
func decodeBody(w http.ResponseWriter, req *http.Request, v any, what string) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	body, err := httpx.ReadBody(w, req, MaxAdminBytes, "application/json")
	if err != nil {
		return err
	}
	return httpx.DecodeJSON(body, v, what)
}

// users: GET /api/v1/users.
func (s *Server) users(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	u, err := s.app.Users(req.Context())
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, u)
	return nil
}

// addUser: POST /api/v1/users, 201 with the user.
func (s *Server) addUser(w http.ResponseWriter, req *http.Request) error {
	var r userRequest
	if err := decodeBody(w, req, &r, "a user object"); err != nil {
		return err
	}
	u, err := s.app.AddUser(req.Context(), auth.NewUser{Name: r.Name, Password: r.Password, Grant: r.Grant})
	if err != nil {
		return err
	}
	s.opts.Logger.Info("user added", "user", u.Name, "roles", u.Roles, "actor", actorOf(req))
	w.Header().Set("Location", "/api/v1/users")
	httpx.JSON(w, http.StatusCreated, u)
	return nil
}

// setGrant: PUT /api/v1/users/{name}/grant, the user's roles,
// departments, scope and expiry replaced.
func (s *Server) setGrant(w http.ResponseWriter, req *http.Request) error {
	var g auth.Grant
	if err := decodeBody(w, req, &g, "a grant object"); err != nil {
		return err
	}
	u, err := s.app.SetUserGrant(req.Context(), req.PathValue("name"), g)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("user grant set", "user", u.Name, "roles", u.Roles, "actor", actorOf(req))
	httpx.JSON(w, http.StatusOK, u)
	return nil
}

// setPassword: PUT /api/v1/users/{name}/password {"password": …}; the
// user's sessions end.
func (s *Server) setPassword(w http.ResponseWriter, req *http.Request) error {
	var r struct {
		Password string `json:"password"`
	}
	if err := decodeBody(w, req, &r, "a password object"); err != nil {
		return err
	}
	u, err := s.app.SetPassword(req.Context(), req.PathValue("name"), r.Password)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("user password set", "user", u.Name, "actor", actorOf(req))
	httpx.JSON(w, http.StatusOK, u)
	return nil
}

// disableUser: POST /api/v1/users/{name}/disable; logins, sessions and
// tokens stop.
func (s *Server) disableUser(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	u, err := s.app.DisableUser(req.Context(), req.PathValue("name"))
	if err != nil {
		return err
	}
	s.opts.Logger.Info("user disabled", "user", u.Name, "actor", actorOf(req))
	httpx.JSON(w, http.StatusOK, u)
	return nil
}

// enrolTOTP: POST /api/v1/users/{name}/totp, a new TOTP key shown this
// once (never stored in a log or the journal).
func (s *Server) enrolTOTP(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	e, err := s.app.EnrolTOTP(req.Context(), req.PathValue("name"))
	if err != nil {
		return err
	}
	s.opts.Logger.Info("user totp enrolled", "user", e.User, "actor", actorOf(req))
	w.Header().Set("Cache-Control", "no-store")
	httpx.JSON(w, http.StatusOK, e)
	return nil
}

// tokenRequest is the body of POST /api/v1/tokens.
type tokenRequest struct {
	Name    string            `json:"name"`
	Owner   string            `json:"owner"`
	Scopes  []auth.Permission `json:"scopes,omitempty"`
	Expires time.Time         `json:"expires"`
}

// tokens: GET /api/v1/tokens[?owner=U].
func (s *Server) tokens(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "owner"); err != nil {
		return err
	}
	t, err := s.app.Tokens(req.Context(), q.Get("owner"))
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, t)
	return nil
}

// createToken: POST /api/v1/tokens, 201 with the secret shown this once.
func (s *Server) createToken(w http.ResponseWriter, req *http.Request) error {
	var r tokenRequest
	if err := decodeBody(w, req, &r, "a token object"); err != nil {
		return err
	}
	t, err := s.app.CreateToken(req.Context(), auth.NewToken{Name: r.Name, Owner: r.Owner, Scopes: r.Scopes, Expires: r.Expires})
	if err != nil {
		return err
	}
	s.opts.Logger.Info("token created", "token", t.Token.ID, "owner", t.Token.Owner, "actor", actorOf(req))
	w.Header().Set("Cache-Control", "no-store")
	httpx.JSON(w, http.StatusCreated, t)
	return nil
}

// revokeToken: POST /api/v1/tokens/{id}/revoke; the token stops at its
// next use.
func (s *Server) revokeToken(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	t, err := s.app.RevokeToken(req.Context(), req.PathValue("id"))
	if err != nil {
		return err
	}
	s.opts.Logger.Info("token revoked", "token", t.ID, "owner", t.Owner, "actor", actorOf(req))
	httpx.JSON(w, http.StatusOK, t)
	return nil
}
