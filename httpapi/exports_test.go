package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/httpapi"
)

// exportEnv is an env whose server writes productions into
// <archive>/exports, as serve does.
func newExportEnv(t *testing.T) (*env, *app.ExportJobs) {
	t.Helper()
	e := newEnv(t)
	jobs := app.NewExportJobs(app.New(app.FromRepo(e.r)), filepath.Join(e.dir, "exports"))
	if err := jobs.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Before the env's own cleanup (which closes the archive): cleanups
	// run last registered first.
	t.Cleanup(jobs.Close)
	e.restart(httpapi.Options{Exports: jobs})
	return e, jobs
}

// exportCorpus archives 60 text messages: three advisers each writing to a
// client over five days, four a day — one promising a guaranteed return
// (保本), one about returns (收益), two about neither. It returns the
// serial of the first message of each conversation.
func exportCorpus(e *env) [3]uint64 {
	e.t.Helper()
	texts := []string{"您好，这款产品保本保收益，年化收益百分之八。", "基金净值已更新，请查收本月收益报告。", "明天下午三点开会讨论项目材料。", "客户询问赎回流程，已经解答完毕。"}
	base := time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC).UnixMilli()
	var lines [][]byte
	for d := 0; d < 5; d++ {
		for c := 0; c < 3; c++ {
			for k, text := range texts {
				ms := base + int64(d)*86_400_000 + int64(c)*600_000 + int64(k)*60_000
				lines = append(lines, textMsg(fmt.Sprintf("exp-%d-%d-%d", d, c, k), fmt.Sprintf("adviser%d", c), []string{fmt.Sprintf("wmClient%d", c)}, ms,
					fmt.Sprintf("%s（第%d天）", text, d+1)))
			}
		}
	}
	res := e.ingest("", "", jsonLines(lines), 200)
	if res.Archived != len(lines) {
		e.t.Fatalf("archived %d of %d", res.Archived, len(lines))
	}
	var first [3]uint64
	for c := 0; c < 3; c++ {
		first[c] = res.Results[c*4].Serial
	}
	return first
}

type exportJSON struct {
	ID             string   `json:"id"`
	Out            string   `json:"out"`
	State          string   `json:"state"`
	Messages       int      `json:"messages"`
	Units          int      `json:"units"`
	Written        int      `json:"written"`
	Files          int      `json:"files"`
	Formats        []string `json:"formats"`
	ManifestSHA256 string   `json:"manifest_sha256"`
	Actor          string   `json:"actor"`
	Error          string   `json:"error"`
}

// postExport POSTs a production request as token ("" : the tester) and
// requires the status; the answer's body is returned.
func (e *env) postExport(token string, body any, want int) []byte {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/exports", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("POST /api/v1/exports %s: %d, want %d: %s", b, resp.StatusCode, want, out.Bytes())
	}
	if want == http.StatusAccepted {
		var v exportJSON
		json.Unmarshal(out.Bytes(), &v)
		if loc := resp.Header.Get("Location"); loc != "/api/v1/exports/"+v.ID || v.ID == "" {
			e.t.Fatalf("202 Location %q for %s", loc, out.Bytes())
		}
	}
	return out.Bytes()
}

// exportAs creates a production as token and waits for it to finish.
func (e *env) exportAs(token string, body any) exportJSON {
	e.t.Helper()
	var v exportJSON
	if err := json.Unmarshal(e.postExport(token, body, http.StatusAccepted), &v); err != nil {
		e.t.Fatal(err)
	}
	if v.State != "created" && v.State != "running" {
		e.t.Fatalf("created export in state %q", v.State)
	}
	return e.waitExport(token, v.ID)
}

func (e *env) waitExport(token, id string) exportJSON {
	e.t.Helper()
	if token == "" {
		token = e.token
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, b := e.getAs("/api/v1/exports/"+id, token)
		if status != 200 {
			e.t.Fatalf("GET export %s: %d %s", id, status, b)
		}
		var v exportJSON
		if err := json.Unmarshal(b, &v); err != nil {
			e.t.Fatal(err)
		}
		switch v.State {
		case "finished":
			return v
		case "failed":
			e.t.Fatalf("export %s failed: %s", id, v.Error)
		}
		if v.Written > v.Messages {
			e.t.Fatalf("export %s: %d of %d written", id, v.Written, v.Messages)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("export %s still %s after 2 minutes (%d of %d)", id, v.State, v.Written, v.Messages)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// download GETs a file of a production as token.
func (e *env) download(token, id, name string) (*http.Response, []byte) {
	e.t.Helper()
	if token == "" {
		token = e.token
	}
	req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/exports/"+id+"/files/"+name, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func (e *env) exportCount() int {
	e.t.Helper()
	var l struct {
		Exports []json.RawMessage `json:"exports"`
	}
	e.getJSON("/api/v1/exports", 200, &l)
	return len(l.Exports)
}

// TestExportAPI: a production asked for over the API is written in the
// background — every format but PDF — and its progress shown; its
// manifest and a JSONL file download as listed (journaled as accesses),
// and the directory the server wrote verifies offline.
func TestExportAPI(t *testing.T) {
	e, _ := newExportEnv(t)
	exportCorpus(e)
	v := e.exportAs("", map[string]any{"query": "收益", "formats": "jsonl,dat,csv,html,eml,rsmf", "prefix": "ABC"})
	if v.Messages == 0 || v.Written != v.Messages || v.Files == 0 || v.ManifestSHA256 == "" || v.Actor != "api:tester" {
		t.Fatalf("finished export %+v", v)
	}
	if strings.ContainsAny(v.Out, `/\`) {
		t.Fatalf("out %q: want the directory's name under the exports directory", v.Out)
	}
	dir := filepath.Join(e.dir, "exports", v.Out)

	before := e.head().JournalSize
	resp, b := e.download("", v.ID, "manifest.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="manifest.json"; filename*=UTF-8''manifest.json` ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("manifest.json: %d %v", resp.StatusCode, resp.Header)
	}
	if sha(b) != v.ManifestSHA256 {
		t.Fatalf("manifest.json downloaded hashes to %s, the export says %s", sha(b), v.ManifestSHA256)
	}
	e.wantAccess(before, "export:"+v.ID+":manifest.json")
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != v.ID || m.Messages != v.Messages || m.Prefix != "ABC" {
		t.Fatalf("manifest %s %d messages prefix %s, want %s %d ABC", m.ID, m.Messages, m.Prefix, v.ID, v.Messages)
	}
	var jsonl *export.FileEntry
	kinds := map[string]bool{}
	for i, f := range m.Files {
		kinds[strings.ToLower(filepath.Ext(f.Path))] = true
		if strings.HasSuffix(f.Path, ".jsonl") && strings.Contains(f.Path, "/JSONL/") && jsonl == nil {
			jsonl = &m.Files[i]
		}
	}
	for _, ext := range []string{".jsonl", ".dat", ".csv", ".html", ".eml", ".rsmf"} {
		if !kinds[ext] {
			t.Errorf("the manifest lists no %s file: %v", ext, kinds)
		}
	}
	if jsonl == nil {
		t.Fatalf("no JSONL unit file in %+v", m.Files)
	}
	before = e.head().JournalSize
	resp, b = e.download("", v.ID, jsonl.Path)
	if resp.StatusCode != 200 || sha(b) != jsonl.SHA256 || int64(len(b)) != jsonl.Size || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/jsonl") {
		t.Fatalf("%s: %d %d bytes %s, want %d bytes %s", jsonl.Path, resp.StatusCode, len(b), resp.Header.Get("Content-Type"), jsonl.Size, jsonl.SHA256)
	}
	if !strings.Contains(string(b), "收益") {
		t.Fatalf("%s holds no 收益", jsonl.Path)
	}
	e.wantAccess(before, "export:"+v.ID+":"+jsonl.Path)

	// A range of it (a download resumed) is the same bytes.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/exports/"+v.ID+"/files/"+jsonl.Path, nil)
	req.Header.Set("Range", "bytes=10-19")
	rr, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var part bytes.Buffer
	part.ReadFrom(rr.Body)
	rr.Body.Close()
	if rr.StatusCode != http.StatusPartialContent || part.String() != string(b[10:20]) {
		t.Fatalf("range: %d %q, want 206 %q", rr.StatusCode, part.String(), b[10:20])
	}

	rep, err := export.Verify(dir, e.r.Config.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Messages != v.Messages || rep.ID != v.ID {
		t.Fatalf("verify-export of %s: %+v", dir, rep)
	}

	// The list shows it finished; the status of an unknown export is 404.
	var l struct {
		Exports []struct {
			ID, State string
			Written   int
		} `json:"exports"`
	}
	e.getJSON("/api/v1/exports", 200, &l)
	if len(l.Exports) != 1 || l.Exports[0].ID != v.ID || l.Exports[0].State != "finished" || l.Exports[0].Written != v.Messages {
		t.Fatalf("list %+v", l)
	}
	e.wantError("GET", "/api/v1/exports/export-999999", nil, 404, "not_found")
}

// TestExportRegulatorScope: a regulator's production holds only what
// their scope reaches — a query, or a conversation — fewer messages than
// a supervising principal's of the same request; a regulator neither sees
// nor downloads another user's production (403), while a principal reads
// theirs.
func TestExportRegulatorScope(t *testing.T) {
	e, _ := newExportEnv(t)
	first := exportCorpus(e)
	var mv struct {
		Message struct {
			Conversation string `json:"conversation"`
		} `json:"message"`
	}
	e.getJSON(fmt.Sprintf("/api/v1/messages/%d", first[0]), 200, &mv)
	conv := mv.Message.Conversation
	if conv == "" {
		t.Fatal("no conversation id")
	}
	expires := time.Now().Add(time.Hour)
	byQuery := e.auth.BearerFor(&auth.Identity{User: "examiner", Roles: []auth.Role{auth.Regulator}, Scope: &auth.Scope{Query: "保本"}, Expires: expires})
	byConv := e.auth.BearerFor(&auth.Identity{User: "examiner2", Roles: []auth.Role{auth.Regulator}, Scope: &auth.Scope{Conversations: []string{conv}}, Expires: expires})
	boss := e.auth.Bearer("boss", auth.Principal)

	req := map[string]any{"query": "收益", "formats": []string{"jsonl", "csv"}}
	all := e.exportAs("", req)
	q := e.exportAs(byQuery, req)
	c := e.exportAs(byConv, req)
	both := e.exportAs("", map[string]any{"query": "收益 保本", "formats": "jsonl"})
	inConv := e.exportAs("", map[string]any{"query": "收益", "conversations": []string{conv}, "formats": "jsonl"})
	if all.Messages != 30 || q.Messages != both.Messages || q.Messages == 0 || q.Messages >= all.Messages ||
		c.Messages != inConv.Messages || c.Messages != 10 {
		t.Fatalf("messages: principal %d, regulator by query %d (want %d), by conversation %d (want %d of 10)",
			all.Messages, q.Messages, both.Messages, c.Messages, inConv.Messages)
	}
	for _, x := range []struct {
		token string
		v     exportJSON
	}{{byQuery, q}, {byConv, c}} {
		resp, b := e.download(x.token, x.v.ID, "manifest.json")
		var m export.Manifest
		if resp.StatusCode != 200 || json.Unmarshal(b, &m) != nil || m.Messages != x.v.Messages {
			t.Fatalf("the regulator's own manifest: %d, %d messages, want %d", resp.StatusCode, m.Messages, x.v.Messages)
		}
		rep, err := export.Verify(filepath.Join(e.dir, "exports", x.v.Out), e.r.Config.PublicKey)
		if err != nil || !rep.OK() {
			t.Fatalf("verify %s: %v %+v", x.v.ID, err, rep)
		}
	}

	// Another user's production: refused to a regulator, whoever made it.
	before := e.head().JournalSize
	for _, id := range []string{all.ID, c.ID} {
		resp, b := e.download(byQuery, id, "manifest.json")
		if resp.StatusCode != 403 || !strings.Contains(string(b), "forbidden") {
			t.Fatalf("regulator downloading %s: %d %s, want 403", id, resp.StatusCode, b)
		}
		if status, b := e.getAs("/api/v1/exports/"+id, byQuery); status != 403 {
			t.Fatalf("regulator reading %s: %d %s, want 403", id, status, b)
		}
	}
	if h := e.head().JournalSize; h != before {
		t.Fatalf("refused downloads journaled %d events", h-before)
	}
	// …and not listed to them: they see their own only.
	status, b := e.getAs("/api/v1/exports", byQuery)
	var l struct {
		Exports []struct{ ID string } `json:"exports"`
	}
	if json.Unmarshal(b, &l); status != 200 || len(l.Exports) != 1 || l.Exports[0].ID != q.ID {
		t.Fatalf("regulator's list: %d %s", status, b)
	}
	// A supervising principal reads anyone's.
	if resp, _ := e.download(boss, q.ID, "manifest.json"); resp.StatusCode != 200 {
		t.Fatalf("principal downloading the regulator's production: %d", resp.StatusCode)
	}
	// Roles without the export permission never reach it.
	for _, r := range []auth.Role{auth.Admin, auth.Reviewer, auth.Auditor, auth.Ingest} {
		if resp, _ := e.download(e.auth.Bearer("as-"+string(r), r), all.ID, "manifest.json"); resp.StatusCode != 403 {
			t.Fatalf("%s downloading: %d, want 403", r, resp.StatusCode)
		}
	}
}

// TestExportBadRequests: a request to change is refused naming the
// field; nothing is journaled, no directory is created.
func TestExportBadRequests(t *testing.T) {
	e, _ := newExportEnv(t)
	exportCorpus(e)
	count, size := e.exportCount(), e.head().JournalSize
	for _, tc := range []struct {
		body       any
		code, says string
	}{
		{map[string]any{"query": "收益", "formats": []string{"jsonl", "docx"}}, "bad_parameter", "formats: unknown format \"docx\""},
		{map[string]any{"query": "收益", "formats": "jsonl,docx"}, "bad_parameter", "formats:"},
		{map[string]any{"query": "收益"}, "bad_parameter", "formats:"},
		{map[string]any{"query": `保本 "收益`, "formats": "jsonl"}, "bad_query", "query"},
		{map[string]any{"query": "保本 OR", "formats": "jsonl"}, "bad_query", "query"},
		{map[string]any{"hold": "no-such-hold", "formats": "jsonl"}, "bad_parameter", "hold:"},
		{map[string]any{"query": "收益", "from": "2026-13-01", "formats": "jsonl"}, "bad_parameter", "from:"},
		{map[string]any{"query": "收益", "from": "2026-02-01", "to": "2026-01-01", "formats": "jsonl"}, "bad_parameter", "to:"},
		{map[string]any{"custodians": []string{"nobody"}, "formats": "jsonl"}, "bad_parameter", "custodians:"},
		{map[string]any{"formats": "jsonl"}, "bad_parameter", "scope:"},
		{map[string]any{"query": "收益", "formats": "jsonl", "prefix": "abc"}, "bad_parameter", "prefix:"},
		{map[string]any{"query": "收益", "formats": "jsonl", "volume_size": 5}, "bad_parameter", "volume_size:"},
		{map[string]any{"query": "收益", "formats": "jsonl", "load_encoding": "latin1"}, "bad_parameter", "load_encoding:"},
		{map[string]any{"query": "收益", "formats": 5}, "malformed_body", "formats:"},
		{map[string]any{"query": "收益", "formats": "jsonl", "out": "/tmp/elsewhere"}, "malformed_body", "out"},
		{map[string]any{"query": "收益", "formats": "jsonl", "font": "/etc/passwd"}, "malformed_body", "font"},
		{map[string]any{"query": "收益", "formats": "jsonl", "custodians": "adviser0"}, "malformed_body", "custodians"},
	} {
		b := e.postExport("", tc.body, 400)
		var out struct{ Error apiErr }
		if json.Unmarshal(b, &out); out.Error.Code != tc.code || !strings.Contains(out.Error.Message, tc.says) {
			t.Errorf("%v: %s, want %s naming %q", tc.body, b, tc.code, tc.says)
		}
	}
	resp, b := e.do("POST", "/api/v1/exports", "", "text/plain", strings.NewReader(`{"query":"收益","formats":"jsonl"}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %d %s", resp.StatusCode, b)
	}
	e.wantError("POST", "/api/v1/exports?out=x", []byte(`{}`), 400, "bad_parameter")
	if n := e.exportCount(); n != count {
		t.Fatalf("%d exports after refused requests, %d before", n, count)
	}
	if h := e.head().JournalSize; h != size {
		t.Fatalf("refused requests journaled %d events", h-size)
	}
	if ents, err := os.ReadDir(filepath.Join(e.dir, "exports")); err == nil && len(ents) > 0 {
		t.Fatalf("refused requests left %d entries in the exports directory (%s…)", len(ents), ents[0].Name())
	}
}

// TestExportFileTraversal: only files the manifest lists are served —
// never a path out of the production, an absolute one, or a file placed
// in it afterwards; nothing refused is journaled.
func TestExportFileTraversal(t *testing.T) {
	e, _ := newExportEnv(t)
	exportCorpus(e)
	v := e.exportAs("", map[string]any{"query": "保本", "formats": "jsonl"})
	dir := filepath.Join(e.dir, "exports", v.Out)
	if err := os.WriteFile(filepath.Join(dir, "planted.txt"), []byte("not listed"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.head().JournalSize
	const redirect, bad, absent = http.StatusTemporaryRedirect, http.StatusBadRequest, http.StatusNotFound
	for _, tc := range []struct {
		p    string
		want int
	}{
		{"../../../wxarchive.yaml", redirect}, {"VOL001/../manifest.json", redirect}, {"./manifest.json", redirect},
		{"/etc/passwd", redirect}, {"VOL001//JSONL", redirect},
		{"..%2F..%2Fwxarchive.yaml", bad}, {"%2e%2e/%2e%2e/wxarchive.yaml", bad}, {"%2e%2e%2f%2e%2e%2fwxarchive.yaml", bad},
		{"VOL001%2F..%2Fmanifest.json", bad}, {"%2Fetc%2Fpasswd", bad}, {"..%5C..%5Cwxarchive.yaml", bad}, {"%00", bad},
		{"etc/passwd", absent}, {"planted.txt", absent}, {".export/job.json", absent}, {"VOL001", absent},
		{"manifest.json.tmp", absent}, {"nope", absent},
	} {
		p := tc.p
		// Not following redirects: net/http's mux answers a path with a
		// "." or ".." segment or an empty one with a 307 to its cleaned
		// form — nothing of the production is read for it — and the
		// cleaned path is asked like any other (below, or a route that is
		// not this one).
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/exports/"+v.ID+"/files/"+p, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		b := buf.Bytes()
		if resp.StatusCode != tc.want {
			t.Errorf("GET files/%s: %d %s, want %d", p, resp.StatusCode, b, tc.want)
		}
		if bytes.Contains(b, []byte("not listed")) || bytes.Contains(b, []byte("archive_id")) {
			t.Errorf("GET files/%s served a file: %s", p, b)
		}
	}
	if h := e.head().JournalSize; h != before {
		t.Fatalf("refused paths journaled %d events", h-before)
	}
	// An unfinished or unknown production has no files.
	if resp, _ := e.download("", "export-999999", "manifest.json"); resp.StatusCode != 404 {
		t.Fatalf("unknown export: %d", resp.StatusCode)
	}
}

// TestExportUnavailable: a server without a production manager (a
// read-only archive) answers the export routes 503, after authorizing.
func TestExportUnavailable(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/exports", "/api/v1/exports/export-1", "/api/v1/exports/export-1/files/manifest.json"} {
		ae := e.wantError("GET", p, nil, 503, "unavailable")
		if !strings.Contains(ae.Message, "read-only") {
			t.Fatalf("%s: %+v", p, ae)
		}
	}
	if status, _ := e.getAs("/api/v1/exports", e.auth.Bearer("rev", auth.Reviewer)); status != 403 {
		t.Fatalf("reviewer: %d, want 403 before 503", status)
	}
}
