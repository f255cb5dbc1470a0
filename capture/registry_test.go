package capture_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
)

// recorder is a Health that remembers what it was told.
type recorder struct {
	mu     sync.Mutex
	events []string
	open   map[string]bool
	reg    []string
}

func (r *recorder) Observe(_ context.Context, id, outcome, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "observe "+id+" "+outcome)
}

func (r *recorder) Raise(_ context.Context, id, kind, subject, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		r.open = map[string]bool{}
	}
	if !r.open[id+" "+kind+" "+subject] {
		r.open[id+" "+kind+" "+subject] = true
		r.events = append(r.events, "raise "+id+" "+kind)
	}
}

func (r *recorder) Resolve(_ context.Context, id, kind, subject, _, _ string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open[id+" "+kind+" "+subject] {
		return false
	}
	delete(r.open, id+" "+kind+" "+subject)
	r.events = append(r.events, "resolve "+id+" "+kind)
	return true
}

func (r *recorder) Register(id string, typ connector.Type, source string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reg = append(r.reg, id+" "+string(typ)+" "+source)
}

// pager is a test connector type, defined the way a real one is: its own
// rules, source, constructor and standing fault, registered with one line.
type pager struct {
	info  capture.Info
	wakes chan capture.Signal
	ran   chan struct{}
}

func (p *pager) Info() capture.Info { return p.info }

func (p *pager) Run(ctx context.Context) error {
	close(p.ran)
	<-ctx.Done()
	return nil
}

func (p *pager) Wake(s capture.Signal) {
	if s.Corp == strings.TrimPrefix(p.info.Source, "pager:") {
		select {
		case p.wakes <- s:
		default:
		}
	}
}

// hook is a connector that receives requests and signals others.
type hook struct {
	info   capture.Info
	signal func(capture.Signal)
	corp   string
}

func (h *hook) Info() capture.Info { return h.info }
func (h *hook) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
func (h *hook) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.signal(capture.Signal{Kind: capture.SignalMsgauditNotify, Corp: h.corp, From: h.info.ID})
	w.WriteHeader(http.StatusNoContent)
}

var built = map[string]*pager{}

func testRegistry() *capture.Registry {
	r := capture.NewRegistry()
	r.Register(capture.Type{
		Name: "pager",
		Rules: connector.Rules{
			Fields: []string{"corp_id", "poll_interval", "secret"},
			Check: func(c *connector.Config) []connector.Problem {
				var ps []connector.Problem
				if c.CorpID == "" {
					ps = append(ps, connector.Problemf("corp_id", "required"))
				}
				return append(ps, connector.RequireSecret("secret", c.Secret)...)
			},
			Unique: func(c *connector.Config) string { return "corp " + c.CorpID },
		},
		Source: func(c *connector.Config) string { return "pager:" + c.CorpID },
		New: func(_ context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
			if _, err := c.Secret.Resolve(); err != nil {
				return nil, fmt.Errorf("secret: %w", err)
			}
			p := &pager{info: capture.Info{ID: c.ID, Type: c.Type, Source: "pager:" + c.CorpID}, wakes: make(chan capture.Signal, 1), ran: make(chan struct{})}
			built[c.ID] = p
			return p, nil
		},
		Standing: func(c *connector.Config) map[string]string {
			detail := ""
			if c.PollInterval > time.Hour {
				detail = "polls rarely"
			}
			return map[string]string{"slow_poll": detail}
		},
	})
	r.Register(capture.Type{
		Name:   "hook",
		Rules:  connector.Rules{Fields: []string{"corp_id"}},
		Source: func(c *connector.Config) string { return "hook:" + c.ID },
		New: func(_ context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
			return &hook{info: capture.Info{ID: c.ID, Type: c.Type, Source: "hook:" + c.ID}, signal: d.Signal, corp: c.CorpID}, nil
		},
	})
	return r
}

func configs(t *testing.T, s string) []connector.Config {
	t.Helper()
	var f struct {
		Connectors []connector.Config `yaml:"connectors"`
	}
	if err := yaml.Unmarshal([]byte(s), &f); err != nil {
		t.Fatal(err)
	}
	return f.Connectors
}

// TestRegistryBuild: a registered type is validated by its own rules,
// built, registered with health, run, and woken by another connector's
// signal; a standing fault is raised while configured and resolved when
// the configuration drops it or the connector is disabled.
func TestRegistryBuild(t *testing.T) {
	t.Setenv("WXA_TEST_PAGER", "s3cret")
	reg := testRegistry()
	if got := reg.Types(); !slices.Equal(got, []connector.Type{"pager", "hook"}) {
		t.Fatalf("types %v", got)
	}
	cs := configs(t, `connectors:
  - {id: p1, type: pager, corp_id: c1, secret: {env: WXA_TEST_PAGER}, poll_interval: 2h}
  - {id: p2, type: pager, corp_id: c2, secret: {env: WXA_TEST_PAGER}}
  - {id: h1, type: hook, corp_id: c1}
  - {id: off, type: pager, corp_id: c3, secret: {env: WXA_TEST_PAGER}, poll_interval: 2h, enabled: false}
`)
	h := &recorder{}
	set, err := reg.Build(context.Background(), cs, capture.Deps{Health: h})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(set.Connectors()); n != 3 {
		t.Fatalf("%d connectors built, want 3 (one disabled)", n)
	}
	if !slices.Equal(h.reg, []string{"p1 pager pager:c1", "p2 pager pager:c2", "h1 hook hook:h1"}) {
		t.Fatalf("registered with health: %v", h.reg)
	}
	if !slices.Equal(h.events, []string{"raise p1 slow_poll"}) {
		t.Fatalf("standing faults: %v", h.events)
	}
	handlers := set.Handlers()
	if len(handlers) != 1 || handlers["h1"] == nil {
		t.Fatalf("handlers %v", handlers)
	}
	if src := reg.Source(cs[1]); src != "pager:c2" {
		t.Fatalf("source %q", src)
	}
	if src := reg.Source(connector.Config{ID: "x", Type: "smoke"}); src != "smoke:x" {
		t.Fatalf("source of an unknown type %q", src)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		set.Run(ctx)
		close(done)
	}()
	for _, id := range []string{"p1", "p2"} {
		select {
		case <-built[id].ran:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s is not running", id)
		}
	}
	// The hook's request signals corp c1: p1 wakes, p2 (corp c2) does not.
	rec := httptest.NewRecorder()
	handlers["h1"].ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	select {
	case s := <-built["p1"].wakes:
		if s.Kind != capture.SignalMsgauditNotify || s.From != "h1" {
			t.Fatalf("signal %+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("p1 was not woken")
	}
	select {
	case s := <-built["p2"].wakes:
		t.Fatalf("p2 woken by a signal for another corp: %+v", s)
	default:
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	// The next start without the slow poll resolves the standing fault.
	cs[0].PollInterval = 0
	if _, err := reg.Build(context.Background(), cs, capture.Deps{Health: h}); err != nil {
		t.Fatal(err)
	}
	if h.events[len(h.events)-1] != "resolve p1 slow_poll" || len(h.open) != 0 {
		t.Fatalf("after the configuration dropped it: %v (open %v)", h.events, h.open)
	}
	// A disabled connector's standing fault is resolved too.
	cs[0].PollInterval = 2 * time.Hour
	reg.Build(context.Background(), cs, capture.Deps{Health: h})
	f := false
	cs[0].Enabled = &f
	reg.Build(context.Background(), cs, capture.Deps{Health: h})
	if h.events[len(h.events)-1] != "resolve p1 slow_poll" || len(h.open) != 0 {
		t.Fatalf("after it was disabled: %v", h.events)
	}
}

// TestRegistryRefuses: every configuration problem at once, each naming
// line, connector and field; then every constructor failure at once; and
// no Set unless everything could be built.
func TestRegistryRefuses(t *testing.T) {
	reg := testRegistry()
	cs := configs(t, `connectors:
  - {id: p1, type: pager, secret: hunter2}
  - {id: p2, type: pager, corp_id: c1, secret: {env: S}, open_kfid: x}
  - {id: p3, type: pager, corp_id: c1, secret: {env: S}}
  - {id: h1, type: hook, poll_interval: 1m}
  - {id: x, type: smoke}
`)
	_, err := reg.Build(context.Background(), cs, capture.Deps{})
	if err == nil {
		t.Fatal("built a bad configuration")
	}
	for _, want := range []string{
		"line 2: connectors[0] (p1): corp_id: required",
		"line 2: connectors[0] (p1): secret: a secret must not be written in the configuration file",
		"line 3: connectors[1] (p2): open_kfid: no connector type reads it",
		"line 4: connectors[2] (p3): id: a second pager connector for corp c1 (connectors[1] is one)",
		"line 5: connectors[3] (h1): poll_interval: is for pager connectors",
		`line 6: connectors[4] (x): type: "smoke": expected pager or hook`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatal("an error shows the inline secret")
	}
	// Valid, but two secrets cannot be read: both named, nothing built.
	cs = configs(t, `connectors:
  - {id: p1, type: pager, corp_id: c1, secret: {env: WXA_TEST_UNSET_1}}
  - {id: p2, type: pager, corp_id: c2, secret: {env: WXA_TEST_UNSET_2}}
`)
	set, err := reg.Build(context.Background(), cs, capture.Deps{})
	if set != nil || err == nil || !strings.Contains(err.Error(), "connector p1: secret: environment variable WXA_TEST_UNSET_1 is not set") ||
		!strings.Contains(err.Error(), "connector p2: secret: environment variable WXA_TEST_UNSET_2 is not set") {
		t.Fatalf("Build = %v, %v", set, err)
	}
}

func TestRegistryRegister(t *testing.T) {
	reg := testRegistry()
	for name, f := range map[string]func(){
		"duplicate type": func() {
			reg.Register(capture.Type{Name: "pager", Source: func(*connector.Config) string { return "" },
				New: func(context.Context, connector.Config, capture.Deps) (capture.Connector, error) { return nil, nil }})
		},
		"no constructor": func() { reg.Register(capture.Type{Name: "half"}) },
		"duplicate ingester": func() {
			ing := capture.IngesterType{Name: "x", New: func(capture.Deps) capture.EntryIngester { return nil }}
			reg.RegisterIngester(ing)
			reg.RegisterIngester(ing)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if _, err := reg.Ingester("nobody", capture.Deps{}); !errors.Is(err, capture.ErrUnknownIngester) {
		t.Fatalf("unknown ingester: %v", err)
	}
	if ings := reg.Ingesters(capture.Deps{}); len(ings) != 1 {
		t.Fatalf("ingesters %v", ings)
	}
}

// TestRegistryExposedSecret: a secret file other users can read raises
// secret_exposed for its field (naming the file and mode, never the
// secret); chmod 600 and the next start resolves it.
func TestRegistryExposedSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pager.secret")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry()
	cs := configs(t, fmt.Sprintf("connectors:\n  - {id: p1, type: pager, corp_id: c1, secret: {file: %q}}\n", path))
	if p := cs[0].ExposedSecrets(); len(p) != 1 || p[0].Field != "secret" || !strings.Contains(p[0].Reason, "0644") || strings.Contains(p[0].Reason, "s3cret") {
		t.Fatalf("exposed secrets: %+v", p)
	}
	h := &recorder{}
	if _, err := reg.Build(context.Background(), cs, capture.Deps{Health: h}); err != nil {
		t.Fatal(err)
	}
	if !h.open["p1 "+capture.FaultSecretExposed+" secret"] {
		t.Fatalf("secret_exposed not raised: %v", h.events)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := cs[0].ExposedSecrets(); len(p) != 0 {
		t.Fatalf("a 0600 file reported: %+v", p)
	}
	if _, err := reg.Build(context.Background(), cs, capture.Deps{Health: h}); err != nil {
		t.Fatal(err)
	}
	if len(h.open) != 0 || h.events[len(h.events)-1] != "resolve p1 "+capture.FaultSecretExposed {
		t.Fatalf("after chmod 600: %v (open %v)", h.events, h.open)
	}
}
