package store

import (
	"context"

	"github.com/wxarchive/wxarchive/archive"
)

// RetentionReader reads the versions of the retention rule set
// (retention.applied events).
type RetentionReader interface {
	// RetentionVersions returns every version of the rule set, oldest
	// first (none when no rule set was ever applied).
	RetentionVersions(ctx context.Context) ([]RetentionRow, error)
}

// RetentionTx is what a conditional append of a rule-set version checks
// inside the transaction, so that two writers cannot both take one
// version number.
type RetentionTx interface {
	// LatestRetentionVersion is the latest version of the rule set (0:
	// none).
	LatestRetentionVersion(ctx context.Context) (int, error)
}

// RetentionRow is one applied version of the rule set.
type RetentionRow struct {
	archive.RetentionEvent
	JournalIndex uint64
	Time         archive.Time
	Actor        string
}
