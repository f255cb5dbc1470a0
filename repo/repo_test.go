package repo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

func testMessage(id, text string) (*archive.Message, []byte) {
	raw := []byte(fmt.Sprintf(`{"msgid":%q,"text":%q}`, id, text))
	return &archive.Message{Source: "test:1", SourceID: id, SourceType: "text", Kind: archive.KindText,
		Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000), Conversation: "direct:a|b",
		ConversationKind: archive.ConversationDirect, Sender: "a", Recipients: []string{"b"},
		Participants: []archive.Participant{{ID: "a", Kind: archive.ParticipantEmployee}, {ID: "wmb", Kind: archive.ParticipantExternal}},
		Direction:    archive.DirectionOutbound, Text: text}, raw
}

func TestEngineOutcomesAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true}); err == nil {
		t.Fatal("second exclusive open succeeded")
	}
	var items []ingest.Item
	for i := 0; i < 10; i++ {
		m, raw := testMessage(fmt.Sprintf("m%d", i), fmt.Sprintf("保本 %d", i))
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	res, err := r.Engine.Archive(ctx, "test", items)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range res {
		if x.Serial != uint64(i+1) || x.Outcome != ingest.Archived {
			t.Fatalf("result %d = %+v", i, x)
		}
	}
	// Same bytes again → duplicate with the same serial; different bytes
	// under the same msgid → conflict, new serial, version 2. Also within
	// one batch.
	m3, raw3 := testMessage("m3", "保本 3")
	m4, raw4 := testMessage("m4", "changed")
	m4b, raw4b := testMessage("m4", "changed")
	res, err = r.Engine.Archive(ctx, "test", []ingest.Item{{Source: "test:1", Raw: raw3, Message: m3}, {Source: "test:1", Raw: raw4, Message: m4}, {Source: "test:1", Raw: raw4b, Message: m4b}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != ingest.Duplicate || res[0].Serial != 4 {
		t.Fatalf("duplicate = %+v", res[0])
	}
	if res[1].Outcome != ingest.Conflict || res[1].Serial != 11 || res[1].Version != 2 {
		t.Fatalf("conflict = %+v", res[1])
	}
	if res[2].Outcome != ingest.Duplicate || res[2].Serial != 11 {
		t.Fatalf("in-batch duplicate = %+v", res[2])
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	r, err = archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	h, err := r.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.NextSerial != 12 || h.SealedSize != h.JournalSize || h.CheckpointSize != h.JournalSize {
		t.Fatalf("head after close = %+v", h)
	}
	c, _ := r.Store.Counts(ctx)
	if c.PendingRecords != 0 || c.Messages != 11 || c.Conflicts != 1 || c.Packs == 0 || c.Segments == 0 {
		t.Fatalf("counts = %+v", c)
	}
	rows, err := r.Store.MessagesBySourceID(ctx, "m4")
	if err != nil || len(rows) != 2 || rows[1].ConflictsWith != rows[0].Serial {
		t.Fatalf("m4 versions = %+v, %v", rows, err)
	}
	// Records are readable from packs and proofs verify against the latest checkpoint.
	b, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: rows[1].JournalIndex, Ordinal: archive.OrdinalRaw}, rows[1].RawHash)
	if err != nil || string(b) != string(raw4) {
		t.Fatalf("raw record = %q, %v", b, err)
	}
	cpRow, err := r.Store.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.Verifier.Open(cpRow.Note)
	if err != nil {
		t.Fatal(err)
	}
	var leafHash []byte
	r.Store.Leaves(ctx, rows[1].JournalIndex, rows[1].JournalIndex+1, func(_ uint64, h, _ []byte) error { leafHash = h; return nil })
	p, err := journal.InclusionProof(ctx, r.Store, rows[1].JournalIndex, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := journal.VerifyInclusion(rows[1].JournalIndex, cp.Size, leafHash, p, cp.Root); err != nil {
		t.Fatal(err)
	}
	_ = time.Now
}
