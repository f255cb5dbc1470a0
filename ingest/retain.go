package ingest

import (
	"context"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// Retention is how long one message is kept, and what decided it.
type Retention struct {
	Until archive.Time
	// Rule names the rule of the retention rule set that decided, and
	// Version that set's version; both empty when the archive's
	// retention_years decided (no rule set in force).
	Rule    string
	Version int
}

// Retainer decides retain-until from the archive's retention rules (the
// retention package's Live implements it). Contract:
//   - Refresh is called at the start of every commit, with its
//     transaction, before any other method in that commit: it brings the
//     rules in force up to the latest version committed (one applied by
//     another process included). An error fails the commit.
//   - RetainMessage and RetainInput are then called by the single writer
//     for each message and each quarantined input of the commit; they do
//     no I/O in the common case and are deterministic for one version of
//     the rules, so a commit is cheap and a replay decides the same.
//   - RetainInput is at least what any rule could give (an input that
//     could not be read cannot be shown to fall under a shorter rule).
type Retainer interface {
	Refresh(ctx context.Context, tx store.RetentionTx) error
	RetainMessage(m *archive.Message, capturedAt time.Time) Retention
	RetainInput(capturedAt time.Time) archive.Time
}

// retainMessage is the retention of a message committed now.
func (e *Engine) retainMessage(m *archive.Message, now archive.Time) Retention {
	if e.cfg.Retainer == nil {
		return Retention{Until: e.RetainUntil(now.Time)}
	}
	r := e.cfg.Retainer.RetainMessage(m, now.Time)
	// The archive's retention_years, applied to the capture day, is the
	// retain-until of a message when no rule set is in force: a rule set
	// decides otherwise only when one is (Version > 0).
	if r.Version == 0 {
		return Retention{Until: e.RetainUntil(now.Time)}
	}
	return r
}

// retainInput is the retention of a quarantined input committed now.
func (e *Engine) retainInput(now archive.Time) archive.Time {
	u := e.RetainUntil(now.Time)
	if e.cfg.Retainer != nil {
		if r := e.cfg.Retainer.RetainInput(now.Time); r.After(u.Time) {
			u = r
		}
	}
	return u
}
