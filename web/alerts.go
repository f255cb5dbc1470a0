package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/review"
)

// alertsPage is the review queue: the queues' counts, the filters, and a
// page of alerts with a bulk action form.
type alertsPage struct {
	Status, Policy, Department string
	Statuses                   []string
	Queues                     []queueRow
	SLADays                    int
	Alerts                     []alertRow
	Next, First                string
	CanReview                  bool
	Dispositions               []string
	Back                       string // this page, for the forms' return
	Done                       string // the action just journaled, if any
}

type queueRow struct {
	review.Queue
	Href string
}

type alertRow struct {
	ID                 uint64
	Href               string
	Policy, Rule, Dept string
	Version            int
	Status             string
	Assignee           string
	Raised             timeView
	AgeDays            int
	Overdue            bool
	SameMessage        int
}

// reviewActions are the actions the forms offer (a view is recorded by
// showing the alert).
var reviewActions = []string{review.Claim, review.Assign, review.Comment, review.Escalate, review.Close, review.Reopen}

var dispositions = []string{review.NoIssue, review.FalsePositive, review.Violation}

// Alerts: GET /alerts[?status=S][&policy=P][&department=D][&after=ID],
// the review queue through app.Queues and app.Alerts (which apply the
// viewer's information barrier). Listing shows no message content.
func (u *UI) Alerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "status", "policy", "department", "after", "done"); err != nil {
		return err
	}
	ap := &alertsPage{Status: q.Get("status"), Policy: q.Get("policy"), Department: q.Get("department"),
		Statuses: app.AlertStatuses, Dispositions: dispositions, Done: q.Get("done")}
	if q.Get("status") == "" && !q.Has("status") {
		ap.Status = review.StatusOpen
	}
	var after uint64
	if s := q.Get("after"); s != "" {
		var err error
		if after, err = httpx.Uint("after", s); err != nil {
			return err
		}
	}
	ctx := r.Context()
	qs, err := u.opts.App.Queues(ctx)
	if err != nil {
		return err
	}
	page, err := u.opts.App.Alerts(ctx, app.AlertFilter{Status: ap.Status, Policy: ap.Policy, Department: ap.Department, After: after})
	if err != nil {
		return err
	}
	v := u.newView(r, "alerts.title", ap)
	if p, ok := app.PrincipalFrom(ctx); ok && p.Identity != nil {
		ap.CanReview = p.Identity.Can(auth.PermReview)
	}
	ap.SLADays = qs.SLADays
	for _, qu := range qs.Queues {
		f := url.Values{"status": {review.StatusOpen}, "policy": {qu.Policy}}
		if qu.Department != "" {
			f.Set("department", qu.Department)
		}
		ap.Queues = append(ap.Queues, queueRow{Queue: qu, Href: "/alerts?" + f.Encode()})
	}
	for _, al := range page.Alerts {
		row := alertRow{ID: al.ID, Href: "/alerts/" + strconv.FormatUint(al.ID, 10), Policy: al.Policy, Rule: al.Rule, Dept: al.Department,
			Version: al.PolicyVersion, Status: al.Status, Assignee: al.Assignee, AgeDays: al.AgeDays, Overdue: al.Overdue, SameMessage: len(al.SameMessage)}
		if t, err := time.Parse(time.RFC3339, al.RaisedAt); err == nil {
			row.Raised = v.Time(t)
		}
		ap.Alerts = append(ap.Alerts, row)
	}
	base := url.Values{"status": {ap.Status}}
	if ap.Policy != "" {
		base.Set("policy", ap.Policy)
	}
	if ap.Department != "" {
		base.Set("department", ap.Department)
	}
	if page.NextAfter != 0 {
		n := url.Values{"after": {strconv.FormatUint(page.NextAfter, 10)}}
		for k, vs := range base {
			n[k] = vs
		}
		ap.Next = "/alerts?" + n.Encode()
	}
	if after != 0 {
		ap.First = "/alerts?" + base.Encode()
	}
	ap.Back = "/alerts?" + base.Encode()
	return u.render(w, http.StatusOK, "alerts", v)
}

// alertPage is one alert: the rule that raised it, its message's text
// with the matched spans highlighted, its review state and history, and
// the review forms.
type alertPage struct {
	A            *app.AlertDetail
	Raised       timeView
	SentAt       timeView
	Text         []segment
	InAttachment bool
	Actions      []actionRow
	ClosedAt     timeView
	CanReview    bool
	CanPrincipal bool
	Forms        []string
	Dispositions []string
	Back         string
	Done         string
	DoneAt       string
	MessageHref  string
	ConvHref     string
	SameMessage  []string
}

type actionRow struct {
	app.ActionView
	At timeView
}

// Alert: GET /alerts/{id}, app.Alert — which journals the view (a view
// never counts as a review) — with the review forms when the viewer may
// review.
func (u *UI) Alert(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "done", "at"); err != nil {
		return err
	}
	id, err := httpx.Uint("id", r.PathValue("id"))
	if err != nil {
		return err
	}
	d, err := u.opts.App.Alert(r.Context(), id)
	if err != nil {
		return err
	}
	v := u.newView(r, "", nil)
	v.Title = v.T("alert.title", d.Alert.ID)
	ap := &alertPage{A: d, Forms: reviewActions, Dispositions: dispositions, Back: "/alerts/" + strconv.FormatUint(id, 10),
		Done: q.Get("done"), DoneAt: q.Get("at"), InAttachment: d.Alert.InAttachment > 0,
		MessageHref: "/messages/" + strconv.FormatUint(d.Message.Serial, 10),
		ConvHref:    "/conversations/" + url.PathEscape(d.Message.Conversation) + "?around=" + strconv.FormatUint(d.Message.Serial, 10)}
	if p, ok := app.PrincipalFrom(r.Context()); ok && p.Identity != nil {
		ap.CanReview = p.Identity.Can(auth.PermReview)
		ap.CanPrincipal = p.Identity.Can(auth.PermReviewPrincipal)
	}
	if t, err := time.Parse(time.RFC3339, d.Alert.RaisedAt); err == nil {
		ap.Raised = v.Time(t)
	}
	if t, err := time.Parse(time.RFC3339, d.Message.SentAt); err == nil {
		ap.SentAt = v.Time(t)
	}
	if t, err := time.Parse(time.RFC3339, d.State.ClosedAt); err == nil {
		ap.ClosedAt = v.Time(t)
	}
	if !ap.InAttachment {
		spans := slices.Clone(d.Alert.Spans)
		slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
		ap.Text = segments(d.Text, spans)
	} else {
		ap.Text = segments(d.Text, nil)
	}
	for _, s := range d.Alert.SameMessage {
		ap.SameMessage = append(ap.SameMessage, strconv.FormatUint(s, 10))
	}
	for _, a := range d.Actions {
		row := actionRow{ActionView: a}
		if t, err := time.Parse(time.RFC3339, a.Time); err == nil {
			row.At = v.Time(t)
		}
		ap.Actions = append(ap.Actions, row)
	}
	v.Page = ap
	return u.render(w, http.StatusOK, "alert", v)
}

// Review: POST /alerts/actions (alert — once per alert —, action,
// disposition, note, reason, assignee, back), one review action through
// app.Review, journaled there; then back to the page it came from. The
// review rules (a disposition to close, a reason for several alerts, a
// principal for an escalation) are app.Review's: a refusal is shown
// with the field at fault and nothing is written.
func (u *UI) Review(w http.ResponseWriter, r *http.Request) error {
	// The edge bounded the body and checked the form's CSRF token.
	if err := r.ParseForm(); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "bad_form", "the review form cannot be read: %v", err)
	}
	f := r.PostForm
	for name := range f {
		switch name {
		case "alert", "action", "disposition", "note", "reason", "assignee", "back", CSRFField:
		default:
			return httpx.BadParam("%s: unknown field (expected alert, action, disposition, note, reason, assignee, back)", name)
		}
	}
	req := app.ReviewRequest{Action: f.Get("action"), Disposition: f.Get("disposition"), Note: strings.TrimSpace(f.Get("note")),
		Reason: strings.TrimSpace(f.Get("reason")), Assignee: strings.TrimSpace(f.Get("assignee"))}
	if req.Action != review.Close {
		req.Disposition = "" // the close form's select travels with every button
	}
	for i, s := range f["alert"] {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return httpx.BadParam("alert[%d]: want an alert id, got %q", i, s)
		}
		req.Alerts = append(req.Alerts, id)
	}
	if len(req.Alerts) == 0 {
		return httpx.BadParam("alert: choose at least one alert")
	}
	res, err := u.opts.App.Review(r.Context(), req)
	if err != nil {
		return err
	}
	back, err := url.Parse(nextOf(f.Get("back")))
	if err != nil {
		back = &url.URL{Path: "/alerts"}
	}
	bq := back.Query()
	bq.Set("done", res.Action)
	if back.Path != "/alerts" {
		bq.Set("at", strconv.FormatUint(res.JournalIndex, 10))
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
	return nil
}
