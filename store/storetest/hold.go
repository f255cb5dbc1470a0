package storetest

import (
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// holdTests are the clauses of the legal-hold role (store/hold.go).
var holdTests = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	{"Holds", testHolds},
}

// testHolds: holds by name with their scope; a release marks one released
// once (a second, or one of an unknown hold, is an error); the state as
// the transaction sees it; reset empties them (a projection).
func testHolds(t *testing.T, s store.Store) {
	scope := archive.HoldScope{Custodians: []string{"alice", "张三"}, Conversations: []string{"r1"}, Query: `"保本" OR guarantee`, From: ms(10), To: ms(20)}
	write(t, s, func(tx store.Tx) {
		if _, ok, err := tx.HoldState(ctx, "smith-v-firm"); err != nil || ok {
			t.Fatalf("HoldState before: %v, %v", ok, err)
		}
		check(t, tx.IndexHold(ctx, store.HoldRow{JournalIndex: 5, Time: ms(1), Actor: "cli:carol",
			HoldEvent: archive.HoldEvent{Name: "smith-v-firm", Matter: "Smith v. Firm", Reason: "complaint served", Owner: "carol", Scope: scope, GraceDays: 30}}), "IndexHold")
		check(t, tx.IndexHold(ctx, store.HoldRow{JournalIndex: 6, Time: ms(2), Actor: "cli:carol",
			HoldEvent: archive.HoldEvent{Name: "audit-2026", Matter: "SFC inquiry", Reason: "letter", Owner: "dave", Scope: archive.HoldScope{Conversations: []string{"r2"}}, GraceDays: 0}}), "IndexHold")
		check(t, tx.IndexHoldReleased(ctx, store.HoldReleaseRow{JournalIndex: 8, Time: ms(3), Actor: "api:bob",
			HoldReleasedEvent: archive.HoldReleasedEvent{Name: "audit-2026", Reason: "inquiry closed"}}), "IndexHoldReleased")
		if tx.IndexHoldReleased(ctx, store.HoldReleaseRow{JournalIndex: 9, Time: ms(4), HoldReleasedEvent: archive.HoldReleasedEvent{Name: "audit-2026"}}) == nil {
			t.Fatal("a second release of a hold was accepted")
		}
		if tx.IndexHoldReleased(ctx, store.HoldReleaseRow{JournalIndex: 9, Time: ms(4), HoldReleasedEvent: archive.HoldReleasedEvent{Name: "nope"}}) == nil {
			t.Fatal("the release of an unknown hold was accepted")
		}
		h, ok, err := tx.HoldState(ctx, "audit-2026")
		if err != nil || !ok || h.Released != ms(3) || h.ReleasedBy != "api:bob" {
			t.Fatalf("HoldState in the transaction: %+v, %v, %v", h, ok, err)
		}
	})
	hs, err := s.Holds(ctx)
	check(t, err, "Holds")
	if len(hs) != 2 || hs[0].Name != "audit-2026" || hs[1].Name != "smith-v-firm" {
		t.Fatalf("Holds = %+v", hs)
	}
	a, b := hs[0], hs[1]
	if a.Released != ms(3) || a.ReleasedBy != "api:bob" || a.ReleaseReason != "inquiry closed" || a.ReleaseIndex != 8 || a.GraceDays != 0 {
		t.Errorf("released hold %+v", a)
	}
	if !b.Released.IsZero() || b.ReleaseIndex != 0 || b.JournalIndex != 5 || b.Time != ms(1) || b.Actor != "cli:carol" || b.Matter != "Smith v. Firm" ||
		b.Owner != "carol" || b.GraceDays != 30 || b.Scope.Query != scope.Query || b.Scope.From != ms(10) || b.Scope.To != ms(20) ||
		len(b.Scope.Custodians) != 2 || b.Scope.Custodians[1] != "张三" || len(b.Scope.Conversations) != 1 {
		t.Errorf("active hold %+v", b)
	}
	write(t, s, func(tx store.Tx) { check(t, tx.ResetProjection(ctx), "ResetProjection") })
	if hs, err := s.Holds(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("after ResetProjection: %+v, %v", hs, err)
	}
}
