package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

func TestUserAdministrationNeedsPermUsers(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, cli := archivetest.App(ctx, r)
	// The CLI principal (no identity) administers its archive.
	if _, err := u.AddUser(cli, auth.NewUser{Name: "ann", Password: "a long enough password", Grant: auth.Grant{Roles: []auth.Role{auth.Reviewer}}}); err != nil {
		t.Fatal(err)
	}
	as := func(user string, roles ...auth.Role) context.Context {
		return app.WithPrincipal(ctx, app.Principal{Actor: "api:" + user, User: user, Via: "api",
			Identity: &auth.Identity{User: user, Roles: roles, Method: auth.MethodPassword}})
	}
	reviewer := as("ann", auth.Reviewer)
	var fe *auth.ForbiddenError
	if _, err := u.AddUser(reviewer, auth.NewUser{Name: "eve", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); !errors.As(err, &fe) || fe.Need != auth.PermUsers {
		t.Fatalf("a reviewer added a user: %v", err)
	}
	if _, err := u.CreateToken(reviewer, auth.NewToken{Name: "t", Owner: "ann", Expires: time.Now().Add(time.Hour)}); !errors.As(err, &fe) {
		t.Fatalf("a reviewer created a token: %v", err)
	}
	if _, err := u.Users(as("x", auth.Auditor)); !errors.As(err, &fe) {
		t.Fatalf("an auditor listed users: %v", err)
	}
	admin := as("root", auth.Admin)
	if _, err := u.AddUser(admin, auth.NewUser{Name: "bea", Grant: auth.Grant{Roles: []auth.Role{auth.Auditor}}}); err != nil {
		t.Fatal(err)
	}
	users, err := u.Users(admin)
	if err != nil || len(users) != 2 || users[1].Name != "bea" || users[1].Login != "sso" {
		t.Fatalf("users %+v, %v (eve must not exist)", users, err)
	}
	var inv *app.InvalidError
	if _, err := u.AddUser(admin, auth.NewUser{Name: "bad name", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); !errors.As(err, &inv) || inv.Field != "user" {
		t.Fatalf("bad name: %v", err)
	}
	var ce *app.ConflictError
	if _, err := u.AddUser(admin, auth.NewUser{Name: "bea", Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); !errors.As(err, &ce) {
		t.Fatalf("a name taken twice: %v", err)
	}
	if _, err := u.DisableUser(admin, "nobody"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("disable no one: %v", err)
	}
	tc, err := u.CreateToken(admin, auth.NewToken{Name: "ingest", Owner: "bea", Expires: time.Now().Add(time.Hour)})
	if err != nil || !strings.HasPrefix(tc.Secret, auth.TokenPrefix) {
		t.Fatalf("CreateToken: %+v, %v", tc, err)
	}
	if _, err := u.RevokeToken(admin, tc.Token.ID); err != nil {
		t.Fatal(err)
	}

	// The audit log: the changes, newest first, by actor and by user.
	page, err := u.Audit(cli, app.AuditFilter{User: "root"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range page.Entries {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, " ") != "token.revoked token.created user.added" {
		t.Fatalf("audit of root: %v", kinds)
	}
	page, err = u.Audit(cli, app.AuditFilter{User: "bea", Kind: archive.EventTokenCreated})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].User != "bea" || page.Entries[0].Actor != "api:root" {
		t.Fatalf("audit of bea's tokens: %+v, %v", page, err)
	}
	if strings.Contains(string(page.Entries[0].Payload), tc.Secret[len(auth.TokenPrefix):]) {
		t.Fatal("the token's secret is in the audit log")
	}
	// Keyset paging: one at a time, newest first, covering the same
	// entries as one page.
	all, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded})
	if err != nil || len(all.Entries) != 2 {
		t.Fatalf("user.added: %+v, %v", all, err)
	}
	p1, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded, Limit: 1})
	if err != nil || len(p1.Entries) != 1 || p1.Entries[0].Index != all.Entries[0].Index || p1.Next != p1.Entries[0].Index {
		t.Fatalf("page 1: %+v, %v", p1, err)
	}
	p2, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded, Limit: 1, Before: p1.Next})
	if err != nil || len(p2.Entries) != 1 || p2.Entries[0].Index != all.Entries[1].Index {
		t.Fatalf("page 2: %+v, %v", p2, err)
	}
	p3, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded, Limit: 1, Before: p2.Next})
	if err != nil || len(p3.Entries) != 0 || p3.Next != 0 {
		t.Fatalf("page 3: %+v, %v", p3, err)
	}
	// Reading the audit log is an access, journaled.
	reads, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventAccessView, Limit: 1})
	if err != nil || len(reads.Entries) != 1 || !strings.Contains(string(reads.Entries[0].Payload), `"what":"audit"`) ||
		!strings.Contains(string(reads.Entries[0].Payload), `kind=user.added`) {
		t.Fatalf("the audit read's own access: %+v, %v", reads, err)
	}
	if _, err := u.Audit(cli, app.AuditFilter{Kind: "message.archived"}); !errors.As(err, &inv) || inv.Field != "kind" || inv.Code != "bad_parameter" {
		t.Fatalf("bad kind: %v", err)
	}
	if _, err := u.Audit(cli, app.AuditFilter{Period: app.Range{From: "2026-02-01", To: "2026-01-01"}}); !errors.As(err, &inv) || inv.Field != "to" {
		t.Fatalf("inverted period: %v", err)
	}
	if _, err := u.Audit(as("ann", auth.Reviewer), app.AuditFilter{}); !errors.As(err, &fe) || fe.Need != auth.PermAudit {
		t.Fatalf("a reviewer read the audit log: %v", err)
	}
	if _, err := u.Audit(as("aud", auth.Auditor), app.AuditFilter{}); err != nil {
		t.Fatalf("an auditor reads the audit log: %v", err)
	}
	today := time.Now().In(u.Location()).Format(app.DateLayout)
	p, err := u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded, Period: app.Range{From: today, To: time.Now().In(u.Location()).AddDate(0, 0, 1).Format(app.DateLayout)}})
	if err != nil || len(p.Entries) != 2 {
		t.Fatalf("today's user.added: %+v, %v", p, err)
	}
	p, err = u.Audit(cli, app.AuditFilter{Kind: archive.EventUserAdded, Period: app.Range{From: "2020-01-01", To: "2020-01-02"}})
	if err != nil || len(p.Entries) != 0 {
		t.Fatalf("2020's user.added: %+v, %v", p, err)
	}
}
