// Package httpapi is the HTTP surface of `wxarchive serve`: health and
// readiness probes, Prometheus metrics, and the JSON API under /api/v1/.
// Authentication arrives with the web issue; until then serve binds to
// loopback by default.
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// Options configure the server.
type Options struct {
	Gatherer prometheus.Gatherer // for /metrics
	Logger   *slog.Logger
	// Callbacks are the callback receivers by connector id, served at
	// /capture/wecom/callback/{id}.
	Callbacks map[string]http.Handler
	// Health is the running server's capture health (nil: the report
	// comes from the journal alone), Connectors the registry of connector
	// types (nil: no connector types known).
	Health     *capture.Tracker
	Connectors *capture.Registry
	// Ingesters archive request bodies by format, served at
	// /api/v1/ingest/{format} (cmd/ builds them from the registry).
	Ingesters map[string]capture.EntryIngester
	// User names the authenticated user of a request ("" when unknown).
	// It is nil until authentication arrives: every request is then
	// journaled as "api:"+RemoteAddr, and no API caller is a supervision
	// principal, since an unauthenticated caller cannot be one.
	User func(req *http.Request) string
	// Now is the clock of reports (nil: time.Now).
	Now func() time.Time
	// Hosts are the Host header values the server answers to (DNS
	// rebinding); nil: the loopback names (httpx.LoopbackHosts) only.
	Hosts *httpx.Hosts
	// Limits bound what requests may cost; zero fields take the defaults.
	Limits Limits
}

// Limits bound what requests may cost (README "HTTP API", docs/SECURITY.md).
type Limits struct {
	// Body is how fast request bodies must arrive (default
	// httpx.DefaultBodyPolicy).
	Body httpx.BodyPolicy
	// WriteTimeout bounds writing an answer, from its first byte (default
	// httpx.DefaultWriteTimeout).
	WriteTimeout time.Duration
	// IngestRequests is how many ingest requests whose body has arrived
	// may be in progress at once (waiting for the budget or archiving);
	// more are refused with 503 busy.
	IngestRequests int
	// IngestBudget is how many bytes of entries all ingest requests
	// together may be archiving at once (decoded, encoded, committing);
	// requests wait their turn for it. It is what bounds ingest memory.
	IngestBudget int64
	// ReportRequests is how many policy backtests and review-evidence
	// reports (each a scan of the archive) may run at once.
	ReportRequests int
	// SpoolDir is where ingest bodies larger than SpoolMemory wait while
	// they are archived ("": <archive>/spool).
	SpoolDir string
	// SpoolBytes bounds what all spool files hold together; a body
	// arriving while it is spent is refused with 503 busy.
	SpoolBytes int64
}

// Named defaults of Limits.
const (
	DefaultIngestRequests = 128
	DefaultIngestBudget   = 8 << 20
	DefaultReportRequests = 4
	DefaultSpoolBytes     = 1 << 30
)

func (l *Limits) defaults(archiveDir string) {
	if l.IngestRequests <= 0 {
		l.IngestRequests = DefaultIngestRequests
	}
	if l.IngestBudget <= 0 {
		l.IngestBudget = DefaultIngestBudget
	}
	if l.ReportRequests <= 0 {
		l.ReportRequests = DefaultReportRequests
	}
	if l.SpoolBytes <= 0 {
		l.SpoolBytes = DefaultSpoolBytes
	}
	if l.SpoolDir == "" {
		l.SpoolDir = filepath.Join(archiveDir, "spool")
	}
}

// Server serves one open archive.
type Server struct {
	r       *repo.Repo
	app     *app.App
	opts    Options
	mux     *http.ServeMux
	handler http.Handler // mux behind the guard

	ingestSlots  *httpx.Limiter
	ingestBudget *httpx.Budget
	reportSlots  *httpx.Limiter
	spoolDir     string
	spoolQuota   *spoolQuota

	storage storageState
}

// New returns the server.
func New(r *repo.Repo, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	if opts.Hosts == nil {
		opts.Hosts, _ = httpx.NewHosts(httpx.LoopbackHosts...)
	}
	opts.Limits.defaults(r.Dir)
	deps := app.FromRepo(r)
	deps.Now, deps.Health, deps.Connectors = opts.Now, opts.Health, opts.Connectors
	s := &Server{r: r, app: app.New(deps), opts: opts, mux: http.NewServeMux(),
		ingestSlots:  httpx.NewLimiter("ingest", opts.Limits.IngestRequests),
		ingestBudget: httpx.NewBudget(opts.Limits.IngestBudget),
		reportSlots:  httpx.NewLimiter("reports", opts.Limits.ReportRequests),
		spoolDir:     opts.Limits.SpoolDir,
		spoolQuota:   &spoolQuota{limit: opts.Limits.SpoolBytes}}
	s.storage.probe = r.CheckWritable
	s.storage.logger = opts.Logger
	if r.Engine != nil {
		if err := prepareSpoolDir(s.spoolDir, opts.Logger); err != nil {
			// Large ingest bodies will fail with a spool error naming it;
			// everything else works.
			opts.Logger.Error("request spool unavailable", "err", err)
		}
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	api := func(pattern string, h httpx.HandlerFunc) { s.mux.Handle(pattern, s.acting(h)) }
	api("POST /api/v1/ingest/{format}", s.ingest)
	api("GET /api/v1/messages/{serial}", s.message)
	api("GET /api/v1/proofs/inclusion", s.inclusion)
	api("GET /api/v1/proofs/consistency", s.consistency)
	api("GET /api/v1/checkpoint", s.checkpoint)
	api("GET /api/v1/consent/{external_id}", s.consent)
	api("GET /api/v1/search", s.search)
	api("GET /api/v1/capture/health", s.captureHealth)
	api("GET /api/v1/policies", s.listPolicies)
	api("GET /api/v1/policies/{name}", s.getPolicy)
	api("PUT /api/v1/policies/{name}", s.putPolicy)
	api("POST /api/v1/policies/backtest", s.limited(s.reportSlots, s.backtest))
	api("GET /api/v1/alerts", s.listAlerts)
	api("GET /api/v1/alerts/queues", s.alertQueues)
	api("GET /api/v1/alerts/{id}", s.getAlert)
	api("POST /api/v1/alerts/actions", s.alertAction)
	api("GET /api/v1/reports/review-evidence", s.limited(s.reportSlots, s.reviewEvidence))
	s.mux.HandleFunc("/capture/wecom/callback/{id}", s.callback)
	guard := &httpx.Guard{Hosts: opts.Hosts, Body: opts.Limits.Body, WriteTimeout: opts.Limits.WriteTimeout, Logger: opts.Logger}
	s.handler = guard.Wrap(s.mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.handler.ServeHTTP(w, req)
}

// acting runs an API handler as the request's principal, with push-back:
// a remote client is told to come back (503, Retry-After) rather than
// queued behind a saturated writer. Errors go to httpx's one mapping; a
// full disk also makes the server not ready (storageState).
func (s *Server) acting(h httpx.HandlerFunc) http.Handler {
	return httpx.Handle(s.opts.Logger, func(w http.ResponseWriter, req *http.Request) error {
		p := app.Principal{Actor: s.actor(req), User: s.user(req), Via: "api"}
		ctx := ingest.WithPushback(app.WithPrincipal(req.Context(), p))
		err := h(w, req.WithContext(ctx))
		if err != nil && errors.Is(err, syscall.ENOSPC) {
			s.storage.full(httpx.StorageOf(err), err)
		}
		return err
	})
}

// limited runs h within one of l's slots (503 busy when none is free).
func (s *Server) limited(l *httpx.Limiter, h httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) error {
		release, err := l.Acquire()
		if err != nil {
			return err
		}
		defer release()
		return h(w, req)
	}
}

// callback hands a WeCom / Official Account callback to its connector.
func (s *Server) callback(w http.ResponseWriter, req *http.Request) {
	h, ok := s.opts.Callbacks[req.PathValue("id")]
	if !ok {
		httpx.Write(w, req, s.opts.Logger, httpx.Errorf(http.StatusNotFound, "not_found", "no callback connector %q is configured", req.PathValue("id")))
		return
	}
	h.ServeHTTP(w, req)
}

// captureHealth: GET /api/v1/capture/health, the report of `wxarchive
// health --json`, with what the running server has seen.
func (s *Server) captureHealth(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	rep, err := s.app.CaptureHealth(req.Context())
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// readyz: ready means accepting writes. After a write failed for want of
// space, the server is not ready, with the reason, until a write
// succeeds again: an ingest that commits, or the write probe readyz runs
// (at most once a second) while it is not ready.
func (s *Server) readyz(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()
	if s.r.Engine == nil || s.r.Engine.Closed() {
		httpx.Write(w, req, s.opts.Logger, httpx.Errorf(http.StatusServiceUnavailable, "not_ready", "archive is closing"))
		return
	}
	if reason := s.storage.check(ctx); reason != "" {
		httpx.Write(w, req, s.opts.Logger, &httpx.Problem{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: reason,
			RetryAfter: httpx.RetryAfterSeconds})
		return
	}
	if _, err := s.r.Store.Head(ctx); err != nil {
		httpx.Write(w, req, s.opts.Logger, httpx.Errorf(http.StatusServiceUnavailable, "not_ready", "index database unavailable"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ready\n")
}

// actor is who a request is journaled as: the authenticated user, else
// (no authentication yet) where the request came from.
func (s *Server) actor(req *http.Request) string {
	if u := s.user(req); u != "" {
		return "api:" + u
	}
	return "api:" + req.RemoteAddr
}

func (s *Server) user(req *http.Request) string {
	if s.opts.User == nil {
		return ""
	}
	return s.opts.User(req)
}

func (s *Server) message(w http.ResponseWriter, req *http.Request) error {
	serial, err := httpx.Uint("serial", req.PathValue("serial"))
	if err != nil {
		return err
	}
	vs, err := s.app.MessagesBySerial(req.Context(), serial)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, vs[0])
	return nil
}

func (s *Server) inclusion(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	var of app.ProofOf
	var err error
	switch {
	case q.Get("serial") != "":
		if of.Serial, err = httpx.Uint("serial", q.Get("serial")); err != nil {
			return err
		}
		of.BySerial = true
	case q.Get("index") != "":
		if of.Index, err = httpx.Uint("index", q.Get("index")); err != nil {
			return err
		}
	default:
		return httpx.BadParam("give serial= or index=")
	}
	p, err := s.app.InclusionProof(req.Context(), of)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) consistency(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	from, err := httpx.Uint("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := httpx.Uint("to", q.Get("to"))
	if err != nil {
		return err
	}
	c, err := s.app.ConsistencyProof(req.Context(), from, to)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) checkpoint(w http.ResponseWriter, req *http.Request) error {
	cp, err := s.app.Checkpoint(req.Context())
	if err != nil {
		return err
	}
	if strings.Contains(req.Header.Get("Accept"), "text/plain") {
		// The C2SP note as-is, for transparency-log tooling and witnesses.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, cp.Note)
		return nil
	}
	httpx.JSON(w, http.StatusOK, cp)
	return nil
}

func (s *Server) consent(w http.ResponseWriter, req *http.Request) error {
	v, err := s.app.Consent(req.Context(), req.PathValue("external_id"))
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// search: GET /api/v1/search?q=QUERY[&limit=N][&sort=time|relevance]
// [&cursor=C][&exact=true][&facets=true][&count_all=true]. The same semantics and JSON as
// `wxarchive search --json`; a query error is 400 with the column at fault.
func (s *Server) search(w http.ResponseWriter, req *http.Request) error {
	v := req.URL.Query()
	for name := range v {
		switch name {
		case "q", "limit", "sort", "cursor", "exact", "facets", "count_all":
		default:
			return httpx.BadParam("unknown parameter %q (expected q, limit, sort, cursor, exact, facets, count_all)", name)
		}
	}
	if !v.Has("q") {
		return httpx.BadParam("q: the query is required")
	}
	o := app.SearchOptions{Query: v.Get("q"), Sort: store.SearchSort(v.Get("sort")), Cursor: v.Get("cursor")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return httpx.BadParam("limit: expected a number from 1 to %d, not %q", app.MaxSearchLimit, l)
		}
		o.Limit = n
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"exact", &o.Exact}, {"facets", &o.Facets}, {"count_all", &o.CountAll}} {
		if x := v.Get(b.name); x != "" {
			val, err := httpx.Bool(b.name, x)
			if err != nil {
				return err
			}
			*b.dst = val
		}
	}
	res, err := s.app.Search(req.Context(), o)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, res)
	return nil
}
