package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// departments is an archive with two employees in two departments, each
// with one message the default pack flags: a (财富管理部) in direct:a|b,
// c (投资银行部) in direct:c|b. It returns the two serials and alerts.
func departments(t *testing.T) (r *repo.Repo, serials, alerts [2]uint64) {
	t.Helper()
	ctx := context.Background()
	r, _ = archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true})
	for _, p := range []archive.ParticipantEvent{{ID: "a", Kind: archive.ParticipantEmployee, Department: "财富管理部"},
		{ID: "c", Kind: archive.ParticipantEmployee, Department: "投资银行部"}} {
		p.ValidFrom = archive.MillisTime(0)
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var items []ingest.Item
	for i, who := range []string{"a", "c"} {
		m, raw := testMessage(fmt.Sprintf("d%d", i), "这个产品保本保收益 "+who)
		m.Sender, m.Conversation = who, "direct:"+who+"|b"
		m.Participants = []archive.Participant{{ID: who, Kind: archive.ParticipantEmployee}, {ID: "wmb", Kind: archive.ParticipantExternal}}
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	res, err := r.Engine.Archive(ctx, "test", items)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res {
		serials[i] = res[i].Serial
	}
	if _, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	r.Store.Alerts(ctx, 0, "", 100, func(al store.AlertRow) error {
		for i, s := range serials {
			if al.Serial == s && alerts[i] == 0 {
				alerts[i] = al.JournalIndex
			}
		}
		return nil
	})
	if alerts[0] == 0 || alerts[1] == 0 {
		t.Fatalf("alerts %v: the default pack did not flag both messages", alerts)
	}
	return r, serials, alerts
}

func as(id *auth.Identity) context.Context {
	return app.WithPrincipal(context.Background(), app.Principal{Actor: "api:" + id.User, User: id.User, Via: "api", Identity: id})
}

func forbidden(t *testing.T, err error, says ...string) {
	t.Helper()
	var fe *auth.ForbiddenError
	if !errors.As(err, &fe) {
		t.Fatalf("%v, want a ForbiddenError", err)
	}
	for _, s := range says {
		if !strings.Contains(fe.Error(), s) {
			t.Fatalf("%q does not say %q", fe.Error(), s)
		}
	}
}

func searchSerials(t *testing.T, u *app.App, ctx context.Context, q string) []uint64 {
	t.Helper()
	res, err := u.Search(ctx, app.SearchOptions{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, h := range res.Results {
		out = append(out, h.Serial)
	}
	slices.Sort(out)
	return out
}

// TestReviewerBarrier: a reviewer finds, sees and reviews only what
// concerns their departments; everything else is refused naming the
// message or alert and the departments. Principals and auditors see all.
func TestReviewerBarrier(t *testing.T) {
	r, serials, alerts := departments(t)
	u := app.New(app.FromRepo(r))
	rita := as(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部"}})

	if got := searchSerials(t, u, rita, "保本"); !slices.Equal(got, []uint64{serials[0]}) {
		t.Fatalf("reviewer's search: %v, want only %d", got, serials[0])
	}
	if _, err := u.MessagesBySerial(rita, serials[0]); err != nil {
		t.Fatal(err)
	}
	_, err := u.MessagesBySerial(rita, serials[0], serials[1])
	forbidden(t, err, fmt.Sprintf("serial %d", serials[1]), "财富管理部")
	_, err = u.InclusionProof(rita, app.ProofOf{Serial: serials[1], BySerial: true})
	forbidden(t, err, fmt.Sprintf("serial %d", serials[1]))
	_, err = u.InclusionProof(rita, app.ProofOf{Index: 1})
	forbidden(t, err, "by serial")
	_, err = u.Search(rita, app.SearchOptions{Query: "保本", Exact: true})
	forbidden(t, err, "exact mode")

	page, err := u.Alerts(rita, app.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range page.Alerts {
		if al.Department != "财富管理部" {
			t.Fatalf("reviewer sees alert %d of %q", al.ID, al.Department)
		}
	}
	if len(page.Alerts) == 0 {
		t.Fatal("reviewer sees no alert of their own department")
	}
	qs, err := u.Queues(rita)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs.Queues {
		if q.Department != "财富管理部" {
			t.Fatalf("reviewer sees the queue of %q", q.Department)
		}
	}
	_, err = u.Alert(rita, alerts[1])
	forbidden(t, err, fmt.Sprintf("alert %d", alerts[1]), "投资银行部")
	before := head(t, r)
	_, err = u.Review(rita, app.ReviewRequest{Action: "comment", Alerts: []uint64{alerts[1]}, Note: "x"})
	forbidden(t, err, fmt.Sprintf("alert %d", alerts[1]))
	if h := head(t, r); h != before {
		t.Fatalf("a refused review journaled %d events", h-before)
	}
	if _, err := u.Review(rita, app.ReviewRequest{Action: "comment", Alerts: []uint64{alerts[0]}, Note: "mine"}); err != nil {
		t.Fatal(err)
	}

	// Without departments a reviewer reaches nothing, and is told so.
	_, err = u.Search(as(&auth.Identity{User: "new", Roles: []auth.Role{auth.Reviewer}}), app.SearchOptions{Query: "保本"})
	forbidden(t, err, "no departments")

	for _, role := range []auth.Role{auth.Principal, auth.Auditor} {
		ctx := as(&auth.Identity{User: "p", Roles: []auth.Role{role}})
		if got := searchSerials(t, u, ctx, "保本"); len(got) != 2 {
			t.Fatalf("%s's search: %v, want both", role, got)
		}
	}
}

// TestRegulatorScope: a regulator finds and sees only what their scope
// selects.
func TestRegulatorScope(t *testing.T) {
	r, serials, _ := departments(t)
	u := app.New(app.FromRepo(r))
	exam := as(&auth.Identity{User: "exam", Roles: []auth.Role{auth.Regulator}, Scope: &auth.Scope{Query: "保本", Conversations: []string{"direct:c|b"}}})
	if got := searchSerials(t, u, exam, "收益"); !slices.Equal(got, []uint64{serials[1]}) {
		t.Fatalf("regulator's search: %v, want only %d", got, serials[1])
	}
	if got := searchSerials(t, u, exam, "保本 OR 收益"); !slices.Equal(got, []uint64{serials[1]}) {
		t.Fatalf("regulator's OR search: %v, want only %d", got, serials[1])
	}
	_, err := u.MessagesBySerial(exam, serials[0])
	forbidden(t, err, fmt.Sprintf("serial %d", serials[0]), "scope")
	_, err = u.Alerts(exam, app.AlertFilter{})
	forbidden(t, err, "alerts.read")
	empty := as(&auth.Identity{User: "exam2", Roles: []auth.Role{auth.Regulator}, Scope: &auth.Scope{}})
	_, err = u.Search(empty, app.SearchOptions{Query: "保本"})
	forbidden(t, err, "names no query")
}

// TestPrincipalByRole: with authenticated users, closing an escalated
// alert takes the principal role; a reviewer cannot, whatever else.
func TestPrincipalByRole(t *testing.T) {
	r, _, alerts := departments(t)
	u := app.New(app.FromRepo(r))
	rev := as(&auth.Identity{User: "rita", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"财富管理部", "投资银行部"}})
	if _, err := u.Review(rev, app.ReviewRequest{Action: "escalate", Alerts: []uint64{alerts[0]}, Note: "for the principal"}); err != nil {
		t.Fatal(err)
	}
	_, err := u.Review(rev, app.ReviewRequest{Action: "close", Alerts: []uint64{alerts[0]}, Disposition: "no_issue"})
	var ce *app.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "only a principal") {
		t.Fatalf("a reviewer closing an escalated alert: %v", err)
	}
	pat := as(&auth.Identity{User: "pat", Roles: []auth.Role{auth.Principal}})
	if _, err := u.Review(pat, app.ReviewRequest{Action: "close", Alerts: []uint64{alerts[0]}, Disposition: "no_issue"}); err != nil {
		t.Fatalf("the principal closing it: %v", err)
	}
}

func head(t *testing.T, r *repo.Repo) uint64 {
	t.Helper()
	h, err := r.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.JournalSize
}
