// Package archivetest is what tests share to set up an archive: one helper
// instead of a hand copy of init-and-open per test file.
package archivetest

import (
	"context"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

// Principal is the user tests act as.
var Principal = app.Principal{Actor: "cli:tester", User: "tester", Via: "cli"}

// App returns the use cases over r and a context acting as Principal.
func App(ctx context.Context, r *repo.Repo) (*app.App, context.Context) {
	return app.New(app.FromRepo(r)), app.WithPrincipal(ctx, Principal)
}
