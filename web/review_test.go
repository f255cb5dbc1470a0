package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// reviewSite is a served archive with the default policy pack, two
// employees in two departments each sending one message it flags, and a
// reviewer of each department and an auditor.
func reviewSite(t *testing.T) (s *site, alerts map[string]uint64) {
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
	for _, p := range []archive.ParticipantEvent{
		{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部"},
		{ID: "lina", Kind: archive.ParticipantEmployee, Name: "李娜", Department: "投资银行部"},
	} {
		p.ValidFrom = archive.MillisTime(0)
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	s = &site{t: t, r: r, auth: archivetest.NewAuth()}
	s.auth.UserWith(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部"}}, "pw-rita")
	s.auth.UserWith(&auth.Identity{User: "ivan", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"投资银行部"}}, "pw-ivan")
	s.auth.User("audrey", "pw-audrey", auth.Auditor)
	s.auth.User(principalUser, "pw-"+principalUser, auth.Principal)
	s.srv = newServer(r, s.auth)
	t.Cleanup(func() {
		s.srv.Close()
		r.Close(context.Background())
	})
	s.ingest([]byte(`{"msgid":"rv0001","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700100000000,"msgtype":"text","text":{"content":"王总，早上好"}}
{"msgid":"rv0002","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700100060000,"msgtype":"text","text":{"content":"这只产品保证收益，年化8%"}}
{"msgid":"rv0003","action":"send","from":"lina","tolist":["wmExtClient002"],"roomid":"","msgtime":1700100120000,"msgtype":"text","text":{"content":"我们保证收益，您放心"}}
`))
	if _, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	alerts = map[string]uint64{}
	r.Store.Alerts(ctx, 0, "", 0, func(al store.AlertRow) error {
		if _, ok := alerts[al.Department]; !ok {
			alerts[al.Department] = al.JournalIndex
		}
		return nil
	})
	if alerts["财富管理部"] == 0 || alerts["投资银行部"] == 0 {
		t.Fatalf("alerts %v: the default pack did not flag both departments' messages", alerts)
	}
	return s, alerts
}

func newServer(r *repo.Repo, a *archivetest.Auth) *httptest.Server {
	return httptest.NewServer(httpapi.New(r, httpapi.Options{Auth: a, Ingesters: archivetest.Ingesters(r, nil)}))
}

func journalSize(t *testing.T, r *repo.Repo) uint64 {
	t.Helper()
	h, err := r.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.JournalSize
}

// TestReviewPages: a reviewer sees their department's queue and alert
// with the matched words highlighted, closes it with a disposition
// through the form (a close without one, or without the CSRF token,
// writes nothing), and reads the conversation around it; a reviewer of
// another department sees neither; the auditor's evidence report and
// audit log show what the reviewer did. Every page renders in both
// languages with no missing string.
func TestReviewPages(t *testing.T) {
	s, alerts := reviewSite(t)
	mine, theirs := alerts["财富管理部"], alerts["投资银行部"]
	rita := s.browser()
	rita.login("rita", "/")
	pat := s.browser()
	pat.login(principalUser, "/")
	home := pat.get("/")
	checkPage(t, "the principal's dashboard", home, "en")
	if !strings.Contains(home.body, `id="att-open">2<`) || strings.Count(home.body, "<rect ") != 14 || !strings.Contains(home.body, `id="checkpoint"`) {
		t.Errorf("the principal's dashboard lacks the two open alerts, the 14-day chart or the checkpoint:\n%s", home.body)
	}
	if rh := rita.get("/"); !strings.Contains(rh.body, `id="att-open">1<`) || strings.Contains(rh.body, "<rect ") {
		t.Errorf("rita's dashboard shows more than her one open alert, or the capture chart")
	}

	list := rita.get("/alerts")
	checkPage(t, "/alerts", list, "en")
	if !strings.Contains(list.body, fmt.Sprintf(`data-alert="%d"`, mine)) || strings.Contains(list.body, fmt.Sprintf(`data-alert="%d"`, theirs)) {
		t.Fatalf("rita's queue does not list exactly her department's alert %d (not %d):\n%s", mine, theirs, list.body)
	}
	ap := rita.get(fmt.Sprintf("/alerts/%d", mine))
	checkPage(t, "/alerts/{id}", ap, "en")
	if !strings.Contains(ap.body, "<mark>保证收益</mark>") {
		t.Fatalf("the alert page does not highlight the match:\n%s", ap.body)
	}
	token := csrf(t, ap)
	form := func(action, disposition string, withToken bool) url.Values {
		f := url.Values{"alert": {fmt.Sprint(mine)}, "action": {action}, "disposition": {disposition}, "note": {"told the client no return is guaranteed"},
			"back": {fmt.Sprintf("/alerts/%d", mine)}}
		if withToken {
			f.Set("csrf", token)
		}
		return f
	}
	before := journalSize(t, s.r)
	if p := rita.do("POST", "/alerts/actions", form("close", "", true)); p.status != http.StatusBadRequest || !strings.Contains(p.body, "closing needs a disposition") {
		t.Fatalf("a close without a disposition: %d\n%s", p.status, p.body)
	}
	if p := rita.do("POST", "/alerts/actions", form("close", "violation", false)); p.status != http.StatusForbidden {
		t.Fatalf("a close without the CSRF token: %d", p.status)
	}
	if journalSize(t, s.r) != before {
		t.Fatal("a refused review form wrote to the journal")
	}
	p := rita.do("POST", "/alerts/actions", form("close", "violation", true))
	if p.status != http.StatusSeeOther || !regexp.MustCompile(fmt.Sprintf(`^/alerts/%d\?at=\d+&done=close$`, mine)).MatchString(p.header.Get("Location")) {
		t.Fatalf("close: %d Location %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	done := rita.get(p.header.Get("Location"))
	checkPage(t, "alert after close", done, "en")
	if !strings.Contains(done.body, `data-status="closed"`) || !strings.Contains(done.body, `data-disposition="violation"`) || !strings.Contains(done.body, `id="done"`) {
		t.Fatalf("the alert after closing:\n%s", done.body)
	}
	conv := rita.get("/conversations/" + url.PathEscape(conversationOf(t, done.body)) + "?around=" + serialOf(t, done.body))
	checkPage(t, "/conversations/{id}", conv, "en")
	if !strings.Contains(conv.body, "王总，早上好") || !strings.Contains(conv.body, `aria-current="true"`) || !strings.Contains(conv.body, "张伟") {
		t.Fatalf("the conversation around the alert's message:\n%s", conv.body)
	}

	// Another department's reviewer: not in the queue, refused by id.
	ivan := s.browser()
	ivan.login("ivan", "/")
	if l := ivan.get("/alerts"); strings.Contains(l.body, fmt.Sprintf(`data-alert="%d"`, mine)) {
		t.Fatal("ivan's queue lists rita's department's alert")
	}
	if p := ivan.get(fmt.Sprintf("/alerts/%d", mine)); p.status != http.StatusForbidden || strings.Contains(p.body, "保证收益") {
		t.Fatalf("ivan opening rita's alert: %d", p.status)
	}

	// The auditor: the evidence report shows the close, the audit log
	// rita's steps.
	audrey := s.browser()
	audrey.lang = "zh-CN"
	audrey.login("audrey", "/")
	ev := audrey.get("/reports/evidence?from=2000-01-01&to=2100-01-01")
	checkPage(t, "/reports/evidence", ev, "zh-Hans")
	if !regexp.MustCompile(fmt.Sprintf(`(?s)data-alert="%d" data-reviewed="true">(?:[^<]|<[^/]|</[^t]|</t[^r])*rita.*?违规.*?</tr>`, mine)).MatchString(ev.body) {
		t.Fatalf("the evidence report does not show rita's close as a violation:\n%s", ev.body)
	}
	// By the alerts' date too, the choice kept in the form and the CSV link.
	evr := audrey.get("/reports/evidence?from=2000-01-01&to=2100-01-01&by=raised")
	checkPage(t, "/reports/evidence", evr, "zh-Hans")
	if !strings.Contains(evr.body, `<option value="raised" selected>`) || !strings.Contains(evr.body, "by=raised") || !strings.Contains(evr.body, fmt.Sprintf(`data-alert="%d"`, mine)) {
		t.Fatalf("evidence by raised:\n%s", evr.body)
	}
	if p := audrey.get("/reports/evidence?from=2000-01-01&to=2100-01-01&by=seen"); p.status != http.StatusBadRequest {
		t.Fatalf("a bad by: %d", p.status)
	}
	au := audrey.get("/audit?user=rita")
	checkPage(t, "/audit", au, "zh-Hans")
	for _, want := range []string{`data-kind="review.action"`, `&#34;what&#34;:&#34;conversation:`, `data-kind="access.view"`} {
		if !strings.Contains(au.body, want) {
			t.Errorf("the audit log of rita lacks %s", want)
		}
	}
	if p := audrey.get("/alerts/actions"); p.status == http.StatusOK {
		t.Errorf("GET of the review form's target answered 200")
	}
	if p := audrey.do("POST", "/alerts/actions", url.Values{"alert": {fmt.Sprint(theirs)}, "action": {"claim"}, "csrf": {csrf(t, au)}}); p.status != http.StatusForbidden {
		t.Errorf("the auditor posting a review action: %d", p.status)
	}
	for _, path := range []string{"/alerts", fmt.Sprintf("/alerts/%d", theirs), "/audit?kind=review.action", "/reports/evidence"} {
		checkPage(t, path, audrey.get(path), "zh-Hans")
	}
}

var (
	convRE   = regexp.MustCompile(`href="/conversations/([^"?]+)\?around=(\d+)"`)
	serialRE = convRE
)

func conversationOf(t *testing.T, body string) string {
	m := convRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no conversation link:\n%s", body)
	}
	v, _ := url.PathUnescape(m[1])
	return v
}

func serialOf(t *testing.T, body string) string {
	m := serialRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no conversation link:\n%s", body)
	}
	return m[2]
}
