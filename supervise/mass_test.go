package supervise_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

const retail = `policy: retail-communication
rules:
  - id: finra-2210
    behaviour: mass_communication
  - id: roadshow
    lexicon: [路演]
`

// pitch is one employee's template to client i on day d.
func pitch(i, day int) ingest.Item {
	id := fmt.Sprintf("p%02d-%d", i, day)
	it := message(id, fmt.Sprintf("客户%02d您好！本周五我们有一场新发私募产品的线上路演，年化业绩基准6.5%%，起投100万，名额有限，需要的话我帮您预留席位。", i), archive.DirectionOutbound)
	client := fmt.Sprintf("wmC%02d", i)
	it.Message.Recipients = []string{client}
	it.Message.Participants[1].ID = client
	it.Message.SentAt = archive.At(time.Date(2026, 3, 2+day, 10, 0, 0, 0, time.UTC))
	return it
}

// TestMassCommunicationAndDepartments: the FINRA 2210 rule raises one
// alert on the message that brings a template to its 26th client within
// 30 days, even when the supervisor restarts in between (it reloads the
// history from the archive); alerts carry the sender's department at the
// time (the review queue); a backtest gives the same hits and, once
// reviewers have closed alerts, each rule's precision.
func TestMassCommunicationAndDepartments(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, true)
	// zhangwei moves from 财富管理部 to 私人银行部 on day 20.
	for _, f := range []struct {
		dept string
		day  int
	}{{"财富管理部", 0}, {"私人银行部", 20}} {
		ev, _ := journal.NewEvent(archive.EventParticipantUpdated, "cli:hr", archive.Time{}, nil, &archive.ParticipantEvent{ID: "zhangwei",
			Kind: archive.ParticipantEmployee, Name: "张伟", Department: f.dept, ValidFrom: archive.At(time.Date(2026, 3, 2+f.day, 0, 0, 0, 0, time.UTC))})
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "retail.yaml", []byte(retail), "cli:alice"); err != nil {
		t.Fatal(err)
	}
	archiveDays := func(from, to int) {
		var items []ingest.Item
		for i := from; i < to; i++ {
			items = append(items, pitch(i, i))
		}
		if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
			t.Fatal(err)
		}
	}
	archiveDays(0, 15)
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 4}
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// A new supervisor (a restart) must reload the 15 sends to count on.
	archiveDays(15, 28)
	s = &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 4}
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var mass []store.AlertRow
	depts := map[string]int{}
	r.Store.Alerts(ctx, 0, "retail-communication", 0, func(a store.AlertRow) error {
		depts[a.Department]++
		if a.Rule == "finra-2210" {
			mass = append(mass, a)
		}
		return nil
	})
	if len(mass) != 1 || mass[0].SourceID != "p25-25" || !strings.Contains(mass[0].Detail, "26 distinct external recipients within 30 days") {
		t.Fatalf("mass-communication alerts: %+v", mass)
	}
	if depts["财富管理部"] != 20 || depts["私人银行部"] != 9 || len(depts) != 2 {
		t.Fatalf("alerts by department: %v (want the department at the time each message was sent)", depts)
	}

	// Reviewers close some roadshow alerts: 2 violations, 1 false positive.
	var roadshow []uint64
	r.Store.Alerts(ctx, 0, "retail-communication", 0, func(a store.AlertRow) error {
		if a.Rule == "roadshow" {
			roadshow = append(roadshow, a.JournalIndex)
		}
		return nil
	})
	svc := &review.Service{Engine: r.Engine, Store: r.Store}
	for i, d := range []string{"violation", "violation", "false_positive"} {
		if _, err := svc.Do(ctx, review.Action{Action: review.Close, Alerts: []uint64{roadshow[i]}, Actor: "cli:bob", Disposition: d, Note: "remediated"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Do(ctx, review.Action{Action: review.Close, Alerts: []uint64{mass[0].JournalIndex}, Actor: "cli:bob", Disposition: "no_issue"}); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("retail.yaml", []byte(retail))
	if err != nil {
		t.Fatal(err)
	}
	// The period starts on day 10: the lead-in before it still counts.
	bt, err := policy.RunBacktest(ctx, p, r.Store, r.Records, time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]policy.RuleBacktest{}
	for _, rb := range bt.Rules {
		got[rb.Rule] = rb
	}
	if m := got["finra-2210"]; m.Hits != 1 || m.Dispositioned != 1 || m.NoIssue != 1 || m.Precision == nil || *m.Precision != 0 {
		t.Fatalf("finra-2210 backtest: %+v", m)
	}
	// Days 10–27: the roadshow alerts closed were on days 0–2, before the
	// period, so none is dispositioned in it.
	if rs := got["roadshow"]; rs.Hits != 18 || rs.Dispositioned != 0 || rs.Precision != nil {
		t.Fatalf("roadshow backtest: %+v", rs)
	}
	bt, _ = policy.RunBacktest(ctx, p, r.Store, r.Records, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), 0)
	for _, rb := range bt.Rules {
		if rb.Rule == "roadshow" && (rb.Hits != 28 || rb.Dispositioned != 3 || rb.Violations != 2 || rb.FalsePositive != 1 || *rb.Precision < 0.66 || *rb.Precision > 0.67) {
			t.Fatalf("roadshow over all: %+v", rb)
		}
	}
}
