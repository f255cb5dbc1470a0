package storetest

import (
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// retentionTests are the clauses of the retention role (store/retention.go).
var retentionTests = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	{"RetentionVersions", testRetentionVersions},
}

// testRetentionVersions: every version of the rule set, oldest first, with
// its author, file and overrides; the latest version inside a transaction
// (what a conditional apply checks); reset empties them (a projection).
func testRetentionVersions(t *testing.T, s store.Store) {
	if vs, err := s.RetentionVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("RetentionVersions of an empty store = %+v, %v", vs, err)
	}
	write(t, s, func(tx store.Tx) {
		v, err := tx.LatestRetentionVersion(ctx)
		check(t, err, "LatestRetentionVersion")
		if v != 0 {
			t.Fatalf("LatestRetentionVersion of an empty store = %d", v)
		}
		check(t, tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: 7, Time: ms(1), Actor: "cli:alice",
			RetentionEvent: archive.RetentionEvent{Name: "firm", Version: 1, SHA256: archive.Hash([]byte("v1")), Source: "retention: firm # v1"}}), "IndexRetention")
		check(t, tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: 9, Time: ms(2), Actor: "api:bob",
			RetentionEvent: archive.RetentionEvent{Name: "firm", Version: 2, SHA256: archive.Hash([]byte("v2")), Source: "retention: firm # v2 中文",
				Overrides: []archive.RetentionOverride{{Rule: "stickers", Period: "400d", Reason: "memo 7"}}}}), "IndexRetention")
		if v, err := tx.LatestRetentionVersion(ctx); err != nil || v != 2 {
			t.Fatalf("LatestRetentionVersion in the transaction = %d, %v; want 2 (its own writes)", v, err)
		}
	})
	vs, err := s.RetentionVersions(ctx)
	check(t, err, "RetentionVersions")
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || vs[0].JournalIndex != 7 || vs[1].Actor != "api:bob" ||
		vs[1].Time != ms(2) || vs[1].Source != "retention: firm # v2 中文" || vs[1].SHA256 != archive.Hash([]byte("v2")) || vs[0].Name != "firm" {
		t.Fatalf("RetentionVersions = %+v", vs)
	}
	if len(vs[0].Overrides) != 0 || len(vs[1].Overrides) != 1 || vs[1].Overrides[0] != (archive.RetentionOverride{Rule: "stickers", Period: "400d", Reason: "memo 7"}) {
		t.Fatalf("overrides %+v / %+v", vs[0].Overrides, vs[1].Overrides)
	}
	n := 0
	check(t, s.DumpProjection(ctx, func(table, key, row string) error {
		if table == "retention_sets" {
			n++
		}
		return nil
	}), "DumpProjection")
	if n != 2 {
		t.Fatalf("DumpProjection shows %d retention_sets rows, want 2", n)
	}
	write(t, s, func(tx store.Tx) { check(t, tx.ResetProjection(ctx), "ResetProjection") })
	if vs, err := s.RetentionVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("after ResetProjection: %+v, %v", vs, err)
	}
}
