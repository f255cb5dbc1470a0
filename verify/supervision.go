package verify

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Supervision completeness. The supervisor journals each batch it
// evaluates (supervision.progress: serials From+1..Through, with the
// policy versions it used) in the transaction that moves its cursor. So
// the journal proves which messages were evaluated, and with what: every
// serial up to the cursor must be covered, batch after batch without a
// gap, each batch by at least the versions of every policy applied before
// its last message was archived (policies apply from when they are
// applied; history is what backtest is for). A cursor moved ahead in the
// cursors table by hand has no such event: the messages it skipped are
// named.

type appliedPolicy struct {
	name    string
	version int
	index   uint64 // journal index of policy.applied
	// before is how many messages were archived before it: it is in force
	// for serials above.
	before uint64
}

type supervision struct {
	applied []appliedPolicy
	through uint64 // journaled progress
	events  int
}

// event follows one journal event; nextSerial is the serial the next
// message will have (so nextSerial-1 messages are archived).
func (s *supervision) event(c *checker, ev *journal.Event, nextSerial uint64) {
	switch ev.Type {
	case archive.EventPolicyApplied:
		var p archive.PolicyEvent
		if ev.DecodePayload(&p) == nil {
			s.applied = append(s.applied, appliedPolicy{name: p.Policy, version: p.Version, index: ev.Index, before: nextSerial - 1})
		}
	case archive.EventSupervisionProgress:
		var p archive.SupervisionProgressEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			return
		}
		s.progress(c, ev.Index, &p, nextSerial-1)
	}
}

func (s *supervision) progress(c *checker, idx uint64, p *archive.SupervisionProgressEvent, archived uint64) {
	s.events++
	obj := journalObj(idx)
	switch {
	case p.Through < p.From:
		c.fault(SupervisionCursor, obj, "evaluates serials %d..%d: backwards", p.From+1, p.Through)
		return
	case p.Through > archived:
		c.fault(SupervisionCursor, obj, "claims serials through %d evaluated; only %d messages were archived before it", p.Through, archived)
	}
	switch {
	case p.From > s.through:
		s.gap(c, s.through+1, p.From, fmt.Sprintf("journal event %d resumes supervision after serial %d; the supervisor's journaled progress was serial %d", idx, p.From, s.through))
	case p.From < s.through:
		c.fault(SupervisionCursor, obj, "evaluates again from serial %d; serials through %d were already evaluated", p.From+1, s.through)
	}
	// The versions in force for the batch: of every policy applied before
	// its last message was archived, the latest such version.
	need := map[string]int{}
	for _, a := range s.applied {
		if a.before < p.Through && a.version > need[a.name] {
			need[a.name] = a.version
		}
	}
	have := map[string]int{}
	for _, pv := range p.Policies {
		have[pv.Policy] = pv.Version
		if !s.exists(pv.Policy, pv.Version) {
			c.fault(SupervisionPolicy, obj, "serials %d..%d evaluated with policy %s version %d, which was never applied", p.From+1, p.Through, pv.Policy, pv.Version)
		}
	}
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if have[n] < need[n] {
			used := "without it"
			if have[n] > 0 {
				used = fmt.Sprintf("with version %d", have[n])
			}
			c.fault(SupervisionPolicy, obj, "serials %d..%d evaluated %s; policy %s version %d was in force", p.From+1, p.Through, used, n, need[n])
		}
	}
	if p.Through > s.through {
		s.through = p.Through
	}
}

func (s *supervision) exists(name string, version int) bool {
	for _, a := range s.applied {
		if a.name == name && a.version == version {
			return true
		}
	}
	return false
}

// gap names the serials first..last, which no progress event covers.
func (s *supervision) gap(c *checker, first, last uint64, why string) {
	for serial := first; serial <= last; serial++ {
		c.fault(SupervisionGap, fmt.Sprintf("serial:%d", serial), "never evaluated by the supervisor: %s", why)
		if c.counts[SupervisionGap] > c.opts.MaxFaultsPerKind {
			// The rest are counted, not listed.
			c.counts[SupervisionGap] += int(last - serial)
			return
		}
	}
}

// checkSupervision compares the supervisor's cursor (the same snapshot)
// with its journaled progress.
func (c *checker) checkSupervision() error {
	s := &c.sup
	cur, err := c.st.Cursor(c.ctx, store.SupervisionCursor)
	if errors.Is(err, store.ErrNotFound) {
		if s.through > 0 {
			c.fault(SupervisionCursor, "cursor:"+store.SupervisionCursor, "missing, though the journal shows serials through %d evaluated", s.through)
		}
		return nil
	}
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(cur.Value), 10, 64)
	if err != nil {
		c.fault(SupervisionCursor, "cursor:"+store.SupervisionCursor, "value %q is not a serial", cur.Value)
		return nil
	}
	switch {
	case v > s.through:
		c.fault(SupervisionCursor, "cursor:"+store.SupervisionCursor, "at serial %d, but the journal shows serials evaluated only through %d: serials %d..%d were skipped without evaluation",
			v, s.through, s.through+1, v)
		s.gap(c, s.through+1, v, fmt.Sprintf("the supervisor's cursor was moved to %d without a supervision.progress event", v))
	case v < s.through:
		c.fault(SupervisionCursor, "cursor:"+store.SupervisionCursor, "at serial %d, behind the journaled progress (%d): serials %d..%d would be evaluated twice", v, s.through, v+1, s.through)
	}
	return nil
}
