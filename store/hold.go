package store

import (
	"context"

	"github.com/wxarchive/wxarchive/archive"
)

// HoldReader reads legal holds (hold.created and hold.released events).
type HoldReader interface {
	// Holds returns every hold, active or released, by name.
	Holds(ctx context.Context) ([]HoldRow, error)
}

// HoldTx is what a conditional append of a hold checks inside the
// transaction: a name is taken once, a hold released once.
type HoldTx interface {
	// HoldState returns the hold named (ok false when there is none), as
	// this transaction sees it.
	HoldState(ctx context.Context, name string) (h HoldRow, ok bool, err error)
}

// HoldRow is one legal hold.
type HoldRow struct {
	archive.HoldEvent
	JournalIndex uint64 // of hold.created
	Time         archive.Time
	Actor        string
	// Released is when it was released (zero while active), by whom, why,
	// and the journal index of hold.released.
	Released      archive.Time
	ReleasedBy    string
	ReleaseReason string
	ReleaseIndex  uint64
}

// HoldReleaseRow is one hold.released event.
type HoldReleaseRow struct {
	archive.HoldReleasedEvent
	JournalIndex uint64
	Time         archive.Time
	Actor        string
}
