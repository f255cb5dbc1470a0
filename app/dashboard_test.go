package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// TestDashboard: messages per day over the last two weeks in the
// archive's time zone (zero-filled, oldest first), and each part only
// for the roles that open it.
func TestDashboard(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	loc := r.Config.Location()
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 30, 0, 0, loc)
	var items []ingest.Item
	for i, at := range []time.Time{today, today, today.AddDate(0, 0, -1), today.AddDate(0, 0, -13), today.AddDate(0, 0, -20)} {
		m, raw := testMessage(fmt.Sprintf("d%d", i), "早上好")
		m.SentAt = archive.At(at)
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	d, err := u.Dashboard(uctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != app.DashboardDays || d.Days[13].Day != today.Format(app.DateLayout) {
		t.Fatalf("days %+v", d.Days)
	}
	want := map[int]int64{13: 2, 12: 1, 0: 1}
	for i, dc := range d.Days {
		if dc.Messages != want[i] {
			t.Errorf("day %s: %d messages, want %d", dc.Day, dc.Messages, want[i])
		}
	}
	if d.Queues == nil || d.Health == nil || d.Stats == nil {
		t.Fatalf("the CLI's dashboard lacks a part: %+v", d)
	}
	rev, err := u.Dashboard(as(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"x"}}))
	if err != nil || rev.Queues == nil || rev.Health != nil || rev.Days != nil || rev.Stats != nil {
		t.Fatalf("a reviewer's dashboard: %+v, %v", rev, err)
	}
	adm, err := u.Dashboard(as(&auth.Identity{User: "adam", Roles: []auth.Role{auth.Admin}}))
	if err != nil || adm.Queues != nil || adm.Health == nil || len(adm.Days) != app.DashboardDays {
		t.Fatalf("an administrator's dashboard: %+v, %v", adm, err)
	}
}
