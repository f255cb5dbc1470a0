package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpx"
)

// The administration pages join the page list and the navigation here,
// beside their handlers.
func init() {
	pageNames = append(pageNames, "admin_users", "admin_tokens", "admin_connectors")
	nav = append(nav,
		navItem{Href: "/admin/users", Key: "nav.admin", Need: auth.PermUsers},
		navItem{Href: "/admin/connectors", Key: "nav.connectors", Need: auth.PermHealth})
}

// adminTabs are the administration pages, each shown to those who may
// open it (the permission its route declares).
var adminTabs = []navItem{
	{Href: "/admin/users", Key: "admin.users", Need: auth.PermUsers},
	{Href: "/admin/tokens", Key: "admin.tokens", Need: auth.PermUsers},
	{Href: "/admin/connectors", Key: "admin.connectors", Need: auth.PermHealth},
}

func tabsOf(r *http.Request) []navItem {
	var out []navItem
	for _, t := range adminTabs {
		if can(r, t.Need) {
			t.Current = t.Href == r.URL.Path
			out = append(out, t)
		}
	}
	return out
}

// formError is a refusal of a form, shown beside the field at fault.
type formError struct {
	Field, Reason string
}

// formErrorOf is err as a refusal of a form (app.InvalidError: the field
// named; app.ConflictError: the name), or nil for an error the error
// page shows.
func formErrorOf(err error, conflictField string) *formError {
	var ie *app.InvalidError
	var ce *app.ConflictError
	switch {
	case errors.As(err, &ie):
		return &formError{Field: ie.Field, Reason: ie.Reason}
	case errors.As(err, &ce):
		return &formError{Field: conflictField, Reason: ce.Error()}
	}
	return nil
}

// On says whether the refusal is of field.
func (e *formError) On(field string) bool { return e != nil && e.Field == field }

// roleCheck is a role's checkbox.
type roleCheck struct {
	Role    string
	Checked bool
}

func roleChecks(have []auth.Role) []roleCheck {
	out := make([]roleCheck, len(auth.Roles))
	for i, r := range auth.Roles {
		out[i] = roleCheck{Role: string(r), Checked: slices.Contains(have, r)}
	}
	return out
}

// usersPage is every user with the forms that change them.
type usersPage struct {
	Tabs  []navItem
	Users []userRow
	// New is the create form, refilled after a refusal (never the
	// password); Err its refusal.
	New  newUserForm
	Err  *formError
	Done string // "added", "granted" or "disabled"
	Who  string // the user Done names
}

type newUserForm struct {
	Name, Departments, Expires, ScopeQuery string
	Roles                                  []roleCheck
}

type userRow struct {
	auth.UserInfo
	N                          int // the row's number, for its form controls' ids
	Roles                      []roleCheck
	RoleNames, Departments     string
	Expires                    string // the expiry's day in the form
	ExpiresAt, Created         timeView
	GrantAction, DisableAction string
	Err                        *formError
	Scope                      string
}

// userAction is the path of an action on a user.
func userAction(name, action string) string {
	return "/admin/users/" + url.PathEscape(name) + "/" + action
}

// splitList reads a list typed one item a line or separated by commas
// (Chinese or ASCII), dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '\n' || r == '、' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// day is a date field: "" for none, else the start of that day in the
// archive's time zone.
func (u *UI) day(field, v string) (time.Time, error) {
	if v = strings.TrimSpace(v); v == "" {
		return time.Time{}, nil
	}
	return u.opts.App.ParseDay(field, v)
}

// adminForm reads a posted administration form, refusing any field not
// in allowed.
func adminForm(r *http.Request, allowed ...string) (url.Values, error) {
	// The edge bounded the body and checked the form's CSRF token.
	if err := r.ParseForm(); err != nil {
		return nil, httpx.Errorf(http.StatusBadRequest, "bad_form", "the form cannot be read: %v", err)
	}
	for name := range r.PostForm {
		if name != CSRFField && !slices.Contains(allowed, name) {
			return nil, httpx.BadParam("%s: unknown field (expected %s)", name, strings.Join(allowed, ", "))
		}
	}
	return r.PostForm, nil
}

func rolesOf(vs []string) []auth.Role {
	out := make([]auth.Role, 0, len(vs))
	for _, v := range vs {
		out = append(out, auth.Role(v))
	}
	return out
}

// renderUsers shows the users page at status, with a refusal of the
// create form (refused "") or of a user's row.
func (u *UI) renderUsers(w http.ResponseWriter, r *http.Request, status int, up *usersPage, refused string) error {
	users, err := u.opts.App.Users(r.Context())
	if err != nil {
		return err
	}
	up.Tabs = tabsOf(r)
	if up.New.Roles == nil {
		up.New.Roles = roleChecks(nil)
	}
	v := u.newView(r, "admin.users_title", up)
	for i, us := range users {
		row := userRow{UserInfo: us, N: i, Roles: roleChecks(us.Roles), Departments: strings.Join(us.Departments, ", "),
			Created: v.Time(us.Created), ExpiresAt: v.Time(us.Expires),
			GrantAction: userAction(us.Name, "grant"), DisableAction: userAction(us.Name, "disable")}
		names := make([]string, len(us.Roles))
		for j, ro := range us.Roles {
			names[j] = string(ro)
		}
		row.RoleNames = strings.Join(names, ", ")
		if !us.Expires.IsZero() {
			row.Expires = us.Expires.In(v.loc).Format(app.DateLayout)
		}
		if us.Scope != nil && us.Scope.Query != "" {
			row.Scope = us.Scope.Query
		}
		if refused != "" && us.Name == refused {
			row.Err = up.Err
		}
		up.Users = append(up.Users, row)
	}
	if refused != "" {
		up.Err = nil // shown on its row
	}
	return u.render(w, status, "admin_users", v)
}

// Users: GET /admin/users[?done=ACTION&user=NAME], app.Users with the
// forms that add a user, change one's roles, departments and expiry,
// and disable one.
func (u *UI) Users(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "done", "user"); err != nil {
		return err
	}
	up := &usersPage{Who: q.Get("user")}
	switch d := q.Get("done"); d {
	case "", "added", "granted", "disabled":
		up.Done = d
	}
	return u.renderUsers(w, r, http.StatusOK, up, "")
}

// AddUser: POST /admin/users (name, password, roles, departments,
// expires, scope_query), app.AddUser — `wxarchive user add`, journaled
// there (never the password) — then back to the list. An empty password
// makes a single-sign-on-only user. A refusal is shown at its field,
// the form refilled except for the password.
func (u *UI) AddUser(w http.ResponseWriter, r *http.Request) error {
	f, err := adminForm(r, "name", "password", "roles", "departments", "expires", "scope_query")
	if err != nil {
		return err
	}
	nf := newUserForm{Name: strings.TrimSpace(f.Get("name")), Departments: f.Get("departments"), Expires: f.Get("expires"),
		ScopeQuery: strings.TrimSpace(f.Get("scope_query")), Roles: roleChecks(rolesOf(f["roles"]))}
	nu := auth.NewUser{Name: nf.Name, Password: f.Get("password"), Grant: auth.Grant{Roles: rolesOf(f["roles"]), Departments: splitList(nf.Departments)}}
	if nf.ScopeQuery != "" {
		nu.Scope = &auth.Scope{Query: nf.ScopeQuery}
	}
	nu.Expires, err = u.day("expires", nf.Expires)
	if err == nil {
		_, err = u.opts.App.AddUser(r.Context(), nu)
	}
	if err != nil {
		if fe := formErrorOf(err, "name"); fe != nil {
			return u.renderUsers(w, r, http.StatusUnprocessableEntity, &usersPage{New: nf, Err: fe}, "")
		}
		return err
	}
	u.opts.Logger.Info("user added", "user", nu.Name, "roles", nu.Roles, "via", "web")
	http.Redirect(w, r, "/admin/users?"+url.Values{"done": {"added"}, "user": {nu.Name}}.Encode(), http.StatusSeeOther)
	return nil
}

// userNamed is the user of a row form, from the list.
func (u *UI) userNamed(r *http.Request, name string) (*auth.UserInfo, error) {
	users, err := u.opts.App.Users(r.Context())
	if err != nil {
		return nil, err
	}
	for i := range users {
		if users[i].Name == name {
			return &users[i], nil
		}
	}
	return nil, fmt.Errorf("no user %q: %w", name, app.ErrNotFound)
}

// SetGrant: POST /admin/users/{name}/grant (roles, departments,
// expires), app.SetUserGrant — `wxarchive user roles`, journaled there.
// A regulator keeps the scope they have (the command line and the API
// change it); a user who is no longer a regulator has none.
func (u *UI) SetGrant(w http.ResponseWriter, r *http.Request) error {
	f, err := adminForm(r, "roles", "departments", "expires")
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	cur, err := u.userNamed(r, name)
	if err != nil {
		return err
	}
	g := auth.Grant{Roles: rolesOf(f["roles"]), Departments: splitList(f.Get("departments"))}
	if slices.Contains(g.Roles, auth.Regulator) {
		g.Scope = cur.Scope
	}
	g.Expires, err = u.day("expires", f.Get("expires"))
	if err == nil {
		_, err = u.opts.App.SetUserGrant(r.Context(), name, g)
	}
	if err != nil {
		if fe := formErrorOf(err, "roles"); fe != nil {
			return u.renderUsers(w, r, http.StatusUnprocessableEntity, &usersPage{Err: fe}, name)
		}
		return err
	}
	u.opts.Logger.Info("user grant set", "user", name, "roles", g.Roles, "via", "web")
	http.Redirect(w, r, "/admin/users?"+url.Values{"done": {"granted"}, "user": {name}}.Encode(), http.StatusSeeOther)
	return nil
}

// DisableUser: POST /admin/users/{name}/disable, app.DisableUser —
// `wxarchive user disable`, journaled there: logins, sessions and tokens
// stop.
func (u *UI) DisableUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminForm(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, err := u.opts.App.DisableUser(r.Context(), name); err != nil {
		return err
	}
	u.opts.Logger.Info("user disabled", "user", name, "via", "web")
	http.Redirect(w, r, "/admin/users?"+url.Values{"done": {"disabled"}, "user": {name}}.Encode(), http.StatusSeeOther)
	return nil
}

// tokensPage is the API tokens, the form that creates one and, once, a
// new token's secret.
type tokensPage struct {
	Tabs    []navItem
	Owner   string // the list's filter
	Tokens  []tokenRow
	New     newTokenForm
	Err     *formError
	Created *app.TokenCreated // shown this once
	Done    string            // "revoked"
	Which   string
}

type newTokenForm struct {
	Name, Owner, Scopes, Expires string
}

type tokenRow struct {
	auth.TokenInfo
	Scopes                              string
	Created, Expires, LastUsed, Revoked timeView
	Expired                             bool
	RevokeAction                        string
}

func (u *UI) renderTokens(w http.ResponseWriter, r *http.Request, status int, tp *tokensPage) error {
	toks, err := u.opts.App.Tokens(r.Context(), tp.Owner)
	if err != nil {
		return err
	}
	tp.Tabs = tabsOf(r)
	v := u.newView(r, "admin.tokens_title", tp)
	now := time.Now()
	for _, t := range toks {
		row := tokenRow{TokenInfo: t, Created: v.Time(t.Created), Expires: v.Time(t.Expires), LastUsed: v.Time(t.LastUsed),
			Revoked: v.Time(t.Revoked), Expired: !t.Expires.IsZero() && !t.Expires.After(now),
			RevokeAction: "/admin/tokens/" + url.PathEscape(t.ID) + "/revoke"}
		sc := make([]string, len(t.Scopes))
		for i, p := range t.Scopes {
			sc[i] = string(p)
		}
		row.Scopes = strings.Join(sc, ", ")
		tp.Tokens = append(tp.Tokens, row)
	}
	if tp.New.Expires == "" {
		tp.New.Expires = time.Now().In(v.loc).AddDate(0, 3, 0).Format(app.DateLayout)
	}
	return u.render(w, status, "admin_tokens", v)
}

// Tokens: GET /admin/tokens[?owner=U][&done=revoked&token=ID],
// app.Tokens (never a secret) with the forms that create and revoke.
func (u *UI) Tokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "owner", "done", "token"); err != nil {
		return err
	}
	tp := &tokensPage{Owner: q.Get("owner"), Which: q.Get("token")}
	if q.Get("done") == "revoked" {
		tp.Done = "revoked"
	}
	return u.renderTokens(w, r, http.StatusOK, tp)
}

// CreateToken: POST /admin/tokens (name, owner, scopes, expires),
// app.CreateToken — `wxarchive token create`, journaled there (never
// the secret). The answer is the page with the secret shown this once:
// it is in no log, no journal and no later page.
func (u *UI) CreateToken(w http.ResponseWriter, r *http.Request) error {
	f, err := adminForm(r, "name", "owner", "scopes", "expires")
	if err != nil {
		return err
	}
	nf := newTokenForm{Name: strings.TrimSpace(f.Get("name")), Owner: strings.TrimSpace(f.Get("owner")), Scopes: f.Get("scopes"), Expires: f.Get("expires")}
	nt := auth.NewToken{Name: nf.Name, Owner: nf.Owner}
	for _, s := range splitList(nf.Scopes) {
		nt.Scopes = append(nt.Scopes, auth.Permission(s))
	}
	if strings.TrimSpace(nf.Expires) == "" {
		err = &app.InvalidError{Field: "expires", Reason: "a token needs an expiry"}
	} else {
		nt.Expires, err = u.day("expires", nf.Expires)
	}
	var tc *app.TokenCreated
	if err == nil {
		tc, err = u.opts.App.CreateToken(r.Context(), nt)
	}
	if err != nil {
		if fe := formErrorOf(err, "name"); fe != nil {
			return u.renderTokens(w, r, http.StatusUnprocessableEntity, &tokensPage{New: nf, Err: fe})
		}
		return err
	}
	u.opts.Logger.Info("token created", "token", tc.Token.ID, "owner", tc.Token.Owner, "via", "web")
	return u.renderTokens(w, r, http.StatusCreated, &tokensPage{Created: tc})
}

// RevokeToken: POST /admin/tokens/{id}/revoke, app.RevokeToken —
// `wxarchive token revoke`, journaled there: the token stops at its next
// use.
func (u *UI) RevokeToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminForm(r); err != nil {
		return err
	}
	t, err := u.opts.App.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	u.opts.Logger.Info("token revoked", "token", t.ID, "owner", t.Owner, "via", "web")
	http.Redirect(w, r, "/admin/tokens?"+url.Values{"done": {"revoked"}, "token": {t.ID}}.Encode(), http.StatusSeeOther)
	return nil
}

// connectorsPage is the capture health report.
type connectorsPage struct {
	Tabs       []navItem
	H          *capture.Report
	Generated  timeView
	Connectors []healthConnector
	Faults     []healthFault
	Silent     []healthSilent
	Replicas   []healthReplica
}

type healthConnector struct {
	capture.ConnectorReport
	LastSuccess, LastCaptured, PermitChecked timeView
	Lag, Rate                                string
	Counts                                   string
	HasPermit                                bool
	Permit                                   int
}

type healthFault struct {
	capture.FaultReport
	At timeView
}

type healthSilent struct {
	capture.EmployeeReport
	At timeView
}

type healthReplica struct {
	capture.ReplicaReport
	At timeView
}

// Connectors: GET /admin/connectors, app.CaptureHealth — `wxarchive
// capture health`: each connector's state, open faults, silent
// employees, the supervision lag and the replicas. No message content.
func (u *UI) Connectors(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckParams(r.URL.Query()); err != nil {
		return err
	}
	h, err := u.opts.App.CaptureHealth(r.Context())
	if err != nil {
		return err
	}
	cp := &connectorsPage{Tabs: tabsOf(r), H: h}
	v := u.newView(r, "admin.connectors_title", cp)
	cp.Generated = v.Time(parseRFC3339(h.GeneratedAt))
	for _, c := range h.Connectors {
		row := healthConnector{ConnectorReport: c, LastSuccess: v.Time(parseRFC3339(c.LastSuccess)),
			LastCaptured: v.Time(parseRFC3339(c.LastCaptured)), PermitChecked: v.Time(parseRFC3339(c.PermitCheckedAt)),
			Lag: fmt.Sprintf("%.0f s", c.LagSeconds), Rate: fmt.Sprintf("%.1f", c.MessagesPerMinute)}
		keys := make([]string, 0, len(c.Counts))
		for k := range c.Counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, c.Counts[k])
		}
		row.Counts = strings.Join(parts, ", ")
		if c.PermitUsers != nil {
			row.HasPermit, row.Permit = true, *c.PermitUsers
		}
		cp.Connectors = append(cp.Connectors, row)
	}
	for _, f := range h.Faults {
		cp.Faults = append(cp.Faults, healthFault{FaultReport: f, At: v.Time(parseRFC3339(f.Since))})
	}
	for _, e := range h.SilentEmployees {
		cp.Silent = append(cp.Silent, healthSilent{EmployeeReport: e, At: v.Time(parseRFC3339(e.LastSent))})
	}
	for _, rp := range h.Replicas {
		cp.Replicas = append(cp.Replicas, healthReplica{ReplicaReport: rp, At: v.Time(parseRFC3339(rp.LastSuccess))})
	}
	return u.render(w, http.StatusOK, "admin_connectors", v)
}
