// Package ingest is the archive's single writer: it turns normalized
// messages, rejects and other facts into journal events, records and index
// rows, committed in durable batches (group commit).
//
// Glossary:
//   - item: one message to archive (raw bytes + normalized Message).
//   - outcome: archived (new), duplicate (same bytes as an archived version:
//     nothing written, the existing serial returned) or conflict (different
//     bytes under an archived msgid: archived as a new version).
//   - commit: one database transaction holding a batch's journal leaves,
//     tree nodes, pending records, index rows and a signed checkpoint.
//   - seal: copying pending records into packs and journal leaves into
//     segments in the WORM blob store.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Named defaults (DESIGN.md §7: batching has named defaults).
const (
	DefaultMaxBatch       = 2000             // items per commit
	DefaultRetentionYears = 6                // records are retained at least this long
	DefaultPackTarget     = 8 << 20          // bytes of records per pack
	DefaultSealDelay      = 10 * time.Second // bound on how long a record stays unsealed
	DefaultReadSealDelay  = time.Hour        // bound on how long a tail of reads alone stays unsealed (seal.go)
	DefaultSegmentLeaves  = 1 << 16          // leaves per sealed segment, at most
	DefaultQueueSize      = 4096             // requests waiting for the committer before push-back
	DefaultRecentBytes    = 64 << 20         // bound on the latest messages kept in memory for the supervisor
)

// recentOverhead is what a kept message costs beyond its record and its
// terms (the structs, slices and strings headers).
const recentOverhead = 512

// Config configures an Engine.
type Config struct {
	Now            func() time.Time // injected clock; evidence timestamps come from it
	RetentionYears int
	MaxBatch       int
	PackTarget     int64
	SealDelay      time.Duration
	// ReadSealDelay bounds how long a journal tail holding only reads
	// (archive.IsReadEvent) waits for a segment; see sealSegments.
	ReadSealDelay time.Duration
	SegmentLeaves int
	// QueueSize is how many requests may wait for the committer; beyond
	// it callers wait, or get ErrPushback (WithPushback).
	QueueSize int
	// RecentBytes bounds the memory of the latest messages the engine
	// keeps for the supervisor (Recent).
	RecentBytes int64
	Logger      *slog.Logger
	Metrics     *Metrics // nil: none
	// Retainer decides each message's retain-until from the retention
	// rules (retain.go); nil: RetentionYears from the capture day.
	Retainer Retainer
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RetentionYears <= 0 {
		c.RetentionYears = DefaultRetentionYears
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.PackTarget <= 0 {
		c.PackTarget = DefaultPackTarget
	}
	if c.SealDelay <= 0 {
		c.SealDelay = DefaultSealDelay
	}
	if c.ReadSealDelay <= 0 {
		c.ReadSealDelay = DefaultReadSealDelay
	}
	if c.ReadSealDelay < c.SealDelay {
		c.ReadSealDelay = c.SealDelay
	}
	if c.SegmentLeaves <= 0 {
		c.SegmentLeaves = DefaultSegmentLeaves
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.RecentBytes <= 0 {
		c.RecentBytes = DefaultRecentBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Item is one message to archive, or (Reject set) one input to quarantine.
// Submitting both kinds in one batch keeps the journal in input order.
type Item struct {
	Source  string
	Raw     []byte           // exactly as delivered; kept byte for byte
	Message *archive.Message // normalized, attachments already stored
	Origin  string           // provenance, e.g. "file:x.jsonl line 17"
	Reject  *Rejection       // instead of Message: why Raw could not be archived
}

// Outcome says what archiving an item did.
type Outcome int

// Outcomes.
const (
	Archived  Outcome = iota + 1 // a new message
	Duplicate                    // identical bytes were already archived: nothing written
	Conflict                     // different bytes under an archived msgid: archived as a new version
	Rejected                     // quarantined (or already quarantined: same bytes, nothing written)
)

func (o Outcome) String() string {
	switch o {
	case Archived:
		return "archived"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Result is the durable outcome of one item.
type Result struct {
	Serial       uint64
	JournalIndex uint64 // of the event that archived this version
	Version      int
	Outcome      Outcome
}

// Rejection says why an input could not be archived. Item.Raw holds the
// kept bytes (possibly only the first part of an oversize input).
type Rejection struct {
	MsgID    string // when the input's id could be read
	Field    string
	Reason   string
	FullSize int64          // size of the whole input when Raw is truncated
	FullHash archive.BlobID // SHA-256 of the whole input when Raw is truncated
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("ingest engine is closed")

// Engine is the archive's writer. It is safe for concurrent use; commits
// are serialized through one goroutine that groups concurrent requests.
type Engine struct {
	cfg    Config
	st     store.Store
	blobs  blob.Store
	signer *journal.Signer

	reqs   chan *request
	toSync chan committed // commits awaiting the disk flush, in order

	// unsynced counts commits handed to the syncer and not yet flushed;
	// synced is signalled after each flush. The committer uses them to let
	// a small batch grow while the disk is busy anyway.
	unsynced atomic.Int64
	synced   chan struct{}
	stopMu   sync.RWMutex
	closed   bool
	done     chan struct{}

	tree *journal.Tree // owned by the committer goroutine
	// lastTime is the time of the newest leaf (owned by the committer):
	// leaf times never decrease, whatever the clock does.
	lastTime archive.Time

	sealMu sync.Mutex

	lockedMu sync.Mutex
	locked   map[archive.BlobID]time.Time // blobs this engine locked, and until when (lock.go)

	recentMu     sync.Mutex
	recent       [recentSize]recentMessage // by serial % recentSize
	recentBytes  int64                     // the sizes of what recent holds
	recentOldest uint64                    // no serial before it is held
	commits      chan struct{}             // signalled after a commit archived messages
}

// Commits is signalled (without blocking the writer; signals coalesce)
// after a commit that archived messages: a reader right behind the
// engine, the supervisor, wakes up on it. It has one reader.
func (e *Engine) Commits() <-chan struct{} { return e.commits }

// recentSize is how many of the latest archived messages the engine keeps
// in memory for readers right behind it (the supervisor), which then
// need not read and decode records the engine has just encoded. At
// 10,000 messages/s it covers three seconds of ingest: a supervisor that
// falls further behind (two cores, ingest using both) reads records
// instead, which costs it about twice the CPU per message.
//
// It is bounded in bytes too (Config.RecentBytes, default
// DefaultRecentBytes): 32,768 messages of 6 KB of Chinese text, with their
// index terms, would hold a gigabyte.
const recentSize = 32768

type recentMessage struct {
	serial uint64
	record archive.BlobID
	msg    *archive.Message
	body   string // the index terms of the message's text
	size   int64  // about what it holds: its record and its terms
}

// remember keeps r in the recent messages, dropping the oldest while they
// hold more than the byte bound. Serials arrive in increasing order.
// recentMu is held.
func (e *Engine) remember(r recentMessage) {
	if r.size > e.cfg.RecentBytes {
		return
	}
	if e.recentOldest == 0 || r.serial >= e.recentOldest+recentSize {
		e.recentOldest = max(e.recentOldest, r.serial-min(r.serial, recentSize-1))
	}
	slot := &e.recent[r.serial%recentSize]
	if slot.msg != nil {
		e.recentBytes -= slot.size
	}
	*slot = r
	e.recentBytes += r.size
	for e.recentBytes > e.cfg.RecentBytes && e.recentOldest < r.serial {
		old := &e.recent[e.recentOldest%recentSize]
		if old.msg != nil && old.serial == e.recentOldest {
			e.recentBytes -= old.size
			*old = recentMessage{}
		}
		e.recentOldest++
	}
}

// Recent returns a message archived lately by this engine, if it is still
// held and its normalized record has the hash given (the one the index
// names), with the index terms of its text (textindex.AppendIndexTerms).
// The message is shared: callers must not modify it.
func (e *Engine) Recent(serial uint64, record archive.BlobID) (m *archive.Message, bodyTerms string, ok bool) {
	e.recentMu.Lock()
	defer e.recentMu.Unlock()
	r := e.recent[serial%recentSize]
	if r.msg == nil || r.serial != serial || r.record != record {
		return nil, "", false
	}
	return r.msg, r.body, true
}

// New starts an engine.
func New(cfg Config, st store.Store, blobs blob.Store, signer *journal.Signer) *Engine {
	cfg.defaults()
	e := &Engine{cfg: cfg, st: st, blobs: blobs, signer: signer,
		reqs: make(chan *request, cfg.QueueSize), toSync: make(chan committed, 64), synced: make(chan struct{}, 1), done: make(chan struct{}),
		commits: make(chan struct{}, 1), locked: map[archive.BlobID]time.Time{}}
	go e.run()
	go e.syncer()
	return e
}

// Now returns the engine clock's time.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// RetainUntil is the retain-until of records captured at t: t plus the
// retention period, rounded up to the next UTC midnight so that records
// captured on one day share it (and a pack).
func (e *Engine) RetainUntil(t time.Time) archive.Time {
	return RetainUntilFor(t, e.cfg.RetentionYears)
}

// RetainUntilFor is Engine.RetainUntil for a retention of years: what a
// checker derives from the journal (archive.created's retention_years and
// an event's time) to tell how long what the event wrote must be kept.
func RetainUntilFor(t time.Time, years int) archive.Time {
	u := t.UTC().AddDate(years, 0, 0)
	d := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(u) {
		d = d.AddDate(0, 0, 1)
	}
	return archive.At(d)
}

type reqKind int

const (
	reqItems reqKind = iota
	reqEvents
	reqSeal
	reqSegment
)

type prepared struct {
	Item
	rawHash    archive.BlobID
	record     []byte
	recordHash archive.BlobID
	// Full-text index terms, computed by the submitter, not the writer.
	searchBody, searchAttachments string
}

type request struct {
	kind    reqKind
	actor   string
	items   []prepared
	events  []journal.Event
	seal    *sealReq
	segment *store.SegmentRow
	cursor  *store.CursorRow // written with the items
	// cond, for events, is checked in the commit's transaction before
	// they are appended; its error fails this request alone.
	cond func(ctx context.Context, tx store.Tx) error
	// rotate, for events, is the signer of every checkpoint after the one
	// that commits them (key rotation).
	rotate *journal.Signer
	start  time.Time

	results []Result
	indexes []uint64
	condErr error // cond refused: the request's own error
	err     error
	done    chan struct{}

	// untils are the retain-until of the messages this request archived,
	// by item (set by its commit); lockMu and locked make Wait lock their
	// attachments once (lock.go).
	untils []archive.Time
	lockMu sync.Mutex
	locked bool
}

func (r *request) size() int {
	if r.kind == reqItems {
		return len(r.items)
	}
	return 1
}

// Future is a submitted batch; Wait returns once it is durable.
type Future struct {
	r *request
	e *Engine
}

// Wait blocks until the batch is durably committed (or failed), and its
// messages' attachments have their retention (lock.go): only then may the
// caller acknowledge them. If locking fails, Wait fails (the items are
// durable; a retry is a duplicate and locks again).
func (f *Future) Wait(ctx context.Context) ([]Result, error) {
	select {
	case <-f.r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := f.r
	if r.err != nil {
		return r.results, r.err
	}
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if !r.locked {
		// Committed data is locked even if the caller has gone.
		if err := f.e.lockRequest(context.WithoutCancel(ctx), r); err != nil {
			return nil, fmt.Errorf("messages committed, attachments not yet locked: %w", err)
		}
		r.locked = true
	}
	return r.results, nil
}

// prepareRecord canonicalizes and encodes a normalized message. Empty slices
// are made non-nil so the record decodes to exactly the rows it produced.
func prepareRecord(it Item) (prepared, error) {
	if err := archive.CheckID("source", it.Source, archive.MaxSourceBytes); err != nil {
		// The source is the connector's configuration, not its input.
		return prepared{}, err
	}
	// Provenance is ours (a file name and a line): shortened, never refused.
	it.Origin = archive.Truncate(it.Origin, archive.MaxOriginBytes)
	if it.Reject == nil && it.Message != nil {
		if field, err := leafFieldProblem(it.Message); err != nil {
			// A message whose journal leaf could not be written is not a
			// record; its bytes are still kept, in quarantine.
			it.Reject = &Rejection{MsgID: it.Message.SourceID, Field: field, Reason: err.Error()}
			it.Message = nil
		}
	}
	if it.Reject != nil {
		r := *it.Reject
		r.MsgID = archive.Truncate(r.MsgID, archive.MaxIDBytes)
		r.Field = archive.Truncate(r.Field, archive.MaxNameBytes)
		r.Reason = archive.Truncate(r.Reason, archive.MaxReasonBytes)
		it.Reject = &r
		return prepared{Item: it, rawHash: archive.Hash(it.Raw)}, nil
	}
	m := it.Message
	if m == nil {
		return prepared{}, errors.New("item without a normalized message")
	}
	if m.Source != it.Source || m.SourceID == "" {
		return prepared{}, fmt.Errorf("message %q: source %q does not match item source %q", m.SourceID, m.Source, it.Source)
	}
	m.Schema = archive.RecordSchema
	if m.Recipients == nil {
		m.Recipients = []string{}
	}
	if m.Participants == nil {
		m.Participants = []archive.Participant{}
	}
	if m.Attachments == nil {
		m.Attachments = []archive.Attachment{}
	}
	rec, err := json.Marshal(m)
	if err != nil {
		return prepared{}, fmt.Errorf("encode message %q: %w", m.SourceID, err)
	}
	body, att := SearchTerms(m)
	return prepared{Item: it, rawHash: archive.Hash(it.Raw), record: rec, recordHash: archive.Hash(rec),
		searchBody: body, searchAttachments: att}, nil
}

// leafFieldProblem names the field of a message that its journal leaf
// cannot hold (archive's limits): the decoders accept any length, the
// journal does not.
func leafFieldProblem(m *archive.Message) (string, error) {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"msgid", m.SourceID, archive.MaxIDBytes}, {"refers_to", m.RefersTo, archive.MaxIDBytes}, {"kind", string(m.Kind), archive.MaxNameBytes}} {
		if err := archive.CheckText(f.name, f.v, f.max); err != nil {
			return f.name, err
		}
	}
	if len(m.Attachments) > archive.MaxAttachments {
		return "attachments", fmt.Errorf("attachments: %d, over the limit of %d per message", len(m.Attachments), archive.MaxAttachments)
	}
	return "", nil
}

// Submit queues items for the next commit and returns at once. The caller
// must not modify the items afterwards.
func (e *Engine) Submit(ctx context.Context, actor string, items []Item) *Future {
	return e.SubmitWithCursor(ctx, actor, items, nil)
}

// SubmitWithCursor is Submit that also records a connector's cursor in the
// transaction that commits the items: after a crash the connector resumes
// from the cursor of the last durable batch, never past an item that was
// lost. A request with a cursor but no items only moves the cursor.
func (e *Engine) SubmitWithCursor(ctx context.Context, actor string, items []Item, cursor *store.CursorRow) *Future {
	r := &request{kind: reqItems, actor: actor, start: time.Now(), done: make(chan struct{}), cursor: cursor}
	r.items = make([]prepared, len(items))
	for i, it := range items {
		p, err := prepareRecord(it)
		if err != nil {
			r.err = err
			close(r.done)
			return &Future{r, e}
		}
		r.items[i] = p
	}
	e.enqueue(ctx, r)
	return &Future{r, e}
}

// Archive archives items and returns once they are durable.
func (e *Engine) Archive(ctx context.Context, actor string, items []Item) ([]Result, error) {
	return e.Submit(ctx, actor, items).Wait(ctx)
}

// Reject quarantines one input and returns once it is durable.
func (e *Engine) Reject(ctx context.Context, actor string, it Item) (Result, error) {
	res, err := e.Archive(ctx, actor, []Item{it})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// Append journals other events (access, directory updates…), applies them
// to the index, and returns their journal indexes once durable. Index and
// Time are assigned by the engine.
func (e *Engine) Append(ctx context.Context, events ...journal.Event) ([]uint64, error) {
	return e.AppendWithCursor(ctx, nil, events...)
}

// AppendWithCursor is Append that also records a cursor in the same
// transaction (a background evaluator's position: supervision).
func (e *Engine) AppendWithCursor(ctx context.Context, cursor *store.CursorRow, events ...journal.Event) ([]uint64, error) {
	r := &request{kind: reqEvents, events: events, cursor: cursor, start: time.Now(), done: make(chan struct{})}
	if err := e.do(ctx, r); err != nil {
		return nil, err
	}
	return r.indexes, nil
}

// ConflictError is a conditional append refused because what it was
// decided on changed before it could commit.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return "conflict: " + e.Reason }

// AppendIf appends events only if cond, run in the commit's transaction
// (after everything queued before them), returns nil: a writer that read
// the state, decided, and then appends cannot overwrite what another
// writer committed meanwhile. cond's error (typically a *ConflictError)
// is returned and nothing of this request is written; the other requests
// of the commit are not affected.
func (e *Engine) AppendIf(ctx context.Context, cond func(ctx context.Context, tx store.Tx) error, events ...journal.Event) ([]uint64, error) {
	r := &request{kind: reqEvents, events: events, cond: cond, start: time.Now(), done: make(chan struct{})}
	if err := e.do(ctx, r); err != nil {
		return nil, err
	}
	return r.indexes, nil
}

// RotateSigner journals ev (a key.rotated event, whose note the current
// key signed) and from the commit after it signs checkpoints with next:
// the checkpoint committing ev is the old key's last, so each key's span
// is provable. It returns ev's journal index once durable.
func (e *Engine) RotateSigner(ctx context.Context, ev journal.Event, next *journal.Signer) (uint64, error) {
	if next == nil || ev.Type != archive.EventKeyRotated {
		return 0, errors.New("ingest: RotateSigner needs a key.rotated event and the next signer")
	}
	r := &request{kind: reqEvents, events: []journal.Event{ev}, rotate: next, start: time.Now(), done: make(chan struct{})}
	if err := e.do(ctx, r); err != nil {
		return 0, err
	}
	return r.indexes[0], nil
}

// SubmitEvents is AppendWithCursor that returns at once: the events and
// the cursor are committed together, after everything queued before them.
// A reader that keeps one submission in flight (the supervisor) evaluates
// its next batch while the last one commits.
func (e *Engine) SubmitEvents(ctx context.Context, cursor *store.CursorRow, events ...journal.Event) *EventsFuture {
	r := &request{kind: reqEvents, events: events, cursor: cursor, start: time.Now(), done: make(chan struct{})}
	e.enqueue(ctx, r)
	return &EventsFuture{r}
}

// EventsFuture is a pending SubmitEvents.
type EventsFuture struct{ r *request }

// Settled reports whether the submission has committed or failed (Wait
// would not block), and its error.
func (f *EventsFuture) Settled() (bool, error) {
	select {
	case <-f.r.done:
		return true, f.r.err
	default:
		return false, nil
	}
}

// Wait blocks until the events are durably committed (or failed) and
// returns their journal indexes.
func (f *EventsFuture) Wait(ctx context.Context) ([]uint64, error) {
	select {
	case <-f.r.done:
		return f.r.indexes, f.r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Engine) do(ctx context.Context, r *request) error {
	e.enqueue(ctx, r)
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) enqueue(ctx context.Context, r *request) {
	e.stopMu.RLock()
	defer e.stopMu.RUnlock()
	if e.closed {
		r.err = ErrClosed
		close(r.done)
		return
	}
	if pushback(ctx) {
		select {
		case e.reqs <- r:
		case <-ctx.Done():
			r.err = ctx.Err()
			close(r.done)
		default:
			r.err = ErrPushback
			close(r.done)
		}
		return
	}
	select {
	case e.reqs <- r:
	case <-ctx.Done():
		r.err = ctx.Err()
		close(r.done)
	}
}

// Closed reports whether Close has been called: the engine accepts no more
// writes.
func (e *Engine) Closed() bool {
	e.stopMu.RLock()
	defer e.stopMu.RUnlock()
	return e.closed
}

// Close stops accepting requests, commits everything queued, seals (if
// seal) all pending records and journal leaves, and stops the committer.
func (e *Engine) Close(ctx context.Context, seal bool) error {
	e.stopMu.Lock()
	if e.closed {
		e.stopMu.Unlock()
		return nil
	}
	e.closed = true
	e.stopMu.Unlock()
	// Everything queued before Close commits first (the queue is FIFO, so a
	// barrier behind it completes after it); then sealing, which also goes
	// through the committer, runs before the queue closes.
	var sealErr error
	barrier := &request{kind: reqEvents, start: time.Now(), done: make(chan struct{})}
	if err := e.doInternal(ctx, barrier, true); err != nil {
		sealErr = err
	} else if seal {
		sealErr = e.seal(ctx, true, true)
	}
	e.stopMu.Lock()
	close(e.reqs)
	e.stopMu.Unlock()
	<-e.done
	return sealErr
}

// committed is a batch whose transaction has committed (or failed) and
// whose callers wait for the disk.
type committed struct {
	batch []*request
	n     int
	start time.Time
	err   error
	work  bool
}

// run builds and commits transactions; syncer makes them durable and
// answers the callers. While one commit is being flushed to disk the next
// one is being built.
func (e *Engine) run() {
	defer close(e.toSync)
	for first := range e.reqs {
		batch := []*request{first}
		n := first.size()
		// Take everything queued. While an earlier commit is still being
		// flushed, keep taking requests until it is (or the batch is full):
		// starting a tiny commit now would only queue behind that flush,
		// and every commit has a fixed cost (a WAL page per table, a
		// signed checkpoint). Large batches go at once, so bulk ingest
		// still overlaps building one commit with flushing the last.
	gather:
		for n < e.cfg.MaxBatch {
			var r *request
			var ok bool
			select {
			case r, ok = <-e.reqs:
			default:
				if e.unsynced.Load() == 0 {
					break gather
				}
				select {
				case r, ok = <-e.reqs:
				case <-e.synced:
					continue
				}
			}
			if !ok {
				break
			}
			batch = append(batch, r)
			n += r.size()
		}
		c := committed{batch: batch, n: n, start: time.Now(), work: hasWork(batch)}
		if c.work { // a barrier alone needs no transaction
			if c.err = e.commit(batch); c.err != nil && len(batch) > 1 {
				// One request's failure must not fail the others that
				// happened to share its commit: commit each alone, and
				// each gets its own outcome.
				e.cfg.Logger.Warn("commit failed; committing its requests one by one", "err", c.err, "requests", len(batch))
				c.err = nil
				for _, r := range batch {
					if err := e.commit([]*request{r}); err != nil {
						e.cfg.Logger.Error("commit failed", "err", err, "kind", r.kind)
						r.err = err
					}
				}
			} else if c.err != nil {
				e.cfg.Logger.Error("commit failed", "err", c.err, "requests", len(batch))
			}
		}
		e.unsynced.Add(1)
		e.toSync <- c
	}
}

// syncer flushes committed transactions to disk — one Sync for every commit
// that is waiting — and only then tells their callers.
func (e *Engine) syncer() {
	defer close(e.done)
	for c := range e.toSync {
		group := []committed{c}
	more:
		for {
			select {
			case x, ok := <-e.toSync:
				if !ok {
					break more
				}
				group = append(group, x)
			default:
				break more
			}
		}
		var syncErr error
		for _, g := range group {
			if g.work && g.err == nil {
				syncErr = e.st.Sync(context.Background())
				break
			}
		}
		e.unsynced.Add(-int64(len(group)))
		select {
		case e.synced <- struct{}{}:
		default:
		}
		for _, g := range group {
			err := g.err
			if err == nil && g.work && syncErr != nil {
				// Committed but not known to be on disk: the caller must
				// retry, and idempotent ingest makes the retry safe.
				err = syncErr
				e.cfg.Logger.Error("sync failed", "err", syncErr)
			}
			if g.work {
				e.cfg.Metrics.observeCommit(g.batch, g.n, time.Since(g.start), err)
			}
			for _, r := range g.batch {
				switch {
				case err != nil:
					r.err = err
					r.results = nil
				case r.err != nil: // failed alone after its batch failed
					r.results, r.indexes = nil, nil
				case r.condErr != nil:
					r.err, r.indexes = r.condErr, nil
				}
				close(r.done)
			}
		}
	}
}

func hasWork(batch []*request) bool {
	for _, r := range batch {
		if len(r.items) > 0 || len(r.events) > 0 || r.seal != nil || r.segment != nil || r.cursor != nil {
			return true
		}
	}
	return false
}

// commitState is one transaction in progress.
type commitState struct {
	ctx      context.Context
	tx       store.Tx
	tree     *journal.Tree
	idx      uint64
	serial   uint64
	now      archive.Time
	nodeErr  error
	inBatch  map[[2]string][]store.Version
	rejected map[store.RejectKey]uint64 // already quarantined → journal index
	fresh    []recentMessage            // messages archived by this commit
}

// append journals an event. Events built here (messages, rejects) are
// encoded by the reflection-free appender; others (from Append, seals) go
// through Marshal, which also validates them.
func (c *commitState) append(ev *journal.Event) error {
	return c.appendLeaf(ev, false)
}

func (c *commitState) appendLeaf(ev *journal.Event, trusted bool) error {
	ev.Index = c.idx
	ev.Time = c.now
	var leaf []byte
	if trusted {
		leaf = ev.AppendLeaf(make([]byte, 0, 256+len(ev.Payload)))
	} else {
		var err error
		if leaf, err = ev.Marshal(); err != nil {
			return err
		}
	}
	if err := journal.CheckWritable(ev, leaf); err != nil {
		return err
	}
	h := journal.LeafHash(leaf)
	if err := c.tx.AppendLeaf(c.ctx, c.idx, h, leaf); err != nil {
		return err
	}
	c.tree.Append(h, func(n journal.Node) {
		if err := c.tx.PutNode(c.ctx, n); err != nil && c.nodeErr == nil {
			c.nodeErr = err
		}
	})
	c.idx++
	return c.nodeErr
}

func (e *Engine) commit(batch []*request) (err error) {
	// A commit is never cancelled half-way by one caller's context: other
	// callers' items share the transaction.
	ctx := context.Background()
	tx, err := e.st.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	head, err := tx.Head(ctx)
	if err != nil {
		return err
	}
	// Another process may have written since our last commit: continue from
	// what the database says, never from memory.
	if e.tree == nil || e.tree.Size() != head.JournalSize {
		if e.tree != nil && e.tree.Size() < head.JournalSize {
			if err := e.checkNotRotated(ctx, e.tree.Size(), head.JournalSize); err != nil {
				return err
			}
		}
		if e.tree, err = journal.LoadTree(ctx, tx, head.JournalSize); err != nil {
			return err
		}
		if e.lastTime, err = e.latestTime(ctx, head); err != nil {
			return err
		}
	}
	// A clock stepped back (NTP, a VM restored) must not date an event
	// before the one it follows: the journal's times are evidence, and
	// checkpoint times must never decrease.
	now := archive.At(e.cfg.Now())
	if now.Before(e.lastTime.Time) {
		now = e.lastTime
	}
	c := &commitState{ctx: ctx, tx: tx, tree: e.tree.Clone(), idx: head.JournalSize, serial: head.NextSerial,
		now: now, inBatch: map[[2]string][]store.Version{}}
	// The retention rules in force are the latest version committed,
	// whoever applied it: read inside this transaction, so a version
	// another process committed is in force from this commit on.
	if e.cfg.Retainer != nil {
		if err := e.cfg.Retainer.Refresh(ctx, tx); err != nil {
			return fmt.Errorf("retention rules: %w", err)
		}
	}

	// One lookup per source for every id in the batch.
	ids := map[string][]string{}
	var rejectKeys []store.RejectKey
	for _, r := range batch {
		for _, p := range r.items {
			if p.Reject != nil {
				rejectKeys = append(rejectKeys, rejectKey(&p))
				continue
			}
			ids[p.Source] = append(ids[p.Source], p.Message.SourceID)
		}
	}
	known := map[string]map[string][]store.Version{}
	for src, list := range ids {
		if known[src], err = tx.LookupMessages(ctx, src, list); err != nil {
			return err
		}
	}
	if len(rejectKeys) > 0 {
		if c.rejected, err = tx.LookupRejects(ctx, rejectKeys); err != nil {
			return err
		}
	}
	for _, r := range batch {
		switch r.kind {
		case reqItems:
			r.results = make([]Result, len(r.items))
			r.untils = make([]archive.Time, len(r.items))
			for i := range r.items {
				if r.results[i], r.untils[i], err = e.commitItem(c, r.actor, &r.items[i], known); err != nil {
					return err
				}
			}
			if r.cursor != nil {
				cur := *r.cursor
				cur.UpdatedAt = c.now
				if err := tx.PutCursor(ctx, cur); err != nil {
					return fmt.Errorf("record cursor of %s: %w", cur.Connector, err)
				}
			}
		case reqEvents:
			r.indexes, r.condErr = nil, nil
			if r.cond != nil {
				if err := r.cond(ctx, tx); err != nil {
					r.condErr = err // nothing of it written; the others go on
					continue
				}
			}
			for i := range r.events {
				ev := &r.events[i]
				if err := c.append(ev); err != nil {
					return err
				}
				if err := Apply(ctx, tx, ev, noRecords); err != nil {
					return err
				}
				r.indexes = append(r.indexes, ev.Index)
				if ev.Type == archive.EventRetentionApplied && e.cfg.Retainer != nil {
					// Messages after it in this commit fall under it.
					if err := e.cfg.Retainer.Refresh(ctx, tx); err != nil {
						return fmt.Errorf("retention rules: %w", err)
					}
				}
			}
			if r.cursor != nil {
				cur := *r.cursor
				cur.UpdatedAt = c.now
				if err := tx.PutCursor(ctx, cur); err != nil {
					return fmt.Errorf("record cursor of %s: %w", cur.Connector, err)
				}
			}
		case reqSeal:
			if err := e.commitSeal(c, r.seal); err != nil {
				return err
			}
		case reqSegment:
			if err := tx.PutSegment(ctx, *r.segment); err != nil {
				return fmt.Errorf("record segment %d..%d: %w", r.segment.First, r.segment.End, err)
			}
		}
	}
	signer := e.signer
	if c.idx != head.JournalSize {
		note, err := signer.Sign(c.idx, c.tree.Root(), c.now)
		if err != nil {
			return fmt.Errorf("sign checkpoint %d: %w", c.idx, err)
		}
		if err := tx.PutCheckpoint(ctx, store.CheckpointRow{Size: c.idx, Time: c.now, Note: note}); err != nil {
			return err
		}
	}
	if c.serial != head.NextSerial {
		if err := tx.SetNextSerial(ctx, c.serial); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if len(c.fresh) > 0 {
		e.recentMu.Lock()
		for _, r := range c.fresh {
			e.remember(r)
		}
		e.recentMu.Unlock()
		select {
		case e.commits <- struct{}{}:
		default:
		}
	}
	e.tree = c.tree
	if c.idx != head.JournalSize {
		e.lastTime = c.now
	}
	for _, r := range batch {
		if r.rotate != nil && r.condErr == nil {
			e.signer = r.rotate
		}
	}
	e.cfg.Metrics.setJournalSize(c.idx)
	return nil
}

// latestTime is the time of the newest commit (its checkpoint's).
func (e *Engine) latestTime(ctx context.Context, head store.Head) (archive.Time, error) {
	if head.CheckpointSize == 0 {
		return archive.Time{}, nil
	}
	cp, err := e.st.LatestCheckpoint(ctx)
	if err != nil {
		return archive.Time{}, fmt.Errorf("latest checkpoint: %w", err)
	}
	return cp.Time, nil
}

// ErrKeyRotated is returned by a commit when another process rotated the
// archive's signing key since this engine last committed: its signer is
// the old key, which must sign nothing more.
var ErrKeyRotated = errors.New("the archive's signing key was rotated by another process; reopen the archive")

// checkNotRotated looks for a key.rotated event among the leaves another
// process wrote, [from, to).
func (e *Engine) checkNotRotated(ctx context.Context, from, to uint64) error {
	marker := []byte(`"type":"` + archive.EventKeyRotated + `"`)
	return e.st.Leaves(ctx, from, to, func(idx uint64, _, leaf []byte) error {
		if bytes.Contains(leaf, marker) {
			return fmt.Errorf("journal event %d: %w", idx, ErrKeyRotated)
		}
		return nil
	})
}

func noRecords(context.Context, store.RecordKey, archive.BlobID) ([]byte, error) {
	return nil, errors.New("event type carries no records")
}

func (e *Engine) commitItem(c *commitState, actor string, p *prepared, known map[string]map[string][]store.Version) (Result, archive.Time, error) {
	if p.Reject != nil {
		res, err := e.commitReject(c, actor, p)
		return res, archive.Time{}, err
	}
	m := p.Message
	key := [2]string{p.Source, m.SourceID}
	versions := append(append([]store.Version(nil), known[p.Source][m.SourceID]...), c.inBatch[key]...)
	for _, v := range versions {
		if v.Raw == p.rawHash {
			return Result{Serial: v.Serial, JournalIndex: v.JournalIndex, Version: v.Version, Outcome: Duplicate}, archive.Time{}, nil
		}
	}
	ret := e.retainMessage(m, c.now)
	payload := archive.MessageEvent{
		Serial:           c.serial,
		Source:           p.Source,
		SourceID:         m.SourceID,
		Version:          len(versions) + 1,
		Kind:             m.Kind,
		SentAt:           m.SentAt,
		Raw:              p.rawHash,
		Record:           p.recordHash,
		RawSize:          len(p.Raw),
		RecordSize:       len(p.record),
		RefersTo:         m.RefersTo,
		Origin:           p.Origin,
		RetainUntil:      ret.Until,
		RetentionRule:    ret.Rule,
		RetentionVersion: ret.Version,
	}
	typ, outcome := archive.EventMessageArchived, Archived
	if len(versions) > 0 {
		typ, outcome = archive.EventMessageConflict, Conflict
		payload.ConflictsWith = versions[0].Serial
	}
	for _, a := range m.Attachments {
		payload.Attachments = append(payload.Attachments, archive.AttachmentRef{Blob: a.Blob, Status: a.Status})
	}
	ev := journal.Event{Type: typ, Actor: actor, Payload: payload.AppendJSON(make([]byte, 0, 512))}
	if err := c.appendLeaf(&ev, true); err != nil {
		return Result{}, archive.Time{}, err
	}
	for _, rec := range []struct {
		ord  uint32
		data []byte
		hash archive.BlobID
	}{{archive.OrdinalRaw, p.Raw, p.rawHash}, {archive.OrdinalNormalized, p.record, p.recordHash}} {
		if err := c.tx.PutPending(c.ctx, store.PendingRecord{Key: store.RecordKey{JournalIndex: ev.Index, Ordinal: rec.ord},
			Hash: rec.hash, Data: rec.data, RetainUntil: payload.RetainUntil, CreatedAt: c.now}); err != nil {
			return Result{}, archive.Time{}, err
		}
	}
	row, atts := messageRow(&ev, &payload, m)
	row.SearchBody, row.SearchAttachments = p.searchBody, p.searchAttachments
	if err := c.tx.IndexMessage(c.ctx, row, atts); err != nil {
		return Result{}, archive.Time{}, err
	}
	c.inBatch[key] = append(c.inBatch[key], store.Version{Serial: payload.Serial, Version: payload.Version, Raw: p.rawHash, JournalIndex: ev.Index})
	c.fresh = append(c.fresh, recentMessage{serial: payload.Serial, record: p.recordHash, msg: m, body: p.searchBody,
		size: int64(len(p.record) + len(p.searchBody) + len(p.searchAttachments) + recentOverhead)})
	c.serial++
	return Result{Serial: payload.Serial, JournalIndex: ev.Index, Version: payload.Version, Outcome: outcome}, payload.RetainUntil, nil
}

// rejectKey identifies an input by the hash of all of it: two oversize
// inputs that share their kept prefix are still two inputs.
func rejectKey(p *prepared) store.RejectKey {
	k := store.RejectKey{Input: p.rawHash, Origin: p.Origin}
	if p.Reject.FullSize > int64(len(p.Raw)) {
		k.Input = p.Reject.FullHash
	}
	return k
}

// commitReject quarantines an input. The same bytes from the same origin
// quarantined again (a re-run of the same file) write nothing, like a
// duplicate message.
func (e *Engine) commitReject(c *commitState, actor string, it *prepared) (Result, error) {
	key := rejectKey(it)
	if idx, ok := c.rejected[key]; ok {
		return Result{JournalIndex: idx, Outcome: Rejected}, nil
	}
	rej := it.Reject
	p := archive.RejectEvent{Source: it.Source, Origin: it.Origin, MsgID: rej.MsgID, Field: rej.Field, Reason: rej.Reason,
		Raw: it.rawHash, RawSize: len(it.Raw), RetainUntil: e.retainInput(c.now)}
	if rej.FullSize > int64(len(it.Raw)) {
		p.Truncated, p.FullSize, p.FullHash = true, rej.FullSize, rej.FullHash
	}
	ev, err := journal.NewEvent(archive.EventInputRejected, actor, c.now, nil, &p)
	if err != nil {
		return Result{}, err
	}
	if err := c.append(&ev); err != nil {
		return Result{}, err
	}
	if err := c.tx.PutPending(c.ctx, store.PendingRecord{Key: store.RecordKey{JournalIndex: ev.Index, Ordinal: archive.OrdinalRaw},
		Hash: p.Raw, Data: it.Raw, RetainUntil: p.RetainUntil, CreatedAt: c.now}); err != nil {
		return Result{}, err
	}
	if c.rejected == nil {
		c.rejected = map[store.RejectKey]uint64{}
	}
	c.rejected[key] = ev.Index
	return Result{JournalIndex: ev.Index, Outcome: Rejected}, c.tx.IndexReject(c.ctx, RejectRow(&ev, &p))
}
