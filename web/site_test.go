package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// site is a served archive for the page tests: the real server (the one
// route table, its authentication and guard) over a fresh archive.
type site struct {
	t    testing.TB
	r    *repo.Repo
	auth *archivetest.Auth
	srv  *httptest.Server
}

// The test users (password "pw-" + name).
const (
	principalUser = "pat"  // principal: every content page
	adminUser     = "adam" // admin: no content
)

func newSite(t testing.TB) *site {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies, TimeZone: "Asia/Shanghai"}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, r: r, auth: archivetest.NewAuth()}
	s.auth.User(principalUser, "pw-"+principalUser, auth.Principal)
	s.auth.User(adminUser, "pw-"+adminUser, auth.Admin)
	s.srv = httptest.NewServer(httpapi.New(r, httpapi.Options{Auth: s.auth, Ingesters: archivetest.Ingesters(r, nil)}))
	t.Cleanup(func() {
		s.srv.Close()
		r.Close(context.Background())
	})
	return s
}

// ingest archives msgaudit lines through the ingest API.
func (s *site) ingest(body []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.srv.URL+"/api/v1/ingest/wecom-archive", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+s.auth.Bearer("loader", auth.Ingest))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("ingest: %d %s", resp.StatusCode, b)
	}
}

func (s *site) ingestFixture() {
	s.t.Helper()
	b, err := os.ReadFile("../capture/wecom/msgaudit/testdata/all-types.jsonl")
	if err != nil {
		s.t.Fatal(err)
	}
	s.ingest(b)
	// Two of our own: markup in message text (it must be shown, never
	// run) and the traditional spelling of a simplified hit.
	s.ingest([]byte(`{"msgid":"web0001","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700100000000,"msgtype":"text","text":{"content":"<script>alert(1)</script><b>这只产品保证收益</b>"}}
{"msgid":"web0002","action":"send","from":"wmExtClient001","tolist":["zhangwei"],"roomid":"","msgtime":1700100060000,"msgtype":"text","text":{"content":"真的保證收益嗎？"}}
`))
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	s    *site
	c    *http.Client
	lang string // Accept-Language
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What a browser sends with a form of this site.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(raw)}
}

func (b *browser) get(path string) page { b.s.t.Helper(); return b.do("GET", path, nil) }

// login signs in through the login form and checks it lands on next.
func (b *browser) login(user, next string) {
	b.s.t.Helper()
	p := b.do("POST", "/login", url.Values{"user": {user}, "password": {"pw-" + user}, "next": {next}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != next {
		b.s.t.Fatalf("login as %s: %d Location %q, want 303 to %s: %s", user, p.status, p.header.Get("Location"), next, p.body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the logout form on p.
func csrf(t testing.TB, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", p.body)
	}
	return m[1]
}
