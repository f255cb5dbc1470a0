// Package supervise evaluates the archive's policies over every archived
// message and journals an alert for each rule that matches. It runs behind
// ingest with its own cursor (the last serial evaluated), committed with
// the alerts it raised, so a crash never loses or repeats an evaluation,
// and the write path is never slowed by supervision.
package supervise

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// DefaultBatch is how many messages a pass evaluates per commit: well
// within the engine's recent messages (32,768), so a supervisor right
// behind ingest finds what it evaluates there, and large enough that the
// wait for its commit behind ingest's batches is amortized.
const DefaultBatch = 4096

// DefaultBatchBytes bounds a batch by the size of its normalized records
// too: a batch is held decoded and analyzed at once (about five times its
// records), and 4,096 messages of 6 KB of Chinese text would hold some
// 150 MB. Batches of ordinary messages (about 1 KB) are not cut by it.
const DefaultBatchBytes = 8 << 20

// CursorName is the supervisor's cursor.
const CursorName = store.SupervisionCursor

// Supervisor evaluates policies over new messages.
type Supervisor struct {
	Engine  ingest.Follower
	Store   store.Reader
	Records policy.RecordReader
	Batch   int // messages per commit (default DefaultBatch)
	Logger  *slog.Logger
	// Now is the clock sampling periods close by (default time.Now), and
	// Location their time zone (default UTC; the archive's time zone).
	Now      func() time.Time
	Location *time.Location

	// outreach is the history of mass_communication rules, loaded from
	// the archive when a rule first needs it and kept while the
	// supervisor lives.
	outreach *policy.Outreach
	an       textindex.Analyzer // reused across messages
	// parsed are the policy versions parsed so far, by journal index (a
	// version never changes; its rules keep matchers warm).
	parsed map[uint64]*policy.Policy
	totals Result
	// pending is the last batch's alerts and cursor, still committing.
	pending       *ingest.EventsFuture
	pendingCursor uint64
	// pendingCount is what the batch in flight added to totals, taken
	// back if it fails (it is then evaluated again).
	pendingCount Result
}

// Result is what one pass did.
type Result struct {
	Evaluated int
	Alerts    int
	Cursor    uint64
	CaughtUp  bool
}

// Policies loads the latest version of every policy.
func Policies(ctx context.Context, st store.SupervisionReader) ([]*policy.Policy, []store.PolicyRow, error) {
	return policies(ctx, st, nil)
}

// policies is Policies reusing the parsed versions in cache (by journal
// index; nil for none) and leaving there the ones it parsed.
func policies(ctx context.Context, st store.SupervisionReader, cache map[uint64]*policy.Policy) ([]*policy.Policy, []store.PolicyRow, error) {
	rows, err := st.Policies(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []*policy.Policy
	for _, r := range rows {
		if p, ok := cache[r.JournalIndex]; ok {
			out = append(out, p)
			continue
		}
		p, err := policy.Parse(fmt.Sprintf("%s v%d", r.Policy, r.Version), []byte(r.Source))
		if err != nil {
			return nil, nil, fmt.Errorf("policy %s version %d (journal %d) no longer parses: %w", r.Policy, r.Version, r.JournalIndex, err)
		}
		if cache != nil {
			cache[r.JournalIndex] = p
		}
		out = append(out, p)
	}
	return out, rows, nil
}

// RunOnce evaluates up to Batch messages after the cursor.
func (s *Supervisor) RunOnce(ctx context.Context) (Result, error) {
	batch := s.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	var res Result
	if s.pending != nil {
		if done, err := s.pending.Settled(); done {
			// Committed: the store's cursor says so. Failed (an engine
			// error, or never queued because the pass was cancelled):
			// evaluate it again from the store's cursor.
			if err != nil && s.Logger != nil && !errors.Is(err, context.Canceled) {
				s.Logger.Warn("supervision batch not committed; evaluating it again", "err", err)
			}
			s.settled(err)
		}
	}
	if s.pending != nil {
		// The last batch is still committing: continue after it.
		res.Cursor = s.pendingCursor
	} else {
		cur, err := s.Store.Cursor(ctx, CursorName)
		switch {
		case err == nil:
			if res.Cursor, err = strconv.ParseUint(cur.Value, 10, 64); err != nil {
				return res, fmt.Errorf("supervision cursor %q: %v", cur.Value, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return res, err
		}
	}
	head, err := s.Store.Head(ctx)
	if err != nil {
		return res, err
	}
	last := min(res.Cursor+uint64(batch), head.NextSerial-1)
	if last <= res.Cursor {
		res.CaughtUp = true
		if err := s.flush(ctx); err != nil {
			return res, err
		}
		// Nothing new, but the cursor may have reached the head in a
		// pass whose commit outlived its context (serve stopping): the
		// totals say where it is.
		s.totals.Cursor, s.totals.CaughtUp = res.Cursor, true
		return res, nil
	}
	if s.parsed == nil {
		s.parsed = map[uint64]*policy.Policy{}
	}
	pols, rows, err := policies(ctx, s.Store, s.parsed)
	if err != nil {
		return res, err
	}
	if len(pols) == 0 {
		// Nothing to evaluate: a policy applies from when it is applied
		// (history is what backtest is for), so the cursor moves to the
		// head without reading a record. An archive upgraded with millions
		// of messages does not read them all at start-up.
		last = head.NextSerial - 1
		if err := s.flush(ctx); err != nil {
			return res, err
		}
		progress, err := progressEvent(res.Cursor, last, nil)
		if err != nil {
			return res, err
		}
		if _, err := s.Engine.AppendWithCursor(ctx, &store.CursorRow{Connector: CursorName, Value: strconv.FormatUint(last, 10)}, progress); err != nil {
			return res, err
		}
		res.Cursor, res.CaughtUp = last, true
		s.totals.Cursor, s.totals.CaughtUp = last, true
		return res, nil
	}
	if err := s.warm(ctx, pols, res.Cursor); err != nil {
		return res, err
	}
	firstContact, recalled := false, false
	for _, p := range pols {
		firstContact = firstContact || p.IsEnabled() && p.HasBehaviour(policy.BehaviourFirstContact)
		recalled = recalled || p.IsEnabled() && p.HasBehaviour(policy.BehaviourRecalled)
	}
	var events []journal.Event
	batchRows := make([]store.MessageRow, 0, last-res.Cursor)
	if err := s.Store.Messages(ctx, res.Cursor+1, last, func(m store.MessageRow) error {
		batchRows = append(batchRows, m)
		return nil
	}); err != nil {
		return res, err
	}
	if uint64(len(batchRows)) != last-res.Cursor {
		return res, fmt.Errorf("serials %d–%d: %d message rows (the index lacks messages the head counts)", res.Cursor+1, last, len(batchRows))
	}
	var recordBytes int64
	for i, row := range batchRows {
		recordBytes += int64(row.RecordSize)
		if i > 0 && recordBytes > DefaultBatchBytes {
			batchRows, last = batchRows[:i], batchRows[i-1].Serial
			break
		}
	}
	loaded, err := s.load(ctx, batchRows)
	if err != nil {
		return res, err
	}
	for i, row := range batchRows {
		serial := row.Serial
		m := loaded[i].msg
		sh := loaded[i].shared
		sh.Analyzer = &s.an // from here on this goroutine's
		var dirErr error
		// A message counts as recalled here only if its recall was
		// archived before it: a recall archived after it raises the
		// alert on it when the recall is evaluated (below). Either way
		// one alert, whatever the timing of ingest and supervision.
		in := policy.Input{Message: m, Recalled: row.RecalledBy != 0 && row.RecalledBy < serial, Serial: serial, Outreach: s.outreach,
			Department: policy.DirectoryDepartment(ctx, s.Store, m.SentAt, &dirErr), Shared: sh}
		for _, pt := range m.Participants {
			if !firstContact {
				break // no policy asks: spare a lookup per party
			}
			if pt.Kind != archive.ParticipantExternal {
				continue
			}
			if first, ok, err := s.Store.FirstSerial(ctx, pt.ID); err != nil {
				return res, err
			} else if ok && first == serial {
				in.FirstContacts = append(in.FirstContacts, pt.ID)
			}
		}
		for i, p := range pols {
			for _, h := range p.Evaluate(in) {
				ev, err := journal.NewEvent(archive.EventAlertRaised, "supervisor", archive.Time{}, []string{fmt.Sprintf("serial:%d", serial)},
					&archive.AlertEvent{Serial: serial, Policy: p.Name, PolicyVersion: rows[i].Version, Rule: h.Rule, Spans: h.Spans,
						InAttachment: h.InAttachment, Masked: h.Masked, Department: policy.QueueDepartment(in), Detail: h.Detail})
				if err != nil {
					return res, err
				}
				events = append(events, ev)
			}
		}
		if dirErr != nil {
			return res, fmt.Errorf("serial %d: directory: %w", serial, dirErr)
		}
		if recalled && m.Action == archive.ActionRecall && m.RefersTo != "" {
			evs, err := s.recalledAlerts(ctx, pols, rows, serial, m)
			if err != nil {
				return res, err
			}
			events = append(events, evs...)
		}
		res.Evaluated++
	}
	// One batch in flight: the previous must be durable before the next
	// is queued (its failure is reported, and evaluation resumes from the
	// committed cursor); this one commits while the next is evaluated.
	if err := s.flush(ctx); err != nil {
		return res, err
	}
	progress, err := progressEvent(res.Cursor, last, rows)
	if err != nil {
		return res, err
	}
	events = append(events, progress)
	// Queued even if ctx has just ended: the evaluation is done, and
	// dropping it would only have the next pass do it again.
	s.pending = s.Engine.SubmitEvents(context.WithoutCancel(ctx), &store.CursorRow{Connector: CursorName, Value: strconv.FormatUint(last, 10)}, events...)
	s.pendingCursor = last
	res.Alerts, res.Cursor = len(events)-1, last
	res.CaughtUp = last >= head.NextSerial-1
	s.pendingCount = Result{Evaluated: res.Evaluated, Alerts: res.Alerts}
	s.totals.Evaluated += res.Evaluated
	s.totals.Alerts += res.Alerts
	s.totals.Cursor, s.totals.CaughtUp = res.Cursor, res.CaughtUp
	if res.CaughtUp {
		if err := s.flush(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

// progressEvent is the journal's record of a batch evaluated: serials
// from+1..through, with the policy versions rows (all of them, enabled or
// not: what the batch was evaluated with). It is committed with the
// cursor, so the cursor never moves without it and verify can prove
// every message behind the cursor was evaluated by the versions in force.
func progressEvent(from, through uint64, rows []store.PolicyRow) (journal.Event, error) {
	p := archive.SupervisionProgressEvent{From: from, Through: through, Policies: []archive.PolicyVersionRef{}}
	for _, r := range rows {
		p.Policies = append(p.Policies, archive.PolicyVersionRef{Policy: r.Policy, Version: r.Version})
	}
	return journal.NewEvent(archive.EventSupervisionProgress, "supervisor", archive.Time{}, nil, &p)
}

// recalledAlerts raises the recalled rules' alerts on the messages a
// recall withdraws that were archived before it (the alert concerns what
// was recalled; its detail names the recall).
func (s *Supervisor) recalledAlerts(ctx context.Context, pols []*policy.Policy, rows []store.PolicyRow, recall uint64, m *archive.Message) ([]journal.Event, error) {
	originals, err := s.Store.MessagesBySourceID(ctx, m.RefersTo)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // not archived (yet): flagged when it is
	}
	if err != nil {
		return nil, err
	}
	var out []journal.Event
	for _, o := range originals {
		if o.Source != m.Source || o.Serial >= recall {
			continue
		}
		orig, _, err := s.readMessage(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("recalled by %d: %w", recall, err)
		}
		var dirErr error
		in := policy.Input{Message: orig, Recalled: true, Serial: o.Serial, Department: policy.DirectoryDepartment(ctx, s.Store, orig.SentAt, &dirErr)}
		for i, p := range pols {
			for _, h := range p.EvaluateRecalled(in) {
				ev, err := journal.NewEvent(archive.EventAlertRaised, "supervisor", archive.Time{}, []string{fmt.Sprintf("serial:%d", o.Serial)},
					&archive.AlertEvent{Serial: o.Serial, Policy: p.Name, PolicyVersion: rows[i].Version, Rule: h.Rule, Spans: h.Spans,
						Department: policy.QueueDepartment(in), Detail: fmt.Sprintf("recalled by the sender (the recall is serial %d)", recall)})
				if err != nil {
					return nil, err
				}
				out = append(out, ev)
			}
		}
		if dirErr != nil {
			return nil, fmt.Errorf("serial %d: directory: %w", o.Serial, dirErr)
		}
	}
	return out, nil
}

// flush waits for the batch in flight, if any.
func (s *Supervisor) flush(ctx context.Context) error {
	if s.pending == nil {
		return nil
	}
	// Wait even when ctx is done: a batch in the engine's queue commits
	// or fails on its own, and forgetting it would have the next pass read
	// a cursor it is about to move — and raise its alerts twice.
	_, err := s.pending.Wait(context.WithoutCancel(ctx))
	s.settled(err)
	return err
}

// settled forgets the batch in flight, which committed (err nil) or
// failed: then what it added to the totals is taken back, since the next
// pass evaluates it again from the committed cursor.
func (s *Supervisor) settled(err error) {
	if err != nil {
		s.totals.Evaluated -= s.pendingCount.Evaluated
		s.totals.Alerts -= s.pendingCount.Alerts
	}
	s.pending, s.pendingCount = nil, Result{}
}

// readMessage returns an archived message: from the engine's recent
// messages, with the index terms of its text, when this process has just
// archived it; otherwise from its normalized record, verified against the
// hash the index names (body nil).
func (s *Supervisor) readMessage(ctx context.Context, row store.MessageRow) (m *archive.Message, body *string, err error) {
	if m, b, ok := s.Engine.Recent(row.Serial, row.RecordHash); ok {
		return m, &b, nil
	}
	rec, err := s.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
	if err != nil {
		return nil, nil, fmt.Errorf("serial %d: %w", row.Serial, err)
	}
	m = new(archive.Message)
	if err := json.Unmarshal(rec, m); err != nil {
		return nil, nil, fmt.Errorf("serial %d: normalized record: %w", row.Serial, err)
	}
	return m, nil, nil
}

// scanBack visits messages from serial from down to 1, newest first,
// until a run of oldRun messages for which older is true: how the
// supervisor finds the messages of a recent window (history, a sampling
// period) without reading the whole archive, though late captures (an
// import) interleave old messages with new.
func (s *Supervisor) scanBack(ctx context.Context, from uint64, older func(store.MessageRow) bool, fn func(store.MessageRow) error) error {
	const oldRun = 1000
	old := 0
	for serial := from; serial >= 1 && old < oldRun; serial-- {
		row, err := s.Store.Message(ctx, serial)
		if err != nil {
			return fmt.Errorf("serial %d: %w", serial, err)
		}
		if older(row) {
			old++
			continue
		}
		old = 0
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

type loadedMessage struct {
	msg    *archive.Message // shared with the engine's recent messages: read only
	shared *policy.Shared
}

// load reads, checks and decodes the batch's normalized records and
// analyzes their texts on every core: the part of evaluation that does not
// depend on order (mass_communication histories do, so policies are then
// evaluated in serial order on one goroutine).
func (s *Supervisor) load(ctx context.Context, rows []store.MessageRow) ([]loadedMessage, error) {
	out := make([]loadedMessage, len(rows))
	errs := make([]error, len(rows))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 8, len(rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var an textindex.Analyzer
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) || ctx.Err() != nil {
					return
				}
				row := rows[i]
				// Just archived by this process: the engine still holds
				// the message it encoded into the record the index names.
				m, body, err := s.readMessage(ctx, row)
				if err != nil {
					errs[i] = err
					continue
				}
				out[i].msg, out[i].shared = m, &policy.Shared{Analyzer: &an}
				if body != nil {
					out[i].shared.AnalyzeIndexed(m, *body)
				} else {
					out[i].shared.Analyze(m)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// warm loads the history of mass_communication rules not loaded yet:
// the outbound messages up to the cursor sent within the longest window
// before the cursor's message. Scanning stops after a run of messages
// older than the window, so a late import of old messages mixed in does
// not end it early, and it never reads the whole archive.
func (s *Supervisor) warm(ctx context.Context, pols []*policy.Policy, cursor uint64) error {
	if s.outreach == nil {
		s.outreach = policy.NewOutreach()
	}
	var need []*policy.Policy
	days := 0
	for _, p := range pols {
		cold := false
		for _, k := range p.MassKeys() {
			cold = cold || !s.outreach.Warmed(k)
		}
		if cold && p.IsEnabled() {
			need = append(need, p)
			days = max(days, p.MaxMassDays())
		}
	}
	if len(need) == 0 {
		return nil
	}
	var rows []store.MessageRow
	var horizon time.Time
	err := s.scanBack(ctx, cursor, func(row store.MessageRow) bool {
		if horizon.IsZero() {
			horizon = row.SentAt.Time.Add(-time.Duration(days) * 24 * time.Hour)
		}
		return row.SentAt.Time.Before(horizon)
	}, func(row store.MessageRow) error {
		if row.Direction == archive.DirectionOutbound && row.Text != "" {
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("loading history: %w", err)
	}
	for i := len(rows) - 1; i >= 0; i-- {
		m, _, err := s.readMessage(ctx, rows[i])
		if err != nil {
			return fmt.Errorf("loading history: %w", err)
		}
		var dirErr error
		in := policy.Input{Message: m, Serial: rows[i].Serial, Department: policy.DirectoryDepartment(ctx, s.Store, m.SentAt, &dirErr)}
		for _, p := range need {
			p.Observe(in, s.outreach)
		}
		if dirErr != nil {
			return fmt.Errorf("loading history: serial %d: directory: %w", rows[i].Serial, dirErr)
		}
	}
	for _, p := range need {
		for _, k := range p.MassKeys() {
			s.outreach.MarkWarmed(k)
		}
	}
	if s.Logger != nil {
		s.Logger.Info("loaded the history of mass-communication rules", "messages", len(rows), "days", days, "cursor", cursor)
	}
	return nil
}

// CatchUp evaluates every message archived so far.
func (s *Supervisor) CatchUp(ctx context.Context) (Result, error) {
	var total Result
	for {
		r, err := s.RunOnce(ctx)
		total.Evaluated += r.Evaluated
		total.Alerts += r.Alerts
		total.Cursor = r.Cursor
		if err != nil || r.CaughtUp {
			total.CaughtUp = r.CaughtUp
			return total, err
		}
	}
}

// Run evaluates new messages until ctx ends — woken by each commit of the
// engine, and every interval for what other processes archived — and
// closes sampling periods once it has caught up.
func (s *Supervisor) Run(ctx context.Context, interval time.Duration) {
	for ctx.Err() == nil {
		res, err := s.CatchUp(ctx)
		if err == nil && res.CaughtUp {
			_, err = s.TopUp(ctx)
		}
		if err != nil && ctx.Err() == nil && s.Logger != nil {
			s.Logger.Error("supervision failed", "err", err)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-s.Engine.Commits():
		}
		t.Stop()
	}
}

// Totals is what this supervisor has done since it was made.
func (s *Supervisor) Totals() Result { return s.totals }

// Apply journals a new version of a policy file, after validating it. An
// unchanged file (same bytes as the latest version) writes nothing and
// returns that version.
func Apply(ctx context.Context, e ingest.EventWriter, st store.SupervisionReader, name string, data []byte, actor string) (version int, changed bool, err error) {
	p, err := policy.Parse(name, data)
	if err != nil {
		return 0, false, err
	}
	sum := sha256.Sum256(data)
	// Versions are numbered from what was read; the append commits only if
	// that is still the latest, so two writers applying at once cannot
	// both take one number. The loser reads again and takes the next.
	for attempt := 0; ; attempt++ {
		rows, err := st.Policies(ctx)
		if err != nil {
			return 0, false, err
		}
		latest := 0
		for _, r := range rows {
			if r.Policy == p.Name {
				if r.SHA256 == archive.BlobID(sum) {
					return r.Version, false, nil
				}
				latest = r.Version
			}
		}
		version = latest + 1
		ev, err := journal.NewEvent(archive.EventPolicyApplied, actor, archive.Time{}, []string{"policy:" + p.Name},
			&archive.PolicyEvent{Policy: p.Name, Version: version, SHA256: archive.BlobID(sum), Source: string(data)})
		if err != nil {
			return 0, false, err
		}
		_, err = e.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
			v, err := tx.LatestPolicyVersion(ctx, p.Name)
			if err != nil {
				return err
			}
			if v != latest {
				return &ingest.ConflictError{Reason: fmt.Sprintf("policy %s is at version %d, not %d", p.Name, v, latest)}
			}
			return nil
		}, ev)
		var ce *ingest.ConflictError
		if errors.As(err, &ce) && attempt < 10 {
			continue
		}
		return version, err == nil, err
	}
}

// ApplyDefaultPack applies every policy of the default pack (policy/pack)
// as its first version: a new archive supervises from its first message;
// operators edit or disable the policies afterwards.
func ApplyDefaultPack(ctx context.Context, e ingest.EventWriter, st store.SupervisionReader, actor string) error {
	files, err := policy.DefaultPackFiles()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, _, err := Apply(ctx, e, st, n, files[n], actor); err != nil {
			return fmt.Errorf("default policy %s: %w", n, err)
		}
	}
	return nil
}
