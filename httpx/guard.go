package httpx

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// BodyPolicy bounds how long a request body may take to arrive, the way
// Apache's mod_reqtimeout does ("body=Initial-Max,MinRate=…"): the body
// must start within Initial; every MinRate bytes received buy one more
// second; and the whole body must be in by Max. A client dribbling a
// body (Slowloris) is cut off at the deadline and its connection closed,
// so it holds no handler, buffer or concurrency slot for longer than
// that, while a large body sent at a reasonable speed is never cut.
type BodyPolicy struct {
	Initial time.Duration
	MinRate int64 // bytes per second
	Max     time.Duration
}

// Named defaults (README "HTTP API", docs/SECURITY.md "Limits of the HTTP server").
const (
	DefaultBodyInitial  = 10 * time.Second
	DefaultBodyMinRate  = 64 << 10 // 64 KiB/s
	DefaultBodyMax      = 5 * time.Minute
	DefaultWriteTimeout = 2 * time.Minute
)

// DefaultBodyPolicy is the policy every request body gets unless the
// server is configured otherwise.
var DefaultBodyPolicy = BodyPolicy{Initial: DefaultBodyInitial, MinRate: DefaultBodyMinRate, Max: DefaultBodyMax}

func (p BodyPolicy) withDefaults() BodyPolicy {
	if p.Initial <= 0 {
		p.Initial = DefaultBodyInitial
	}
	if p.MinRate <= 0 {
		p.MinRate = DefaultBodyMinRate
	}
	if p.Max <= 0 {
		p.Max = DefaultBodyMax
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	return p
}

// deadline is when a body of which n bytes arrived must be complete.
func (p BodyPolicy) deadline(start time.Time, n int64) time.Time {
	extra := time.Duration(float64(n) / float64(p.MinRate) * float64(time.Second))
	return start.Add(min(p.Initial+extra, p.Max))
}

// ErrBodyTimeout is matched by the error of a body that did not arrive in
// time (a *BodyTimeoutError).
var ErrBodyTimeout = errors.New("request body arrived too slowly")

// BodyTimeoutError is a body cut off by its BodyPolicy.
type BodyTimeoutError struct {
	Received int64
	Elapsed  time.Duration
	Policy   BodyPolicy
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("request body: %d bytes received in %s; a body must start within %s, arrive at %d bytes/s or more, and be complete within %s",
		e.Received, e.Elapsed.Round(time.Millisecond), e.Policy.Initial, e.Policy.MinRate, e.Policy.Max)
}

func (e *BodyTimeoutError) Unwrap() error { return ErrBodyTimeout }

// deadlineBody enforces a BodyPolicy on a request body by moving the
// connection's read deadline as bytes arrive. Once the body is complete,
// net/http lifts the deadline itself when it starts reading the
// connection in the background (to notice a client that goes away), so a
// deadline passing during a long handler never cancels it
// (TestGuardBodyDeadlineLiftedAfterBody).
type deadlineBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	policy BodyPolicy
	start  time.Time
	n      int64
	set    time.Time // deadline last given to the connection
	done   bool
	err    error
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.done = true
		return n, err
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = &BodyTimeoutError{Received: b.n, Elapsed: time.Since(b.start), Policy: b.policy}
			b.err = err
		}
		return n, err
	}
	// Moving the deadline costs a timer reset; do it once a second of
	// credit has accumulated, not on every read.
	if d := b.policy.deadline(b.start, b.n); d.Sub(b.set) >= time.Second {
		if b.rc.SetReadDeadline(d) == nil {
			b.set = d
		}
	}
	return n, nil
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// writeDeadline sets the connection's write deadline when the response
// starts, so a client that stops reading its answer holds the handler
// for at most the write timeout (measured from the first byte written,
// not from the request: a long ingest is not cut short by it).
type writeDeadline struct {
	http.ResponseWriter
	timeout time.Duration
	started bool
}

func (w *writeDeadline) start() {
	if !w.started {
		w.started = true
		http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *writeDeadline) WriteHeader(code int) {
	if code >= 200 { // an informational answer is not the response
		w.start()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writeDeadline) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *writeDeadline) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Guard is what every request of a wxarchive HTTP server goes through
// before any handler, in this order:
//  1. the Host header must be on the allow-list (421 bad_host);
//  2. a state-changing request (any method but GET, HEAD, OPTIONS) must
//     not come from another site (net/http's CrossOriginProtection: the
//     Sec-Fetch-Site header, else Origin against Host; 403 cross_origin);
//  3. its body is read under the BodyPolicy (408 body_timeout), and its
//     answer written under the write timeout.
//
// Requests with neither Sec-Fetch-Site nor Origin (curl, connectors) are
// not cross-origin: browsers always send one of them on a cross-site
// state-changing request.
type Guard struct {
	Hosts        *Hosts // nil: every Host (tests only)
	Body         BodyPolicy
	WriteTimeout time.Duration // 0: DefaultWriteTimeout
	Logger       *slog.Logger

	cop      *http.CrossOriginProtection
	refusals atomic.Int64
}

// Wrap returns h behind the guard.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	g.Body = g.Body.withDefaults()
	if g.WriteTimeout <= 0 {
		g.WriteTimeout = DefaultWriteTimeout
	}
	if g.Logger == nil {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	g.cop = http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if !g.Hosts.Allowed(r.Host) {
			g.refuse(w, r, Errorf(http.StatusMisdirectedRequest, "bad_host",
				"Host header %q is not a name this server answers to (serve --allowed-host adds one)", truncate(r.Host, 100)))
			return
		}
		if err := g.cop.Check(r); err != nil {
			g.refuse(w, r, Errorf(http.StatusForbidden, "cross_origin",
				"a %s from another site is refused (headers Origin %q, Sec-Fetch-Site %q)", r.Method,
				truncate(r.Header.Get("Origin"), 100), truncate(r.Header.Get("Sec-Fetch-Site"), 40)))
			return
		}
		ww := &writeDeadline{ResponseWriter: w, timeout: g.WriteTimeout}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			d := g.Body.deadline(start, 0)
			if rc.SetReadDeadline(d) == nil {
				r.Body = &deadlineBody{body: r.Body, rc: rc, policy: g.Body, start: start, set: d}
			}
		}
		h.ServeHTTP(ww, r)
	})
}

// Refusals counts requests the guard refused (host, origin).
func (g *Guard) Refusals() int64 { return g.refusals.Load() }

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, p *Problem) {
	g.refusals.Add(1)
	g.Logger.Warn("request refused", "code", p.Code, "method", r.Method, "path", truncate(r.URL.Path, 200), "remote", r.RemoteAddr)
	// The body was not read: the connection cannot be reused safely.
	w.Header().Set("Connection", "close")
	Write(w, r, g.Logger, p)
}

// truncate shortens an untrusted value for a message, keeping it valid
// UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
