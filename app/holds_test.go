package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

// TestHolds: custodian, conversation, query and date-range holds each hold
// exactly what they cover — including a message archived after the hold
// was created; a release needs an administrator or a supervising
// principal, is journaled with its reason, and lets go only after the
// grace period; names are never reused; verify is clean.
func TestHolds(t *testing.T) {
	ctx := context.Background()
	clock := time.Now().UTC().Add(time.Hour)
	now := func() time.Time { return clock }
	r, _ := archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true, Now: now})
	deps := app.FromRepo(r)
	deps.Now = now
	u := app.New(deps)
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	jan := time.Date(2026, 1, 15, 2, 0, 0, 0, time.UTC)
	archiveMsgs := func(specs ...[4]string) []uint64 { // id, sender, conversation, text
		var items []ingest.Item
		for _, s := range specs {
			m, raw := testMessage(s[0], s[3])
			m.Sender, m.Conversation, m.SentAt = s[1], s[2], archive.At(jan)
			if s[0] == "late" {
				m.SentAt = archive.At(jan.AddDate(0, 3, 0))
			}
			items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
		}
		res, err := r.Engine.Archive(ctx, "test", items)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, x := range res {
			out = append(out, x.Serial)
		}
		return out
	}
	s := archiveMsgs(
		[4]string{"m1", "alice", "direct:alice|wmb", "hello"},
		[4]string{"m2", "bob", "room-1", "保本保收益"},
		[4]string{"m3", "bob", "direct:bob|wmc", "lunch?"},
		[4]string{"late", "dave", "room-9", "later"},
	)
	held := func(serial uint64) []string {
		t.Helper()
		v, err := u.Held(as, serial)
		if err != nil {
			t.Fatal(err)
		}
		return v.Holds
	}
	create := func(r app.HoldRequest) *app.HoldView {
		t.Helper()
		r.Matter, r.Reason = "Smith v. Firm", "complaint served"
		v, err := u.CreateHold(as, r)
		if err != nil {
			t.Fatalf("create %s: %v", r.Name, err)
		}
		return v
	}
	zero := 0
	for _, c := range []struct {
		req   app.HoldRequest
		count int64
	}{
		{app.HoldRequest{Name: "custodian", Custodians: []string{"alice"}}, 1},
		{app.HoldRequest{Name: "conversation", Conversations: []string{"room-1"}}, 1},
		{app.HoldRequest{Name: "query", Query: "保本"}, 1},
		{app.HoldRequest{Name: "range", From: "2026-04-01", To: "2026-05-01", GraceDays: &zero}, 1},
		{app.HoldRequest{Name: "combined", Custodians: []string{"bob"}, Query: "lunch"}, 1},
	} {
		if v := create(c.req); v.Messages != c.count || v.State != "active" || v.CreatedBy != "cli:carol" || v.Owner != "carol" {
			t.Errorf("%s: %+v", c.req.Name, v)
		}
	}
	want := map[uint64][]string{s[0]: {"custodian"}, s[1]: {"conversation", "query"}, s[2]: {"combined"}, s[3]: {"range"}}
	for serial, names := range want {
		got := held(serial)
		slices.Sort(got)
		if fmt.Sprint(got) != fmt.Sprint(names) {
			t.Errorf("serial %d held by %v, want %v", serial, got, names)
		}
	}
	// A message archived after the holds were created is held too.
	m, raw := testMessage("m6", "hi")
	m.Sender, m.Recipients, m.SentAt = "wmz", []string{"alice"}, archive.At(jan)
	res, err := r.Engine.Archive(ctx, "test", []ingest.Item{{Source: "test:1", Raw: raw, Message: m}})
	if err != nil {
		t.Fatal(err)
	}
	if got := held(res[0].Serial); fmt.Sprint(got) != "[custodian]" {
		t.Errorf("a message to the custodian archived after the hold: held by %v", got)
	}

	// Names are never reused; bad requests name their field.
	var ce *app.ConflictError
	if _, err := u.CreateHold(as, app.HoldRequest{Name: "custodian", Matter: "x", Reason: "y", Custodians: []string{"z"}}); !errors.As(err, &ce) {
		t.Errorf("a second hold named custodian: %v", err)
	}
	for _, bad := range []struct {
		req   app.HoldRequest
		field string
	}{
		{app.HoldRequest{Name: "Bad Name", Matter: "m", Reason: "r", Custodians: []string{"a"}}, "name"},
		{app.HoldRequest{Name: "x", Reason: "r", Custodians: []string{"a"}}, "matter"},
		{app.HoldRequest{Name: "x", Matter: "m", Custodians: []string{"a"}}, "reason"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r"}, "scope"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r", Query: "(unclosed"}, "query"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r", Query: "recalled:true"}, "query"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r", From: "2026-02-01", To: "2026-01-01"}, "to"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r", From: "yesterday"}, "from"},
		{app.HoldRequest{Name: "x", Matter: "m", Reason: "r", Custodians: []string{""}}, "custodians"},
	} {
		var inv *app.InvalidError
		if _, err := u.CreateHold(as, bad.req); !errors.As(err, &inv) || inv.Field != bad.field {
			t.Errorf("%+v: %v, want a problem with %s", bad.req, err, bad.field)
		} else if strings.Count(err.Error(), bad.field+": ") != 1 {
			t.Errorf("%+v: %q names its field more than once", bad.req, err) // it read "query: query: column 1: …"
		}
	}

	// Release: only an administrator or a supervising principal.
	for _, role := range []auth.Role{auth.Reviewer, auth.Auditor, auth.Regulator, auth.Ingest} {
		who := app.WithPrincipal(ctx, app.Principal{Actor: "api:x", User: "x", Via: "api", Identity: &auth.Identity{User: "x", Roles: []auth.Role{role}, Method: auth.MethodToken}})
		var fe *auth.ForbiddenError
		if _, err := u.ReleaseHold(who, "custodian", "done"); !errors.As(err, &fe) {
			t.Errorf("%s released a hold: %v", role, err)
		}
		if _, err := u.CreateHold(who, app.HoldRequest{Name: "y", Matter: "m", Reason: "r", Custodians: []string{"a"}}); !errors.As(err, &fe) {
			t.Errorf("%s created a hold: %v", role, err)
		}
	}
	principal := app.WithPrincipal(ctx, app.Principal{Actor: "api:pat", User: "pat", Via: "api", Identity: &auth.Identity{User: "pat", Roles: []auth.Role{auth.Principal}, Method: auth.MethodPassword}})
	v, err := u.ReleaseHold(principal, "custodian", "settled")
	if err != nil || v.State != "grace" || v.ReleasedBy != "api:pat" || v.ReleaseReason != "settled" {
		t.Fatalf("release: %+v, %v", v, err)
	}
	ev := lastEvent(t, r.Store)
	var rel archive.HoldReleasedEvent
	if ev.Type != archive.EventHoldReleased || ev.Actor != "api:pat" || ev.DecodePayload(&rel) != nil || rel.Reason != "settled" {
		t.Fatalf("journaled %+v", ev)
	}
	if _, err := u.ReleaseHold(as, "custodian", "again"); !errors.As(err, &ce) {
		t.Errorf("a second release: %v", err)
	}
	if _, err := u.ReleaseHold(as, "nope", "x"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("release of an unknown hold: %v", err)
	}
	// Still held through the grace period, never at once.
	if got := held(s[0]); fmt.Sprint(got) != "[custodian]" {
		t.Errorf("held at once after release: %v, want still held (grace)", got)
	}
	clock = clock.AddDate(0, 0, 29)
	if got := held(s[0]); fmt.Sprint(got) != "[custodian]" {
		t.Errorf("29 days after release: %v, want still held", got)
	}
	clock = clock.AddDate(0, 0, 2)
	if got := held(s[0]); len(got) != 0 {
		t.Errorf("31 days after release: held by %v, want free", got)
	}
	// A hold with no grace releases what it held at once.
	if _, err := u.ReleaseHold(as, "range", "wrong range"); err != nil {
		t.Fatal(err)
	}
	if got := held(s[3]); len(got) != 0 {
		t.Errorf("a 0-day grace hold still holds: %v", got)
	}
	list, err := u.Holds(as)
	if err != nil || len(list.Holds) != 5 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if h, err := u.Hold(as, "query"); err != nil || h.Messages != 1 || h.Scope.Query != "保本" {
		t.Fatalf("show: %+v, %v", h, err)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
