package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/retention"
)

const rulesV1 = `retention: firm
rules:
  - name: everything
    period: {years: 7}
`

const rulesOverride = `retention: firm
rules:
  - name: everything
    period: {years: 7}
  - name: stickers
    match: {kinds: [emotion]}
    period: {days: 400}
    override: {reason: stickers carry no business content (memo 2026-04)}
`

// TestRetentionApplyVersions: versions are numbered, journaled with their
// author and file; the same bytes again write nothing; an override is
// journaled with its reason; show gives any version and the history.
func TestRetentionApplyVersions(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u := app.New(app.FromRepo(r))
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})

	if _, err := u.Retention(as, 0); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("show before any apply: %v, want ErrNotFound", err)
	}
	res, err := u.ApplyRetention(as, "v1.yaml", []byte(rulesV1))
	if err != nil || res.Version != 1 || !res.Changed || len(res.Overrides) != 0 {
		t.Fatalf("apply v1: %+v, %v", res, err)
	}
	ev := lastEvent(t, r.Store)
	var p archive.RetentionEvent
	if ev.Type != archive.EventRetentionApplied || ev.Actor != "cli:carol" || ev.DecodePayload(&p) != nil || p.Version != 1 || p.Source != rulesV1 ||
		p.SHA256 != archive.Hash([]byte(rulesV1)) || strings.Join(ev.Subject, ",") != "retention:firm" {
		t.Fatalf("journaled %+v / %+v", ev, p)
	}
	size := lastEvent(t, r.Store).Index
	if res, err := u.ApplyRetention(as, "v1.yaml", []byte(rulesV1)); err != nil || res.Changed || res.Version != 1 {
		t.Fatalf("apply the same bytes: %+v, %v", res, err)
	}
	if lastEvent(t, r.Store).Index != size {
		t.Fatal("an unchanged apply journaled something")
	}
	bob := app.WithPrincipal(ctx, app.Principal{Actor: "api:bob", User: "bob", Via: "api",
		Identity: &auth.Identity{User: "bob", Roles: []auth.Role{auth.Principal}, Method: auth.MethodPassword}})
	res, err = u.ApplyRetention(bob, "v2.yaml", []byte(rulesOverride))
	if err != nil || res.Version != 2 || len(res.Overrides) != 1 || res.Overrides[0].Rule != "stickers" || res.Overrides[0].Period != "400d" {
		t.Fatalf("apply v2: %+v, %v", res, err)
	}
	if err := lastEvent(t, r.Store).DecodePayload(&p); err != nil || len(p.Overrides) != 1 || !strings.Contains(p.Overrides[0].Reason, "memo 2026-04") {
		t.Fatalf("the override is not journaled with its reason: %+v, %v", p, err)
	}

	d, err := u.Retention(as, 0)
	if err != nil || d.Version != 2 || d.Latest != 2 || d.AppliedBy != "api:bob" || d.Source != rulesOverride || len(d.Versions) != 2 ||
		d.Versions[0].AppliedBy != "cli:carol" || d.Set == nil || len(d.Set.Rules) != 2 || d.Set.Rules[1].Override == "" {
		t.Fatalf("show latest: %+v, %v", d, err)
	}
	if d, err := u.Retention(as, 1); err != nil || d.Version != 1 || d.Source != rulesV1 || d.Latest != 2 {
		t.Fatalf("show 1: %+v, %v", d, err)
	}
	if _, err := u.Retention(as, 3); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("show 3: %v", err)
	}
	var inv *app.InvalidError
	if _, err := u.Retention(as, -1); !errors.As(err, &inv) || inv.Field != "version" {
		t.Fatalf("show -1: %v", err)
	}
}

// TestRetentionApplyRefused: a file that does not validate is refused with
// every problem and its line, and nothing is journaled; only an
// administrator or a supervising principal may apply; without a writer,
// nothing.
func TestRetentionApplyRefused(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u := app.New(app.FromRepo(r))
	before := lastEvent(t, r.Store).Index
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	_, err := u.ApplyRetention(as, "bad.yaml", []byte("retention: firm\nrules:\n  - name: a\n    period: {weeks: 3}\n  - name: a\n    period: {years: 1}\n    override: {}\n"))
	var re *app.RetentionError
	if !errors.As(err, &re) || len(re.Problems) != 4 || re.Problems[0].Line != 4 || re.Problems[1].Line != 4 || re.Problems[2].Line != 5 || re.Problems[3].Line != 7 {
		t.Fatalf("bad file: %v (%#v)", err, re)
	}
	for _, role := range []auth.Role{auth.Reviewer, auth.Auditor, auth.Regulator, auth.Ingest} {
		who := app.WithPrincipal(ctx, app.Principal{Actor: "api:x", User: "x", Via: "api",
			Identity: &auth.Identity{User: "x", Roles: []auth.Role{role}, Method: auth.MethodToken}})
		var fe *auth.ForbiddenError
		if _, err := u.ApplyRetention(who, "v1.yaml", []byte(rulesV1)); !errors.As(err, &fe) || fe.Need != auth.PermRetention {
			t.Errorf("%s applied a rule set: %v", role, err)
		}
	}
	admin := app.WithPrincipal(ctx, app.Principal{Actor: "api:root", User: "root", Via: "api",
		Identity: &auth.Identity{User: "root", Roles: []auth.Role{auth.Admin}, Method: auth.MethodPassword}})
	if lastEvent(t, r.Store).Index != before {
		t.Fatal("a refused apply journaled something")
	}
	if res, err := u.ApplyRetention(admin, "v1.yaml", []byte(rulesV1)); err != nil || res.Version != 1 {
		t.Fatalf("admin: %+v, %v", res, err)
	}
	ro := app.New(app.Deps{Store: r.Store, Config: r.Config})
	if _, err := ro.ApplyRetention(as, "v2.yaml", []byte(rulesOverride)); !errors.Is(err, app.ErrReadOnly) {
		t.Fatalf("read-only: %v", err)
	}
}

func TestRetentionCheck(t *testing.T) {
	u := app.New(app.Deps{})
	v, err := u.CheckRetention("example.yaml", retention.Example())
	if err != nil || v.Name != "example-global-firm" || len(v.Rules) != 4 {
		t.Fatalf("example: %+v, %v", v, err)
	}
	for _, r := range v.Rules {
		if r.Name == "hk-sfc" && (r.Period != "2y" || !strings.HasPrefix(r.Effective, "3y")) {
			t.Errorf("hk-sfc shown as %+v, want 2y effective 3y", r)
		}
	}
	var re *app.RetentionError
	if _, err := u.CheckRetention("x.yaml", []byte("retention: x\n")); !errors.As(err, &re) {
		t.Fatalf("no rules: %v", err)
	}
}
