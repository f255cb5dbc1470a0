package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// fakeTx is the retention rows a commit's transaction sees.
type fakeTx struct {
	rows  map[int]string
	jidx  map[int]uint64 // default: 100 + version
	reads int
}

func (f *fakeTx) LatestRetentionVersion(context.Context) (int, uint64, error) {
	v := 0
	for k := range f.rows {
		v = max(v, k)
	}
	if v == 0 {
		return 0, 0, nil
	}
	if j, ok := f.jidx[v]; ok {
		return v, j, nil
	}
	return v, uint64(100 + v), nil
}

func (f *fakeTx) RetentionVersion(_ context.Context, v int) (store.RetentionRow, error) {
	f.reads++
	src, ok := f.rows[v]
	if !ok {
		return store.RetentionRow{}, fmt.Errorf("version %d: %w", v, store.ErrNotFound)
	}
	return store.RetentionRow{RetentionEvent: archive.RetentionEvent{Version: v, Source: src}}, nil
}

// TestLive: nothing decided before a rule set; the latest version the
// transaction sees is in force from that commit (read once per version);
// a stored version that does not validate fails the commit.
func TestLive(t *testing.T) {
	ctx := context.Background()
	l := &Live{DefaultYears: 6}
	tx := &fakeTx{rows: map[int]string{}}
	if err := l.Refresh(ctx, tx); err != nil {
		t.Fatal(err)
	}
	m := msg(nil)
	if r := l.RetainMessage(m, sent); r.Version != 0 || !r.Until.IsZero() || !l.RetainInput(sent).IsZero() {
		t.Fatalf("before any rule set: %+v", r)
	}
	tx.rows[1] = "retention: t\nrules:\n  - {name: seven, period: {years: 7}}\n"
	for range 3 {
		if err := l.Refresh(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	if tx.reads != 1 {
		t.Errorf("version 1 read %d times, want once", tx.reads)
	}
	if r := l.RetainMessage(m, sent); r.Version != 1 || r.Rule != "seven" || !r.Until.Time.Equal(Until(sent, Period{Years: 7})) {
		t.Fatalf("version 1: %+v", r)
	}
	if s, v := l.Current(); s == nil || v != 1 {
		t.Fatalf("Current = %v, %d", s, v)
	}
	tx.rows[2] = "retention: t\nrules:\n  - {name: nine, period: {years: 9}}\n"
	if err := l.Refresh(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if r := l.RetainMessage(m, sent); r.Version != 2 || r.Rule != "nine" {
		t.Fatalf("version 2 (another process applied it): %+v", r)
	}
	tx.rows[3] = "retention: t\nrules: []\n"
	err := l.Refresh(ctx, tx)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "retention version 3") {
		t.Fatalf("an invalid stored version: %v", err)
	}
	if _, v := l.Current(); v != 2 {
		t.Fatalf("after a failed refresh the set in force is version %d, want 2 still", v)
	}
	// Version 3's commit failed (rolled back) and another file took the
	// number: the journal index tells them apart.
	tx.rows[3] = "retention: t\nrules:\n  - {name: ten, period: {years: 10}}\n"
	tx.jidx = map[int]uint64{3: 500}
	if err := l.Refresh(ctx, tx); err != nil {
		t.Fatal(err)
	}
	tx.rows[3] = "retention: t\nrules:\n  - {name: eleven, period: {years: 11}}\n"
	tx.jidx[3] = 501
	if err := l.Refresh(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if r := l.RetainMessage(m, sent); r.Version != 3 || r.Rule != "eleven" {
		t.Fatalf("version 3 after a failed commit took its number: %+v", r)
	}
}

// Departments asks the directory for employees only, once each.
func TestDepartments(t *testing.T) {
	asked := map[string]int{}
	m := msg(func(m *archive.Message) {
		m.Participants = append(m.Participants, archive.Participant{ID: "alice", Kind: archive.ParticipantEmployee}, archive.Participant{ID: "bob", Kind: archive.ParticipantEmployee})
	})
	got := Departments(m, func(id string, at time.Time) (string, bool) {
		asked[id]++
		if id == "bob" {
			return "", false
		}
		return "Equities", true
	})
	if fmt.Sprint(got) != "[Equities]" || asked["alice"] != 1 || asked["bob"] != 1 || asked["wmclient"] != 0 {
		t.Fatalf("departments %v, asked %v", got, asked)
	}
}
