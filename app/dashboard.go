package app

import (
	"context"
	"errors"
	"time"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// DashboardDays is how many days the dashboard's capture chart shows.
const DashboardDays = 14

// DayCount is the messages sent on one day (archive's time zone).
type DayCount struct {
	Day      string `json:"day"` // 2006-01-02
	Messages int64  `json:"messages"`
}

// DashboardView is what a viewer's roles let them see at a glance: each
// part is nil when their roles do not open it. It shows counts and
// states, never message content, so it is not journaled.
type DashboardView struct {
	Days       []DayCount      `json:"days,omitempty"`   // capture.health: messages per day, oldest first
	Queues     *QueuesView     `json:"queues,omitempty"` // alerts.read: within the viewer's barrier
	Health     *capture.Report `json:"health,omitempty"` // capture.health
	Checkpoint *CheckpointView `json:"checkpoint,omitempty"`
	Stats      *StatsView      `json:"stats,omitempty"` // capture.health
	// Attention is what needs the viewer, by role: open alerts in their
	// queues and those past the SLA, escalations for a principal, capture
	// faults and silent employees for those who watch capture.
	Attention DashboardAttention `json:"attention"`
}

// DashboardAttention counts what waits for the viewer.
type DashboardAttention struct {
	OpenAlerts      int    `json:"open_alerts"`
	OverdueAlerts   int    `json:"overdue_alerts"`
	Escalated       int    `json:"escalated,omitempty"` // principals
	OpenFaults      int    `json:"open_faults"`
	SilentEmployees int    `json:"silent_employees"`
	SupervisionLag  uint64 `json:"supervision_lag"`
	CheckpointBad   bool   `json:"checkpoint_bad,omitempty"`
}

// Dashboard assembles the viewer's dashboard.
func (a *App) Dashboard(ctx context.Context) (*DashboardView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	can := func(perm auth.Permission) bool { return a.authorize(p, perm) == nil }
	out := &DashboardView{}
	if can(auth.PermAlertsRead) {
		if out.Queues, err = a.Queues(ctx); err != nil {
			return nil, err
		}
		for _, q := range out.Queues.Queues {
			out.Attention.OpenAlerts += q.Open
			out.Attention.OverdueAlerts += q.Overdue
			if can(auth.PermReviewPrincipal) {
				out.Attention.Escalated += q.Escalated
			}
		}
	}
	if can(auth.PermHealth) {
		if out.Health, err = a.CaptureHealth(ctx); err != nil {
			return nil, err
		}
		out.Attention.OpenFaults = len(out.Health.Faults) // the report lists open faults
		out.Attention.SilentEmployees = len(out.Health.SilentEmployees)
		out.Attention.SupervisionLag = out.Health.Supervision.Lag
		if out.Days, err = a.messagesPerDay(ctx); err != nil {
			return nil, err
		}
		if out.Stats, err = a.Stats(ctx); err != nil {
			return nil, err
		}
	}
	if can(auth.PermIntegrity) {
		cp, err := a.Checkpoint(ctx)
		switch {
		case err == nil:
			out.Checkpoint = cp
		case errors.Is(err, ErrNotFound): // nothing sealed yet
		default:
			out.Attention.CheckpointBad = true
		}
	}
	return out, nil
}

// messagesPerDay counts the messages sent on each of the last
// DashboardDays days: the index's time facet, labelled by day.
func (a *App) messagesPerDay(ctx context.Context) ([]DayCount, error) {
	loc := a.Location()
	now := a.d.Now().In(loc)
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -(DashboardDays - 1))
	q := &textindex.Field{Name: "after", Value: first.Format(DateLayout), From: first.UnixMilli(), To: textindex.MaxMillis}
	page, err := a.d.Store.Search(ctx, store.SearchRequest{Query: q, Sort: store.SortTime, Limit: 1, CountLimit: 1, Facets: true,
		FacetMonth: func(ms int64) string { return time.UnixMilli(ms).In(loc).Format(DateLayout) }})
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, f := range page.Facets["month"] {
		counts[f.Value] = f.Count
	}
	out := make([]DayCount, DashboardDays)
	for i := range out {
		d := first.AddDate(0, 0, i).Format(DateLayout)
		out[i] = DayCount{Day: d, Messages: counts[d]}
	}
	return out, nil
}
