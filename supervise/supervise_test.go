package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
	"github.com/wxarchive/wxarchive/verify"
)

func message(id, text string, dir archive.Direction) ingest.Item {
	m := &archive.Message{Source: "t:1", SourceID: id, SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
		SentAt: archive.MillisTime(1700000000000), Conversation: "direct:wmC|zhangwei", ConversationKind: archive.ConversationDirect,
		Sender: "zhangwei", Recipients: []string{"wmC"}, Direction: dir, Text: text,
		Participants: []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "wmC", Kind: archive.ParticipantExternal}}}
	return ingest.Item{Source: "t:1", Raw: []byte(id + text), Message: m}
}

// newArchive is a new archive opened for writing, with the default
// policy pack unless noDefaults; it is closed when the test ends.
func newArchive(t *testing.T, noDefaults bool) *repo.Repo {
	t.Helper()
	var init repo.InitOptions
	if noDefaults {
		init.Setup = archivetest.NoPolicies
	}
	r, _ := archivetest.NewWith(t, init, repo.OpenOptions{Exclusive: true})
	return r
}

func alerts(t *testing.T, r *repo.Repo) []string {
	var out []string
	if err := r.Store.Alerts(context.Background(), 0, "", 0, func(a store.AlertRow) error {
		out = append(out, a.SourceID+":"+a.Policy+"/"+a.Rule)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSupervisor: the default pack (installed by init) raises alerts for
// new messages, once each, with the policy version; a new version of a
// policy is journaled with its author and used from then on.
func TestSupervisor(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, false)
	pols, rows, err := supervise.Policies(ctx, r.Store)
	if err != nil || len(pols) != 9 || rows[0].Actor != "cli:init" || rows[0].Version != 1 {
		t.Fatalf("default pack: %d policies, %v", len(pols), err)
	}
	if _, err := r.Engine.Archive(ctx, "test", []ingest.Item{
		message("m1", "黄女士，这个产品保本保收益，年化6.5%", archive.DirectionOutbound),
		message("m2", "好的，明天见", archive.DirectionOutbound),
		message("m3", "加我私人微信吧", archive.DirectionOutbound),
	}); err != nil {
		t.Fatal(err)
	}
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 2}
	res, err := s.CatchUp(ctx)
	if err != nil || res.Evaluated != 3 || res.Cursor != 3 || !res.CaughtUp {
		t.Fatalf("catch up: %+v, %v", res, err)
	}
	if got := strings.Join(alerts(t, r), " "); got != "m1:guaranteed-returns/zh-guarantee m3:off-channel/zh-off-channel" {
		t.Fatalf("alerts %s", got)
	}
	// Again: nothing evaluated twice.
	if res, _ := s.CatchUp(ctx); res.Evaluated != 0 || len(alerts(t, r)) != 2 {
		t.Fatalf("second pass: %+v", res)
	}
	// A new version: the same name, another rule.
	v, changed, err := supervise.Apply(ctx, r.Engine, r.Store, "g.yaml", []byte("policy: guaranteed-returns\nrules:\n  - id: see-you\n    lexicon: [明天见]\n"), "cli:alice")
	if err != nil || v != 2 || !changed {
		t.Fatalf("apply: %d %v %v", v, changed, err)
	}
	if v, changed, _ := supervise.Apply(ctx, r.Engine, r.Store, "g.yaml", []byte("policy: guaranteed-returns\nrules:\n  - id: see-you\n    lexicon: [明天见]\n"), "cli:alice"); v != 2 || changed {
		t.Fatalf("re-apply of the same file: %d %v", v, changed)
	}
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "bad.yaml", []byte("policy: x\nrules: []\n"), "cli:alice"); err == nil {
		t.Fatal("an invalid policy was applied")
	}
	r.Engine.Archive(ctx, "test", []ingest.Item{message("m4", "那我们明天见", archive.DirectionOutbound)})
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var last store.AlertRow
	r.Store.Alerts(ctx, 0, "guaranteed-returns", 0, func(a store.AlertRow) error { last = a; return nil })
	if last.SourceID != "m4" || last.PolicyVersion != 2 || last.Rule != "see-you" {
		t.Fatalf("alert under version 2: %+v", last)
	}
	// First contact: only the first message with a new external party.
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "f.yaml", []byte("policy: first-contact\nrules:\n  - id: new-party\n    behaviour: first_contact\n"), "cli:alice"); err != nil {
		t.Fatal(err)
	}
	n1, n2 := message("n1", "您好", archive.DirectionOutbound), message("n2", "再见", archive.DirectionOutbound)
	for _, it := range []ingest.Item{n1, n2} {
		it.Message.Recipients = []string{"wmNEW"}
		it.Message.Participants[1].ID = "wmNEW"
	}
	r.Engine.Archive(ctx, "test", []ingest.Item{n1, n2})
	s.CatchUp(ctx)
	var fc []string
	r.Store.Alerts(ctx, 0, "first-contact", 0, func(a store.AlertRow) error { fc = append(fc, a.SourceID); return nil })
	if strings.Join(fc, " ") != "n1" {
		t.Fatalf("first-contact alerts %v, want n1 only", fc)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

type noRecords struct{}

func (noRecords) Get(context.Context, store.RecordKey, archive.BlobID) ([]byte, error) {
	return nil, errors.New("a record was read")
}

// TestSupervisorWithoutPolicies: with no policy the cursor moves to the
// head at once and no record is read (an archive upgraded with millions
// of messages must not read them all when serve starts).
func TestSupervisorWithoutPolicies(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, true)
	var items []ingest.Item
	for _, id := range []string{"a", "b", "c"} {
		items = append(items, message(id, "保本", archive.DirectionOutbound))
	}
	r.Engine.Archive(ctx, "t", items)
	res, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: noRecords{}, Batch: 1}).CatchUp(ctx)
	if err != nil || res.Cursor != 3 || !res.CaughtUp || res.Evaluated != 0 {
		t.Fatalf("catch up without policies: %+v, %v", res, err)
	}
}

// TestSupervisorAfterRestart: messages archived by an earlier process are
// not in this engine's recent messages, so the supervisor reads and
// verifies their records; it raises exactly what it raises right behind
// the engine.
func TestSupervisorAfterRestart(t *testing.T) {
	ctx := context.Background()
	items := func() []ingest.Item {
		return []ingest.Item{
			message("m1", "黄女士，这个产品保本保收益，年化6.5%", archive.DirectionOutbound),
			message("m2", "好的，明天见", archive.DirectionOutbound),
			message("m3", "加我私人微信吧", archive.DirectionOutbound),
		}
	}
	run := func(restart bool) string {
		dir := t.TempDir()
		if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
			t.Fatal(err)
		}
		r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Archive(ctx, "test", items()); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := r.Engine.Recent(1, archive.BlobID{}); ok {
			t.Fatal("Recent matched a record hash it does not hold")
		}
		if restart {
			r.Close(ctx)
			if r, err = archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true}); err != nil {
				t.Fatal(err)
			}
			row, _ := r.Store.Message(ctx, 1)
			if _, _, ok := r.Engine.Recent(1, row.RecordHash); ok {
				t.Fatal("a new engine holds messages it did not archive")
			}
		} else {
			row, _ := r.Store.Message(ctx, 1)
			if m, body, ok := r.Engine.Recent(1, row.RecordHash); !ok || m.SourceID != "m1" || !strings.Contains(body, "保本") {
				t.Fatalf("Recent(1) = %v %q %v", m, body, ok)
			}
		}
		defer r.Close(ctx)
		s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
		if _, err := s.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		return strings.Join(alerts(t, r), " ")
	}
	behind, restarted := run(false), run(true)
	if behind != "m1:guaranteed-returns/zh-guarantee m3:off-channel/zh-off-channel" || restarted != behind {
		t.Fatalf("right behind the engine: %s; after a restart: %s", behind, restarted)
	}
}

// TestConcurrentApply: writers applying versions of one policy at the same
// time each get their own version number, 1 to n, none lost or refused.
func TestConcurrentApply(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, true)
	const n = 8
	versions := make(chan int, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, changed, err := supervise.Apply(ctx, r.Engine, r.Store, "p.yaml", []byte(fmt.Sprintf("policy: p\nrules:\n  - id: r\n    lexicon: [词%d]\n", i)), "cli:a")
			if err == nil && !changed {
				err = fmt.Errorf("writer %d: unchanged", i)
			}
			errs <- err
			versions <- v
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	close(versions)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for v := range versions {
		got = append(got, v)
	}
	slices.Sort(got)
	vs, err := r.Store.PolicyVersions(ctx, "p")
	if err != nil || len(vs) != n || fmt.Sprint(got) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("versions returned %v, stored %d (%v)", got, len(vs), err)
	}
}

// TestRecalledOncePerRecall: a recalled message raises one recalled alert,
// on the message recalled, whether its recall is evaluated in a later pass,
// in the same batch, or was archived before it — never on the recall
// itself, and never twice, however ingest and supervision interleave.
func TestRecalledOncePerRecall(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, false)
	recall := func(id, of string) ingest.Item {
		it := message(id, "", archive.DirectionOutbound)
		it.Message.Kind, it.Message.SourceType, it.Message.Action, it.Message.RefersTo = archive.KindRevoke, "revoke", archive.ActionRecall, of
		return it
	}
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
	step := func(items ...ingest.Item) {
		if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step(message("a1", "下午三点开会", archive.DirectionOutbound)) // evaluated before its recall
	step(recall("a1-recall", "a1"))
	step(message("b1", "发错了", archive.DirectionOutbound), recall("b1-recall", "b1")) // same batch
	step(recall("c1-recall", "c1"))                                                  // the recall first
	step(message("c1", "这条先被撤回", archive.DirectionOutbound))
	var got []string
	r.Store.Alerts(ctx, 0, "recalled-messages", 0, func(a store.AlertRow) error {
		got = append(got, a.SourceID)
		if a.SourceID == "a1" && !strings.Contains(a.Detail, "recall is serial 2") {
			t.Errorf("a1's alert detail %q", a.Detail)
		}
		return nil
	})
	if strings.Join(got, " ") != "a1 b1 c1" {
		t.Fatalf("recalled alerts on %v, want a1 b1 c1 once each", got)
	}
	// A backtest of the same policy, knowing every recall, agrees.
	pols, _, _ := supervise.Policies(ctx, r.Store)
	for _, p := range pols {
		if p.Name != "recalled-messages" {
			continue
		}
		bt, err := policy.RunBacktest(ctx, p, r.Store, r.Records, time.Unix(0, 0), time.Now().AddDate(1, 0, 0), 10)
		if err != nil || bt.Rules[0].Hits != 3 {
			t.Fatalf("backtest: %+v %v", bt, err)
		}
	}
}

// TestStopAndCatchUpRaisesOnce: a supervisor stopped at any moment (serve
// shutting down, ingest's supervision finishing) and then caught up raises
// every alert exactly once: a batch still committing when it stopped is
// waited for, never evaluated again.
func TestStopAndCatchUpRaisesOnce(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, false)
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 50}
	want := 0
	for round := range 12 {
		var items []ingest.Item
		for i := range 300 {
			text := "好的，收到"
			if i%10 == 0 {
				text = "这个产品保本保收益"
				want++
			}
			items = append(items, message(fmt.Sprintf("r%d-%d", round, i), text, archive.DirectionOutbound))
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(runCtx, time.Second)
		}()
		if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(round%4) * 3 * time.Millisecond)
		stop()
		<-done
		if _, err := s.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	total := 0
	r.Store.Alerts(ctx, 0, "guaranteed-returns", 0, func(a store.AlertRow) error {
		seen[fmt.Sprint(a.Serial, a.Rule)]++
		total++
		return nil
	})
	if total != want || len(seen) != want {
		t.Fatalf("%d alerts on %d messages, want %d once each", total, len(seen), want)
	}
}

// progressEvents is the journal's supervision.progress events, in order.
func progressEvents(t *testing.T, r *repo.Repo) []archive.SupervisionProgressEvent {
	t.Helper()
	ctx := context.Background()
	head, err := r.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []archive.SupervisionProgressEvent
	if err := r.Store.Leaves(ctx, 0, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			return err
		}
		if ev.Type == archive.EventSupervisionProgress {
			if ev.Actor != "supervisor" {
				t.Errorf("journal %d: actor %q", idx, ev.Actor)
			}
			var p archive.SupervisionProgressEvent
			if err := ev.DecodePayload(&p); err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSupervisionProgressJournaled: every batch the supervisor evaluates
// is journaled once (not once per message) as supervision.progress, with
// the serials it covers and the policy versions it used, in the commit
// that moves its cursor; without policies the cursor's jump is journaled
// too, with no policy.
func TestSupervisionProgressJournaled(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, true)
	var items []ingest.Item
	for i := range 5 {
		items = append(items, message(fmt.Sprintf("p%d", i), "保本", archive.DirectionOutbound))
	}
	if _, err := r.Engine.Archive(ctx, "t", items[:2]); err != nil {
		t.Fatal(err)
	}
	// No policy yet: the cursor moves to the head, journaled.
	if res, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: noRecords{}}).CatchUp(ctx); err != nil || res.Cursor != 2 {
		t.Fatalf("catch up without policies: %+v, %v", res, err)
	}
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "g.yaml", []byte("policy: g\nrules:\n  - id: r\n    lexicon: [保本]\n"), "cli:test"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Archive(ctx, "t", items[2:]); err != nil {
		t.Fatal(err)
	}
	res, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 2}).CatchUp(ctx)
	if err != nil || res.Cursor != 5 {
		t.Fatalf("catch up: %+v, %v", res, err)
	}
	got := progressEvents(t, r)
	want := []archive.SupervisionProgressEvent{
		{From: 0, Through: 2, Policies: []archive.PolicyVersionRef{}},
		{From: 2, Through: 4, Policies: []archive.PolicyVersionRef{{Policy: "g", Version: 1}}},
		{From: 4, Through: 5, Policies: []archive.PolicyVersionRef{{Policy: "g", Version: 1}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress events:\n got %+v\nwant %+v", got, want)
	}
	cur, err := r.Store.Cursor(ctx, supervise.CursorName)
	if err != nil || cur.Value != "5" {
		t.Fatalf("cursor %+v %v", cur, err)
	}
	if n := len(alerts(t, r)); n != 3 {
		t.Fatalf("%d alerts, want 3 (serials 3..5)", n)
	}
	// A supervisor that finds the cursor at the head already (another
	// pass committed it) reports where it is, and journals nothing.
	again := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
	if _, err := again.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if tot := again.Totals(); tot.Cursor != 5 || !tot.CaughtUp || tot.Evaluated != 0 {
		t.Fatalf("totals of a pass with nothing to do: %+v", tot)
	}
	if n := len(progressEvents(t, r)); n != 3 {
		t.Fatalf("%d progress events after a pass with nothing to do", n)
	}
}

// TestBatchBoundedInBytes: a batch of large messages is cut at
// DefaultBatchBytes of records (a batch is held decoded and analyzed at
// once), and the next pass continues where it stopped: every message is
// evaluated once, the one with the lexicon term alerted.
func TestBatchBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, false)
	big := strings.Repeat("这是一段很长的客户沟通记录。", 400) // ≈ 17 KB of text
	const n = 700                                // ≈ 12 MB of records, more than DefaultBatchBytes
	var items []ingest.Item
	for i := range n {
		text := big
		if i == n-1 {
			text += "这个产品保本保收益"
		}
		items = append(items, message(fmt.Sprintf("big%03d", i), text, archive.DirectionOutbound))
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
	first, err := s.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cursor == 0 || first.Cursor >= n || first.CaughtUp {
		t.Fatalf("first pass: %+v, want a batch cut short of %d by its bytes", first, n)
	}
	res, err := s.CatchUp(ctx)
	if err != nil || res.Cursor != n || !res.CaughtUp {
		t.Fatalf("catch up: %+v, %v", res, err)
	}
	if got := alerts(t, r); len(got) != 1 || !strings.HasPrefix(got[0], fmt.Sprintf("big%03d:", n-1)) {
		t.Fatalf("alerts %v", got)
	}
}
