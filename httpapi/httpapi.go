// Package httpapi is the HTTP surface of `wxarchive serve`: health and
// readiness probes, Prometheus metrics, and the JSON API under /api/v1/.
// Authentication arrives with the web issue; until then serve binds to
// loopback by default.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// Limits on ingest requests.
const (
	MaxBodyBytes    = 64 << 20
	MaxBatchEntries = 10000
)

// Options configure the server.
type Options struct {
	Gatherer prometheus.Gatherer // for /metrics
	Logger   *slog.Logger
	Media    ingest.MediaSource // where API-ingested messages' media is looked up (nil: pending)
	// Callbacks are the callback receivers by connector id, served at
	// /capture/wecom/callback/{id}.
	Callbacks map[string]http.Handler
	// CaptureHealth builds the capture-health report (nil: 404).
	CaptureHealth func(ctx context.Context) (*capture.Report, error)
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
	s := &Server{r: r, opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("POST /api/v1/ingest/wecom-archive", s.ingestWecom)
	s.mux.HandleFunc("GET /api/v1/messages/{serial}", s.message)
	s.mux.HandleFunc("GET /api/v1/proofs/inclusion", s.inclusion)
	s.mux.HandleFunc("GET /api/v1/proofs/consistency", s.consistency)
	s.mux.HandleFunc("GET /api/v1/checkpoint", s.checkpoint)
	s.mux.HandleFunc("GET /api/v1/consent/{external_id}", s.consent)
	s.mux.HandleFunc("GET /api/v1/search", s.search)
	s.mux.HandleFunc("GET /api/v1/capture/health", s.captureHealth)
	s.mux.HandleFunc("GET /api/v1/policies", s.listPolicies)
	s.mux.HandleFunc("GET /api/v1/policies/{name}", s.getPolicy)
	s.mux.HandleFunc("PUT /api/v1/policies/{name}", s.putPolicy)
	s.mux.HandleFunc("POST /api/v1/policies/backtest", s.backtest)
	s.mux.HandleFunc("GET /api/v1/alerts", s.listAlerts)
	s.mux.HandleFunc("GET /api/v1/alerts/queues", s.alertQueues)
	s.mux.HandleFunc("GET /api/v1/alerts/{id}", s.getAlert)
	s.mux.HandleFunc("POST /api/v1/alerts/actions", s.alertAction)
	s.mux.HandleFunc("GET /api/v1/reports/review-evidence", s.reviewEvidence)
	s.mux.HandleFunc("/capture/wecom/callback/{id}", s.callback)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, req)
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, a ...any) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: fmt.Sprintf(format, a...)}})
}

func (s *Server) internal(w http.ResponseWriter, req *http.Request, err error) {
	s.opts.Logger.Error("request failed", "method", req.Method, "path", req.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

// callback hands a WeCom / Official Account callback to its connector.
func (s *Server) callback(w http.ResponseWriter, req *http.Request) {
	h, ok := s.opts.Callbacks[req.PathValue("id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no callback connector %q is configured", req.PathValue("id"))
		return
	}
	h.ServeHTTP(w, req)
}

// captureHealth: GET /api/v1/capture/health, the report of `wxarchive
// health --json`, with what the running server has seen.
func (s *Server) captureHealth(w http.ResponseWriter, req *http.Request) {
	if s.opts.CaptureHealth == nil {
		writeError(w, http.StatusNotFound, "not_found", "capture health is not available on this server")
		return
	}
	rep, err := s.opts.CaptureHealth(req.Context())
	if err != nil {
		s.internal(w, req, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()
	if s.r.Engine == nil || s.r.Engine.Closed() {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	if _, err := s.r.Store.Head(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "index database unavailable")
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

// splitBody turns a request body into entries: a JSON array's elements, a
// single JSON object, or JSON lines. Each entry keeps its exact bytes.
func splitBody(body []byte) ([]jsonl.Line, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		var out []jsonl.Line
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("array element %d: %v", len(out)+1, err)
			}
			out = append(out, jsonl.Line{No: len(out) + 1, Data: []byte(raw), FullSize: int64(len(raw))})
			if len(out) > MaxBatchEntries {
				return nil, fmt.Errorf("more than %d entries", MaxBatchEntries)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("after element %d: %v", len(out), err)
		}
		if rest := bytes.TrimSpace(trimmed[dec.InputOffset():]); len(rest) > 0 {
			return nil, errors.New("data after the JSON array")
		}
		return out, nil
	}
	// One JSON value filling the whole body is one message, however it is
	// laid out; anything else is JSON lines.
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		var raw json.RawMessage
		if dec.Decode(&raw) == nil && len(bytes.TrimSpace(trimmed[dec.InputOffset():])) == 0 {
			one := bytes.TrimRight(trimmed, " \t\r\n")
			return []jsonl.Line{{No: 1, Data: one, FullSize: int64(len(one)), FullHash: archive.Hash(one)}}, nil
		}
	}
	var out []jsonl.Line
	lr := jsonl.NewLineReader(bytes.NewReader(body))
	for {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ln)
		if len(out) > MaxBatchEntries {
			return nil, fmt.Errorf("more than %d entries", MaxBatchEntries)
		}
	}
	// A trailing empty line after the last object is formatting, not input.
	for len(out) > 0 && len(bytes.TrimSpace(out[len(out)-1].Data)) == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
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

// ingestWecom archives one message, a JSON array of messages, or JSON
// lines. It answers only once every entry is durable. Rejected entries are
// quarantined and reported with 422; the others are archived regardless.
func (s *Server) ingestWecom(w http.ResponseWriter, req *http.Request) {
	if s.r.Engine == nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	corp := req.URL.Query().Get("corp")
	if corp == "" {
		corp = "default"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", MaxBodyBytes)
		return
	}
	entries, err := splitBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed_body", "%v", err)
		return
	}
	if len(entries) == 0 {
		writeError(w, http.StatusBadRequest, "empty_body", "no messages in the request body")
		return
	}
	in := &jsonl.Ingester{Engine: s.r.Engine, Blobs: s.r.Blobs, Media: s.opts.Media, Source: "wecom-archive:" + corp,
		Actor: s.actor(req), Origin: "api request " + time.Now().UTC().Format("20060102T150405.000000000Z"), Unit: "entry", Workers: 1}
	results, err := in.Lines(req.Context(), entries)
	if err != nil {
		if errors.Is(err, ingest.ErrClosed) {
			writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
			return
		}
		if req.Context().Err() != nil {
			return
		}
		s.internal(w, req, err)
		return
	}
	out := struct {
		Archived   int            `json:"archived"`
		Duplicates int            `json:"duplicates"`
		Conflicts  int            `json:"conflicts"`
		Rejected   int            `json:"rejected"`
		Results    []ingestResult `json:"results"`
	}{Results: make([]ingestResult, 0, len(results))}
	for i, r := range results {
		ir := ingestResult{Entry: i + 1, MsgID: r.MsgID, Outcome: r.Result.Outcome.String(), Serial: r.Result.Serial,
			Version: r.Result.Version, JournalIndex: r.Result.JournalIndex}
		switch r.Result.Outcome {
		case ingest.Archived:
			out.Archived++
		case ingest.Duplicate:
			out.Duplicates++
		case ingest.Conflict:
			out.Conflicts++
		case ingest.Rejected:
			out.Rejected++
			ir.Error = &apiLineFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
		}
		out.Results = append(out.Results, ir)
	}
	status := http.StatusOK
	if out.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, out)
}

func parseUint(w http.ResponseWriter, name, v string) (uint64, bool) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_parameter", "parameter %q: want a non-negative integer, got %q", name, v)
		return 0, false
	}
	return n, true
}

func (s *Server) message(w http.ResponseWriter, req *http.Request) {
	serial, ok := parseUint(w, "serial", req.PathValue("serial"))
	if !ok {
		return
	}
	v, err := s.r.ViewMessage(req.Context(), serial)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no message with serial %d", serial)
		return
	}
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if !s.recordAccess(w, req, "message", serial) {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// recordAccess journals an access before the response is written: an access
// that cannot be recorded is refused.
func (s *Server) recordAccess(w http.ResponseWriter, req *http.Request, what string, serials ...uint64) bool {
	if s.r.Engine == nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return false
	}
	if _, err := s.r.Engine.Append(req.Context(), repo.AccessEvent(s.actor(req), what, "api", serials...)); err != nil {
		if errors.Is(err, ingest.ErrClosed) {
			writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
			return false
		}
		s.internal(w, req, fmt.Errorf("record access: %w", err))
		return false
	}
	return true
}

func (s *Server) inclusion(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	var idx uint64
	var serials []uint64
	switch {
	case q.Get("serial") != "":
		serial, ok := parseUint(w, "serial", q.Get("serial"))
		if !ok {
			return
		}
		row, err := s.r.Store.Message(req.Context(), serial)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", "no message with serial %d", serial)
			return
		}
		if err != nil {
			s.internal(w, req, err)
			return
		}
		idx, serials = row.JournalIndex, []uint64{serial}
	case q.Get("index") != "":
		var ok bool
		if idx, ok = parseUint(w, "index", q.Get("index")); !ok {
			return
		}
	default:
		writeError(w, http.StatusBadRequest, "bad_parameter", "give serial= or index=")
		return
	}
	p, err := s.r.InclusionProof(req.Context(), idx)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "%v", err)
		return
	}
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if !s.recordAccess(w, req, "proof", serials...) {
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) consistency(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	from, ok := parseUint(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := parseUint(w, "to", q.Get("to"))
	if !ok {
		return
	}
	head, err := s.r.Store.Head(req.Context())
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if from > to || to > head.CheckpointSize {
		writeError(w, http.StatusBadRequest, "bad_parameter", "need 0 ≤ from ≤ to ≤ %d (the latest checkpoint)", head.CheckpointSize)
		return
	}
	hs, err := journal.ConsistencyProof(req.Context(), s.r.Store, from, to)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	out := struct {
		From   uint64   `json:"from"`
		To     uint64   `json:"to"`
		Hashes []string `json:"hashes"`
	}{From: from, To: to, Hashes: []string{}}
	for _, h := range hs {
		out.Hashes = append(out.Hashes, fmt.Sprintf("%x", h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) checkpoint(w http.ResponseWriter, req *http.Request) {
	row, err := s.r.Store.LatestCheckpoint(req.Context())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no checkpoint yet")
		return
	}
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if strings.Contains(req.Header.Get("Accept"), "text/plain") {
		// The C2SP note as-is, for transparency-log tooling and witnesses.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(row.Note)
		return
	}
	cp, err := s.r.Verifier.Open(row.Note)
	if err != nil {
		s.internal(w, req, fmt.Errorf("latest checkpoint does not verify: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"origin": cp.Origin, "size": cp.Size, "root_hash": fmt.Sprintf("%x", cp.Root),
		"time": cp.Time, "note": string(row.Note), "public_key": s.r.Config.PublicKey})
}

func (s *Server) consent(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("external_id")
	rows, err := s.r.Store.Consent(req.Context(), id)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	state := "unknown"
	var serials []uint64
	for _, e := range rows {
		serials = append(serials, e.Serial)
	}
	if n := len(rows); n > 0 {
		state = "disagreed"
		if rows[n-1].Agreed {
			state = "agreed"
		}
	}
	if rows == nil {
		rows = []store.ConsentRow{}
	}
	if !s.recordAccess(w, req, "consent:"+id, serials...) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"external_id": id, "state": state, "events": rows})
}

// search: GET /api/v1/search?q=QUERY[&limit=N][&sort=time|relevance]
// [&cursor=C][&exact=true][&facets=true][&count_all=true]. The same semantics and JSON as
// `wxarchive search --json`; a query error is 400 with the column at fault.
func (s *Server) search(w http.ResponseWriter, req *http.Request) {
	v := req.URL.Query()
	for name := range v {
		switch name {
		case "q", "limit", "sort", "cursor", "exact", "facets", "count_all":
		default:
			writeError(w, http.StatusBadRequest, "bad_parameter", "unknown parameter %q (expected q, limit, sort, cursor, exact, facets, count_all)", name)
			return
		}
	}
	o := repo.SearchOptions{Query: v.Get("q"), Sort: store.SearchSort(v.Get("sort")), Cursor: v.Get("cursor"),
		Actor: s.actor(req), Via: "api"}
	if !v.Has("q") {
		writeError(w, http.StatusBadRequest, "bad_parameter", "q: the query is required")
		return
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad_parameter", "limit: expected a number from 1 to %d, not %q", repo.MaxSearchLimit, l)
			return
		}
		o.Limit = n
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"exact", &o.Exact}, {"facets", &o.Facets}, {"count_all", &o.CountAll}} {
		if x := v.Get(b.name); x != "" {
			val, err := strconv.ParseBool(x)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_parameter", "%s: expected true or false, not %q", b.name, x)
				return
			}
			*b.dst = val
		}
	}
	res, err := s.r.Search(req.Context(), o)
	var se *repo.SearchError
	switch {
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "bad_"+se.Field, "%v", se)
		return
	case errors.Is(err, store.ErrReindexRequired):
		writeError(w, http.StatusServiceUnavailable, "reindex_required", "%v", err)
		return
	case err != nil:
		s.internal(w, req, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
