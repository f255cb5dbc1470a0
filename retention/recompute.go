package retention

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// RecomputeReader is what a recompute reads of the index.
type RecomputeReader interface {
	Head(ctx context.Context) (store.Head, error)
	Messages(ctx context.Context, first, last uint64, fn func(store.MessageRow) error) error
	Attachments(ctx context.Context, serial uint64) ([]store.AttachmentRow, error)
	Packs(ctx context.Context, fn func(store.PackRow) error) error
	PendingRecords(ctx context.Context, after store.RecordKey, limitBytes int64, fn func(store.PendingRecord) error) error
	Leaves(ctx context.Context, from, to uint64, fn func(index uint64, hash, leaf []byte) error) error
}

// BlobRetainer extends a blob's retention (blob.Store's SetRetention).
type BlobRetainer interface {
	SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error
}

// Appender journals events (the writer's Append).
type Appender interface {
	Append(ctx context.Context, events ...journal.Event) ([]uint64, error)
}

// DefaultRecomputeBatch is how many extended messages one
// retention.extended event names.
const DefaultRecomputeBatch = 4096

// MaxExamples bounds the examples a recompute reports.
const MaxExamples = 10

// Recompute re-evaluates archived messages under a version of the rule
// set: a message the rules now keep longer is extended — the packs
// holding its records and its attachments first (an extension that
// reaches the blobs and not the journal only keeps something longer),
// then one retention.extended event per batch; one they would keep less
// is reported and left alone (retention is never shortened).
type Recompute struct {
	Store        RecomputeReader
	Blobs        BlobRetainer
	Writer       Appender // nil: a dry run (the plan only)
	Actor        string
	DefaultYears int
	Department   func(id string, at time.Time) (string, bool)
	Batch        int // 0: DefaultRecomputeBatch

	packs []store.PackRow // by First, read at the first extension
	reach []uint64        // reach[i]: the largest Last of packs[0..i]
}

// Change is one message whose retain-until a recompute would move.
type Change struct {
	Serial   uint64       `json:"serial"`
	SourceID string       `json:"source_id"`
	From     archive.Time `json:"from"`
	To       archive.Time `json:"to"`
	FromRule string       `json:"from_rule"` // "" for retention_years
	Rule     string       `json:"rule"`
}

// RecomputeResult says what a recompute found and did.
type RecomputeResult struct {
	Version   int `json:"version"`
	Scanned   int `json:"scanned"`
	Extended  int `json:"extended"` // retain-until moved later (planned, in a dry run)
	Events    int `json:"events"`   // retention.extended events journaled
	Unchanged int `json:"unchanged"`
	// Shortened counts the messages the rules would keep less than they
	// are: reported, never applied. Examples lists the first of them.
	Shortened         int      `json:"shortened"`
	ShortenedExamples []Change `json:"shortened_examples"`
	// Pending counts messages to extend whose records were not yet sealed
	// into a pack: left for the next recompute (`wxarchive retention
	// recompute`), since the pack that will hold them does not exist yet.
	Pending         int      `json:"pending"`
	ExtendedExample []Change `json:"extended_examples"`
}

// Run recomputes every message archived so far under set (version v).
func (rc *Recompute) Run(ctx context.Context, set *Set, v int) (*RecomputeResult, error) {
	if set == nil || v <= 0 {
		return nil, errors.New("recompute: no rule set")
	}
	batch := rc.Batch
	if batch <= 0 {
		batch = DefaultRecomputeBatch
	}
	res := &RecomputeResult{Version: v, ShortenedExamples: []Change{}, ExtendedExample: []Change{}}
	head, err := rc.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	// Records still pending are few (they are sealed within seal_delay):
	// their journal indexes, read once.
	pending := map[uint64]bool{}
	if err := rc.Store.PendingRecords(ctx, store.RecordKey{}, 0, func(p store.PendingRecord) error {
		pending[p.Key.JournalIndex] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("recompute: pending records: %w", err)
	}
	var todo []extension
	const chunk = 8192
	for first := uint64(1); first < head.NextSerial; first += chunk {
		last := min(first+chunk-1, head.NextSerial-1)
		err := rc.Store.Messages(ctx, first, last, func(row store.MessageRow) error {
			res.Scanned++
			m := messageOf(&row)
			subj := Subject{Message: m, CapturedAt: row.CapturedAt.Time}
			if set.UsesDepartments() && rc.Department != nil {
				subj.Departments = Departments(m, rc.Department)
			}
			d := set.Evaluate(subj, rc.DefaultYears)
			ch := Change{Serial: row.Serial, SourceID: row.SourceID, From: row.RetainUntil, To: d.RetainUntil, FromRule: row.RetentionRule, Rule: d.Rule}
			switch {
			case d.RetainUntil.Time.Before(row.RetainUntil.Time):
				res.Shortened++
				if len(res.ShortenedExamples) < MaxExamples {
					res.ShortenedExamples = append(res.ShortenedExamples, ch)
				}
			case d.RetainUntil.Time.After(row.RetainUntil.Time):
				if pending[row.JournalIndex] {
					res.Pending++
					return nil
				}
				res.Extended++
				if len(res.ExtendedExample) < MaxExamples {
					res.ExtendedExample = append(res.ExtendedExample, ch)
				}
				x := extension{Change: ch, jidx: row.JournalIndex, atts: row.Attachments}
				if row.RetentionVersion == 0 {
					// Decided at ingest by retention_years and never
					// extended (an extension sets a version).
					x.original = row.RetainUntil
				}
				todo = append(todo, x)
			default:
				res.Unchanged++
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("recompute: messages %d–%d: %w", first, last, err)
		}
		for len(todo) >= batch {
			if err := rc.flush(ctx, v, todo[:batch], res); err != nil {
				return nil, err
			}
			todo = todo[batch:]
		}
	}
	if len(todo) > 0 {
		if err := rc.flush(ctx, v, todo, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

type extension struct {
	Change
	jidx uint64
	// original is the retain-until the message's event gave it, when the
	// index row still shows it (never extended); zero: read the event.
	original archive.Time
	atts     int
}

// flush extends one batch: blobs first, then the event.
func (rc *Recompute) flush(ctx context.Context, v int, batch []extension, res *RecomputeResult) error {
	if rc.Writer == nil {
		return nil
	}
	targets := map[archive.BlobID]time.Time{}
	add := func(id archive.BlobID, until time.Time) {
		if !id.IsZero() && until.After(targets[id]) {
			targets[id] = until
		}
	}
	for _, x := range batch {
		packs, err := rc.packsOf(ctx, x)
		if err != nil {
			return err
		}
		for _, p := range packs {
			add(p, x.To.Time)
		}
		if x.atts == 0 {
			continue
		}
		atts, err := rc.Store.Attachments(ctx, x.Serial)
		if err != nil {
			return fmt.Errorf("recompute: attachments of message %d: %w", x.Serial, err)
		}
		for _, a := range atts {
			add(a.Blob, x.To.Time)
		}
	}
	ids := make([]archive.BlobID, 0, len(targets))
	for id := range targets {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b archive.BlobID) int { return slices.Compare(a[:], b[:]) })
	for _, id := range ids {
		if err := rc.Blobs.SetRetention(ctx, id, targets[id]); err != nil && !errors.Is(err, blob.ErrRetentionShortened) {
			// ErrRetentionShortened: already retained longer.
			return fmt.Errorf("recompute: extend blob %s: %w", id.Short(), err)
		}
	}
	type key struct {
		until archive.Time
		rule  string
	}
	groups := map[key][]uint64{}
	for _, x := range batch {
		k := key{x.To, x.Rule}
		groups[k] = append(groups[k], x.Serial)
	}
	p := archive.RetentionExtendedEvent{Version: v}
	for k, serials := range groups {
		slices.Sort(serials)
		p.Groups = append(p.Groups, archive.RetentionExtension{RetainUntil: k.until, Rule: k.rule, Serials: serials})
	}
	slices.SortFunc(p.Groups, func(a, b archive.RetentionExtension) int {
		if c := a.RetainUntil.Compare(b.RetainUntil.Time); c != 0 {
			return c
		}
		if a.Rule < b.Rule {
			return -1
		}
		if a.Rule > b.Rule {
			return 1
		}
		return 0
	})
	ev, err := journal.NewEvent(archive.EventRetentionExtended, rc.Actor, archive.Time{}, nil, &p)
	if err != nil {
		return err
	}
	if _, err := rc.Writer.Append(ctx, ev); err != nil {
		return fmt.Errorf("recompute: journal the extension of %d messages: %w", len(batch), err)
	}
	res.Events++
	return nil
}

// packsOf returns the pack holding a message's records: of the packs
// covering its journal index, the one sealed with the retain-until its
// event gave it (records are packed by that date; a later extension moves
// the index row, not the pack's).
func (rc *Recompute) packsOf(ctx context.Context, x extension) ([]archive.BlobID, error) {
	original := x.original
	var err error
	if original.IsZero() {
		err = rc.Store.Leaves(ctx, x.jidx, x.jidx+1, func(i uint64, _, leaf []byte) error {
			ev, err := journal.ParseLeaf(i, leaf)
			if err != nil {
				return err
			}
			var p archive.MessageEvent
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				return err
			}
			original = p.RetainUntil
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("recompute: message %d: journal leaf %d: %w", x.Serial, x.jidx, err)
	}
	if rc.packs == nil {
		// Packs are few (each holds up to 8 MiB of records): read once.
		rc.packs = []store.PackRow{}
		if err := rc.Store.Packs(ctx, func(p store.PackRow) error { rc.packs = append(rc.packs, p); return nil }); err != nil {
			return nil, fmt.Errorf("recompute: packs: %w", err)
		}
		slices.SortStableFunc(rc.packs, func(a, b store.PackRow) int { return cmp.Compare(a.First, b.First) })
		rc.reach = make([]uint64, len(rc.packs))
		for i, p := range rc.packs {
			rc.reach[i] = p.Last
			if i > 0 {
				rc.reach[i] = max(rc.reach[i-1], p.Last)
			}
		}
	}
	var out []archive.BlobID
	// From the last pack starting at or before jidx, back while one so
	// far back could still reach it (reach: the largest Last so far).
	i, _ := slices.BinarySearchFunc(rc.packs, x.jidx+1, func(p store.PackRow, t uint64) int { return cmp.Compare(p.First, t) })
	for j := i - 1; j >= 0 && rc.reach[j] >= x.jidx; j-- {
		if p := rc.packs[j]; p.First <= x.jidx && p.Last >= x.jidx && p.RetainUntil == original {
			out = append(out, p.Blob)
		}
	}
	if len(out) == 0 {
		// Nothing to extend would leave the record's WORM copy behind its
		// journal: refuse rather than journal an extension the blobs lack.
		return nil, fmt.Errorf("recompute: message %d (journal %d): no pack holds its records", x.Serial, x.jidx)
	}
	return out, nil
}

// messageOf is what the rules look at of an index row. Participants are
// the sender and recipients (the directory says which are employees).
func messageOf(row *store.MessageRow) *archive.Message {
	m := &archive.Message{Source: row.Source, SourceID: row.SourceID, Kind: row.Kind, SentAt: row.SentAt,
		Conversation: row.Conversation, ConversationKind: row.ConvKind, Sender: row.Sender, Recipients: row.Recipients}
	m.Participants = make([]archive.Participant, 0, 1+len(row.Recipients))
	m.Participants = append(m.Participants, archive.Participant{ID: row.Sender, Kind: archive.ParticipantEmployee})
	for _, r := range row.Recipients {
		m.Participants = append(m.Participants, archive.Participant{ID: r, Kind: archive.ParticipantEmployee})
	}
	return m
}
