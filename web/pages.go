package web

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
)

// loginPage is the login form's data.
type loginPage struct {
	Next    string
	User    string
	Error   string // a catalog key
	Notice  string // a catalog key
	Issuers []ssoLink
}

type ssoLink struct {
	Name string
	Href string
}

func (u *UI) loginView(r *http.Request, next string) *loginPage {
	lp := &loginPage{Next: next}
	for _, is := range u.opts.Issuers {
		q := url.Values{"return": {next}}
		lp.Issuers = append(lp.Issuers, ssoLink{Name: is, Href: "/auth/oidc/" + url.PathEscape(is) + "/login?" + q.Encode()})
	}
	return lp
}

// nextOf is a request's validated return path, the home page when it
// gives none or one that is not this site's.
func nextOf(v string) string {
	if n, ok := SafeNext(v); ok {
		return n
	}
	return "/"
}

// LoginPage: GET /login[?next=/path][&expired=1|&out=1], the sign-in form.
func (u *UI) LoginPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "next", "expired", "out"); err != nil {
		return err
	}
	lp := u.loginView(r, nextOf(q.Get("next")))
	switch {
	case q.Get("expired") != "":
		lp.Notice = "login.expired"
	case q.Get("out") != "":
		lp.Notice = "login.signed_out"
	}
	return u.render(w, http.StatusOK, "login", u.newView(r, "login.title", lp))
}

// Login: POST /login (user, password, totp, next) signs in and goes to
// next. Every refused credential gets the same page and status, whether
// or not the user exists (the Authenticator's contract does the rest).
func (u *UI) Login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "bad_form", "the login form cannot be read: %v", err)
	}
	next := nextOf(r.PostForm.Get("next"))
	user, password, totp := strings.TrimSpace(r.PostForm.Get("user")), r.PostForm.Get("password"), strings.TrimSpace(r.PostForm.Get("totp"))
	lp := u.loginView(r, next)
	lp.User = user
	if user == "" || password == "" {
		lp.Error = "login.missing"
		return u.render(w, http.StatusBadRequest, "login", u.newView(r, "login.title", lp))
	}
	err := u.opts.SignIn(w, r, user, password, totp)
	if errors.Is(err, auth.ErrUnauthenticated) {
		lp.Error = "login.failed"
		return u.render(w, http.StatusUnauthorized, "login", u.newView(r, "login.title", lp))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// Logout: POST /logout ends the session and shows the login page.
func (u *UI) Logout(w http.ResponseWriter, r *http.Request) error {
	if err := u.opts.SignOut(w, r); err != nil {
		return err
	}
	http.Redirect(w, r, "/login?out=1", http.StatusSeeOther)
	return nil
}

// homePage is the dashboard: what the viewer's roles let them see at a
// glance, and the pages they may open.
type homePage struct {
	Links      []navItem
	D          *app.DashboardView
	Bars       []dayBar
	MaxDay     int64
	Connectors []connectorRow
	CheckedAt  timeView
}

// dayBar is one day of the capture chart, drawn as an SVG rect.
type dayBar struct {
	app.DayCount
	X, Y, W, H int
	Label      string // MM-DD
}

type connectorRow struct {
	ID, Type     string
	Enabled      bool
	LastCaptured timeView
	OpenFaults   int
}

// Chart geometry (SVG user units).
const (
	chartW, chartH, chartPad = 560, 160, 20
)

// Home: GET /, the dashboard through app.Dashboard.
func (u *UI) Home(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckParams(r.URL.Query()); err != nil {
		return err
	}
	d, err := u.opts.App.Dashboard(r.Context())
	if err != nil {
		return err
	}
	v := u.newView(r, "home.title", nil)
	hp := &homePage{D: d}
	for _, n := range v.Nav {
		if n.Href != "/" {
			hp.Links = append(hp.Links, n)
		}
	}
	for _, dc := range d.Days {
		hp.MaxDay = max(hp.MaxDay, dc.Messages)
	}
	if n := len(d.Days); n > 0 {
		slot := (chartW - 2*chartPad) / n
		for i, dc := range d.Days {
			h := 0
			if hp.MaxDay > 0 {
				h = int(dc.Messages * (chartH - 2*chartPad) / hp.MaxDay)
			}
			label := dc.Day
			if len(label) == len(app.DateLayout) {
				label = label[5:]
			}
			hp.Bars = append(hp.Bars, dayBar{DayCount: dc, X: chartPad + i*slot + 2, Y: chartH - chartPad - h, W: slot - 4, H: h, Label: label})
		}
	}
	if d.Health != nil {
		for _, c := range d.Health.Connectors {
			row := connectorRow{ID: c.ID, Type: string(c.Type), Enabled: c.Enabled, OpenFaults: c.OpenFaults}
			if t, err := time.Parse(time.RFC3339, c.LastCaptured); err == nil {
				row.LastCaptured = v.Time(t)
			}
			hp.Connectors = append(hp.Connectors, row)
		}
	}
	if d.Checkpoint != nil {
		hp.CheckedAt = v.Time(d.Checkpoint.Time.Time)
	}
	v.Page = hp
	return u.render(w, http.StatusOK, "home", v)
}

// SetLanguage: GET /lang?to=zh|en[&next=/path] remembers the viewer's
// language in a cookie (a preference, not a credential: it changes no
// state of the archive) and goes back.
func (u *UI) SetLanguage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "to", "next"); err != nil {
		return err
	}
	l, ok := parseLang(q.Get("to"))
	if !ok {
		return httpx.BadParam("to: expected zh or en, not %q", q.Get("to"))
	}
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: string(l), Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true, Secure: u.opts.Secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, nextOf(q.Get("next")), http.StatusSeeOther)
	return nil
}

// Favicon: GET /favicon.ico, which browsers ask for on every page that
// names none (an error page of the API, say): the icon.
func (u *UI) Favicon(w http.ResponseWriter, r *http.Request) error {
	b, err := fs.ReadFile(files, "assets/icon.svg")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, err = w.Write(b)
	return err
}

// Asset: GET /assets/{name}, the embedded stylesheet and script.
func (u *UI) Asset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return httpx.Errorf(http.StatusNotFound, "not_found", "no asset %q", name)
	}
	sub, _ := fs.Sub(files, "assets")
	if _, err := fs.Stat(sub, name); err != nil {
		return httpx.Errorf(http.StatusNotFound, "not_found", "no asset %q", name)
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	// Assets hold no archive data: a browser may keep them briefly.
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeFileFS(w, r, sub, name)
	return nil
}
