package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/review"
)

// evidencePage is the evidence of review of the alerts raised in a
// period (FINRA 3110.07): who reviewed what, when, and how.
type evidencePage struct {
	From, To string
	By       string // review.BySent (the messages' dates) or review.ByRaised
	Ran      bool
	Rows     []evidenceRow
	CSV      string
	Reviewed int
}

type evidenceRow struct {
	review.EvidenceRow
	Href     string
	Raised   timeView
	Reviewed timeView
	Sent     timeView
}

// Evidence: GET /reports/evidence[?from=DATE&to=DATE&by=sent|raised], app.ReviewEvidence
// as a table, with the same report as CSV from the API.
func (u *UI) Evidence(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "from", "to", "by"); err != nil {
		return err
	}
	ep := &evidencePage{From: q.Get("from"), To: q.Get("to"), By: q.Get("by")}
	if ep.By == "" {
		ep.By = review.BySent
	}
	v := u.newView(r, "evidence.title", ep)
	if ep.From == "" && ep.To == "" {
		now := time.Now().In(v.loc)
		ep.From, ep.To = now.AddDate(0, -1, 0).Format(app.DateLayout), now.AddDate(0, 0, 1).Format(app.DateLayout)
		return u.render(w, http.StatusOK, "evidence", v)
	}
	ev, err := u.opts.App.ReviewEvidence(r.Context(), app.Range{From: ep.From, To: ep.To, By: ep.By})
	if err != nil {
		return err
	}
	ep.Ran = true
	ep.CSV = "/api/v1/reports/review-evidence?" + url.Values{"from": {ev.From}, "to": {ev.To}, "by": {ev.By}, "format": {"csv"}}.Encode()
	for _, row := range ev.Alerts {
		er := evidenceRow{EvidenceRow: row, Href: "/alerts/" + strconv.FormatUint(row.Alert, 10)}
		if t, err := time.Parse(time.RFC3339, row.RaisedAt); err == nil {
			er.Raised = v.Time(t)
		}
		if t, err := time.Parse(time.RFC3339, row.ReviewedAt); err == nil {
			er.Reviewed = v.Time(t)
		}
		if t, err := time.Parse(time.RFC3339, row.SentAt); err == nil {
			er.Sent = v.Time(t)
		}
		if row.Reviewed {
			ep.Reviewed++
		}
		ep.Rows = append(ep.Rows, er)
	}
	return u.render(w, http.StatusOK, "evidence", v)
}

// auditPage is a page of the audit log, newest first.
type auditPage struct {
	User, Kind, From, To string
	Kinds                []string
	Entries              []auditRow
	Next, First          string
	Partial              bool
	CSV                  string
}

type auditRow struct {
	app.AuditEntry
	At timeView
}

// Audit: GET /audit[?user=U][&kind=K][&from=DATE][&to=DATE][&before=N],
// app.Audit (itself journaled as an access), with keyset paging and the
// same filters as CSV from the API.
func (u *UI) Audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "user", "kind", "from", "to", "before"); err != nil {
		return err
	}
	f := app.AuditFilter{User: q.Get("user"), Kind: q.Get("kind"), Period: app.Range{From: q.Get("from"), To: q.Get("to")}}
	if s := q.Get("before"); s != "" {
		n, err := httpx.Uint("before", s)
		if err != nil {
			return err
		}
		f.Before = n
	}
	page, err := u.opts.App.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	ap := &auditPage{User: f.User, Kind: f.Kind, From: f.Period.From, To: f.Period.To, Kinds: app.AuditKinds, Partial: page.Partial}
	v := u.newView(r, "audit.title", ap)
	base := url.Values{}
	for k, val := range map[string]string{"user": f.User, "kind": f.Kind, "from": f.Period.From, "to": f.Period.To} {
		if val != "" {
			base.Set(k, val)
		}
	}
	if page.Next != 0 {
		n := url.Values{"before": {strconv.FormatUint(page.Next, 10)}}
		for k, vs := range base {
			n[k] = vs
		}
		ap.Next = "/audit?" + n.Encode()
	}
	if f.Before != 0 {
		ap.First = "/audit?" + base.Encode()
	}
	c := url.Values{"format": {"csv"}, "limit": {strconv.Itoa(app.MaxAuditLimit)}}
	for k, vs := range base {
		c[k] = vs
	}
	ap.CSV = "/api/v1/audit?" + c.Encode()
	for _, e := range page.Entries {
		row := auditRow{AuditEntry: e}
		if t, err := time.Parse(time.RFC3339, e.Time); err == nil {
			row.At = v.Time(t)
		}
		ap.Entries = append(ap.Entries, row)
	}
	return u.render(w, http.StatusOK, "audit", v)
}
