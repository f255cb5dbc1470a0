package httpapi

// The supervision API: policies, alerts, review actions and the
// evidence-of-review report. Each endpoint does what its CLI command does
// (policy list|apply|backtest, alerts list|show, review, report
// review-evidence) through the same packages, with the same JSON names.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// Limits of the supervision API.
const (
	DefaultAlertLimit  = 100
	MaxAlertLimit      = 1000
	DefaultSamples     = 20 // backtest samples, as the CLI
	MaxBacktestSamples = 1000
	MaxActionBytes     = 1 << 20
	MaxActionAlerts    = 1000
)

const dateLayout = "2006-01-02"

// ---------------------------------------------------------------------------
// Request helpers.

// checkParams refuses a parameter the endpoint does not know, or one given
// twice: a misspelt filter silently ignored would show the wrong alerts.
func checkParams(w http.ResponseWriter, v url.Values, allowed ...string) bool {
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				writeError(w, http.StatusBadRequest, "bad_parameter", "unknown parameter %q (this endpoint takes none)", name)
			} else {
				writeError(w, http.StatusBadRequest, "bad_parameter", "unknown parameter %q (expected %s)", name, strings.Join(allowed, ", "))
			}
			return false
		}
		if len(vals) > 1 {
			writeError(w, http.StatusBadRequest, "bad_parameter", "parameter %q given %d times", name, len(vals))
			return false
		}
	}
	return true
}

// parseDate reads a day in the archive's time zone.
func (s *Server) parseDate(w http.ResponseWriter, name, v string) (time.Time, bool) {
	t, err := time.ParseInLocation(dateLayout, v, s.r.Config.Location())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_parameter", "%s: %q is not a date (2006-01-02)", name, v)
		return t, false
	}
	return t, true
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// readBody reads a body of at most limit bytes, which must be UTF-8 and of
// one of the media types.
func readBody(w http.ResponseWriter, req *http.Request, limit int64, types ...string) ([]byte, bool) {
	ct := req.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, mt) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type %q: want %s", ct, strings.Join(types, ", "))
		return nil, false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type charset %q: want utf-8", cs)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", limit)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "malformed_body", "reading the request body: %v", err)
		return nil, false
	case !utf8.Valid(body):
		writeError(w, http.StatusBadRequest, "malformed_body", "the request body is not UTF-8")
		return nil, false
	}
	return body, true
}

var yamlTypes = []string{"application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml", "text/plain"}

// parsePolicy validates a policy body; a policy that does not validate is
// 422 with every problem and its line, as `policy validate` prints them.
func parsePolicy(w http.ResponseWriter, data []byte) (*policy.Policy, bool) {
	p, err := policy.Parse("", data)
	var pe *policy.ParseError
	switch {
	case errors.As(err, &pe) && len(pe.Problems) > 0:
		type problem struct {
			Line   int    `json:"line"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		}
		out := struct {
			Error    apiError  `json:"error"`
			Problems []problem `json:"problems"`
		}{}
		for _, pr := range pe.Problems {
			out.Problems = append(out.Problems, problem{pr.Line, pr.Field, pr.Reason})
		}
		first := pe.Problems[0]
		out.Error = apiError{Code: "invalid_policy", Message: fmt.Sprintf("the policy does not validate (%d %s); line %d: %s: %s",
			len(pe.Problems), plural(len(pe.Problems), "problem", "problems"), first.Line, first.Field, first.Reason)}
		writeJSON(w, http.StatusUnprocessableEntity, out)
		return nil, false
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, "invalid_policy", "%v", err)
		return nil, false
	}
	return p, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// journalError answers an Append that failed.
func (s *Server) journalError(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, ingest.ErrClosed) {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	if req.Context().Err() != nil {
		return
	}
	s.internal(w, req, err)
}

// ---------------------------------------------------------------------------
// Policies.

// policyJSON is a policy version; the first six names are those of
// `policy list --json`.
type policyJSON struct {
	Policy       string   `json:"policy"`
	Version      int      `json:"version"`
	Enabled      bool     `json:"enabled"`
	Rules        int      `json:"rules"`
	AppliedBy    string   `json:"applied_by"`
	AppliedAt    string   `json:"applied_at"`
	SHA256       string   `json:"sha256"`
	JournalIndex uint64   `json:"journal_index"`
	Description  string   `json:"description,omitempty"`
	RuleIDs      []string `json:"rule_ids"`
	// Invalid says why a stored version no longer validates (a later
	// release may be stricter): it is still shown, since it is evidence of
	// what was applied.
	Invalid string `json:"invalid,omitempty"`
}

func (s *Server) describePolicy(row store.PolicyRow, p *policy.Policy) policyJSON {
	out := policyJSON{Policy: row.Policy, Version: row.Version, AppliedBy: row.Actor,
		AppliedAt: row.Time.Time.In(s.r.Config.Location()).Format(time.RFC3339), SHA256: row.SHA256.String(),
		JournalIndex: row.JournalIndex, RuleIDs: []string{}}
	if p == nil {
		var err error
		if p, err = policy.Parse("", []byte(row.Source)); err != nil {
			out.Invalid = err.Error()
			return out
		}
	}
	out.Enabled, out.Rules, out.Description = p.IsEnabled(), len(p.Rules), strings.TrimSpace(p.Description)
	for _, r := range p.Rules {
		out.RuleIDs = append(out.RuleIDs, r.ID)
	}
	return out
}

// listPolicies: GET /api/v1/policies, every policy's latest version.
func (s *Server) listPolicies(w http.ResponseWriter, req *http.Request) {
	if !checkParams(w, req.URL.Query()) {
		return
	}
	pols, rows, err := supervise.Policies(req.Context(), s.r.Store)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	out := []policyJSON{}
	for i, p := range pols {
		out = append(out, s.describePolicy(rows[i], p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
}

type policyVersionJSON struct {
	Version      int    `json:"version"`
	SHA256       string `json:"sha256"`
	AppliedBy    string `json:"applied_by"`
	AppliedAt    string `json:"applied_at"`
	JournalIndex uint64 `json:"journal_index"`
}

var errStop = errors.New("stop")

// policyVersions returns every version of a policy, oldest first.
func (s *Server) policyVersions(ctx context.Context, latest store.PolicyRow) ([]store.PolicyRow, error) {
	return s.r.Store.PolicyVersions(ctx, latest.Policy)
}

// getPolicy: GET /api/v1/policies/{name}[?version=N], a version with its
// YAML and the list of versions.
func (s *Server) getPolicy(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if !checkParams(w, q, "version") {
		return
	}
	name := req.PathValue("name")
	want := 0
	if q.Has("version") {
		v := q.Get("version")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad_parameter", "version: want a version number from 1, not %q", v)
			return
		}
		want = n
	}
	rows, err := s.r.Store.Policies(req.Context())
	if err != nil {
		s.internal(w, req, err)
		return
	}
	i := slices.IndexFunc(rows, func(r store.PolicyRow) bool { return r.Policy == name })
	if i < 0 {
		writeError(w, http.StatusNotFound, "not_found", "no policy %q", name)
		return
	}
	latest := rows[i]
	if want > latest.Version {
		writeError(w, http.StatusNotFound, "not_found", "policy %q has no version %d (the latest is %d)", name, want, latest.Version)
		return
	}
	versions, err := s.policyVersions(req.Context(), latest)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	row := latest
	if want > 0 {
		j := slices.IndexFunc(versions, func(r store.PolicyRow) bool { return r.Version == want })
		if j < 0 {
			s.internal(w, req, fmt.Errorf("policy %s version %d is not in the journal before version %d", name, want, latest.Version))
			return
		}
		row = versions[j]
	}
	out := struct {
		policyJSON
		Latest   int                 `json:"latest_version"`
		Source   string              `json:"source"`
		Versions []policyVersionJSON `json:"versions"`
	}{policyJSON: s.describePolicy(row, nil), Latest: latest.Version, Source: row.Source, Versions: []policyVersionJSON{}}
	for _, v := range versions {
		out.Versions = append(out.Versions, policyVersionJSON{v.Version, v.SHA256.String(), v.Actor,
			v.Time.Time.In(s.r.Config.Location()).Format(time.RFC3339), v.JournalIndex})
	}
	writeJSON(w, http.StatusOK, out)
}

// putPolicy: PUT /api/v1/policies/{name} with the YAML, `policy apply` of
// one file. 201 for a new version, 200 when the bytes are those of the
// latest version (nothing journaled).
func (s *Server) putPolicy(w http.ResponseWriter, req *http.Request) {
	if !checkParams(w, req.URL.Query()) {
		return
	}
	name := req.PathValue("name")
	data, ok := readBody(w, req, policy.MaxFileBytes, yamlTypes...)
	if !ok {
		return
	}
	p, ok := parsePolicy(w, data)
	if !ok {
		return
	}
	if p.Name != name {
		// The name in the file is what is journaled and what alerts cite:
		// a URL naming another policy would apply the file under a name
		// the caller did not mean.
		writeError(w, http.StatusBadRequest, "name_mismatch", "policy: the file names policy %q, the URL %q", p.Name, name)
		return
	}
	if s.r.Engine == nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	version, changed, err := supervise.Apply(req.Context(), s.r.Engine, s.r.Store, name+".yaml", data, s.actor(req))
	if err != nil {
		s.journalError(w, req, err)
		return
	}
	s.opts.Logger.Info("policy applied", "policy", name, "version", version, "changed", changed, "actor", s.actor(req))
	status := http.StatusOK
	if changed {
		status = http.StatusCreated
		w.Header().Set("Location", fmt.Sprintf("/api/v1/policies/%s?version=%d", url.PathEscape(name), version))
	}
	writeJSON(w, status, map[string]any{"policy": name, "version": version, "changed": changed})
}

// backtest: POST /api/v1/policies/backtest[?from=DATE][&to=DATE][&samples=N]
// with a draft policy: `policy backtest --json`. Nothing is raised; the
// samples' texts are content, so showing them is journaled as an access.
func (s *Server) backtest(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if !checkParams(w, q, "from", "to", "samples") {
		return
	}
	from, to := time.Unix(0, 0), s.now().AddDate(1, 0, 0)
	var ok bool
	if q.Has("from") {
		if from, ok = s.parseDate(w, "from", q.Get("from")); !ok {
			return
		}
	}
	if q.Has("to") {
		if to, ok = s.parseDate(w, "to", q.Get("to")); !ok {
			return
		}
	}
	if !to.After(from) {
		writeError(w, http.StatusBadRequest, "bad_parameter", "to: %s is not after from (%s)", to.Format(dateLayout), from.Format(dateLayout))
		return
	}
	samples := DefaultSamples
	if q.Has("samples") {
		n, err := strconv.Atoi(q.Get("samples"))
		if err != nil || n < 0 || n > MaxBacktestSamples {
			writeError(w, http.StatusBadRequest, "bad_parameter", "samples: want a number from 0 to %d, not %q", MaxBacktestSamples, q.Get("samples"))
			return
		}
		samples = n
	}
	data, ok := readBody(w, req, policy.MaxFileBytes, yamlTypes...)
	if !ok {
		return
	}
	p, ok := parsePolicy(w, data)
	if !ok {
		return
	}
	bt, err := policy.RunBacktest(req.Context(), p, s.r.Store, s.r.Records, from, to, samples)
	if err != nil {
		if req.Context().Err() != nil {
			return
		}
		s.internal(w, req, err)
		return
	}
	if len(bt.Samples) > 0 {
		var serials []uint64
		for _, m := range bt.Samples {
			if !slices.Contains(serials, m.Serial) {
				serials = append(serials, m.Serial)
			}
		}
		if !s.recordAccess(w, req, "backtest:"+p.Name, serials...) {
			return
		}
	}
	writeJSON(w, http.StatusOK, bt)
}

// ---------------------------------------------------------------------------
// Alerts.

// alertJSON is an alert as `alerts list --json` prints it (the embedded
// event gives serial, policy, policy_version, rule, spans, in_attachment,
// masked, detail, department).
type alertJSON struct {
	ID uint64 `json:"id"`
	archive.AlertEvent
	SourceID    string   `json:"source_id"`
	Status      string   `json:"status"`
	Assignee    string   `json:"assignee,omitempty"`
	RaisedAt    string   `json:"raised_at"`
	AgeDays     int      `json:"age_days"` // 0 once closed
	Overdue     bool     `json:"overdue"`  // open past supervision.sla_days
	SameMessage []uint64 `json:"same_message,omitempty"`
}

func (s *Server) describeAlert(al store.AlertRow, st review.State) alertJSON {
	out := alertJSON{ID: al.JournalIndex, AlertEvent: al.AlertEvent, SourceID: al.SourceID, Status: st.Status,
		RaisedAt: al.Time.Time.In(s.r.Config.Location()).Format(time.RFC3339), Assignee: st.Assignee}
	if out.Spans == nil {
		out.Spans = [][2]int{} // a behaviour rule has none; scripts index the list
	}
	if st.Status != review.StatusClosed {
		out.AgeDays = int(s.now().Sub(al.Time.Time).Hours() / 24)
		out.Overdue = out.AgeDays > s.r.Config.Supervision.SLA()
	}
	return out
}

func (s *Server) alertActions(ctx context.Context, id uint64) ([]store.ReviewActionRow, error) {
	var acts []store.ReviewActionRow
	err := s.r.Store.ReviewActions(ctx, id, func(a store.ReviewActionRow) error {
		acts = append(acts, a)
		return nil
	})
	return acts, err
}

// alertStatuses are the status filters of `alerts list --status`: open is
// every alert not closed, unassigned an open one nobody claimed, overdue
// one open past the SLA; claimed, escalated and closed are the status.
var alertStatuses = []string{review.StatusOpen, "unassigned", review.StatusClaimed, review.StatusEscalated, "overdue", review.StatusClosed}

func statusMatches(filter string, a alertJSON) bool {
	switch filter {
	case "":
		return true
	case review.StatusOpen:
		return a.Status != review.StatusClosed
	case "unassigned":
		return a.Status == review.StatusOpen
	case "overdue":
		return a.Overdue
	default:
		return a.Status == filter
	}
}

// listAlerts: GET /api/v1/alerts[?status=S][&policy=P][&rule=R][&department=D][&after=ID][&limit=N],
// `alerts list --json` a page at a time, oldest first. next_after, when
// present, is the after= of the next page. Unlike the CLI, which moves the
// alerts on one message next to each other, the page keeps id order so
// that after= stays a cursor; same_message names the others.
func (s *Server) listAlerts(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if !checkParams(w, q, "status", "policy", "rule", "department", "after", "limit") {
		return
	}
	status, pol, rule, dept := q.Get("status"), q.Get("policy"), q.Get("rule"), q.Get("department")
	if status != "" && !slices.Contains(alertStatuses, status) {
		writeError(w, http.StatusBadRequest, "bad_parameter", "status: want %s, not %q", strings.Join(alertStatuses, ", "), status)
		return
	}
	var after uint64
	if q.Has("after") {
		var ok bool
		if after, ok = parseUint(w, "after", q.Get("after")); !ok {
			return
		}
	}
	limit := DefaultAlertLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxAlertLimit {
			writeError(w, http.StatusBadRequest, "bad_parameter", "limit: want a number from 1 to %d, not %q", MaxAlertLimit, q.Get("limit"))
			return
		}
		limit = n
	}
	ctx := req.Context()
	out := struct {
		Alerts    []alertJSON `json:"alerts"`
		NextAfter uint64      `json:"next_after,omitempty"`
	}{Alerts: []alertJSON{}}
	// Filters other than policy need each alert's review state, so alerts
	// are read in chunks (states are read after each chunk: no query runs
	// inside another's rows) until the page is full and one more match
	// shows there is a next page.
	const chunk = 500
	full := false
scan:
	for cursor := after; ; {
		var rows []store.AlertRow
		if err := s.r.Store.Alerts(ctx, cursor, pol, chunk, func(a store.AlertRow) error {
			rows = append(rows, a)
			return nil
		}); err != nil {
			s.internal(w, req, err)
			return
		}
		for _, al := range rows {
			if (rule != "" && al.Rule != rule) || (dept != "" && al.Department != dept) {
				continue
			}
			acts, err := s.alertActions(ctx, al.JournalIndex)
			if err != nil {
				s.internal(w, req, err)
				return
			}
			a := s.describeAlert(al, review.StateOf(acts))
			if !statusMatches(status, a) {
				continue
			}
			if len(out.Alerts) == limit {
				full = true
				break scan
			}
			out.Alerts = append(out.Alerts, a)
		}
		if len(rows) < chunk {
			break
		}
		cursor = rows[len(rows)-1].JournalIndex
	}
	if full {
		out.NextAfter = out.Alerts[limit-1].ID
	}
	if err := s.sameMessage(ctx, out.Alerts); err != nil {
		s.internal(w, req, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// sameMessage fills in each alert's same_message: the other alerts on its
// message, of any policy and status. store.Reader has no alerts-by-serial
// query, so alerts are read from the journal index of the page's first
// message (an alert always follows its message) until one concerns a later
// message than the page's last: the supervisor evaluates messages in
// serial order, so alerts of a later message come after every alert of an
// earlier one.
func (s *Server) sameMessage(ctx context.Context, page []alertJSON) error {
	if len(page) == 0 {
		return nil
	}
	serials := map[uint64][]uint64{}
	var lo, hi uint64 = page[0].Serial, page[0].Serial
	for _, a := range page {
		serials[a.Serial] = nil
		lo, hi = min(lo, a.Serial), max(hi, a.Serial)
	}
	msg, err := s.r.Store.Message(ctx, lo)
	if err != nil {
		return fmt.Errorf("alerts on message %d: %w", lo, err)
	}
	err = s.r.Store.Alerts(ctx, msg.JournalIndex, "", 0, func(a store.AlertRow) error {
		if a.Serial > hi {
			return errStop
		}
		if ids, ok := serials[a.Serial]; ok {
			serials[a.Serial] = append(ids, a.JournalIndex)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	for i := range page {
		for _, id := range serials[page[i].Serial] {
			if id != page[i].ID {
				page[i].SameMessage = append(page[i].SameMessage, id)
			}
		}
	}
	return nil
}

// alertQueues: GET /api/v1/alerts/queues, `alerts queues --json`: open
// alerts by policy and department, with those past the review SLA.
func (s *Server) alertQueues(w http.ResponseWriter, req *http.Request) {
	if !checkParams(w, req.URL.Query()) {
		return
	}
	sla := s.r.Config.Supervision.SLA()
	qs, err := review.Queues(req.Context(), s.r.Store, s.now(), sla)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sla_days": sla, "queues": qs})
}

// reviewService is the review service acting for a request. Principals
// apply only to an authenticated user: the "user" of an unauthenticated
// actor (api:ADDR:PORT) would be a port number.
func (s *Server) reviewService(req *http.Request) *review.Service {
	svc := &review.Service{Engine: s.r.Engine, Store: s.r.Store}
	if s.user(req) != "" {
		svc.Principals = s.r.Config.Supervision.Principals
	}
	return svc
}

type stateJSON struct {
	Status      string `json:"status"`
	Assignee    string `json:"assignee,omitempty"`
	Escalated   bool   `json:"escalated"`
	Viewed      bool   `json:"viewed"`
	Reviewed    bool   `json:"reviewed"` // closed with a disposition (viewing does not count)
	ClosedBy    string `json:"closed_by,omitempty"`
	ClosedAt    string `json:"closed_at,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Note        string `json:"note,omitempty"`
	Actions     int    `json:"actions"`
}

type actionJSON struct {
	JournalIndex uint64 `json:"journal_index"`
	Time         string `json:"time"`
	Actor        string `json:"actor"`
	Action       string `json:"action"`
	Disposition  string `json:"disposition,omitempty"`
	Note         string `json:"note,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Assignee     string `json:"assignee,omitempty"`
}

// getAlert: GET /api/v1/alerts/{id}, `alerts show --json`: the alert, its
// review state and history, and the message text. The view is journaled
// (a review.action view, which never counts as a review) before anything
// is shown.
func (s *Server) getAlert(w http.ResponseWriter, req *http.Request) {
	if !checkParams(w, req.URL.Query()) {
		return
	}
	id, ok := parseUint(w, "id", req.PathValue("id"))
	if !ok {
		return
	}
	if id == 0 {
		writeError(w, http.StatusBadRequest, "bad_parameter", "id: 0 is not an alert id")
		return
	}
	ctx := req.Context()
	al, err := s.r.Store.Alert(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no alert %d", id)
		return
	}
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if s.r.Engine == nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	viewIdx, err := s.reviewService(req).Do(ctx, review.Action{Action: review.View, Alerts: []uint64{id}, Actor: s.actor(req)})
	if err != nil {
		s.journalError(w, req, fmt.Errorf("record the view: %w", err))
		return
	}
	acts, err := s.alertActions(ctx, id)
	if err != nil {
		s.internal(w, req, err)
		return
	}
	msg, err := s.r.Store.Message(ctx, al.Serial)
	if err != nil {
		s.internal(w, req, fmt.Errorf("alert %d: message %d: %w", id, al.Serial, err))
		return
	}
	loc := s.r.Config.Location()
	st := review.StateOf(acts)
	out := struct {
		Alert   alertJSON    `json:"alert"`
		State   stateJSON    `json:"state"`
		Actions []actionJSON `json:"actions"`
		Text    string       `json:"text"`
		Message struct {
			Serial       uint64 `json:"serial"`
			Sender       string `json:"sender"`
			SentAt       string `json:"sent_at"`
			Conversation string `json:"conversation"`
			RecalledBy   uint64 `json:"recalled_by,omitempty"`
			RecordSHA256 string `json:"record_sha256"`
		} `json:"message"`
		ViewJournalIndex uint64 `json:"view_journal_index"`
	}{Alert: s.describeAlert(al, st), Actions: []actionJSON{}, Text: msg.Text, ViewJournalIndex: viewIdx}
	page := []alertJSON{out.Alert}
	if err := s.sameMessage(ctx, page); err != nil {
		s.internal(w, req, err)
		return
	}
	out.Alert = page[0]
	out.State = stateJSON{Status: st.Status, Assignee: st.Assignee, Escalated: st.Escalated, Viewed: st.Viewed, Reviewed: st.Reviewed,
		ClosedBy: st.ClosedBy, Disposition: st.Disposition, Note: st.Note, Actions: st.Actions}
	if st.Reviewed {
		out.State.ClosedAt = st.ClosedAt.Time.In(loc).Format(time.RFC3339)
	}
	for _, a := range acts {
		out.Actions = append(out.Actions, actionJSON{a.JournalIndex, a.Time.Time.In(loc).Format(time.RFC3339), a.Actor, a.Action,
			a.Disposition, a.Note, a.Reason, a.Assignee})
	}
	m := &out.Message
	m.Serial, m.Sender, m.SentAt, m.Conversation = msg.Serial, msg.Sender, msg.SentAt.Time.In(loc).Format(time.RFC3339), msg.Conversation
	m.RecalledBy, m.RecordSHA256 = msg.RecalledBy, msg.RecordHash.String()
	writeJSON(w, http.StatusOK, out)
}

// actionRequest is the body of POST /api/v1/alerts/actions.
type actionRequest struct {
	Action      string   `json:"action"`
	Alerts      []uint64 `json:"alerts"`
	Disposition string   `json:"disposition"`
	Note        string   `json:"note"`
	Reason      string   `json:"reason"`
	Assignee    string   `json:"assignee"`
}

// alertAction: POST /api/v1/alerts/actions, a `wxarchive review` action
// journaled as the caller. A request the review rules refuse (a field
// missing or wrong) is 400, one the alerts' state refuses is 409; either
// way nothing is written.
func (s *Server) alertAction(w http.ResponseWriter, req *http.Request) {
	if !checkParams(w, req.URL.Query()) {
		return
	}
	body, ok := readBody(w, req, MaxActionBytes, "application/json")
	if !ok {
		return
	}
	var a actionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			writeError(w, http.StatusBadRequest, "malformed_body", "%s: want %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
			return
		}
		writeError(w, http.StatusBadRequest, "malformed_body", "the body is not an action object: %v", err)
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed_body", "data after the action object")
		return
	}
	if a.Action == review.View {
		// A view with nothing shown would be evidence of a look that
		// never happened.
		writeError(w, http.StatusBadRequest, "bad_action", "action: a view is recorded by GET /api/v1/alerts/{id}, not posted")
		return
	}
	if len(a.Alerts) > MaxActionAlerts {
		writeError(w, http.StatusBadRequest, "bad_alerts", "alerts: %d alerts, at most %d at once", len(a.Alerts), MaxActionAlerts)
		return
	}
	if i := slices.Index(a.Alerts, 0); i >= 0 {
		writeError(w, http.StatusBadRequest, "bad_alerts", "alerts[%d]: 0 is not an alert id", i)
		return
	}
	if s.r.Engine == nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "archive is closing")
		return
	}
	actor := s.actor(req)
	idx, err := s.reviewService(req).Do(req.Context(), review.Action{Action: a.Action, Alerts: a.Alerts, Actor: actor,
		Disposition: a.Disposition, Note: a.Note, Reason: a.Reason, Assignee: a.Assignee})
	var re *review.Error
	switch {
	case errors.As(err, &re) && re.Alert == 0:
		writeError(w, http.StatusBadRequest, "bad_"+re.Field, "%v", re)
		return
	case errors.As(err, &re):
		if _, err := s.r.Store.Alert(req.Context(), re.Alert); errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", "%v", re)
			return
		}
		writeError(w, http.StatusConflict, "conflict", "%v", re)
		return
	case err != nil:
		s.journalError(w, req, err)
		return
	}
	s.opts.Logger.Info("review action", "action", a.Action, "alerts", len(a.Alerts), "actor", actor, "journal_index", idx)
	writeJSON(w, http.StatusOK, map[string]any{"journal_index": idx, "action": a.Action, "alerts": a.Alerts})
}

func jsonKind(goKind string) string {
	switch goKind {
	case "uint64", "int", "int64", "uint":
		return "a non-negative integer"
	case "slice":
		return "a list"
	case "string":
		return "a string"
	}
	return goKind
}

// ---------------------------------------------------------------------------
// Reports.

// reviewEvidence: GET /api/v1/reports/review-evidence?from=DATE&to=DATE[&format=json|csv],
// `report review-evidence` for the alerts raised in [from, to).
func (s *Server) reviewEvidence(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if !checkParams(w, q, "from", "to", "format") {
		return
	}
	format := q.Get("format")
	switch format {
	case "":
		format = "json"
	case "json", "csv":
	default:
		writeError(w, http.StatusBadRequest, "bad_parameter", "format: json or csv, not %q", format)
		return
	}
	for _, name := range []string{"from", "to"} {
		if !q.Has(name) {
			writeError(w, http.StatusBadRequest, "bad_parameter", "%s: the date is required (2006-01-02)", name)
			return
		}
	}
	from, ok := s.parseDate(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := s.parseDate(w, "to", q.Get("to"))
	if !ok {
		return
	}
	if !to.After(from) {
		writeError(w, http.StatusBadRequest, "bad_parameter", "to: %s is not after from (%s)", q.Get("to"), q.Get("from"))
		return
	}
	rows, err := review.Evidence(req.Context(), s.r.Store, from, to, s.now(), s.r.Config.Location())
	if err != nil {
		s.internal(w, req, err)
		return
	}
	if format == "json" {
		writeJSON(w, http.StatusOK, map[string]any{"from": q.Get("from"), "to": q.Get("to"), "alerts": rows})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="review-evidence-%s-%s.csv"`, q.Get("from"), q.Get("to")))
	if err := review.WriteEvidenceCSV(w, rows); err != nil {
		s.opts.Logger.Warn("review-evidence CSV cut short", "err", err)
	}
}
