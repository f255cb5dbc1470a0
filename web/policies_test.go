package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/browsertest"
)

const draftPolicy = `policy: web-promises
description: Promises of returns.
rules:
  - id: zh-guarantee
    lexicon: ["保证收益"]
  - id: en-guarantee
    lexicon: ['"guaranteed return"']
`

// TestPolicyPages: a principal opens the editor of a new policy,
// validates a draft (every problem by line), backtests it (hits per
// rule), applies it (journaled, then its page with the version, author,
// SHA-256 and file) and applies it unchanged; an apply without the CSRF
// token, or by a reviewer (who may read policies but not apply them),
// or of a file naming another policy writes nothing. Every page renders
// in both languages with no missing string.
func TestPolicyPages(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	s.auth.UserWith(&auth.Identity{User: "rex", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部"}}, "pw-rex")
	pat := s.browser()
	pat.login(principalUser, "/")

	list := pat.get("/policies")
	checkPage(t, "/policies", list, "en")
	if !strings.Contains(list.body, `id="no-policies"`) || !strings.Contains(list.body, `href="/policies"`) {
		t.Fatalf("the empty policy list, or its navigation link:\n%s", list.body)
	}
	p := pat.get("/policies?new=web-promises")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/policies/web-promises/edit" {
		t.Fatalf("a new policy: %d %q", p.status, p.header.Get("Location"))
	}
	ed := pat.get("/policies/web-promises/edit")
	checkPage(t, "the editor of a new policy", ed, "en")
	if !strings.Contains(ed.body, "policy: web-promises") || !strings.Contains(ed.body, `id="apply"`) || !strings.Contains(ed.body, `id="backtest"`) {
		t.Fatalf("the editor of a new policy:\n%s", ed.body)
	}
	token := csrf(t, ed)
	form := func(source string) url.Values {
		return url.Values{"csrf": {token}, "name": {"web-promises"}, "source": {source}}
	}

	// Validate: every problem with its line; a good file is said valid.
	bad := "policy: web-promises\nrules:\n  - id: a\n    lexicon: [\"(保证\"]\n  - id: a\n    lexicon: [x]\n    bogus: 1\n"
	p = pat.do("POST", "/policies/validate", form(bad))
	checkPage(t, "validate with problems", p, "en")
	if p.status != http.StatusUnprocessableEntity || strings.Count(p.body, "<li data-line=") < 2 || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("validating a bad file: %d\n%s", p.status, p.body)
	}
	if !regexp.MustCompile(`data-line="[1-9]\d*">line [1-9]\d*: `).MatchString(p.body) {
		t.Errorf("the problems do not name their lines:\n%s", p.body)
	}
	if !strings.Contains(p.body, "bogus: 1") {
		t.Errorf("the editor lost the draft after validation")
	}
	p = pat.do("POST", "/policies/validate", form(strings.ReplaceAll(draftPolicy, "\n", "\r\n")))
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="valid"`) || !strings.Contains(p.body, "2 rules") {
		t.Fatalf("validating a good file: %d\n%s", p.status, p.body)
	}

	// Backtest: hits and precision per rule, samples highlighted.
	bt := form(draftPolicy)
	bt.Set("from", "2000-01-01")
	bt.Set("to", "2100-01-01")
	p = pat.do("POST", "/policies/backtest", bt)
	checkPage(t, "backtest", p, "en")
	if p.status != http.StatusOK || !regexp.MustCompile(`data-rule="zh-guarantee"><td><code>zh-guarantee</code></td><td>[1-9]`).MatchString(p.body) ||
		!strings.Contains(p.body, "<mark>保证收益</mark>") {
		t.Fatalf("backtest: %d\n%s", p.status, p.body)
	}
	bt.Set("to", "1999-01-01")
	if p := pat.do("POST", "/policies/backtest", bt); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-field="to"`) {
		t.Errorf("a backtest over an inverted period: %d\n%s", p.status, p.body)
	}

	// Apply: refused without the token, by a reviewer, and for a file
	// naming another policy — nothing written.
	before := journalSize(t, s.r)
	noToken := form(draftPolicy)
	noToken.Del("csrf")
	if p := pat.do("POST", "/policies/web-promises/apply", noToken); p.status != http.StatusForbidden {
		t.Fatalf("apply without the CSRF token: %d", p.status)
	}
	rex := s.browser()
	rex.login("rex", "/")
	red := rex.get("/policies/web-promises/edit")
	if red.status != http.StatusOK || strings.Contains(red.body, `id="apply"`) || strings.Contains(red.body, `id="backtest"`) {
		t.Fatalf("a reviewer's editor offers apply or backtest: %d", red.status)
	}
	rtok := csrf(t, red)
	if p := rex.do("POST", "/policies/web-promises/apply", url.Values{"csrf": {rtok}, "source": {draftPolicy}}); p.status != http.StatusForbidden || !strings.Contains(p.body, `data-need="policy.write"`) {
		t.Fatalf("a reviewer applying: %d\n%s", p.status, p.body)
	}
	if p := rex.do("POST", "/policies/backtest", url.Values{"csrf": {rtok}, "source": {draftPolicy}}); p.status != http.StatusForbidden || !strings.Contains(p.body, `data-need="policy.backtest"`) {
		t.Fatalf("a reviewer backtesting: %d", p.status)
	}
	if p := rex.do("POST", "/policies/validate", url.Values{"csrf": {rtok}, "source": {draftPolicy}}); p.status != http.StatusOK {
		t.Fatalf("a reviewer validating: %d", p.status)
	}
	if p := pat.do("POST", "/policies/other/apply", form(draftPolicy)); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-field="policy"`) {
		t.Fatalf("applying a file naming another policy: %d\n%s", p.status, p.body)
	}
	if p := pat.do("POST", "/policies/web-promises/apply", form(bad)); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "<li data-line=") {
		t.Fatalf("applying a bad file: %d", p.status)
	}
	if journalSize(t, s.r) != before {
		t.Fatal("a refused apply wrote to the journal")
	}

	p = pat.do("POST", "/policies/web-promises/apply", form(draftPolicy))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/policies/web-promises?version=1&done=applied" {
		t.Fatalf("apply: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if journalSize(t, s.r) == before {
		t.Fatal("the apply journaled nothing")
	}
	for _, lang := range []struct{ accept, html string }{{"en", "en"}, {"zh-CN", "zh-Hans"}} {
		pat.lang = lang.accept
		pp := pat.get(p.header.Get("Location"))
		checkPage(t, "the policy page", pp, lang.html)
		for _, want := range []string{`id="done"`, `data-version="1"`, "api:" + principalUser, `<code class="hash">`, "lexicon: [&#34;保证收益&#34;]", "<code>zh-guarantee</code>"} {
			if !strings.Contains(pp.body, want) {
				t.Errorf("the policy page (%s) lacks %s:\n%s", lang.html, want, pp.body)
			}
		}
		l := pat.get("/policies")
		checkPage(t, "/policies", l, lang.html)
		if !strings.Contains(l.body, `data-policy="web-promises"`) {
			t.Errorf("the list lacks the applied policy")
		}
		checkPage(t, "the editor", pat.get("/policies/web-promises/edit"), lang.html)
		checkPage(t, "validate", pat.do("POST", "/policies/validate", form(bad)), lang.html)
		checkPage(t, "backtest", pat.do("POST", "/policies/backtest", form(draftPolicy)), lang.html)
	}
	pat.lang = ""
	// The same bytes again: nothing applied.
	if p := pat.do("POST", "/policies/web-promises/apply", form(draftPolicy)); p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "done=unchanged") {
		t.Fatalf("applying the same file: %d %q", p.status, p.header.Get("Location"))
	}
	if p := pat.get("/policies/web-promises?version=9"); p.status != http.StatusNotFound {
		t.Errorf("an unknown version: %d", p.status)
	}
	if p := pat.get("/policies/nope"); p.status != http.StatusNotFound {
		t.Errorf("an unknown policy: %d", p.status)
	}
	// The administrator reads policies but may neither apply nor backtest.
	adam := s.browser()
	adam.login(adminUser, "/")
	if p := adam.get("/policies/web-promises"); p.status != http.StatusOK || strings.Contains(p.body, `id="edit-policy"`) {
		t.Errorf("the administrator on a policy page: %d, or offered the editor", p.status)
	}
}

// TestBrowserPolicyAndAdminPages: in Chromium, a principal validates a
// bad draft (the problems listed), then applies a good one and sees its
// page; the administrator opens the users, tokens and connectors pages.
// Each page passes axe-core and fits a 390-pixel screen.
func TestBrowserPolicyAndAdminPages(t *testing.T) {
	browsertest.Chromium(t)
	s := newSite(t)
	s.ingestFixture()
	b := browsertest.New(t, s.srv.URL)
	signIn := func(user string) {
		b.Do(chromedp.Navigate(s.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("user")),
			chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), "pw-"+user),
			chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("logout")))
	}
	narrow := func(name string) {
		b.Do(chromedp.EmulateViewport(390, 844))
		if w := browsertest.Eval[int](b, "document.documentElement.scrollWidth"); w > 390 {
			t.Errorf("%s is %d px wide on a 390 px screen: %s", name, w, browsertest.Eval[string](b, widest))
		}
		b.Screenshot(name + "-390")
		b.Do(chromedp.EmulateViewport(1280, 800))
	}
	signIn(principalUser)
	b.Do(chromedp.Navigate(s.srv.URL+"/policies"), chromedp.WaitVisible(chromedp.ID("new-name")),
		chromedp.SendKeys(chromedp.ID("new-name"), "web-promises"), chromedp.Submit(chromedp.ID("new-name")),
		chromedp.WaitVisible(chromedp.ID("source")))
	b.ExpectConsole(`status of 422`) // the refused draft's page
	b.Do(chromedp.SetValue(chromedp.ID("source"), "policy: web-promises\nrules:\n  - id: a\n    bogus: 1\n"),
		chromedp.Click(chromedp.ID("validate")), chromedp.WaitVisible(chromedp.ID("problems")))
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#problems li[data-line]").length`); n < 1 {
		t.Fatalf("%d problems listed", n)
	}
	b.Screenshot("policy-problems")
	b.Axe("policy-problems")
	narrow("policy-editor")
	b.Do(chromedp.SetValue(chromedp.ID("source"), draftPolicy), chromedp.Click(chromedp.ID("apply")), chromedp.WaitVisible(chromedp.ID("done")))
	if v := browsertest.Eval[string](b, `document.querySelector("#versions tr[data-version]").dataset.version`); v != "1" {
		t.Fatalf("the applied policy's history shows version %q", v)
	}
	b.Screenshot("policy")
	b.Axe("policy")
	narrow("policy")
	b.Do(chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("user")))

	signIn(adminUser)
	for _, pg := range []struct{ path, id string }{{"/admin/users", "add-user"}, {"/admin/tokens", "create-token"}, {"/admin/connectors", "health-state"}} {
		b.Do(chromedp.Navigate(s.srv.URL+pg.path), chromedp.WaitVisible(chromedp.ID(pg.id)))
		name := strings.ReplaceAll(strings.TrimPrefix(pg.path, "/"), "/", "-")
		b.Screenshot(name)
		b.Axe(name)
		narrow(name)
	}
}

// TestSearchFilterControls (issue 14 item 3, kept here with the other
// pages of this change): the search form's filter controls are written
// into the query, which stays the one statement of the search.
func TestSearchFilterControls(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	b := s.browser()
	b.login(principalUser, "/")
	p := b.get("/search")
	for _, want := range []string{`name="f_from"`, `name="f_department"`, `name="f_type"`, `name="f_direction"`, `name="f_after"`, `name="f_attachment"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the search form lacks %s", want)
		}
	}
	f := url.Values{"q": {"保证收益"}, "sort": {"relevance"}, "f_from": {"zhangwei"}, "f_to": {""}, "f_conversation": {"room:vip desk"},
		"f_type": {"text"}, "f_direction": {"outbound"}, "f_department": {"财富管理部"}, "f_attachment": {"1"}, "f_after": {"2023-01-01"}, "f_before": {""}}
	p = b.get("/search?" + f.Encode())
	want := "保证收益 from:zhangwei conversation:\"room:vip desk\" department:财富管理部 type:text direction:outbound has:attachment after:2023-01-01"
	loc, _ := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusSeeOther || loc == nil || loc.Path != "/search" || loc.Query().Get("q") != want || loc.Query().Get("sort") != "relevance" || len(loc.Query()) != 2 {
		t.Fatalf("the filters composed: %d %q, want q=%q", p.status, p.header.Get("Location"), want)
	}
	// Only the controls: the query is the filters alone, and it runs.
	p = b.get("/search?" + url.Values{"q": {""}, "f_from": {"zhangwei"}}.Encode())
	if loc := p.header.Get("Location"); loc != "/search?q=from%3Azhangwei" {
		t.Fatalf("a filter alone: %q", loc)
	}
	if p := b.get(p.header.Get("Location")); p.status != http.StatusOK || !strings.Contains(p.body, `id="total"`) || !strings.Contains(p.body, `value="from:zhangwei"`) {
		t.Fatalf("the composed search: %d", p.status)
	}
	if p := b.get("/search?" + url.Values{"q": {"x"}, "f_from": {`a"b`}}.Encode()); p.status != http.StatusBadRequest || !strings.Contains(p.body, "f_from") {
		t.Errorf("a filter value with a quote: %d", p.status)
	}
}
