package ingest

import (
	"context"
	"fmt"

	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Replay applies journal events [0, size) to a projection. visit, if not
// nil, sees every parsed event first; a leaf that does not parse stops the
// replay with its *journal.LeafError.
func Replay(ctx context.Context, r store.Reader, size uint64, proj store.Projection, load RecordLoader, visit func(ev *journal.Event) error) error {
	return r.Leaves(ctx, 0, size, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			return err
		}
		if visit != nil {
			if err := visit(ev); err != nil {
				return err
			}
		}
		return Apply(ctx, proj, ev, load)
	})
}

// Reindex rebuilds the projection from the journal and the records in one
// transaction: readers see the old index until it commits. The caller must
// hold the archive exclusively.
func Reindex(ctx context.Context, st store.Store, load RecordLoader, progress func(done, total uint64)) error {
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
	})
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	return tx.Commit()
}
