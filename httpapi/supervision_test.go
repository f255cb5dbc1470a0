package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// The supervision API: policies, backtest, alerts, review actions and the
// evidence-of-review report.

const (
	policyV1 = "policy: promises\ndescription: Promises of returns\nrules:\n  - id: zh-guarantee\n    lexicon: [保本, 稳赚]\n  - id: en-guarantee\n    lexicon: [guaranteed]\n"
	policyV2 = policyV1 + "  - id: zh-complaint\n    lexicon: [投诉]\n"
	// The regex of the rule at line 3 is not RE2.
	badPolicy = "policy: promises\nrules:\n  - id: r\n    regex: '('\n"
)

// newSupervisionEnv is an archive whose config names carol a principal,
// served with the user taken from a test header (authentication stands
// in for it later; without the header the caller is anonymous).
func newSupervisionEnv(t *testing.T) *env {
	t.Helper()
	return newSupervisionEnvAt(t, nil)
}

// newSupervisionEnvAt is newSupervisionEnv with the server's clock.
func newSupervisionEnvAt(t *testing.T, now func() time.Time) *env {
	t.Helper()
	opts := httpapi.Options{Now: now}
	return newEnvWith(t, opts, func(dir string) {
		p := filepath.Join(dir, repo.ConfigFile)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, "supervision:\n  principals: [carol]\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// bearer is user's token ("" the default tester), every role but admin's:
// who may act as a supervision principal is the archive's configuration.
func (e *env) bearer(user string) string {
	if user == "" {
		return e.token
	}
	if e.tokens == nil {
		e.tokens = map[string]string{}
	}
	if _, ok := e.tokens[user]; !ok {
		e.tokens[user] = e.auth.Bearer(user, archivetest.AllRoles...)
	}
	return e.tokens[user]
}

// call makes a request as user ("" the default tester) and returns the status and body.
func (e *env) call(method, path, user, contentType string, body []byte) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+e.bearer(user))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// callJSON requires the status and decodes the answer into v.
func (e *env) callJSON(method, path, user, contentType string, body []byte, want int, v any) {
	e.t.Helper()
	status, b := e.call(method, path, user, contentType, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// refused requires an error answer with the status and code whose message
// names what, and that the journal did not grow.
func (e *env) refused(method, path, user, contentType string, body []byte, status int, code, what string) {
	e.t.Helper()
	before := e.head().JournalSize
	got, b := e.call(method, path, user, contentType, body)
	var out struct {
		Error apiErr `json:"error"`
	}
	if got != status || json.Unmarshal(b, &out) != nil || out.Error.Code != code || !strings.Contains(out.Error.Message, what) {
		e.t.Fatalf("%s %s: %d %s, want %d with code %q naming %q", method, path, got, b, status, code, what)
	}
	if after := e.head().JournalSize; after != before {
		e.t.Fatalf("%s %s was refused but journaled %d events", method, path, after-before)
	}
}

// lastEvent requires that the journal grew by exactly one event of the type
// since before, and returns it.
func (e *env) lastEvent(before uint64, typ string) *journal.Event {
	e.t.Helper()
	if h := e.head(); h.JournalSize != before+1 {
		e.t.Fatalf("journal size %d, want %d (one %s event)", h.JournalSize, before+1, typ)
	}
	ev := e.leaf(before)
	if ev.Type != typ {
		e.t.Fatalf("journal %d is %s, want %s", before, ev.Type, typ)
	}
	return ev
}

func (e *env) putPolicy(name, user, yaml string, want int) (version int, changed bool) {
	e.t.Helper()
	var out struct {
		Policy  string `json:"policy"`
		Version int    `json:"version"`
		Changed bool   `json:"changed"`
	}
	e.callJSON("PUT", "/api/v1/policies/"+name, user, "application/yaml", []byte(yaml), want, &out)
	if out.Policy != name {
		e.t.Fatalf("PUT %s answered policy %q", name, out.Policy)
	}
	return out.Version, out.Changed
}

// seedAlerts applies policyV1, archives four messages through the API (the
// last hits both rules) and runs the supervisor, as serve does in the
// background. It returns the four alert ids, oldest first: serials 1, 2,
// 4 and 4.
func (e *env) seedAlerts() []uint64 {
	e.t.Helper()
	e.putPolicy("promises", "", policyV1, http.StatusCreated)
	var lines [][]byte
	for i, text := range []string{"这个产品保本，您放心", "Returns are guaranteed, trust me", "明天下午三点开会", "稳赚不赔的机会, guaranteed"} {
		lines = append(lines, textMsg(fmt.Sprintf("sup%02d_1700100000", i), "zhangwei", []string{"wmExtClient001"}, 1700100000000+int64(i)*60000, text))
	}
	wantArchived(e.t, e.ingest("", "application/json", jsonLines(lines), 200), 1, 4)
	ctx := context.Background()
	res, err := (&supervise.Supervisor{Engine: e.r.Engine, Store: e.r.Store, Records: e.r.Records}).CatchUp(ctx)
	if err != nil || res.Alerts != 4 {
		e.t.Fatalf("supervisor: %+v %v, want 4 alerts", res, err)
	}
	var ids []uint64
	e.r.Store.Alerts(ctx, 0, "", 0, func(a store.AlertRow) error { ids = append(ids, a.JournalIndex); return nil })
	return ids
}

type policyOut struct {
	Policy       string   `json:"policy"`
	Version      int      `json:"version"`
	Enabled      bool     `json:"enabled"`
	Rules        int      `json:"rules"`
	AppliedBy    string   `json:"applied_by"`
	AppliedAt    string   `json:"applied_at"`
	SHA256       string   `json:"sha256"`
	JournalIndex uint64   `json:"journal_index"`
	Description  string   `json:"description"`
	RuleIDs      []string `json:"rule_ids"`
}

func TestPolicyApplyListGet(t *testing.T) {
	e := newSupervisionEnv(t)

	// A new policy: one policy.applied event, by the caller, with the file.
	before := e.head().JournalSize
	if v, changed := e.putPolicy("promises", "alice", policyV1, http.StatusCreated); v != 1 || !changed {
		t.Fatalf("first apply: version %d changed %v", v, changed)
	}
	ev := e.lastEvent(before, archive.EventPolicyApplied)
	var pe archive.PolicyEvent
	if err := ev.DecodePayload(&pe); err != nil {
		t.Fatal(err)
	}
	if ev.Actor != "api:alice" || pe.Policy != "promises" || pe.Version != 1 || pe.Source != policyV1 || pe.SHA256.String() != sha([]byte(policyV1)) {
		t.Fatalf("policy.applied by %q: %+v", ev.Actor, pe)
	}
	// The same bytes again: 200, nothing journaled.
	before = e.head().JournalSize
	if v, changed := e.putPolicy("promises", "", policyV1, http.StatusOK); v != 1 || changed {
		t.Fatalf("unchanged apply: version %d changed %v", v, changed)
	}
	if h := e.head(); h.JournalSize != before {
		t.Fatalf("an unchanged apply journaled %d events", h.JournalSize-before)
	}
	// A second version, by the default tester (text/plain is accepted).
	var put struct{ Version int }
	e.callJSON("PUT", "/api/v1/policies/promises", "", "text/plain; charset=utf-8", []byte(policyV2), http.StatusCreated, &put)
	ev = e.lastEvent(before, archive.EventPolicyApplied)
	if put.Version != 2 || ev.Actor != "api:tester" {
		t.Fatalf("second apply: version %d, actor %q", put.Version, ev.Actor)
	}
	v2Index := ev.Index

	var list struct{ Policies []policyOut }
	e.callJSON("GET", "/api/v1/policies", "", "", nil, 200, &list)
	if len(list.Policies) != 1 {
		t.Fatalf("policies %+v", list)
	}
	p := list.Policies[0]
	if p.Policy != "promises" || p.Version != 2 || !p.Enabled || p.Rules != 3 || p.SHA256 != sha([]byte(policyV2)) ||
		p.AppliedBy != ev.Actor || p.AppliedAt == "" || p.JournalIndex != v2Index || p.Description != "Promises of returns" ||
		!slices.Equal(p.RuleIDs, []string{"zh-guarantee", "en-guarantee", "zh-complaint"}) {
		t.Fatalf("listed policy %+v", p)
	}

	type versionOut struct {
		Version   int    `json:"version"`
		SHA256    string `json:"sha256"`
		AppliedBy string `json:"applied_by"`
	}
	var got struct {
		policyOut
		Latest   int          `json:"latest_version"`
		Source   string       `json:"source"`
		Versions []versionOut `json:"versions"`
	}
	e.callJSON("GET", "/api/v1/policies/promises", "", "", nil, 200, &got)
	want := []versionOut{{1, sha([]byte(policyV1)), "api:alice"}, {2, sha([]byte(policyV2)), ev.Actor}}
	if got.Version != 2 || got.Latest != 2 || got.Source != policyV2 || got.Rules != 3 || !slices.Equal(got.Versions, want) {
		t.Fatalf("GET promises: %+v", got)
	}
	got.Versions = nil
	e.callJSON("GET", "/api/v1/policies/promises?version=1", "", "", nil, 200, &got)
	if got.Version != 1 || got.Latest != 2 || got.Source != policyV1 || got.AppliedBy != "api:alice" || len(got.RuleIDs) != 2 || len(got.Versions) != 2 {
		t.Fatalf("GET promises version 1: %+v", got)
	}

	// Going back to the first file is a third version.
	if v, changed := e.putPolicy("promises", "", policyV1, http.StatusCreated); v != 3 || !changed {
		t.Fatalf("re-apply of version 1: version %d changed %v", v, changed)
	}
	e.callJSON("GET", "/api/v1/policies/promises?version=2", "", "", nil, 200, &got)
	if got.Version != 2 || got.Latest != 3 || got.Source != policyV2 || len(got.Versions) != 3 || got.Versions[2].SHA256 != sha([]byte(policyV1)) {
		t.Fatalf("GET promises version 2 of 3: %+v", got)
	}

	e.refused("GET", "/api/v1/policies/promises?version=4", "", "", nil, 404, "not_found", "no version 4")
	e.refused("GET", "/api/v1/policies/nosuch", "", "", nil, 404, "not_found", "nosuch")
	e.refused("GET", "/api/v1/policies/promises?version=x", "", "", nil, 400, "bad_parameter", "version")
	e.refused("GET", "/api/v1/policies/promises?version=0", "", "", nil, 400, "bad_parameter", "version")
	e.refused("GET", "/api/v1/policies/promises?verison=1", "", "", nil, 400, "bad_parameter", "verison")
	e.refused("GET", "/api/v1/policies?x=1", "", "", nil, 400, "bad_parameter", `"x"`)
}

// Concurrent applies of one policy get one version each: the API
// serializes the read of the latest version and the append.
func TestPolicyApplyConcurrent(t *testing.T) {
	e := newSupervisionEnv(t)
	e.putPolicy("promises", "", policyV1, http.StatusCreated)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Replace(policyV1, "Promises of returns", fmt.Sprintf("Promises of returns, draft %d", i), 1)
			statuses[i], _ = e.call("PUT", "/api/v1/policies/promises", "", "application/yaml", []byte(body))
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusCreated {
			t.Fatalf("concurrent apply %d: status %d", i, st)
		}
	}
	var got struct {
		Version  int `json:"version"`
		Versions []struct {
			Version int `json:"version"`
		} `json:"versions"`
	}
	e.callJSON("GET", "/api/v1/policies/promises", "", "", nil, 200, &got)
	if got.Version != n+1 || len(got.Versions) != n+1 {
		t.Fatalf("after %d concurrent applies: %+v", n, got)
	}
	for i, v := range got.Versions {
		if v.Version != i+1 {
			t.Fatalf("versions %+v", got.Versions)
		}
	}
}

func TestPolicyApplyRefusals(t *testing.T) {
	e := newSupervisionEnv(t)
	e.putPolicy("promises", "", policyV1, http.StatusCreated)

	// A policy that does not validate: 422 with every problem and its line.
	before := e.head().JournalSize
	status, b := e.call("PUT", "/api/v1/policies/promises", "", "application/yaml", []byte(badPolicy))
	var out struct {
		Error    apiErr `json:"error"`
		Problems []struct {
			Line   int    `json:"line"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(b, &out); err != nil || status != 422 || out.Error.Code != "invalid_policy" || len(out.Problems) != 1 {
		t.Fatalf("bad policy: %d %s", status, b)
	}
	if pr := out.Problems[0]; pr.Line != 3 || pr.Field != "rules[0].regex" || !strings.Contains(pr.Reason, "RE2") || !strings.Contains(out.Error.Message, "line 3") {
		t.Fatalf("bad policy problem %+v, message %q", pr, out.Error.Message)
	}
	if h := e.head(); h.JournalSize != before {
		t.Fatalf("a policy that does not validate journaled %d events", h.JournalSize-before)
	}
	// Not YAML at all: the line of the syntax error.
	status, b = e.call("PUT", "/api/v1/policies/promises", "", "text/yaml", []byte("policy: promises\nrules: [\n  - id: x\n"))
	if err := json.Unmarshal(b, &out); err != nil || status != 422 || out.Problems[0].Field != "file" || out.Problems[0].Line < 2 {
		t.Fatalf("not YAML: %d %s", status, b)
	}

	// The name in the file must be the one in the URL.
	e.refused("PUT", "/api/v1/policies/other", "", "application/yaml", []byte(policyV2), 400, "name_mismatch", `"promises"`)
	e.refused("PUT", "/api/v1/policies/promises", "", "application/json", []byte(policyV2), 415, "unsupported_media_type", "Content-Type")
	e.refused("PUT", "/api/v1/policies/promises", "", "", []byte(policyV2), 415, "unsupported_media_type", "Content-Type")
	e.refused("PUT", "/api/v1/policies/promises", "", "text/yaml; charset=gbk", []byte(policyV2), 415, "unsupported_media_type", "gbk")
	e.refused("PUT", "/api/v1/policies/promises", "", "text/yaml", []byte("policy: promises\ndescription: \xff\xfe\n"), 400, "malformed_body", "UTF-8")
	e.refused("PUT", "/api/v1/policies/promises", "", "text/yaml", bytes.Repeat([]byte("#"), 1<<20+1), 413, "body_too_large", "bytes")
	e.refused("PUT", "/api/v1/policies/promises?force=1", "", "text/yaml", []byte(policyV2), 400, "bad_parameter", "force")

	var got struct{ Version int }
	e.callJSON("GET", "/api/v1/policies/promises", "", "", nil, 200, &got)
	if got.Version != 1 {
		t.Fatalf("refusals changed the policy: version %d", got.Version)
	}
}

func TestPolicyBacktest(t *testing.T) {
	e := newSupervisionEnv(t)
	e.seedAlerts()
	var alerts int
	countAlerts := func() int {
		n := 0
		e.r.Store.Alerts(context.Background(), 0, "", 0, func(store.AlertRow) error { n++; return nil })
		return n
	}
	alerts = countAlerts()

	draft := "policy: draft\nrules:\n  - id: meeting\n    lexicon: [开会]\n  - id: zh-guarantee\n    lexicon: [保本, 稳赚]\n"
	type backtest struct {
		Policy   string `json:"policy"`
		Scanned  int    `json:"scanned"`
		InScope  int    `json:"in_scope"`
		Messages int    `json:"messages"`
		Rules    []struct {
			Rule string `json:"rule"`
			Hits int    `json:"hits"`
		} `json:"rules"`
		Samples []struct {
			Serial uint64   `json:"serial"`
			Rule   string   `json:"rule"`
			Text   string   `json:"text"`
			Spans  [][2]int `json:"spans"`
		} `json:"samples"`
	}
	before := e.head().JournalSize
	var bt backtest
	e.callJSON("POST", "/api/v1/policies/backtest?from=2023-11-01&to=2023-12-01", "", "application/yaml", []byte(draft), 200, &bt)
	if bt.Policy != "draft" || bt.Scanned != 4 || bt.InScope != 4 || bt.Messages != 3 || len(bt.Rules) != 2 ||
		bt.Rules[0].Hits != 1 || bt.Rules[1].Hits != 2 || len(bt.Samples) != 3 {
		t.Fatalf("backtest %+v", bt)
	}
	if s := bt.Samples[0]; s.Serial != 1 || s.Rule != "zh-guarantee" || s.Text != "这个产品保本，您放心" || len(s.Spans) != 1 {
		t.Fatalf("first sample %+v", s)
	}
	// The samples' texts were shown: one access event naming them; no
	// alert was raised.
	e.wantAccess(before, "backtest:draft", 1, 3, 4)
	if n := countAlerts(); n != alerts {
		t.Fatalf("backtest raised %d alerts", n-alerts)
	}

	// No samples: nothing shown, nothing journaled. A period without
	// messages scans none.
	before = e.head().JournalSize
	e.callJSON("POST", "/api/v1/policies/backtest?samples=0", "", "text/yaml", []byte(draft), 200, &bt)
	if bt.Scanned != 4 || bt.Messages != 3 || len(bt.Samples) != 0 {
		t.Fatalf("backtest without samples %+v", bt)
	}
	e.callJSON("POST", "/api/v1/policies/backtest?from=2024-01-01", "", "text/yaml", []byte(draft), 200, &bt)
	if bt.Scanned != 0 || len(bt.Samples) != 0 {
		t.Fatalf("backtest of an empty period %+v", bt)
	}
	if h := e.head(); h.JournalSize != before {
		t.Fatalf("backtests that showed no message journaled %d events", h.JournalSize-before)
	}

	bt422 := func(path string) {
		t.Helper()
		status, b := e.call("POST", path, "", "application/yaml", []byte(badPolicy))
		if status != 422 || !strings.Contains(string(b), `"line":3`) {
			t.Fatalf("backtest of a bad policy: %d %s", status, b)
		}
	}
	bt422("/api/v1/policies/backtest")
	e.refused("POST", "/api/v1/policies/backtest?from=2023-13-01", "", "application/yaml", []byte(draft), 400, "bad_parameter", "from")
	e.refused("POST", "/api/v1/policies/backtest?to=yesterday", "", "application/yaml", []byte(draft), 400, "bad_parameter", "to")
	e.refused("POST", "/api/v1/policies/backtest?from=2024-01-01&to=2023-01-01", "", "application/yaml", []byte(draft), 400, "bad_parameter", "to")
	e.refused("POST", "/api/v1/policies/backtest?samples=-1", "", "application/yaml", []byte(draft), 400, "bad_parameter", "samples")
	e.refused("POST", "/api/v1/policies/backtest?samples=1001", "", "application/yaml", []byte(draft), 400, "bad_parameter", "samples")
	e.refused("POST", "/api/v1/policies/backtest?sample=1", "", "application/yaml", []byte(draft), 400, "bad_parameter", "sample")
	e.refused("POST", "/api/v1/policies/backtest", "", "application/json", []byte(draft), 415, "unsupported_media_type", "Content-Type")
}

type alertOut struct {
	ID            uint64   `json:"id"`
	Serial        uint64   `json:"serial"`
	SourceID      string   `json:"source_id"`
	Policy        string   `json:"policy"`
	PolicyVersion int      `json:"policy_version"`
	Rule          string   `json:"rule"`
	Status        string   `json:"status"`
	Spans         [][2]int `json:"spans"`
	RaisedAt      string   `json:"raised_at"`
	Assignee      string   `json:"assignee"`
	AgeDays       int      `json:"age_days"`
	Overdue       bool     `json:"overdue"`
	SameMessage   []uint64 `json:"same_message"`
}

type alertList struct {
	Alerts    []alertOut `json:"alerts"`
	NextAfter *uint64    `json:"next_after"`
}

func ids(as []alertOut) []uint64 {
	var out []uint64
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestAlertsListAndView(t *testing.T) {
	e := newSupervisionEnv(t)
	all := e.seedAlerts()

	var l alertList
	e.callJSON("GET", "/api/v1/alerts", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), all) || l.NextAfter != nil {
		t.Fatalf("alerts %+v, want ids %v and no next page", l, all)
	}
	a := l.Alerts[0]
	if a.Serial != 1 || a.SourceID != "sup00_1700100000" || a.Policy != "promises" || a.PolicyVersion != 1 || a.Rule != "zh-guarantee" ||
		a.Status != "open" || len(a.Spans) != 1 || a.RaisedAt == "" || a.Assignee != "" || a.AgeDays != 0 || a.Overdue || a.SameMessage != nil {
		t.Fatalf("first alert %+v", a)
	}
	if r := l.Alerts[1]; r.Serial != 2 || r.Rule != "en-guarantee" {
		t.Fatalf("second alert %+v", r)
	}
	// The two alerts on message 4 name each other.
	if x, y := l.Alerts[2], l.Alerts[3]; x.Serial != 4 || y.Serial != 4 || !slices.Equal(x.SameMessage, []uint64{y.ID}) || !slices.Equal(y.SameMessage, []uint64{x.ID}) {
		t.Fatalf("alerts on one message %+v %+v", x, y)
	}

	// Pages; an alert names the others on its message even across pages.
	e.callJSON("GET", "/api/v1/alerts?limit=3", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), all[:3]) || l.NextAfter == nil || *l.NextAfter != all[2] || !slices.Equal(l.Alerts[2].SameMessage, all[3:]) {
		t.Fatalf("page of 3 %+v", l)
	}
	l.NextAfter = nil
	e.callJSON("GET", fmt.Sprintf("/api/v1/alerts?after=%d", all[2]), "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), all[3:]) || l.NextAfter != nil || !slices.Equal(l.Alerts[0].SameMessage, all[2:3]) {
		t.Fatalf("page after %d: %+v", all[2], l)
	}
	e.callJSON("GET", "/api/v1/alerts?limit=2", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), all[:2]) || l.NextAfter == nil || *l.NextAfter != all[1] {
		t.Fatalf("first page %+v", l)
	}
	l.NextAfter = nil
	e.callJSON("GET", fmt.Sprintf("/api/v1/alerts?limit=2&after=%d", all[1]), "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), all[2:]) || l.NextAfter != nil {
		t.Fatalf("second page %+v", l)
	}
	// Filters.
	e.callJSON("GET", "/api/v1/alerts?rule=zh-guarantee", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), []uint64{all[0], all[2]}) {
		t.Fatalf("rule filter %+v", l)
	}
	e.callJSON("GET", "/api/v1/alerts?rule=en-guarantee&policy=promises", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), []uint64{all[1], all[3]}) {
		t.Fatalf("rule and policy filter %+v", l)
	}
	for _, q := range []string{"policy=other", "department=sales", "status=overdue", "status=closed"} {
		e.callJSON("GET", "/api/v1/alerts?"+q, "", "", nil, 200, &l)
		if len(l.Alerts) != 0 || l.Alerts == nil {
			t.Fatalf("%s: %+v, want an empty list", q, l)
		}
	}

	// Viewing: a review.action view, journaled before the alert is shown.
	before := e.head().JournalSize
	var v struct {
		Alert alertOut `json:"alert"`
		State struct {
			Status   string `json:"status"`
			Viewed   bool   `json:"viewed"`
			Reviewed bool   `json:"reviewed"`
			Actions  int    `json:"actions"`
		} `json:"state"`
		Actions []struct {
			JournalIndex uint64 `json:"journal_index"`
			Actor        string `json:"actor"`
			Action       string `json:"action"`
		} `json:"actions"`
		Text    string `json:"text"`
		Message struct {
			Serial       uint64 `json:"serial"`
			Sender       string `json:"sender"`
			RecordSHA256 string `json:"record_sha256"`
		} `json:"message"`
		ViewJournalIndex uint64 `json:"view_journal_index"`
	}
	e.callJSON("GET", fmt.Sprintf("/api/v1/alerts/%d", all[1]), "alice", "", nil, 200, &v)
	ev := e.lastEvent(before, archive.EventReviewAction)
	var re archive.ReviewEvent
	if err := ev.DecodePayload(&re); err != nil {
		t.Fatal(err)
	}
	if ev.Actor != "api:alice" || re.Action != "view" || len(re.Items) != 1 || re.Items[0].Alert != all[1] || re.Items[0].Serial != 2 {
		t.Fatalf("view event by %q: %+v", ev.Actor, re)
	}
	if v.Alert.ID != all[1] || v.Alert.SameMessage != nil || v.Text != "Returns are guaranteed, trust me" || v.Message.Serial != 2 || v.Message.Sender != "zhangwei" ||
		v.Message.RecordSHA256 != re.Items[0].RecordHash.String() || v.ViewJournalIndex != ev.Index ||
		v.State.Status != "open" || !v.State.Viewed || v.State.Reviewed || v.State.Actions != 1 ||
		len(v.Actions) != 1 || v.Actions[0].Action != "view" || v.Actions[0].Actor != "api:alice" || v.Actions[0].JournalIndex != ev.Index {
		t.Fatalf("alert view %+v", v)
	}

	e.callJSON("GET", fmt.Sprintf("/api/v1/alerts/%d", all[3]), "alice", "", nil, 200, &v)
	if v.Alert.ID != all[3] || !slices.Equal(v.Alert.SameMessage, all[2:3]) || v.Text != "稳赚不赔的机会, guaranteed" {
		t.Fatalf("view of an alert sharing its message %+v", v)
	}

	e.refused("GET", "/api/v1/alerts/999", "", "", nil, 404, "not_found", "999")
	e.refused("GET", "/api/v1/alerts/x", "", "", nil, 400, "bad_parameter", `"id"`)
	e.refused("GET", "/api/v1/alerts/0", "", "", nil, 400, "bad_parameter", "id")
	for q, name := range map[string]string{
		"status=pending": "status", "limit=0": "limit", "limit=1001": "limit", "limit=ten": "limit",
		"after=-1": "after", "sort=time": "sort", "status=open&status=closed": "status",
	} {
		e.refused("GET", "/api/v1/alerts?"+q, "", "", nil, 400, "bad_parameter", name)
	}
}

func TestReviewActionsAndEvidence(t *testing.T) {
	// Eight days on: open alerts are past the default seven-day SLA.
	e := newSupervisionEnvAt(t, func() time.Time { return time.Now().Add(8*24*time.Hour + time.Hour) })
	a := e.seedAlerts()
	act := func(user, body string) uint64 {
		t.Helper()
		before := e.head().JournalSize
		var out struct {
			JournalIndex uint64 `json:"journal_index"`
		}
		e.callJSON("POST", "/api/v1/alerts/actions", user, "application/json", []byte(body), 200, &out)
		ev := e.lastEvent(before, archive.EventReviewAction)
		if out.JournalIndex != ev.Index {
			t.Fatalf("journal_index %d, but the action is at %d", out.JournalIndex, ev.Index)
		}
		return ev.Index
	}
	post := func(user, body string, status int, code, what string) {
		t.Helper()
		e.refused("POST", "/api/v1/alerts/actions", user, "application/json", []byte(body), status, code, what)
	}

	// Closing needs a disposition: refused, nothing journaled.
	post("alice", fmt.Sprintf(`{"action":"close","alerts":[%d]}`, a[0]), 400, "bad_disposition", "disposition")

	// Alert 0: claimed by alice, closed as a false positive.
	idx := act("alice", fmt.Sprintf(`{"action":"claim","alerts":[%d]}`, a[0]))
	ev := e.leaf(idx)
	var re archive.ReviewEvent
	ev.DecodePayload(&re)
	if ev.Actor != "api:alice" || re.Action != "claim" || re.Items[0].Alert != a[0] || re.Items[0].PolicyVersion != 1 || re.Items[0].RecordHash.IsZero() {
		t.Fatalf("claim event by %q: %+v", ev.Actor, re)
	}
	var l alertList
	e.callJSON("GET", "/api/v1/alerts?status=claimed", "", "", nil, 200, &l)
	if len(l.Alerts) != 1 || l.Alerts[0].ID != a[0] || l.Alerts[0].Assignee != "api:alice" || l.Alerts[0].Status != "claimed" || !l.Alerts[0].Overdue {
		t.Fatalf("claimed alerts %+v", l)
	}
	e.callJSON("GET", "/api/v1/alerts?status=unassigned", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), a[1:]) {
		t.Fatalf("unassigned alerts %+v", l)
	}
	act("alice", fmt.Sprintf(`{"action":"close","alerts":[%d],"disposition":"false_positive","note":"quoting the client"}`, a[0]))
	post("bob", fmt.Sprintf(`{"action":"claim","alerts":[%d]}`, a[0]), 409, "conflict", "is closed")

	// Alert 1: escalated; only a principal closes it. An anonymous caller
	// is never one; bob is not; carol is.
	act("alice", fmt.Sprintf(`{"action":"escalate","alerts":[%d],"note":"looks like a real promise"}`, a[1]))
	closeA1 := fmt.Sprintf(`{"action":"close","alerts":[%d],"disposition":"violation","note":"adviser retrained"}`, a[1])
	post("", closeA1, 409, "conflict", "only a principal")
	post("bob", closeA1, 409, "conflict", "only a principal")
	idx = act("carol", closeA1)
	if ev := e.leaf(idx); ev.Actor != "api:carol" {
		t.Fatalf("close by %q", ev.Actor)
	}

	// Alert 2: viewed only. Alert 3: untouched.
	e.callJSON("GET", fmt.Sprintf("/api/v1/alerts/%d", a[2]), "bob", "", nil, 200, nil)

	e.callJSON("GET", "/api/v1/alerts?status=closed", "", "", nil, 200, &l)
	if !slices.Equal(ids(l.Alerts), a[:2]) || l.Alerts[0].AgeDays != 0 || l.Alerts[0].Overdue {
		t.Fatalf("closed alerts %+v", l)
	}
	for _, st := range []string{"open", "overdue"} {
		e.callJSON("GET", "/api/v1/alerts?status="+st, "", "", nil, 200, &l)
		if !slices.Equal(ids(l.Alerts), a[2:]) || l.Alerts[0].Status != "open" || l.Alerts[0].AgeDays != 8 || !l.Alerts[0].Overdue {
			t.Fatalf("%s alerts %+v", st, l)
		}
	}
	var qs struct {
		SLADays int `json:"sla_days"`
		Queues  []struct {
			Policy     string `json:"policy"`
			Department string `json:"department"`
			Open       int    `json:"open"`
			Unassigned int    `json:"unassigned"`
			Escalated  int    `json:"escalated"`
			Overdue    int    `json:"overdue"`
			OldestDays int    `json:"oldest_days"`
		} `json:"queues"`
	}
	e.callJSON("GET", "/api/v1/alerts/queues", "", "", nil, 200, &qs)
	if qs.SLADays != 7 || len(qs.Queues) != 1 {
		t.Fatalf("queues %+v", qs)
	}
	if q := qs.Queues[0]; q.Policy != "promises" || q.Open != 2 || q.Unassigned != 2 || q.Escalated != 0 || q.Overdue != 2 || q.OldestDays != 8 {
		t.Fatalf("queue %+v", q)
	}
	e.refused("GET", "/api/v1/alerts/queues?policy=promises", "", "", nil, 400, "bad_parameter", "policy")

	// Refusals: each names what is wrong and journals nothing.
	post("alice", `{"action":"claim","alerts":[999]}`, 404, "not_found", "alert 999")
	post("alice", fmt.Sprintf(`{"action":"claim","alerts":[%d,%d]}`, a[2], a[1]), 400, "bad_reason", "reason")
	post("alice", fmt.Sprintf(`{"action":"comment","alerts":[%d]}`, a[2]), 400, "bad_note", "note")
	post("alice", fmt.Sprintf(`{"action":"approve","alerts":[%d]}`, a[2]), 400, "bad_action", "approve")
	post("alice", fmt.Sprintf(`{"action":"view","alerts":[%d]}`, a[2]), 400, "bad_action", "GET /api/v1/alerts/{id}")
	post("alice", `{"action":"claim","alerts":[]}`, 400, "bad_alerts", "alerts")
	post("alice", `{"action":"claim","alerts":[0]}`, 400, "bad_alerts", "alerts[0]")
	post("alice", `{"action":"claim","alerts":[-1]}`, 400, "malformed_body", "alerts")
	post("alice", `{"action":"claim","alerts":"1"}`, 400, "malformed_body", "alerts")
	post("alice", fmt.Sprintf(`{"action":"claim","alerts":[%d],"asignee":"bob"}`, a[2]), 400, "malformed_body", "asignee")
	post("alice", `{"action":"claim",`, 400, "malformed_body", "action object")
	post("alice", fmt.Sprintf(`{"action":"claim","alerts":[%d]} {}`, a[2]), 400, "malformed_body", "after")
	e.refused("POST", "/api/v1/alerts/actions", "alice", "text/plain", []byte(`{"action":"claim","alerts":[1]}`), 415, "unsupported_media_type", "Content-Type")

	// The evidence report: reviewed, by whom, how; the viewed alert is
	// not reviewed.
	type row struct {
		Alert       uint64 `json:"alert"`
		Serial      uint64 `json:"serial"`
		Policy      string `json:"policy"`
		Status      string `json:"status"`
		Reviewed    bool   `json:"reviewed"`
		ViewedOnly  bool   `json:"viewed_only"`
		Escalated   bool   `json:"escalated"`
		Reviewer    string `json:"reviewer"`
		ReviewedAt  string `json:"reviewed_at"`
		Disposition string `json:"disposition"`
		Note        string `json:"note"`
		Actions     int    `json:"actions"`
		AgeDays     int    `json:"age_days"`
	}
	var rep struct {
		From, To string
		Alerts   []row
	}
	before := e.head().JournalSize
	e.callJSON("GET", "/api/v1/reports/review-evidence?from=2000-01-01&to=2100-01-01", "", "", nil, 200, &rep)
	if rep.From != "2000-01-01" || rep.To != "2100-01-01" || len(rep.Alerts) != 4 {
		t.Fatalf("evidence %+v", rep)
	}
	if r := rep.Alerts[0]; r.Alert != a[0] || !r.Reviewed || r.ViewedOnly || r.Reviewer != "api:alice" || r.Disposition != "false_positive" || r.ReviewedAt == "" || r.Actions != 2 {
		t.Fatalf("closed alert %+v", r)
	}
	if r := rep.Alerts[1]; !r.Reviewed || !r.Escalated || r.Reviewer != "api:carol" || r.Disposition != "violation" || r.Note != "adviser retrained" {
		t.Fatalf("escalated alert %+v", r)
	}
	if r := rep.Alerts[2]; r.Alert != a[2] || r.Reviewed || !r.ViewedOnly || r.Status != "open" || r.Reviewer != "" || r.AgeDays != 8 {
		t.Fatalf("viewed-only alert %+v", r)
	}
	if r := rep.Alerts[3]; r.Alert != a[3] || r.Reviewed || r.ViewedOnly || r.Actions != 0 {
		t.Fatalf("untouched alert %+v", r)
	}
	e.callJSON("GET", "/api/v1/reports/review-evidence?from=2000-01-01&to=2100-01-01&by=raised", "", "", nil, 200, &rep)
	if len(rep.Alerts) != 4 {
		t.Fatalf("evidence by alert date %+v", rep)
	}
	e.callJSON("GET", "/api/v1/reports/review-evidence?from=2000-01-01&to=2100-01-01&by=seen", "", "", nil, 400, nil)
	e.callJSON("GET", "/api/v1/reports/review-evidence?from=2000-01-01&to=2000-02-01&format=json", "", "", nil, 200, &rep)
	if len(rep.Alerts) != 0 {
		t.Fatalf("evidence of an empty period %+v", rep)
	}

	// CSV: the columns of `wxarchive report review-evidence`.
	resp, b := e.do("GET", "/api/v1/reports/review-evidence?from=2000-01-01&to=2100-01-01&format=csv", "", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("csv %q: %v", b, err)
	}
	if got := strings.Join(recs[0], ","); got != "alert,serial,source_id,policy,policy_version,rule,raised_at,status,reviewed,viewed_only,escalated,reviewer,reviewed_at,disposition,note,actions,age_days,department,sent_at" {
		t.Fatalf("csv header %s", got)
	}
	if r := recs[3]; r[0] != fmt.Sprint(a[2]) || r[8] != "false" || r[9] != "true" {
		t.Fatalf("csv viewed-only row %v", r)
	}
	if h := e.head(); h.JournalSize != before {
		t.Fatalf("the report journaled %d events", h.JournalSize-before)
	}

	for q, name := range map[string]string{
		"to=2100-01-01": "from", "from=2000-01-01": "to", "from=2000-01-01&to=2100-13-01": "to",
		"from=01/01/2000&to=2100-01-01": "from", "from=2000-01-01&to=2100-01-01&format=xml": "format",
		"from=2000-01-01&to=1999-01-01": "to", "from=2000-01-01&to=2100-01-01&status=open": "status",
	} {
		e.refused("GET", "/api/v1/reports/review-evidence?"+q, "", "", nil, 400, "bad_parameter", name)
	}
}
