package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// appendRawLeaf writes leaf as the next journal leaf straight through the
// store's transaction, with the tree nodes and a checkpoint signed by the
// archive's key, as a writer without the leaf-size check (or an insider)
// would: everything else about the archive stays consistent, so verify
// must report this leaf and nothing else.
// rawEvent is what appendRawLeaf writes: a leaf, the records its event
// introduces (by ordinal) and whether it takes a serial.
type rawEvent struct {
	leaf    []byte
	records [][]byte
	serial  bool
}

func appendRawLeaf(t *testing.T, dir string, build func(head store.Head) rawEvent) uint64 {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	skey, err := os.ReadFile(filepath.Join(dir, repo.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := journal.NewSigner(r.Config.Origin, string(skey))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := r.Store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := tx.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := journal.LoadTree(ctx, tx, head.JournalSize)
	if err != nil {
		t.Fatal(err)
	}
	idx := head.JournalSize
	raw := build(head)
	b := raw.leaf
	h := journal.LeafHash(b)
	if err := tx.AppendLeaf(ctx, idx, h, b); err != nil {
		t.Fatal(err)
	}
	now := archive.At(time.Now())
	// What the engine did with the events it wrote: their records pending,
	// their index rows, the serial taken.
	for ord, rec := range raw.records {
		if err := tx.PutPending(ctx, store.PendingRecord{Key: store.RecordKey{JournalIndex: idx, Ordinal: uint32(ord)}, Hash: archive.Hash(rec),
			Data: rec, RetainUntil: archive.At(time.Now().AddDate(6, 0, 1).Truncate(24 * time.Hour)), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if ev, err := journal.DecodeLeaf(idx, b); err == nil {
		load := func(_ context.Context, k store.RecordKey, _ archive.BlobID) ([]byte, error) {
			return raw.records[k.Ordinal], nil
		}
		if err := ingest.Apply(ctx, tx, ev, load); err != nil {
			t.Fatal(err)
		}
	}
	if raw.serial {
		if err := tx.SetNextSerial(ctx, head.NextSerial+1); err != nil {
			t.Fatal(err)
		}
	}
	var nodeErr error
	tree.Append(h, func(n journal.Node) {
		if err := tx.PutNode(ctx, n); err != nil && nodeErr == nil {
			nodeErr = err
		}
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	note, err := signer.Sign(idx+1, tree.Root(), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutCheckpoint(ctx, store.CheckpointRow{Size: idx + 1, Time: now, Note: note}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Close seals the new leaf into a segment, as serve would.
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func leafOf(idx uint64, typ string, v any) []byte {
	ev, _ := journal.NewEvent(typ, "api:127.0.0.1", archive.At(time.Now()), nil, v)
	ev.Index = idx
	b, err := ev.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// oversizeAccess is an access.view event whose query is longer than a
// leaf may be (each < is escaped to six bytes): canonical JSON otherwise.
func oversizeAccess(h store.Head) rawEvent {
	return rawEvent{leaf: leafOf(h.JournalSize, archive.EventAccessView,
		&archive.AccessEvent{What: "search", Via: "api", Query: strings.Repeat("<", journal.MaxLeafBytes/4)})}
}

// oversizeMessage is a message archived with a 1 MiB origin (a ?corp= on
// ingest): its leaf is too long, its records and index rows are there.
func oversizeMessage(h store.Head) rawEvent {
	m := &archive.Message{Schema: archive.RecordSchema, Source: "wecom-archive:x", SourceID: "oversize-1", SourceType: "text", Kind: archive.KindText,
		Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000), Sender: "zhangwei", Recipients: []string{"wmC"},
		Participants: []archive.Participant{}, Attachments: []archive.Attachment{}, Direction: archive.DirectionOutbound, Text: "超长来源"}
	rec, _ := json.Marshal(m)
	rawRec := []byte(`{"msgid":"oversize-1"}`)
	p := &archive.MessageEvent{Serial: h.NextSerial, Source: m.Source, SourceID: m.SourceID, Version: 1, Kind: m.Kind, SentAt: m.SentAt,
		Raw: archive.Hash(rawRec), Record: archive.Hash(rec), RawSize: len(rawRec), RecordSize: len(rec),
		Origin: "api corp=" + strings.Repeat("a", journal.MaxLeafBytes), RetainUntil: archive.MillisTime(1900000000000)}
	return rawEvent{leaf: leafOf(h.JournalSize, archive.EventMessageArchived, p), records: [][]byte{rawRec, rec}, serial: true}
}

// nonCanonical is valid JSON, spelt differently from Marshal's output.
func nonCanonical(h store.Head) rawEvent {
	b := leafOf(h.JournalSize, archive.EventAccessView, &archive.AccessEvent{What: "message", Via: "cli"})
	return rawEvent{leaf: bytes.Replace(b, []byte(`"type":`), []byte(`"type" : `), 1)}
}

// unreadable is not an event at all.
func unreadable(h store.Head) rawEvent {
	return rawEvent{leaf: []byte(fmt.Sprintf(`{"index":%d,"time":"garbage`, h.JournalSize))}
}

func TestMalformedLeafIsOneFault(t *testing.T) {
	clean := buildArchive(t)
	for _, c := range []struct {
		name     string
		build    func(store.Head) rawEvent
		messages uint64 // the messages reindex then indexes
	}{
		{"oversize", oversizeAccess, 33},
		{"oversize message", oversizeMessage, 34},
		{"not canonical", nonCanonical, 33},
		{"unreadable", unreadable, 33},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, clean)
			idx := appendRawLeaf(t, dir, c.build)
			// A normal event after it: verify and reindex must carry on.
			ctx := context.Background()
			w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Engine.Append(ctx, participantEvent("emp-after")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			rep := run(t, dir, time.Now())
			if len(rep.Faults) != 1 || rep.Faults[0].Kind != verify.JournalLeafMalformed || rep.Faults[0].Object != journalObject(idx) {
				t.Fatalf("want exactly one %s on journal:%d; got %+v", verify.JournalLeafMalformed, idx, rep.Faults)
			}
			head, err := readOnly(t, dir).Store.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stats.Leaves != head.JournalSize || rep.Stats.Messages != c.messages {
				t.Errorf("checked %d leaves and %d messages, want %d and %d", rep.Stats.Leaves, rep.Stats.Messages, head.JournalSize, c.messages)
			}

			// Reindex skips it with a warning naming the index and rebuilds
			// the rest, which then verifies as before.
			var log bytes.Buffer
			w, err = archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Reindex(ctx, nil); err != nil {
				t.Fatalf("reindex: %v", err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), fmt.Sprintf("index=%d ", idx)) {
				t.Fatalf("reindex warnings (want one naming index %d):\n%s", idx, log.String())
			}
			if cnt, err := readOnly(t, dir).Store.Counts(ctx); err != nil || cnt.Messages != int64(c.messages) {
				t.Fatalf("reindexed %d messages (%v), want %d", cnt.Messages, err, c.messages)
			}
			rep = run(t, dir, time.Now())
			if len(rep.Faults) != 1 || rep.Faults[0].Object != journalObject(idx) {
				t.Fatalf("after reindex: %+v", rep.Faults)
			}
		})
	}
}

func journalObject(i uint64) string { return fmt.Sprintf("journal:%d", i) }

func participantEvent(id string) journal.Event {
	ev, _ := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{
		ID: id, Kind: archive.ParticipantEmployee, Name: "王芳", Department: "合规部", ValidFrom: archive.MillisTime(1700000000000)})
	return ev
}
