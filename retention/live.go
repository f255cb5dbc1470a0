package retention

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/store"
)

// Live is the rule set in force for a writer: the latest version
// committed, refreshed inside each commit (ingest.Retainer). Until a rule
// set is applied it decides nothing, and the writer keeps every record
// retention_years from its capture day.
type Live struct {
	// DefaultYears is the archive's retention_years: the period of a
	// message no rule matches when the set has no default.
	DefaultYears int
	// Department returns an employee's department at a time (the
	// directory's historical value); nil: departments unknown (rules on
	// departments then match nothing). Called only when the set in force
	// has department matches, once per employee of each message.
	Department func(id string, at time.Time) (department string, ok bool)

	state atomic.Pointer[liveState]
}

type liveState struct {
	set     *Set // nil: no rule set applied
	version int
	jidx    uint64 // of its retention.applied
}

var _ ingest.Retainer = (*Live)(nil)

// Refresh brings the set in force to the latest version tx sees. A stored
// version that no longer parses (a later release being stricter) fails
// the commit, naming it: deciding retention without the rules the archive
// applied would be guessing.
func (l *Live) Refresh(ctx context.Context, tx store.RetentionTx) error {
	v, jidx, err := tx.LatestRetentionVersion(ctx)
	if err != nil {
		return err
	}
	// The journal index tells a version from one of the same number whose
	// commit failed after it was loaded (then rolled back).
	if cur := l.state.Load(); cur != nil && cur.version == v && cur.jidx == jidx {
		return nil
	}
	if v == 0 {
		l.state.Store(&liveState{})
		return nil
	}
	row, err := tx.RetentionVersion(ctx, v)
	if err != nil {
		return err
	}
	set, err := Parse(fmt.Sprintf("retention version %d", v), []byte(row.Source))
	if err != nil {
		return fmt.Errorf("the retention rule set in force does not validate: %w", err)
	}
	l.state.Store(&liveState{set: set, version: v, jidx: jidx})
	return nil
}

// Current returns the set in force and its version (nil, 0 before any).
func (l *Live) Current() (*Set, int) {
	if st := l.state.Load(); st != nil {
		return st.set, st.version
	}
	return nil, 0
}

// RetainMessage decides a message's retain-until under the set in force
// (a zero Retention when there is none: the writer's default applies).
func (l *Live) RetainMessage(m *archive.Message, capturedAt time.Time) ingest.Retention {
	st := l.state.Load()
	if st == nil || st.set == nil {
		return ingest.Retention{}
	}
	subj := Subject{Message: m, CapturedAt: capturedAt}
	if st.set.UsesDepartments() && l.Department != nil {
		subj.Departments = Departments(m, l.Department)
	}
	d := st.set.Evaluate(subj, l.DefaultYears)
	return ingest.Retention{Until: d.RetainUntil, Rule: d.Rule, Version: st.version}
}

// RetainInput is the longest any rule of the set in force could give
// (zero when there is none).
func (l *Live) RetainInput(capturedAt time.Time) archive.Time {
	st := l.state.Load()
	if st == nil || st.set == nil {
		return archive.Time{}
	}
	return st.set.Longest(capturedAt, l.DefaultYears)
}

// Departments are the departments of m's employees when it was sent.
func Departments(m *archive.Message, dept func(id string, at time.Time) (string, bool)) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if d, ok := dept(id, m.SentAt.Time); ok && d != "" {
			out = append(out, d)
		}
	}
	for _, p := range m.Participants {
		if p.Kind == archive.ParticipantEmployee {
			add(p.ID)
		}
	}
	return out
}
