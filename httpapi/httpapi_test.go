package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

const (
	fixturePath = "../capture/wecom/msgaudit/testdata/all-types.jsonl"
	ingestPath  = "/api/v1/ingest/wecom-archive"
)

// ---------------------------------------------------------------------------
// Test environment: one archive, one engine, one server.

type env struct {
	t       *testing.T
	dir     string
	scratch string
	r       *repo.Repo
	reg     *prometheus.Registry
	srv     *httptest.Server
	done    bool
	// auth knows the test's users; token is the default caller's
	// (tester, every role but admin), sent by do and call.
	auth   *archivetest.Auth
	token  string
	tokens map[string]string // by user, for call
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, httpapi.Options{}, nil)
}

// newEnvWith is newEnv with server options, and configure (if not nil)
// run on the archive directory before it is opened.
func newEnvWith(t *testing.T, opts httpapi.Options, configure func(dir string)) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), opts, configure)
}

// newEnvIn is newEnvWith with the archive in dir.
func newEnvIn(t *testing.T, dir string, opts httpapi.Options, configure func(dir string)) *env {
	t.Helper()
	ctx := context.Background()
	// Without the default policies: the tests name journal indexes.
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(dir)
	}
	reg := prometheus.NewRegistry()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true, Metrics: ingest.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, scratch: t.TempDir(), r: r, reg: reg}
	opts.Gatherer = reg
	if opts.Ingesters == nil {
		opts.Ingesters = archivetest.Ingesters(r, nil)
	}
	if opts.Auth == nil {
		e.auth = archivetest.NewAuth()
		e.token = e.auth.Bearer("tester", archivetest.AllRoles...)
		opts.Auth = e.auth
	}
	e.srv = httptest.NewServer(httpapi.New(r, opts))
	e.authorize()
	t.Cleanup(func() { e.finish() })
	return e
}

// authorize makes the test server's client send the default caller's
// token with every request that carries no Authorization of its own.
func (e *env) authorize() {
	if e.token == "" {
		return
	}
	c := e.srv.Client()
	c.Transport = bearerTransport{base: c.Transport, token: e.token}
}

type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := req.Header["Authorization"]; !ok {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(req)
}

// finish stops the server, closes (and so seals) the archive, and requires
// verify to find it clean. It runs at the end of every test.
func (e *env) finish() *verify.Report {
	t := e.t
	t.Helper()
	if e.done {
		return nil
	}
	e.done = true
	e.srv.Close()
	ctx := context.Background()
	if err := e.r.Close(ctx); err != nil {
		t.Errorf("close archive: %v", err)
		return nil
	}
	ro, err := archivetest.Open(ctx, e.dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Errorf("open read-only: %v", err)
		return nil
	}
	defer ro.Close(ctx)
	rep, err := verify.Run(ctx, ro, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: e.scratch})
	if err != nil {
		t.Errorf("verify.Run: %v", err)
		return nil
	}
	if !rep.OK {
		t.Errorf("verify found faults after API use: %+v", rep.Faults)
	}
	return rep
}

func (e *env) do(method, path, accept, contentType string, body io.Reader) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

func (e *env) get(path string) (int, []byte) {
	e.t.Helper()
	resp, b := e.do("GET", path, "", "", nil)
	return resp.StatusCode, b
}

// getAs GETs path with the given bearer token.
func (e *env) getAs(path, token string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getJSON GETs path, requires the status and decodes the body into v.
func (e *env) getJSON(path string, want int, v any) {
	e.t.Helper()
	resp, b := e.do("GET", path, "", "", nil)
	if resp.StatusCode != want {
		e.t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, want, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: decode %s: %v", path, b, err)
	}
}

// wantError requires a JSON error answer with the status and code.
func (e *env) wantError(method, path string, body []byte, status int, code string) apiErr {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ct := ""
	if method == "POST" && strings.HasPrefix(path, ingestPath) {
		ct = "application/json" // ingest takes JSON only (TestIngestContentType)
	}
	resp, b := e.do(method, path, "", ct, rd)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, status, b)
	}
	var out struct {
		Error apiErr `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("%s %s: error body is not JSON: %q: %v", method, path, b, err)
	}
	if out.Error.Code != code || out.Error.Message == "" {
		e.t.Fatalf("%s %s: error %+v, want code %q and a message", method, path, out.Error, code)
	}
	return out.Error
}

type apiErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type ingestEntry struct {
	Entry        int    `json:"entry"`
	MsgID        string `json:"msgid"`
	Outcome      string `json:"outcome"`
	Serial       uint64 `json:"serial"`
	Version      int    `json:"version"`
	JournalIndex uint64 `json:"journal_index"`
	Error        *struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"error"`
}

type ingestResp struct {
	Archived   int           `json:"archived"`
	Duplicates int           `json:"duplicates"`
	Conflicts  int           `json:"conflicts"`
	Rejected   int           `json:"rejected"`
	Results    []ingestEntry `json:"results"`
}

// ingest POSTs a body and requires the status. An empty contentType is
// application/x-ndjson (ingest takes JSON only: TestIngestContentType).
func (e *env) ingest(query, contentType string, body []byte, want int) ingestResp {
	e.t.Helper()
	if contentType == "" {
		contentType = "application/x-ndjson"
	}
	resp, b := e.do("POST", ingestPath+query, "", contentType, bytes.NewReader(body))
	if resp.StatusCode != want {
		e.t.Fatalf("POST %s: status %d, want %d: %s", query, resp.StatusCode, want, b)
	}
	var out ingestResp
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("POST: decode %s: %v", b, err)
	}
	return out
}

func (e *env) head() store.Head {
	e.t.Helper()
	h, err := e.r.Store.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// leaf reads and parses journal leaf idx.
func (e *env) leaf(idx uint64) *journal.Event {
	e.t.Helper()
	var raw []byte
	err := e.r.Store.Leaves(context.Background(), idx, idx+1, func(_ uint64, _, l []byte) error { raw = l; return nil })
	if err != nil || raw == nil {
		e.t.Fatalf("leaf %d: %v", idx, err)
	}
	ev, err := journal.ParseLeaf(idx, raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// wantAccess requires that the journal grew by exactly one access.view
// event since before, naming serials.
func (e *env) wantAccess(before uint64, what string, serials ...uint64) {
	e.t.Helper()
	h := e.head()
	if h.JournalSize != before+1 {
		e.t.Fatalf("journal size %d after the request, want %d (one access event)", h.JournalSize, before+1)
	}
	ev := e.leaf(before)
	if ev.Type != archive.EventAccessView || ev.Actor != "api:tester" {
		e.t.Fatalf("last leaf: type %q actor %q, want access.view by the authenticated api:tester", ev.Type, ev.Actor)
	}
	var p archive.AccessEvent
	if err := ev.DecodePayload(&p); err != nil {
		e.t.Fatal(err)
	}
	if p.What != what || p.Via != "api" || !slices.Equal(p.Serials, serials) {
		e.t.Fatalf("access payload %+v, want what=%s via=api serials=%v", p, what, serials)
	}
	var subj []string
	for _, s := range serials {
		subj = append(subj, fmt.Sprintf("serial:%d", s))
	}
	if !slices.Equal(ev.Subject, subj) {
		e.t.Fatalf("access subject %v, want %v", ev.Subject, subj)
	}
}

// metrics scrapes /metrics into "name{labels}" → value.
func (e *env) metrics() map[string]float64 {
	e.t.Helper()
	status, b := e.getAs("/metrics", e.auth.Bearer("metrics-reader", auth.Admin))
	if status != 200 {
		e.t.Fatalf("/metrics: %d %s", status, b)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// ---------------------------------------------------------------------------
// Inputs.

func fixtureLines(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) != 32 {
		t.Fatalf("fixture has %d lines, want 32", len(lines))
	}
	return lines
}

func jsonLines(lines [][]byte) []byte {
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func jsonArray(lines [][]byte) []byte {
	return append(append([]byte("[\n  "), bytes.Join(lines, []byte(",\n  "))...), "\n]"...)
}

// textMsg builds a text message in the fixture's shape.
func textMsg(msgid, from string, to []string, ms int64, content string) []byte {
	m := struct {
		MsgID   string   `json:"msgid"`
		Action  string   `json:"action"`
		From    string   `json:"from"`
		ToList  []string `json:"tolist"`
		RoomID  string   `json:"roomid"`
		MsgTime int64    `json:"msgtime"`
		MsgType string   `json:"msgtype"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}{MsgID: msgid, Action: "send", From: from, ToList: to, MsgTime: ms, MsgType: "text"}
	m.Text.Content = content
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// wantArchived requires every entry archived, with serials first, first+1…
// and journal indexes strictly increasing.
func wantArchived(t *testing.T, res ingestResp, first uint64, n int) {
	t.Helper()
	if res.Archived != n || res.Duplicates != 0 || res.Conflicts != 0 || res.Rejected != 0 || len(res.Results) != n {
		t.Fatalf("summary archived=%d dup=%d conf=%d rej=%d results=%d, want %d archived",
			res.Archived, res.Duplicates, res.Conflicts, res.Rejected, len(res.Results), n)
	}
	for i, r := range res.Results {
		if r.Entry != i+1 || r.Outcome != "archived" || r.Serial != first+uint64(i) || r.Version != 1 || r.Error != nil {
			t.Fatalf("entry %d: %+v, want archived serial %d version 1", i+1, r, first+uint64(i))
		}
		if i > 0 && r.JournalIndex <= res.Results[i-1].JournalIndex {
			t.Fatalf("entry %d: journal_index %d not after %d", i+1, r.JournalIndex, res.Results[i-1].JournalIndex)
		}
	}
}

func fixtureMsgID(t *testing.T, line []byte) string {
	t.Helper()
	var m struct {
		MsgID string `json:"msgid"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	return m.MsgID
}

// ---------------------------------------------------------------------------
// Proofs.

type proofJSON struct {
	LeafIndex  uint64   `json:"leaf_index"`
	TreeSize   uint64   `json:"tree_size"`
	Leaf       string   `json:"leaf"`
	LeafHash   string   `json:"leaf_hash"`
	Hashes     []string `json:"hashes"`
	RootHash   string   `json:"root_hash"`
	Checkpoint string   `json:"checkpoint"`
	PublicKey  string   `json:"public_key"`
	Verified   bool     `json:"verified"`
}

// checkProof verifies an inclusion proof offline, trusting only the
// archive's configured origin and public key, and returns the proven leaf.
func checkProof(t *testing.T, cfg *repo.Config, p *proofJSON) *journal.Event {
	t.Helper()
	if p == nil {
		t.Fatal("no proof")
	}
	if !p.Verified {
		t.Fatalf("proof.verified is false: %+v", p)
	}
	if p.PublicKey != cfg.PublicKey {
		t.Fatalf("proof public_key %q, want %q", p.PublicKey, cfg.PublicKey)
	}
	leaf := []byte(p.Leaf)
	lh := journal.LeafHash(leaf)
	if p.LeafHash != hex.EncodeToString(lh) {
		t.Fatalf("leaf_hash %s, but the leaf hashes to %x", p.LeafHash, lh)
	}
	hs := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		hs[i] = unhex(t, h)
	}
	root := unhex(t, p.RootHash)
	if err := journal.VerifyInclusion(p.LeafIndex, p.TreeSize, lh, hs, root); err != nil {
		t.Fatalf("inclusion of leaf %d in %d does not verify: %v", p.LeafIndex, p.TreeSize, err)
	}
	v, err := journal.NewVerifier(cfg.Origin, cfg.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := v.Open([]byte(p.Checkpoint))
	if err != nil {
		t.Fatalf("proof checkpoint does not verify: %v", err)
	}
	if cp.Size != p.TreeSize || !bytes.Equal(cp.Root, root) || cp.Origin != cfg.Origin {
		t.Fatalf("checkpoint %d %x %s does not match the proof's tree %d %s", cp.Size, cp.Root, cp.Origin, p.TreeSize, p.RootHash)
	}
	// A tampered leaf must not verify with the same path.
	bad := append([]byte(nil), leaf...)
	bad[len(bad)/2] ^= 1
	if journal.VerifyInclusion(p.LeafIndex, p.TreeSize, journal.LeafHash(bad), hs, root) == nil {
		t.Fatal("a tampered leaf verifies")
	}
	ev, err := journal.ParseLeaf(p.LeafIndex, leaf)
	if err != nil {
		t.Fatalf("proof leaf: %v", err)
	}
	return ev
}

type messageJSON struct {
	Serial        uint64  `json:"serial"`
	Version       int     `json:"version"`
	ConflictsWith uint64  `json:"conflicts_with"`
	RecalledBy    uint64  `json:"recalled_by"`
	RefersTo      *uint64 `json:"refers_to_serial"`
	Origin        string  `json:"origin"`
	Message       struct {
		Source     string   `json:"source"`
		SourceID   string   `json:"source_id"`
		Kind       string   `json:"kind"`
		Action     string   `json:"action"`
		Sender     string   `json:"sender"`
		Recipients []string `json:"recipients"`
		Text       string   `json:"text"`
	} `json:"message"`
	Raw          string     `json:"raw"`
	RawBase64    []byte     `json:"raw_base64"`
	RawSHA256    string     `json:"raw_sha256"`
	RecordSHA256 string     `json:"record_sha256"`
	Sealed       string     `json:"sealed"`
	Proof        *proofJSON `json:"proof"`
}

// message GETs a serial, checks the access event it journals and its
// proof, and returns the view.
func (e *env) message(serial uint64) messageJSON {
	e.t.Helper()
	before := e.head().JournalSize
	var m messageJSON
	e.getJSON(fmt.Sprintf("/api/v1/messages/%d", serial), 200, &m)
	e.wantAccess(before, "message", serial)
	if m.Serial != serial {
		e.t.Fatalf("serial %d, want %d", m.Serial, serial)
	}
	ev := checkProof(e.t, e.r.Config, m.Proof)
	if ev.Type != archive.EventMessageArchived && ev.Type != archive.EventMessageConflict {
		e.t.Fatalf("serial %d is proven by a %s leaf", serial, ev.Type)
	}
	var p archive.MessageEvent
	if err := ev.DecodePayload(&p); err != nil {
		e.t.Fatal(err)
	}
	if p.Serial != serial || p.Raw.String() != m.RawSHA256 || p.Record.String() != m.RecordSHA256 ||
		p.SourceID != m.Message.SourceID || p.Source != m.Message.Source || p.Version != m.Version {
		e.t.Fatalf("proven leaf %+v does not describe the view (serial %d raw %s record %s)", p, serial, m.RawSHA256, m.RecordSHA256)
	}
	if sha([]byte(m.Raw)) != m.RawSHA256 {
		e.t.Fatalf("raw_sha256 %s is not the SHA-256 of raw (%s)", m.RawSHA256, sha([]byte(m.Raw)))
	}
	return m
}

// ---------------------------------------------------------------------------
// 1. Ingest: one object, an array, JSON lines; duplicates, conflicts, corp.

func TestIngestOneObject(t *testing.T) {
	e := newEnv(t)
	msg := textMsg("api0001_1700100000", "zhangwei", []string{"wmExtClient001"}, 1700100000000, "王总，合同已经发到您邮箱，请查收。")
	res := e.ingest("", "application/json", msg, 200)
	wantArchived(t, res, 1, 1)
	// Leaf 0 is archive.created; the message is the next event.
	if res.Results[0].JournalIndex != 1 || res.Results[0].MsgID != "api0001_1700100000" {
		t.Fatalf("result %+v, want journal_index 1 and the msgid", res.Results[0])
	}
	m := e.message(1)
	if m.Raw != string(msg) || m.RawSHA256 != sha(msg) {
		t.Fatalf("raw %q (%s), want the posted bytes %q", m.Raw, m.RawSHA256, msg)
	}
	if m.Message.Source != "wecom-archive:default" || m.Message.SourceID != "api0001_1700100000" ||
		m.Message.Kind != "text" || m.Message.Text != "王总，合同已经发到您邮箱，请查收。" || m.Message.Sender != "zhangwei" {
		t.Fatalf("normalized message %+v", m.Message)
	}
	if m.Sealed != "pending" {
		t.Fatalf("sealed %q before any seal, want pending", m.Sealed)
	}

	// The same bytes again: nothing new.
	size := e.head().JournalSize
	again := e.ingest("", "application/json", msg, 200)
	if again.Duplicates != 1 || again.Archived != 0 || len(again.Results) != 1 {
		t.Fatalf("repost: %+v", again)
	}
	if r := again.Results[0]; r.Outcome != "duplicate" || r.Serial != 1 || r.Version != 1 || r.Error != nil {
		t.Fatalf("repost result %+v, want duplicate of serial 1", r)
	}
	if h := e.head(); h.JournalSize != size || h.NextSerial != 2 {
		t.Fatalf("a duplicate wrote something: journal %d→%d, next serial %d", size, h.JournalSize, h.NextSerial)
	}
}

func TestIngestFixtureArray(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	res := e.ingest("", "application/json", jsonArray(lines), 200)
	wantArchived(t, res, 1, 32)
	for i, r := range res.Results {
		if want := fixtureMsgID(t, lines[i]); r.MsgID != want {
			t.Fatalf("entry %d msgid %q, want %q", i+1, r.MsgID, want)
		}
		// One event per message, right after archive.created.
		if r.JournalIndex != uint64(i+1) {
			t.Fatalf("entry %d journal_index %d, want %d", i+1, r.JournalIndex, i+1)
		}
	}
	// An array element's raw record is exactly the element's bytes.
	for _, s := range []uint64{1, 16, 32} {
		m := e.message(s)
		if m.Raw != string(lines[s-1]) {
			t.Fatalf("serial %d raw %q, want %q", s, m.Raw, lines[s-1])
		}
	}
	again := e.ingest("", "application/json", jsonArray(lines), 200)
	if again.Duplicates != 32 || again.Archived != 0 || len(again.Results) != 32 {
		t.Fatalf("repost: archived %d duplicates %d", again.Archived, again.Duplicates)
	}
	for i, r := range again.Results {
		if r.Outcome != "duplicate" || r.Serial != res.Results[i].Serial || r.Version != 1 {
			t.Fatalf("repost entry %d: %+v, want duplicate of serial %d", i+1, r, res.Results[i].Serial)
		}
	}
}

func TestIngestFixtureJSONLinesCorpAndConflict(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	body := jsonLines(lines)
	res := e.ingest("", "application/x-ndjson", body, 200)
	wantArchived(t, res, 1, 32)
	for i, r := range res.Results {
		if want := fixtureMsgID(t, lines[i]); r.MsgID != want || r.JournalIndex != uint64(i+1) {
			t.Fatalf("entry %d: msgid %q journal_index %d, want %q %d", i+1, r.MsgID, r.JournalIndex, want, i+1)
		}
	}
	again := e.ingest("", "application/x-ndjson", body, 200)
	if again.Duplicates != 32 {
		t.Fatalf("repost: %d duplicates", again.Duplicates)
	}
	for i, r := range again.Results {
		if r.Outcome != "duplicate" || r.Serial != uint64(i+1) {
			t.Fatalf("repost entry %d: %+v", i+1, r)
		}
	}

	// Another corp is another source: the same msgids are new messages there.
	corp := e.ingest("?corp=ww5f3c9a1e2b7d4068", "application/x-ndjson", body, 200)
	wantArchived(t, corp, 33, 32)
	if m := e.message(33); m.Message.Source != "wecom-archive:ww5f3c9a1e2b7d4068" || m.Message.SourceID != "fx0001_1700000001" || m.Raw != string(lines[0]) {
		t.Fatalf("corp message: source %q id %q raw %q", m.Message.Source, m.Message.SourceID, m.Raw)
	}
	if m := e.message(1); m.Message.Source != "wecom-archive:default" {
		t.Fatalf("default corp source %q", m.Message.Source)
	}
	// The recall in the corp source links to the corp's own message.
	if m := e.message(38); m.RefersTo == nil || *m.RefersTo != 37 {
		t.Fatalf("corp recall refers_to_serial %v, want 37", m.RefersTo)
	}

	// A changed message under an existing msgid is a second version.
	edited := textMsg("fx0001_1700000001", "zhangwei", []string{"wmExtClient001"}, 1700000060000, "王总您好，资料已发（已修改）。")
	conf := e.ingest("", "application/json", edited, 200)
	if conf.Conflicts != 1 || len(conf.Results) != 1 {
		t.Fatalf("conflict summary %+v", conf)
	}
	c := conf.Results[0]
	if c.Outcome != "conflict" || c.Version != 2 || c.Serial != 65 || c.MsgID != "fx0001_1700000001" {
		t.Fatalf("conflict result %+v, want conflict version 2 serial 65", c)
	}
	m := e.message(65)
	if m.Version != 2 || m.ConflictsWith != 1 || m.Raw != string(edited) || m.Message.Text != "王总您好，资料已发（已修改）。" {
		t.Fatalf("conflict view: version %d conflicts_with %d raw %q", m.Version, m.ConflictsWith, m.Raw)
	}
	if ev := e.leaf(c.JournalIndex); ev.Type != archive.EventMessageConflict {
		t.Fatalf("conflict journal_index %d holds a %s event", c.JournalIndex, ev.Type)
	}
	// Both versions are duplicates now; version 1 is untouched.
	both := e.ingest("", "application/x-ndjson", jsonLines([][]byte{lines[0], edited}), 200)
	if both.Results[0].Outcome != "duplicate" || both.Results[0].Serial != 1 || both.Results[0].Version != 1 ||
		both.Results[1].Outcome != "duplicate" || both.Results[1].Serial != 65 || both.Results[1].Version != 2 {
		t.Fatalf("repost of both versions: %+v", both.Results)
	}
	if m := e.message(1); m.Raw != string(lines[0]) || m.Version != 1 {
		t.Fatalf("version 1 changed: %q", m.Raw)
	}
	// A conflict with the corp's copy is independent of the default source.
	corpConf := e.ingest("?corp=ww5f3c9a1e2b7d4068", "", edited, 200)
	if r := corpConf.Results[0]; r.Outcome != "conflict" || r.Serial != 66 || r.Version != 2 {
		t.Fatalf("corp conflict %+v", r)
	}
}

// A duplicate's journal_index should point at the event that archived the
// version it duplicates (ingest.Result documents JournalIndex as "of the
// event that archived this version"), not at leaf 0 (archive.created).
func TestIngestDuplicateJournalIndex(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)[:3]
	first := e.ingest("", "", jsonLines(lines), 200)
	again := e.ingest("", "", jsonLines(lines), 200)
	for i := range lines {
		if again.Results[i].Outcome != "duplicate" || again.Results[i].JournalIndex != first.Results[i].JournalIndex {
			t.Errorf("entry %d: duplicate journal_index %d, want %d (the archived version's event)",
				i+1, again.Results[i].JournalIndex, first.Results[i].JournalIndex)
		}
	}
	// Within one request too.
	msg := textMsg("dup_in_batch", "zhangwei", []string{"wmExtClient001"}, 1700100000000, "同一请求里的重复")
	in := e.ingest("", "", jsonLines([][]byte{msg, msg}), 200)
	if in.Results[1].Outcome != "duplicate" || in.Results[1].JournalIndex != in.Results[0].JournalIndex {
		t.Errorf("in-request duplicate: %+v, want journal_index %d", in.Results[1], in.Results[0].JournalIndex)
	}
}

// One JSON object spread over several lines (how most HTTP clients and
// people pretty-print JSON) is one message, per the README ("one message,
// a JSON array, or JSON lines").
func TestIngestPrettyPrintedObject(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	if err := json.Indent(&buf, textMsg("pretty_0001", "lina", []string{"wmExtClient003"}, 1700200000000, "格式化的 JSON 也是一条消息"), "", "  "); err != nil {
		t.Fatal(err)
	}
	out := e.ingest("", "application/json", buf.Bytes(), 200)
	wantArchived(t, out, 1, 1)
	if m := e.message(1); m.Raw != buf.String() {
		t.Fatalf("raw %q, want the posted bytes", m.Raw)
	}
}

// ---------------------------------------------------------------------------
// 2. Rejections and malformed bodies.

func TestIngestRejectsAreQuarantined(t *testing.T) {
	e := newEnv(t)
	good1 := textMsg("rj0001", "zhangwei", []string{"wmExtClient001"}, 1700300000000, "第一条好消息")
	malformed := []byte(`{"msgid": "rj0002", "action": "send", "from": "zhangwei", "tolist": ["wmExtClient001"], "msgtime": 1700300060000, "msgtype": "text", "text": {"content": "没写完`)
	badUTF8 := []byte("{\"msgid\": \"rj0003\", \"action\": \"send\", \"from\": \"zhangwei\", \"tolist\": [\"wmExtClient001\"], \"roomid\": \"\", \"msgtime\": 1700300120000, \"msgtype\": \"text\", \"text\": {\"content\": \"\xff\xfe bad\"}}")
	good2 := textMsg("rj0004", "wmExtClient001", []string{"zhangwei"}, 1700300180000, "second good one")
	wrongSender := []byte(`{"msgid": "rj0005", "action": "send", "from": true, "tolist": ["wmExtClient001"], "roomid": "", "msgtime": 1700300180000, "msgtype": "text", "text": {"content": "发送者是布尔值"}}`)
	empty := []byte{}
	good3 := textMsg("rj0007", "zhangwei", []string{"wmExtClient001"}, 1700300300000, "第三条好消息")
	entries := [][]byte{good1, malformed, badUTF8, good2, wrongSender, empty, good3}
	body := jsonLines(entries)

	res := e.ingest("", "application/x-ndjson", body, http.StatusUnprocessableEntity)
	if res.Archived != 3 || res.Rejected != 4 || res.Duplicates != 0 || res.Conflicts != 0 || len(res.Results) != 7 {
		t.Fatalf("summary %+v", res)
	}
	serial := uint64(1)
	for i, r := range res.Results {
		if r.Entry != i+1 {
			t.Fatalf("entry numbers: %+v", res.Results)
		}
		// Every entry is one event, in input order, after archive.created.
		if r.JournalIndex != uint64(i+1) {
			t.Fatalf("entry %d journal_index %d, want %d", i+1, r.JournalIndex, i+1)
		}
		switch i {
		case 0, 3, 6:
			if r.Outcome != "archived" || r.Serial != serial || r.Error != nil {
				t.Fatalf("good entry %d: %+v, want archived serial %d", i+1, r, serial)
			}
			serial++
		default:
			if r.Outcome != "rejected" || r.Serial != 0 || r.Version != 0 || r.Error == nil || r.Error.Reason == "" {
				t.Fatalf("bad entry %d: %+v, want rejected with a reason", i+1, r)
			}
		}
	}
	check := func(entry int, field, reasonPart string) {
		t.Helper()
		f := res.Results[entry-1].Error
		if f.Field != field || !strings.Contains(f.Reason, reasonPart) {
			t.Errorf("entry %d: error %+v, want field %q and a reason containing %q", entry, f, field, reasonPart)
		}
	}
	check(2, "", "invalid JSON")
	check(3, "", "invalid UTF-8")
	check(5, "from", "want a string")
	check(6, "", "empty")

	// The good entries are archived with their exact bytes.
	for i, s := range map[int]uint64{0: 1, 3: 2, 6: 3} {
		if m := e.message(s); m.Raw != string(entries[i]) {
			t.Fatalf("serial %d raw %q, want %q", s, m.Raw, entries[i])
		}
	}

	// The quarantine holds the rejected entries, raw bytes included.
	ctx := context.Background()
	var rows []store.RejectRow
	if err := e.r.Store.Rejects(ctx, func(r store.RejectRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("quarantine has %d rows, want 4: %+v", len(rows), rows)
	}
	for k, entry := range []int{2, 3, 5, 6} {
		row, sent, res := rows[k], entries[entry-1], res.Results[entry-1]
		if row.JournalIndex != res.JournalIndex || row.Source != "wecom-archive:default" ||
			row.Field != res.Error.Field || row.Reason != res.Error.Reason || row.RawSize != len(sent) {
			t.Errorf("quarantine row %+v does not match entry %d (%+v, %d bytes)", row, entry, res, len(sent))
		}
		if !strings.HasPrefix(row.Origin, "api request ") || !strings.HasSuffix(row.Origin, fmt.Sprintf(" entry %d", entry)) {
			t.Errorf("quarantine origin %q does not name entry %d", row.Origin, entry)
		}
		if row.RawHash.String() != sha(sent) {
			t.Errorf("entry %d raw hash %s, want %s", entry, row.RawHash, sha(sent))
		}
		got, err := e.r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}, row.RawHash)
		if err != nil {
			t.Errorf("entry %d raw record: %v", entry, err)
			continue
		}
		if !bytes.Equal(got, sent) {
			t.Errorf("entry %d quarantined bytes %q, want %q", entry, got, sent)
		}
		if ev := e.leaf(row.JournalIndex); ev.Type != archive.EventInputRejected {
			t.Errorf("entry %d journal_index holds a %s event", entry, ev.Type)
		}
	}
	mt := e.metrics()
	if mt["wxarchive_ingest_rejects_total"] != 4 || mt[`wxarchive_ingest_messages_total{outcome="archived"}`] != 3 {
		t.Fatalf("metrics: rejects %v archived %v", mt["wxarchive_ingest_rejects_total"], mt[`wxarchive_ingest_messages_total{outcome="archived"}`])
	}
}

func TestIngestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	good := textMsg("mb0001", "zhangwei", []string{"wmExtClient001"}, 1700400000000, "好")
	size := e.head().JournalSize

	// An array element that is not JSON fails the whole request.
	a := e.wantError("POST", ingestPath, []byte(`[`+string(good)+`, {"msgid": oops}]`), 400, "malformed_body")
	if !strings.Contains(a.Message, "array element 2") {
		t.Errorf("array error %q does not name element 2", a.Message)
	}
	e.wantError("POST", ingestPath, []byte(`[`+string(good)), 400, "malformed_body")
	e.wantError("POST", ingestPath, []byte(`[`+string(good)+`] trailing`), 400, "malformed_body")
	e.wantError("POST", ingestPath, []byte(``), 400, "empty_body")
	e.wantError("POST", ingestPath, []byte("\n\n  \n"), 400, "empty_body")
	e.wantError("POST", ingestPath, []byte(` [ ] `), 400, "empty_body")
	// Over jsonl.MaxEntries (cheap: the split refuses before decoding).
	many := bytes.Repeat([]byte("{}\n"), jsonl.MaxEntries+1)
	if m := e.wantError("POST", ingestPath, many, 400, "malformed_body"); !strings.Contains(m.Message, strconv.Itoa(jsonl.MaxEntries)) {
		t.Errorf("too many lines: %q", m.Message)
	}
	arr := append([]byte("["), bytes.Repeat([]byte("{},"), jsonl.MaxEntries)...)
	arr = append(arr, "{}]"...)
	e.wantError("POST", ingestPath, arr, 400, "malformed_body")
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a refused request wrote %d journal events", h.JournalSize-size)
	}
	// Whitespace around a single object is formatting: one message.
	res := e.ingest("", "", append(append([]byte("  \n"), good...), "\n\n\n"...), 200)
	if len(res.Results) != 1 || res.Results[0].Outcome != "archived" {
		t.Fatalf("blank lines around one message: %+v", res.Results)
	}
	// In JSON lines, a blank line before a message is an entry, quarantined
	// as "empty line"; blank lines after the last one are dropped.
	other := textMsg("mb0002", "zhangwei", []string{"wmExtClient001"}, 1700400001000, "好")
	res = e.ingest("", "", append(append(append(append([]byte("  \n"), good...), '\n'), other...), "\n\n"...), 422)
	if len(res.Results) != 3 || res.Results[0].Outcome != "rejected" || res.Results[1].Outcome != "duplicate" || res.Results[2].Outcome != "archived" {
		t.Fatalf("leading blank line then messages: %+v", res.Results)
	}
	res = e.ingest("", "", append(append([]byte(nil), good...), "\n\n"...), 200)
	if len(res.Results) != 1 || res.Results[0].Outcome != "duplicate" {
		t.Fatalf("message then blank lines: %+v", res.Results)
	}
}

// patternReader streams n bytes of JSON lines without holding them.
type patternReader struct {
	n    int64
	line []byte
	off  int
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	for i := range b {
		b[i] = p.line[p.off]
		p.off = (p.off + 1) % len(p.line)
	}
	p.n -= int64(len(b))
	return len(b), nil
}

func TestIngestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	size := e.head().JournalSize
	line := append(textMsg("big", "zhangwei", []string{"wmExtClient001"}, 1700500000000, strings.Repeat("大", 100)), '\n')
	req, err := http.NewRequest("POST", e.srv.URL+ingestPath, &patternReader{n: httpapi.MaxBodyBytes + 1, line: line})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = httpapi.MaxBodyBytes + 1
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"body_too_large"`)) {
		t.Fatalf("status %d %s, want 413 body_too_large", resp.StatusCode, b)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("an oversize body wrote %d events", h.JournalSize-size)
	}
}

// ---------------------------------------------------------------------------
// 3. Message view.

func TestMessageView(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	e.ingest("", "application/x-ndjson", jsonLines(lines), 200)

	m := e.message(1)
	if m.Message.SourceID != "fx0001_1700000001" || m.Message.Source != "wecom-archive:default" || m.Version != 1 {
		t.Fatalf("view of serial 1: %+v", m.Message)
	}
	if m.Raw != string(lines[0]) || m.RawBase64 != nil || m.RawSHA256 != sha(lines[0]) {
		t.Fatalf("raw %q sha %s, want the posted line %q", m.Raw, m.RawSHA256, lines[0])
	}
	if m.Message.Text != "王总您好，关于上周说的那只基金，我下午把资料发您。" || m.Message.Kind != "text" || m.Message.Action != "send" {
		t.Fatalf("normalized: %+v", m.Message)
	}
	if !strings.HasPrefix(m.Origin, "api request ") || !strings.HasSuffix(m.Origin, " entry 1") {
		t.Fatalf("origin %q", m.Origin)
	}
	if m.Proof.LeafIndex != 1 {
		t.Fatalf("serial 1 proven at leaf %d, want 1", m.Proof.LeafIndex)
	}

	// The recall and the recalled message point at each other.
	recalled, recall := e.message(5), e.message(6)
	if recalled.Message.SourceID != "fx0005_1700000005" || recalled.RecalledBy != 6 || recalled.RefersTo != nil {
		t.Fatalf("fx0005: source_id %q recalled_by %d refers_to %v, want recalled_by 6", recalled.Message.SourceID, recalled.RecalledBy, recalled.RefersTo)
	}
	if recall.Message.SourceID != "fx0006_1700000006" || recall.RefersTo == nil || *recall.RefersTo != 5 || recall.RecalledBy != 0 {
		t.Fatalf("fx0006: refers_to_serial %v recalled_by %d, want refers_to_serial 5", recall.RefersTo, recall.RecalledBy)
	}
	if recall.Message.Action != "recall" || recalled.Raw != string(lines[4]) {
		t.Fatalf("recall action %q, recalled raw %q", recall.Message.Action, recalled.Raw)
	}
	// Chinese text survives byte for byte.
	if m := e.message(32); m.Raw != string(lines[31]) || m.RawSHA256 != sha(lines[31]) {
		t.Fatalf("serial 32 raw %q", m.Raw)
	}

	// Errors are JSON and journal nothing.
	size := e.head().JournalSize
	e.wantError("GET", "/api/v1/messages/33", nil, 404, "not_found")
	e.wantError("GET", "/api/v1/messages/0", nil, 404, "not_found")
	e.wantError("GET", "/api/v1/messages/abc", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/messages/-1", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/messages/1.5", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/messages/18446744073709551616", nil, 400, "bad_parameter")
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("failed requests journaled %d events", h.JournalSize-size)
	}
	resp, _ := e.do("GET", "/api/v1/messages/1", "", "", nil)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", resp.Header)
	}

	// After sealing the records come from a pack, unchanged.
	if _, err := e.r.Engine.Seal(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	sealed := e.message(1)
	if sealed.Raw != string(lines[0]) || !strings.HasPrefix(sealed.Sealed, "pack ") || len(sealed.Sealed) != len("pack ")+64 {
		t.Fatalf("after seal: sealed %q raw %q", sealed.Sealed, sealed.Raw)
	}
}

// ---------------------------------------------------------------------------
// 4. Inclusion proofs.

func TestInclusionProof(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	e.ingest("", "", jsonLines(lines[:10]), 200)
	rej := e.ingest("", "", []byte(`{"msgid": "x", "msgtime": true}`), 422)
	rejIdx := rej.Results[0].JournalIndex

	for _, serial := range []uint64{1, 7, 10} {
		before := e.head().JournalSize
		var p proofJSON
		e.getJSON(fmt.Sprintf("/api/v1/proofs/inclusion?serial=%d", serial), 200, &p)
		e.wantAccess(before, "proof", serial)
		if p.TreeSize != before {
			t.Fatalf("proof in tree %d, want the latest checkpoint %d", p.TreeSize, before)
		}
		ev := checkProof(t, e.r.Config, &p)
		var me archive.MessageEvent
		if err := ev.DecodePayload(&me); err != nil || ev.Type != archive.EventMessageArchived || me.Serial != serial ||
			me.SourceID != fixtureMsgID(t, lines[serial-1]) || me.Raw.String() != sha(lines[serial-1]) {
			t.Fatalf("serial %d proof proves %s %+v", serial, ev.Type, me)
		}
	}
	// index= proves any event: the rejection, and archive.created.
	for idx, typ := range map[uint64]string{rejIdx: archive.EventInputRejected, 0: archive.EventArchiveCreated} {
		before := e.head().JournalSize
		var p proofJSON
		e.getJSON(fmt.Sprintf("/api/v1/proofs/inclusion?index=%d", idx), 200, &p)
		e.wantAccess(before, "proof")
		if ev := checkProof(t, e.r.Config, &p); ev.Type != typ || p.LeafIndex != idx {
			t.Fatalf("index %d proves a %s leaf at %d, want %s", idx, ev.Type, p.LeafIndex, typ)
		}
	}
	// The access events are provable too: the latest leaf is covered.
	last := e.head().JournalSize - 1
	var p proofJSON
	e.getJSON(fmt.Sprintf("/api/v1/proofs/inclusion?index=%d", last), 200, &p)
	if ev := checkProof(t, e.r.Config, &p); ev.Type != archive.EventAccessView {
		t.Fatalf("leaf %d is %s", last, ev.Type)
	}

	size := e.head().JournalSize
	e.wantError("GET", "/api/v1/proofs/inclusion", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/inclusion?serial=&index=", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/inclusion?serial=abc", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/inclusion?index=-3", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/inclusion?serial=11", nil, 404, "not_found")
	e.wantError("GET", "/api/v1/proofs/inclusion?serial=0", nil, 404, "not_found")
	e.wantError("GET", fmt.Sprintf("/api/v1/proofs/inclusion?index=%d", size), nil, 404, "not_found")
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("failed proof requests journaled %d events", h.JournalSize-size)
	}
}

// ---------------------------------------------------------------------------
// 5. Consistency proofs; 6. checkpoint.

type checkpointJSON struct {
	Origin    string `json:"origin"`
	Size      uint64 `json:"size"`
	RootHash  string `json:"root_hash"`
	Time      string `json:"time"`
	Note      string `json:"note"`
	PublicKey string `json:"public_key"`
}

// rootFromLeaves recomputes the tree root of the first size leaves from the
// leaf bytes alone.
func (e *env) rootFromLeaves(size uint64) []byte {
	e.t.Helper()
	tr := journal.NewTree()
	err := e.r.Store.Leaves(context.Background(), 0, size, func(_ uint64, _, leaf []byte) error {
		tr.Append(journal.LeafHash(leaf), nil)
		return nil
	})
	if err != nil || tr.Size() != size {
		e.t.Fatalf("leaves 0..%d: %v (read %d)", size, err, tr.Size())
	}
	return tr.Root()
}

func TestConsistencyProof(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	e.ingest("", "", jsonLines(lines[:11]), 200)
	var a checkpointJSON
	e.getJSON("/api/v1/checkpoint", 200, &a)
	e.ingest("", "", jsonLines(lines[11:]), 200)
	e.message(3) // an access event as well
	var b checkpointJSON
	e.getJSON("/api/v1/checkpoint", 200, &b)
	if a.Size != 12 || b.Size != 34 {
		t.Fatalf("checkpoint sizes %d, %d, want 12 and 34", a.Size, b.Size)
	}
	rootA, rootB := unhex(t, a.RootHash), unhex(t, b.RootHash)

	var c struct {
		From   uint64   `json:"from"`
		To     uint64   `json:"to"`
		Hashes []string `json:"hashes"`
	}
	e.getJSON(fmt.Sprintf("/api/v1/proofs/consistency?from=%d&to=%d", a.Size, b.Size), 200, &c)
	if c.From != a.Size || c.To != b.Size || len(c.Hashes) == 0 {
		t.Fatalf("consistency answer %+v", c)
	}
	hs := make([][]byte, len(c.Hashes))
	for i, h := range c.Hashes {
		hs[i] = unhex(t, h)
	}
	if err := journal.VerifyConsistency(a.Size, b.Size, hs, rootA, rootB); err != nil {
		t.Fatalf("consistency %d→%d does not verify: %v", a.Size, b.Size, err)
	}
	badA := append([]byte(nil), rootA...)
	badA[0] ^= 0x80
	if journal.VerifyConsistency(a.Size, b.Size, hs, badA, rootB) == nil {
		t.Fatal("consistency verifies with an altered old root")
	}
	badB := append([]byte(nil), rootB...)
	badB[31] ^= 1
	if journal.VerifyConsistency(a.Size, b.Size, hs, rootA, badB) == nil {
		t.Fatal("consistency verifies with an altered new root")
	}
	// Edge sizes: to itself, from 0, a size that is no checkpoint.
	for _, tc := range []struct{ from, to uint64 }{{b.Size, b.Size}, {0, b.Size}, {1, b.Size}, {16, 20}, {5, a.Size}} {
		e.getJSON(fmt.Sprintf("/api/v1/proofs/consistency?from=%d&to=%d", tc.from, tc.to), 200, &c)
		hs := make([][]byte, len(c.Hashes))
		for i, h := range c.Hashes {
			hs[i] = unhex(t, h)
		}
		if err := journal.VerifyConsistency(tc.from, tc.to, hs, e.rootFromLeaves(tc.from), e.rootFromLeaves(tc.to)); err != nil {
			t.Fatalf("consistency %d→%d: %v", tc.from, tc.to, err)
		}
	}

	e.wantError("GET", fmt.Sprintf("/api/v1/proofs/consistency?from=%d&to=%d", b.Size, a.Size), nil, 400, "bad_parameter")
	e.wantError("GET", fmt.Sprintf("/api/v1/proofs/consistency?from=%d&to=%d", a.Size, b.Size+1), nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/consistency?from=1", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/consistency?to=1", nil, 400, "bad_parameter")
	e.wantError("GET", "/api/v1/proofs/consistency?from=x&to=2", nil, 400, "bad_parameter")
}

func TestCheckpoint(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	e.ingest("", "", jsonLines(lines), 200)
	e.message(2)
	cfg := e.r.Config

	var cp checkpointJSON
	e.getJSON("/api/v1/checkpoint", 200, &cp)
	size := e.head().JournalSize
	if cp.Origin != cfg.Origin || cp.Size != size || cp.Size != 34 || cp.PublicKey != cfg.PublicKey {
		t.Fatalf("checkpoint %+v; want origin %s size %d public key %s", cp, cfg.Origin, size, cfg.PublicKey)
	}
	if want := hex.EncodeToString(e.rootFromLeaves(size)); cp.RootHash != want {
		t.Fatalf("root_hash %s, recomputed from the leaves %s", cp.RootHash, want)
	}
	v, err := journal.NewVerifier(cfg.Origin, cfg.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := v.Open([]byte(cp.Note))
	if err != nil {
		t.Fatalf("note does not verify: %v", err)
	}
	if opened.Size != cp.Size || hex.EncodeToString(opened.Root) != cp.RootHash || opened.Time.String() != cp.Time {
		t.Fatalf("note says %d %x %s, JSON says %d %s %s", opened.Size, opened.Root, opened.Time, cp.Size, cp.RootHash, cp.Time)
	}
	if d := time.Since(opened.Time.Time); d < 0 || d > time.Minute {
		t.Fatalf("checkpoint time %s is not now", opened.Time)
	}

	resp, note := e.do("GET", "/api/v1/checkpoint", "text/plain", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("text/plain: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if string(note) != cp.Note {
		t.Fatalf("plain note %q differs from the JSON note %q", note, cp.Note)
	}
	if !strings.HasPrefix(string(note), cfg.Origin+"\n34\n") {
		t.Fatalf("note %q does not start with origin and size", note)
	}
	if _, err := v.Open(note); err != nil {
		t.Fatalf("plain note does not verify: %v", err)
	}
	other, err := journal.NewVerifier(cfg.Origin, "wxarchive-other+00000000+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB")
	if err == nil {
		if _, err := other.Open(note); err == nil {
			t.Fatal("the note verifies with another key")
		}
	}
	// Accept with several types still gets the note.
	if _, b := e.do("GET", "/api/v1/checkpoint", "text/plain;q=0.9, */*;q=0.1", "", nil); string(b) != cp.Note {
		t.Fatalf("Accept list: %q", b)
	}
}

// ---------------------------------------------------------------------------
// 7. Consent.

func TestConsent(t *testing.T) {
	e := newEnv(t)
	e.ingest("", "", jsonLines(fixtureLines(t)), 200)
	type consentJSON struct {
		ExternalID string             `json:"external_id"`
		State      string             `json:"state"`
		Events     []store.ConsentRow `json:"events"`
	}
	var c consentJSON
	e.getJSON("/api/v1/consent/wmExtClient001", 200, &c)
	if c.ExternalID != "wmExtClient001" || c.State != "agreed" || len(c.Events) != 1 {
		t.Fatalf("wmExtClient001: %+v", c)
	}
	if ev := c.Events[0]; ev.Serial != 7 || !ev.Agreed || ev.Employee != "zhangwei" || ev.At.UnixMilli() != 1700000420000 {
		t.Fatalf("wmExtClient001 event %+v, want serial 7 agreed with zhangwei at 1700000420000", ev)
	}
	c = consentJSON{}
	e.getJSON("/api/v1/consent/wmExtClient002", 200, &c)
	if c.State != "disagreed" || len(c.Events) != 1 || c.Events[0].Serial != 8 || c.Events[0].Agreed {
		t.Fatalf("wmExtClient002: %+v", c)
	}
	status, raw := e.get("/api/v1/consent/wmNobody")
	var unknown map[string]json.RawMessage
	if err := json.Unmarshal(raw, &unknown); status != 200 || err != nil {
		t.Fatalf("unknown: %d %s %v", status, raw, err)
	}
	if string(unknown["state"]) != `"unknown"` || string(unknown["events"]) != `[]` || string(unknown["external_id"]) != `"wmNobody"` {
		t.Fatalf("unknown contact: %s", raw)
	}

	// A later disagree changes the state; the history keeps both.
	dis := []byte(`{"msgid": "fx9001_1700009001", "action": "send", "from": "wmExtClient001", "tolist": ["zhangwei"], "roomid": "", "msgtime": 1700009000000, "msgtype": "disagree", "disagree": {"userid": "wmExtClient001", "disagree_time": 1700009000000}}`)
	e.ingest("", "", dis, 200)
	c = consentJSON{}
	e.getJSON("/api/v1/consent/wmExtClient001", 200, &c)
	if c.State != "disagreed" || len(c.Events) != 2 || !c.Events[0].Agreed || c.Events[1].Agreed || c.Events[1].Serial != 33 {
		t.Fatalf("after a later disagree: %+v", c)
	}
}

// ---------------------------------------------------------------------------
// 8. Health and metrics.

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	if status, b := e.get("/healthz"); status != 200 || string(b) != "ok\n" {
		t.Fatalf("/healthz: %d %q", status, b)
	}
	if status, b := e.get("/readyz"); status != 200 || string(b) != "ready\n" {
		t.Fatalf("/readyz: %d %q", status, b)
	}
	lines := fixtureLines(t)
	e.ingest("", "", jsonLines(lines), 200)                                                      // 32 archived, commit of 32
	e.ingest("", "", jsonLines(lines[:5]), 200)                                                  // 5 duplicates, commit of 5
	e.ingest("", "", jsonLines([][]byte{lines[5], []byte(`{"msgid": 1}`), []byte(`nope`)}), 422) // 1 dup, 2 rejects, commit of 3
	e.message(1)                                                                                 // commit of 1 (access)

	mt := e.metrics()
	size := e.head().JournalSize
	if size != 1+32+2+1 {
		t.Fatalf("journal size %d", size)
	}
	want := map[string]float64{
		`wxarchive_ingest_messages_total{outcome="archived"}`:  32,
		`wxarchive_ingest_messages_total{outcome="duplicate"}`: 6,
		`wxarchive_ingest_rejects_total`:                       2,
		`wxarchive_commit_batch_messages_count`:                4,
		`wxarchive_commit_batch_messages_sum`:                  32 + 5 + 3 + 1,
		`wxarchive_commit_batch_messages_bucket{le="1"}`:       1,
		`wxarchive_commit_batch_messages_bucket{le="4"}`:       2,
		`wxarchive_commit_batch_messages_bucket{le="32"}`:      4,
		`wxarchive_ingest_latency_seconds_count`:               3,
		`wxarchive_commits_total{result="ok"}`:                 4,
		`wxarchive_commit_duration_seconds_count`:              4,
		`wxarchive_journal_size`:                               float64(size),
	}
	for k, v := range want {
		got, ok := mt[k]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := mt[`wxarchive_ingest_messages_total{outcome="conflict"}`]; ok {
		t.Errorf("a conflict counter appeared without conflicts")
	}
	if mt["wxarchive_ingest_latency_seconds_sum"] <= 0 {
		t.Errorf("latency sum %v", mt["wxarchive_ingest_latency_seconds_sum"])
	}
	// GET /metrics is not journaled.
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("/metrics changed the journal")
	}
}

// ---------------------------------------------------------------------------
// 9. Concurrency and group commit.

func TestConcurrentIngestGroupCommit(t *testing.T) {
	e := newEnv(t)
	const clients, perClient = 32, 20
	bodies := make([][]byte, clients)
	for c := range clients {
		var lines [][]byte
		for i := range perClient {
			content := fmt.Sprintf("客户%02d 的第%d条消息", c, i)
			if i%2 == 1 {
				content = fmt.Sprintf("client %d message %d", c, i)
			}
			lines = append(lines, textMsg(fmt.Sprintf("cc%02d_%03d", c, i), fmt.Sprintf("emp%02d", c), []string{"wmExtClient001"}, 1700600000000+int64(c*1000+i), content))
		}
		bodies[c] = jsonLines(lines)
	}
	results := make([]ingestResp, clients)
	errs := make([]error, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := e.srv.Client()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Post(e.srv.URL+ingestPath, "application/x-ndjson", bytes.NewReader(bodies[c]))
			if err != nil {
				errs[c] = err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				errs[c] = fmt.Errorf("status %d: %s", resp.StatusCode, b)
				return
			}
			errs[c] = json.Unmarshal(b, &results[c])
		}()
	}
	close(start)
	wg.Wait()

	seen := map[uint64]string{}
	journalIdx := map[uint64]bool{}
	for c, res := range results {
		if errs[c] != nil {
			t.Fatalf("client %d: %v", c, errs[c])
		}
		if res.Archived != perClient || len(res.Results) != perClient {
			t.Fatalf("client %d: archived %d of %d", c, res.Archived, perClient)
		}
		for i, r := range res.Results {
			id := fmt.Sprintf("cc%02d_%03d", c, i)
			if r.Outcome != "archived" || r.MsgID != id {
				t.Fatalf("client %d entry %d: %+v", c, i+1, r)
			}
			if prev, dup := seen[r.Serial]; dup {
				t.Fatalf("serial %d given to %s and %s", r.Serial, prev, id)
			}
			seen[r.Serial] = id
			if journalIdx[r.JournalIndex] {
				t.Fatalf("journal index %d given twice", r.JournalIndex)
			}
			journalIdx[r.JournalIndex] = true
			// One request's messages are committed together, in order.
			if i > 0 && (r.Serial != res.Results[i-1].Serial+1 || r.JournalIndex != res.Results[i-1].JournalIndex+1) {
				t.Fatalf("client %d: entry %d serial %d/journal %d does not follow %d/%d", c, i+1, r.Serial, r.JournalIndex,
					res.Results[i-1].Serial, res.Results[i-1].JournalIndex)
			}
		}
	}
	for s := uint64(1); s <= clients*perClient; s++ {
		if _, ok := seen[s]; !ok {
			t.Fatalf("serial %d missing: serials are not exactly 1..%d", s, clients*perClient)
		}
	}
	if len(seen) != clients*perClient {
		t.Fatalf("%d serials", len(seen))
	}
	if h := e.head(); h.NextSerial != clients*perClient+1 || h.JournalSize != clients*perClient+1 {
		t.Fatalf("head %+v", h)
	}
	// Spot-check the mapping serial → message.
	for _, s := range []uint64{1, 320, 640} {
		if m := e.message(s); m.Message.SourceID != seen[s] {
			t.Fatalf("serial %d is %s, the API said %s", s, m.Message.SourceID, seen[s])
		}
	}
	mt := e.metrics()
	count := mt["wxarchive_commit_batch_messages_count"] - 3 // minus the three access commits above
	sum := mt["wxarchive_commit_batch_messages_sum"] - 3
	if sum != clients*perClient {
		t.Fatalf("commit batch sum %v, want %d", sum, clients*perClient)
	}
	if count >= clients || mt[`wxarchive_commit_batch_messages_bucket{le="32"}`]-3 >= count {
		t.Fatalf("no group commit: %v commits for %d requests (%v of at most 32 items)", count, clients, mt[`wxarchive_commit_batch_messages_bucket{le="32"}`]-3)
	}
	t.Logf("%d requests in %v commits (mean %.1f items)", clients, count, sum/count)
	if mt[`wxarchive_ingest_messages_total{outcome="archived"}`] != clients*perClient || mt["wxarchive_ingest_latency_seconds_count"] != clients {
		t.Fatalf("metrics: archived %v latency count %v", mt[`wxarchive_ingest_messages_total{outcome="archived"}`], mt["wxarchive_ingest_latency_seconds_count"])
	}
}

// ---------------------------------------------------------------------------
// 10. A closed engine refuses writes.

func TestClosedEngineRefuses(t *testing.T) {
	e := newEnv(t)
	msg := textMsg("cl0001", "zhangwei", []string{"wmExtClient001"}, 1700700000000, "关闭前的最后一条")
	e.ingest("", "", msg, 200)
	ctx := context.Background()
	if err := e.r.Engine.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	size := e.head().JournalSize
	e.wantError("POST", ingestPath, textMsg("cl0002", "zhangwei", []string{"wmExtClient001"}, 1700700060000, "关闭后"), 503, "not_ready")
	e.wantError("POST", ingestPath, msg, 503, "not_ready")
	if h := e.head(); h.JournalSize != size || h.NextSerial != 2 {
		t.Fatalf("a closed engine wrote: %+v", h)
	}
	// Reads that need no journal entry still work.
	if status, _ := e.get("/healthz"); status != 200 {
		t.Fatalf("/healthz %d", status)
	}
	var cp checkpointJSON
	e.getJSON("/api/v1/checkpoint", 200, &cp)
	if cp.Size != size {
		t.Fatalf("checkpoint %d, journal %d", cp.Size, size)
	}
}

// Readiness means "accepting writes" (README); an access that cannot be
// journaled is refused as unavailable, like ingest, not as an internal error.
func TestClosedEngineReadinessAndReads(t *testing.T) {
	e := newEnv(t)
	e.ingest("", "", textMsg("cr0001", "zhangwei", []string{"wmExtClient001"}, 1700700000000, "你好"), 200)
	if err := e.r.Engine.Close(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if status, b := e.get("/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz after the engine closed: %d %q, want 503", status, b)
	}
	for _, path := range []string{"/api/v1/messages/1", "/api/v1/proofs/inclusion?serial=1", "/api/v1/proofs/inclusion?index=0"} {
		if status, b := e.get(path); status != http.StatusServiceUnavailable || !bytes.Contains(b, []byte(`"not_ready"`)) {
			t.Errorf("GET %s after the engine closed: %d %s, want 503 not_ready", path, status, bytes.TrimSpace(b))
		}
	}
}

// ---------------------------------------------------------------------------
// 11. verify after everything the API does.

func TestVerifyAfterAPIUse(t *testing.T) {
	e := newEnv(t)
	lines := fixtureLines(t)
	e.ingest("", "", jsonArray(lines[:16]), 200)
	e.ingest("?corp=wwOther", "", jsonLines(lines), 200)
	e.ingest("", "", jsonLines(lines), 200) // 16 duplicates, 16 new
	e.ingest("", "", textMsg("fx0002_1700000002", "wmExtClient001", []string{"zhangwei"}, 1700000120000, "改过的内容"), 200)
	e.ingest("", "", jsonLines([][]byte{[]byte(`{"msgid": "v1", "msgtime": "x"}`), {}, []byte("\xff")}), 422)
	if _, err := e.r.Engine.Seal(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	e.message(5)
	var p proofJSON
	e.getJSON("/api/v1/proofs/inclusion?serial=60", 200, &p)
	checkProof(t, e.r.Config, &p)
	e.get("/api/v1/consent/wmExtClient001")
	size := e.head().JournalSize

	rep := e.finish()
	if rep == nil || !rep.OK {
		t.Fatal("verify did not pass")
	}
	// 64 messages + 1 conflict; leaves: created, 65 messages, 3 rejects,
	// seal events, 2 accesses, plus the seal on close.
	if rep.Stats.Messages != 65 || rep.Stats.Leaves < size || rep.Stats.Packs == 0 {
		t.Fatalf("verify stats %+v (journal was %d before close)", rep.Stats, size)
	}
}

// ---------------------------------------------------------------------------
// Search.

type searchJSON struct {
	Total      int64 `json:"total"`
	TotalExact *bool `json:"total_exact"`
	Results    []struct {
		Serial     uint64   `json:"serial"`
		SourceID   string   `json:"source_id"`
		Sender     string   `json:"sender"`
		SentAt     string   `json:"sent_at"`
		Kind       string   `json:"kind"`
		Snippet    string   `json:"snippet"`
		Highlights [][2]int `json:"highlights"`
	} `json:"results"`
	NextCursor string                       `json:"next_cursor"`
	Facets     map[string][]json.RawMessage `json:"facets"`
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	e.ingest("", "", jsonLines(fixtureLines(t)), 200)

	var res searchJSON
	e.getJSON("/api/v1/search?q="+url.QueryEscape("保本 from:zhangwei"), 200, &res)
	if res.Total != 1 || len(res.Results) != 1 {
		t.Fatalf("保本: %+v", res)
	}
	hit := res.Results[0]
	r := []rune(hit.Snippet)
	if hit.Sender != "zhangwei" || len(hit.Highlights) != 1 || string(r[hit.Highlights[0][0]:hit.Highlights[0][1]]) != "保本" {
		t.Fatalf("保本: hit %+v does not mark 保本", hit)
	}
	if _, err := time.Parse(time.RFC3339, hit.SentAt); err != nil {
		t.Fatalf("sent_at %q: %v", hit.SentAt, err)
	}

	// The search is journaled: who, the query, the result count, the
	// serials shown.
	var last archive.AccessEvent
	var lastEv journal.Event
	size := e.head().JournalSize
	if err := e.r.Store.Leaves(context.Background(), size-1, size, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			return err
		}
		lastEv = *ev
		return ev.DecodePayload(&last)
	}); err != nil {
		t.Fatal(err)
	}
	if lastEv.Type != archive.EventAccessView || last.What != "search" || last.Query != "保本 from:zhangwei" ||
		last.Results == nil || *last.Results != 1 || !slices.Equal(last.Serials, []uint64{hit.Serial}) || last.Via != "api" ||
		!strings.HasPrefix(lastEv.Actor, "api:") {
		t.Fatalf("journaled search %+v (%+v)", last, lastEv)
	}

	// Keyset pages: every match once, newest first.
	var all searchJSON
	e.getJSON("/api/v1/search?q=type:text&limit=100", 200, &all)
	if all.Total < 3 || all.TotalExact == nil || !*all.TotalExact {
		t.Fatalf("type:text: %d matches (exact %v)", all.Total, all.TotalExact)
	}
	var counted searchJSON
	e.getJSON("/api/v1/search?q=type:text&limit=1&count_all=true", 200, &counted)
	if counted.Total != all.Total || counted.TotalExact == nil || !*counted.TotalExact || len(counted.Results) != 1 {
		t.Fatalf("count_all=true: %d matches (exact %v), %d results; want %d, exact, 1", counted.Total, counted.TotalExact, len(counted.Results), all.Total)
	}
	var paged []uint64
	cursor := ""
	for i := 0; i < 100; i++ {
		var p searchJSON
		e.getJSON("/api/v1/search?q=type:text&limit=2&cursor="+url.QueryEscape(cursor), 200, &p)
		if p.Total != all.Total {
			t.Fatalf("page %d: total %d, want %d", i, p.Total, all.Total)
		}
		for _, h := range p.Results {
			paged = append(paged, h.Serial)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	var want []uint64
	for _, h := range all.Results {
		want = append(want, h.Serial)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("pages %v, want %v", paged, want)
	}

	// Exact mode and facets.
	var ex searchJSON
	e.getJSON("/api/v1/search?exact=true&q="+url.QueryEscape("保本保收益"), 200, &ex)
	if ex.Total != 1 || ex.Results[0].Serial != hit.Serial {
		t.Fatalf("exact: %+v", ex)
	}
	var fc searchJSON
	e.getJSON("/api/v1/search?facets=true&q=type:text", 200, &fc)
	for _, name := range []string{"sender", "conversation", "type", "direction", "month"} {
		if len(fc.Facets[name]) == 0 {
			t.Fatalf("facet %s missing: %v", name, fc.Facets)
		}
	}

	// Errors name what is wrong; nothing is journaled for them.
	before := e.head().JournalSize
	for _, tc := range []struct{ path, code, msg string }{
		{"/api/v1/search?q=" + url.QueryEscape(`保本 "收益`), "bad_query", "column 4"},
		{"/api/v1/search?q=" + url.QueryEscape("保本 OR"), "bad_query", "after OR"},
		{"/api/v1/search?q=x&cursor=bogus", "bad_cursor", "cursor"},
		{"/api/v1/search?q=x&sort=relevance&cursor=" + url.QueryEscape(all.NextCursor+"x"), "bad_cursor", "cursor"},
		{"/api/v1/search?q=x&limit=0", "bad_parameter", "limit"},
		{"/api/v1/search?q=x&limit=5000", "bad_limit", "between 1 and 1000"},
		{"/api/v1/search?q=x&sort=random", "bad_sort", "time or relevance"},
		{"/api/v1/search?q=x&exact=maybe", "bad_parameter", "exact"},
		{"/api/v1/search?q=x&count_all=all", "bad_parameter", "count_all"},
		{"/api/v1/search?query=x", "bad_parameter", "unknown parameter"},
		{"/api/v1/search", "bad_parameter", "q:"},
	} {
		status, b := e.get(tc.path)
		var body map[string]apiErrorJSON
		if err := json.Unmarshal(b, &body); status != 400 || err != nil || body["error"].Code != tc.code || !strings.Contains(body["error"].Message, tc.msg) {
			t.Errorf("GET %s: %d %s, want 400 %s mentioning %q", tc.path, status, b, tc.code, tc.msg)
		}
	}
	if after := e.head().JournalSize; after != before {
		t.Fatalf("rejected searches wrote %d journal events", after-before)
	}
}

type apiErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
