package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/web"
)

// checkPage asserts what every rendered page must be: uncached HTML with
// a content policy, in the language asked, with no missing string.
func checkPage(t *testing.T, what string, p page, lang string) {
	t.Helper()
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q", what, p.header.Get("Content-Type"))
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store (the back button after logout must show nothing)", what, p.header.Get("Cache-Control"))
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("%s: no content security policy", what)
	}
	if i := strings.Index(p.body, "⟦"); i >= 0 {
		t.Errorf("%s renders a missing catalog key: %s", what, p.body[i:min(len(p.body), i+60)])
	}
	if !strings.Contains(p.body, `<html lang="`+lang+`">`) {
		t.Errorf("%s: not in %s", what, lang)
	}
}

// TestPagesInBothLanguages renders every page, as a principal and as an
// administrator, in English and in Chinese (chosen by Accept-Language and
// by the switch), and finds no missing string.
func TestPagesInBothLanguages(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	for _, lang := range []struct{ accept, html, signIn string }{
		{"en-US,en;q=0.9", "en", "Sign in"},
		{"zh-CN,zh;q=0.9", "zh-Hans", "登录"},
	} {
		b := s.browser()
		b.lang = lang.accept
		p := b.get("/login?next=/search")
		checkPage(t, "login", p, lang.html)
		if !strings.Contains(p.body, lang.signIn) {
			t.Errorf("login page in %s lacks %q", lang.html, lang.signIn)
		}
		b.login(principalUser, "/")
		for _, path := range []string{"/", "/search", "/search?q=%E4%BF%9D%E8%AF%81&facets=1", "/search?q=fee&sort=relevance",
			"/search?q=(%E4%BF%9D", "/messages/1", "/messages/2", "/messages/999999", "/search?bogus=1",
			"/alerts", "/alerts?status=closed", "/alerts/999999", "/reports/evidence", "/reports/evidence?from=2000-01-01&to=2100-01-01",
			"/reports/evidence?from=bad&to=x", "/audit", "/audit?kind=access.view", "/conversations/direct:zhangwei%7CwmExtClient001",
			"/conversations/x?around=1", "/policies", "/policies/nope", "/policies/new-one/edit", "/admin/connectors"} {
			checkPage(t, path, b.get(path), lang.html)
		}
		a := s.browser()
		a.lang = lang.accept
		a.login(adminUser, "/")
		checkPage(t, "admin /", a.get("/"), lang.html)
		checkPage(t, "admin /search", a.get("/search"), lang.html)
		for _, path := range []string{"/admin/users", "/admin/tokens", "/admin/connectors", "/policies"} {
			checkPage(t, "admin "+path, a.get(path), lang.html)
		}
		checkPage(t, "failed login", a.do("POST", "/login", url.Values{"user": {"x"}, "password": {"y"}}), lang.html)
	}
	// The switch overrides Accept-Language, and is remembered.
	b := s.browser()
	b.lang = "en"
	p := b.get("/lang?to=zh&next=/login")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		t.Fatalf("language switch: %d %q", p.status, p.header.Get("Location"))
	}
	checkPage(t, "login after the switch", b.get("/login"), "zh-Hans")
	if p := b.get("/lang?to=zh&next=//evil.example/"); p.header.Get("Location") != "/" {
		t.Errorf("the language switch redirects to %q: an open redirect", p.header.Get("Location"))
	}
	if p := b.get("/lang?to=fr"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "to: expected zh or en") {
		t.Errorf("an unknown language: %d\n%s", p.status, p.body)
	}
}

func TestLogin(t *testing.T) {
	s := newSite(t)
	b := s.browser()

	// A page without a session: to the login page, with the way back.
	p := b.get("/search?q=%E4%BF%9D")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=%2Fsearch%3Fq%3D%25E4%25BF%259D" {
		t.Fatalf("a page without a session: %d Location %q", p.status, p.header.Get("Location"))
	}
	p = b.get(p.header.Get("Location"))
	if !strings.Contains(p.body, `name="next" value="/search?q=%E4%BF%9D"`) {
		t.Fatalf("the login form does not carry the return path:\n%s", p.body)
	}
	// An off-site return path is dropped.
	if p := b.get("/login?next=//evil.example/"); !strings.Contains(p.body, `name="next" value="/"`) {
		t.Errorf("the login form keeps an off-site return path")
	}

	// Refusals say nothing of which part was wrong or whether the user
	// exists: the same page, the same status.
	unknown := b.do("POST", "/login", url.Values{"user": {"nobody"}, "password": {"pw-nobody"}})
	wrong := b.do("POST", "/login", url.Values{"user": {principalUser}, "password": {"wrong"}})
	if unknown.status != http.StatusUnauthorized || wrong.status != http.StatusUnauthorized {
		t.Fatalf("refused logins: %d and %d, want 401", unknown.status, wrong.status)
	}
	strip := regexp.MustCompile(`value="[^"]*"`)
	if strip.ReplaceAllString(unknown.body, "") != strip.ReplaceAllString(wrong.body, "") {
		t.Errorf("an unknown user and a wrong password get different pages")
	}
	if !strings.Contains(wrong.body, `id="login-error"`) || strings.Contains(wrong.body, "wrong") {
		t.Errorf("the refused login page lacks the error, or echoes the password")
	}
	if p := b.do("POST", "/login", url.Values{"user": {principalUser}}); p.status != http.StatusBadRequest {
		t.Errorf("a login without a password: %d", p.status)
	}
	// An off-site return path after a good login goes home instead.
	p = b.do("POST", "/login", url.Values{"user": {principalUser}, "password": {"pw-" + principalUser}, "next": {"https://evil.example/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("login with an off-site next: %d %q", p.status, p.header.Get("Location"))
	}
	home := b.get("/")
	if home.status != 200 || !strings.Contains(home.body, principalUser) {
		t.Fatalf("home after login: %d", home.status)
	}

	// Logout needs the session's CSRF token, even from this site.
	if p := b.do("POST", "/logout", url.Values{}); p.status != http.StatusForbidden || !strings.Contains(p.body, "form") {
		t.Fatalf("logout without the CSRF token: %d", p.status)
	}
	if p := b.do("POST", "/logout", url.Values{web.CSRFField: {strings.Repeat("A", 43)}}); p.status != http.StatusForbidden {
		t.Fatalf("logout with a wrong CSRF token: %d", p.status)
	}
	if p := b.get("/"); p.status != 200 {
		t.Fatalf("a refused logout ended the session: %d", p.status)
	}
	p = b.do("POST", "/logout", url.Values{web.CSRFField: {csrf(t, home)}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?out=1" {
		t.Fatalf("logout: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Fatalf("a page after logout: %d, want 303 to login", p.status)
	}
}

// TestExpiredSession: a browser whose session has gone (timed out,
// ended elsewhere) is sent to log in again with a message, and its stale
// cookie is cleared.
func TestExpiredSession(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(principalUser, "/")
	u, _ := url.Parse(s.srv.URL)
	var secret string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "wxarchive_session" {
			secret = c.Value
		}
	}
	if secret == "" {
		t.Fatal("no session cookie after login")
	}
	s.auth.EndSession(t.Context(), secret)
	p := b.get("/search")
	if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "expired=1") {
		t.Fatalf("an expired session: %d %q", p.status, p.header.Get("Location"))
	}
	if !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), ";"), "wxarchive_session=;") {
		t.Errorf("the stale session cookie is not cleared: %q", p.header.Values("Set-Cookie"))
	}
	p = b.get(p.header.Get("Location"))
	if !strings.Contains(p.body, "Your session has ended") {
		t.Errorf("the login page does not say the session ended")
	}
}

func TestForbiddenPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(adminUser, "/")
	p := b.get("/search?q=x")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "content.read") || !strings.Contains(p.body, adminUser) {
		t.Fatalf("admin on the search page: %d\n%s", p.status, p.body)
	}
	if home := b.get("/"); strings.Contains(home.body, `href="/search"`) {
		t.Errorf("the navigation offers an administrator the search page")
	}
}

// TestCrossSitePostRefused: a form posted from another site is refused
// before any handler, with or without the CSRF token.
func TestCrossSitePostRefused(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(principalUser, "/")
	tok := csrf(t, b.get("/"))
	req, _ := http.NewRequest("POST", s.srv.URL+"/logout", strings.NewReader(url.Values{web.CSRFField: {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", resp.StatusCode)
	}
	if p := b.get("/"); p.status != 200 {
		t.Fatalf("the cross-site POST ended the session: %d", p.status)
	}
}

func TestSearchPage(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	b := s.browser()
	b.login(principalUser, "/")

	// Traditional finds simplified, highlighted; markup in a message is
	// shown as text.
	p := b.get("/search?q=" + url.QueryEscape("保證收益"))
	if p.status != 200 {
		t.Fatalf("search: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, "<mark>保证收益</mark>") || !strings.Contains(p.body, "<mark>保證收益</mark>") {
		t.Errorf("the simplified and traditional hits are not highlighted:\n%s", p.body)
	}
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<b>") || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Errorf("message text is not escaped")
	}
	if !strings.Contains(p.body, `<span class="total" id="total">2 messages</span>`) {
		t.Errorf("the total is not shown as 2 messages")
	}

	// A query error names its column and points at it.
	p = b.get("/search?q=" + url.QueryEscape("保证 AND"))
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "column 7") || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("a query error: %d\n%s", p.status, p.body)
	}

	// Keyset paging: three hits a page, the next through the cursor.
	p = b.get("/search?q=" + url.QueryEscape("type:text") + "&limit=3")
	if !strings.Contains(p.body, `id="next-page"`) {
		t.Fatalf("no next page for every text message:\n%s", p.body)
	}
	next := regexp.MustCompile(`href="(/search\?[^"]*cursor=[^"]*)" rel="next"`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatal("no next-page link with a cursor")
	}
	first := regexp.MustCompile(`href="/messages/(\d+)"`).FindAllStringSubmatch(p.body, -1)
	p2 := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	second := regexp.MustCompile(`href="/messages/(\d+)"`).FindAllStringSubmatch(p2.body, -1)
	if len(first) != 3 || p2.status != 200 || len(second) != 3 || !strings.Contains(p2.body, "First page") {
		t.Fatalf("second page: %d, %d hits", p2.status, len(second))
	}
	seen := map[string]bool{}
	for _, m := range first {
		seen[m[1]] = true
	}
	for _, m := range second {
		if seen[m[1]] {
			t.Errorf("message %s is on both pages", m[1])
		}
	}
	if p := b.get("/search?q=x&limit=0"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "limit: expected a number") {
		t.Errorf("limit=0: %d", p.status)
	}

	// Facets, each a link narrowing the query.
	p = b.get("/search?q=" + url.QueryEscape("type:text") + "&facets=1")
	if !strings.Contains(p.body, `class="facets"`) || !strings.Contains(p.body, "from%3Azhangwei") {
		t.Errorf("no facets, or no facet link:\n%s", p.body)
	}
}

func TestMessagePage(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	b := s.browser()
	b.login(principalUser, "/")
	p := b.get("/search?q=" + url.QueryEscape("保證收益"))
	m := regexp.MustCompile(`href="(/messages/\d+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no message link")
	}
	p = b.get(m[1])
	if p.status != 200 {
		t.Fatalf("message page: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{`id="proof-status" data-verified="true"`, "SHA-256 of the raw record", `<time datetime="`, `title="UTC: `, "zhangwei"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the message page lacks %q", want)
		}
	}
	if p := b.get("/messages/999999"); p.status != http.StatusNotFound {
		t.Errorf("an unknown message: %d", p.status)
	}
	if p := b.get("/messages/abc"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "serial") {
		t.Errorf("a malformed serial: %d", p.status)
	}
	// A message with attachments lists them with their status (the
	// fixture is ingested without its media: pending).
	p = b.get("/search?q=" + url.QueryEscape("type:file"))
	m = regexp.MustCompile(`href="(/messages/\d+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no file message")
	}
	if p := b.get(m[1]); !strings.Contains(p.body, `<td class="status-pending">not fetched yet</td>`) {
		t.Errorf("the file message does not show its attachment's status:\n%s", p.body)
	}
}
