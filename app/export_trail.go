package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// AuditLine is one line of a production's audit.jsonl: a journal event
// that concerns exported messages — their archiving and conflicting
// versions, recalls, alerts and review actions, views and proofs, media
// fetched later — with the leaf as journaled, so each can be proved
// against the archive's journal.
type AuditLine struct {
	LeafIndex uint64       `json:"leaf_index"`
	Time      archive.Time `json:"time"`
	Type      string       `json:"type"`
	Actor     string       `json:"actor"`
	Serials   []uint64     `json:"serials"` // the exported messages it concerns
	Leaf      string       `json:"leaf"`
}

// exportAudit is the audit trail of the exported messages: every event
// before the production's own creation that names one of them, in journal
// order (the production's own events end it). Holds are scope-based: the
// hold the job exports is listed with its release, if any.
func (a *App) exportAudit(ctx context.Context, out io.Writer, job *export.Job, exported []uint64) error {
	if len(exported) == 0 {
		return nil
	}
	slices.Sort(exported)
	in := func(serial uint64) bool { _, ok := slices.BinarySearch(exported, serial); return ok }
	bw := bufio.NewWriterSize(out, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	end := job.CreatedIndex + 1
	if job.Offline {
		end = job.CreatedIndex // the checkpoint's size: nothing of the production is journaled
	}
	err := a.d.Store.Leaves(ctx, 0, end, func(i uint64, _, leaf []byte) error {
		ev, err := journal.DecodeLeaf(i, leaf)
		if err != nil {
			return fmt.Errorf("journal leaf %d: %w", i, err)
		}
		var serials []uint64
		switch ev.Type {
		case archive.EventMessageArchived, archive.EventMessageConflict:
			var me struct {
				Serial uint64 `json:"serial"`
			}
			if json.Unmarshal(ev.Payload, &me) == nil && in(me.Serial) {
				serials = []uint64{me.Serial}
			}
		case archive.EventHoldCreated, archive.EventHoldReleased:
			var h struct {
				Name string `json:"name"`
			}
			if job.Hold != "" && json.Unmarshal(ev.Payload, &h) == nil && h.Name == job.Hold {
				serials = []uint64{}
			}
		case archive.EventExportCreated:
			if i == job.CreatedIndex && !job.Offline {
				serials = []uint64{}
			}
		default:
			for _, s := range ev.Subject {
				if v, ok := strings.CutPrefix(s, "serial:"); ok {
					if n, err := strconv.ParseUint(v, 10, 64); err == nil && in(n) && !slices.Contains(serials, n) {
						serials = append(serials, n)
					}
				}
			}
		}
		if serials == nil {
			return nil
		}
		return enc.Encode(&AuditLine{LeafIndex: i, Time: ev.Time, Type: ev.Type, Actor: ev.Actor, Serials: serials, Leaf: string(leaf)})
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// exportAuditFile is the audit trail drawn into the job's state while
// the units are written.
type exportAuditFile struct {
	name   string
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// startExportAudit draws the audit trail of the plan's messages in the
// background.
func (a *App) startExportAudit(ctx context.Context, dir string, job *export.Job, plan []export.PlannedUnit) (*exportAuditFile, error) {
	f, err := os.CreateTemp(filepath.Join(dir, export.StateDir), "audit-*.tmp")
	if err != nil {
		return nil, err
	}
	var serials []uint64
	for _, pu := range plan {
		serials = append(serials, pu.Serials...)
	}
	ctx, cancel := context.WithCancel(ctx)
	af := &exportAuditFile{name: f.Name(), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(af.done)
		bw := bufio.NewWriterSize(f, 256<<10)
		err := a.exportAudit(ctx, bw, job, serials)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		af.err = err
	}()
	return af, nil
}

// copyTo writes the audit trail, once drawn.
func (af *exportAuditFile) copyTo(w io.Writer) error {
	<-af.done
	if af.err != nil {
		return af.err
	}
	f, err := os.Open(af.name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// discard stops the drawing if it still runs and removes the file.
func (af *exportAuditFile) discard() {
	af.cancel()
	<-af.done
	os.Remove(af.name)
}

// Coverage is a production's coverage certificate (coverage.json): what
// the archive knows it could not capture within the production's scope,
// from the journal up to the production's creation.
type Coverage struct {
	ID    string            `json:"id"`
	Scope archive.HoldScope `json:"scope"`
	Hold  string            `json:"hold,omitempty"`
	// Through is the journal size the certificate was drawn from.
	Through uint64 `json:"through"`
	// Faults are capture faults raised or resolved in the period (or open
	// during it), by connector.
	Faults []store.FaultRow `json:"faults"`
	// Quarantined are inputs that could not be archived as messages, in
	// the period.
	Quarantined []store.RejectRow `json:"quarantined"`
	// ConsentRefused are external contacts of the production who refused
	// to have their conversations archived (WeCom disagree events): what
	// they said after is not captured.
	ConsentRefused []store.ConsentRow `json:"consent_refused"`
	// SilentCustodians are custodians the scope names with no message in
	// the production.
	SilentCustodians []string `json:"silent_custodians"`
	// AbsentMedia are exported messages whose attachments' bytes the
	// archive does not hold, with why.
	AbsentMedia []AbsentMedia `json:"absent_media"`
}

// AbsentMedia is an exported message with attachments the archive lacks.
type AbsentMedia struct {
	Number      string   `json:"number"`
	Serial      uint64   `json:"serial"`
	Attachments []string `json:"attachments"`
}

// exportTrail is what the audit trail and the coverage certificate need
// of a production's load-file rows, gathered as the runner keeps or
// writes each unit (export.Runner.OnUnit) instead of read back after.
type exportTrail struct {
	absent []AbsentMedia
	heard  map[string]bool // custodians with an exported message
	// people are the senders and participants, in the order first met,
	// whose consent the certificate reads.
	people []string
	seen   map[string]bool
}

func newExportTrail() *exportTrail {
	return &exportTrail{heard: map[string]bool{}, seen: map[string]bool{}}
}

func (t *exportTrail) add(d *export.UnitDone) {
	for i := range d.Rows {
		r := &d.Rows[i]
		if len(r.Absent) > 0 {
			t.absent = append(t.absent, AbsentMedia{Number: r.Number, Serial: r.Serial, Attachments: r.Absent})
		}
		t.heard[r.From], t.heard[r.Custodian] = true, true
		for _, id := range r.IDs {
			t.heard[id] = true
		}
		for _, id := range append([]string{r.From}, r.IDs...) {
			if !t.seen[id] {
				t.seen[id] = true
				t.people = append(t.people, id)
			}
		}
	}
}

func (a *App) exportCoverage(ctx context.Context, job *export.Job, t *exportTrail) ([]byte, error) {
	c := &Coverage{ID: job.ID, Scope: job.Scope, Hold: job.Hold, Through: job.CreatedIndex + 1,
		Faults: []store.FaultRow{}, Quarantined: []store.RejectRow{}, ConsentRefused: []store.ConsentRow{}, SilentCustodians: []string{}, AbsentMedia: []AbsentMedia{}}
	from, to := job.Scope.From, job.Scope.To
	inPeriod := func(t archive.Time) bool {
		return (from.IsZero() || !t.Before(from.Time)) && (to.IsZero() || t.Before(to.Time))
	}
	// A fault counts when it was raised or resolved in the period, or
	// was open across it (raised before, resolved after or never).
	type ident struct{ conn, kind, subj string }
	open := map[ident]store.FaultRow{}
	if err := a.d.Store.FaultHistory(ctx, func(f store.FaultRow) error {
		if f.JournalIndex > job.CreatedIndex {
			return nil
		}
		id := ident{f.Connector, f.Kind, f.Subject}
		switch {
		case inPeriod(f.Time):
			c.Faults = append(c.Faults, f)
		case f.State == archive.FaultRaised && (to.IsZero() || f.Time.Before(to.Time)):
			open[id] = f
			return nil
		case f.State == archive.FaultResolved:
			if r, ok := open[id]; ok && !from.IsZero() && !f.Time.Before(from.Time) {
				c.Faults = append(c.Faults, r, f)
			}
		}
		delete(open, id)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, f := range open {
		c.Faults = append(c.Faults, f) // still open at the production's creation
	}
	slices.SortFunc(c.Faults, func(x, y store.FaultRow) int { return cmpU64(x.JournalIndex, y.JournalIndex) })
	c.Faults = slices.CompactFunc(c.Faults, func(x, y store.FaultRow) bool { return x.JournalIndex == y.JournalIndex })
	if err := a.d.Store.Rejects(ctx, func(r store.RejectRow) error {
		if r.JournalIndex < job.CreatedIndex && inPeriod(r.Time) {
			c.Quarantined = append(c.Quarantined, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	c.AbsentMedia = append(c.AbsentMedia, t.absent...)
	heard := t.heard
	for _, id := range t.people {
		rows, err := a.d.Store.Consent(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, cr := range rows {
			if !cr.Agreed {
				c.ConsentRefused = append(c.ConsentRefused, cr)
			}
		}
	}
	custodians := slices.Clone(job.Scope.Custodians)
	if job.Hold != "" {
		// The hold's custodians are the production's too.
		if h, err := a.findHold(ctx, job.Hold); err == nil {
			custodians = dedupe(append(custodians, h.Scope.Custodians...))
		}
	}
	for _, cu := range custodians {
		if !heard[cu] {
			c.SilentCustodians = append(c.SilentCustodians, cu)
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	return append(b, '\n'), err
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
