package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// TestCaptureHealthAuthorized: the use case itself refuses a caller
// without capture.health (a reviewer), whatever surface asks, and serves
// an administrator; without a principal it answers nothing.
func TestCaptureHealthAuthorized(t *testing.T) {
	ctx := context.Background()
	r, _ := archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true})
	u := app.New(app.FromRepo(r))
	as := func(role auth.Role) context.Context {
		return app.WithPrincipal(ctx, app.Principal{Actor: "api:x", User: "x", Via: "api",
			Identity: &auth.Identity{User: "x", Roles: []auth.Role{role}, Method: auth.MethodToken}})
	}
	var fe *auth.ForbiddenError
	if _, err := u.CaptureHealth(as(auth.Reviewer)); !errors.As(err, &fe) {
		t.Errorf("a reviewer read capture health: %v", err)
	}
	if rep, err := u.CaptureHealth(as(auth.Admin)); err != nil || rep == nil {
		t.Errorf("an administrator: %v", err)
	}
	if _, err := u.CaptureHealth(ctx); !errors.Is(err, app.ErrNoPrincipal) {
		t.Errorf("no principal: %v", err)
	}
}
