package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

type sealReq struct {
	pack        archive.BlobID
	from, to    store.RecordKey
	first, last uint64
	count       int
	bytes       int64
	retainUntil archive.Time
}

func (e *Engine) commitSeal(c *commitState, s *sealReq) error {
	if err := c.tx.DeletePending(c.ctx, s.from, s.to, s.retainUntil, s.count); err != nil {
		return err
	}
	p := archive.SealEvent{Pack: s.pack, First: s.first, Last: s.last, Count: s.count, Bytes: s.bytes, RetainUntil: s.retainUntil}
	ev, err := journal.NewEvent(archive.EventRecordsSealed, "wxarchive:sealer", c.now, nil, &p)
	if err != nil {
		return err
	}
	if err := c.append(&ev); err != nil {
		return err
	}
	return c.tx.IndexPack(c.ctx, PackRow(&ev, &p))
}

// SealStats says what a seal wrote.
type SealStats struct {
	Packs    int
	Records  int
	Segments int
	Leaves   uint64
}

// Seal copies pending records into packs and journal leaves into segments
// in the blob store. Without force it only writes when enough has
// accumulated or the oldest unsealed item is older than half the seal delay,
// so packs stay large but nothing stays unsealed past the delay.
func (e *Engine) Seal(ctx context.Context, force bool) (SealStats, error) {
	var st SealStats
	err := e.sealInto(ctx, force, false, &st)
	return st, err
}

func (e *Engine) seal(ctx context.Context, force, closing bool) error {
	var st SealStats
	return e.sealInto(ctx, force, closing, &st)
}

func (e *Engine) sealInto(ctx context.Context, force, closing bool, st *SealStats) error {
	e.sealMu.Lock()
	defer e.sealMu.Unlock()
	now := e.cfg.Now()
	for {
		var recs []store.PendingRecord
		err := e.st.PendingRecords(ctx, store.RecordKey{}, e.cfg.PackTarget, func(r store.PendingRecord) error {
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read pending records: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		var total int64
		oldest := recs[0].CreatedAt.Time
		for _, r := range recs {
			total += int64(len(r.Data))
			if r.CreatedAt.Before(oldest) {
				oldest = r.CreatedAt.Time
			}
		}
		full := total >= e.cfg.PackTarget
		if !force && !full && now.Sub(oldest) < e.cfg.SealDelay/2 {
			break
		}
		if err := e.sealPacks(ctx, recs, closing, st); err != nil {
			return err
		}
		if !full {
			break
		}
	}
	return e.sealSegments(ctx, force, closing, st)
}

// sealPacks writes one pack per retain-until among recs (which are in key
// order) and commits each.
func (e *Engine) sealPacks(ctx context.Context, recs []store.PendingRecord, closing bool, st *SealStats) error {
	var order []archive.Time
	groups := map[archive.Time][]store.PendingRecord{}
	for _, r := range recs {
		if _, ok := groups[r.RetainUntil]; !ok {
			order = append(order, r.RetainUntil)
		}
		groups[r.RetainUntil] = append(groups[r.RetainUntil], r)
	}
	for _, ru := range order {
		g := groups[ru]
		prs := make([]pack.Record, len(g))
		var bytes int64
		for i, r := range g {
			if archive.Hash(r.Data) != r.Hash {
				// The database copy is the only copy until sealed: refuse to
				// seal damaged bytes as if they were evidence.
				return fmt.Errorf("pending record %d/%d does not match its hash %s", r.Key.JournalIndex, r.Key.Ordinal, r.Hash)
			}
			prs[i] = pack.Record{JournalIndex: r.Key.JournalIndex, Ordinal: r.Key.Ordinal, Data: r.Data}
			bytes += int64(len(r.Data))
		}
		b, err := pack.Encode(prs)
		if err != nil {
			return err
		}
		id, err := e.blobs.Put(ctx, b, blob.PutOptions{RetainUntil: ru.Time})
		if err != nil {
			return fmt.Errorf("store pack: %w", err)
		}
		req := &sealReq{pack: id, from: g[0].Key, to: g[len(g)-1].Key, first: g[0].Key.JournalIndex,
			last: g[len(g)-1].Key.JournalIndex, count: len(g), bytes: bytes, retainUntil: ru}
		r := &request{kind: reqSeal, seal: req, start: time.Now(), done: make(chan struct{})}
		if err := e.doInternal(ctx, r, closing); err != nil {
			return fmt.Errorf("commit pack %s: %w", id.Short(), err)
		}
		st.Packs++
		st.Records += len(g)
	}
	return nil
}

func (e *Engine) sealSegments(ctx context.Context, force, closing bool, st *SealStats) error {
	for {
		head, err := e.st.Head(ctx)
		if err != nil {
			return err
		}
		if head.SealedSize >= head.CheckpointSize {
			return nil
		}
		end := head.CheckpointSize
		if end-head.SealedSize > uint64(e.cfg.SegmentLeaves) {
			// Segments end at a checkpoint so each one is verifiable alone.
			end = 0
			err := e.st.Checkpoints(ctx, func(c store.CheckpointRow) error {
				if c.Size > head.SealedSize && c.Size <= head.SealedSize+uint64(e.cfg.SegmentLeaves) {
					end = c.Size
				}
				return nil
			})
			if err != nil {
				return err
			}
			if end == 0 { // one commit larger than a segment: take it whole
				end = head.CheckpointSize
				_ = e.st.Checkpoints(ctx, func(c store.CheckpointRow) error {
					if c.Size > head.SealedSize && end == head.CheckpointSize {
						end = c.Size
					}
					return nil
				})
			}
		}
		seg := &journal.Segment{First: head.SealedSize}
		var firstTime archive.Time
		err = e.st.Leaves(ctx, head.SealedSize, end, func(idx uint64, _, leaf []byte) error {
			if idx != head.SealedSize+uint64(len(seg.Leaves)) {
				return fmt.Errorf("journal leaf %d missing", head.SealedSize+uint64(len(seg.Leaves)))
			}
			seg.Leaves = append(seg.Leaves, leaf)
			return nil
		})
		if err != nil {
			return err
		}
		if uint64(len(seg.Leaves)) != end-head.SealedSize {
			return fmt.Errorf("journal has %d leaves in [%d,%d)", len(seg.Leaves), head.SealedSize, end)
		}
		if (!force || closing) && end == head.CheckpointSize && e.readsWait(head.SealedSize, seg.Leaves) {
			return nil
		}
		if !force && len(seg.Leaves) < e.cfg.SegmentLeaves {
			ev, err := journal.ParseLeaf(head.SealedSize, seg.Leaves[0])
			if err == nil {
				firstTime = ev.Time
			}
			if err == nil && e.cfg.Now().Sub(firstTime.Time) < e.cfg.SealDelay/2 {
				return nil
			}
		}
		err = e.st.Checkpoints(ctx, func(c store.CheckpointRow) error {
			if c.Size > head.SealedSize && c.Size <= end {
				seg.Checkpoints = append(seg.Checkpoints, c.Note)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The attachments these leaves reference get their retention
		// before the leaves are sealed, whatever became of the requests
		// that committed them (lock.go).
		if err := e.lockLeaves(ctx, seg.First, seg.Leaves); err != nil {
			return err
		}
		// Kept as long as its last event requires: from the later of now
		// and that event's time (a clock stepped back leaves leaf times
		// ahead of it), as verify derives it from the journal.
		keepFrom := e.cfg.Now()
		if ev, err := journal.DecodeLeaf(end-1, seg.Leaves[len(seg.Leaves)-1]); err == nil && ev.Time.After(keepFrom) {
			keepFrom = ev.Time.Time
		}
		id, err := e.blobs.Put(ctx, seg.Encode(), blob.PutOptions{RetainUntil: e.RetainUntil(keepFrom).Time})
		if err != nil {
			return fmt.Errorf("store journal segment: %w", err)
		}
		row := &store.SegmentRow{First: seg.First, End: end, Blob: id, SealedAt: archive.At(e.cfg.Now())}
		r := &request{kind: reqSegment, segment: row, start: time.Now(), done: make(chan struct{})}
		if err := e.doInternal(ctx, r, closing); err != nil {
			return fmt.Errorf("commit segment %d..%d: %w", seg.First, end, err)
		}
		st.Segments++
		st.Leaves += uint64(len(seg.Leaves))
	}
}

// readsWait reports whether the unsealed tail (leaves, from index first)
// holds only reads (archive.IsReadEvent) and its oldest is younger than half
// the read seal delay: then it waits in the database — committed with FULL sync and
// signed by its checkpoints, which witnesses receive — for the next
// segment, instead of a segment of its own. Every short command that
// reads journals its access, and sealing each at exit left one WORM
// segment per command, kept for years (issue 20). The periodic sealer
// and every clean exit apply it; an explicit forced Seal does not. Any
// other event in the tail (a record, a grant, a review decision) seals
// it all within the seal delay, as before.
func (e *Engine) readsWait(first uint64, leaves [][]byte) bool {
	if len(leaves) == 0 || len(leaves) >= e.cfg.SegmentLeaves {
		return false
	}
	var oldest archive.Time
	for i, l := range leaves {
		ev, err := journal.DecodeLeaf(first+uint64(i), l)
		if err != nil || !archive.IsReadEvent(ev.Type, ev.Payload) {
			return false
		}
		if i == 0 {
			oldest = ev.Time
		}
	}
	return e.cfg.Now().Sub(oldest.Time) < e.cfg.ReadSealDelay/2
}

// doInternal queues a request even while closing (sealing is part of Close).
func (e *Engine) doInternal(ctx context.Context, r *request, closing bool) error {
	if !closing {
		return e.do(ctx, r)
	}
	select {
	case e.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RunSealer seals in the background every interval until ctx ends.
func (e *Engine) RunSealer(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = e.cfg.SealDelay / 4
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := e.Seal(ctx, false); err != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
				e.cfg.Logger.Error("seal failed", "err", err)
			}
		}
	}
}
