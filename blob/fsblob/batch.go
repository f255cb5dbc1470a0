package fsblob

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// PutBatch implements blob.BatchPutter. Put makes each new object durable
// with four fsyncs (its temp file, its meta file, the meta and object
// shard directories); a batch keeps Put's order — bytes durable before
// the meta, the meta durable before the object's name appears — with one
// file-system barrier per phase for all its objects:
//
//  1. every new object's bytes are written to a temp file;  barrier
//  2. every new object's meta file is written;              barrier
//  3. every temp file is linked under its object's name;    barrier
//
// A crash anywhere leaves only what a crash inside Put can: temp files
// (Open empties tmp/), metas without their object (a Put adds it), or
// whole, durable objects. Objects already stored are verified as Put
// verifies them.
func (s *Store) PutBatch(ctx context.Context, items []blob.BatchItem) ([]archive.BlobID, error) {
	ids := make([]archive.BlobID, len(items))
	if s.sync && !haveBarrier {
		// No file-system barrier here: one Put after another.
		for i, it := range items {
			id, err := s.Put(ctx, it.Data, it.Opts)
			if err != nil {
				return ids, err
			}
			ids[i] = id
		}
		return ids, nil
	}
	type pending struct {
		i   int
		tmp string
	}
	var news []pending
	defer func() {
		for _, p := range news {
			if p.tmp != "" {
				os.Remove(p.tmp)
			}
		}
	}()
	seen := map[archive.BlobID]bool{}
	for i, it := range items {
		ids[i] = archive.Hash(it.Data)
		if seen[ids[i]] {
			continue // the same bytes twice: the first copy stores both
		}
		seen[ids[i]] = true
		_, err := os.Lstat(s.objectPath(ids[i]))
		switch {
		case err == nil:
			// Stored already: Put verifies it and merges the retention.
			if err := s.put(ctx, ids[i], it.Data, it.Opts); err != nil {
				return ids, fail("put", ids[i], err)
			}
		case errors.Is(err, fs.ErrNotExist):
			tmp, err := s.writeTempNoSync(ctx, it.Data)
			if err != nil {
				return ids, fail("put", ids[i], err)
			}
			news = append(news, pending{i, tmp})
		default:
			return ids, fail("put", ids[i], err)
		}
	}
	if len(news) == 0 {
		return ids, nil
	}
	if err := s.barrier(); err != nil {
		return ids, err
	}
	for _, p := range news {
		if err := ctx.Err(); err != nil {
			return ids, err
		}
		id := ids[p.i]
		l, err := s.lock(id)
		if err != nil {
			return ids, fail("put", id, err)
		}
		err = s.mergeMetaNoSync(id, items[p.i].Opts)
		l.unlock()
		if err != nil {
			return ids, fail("put", id, err)
		}
	}
	if err := s.barrier(); err != nil {
		return ids, err
	}
	// Past this point an object may become visible: every link is made,
	// even if ctx is cancelled, so no Put of the batch fails after its
	// object appeared.
	for k, p := range news {
		id := ids[p.i]
		l, err := s.lock(id)
		if err != nil {
			return ids, fail("put", id, err)
		}
		err = s.link(p.tmp, s.objectPath(id), id)
		l.unlock()
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrExist):
			// A concurrent Put stored it meanwhile: verify that copy.
			if err := s.put(context.WithoutCancel(ctx), id, items[p.i].Data, items[p.i].Opts); err != nil {
				return ids, fail("put", id, err)
			}
		default:
			return ids, fail("put", id, err)
		}
		os.Remove(p.tmp)
		news[k].tmp = ""
	}
	return ids, s.barrier()
}

// writeTempNoSync is writeTemp without the fsync (a batch's barrier makes
// it durable).
func (s *Store) writeTempNoSync(ctx context.Context, data []byte) (string, error) {
	return s.writeTempFile(ctx, "put-", data, false)
}

// mergeMetaNoSync is mergeMeta whose write a batch's barrier makes
// durable. The caller holds the shard lock.
func (s *Store) mergeMetaNoSync(id archive.BlobID, opts blob.PutOptions) error {
	if opts.RetainUntil.IsZero() && !opts.LegalHold {
		return nil
	}
	m, err := s.readMeta(id)
	if err != nil {
		return err
	}
	n := m
	if until := ceilMilli(opts.RetainUntil); until.After(n.RetainUntil) {
		n.RetainUntil = until
	}
	n.LegalHold = n.LegalHold || opts.LegalHold
	if n.RetainUntil.Equal(m.RetainUntil) && n.LegalHold == m.LegalHold {
		return nil
	}
	tmp, err := s.writeTempFile(context.Background(), "meta-", encodeMeta(n), false)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, s.metaPath(id)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
