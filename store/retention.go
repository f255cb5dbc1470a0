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
	// RetentionCoverage counts messages by the rule (and version) that
	// gave their retain-until, and for each cutoff how many messages'
	// retain-until is at or before it.
	RetentionCoverage(ctx context.Context, cutoffs []archive.Time) (RetentionCoverage, error)
}

// RetentionCoverage is what RetentionCoverage counts.
type RetentionCoverage struct {
	Rules []RuleCount
	// Eligible[i] counts the messages whose retain-until is at or before
	// cutoffs[i] (before holds and disposition, which are not counted
	// here).
	Eligible []int64
}

// RuleCount is how many messages a rule (of a rule-set version) decided,
// and the range of their retain-until. Rule "" and Version 0 are the
// messages the archive's retention_years decided.
type RuleCount struct {
	Rule             string
	Version          int
	Messages         int64
	Earliest, Latest archive.Time
}

// RetentionTx is what a conditional append of a rule-set version checks
// inside the transaction, so that two writers cannot both take one
// version number.
type RetentionTx interface {
	// LatestRetentionVersion is the latest version of the rule set (0:
	// none) and the journal index of its retention.applied (0: none): a
	// version number alone could name two files — one whose commit
	// failed, then the one that took its number.
	LatestRetentionVersion(ctx context.Context) (version int, journalIndex uint64, err error)
	// RetentionVersion returns one version, as this transaction sees it
	// (its own writes included); an error matching ErrNotFound if none.
	RetentionVersion(ctx context.Context, version int) (RetentionRow, error)
}

// RetentionRow is one applied version of the rule set.
type RetentionRow struct {
	archive.RetentionEvent
	JournalIndex uint64
	Time         archive.Time
	Actor        string
}
