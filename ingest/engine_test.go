package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/store/sqlite"
)

var ctx = context.Background()

const origin = "wxarchive.test/engine"

// clock is the injected engine clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var keys struct {
	once           sync.Once
	signer, verify string
}

func signer(t testing.TB) (*journal.Signer, *journal.Verifier) {
	t.Helper()
	keys.once.Do(func() {
		var err error
		if keys.signer, keys.verify, err = journal.GenerateKey("wxtest"); err != nil {
			panic(err)
		}
	})
	s, err := journal.NewSigner(origin, keys.signer)
	if err != nil {
		t.Fatal(err)
	}
	v, err := journal.NewVerifier(origin, keys.verify)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// env is one archive: a database file, a blob directory, an engine.
type env struct {
	dir   string
	st    *sqlite.Store
	blobs *fsblob.Store
	ver   *journal.Verifier
	clock *clock
	eng   *ingest.Engine
}

// newEnv opens an archive in a new directory. wrap, if not nil, decorates
// the store the engine writes through (the env's st stays the real one).
func newEnv(t testing.TB, cfg ingest.Config, wrap func(store.Store) store.Store) *env {
	t.Helper()
	return openEnv(t, t.TempDir(), cfg, wrap)
}

func openEnv(t testing.TB, dir string, cfg ingest.Config, wrap func(store.Store) store.Store) *env {
	t.Helper()
	e := &env{dir: dir, clock: &clock{t: time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)}}
	var err error
	if e.st, err = sqlite.Open(ctx, filepath.Join(dir, "index.db"), sqlite.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = fsblob.Open(filepath.Join(dir, "blobs"), fsblob.Options{Now: e.clock.Now, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	var sg *journal.Signer
	sg, e.ver = signer(t)
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	var st store.Store = e.st
	if wrap != nil {
		st = wrap(e.st)
	}
	e.eng = ingest.New(cfg, st, e.blobs, sg)
	t.Cleanup(func() {
		e.eng.Close(ctx, false)
		e.st.Close()
		e.blobs.Close()
	})
	return e
}

const src = "wecom-archive:ww-test"

// item is a text message; the raw bytes depend on id and text only.
func item(id, text string) ingest.Item {
	raw := []byte(fmt.Sprintf(`{"msgid":%q,"msgtype":"text","text":{"content":%q}}`, id, text))
	m := &archive.Message{Source: src, SourceID: id, SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
		SentAt: archive.MillisTime(1741599000000), Conversation: "direct:wmExt1|zhangwei", ConversationKind: archive.ConversationDirect,
		Sender: "zhangwei", Recipients: []string{"wmExt1"},
		Participants: []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "wmExt1", Kind: archive.ParticipantExternal}},
		Direction:    archive.DirectionOutbound, Text: text}
	return ingest.Item{Source: src, Raw: raw, Message: m, Origin: "test <" + id + "> & 来源"}
}

func reject(raw, origin string) ingest.Item {
	return ingest.Item{Source: src, Raw: []byte(raw), Origin: origin, Reject: &ingest.Rejection{Field: "msgid", Reason: "无法解析 <invalid JSON>"}}
}

func archiveItems(t *testing.T, e *ingest.Engine, items ...ingest.Item) []ingest.Result {
	t.Helper()
	res, err := e.Archive(ctx, "test", items)
	if err != nil {
		t.Fatalf("Archive(%d items): %v", len(items), err)
	}
	if len(res) != len(items) {
		t.Fatalf("Archive(%d items) returned %d results", len(items), len(res))
	}
	return res
}

func head(t *testing.T, st store.Reader) store.Head {
	t.Helper()
	h, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func counts(t *testing.T, st store.Reader) store.Counts {
	t.Helper()
	c, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dump(t *testing.T, st store.Reader) string {
	t.Helper()
	var b strings.Builder
	if err := st.DumpProjection(ctx, func(table, key, row string) error {
		fmt.Fprintf(&b, "%s|%q|%s\n", table, key, row)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// leafEvent reads and parses journal leaf idx.
func leafEvent(t *testing.T, st store.Reader, idx uint64) *journal.Event {
	t.Helper()
	var ev *journal.Event
	err := st.Leaves(ctx, idx, idx+1, func(i uint64, _, leaf []byte) error {
		var err error
		ev, err = journal.ParseLeaf(i, leaf)
		return err
	})
	if err != nil {
		t.Fatalf("leaf %d: %v", idx, err)
	}
	if ev == nil {
		t.Fatalf("leaf %d missing", idx)
	}
	return ev
}

func messageEvent(t *testing.T, st store.Reader, idx uint64) archive.MessageEvent {
	t.Helper()
	ev := leafEvent(t, st, idx)
	if ev.Type != archive.EventMessageArchived && ev.Type != archive.EventMessageConflict {
		t.Fatalf("leaf %d is %s, not a message event", idx, ev.Type)
	}
	var p archive.MessageEvent
	if err := ev.DecodePayload(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyJournal checks the whole journal: leaves contiguous and canonical,
// every checkpoint signed and equal to the root recomputed from stored
// nodes and to the root recomputed from the leaves alone; the latest
// checkpoint covers the journal.
func verifyJournal(t *testing.T, st store.Reader, v *journal.Verifier) {
	t.Helper()
	h := head(t, st)
	tree := journal.NewTree()
	roots := map[uint64][]byte{0: journal.EmptyRoot()}
	next := uint64(0)
	err := st.Leaves(ctx, 0, h.JournalSize, func(i uint64, hash, leaf []byte) error {
		if i != next {
			return fmt.Errorf("leaf %d follows %d", i, next-1)
		}
		next++
		if _, err := journal.ParseLeaf(i, leaf); err != nil {
			return err
		}
		if !bytes.Equal(hash, journal.LeafHash(leaf)) {
			return fmt.Errorf("leaf %d: stored hash does not match", i)
		}
		tree.Append(hash, nil)
		roots[tree.Size()] = tree.Root()
		return nil
	})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	if next != h.JournalSize {
		t.Fatalf("journal has %d leaves, head says %d", next, h.JournalSize)
	}
	n := 0
	err = st.Checkpoints(ctx, func(c store.CheckpointRow) error {
		n++
		cp, err := v.Open(c.Note)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", c.Size, err)
		}
		if cp.Size != c.Size {
			return fmt.Errorf("checkpoint row %d holds a note of size %d", c.Size, cp.Size)
		}
		stored, err := journal.RootAt(ctx, st, c.Size)
		if err != nil {
			return fmt.Errorf("RootAt(%d): %w", c.Size, err)
		}
		if !bytes.Equal(stored, cp.Root) || !bytes.Equal(roots[c.Size], cp.Root) {
			return fmt.Errorf("checkpoint %d: signed root %x, stored nodes give %x, leaves give %x", c.Size, cp.Root, stored, roots[c.Size])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.JournalSize > 0 && (n == 0 || h.CheckpointSize != h.JournalSize) {
		t.Fatalf("head %+v: the latest checkpoint must cover the journal", h)
	}
}

// ---- store decorator -------------------------------------------------------

// hookStore decorates a store.Store for fault injection: a transaction
// whose IndexMessage fails for one source id, a gate that holds the first
// Begin, and a hook after PendingRecords.
type hookStore struct {
	store.Store
	failOn string

	gate     chan struct{} // if set, the first Begin waits until it is closed
	entered  chan struct{} // closed when the first Begin is waiting
	gateOnce sync.Once

	mu            sync.Mutex
	begins        int
	onPendingRead func()
}

func (h *hookStore) Begin(ctx context.Context) (store.Tx, error) {
	h.mu.Lock()
	h.begins++
	h.mu.Unlock()
	if h.gate != nil {
		h.gateOnce.Do(func() {
			close(h.entered)
			<-h.gate
		})
	}
	tx, err := h.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &hookTx{Tx: tx, h: h}, nil
}

func (h *hookStore) PendingRecords(ctx context.Context, after store.RecordKey, limit int64, fn func(store.PendingRecord) error) error {
	err := h.Store.PendingRecords(ctx, after, limit, fn)
	h.mu.Lock()
	hook := h.onPendingRead
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	return err
}

type hookTx struct {
	store.Tx
	h *hookStore
}

var errInjected = errors.New("injected index failure")

func (x *hookTx) IndexMessage(ctx context.Context, m store.MessageRow, atts []store.AttachmentRow) error {
	if x.h.failOn != "" && m.SourceID == x.h.failOn {
		return fmt.Errorf("message %q: %w", m.SourceID, errInjected)
	}
	return x.Tx.IndexMessage(ctx, m, atts)
}

// ---- tests -------------------------------------------------------------------

// TestGroupCommit: 50 concurrent callers get 50 distinct, gap-free serials
// from fewer commits than requests. The first commit is held in Begin until
// every request is queued, so the second commit must take them all.
func TestGroupCommit(t *testing.T) {
	hs := &hookStore{gate: make(chan struct{}), entered: make(chan struct{})}
	e := newEnv(t, ingest.Config{}, func(s store.Store) store.Store { hs.Store = s; return hs })
	const n = 50
	var queued, done sync.WaitGroup
	results := make([]ingest.Result, n)
	errs := make([]error, n)
	queued.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			// Archive is Submit + Wait; splitting it lets the test know
			// when every request is queued.
			f := e.eng.Submit(ctx, "test", []ingest.Item{item(fmt.Sprintf("gc-%02d", i), fmt.Sprintf("并发消息 %d", i))})
			queued.Done()
			res, err := f.Wait(ctx)
			if err == nil && len(res) != 1 {
				err = fmt.Errorf("%d results", len(res))
			}
			if err == nil {
				results[i] = res[0]
			}
			errs[i] = err
		}()
	}
	queued.Wait()
	<-hs.entered
	close(hs.gate)
	done.Wait()

	seen := map[uint64]bool{}
	var serials []int
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if r.Outcome != ingest.Archived || r.Version != 1 || seen[r.Serial] {
			t.Fatalf("request %d: %+v (serial seen before: %v)", i, r, seen[r.Serial])
		}
		seen[r.Serial] = true
		serials = append(serials, int(r.Serial))
		// The result's journal index holds this very message.
		p := messageEvent(t, e.st, r.JournalIndex)
		if p.Serial != r.Serial || p.SourceID != fmt.Sprintf("gc-%02d", i) {
			t.Fatalf("request %d: result %+v points at leaf with serial %d, msgid %s", i, r, p.Serial, p.SourceID)
		}
	}
	sort.Ints(serials)
	for i, s := range serials {
		if s != i+1 {
			t.Fatalf("serials %v: want exactly 1..%d", serials, n)
		}
	}
	c := counts(t, e.st)
	if c.Checkpoints >= n || c.Checkpoints > 2 {
		t.Fatalf("%d commits (checkpoints) for %d requests: group commit should need 2", c.Checkpoints, n)
	}
	if c.Messages != n || c.PendingRecords != 2*n {
		t.Fatalf("counts = %+v", c)
	}
	if h := head(t, e.st); h.NextSerial != n+1 || h.JournalSize != n {
		t.Fatalf("head = %+v", h)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestConcurrentArchive: the same through Archive, without holding commits
// back; whatever the batching, serials are distinct and gap-free.
func TestConcurrentArchive(t *testing.T) {
	e := newEnv(t, ingest.Config{MaxBatch: 7}, nil)
	const n = 50
	var wg sync.WaitGroup
	res := make([][]ingest.Result, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = e.eng.Archive(ctx, "test", []ingest.Item{item(fmt.Sprintf("ca-%d", i), "x"), item(fmt.Sprintf("ca-%d-b", i), "y")})
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for j, r := range res[i] {
			if seen[r.Serial] || r.Serial < 1 || r.Serial > 2*n {
				t.Fatalf("request %d item %d: serial %d", i, j, r.Serial)
			}
			seen[r.Serial] = true
		}
		// One request's items are committed together and in order.
		if res[i][1].Serial != res[i][0].Serial+1 || res[i][1].JournalIndex != res[i][0].JournalIndex+1 {
			t.Fatalf("request %d: items not contiguous: %+v", i, res[i])
		}
	}
	verifyJournal(t, e.st, e.ver)
}

// TestMixedBatch: new, duplicate, conflict and reject items in one batch
// keep input order in the journal and get the right outcomes.
func TestMixedBatch(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	// Something at journal index 0, so that a zero JournalIndex in a
	// result cannot pass for a right one.
	if _, err := e.eng.Append(ctx, participantEvent("zhangwei")); err != nil {
		t.Fatal(err)
	}
	first := archiveItems(t, e.eng, item("m1", "原始"), reject("{bad", "file:a.jsonl line 2"))
	if first[0] != (ingest.Result{Serial: 1, JournalIndex: 1, Version: 1, Outcome: ingest.Archived}) {
		t.Fatalf("m1 = %+v", first[0])
	}
	if first[1] != (ingest.Result{JournalIndex: 2, Outcome: ingest.Rejected}) {
		t.Fatalf("reject = %+v", first[1])
	}

	batch := []ingest.Item{
		item("m2", "新消息"),                                  // 0 new
		item("m1", "原始"),                                   // 1 duplicate of m1
		item("m1", "改过的"),                                  // 2 conflict: same msgid, other bytes
		reject("{bad", "file:a.jsonl line 2"),              // 3 already quarantined from this origin
		reject("{bad", "file:b.jsonl line 9"),              // 4 same bytes, other origin: quarantined
		item("m3", "另一条"),                                  // 5 new
		item("m2", "新消息"),                                  // 6 duplicate of item 0, in the same batch
		reject("{bad", "file:b.jsonl line 9"),              // 7 duplicate of item 4, in the same batch
		item("m1", "改过的"),                                  // 8 duplicate of the conflict version
		reject("{other bad", "file:a.jsonl line 2"),        // 9 other bytes, same origin: quarantined
		item("m4 \"<&>\u2028 特殊", "escape\u2029 <b>&amp;"), // 10 new, awkward JSON
	}
	res := archiveItems(t, e.eng, batch...)
	want := []ingest.Result{
		{Serial: 2, JournalIndex: 3, Version: 1, Outcome: ingest.Archived},
		{Serial: 1, JournalIndex: 1, Version: 1, Outcome: ingest.Duplicate},
		{Serial: 3, JournalIndex: 4, Version: 2, Outcome: ingest.Conflict},
		{JournalIndex: 2, Outcome: ingest.Rejected},
		{JournalIndex: 5, Outcome: ingest.Rejected},
		{Serial: 4, JournalIndex: 6, Version: 1, Outcome: ingest.Archived},
		{Serial: 2, JournalIndex: 3, Version: 1, Outcome: ingest.Duplicate},
		{JournalIndex: 5, Outcome: ingest.Rejected},
		{Serial: 3, JournalIndex: 4, Version: 2, Outcome: ingest.Duplicate},
		{JournalIndex: 7, Outcome: ingest.Rejected},
		{Serial: 5, JournalIndex: 8, Version: 1, Outcome: ingest.Archived},
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("item %d: %+v, want %+v", i, res[i], want[i])
		}
	}
	// The journal holds the new events in input order.
	types := []string{archive.EventMessageArchived, archive.EventMessageConflict, archive.EventInputRejected,
		archive.EventMessageArchived, archive.EventInputRejected, archive.EventMessageArchived}
	for k, typ := range types {
		if ev := leafEvent(t, e.st, uint64(3+k)); ev.Type != typ {
			t.Fatalf("leaf %d is %s, want %s", 3+k, ev.Type, typ)
		}
	}
	if p := messageEvent(t, e.st, 4); p.SourceID != "m1" || p.Version != 2 || p.ConflictsWith != 1 || p.Serial != 3 {
		t.Fatalf("conflict event = %+v", p)
	}
	if h := head(t, e.st); h.JournalSize != 9 || h.NextSerial != 6 {
		t.Fatalf("head = %+v", h)
	}
	var rejs []store.RejectRow
	e.st.Rejects(ctx, func(r store.RejectRow) error { rejs = append(rejs, r); return nil })
	if len(rejs) != 3 || rejs[0].Origin != "file:a.jsonl line 2" || rejs[1].Origin != "file:b.jsonl line 9" || rejs[1].JournalIndex != 5 {
		t.Fatalf("rejects = %+v", rejs)
	}
	rows, err := e.st.MessagesBySourceID(ctx, "m1")
	if err != nil || len(rows) != 2 || rows[1].Version != 2 || rows[1].ConflictsWith != 1 || rows[1].Text != "改过的" {
		t.Fatalf("m1 versions = %+v, %v", rows, err)
	}
	if c := counts(t, e.st); c.Messages != 5 || c.Conflicts != 1 || c.Rejects != 3 || c.PendingRecords != 2*5+3 {
		t.Fatalf("counts = %+v", c)
	}
	// The same batch again writes nothing.
	before := head(t, e.st)
	again := archiveItems(t, e.eng, batch...)
	for i, r := range again {
		if r.Outcome == ingest.Archived || r.Outcome == ingest.Conflict {
			t.Fatalf("replayed item %d: %+v", i, r)
		}
		if r.JournalIndex != want[i].JournalIndex || r.Serial != want[i].Serial {
			t.Fatalf("replayed item %d: %+v, want the original %+v", i, r, want[i])
		}
	}
	if h := head(t, e.st); h != before {
		t.Fatalf("replaying a batch changed the head: %+v → %+v", before, h)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestRejectTruncated: oversize inputs are identified by the hash of the
// whole input, not of the kept prefix.
func TestRejectTruncated(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	prefix := "{\"msgid\":\"huge\",\"text\":\"aaaa"
	big := func(tail string) ingest.Item {
		whole := prefix + strings.Repeat("a", 1000) + tail
		it := reject(prefix, "file:big.jsonl line 1")
		it.Reject.FullSize, it.Reject.FullHash = int64(len(whole)), archive.Hash([]byte(whole))
		return it
	}
	res := archiveItems(t, e.eng, big("1"), big("2"), big("1"))
	if res[0].JournalIndex == res[1].JournalIndex {
		t.Fatalf("two different oversize inputs with the same kept prefix were deduplicated: %+v", res)
	}
	if res[2].JournalIndex != res[0].JournalIndex {
		t.Fatalf("the same oversize input twice was quarantined twice: %+v", res)
	}
	ev := leafEvent(t, e.st, res[1].JournalIndex)
	var p archive.RejectEvent
	if err := ev.DecodePayload(&p); err != nil {
		t.Fatal(err)
	}
	if !p.Truncated || p.FullSize != int64(len(prefix)+1001) || p.Raw != archive.Hash([]byte(prefix)) {
		t.Fatalf("reject event = %+v", p)
	}
}

// TestLargeBatchConflictVersion: a batch larger than any internal lookup
// chunk that names an archived msgid twice numbers its new version 2.
func TestLargeBatchConflictVersion(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	archiveItems(t, e.eng, item("dup", "v1"))
	batch := []ingest.Item{item("dup", "v1")}
	for i := 0; i < 399; i++ {
		batch = append(batch, item(fmt.Sprint("fill-", i), "f"))
	}
	batch = append(batch, item("dup", "v2"))
	res := archiveItems(t, e.eng, batch...)
	if res[0].Outcome != ingest.Duplicate || res[0].Serial != 1 {
		t.Fatalf("first item = %+v", res[0])
	}
	if r := res[len(res)-1]; r.Outcome != ingest.Conflict || r.Version != 2 {
		t.Fatalf("conflict in a large batch = %+v, want version 2", r)
	}
}

func participantEvent(id string) journal.Event {
	ev, err := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{
		ID: id, Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(1700000000000)})
	if err != nil {
		panic(err)
	}
	return ev
}

// TestFailureAtomicity: a commit that fails half-way leaves nothing behind
// (database and in-memory tree), and the next commit continues with the
// next serial and a checkpoint that verifies.
func TestFailureAtomicity(t *testing.T) {
	hs := &hookStore{failOn: "poison"}
	e := newEnv(t, ingest.Config{}, func(s store.Store) store.Store { hs.Store = s; return hs })
	// 14 leaves, so the failing batch completes a level-4 tree node (16
	// leaves) in the tree it must throw away.
	var pre []ingest.Item
	for i := 0; i < 14; i++ {
		pre = append(pre, item(fmt.Sprint("pre-", i), "x"))
	}
	archiveItems(t, e.eng, pre...)
	h0, c0, d0 := head(t, e.st), counts(t, e.st), dump(t, e.st)

	_, err := e.eng.Archive(ctx, "test", []ingest.Item{item("a", "1"), item("b", "2"), reject("{", "o"), item("c", "3"), item("poison", "4"), item("d", "5")})
	if !errors.Is(err, errInjected) {
		t.Fatalf("Archive with a failing item: err %v, want the injected failure", err)
	}
	if h := head(t, e.st); h != h0 {
		t.Fatalf("failed commit changed the head: %+v → %+v", h0, h)
	}
	if c := counts(t, e.st); c != c0 {
		t.Fatalf("failed commit changed counts: %+v → %+v", c0, c)
	}
	if d := dump(t, e.st); d != d0 {
		t.Fatal("failed commit changed the projection")
	}
	if _, err := e.st.MessagesBySourceID(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("message of the failed batch is visible: %v", err)
	}
	if _, err := e.st.PendingRecord(ctx, store.RecordKey{JournalIndex: h0.JournalSize}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record of the failed batch is visible: %v", err)
	}

	// Failing before queueing: a message whose source differs from its
	// item's, and an item with neither message nor rejection.
	bad := item("e", "x")
	bad.Message.Source = "other:source"
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("ok", "x"), bad}); err == nil {
		t.Fatal("Archive of an item whose message names another source succeeded")
	}
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{{Source: src, Raw: []byte("x")}}); err == nil {
		t.Fatal("Archive of an item without message or rejection succeeded")
	}
	// An event Append cannot encode fails its commit whole.
	badEv := participantEvent("x")
	badEv.Type = "Not A Type"
	if _, err := e.eng.Append(ctx, participantEvent("y"), badEv); err == nil {
		t.Fatal("Append of an event with an invalid type succeeded")
	}
	if h := head(t, e.st); h != h0 {
		t.Fatalf("rejected submissions changed the head: %+v → %+v", h0, h)
	}

	// The next batch continues gap-free from the database state, and its
	// checkpoint is computed from the tree as it was before the failure.
	res := archiveItems(t, e.eng, item("a", "1"), item("b", "2"), reject("{", "o"), item("c", "3"), item("d", "5"))
	for i, r := range []ingest.Result{res[0], res[1], res[3], res[4]} {
		if r.Outcome != ingest.Archived || r.Serial != h0.NextSerial+uint64(i) {
			t.Fatalf("after the failure: result %d = %+v, want serial %d", i, r, h0.NextSerial+uint64(i))
		}
	}
	if res[0].JournalIndex != h0.JournalSize || res[4].JournalIndex != h0.JournalSize+4 {
		t.Fatalf("journal indexes after the failure: %+v (journal size was %d)", res, h0.JournalSize)
	}
	if h := head(t, e.st); h.JournalSize != h0.JournalSize+5 || h.NextSerial != h0.NextSerial+4 || h.CheckpointSize != h.JournalSize {
		t.Fatalf("head after the failure = %+v", h)
	}
	verifyJournal(t, e.st, e.ver)
	// And again, to be sure the engine's tree is the committed one.
	archiveItems(t, e.eng, item("f", "6"))
	verifyJournal(t, e.st, e.ver)
}

// TestTwoEngines: two writers on one database (two processes, or `show`
// next to `serve`) alternate; each continues from what the other wrote.
func TestTwoEngines(t *testing.T) {
	dir := t.TempDir()
	a := openEnv(t, dir, ingest.Config{}, nil)
	b := openEnv(t, dir, ingest.Config{}, nil)
	var serials []uint64
	for round := 0; round < 6; round++ {
		w := a
		if round%2 == 1 {
			w = b
		}
		var items []ingest.Item
		for i := 0; i < 3+round; i++ { // varying sizes, so trees of both cross node boundaries
			items = append(items, item(fmt.Sprintf("r%d-%d", round, i), fmt.Sprint("第", round, "轮")))
		}
		for _, r := range archiveItems(t, w.eng, items...) {
			serials = append(serials, r.Serial)
		}
		if _, err := w.eng.Append(ctx, participantEvent(fmt.Sprint("p", round))); err != nil {
			t.Fatal(err)
		}
		verifyJournal(t, a.st, a.ver)
	}
	for i, s := range serials {
		if s != uint64(i+1) {
			t.Fatalf("serials %v: want 1..%d in order", serials, len(serials))
		}
	}
	// Each sees the other's messages: a duplicate of one archived by a.
	res := archiveItems(t, b.eng, item("r0-0", fmt.Sprint("第", 0, "轮")))
	if res[0].Outcome != ingest.Duplicate || res[0].Serial != 1 {
		t.Fatalf("b archiving a's message: %+v, want a duplicate of serial 1", res[0])
	}
	// Both close; the last one seals everything either wrote.
	if err := b.eng.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	h := head(t, a.st)
	if c := counts(t, a.st); c.PendingRecords != 0 || h.SealedSize != h.JournalSize {
		t.Fatalf("after close: %+v, %+v", c, h)
	}
	verifyJournal(t, b.st, b.ver)
}

// TestClose: Close commits and seals; afterwards every write fails with
// ErrClosed.
func TestClose(t *testing.T) {
	t.Run("seal", func(t *testing.T) {
		e := newEnv(t, ingest.Config{}, nil)
		archiveItems(t, e.eng, item("a", "1"), item("b", "2"), reject("{", "o"))
		if _, err := e.eng.Append(ctx, participantEvent("p")); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.Close(ctx, true); err != nil {
			t.Fatal(err)
		}
		c, h := counts(t, e.st), head(t, e.st)
		if c.PendingRecords != 0 || c.Packs == 0 || c.Segments == 0 {
			t.Fatalf("after Close(seal): %+v", c)
		}
		if h.SealedSize != h.JournalSize || h.CheckpointSize != h.JournalSize {
			t.Fatalf("after Close(seal): head %+v", h)
		}
		if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("c", "3")}); !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("Archive after Close: %v, want ErrClosed", err)
		}
		if _, err := e.eng.Submit(ctx, "test", []ingest.Item{item("c", "3")}).Wait(ctx); !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("Submit after Close: %v, want ErrClosed", err)
		}
		if _, err := e.eng.Reject(ctx, "test", reject("{{", "o")); !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("Reject after Close: %v, want ErrClosed", err)
		}
		if _, err := e.eng.Append(ctx, participantEvent("q")); !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("Append after Close: %v, want ErrClosed", err)
		}
		if err := e.eng.Close(ctx, true); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if h2 := head(t, e.st); h2 != h {
			t.Fatalf("writes after Close changed the head: %+v → %+v", h, h2)
		}
		verifyJournal(t, e.st, e.ver)
	})
	t.Run("no-seal", func(t *testing.T) {
		e := newEnv(t, ingest.Config{}, nil)
		archiveItems(t, e.eng, item("a", "1"), item("b", "2"))
		if err := e.eng.Close(ctx, false); err != nil {
			t.Fatal(err)
		}
		if c, h := counts(t, e.st), head(t, e.st); c.PendingRecords != 4 || c.Packs != 0 || h.SealedSize != 0 {
			t.Fatalf("after Close(no seal): %+v, %+v", c, h)
		}
		if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("c", "3")}); !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("Archive after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("queued", func(t *testing.T) {
		// Requests queued when Close starts are committed and their
		// records sealed like everything else.
		hs := &hookStore{gate: make(chan struct{}), entered: make(chan struct{})}
		e := newEnv(t, ingest.Config{}, func(s store.Store) store.Store { hs.Store = s; return hs })
		fa := e.eng.Submit(ctx, "test", []ingest.Item{item("a", "1")})
		<-hs.entered // the committer holds a's request
		fb := e.eng.Submit(ctx, "test", []ingest.Item{item("b", "2")})
		closed := make(chan error, 1)
		go func() { closed <- e.eng.Close(ctx, true) }()
		for !e.eng.Closed() { // Close has begun, with a and b still queued
			time.Sleep(time.Millisecond)
		}
		close(hs.gate)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		for _, f := range []*ingest.Future{fa, fb} {
			if _, err := f.Wait(ctx); err != nil {
				t.Fatalf("request queued before Close: %v", err)
			}
		}
		c, h := counts(t, e.st), head(t, e.st)
		if c.Messages != 2 || c.PendingRecords != 0 || h.SealedSize != h.JournalSize {
			t.Fatalf("after Close(seal) with queued requests: %+v, head %+v", c, h)
		}
	})
}

// TestSeal: the sealer waits for half the seal delay (by the injected
// clock), packs records by retain-until day, and journals every pack.
func TestSeal(t *testing.T) {
	e := newEnv(t, ingest.Config{SealDelay: 10 * time.Second}, nil)
	t0 := time.Date(2025, 3, 10, 23, 59, 58, 0, time.UTC)
	e.clock.Set(t0)
	var items1 []ingest.Item
	for i := 0; i < 5; i++ {
		items1 = append(items1, item(fmt.Sprint("day1-", i), "今天"))
	}
	items1 = append(items1, reject("{broken", "file:x line 1"))
	res1 := archiveItems(t, e.eng, items1...)
	if st, err := e.eng.Seal(ctx, false); err != nil || st != (ingest.SealStats{}) {
		t.Fatalf("Seal of fresh records: %+v, %v; want nothing sealed", st, err)
	}
	// Across midnight: a new retain-until day.
	e.clock.Set(t0.Add(3 * time.Second))
	var items2 []ingest.Item
	for i := 0; i < 3; i++ {
		items2 = append(items2, item(fmt.Sprint("day2-", i), "明天"))
	}
	res2 := archiveItems(t, e.eng, items2...)
	e.clock.Set(t0.Add(5*time.Second - time.Millisecond))
	if st, err := e.eng.Seal(ctx, false); err != nil || st != (ingest.SealStats{}) {
		t.Fatalf("Seal before SealDelay/2: %+v, %v; want nothing sealed", st, err)
	}
	if c := counts(t, e.st); c.PendingRecords != 2*5+1+2*3 || c.Packs != 0 || c.Segments != 0 {
		t.Fatalf("counts before sealing: %+v", c)
	}
	e.clock.Set(t0.Add(5 * time.Second))
	st, err := e.eng.Seal(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packs != 2 || st.Records != 2*5+1+2*3 || st.Segments != 1 {
		t.Fatalf("Seal after SealDelay/2: %+v, want 2 packs of all 17 records and 1 segment", st)
	}
	c, h := counts(t, e.st), head(t, e.st)
	if c.PendingRecords != 0 || c.Packs != 2 || h.SealedSize != h.JournalSize {
		t.Fatalf("after sealing: %+v, head %+v", c, h)
	}

	day1 := time.Date(2031, 3, 11, 0, 0, 0, 0, time.UTC) // captured 2025-03-10, 6 years, next midnight
	day2 := time.Date(2031, 3, 12, 0, 0, 0, 0, time.UTC)
	var packs []store.PackRow
	e.st.Packs(ctx, func(p store.PackRow) error { packs = append(packs, p); return nil })
	if len(packs) != 2 || !packs[0].RetainUntil.Equal(day1) || !packs[1].RetainUntil.Equal(day2) {
		t.Fatalf("packs = %+v, want one for %v and one for %v", packs, day1, day2)
	}
	// Each pack is a valid pack blob whose records match the hashes the
	// journal recorded, and is retained until its day.
	wantRecords := map[store.RecordKey]archive.BlobID{}
	for _, r := range append(res1[:5:5], res2...) {
		p := messageEvent(t, e.st, r.JournalIndex)
		wantRecords[store.RecordKey{JournalIndex: r.JournalIndex, Ordinal: archive.OrdinalRaw}] = p.Raw
		wantRecords[store.RecordKey{JournalIndex: r.JournalIndex, Ordinal: archive.OrdinalNormalized}] = p.Record
	}
	wantRecords[store.RecordKey{JournalIndex: res1[5].JournalIndex}] = archive.Hash([]byte("{broken"))
	found := 0
	for i, pr := range packs {
		b, err := e.blobs.Get(ctx, pr.Blob)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pack.Parse(b)
		if err != nil {
			t.Fatalf("pack %d: %v", i, err)
		}
		if errs := p.Verify(); len(errs) != 0 {
			t.Fatalf("pack %d: %v", i, errs)
		}
		if p.Len() != pr.Count || int64(len(b)) < pr.Bytes {
			t.Fatalf("pack %d has %d records (%d bytes), row says %+v", i, p.Len(), len(b), pr)
		}
		for _, en := range p.Entries() {
			k := store.RecordKey{JournalIndex: en.JournalIndex, Ordinal: en.Ordinal}
			want, ok := wantRecords[k]
			if !ok {
				t.Fatalf("pack %d holds an unexpected record %+v", i, k)
			}
			data, err := p.Record(en.JournalIndex, en.Ordinal)
			if err != nil || archive.Hash(data) != want {
				t.Fatalf("pack %d record %+v: %v; does not match the journal's hash", i, k, err)
			}
			if en.JournalIndex < pr.First || en.JournalIndex > pr.Last {
				t.Fatalf("pack %d record %+v outside the row's range %d..%d", i, k, pr.First, pr.Last)
			}
			found++
		}
		info, err := e.blobs.Stat(ctx, pr.Blob)
		if err != nil || !info.RetainUntil.Equal(pr.RetainUntil.Time) {
			t.Fatalf("pack %d retained until %v (%v), want %v", i, info.RetainUntil, err, pr.RetainUntil)
		}
	}
	if found != len(wantRecords) {
		t.Fatalf("packs hold %d records, want %d", found, len(wantRecords))
	}
	// records.sealed events: one per pack, with first/last/count.
	var sealed []archive.SealEvent
	e.st.Leaves(ctx, 0, h.JournalSize, func(i uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(i, leaf)
		if err != nil {
			return err
		}
		if ev.Type == archive.EventRecordsSealed {
			var p archive.SealEvent
			if err := ev.DecodePayload(&p); err != nil {
				return err
			}
			sealed = append(sealed, p)
			if pr := packs[len(sealed)-1]; pr.JournalIndex != i {
				t.Errorf("pack row %+v does not point at its records.sealed event %d", pr, i)
			}
		}
		return nil
	})
	if len(sealed) != 2 {
		t.Fatalf("%d records.sealed events, want 2", len(sealed))
	}
	for i, s := range sealed {
		pr := packs[i]
		if s.Pack != pr.Blob || s.First != pr.First || s.Last != pr.Last || s.Count != pr.Count || s.Bytes != pr.Bytes || !s.RetainUntil.Equal(pr.RetainUntil.Time) {
			t.Fatalf("records.sealed %+v does not match pack row %+v", s, pr)
		}
	}
	if sealed[0].First != res1[0].JournalIndex || sealed[0].Last != res1[5].JournalIndex || sealed[0].Count != 11 ||
		sealed[1].First != res2[0].JournalIndex || sealed[1].Last != res2[2].JournalIndex || sealed[1].Count != 6 {
		t.Fatalf("records.sealed events = %+v", sealed)
	}
	// The segment holds the journal (with its checkpoints) in the blob store.
	var segs []store.SegmentRow
	e.st.Segments(ctx, func(s store.SegmentRow) error { segs = append(segs, s); return nil })
	if len(segs) != 1 || segs[0].First != 0 || segs[0].End != h.JournalSize {
		t.Fatalf("segments = %+v", segs)
	}
	b, err := e.blobs.Get(ctx, segs[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := journal.ParseSegment(b)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	e.st.Leaves(ctx, 0, h.JournalSize, func(_ uint64, _, leaf []byte) error {
		if !bytes.Equal(seg.Leaves[i], leaf) {
			t.Errorf("segment leaf %d differs from the journal", i)
		}
		i++
		return nil
	})
	if len(seg.Leaves) != i || len(seg.Checkpoints) == 0 {
		t.Fatalf("segment: %d leaves, %d checkpoints", len(seg.Leaves), len(seg.Checkpoints))
	}
	for _, n := range seg.Checkpoints {
		if _, err := e.ver.Open(n); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing left: sealing again is a no-op.
	if st, err := e.eng.Seal(ctx, true); err != nil || st != (ingest.SealStats{}) {
		t.Fatalf("Seal with nothing pending: %+v, %v", st, err)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestSealForceAndPackTarget: a forced seal seals fresh records; records
// beyond the pack target go into further packs.
func TestSealForceAndPackTarget(t *testing.T) {
	e := newEnv(t, ingest.Config{PackTarget: 2000}, nil)
	var items []ingest.Item
	for i := 0; i < 20; i++ {
		items = append(items, item(fmt.Sprint("big-", i), strings.Repeat("长", 100)))
	}
	archiveItems(t, e.eng, items...)
	st, err := e.eng.Seal(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 40 || st.Packs < 2 {
		t.Fatalf("forced seal: %+v, want 40 records in several packs", st)
	}
	if c := counts(t, e.st); c.PendingRecords != 0 || c.Packs != int64(st.Packs) {
		t.Fatalf("counts = %+v", c)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestSealSegments: segments are contiguous, end at checkpoints (so each
// verifies alone) and stay within SegmentLeaves unless one commit is larger.
func TestSealSegments(t *testing.T) {
	e := newEnv(t, ingest.Config{SegmentLeaves: 4}, nil)
	n := 0
	for _, size := range []int{3, 3, 1, 2, 10, 1} {
		var items []ingest.Item
		for i := 0; i < size; i++ {
			items = append(items, item(fmt.Sprint("seg-", n), "x"))
			n++
		}
		archiveItems(t, e.eng, items...)
	}
	cps := map[uint64]bool{}
	e.st.Checkpoints(ctx, func(c store.CheckpointRow) error { cps[c.Size] = true; return nil })
	st, err := e.eng.Seal(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	h := head(t, e.st)
	if st.Leaves != h.JournalSize || h.SealedSize != h.JournalSize {
		t.Fatalf("seal stats %+v, head %+v", st, h)
	}
	all := map[uint64]bool{} // with the seal's own commits
	e.st.Checkpoints(ctx, func(c store.CheckpointRow) error { all[c.Size] = true; return nil })
	var segs []store.SegmentRow
	e.st.Segments(ctx, func(s store.SegmentRow) error { segs = append(segs, s); return nil })
	if len(segs) != st.Segments || len(segs) < 4 {
		t.Fatalf("%d segments (stats say %d)", len(segs), st.Segments)
	}
	next := uint64(0)
	for i, sg := range segs {
		if sg.First != next || sg.End <= sg.First {
			t.Fatalf("segment %d = %+v: not contiguous after %d", i, sg, next)
		}
		next = sg.End
		if !all[sg.End] {
			t.Fatalf("segment %d ends at %d, which is no checkpoint", i, sg.End)
		}
		b, err := e.blobs.Get(ctx, sg.Blob)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := journal.ParseSegment(b)
		if err != nil {
			t.Fatal(err)
		}
		if seg.First != sg.First || seg.End() != sg.End || len(seg.Checkpoints) == 0 {
			t.Fatalf("segment %d: blob holds %d..%d with %d checkpoints, row says %+v", i, seg.First, seg.End(), len(seg.Checkpoints), sg)
		}
		// Verifiable alone: its last checkpoint's root is the root of the
		// tree its leaves extend.
		last, err := e.ver.Open(seg.Checkpoints[len(seg.Checkpoints)-1])
		if err != nil || last.Size != sg.End {
			t.Fatalf("segment %d: last checkpoint %+v, %v; want size %d", i, last, err, sg.End)
		}
		if sg.End-sg.First > 4 && cps[sg.First+4] {
			t.Fatalf("segment %d = %+v is longer than SegmentLeaves though a checkpoint at %d allowed a cut", i, sg, sg.First+4)
		}
	}
	if next != h.JournalSize {
		t.Fatalf("segments end at %d, journal at %d", next, h.JournalSize)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestAppend: other events get the engine's index and clock time and are
// projected in the same commit.
func TestAppend(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	archiveItems(t, e.eng, item("a", "1"))
	ev := participantEvent("lina")
	ev.Index, ev.Time = 99, archive.MillisTime(1) // ignored
	view, err := journal.NewEvent(archive.EventAccessView, "user:auditor", archive.Time{}, []string{"1"}, &archive.AccessEvent{What: "message", Serials: []uint64{1}, Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Add(time.Minute)
	idx, err := e.eng.Append(ctx, ev, view)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 2 || idx[0] != 1 || idx[1] != 2 {
		t.Fatalf("Append indexes = %v, want [1 2]", idx)
	}
	for _, i := range idx {
		if got := leafEvent(t, e.st, i); !got.Time.Equal(now) || got.Index != i {
			t.Fatalf("leaf %d: index %d time %v, want the engine's %v", i, got.Index, got.Time, now)
		}
	}
	if !strings.Contains(dump(t, e.st), "directory|") {
		t.Fatal("participant.updated was not projected into the directory")
	}
	if h := head(t, e.st); h.JournalSize != 3 || h.NextSerial != 2 || h.CheckpointSize != 3 {
		t.Fatalf("head = %+v (events take no serial)", h)
	}
	verifyJournal(t, e.st, e.ver)
}

func TestRetainUntil(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	utc := func(y int, m time.Month, d, h, min, s, ms int) time.Time {
		return time.Date(y, m, d, h, min, s, ms*1e6, time.UTC)
	}
	for _, c := range []struct {
		name  string
		years int
		at    time.Time
		want  time.Time
	}{
		{"exactly midnight stays", 6, utc(2024, 5, 1, 0, 0, 0, 0), utc(2030, 5, 1, 0, 0, 0, 0)},
		{"one ms after midnight", 6, utc(2024, 5, 1, 0, 0, 0, 1), utc(2030, 5, 2, 0, 0, 0, 0)},
		{"noon", 6, utc(2024, 5, 1, 12, 0, 0, 0), utc(2030, 5, 2, 0, 0, 0, 0)},
		{"last ms of the day", 6, utc(2024, 5, 1, 23, 59, 59, 999), utc(2030, 5, 2, 0, 0, 0, 0)},
		{"new year's eve", 6, utc(2024, 12, 31, 23, 0, 0, 0), utc(2031, 1, 1, 0, 0, 0, 0)},
		// Feb 29 plus a non-leap number of years lands on Mar 1 (never on
		// Feb 28, which would be short of the period), then rounds up.
		{"Feb 29 noon, 6 years", 6, utc(2024, 2, 29, 12, 0, 0, 0), utc(2030, 3, 2, 0, 0, 0, 0)},
		{"Feb 29 midnight, 6 years", 6, utc(2024, 2, 29, 0, 0, 0, 0), utc(2030, 3, 1, 0, 0, 0, 0)},
		{"Feb 29 noon, 4 years (leap)", 4, utc(2024, 2, 29, 12, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0, 0)},
		{"Feb 29 midnight, 4 years (leap)", 4, utc(2024, 2, 29, 0, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0, 0)},
		{"Feb 28 noon, 3 years", 3, utc(2023, 2, 28, 12, 0, 0, 0), utc(2026, 3, 1, 0, 0, 0, 0)},
		// The day is the UTC day: 07:00 in Shanghai is 23:00 UTC the day before.
		{"UTC day, not local", 6, time.Date(2024, 5, 1, 7, 0, 0, 0, shanghai), utc(2030, 5, 1, 0, 0, 0, 0)},
		{"UTC midnight given in local time", 6, time.Date(2024, 5, 1, 8, 0, 0, 0, shanghai), utc(2030, 5, 1, 0, 0, 0, 0)},
		{"default retention is 6 years", 0, utc(2024, 5, 1, 12, 0, 0, 0), utc(2030, 5, 2, 0, 0, 0, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := ingest.New(ingest.Config{RetentionYears: c.years}, nil, nil, nil)
			defer e.Close(ctx, false)
			got := e.RetainUntil(c.at)
			if !got.Time.Equal(c.want) || got.Location() != time.UTC {
				t.Fatalf("RetainUntil(%v) with %d years = %v, want %v", c.at, c.years, got, c.want)
			}
			if got.Before(c.at.AddDate(max(c.years, 0), 0, 0)) {
				t.Fatalf("RetainUntil(%v) = %v is short of the retention period", c.at, got)
			}
		})
	}
}

// ---- media -----------------------------------------------------------------

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range names {
		f, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "<x>%s</x>", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ftyp(brand string) []byte {
	b := []byte{0, 0, 0, 0x18}
	b = append(b, "ftyp"...)
	b = append(b, brand...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, "isommp41"...)
	return append(b, make([]byte, 64)...)
}

func TestSniffMediaType(t *testing.T) {
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)
	pe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 120)...)
	jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"), make([]byte, 32)...)
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 32)...)
	docx := "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	xlsx := "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	pptx := "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		// The name never decides: a renamed executable is an executable.
		{"invoice.pdf", elf, "application/x-executable"},
		{"invoice.pdf", pe, "application/vnd.microsoft.portable-executable"},
		{"photo.jpg", pe, "application/vnd.microsoft.portable-executable"},
		{"report.pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "application/pdf"},
		{"voice.silk", []byte("#!AMR\n\x3c\x48\xf5\x1f"), "audio/amr"},
		{"", []byte("#!AMR-WB\n\x04\x10"), "audio/amr-wb"},
		{"voice.amr", []byte("\x02#!SILK_V3\x0c\x00"), "audio/silk"},
		{"", []byte("#!SILK_V3\x0c\x00"), "audio/silk"},
		{"video.mov", ftyp("isom"), "video/mp4"},
		{"clip", ftyp("mp42"), "video/mp4"},
		{"clip.mp4", ftyp("qt  "), "video/quicktime"},
		{"合同.docx", zipOf(t, "[Content_Types].xml", "_rels/.rels", "word/document.xml"), docx},
		{"表格.xlsx", zipOf(t, "[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"), xlsx},
		{"slides", zipOf(t, "[Content_Types].xml", "ppt/presentation.xml"), pptx},
		{"notes.docx", zipOf(t, "word/document.xml"), "application/zip"}, // no [Content_Types].xml: just a zip
		{"archive.zip", zipOf(t, "a.txt"), "application/zip"},
		{"image.png", jpeg, "image/jpeg"},
		{"image.jpg", png, "image/png"},
		{"a.gif", []byte("GIF89a\x01\x00\x01\x00"), "image/gif"},
		{"readme.exe", []byte("纯文本，不是可执行文件\n"), "text/plain; charset=utf-8"},
		{"", nil, "text/plain; charset=utf-8"},
		{"blob.bin", []byte{0x00, 0x01, 0x02, 0x03, 0xfe, 0xff}, "application/octet-stream"},
	} {
		if got := ingest.SniffMediaType(c.data, c.name); got != c.want {
			t.Errorf("SniffMediaType(%q, %q…) = %q, want %q", c.name, c.data[:min(len(c.data), 12)], got, c.want)
		}
	}
}

// TestSniffISOBMFFImages: HEIF/AVIF images and M4A audio share MP4's ftyp
// box; the brand says what they are.
func TestSniffISOBMFFImages(t *testing.T) {
	for brand, want := range map[string]string{"heic": "image/heic", "mif1": "image/heif", "avif": "image/avif", "M4A ": "audio/mp4"} {
		if got := ingest.SniffMediaType(ftyp(brand), "x"); got != want {
			t.Errorf("ftyp brand %q: %q, want %q", brand, got, want)
		}
	}
}

// TestSniffExecutableFirst: a Windows executable only needs "MZ" at 0 and
// e_lfanew at 0x3c; bytes 4..7 of the DOS header are free, so an attacker
// can put "ftyp" there. Executable signatures must win over container
// signatures, or the file is recorded as a harmless video.
func TestSniffExecutableFirst(t *testing.T) {
	pe := []byte("MZ\x90\x00ftypisom\x00\x00\x02\x00")
	pe = append(pe, make([]byte, 0x40)...)
	pe[0x3c] = byte(len(pe)) // e_lfanew: the PE header follows
	pe = append(pe, "PE\x00\x00"...)
	if got := ingest.SniffMediaType(pe, "clip.mp4"); got != "application/vnd.microsoft.portable-executable" {
		t.Fatalf("PE with an ftyp-looking DOS header sniffed as %q", got)
	}
}

func TestDirMedia(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "media")
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "secret"), "outside the media dir")
	write(filepath.Join(root, "x"), "outside too")
	write(filepath.Join(dir, "plain"), "plain file")
	write(filepath.Join(dir, "sub", "x"), "nested file: never reachable by a ref with '/'")
	write(filepath.Join(dir, "a_b"), "a/b spelled a_b")
	write(filepath.Join(dir, "Ab-c_d=="), "base64 spelled url-safe")
	write(filepath.Join(dir, ".._x"), "dot-dot underscore is a plain name")
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := ingest.DirMedia{Dir: dir}
	for ref, want := range map[string]string{
		"plain":    "plain file",
		"a/b":      "a/b spelled a_b",
		"a_b":      "a/b spelled a_b",
		"Ab+c/d==": "base64 spelled url-safe",
		"../x":     "dot-dot underscore is a plain name", // looked up as ".._x", inside the dir
	} {
		got, err := m.Fetch(ctx, ref)
		if err != nil || string(got) != want {
			t.Errorf("Fetch(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{"../secret", "..", ".", "", "sub/x", "sub/../../secret", "../../secret", "..\\secret",
		"/etc/passwd", "secret\x00", "missing", strings.Repeat("a", 300)} {
		got, err := m.Fetch(ctx, ref)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Fetch(%q) = %q, %v; want an error matching fs.ErrNotExist", ref, got, err)
		}
	}
	if _, err := m.Fetch(ctx, "adir"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Fetch of a directory: %v, want a not-a-regular-file error", err)
	}
}

type mapMedia map[string][]byte

func (m mapMedia) Fetch(_ context.Context, ref string) ([]byte, error) {
	if ref == "broken" {
		return nil, errors.New("connection reset by peer")
	}
	b, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("media %q: %w", ref, fs.ErrNotExist)
	}
	return b, nil
}

type failingBlobs struct{ blob.Store }

func (failingBlobs) Put(context.Context, []byte, blob.PutOptions) (archive.BlobID, error) {
	return archive.BlobID{}, errors.New("disk full")
}

func TestResolveMedia(t *testing.T) {
	blobs, err := fsblob.Open(t.TempDir(), fsblob.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	pdf := []byte("%PDF-1.4\n合同内容")
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)
	sum := func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
	src := mapMedia{"pdf": pdf, "elf": elf, "amr": []byte("#!AMR\n\x3c")}
	already := archive.Hash([]byte("stored before"))
	m := &archive.Message{SourceID: "media-1", Attachments: []archive.Attachment{
		{Role: "file", FileName: "合同.pdf", SourceRef: "pdf", SourceMD5: sum(pdf)},                       // 0 fetched
		{Role: "file", FileName: "invoice.pdf", SourceRef: "elf", SourceMD5: strings.ToUpper(sum(elf))}, // 1 fetched, md5 case-insensitive, sniffed as executable
		{Role: "voice", SourceRef: "amr", SourceMD5: "00000000000000000000000000000000"},                // 2 md5_mismatch
		{Role: "image", SourceRef: "gone", SourceMD5: "abc"},                                            // 3 missing
		{Role: "video", SourceRef: "broken"},                                                            // 4 failed
		{Role: "file", SourceRef: "pdf", Blob: already, Size: 13, Status: archive.AttachmentFetched},    // 5 already stored: untouched
		{Role: "item[1]", Status: archive.AttachmentPending},                                            // 6 no reference: untouched
		{Role: "file", SourceRef: "pdf"},                                                                // 7 no md5 announced: fetched
	}}
	if err := ingest.ResolveMedia(ctx, m, src, blobs); err != nil {
		t.Fatal(err)
	}
	a := m.Attachments
	check := func(i int, status archive.AttachmentStatus, data []byte, media string) {
		t.Helper()
		if a[i].Status != status {
			t.Fatalf("attachment %d: status %q (%s), want %q", i, a[i].Status, a[i].Reason, status)
		}
		if data == nil {
			if !a[i].Blob.IsZero() || a[i].Size != 0 {
				t.Fatalf("attachment %d: blob %s size %d, want none", i, a[i].Blob.Short(), a[i].Size)
			}
			return
		}
		if a[i].Blob != archive.Hash(data) || a[i].Size != int64(len(data)) || a[i].MediaType != media {
			t.Fatalf("attachment %d = %+v", i, a[i])
		}
		got, err := blobs.Get(ctx, a[i].Blob)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("attachment %d: stored bytes: %v", i, err)
		}
		// Staged: the engine locks it once its message is durable
		// (TestAttachmentsLockedOnCommit).
		if info, err := blobs.Stat(ctx, a[i].Blob); err != nil || !info.RetainUntil.IsZero() {
			t.Fatalf("attachment %d: retained until %v (%v), want staged (no retention)", i, info.RetainUntil, err)
		}
	}
	check(0, archive.AttachmentFetched, pdf, "application/pdf")
	check(1, archive.AttachmentFetched, elf, "application/x-executable")
	check(2, archive.AttachmentMD5Mismatch, []byte("#!AMR\n\x3c"), "audio/amr")
	if !strings.Contains(a[2].Reason, sum([]byte("#!AMR\n\x3c"))) {
		t.Errorf("md5 mismatch reason does not name the actual md5: %q", a[2].Reason)
	}
	check(3, archive.AttachmentMissing, nil, "")
	check(4, archive.AttachmentFailed, nil, "")
	if a[3].Reason == "" || !strings.Contains(a[4].Reason, "connection reset") {
		t.Errorf("reasons: missing %q, failed %q", a[3].Reason, a[4].Reason)
	}
	if a[5].Blob != already || a[5].Size != 13 || a[5].MediaType != "" {
		t.Errorf("attachment with a blob was re-fetched: %+v", a[5])
	}
	if a[6].Status != archive.AttachmentPending || !a[6].Blob.IsZero() {
		t.Errorf("attachment without a reference changed: %+v", a[6])
	}
	check(7, archive.AttachmentFetched, pdf, "application/pdf")

	// Without a media source nothing is fetched and nothing fails.
	m2 := &archive.Message{SourceID: "media-2", Attachments: []archive.Attachment{{Role: "image", SourceRef: "pdf", Status: archive.AttachmentPending}}}
	if err := ingest.ResolveMedia(ctx, m2, nil, blobs); err != nil || m2.Attachments[0].Status != archive.AttachmentPending {
		t.Fatalf("no source: %+v, %v", m2.Attachments[0], err)
	}
	// The blob store failing is an error: the message must not be
	// acknowledged as if its media were safe.
	m3 := &archive.Message{SourceID: "media-3", Attachments: []archive.Attachment{{Role: "file", SourceRef: "pdf"}}}
	if err := ingest.ResolveMedia(ctx, m3, src, failingBlobs{blobs}); err == nil {
		t.Fatal("ResolveMedia with a failing blob store succeeded")
	}
	// A missing file through DirMedia is recorded as missing too.
	m4 := &archive.Message{SourceID: "media-4", Attachments: []archive.Attachment{{Role: "file", SourceRef: "../nothing"}}}
	if err := ingest.ResolveMedia(ctx, m4, ingest.DirMedia{Dir: t.TempDir()}, blobs); err != nil || m4.Attachments[0].Status != archive.AttachmentMissing {
		t.Fatalf("DirMedia missing file: %+v, %v", m4.Attachments[0], err)
	}
}

// TestArchiveWithMedia: attachments resolved before archiving are indexed
// with their status, and faults are counted.
func TestArchiveWithMedia(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	it := item("with-media", "见附件")
	it.Message.Kind = archive.KindFile
	it.Message.Attachments = []archive.Attachment{{Role: "file", FileName: "合同.pdf", SourceRef: "pdf"}, {Role: "image", SourceRef: "gone"}}
	if err := ingest.ResolveMedia(ctx, it.Message, mapMedia{"pdf": []byte("%PDF-1.4")}, e.blobs); err != nil {
		t.Fatal(err)
	}
	res := archiveItems(t, e.eng, it)
	m, err := e.st.Message(ctx, res[0].Serial)
	if err != nil || m.Attachments != 2 || m.AttachFaults != 1 {
		t.Fatalf("message row = %+v, %v", m, err)
	}
	atts, err := e.st.Attachments(ctx, res[0].Serial)
	if err != nil || len(atts) != 2 || atts[0].Status != archive.AttachmentFetched || atts[0].MediaType != "application/pdf" ||
		atts[1].Status != archive.AttachmentMissing {
		t.Fatalf("attachments = %+v, %v", atts, err)
	}
	p := messageEvent(t, e.st, res[0].JournalIndex)
	if len(p.Attachments) != 2 || p.Attachments[0].Blob != atts[0].Blob || p.Attachments[1].Status != archive.AttachmentMissing {
		t.Fatalf("journal attachment refs = %+v", p.Attachments)
	}
}

// TestCursorCommitsWithItems: a connector's cursor is written by the
// commit that makes its items durable, never by one that fails.
func TestCursorCommitsWithItems(t *testing.T) {
	h := &hookStore{failOn: "bad"}
	e := newEnv(t, ingest.Config{}, func(s store.Store) store.Store { h.Store = s; return h })
	cur := func(v string) *store.CursorRow { return &store.CursorRow{Connector: "msgaudit", Value: v} }
	if _, err := e.eng.SubmitWithCursor(ctx, "test", []ingest.Item{item("c1", "一"), item("c2", "二")}, cur("2")).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := e.st.Cursor(ctx, "msgaudit")
	if err != nil || c.Value != "2" || c.UpdatedAt != archive.At(e.clock.Now()) {
		t.Fatalf("cursor after a durable batch: %+v, %v", c, err)
	}
	// The commit fails on one item: neither the items nor the cursor land.
	if _, err := e.eng.SubmitWithCursor(ctx, "test", []ingest.Item{item("c3", "三"), item("bad", "坏")}, cur("4")).Wait(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("failing batch: %v", err)
	}
	if c, _ := e.st.Cursor(ctx, "msgaudit"); c.Value != "2" {
		t.Fatalf("cursor moved to %q by a failed commit", c.Value)
	}
	if n := counts(t, e.st).Messages; n != 2 {
		t.Fatalf("%d messages after the failed batch, want 2", n)
	}
	// A cursor alone (a page with nothing new) moves it.
	if _, err := e.eng.SubmitWithCursor(ctx, "test", nil, cur("7")).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.st.Cursor(ctx, "msgaudit"); c.Value != "7" {
		t.Fatalf("cursor-only request: %q", c.Value)
	}
}

// TestFailureIsolationAndConditions: requests that share a commit do not
// share a failure — the commit is retried request by request, so only the
// failing one fails — and a conditional append whose condition no longer
// holds in the transaction is refused alone, writing nothing.
func TestFailureIsolationAndConditions(t *testing.T) {
	hs := &hookStore{failOn: "poison", gate: make(chan struct{}), entered: make(chan struct{})}
	e := newEnv(t, ingest.Config{}, func(s store.Store) store.Store { hs.Store = s; return hs })
	first := e.eng.Submit(ctx, "test", []ingest.Item{item("first", "x")})
	<-hs.entered // the first commit holds the writer: the rest queue behind it, into one commit
	a := e.eng.Submit(ctx, "test", []ingest.Item{item("a", "1")})
	poison := e.eng.Submit(ctx, "test", []ingest.Item{item("poison", "2")})
	type out struct {
		idx []uint64
		err error
	}
	conds := make(chan out, 2)
	refuse := func(context.Context, store.Tx) error { return &ingest.ConflictError{Reason: "changed meanwhile"} }
	allow := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LatestPolicyVersion(ctx, "p")
		return err
	}
	var queued sync.WaitGroup
	for _, cond := range []func(context.Context, store.Tx) error{refuse, allow} {
		queued.Add(1)
		go func() {
			queued.Done()
			idx, err := e.eng.AppendIf(ctx, cond, participantEvent("cond"))
			conds <- out{idx, err}
		}()
	}
	queued.Wait()
	b := e.eng.Submit(ctx, "test", []ingest.Item{item("b", "3")})
	time.Sleep(50 * time.Millisecond) // let the AppendIf goroutines queue
	close(hs.gate)
	if _, err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]*ingest.Future{"a": a, "b": b} {
		if res, err := f.Wait(ctx); err != nil || res[0].Outcome != ingest.Archived {
			t.Fatalf("%s shared a commit with a failing request: %+v, %v", name, res, err)
		}
	}
	if _, err := poison.Wait(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("poison: %v, want the injected failure", err)
	}
	var refused, allowed int
	for range 2 {
		o := <-conds
		var ce *ingest.ConflictError
		switch {
		case errors.As(o.err, &ce) && len(o.idx) == 0:
			refused++
		case o.err == nil && len(o.idx) == 1:
			allowed++
		default:
			t.Fatalf("AppendIf: %+v", o)
		}
	}
	if refused != 1 || allowed != 1 {
		t.Fatalf("refused %d, allowed %d", refused, allowed)
	}
	// first, a, b and one participant event: the refused one wrote nothing.
	if h := head(t, e.st); h.JournalSize != 4 || h.NextSerial != 4 {
		t.Fatalf("head %+v", h)
	}
	if _, err := e.st.MessagesBySourceID(ctx, "poison"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed request is visible: %v", err)
	}
	hs.mu.Lock()
	begins := hs.begins
	hs.mu.Unlock()
	if begins < 3 {
		t.Fatalf("%d transactions: the queued requests were not committed together first", begins)
	}
	verifyJournal(t, e.st, e.ver)
}

// TestLeafTimesNeverDecrease: a clock stepped back (NTP, a restored VM)
// does not date an event before the one it follows, in this process or
// after another process wrote; checkpoint times follow.
func TestLeafTimesNeverDecrease(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir, ingest.Config{}, nil)
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("t1", "first")}); err != nil {
		t.Fatal(err)
	}
	t0 := e.clock.Now()
	e.clock.Add(-60 * 24 * time.Hour)
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("t2", "after the step back")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(time.Minute))
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("t3", "clock back on track")}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Another engine whose clock is behind, on the same database.
	sg, _ := signer(t)
	late := ingest.New(ingest.Config{Now: func() time.Time { return t0.Add(-time.Hour) }}, e.st, e.blobs, sg)
	if _, err := late.Archive(ctx, "test", []ingest.Item{item("t4", "from a process with a slow clock")}); err != nil {
		t.Fatal(err)
	}
	late.Close(ctx, false)
	var times []time.Time
	if err := e.st.Leaves(ctx, 0, 100, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			return err
		}
		times = append(times, ev.Time.Time)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{t0, t0, t0.Add(time.Minute), t0.Add(time.Minute)}
	if fmt.Sprint(times) != fmt.Sprint(want) {
		t.Fatalf("leaf times %v, want %v", times, want)
	}
	var prev time.Time
	e.st.Checkpoints(ctx, func(c store.CheckpointRow) error {
		cp, err := e.ver.Open(c.Note)
		if err != nil || cp.Time.Before(prev) {
			t.Errorf("checkpoint %d at %s after %s (%v)", c.Size, cp.Time, prev, err)
		}
		prev = cp.Time.Time
		return nil
	})
}

// TestRotateSigner: the checkpoint that commits the key.rotated event is
// the old key's last; every later one is the new key's. An engine of
// another process, still holding the old key, refuses to sign after it.
func TestRotateSigner(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir, ingest.Config{}, nil)
	other, _ := signer(t) // a second engine of "another process", same old key
	stale := ingest.New(ingest.Config{Now: e.clock.Now}, e.st, e.blobs, other)
	defer stale.Close(ctx, false)
	if _, err := stale.Archive(ctx, "test", []ingest.Item{item("r0", "before")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("r1", "before")}); err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := journal.GenerateKey("wxtest")
	next, err := journal.NewSigner(origin, skey)
	if err != nil {
		t.Fatal(err)
	}
	nextV, _ := journal.NewVerifier(origin, vkey)
	ev, _ := journal.NewEvent(archive.EventKeyRotated, "test", archive.Time{}, nil, &archive.KeyRotatedEvent{PublicKey: vkey, PreviousKey: keys.verify, Note: "n"})
	idx, err := e.eng.RotateSigner(ctx, ev, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Archive(ctx, "test", []ingest.Item{item("r2", "after")}); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Archive(ctx, "test", []ingest.Item{item("r3", "stale key")}); !errors.Is(err, ingest.ErrKeyRotated) {
		t.Fatalf("an engine with the old key signed after the rotation: %v", err)
	}
	var sizes []string
	e.st.Checkpoints(ctx, func(c store.CheckpointRow) error {
		_, oldErr := e.ver.Open(c.Note)
		_, newErr := nextV.Open(c.Note)
		switch {
		case c.Size <= idx+1 && oldErr == nil && newErr != nil:
			sizes = append(sizes, fmt.Sprintf("%d:old", c.Size))
		case c.Size > idx+1 && newErr == nil && oldErr != nil:
			sizes = append(sizes, fmt.Sprintf("%d:new", c.Size))
		default:
			t.Errorf("checkpoint %d (rotation at %d): old key %v, new key %v", c.Size, idx, oldErr, newErr)
		}
		return nil
	})
	if want := fmt.Sprintf("[1:old 2:old %d:old %d:new]", idx+1, idx+2); fmt.Sprint(sizes) != want {
		t.Fatalf("checkpoints %v, want %s", sizes, want)
	}
}

// TestPushback: with the committer held and its queue full, a request made
// WithPushback fails at once with ErrPushback and writes nothing; the
// queued requests still commit once the committer moves again.
func TestPushback(t *testing.T) {
	h := &hookStore{gate: make(chan struct{}), entered: make(chan struct{})}
	e := newEnv(t, ingest.Config{MaxBatch: 1, QueueSize: 2}, func(s store.Store) store.Store { h.Store = s; return h })
	first := e.eng.Submit(ctx, "test", []ingest.Item{item("m1", "held in Begin")})
	<-h.entered
	queued := []*ingest.Future{
		e.eng.Submit(ctx, "test", []ingest.Item{item("m2", "queued")}),
		e.eng.Submit(ctx, "test", []ingest.Item{item("m3", "queued")}),
	}
	_, err := e.eng.Archive(ingest.WithPushback(ctx), "test", []ingest.Item{item("m4", "pushed back")})
	if !errors.Is(err, ingest.ErrPushback) {
		t.Fatalf("full queue: got %v, want ErrPushback", err)
	}
	close(h.gate)
	for i, f := range append([]*ingest.Future{first}, queued...) {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if c := counts(t, e.st); c.Messages != 3 {
		t.Fatalf("%d messages archived, want 3 (the pushed-back one must not be)", c.Messages)
	}
	// With room again, a push-back request goes through.
	if _, err := e.eng.Archive(ingest.WithPushback(ctx), "test", []ingest.Item{item("m4", "pushed back")}); err != nil {
		t.Fatal(err)
	}
}
