package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
)

// Attachment retention: stage, then lock on commit.
//
// Attachments are stored before their message commits (the message must
// name their hashes), and an ingest can fail after that: the blob store
// full, the writer closing, the client gone. Were they stored with their
// six-year retention, every failed ingest would leave blobs nothing
// references and nobody may delete until then. So ResolveMedia stores them
// staged — no retention — and the engine gives them the message's
// retain-until once the event that references them is durable:
//
//  1. Future.Wait, before it reports success, locks the attachments of the
//     request's archived and conflicting messages (and, for a duplicate,
//     those of the stored version it duplicates). A message is
//     acknowledged only after Wait succeeded, so nothing acknowledged is
//     ever unlocked; if locking fails, Wait fails and the caller does not
//     acknowledge (a retry is a duplicate, whose Wait locks again).
//  2. The sealer locks the attachments every journal leaf references
//     (message.archived, message.conflict, attachment.fetched) before it
//     seals the leaf into a segment: a commit whose Wait never ran (a
//     crash, a caller gone) is locked within the seal delay, and on the
//     first seal after a restart.
//
// Retention only grows (blob contract; S3 Object Lock allows the same), so
// locking is idempotent and never shortens what a hold or a longer
// retention set. docs/FORMAT.md §2 ("Attachment retention") is the spec.

// lockedCacheSize bounds the engine's memory of blobs it has locked, which
// spares the blob store a round trip per replayed or re-sealed attachment.
const lockedCacheSize = 1 << 16

// lockBlob makes id retained at least until until.
func (e *Engine) lockBlob(ctx context.Context, id archive.BlobID, until time.Time) error {
	e.lockedMu.Lock()
	done := !e.locked[id].Before(until)
	e.lockedMu.Unlock()
	if done {
		return nil
	}
	err := e.blobs.SetRetention(ctx, id, until)
	if errors.Is(err, blob.ErrRetentionShortened) {
		err = nil // already retained longer (a later message, a retention change)
	}
	if err != nil {
		return err
	}
	e.lockedMu.Lock()
	if len(e.locked) >= lockedCacheSize {
		clear(e.locked)
	}
	if until.After(e.locked[id]) {
		e.locked[id] = until
	}
	e.lockedMu.Unlock()
	return nil
}

// lockRequest locks the attachments of a committed request's messages:
// archived and conflicting ones with their own retain-until; for a
// duplicate that has attachments, those of the stored version it
// duplicates, with that version's retain-until. Rejected items stored no
// blob the journal references.
func (e *Engine) lockRequest(ctx context.Context, r *request) error {
	targets := map[archive.BlobID]time.Time{}
	add := func(id archive.BlobID, until time.Time) {
		if !id.IsZero() && until.After(targets[id]) {
			targets[id] = until
		}
	}
	for i, res := range r.results {
		m := r.items[i].Message
		if m == nil || r.items[i].Reject != nil {
			continue
		}
		switch res.Outcome {
		case Archived, Conflict:
			for _, a := range m.Attachments {
				add(a.Blob, r.untils[i].Time)
			}
		case Duplicate:
			staged := false
			for _, a := range m.Attachments {
				staged = staged || !a.Blob.IsZero()
			}
			if !staged {
				continue
			}
			row, err := e.st.Message(ctx, res.Serial)
			if err != nil {
				return fmt.Errorf("message %d duplicated by %s: %w", res.Serial, m.SourceID, err)
			}
			atts, err := e.st.Attachments(ctx, res.Serial)
			if err != nil {
				return fmt.Errorf("attachments of message %d: %w", res.Serial, err)
			}
			for _, a := range atts {
				add(a.Blob, row.RetainUntil.Time)
			}
		}
	}
	return e.lockAll(ctx, targets)
}

// lockWorkers is how many blobs a request locks at once: each lock is a
// round trip to the blob store (a metadata write for fsblob, a PUT for
// S3), independent of the others.
const lockWorkers = 8

func (e *Engine) lockAll(ctx context.Context, targets map[archive.BlobID]time.Time) error {
	type target struct {
		id    archive.BlobID
		until time.Time
	}
	work := make(chan target)
	errs := make(chan error, len(targets))
	var wg sync.WaitGroup
	for range min(lockWorkers, len(targets)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := e.lockBlob(ctx, t.id, t.until); err != nil {
					errs <- fmt.Errorf("lock attachment %s: %w", t.id.Short(), err)
				}
			}
		}()
	}
	for id, until := range targets {
		work <- target{id, until}
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // the first, if any (nil when none)
}

// lockLeaves locks the attachments that journal leaves first..first+n-1
// reference (the sealer's step 2 above). A leaf that does not parse is
// verify's to report, not a reason to stop sealing.
func (e *Engine) lockLeaves(ctx context.Context, first uint64, leaves [][]byte) error {
	for i, leaf := range leaves {
		if !bytes.Contains(leaf, []byte(`"attachments":[`)) && !bytes.Contains(leaf, []byte(archive.EventAttachmentFetched)) {
			continue // the common case: nothing to parse
		}
		idx := first + uint64(i)
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			continue
		}
		switch ev.Type {
		case archive.EventMessageArchived, archive.EventMessageConflict:
			var p archive.MessageEvent
			if json.Unmarshal(ev.Payload, &p) != nil {
				continue
			}
			for _, a := range p.Attachments {
				if a.Blob.IsZero() {
					continue
				}
				if err := e.lockBlob(ctx, a.Blob, p.RetainUntil.Time); err != nil {
					return fmt.Errorf("lock attachment %s of journal leaf %d: %w", a.Blob.Short(), idx, err)
				}
			}
		case archive.EventAttachmentFetched:
			var p archive.AttachmentFetchedEvent
			if json.Unmarshal(ev.Payload, &p) != nil || p.Blob.IsZero() {
				continue
			}
			row, err := e.st.Message(ctx, p.Serial)
			if err != nil {
				return fmt.Errorf("message %d of journal leaf %d: %w", p.Serial, idx, err)
			}
			if err := e.lockBlob(ctx, p.Blob, row.RetainUntil.Time); err != nil {
				return fmt.Errorf("lock attachment %s of journal leaf %d: %w", p.Blob.Short(), idx, err)
			}
		}
	}
	return nil
}
