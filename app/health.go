package app

import (
	"context"

	"github.com/wxarchive/wxarchive/capture/connector"
)

// CaptureHealth reports the capture health of the archive's connectors:
// configured connectors, open faults, silent employees, and — in serve —
// what the running connectors have seen. It shows no message content.
func (a *App) CaptureHealth(ctx context.Context) (*connector.Report, error) {
	c := a.d.Config
	return connector.BuildReport(ctx, a.d.Store, c.Connectors, c.CaptureHealth.SilentDays, a.d.Now(), a.Location(), a.d.Health)
}
