// Package storetest is the conformance suite every store.Store adapter runs:
// each clause of the contract in package store is a subtest here, so an
// adapter (store/sqlite, later store/postgres, a decorator) proves itself by
// calling Run from its own tests.
//
// Glossary:
//   - open: the adapter's constructor for the suite; it is called once per
//     subtest and must return a new, empty, writable store. Closing it is
//     open's business (t.Cleanup).
//   - primary: journal leaves, tree nodes, checkpoints, segments, pending
//     records and the next serial; never touched by ResetProjection.
//   - projection: the tables named by store.ProjectionTables.
//
// DumpProjection rows are compared across databases, so the suite reads
// single columns out of them: a row is rendered as space-separated
// column=value pairs (text JSON-quoted, blobs x'hex', NULL as NULL), which
// every adapter must reproduce so that dumps of two engines compare equal.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"EmptyStore", testEmptyStore},
		{"SearchRelevance", testSearchRelevance},
		{"SearchOrderAndPaging", testSearchOrderAndPaging},
		{"SearchFacets", testSearchFacets},
		{"SearchCountLimit", testSearchCountLimit},
		{"CaptureFaults", testCaptureFaults},
		{"CaptureActivity", testCaptureActivity},
		{"Cursors", testCursors},
		{"PoliciesAndAlerts", testPoliciesAndAlerts},
		{"SearchExact", testSearchExact},
		{"SearchSerials", testSearchSerials},
		{"SearchKeys", testSearchKeys},
		{"SearchMatchesScan", testSearchMatchesScan},
		{"CommitMakesVisible", testCommitMakesVisible},
		{"RollbackLeavesNothing", testRollbackLeavesNothing},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"BeginWaitsForWriter", testBeginWaits},
		{"Head", testHead},
		{"LookupMessages", testLookupMessages},
		{"LookupMessagesManyIDs", testLookupManyIDs},
		{"LookupRejects", testLookupRejects},
		{"LeafNodes", testLeafNodes},
		{"TreeNodes", testTreeNodes},
		{"MissingNodes", testMissingNodes},
		{"Leaves", testLeaves},
		{"Checkpoints", testCheckpoints},
		{"Pending", testPending},
		{"PendingLimit", testPendingLimit},
		{"DeletePending", testDeletePending},
		{"Segments", testSegments},
		{"Messages", testMessages},
		{"Attachments", testAttachments},
		{"Participants", testParticipants},
		{"Directory", testDirectory},
		{"Snapshot", testSnapshot},
		{"CloseUnreleasedSnapshot", testCloseUnreleasedSnapshot},
		{"Consent", testConsent},
		{"RecallAfterOriginal", testRecallAfter},
		{"RecallBeforeOriginal", testRecallBefore},
		{"EarliestRecallWins", testEarliestRecall},
		{"Conflicts", testConflicts},
		{"Rejects", testRejects},
		{"Packs", testPacks},
		{"Counts", testCounts},
		{"NotFound", testNotFound},
		{"ResetProjection", testResetProjection},
		{"DumpProjectionOrder", testDumpOrder},
		{"ChineseRoundTrip", testChinese},
		{"CallbackErrorStops", testCallbackError},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	for _, tc := range holdTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	for _, tc := range retentionTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	for _, tc := range authTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// ---- helpers ---------------------------------------------------------------

var ctx = context.Background()

const base = 1700000000000 // ms; 2023-11-14T22:13:20Z

func ms(off int64) archive.Time { return archive.MillisTime(base + off) }

func check(t *testing.T, err error, format string, a ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, a...), err)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: err = %v, want one matching store.ErrNotFound", what, err)
	}
}

// write runs fn in a transaction and commits it.
func write(t *testing.T, s store.Store, fn func(tx store.Tx)) {
	t.Helper()
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx.Rollback()
	fn(tx)
	check(t, tx.Commit(), "Commit")
}

// makeLeaf returns the canonical leaf for index i and its hash.
func makeLeaf(t *testing.T, i uint64) (hash, leaf []byte) {
	t.Helper()
	ev, err := journal.NewEvent("storetest.event", "storetest", ms(int64(i)), []string{fmt.Sprint(i)},
		map[string]any{"n": i, "note": "第" + fmt.Sprint(i) + "条"})
	check(t, err, "NewEvent")
	ev.Index = i
	leaf, err = ev.Marshal()
	check(t, err, "Marshal")
	return journal.LeafHash(leaf), leaf
}

// appendLeaves appends leaves [from, to) to tx and tree, storing the tree
// nodes that become complete, as the engine does.
func appendLeaves(t *testing.T, tx store.Tx, tree *journal.Tree, from, to uint64) {
	t.Helper()
	for i := from; i < to; i++ {
		h, l := makeLeaf(t, i)
		check(t, tx.AppendLeaf(ctx, i, h, l), "AppendLeaf %d", i)
		var nodes []journal.Node
		tree.Append(h, func(n journal.Node) { nodes = append(nodes, n) })
		for _, n := range nodes {
			check(t, tx.PutNode(ctx, n), "PutNode %d/%d", n.Level, n.Index)
		}
	}
}

func msgRow(serial uint64, source, id string) store.MessageRow {
	return store.MessageRow{
		Serial:       serial,
		JournalIndex: serial + 1000,
		Source:       source,
		SourceID:     id,
		Version:      1,
		Kind:         archive.KindText,
		SourceType:   "text",
		Action:       archive.ActionSend,
		SentAt:       ms(int64(serial) * 1000),
		CapturedAt:   ms(int64(serial)*1000 + 7),
		Conversation: "direct:wmExt1|zhangwei",
		ConvKind:     archive.ConversationDirect,
		Sender:       "zhangwei",
		Recipients:   []string{"wmExt1"},
		Direction:    archive.DirectionOutbound,
		Text:         "message " + id,
		RawHash:      archive.Hash([]byte("raw " + source + " " + id)),
		RecordHash:   archive.Hash([]byte("record " + source + " " + id)),
		RawSize:      100 + int(serial),
		RecordSize:   200 + int(serial),
		RetainUntil:  archive.MillisTime(base + 6*365*86400000),
		Origin:       "file:x.jsonl line " + fmt.Sprint(serial),
		SearchBody:   string(new(textindex.Analyzer).AppendIndexTerms(nil, "message "+id)),
	}
}

func recallRow(serial uint64, source, id, target string) store.MessageRow {
	m := msgRow(serial, source, id)
	m.Kind, m.SourceType, m.Action, m.RefersTo, m.Text, m.SearchBody = archive.KindRevoke, "revoke", archive.ActionRecall, target, "", ""
	return m
}

func index(t *testing.T, tx store.Tx, m store.MessageRow, atts ...store.AttachmentRow) {
	t.Helper()
	check(t, tx.IndexMessage(ctx, m, atts), "IndexMessage serial %d", m.Serial)
}

// normMessage makes two rows comparable: derived fields are not read back,
// nil and empty recipients are the same, times are compared as instants.
func normMessage(m store.MessageRow) store.MessageRow {
	m.Participants, m.Consent = nil, nil
	m.SearchBody, m.SearchAttachments = "", ""
	if len(m.Recipients) == 0 {
		m.Recipients = nil
	}
	m.SentAt = archive.MillisTime(m.SentAt.Millis())
	m.CapturedAt = archive.MillisTime(m.CapturedAt.Millis())
	m.RetainUntil = archive.MillisTime(m.RetainUntil.Millis())
	return m
}

func wantMessage(t *testing.T, got, want store.MessageRow) {
	t.Helper()
	g, w := normMessage(got), normMessage(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("message serial %d:\n got %+v\nwant %+v", want.Serial, g, w)
	}
}

func message(t *testing.T, s store.Reader, serial uint64) store.MessageRow {
	t.Helper()
	m, err := s.Message(ctx, serial)
	check(t, err, "Message(%d)", serial)
	return m
}

func counts(t *testing.T, s store.Reader) store.Counts {
	t.Helper()
	c, err := s.Counts(ctx)
	check(t, err, "Counts")
	return c
}

func head(t *testing.T, s store.Reader) store.Head {
	t.Helper()
	h, err := s.Head(ctx)
	check(t, err, "Head")
	return h
}

type dumpRow struct{ table, key, row string }

func dump(t *testing.T, s store.Reader) []dumpRow {
	t.Helper()
	var out []dumpRow
	check(t, s.DumpProjection(ctx, func(table, key, row string) error {
		out = append(out, dumpRow{table, key, row})
		return nil
	}), "DumpProjection")
	return out
}

// trailingNumber returns the decimal number a key ends with, without
// leading zeros.
func trailingNumber(key string) string {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	n := strings.TrimLeft(key[i:], "0")
	if n == "" && i < len(key) {
		n = "0"
	}
	return n
}

func tableRows(rows []dumpRow, table string) []dumpRow {
	var out []dumpRow
	for _, r := range rows {
		if r.table == table {
			out = append(out, r)
		}
	}
	return out
}

// field returns the rendered value of column col in a dumped row.
func field(row, col string) (string, bool) {
	for _, kv := range strings.Split(row, " ") {
		if v, ok := strings.CutPrefix(kv, col+"="); ok {
			return v, true
		}
	}
	return "", false
}

func pendingKeys(t *testing.T, s store.Reader, after store.RecordKey, limit int64) []store.PendingRecord {
	t.Helper()
	var out []store.PendingRecord
	check(t, s.PendingRecords(ctx, after, limit, func(r store.PendingRecord) error {
		out = append(out, r)
		return nil
	}), "PendingRecords(after %+v, limit %d)", after, limit)
	return out
}

func rk(j uint64, o uint32) store.RecordKey { return store.RecordKey{JournalIndex: j, Ordinal: o} }

func pending(j uint64, o uint32, data string, retain archive.Time) store.PendingRecord {
	return store.PendingRecord{Key: store.RecordKey{JournalIndex: j, Ordinal: o}, Hash: archive.Hash([]byte(data)),
		Data: []byte(data), RetainUntil: retain, CreatedAt: ms(int64(j))}
}

func wantPending(t *testing.T, got, want store.PendingRecord) {
	t.Helper()
	if got.Key != want.Key || got.Hash != want.Hash || !bytes.Equal(got.Data, want.Data) ||
		got.RetainUntil.Millis() != want.RetainUntil.Millis() || got.CreatedAt.Millis() != want.CreatedAt.Millis() {
		t.Fatalf("pending record %+v:\n got %+v %q\nwant %+v %q", want.Key, got, got.Data, want, want.Data)
	}
}

func consentOf(t *testing.T, s store.Reader, ext string) []store.ConsentRow {
	t.Helper()
	c, err := s.Consent(ctx, ext)
	check(t, err, "Consent(%q)", ext)
	return c
}

func rejects(t *testing.T, s store.Reader) []store.RejectRow {
	t.Helper()
	var out []store.RejectRow
	check(t, s.Rejects(ctx, func(r store.RejectRow) error { out = append(out, r); return nil }), "Rejects")
	return out
}

func packs(t *testing.T, s store.Reader) []store.PackRow {
	t.Helper()
	var out []store.PackRow
	check(t, s.Packs(ctx, func(p store.PackRow) error { out = append(out, p); return nil }), "Packs")
	return out
}

func segments(t *testing.T, s store.Reader) []store.SegmentRow {
	t.Helper()
	var out []store.SegmentRow
	check(t, s.Segments(ctx, func(r store.SegmentRow) error { out = append(out, r); return nil }), "Segments")
	return out
}

func checkpoints(t *testing.T, s store.Reader) []store.CheckpointRow {
	t.Helper()
	var out []store.CheckpointRow
	check(t, s.Checkpoints(ctx, func(c store.CheckpointRow) error { out = append(out, c); return nil }), "Checkpoints")
	return out
}

type leafRow struct {
	index      uint64
	hash, leaf []byte
}

func leaves(t *testing.T, s store.Reader, begin, end uint64) []leafRow {
	t.Helper()
	var out []leafRow
	check(t, s.Leaves(ctx, begin, end, func(i uint64, h, l []byte) error {
		out = append(out, leafRow{i, bytes.Clone(h), bytes.Clone(l)})
		return nil
	}), "Leaves(%d, %d)", begin, end)
	return out
}

// populate writes one of everything, primary and projection, and returns
// what it wrote for comparison.
type populated struct {
	tree    *journal.Tree
	msg     store.MessageRow
	atts    []store.AttachmentRow
	pending store.PendingRecord
	cp      store.CheckpointRow
	seg     store.SegmentRow
	reject  store.RejectRow
	pack    store.PackRow
}

func populate(t *testing.T, s store.Store) populated {
	t.Helper()
	p := populated{tree: journal.NewTree()}
	p.msg = msgRow(1, "src:a", "m1")
	p.msg.Participants = []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "wmExt1", Kind: archive.ParticipantExternal}}
	p.msg.Attachments = 1
	p.atts = []store.AttachmentRow{{Serial: 1, Ordinal: 0, Attachment: archive.Attachment{Role: "file", Blob: archive.Hash([]byte("att")),
		Size: 3, MediaType: "application/pdf", FileName: "a.pdf", Status: archive.AttachmentFetched}}}
	p.pending = pending(3, 0, "pending raw", ms(99))
	p.reject = store.RejectRow{JournalIndex: 5, Time: ms(5), Source: "src:a", Origin: "file:f line 2", Field: "msgid",
		Reason: "missing", RawHash: archive.Hash([]byte("bad")), RawSize: 3, InputHash: archive.Hash([]byte("bad")), InputSize: 3}
	p.pack = store.PackRow{Blob: archive.Hash([]byte("pack")), First: 1, Last: 2, Count: 4, Bytes: 400, RetainUntil: ms(99), JournalIndex: 6}
	write(t, s, func(tx store.Tx) {
		appendLeaves(t, tx, p.tree, 0, 20)
		p.cp = store.CheckpointRow{Size: 20, Time: ms(20), Note: []byte("checkpoint note 20\n")}
		check(t, tx.PutCheckpoint(ctx, p.cp), "PutCheckpoint")
		check(t, tx.SetNextSerial(ctx, 4), "SetNextSerial")
		check(t, tx.PutPending(ctx, p.pending), "PutPending")
		p.seg = store.SegmentRow{First: 0, End: 20, Blob: archive.Hash([]byte("segment")), SealedAt: ms(30)}
		check(t, tx.PutSegment(ctx, p.seg), "PutSegment")
		index(t, tx, p.msg, p.atts...)
		index(t, tx, recallRow(2, "src:a", "r2", "m1"))
		c := msgRow(3, "src:a", "agree3")
		c.Kind, c.SourceType = archive.KindAgree, "agree"
		c.Participants = []archive.Participant{{ID: "wmExt1", Kind: archive.ParticipantExternal}, {ID: "zhangwei", Kind: archive.ParticipantEmployee}}
		c.Consent = &archive.Consent{ExternalID: "wmExt1", Agreed: true, At: ms(3)}
		index(t, tx, c)
		check(t, tx.IndexReject(ctx, p.reject), "IndexReject")
		check(t, tx.IndexPack(ctx, p.pack), "IndexPack")
		check(t, tx.IndexParticipant(ctx, store.ParticipantRow{ParticipantEvent: archive.ParticipantEvent{ID: "zhangwei",
			Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: ms(0)}, JournalIndex: 7}), "IndexParticipant")
	})
	return p
}

// ---- tests -------------------------------------------------------------------

func testEmptyStore(t *testing.T, s store.Store) {
	if h := head(t, s); h != (store.Head{NextSerial: 1}) {
		t.Fatalf("Head of an empty store = %+v, want {NextSerial: 1}", h)
	}
	if c := counts(t, s); c != (store.Counts{}) {
		t.Fatalf("Counts of an empty store = %+v", c)
	}
	if d := dump(t, s); len(d) != 0 {
		t.Fatalf("DumpProjection of an empty store has %d rows", len(d))
	}
	_, err := s.LatestCheckpoint(ctx)
	wantNotFound(t, err, "LatestCheckpoint on an empty store")
	if l := leaves(t, s, 0, 100); len(l) != 0 {
		t.Fatalf("Leaves of an empty store: %d", len(l))
	}
	if p := pendingKeys(t, s, store.RecordKey{}, 0); len(p) != 0 {
		t.Fatalf("PendingRecords of an empty store: %d", len(p))
	}
	if r, err := journal.RootAt(ctx, s, 0); err != nil || !bytes.Equal(r, journal.EmptyRoot()) {
		t.Fatalf("RootAt(0) = %x, %v", r, err)
	}
}

func testCommitMakesVisible(t *testing.T, s store.Store) {
	p := populate(t, s)
	h := head(t, s)
	if h != (store.Head{JournalSize: 20, NextSerial: 4, CheckpointSize: 20, SealedSize: 20}) {
		t.Fatalf("Head after commit = %+v", h)
	}
	if n := len(leaves(t, s, 0, 20)); n != 20 {
		t.Fatalf("Leaves after commit: %d, want 20", n)
	}
	root, err := journal.RootAt(ctx, s, 20)
	check(t, err, "RootAt(20) over the committed store")
	if !bytes.Equal(root, p.tree.Root()) {
		t.Fatalf("RootAt(20) = %x, tree says %x", root, p.tree.Root())
	}
	recalled := p.msg
	recalled.RecalledBy = 2 // by the recall populate indexes after it
	wantMessage(t, message(t, s, 1), recalled)
	got, err := s.PendingRecord(ctx, p.pending.Key)
	check(t, err, "PendingRecord")
	wantPending(t, got, p.pending)
	cp, err := s.LatestCheckpoint(ctx)
	check(t, err, "LatestCheckpoint")
	if cp.Size != 20 || !bytes.Equal(cp.Note, p.cp.Note) || cp.Time.Millis() != p.cp.Time.Millis() {
		t.Fatalf("LatestCheckpoint = %+v", cp)
	}
	want := store.Counts{Messages: 3, Recalled: 1, Attachments: 1, Rejects: 1, PendingRecords: 1, Packs: 1, Segments: 1, Checkpoints: 1}
	if c := counts(t, s); c != want {
		t.Fatalf("Counts = %+v, want %+v", c, want)
	}
	if d := dump(t, s); len(d) == 0 {
		t.Fatal("DumpProjection is empty after commit")
	}
}

func testRollbackLeavesNothing(t *testing.T, s store.Store) {
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	tree := journal.NewTree()
	appendLeaves(t, tx, tree, 0, 17)
	check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 17, Time: ms(1), Note: []byte("n")}), "PutCheckpoint")
	check(t, tx.SetNextSerial(ctx, 9), "SetNextSerial")
	check(t, tx.PutPending(ctx, pending(1, 0, "raw", ms(5))), "PutPending")
	check(t, tx.PutSegment(ctx, store.SegmentRow{First: 0, End: 17, Blob: archive.Hash([]byte("s")), SealedAt: ms(1)}), "PutSegment")
	m := msgRow(1, "src:a", "m1")
	m.Participants = []archive.Participant{{ID: "rolled-back-party", Kind: archive.ParticipantExternal}}
	index(t, tx, m)
	index(t, tx, recallRow(2, "src:a", "r1", "m1"))
	check(t, tx.IndexReject(ctx, rejectRow(3, "o", archive.Hash([]byte("r")))), "IndexReject")
	check(t, tx.IndexPack(ctx, store.PackRow{Blob: archive.Hash([]byte("p")), First: 1, Last: 1, Count: 1, RetainUntil: ms(5), JournalIndex: 4}), "IndexPack")
	check(t, tx.IndexParticipant(ctx, store.ParticipantRow{ParticipantEvent: archive.ParticipantEvent{ID: "x", Kind: archive.ParticipantEmployee, ValidFrom: ms(0)}, JournalIndex: 5}), "IndexParticipant")
	check(t, tx.Rollback(), "Rollback")

	if h := head(t, s); h != (store.Head{NextSerial: 1}) {
		t.Fatalf("Head after rollback = %+v", h)
	}
	if c := counts(t, s); c != (store.Counts{}) {
		t.Fatalf("Counts after rollback = %+v", c)
	}
	if d := dump(t, s); len(d) != 0 {
		t.Fatalf("DumpProjection after rollback: %v", d)
	}
	if l := leaves(t, s, 0, 100); len(l) != 0 {
		t.Fatalf("%d journal leaves after rollback", len(l))
	}
	_, err = s.PendingRecord(ctx, store.RecordKey{JournalIndex: 1})
	wantNotFound(t, err, "PendingRecord after rollback")
	_, err = s.Message(ctx, 1)
	wantNotFound(t, err, "Message after rollback")
	_, err = s.LatestCheckpoint(ctx)
	wantNotFound(t, err, "LatestCheckpoint after rollback")
	if got, err := s.StoredNodes(ctx, 4, 0, 1); err == nil && len(got) > 0 {
		t.Fatal("StoredNodes(4, 0, 1) after rollback: a rolled-back tree node is visible")
	}
	if n := len(segments(t, s)); n != 0 {
		t.Fatalf("%d segments after rollback", n)
	}

	// Rollback released the write lock, and caches (if any) did not keep
	// what was rolled back: the same rows commit again, participants too.
	write(t, s, func(tx store.Tx) {
		if h, err := tx.Head(ctx); err != nil || h.JournalSize != 0 {
			t.Fatalf("Tx.Head after rollback = %+v, %v", h, err)
		}
		appendLeaves(t, tx, journal.NewTree(), 0, 17)
		index(t, tx, m)
	})
	parties := tableRows(dump(t, s), "parties")
	if len(parties) != 1 || !strings.Contains(parties[0].key, "rolled-back-party") {
		t.Fatalf("parties after rollback and re-commit = %v, want the participant once", parties)
	}
	// Rollback after Commit is harmless (deferred Rollback pattern).
	tx, err = s.Begin(ctx)
	check(t, err, "Begin")
	check(t, tx.Commit(), "Commit of an empty tx")
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
}

func testTxSeesOwnWrites(t *testing.T, s store.Store) {
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx.Rollback()
	tree := journal.NewTree()
	appendLeaves(t, tx, tree, 0, 33)
	check(t, tx.SetNextSerial(ctx, 3), "SetNextSerial")
	check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 33, Time: ms(1), Note: []byte("n")}), "PutCheckpoint")
	h, err := tx.Head(ctx)
	check(t, err, "Tx.Head")
	if h != (store.Head{JournalSize: 33, NextSerial: 3, CheckpointSize: 33}) {
		t.Fatalf("Tx.Head = %+v", h)
	}
	// The engine reloads its tree through the transaction.
	root, err := journal.RootAt(ctx, tx, 33)
	check(t, err, "RootAt(33) through the tx")
	if !bytes.Equal(root, tree.Root()) {
		t.Fatal("RootAt through the tx differs from the tree")
	}
	index(t, tx, msgRow(1, "src:a", "m1"))
	got, err := tx.LookupMessages(ctx, "src:a", []string{"m1"})
	check(t, err, "LookupMessages")
	if len(got["m1"]) != 1 || got["m1"][0].Serial != 1 {
		t.Fatalf("LookupMessages in the writing tx = %+v", got)
	}
	rej := rejectRow(2, "o", archive.Hash([]byte("r")))
	check(t, tx.IndexReject(ctx, rej), "IndexReject")
	rk, err := tx.LookupRejects(ctx, []store.RejectKey{{Input: rej.InputHash, Origin: "o"}})
	check(t, err, "LookupRejects")
	if rk[store.RejectKey{Input: rej.InputHash, Origin: "o"}] != 2 {
		t.Fatalf("LookupRejects in the writing tx = %v", rk)
	}
	// Readers see only committed state.
	if h := head(t, s); h != (store.Head{NextSerial: 1}) {
		t.Fatalf("reader Head during an open tx = %+v", h)
	}
	if _, err := s.Message(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reader sees an uncommitted message: %v", err)
	}
	check(t, tx.Commit(), "Commit")
	if h := head(t, s); h.JournalSize != 33 {
		t.Fatalf("reader Head after commit = %+v", h)
	}
}

func testBeginWaits(t *testing.T, s store.Store) {
	tx1, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx1.Rollback()
	appendLeaves(t, tx1, journal.NewTree(), 0, 1)
	type begun struct {
		tx  store.Tx
		err error
	}
	second := make(chan begun, 1)
	go func() {
		tx, err := s.Begin(ctx)
		second <- begun{tx, err}
	}()
	select {
	case b := <-second:
		if b.tx != nil {
			b.tx.Rollback()
		}
		t.Fatalf("second Begin returned (err %v) while the first tx was open: exactly one Tx writes at a time", b.err)
	case <-time.After(200 * time.Millisecond):
	}
	check(t, tx1.Commit(), "Commit")
	var b begun
	select {
	case b = <-second:
	case <-time.After(20 * time.Second):
		t.Fatal("second Begin still waiting after the first committed")
	}
	check(t, b.err, "second Begin (it must wait, not fail)")
	defer b.tx.Rollback()
	h, err := b.tx.Head(ctx)
	check(t, err, "Tx.Head")
	if h.JournalSize != 1 {
		t.Fatalf("second tx does not see the first's commit: %+v", h)
	}
}

func testHead(t *testing.T, s store.Store) {
	tree := journal.NewTree()
	write(t, s, func(tx store.Tx) {
		appendLeaves(t, tx, tree, 0, 5)
		check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 5, Time: ms(5), Note: []byte("5")}), "PutCheckpoint")
		check(t, tx.SetNextSerial(ctx, 4), "SetNextSerial")
	})
	if h := head(t, s); h != (store.Head{JournalSize: 5, NextSerial: 4, CheckpointSize: 5}) {
		t.Fatalf("Head = %+v", h)
	}
	write(t, s, func(tx store.Tx) {
		appendLeaves(t, tx, tree, 5, 12)
		check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 9, Time: ms(9), Note: []byte("9")}), "PutCheckpoint")
		check(t, tx.PutSegment(ctx, store.SegmentRow{First: 0, End: 5, Blob: archive.Hash([]byte("a")), SealedAt: ms(9)}), "PutSegment")
		check(t, tx.SetNextSerial(ctx, 11), "SetNextSerial")
	})
	if h := head(t, s); h != (store.Head{JournalSize: 12, NextSerial: 11, CheckpointSize: 9, SealedSize: 5}) {
		t.Fatalf("Head = %+v", h)
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.PutSegment(ctx, store.SegmentRow{First: 5, End: 9, Blob: archive.Hash([]byte("b")), SealedAt: ms(10)}), "PutSegment")
		check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 12, Time: ms(12), Note: []byte("12")}), "PutCheckpoint")
	})
	if h := head(t, s); h != (store.Head{JournalSize: 12, NextSerial: 11, CheckpointSize: 12, SealedSize: 9}) {
		t.Fatalf("Head = %+v", h)
	}
}

func testLookupMessages(t *testing.T, s store.Store) {
	a1 := msgRow(5, "src:a", "x")
	a2 := msgRow(7, "src:a", "x")
	a2.Version, a2.ConflictsWith, a2.RawHash = 2, 5, archive.Hash([]byte("x v2"))
	a3 := msgRow(9, "src:a", "x")
	a3.Version, a3.ConflictsWith, a3.RawHash = 3, 5, archive.Hash([]byte("x v3"))
	b1 := msgRow(6, "src:b", "x")
	y := msgRow(8, "src:a", "y")
	write(t, s, func(tx store.Tx) {
		// Not in version order on purpose.
		index(t, tx, a3)
		index(t, tx, b1)
		index(t, tx, a1)
		index(t, tx, y)
		index(t, tx, a2)
	})
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx.Rollback()
	got, err := tx.LookupMessages(ctx, "src:a", []string{"x", "y", "zzz", "x"})
	check(t, err, "LookupMessages")
	want := []store.Version{{Serial: 5, Version: 1, Raw: a1.RawHash, JournalIndex: 1005}, {Serial: 7, Version: 2, Raw: a2.RawHash, JournalIndex: 1007},
		{Serial: 9, Version: 3, Raw: a3.RawHash, JournalIndex: 1009}}
	if !reflect.DeepEqual(got["x"], want) {
		t.Fatalf("src:a x versions = %+v, want %+v", got["x"], want)
	}
	if w := []store.Version{{Serial: 8, Version: 1, Raw: y.RawHash, JournalIndex: 1008}}; !reflect.DeepEqual(got["y"], w) {
		t.Fatalf("src:a y versions = %+v, want %+v", got["y"], w)
	}
	if len(got["zzz"]) != 0 {
		t.Fatalf("unknown id has versions %+v", got["zzz"])
	}
	gotB, err := tx.LookupMessages(ctx, "src:b", []string{"x", "y"})
	check(t, err, "LookupMessages")
	if w := []store.Version{{Serial: 6, Version: 1, Raw: b1.RawHash, JournalIndex: 1006}}; !reflect.DeepEqual(gotB["x"], w) {
		t.Fatalf("src:b x versions = %+v, want %+v (another source's versions must not leak)", gotB["x"], w)
	}
	if len(gotB["y"]) != 0 {
		t.Fatalf("src:b y = %+v, but y exists only in src:a", gotB["y"])
	}
	none, err := tx.LookupMessages(ctx, "src:c", nil)
	check(t, err, "LookupMessages with no ids")
	if len(none) != 0 {
		t.Fatalf("LookupMessages(no ids) = %v", none)
	}
}

func testLookupManyIDs(t *testing.T, s store.Store) {
	a1 := msgRow(5, "src:a", "x")
	a2 := msgRow(7, "src:a", "x")
	a2.Version, a2.ConflictsWith, a2.RawHash = 2, 5, archive.Hash([]byte("x v2"))
	a3 := msgRow(9, "src:a", "x")
	a3.Version, a3.ConflictsWith, a3.RawHash = 3, 5, archive.Hash([]byte("x v3"))
	y := msgRow(8, "src:a", "y")
	write(t, s, func(tx store.Tx) {
		for _, m := range []store.MessageRow{a3, a1, y, a2} {
			index(t, tx, m)
		}
	})
	want := []store.Version{{Serial: 5, Version: 1, Raw: a1.RawHash, JournalIndex: 1005}, {Serial: 7, Version: 2, Raw: a2.RawHash, JournalIndex: 1007},
		{Serial: 9, Version: 3, Raw: a3.RawHash, JournalIndex: 1009}}
	tx := mustTx(t, s)
	// A batch names many ids, some several times (a re-delivered message
	// in one batch): each id's versions come back once, whatever the
	// adapter's batching of the lookup.
	var many []string
	for i := 0; i < 1000; i++ {
		switch i {
		case 0, 1, 199, 200, 201, 450, 999:
			many = append(many, "x")
		case 300, 700:
			many = append(many, "y")
		default:
			many = append(many, fmt.Sprint("filler-", i))
		}
	}
	got, err := tx.LookupMessages(ctx, "src:a", many)
	check(t, err, "LookupMessages of %d ids", len(many))
	if !reflect.DeepEqual(got["x"], want) {
		t.Fatalf("LookupMessages of 1000 ids naming x 7 times: x = %+v, want %+v (each version once)", got["x"], want)
	}
	if len(got["y"]) != 1 {
		t.Fatalf("LookupMessages of 1000 ids naming y twice: y = %+v, want one version", got["y"])
	}
	for id, vs := range got {
		if id != "x" && id != "y" && len(vs) != 0 {
			t.Fatalf("LookupMessages: unknown id %q has versions %+v", id, vs)
		}
	}
}

func testLookupRejects(t *testing.T, s store.Store) {
	r1, r2 := archive.Hash([]byte("bad one")), archive.Hash([]byte("bad two"))
	// An oversize input kept truncated: its identity is the whole input's
	// hash, not that of the kept prefix.
	prefix, whole := archive.Hash([]byte("long input, kept part")), archive.Hash([]byte("long input, kept part and the rest"))
	write(t, s, func(tx store.Tx) {
		for _, r := range []store.RejectRow{
			rejectRow(7, "file:a line 1", r1),
			rejectRow(3, "file:a line 1", r1),
			rejectRow(4, "file:b line 1", r2),
			{JournalIndex: 5, Time: ms(5), Source: "s", Origin: "file:c line 1", Reason: "too large", RawHash: prefix, RawSize: 21,
				InputHash: whole, InputSize: 1 << 30},
		} {
			check(t, tx.IndexReject(ctx, r), "IndexReject")
		}
	})
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx.Rollback()
	keys := []store.RejectKey{
		{Input: r1, Origin: "file:a line 1"}, // quarantined twice: the first
		{Input: r1, Origin: "file:b line 1"}, // same bytes, other origin: not known
		{Input: r2, Origin: "file:b line 1"},
		{Input: r2, Origin: "file:a line 1"},
		{Input: archive.Hash([]byte("never")), Origin: "file:a line 1"},
		{Input: whole, Origin: "file:c line 1"},
		{Input: prefix, Origin: "file:c line 1"}, // another input sharing the kept prefix
	}
	got, err := tx.LookupRejects(ctx, keys)
	check(t, err, "LookupRejects")
	want := map[store.RejectKey]uint64{keys[0]: 3, keys[2]: 4, keys[5]: 5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupRejects = %v, want %v", got, want)
	}
}

func rejectRow(j uint64, origin string, raw archive.BlobID) store.RejectRow {
	return store.RejectRow{JournalIndex: j, Time: ms(int64(j)), Source: "s", Origin: origin, Reason: "x",
		RawHash: raw, RawSize: 7, InputHash: raw, InputSize: 7}
}

func testLeafNodes(t *testing.T, s store.Store) {
	var hashes [][]byte
	write(t, s, func(tx store.Tx) {
		for i := uint64(0); i < 10; i++ {
			h, l := makeLeaf(t, i)
			hashes = append(hashes, h)
			check(t, tx.AppendLeaf(ctx, i, h, l), "AppendLeaf")
		}
	})
	tx := mustTx(t, s)
	for _, r := range []journal.NodeReader{s, tx} {
		got, err := r.StoredNodes(ctx, 0, 3, 8)
		check(t, err, "StoredNodes(0, 3, 8)")
		if !reflect.DeepEqual(got, hashes[3:8]) {
			t.Fatalf("StoredNodes(0, 3, 8) = %x, want %x", got, hashes[3:8])
		}
	}
	// A leaf index is written once.
	h, l := makeLeaf(t, 4)
	if err := tx.AppendLeaf(ctx, 4, h, l); err == nil {
		t.Fatal("AppendLeaf over an existing index succeeded: journal leaves are write-once")
	}
}

// mustTx begins a transaction that is rolled back at the end of the test.
func mustTx(t *testing.T, s store.Store) store.Tx {
	t.Helper()
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

func testTreeNodes(t *testing.T, s store.Store) {
	tree := journal.NewTree()
	var level4 []journal.Node
	write(t, s, func(tx store.Tx) {
		for i := uint64(0); i < 40; i++ {
			h, l := makeLeaf(t, i)
			check(t, tx.AppendLeaf(ctx, i, h, l), "AppendLeaf")
			tree.Append(h, func(n journal.Node) {
				if n.Level == 4 {
					level4 = append(level4, n)
				}
				check(t, tx.PutNode(ctx, n), "PutNode")
			})
		}
	})
	if len(level4) != 2 {
		t.Fatalf("a 40-leaf tree completes %d level-4 nodes, want 2", len(level4))
	}
	tx := mustTx(t, s)
	for _, r := range []journal.NodeReader{s, tx} {
		got, err := r.StoredNodes(ctx, 4, 0, 2)
		check(t, err, "StoredNodes(4, 0, 2)")
		if !bytes.Equal(got[0], level4[0].Hash) || !bytes.Equal(got[1], level4[1].Hash) {
			t.Fatalf("StoredNodes(4, 0, 2) = %x, want %x %x", got, level4[0].Hash, level4[1].Hash)
		}
		got, err = r.StoredNodes(ctx, 4, 1, 2)
		check(t, err, "StoredNodes(4, 1, 2)")
		if len(got) != 1 || !bytes.Equal(got[0], level4[1].Hash) {
			t.Fatalf("StoredNodes(4, 1, 2) = %x", got)
		}
		for _, size := range []uint64{1, 16, 17, 32, 39, 40} {
			root, err := journal.RootAt(ctx, r, size)
			check(t, err, "RootAt(%d)", size)
			want := journal.NewTree()
			for i := uint64(0); i < size; i++ {
				h, _ := makeLeaf(t, i)
				want.Append(h, nil)
			}
			if !bytes.Equal(root, want.Root()) {
				t.Fatalf("RootAt(%d) from stored nodes differs from the recomputed root", size)
			}
		}
	}
	// A node is written once.
	if err := tx.PutNode(ctx, level4[0]); err == nil {
		t.Fatal("PutNode over an existing node succeeded")
	}
}

func testMissingNodes(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		for _, i := range []uint64{0, 1, 2, 3, 5, 6, 7} { // leaf 4 missing
			h, l := makeLeaf(t, i)
			check(t, tx.AppendLeaf(ctx, i, h, l), "AppendLeaf")
		}
		for _, i := range []uint64{0, 2} { // level-4 node 1 missing
			check(t, tx.PutNode(ctx, journal.Node{Level: 4, Index: i, Hash: bytes.Repeat([]byte{byte(i + 1)}, 32)}), "PutNode")
		}
	})
	// The engine reads nodes through its transaction; proofs and verify
	// read them through the Reader. Both must report a gap, not return
	// fewer hashes than asked for (journal.NodeReader contract).
	for _, name := range []string{"tx", "reader"} {
		t.Run(name, func(t *testing.T) {
			var r journal.NodeReader = s
			if name == "tx" {
				r = mustTx(t, s)
			}
			if name == "reader" {
			}
			for _, c := range []struct {
				level      uint
				begin, end uint64
			}{{0, 0, 8}, {0, 4, 5}, {0, 6, 9}, {4, 0, 3}, {4, 1, 2}, {4, 2, 4}, {8, 0, 1}} {
				got, err := r.StoredNodes(ctx, c.level, c.begin, c.end)
				if !errors.Is(err, journal.ErrMissingNode) {
					t.Errorf("StoredNodes(%d, %d, %d) = %d hashes, err %v; want an error matching journal.ErrMissingNode",
						c.level, c.begin, c.end, len(got), err)
				}
			}
			if _, err := journal.RootAt(ctx, r, 8); !errors.Is(err, journal.ErrMissingNode) {
				t.Errorf("RootAt(8) over a journal with a gap: err %v, want journal.ErrMissingNode", err)
			}
		})
	}
}

func testLeaves(t *testing.T, s store.Store) {
	want := map[uint64][]byte{}
	write(t, s, func(tx store.Tx) {
		for _, i := range []uint64{11, 3, 0, 9, 10, 1, 2, 4, 5, 6, 7, 8} { // inserted out of order
			h, l := makeLeaf(t, i)
			want[i] = l
			check(t, tx.AppendLeaf(ctx, i, h, l), "AppendLeaf")
		}
	})
	for _, c := range []struct{ begin, end, first, n uint64 }{
		{0, 12, 0, 12}, {3, 7, 3, 4}, {10, 100, 10, 2}, {5, 5, 0, 0}, {12, 20, 0, 0}, {0, 1, 0, 1},
	} {
		got := leaves(t, s, c.begin, c.end)
		if uint64(len(got)) != c.n {
			t.Fatalf("Leaves(%d, %d) = %d leaves, want %d", c.begin, c.end, len(got), c.n)
		}
		for k, l := range got {
			if l.index != c.first+uint64(k) {
				t.Fatalf("Leaves(%d, %d): leaf %d has index %d, want %d (in order)", c.begin, c.end, k, l.index, c.first+uint64(k))
			}
			if !bytes.Equal(l.leaf, want[l.index]) || !bytes.Equal(l.hash, journal.LeafHash(want[l.index])) {
				t.Fatalf("Leaves: leaf %d differs from what was appended", l.index)
			}
			if _, err := journal.ParseLeaf(l.index, l.leaf); err != nil {
				t.Fatalf("leaf %d read back is not canonical: %v", l.index, err)
			}
		}
	}
}

func testCheckpoints(t *testing.T, s store.Store) {
	notes := map[uint64][]byte{}
	write(t, s, func(tx store.Tx) {
		for _, size := range []uint64{30, 4, 17, 9, 100} {
			notes[size] = []byte(fmt.Sprintf("origin\n%d\nroot\n\n— sig 签名 %d\n", size, size))
			check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: size, Time: ms(int64(size)), Note: notes[size]}), "PutCheckpoint")
		}
	})
	got := checkpoints(t, s)
	var sizes []uint64
	for _, c := range got {
		sizes = append(sizes, c.Size)
		if !bytes.Equal(c.Note, notes[c.Size]) || c.Time.Millis() != ms(int64(c.Size)).Millis() {
			t.Fatalf("checkpoint %d = %+v", c.Size, c)
		}
	}
	if !reflect.DeepEqual(sizes, []uint64{4, 9, 17, 30, 100}) {
		t.Fatalf("Checkpoints sizes = %v, want increasing", sizes)
	}
	latest, err := s.LatestCheckpoint(ctx)
	check(t, err, "LatestCheckpoint")
	if latest.Size != 100 || !bytes.Equal(latest.Note, notes[100]) {
		t.Fatalf("LatestCheckpoint = %+v", latest)
	}
	// A checkpoint size is written once.
	tx := mustTx(t, s)
	if err := tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 17, Time: ms(1), Note: []byte("other")}); err == nil {
		t.Fatal("PutCheckpoint over an existing size succeeded")
	}
}

func testPending(t *testing.T, s store.Store) {
	ruA, ruB := ms(86400000), ms(2*86400000)
	recs := []store.PendingRecord{
		pending(12, 1, "twelve normalized", ruA),
		pending(0, 0, "zero raw", ruA), // journal index 0 may carry records (no archive.created)
		pending(3, 1, "three normalized 保本", ruB),
		pending(3, 0, "three raw", ruB),
		pending(12, 0, "twelve raw", ruA),
		pending(7, 0, "", ruA), // an empty record is still a record
	}
	write(t, s, func(tx store.Tx) {
		for _, r := range recs {
			check(t, tx.PutPending(ctx, r), "PutPending %+v", r.Key)
		}
	})
	for _, r := range recs {
		got, err := s.PendingRecord(ctx, r.Key)
		check(t, err, "PendingRecord(%+v)", r.Key)
		wantPending(t, got, r)
	}
	order := []store.RecordKey{rk(0, 0), rk(3, 0), rk(3, 1), rk(7, 0), rk(12, 0), rk(12, 1)}
	keysOf := func(rs []store.PendingRecord) []store.RecordKey {
		var out []store.RecordKey
		for _, r := range rs {
			out = append(out, r.Key)
		}
		return out
	}
	if got := keysOf(pendingKeys(t, s, store.RecordKey{}, 0)); !reflect.DeepEqual(got, order) {
		t.Fatalf("PendingRecords(from the start) keys = %v, want %v", got, order)
	}
	for i, after := range order {
		got := keysOf(pendingKeys(t, s, after, 0))
		if i == 0 {
			// The zero key means "from the start" (the sealer passes it).
			continue
		}
		if want := order[i+1:]; !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("PendingRecords(after %v) keys = %v, want %v", after, got, want)
		}
	}
	if got := keysOf(pendingKeys(t, s, store.RecordKey{JournalIndex: 5}, 0)); !reflect.DeepEqual(got, order[3:]) {
		t.Fatalf("PendingRecords(after absent key 5/0) = %v, want %v", got, order[3:])
	}
	for _, r := range pendingKeys(t, s, store.RecordKey{}, 0) {
		for _, w := range recs {
			if w.Key == r.Key {
				wantPending(t, r, w)
			}
		}
	}
	// A key is written once.
	tx := mustTx(t, s)
	if err := tx.PutPending(ctx, pending(3, 0, "other bytes", ruA)); err == nil {
		t.Fatal("PutPending over an existing key succeeded: records are write-once")
	}
}

func testPendingLimit(t *testing.T, s store.Store) {
	var all []store.PendingRecord
	write(t, s, func(tx store.Tx) {
		for j := uint64(1); j <= 10; j++ {
			for o := uint32(0); o < 2; o++ {
				r := pending(j, o, strings.Repeat(string(rune('a'+j)), 100), ms(86400000))
				all = append(all, r)
				check(t, tx.PutPending(ctx, r), "PutPending")
			}
		}
	})
	for _, limit := range []int64{1, 100, 150, 250, 1000, 1999, 2000, 5000} {
		got := pendingKeys(t, s, store.RecordKey{}, limit)
		if len(got) == 0 {
			t.Fatalf("limit %d: nothing delivered; a limit below one record must still deliver one (the sealer needs progress)", limit)
		}
		var total, beforeLast int64
		for i, r := range got {
			if r.Key != all[i].Key {
				t.Fatalf("limit %d: record %d is %+v, want %+v (a prefix in key order)", limit, i, r.Key, all[i].Key)
			}
			beforeLast = total
			total += int64(len(r.Data))
		}
		if len(got) < len(all) && total < limit {
			t.Fatalf("limit %d: stopped after %d bytes with records left", limit, total)
		}
		if beforeLast >= limit {
			t.Fatalf("limit %d: delivered %d records (%d bytes): more than one record past the limit", limit, len(got), total)
		}
	}
	// Paging with after continues exactly where the previous page ended.
	var pages []store.PendingRecord
	after := store.RecordKey{}
	for n := 0; n < 100; n++ {
		page := pendingKeys(t, s, after, 350)
		if len(page) == 0 {
			break
		}
		pages = append(pages, page...)
		after = page[len(page)-1].Key
	}
	if len(pages) != len(all) {
		t.Fatalf("paging by 350 bytes delivered %d records, want %d", len(pages), len(all))
	}
	for i := range all {
		if pages[i].Key != all[i].Key {
			t.Fatalf("paging: record %d = %+v, want %+v", i, pages[i].Key, all[i].Key)
		}
	}
}

func testDeletePending(t *testing.T, s store.Store) {
	ruA, ruB := ms(86400000), ms(2*86400000)
	recs := []store.PendingRecord{
		pending(3, 0, "3/0", ruA), pending(3, 1, "3/1", ruA),
		pending(4, 0, "4/0", ruB), // inside the range, other retain-until: stays
		pending(5, 0, "5/0", ruA), pending(5, 1, "5/1", ruA),
		pending(6, 0, "6/0", ruA), // outside the range: stays
	}
	write(t, s, func(tx store.Tx) {
		for _, r := range recs {
			check(t, tx.PutPending(ctx, r), "PutPending")
		}
	})
	from, to := store.RecordKey{JournalIndex: 3}, store.RecordKey{JournalIndex: 5, Ordinal: 1}
	for _, want := range []int{3, 5, 0} {
		tx, err := s.Begin(ctx)
		check(t, err, "Begin")
		if err := tx.DeletePending(ctx, from, to, ruA, want); err == nil {
			t.Fatalf("DeletePending(3/0..5/1, want %d) succeeded though 4 rows match", want)
		}
		check(t, tx.Rollback(), "Rollback")
		if n := counts(t, s).PendingRecords; n != 6 {
			t.Fatalf("after a failed DeletePending and rollback, %d pending records, want 6", n)
		}
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.DeletePending(ctx, from, to, ruA, 4), "DeletePending(3/0..5/1, want 4)")
	})
	var keys []store.RecordKey
	for _, r := range pendingKeys(t, s, store.RecordKey{}, 0) {
		keys = append(keys, r.Key)
	}
	if want := []store.RecordKey{rk(4, 0), rk(6, 0)}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("pending after DeletePending = %v, want %v", keys, want)
	}
	_, err := s.PendingRecord(ctx, store.RecordKey{JournalIndex: 3, Ordinal: 1})
	wantNotFound(t, err, "PendingRecord of a deleted record")
	// Deleting again (another sealer got there first) must not go unnoticed.
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	defer tx.Rollback()
	if err := tx.DeletePending(ctx, from, to, ruA, 4); err == nil {
		t.Fatal("DeletePending of already deleted records succeeded")
	}
	if err := tx.DeletePending(ctx, store.RecordKey{JournalIndex: 4}, store.RecordKey{JournalIndex: 4}, ruB, 1); err != nil {
		t.Fatalf("DeletePending of one record (from == to): %v", err)
	}
}

func testSegments(t *testing.T, s store.Store) {
	segs := []store.SegmentRow{
		{First: 40, End: 41, Blob: archive.Hash([]byte("c")), SealedAt: ms(3)},
		{First: 0, End: 17, Blob: archive.Hash([]byte("a")), SealedAt: ms(1)},
		{First: 17, End: 40, Blob: archive.Hash([]byte("b")), SealedAt: ms(2)},
	}
	write(t, s, func(tx store.Tx) {
		for _, g := range segs {
			check(t, tx.PutSegment(ctx, g), "PutSegment")
		}
	})
	got := segments(t, s)
	want := []store.SegmentRow{segs[1], segs[2], segs[0]}
	if len(got) != len(want) {
		t.Fatalf("Segments = %+v", got)
	}
	for i := range want {
		if got[i].First != want[i].First || got[i].End != want[i].End || got[i].Blob != want[i].Blob || got[i].SealedAt.Millis() != want[i].SealedAt.Millis() {
			t.Fatalf("segment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if h := head(t, s); h.SealedSize != 41 {
		t.Fatalf("Head.SealedSize = %d, want 41", h.SealedSize)
	}
}

func testMessages(t *testing.T, s store.Store) {
	full := msgRow(1, "wecom-archive:ww1", "msg-full")
	full.ConvKind, full.Conversation = archive.ConversationGroup, "wrRoom1"
	full.Recipients = []string{"lina", "wmExt1", "wmExt2"}
	full.Direction = archive.DirectionOutbound
	full.Attachments, full.AttachFaults = 2, 1
	full.Origin = "api request 20240101T000000Z"
	full.TimeUnknown = true // msgtime 0: filed at its capture time
	empty := msgRow(2, "wecom-archive:ww1", "msg-no-recipients")
	empty.Recipients = []string{}
	empty.Origin, empty.Text, empty.Sender = "", "", ""
	empty.Direction, empty.ConvKind, empty.Conversation = archive.DirectionNone, archive.ConversationNone, ""
	nilRecips := msgRow(3, "wecom-archive:ww2", "msg-full") // same msgid, other source
	nilRecips.Recipients = nil
	write(t, s, func(tx store.Tx) {
		index(t, tx, full)
		index(t, tx, empty)
		index(t, tx, nilRecips)
	})
	wantMessage(t, message(t, s, 1), full)
	wantMessage(t, message(t, s, 2), empty)
	wantMessage(t, message(t, s, 3), nilRecips)
	// A search hit says when its time is the capture time.
	page := search(t, s, "message", store.SearchRequest{Limit: 10})
	if len(page.Hits) != 3 {
		t.Fatalf("search message: %d hits, want 3", len(page.Hits))
	}
	for _, h := range page.Hits {
		if h.TimeUnknown != (h.Serial == 1) {
			t.Fatalf("hit %d: TimeUnknown %v", h.Serial, h.TimeUnknown)
		}
	}
	rows, err := s.MessagesBySourceID(ctx, "msg-full")
	check(t, err, "MessagesBySourceID")
	if len(rows) != 2 {
		t.Fatalf("MessagesBySourceID(msg-full) = %d rows, want 2 (one per source)", len(rows))
	}
	wantMessage(t, rows[0], full)
	wantMessage(t, rows[1], nilRecips)
	for _, tc := range []struct {
		first, last uint64
		want        []store.MessageRow
	}{{1, 3, []store.MessageRow{full, empty, nilRecips}}, {2, 2, []store.MessageRow{empty}}, {2, 100, []store.MessageRow{empty, nilRecips}},
		{4, 9, nil}, {3, 1, nil}} {
		var got []store.MessageRow
		check(t, s.Messages(ctx, tc.first, tc.last, func(m store.MessageRow) error { got = append(got, m); return nil }), "Messages")
		if len(got) != len(tc.want) {
			t.Fatalf("Messages(%d, %d) = %d rows, want %d", tc.first, tc.last, len(got), len(tc.want))
		}
		for i := range got {
			wantMessage(t, got[i], tc.want[i])
		}
	}
}

func testAttachments(t *testing.T, s store.Store) {
	m := msgRow(4, "src:a", "with-files")
	atts := []store.AttachmentRow{
		{Serial: 4, Ordinal: 0, Attachment: archive.Attachment{Role: "file", Blob: archive.Hash([]byte("pdf")), Size: 3, DeclaredSize: 3,
			MediaType: "application/pdf", FileName: "合同 v2.pdf", SourceRef: "sdk/file+id==", SourceMD5: "0123456789abcdef0123456789abcdef",
			Status: archive.AttachmentFetched}},
		{Serial: 4, Ordinal: 1, Attachment: archive.Attachment{Role: "item[2]", Blob: archive.Hash([]byte("img")), Size: 3,
			MediaType: "image/jpeg", SourceRef: "img1", SourceMD5: "ffff", Status: archive.AttachmentMD5Mismatch, Reason: "md5 differs"}},
		{Serial: 4, Ordinal: 2, Attachment: archive.Attachment{Role: "voice", DeclaredSize: 2048, SourceRef: "voice1",
			Status: archive.AttachmentMissing, Reason: "media file not found"}},
	}
	m.Attachments, m.AttachFaults = 3, 2
	write(t, s, func(tx store.Tx) {
		index(t, tx, m, atts[2], atts[0], atts[1]) // order of arguments does not matter; ordinals do
		index(t, tx, msgRow(5, "src:a", "no-files"))
	})
	got, err := s.Attachments(ctx, 4)
	check(t, err, "Attachments(4)")
	if !reflect.DeepEqual(got, atts) {
		t.Fatalf("Attachments(4) =\n%+v\nwant\n%+v", got, atts)
	}
	if got, err := s.Attachments(ctx, 5); err != nil || len(got) != 0 {
		t.Fatalf("Attachments of a message without any = %+v, %v", got, err)
	}
	wantMessage(t, message(t, s, 4), m)
	c := counts(t, s)
	if c.Attachments != 3 || c.AttachFaults != 2 {
		t.Fatalf("Counts attachments %d faults %d, want 3 and 2", c.Attachments, c.AttachFaults)
	}

	// Media still to fetch: the missing voice (the md5 mismatch has bytes;
	// another source's and older captures are not listed).
	un, err := s.UnfetchedAttachments(ctx, "src:a", ms(4000), 10)
	check(t, err, "UnfetchedAttachments")
	if len(un) != 1 || un[0].Serial != 4 || un[0].Ordinal != 2 || un[0].SourceRef != "voice1" || un[0].SourceID != "with-files" ||
		un[0].Status != archive.AttachmentMissing || un[0].RetainUntil != m.RetainUntil || un[0].CapturedAt != m.CapturedAt {
		t.Fatalf("UnfetchedAttachments = %+v", un)
	}
	for _, q := range []struct {
		src   string
		since int64
	}{{"src:b", 0}, {"src:a", 4008}} {
		if un, err := s.UnfetchedAttachments(ctx, q.src, ms(q.since), 10); err != nil || len(un) != 0 {
			t.Fatalf("UnfetchedAttachments(%s, %d) = %+v, %v", q.src, q.since, un, err)
		}
	}
	// Fetched later: the attachment has its blob, the message one fault
	// less; the same event again changes nothing; an unknown one fails.
	voice := archive.AttachmentFetchedEvent{Serial: 4, Ordinal: 2, Blob: archive.Hash([]byte("amr")), Size: 2048, MediaType: "audio/amr", SourceRef: "voice1"}
	for range 2 {
		write(t, s, func(tx store.Tx) { check(t, tx.IndexAttachmentFetched(ctx, voice), "IndexAttachmentFetched") })
	}
	got, _ = s.Attachments(ctx, 4)
	if a := got[2]; a.Status != archive.AttachmentFetched || a.Blob != voice.Blob || a.Size != 2048 || a.MediaType != "audio/amr" || a.Reason != "" ||
		a.Role != "voice" || a.DeclaredSize != 2048 {
		t.Fatalf("fetched later: %+v", a)
	}
	if got := message(t, s, 4); got.AttachFaults != 1 {
		t.Fatalf("attach faults after the fetch: %d, want 1", got.AttachFaults)
	}
	if un, _ := s.UnfetchedAttachments(ctx, "src:a", ms(0), 10); len(un) != 0 {
		t.Fatalf("still unfetched: %+v", un)
	}
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	if err := tx.IndexAttachmentFetched(ctx, archive.AttachmentFetchedEvent{Serial: 4, Ordinal: 9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("IndexAttachmentFetched of an unknown attachment: %v", err)
	}
	tx.Rollback()
}

// testSnapshot: a snapshot reads the store as it was, whatever commits
// after it; releasing it lets the next one see the new state.
func testSnapshot(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) { index(t, tx, msgRow(1, "src:a", "before")) })
	snap, release, err := s.Snapshot(ctx)
	check(t, err, "Snapshot")
	write(t, s, func(tx store.Tx) {
		index(t, tx, msgRow(2, "src:a", "after"))
		check(t, tx.SetNextSerial(ctx, 3), "SetNextSerial")
	})
	if h, _ := snap.Head(ctx); h.NextSerial == 3 {
		t.Fatalf("snapshot head %+v sees a later commit", h)
	}
	if _, err := snap.Message(ctx, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snapshot sees a message committed after it: %v", err)
	}
	rows := 0
	check(t, snap.DumpProjection(ctx, func(table, _, _ string) error {
		if table == "messages" {
			rows++
		}
		return nil
	}), "DumpProjection")
	if rows != 1 {
		t.Fatalf("snapshot dump has %d messages, want 1", rows)
	}
	if _, err := s.Message(ctx, 2); err != nil {
		t.Fatalf("the store itself: %v", err)
	}
	check(t, release(), "release")
	snap, release, err = s.Snapshot(ctx)
	check(t, err, "Snapshot")
	defer release()
	if _, err := snap.Message(ctx, 2); err != nil {
		t.Fatalf("a new snapshot: %v", err)
	}
}

// testDirectory: a participant's directory facts hold from their
// valid_from until the next one; a lookup before the first knows nothing,
// and a correction journaled later for the same valid_from wins.
func testDirectory(t *testing.T, s store.Store) {
	fact := func(jidx uint64, id, dept string, from int64) store.ParticipantRow {
		return store.ParticipantRow{JournalIndex: jidx, ParticipantEvent: archive.ParticipantEvent{ID: id, Kind: archive.ParticipantEmployee,
			Name: "张伟", Department: dept, Title: "客户经理", ValidFrom: ms(from)}}
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.IndexParticipant(ctx, fact(3, "zhangwei", "财富管理部", 100)), "IndexParticipant")
		check(t, tx.IndexParticipant(ctx, fact(5, "zhangwei", "机构业务部", 200)), "IndexParticipant")
		check(t, tx.IndexParticipant(ctx, fact(9, "zhangwei", "私人银行部", 200)), "IndexParticipant") // correction
		check(t, tx.IndexParticipant(ctx, fact(4, "lina", "合规部", 50)), "IndexParticipant")
	})
	for _, tc := range []struct {
		id   string
		at   int64
		want string // department; "-" for unknown
	}{{"zhangwei", 99, "-"}, {"zhangwei", 100, "财富管理部"}, {"zhangwei", 199, "财富管理部"}, {"zhangwei", 200, "私人银行部"},
		{"zhangwei", 1 << 40, "私人银行部"}, {"lina", 60, "合规部"}, {"nobody", 1000, "-"}} {
		p, ok, err := s.Directory(ctx, tc.id, ms(tc.at))
		check(t, err, "Directory")
		got := "-"
		if ok {
			got = p.Department
			if p.ID != tc.id || p.Kind != archive.ParticipantEmployee || p.Name != "张伟" && tc.id == "zhangwei" {
				t.Fatalf("Directory(%s, %d) = %+v", tc.id, tc.at, p)
			}
		}
		if got != tc.want {
			t.Errorf("Directory(%s, %d) department %q, want %q", tc.id, tc.at, got, tc.want)
		}
	}
	// The whole history of some ids at once, ordered, for picking by time.
	var hist []string
	check(t, s.DirectoryHistory(ctx, []string{"zhangwei", "nobody", "lina"}, func(p store.ParticipantRow) error {
		hist = append(hist, fmt.Sprintf("%s@%d/%d:%s", p.ID, p.ValidFrom.Millis()-ms(0).Millis(), p.JournalIndex, p.Department))
		return nil
	}), "DirectoryHistory")
	if got := strings.Join(hist, " "); got != "lina@50/4:合规部 zhangwei@100/3:财富管理部 zhangwei@200/5:机构业务部 zhangwei@200/9:私人银行部" {
		t.Errorf("DirectoryHistory = %s", got)
	}
	check(t, s.DirectoryHistory(ctx, nil, func(store.ParticipantRow) error { t.Fatal("a fact for no id"); return nil }), "DirectoryHistory(nil)")
	// Every value a column ever held, once, for telling a mistyped search
	// filter from one that matches no message.
	depts, err := s.DirectoryValues(ctx, store.DirectoryDepartments)
	check(t, err, "DirectoryValues(department)")
	if got := strings.Join(depts, " "); got != "合规部 机构业务部 私人银行部 财富管理部" {
		t.Errorf("DirectoryValues(department) = %s", got)
	}
	names, err := s.DirectoryValues(ctx, store.DirectoryNames)
	check(t, err, "DirectoryValues(name)")
	if got := strings.Join(names, " "); got != "张伟" {
		t.Errorf("DirectoryValues(name) = %s", got)
	}
	ids, err := s.DirectoryValues(ctx, store.DirectoryIDs)
	check(t, err, "DirectoryValues(id)")
	if got := strings.Join(ids, " "); got != "lina zhangwei" {
		t.Errorf("DirectoryValues(id) = %s", got)
	}
	if _, err := s.DirectoryValues(ctx, "title; DROP TABLE directory"); err == nil {
		t.Error("DirectoryValues of an unknown column succeeded")
	}
}

func testParticipants(t *testing.T, s store.Store) {
	emp := func(id string) archive.Participant {
		return archive.Participant{ID: id, Kind: archive.ParticipantEmployee}
	}
	ext := func(id string) archive.Participant {
		return archive.Participant{ID: id, Kind: archive.ParticipantExternal}
	}
	m1 := msgRow(1, "src:a", "p1")
	m1.Participants = []archive.Participant{emp("zhangwei"), ext("wmExt1")}
	m2 := msgRow(2, "src:a", "p2")
	m2.Participants = []archive.Participant{emp("zhangwei"), ext("wmExt2"), ext("wmExt1")}
	m3 := msgRow(3, "src:b", "p3")
	m3.Participants = []archive.Participant{{ID: "bot1", Kind: archive.ParticipantBot}, ext("wmExt2")}
	write(t, s, func(tx store.Tx) {
		index(t, tx, m1)
		index(t, tx, m2)
	})
	write(t, s, func(tx store.Tx) { index(t, tx, m3) })
	want := map[string][2]string{"zhangwei": {"1", `"employee"`}, "wmExt1": {"1", `"external"`}, "wmExt2": {"2", `"external"`}, "bot1": {"3", `"bot"`}}
	parties := tableRows(dump(t, s), "parties")
	if len(parties) != len(want) {
		t.Fatalf("parties = %v, want %d rows", parties, len(want))
	}
	for _, p := range parties {
		var id string
		for k := range want {
			if strings.HasSuffix(p.key, k) || strings.HasSuffix(p.key, k+`"`) {
				id = k
			}
		}
		w, ok := want[id]
		if !ok {
			t.Fatalf("unexpected party row %q", p.key)
		}
		if fs, _ := field(p.row, "first_serial"); fs != w[0] {
			t.Fatalf("party %s: first_serial %q, want %s (the first message naming it): row %s", id, fs, w[0], p.row)
		}
		if k, _ := field(p.row, "kind"); k != w[1] {
			t.Fatalf("party %s: kind %s, want %s", id, k, w[1])
		}
	}
}

func testConsent(t *testing.T, s store.Store) {
	agree := msgRow(10, "src:a", "agree10")
	agree.Kind, agree.SourceType = archive.KindAgree, "agree"
	agree.Participants = []archive.Participant{{ID: "wmExt1", Kind: archive.ParticipantExternal}, {ID: "zhangwei", Kind: archive.ParticipantEmployee}}
	agree.Consent = &archive.Consent{ExternalID: "wmExt1", Agreed: true, At: ms(5000)}
	disagree := msgRow(11, "src:a", "disagree11")
	disagree.Kind, disagree.SourceType = archive.KindDisagree, "disagree"
	disagree.Participants = []archive.Participant{{ID: "lina", Kind: archive.ParticipantEmployee}, {ID: "wmExt1", Kind: archive.ParticipantExternal}}
	disagree.Consent = &archive.Consent{ExternalID: "wmExt1", Agreed: false, At: ms(3000)} // earlier event, later serial
	write(t, s, func(tx store.Tx) {
		index(t, tx, agree)
		index(t, tx, disagree)
	})
	got := consentOf(t, s, "wmExt1")
	want := []store.ConsentRow{
		{ExternalID: "wmExt1", Serial: 11, Agreed: false, At: ms(3000), Employee: "lina"},
		{ExternalID: "wmExt1", Serial: 10, Agreed: true, At: ms(5000), Employee: "zhangwei"},
	}
	if len(got) != len(want) {
		t.Fatalf("Consent(wmExt1) = %+v", got)
	}
	for i := range want {
		g := got[i]
		g.At = archive.MillisTime(g.At.Millis())
		if g != want[i] {
			t.Fatalf("consent %d = %+v, want %+v (in time order)", i, got[i], want[i])
		}
	}
	if c := consentOf(t, s, "wmNobody"); len(c) != 0 {
		t.Fatalf("Consent of an unknown contact = %+v", c)
	}
}

func testRecallAfter(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		index(t, tx, msgRow(1, "src:a", "orig"))
		index(t, tx, msgRow(2, "src:b", "orig")) // same msgid, other source: not recalled
	})
	write(t, s, func(tx store.Tx) { index(t, tx, recallRow(3, "src:a", "rc", "orig")) })
	if m := message(t, s, 1); m.RecalledBy != 3 {
		t.Fatalf("original recalled_by = %d, want 3", m.RecalledBy)
	}
	if m := message(t, s, 2); m.RecalledBy != 0 {
		t.Fatalf("other source's message recalled_by = %d, want 0", m.RecalledBy)
	}
	if m := message(t, s, 3); m.RecalledBy != 0 || m.RefersTo != "orig" || m.Action != archive.ActionRecall {
		t.Fatalf("recall row = %+v", m)
	}
	if c := counts(t, s); c.Recalled != 1 {
		t.Fatalf("Counts.Recalled = %d, want 1", c.Recalled)
	}
}

func testRecallBefore(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) { index(t, tx, recallRow(1, "src:a", "rc", "late")) })
	write(t, s, func(tx store.Tx) {
		index(t, tx, msgRow(2, "src:b", "late"))
		index(t, tx, msgRow(3, "src:a", "late"))
	})
	if m := message(t, s, 3); m.RecalledBy != 1 {
		t.Fatalf("original archived after its recall: recalled_by = %d, want 1", m.RecalledBy)
	}
	if m := message(t, s, 2); m.RecalledBy != 0 {
		t.Fatalf("other source's message recalled_by = %d, want 0", m.RecalledBy)
	}
	// A later version (conflict) of a recalled message is recalled too.
	v2 := msgRow(4, "src:a", "late")
	v2.Version, v2.ConflictsWith, v2.RawHash = 2, 3, archive.Hash([]byte("late v2"))
	write(t, s, func(tx store.Tx) { index(t, tx, v2) })
	if m := message(t, s, 4); m.RecalledBy != 1 {
		t.Fatalf("second version of a recalled message: recalled_by = %d, want 1", m.RecalledBy)
	}
	if c := counts(t, s); c.Recalled != 2 {
		t.Fatalf("Counts.Recalled = %d, want 2", c.Recalled)
	}
	// Recall and original in one transaction, recall first.
	write(t, s, func(tx store.Tx) {
		index(t, tx, recallRow(10, "src:a", "rc10", "same-tx"))
		index(t, tx, msgRow(11, "src:a", "same-tx"))
	})
	if m := message(t, s, 11); m.RecalledBy != 10 {
		t.Fatalf("original after its recall in one tx: recalled_by = %d, want 10", m.RecalledBy)
	}
}

func testEarliestRecall(t *testing.T, s store.Store) {
	// Recalls indexed after the original, the later serial first.
	write(t, s, func(tx store.Tx) { index(t, tx, msgRow(1, "src:a", "o1")) })
	write(t, s, func(tx store.Tx) { index(t, tx, recallRow(8, "src:a", "r8", "o1")) })
	write(t, s, func(tx store.Tx) { index(t, tx, recallRow(5, "src:a", "r5", "o1")) })
	write(t, s, func(tx store.Tx) { index(t, tx, recallRow(9, "src:a", "r9", "o1")) })
	if m := message(t, s, 1); m.RecalledBy != 5 {
		t.Fatalf("recalled_by = %d, want 5 (the earliest recall)", m.RecalledBy)
	}
	// Recalls indexed before the original, the later serial first.
	write(t, s, func(tx store.Tx) {
		index(t, tx, recallRow(20, "src:a", "r20", "o2"))
		index(t, tx, recallRow(12, "src:a", "r12", "o2"))
	})
	write(t, s, func(tx store.Tx) { index(t, tx, msgRow(30, "src:a", "o2")) })
	if m := message(t, s, 30); m.RecalledBy != 12 {
		t.Fatalf("recalled_by = %d, want 12 (the earliest recall)", m.RecalledBy)
	}
	// A row that arrives already linked keeps the earliest link.
	write(t, s, func(tx store.Tx) {
		m := msgRow(31, "src:a", "o3")
		m.RecalledBy = 40
		index(t, tx, m)
		index(t, tx, recallRow(35, "src:a", "r35", "o3"))
	})
	if m := message(t, s, 31); m.RecalledBy != 35 {
		t.Fatalf("recalled_by = %d, want 35", m.RecalledBy)
	}
}

func testConflicts(t *testing.T, s store.Store) {
	v1 := msgRow(1, "src:a", "dup")
	v2 := msgRow(2, "src:a", "dup")
	v2.Version, v2.ConflictsWith, v2.RawHash, v2.Text = 2, 1, archive.Hash([]byte("dup v2")), "changed"
	write(t, s, func(tx store.Tx) {
		index(t, tx, v1)
		index(t, tx, v2)
	})
	rows, err := s.MessagesBySourceID(ctx, "dup")
	check(t, err, "MessagesBySourceID")
	if len(rows) != 2 {
		t.Fatalf("versions = %d", len(rows))
	}
	wantMessage(t, rows[0], v1)
	wantMessage(t, rows[1], v2)
	if c := counts(t, s); c.Messages != 2 || c.Conflicts != 1 {
		t.Fatalf("Counts = %+v, want 2 messages, 1 conflict", c)
	}
	// (source, source id, version) is unique.
	tx := mustTx(t, s)
	again := msgRow(3, "src:a", "dup")
	again.Version = 2
	if err := tx.IndexMessage(ctx, again, nil); err == nil {
		t.Fatal("a second row for (src:a, dup, version 2) was accepted")
	}
}

func testRejects(t *testing.T, s store.Store) {
	rows := []store.RejectRow{
		{JournalIndex: 9, Time: ms(9), Source: "wecom-archive:ww1", Origin: "file:b.jsonl line 3", Field: "",
			Reason: "invalid JSON", RawHash: archive.Hash([]byte("{")), RawSize: 1, InputHash: archive.Hash([]byte("{")), InputSize: 1},
		{JournalIndex: 2, Time: ms(2), Source: "wecom-archive:ww1", Origin: "file:a.jsonl line 7", Field: "msgtime",
			Reason: "不是数字", RawHash: archive.Hash([]byte("x")), RawSize: 65536, InputHash: archive.Hash([]byte("xy")), InputSize: 70000},
	}
	write(t, s, func(tx store.Tx) {
		for _, r := range rows {
			check(t, tx.IndexReject(ctx, r), "IndexReject")
		}
	})
	got := rejects(t, s)
	if len(got) != 2 {
		t.Fatalf("Rejects = %+v", got)
	}
	for i, w := range []store.RejectRow{rows[1], rows[0]} {
		g := got[i]
		g.Time = archive.MillisTime(g.Time.Millis())
		if g != w {
			t.Fatalf("reject %d = %+v, want %+v (journal order)", i, got[i], w)
		}
	}
	if c := counts(t, s); c.Rejects != 2 {
		t.Fatalf("Counts.Rejects = %d", c.Rejects)
	}
}

func testPacks(t *testing.T, s store.Store) {
	p1 := store.PackRow{Blob: archive.Hash([]byte("p1")), First: 1, Last: 10, Count: 20, Bytes: 2000, RetainUntil: ms(86400000), JournalIndex: 11}
	p2 := store.PackRow{Blob: archive.Hash([]byte("p2")), First: 5, Last: 8, Count: 2, Bytes: 200, RetainUntil: ms(2 * 86400000), JournalIndex: 12}
	p3 := store.PackRow{Blob: archive.Hash([]byte("p3")), First: 13, Last: 20, Count: 16, Bytes: 1600, RetainUntil: ms(86400000), JournalIndex: 21}
	write(t, s, func(tx store.Tx) {
		for _, p := range []store.PackRow{p3, p2, p1} {
			check(t, tx.IndexPack(ctx, p), "IndexPack")
		}
	})
	eq := func(a, b store.PackRow) bool {
		a.RetainUntil, b.RetainUntil = archive.MillisTime(a.RetainUntil.Millis()), archive.MillisTime(b.RetainUntil.Millis())
		return a == b
	}
	all := packs(t, s)
	if len(all) != 3 || !eq(all[0], p1) || !eq(all[1], p2) || !eq(all[2], p3) {
		t.Fatalf("Packs = %+v, want p1 p2 p3 in journal order", all)
	}
	for _, c := range []struct {
		idx  uint64
		want []store.PackRow
	}{{1, []store.PackRow{p1}}, {6, []store.PackRow{p1, p2}}, {10, []store.PackRow{p1}}, {11, nil}, {20, []store.PackRow{p3}}, {0, nil}} {
		got, err := s.PacksCovering(ctx, c.idx)
		check(t, err, "PacksCovering(%d)", c.idx)
		if len(got) != len(c.want) {
			t.Fatalf("PacksCovering(%d) = %+v, want %+v", c.idx, got, c.want)
		}
		for i := range got {
			if !eq(got[i], c.want[i]) {
				t.Fatalf("PacksCovering(%d) = %+v, want %+v", c.idx, got, c.want)
			}
		}
	}
}

func testCounts(t *testing.T, s store.Store) {
	populate(t, s)
	write(t, s, func(tx store.Tx) {
		v2 := msgRow(4, "src:a", "m1")
		v2.Version, v2.ConflictsWith, v2.RawHash = 2, 1, archive.Hash([]byte("v2"))
		v2.Attachments, v2.AttachFaults = 1, 1
		index(t, tx, v2, store.AttachmentRow{Serial: 4, Ordinal: 0, Attachment: archive.Attachment{Role: "image", Status: archive.AttachmentFailed, Reason: "timeout"}})
		check(t, tx.PutCheckpoint(ctx, store.CheckpointRow{Size: 21, Time: ms(21), Note: []byte("21")}), "PutCheckpoint")
	})
	want := store.Counts{Messages: 4, Conflicts: 1, Recalled: 2, Attachments: 2, AttachFaults: 1, Rejects: 1,
		PendingRecords: 1, Packs: 1, Segments: 1, Checkpoints: 2}
	if c := counts(t, s); c != want {
		t.Fatalf("Counts = %+v, want %+v", c, want)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	populate(t, s)
	_, err := s.Message(ctx, 999)
	wantNotFound(t, err, "Message(999)")
	_, err = s.Message(ctx, 0)
	wantNotFound(t, err, "Message(0)")
	_, err = s.MessagesBySourceID(ctx, "no-such-msgid")
	wantNotFound(t, err, "MessagesBySourceID(no-such-msgid)")
	_, err = s.PendingRecord(ctx, store.RecordKey{JournalIndex: 3, Ordinal: 1})
	wantNotFound(t, err, "PendingRecord(3/1)")
	_, err = s.PendingRecord(ctx, store.RecordKey{JournalIndex: 999})
	wantNotFound(t, err, "PendingRecord(999/0)")
}

func testResetProjection(t *testing.T, s store.Store) {
	p := populate(t, s)
	before := head(t, s)
	leavesBefore := leaves(t, s, 0, 100)
	cpsBefore := checkpoints(t, s)
	segsBefore := segments(t, s)
	write(t, s, func(tx store.Tx) { check(t, tx.ResetProjection(ctx), "ResetProjection") })

	if d := dump(t, s); len(d) != 0 {
		t.Fatalf("DumpProjection after ResetProjection has %d rows, e.g. %v", len(d), d[0])
	}
	c := counts(t, s)
	if c.Messages != 0 || c.Attachments != 0 || c.Rejects != 0 || c.Packs != 0 || c.Recalled != 0 {
		t.Fatalf("projection counts after reset = %+v", c)
	}
	if c.PendingRecords != 1 || c.Segments != 1 || c.Checkpoints != 1 {
		t.Fatalf("primary counts after reset = %+v: ResetProjection touched primary tables", c)
	}
	if h := head(t, s); h != before {
		t.Fatalf("Head after reset = %+v, want %+v", h, before)
	}
	if got := leaves(t, s, 0, 100); !reflect.DeepEqual(got, leavesBefore) {
		t.Fatal("journal leaves changed by ResetProjection")
	}
	if got := checkpoints(t, s); !reflect.DeepEqual(got, cpsBefore) {
		t.Fatal("checkpoints changed by ResetProjection")
	}
	if got := segments(t, s); !reflect.DeepEqual(got, segsBefore) {
		t.Fatal("segments changed by ResetProjection")
	}
	root, err := journal.RootAt(ctx, s, 20)
	check(t, err, "RootAt after reset (tree nodes are primary)")
	if !bytes.Equal(root, p.tree.Root()) {
		t.Fatal("tree nodes changed by ResetProjection")
	}
	pr, err := s.PendingRecord(ctx, p.pending.Key)
	check(t, err, "PendingRecord after reset")
	wantPending(t, pr, p.pending)
	_, err = s.Message(ctx, 1)
	wantNotFound(t, err, "Message after reset")
	if got, err := s.Consent(ctx, "wmExt1"); err != nil || len(got) != 0 {
		t.Fatalf("Consent after reset = %+v, %v", got, err)
	}

	// The projection can be rebuilt, participants included (no stale cache).
	write(t, s, func(tx store.Tx) { index(t, tx, p.msg, p.atts...) })
	wantMessage(t, message(t, s, 1), p.msg)
	if parties := tableRows(dump(t, s), "parties"); len(parties) != 2 {
		t.Fatalf("parties after reset and re-index = %v, want 2", parties)
	}

	// A reset and a rebuild in the same transaction: participants are
	// recorded again with the first serial of the replay.
	write(t, s, func(tx store.Tx) {
		check(t, tx.ResetProjection(ctx), "ResetProjection")
		m := p.msg
		m.Serial = 7
		index(t, tx, m)
	})
	for _, r := range tableRows(dump(t, s), "parties") {
		if fs, _ := field(r.row, "first_serial"); fs != "7" {
			t.Fatalf("party %q after reset+replay: first_serial %s, want 7", r.key, fs)
		}
	}
	// ResetProjection rolled back leaves the projection as it was.
	before2 := dump(t, s)
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	check(t, tx.ResetProjection(ctx), "ResetProjection")
	check(t, tx.Rollback(), "Rollback")
	if got := dump(t, s); !reflect.DeepEqual(got, before2) {
		t.Fatal("a rolled-back ResetProjection changed the projection")
	}
	// …and indexing afterwards still records new participants only once.
	write(t, s, func(tx store.Tx) {
		m := msgRow(8, "src:a", "after-rollback")
		m.Participants = []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "newcomer", Kind: archive.ParticipantExternal}}
		index(t, tx, m)
	})
	parties := tableRows(dump(t, s), "parties")
	if len(parties) != 3 {
		t.Fatalf("parties = %v, want 3", parties)
	}
	for _, r := range parties {
		fs, _ := field(r.row, "first_serial")
		if strings.Contains(r.key, "newcomer") != (fs == "8") {
			t.Fatalf("party %q first_serial %s", r.key, fs)
		}
	}
}

func testDumpOrder(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		// Integer keys 10 before 9 on insert; text keys "ab", "a!", "a".
		for _, serial := range []uint64{10, 9, 100} {
			m := msgRow(serial, "src:a", fmt.Sprint("m", serial))
			m.Attachments = 2
			m.Participants = []archive.Participant{{ID: fmt.Sprint("p", serial), Kind: archive.ParticipantExternal}}
			index(t, tx, m,
				store.AttachmentRow{Serial: serial, Ordinal: 10, Attachment: archive.Attachment{Role: "file", Status: archive.AttachmentMissing}},
				store.AttachmentRow{Serial: serial, Ordinal: 9, Attachment: archive.Attachment{Role: "file", Status: archive.AttachmentMissing}})
		}
		serial := uint64(200)
		for _, target := range []string{"ab", "a!", "a"} {
			for _, n := range []uint64{10, 9} {
				index(t, tx, recallRow(serial+n, "src:a", fmt.Sprint("r", serial+n), target))
				c := msgRow(serial+n+1000, "src:a", fmt.Sprint("c", serial+n))
				c.Consent = &archive.Consent{ExternalID: target, Agreed: true, At: ms(int64(n))}
				index(t, tx, c)
			}
			serial += 100
		}
		for _, id := range []string{"ab", "a!", "a"} {
			for _, vf := range []int64{10, 9} {
				check(t, tx.IndexParticipant(ctx, store.ParticipantRow{ParticipantEvent: archive.ParticipantEvent{ID: id,
					Kind: archive.ParticipantEmployee, Name: "名" + id, ValidFrom: ms(vf)}, JournalIndex: uint64(vf)}), "IndexParticipant")
			}
		}
		for _, j := range []uint64{10, 9} {
			check(t, tx.IndexReject(ctx, rejectRow(j, "o", archive.Hash([]byte(fmt.Sprint(j))))), "IndexReject")
		}
		for _, b := range []byte{0x10, 0x09, 0xff, 0x00} {
			var id archive.BlobID
			id[0] = b
			check(t, tx.IndexPack(ctx, store.PackRow{Blob: id, First: 1, Last: 1, Count: 1, RetainUntil: ms(1), JournalIndex: uint64(b) + 1}), "IndexPack")
		}
		for _, j := range []uint64{10, 9} {
			check(t, tx.IndexFault(ctx, store.FaultRow{JournalIndex: j, Time: ms(int64(j)), CaptureFaultEvent: archive.CaptureFaultEvent{
				Connector: "c", Kind: "media_failed", Subject: fmt.Sprint("m", j), State: archive.FaultRaised}}), "IndexFault")
			check(t, tx.IndexPolicy(ctx, store.PolicyRow{JournalIndex: j + 100, Time: ms(1), Actor: "a",
				PolicyEvent: archive.PolicyEvent{Policy: "p", Version: int(j), Source: "policy: p"}}), "IndexPolicy")
			check(t, tx.IndexAlert(ctx, store.AlertRow{JournalIndex: j + 200, Time: ms(1),
				AlertEvent: archive.AlertEvent{Serial: 9, Policy: "p", PolicyVersion: int(j), Rule: "r", Spans: [][2]int{{1, 2}}}}), "IndexAlert")
			check(t, tx.IndexReview(ctx, store.ReviewRow{JournalIndex: j + 300, Time: ms(1), Actor: "cli:a",
				ReviewEvent: archive.ReviewEvent{Action: "close", Disposition: "no_issue", Items: []archive.ReviewItem{{Alert: j + 200}, {Alert: 1}}}}), "IndexReview")
			check(t, tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: j + 400, Time: ms(1), Actor: "cli:a",
				RetentionEvent: archive.RetentionEvent{Name: "r", Version: int(j), Source: "retention: r"}}), "IndexRetention")
			check(t, tx.IndexHold(ctx, store.HoldRow{JournalIndex: j + 500, Time: ms(1), Actor: "cli:a",
				HoldEvent: archive.HoldEvent{Name: fmt.Sprint("h", j), Matter: "m", Reason: "r", Owner: "a"}}), "IndexHold")
		}
	})
	rows := dump(t, s)

	// Tables arrive one after another in store.ProjectionTables order.
	var seen []string
	for _, r := range rows {
		if len(seen) == 0 || seen[len(seen)-1] != r.table {
			seen = append(seen, r.table)
		}
	}
	if !reflect.DeepEqual(seen, store.ProjectionTables) {
		t.Fatalf("DumpProjection visits tables %v, want %v, each once", seen, store.ProjectionTables)
	}
	// Within a table, keys increase in byte order.
	for i := 1; i < len(rows); i++ {
		if rows[i].table == rows[i-1].table && !(rows[i-1].key < rows[i].key) {
			t.Fatalf("table %s: key %q arrives after %q: keys must increase in byte order", rows[i].table, rows[i].key, rows[i-1].key)
		}
	}
	wantN := map[string]int{"messages": 3 + 12, "attachments": 6, "recalls": 6, "consent": 6, "parties": 3, "directory": 6, "rejects": 2, "packs": 4}
	for table, n := range wantN {
		if got := len(tableRows(rows, table)); got != n {
			t.Fatalf("table %s: %d rows, want %d", table, got, n)
		}
	}
	// Integer keys: 9 before 10 before 100.
	msgs := tableRows(rows, "messages")
	for i, want := range []string{"9", "10", "100"} {
		if got := trailingNumber(msgs[i].key); got != want {
			t.Fatalf("messages row %d key %q is serial %s, want %s (9 < 10 < 100)", i, msgs[i].key, got, want)
		}
	}
	// Composite keys (serial, ord): ordinal 9 before 10 within serial 9.
	atts := tableRows(rows, "attachments")
	if first := strings.Split(atts[0].key, "\x00"); len(first) != 2 || !strings.HasSuffix(first[0], "9") || !strings.HasSuffix(first[1], "9") {
		t.Fatalf("first attachment key %q, want serial 9 ordinal 9 as two NUL-separated parts", atts[0].key)
	}
	// Text keys in a composite key: "a" < "a!" < "ab", then the integer.
	for _, table := range []string{"consent", "directory"} {
		rs := tableRows(rows, table)
		for i, want := range []string{"a", "a", "a!", "a!", "ab", "ab"} {
			parts := strings.Split(rs[i].key, "\x00")
			if !strings.HasSuffix(parts[0], "="+want) && parts[0] != want {
				t.Fatalf("%s row %d key %q: first key column should be %q (order a < a! < ab)", table, i, rs[i].key, want)
			}
			if n := parts[1]; (i%2 == 0) != strings.HasSuffix(n, "9") {
				t.Fatalf("%s row %d key %q: within one id, 9 sorts before 10", table, i, rs[i].key)
			}
		}
	}
	rc := tableRows(rows, "recalls")
	for i, want := range []string{"a", "a", "a!", "a!", "ab", "ab"} {
		parts := strings.Split(rc[i].key, "\x00")
		if len(parts) != 3 || !(strings.HasSuffix(parts[1], "="+want) || parts[1] == want) {
			t.Fatalf("recalls row %d key %q: target should be %q", i, rc[i].key, want)
		}
	}
	// Every call renders the same rows.
	if again := dump(t, s); !reflect.DeepEqual(again, rows) {
		t.Fatal("two dumps of the same database differ")
	}
}

func testChinese(t *testing.T, s store.Store) {
	text := "保本保息，稳赚不赔！ＡＢＣ１２３ 繁體字 \U0001F600 😀 「引号」\u3000全角空格\nnew line \"quote\" \\ tab\t"
	m := msgRow(1, "wecom-archive:企业", "消息-1")
	m.Text, m.Sender, m.Conversation = text, "张伟", "群聊:理财顾问"
	m.Recipients = []string{"李娜", "wm外部客户"}
	m.Origin = "文件:聊天记录.jsonl 第 3 行"
	m.Attachments = 1
	att := store.AttachmentRow{Serial: 1, Ordinal: 0, Attachment: archive.Attachment{Role: "file", FileName: "合同（最终版）.pdf",
		Status: archive.AttachmentMissing, Reason: "媒体文件不存在"}}
	m.Participants = []archive.Participant{{ID: "张伟", Kind: archive.ParticipantEmployee}}
	m.Consent = &archive.Consent{ExternalID: "wm外部客户", Agreed: true, At: ms(1)}
	rej := store.RejectRow{JournalIndex: 2, Time: ms(2), Source: "wecom-archive:企业", Origin: "第 9 行", Field: "内容", Reason: "无法解析：缺少字段", RawHash: archive.Hash([]byte("x")), RawSize: 1, InputHash: archive.Hash([]byte("x")), InputSize: 1}
	data := []byte("原始记录 " + text)
	write(t, s, func(tx store.Tx) {
		index(t, tx, m, att)
		check(t, tx.IndexReject(ctx, rej), "IndexReject")
		check(t, tx.PutPending(ctx, store.PendingRecord{Key: store.RecordKey{JournalIndex: 1}, Hash: archive.Hash(data), Data: data, RetainUntil: ms(1), CreatedAt: ms(1)}), "PutPending")
	})
	wantMessage(t, message(t, s, 1), m)
	rows, err := s.MessagesBySourceID(ctx, "消息-1")
	check(t, err, "MessagesBySourceID(消息-1)")
	if len(rows) != 1 || rows[0].Text != text {
		t.Fatalf("MessagesBySourceID text = %q", rows[0].Text)
	}
	atts, err := s.Attachments(ctx, 1)
	check(t, err, "Attachments")
	if len(atts) != 1 || atts[0].FileName != att.FileName || atts[0].Reason != att.Reason {
		t.Fatalf("attachment = %+v", atts)
	}
	if r := rejects(t, s); len(r) != 1 || r[0].Reason != rej.Reason || r[0].Field != rej.Field || r[0].Origin != rej.Origin {
		t.Fatalf("reject = %+v", r)
	}
	if c := consentOf(t, s, "wm外部客户"); len(c) != 1 || c[0].Employee != "张伟" {
		t.Fatalf("consent = %+v", c)
	}
	pr, err := s.PendingRecord(ctx, store.RecordKey{JournalIndex: 1})
	check(t, err, "PendingRecord")
	if !bytes.Equal(pr.Data, data) {
		t.Fatal("pending record bytes changed")
	}
	tx := mustTx(t, s)
	got, err := tx.LookupMessages(ctx, "wecom-archive:企业", []string{"消息-1"})
	check(t, err, "LookupMessages")
	if len(got["消息-1"]) != 1 {
		t.Fatalf("LookupMessages by a Chinese msgid = %v", got)
	}
}

func testCallbackError(t *testing.T, s store.Store) {
	populate(t, s)
	stop := errors.New("stop here")
	n := 0
	err := s.Leaves(ctx, 0, 20, func(uint64, []byte, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Leaves with a failing callback: err %v after %d calls, want the callback's error after 1", err, n)
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.PutPending(ctx, pending(4, 0, "more", ms(1))), "PutPending")
	})
	n = 0
	err = s.PendingRecords(ctx, store.RecordKey{}, 0, func(store.PendingRecord) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("PendingRecords with a failing callback: err %v after %d calls", err, n)
	}
	for name, f := range map[string]func() error{
		"Checkpoints":    func() error { return s.Checkpoints(ctx, func(store.CheckpointRow) error { return stop }) },
		"Segments":       func() error { return s.Segments(ctx, func(store.SegmentRow) error { return stop }) },
		"Packs":          func() error { return s.Packs(ctx, func(store.PackRow) error { return stop }) },
		"Rejects":        func() error { return s.Rejects(ctx, func(store.RejectRow) error { return stop }) },
		"DumpProjection": func() error { return s.DumpProjection(ctx, func(string, string, string) error { return stop }) },
	} {
		if err := f(); !errors.Is(err, stop) {
			t.Fatalf("%s with a failing callback: err %v, want the callback's error", name, err)
		}
	}
}

// testCaptureFaults: a fault is open from its latest raise until a resolve
// of the same (connector, kind, subject); reset empties the history.
func testCaptureFaults(t *testing.T, s store.Store) {
	fault := func(j uint64, conn, kind, subject, state string) store.FaultRow {
		return store.FaultRow{JournalIndex: j, Time: ms(int64(j) * 1000), CaptureFaultEvent: archive.CaptureFaultEvent{
			Connector: conn, Kind: kind, Subject: subject, State: state, Detail: fmt.Sprint("detail ", j)}}
	}
	write(t, s, func(tx store.Tx) {
		for _, f := range []store.FaultRow{
			fault(3, "hr", "media_failed", "m1", archive.FaultRaised),
			fault(4, "hr", "media_failed", "m2", archive.FaultRaised),
			fault(5, "hr", "requests_rejected", "", archive.FaultRaised),
			fault(6, "hr", "media_failed", "m1", archive.FaultResolved),
			fault(7, "oa", "requests_rejected", "", archive.FaultRaised),
			fault(8, "hr", "requests_rejected", "", archive.FaultResolved),
			fault(9, "hr", "requests_rejected", "", archive.FaultRaised), // raised again
		} {
			check(t, tx.IndexFault(ctx, f), "IndexFault")
		}
	})
	open, err := s.OpenFaults(ctx)
	check(t, err, "OpenFaults")
	var got []string
	for _, f := range open {
		got = append(got, fmt.Sprintf("%d:%s/%s/%s", f.JournalIndex, f.Connector, f.Kind, f.Subject))
	}
	if want := []string{"4:hr/media_failed/m2", "7:oa/requests_rejected/", "9:hr/requests_rejected/"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("open faults %v, want %v", got, want)
	}
	if open[0].Detail != "detail 4" || open[0].Time != ms(4000) || open[0].State != archive.FaultRaised {
		t.Fatalf("fault row %+v", open[0])
	}
	n := 0
	check(t, s.FaultHistory(ctx, func(store.FaultRow) error { n++; return nil }), "FaultHistory")
	if n != 7 {
		t.Fatalf("history has %d events, want 7", n)
	}
	write(t, s, func(tx store.Tx) { check(t, tx.ResetProjection(ctx), "ResetProjection") })
	if open, _ := s.OpenFaults(ctx); len(open) != 0 {
		t.Fatalf("faults after reset: %v", open)
	}
}

// testCaptureActivity: a source's newest message and recent count, and
// each employee's newest sent message.
func testCaptureActivity(t *testing.T, s store.Store) {
	a, err := s.SourceActivity(ctx, "src:none", ms(0))
	check(t, err, "SourceActivity")
	if a != (store.SourceActivity{}) {
		t.Fatalf("activity of an unknown source: %+v", a)
	}
	write(t, s, func(tx store.Tx) {
		for i, c := range []struct {
			src, sender string
			sent, capt  int64
			emp         bool
		}{
			{"src:a", "zhangwei", 100, 1000, true},
			{"src:a", "wmClient", 300, 2000, false},
			{"src:a", "zhangwei", 200, 3000, true}, // sent earlier, captured later
			{"src:b", "lina", 50, 1500, true},
		} {
			m := msgRow(uint64(i+1), c.src, fmt.Sprint("act", i))
			m.Sender, m.SentAt, m.CapturedAt = c.sender, ms(c.sent), ms(c.capt)
			kind := archive.ParticipantExternal
			if c.emp {
				kind = archive.ParticipantEmployee
			}
			m.Participants = []archive.Participant{{ID: c.sender, Kind: kind}}
			index(t, tx, m)
		}
		check(t, tx.IndexParticipant(ctx, store.ParticipantRow{ParticipantEvent: archive.ParticipantEvent{ID: "newhire",
			Kind: archive.ParticipantEmployee, ValidFrom: ms(1)}, JournalIndex: 9}), "IndexParticipant")
	})
	a, err = s.SourceActivity(ctx, "src:a", ms(2000))
	check(t, err, "SourceActivity")
	if a.LastSerial != 3 || a.LastCaptured != ms(3000) || a.LastSent != ms(200) || a.Messages != 2 {
		t.Fatalf("src:a activity %+v, want serial 3 captured at 3000, 2 since 2000", a)
	}
	emp, err := s.EmployeeActivity(ctx)
	check(t, err, "EmployeeActivity")
	got := map[string]archive.Time{}
	for _, e := range emp {
		got[e.ID] = e.LastSent
	}
	want := map[string]archive.Time{"lina": ms(50), "newhire": {}, "zhangwei": ms(200)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("employee activity %v, want %v", got, want)
	}
}

// testCursors: a cursor is visible only once its transaction commits, and
// a later write replaces it.
func testCursors(t *testing.T, s store.Store) {
	if _, err := s.Cursor(ctx, "msgaudit"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cursor of a new connector: %v, want ErrNotFound", err)
	}
	tx, err := s.Begin(ctx)
	check(t, err, "Begin")
	check(t, tx.PutCursor(ctx, store.CursorRow{Connector: "msgaudit", Value: "100", UpdatedAt: ms(1)}), "PutCursor")
	check(t, tx.Rollback(), "Rollback")
	if _, err := s.Cursor(ctx, "msgaudit"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rolled-back cursor is visible: %v", err)
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.PutCursor(ctx, store.CursorRow{Connector: "msgaudit", Value: "100", UpdatedAt: ms(1)}), "PutCursor")
		check(t, tx.PutCursor(ctx, store.CursorRow{Connector: "kf", Value: "abc", UpdatedAt: ms(2)}), "PutCursor")
	})
	write(t, s, func(tx store.Tx) {
		check(t, tx.PutCursor(ctx, store.CursorRow{Connector: "msgaudit", Value: "250", UpdatedAt: ms(3)}), "PutCursor")
	})
	c, err := s.Cursor(ctx, "msgaudit")
	if err != nil || c.Value != "250" || c.UpdatedAt != ms(3) {
		t.Fatalf("cursor %+v, %v; want 250 at 3", c, err)
	}
	if c, _ := s.Cursor(ctx, "kf"); c.Value != "abc" {
		t.Fatalf("kf cursor %+v", c)
	}
}

// testPoliciesAndAlerts: the latest version of each policy; alerts in id
// order, filtered and paged, with their hits and message ids.
func testPoliciesAndAlerts(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		index(t, tx, msgRow(9, "src:a", "m9"))
		for i, p := range []struct {
			name string
			v    int
		}{{"guarantees", 1}, {"off-channel", 1}, {"guarantees", 2}} {
			check(t, tx.IndexPolicy(ctx, store.PolicyRow{JournalIndex: uint64(10 + i), Time: ms(int64(i)), Actor: "cli:alice",
				PolicyEvent: archive.PolicyEvent{Policy: p.name, Version: p.v, Source: fmt.Sprintf("policy: %s # v%d", p.name, p.v)}}), "IndexPolicy")
		}
		for j, pol := range []string{"guarantees", "off-channel", "guarantees"} {
			check(t, tx.IndexAlert(ctx, store.AlertRow{JournalIndex: uint64(20 + j), Time: ms(5),
				AlertEvent: archive.AlertEvent{Serial: 9, Policy: pol, PolicyVersion: 1, Rule: "r", Spans: [][2]int{{0, 2}}, Masked: []string{"6225**"}}}), "IndexAlert")
		}
	})
	vs, err := s.PolicyVersions(ctx, "guarantees")
	check(t, err, "PolicyVersions")
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || vs[0].Source != "policy: guarantees # v1" || vs[0].JournalIndex != 10 || vs[1].JournalIndex != 12 {
		t.Fatalf("PolicyVersions(guarantees) = %+v", vs)
	}
	if vs, err := s.PolicyVersions(ctx, "nope"); err != nil || len(vs) != 0 {
		t.Fatalf("PolicyVersions(nope) = %+v, %v", vs, err)
	}
	pols, err := s.Policies(ctx)
	check(t, err, "Policies")
	if len(pols) != 2 || pols[0].Policy != "guarantees" || pols[0].Version != 2 || pols[0].Source != "policy: guarantees # v2" || pols[0].Actor != "cli:alice" {
		t.Fatalf("policies %+v", pols)
	}
	var got []string
	check(t, s.Alerts(ctx, 0, "", 0, func(a store.AlertRow) error {
		got = append(got, fmt.Sprintf("%d:%s:%s:%v:%v", a.JournalIndex, a.Policy, a.SourceID, a.Spans, a.Masked))
		return nil
	}), "Alerts")
	if strings.Join(got, " ") != "20:guarantees:m9:[[0 2]]:[6225**] 21:off-channel:m9:[[0 2]]:[6225**] 22:guarantees:m9:[[0 2]]:[6225**]" {
		t.Fatalf("alerts %v", got)
	}
	if a, err := s.Alert(ctx, 21); err != nil || a.Policy != "off-channel" {
		t.Fatalf("Alert(21): %+v, %v", a, err)
	}
	if _, err := s.Alert(ctx, 99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Alert(99): %v", err)
	}
	write(t, s, func(tx store.Tx) {
		check(t, tx.IndexReview(ctx, store.ReviewRow{JournalIndex: 30, Time: ms(7), Actor: "cli:bob", ReviewEvent: archive.ReviewEvent{
			Action: "close", Disposition: "no_issue", Reason: "bulk", Items: []archive.ReviewItem{{Alert: 20}, {Alert: 22}}}}), "IndexReview")
	})
	var acts []string
	check(t, s.ReviewActions(ctx, 22, func(r store.ReviewActionRow) error {
		acts = append(acts, fmt.Sprintf("%d:%d:%s:%s:%s:%s", r.JournalIndex, r.Alert, r.Actor, r.Action, r.Disposition, r.Reason))
		return nil
	}), "ReviewActions")
	if strings.Join(acts, " ") != "30:22:cli:bob:close:no_issue:bulk" {
		t.Fatalf("review actions %v", acts)
	}
	got = nil
	check(t, s.Alerts(ctx, 20, "guarantees", 1, func(a store.AlertRow) error {
		got = append(got, fmt.Sprint(a.JournalIndex))
		return nil
	}), "Alerts")
	if strings.Join(got, " ") != "22" {
		t.Fatalf("filtered alerts %v", got)
	}
	// What a conditional append checks, inside a transaction: the latest
	// policy version, and the last review action other than a view.
	write(t, s, func(tx store.Tx) {
		check(t, tx.IndexReview(ctx, store.ReviewRow{JournalIndex: 31, Time: ms(8), Actor: "cli:carol", ReviewEvent: archive.ReviewEvent{
			Action: "view", Items: []archive.ReviewItem{{Alert: 21}, {Alert: 22}}}}), "IndexReview")
		for _, tc := range []struct {
			name string
			want int
		}{{"guarantees", 2}, {"off-channel", 1}, {"nope", 0}} {
			v, err := tx.LatestPolicyVersion(ctx, tc.name)
			check(t, err, "LatestPolicyVersion")
			if v != tc.want {
				t.Errorf("LatestPolicyVersion(%s) = %d, want %d", tc.name, v, tc.want)
			}
		}
		for _, tc := range []struct {
			alerts []uint64
			want   uint64
		}{{[]uint64{20}, 30}, {[]uint64{21}, 0}, {[]uint64{21, 22}, 30}, {nil, 0}} {
			j, err := tx.LastReviewAction(ctx, tc.alerts)
			check(t, err, "LastReviewAction")
			if j != tc.want {
				t.Errorf("LastReviewAction(%v) = %d, want %d (views do not count)", tc.alerts, j, tc.want)
			}
		}
	})
}

// testCloseUnreleasedSnapshot: Close does not wait for a snapshot its
// caller never released (a forgotten release, a panic between Snapshot
// and release): it releases it, the snapshot's reads then fail with an
// error, and a late release is harmless.
func testCloseUnreleasedSnapshot(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) { index(t, tx, msgRow(1, "src:a", "before")) })
	snap, release, err := s.Snapshot(ctx)
	check(t, err, "Snapshot")
	if _, err := snap.Message(ctx, 1); err != nil {
		t.Fatalf("snapshot read: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		check(t, err, "Close")
	case <-time.After(60 * time.Second):
		t.Fatal("Close still waiting for an unreleased snapshot after a minute")
	}
	if _, err := snap.Message(ctx, 1); err == nil {
		t.Error("a snapshot read after Close succeeded")
	}
	_ = release() // after Close: must not panic
}
