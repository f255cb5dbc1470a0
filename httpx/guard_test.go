package httpx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

func TestHosts(t *testing.T) {
	h, err := NewHosts("localhost", "127.0.0.1", "::1", "10.0.0.5:8080", "Archive.Example.COM", "[fd00::1]:9000")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost":              true,
		"LOCALHOST:1234":         true,
		"localhost.:80":          true,
		"127.0.0.1:8080":         true,
		"[::1]:8080":             true,
		"[::1]":                  true,
		"10.0.0.5:8080":          true,
		"10.0.0.5:8081":          false, // the listen address is allowed on its port only
		"10.0.0.5":               false,
		"archive.example.com":    true,
		"archive.example.com:44": true,
		"[fd00::1]:9000":         true,
		"[fd00::1]:9001":         false,
		"evil.example":           false,
		"evil.example:8080":      false,
		"localhost.evil.example": false,
		"127.0.0.1.nip.io:8080":  false,
		"":                       false,
		"localhost:":             false,
		"localhost:0":            false,
		"localhost:99999":        false,
		"localhost:08080":        false,
		"[::1":                   false,
		"[127.0.0.1]:80":         false,
		"local host":             false,
		"-bad.example":           false,
		"a..b":                   false,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"", "http://localhost", "localhost/x", "*.example.com", "user@host", "host:port", "a b"} {
		if _, err := NewHosts(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("NewHosts(%q): %v, want an error naming the entry", bad, err)
		}
	}
}

// guarded serves h behind a guard on a real listener.
func guarded(t *testing.T, g *Guard, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(g.Wrap(h))
	t.Cleanup(srv.Close)
	return srv
}

func decodeProblem(t *testing.T, b []byte) (code, msg string) {
	t.Helper()
	var out struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("not the JSON error shape: %q: %v", b, err)
	}
	return out.Error.Code, out.Error.Message
}

func TestGuardHostAndOrigin(t *testing.T) {
	hosts, _ := NewHosts(LoopbackHosts...)
	var reached atomic.Int64
	srv := guarded(t, &Guard{Hosts: hosts}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "ok")
	}))
	do := func(method, host string, hdr map[string]string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+"/x", strings.NewReader("{}"))
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// DNS rebinding: the attacker's name, resolved to 127.0.0.1.
	status, b := do("GET", "rebind.evil.example:8080", nil)
	if code, msg := decodeProblem(t, b); status != http.StatusMisdirectedRequest || code != "bad_host" || !strings.Contains(msg, "Host header") || !strings.Contains(msg, "rebind.evil.example") {
		t.Fatalf("foreign Host: %d %s", status, b)
	}
	if reached.Load() != 0 {
		t.Fatal("a foreign Host reached the handler")
	}
	// Cross-site state-changing requests, by either header.
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
	} {
		status, b := do("POST", "", hdr)
		if code, msg := decodeProblem(t, b); status != http.StatusForbidden || code != "cross_origin" || !strings.Contains(msg, "Origin") {
			t.Fatalf("cross-site POST %v: %d %s", hdr, status, b)
		}
	}
	if reached.Load() != 0 {
		t.Fatal("a cross-site POST reached the handler")
	}
	// Allowed: a same-origin POST, a POST with neither header (curl, a
	// connector), a cross-site GET (reads are not state changes here;
	// the access they journal is the reader's own).
	for _, c := range []struct {
		method string
		hdr    map[string]string
	}{
		{"POST", map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"POST", map[string]string{"Origin": srv.URL}},
		{"POST", nil},
		{"PUT", nil},
		{"GET", map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if status, b := do(c.method, "", c.hdr); status != 200 {
			t.Fatalf("%s %v: %d %s", c.method, c.hdr, status, b)
		}
	}
}

// slowPost opens a raw connection, sends a POST's headers announcing n
// bytes, then one byte per interval until the server closes the
// connection; it returns what the server answered.
func slowPost(t *testing.T, addr string, n int, interval time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c) // until the server closes
		answered <- string(b)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for sent := 0; ; sent++ {
		select {
		case a := <-answered:
			return a
		case <-tick.C:
			if sent < n {
				c.Write([]byte{' '})
			}
		case <-time.After(time.Minute):
			t.Fatal("the server never cut the slow body off")
		}
	}
}

func TestGuardSlowBodyCutOff(t *testing.T) {
	policy := BodyPolicy{Initial: 300 * time.Millisecond, MinRate: 1 << 20, Max: 2 * time.Second}
	var readErr atomic.Value
	srv := guarded(t, &Guard{Body: policy}, Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			readErr.Store(err)
			return err
		}
		return nil
	}))
	answer := slowPost(t, srv.Listener.Addr().String(), 1000, 50*time.Millisecond)
	if !strings.HasPrefix(answer, "HTTP/1.1 408 ") || !strings.Contains(answer, `"body_timeout"`) || !strings.Contains(answer, "bytes/s") {
		t.Fatalf("a dribbled body: answered %q, want 408 body_timeout naming the rate", answer)
	}
	var bte *BodyTimeoutError
	if err, _ := readErr.Load().(error); !errors.As(err, &bte) || bte.Received >= 1000 {
		t.Fatalf("handler's read error %v, want a *BodyTimeoutError before the whole body", err)
	}
}

// Once the body is read, its deadline is lifted: a handler working long
// afterwards keeps its context (net/http's background read of the
// connection must not time out and cancel it). And a body arriving at a
// good rate is not cut, however long past Initial it takes.
func TestGuardBodyDeadlineLiftedAfterBody(t *testing.T) {
	policy := BodyPolicy{Initial: 500 * time.Millisecond, MinRate: 1 << 20, Max: time.Minute}
	srv := guarded(t, &Guard{Body: policy}, Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		time.Sleep(4 * policy.Initial) // well past the body's deadline
		if err := r.Context().Err(); err != nil {
			return Errorf(500, "cancelled", "context cancelled after the body was read: %v", err)
		}
		JSON(w, 200, map[string]int{"n": len(b)})
		return nil
	}))
	post := func(body io.Reader) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/x", body)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if status, b := post(bytes.NewReader(bytes.Repeat([]byte("x"), 8192))); status != 200 || !strings.Contains(b, `"n":8192`) {
		t.Fatalf("%d %s", status, b)
	}
	// 2 MiB at about 1 MiB/s per 256 KiB piece: past Initial, within the
	// rate (each MiB buys a second).
	slow := BodyPolicy{Initial: 300 * time.Millisecond, MinRate: 64 << 10, Max: time.Minute}
	srv2 := guarded(t, &Guard{Body: slow}, Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		JSON(w, 200, map[string]int{"n": len(b)})
		return nil
	}))
	pr, pw := io.Pipe()
	go func() {
		for range 8 {
			pw.Write(bytes.Repeat([]byte("y"), 256<<10))
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv2.URL+"/x", pr)
	resp, err := srv2.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b2), `"n":2097152`) {
		t.Fatalf("a body at a good rate: %d %s", resp.StatusCode, b2)
	}
}

// A client that stops reading its answer is cut off by the write
// timeout: the handler's write fails instead of blocking forever.
func TestGuardWriteTimeout(t *testing.T) {
	writeErr := make(chan error, 1)
	srv := guarded(t, &Guard{WriteTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("y"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}))
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	bufio.NewReader(c).ReadString('\n') // the status line, then never read again
	select {
	case <-writeErr: // the write failed, as it should
	case <-time.After(time.Minute):
		t.Fatal("the handler is still writing to a client that stopped reading")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter("ingest", 2)
	r1, err1 := l.Acquire()
	r2, err2 := l.Acquire()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := l.Acquire()
	var se *SaturatedError
	if !errors.As(err, &se) || se.Limit != 2 || se.What != "ingest" || !errors.Is(err, ErrSaturated) {
		t.Fatalf("third: %v", err)
	}
	p := ProblemOf(nil, err)
	if p.Status != 503 || p.Code != "busy" || p.RetryAfter <= 0 || !strings.Contains(p.Message, "ingest") {
		t.Fatalf("problem %+v", p)
	}
	r1()
	r1() // a second release is a no-op
	if l.InUse() != 1 {
		t.Fatalf("in use %d after one release (twice)", l.InUse())
	}
	if r3, err := l.Acquire(); err != nil {
		t.Fatal(err)
	} else {
		r3()
	}
	r2()
	if l.InUse() != 0 {
		t.Fatalf("in use %d", l.InUse())
	}
}

func TestBudget(t *testing.T) {
	b := NewBudget(10)
	ctx := context.Background()
	big, err := b.Acquire(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Larger than the budget: clamped to all of it, waits for it.
	var mu sync.Mutex
	var order []int64
	var done sync.WaitGroup
	waiter := func(n int64) {
		defer done.Done()
		r, err := b.Acquire(ctx, n)
		if err != nil {
			return
		}
		mu.Lock()
		order = append(order, n)
		mu.Unlock()
		r()
	}
	done.Add(1)
	go waiter(100)
	for b.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	// FIFO: a small request behind the large one waits too, though it
	// would fit now (else a stream of small ones starves a large one).
	done.Add(1)
	go waiter(1)
	for b.waiting() < 2 {
		time.Sleep(time.Millisecond)
	}
	// A waiter whose context ends leaves the line and gets nothing.
	cctx, cancel := context.WithCancel(ctx)
	cerr := make(chan error, 1)
	go func() {
		_, err := b.Acquire(cctx, 1)
		cerr <- err
	}()
	for b.waiting() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-cerr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	mu.Lock()
	if len(order) != 0 {
		t.Fatalf("granted %v while 8 of 10 are taken and the head wants 10", order)
	}
	mu.Unlock()
	big()
	done.Wait()
	if len(order) != 2 || order[0] != 100 || order[1] != 1 {
		t.Fatalf("granted %v, want 100 then 1", order)
	}
	if b.InUse() != 0 {
		t.Fatalf("in use %d", b.InUse())
	}
}

func TestProblemOfStorage(t *testing.T) {
	id := archive.Hash([]byte("x"))
	for _, c := range []struct {
		err  error
		what string
	}{
		{fmt.Errorf("store attachment 0 of m1: %w", &blob.Error{Op: "put", ID: id, Err: fmt.Errorf("write tmp/put-1: %w", syscall.ENOSPC)}), "blob store (put of blob " + id.Short()},
		{fmt.Errorf("commit: %w", syscall.ENOSPC), "index database"},
		{&SpoolError{Err: fmt.Errorf("write: %w", syscall.ENOSPC)}, "request spool"},
	} {
		p := ProblemOf(nil, c.err)
		if p.Status != http.StatusInsufficientStorage || p.Code != "insufficient_storage" || !strings.Contains(p.Message, c.what) {
			t.Errorf("%v: %+v, want 507 naming %q", c.err, p, c.what)
		}
		if strings.Contains(p.Message, "tmp/") {
			t.Errorf("507 message shows a path: %q", p.Message)
		}
	}
	if p := ProblemOf(nil, &BodyTimeoutError{Received: 5, Policy: DefaultBodyPolicy}); p.Status != http.StatusRequestTimeout || p.Code != "body_timeout" {
		t.Errorf("body timeout: %+v", p)
	}
}

func (b *Budget) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}
