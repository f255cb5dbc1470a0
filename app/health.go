package app

import (
	"context"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture"
)

// CaptureHealth reports the capture health of the archive's connectors:
// configured connectors, open faults, silent employees, and — in serve —
// what the running connectors have seen. It shows no message content.
func (a *App) CaptureHealth(ctx context.Context) (*capture.Report, error) {
	// The routes declare capture.health too; the use case checks it
	// again so that no surface can show the report without it.
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermHealth); err != nil {
		return nil, err
	}
	c := a.d.Config
	return capture.BuildReport(ctx, a.d.Store, a.d.Connectors, c.Connectors, c.CaptureHealth.SilentDays, a.d.Now(), a.Location(), a.d.Health)
}
