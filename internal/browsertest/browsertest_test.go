package browsertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// recorder is a testing.TB that keeps the failures Check reports
// instead of failing the test that checks them.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// TestHarnessCatchesOffsiteRequestsAndConsoleErrors: a page that loads
// an image from another host and writes a console error fails the test
// on both; the request never leaves the browser.
func TestHarnessCatchesOffsiteRequestsAndConsoleErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><title>t</title><p id="p">hello</p>
<img src="http://192.0.2.7/pixel.png"><script>console.error("boom from the page")</script>`)
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	b := New(rec, srv.URL)
	b.Do(chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.ID("p")))
	if got := Eval[string](b, `document.getElementById("p").textContent`); got != "hello" {
		t.Fatalf("the page says %q", got)
	}
	b.Screenshot("harness")
	b.Check()
	rec.mu.Lock()
	errs := slices.Clone(rec.errs)
	rec.mu.Unlock()
	joined := strings.Join(errs, "\n")
	if !strings.Contains(joined, "GET http://192.0.2.7/pixel.png") {
		t.Errorf("the request to another host is not reported:\n%s", joined)
	}
	if !strings.Contains(joined, "boom from the page") {
		t.Errorf("the console error is not reported:\n%s", joined)
	}
	// Once reported, they are not reported again at the end.
	rec.mu.Lock()
	rec.errs = nil
	rec.mu.Unlock()
}

// TestExpectedConsoleErrors: a console error the test expects does not
// fail it.
func TestExpectedConsoleErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><title>t</title><p id="p">x</p><script>console.error("expected one")</script>`)
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	b := New(rec, srv.URL)
	b.ExpectConsole(`^expected one$`)
	b.Do(chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.ID("p")))
	b.Check()
	if len(rec.errs) != 0 {
		t.Fatalf("an expected console error failed the test: %v", rec.errs)
	}
}

// TestAxeFindsViolations: a page with an unlabelled field, an image
// without alternative text and unreadable contrast fails the test,
// naming each rule; the same page fixed passes. The page's content
// policy forbids inline scripts: axe-core runs anyway (DevTools).
func TestAxeFindsViolations(t *testing.T) {
	bad := `<!doctype html><html lang="en"><title>t</title><main><h1 id="p">Form</h1>
<form><input type="text" name="q"></form><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#bbb;background:#fff">faint text</p></main></html>`
	good := `<!doctype html><html lang="en"><title>t</title><main><h1 id="p">Form</h1>
<form><label for="q">Query</label><input id="q" type="text" name="q"></form><img alt="a dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#333;background:#fff">clear text</p></main></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'")
		if r.URL.Path == "/good" {
			io.WriteString(w, good)
			return
		}
		io.WriteString(w, bad)
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	b := New(rec, srv.URL)
	b.Do(chromedp.Navigate(srv.URL+"/bad"), chromedp.WaitVisible(chromedp.ID("p")))
	b.Axe("bad")
	rec.mu.Lock()
	joined := strings.Join(rec.errs, "\n")
	rec.errs = nil
	rec.mu.Unlock()
	for _, rule := range []string{"label", "image-alt", "color-contrast"} {
		if !strings.Contains(joined, ": "+rule+" — ") {
			t.Errorf("axe-core did not report %s:\n%s", rule, joined)
		}
	}
	b.Do(chromedp.Navigate(srv.URL+"/good"), chromedp.WaitVisible(chromedp.ID("p")))
	b.Axe("good")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 0 {
		t.Errorf("the accessible page failed: %v", rec.errs)
	}
	rec.errs = nil
}
