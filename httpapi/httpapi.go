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
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// MaxBodyBytes bounds an ingest request body.
const MaxBodyBytes = 64 << 20

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
}

// Server serves one open archive.
type Server struct {
	r    *repo.Repo
	app  *app.App
	opts Options
	mux  *http.ServeMux
}

// New returns the server.
func New(r *repo.Repo, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	deps := app.FromRepo(r)
	deps.Now, deps.Health, deps.Connectors = opts.Now, opts.Health, opts.Connectors
	s := &Server{r: r, app: app.New(deps), opts: opts, mux: http.NewServeMux()}
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
	api("POST /api/v1/policies/backtest", s.backtest)
	api("GET /api/v1/alerts", s.listAlerts)
	api("GET /api/v1/alerts/queues", s.alertQueues)
	api("GET /api/v1/alerts/{id}", s.getAlert)
	api("POST /api/v1/alerts/actions", s.alertAction)
	api("GET /api/v1/reports/review-evidence", s.reviewEvidence)
	s.mux.HandleFunc("/capture/wecom/callback/{id}", s.callback)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, req)
}

// acting runs an API handler as the request's principal, with push-back:
// a remote client is told to come back (503, Retry-After) rather than
// queued behind a saturated writer. Errors go to httpx's one mapping.
func (s *Server) acting(h httpx.HandlerFunc) http.Handler {
	return httpx.Handle(s.opts.Logger, func(w http.ResponseWriter, req *http.Request) error {
		p := app.Principal{Actor: s.actor(req), User: s.user(req), Via: "api"}
		ctx := ingest.WithPushback(app.WithPrincipal(req.Context(), p))
		return h(w, req.WithContext(ctx))
	})
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

func (s *Server) readyz(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()
	if s.r.Engine == nil || s.r.Engine.Closed() {
		httpx.Write(w, req, s.opts.Logger, httpx.Errorf(http.StatusServiceUnavailable, "not_ready", "archive is closing"))
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

type ingestResult struct {
	Entry        int           `json:"entry"`
	MsgID        string        `json:"msgid,omitempty"`
	Outcome      string        `json:"outcome"`
	Serial       uint64        `json:"serial,omitempty"`
	Version      int           `json:"version,omitempty"`
	JournalIndex uint64        `json:"journal_index"`
	Error        *apiLineFault `json:"error,omitempty"`
}

type apiLineFault struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// ingest: POST /api/v1/ingest/{format}[?corp=ID] archives one message, a
// JSON array of messages, or JSON lines, through the ingester registered
// for the format (cmd/ wires them: "wecom-archive" for decrypted msgaudit
// JSON). It answers only once every entry is durable. Rejected entries are
// quarantined and reported with 422; the others are archived regardless.
func (s *Server) ingest(w http.ResponseWriter, req *http.Request) error {
	if s.r.Engine == nil {
		return app.ErrUnavailable
	}
	format := req.PathValue("format")
	in, ok := s.opts.Ingesters[format]
	if !ok {
		return httpx.Errorf(http.StatusNotFound, "not_found", "no ingester for %q", archive.Truncate(format, 80))
	}
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "corp"); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
	if err != nil {
		return httpx.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", MaxBodyBytes)
	}
	results, err := in.Ingest(req.Context(), capture.EntryRequest{Body: body, Account: q.Get("corp"), Actor: s.actor(req),
		Origin: "api request " + time.Now().UTC().Format("20060102T150405.000000000Z")})
	switch {
	case errors.Is(err, capture.ErrBadAccount):
		return httpx.BadParam("corp: %v", err)
	case errors.Is(err, capture.ErrEmptyBody):
		return httpx.Errorf(http.StatusBadRequest, "empty_body", "%v", err)
	case errors.Is(err, capture.ErrMalformedBody):
		return httpx.Errorf(http.StatusBadRequest, "malformed_body", "%v", err)
	case err != nil:
		return err
	}
	out := struct {
		Archived   int            `json:"archived"`
		Duplicates int            `json:"duplicates"`
		Conflicts  int            `json:"conflicts"`
		Rejected   int            `json:"rejected"`
		Results    []ingestResult `json:"results"`
	}{Results: make([]ingestResult, 0, len(results))}
	for _, r := range results {
		ir := ingestResult{Entry: r.Entry, MsgID: r.MsgID, Outcome: r.Outcome.String(), Serial: r.Serial,
			Version: r.Version, JournalIndex: r.JournalIndex}
		switch r.Outcome {
		case ingest.Archived:
			out.Archived++
		case ingest.Duplicate:
			out.Duplicates++
		case ingest.Conflict:
			out.Conflicts++
		case ingest.Rejected:
			out.Rejected++
			if r.Fault != nil {
				ir.Error = &apiLineFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
			}
		}
		out.Results = append(out.Results, ir)
	}
	status := http.StatusOK
	if out.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	httpx.JSON(w, status, out)
	return nil
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
