package app

import (
	"context"

	"github.com/wxarchive/wxarchive/capture"
)

// CaptureHealth reports the capture health of the archive's connectors:
// configured connectors, open faults, silent employees, and — in serve —
// what the running connectors have seen. It shows no message content.
func (a *App) CaptureHealth(ctx context.Context) (*capture.Report, error) {
	c := a.d.Config
	return capture.BuildReport(ctx, a.d.Store, a.d.Connectors, c.Connectors, c.CaptureHealth.SilentDays, a.d.Now(), a.Location(), a.d.Health)
}
