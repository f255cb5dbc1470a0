package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Malformed is told about a leaf that journal.ParseLeaf refuses (err names
// its index). decoded says whether journal.DecodeLeaf could still read it,
// in which case it was applied as it reads; otherwise it was skipped.
type Malformed func(err *journal.LeafError, decoded bool)

// ErrSkipRecord, wrapped in a RecordLoader's error, makes a lenient replay
// (malformed not nil) leave that event's rows out and carry on instead of
// stopping: a checker rebuilding an index from a damaged copy reports the
// missing record itself, and the index it compares against lacks the same
// rows.
var ErrSkipRecord = errors.New("record unavailable; event left out of the index")

// Replay applies journal events [0, size) to a projection. visit, if not
// nil, sees every parsed event first. A leaf that does not parse stops the
// replay with its *journal.LeafError when malformed is nil; otherwise it is
// reported to malformed and the replay carries on: a leaf DecodeLeaf can
// read is applied as it reads (one oversize field must not drop an
// acknowledged message from the index), one it cannot read — or whose
// payload does not decode — is skipped.
func Replay(ctx context.Context, r store.Reader, size uint64, proj store.Projection, load RecordLoader, visit func(ev *journal.Event) error, malformed Malformed) error {
	return r.Leaves(ctx, 0, size, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		decodedLeniently := false
		if err != nil {
			var le *journal.LeafError
			if malformed == nil || !errors.As(err, &le) {
				return err
			}
			if ev, err = journal.DecodeLeaf(idx, leaf); err != nil {
				malformed(le, false)
				return nil
			}
			malformed(le, true)
			decodedLeniently = true
		}
		if visit != nil {
			if err := visit(ev); err != nil {
				return err
			}
		}
		err = Apply(ctx, proj, ev, load)
		if err != nil && malformed != nil && errors.Is(err, ErrSkipRecord) {
			return nil // the loader's caller reports the record
		}
		var le *journal.LeafError
		if err != nil && malformed != nil && errors.As(err, &le) && le.Index == idx {
			// The payload does not decode as its type's: nothing to apply.
			if !decodedLeniently {
				malformed(le, false)
			}
			return nil
		}
		return err
	})
}

// Reindex rebuilds the projection from the journal and the records in one
// transaction: readers see the old index until it commits. The caller must
// hold the archive exclusively. malformed (nil: stop at the first) is told
// about every leaf the journal's reader refuses; see Replay.
func Reindex(ctx context.Context, st store.Store, load RecordLoader, progress func(done, total uint64), malformed Malformed) error {
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	head, err := tx.Head(ctx)
	if err != nil {
		return err
	}
	if err := tx.ResetProjection(ctx); err != nil {
		return err
	}
	// Records are read through the committed state (the reader), which
	// still has the old packs table while this transaction rebuilds it.
	err = Replay(ctx, st, head.JournalSize, tx, load, func(ev *journal.Event) error {
		if progress != nil && (ev.Index%4096 == 0 || ev.Index+1 == head.JournalSize) {
			progress(ev.Index+1, head.JournalSize)
		}
		return nil
	}, malformed)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	return tx.Commit()
}
