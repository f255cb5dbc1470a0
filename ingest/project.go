package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// The projection: how each journal event becomes index rows. Live ingest and
// reindex both call these functions, so the index is by construction a
// function of the journal and the records; verify re-runs them and compares.

// MessageRow derives a message's index row from its journal event and its
// normalized record.
func MessageRow(ev *journal.Event, p *archive.MessageEvent, m *archive.Message) (store.MessageRow, []store.AttachmentRow) {
	row, atts := messageRow(ev, p, m)
	row.SearchBody, row.SearchAttachments = SearchTerms(m)
	return row, atts
}

var analyzers = sync.Pool{New: func() any { return new(textindex.Analyzer) }}

// SearchTerms returns the full-text index terms of a message's text and of
// its attachments' extracted texts (one line per attachment).
func SearchTerms(m *archive.Message) (body, attachments string) {
	a := analyzers.Get().(*textindex.Analyzer)
	defer analyzers.Put(a)
	body = string(a.AppendIndexTerms(nil, m.Text))
	var buf []byte
	for _, at := range m.Attachments {
		if at.Text != "" {
			buf = a.AppendIndexTerms(buf, at.Text)
		}
	}
	return body, string(buf)
}

// messageRow is MessageRow without the search terms (the engine computes
// those before the commit, off the single writer).
func messageRow(ev *journal.Event, p *archive.MessageEvent, m *archive.Message) (store.MessageRow, []store.AttachmentRow) {
	row := store.MessageRow{
		Serial:           p.Serial,
		JournalIndex:     ev.Index,
		Source:           p.Source,
		SourceID:         p.SourceID,
		Version:          p.Version,
		ConflictsWith:    p.ConflictsWith,
		Kind:             m.Kind,
		SourceType:       m.SourceType,
		Action:           m.Action,
		SentAt:           m.SentAt,
		CapturedAt:       ev.Time,
		Conversation:     m.Conversation,
		ConvKind:         m.ConversationKind,
		Sender:           m.Sender,
		Recipients:       m.Recipients,
		Direction:        m.Direction,
		Text:             m.Text,
		RawHash:          p.Raw,
		RecordHash:       p.Record,
		RawSize:          p.RawSize,
		RecordSize:       p.RecordSize,
		Attachments:      len(m.Attachments),
		RefersTo:         m.RefersTo,
		RetainUntil:      p.RetainUntil,
		Origin:           p.Origin,
		RetentionRule:    p.RetentionRule,
		RetentionVersion: p.RetentionVersion,
		TimeUnknown:      m.TimeUnknown,
		Participants:     m.Participants,
		Consent:          m.Consent,
	}
	atts := make([]store.AttachmentRow, len(m.Attachments))
	for i, a := range m.Attachments {
		atts[i] = store.AttachmentRow{Serial: p.Serial, Ordinal: i, Attachment: a}
		if a.Status != archive.AttachmentFetched {
			row.AttachFaults++
		}
	}
	return row, atts
}

// RecordLoader returns the bytes of a record, verified against its hash.
type RecordLoader func(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error)

// Apply projects one journal event into the index. Events that have no
// index rows (access events, archive.created) are accepted and ignored.
func Apply(ctx context.Context, proj store.Projection, ev *journal.Event, load RecordLoader) error {
	switch ev.Type {
	case archive.EventMessageArchived, archive.EventMessageConflict:
		var p archive.MessageEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		b, err := load(ctx, store.RecordKey{JournalIndex: ev.Index, Ordinal: archive.OrdinalNormalized}, p.Record)
		if err != nil {
			return fmt.Errorf("journal event %d (serial %d): %w", ev.Index, p.Serial, err)
		}
		var m archive.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("journal event %d (serial %d): normalized record: %w", ev.Index, p.Serial, err)
		}
		row, atts := MessageRow(ev, &p, &m)
		return proj.IndexMessage(ctx, row, atts)
	case archive.EventInputRejected:
		var p archive.RejectEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexReject(ctx, RejectRow(ev, &p))
	case archive.EventRecordsSealed:
		var p archive.SealEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexPack(ctx, PackRow(ev, &p))
	case archive.EventParticipantUpdated:
		var p archive.ParticipantEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexParticipant(ctx, store.ParticipantRow{ParticipantEvent: p, JournalIndex: ev.Index})
	case archive.EventCaptureFault:
		var p archive.CaptureFaultEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexFault(ctx, store.FaultRow{CaptureFaultEvent: p, JournalIndex: ev.Index, Time: ev.Time})
	case archive.EventPolicyApplied:
		var p archive.PolicyEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexPolicy(ctx, store.PolicyRow{PolicyEvent: p, JournalIndex: ev.Index, Time: ev.Time, Actor: ev.Actor})
	case archive.EventRetentionApplied:
		var p archive.RetentionEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexRetention(ctx, store.RetentionRow{RetentionEvent: p, JournalIndex: ev.Index, Time: ev.Time, Actor: ev.Actor})
	case archive.EventRetentionExtended:
		var p archive.RetentionExtendedEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexRetentionExtended(ctx, p)
	case archive.EventHoldCreated:
		var p archive.HoldEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexHold(ctx, store.HoldRow{HoldEvent: p, JournalIndex: ev.Index, Time: ev.Time, Actor: ev.Actor})
	case archive.EventHoldReleased:
		var p archive.HoldReleasedEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexHoldReleased(ctx, store.HoldReleaseRow{HoldReleasedEvent: p, JournalIndex: ev.Index, Time: ev.Time, Actor: ev.Actor})
	case archive.EventAlertRaised:
		var p archive.AlertEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexAlert(ctx, store.AlertRow{AlertEvent: p, JournalIndex: ev.Index, Time: ev.Time})
	case archive.EventAttachmentFetched:
		var p archive.AttachmentFetchedEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexAttachmentFetched(ctx, p)
	case archive.EventReviewAction:
		var p archive.ReviewEvent
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		return proj.IndexReview(ctx, store.ReviewRow{ReviewEvent: p, JournalIndex: ev.Index, Time: ev.Time, Actor: ev.Actor})
	}
	return nil
}

// RejectRow derives the quarantine row of an input.rejected event.
func RejectRow(ev *journal.Event, p *archive.RejectEvent) store.RejectRow {
	r := store.RejectRow{JournalIndex: ev.Index, Time: ev.Time, Source: p.Source, Origin: p.Origin,
		Field: p.Field, Reason: p.Reason, RawHash: p.Raw, RawSize: p.RawSize, InputHash: p.Raw, InputSize: int64(p.RawSize)}
	if p.Truncated {
		r.InputHash, r.InputSize = p.FullHash, p.FullSize
	}
	return r
}

// PackRow derives the pack row of a records.sealed event.
func PackRow(ev *journal.Event, p *archive.SealEvent) store.PackRow {
	return store.PackRow{Blob: p.Pack, First: p.First, Last: p.Last, Count: p.Count, Bytes: p.Bytes,
		RetainUntil: p.RetainUntil, JournalIndex: ev.Index}
}
