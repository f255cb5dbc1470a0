package supervise

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/store"
)

// SampleCursorPrefix names a sampling policy's cursor: the end of the last
// period topped up (RFC 3339), committed with the top-up's alerts.
const SampleCursorPrefix = "sample:"

// TopUpGrace is how long after a period ends its top-up waits, for
// messages captured late (a connector catching up, an import).
const TopUpGrace = 24 * time.Hour

// TopUpResult is what a top-up pass did.
type TopUpResult struct {
	Periods int // periods closed
	Alerts  int // sample alerts added
}

// TopUp closes every sampling period that has ended (plus TopUpGrace)
// since the last one closed: each employee whose messages in the period
// had fewer than the policy's min_per_employee sampled gets the missing
// ones from their unsampled messages of the lowest HMAC values, raised as
// "sample" alerts. The first period is the one the policy's current
// version was applied in. Call it when the supervisor has caught up, so
// every message of a closed period has been evaluated.
func (s *Supervisor) TopUp(ctx context.Context) (TopUpResult, error) {
	var res TopUpResult
	pols, rows, err := Policies(ctx, s.Store)
	if err != nil {
		return res, err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	for i, p := range pols {
		sp := p.Sampling
		if sp == nil || sp.MinPerEmployee <= 0 || !p.IsEnabled() {
			continue
		}
		name := SampleCursorPrefix + p.Name
		var next time.Time // start of the first period not closed
		switch c, err := s.Store.Cursor(ctx, name); {
		case err == nil:
			if next, err = time.Parse(time.RFC3339, c.Value); err != nil {
				return res, fmt.Errorf("sampling cursor %s %q: %v", name, c.Value, err)
			}
		case errors.Is(err, store.ErrNotFound):
			next, _ = sp.PeriodBounds(rows[i].Time.Time, loc)
		default:
			return res, err
		}
		for {
			start, end := sp.PeriodBounds(next, loc)
			if now.Before(end.Add(TopUpGrace)) {
				break
			}
			n, err := s.topUpPeriod(ctx, p, rows[i].Version, start, end, loc)
			if err != nil {
				return res, fmt.Errorf("policy %s, sampling period %s: %w", p.Name, sp.PeriodOf(start, loc), err)
			}
			res.Periods++
			res.Alerts += n
			next = end
		}
	}
	return res, nil
}

// topUpPeriod raises the top-up of one period and moves the policy's
// sampling cursor past it, in one commit.
func (s *Supervisor) topUpPeriod(ctx context.Context, p *policy.Policy, version int, start, end time.Time, loc *time.Location) (int, error) {
	sp := p.Sampling
	period := sp.PeriodOf(start, loc)
	head, err := s.Store.Head(ctx)
	if err != nil {
		return 0, err
	}
	// The period's messages: scanning back from the newest.
	type member struct {
		serial     uint64
		department string
	}
	bySource := map[string]member{}
	var pop []policy.Candidate
	err = s.scanBack(ctx, head.NextSerial-1, func(row store.MessageRow) bool { return row.SentAt.Time.Before(start) }, func(row store.MessageRow) error {
		serial := row.Serial
		if !row.SentAt.Time.Before(end) || row.Action == archive.ActionRecall {
			return nil
		}
		m, _, err := s.readMessage(ctx, row)
		if err != nil {
			return err
		}
		var dirErr error
		in := policy.Input{Message: m, Serial: serial, Department: policy.DirectoryDepartment(ctx, s.Store, m.SentAt, &dirErr)}
		inScope := p.InScope(in)
		emp := employeeOf(m)
		dept := ""
		if inScope && emp != "" {
			dept = policy.QueueDepartment(in)
		}
		if dirErr != nil {
			return fmt.Errorf("serial %d: directory: %w", serial, dirErr)
		}
		if !inScope || emp == "" {
			return nil
		}
		if prev, dup := bySource[m.SourceID]; dup && prev.serial < serial {
			return nil // a later version of the same message: sample it once
		}
		if _, dup := bySource[m.SourceID]; !dup {
			pop = append(pop, policy.Candidate{ID: m.SourceID, Employee: emp, Period: period})
		}
		bySource[m.SourceID] = member{serial, dept}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sampled := map[uint64]bool{}
	if err := s.Store.Alerts(ctx, 0, p.Name, 0, func(a store.AlertRow) error {
		if a.Rule == policy.SampleRule {
			sampled[a.Serial] = true
		}
		return nil
	}); err != nil {
		return 0, err
	}
	add := sp.TopUp(pop, func(id string) bool { return sampled[bySource[id].serial] })
	var events []journal.Event
	for _, id := range add {
		mb := bySource[id]
		ev, err := journal.NewEvent(archive.EventAlertRaised, "supervisor", archive.Time{}, []string{fmt.Sprintf("serial:%d", mb.serial)},
			&archive.AlertEvent{Serial: mb.serial, Policy: p.Name, PolicyVersion: version, Rule: policy.SampleRule, Spans: [][2]int{},
				Department: mb.department, Detail: fmt.Sprintf("top-up to the minimum of %d sampled messages per employee for %s", sp.MinPerEmployee, period)})
		if err != nil {
			return 0, err
		}
		events = append(events, ev)
	}
	cur := &store.CursorRow{Connector: SampleCursorPrefix + p.Name, Value: end.Format(time.RFC3339)}
	if _, err := s.Engine.AppendWithCursor(ctx, cur, events...); err != nil {
		return 0, err
	}
	if s.Logger != nil && len(events) > 0 {
		s.Logger.Info("sampling top-up", "policy", p.Name, "period", period, "alerts", len(events))
	}
	return len(events), nil
}

// employeeOf is whose message it is for sampling: the sender when an
// employee sent it, else the first employee taking part.
func employeeOf(m *archive.Message) string {
	first := ""
	for _, pt := range m.Participants {
		if pt.Kind != archive.ParticipantEmployee {
			continue
		}
		if pt.ID == m.Sender {
			return pt.ID
		}
		if first == "" {
			first = pt.ID
		}
	}
	return first
}
