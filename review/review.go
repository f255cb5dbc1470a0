// Package review is the evidence of supervisory review (FINRA 3110.07):
// reviewers claim, comment on, escalate, close (with a disposition) and
// reopen alerts; every action is a journal event naming the reviewer, the
// alerts, the hashes of the messages and the policy versions. Viewing an
// alert is recorded but never counts as reviewing it; only a principal
// closes an escalated alert.
package review

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/csvcell"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Actions.
const (
	View     = "view"
	Claim    = "claim"
	Assign   = "assign"
	Comment  = "comment"
	Escalate = "escalate"
	Close    = "close"
	Reopen   = "reopen"
)

// Dispositions of a closed alert.
const (
	NoIssue       = "no_issue"
	FalsePositive = "false_positive"
	Violation     = "violation"
)

// Statuses.
const (
	StatusOpen      = "open"
	StatusClaimed   = "claimed"
	StatusEscalated = "escalated"
	StatusClosed    = "closed"
)

// Error is an action that cannot be taken, and why.
type Error struct {
	Alert  uint64 // 0 when it concerns the request
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Alert > 0 {
		return fmt.Sprintf("alert %d: %s", e.Alert, e.Reason)
	}
	return e.Field + ": " + e.Reason
}

// Service takes review actions.
type Service struct {
	Engine ingest.EventWriter
	Store  ReviewReader
	// Principals may close escalated alerts (user names, as in actor
	// "cli:NAME").
	Principals []string
}

// Action is a request.
type Action struct {
	Action      string
	Alerts      []uint64
	Actor       string // "cli:alice", "api:…"
	Disposition string
	Note        string
	Reason      string
	Assignee    string
}

// State is an alert's review state, derived from its actions.
type State struct {
	Status      string
	Assignee    string // claimed by or assigned to
	Escalated   bool   // escalated at some point since the last reopen
	Viewed      bool   // someone looked at it
	Reviewed    bool   // closed with a disposition (viewing does not count)
	ClosedBy    string
	ClosedAt    archive.Time
	Disposition string
	Note        string
	Actions     int
}

// StateOf folds an alert's actions, in journal order.
func StateOf(actions []store.ReviewActionRow) State {
	st := State{Status: StatusOpen}
	for _, a := range actions {
		st.Actions++
		switch a.Action {
		case View:
			st.Viewed = true
		case Claim:
			st.Status, st.Assignee = StatusClaimed, a.Actor
		case Assign:
			st.Status, st.Assignee = StatusClaimed, a.Assignee
		case Escalate:
			st.Status, st.Escalated = StatusEscalated, true
		case Close:
			st.Status, st.Reviewed, st.ClosedBy, st.ClosedAt, st.Disposition, st.Note = StatusClosed, true, a.Actor, a.Time, a.Disposition, a.Note
		case Reopen:
			st = State{Status: StatusOpen, Viewed: st.Viewed, Actions: st.Actions}
		}
	}
	return st
}

// AlertState reads an alert's state.
func (s *Service) AlertState(ctx context.Context, alert uint64) (State, error) {
	var acts []store.ReviewActionRow
	err := s.Store.ReviewActions(ctx, alert, func(a store.ReviewActionRow) error {
		acts = append(acts, a)
		return nil
	})
	return StateOf(acts), err
}

func userOf(actor string) string {
	if i := strings.LastIndexByte(actor, ':'); i >= 0 {
		return actor[i+1:]
	}
	return actor
}

// Do validates and journals an action. Nothing is written when any alert
// of the request refuses it.
func (s *Service) Do(ctx context.Context, a Action) (uint64, error) {
	bad := func(field, format string, args ...any) (uint64, error) {
		return 0, &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch a.Action {
	case View, Claim, Assign, Comment, Escalate, Close, Reopen:
	default:
		return bad("action", "%q: want view, claim, assign, comment, escalate, close or reopen", a.Action)
	}
	if len(a.Alerts) == 0 {
		return bad("alerts", "name at least one alert")
	}
	if a.Actor == "" {
		return bad("actor", "unknown reviewer")
	}
	if len(a.Alerts) > archive.MaxReviewAlerts {
		return bad("alerts", "%d alerts in one action, over the limit of %d", len(a.Alerts), archive.MaxReviewAlerts)
	}
	// Everything below is journaled as given: bounded here, where every
	// surface's review actions enter (docs/FORMAT.md, "Limits").
	for _, f := range []struct {
		name, v string
		max     int
		id      bool
	}{{"note", a.Note, archive.MaxNoteBytes, false}, {"reason", a.Reason, archive.MaxReasonBytes, false},
		{"assignee", a.Assignee, archive.MaxIDBytes, true}, {"actor", a.Actor, journal.MaxActorBytes, true}} {
		check := archive.CheckText
		if f.id {
			check = archive.CheckID
		}
		if err := check(f.name, f.v, f.max); err != nil {
			return bad(f.name, "%s", strings.TrimPrefix(err.Error(), f.name+": "))
		}
	}
	if len(a.Alerts) > 1 && a.Action != View && strings.TrimSpace(a.Reason) == "" {
		return bad("reason", "an action on %d alerts at once needs a reason", len(a.Alerts))
	}
	switch a.Action {
	case Close:
		switch a.Disposition {
		case NoIssue, FalsePositive:
		case Violation:
			if strings.TrimSpace(a.Note) == "" {
				return bad("note", "a violation needs a remediation note")
			}
		case "":
			return bad("disposition", "closing needs a disposition: no_issue, false_positive or violation")
		default:
			return bad("disposition", "%q: want no_issue, false_positive or violation", a.Disposition)
		}
	case Comment, Escalate:
		if strings.TrimSpace(a.Note) == "" {
			return bad("note", "%s needs a note", a.Action)
		}
	case Assign:
		if a.Assignee == "" {
			return bad("assignee", "assign to whom?")
		}
	}
	if a.Action != Close && a.Disposition != "" {
		return bad("disposition", "only closing takes a disposition")
	}
	ev := archive.ReviewEvent{Action: a.Action, Disposition: a.Disposition, Note: a.Note, Reason: a.Reason, Assignee: a.Assignee}
	subjects := make([]string, 0, len(a.Alerts))
	ids := slices.Compact(slices.Sorted(slices.Values(a.Alerts)))
	var lastSeen uint64 // the latest action (not a view) the decision was made on
	for _, id := range ids {
		al, err := s.Store.Alert(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return 0, &Error{Alert: id, Reason: "no such alert"}
		}
		if err != nil {
			return 0, err
		}
		var acts []store.ReviewActionRow
		if err := s.Store.ReviewActions(ctx, id, func(r store.ReviewActionRow) error {
			acts = append(acts, r)
			if r.Action != View {
				lastSeen = max(lastSeen, r.JournalIndex)
			}
			return nil
		}); err != nil {
			return 0, err
		}
		st := StateOf(acts)
		switch {
		case a.Action == Reopen && st.Status != StatusClosed:
			return 0, &Error{Alert: id, Reason: "is " + st.Status + ", not closed: nothing to reopen"}
		case a.Action != Reopen && a.Action != View && a.Action != Comment && st.Status == StatusClosed:
			return 0, &Error{Alert: id, Reason: "is closed: reopen it first"}
		case a.Action == Close && st.Status == StatusEscalated && !slices.Contains(s.Principals, userOf(a.Actor)):
			return 0, &Error{Alert: id, Reason: fmt.Sprintf("is escalated: only a principal may close it (%s is not one)", userOf(a.Actor))}
		case a.Action == Escalate && st.Status == StatusEscalated:
			return 0, &Error{Alert: id, Reason: "is already escalated"}
		}
		msg, err := s.Store.Message(ctx, al.Serial)
		if err != nil {
			return 0, fmt.Errorf("alert %d: message %d: %w", id, al.Serial, err)
		}
		ev.Items = append(ev.Items, archive.ReviewItem{Alert: id, Serial: al.Serial, RecordHash: msg.RecordHash, Policy: al.Policy, PolicyVersion: al.PolicyVersion})
		subjects = append(subjects, fmt.Sprintf("alert:%d", id), fmt.Sprintf("serial:%d", al.Serial))
	}
	e, err := journal.NewEvent(archive.EventReviewAction, a.Actor, archive.Time{}, subjects, &ev)
	if err != nil {
		return 0, err
	}
	if a.Action == View {
		idx, err := s.Engine.Append(ctx, e) // changes no state: nothing to check
		if err != nil {
			return 0, err
		}
		return idx[0], nil
	}
	// The action was checked against the alerts' state as read above; it
	// commits only if no other action on them committed since (another
	// reviewer, another process), or two reviewers could both close one
	// alert, or close what was just escalated.
	idx, err := s.Engine.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		last, err := tx.LastReviewAction(ctx, ids)
		if err != nil {
			return err
		}
		if last != lastSeen {
			return &ingest.ConflictError{Reason: fmt.Sprintf("journal %d acted on these alerts since they were read", last)}
		}
		return nil
	}, e)
	var ce *ingest.ConflictError
	if errors.As(err, &ce) {
		return 0, &Error{Field: "alerts", Reason: "another action on these alerts was recorded meanwhile (" + ce.Reason + "): look at them again"}
	}
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// EvidenceRow is one alert of the evidence-of-review report.
type EvidenceRow struct {
	Alert         uint64 `json:"alert"`
	Serial        uint64 `json:"serial"`
	SourceID      string `json:"source_id"`
	Policy        string `json:"policy"`
	PolicyVersion int    `json:"policy_version"`
	Rule          string `json:"rule"`
	Department    string `json:"department,omitempty"` // the review queue
	RaisedAt      string `json:"raised_at"`
	Status        string `json:"status"`
	Reviewed      bool   `json:"reviewed"`    // closed with a disposition
	ViewedOnly    bool   `json:"viewed_only"` // looked at, not reviewed
	Escalated     bool   `json:"escalated"`
	Reviewer      string `json:"reviewer,omitempty"`
	ReviewedAt    string `json:"reviewed_at,omitempty"`
	Disposition   string `json:"disposition,omitempty"`
	Note          string `json:"note,omitempty"`
	Actions       int    `json:"actions"`
	AgeDays       int    `json:"age_days"` // open alerts: days since raised (review SLA)
	SentAt        string `json:"sent_at"`  // when the message was sent
}

// Evidence selectors: which date the period applies to.
const (
	BySent   = "sent"   // the message's time: "the reviews of Q3's messages" (the default)
	ByRaised = "raised" // the alert's time
)

// Evidence builds the report for the alerts whose message was sent in
// [from, to) — or, by ByRaised, that were raised in it.
func Evidence(ctx context.Context, st ReviewReader, from, to, now time.Time, loc *time.Location, by string) ([]EvidenceRow, error) {
	acts := map[uint64][]store.ReviewActionRow{}
	if err := st.ReviewActions(ctx, 0, func(a store.ReviewActionRow) error {
		acts[a.Alert] = append(acts[a.Alert], a)
		return nil
	}); err != nil {
		return nil, err
	}
	var all []store.AlertRow
	if err := st.Alerts(ctx, 0, "", 0, func(al store.AlertRow) error {
		all = append(all, al)
		return nil
	}); err != nil {
		return nil, err
	}
	rows := []EvidenceRow{}
	sent := map[uint64]time.Time{}
	for _, al := range all {
		t := al.Time.Time
		m, ok := sent[al.Serial]
		if !ok {
			msg, err := st.Message(ctx, al.Serial)
			if err != nil {
				return nil, fmt.Errorf("alert %d: message %d: %w", al.JournalIndex, al.Serial, err)
			}
			m, sent[al.Serial] = msg.SentAt.Time, msg.SentAt.Time
		}
		at := m
		if by == ByRaised {
			at = t
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		s := StateOf(acts[al.JournalIndex])
		r := EvidenceRow{Alert: al.JournalIndex, Serial: al.Serial, SourceID: al.SourceID, Policy: al.Policy, PolicyVersion: al.PolicyVersion,
			Rule: al.Rule, Department: al.Department, RaisedAt: t.In(loc).Format(time.RFC3339), Status: s.Status, Reviewed: s.Reviewed, ViewedOnly: s.Viewed && !s.Reviewed,
			Escalated: s.Escalated, Reviewer: s.ClosedBy, Disposition: s.Disposition, Note: s.Note, Actions: s.Actions}
		if s.Reviewed {
			r.ReviewedAt = s.ClosedAt.Time.In(loc).Format(time.RFC3339)
		} else {
			r.AgeDays = int(now.Sub(t).Hours() / 24)
		}
		r.SentAt = m.In(loc).Format(time.RFC3339)
		rows = append(rows, r)
	}
	return rows, nil
}

// Queue is the review workload of one policy in one department.
type Queue struct {
	Policy     string `json:"policy"`
	Department string `json:"department"` // "" when the directory does not know
	Open       int    `json:"open"`       // not closed (including claimed and escalated)
	Unassigned int    `json:"unassigned"` // open and nobody has claimed them
	Escalated  int    `json:"escalated"`
	Overdue    int    `json:"overdue"`     // open longer than the SLA
	OldestDays int    `json:"oldest_days"` // age of the oldest open alert
}

// Queues counts open alerts by policy and department, with how many are
// past the SLA (days), sorted by policy then department.
func Queues(ctx context.Context, st store.SupervisionReader, now time.Time, slaDays int) ([]Queue, error) {
	acts := map[uint64][]store.ReviewActionRow{}
	if err := st.ReviewActions(ctx, 0, func(a store.ReviewActionRow) error {
		acts[a.Alert] = append(acts[a.Alert], a)
		return nil
	}); err != nil {
		return nil, err
	}
	byKey := map[[2]string]*Queue{}
	err := st.Alerts(ctx, 0, "", 0, func(al store.AlertRow) error {
		s := StateOf(acts[al.JournalIndex])
		if s.Status == StatusClosed {
			return nil
		}
		k := [2]string{al.Policy, al.Department}
		q := byKey[k]
		if q == nil {
			q = &Queue{Policy: al.Policy, Department: al.Department}
			byKey[k] = q
		}
		q.Open++
		if s.Status == StatusOpen {
			q.Unassigned++
		}
		if s.Status == StatusEscalated {
			q.Escalated++
		}
		age := int(now.Sub(al.Time.Time).Hours() / 24)
		if age > slaDays {
			q.Overdue++
		}
		q.OldestDays = max(q.OldestDays, age)
		return nil
	})
	out := make([]Queue, 0, len(byKey))
	for _, q := range byKey {
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].Department < out[j].Department
	})
	return out, err
}

// EvidenceColumns are the columns of the evidence report as CSV.
var EvidenceColumns = []string{"alert", "serial", "source_id", "policy", "policy_version", "rule", "raised_at", "status", "reviewed", "viewed_only",
	"escalated", "reviewer", "reviewed_at", "disposition", "note", "actions", "age_days", "department", "sent_at"}

// WriteEvidenceCSV writes the report as CSV. Cells a spreadsheet would
// take for a formula (a reviewer's note starting with =, +, -, @, a tab or
// a carriage return) are prefixed with an apostrophe, so opening the
// report never runs what someone typed into a note (CSV injection).
func WriteEvidenceCSV(w io.Writer, rows []EvidenceRow) error {
	cw := csv.NewWriter(w)
	cw.Write(EvidenceColumns)
	for _, e := range rows {
		rec := []string{fmt.Sprint(e.Alert), fmt.Sprint(e.Serial), e.SourceID, e.Policy, fmt.Sprint(e.PolicyVersion), e.Rule, e.RaisedAt, e.Status,
			fmt.Sprint(e.Reviewed), fmt.Sprint(e.ViewedOnly), fmt.Sprint(e.Escalated), e.Reviewer, e.ReviewedAt, e.Disposition, e.Note,
			fmt.Sprint(e.Actions), fmt.Sprint(e.AgeDays), e.Department, e.SentAt}
		for i, c := range rec {
			rec[i] = csvcell.Safe(c)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReviewReader is what review reads: alerts and their actions, and the
// messages they concern (an action records the message's record hash).
type ReviewReader interface {
	store.SupervisionReader
	store.MessageReader
}
