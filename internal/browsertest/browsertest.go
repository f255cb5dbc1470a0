// Package browsertest drives a real Chromium for the web interface's
// tests (test code only): it starts Debian's chromium headless with the
// flags of ../shared/ENGINES.md and a fresh profile, refuses every request
// to a host other than the servers under test, collects console errors
// (a test fails on any it did not expect) and saves screenshots where
// $WXARCHIVE_ARTIFACTS says (else a temporary directory it names).
//
// Without chromium the tests skip, saying how to install it — except
// under CI=true, where they fail: a CI run without the browser tests is
// not a pass.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Paths where a Chromium may be, in order; $WXARCHIVE_CHROMIUM first.
var candidates = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"}

// StepTimeout bounds one step of a test (a navigation, a click, a wait).
const StepTimeout = 30 * time.Second

// Chromium returns the browser's path, or ends the test: a failure under
// CI=true, a skip naming the package to install otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	paths := candidates
	if p := os.Getenv("WXARCHIVE_CHROMIUM"); p != "" {
		paths = append([]string{p}, paths...)
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const how = "no chromium: install it with `apt-get install -y chromium` (or set WXARCHIVE_CHROMIUM to its path)"
	if os.Getenv("CI") == "true" {
		t.Fatal(how + " — CI=true, so the browser tests must run")
	}
	t.Skip(how)
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	allowed map[string]bool // host:port of the servers under test
	offsite []string        // requests refused
	errors  []string        // console errors and exceptions
	expect  []*regexp.Regexp
	shots   string
	n       int
}

// New starts a browser for the server at serverURL, at 1280×800.
func New(t testing.TB, serverURL string) *Browser {
	t.Helper()
	path := Chromium(t)
	profile, err := os.MkdirTemp("", "wxarchive-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Exactly ENGINES.md's flags: without the background-networking ones
	// Chromium floods the closed network.
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{t: t, ctx: ctx, allowed: map[string]bool{}}
	t.Cleanup(func() {
		cancel()
		acancel()
		os.RemoveAll(profile)
	})
	b.Allow(serverURL)
	// Subscribing starts the browser and opens the tab; every request of
	// the tab then waits for requests() to let it through.
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	go b.requests(paused)
	go b.console(chromedp.Console(ctx))
	b.shots = os.Getenv("WXARCHIVE_ARTIFACTS")
	if b.shots != "" {
		b.shots = filepath.Join(b.shots, safeName(t.Name()))
	} else if b.shots, err = os.MkdirTemp("", "wxarchive-screenshots-"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Check)
	return b
}

// Allow lets the browser reach another server of the test (its scheme
// and host:port).
func (b *Browser) Allow(rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		b.t.Fatalf("browsertest: Allow(%q): not a server URL", rawURL)
	}
	b.mu.Lock()
	b.allowed[u.Scheme+"://"+u.Host] = true
	b.mu.Unlock()
}

// requests lets through the requests to the servers under test and fails
// every other (recorded, so Check fails the test).
func (b *Browser) requests(paused func(func(fetch.EventRequestPaused, error) bool)) {
	for ev, err := range paused {
		if err != nil {
			return
		}
		u, perr := url.Parse(ev.Request.URL)
		b.mu.Lock()
		ok := perr == nil && (b.allowed[u.Scheme+"://"+u.Host] || u.Scheme == "data")
		if !ok {
			b.offsite = append(b.offsite, ev.Request.Method+" "+ev.Request.URL)
		}
		b.mu.Unlock()
		if ok {
			chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		} else {
			chromedp.Call(b.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}
}

func (b *Browser) console(msgs func(func(chromedp.ConsoleMessage, error) bool)) {
	for m, err := range msgs {
		if err != nil {
			return
		}
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		b.mu.Lock()
		expected := false
		for _, re := range b.expect {
			expected = expected || re.MatchString(m.Text)
		}
		if !expected {
			b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
		}
		b.mu.Unlock()
	}
}

// ExpectConsole accepts console errors matching re from now on: the
// browser logs every 4xx answer, and a test that asks for a refused page
// expects that line.
func (b *Browser) ExpectConsole(re string) {
	b.mu.Lock()
	b.expect = append(b.expect, regexp.MustCompile(re))
	b.mu.Unlock()
}

// Do runs steps, each within StepTimeout, and fails the test on an error.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, s := range steps {
		ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
		err := chromedp.Do(ctx, s)
		cancel()
		if err != nil {
			b.Screenshot(fmt.Sprintf("failed-step-%d", i))
			b.t.Fatalf("browsertest: step %d: %v", i, err)
		}
	}
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browsertest: evaluate %s: %v", expr, err)
	}
	return v
}

// Await evaluates a JavaScript expression whose value is a promise, and
// returns what it resolves to.
func Await[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, awaitPromise))
	if err != nil {
		b.t.Fatalf("browsertest: evaluate %s: %v", expr, err)
	}
	return v
}

func awaitPromise(p *runtime.EvaluateParams) { t := true; p.AwaitPromise = &t }

// Screenshot saves the whole page as NN-name.png (quality 100 is PNG).
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("browsertest: screenshot %s: %v", name, err)
		return
	}
	b.n++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, safeName(name)))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("browsertest: %v", err)
		return
	}
	b.t.Logf("screenshot %s", p)
}

// Check fails the test for every request refused to another host and
// every unexpected console error so far. It runs at the end of every
// test; a test may call it earlier.
func (b *Browser) Check() {
	b.t.Helper()
	// A round trip, so the messages of the last page are in.
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	chromedp.Run(ctx, chromedp.Evaluate[int]("1"))
	cancel()
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.offsite {
		b.t.Errorf("browsertest: the page asked another host: %s", r)
	}
	for _, e := range b.errors {
		b.t.Errorf("browsertest: console: %s", e)
	}
	b.offsite, b.errors = nil, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return strings.Trim(unsafeName.ReplaceAllString(s, "_"), "_") }

// axeSource is axe-core's script, read once: $WXARCHIVE_AXE, else the
// cache tools/axe/fetch.sh fills.
var axeSource = sync.OnceValues(func() (string, error) {
	p := os.Getenv("WXARCHIVE_AXE")
	if p == "" {
		home, _ := os.UserHomeDir()
		base := os.Getenv("WXARCHIVE_TOOLS")
		if base == "" {
			base = filepath.Join(home, ".cache", "wxarchive-tools")
		}
		m, _ := filepath.Glob(filepath.Join(base, "axe-core-*", "axe.min.js"))
		if len(m) == 0 {
			return "", fmt.Errorf("no axe-core: run tools/axe/fetch.sh (it fetches the pinned version from npm) or set WXARCHIVE_AXE")
		}
		p = m[len(m)-1]
	}
	b, err := os.ReadFile(p)
	return string(b), err
})

// AxeImpacts are the impacts of accessibility violations that fail a test.
var AxeImpacts = []string{"serious", "critical"}

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// Axe runs axe-core in the current page (injected through DevTools, so
// the page's content policy still forbids every script but its own) and
// fails the test for every serious or critical violation, naming the
// rule and the elements. Without axe-core it fails under CI=true and is
// skipped, saying so, otherwise.
func (b *Browser) Axe(page string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.t.Fatalf("browsertest: %v — CI=true, so every page must be checked", err)
		}
		b.t.Logf("browsertest: accessibility not checked: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
	defer cancel()
	run := `(async () => {
  if (!window.axe) { ` + src + `
  }
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
})()`
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](run, awaitPromise))
	if err != nil {
		b.t.Fatalf("browsertest: axe-core on %s: %v", page, err)
	}
	for _, v := range vs {
		if slices.Contains(AxeImpacts, v.Impact) {
			b.t.Errorf("accessibility (%s) on %s: %s — %s at %s", v.Impact, page, v.ID, v.Help, strings.Join(v.Nodes, ", "))
		}
	}
}
