package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/internal/browsertest"
	"github.com/wxarchive/wxarchive/repo"
)

// demoMessages is the size of the browser tests' demo archive: enough
// for the planted guaranteed-return messages in both scripts.
const demoMessages = 2000

// demoSite is a served demo archive (directory, messages, media) with a
// reviewer of every demo department and an administrator.
func demoSite(t *testing.T) (*httptest.Server, *archivetest.Auth) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{TimeZone: "Asia/Shanghai"}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	if err := demo.JournalDirectory(ctx, r.Engine, 1, "test:demo"); err != nil {
		t.Fatal(err)
	}
	media := t.TempDir()
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriter(pw)
		_, err := demo.Generate(demo.Config{Seed: 1, Messages: demoMessages}, func(line []byte) error {
			bw.Write(line)
			return bw.WriteByte('\n')
		}, func(id string, data []byte) error {
			return os.WriteFile(filepath.Join(media, id), data, 0o644)
		})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Media: ingest.DirMedia{Dir: media}, Source: "wecom-archive:demo",
		Actor: "test:demo", Origin: "browser test demo"}
	if _, err := in.Run(ctx, pr); err != nil {
		t.Fatal(err)
	}
	employees, _ := demo.Directory(1)
	var depts []string
	for _, e := range employees {
		if !slices.Contains(depts, e.Department) {
			depts = append(depts, e.Department)
		}
	}
	a := archivetest.NewAuth()
	a.UserWith(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: depts}, "pw-rita")
	a.User("adam", "pw-adam", auth.Admin)
	srv := httptest.NewServer(httpapi.New(r, httpapi.Options{Auth: a}))
	t.Cleanup(srv.Close)
	return srv, a
}

// widest names the elements wider than the screen, for the failure.
const widest = `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > innerWidth).map(e => e.tagName + "." + e.className + "#" + e.id).slice(0, 8).join(" ")`

// TestBrowserReviewerJourney, in a real Chromium over a demo archive: a
// reviewer logs in, searches the traditional 保證收益 and sees the
// simplified hits highlighted, opens a message and sees its proof
// verified, logs out, and the back button shows nothing; a cross-site
// POST and an out-of-role page are refused. No page asks another host or
// writes a console error.
func TestBrowserReviewerJourney(t *testing.T) {
	browsertest.Chromium(t) // skip (or fail under CI) before building the archive
	srv, _ := demoSite(t)
	b := browsertest.New(t, srv.URL)

	// A page without a session: the login page, which comes back to it.
	b.Do(chromedp.Navigate(srv.URL+"/search"), chromedp.WaitVisible(chromedp.ID("user")))
	if got := browsertest.Eval[string](b, "location.pathname + location.search"); got != "/login?next=%2Fsearch" {
		t.Fatalf("a page without a session shows %s", got)
	}
	b.Screenshot("login")
	b.Axe("login")
	b.Do(chromedp.SendKeys(chromedp.ID("user"), "rita"), chromedp.SendKeys(chromedp.ID("password"), "pw-rita"),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("q")))
	if got := browsertest.Eval[string](b, "location.pathname"); got != "/search" {
		t.Fatalf("after login the browser is at %s, want /search", got)
	}

	// Traditional in, simplified hits highlighted.
	b.Do(chromedp.SendKeys(chromedp.ID("q"), "保證收益"), chromedp.Click(chromedp.ID("search-submit")),
		chromedp.WaitVisible(chromedp.ID("total")))
	marks := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll("ol.hits mark")).map(m => m.textContent)`)
	if !slices.Contains(marks, "保证收益") {
		t.Fatalf("no simplified hit highlighted among %q", marks)
	}
	if browsertest.Eval[bool](b, `document.body.innerText.includes("⟦")`) {
		t.Errorf("the results page shows a missing string")
	}
	b.Screenshot("search-results")
	b.Axe("search-results")
	// Usable at 390 px: nothing wider than the screen.
	b.Do(chromedp.EmulateViewport(390, 844))
	if w := browsertest.Eval[int](b, "document.documentElement.scrollWidth"); w > 390 {
		t.Errorf("the results page is %d px wide on a 390 px screen: %s", w, browsertest.Eval[string](b, widest))
	}
	b.Screenshot("search-results-390")
	b.Axe("search-results-390")
	b.Do(chromedp.EmulateViewport(1280, 800))

	// Open the first simplified hit.
	href := browsertest.Eval[string](b, `Array.from(document.querySelectorAll("ol.hits a.snippet")).find(a => Array.from(a.querySelectorAll("mark")).some(m => m.textContent === "保证收益")).getAttribute("href")`)
	b.Do(chromedp.Click(chromedp.CSS(`a.snippet[href="`+href+`"]`)), chromedp.WaitVisible(chromedp.ID("proof-status")))
	if v := browsertest.Eval[string](b, `document.getElementById("proof-status").dataset.verified`); v != "true" {
		t.Errorf("the message's inclusion proof shows verified=%s", v)
	}
	// The browser verifies the proof itself (WebCrypto: SHA-256 and the
	// checkpoint's Ed25519 signature), and refuses it once altered.
	b.Do(chromedp.WaitNotPresent(`#proof-browser[data-verified="pending"]`))
	if v := browsertest.Eval[string](b, `document.getElementById("proof-browser").dataset.verified + " " + document.getElementById("proof-browser").textContent`); !strings.HasPrefix(v, "true ") {
		t.Fatalf("the browser's own verification: %s", v)
	}
	for name, alter := range map[string]string{
		"a path hash":       `d.hashes = d.hashes.replace(/^./, c => c === "0" ? "1" : "0")`,
		"the leaf":          `d.leaf = d.leaf.replace('"serial":', '"serial": ')`,
		"the signature":     `d.checkpoint = d.checkpoint.replace(/ (\S)(\S*)\n$/, (m, a, b) => " " + (a === "A" ? "B" : "A") + b + "\n")`,
		"the tree size":     `d.size = String(Number(d.size) + 1)`,
		"another message's": `d.serial = String(Number(d.serial) + 1)`,
	} {
		got := browsertest.Await[string](b, `(async () => { const el = document.getElementById("proof-data"); const keep = Object.assign({}, el.dataset); const d = el.dataset; `+alter+
			`; const r = await wxarchiveVerifyProof(el); Object.assign(el.dataset, keep); return r; })()`)
		if got != "false" {
			t.Errorf("the browser verified a proof with %s altered", name)
		}
	}
	// Pinning another key: the proof no longer verifies; pinning the
	// archive's own: verified against the pinned key.
	b.Do(chromedp.Click(chromedp.CSS(`#proof-data ~ details summary`)),
		chromedp.SendKeys(chromedp.ID("pinned-key"), "other+01234567+AeFMJ7h2lXuiGvLF0E1OB2e0Ej6C6bHcHhXEgpo8lH4B"), chromedp.Click(chromedp.ID("pin-key")))
	b.Do(chromedp.Sleep(300e6))
	if v := browsertest.Eval[string](b, `document.getElementById("proof-browser").dataset.verified`); v != "false" {
		t.Errorf("a proof verified against a pinned key that is not the archive's")
	}
	key := browsertest.Eval[string](b, `document.getElementById("pinned-key").value = ""; document.getElementById("proof-data").dataset.key`)
	b.Do(chromedp.SendKeys(chromedp.ID("pinned-key"), key), chromedp.Click(chromedp.ID("pin-key")))
	b.Do(chromedp.Sleep(300e6))
	if v := browsertest.Eval[string](b, `document.getElementById("proof-browser").dataset.verified`); v != "true" {
		t.Errorf("the proof does not verify against the pinned archive key")
	}
	text := browsertest.Eval[string](b, `document.getElementById("message-text").textContent`)
	if !strings.Contains(text, "保证收益") {
		t.Errorf("the message page shows %q", text)
	}
	b.Do(chromedp.EmulateViewport(390, 844))
	if w := browsertest.Eval[int](b, "document.documentElement.scrollWidth"); w > 390 {
		t.Errorf("the message page is %d px wide on a 390 px screen", w)
	}
	b.Screenshot("message-390")
	b.Axe("message-390")
	b.Do(chromedp.EmulateViewport(1280, 800))
	b.Screenshot("message")
	b.Axe("message")

	// A form posted from another site (localhost is another site than
	// 127.0.0.1) is refused, and the session survives.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>x</title><form id="f" method="post" action="%s/logout"><input name="csrf" value="x"></form><script>document.getElementById("f").submit()</script>`, srv.URL)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	b.Allow(evilURL)
	b.ExpectConsole(`status of 403`)
	b.Do(chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.CSS("body")))
	b.Do(chromedp.Sleep(500e6))
	if got := browsertest.Eval[string](b, "document.body.innerText"); !strings.Contains(got, "cross_origin") {
		t.Errorf("the cross-site POST was not refused as cross-origin: %q", got)
	}
	b.Do(chromedp.Navigate(srv.URL+"/search"), chromedp.WaitVisible(chromedp.ID("q")))
	if got := browsertest.Eval[string](b, "location.pathname"); got != "/search" {
		t.Fatalf("the cross-site POST ended the session: at %s", got)
	}
	b.Do(chromedp.Navigate(srv.URL+href), chromedp.WaitVisible(chromedp.ID("proof-status")))

	// Logout; then the back button shows nothing of the message.
	b.Do(chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("user")))
	b.Screenshot("signed-out")
	b.Axe("signed-out")
	b.Do(chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.ID("user")))
	if got := browsertest.Eval[string](b, "location.pathname"); got != "/login" {
		t.Errorf("back after logout shows %s", got)
	}
	if browsertest.Eval[bool](b, `document.body.innerText.includes("保证收益")`) {
		t.Errorf("back after logout shows the message")
	}
	b.Screenshot("back-after-logout")
	b.Axe("back-after-logout")

	// Out of role: an administrator asking for the search page.
	b.Do(chromedp.Navigate(srv.URL+"/login?next=%2Fsearch"), chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), "adam"), chromedp.SendKeys(chromedp.ID("password"), "pw-adam"),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.CSS("section.problem")))
	if need := browsertest.Eval[string](b, `document.querySelector("section.problem").dataset.need`); need != "content.read" {
		t.Errorf("the administrator's refusal names %q, want content.read", need)
	}
	b.Screenshot("forbidden")
	b.Axe("forbidden")
}

// TestBrowserReviewJourney, in a real Chromium: a reviewer searches the
// traditional 保證收益, opens her department's alert (the match
// highlighted), reads the conversation around it, and closes the alert
// with a disposition through the form; the auditor's evidence report
// shows the close and the audit log her steps; a reviewer of another
// department does not see the alert, and is refused it by URL.
func TestBrowserReviewJourney(t *testing.T) {
	browsertest.Chromium(t)
	s, alerts := reviewSite(t)
	mine := alerts["财富管理部"]
	b := browsertest.New(t, s.srv.URL)
	signIn := func(user string) {
		b.Do(chromedp.Navigate(s.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("user")),
			chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), "pw-"+user),
			chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("logout")))
	}
	signOut := func() {
		b.Do(chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("user")))
	}

	signIn(principalUser)
	b.Do(chromedp.Navigate(s.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("attention")))
	b.Screenshot("dashboard")
	b.Axe("dashboard")
	signOut()
	signIn("rita")
	b.Do(chromedp.Navigate(s.srv.URL+"/search"), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "保證收益"), chromedp.Click(chromedp.ID("search-submit")), chromedp.WaitVisible(chromedp.ID("total")))
	if marks := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll("ol.hits mark")).map(m => m.textContent)`); !slices.Contains(marks, "保证收益") {
		t.Fatalf("no simplified hit highlighted among %q", marks)
	}
	b.Do(chromedp.Navigate(s.srv.URL+"/alerts"), chromedp.WaitVisible(chromedp.ID("alerts")))
	b.Screenshot("review-queue")
	b.Axe("review-queue")
	b.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-alert="%d"] a.alert-link`, mine))), chromedp.WaitVisible(chromedp.ID("alert-text")))
	if m := browsertest.Eval[string](b, `Array.from(document.querySelectorAll("#alert-text mark")).map(m => m.textContent).join("|")`); m != "保证收益" {
		t.Errorf("the alert highlights %q", m)
	}
	b.Screenshot("alert")
	b.Axe("alert")
	b.Do(chromedp.Click(chromedp.ID("open-conversation")), chromedp.WaitVisible(chromedp.ID("chat")))
	if here := browsertest.Eval[string](b, `document.querySelector(".bubble.here .body").textContent`); !strings.Contains(here, "保证收益") {
		t.Errorf("the conversation marks %q as the alert's message", here)
	}
	b.Do(chromedp.EmulateViewport(390, 844))
	if w := browsertest.Eval[int](b, "document.documentElement.scrollWidth"); w > 390 {
		t.Errorf("the conversation is %d px wide on a 390 px screen: %s", w, browsertest.Eval[string](b, widest))
	}
	b.Screenshot("conversation-390")
	b.Axe("conversation-390")
	b.Do(chromedp.EmulateViewport(1280, 800))
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/alerts/%d", s.srv.URL, mine)), chromedp.WaitVisible(chromedp.ID("review-form")),
		chromedp.SetValue(chromedp.ID("disposition"), "violation"), chromedp.SendKeys(chromedp.ID("note"), "客户已被告知不保证收益"),
		chromedp.Click(chromedp.ID("act-close")), chromedp.WaitVisible(chromedp.ID("done")))
	if st := browsertest.Eval[string](b, `document.getElementById("alert-status").dataset.status`); st != "closed" {
		t.Fatalf("after closing the alert is %s", st)
	}
	b.Screenshot("alert-closed")
	b.Axe("alert-closed")
	signOut()

	signIn("ivan")
	b.Do(chromedp.Navigate(s.srv.URL+"/alerts"), chromedp.WaitVisible(chromedp.ID("list-h")))
	if browsertest.Eval[bool](b, fmt.Sprintf(`!!document.querySelector('tr[data-alert="%d"]')`, mine)) {
		t.Error("another department's reviewer sees the alert")
	}
	b.ExpectConsole(`status of 403`)
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/alerts/%d", s.srv.URL, mine)), chromedp.WaitVisible(chromedp.CSS("section.problem")))
	if browsertest.Eval[bool](b, `document.body.innerText.includes("保证收益")`) {
		t.Error("the refusal shows the message")
	}
	signOut()

	signIn("audrey")
	b.Do(chromedp.Navigate(s.srv.URL+"/reports/evidence?from=2000-01-01&to=2100-01-01"), chromedp.WaitVisible(chromedp.ID("evidence")))
	if d := browsertest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-alert="%d"] td.disposition').textContent`, mine)); d != "Violation" {
		t.Errorf("the evidence report shows the disposition %q", d)
	}
	b.Screenshot("evidence")
	b.Axe("evidence")
	b.Do(chromedp.Navigate(s.srv.URL+"/audit?user=rita"), chromedp.WaitVisible(chromedp.ID("audit")))
	kinds := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll("#audit tr[data-kind]")).map(r => r.dataset.kind + " " + r.querySelector("code").textContent)`)
	var search, view, closed bool
	for _, k := range kinds {
		search = search || strings.HasPrefix(k, "access.view") && strings.Contains(k, `"what":"search"`)
		view = view || strings.HasPrefix(k, "review.action") && strings.Contains(k, `"action":"view"`)
		closed = closed || strings.HasPrefix(k, "review.action") && strings.Contains(k, `"action":"close"`)
	}
	if !search || !view || !closed {
		t.Errorf("the audit log of rita: search %v, alert view %v, close %v among %q", search, view, closed, kinds)
	}
	b.Screenshot("audit")
	b.Axe("audit")
}
