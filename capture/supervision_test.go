package capture_test

import (
	"context"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/supervise"
)

// TestReportSupervisionLag: capture health shows how many archived
// messages the supervisor has not evaluated yet.
func TestReportSupervisionLag(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t)
	now := time.Now()
	for _, id := range []string{"l1", "l2", "l3"} {
		sent(r, t, id, "zhangwei", now)
	}
	rep, err := capture.BuildReport(ctx, r.Store, types, nil, 7, now, time.UTC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Supervision; s.EvaluatedThrough != 0 || s.ArchivedThrough != 3 || s.Lag != 3 {
		t.Fatalf("before supervision: %+v", s)
	}
	sup := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Batch: 2}
	if _, err := sup.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sup.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rep, _ = capture.BuildReport(ctx, r.Store, types, nil, 7, now, time.UTC, nil)
	if s := rep.Supervision; s.EvaluatedThrough != 3 || s.ArchivedThrough != 3 || s.Lag != 0 {
		t.Fatalf("after supervision: %+v", s)
	}
}
