package fsblob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// meta is a blob's mutable state; the zero value (no file) is no retention
// and no hold.
type meta struct {
	RetainUntil time.Time // zero when none; always whole milliseconds, UTC
	LegalHold   bool
}

// metaJSON is the file format. Field order is the documented member order.
type metaJSON struct {
	RetainUntil string `json:"retain_until,omitempty"`
	LegalHold   bool   `json:"legal_hold"`
}

func encodeMeta(m meta) []byte {
	j := metaJSON{LegalHold: m.LegalHold}
	if !m.RetainUntil.IsZero() {
		j.RetainUntil = fmtTime(m.RetainUntil)
	}
	b, err := json.Marshal(j)
	if err != nil {
		panic(err) // a struct of a string and a bool always marshals
	}
	return append(b, '\n')
}

// decodeMeta is strict about members: a member this version does not know
// might carry retention it would otherwise drop on the next rewrite, so it
// is an error, and retention fails closed.
func decodeMeta(b []byte) (meta, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j metaJSON
	if err := dec.Decode(&j); err != nil {
		return meta{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return meta{}, errors.New("data after the JSON object")
	}
	m := meta{LegalHold: j.LegalHold}
	if j.RetainUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, j.RetainUntil)
		if err != nil {
			return meta{}, fmt.Errorf("retain_until: %w", err)
		}
		m.RetainUntil = ceilMilli(t)
	}
	return m, nil
}

func (s *Store) readMeta(id archive.BlobID) (meta, error) {
	path := s.metaPath(id)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, err
	}
	m, err := decodeMeta(b)
	if err != nil {
		return meta{}, fmt.Errorf("unreadable meta file %s: %w", path, err)
	}
	return m, nil
}

// writeMeta replaces id's meta file atomically and durably. The caller holds
// the shard lock, so read-modify-write cycles cannot interleave.
func (s *Store) writeMeta(l *shardLock, id archive.BlobID, m meta) error {
	tmp, err := s.writeTemp(context.Background(), "meta-", encodeMeta(m))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, s.metaPath(id)); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncOpenDir(l.dir)
}

// mergeMeta applies Put's options, which may only add retention: a later
// retain-until, or a hold. A Put without a hold does not release one.
func (s *Store) mergeMeta(l *shardLock, id archive.BlobID, opts blob.PutOptions) error {
	if opts.RetainUntil.IsZero() && !opts.LegalHold {
		return nil // nothing to add: skip reading the meta file at all
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
	return s.writeMeta(l, id, n)
}

// ceilMilli rounds t up to a whole millisecond in UTC: meta files keep
// milliseconds, and rounding down would shorten the retention asked for.
func ceilMilli(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	r := t.Truncate(time.Millisecond)
	if r.Before(t) {
		r = r.Add(time.Millisecond)
	}
	return r.UTC()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(archive.TimeLayout)
}
