package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
)

// Bounds of alert lists.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// AlertView is an alert as every surface lists it (the embedded event
// gives serial, policy, policy_version, rule, spans, in_attachment, masked,
// detail, department).
type AlertView struct {
	ID uint64 `json:"id"`
	archive.AlertEvent
	SourceID    string   `json:"source_id"`
	Sender      string   `json:"sender"`                // who sent the message (its id)
	SenderName  string   `json:"sender_name,omitempty"` // their directory name when they sent it
	Status      string   `json:"status"`
	Assignee    string   `json:"assignee,omitempty"`
	RaisedAt    string   `json:"raised_at"`
	AgeDays     int      `json:"age_days"` // 0 once closed
	Overdue     bool     `json:"overdue"`  // open past supervision.sla_days
	SameMessage []uint64 `json:"same_message,omitempty"`
}

// AlertStatuses are the status filters: open is every alert not closed,
// unassigned an open one nobody claimed, overdue one open past the SLA;
// claimed, escalated and closed are the status.
var AlertStatuses = []string{review.StatusOpen, "unassigned", review.StatusClaimed, review.StatusEscalated, "overdue", review.StatusClosed}

// AlertFilter selects alerts.
type AlertFilter struct {
	Status, Policy, Rule, Department string
	After                            uint64 // ids above this (a page's NextAfter)
	// Limit is the page size: 0 for DefaultAlertLimit, at most
	// MaxAlertLimit — or, with All, 0 for every match.
	Limit int
	// All lists every match (Limit, if set, still cuts the list), the
	// alerts on one message next to each other in the order of the
	// message's first alert: a reviewer's queue. Without All the page
	// keeps id order, so that After stays a cursor.
	All bool
}

// AlertPage is a list of alerts; NextAfter, when not zero, is the After of
// the next page.
type AlertPage struct {
	Alerts    []AlertView `json:"alerts"`
	NextAfter uint64      `json:"next_after,omitempty"`
}

func (a *App) sla() int { return a.d.Config.Supervision.SLA() }

func (a *App) describeAlert(al store.AlertRow, st review.State) AlertView {
	out := AlertView{ID: al.JournalIndex, AlertEvent: al.AlertEvent, SourceID: al.SourceID, Status: st.Status,
		RaisedAt: a.rfc3339(al.Time), Assignee: st.Assignee}
	if out.Spans == nil {
		out.Spans = [][2]int{} // a behaviour rule has none; scripts index the list
	}
	if st.Status != review.StatusClosed {
		out.AgeDays = int(a.d.Now().Sub(al.Time.Time).Hours() / 24)
		out.Overdue = out.AgeDays > a.sla()
	}
	return out
}

func statusMatches(filter string, v AlertView) bool {
	switch filter {
	case "":
		return true
	case review.StatusOpen:
		return v.Status != review.StatusClosed
	case "unassigned":
		return v.Status == review.StatusOpen
	case "overdue":
		return v.Overdue
	default:
		return v.Status == filter
	}
}

func (a *App) alertActions(ctx context.Context, id uint64) ([]store.ReviewActionRow, error) {
	var acts []store.ReviewActionRow
	err := a.d.Store.ReviewActions(ctx, id, func(r store.ReviewActionRow) error {
		acts = append(acts, r)
		return nil
	})
	return acts, err
}

// Alerts lists alerts, oldest first. Listing shows no message content, so
// it is not journaled.
func (a *App) Alerts(ctx context.Context, f AlertFilter) (*AlertPage, error) {
	if f.Status != "" && !slices.Contains(AlertStatuses, f.Status) {
		return nil, badParam("status", "want %s, not %q", strings.Join(AlertStatuses, ", "), f.Status)
	}
	limit := f.Limit
	switch {
	case limit < 0 || limit > MaxAlertLimit && !f.All:
		return nil, badParam("limit", "want a number from 1 to %d, not %d", MaxAlertLimit, f.Limit)
	case limit == 0 && !f.All:
		limit = DefaultAlertLimit
	}
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.alertBarrier(p)
	if err != nil {
		return nil, err
	}
	out := &AlertPage{Alerts: []AlertView{}}
	// Filters other than policy need each alert's review state, so alerts
	// are read in chunks (states are read after each chunk: no query runs
	// inside another's rows) until the page is full and one more match
	// shows there is a next page.
	const chunk = 500
	full := false
scan:
	for cursor := f.After; ; {
		var rows []store.AlertRow
		if err := a.d.Store.Alerts(ctx, cursor, f.Policy, chunk, func(r store.AlertRow) error {
			rows = append(rows, r)
			return nil
		}); err != nil {
			return nil, err
		}
		for _, al := range rows {
			if (f.Rule != "" && al.Rule != f.Rule) || (f.Department != "" && al.Department != f.Department) || !b.alert(al.Department) {
				continue
			}
			acts, err := a.alertActions(ctx, al.JournalIndex)
			if err != nil {
				return nil, err
			}
			v := a.describeAlert(al, review.StateOf(acts))
			if !statusMatches(f.Status, v) {
				continue
			}
			if !f.All && len(out.Alerts) == limit {
				full = true
				break scan
			}
			out.Alerts = append(out.Alerts, v)
		}
		if len(rows) < chunk {
			break
		}
		cursor = rows[len(rows)-1].JournalIndex
	}
	if full {
		out.NextAfter = out.Alerts[limit-1].ID
	}
	if err := a.sameMessage(ctx, out.Alerts); err != nil {
		return nil, err
	}
	names := newNamer(a.d.Store)
	senders := make([]string, 0, len(out.Alerts))
	sent := make([]archive.Time, len(out.Alerts))
	for i := range out.Alerts {
		m, err := a.d.Store.Message(ctx, out.Alerts[i].Serial)
		if err != nil {
			return nil, fmt.Errorf("alert %d: message %d: %w", out.Alerts[i].ID, out.Alerts[i].Serial, err)
		}
		out.Alerts[i].Sender = m.Sender
		senders = append(senders, m.Sender)
		sent[i] = m.SentAt
	}
	if err := names.load(ctx, senders...); err != nil {
		return nil, err
	}
	for i := range out.Alerts {
		var err error
		if out.Alerts[i].SenderName, err = names.name(ctx, out.Alerts[i].Sender, sent[i]); err != nil {
			return nil, err
		}
	}
	if f.All {
		// Alerts on the same message are reviewed together: the list keeps
		// them next to each other, in the order of the message's first.
		first := map[uint64]int{}
		for i, v := range out.Alerts {
			if _, ok := first[v.Serial]; !ok {
				first[v.Serial] = i
			}
		}
		sort.SliceStable(out.Alerts, func(i, j int) bool { return first[out.Alerts[i].Serial] < first[out.Alerts[j].Serial] })
		if limit > 0 && len(out.Alerts) > limit {
			out.Alerts = out.Alerts[:limit]
		}
	}
	return out, nil
}

var errStop = errors.New("stop")

// sameMessage fills in each alert's same_message: the other alerts on its
// message, of any policy and status. Alerts are read from the journal
// index of the page's first message (an alert always follows its message)
// until one concerns a later message than the page's last: the supervisor
// evaluates messages in serial order, so alerts of a later message come
// after every alert of an earlier one.
func (a *App) sameMessage(ctx context.Context, page []AlertView) error {
	if len(page) == 0 {
		return nil
	}
	serials := map[uint64][]uint64{}
	lo, hi := page[0].Serial, page[0].Serial
	for _, v := range page {
		serials[v.Serial] = nil
		lo, hi = min(lo, v.Serial), max(hi, v.Serial)
	}
	msg, err := a.d.Store.Message(ctx, lo)
	if err != nil {
		return fmt.Errorf("alerts on message %d: %w", lo, err)
	}
	err = a.d.Store.Alerts(ctx, msg.JournalIndex, "", 0, func(r store.AlertRow) error {
		if r.Serial > hi {
			return errStop
		}
		if ids, ok := serials[r.Serial]; ok {
			serials[r.Serial] = append(ids, r.JournalIndex)
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

// QueuesView is the open alerts by policy and department.
type QueuesView struct {
	SLADays int            `json:"sla_days"`
	Queues  []review.Queue `json:"queues"`
}

// Queues returns the review queues: open alerts by policy and department,
// with those past the review SLA.
func (a *App) Queues(ctx context.Context) (*QueuesView, error) {
	qs, err := review.Queues(ctx, a.d.Store, a.d.Now(), a.sla())
	if err != nil {
		return nil, err
	}
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.alertBarrier(p)
	if err != nil {
		return nil, err
	}
	qs = slices.DeleteFunc(qs, func(q review.Queue) bool { return !b.alert(q.Department) })
	if qs == nil {
		qs = []review.Queue{}
	}
	return &QueuesView{SLADays: a.sla(), Queues: qs}, nil
}

// StateView is an alert's review state.
type StateView struct {
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

// ActionView is one review action on an alert.
type ActionView struct {
	JournalIndex uint64 `json:"journal_index"`
	Time         string `json:"time"`
	Actor        string `json:"actor"`
	Action       string `json:"action"`
	Disposition  string `json:"disposition,omitempty"`
	Note         string `json:"note,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Assignee     string `json:"assignee,omitempty"`
}

// AlertMessage is what an alert shows of its message.
type AlertMessage struct {
	Serial       uint64 `json:"serial"`
	Sender       string `json:"sender"`
	SentAt       string `json:"sent_at"`
	TimeUnknown  bool   `json:"time_unknown,omitempty"` // SentAt is the capture time
	Conversation string `json:"conversation"`
	RecalledBy   uint64 `json:"recalled_by,omitempty"`
	RecordSHA256 string `json:"record_sha256"`
}

// AlertDetail is one alert with its review state and history and the text
// of its message.
type AlertDetail struct {
	Alert            AlertView    `json:"alert"`
	State            StateView    `json:"state"`
	Actions          []ActionView `json:"actions"`
	Text             string       `json:"text"`
	Message          AlertMessage `json:"message"`
	ViewJournalIndex uint64       `json:"view_journal_index"`
}

// reviewer is the review service acting for p. Principals apply only to an
// authenticated user: the "user" of an unauthenticated actor
// (api:ADDR:PORT) would be a port number.
func (a *App) reviewer(p Principal, w ingest.EventWriter) *review.Service {
	svc := &review.Service{Engine: w, Store: a.d.Store}
	switch {
	case p.User == "":
	case p.Identity != nil && !p.Identity.Can(auth.PermReviewPrincipal):
		// An authenticated user is a supervision principal only with the
		// role that grants it, whatever the configuration lists.
	default:
		svc.Principals = a.d.Config.Supervision.Principals
		if p.Identity != nil && len(svc.Principals) == 0 {
			// With no list configured, the role alone decides.
			svc.Principals = []string{p.User}
		}
	}
	return svc
}

// Alert shows an alert with the message text. The view is journaled first
// (a review.action view, which never counts as a review).
func (a *App) Alert(ctx context.Context, id uint64) (*AlertDetail, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, badParam("id", "0 is not an alert id")
	}
	al, err := a.d.Store.Alert(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := a.alertsWithin(ctx, p, []uint64{id}); err != nil {
		return nil, err
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	viewIdx, err := a.reviewer(p, w).Do(ctx, review.Action{Action: review.View, Alerts: []uint64{id}, Actor: p.Actor})
	if err != nil {
		return nil, fmt.Errorf("record the view: %w", unavailable(err))
	}
	acts, err := a.alertActions(ctx, id)
	if err != nil {
		return nil, err
	}
	msg, err := a.d.Store.Message(ctx, al.Serial)
	if err != nil {
		return nil, fmt.Errorf("alert %d: message %d: %w", id, al.Serial, err)
	}
	st := review.StateOf(acts)
	out := &AlertDetail{Alert: a.describeAlert(al, st), Actions: []ActionView{}, Text: msg.Text, ViewJournalIndex: viewIdx}
	out.Alert.Sender = msg.Sender
	if out.Alert.SenderName, err = newNamer(a.d.Store).name(ctx, msg.Sender, msg.SentAt); err != nil {
		return nil, err
	}
	page := []AlertView{out.Alert}
	if err := a.sameMessage(ctx, page); err != nil {
		return nil, err
	}
	out.Alert = page[0]
	out.State = StateView{Status: st.Status, Assignee: st.Assignee, Escalated: st.Escalated, Viewed: st.Viewed, Reviewed: st.Reviewed,
		ClosedBy: st.ClosedBy, Disposition: st.Disposition, Note: st.Note, Actions: st.Actions}
	if st.Reviewed {
		out.State.ClosedAt = a.rfc3339(st.ClosedAt)
	}
	for _, r := range acts {
		out.Actions = append(out.Actions, ActionView{r.JournalIndex, a.rfc3339(r.Time), r.Actor, r.Action, r.Disposition, r.Note, r.Reason, r.Assignee})
	}
	out.Message = AlertMessage{Serial: msg.Serial, Sender: msg.Sender, SentAt: a.rfc3339(msg.SentAt), TimeUnknown: msg.TimeUnknown, Conversation: msg.Conversation,
		RecalledBy: msg.RecalledBy, RecordSHA256: msg.RecordHash.String()}
	return out, nil
}

// ReviewRequest is a review action as a surface receives it.
type ReviewRequest struct {
	Action      string   `json:"action"`
	Alerts      []uint64 `json:"alerts"`
	Disposition string   `json:"disposition"`
	Note        string   `json:"note"`
	Reason      string   `json:"reason"`
	Assignee    string   `json:"assignee"`
}

// ReviewResult is a journaled review action.
type ReviewResult struct {
	JournalIndex uint64   `json:"journal_index"`
	Action       string   `json:"action"`
	Alerts       []uint64 `json:"alerts"`
}

// Review journals a review action as the principal. A request the review
// rules refuse is an *InvalidError naming the field; one an alert's state
// refuses is a *ConflictError naming the alert (an alert that does not
// exist: ErrNotFound). Nothing is written either way.
func (a *App) Review(ctx context.Context, r ReviewRequest) (*ReviewResult, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Action == review.View {
		// A view with nothing shown would be evidence of a look that never
		// happened: views are recorded by Alert.
		return nil, invalid("action", "a view is recorded by showing the alert, not posted")
	}
	if len(r.Alerts) > archive.MaxReviewAlerts {
		return nil, invalid("alerts", "%d alerts, at most %d at once", len(r.Alerts), archive.MaxReviewAlerts)
	}
	if i := slices.Index(r.Alerts, 0); i >= 0 {
		return nil, invalid(fmt.Sprintf("alerts[%d]", i), "0 is not an alert id")
	}
	if err := a.alertsWithin(ctx, p, r.Alerts); err != nil {
		return nil, err
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	idx, err := a.reviewer(p, w).Do(ctx, review.Action{Action: r.Action, Alerts: r.Alerts, Actor: p.Actor,
		Disposition: r.Disposition, Note: r.Note, Reason: r.Reason, Assignee: r.Assignee})
	var re *review.Error
	switch {
	case errors.As(err, &re) && re.Alert == 0:
		return nil, &InvalidError{Field: re.Field, Reason: re.Reason}
	case errors.As(err, &re):
		if _, err := a.d.Store.Alert(ctx, re.Alert); errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%v: %w", re, ErrNotFound)
		}
		return nil, &ConflictError{Object: fmt.Sprintf("alert %d", re.Alert), Reason: re.Reason}
	case err != nil:
		return nil, unavailable(err)
	}
	return &ReviewResult{JournalIndex: idx, Action: r.Action, Alerts: r.Alerts}, nil
}

// EvidenceView is the evidence of review of the alerts raised in a period.
type EvidenceView struct {
	From   string               `json:"from"`
	To     string               `json:"to"`
	By     string               `json:"by"` // sent: messages sent in the period; raised: alerts raised in it
	Alerts []review.EvidenceRow `json:"alerts"`
}

// ReviewEvidence reports, per alert on a message sent in [from, to) — or,
// By raised, per alert raised in it — (days in the
// archive's time zone), whether it was reviewed, by whom, when and how.
func (a *App) ReviewEvidence(ctx context.Context, r Range) (*EvidenceView, error) {
	if r.From == "" {
		return nil, badParam("from", "the date is required (%s)", DateLayout)
	}
	if r.To == "" {
		return nil, badParam("to", "the date is required (%s)", DateLayout)
	}
	switch r.By {
	case "":
		r.By = review.BySent
	case review.BySent, review.ByRaised:
	default:
		return nil, badParam("by", "want %s (the message's date) or %s (the alert's), not %q", review.BySent, review.ByRaised, r.By)
	}
	from, to, err := a.period(r, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	rows, err := review.Evidence(ctx, a.d.Store, from, to, a.d.Now(), a.Location(), r.By)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []review.EvidenceRow{}
	}
	return &EvidenceView{From: r.From, To: r.To, By: r.By, Alerts: rows}, nil
}
