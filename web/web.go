// Package web is the browser interface of `wxarchive serve`: pages
// rendered on the server from html/template over app/'s use cases (never
// the store), with their assets and string catalogs embedded, so the
// interface works with no internet and no build step. The HTTP edge
// (httpapi) mounts every page in its one route table, authenticates and
// authorizes it there, and hands the page its principal; a page parses
// its form, calls one use case and renders the view.
//
// Glossary:
//   - page: a route answered with HTML; without a session it redirects
//     to the login page with the return path (SafeNext) rather than 401.
//   - catalog: a language's strings by key (catalog/en.json, zh.json);
//     a template asks for a string with {{.T "key"}}.
//   - CSRF token: the per-session token every state-changing form
//     carries (csrf.go), on top of the cross-origin check of every request.
package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
)

//go:embed templates/*.html assets/* catalog/*.json
var files embed.FS

// MaxFormBytes bounds the body of a form posted to a page.
const MaxFormBytes = 64 << 10

// Options wire the pages to the server that mounts them.
type Options struct {
	App *app.App
	// SessionCookie is the name of the session cookie (its value keys
	// the CSRF token).
	SessionCookie string
	// SignIn checks a local user's credentials and, when they hold,
	// starts a session and sets its cookie on w; a bad credential of any
	// kind is an error matching auth.ErrUnauthenticated.
	SignIn func(w http.ResponseWriter, r *http.Request, user, password, totp string) error
	// SignOut ends the request's session, if any, and clears its cookie.
	SignOut func(w http.ResponseWriter, r *http.Request) error
	// Issuers are the single sign-on issuers offered on the login page
	// (the flow is at /auth/oidc/{issuer}/login).
	Issuers []string
	// Secure says whether cookies set for r must be Secure.
	Secure func(r *http.Request) bool
	Logger *slog.Logger
}

// UI is the set of pages.
type UI struct {
	opts  Options
	cats  map[Lang]catalog
	pages map[string]*template.Template
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "home", "search", "message", "error", "alerts", "alert", "conversation", "evidence", "audit"}

// New returns the pages. Templates and catalogs are embedded: failing to
// parse them is a defect of this build, caught by its tests.
func New(o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Secure == nil {
		o.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	cats, err := loadCatalogs(files)
	if err != nil {
		panic("web: " + err.Error())
	}
	pages, err := parsePages(files)
	if err != nil {
		panic("web: " + err.Error())
	}
	return &UI{opts: o, cats: cats, pages: pages}
}

func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// HandlerFunc is a page handler; an error it returns is rendered as the
// error page (Error).
type HandlerFunc = httpx.HandlerFunc

// Handle adapts a public page: its error is rendered as the error page.
func (u *UI) Handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			u.Error(w, r, err)
		}
	})
}

// navItem is a link of the navigation, shown to those who may use it.
type navItem struct {
	Href    string
	Key     string
	Need    auth.Permission
	Current bool
}

// nav is every page of the navigation with the permission it needs (the
// same permission its route declares).
var nav = []navItem{
	{Href: "/", Key: "nav.home", Need: auth.PermSession},
	{Href: "/search", Key: "nav.search", Need: auth.PermContent},
	{Href: "/alerts", Key: "nav.alerts", Need: auth.PermAlertsRead},
	{Href: "/reports/evidence", Key: "nav.evidence", Need: auth.PermEvidence},
	{Href: "/audit", Key: "nav.audit", Need: auth.PermAudit},
}

type langOption struct {
	Code     Lang
	Key      string
	Selected bool
}

// view is what every template gets: the page's own data in Page, and
// what the layout needs.
type view struct {
	lang  Lang
	cat   catalog
	loc   *time.Location
	Title string
	User  string
	Roles string
	Nav   []navItem
	Langs []langOption
	CSRF  string
	Path  string // the request's path and query, for the language switch
	Page  any
}

// T is the catalog string of key, formatted with args.
func (v *view) T(key string, args ...any) string { return v.cat.text(key, args...) }

// HTMLLang is the page's lang attribute.
func (v *view) HTMLLang() string { return v.lang.htmlLang() }

// timeView is an instant as a page shows it: in the archive's time zone
// (the script shows it in the viewer's), with UTC on hover.
type timeView struct {
	ISO   string // UTC, RFC 3339: the datetime attribute
	Title string // "UTC: …"
	Text  string
}

// Time is t as a page shows it.
func (v *view) Time(t time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	return timeView{ISO: t.UTC().Format(time.RFC3339), Title: v.T("time.utc", t.UTC().Format("2006-01-02 15:04:05")),
		Text: t.In(v.loc).Format("2006-01-02 15:04:05 MST")}
}

func (u *UI) newView(r *http.Request, title string, page any) *view {
	l := langOf(r)
	v := &view{lang: l, cat: u.cats[l], loc: time.UTC, Page: page, Path: r.URL.RequestURI()}
	if u.opts.App != nil {
		v.loc = u.opts.App.Location()
	}
	if title != "" {
		v.Title = v.T(title)
	}
	for _, o := range Langs {
		v.Langs = append(v.Langs, langOption{Code: o, Key: "lang." + string(o), Selected: o == l})
	}
	if p, ok := app.PrincipalFrom(r.Context()); ok && p.Identity != nil {
		id := p.Identity
		v.User = id.User
		roles := make([]string, len(id.Roles))
		for i, ro := range id.Roles {
			roles[i] = string(ro)
		}
		v.Roles = strings.Join(roles, ", ")
		for _, n := range nav {
			if id.Can(n.Need) {
				n.Current = n.Href == r.URL.Path
				v.Nav = append(v.Nav, n)
			}
		}
		v.CSRF = u.csrfOf(r)
	}
	return v
}

// contentPolicy lets a page load only this server's scripts, styles and
// images, post forms only here, and never be framed.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// render writes page with v at status. Pages are never cached (the
// server sends Cache-Control: no-store for every answer), so after a
// logout the back button shows nothing.
func (u *UI) render(w http.ResponseWriter, status int, page string, v *view) error {
	t, ok := u.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", v.lang.htmlLang())
	w.WriteHeader(status)
	_, err := w.Write([]byte(b.String()))
	return err
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Heading string
	Message string
	Need    string // the permission a 403 lacked
}

// Error renders err as the error page, with the status of the one
// mapping from application errors (httpx.ProblemOf): a refused
// permission says who is signed in and which permission is missing.
func (u *UI) Error(w http.ResponseWriter, r *http.Request, err error) {
	pr := httpx.ProblemOf(r, err)
	if pr == nil {
		return // the client went away
	}
	v := u.newView(r, "", nil)
	ep := errorPage{Status: pr.Status, Message: pr.Message, Need: pr.Need}
	var fe *auth.ForbiddenError
	switch {
	case errors.Is(err, ErrCSRF):
		ep.Status, ep.Heading, ep.Message = http.StatusForbidden, v.T("error.forbidden_title"), v.T("error.csrf")
	case errors.As(err, &fe):
		ep.Heading = v.T("error.forbidden_title")
		if fe.Reason != "" {
			ep.Message = v.T("error.forbidden_reason", fe.User, fe.Reason)
		} else {
			ep.Message = v.T("error.forbidden", fe.User, string(fe.Need))
		}
	case pr.Status == http.StatusNotFound:
		ep.Heading = v.T("error.not_found_title")
	case pr.Status >= 500:
		ep.Heading = v.T("error.unavailable_title")
		if pr.Status == http.StatusInternalServerError {
			ep.Heading = v.T("error.internal_title")
			u.opts.Logger.Error("page failed", "path", r.URL.Path, "err", err)
		}
	default:
		ep.Heading = v.T("error.bad_request_title")
	}
	v.Title, v.Page = ep.Heading, ep
	if pr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(pr.RetryAfter))
	}
	if rerr := u.render(w, ep.Status, "error", v); rerr != nil {
		u.opts.Logger.Error("error page failed", "err", rerr)
	}
}

// SignInFirst answers a page asked without a valid session: 303 to the
// login page with the return path (a GET's own; the home page for a
// form), saying the session ended when the request still carried one —
// whose cookie is cleared.
func (u *UI) SignInFirst(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	next := "/"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if n, ok := SafeNext(r.URL.RequestURI()); ok {
			next = n
		}
	}
	q.Set("next", next)
	if c, err := r.Cookie(u.opts.SessionCookie); err == nil && c.Value != "" {
		q.Set("expired", "1")
		http.SetCookie(w, &http.Cookie{Name: u.opts.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: u.opts.Secure(r), SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}
