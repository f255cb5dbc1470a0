package storetest

import (
	"errors"
	"fmt"
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
	{"MessageRetentionRule", testMessageRetentionRule},
	{"RetentionExtended", testRetentionExtended},
	{"RetentionCoverage", testRetentionCoverage},
}

// testRetentionCoverage: messages per rule and version with their range of
// retain-until; how many are at or before each cutoff (inclusive).
func testRetentionCoverage(t *testing.T, s store.Store) {
	if c, err := s.RetentionCoverage(ctx, []archive.Time{ms(1)}); err != nil || len(c.Rules) != 0 || len(c.Eligible) != 1 || c.Eligible[0] != 0 {
		t.Fatalf("empty store: %+v, %v", c, err)
	}
	write(t, s, func(tx store.Tx) {
		for i, r := range []struct {
			rule  string
			v     int
			until int64
		}{{"", 0, 100}, {"", 0, 300}, {"hk", 1, 200}, {"hk", 2, 400}, {"hk", 2, 500}, {"files", 2, 900}} {
			m := msgRow(uint64(i+1), "src:a", fmt.Sprint("m", i))
			m.RetentionRule, m.RetentionVersion, m.RetainUntil = r.rule, r.v, ms(r.until)
			index(t, tx, m)
		}
	})
	c, err := s.RetentionCoverage(ctx, []archive.Time{ms(99), ms(200), ms(500), ms(1000)})
	check(t, err, "RetentionCoverage")
	got := fmt.Sprint(c.Eligible)
	if got != "[0 2 5 6]" {
		t.Errorf("eligible %s, want [0 2 5 6]", got)
	}
	var rules []string
	for _, r := range c.Rules {
		rules = append(rules, fmt.Sprintf("%s@%d:%d:%d-%d", r.Rule, r.Version, r.Messages, r.Earliest.Millis()-base, r.Latest.Millis()-base))
	}
	if fmt.Sprint(rules) != "[@0:2:100-300 hk@1:1:200-200 files@2:1:900-900 hk@2:2:400-500]" {
		t.Errorf("rules %v", rules)
	}
}

// testRetentionExtended: an extension moves the retain-until, rule and
// version of the messages it names, only later, never earlier.
func testRetentionExtended(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		for i := uint64(1); i <= 3; i++ {
			m := msgRow(i, "src:a", fmt.Sprint("m", i))
			m.RetainUntil = ms(1000)
			index(t, tx, m)
		}
		check(t, tx.IndexRetentionExtended(ctx, archive.RetentionExtendedEvent{Version: 2, Groups: []archive.RetentionExtension{
			{RetainUntil: ms(5000), Rule: "files", Serials: []uint64{1, 3}},
			{RetainUntil: ms(500), Rule: "shorter", Serials: []uint64{2}}, // never shortens
		}}), "IndexRetentionExtended")
	})
	for serial, want := range map[uint64]struct {
		until   archive.Time
		rule    string
		version int
	}{1: {ms(5000), "files", 2}, 2: {ms(1000), "", 0}, 3: {ms(5000), "files", 2}} {
		m, err := s.Message(ctx, serial)
		check(t, err, "Message %d", serial)
		if m.RetainUntil != want.until || m.RetentionRule != want.rule || m.RetentionVersion != want.version {
			t.Errorf("message %d: until %s rule %q v%d, want %s %q v%d", serial, m.RetainUntil, m.RetentionRule, m.RetentionVersion, want.until, want.rule, want.version)
		}
	}
}

// testMessageRetentionRule: the rule and version that decided a message's
// retain-until are kept with it and read back; none for a message the
// archive's retention_years decided.
func testMessageRetentionRule(t *testing.T, s store.Store) {
	write(t, s, func(tx store.Tx) {
		m := msgRow(1, "src:a", "m1")
		m.RetentionRule, m.RetentionVersion = "hk-sfc", 3
		index(t, tx, m)
		index(t, tx, msgRow(2, "src:a", "m2"))
	})
	m, err := s.Message(ctx, 1)
	check(t, err, "Message 1")
	if m.RetentionRule != "hk-sfc" || m.RetentionVersion != 3 {
		t.Fatalf("message 1: rule %q version %d, want hk-sfc 3", m.RetentionRule, m.RetentionVersion)
	}
	m, err = s.Message(ctx, 2)
	check(t, err, "Message 2")
	if m.RetentionRule != "" || m.RetentionVersion != 0 {
		t.Fatalf("message 2: rule %q version %d, want none", m.RetentionRule, m.RetentionVersion)
	}
}

// testRetentionVersions: every version of the rule set, oldest first, with
// its author, file and overrides; the latest version inside a transaction
// (what a conditional apply checks); reset empties them (a projection).
func testRetentionVersions(t *testing.T, s store.Store) {
	if vs, err := s.RetentionVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("RetentionVersions of an empty store = %+v, %v", vs, err)
	}
	write(t, s, func(tx store.Tx) {
		v, j, err := tx.LatestRetentionVersion(ctx)
		check(t, err, "LatestRetentionVersion")
		if v != 0 || j != 0 {
			t.Fatalf("LatestRetentionVersion of an empty store = %d", v)
		}
		check(t, tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: 7, Time: ms(1), Actor: "cli:alice",
			RetentionEvent: archive.RetentionEvent{Name: "firm", Version: 1, SHA256: archive.Hash([]byte("v1")), Source: "retention: firm # v1"}}), "IndexRetention")
		check(t, tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: 9, Time: ms(2), Actor: "api:bob",
			RetentionEvent: archive.RetentionEvent{Name: "firm", Version: 2, SHA256: archive.Hash([]byte("v2")), Source: "retention: firm # v2 中文",
				Overrides: []archive.RetentionOverride{{Rule: "stickers", Period: "400d", Reason: "memo 7"}}}}), "IndexRetention")
		if v, j, err := tx.LatestRetentionVersion(ctx); err != nil || v != 2 || j != 9 {
			t.Fatalf("LatestRetentionVersion in the transaction = %d (journal %d), %v; want 2 at 9 (its own writes)", v, j, err)
		}
		r, err := tx.RetentionVersion(ctx, 2)
		if err != nil || r.Source != "retention: firm # v2 中文" || r.Actor != "api:bob" || r.JournalIndex != 9 || len(r.Overrides) != 1 || r.Name != "firm" {
			t.Fatalf("RetentionVersion(2) in the transaction = %+v, %v", r, err)
		}
		if _, err := tx.RetentionVersion(ctx, 3); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RetentionVersion(3) = %v, want ErrNotFound", err)
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
