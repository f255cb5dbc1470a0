package supervise_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

const sampling = `policy: random-review
scope:
  directions: [outbound]
sampling:
  rate: 0.05
  min_per_employee: 4
  period: month
  seed: the-regulator-holds-this-seed
`

// TestSamplingTopUp: when a month has ended (and a day's grace), every
// employee has at least the minimum of their messages sampled — the
// rate sample raised at ingest plus a top-up of their lowest-HMAC
// messages — and exactly the sample Sampling.Select re-derives from the
// seed; an employee with fewer messages has all of them; a period closes
// once; inbound messages (out of scope) are never drawn.
func TestSamplingTopUp(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t, true)
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "s.yaml", []byte(sampling), "cli:alice"); err != nil {
		t.Fatal(err)
	}
	p, _ := policy.Parse("s.yaml", []byte(sampling))
	sentAt := time.Now().UTC()
	counts := map[string]int{"zhangwei": 60, "lina": 30, "wangfang": 2}
	var items []ingest.Item
	var pop []policy.Candidate
	for emp, n := range counts {
		for i := 0; i < n; i++ {
			it := message(fmt.Sprintf("%s-%03d", emp, i), fmt.Sprintf("第%d条消息", i), archive.DirectionOutbound)
			it.Message.Sender, it.Message.Participants[0].ID = emp, emp
			it.Message.SentAt = archive.At(sentAt)
			items = append(items, it)
			pop = append(pop, policy.Candidate{ID: it.Message.SourceID, Employee: emp, Period: p.Sampling.PeriodOf(sentAt, time.UTC)})
			in := message(fmt.Sprintf("%s-in-%03d", emp, i), "客户来信", archive.DirectionInbound)
			in.Message.Sender, in.Message.Participants[0].ID = "wmC", emp
			in.Message.SentAt = archive.At(sentAt)
			items = append(items, in)
		}
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Now: func() time.Time { return now }}
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	sampled := func() (map[string]int, []string, int) {
		per, topups := map[string]int{}, 0
		var ids []string
		r.Store.Alerts(ctx, 0, "random-review", 0, func(a store.AlertRow) error {
			if strings.Contains(a.SourceID, "-in-") {
				t.Fatalf("inbound message sampled: %+v", a)
			}
			per[strings.Split(a.SourceID, "-")[0]]++
			ids = append(ids, a.SourceID)
			if strings.HasPrefix(a.Detail, "top-up") {
				topups++
			}
			return nil
		})
		sort.Strings(ids)
		return per, ids, topups
	}
	atIngest, _, _ := sampled()
	// The month has not ended: nothing to close.
	if res, err := s.TopUp(ctx); err != nil || res.Periods != 0 {
		t.Fatalf("top-up before the month ends: %+v %v", res, err)
	}
	_, end := p.Sampling.PeriodBounds(sentAt, time.UTC)
	now = end.Add(supervise.TopUpGrace + time.Minute)
	res, err := s.TopUp(ctx)
	if err != nil || res.Periods != 1 || res.Alerts == 0 {
		t.Fatalf("top-up: %+v %v", res, err)
	}
	per, ids, topups := sampled()
	for emp, n := range counts {
		want := max(min(4, n), atIngest[emp])
		if per[emp] != want {
			t.Errorf("%s: %d sampled (%d at ingest), want %d", emp, per[emp], atIngest[emp], want)
		}
	}
	if topups != res.Alerts {
		t.Errorf("%d top-up alerts, result says %d", topups, res.Alerts)
	}
	if want := p.Sampling.Select(pop); strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("sample %v\nis not the one the seed re-derives %v", ids, want)
	}
	// Closed once; the next month (empty) closes with nothing.
	if res, err := s.TopUp(ctx); err != nil || res.Periods != 0 {
		t.Fatalf("second top-up: %+v %v", res, err)
	}
	now = now.AddDate(0, 1, 1)
	if res, err := s.TopUp(ctx); err != nil || res.Periods != 1 || res.Alerts != 0 {
		t.Fatalf("empty month: %+v %v", res, err)
	}
	if _, again, _ := sampled(); len(again) != len(ids) {
		t.Fatalf("alerts changed: %d → %d", len(ids), len(again))
	}
}
