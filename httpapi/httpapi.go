// Package httpapi is the HTTP surface of `wxarchive serve`: health and
// readiness probes, Prometheus metrics, and the JSON API under /api/v1/.
// Every route is registered with the permission it needs (routes.go) and
// authorized in one place (authn.go).
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/web"
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
	// Auth authenticates every request to a route that needs a
	// permission (auth.Authenticator's contract); nil: the archive's own
	// identity store (auth.Service over its index database), or — for a
	// read-only archive, which has none — no credential holds.
	Auth auth.Authenticator
	// OIDC offers single sign-on at /auth/oidc/{issuer}/login (nil: none);
	// Auth must then map claims to identities (OIDCMapper).
	OIDC *oidc.RP
	// SecureCookies marks the session cookie Secure even on a plain-HTTP
	// connection: behind a reverse proxy that terminates TLS.
	SecureCookies bool
	// OpenMetrics serves /metrics without credentials to loopback
	// clients (a local Prometheus); others need metrics.read.
	OpenMetrics bool
	// Now is the clock of reports (nil: time.Now).
	Now func() time.Time
	// Hosts are the Host header values the server answers to (DNS
	// rebinding); nil: the loopback names (httpx.LoopbackHosts) only.
	Hosts *httpx.Hosts
	// Limits bound what requests may cost; zero fields take the defaults.
	Limits Limits
	// Exports writes productions in the background (/api/v1/exports);
	// nil: those routes answer 503 (a read-only archive cannot journal
	// them).
	Exports *app.ExportJobs
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
	routes  []Route
	ui      *web.UI
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
	if opts.Auth == nil && deps.Auth != nil {
		// The archive's own identity store: users, tokens, sessions.
		opts.Auth = deps.Auth
	}
	s := &Server{r: r, app: app.New(deps), opts: opts, mux: http.NewServeMux(),
		ingestSlots:  httpx.NewLimiter("ingest", opts.Limits.IngestRequests),
		ingestBudget: httpx.NewBudget(opts.Limits.IngestBudget),
		reportSlots:  httpx.NewLimiter("reports", opts.Limits.ReportRequests),
		spoolDir:     opts.Limits.SpoolDir,
		spoolQuota:   &spoolQuota{limit: opts.Limits.SpoolBytes}}
	var issuers []string
	if opts.OIDC != nil {
		issuers = opts.OIDC.Issuers()
	}
	s.ui = web.New(web.Options{App: s.app, SessionCookie: SessionCookie, Secure: s.secureCookies, Logger: opts.Logger, Issuers: issuers,
		SignIn: func(w http.ResponseWriter, req *http.Request, user, password, totp string) error {
			_, _, err := s.signIn(w, req, user, password, totp)
			return err
		},
		SignOut: s.signOut})
	s.storage.probe = r.CheckWritable
	s.storage.logger = opts.Logger
	if r.Engine != nil {
		if err := prepareSpoolDir(s.spoolDir, opts.Logger); err != nil {
			// Large ingest bodies will fail with a spool error naming it;
			// everything else works.
			opts.Logger.Error("request spool unavailable", "err", err)
		}
	}
	s.public("GET /healthz", "liveness probe: says only that the process answers", http.HandlerFunc(s.healthz))
	s.public("GET /readyz", "readiness probe: says only whether writes are accepted", http.HandlerFunc(s.readyz))
	metrics := promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})
	s.route("GET /metrics", auth.PermMetrics, func(w http.ResponseWriter, req *http.Request) error {
		metrics.ServeHTTP(w, req)
		return nil
	})
	s.public("POST /api/v1/auth/login", "the login itself: user, password and code are the credentials (throttled per user and address)", s.handle(s.login))
	if opts.OIDC != nil {
		s.public("GET /auth/oidc/{issuer}/login", "the single sign-on flow: redirects to the identity provider", s.handle(s.ssoBegin))
		s.public("GET /auth/oidc/{issuer}/callback", "the single sign-on flow: the provider's signed ID token is the credential", s.handle(s.ssoCallback))
	}
	s.route("POST /api/v1/auth/logout", auth.PermSession, s.logout)
	s.route("GET /api/v1/auth/me", auth.PermSession, s.me)
	s.route("POST /api/v1/ingest/{format}", auth.PermIngest, s.ingest)
	s.route("GET /api/v1/messages/{serial}", auth.PermContent, s.message)
	s.route("GET /api/v1/proofs/inclusion", auth.PermContent, s.inclusion)
	s.route("GET /api/v1/proofs/consistency", auth.PermIntegrity, s.consistency)
	s.route("GET /api/v1/checkpoint", auth.PermIntegrity, s.checkpoint)
	s.route("GET /api/v1/consent/{external_id}", auth.PermContent, s.consent)
	s.route("GET /api/v1/search", auth.PermContent, s.search)
	s.route("GET /api/v1/capture/health", auth.PermHealth, s.captureHealth)
	s.route("GET /api/v1/policies", auth.PermPolicyRead, s.listPolicies)
	s.route("GET /api/v1/policies/{name}", auth.PermPolicyRead, s.getPolicy)
	s.route("PUT /api/v1/policies/{name}", auth.PermPolicyWrite, s.putPolicy)
	s.route("POST /api/v1/policies/backtest", auth.PermBacktest, s.limited(s.reportSlots, s.backtest))
	s.route("GET /api/v1/alerts", auth.PermAlertsRead, s.listAlerts)
	s.route("GET /api/v1/alerts/queues", auth.PermAlertsRead, s.alertQueues)
	s.route("GET /api/v1/alerts/{id}", auth.PermAlertsRead, s.getAlert)
	s.route("POST /api/v1/alerts/actions", auth.PermReview, s.alertAction)
	s.route("GET /api/v1/reports/review-evidence", auth.PermEvidence, s.limited(s.reportSlots, s.reviewEvidence))
	s.route("GET /api/v1/audit", auth.PermAudit, s.audit)
	s.route("GET /api/v1/users", auth.PermUsers, s.users)
	s.route("POST /api/v1/users", auth.PermUsers, s.addUser)
	s.route("PUT /api/v1/users/{name}/grant", auth.PermUsers, s.setGrant)
	s.route("PUT /api/v1/users/{name}/password", auth.PermUsers, s.setPassword)
	s.route("POST /api/v1/users/{name}/disable", auth.PermUsers, s.disableUser)
	s.route("POST /api/v1/users/{name}/totp", auth.PermUsers, s.enrolTOTP)
	s.route("GET /api/v1/tokens", auth.PermUsers, s.tokens)
	s.route("POST /api/v1/tokens", auth.PermUsers, s.createToken)
	s.route("POST /api/v1/tokens/{id}/revoke", auth.PermUsers, s.revokeToken)
	s.route("POST /api/v1/exports", auth.PermExport, s.createExport)
	s.route("GET /api/v1/exports", auth.PermExport, s.listExports)
	s.route("GET /api/v1/exports/{id}", auth.PermExport, s.getExport)
	s.route("GET /api/v1/exports/{id}/files/{path...}", auth.PermExport, s.exportFile)
	s.mountPages()
	s.public("/capture/wecom/callback/{id}", "WeCom and Official Account callbacks: authenticated by the platform's signature, freshness window and replay cache", http.HandlerFunc(s.callback))
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

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
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
