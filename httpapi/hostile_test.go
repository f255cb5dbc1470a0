package httpapi_test

// The server under hostile clients: Host allow-list, content types and
// cross-site requests, concurrency limits, slow bodies, large bodies
// archived in chunks, and a full disk.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// request sends one request with the given headers (Host among them).
func (e *env) request(method, path string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func problemOf(t *testing.T, b []byte) apiErr {
	t.Helper()
	var out struct {
		Error apiErr `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Error.Code == "" || out.Error.Message == "" {
		t.Fatalf("not the JSON error shape {error:{code,message}}: %q (%v)", b, err)
	}
	return out.Error
}

func TestHostAllowList(t *testing.T) {
	hosts, err := httpx.NewHosts(append(httpx.LoopbackHosts, "archive.example.com")...)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, httpapi.Options{Hosts: hosts}, nil)
	size := e.head().JournalSize
	msg := textMsg("host0001", "zhangwei", []string{"wmExtClient001"}, 1700800000000, "你好")
	for _, c := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/api/v1/search?q=x"},
		{"GET", "/api/v1/messages/1"}, {"POST", ingestPath},
	} {
		resp, b := e.request(c.method, c.path, map[string]string{"Host": "attacker.example:8080", "Content-Type": "application/json"}, msg)
		if p := problemOf(t, b); resp.StatusCode != http.StatusMisdirectedRequest || p.Code != "bad_host" || !strings.Contains(p.Message, "Host header") {
			t.Fatalf("%s %s with a foreign Host: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("refused requests wrote %d events", h.JournalSize-size)
	}
	// The configured name and the loopback names on any port pass.
	for _, host := range []string{"archive.example.com", "localhost:1", "[::1]:8080", "127.0.0.1:9"} {
		if resp, b := e.request("GET", "/healthz", map[string]string{"Host": host}, nil); resp.StatusCode != 200 {
			t.Fatalf("Host %s: %d %s", host, resp.StatusCode, b)
		}
	}
	e.ingest("", "application/json", msg, 200)
}

// Ingest takes JSON only, and no state-changing request comes from
// another site: an HTML form's cross-site text/plain POST cannot archive.
func TestIngestContentTypeAndOrigin(t *testing.T) {
	e := newEnv(t)
	size := e.head().JournalSize
	msg := textMsg("ct0001", "zhangwei", []string{"wmExtClient001"}, 1700800000000, "表单")
	for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=gbk"} {
		resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": ct}, msg)
		if p := problemOf(t, b); resp.StatusCode != http.StatusUnsupportedMediaType || p.Code != "unsupported_media_type" || !strings.Contains(p.Message, "Content-Type") {
			t.Fatalf("Content-Type %q: %d %s", ct, resp.StatusCode, b)
		}
	}
	// What a hostile page's form sends, and what fetch() sends with a
	// JSON type from another origin: refused before the handler.
	for _, hdr := range []map[string]string{
		{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "application/json", "Origin": "https://evil.example"},
		{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
	} {
		resp, b := e.request("POST", ingestPath, hdr, msg)
		if p := problemOf(t, b); resp.StatusCode != http.StatusForbidden || p.Code != "cross_origin" {
			t.Fatalf("cross-site %v: %d %s", hdr, resp.StatusCode, b)
		}
	}
	// Every state-changing route, not only ingest.
	for _, c := range []struct{ method, path, ct string }{
		{"PUT", "/api/v1/policies/p1", "application/yaml"},
		{"POST", "/api/v1/policies/backtest", "text/plain"},
		{"POST", "/api/v1/alerts/actions", "application/json"},
	} {
		resp, b := e.request(c.method, c.path, map[string]string{"Content-Type": c.ct, "Origin": "http://evil.example"}, []byte(`{}`))
		if p := problemOf(t, b); resp.StatusCode != http.StatusForbidden || p.Code != "cross_origin" {
			t.Fatalf("cross-site %s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("refused requests wrote %d events", h.JournalSize-size)
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "application/x-ndjson", "application/jsonl"} {
		res := e.ingest("", ct, msg, 200)
		if want := map[bool]string{true: "archived", false: "duplicate"}[i == 0]; res.Results[0].Outcome != want {
			t.Fatalf("%s: %+v", ct, res.Results)
		}
	}
	// Same-origin browser requests pass.
	if resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/json", "Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"}, msg); resp.StatusCode != 200 {
		t.Fatalf("same-origin: %d %s", resp.StatusCode, b)
	}
}

// openIngest starts an ingest whose body is still arriving; the returned
// function sends the rest and returns the answer.
func (e *env) openIngest(first, rest []byte) func() (int, []byte) {
	e.t.Helper()
	pr, pw := io.Pipe()
	type answer struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.srv.URL+ingestPath, pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- answer{status: resp.StatusCode, body: b}
	}()
	pw.Write(first)
	return func() (int, []byte) {
		pw.Write(rest)
		pw.Close()
		a := <-done
		if a.err != nil {
			e.t.Fatal(a.err)
		}
		return a.status, a.body
	}
}

// blockingIngester holds the first request it gets until release is
// closed.
type blockingIngester struct {
	capture.EntryIngester
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingIngester) Ingest(ctx context.Context, req capture.EntryRequest) ([]capture.EntryResult, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.entered)
		<-b.release
	}
	return b.EntryIngester.Ingest(ctx, req)
}

// Past its concurrency limit, ingest answers 503 busy with Retry-After at
// once (nothing written), and takes requests again when a slot is free. A
// client still sending its body holds no slot.
func TestIngestConcurrencyLimit(t *testing.T) {
	e := newEnv(t)
	bi := &blockingIngester{entered: make(chan struct{}), release: make(chan struct{})}
	ins := archivetest.Ingesters(e.r, nil)
	bi.EntryIngester = ins["wecom-archive"]
	ins["wecom-archive"] = bi
	e.restart(httpapi.Options{Ingesters: ins, Limits: httpapi.Limits{IngestRequests: 1}})

	// A dribbling client first: it must not take the only slot.
	slowMsg := textMsg("lim0000", "zhangwei", []string{"wmExtClient001"}, 1700799999000, "慢")
	finishSlow := e.openIngest(slowMsg[:10], append(slowMsg[10:], '\n'))
	held := textMsg("lim0001", "zhangwei", []string{"wmExtClient001"}, 1700800000000, "第一")
	heldDone := make(chan int, 1)
	go func() {
		resp, _ := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/json"}, held)
		heldDone <- resp.StatusCode
	}()
	<-bi.entered // the held request has its body and the slot
	size := e.head().JournalSize
	other := textMsg("lim0002", "zhangwei", []string{"wmExtClient001"}, 1700800001000, "第二")
	resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/json"}, other)
	if p := problemOf(t, b); resp.StatusCode != http.StatusServiceUnavailable || p.Code != "busy" || resp.Header.Get("Retry-After") == "" || !strings.Contains(p.Message, "ingest") {
		t.Fatalf("saturated: %d %s, Retry-After %q", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	// Reads are not limited by ingest.
	if status, _ := e.get("/healthz"); status != 200 {
		t.Fatalf("/healthz %d while ingest is saturated", status)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a refused request wrote %d events", h.JournalSize-size)
	}
	close(bi.release)
	if status := <-heldDone; status != 200 {
		t.Fatalf("the held request: %d", status)
	}
	e.ingest("", "application/json", other, 200)
	if status, b := finishSlow(); status != 200 || !bytes.Contains(b, []byte(`"archived"`)) {
		t.Fatalf("the slow request, completed: %d %s", status, b)
	}
}

// The spool quota bounds what large bodies hold on disk together: a body
// that would exceed it is refused (503 busy), nothing archived, nothing
// left in the spool.
func TestIngestSpoolQuota(t *testing.T) {
	e := newEnvWith(t, httpapi.Options{Limits: httpapi.Limits{SpoolBytes: 1 << 20}}, nil)
	var lines [][]byte
	for i := 0; len(lines) < 3000; i++ {
		lines = append(lines, textMsg(fmt.Sprintf("q%05d", i), "zhangwei", []string{"wmExtClient001"}, 1700900000000+int64(i), strings.Repeat("额", 200)))
	}
	size := e.head().JournalSize
	resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/x-ndjson"}, jsonLines(lines))
	if p := problemOf(t, b); resp.StatusCode != http.StatusServiceUnavailable || p.Code != "busy" || !strings.Contains(p.Message, "spool") {
		t.Fatalf("over the spool quota: %d %s", resp.StatusCode, b)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a refused body wrote %d events", h.JournalSize-size)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "spool")); len(ents) != 0 {
		t.Fatalf("%d spool files left", len(ents))
	}
	// Within the quota, it goes through (the quota was given back).
	e.ingest("", "application/x-ndjson", jsonLines(lines[:1000]), 200)
}

// A body dribbled slower than the body policy allows is cut off: 408,
// nothing written, the connection closed.
func TestIngestSlowBodyCutOff(t *testing.T) {
	e := newEnvWith(t, httpapi.Options{Limits: httpapi.Limits{Body: httpx.BodyPolicy{Initial: 300 * time.Millisecond, MinRate: 1 << 20, Max: 2 * time.Second}}}, nil)
	size := e.head().JournalSize
	msg := append(textMsg("slow0001", "zhangwei", []string{"wmExtClient001"}, 1700800000000, "慢"), '\n')
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n", ingestPath, e.token, len(msg))
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		answered <- string(b)
	}()
	var answer string
	for i := 0; answer == ""; i++ {
		select {
		case answer = <-answered:
		case <-time.After(50 * time.Millisecond):
			if i < len(msg)-1 {
				c.Write(msg[i : i+1])
			}
		case <-time.After(time.Minute):
			t.Fatal("a dribbled body was never cut off")
		}
	}
	if !strings.HasPrefix(answer, "HTTP/1.1 408 ") || !strings.Contains(answer, `"body_timeout"`) {
		t.Fatalf("answer %q, want 408 body_timeout", answer)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a cut-off body wrote %d events", h.JournalSize-size)
	}
}

// A body of many chunks: spooled, archived chunk by chunk, every entry's
// outcome in the answer in order, as for a small body; a malformed entry
// at its very end refuses the whole body with nothing archived.
func TestIngestLargeBodyInChunks(t *testing.T) {
	e := newEnv(t)
	const n = 2*jsonl.ChunkEntries + 700
	lines := make([][]byte, n)
	pad := strings.Repeat("大", 150) // ≈ 750-byte lines: the body spills to the spool
	for i := range lines {
		lines[i] = textMsg(fmt.Sprintf("big%05d", i), "zhangwei", []string{"wmExtClient001"}, 1700900000000+int64(i), fmt.Sprintf("%d %s", i, pad))
	}
	body := jsonLines(lines)
	if len(body) <= httpapi.SpoolMemory {
		t.Fatalf("body of %d bytes does not reach the spool", len(body))
	}
	// Malformed at the end, as an array: refused whole, nothing written.
	bad := append(bytes.TrimSuffix(jsonArray(lines[:n-1]), []byte("\n]")), []byte(`, {"msgid": oops}]`)...)
	size := e.head().JournalSize
	if m := e.wantError("POST", ingestPath, bad, 400, "malformed_body"); !strings.Contains(m.Message, fmt.Sprintf("array element %d", n)) {
		t.Fatalf("malformed last element: %q", m.Message)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a malformed body wrote %d events", h.JournalSize-size)
	}
	before := e.metrics()["wxarchive_commits_total{result=\"ok\"}"]
	res := e.ingest("", "application/x-ndjson", body, 200)
	if res.Archived != n || len(res.Results) != n {
		t.Fatalf("archived %d of %d, %d results", res.Archived, n, len(res.Results))
	}
	for i, r := range res.Results {
		if r.Entry != i+1 || r.MsgID != fmt.Sprintf("big%05d", i) || r.Outcome != "archived" {
			t.Fatalf("result %d: %+v", i, r)
		}
		if i > 0 && r.Serial <= res.Results[i-1].Serial {
			t.Fatalf("entry %d serial %d after %d", i+1, r.Serial, res.Results[i-1].Serial)
		}
	}
	if commits := e.metrics()["wxarchive_commits_total{result=\"ok\"}"] - before; commits < 3 {
		t.Fatalf("%v commits for %d entries: not archived in chunks of at most %d", commits, n, jsonl.ChunkEntries)
	}
	// The same entries as an array: duplicates, in order.
	again := e.ingest("", "application/json", jsonArray(lines), 200)
	if again.Duplicates != n || again.Results[n-1].Serial != res.Results[n-1].Serial {
		t.Fatalf("again: %d duplicates, last %+v", again.Duplicates, again.Results[n-1])
	}
	// Nothing is left in the spool.
	ents, err := os.ReadDir(filepath.Join(e.dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("spool holds %d files after the requests", len(ents))
	}
}

// restart replaces the server with one built with opts (the archive and
// its engine stay).
func (e *env) restart(opts httpapi.Options) {
	e.t.Helper()
	e.srv.Close()
	opts.Gatherer = e.reg
	if opts.Ingesters == nil {
		opts.Ingesters = archivetest.Ingesters(e.r, nil)
	}
	if opts.Auth == nil {
		opts.Auth = e.auth
	}
	e.srv = httptest.NewServer(httpapi.New(e.r, opts))
	e.authorize()
}

// mapMedia serves attachments by sdkfileid.
type mapMedia map[string][]byte

func (m mapMedia) Fetch(_ context.Context, ref string) ([]byte, error) {
	if b, ok := m[ref]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("media %q: %w", ref, fs.ErrNotExist)
}

func imageMsg(msgid, sdkfileid string, ms int64) []byte {
	return []byte(fmt.Sprintf(`{"msgid":%q,"action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":%d,"msgtype":"image","image":{"md5sum":"","filesize":10,"sdkfileid":%q}}`, msgid, ms, sdkfileid))
}

// fullBlobs is a blob store whose Puts fail with ENOSPC while full is set.
type fullBlobs struct {
	blob.Store
	full atomic.Bool
}

func (f *fullBlobs) Put(ctx context.Context, data []byte, opts blob.PutOptions) (archive.BlobID, error) {
	if f.full.Load() {
		return archive.BlobID{}, &blob.Error{Op: "put", ID: archive.Hash(data), Err: &os.PathError{Op: "write", Path: "tmp/put-x", Err: syscall.ENOSPC}}
	}
	return f.Store.Put(ctx, data, opts)
}

// CheckWritable is the store's write probe (repo.WriteChecker).
func (f *fullBlobs) CheckWritable(context.Context) error {
	if f.full.Load() {
		return fmt.Errorf("write probe: %w", syscall.ENOSPC)
	}
	return nil
}

func (e *env) wantReady(want bool) string {
	e.t.Helper()
	resp, b := e.request("GET", "/readyz", nil, nil)
	if (resp.StatusCode == 200) != want {
		e.t.Fatalf("/readyz %d %s, want ready=%v", resp.StatusCode, b, want)
	}
	if !want {
		p := problemOf(e.t, b)
		if resp.StatusCode != http.StatusServiceUnavailable || p.Code != "not_ready" {
			e.t.Fatalf("/readyz %d %s", resp.StatusCode, b)
		}
		return p.Message
	}
	return ""
}

// A full blob store (injected): 507 naming it, nothing acknowledged or
// journaled, /readyz not ready with the reason until a write succeeds.
func TestDiskFullInjected(t *testing.T) {
	media := mapMedia{"SDK-IMG-1": bytes.Repeat([]byte{0xff, 0xd8, 0xff}, 100)}
	e := newEnv(t)
	fb := &fullBlobs{Store: e.r.Blobs}
	e.r.Blobs = fb
	e.restart(httpapi.Options{Ingesters: archivetest.Ingesters(e.r, media)})
	e.wantReady(true)
	fb.full.Store(true)
	size := e.head().JournalSize
	resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/json"}, imageMsg("full0001", "SDK-IMG-1", 1700800000000))
	if p := problemOf(t, b); resp.StatusCode != http.StatusInsufficientStorage || p.Code != "insufficient_storage" || !strings.Contains(p.Message, "blob store") {
		t.Fatalf("blob store full: %d %s", resp.StatusCode, b)
	}
	if h := e.head(); h.JournalSize != size {
		t.Fatalf("a failed ingest wrote %d events", h.JournalSize-size)
	}
	if reason := e.wantReady(false); !strings.Contains(reason, "blob store") {
		t.Fatalf("/readyz reason %q does not name the blob store", reason)
	}
	// Space is back: the write probe (the store's directory) succeeds,
	// the server is ready, the retry is archived.
	fb.full.Store(false)
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, _ := e.request("GET", "/readyz", nil, nil); resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready again after space came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	res := e.ingest("", "application/json", imageMsg("full0001", "SDK-IMG-1", 1700800000000), 200)
	if res.Archived != 1 {
		t.Fatalf("retry: %+v", res)
	}
}
