package httpapi

// The supervision API: policies, alerts, review actions and the
// evidence-of-review report. Each endpoint renders the app/ use case its
// CLI command renders (policy list|show|apply|backtest, alerts
// list|queues|show, review, report review-evidence), with the same JSON.

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/review"
)

// MaxActionBytes bounds a review action's body.
const MaxActionBytes = 1 << 20

var yamlTypes = []string{"application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml", "text/plain"}

// listPolicies: GET /api/v1/policies, every policy's latest version.
func (s *Server) listPolicies(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	v, err := s.app.Policies(req.Context())
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// getPolicy: GET /api/v1/policies/{name}[?version=N], a version with its
// YAML and the list of versions.
func (s *Server) getPolicy(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "version"); err != nil {
		return err
	}
	version := 0
	if q.Has("version") {
		n, err := httpx.Int("version", q.Get("version"), 1, 1<<30)
		if err != nil {
			return err
		}
		version = n
	}
	v, err := s.app.Policy(req.Context(), req.PathValue("name"), version)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// putPolicy: PUT /api/v1/policies/{name} with the YAML, `policy apply` of
// one file. 201 for a new version, 200 when the bytes are those of the
// latest version (nothing journaled).
func (s *Server) putPolicy(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	name := req.PathValue("name")
	data, err := httpx.ReadBody(w, req, policy.MaxFileBytes, yamlTypes...)
	if err != nil {
		return err
	}
	res, err := s.app.ApplyPolicy(req.Context(), name, name+".yaml", data)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("policy applied", "policy", name, "version", res.Version, "changed", res.Changed, "actor", actorOf(req))
	status := http.StatusOK
	if res.Changed {
		status = http.StatusCreated
		w.Header().Set("Location", fmt.Sprintf("/api/v1/policies/%s?version=%d", url.PathEscape(name), res.Version))
	}
	httpx.JSON(w, status, res)
	return nil
}

// backtest: POST /api/v1/policies/backtest[?from=DATE][&to=DATE][&samples=N]
// with a draft policy: `policy backtest --json`. Nothing is raised; the
// samples shown are journaled as an access.
func (s *Server) backtest(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "from", "to", "samples"); err != nil {
		return err
	}
	r := app.BacktestRequest{Period: app.Range{From: q.Get("from"), To: q.Get("to")}, Samples: app.DefaultSamples}
	if q.Has("samples") {
		n, err := httpx.Int("samples", q.Get("samples"), 0, app.MaxBacktestSamples)
		if err != nil {
			return err
		}
		r.Samples = n
	}
	var err error
	if r.Data, err = httpx.ReadBody(w, req, policy.MaxFileBytes, yamlTypes...); err != nil {
		return err
	}
	bt, err := s.app.Backtest(req.Context(), r)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, bt)
	return nil
}

// listAlerts: GET /api/v1/alerts[?status=S][&policy=P][&rule=R][&department=D][&after=ID][&limit=N],
// `alerts list --json` a page at a time, oldest first. next_after, when
// present, is the after= of the next page. Unlike the CLI, which moves the
// alerts on one message next to each other, the page keeps id order so
// that after= stays a cursor; same_message names the others.
func (s *Server) listAlerts(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "status", "policy", "rule", "department", "after", "limit"); err != nil {
		return err
	}
	f := app.AlertFilter{Status: q.Get("status"), Policy: q.Get("policy"), Rule: q.Get("rule"), Department: q.Get("department")}
	var err error
	if q.Has("after") {
		if f.After, err = httpx.Uint("after", q.Get("after")); err != nil {
			return err
		}
	}
	if q.Has("limit") {
		if f.Limit, err = httpx.Int("limit", q.Get("limit"), 1, app.MaxAlertLimit); err != nil {
			return err
		}
	}
	page, err := s.app.Alerts(req.Context(), f)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, page)
	return nil
}

// alertQueues: GET /api/v1/alerts/queues, `alerts queues --json`: open
// alerts by policy and department, with those past the review SLA.
func (s *Server) alertQueues(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	v, err := s.app.Queues(req.Context())
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// getAlert: GET /api/v1/alerts/{id}, `alerts show --json`: the alert, its
// review state and history, and the message text, journaled first as a
// review view (which never counts as a review).
func (s *Server) getAlert(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	id, err := httpx.Uint("id", req.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.app.Alert(req.Context(), id)
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, v)
	return nil
}

// alertAction: POST /api/v1/alerts/actions, a `wxarchive review` action
// journaled as the caller. A request the review rules refuse (a field
// missing or wrong) is 400, one the alerts' state refuses is 409; either
// way nothing is written.
func (s *Server) alertAction(w http.ResponseWriter, req *http.Request) error {
	if err := httpx.CheckParams(req.URL.Query()); err != nil {
		return err
	}
	body, err := httpx.ReadBody(w, req, MaxActionBytes, "application/json")
	if err != nil {
		return err
	}
	var a app.ReviewRequest
	if err := httpx.DecodeJSON(body, &a, "an action object"); err != nil {
		return err
	}
	if a.Action == review.View {
		return &app.InvalidError{Field: "action", Reason: "a view is recorded by GET /api/v1/alerts/{id}, not posted"}
	}
	res, err := s.app.Review(req.Context(), a)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("review action", "action", a.Action, "alerts", len(a.Alerts), "actor", actorOf(req), "journal_index", res.JournalIndex)
	httpx.JSON(w, http.StatusOK, res)
	return nil
}

// reviewEvidence: GET /api/v1/reports/review-evidence?from=DATE&to=DATE[&by=sent|raised][&format=json|csv],
// `report review-evidence` for the alerts on messages sent in [from, to)
// (by=raised: the alerts raised in it).
func (s *Server) reviewEvidence(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "from", "to", "by", "format"); err != nil {
		return err
	}
	format := q.Get("format")
	switch format {
	case "":
		format = "json"
	case "json", "csv":
	default:
		return httpx.BadParam("format: json or csv, not %q", format)
	}
	v, err := s.app.ReviewEvidence(req.Context(), app.Range{From: q.Get("from"), To: q.Get("to"), By: q.Get("by")})
	if err != nil {
		return err
	}
	if format == "json" {
		httpx.JSON(w, http.StatusOK, v)
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="review-evidence-%s-%s.csv"`, v.From, v.To))
	if err := review.WriteEvidenceCSV(w, v.Alerts); err != nil {
		s.opts.Logger.Warn("review-evidence CSV cut short", "err", err)
	}
	return nil
}
