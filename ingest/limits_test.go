package ingest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// grow makes a fuzzed value as long as the fuzzer asks, up to past the
// leaf limit, so the oversize path is reached (the fuzzer alone would not
// write a megabyte).
func grow(s string, rep uint32) string {
	if s == "" {
		return s
	}
	n := int(rep % uint32((journal.MaxLeafBytes+journal.MaxLeafBytes/8)/len(s)+2))
	return strings.Repeat(s, n)
}

// journaledEvents puts v in every string field of every payload the
// application journals, and in the actor and subject.
func journaledEvents(v string, version int) []journal.Event {
	payloads := map[string]any{
		archive.EventParticipantUpdated: &archive.ParticipantEvent{ID: v, Kind: archive.ParticipantEmployee, Name: v, Department: v, Title: v, SupervisoryGroup: v},
		archive.EventAccessView:         &archive.AccessEvent{What: v, Via: v, Query: v},
		archive.EventCaptureFault:       &archive.CaptureFaultEvent{Connector: v, Kind: v, Subject: v, State: v, Detail: v},
		archive.EventPolicyApplied:      &archive.PolicyEvent{Policy: "fuzz", Version: version, Source: v},
		archive.EventAlertRaised:        &archive.AlertEvent{Serial: 1, Policy: v, Rule: v, Masked: []string{v}, Department: v, Detail: v},
		archive.EventReviewAction:       &archive.ReviewEvent{Action: v, Disposition: v, Note: v, Reason: v, Assignee: v, Items: []archive.ReviewItem{{Alert: 1, Policy: v}}},
		archive.EventAttachmentFetched:  &archive.AttachmentFetchedEvent{Serial: 1, MediaType: v, SourceRef: v},
	}
	var out []journal.Event
	for typ, p := range payloads {
		ev, err := journal.NewEvent(typ, "test", archive.Time{}, []string{v}, p)
		if err != nil {
			panic(err)
		}
		out = append(out, ev)
		actor := ev
		actor.Actor = v
		out = append(out, actor)
	}
	return out
}

// FuzzJournaledFields: whatever reaches a journaled field, the writer either
// refuses it with a typed error (nothing written) or writes a leaf its own
// reader accepts. Before the writer checked, one oversize field made
// verify and reindex fail forever.
func FuzzJournaledFields(f *testing.F) {
	f.Add("<", uint32(300_000))    // the alert note of issue 12: 300,000 '<' escaped six-fold
	f.Add("a", uint32(1<<20))      // a 1 MiB corp
	f.Add("保证收益", uint32(100_000)) // three bytes a character
	f.Add("\x00\xff", uint32(3))   // control and invalid UTF-8
	f.Add("ok", uint32(1))
	e := newEnv(f, ingest.Config{}, nil)
	// Serial 1 has an attachment not fetched at capture, so that
	// attachment.fetched events apply.
	first := item("with-attachment", "file")
	first.Message.Attachments = []archive.Attachment{{Role: "file", SourceRef: "ref", Status: archive.AttachmentFailed, Reason: "fuzz"}}
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{first}); err != nil {
		f.Fatal(err)
	}
	version := 0
	f.Fuzz(func(t *testing.T, s string, rep uint32) {
		v := grow(s, rep)
		before := head(t, e.st).JournalSize
		version++
		for _, ev := range journaledEvents(v, version) {
			if ev.Type == archive.EventPolicyApplied && ev.Actor != "test" {
				continue // one version per run: the policies index is unique by version
			}
			if _, err := e.eng.Append(ctx, ev); err != nil && !errors.Is(err, journal.ErrLeafRefused) {
				t.Fatalf("%s: %v (want success or ErrLeafRefused)", ev.Type, err)
			}
		}
		// A message with v in every field that reaches its leaf: archived,
		// or quarantined naming the field; never a failed commit.
		it := item("fuzz-"+archive.Hash([]byte(v)).String()[:16], "text")
		it.Message.SourceID, it.Message.RefersTo = v, v
		if v == "" {
			it.Message.SourceID = "empty"
		}
		it.Origin = v
		res, err := e.eng.Archive(ctx, "test", []ingest.Item{it})
		if err != nil {
			t.Fatalf("archive: %v", err)
		}
		rj := reject(v, v)
		rj.Reject.MsgID, rj.Reject.Reason, rj.Reject.Field = v, v, v
		if _, err := e.eng.Archive(ctx, "test", []ingest.Item{rj}); err != nil {
			t.Fatalf("reject: %v", err)
		}
		if len(v) > archive.MaxIDBytes && res[0].Outcome != ingest.Rejected {
			t.Fatalf("a %d-byte msgid was %s, want rejected", len(v), res[0].Outcome)
		}
		after := head(t, e.st).JournalSize
		if err := e.st.Leaves(ctx, before, after, func(i uint64, _, leaf []byte) error {
			if _, err := journal.ParseLeaf(i, leaf); err != nil {
				return fmt.Errorf("%w: %q", err, leaf)
			}
			return nil
		}); err != nil {
			t.Fatalf("a written leaf is refused by its reader: %v", err)
		}
	})
}

// TestOversizeLeafRefused: an event too large for the journal fails its own
// request with a typed error; nothing is written and the next event
// commits as usual.
func TestOversizeLeafRefused(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	at := func(n int) journal.Event {
		ev, err := journal.NewEvent(archive.EventReviewAction, "test", archive.Time{}, nil, &archive.ReviewEvent{Action: "comment", Note: strings.Repeat("<", n)})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	before := head(t, e.st).JournalSize
	_, err := e.eng.Append(ctx, at(300_000)) // 1.8 MB once escaped
	var re *journal.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, journal.ErrLeafRefused) {
		t.Fatalf("oversize leaf: got %v, want a *journal.RefusedError", err)
	}
	if got := head(t, e.st).JournalSize; got != before {
		t.Fatalf("journal grew from %d to %d on a refused event", before, got)
	}
	// The largest note that fits: (limit − envelope) / 6 characters.
	if _, err := e.eng.Append(ctx, at(170_000)); err != nil {
		t.Fatalf("a leaf under the limit: %v", err)
	}
	// A message whose msgid cannot be journaled is quarantined, not lost.
	it := item(strings.Repeat("m", archive.MaxIDBytes+1), "text")
	res := archiveItems(t, e.eng, it)
	if res[0].Outcome != ingest.Rejected {
		t.Fatalf("oversize msgid: %s, want rejected", res[0].Outcome)
	}
	var rows []store.RejectRow
	e.st.Rejects(ctx, func(r store.RejectRow) error { rows = append(rows, r); return nil })
	if len(rows) != 1 || rows[0].Field != "msgid" || !strings.Contains(rows[0].Reason, "over the limit of 256") {
		t.Fatalf("rejects: %+v", rows)
	}
	ok := item(strings.Repeat("m", archive.MaxIDBytes), "text")
	if res := archiveItems(t, e.eng, ok); res[0].Outcome != ingest.Archived {
		t.Fatalf("msgid at the limit: %s, want archived", res[0].Outcome)
	}
	verifyJournal(t, e.st, e.ver)
}
