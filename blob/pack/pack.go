// Package pack implements the pack format: many small records stored as one
// content-addressed blob, each record still verified by its own SHA-256 when
// it is read (DESIGN.md §4, "Small records are packed").
//
// Glossary:
//   - record: an opaque byte string (a raw or normalized message record, a
//     few hundred bytes), identified by (journal index, ordinal): the journal
//     event that introduced it and its position in that event (0 = raw
//     record, 1 = normalized record, …).
//   - pack: the encoding of a set of records that share a retain-until day.
//     A pack is stored as one blob, so its blob id is the SHA-256 of the whole
//     encoding; a legal hold on one record holds its pack.
//   - entry: one line of a pack's index: a record's identity, where its bytes
//     are, and their SHA-256.
//
// # Format
//
// This block is the normative description; docs/FORMAT.md copies it.
//
//	pack format WXPACK01 (all integers big-endian, no padding, no alignment)
//
//	offset          size       field
//	0               8          magic: the ASCII bytes "WXPACK01"
//	8               4          count: number of records, uint32, at least 1
//	12              48×count   index: count entries, each
//	                             journal_index  uint64
//	                             ordinal        uint32
//	                             length         uint32   record length in bytes
//	                             sha256         [32]byte SHA-256 of the record bytes
//	12+48×count     Σ length   data: the record bytes concatenated in index order
//
//	Rules (a reader rejects a pack that breaks any of them):
//	  - entries are sorted strictly ascending by (journal_index, ordinal), so
//	    no record identity appears twice;
//	  - record i starts right after record i-1 (the first right after the
//	    index): offsets are implied, never stored;
//	  - the pack ends exactly where the last record ends: no trailing bytes.
//	A record whose bytes do not hash to its sha256 is damaged; the rest of the
//	pack stays readable and each damaged record is reported on its own.
//
// Why this shape: offsets are implied so that a pack has exactly one encoding
// for a given record list (Encode(Parse(b)) == b), which keeps the pack's blob
// id a pure function of its records; the index comes first so a reader can
// binary-search it without scanning data; per-record hashes let a single
// record be verified without hashing the whole pack.
package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// Format constants.
const (
	Magic      = "WXPACK01"
	HeaderSize = 12 // magic + count
	EntrySize  = 48 // journal_index + ordinal + length + sha256
)

// Errors. The typed errors below wrap them so errors.Is works.
var (
	ErrFormat         = errors.New("malformed pack")
	ErrRecordNotFound = errors.New("record not in pack")
	ErrOrder          = errors.New("records must be in strictly ascending (journal index, ordinal) order")
)

// Record is one record to pack.
type Record struct {
	JournalIndex uint64
	Ordinal      uint32
	Data         []byte
}

// Entry is one index entry of a parsed pack.
type Entry struct {
	JournalIndex uint64
	Ordinal      uint32
	Offset       int64  // of the record's first byte, from the start of the pack
	Length       uint32 // in bytes
	SHA256       archive.BlobID
}

// Pack is a parsed pack. Its methods are safe for concurrent use.
type Pack struct {
	b       []byte // the whole encoding, as given to Parse (not copied)
	entries []Entry
}

// FormatError reports a pack that breaks the format, at the byte offset where
// the fault was found.
type FormatError struct {
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("malformed pack at byte %d: %s", e.Offset, e.Reason)
}
func (e *FormatError) Unwrap() error { return ErrFormat }

// RecordIntegrityError reports a record whose bytes do not hash to the
// SHA-256 its index entry declares. It matches blob.ErrIntegrity, so callers
// need not care whether evidence came from a blob or from a pack.
type RecordIntegrityError struct {
	JournalIndex uint64
	Ordinal      uint32
	Want         archive.BlobID // from the index
	Got          archive.BlobID // hash of the bytes read
}

func (e *RecordIntegrityError) Error() string {
	return fmt.Sprintf("pack record (journal index %d, ordinal %d): content hashes to %s, index declares %s: record bytes were altered",
		e.JournalIndex, e.Ordinal, e.Got, e.Want)
}
func (e *RecordIntegrityError) Unwrap() error { return blob.ErrIntegrity }

// Encode returns the pack holding recs, in the order given. The order must
// already be strictly ascending by (JournalIndex, Ordinal): the caller builds
// packs from journal order, so an out-of-order list is a bug upstream that
// sorting here would hide.
func Encode(recs []Record) ([]byte, error) {
	if len(recs) == 0 {
		return nil, errors.New("pack: no records: a pack holds at least one")
	}
	if uint64(len(recs)) > math.MaxUint32 {
		return nil, fmt.Errorf("pack: %d records, at most %d fit in one pack", len(recs), uint32(math.MaxUint32))
	}
	size := uint64(HeaderSize) + uint64(len(recs))*EntrySize
	for i, r := range recs {
		if i > 0 && !less(recs[i-1].JournalIndex, recs[i-1].Ordinal, r.JournalIndex, r.Ordinal) {
			p := recs[i-1]
			return nil, fmt.Errorf("pack: record %d (journal index %d, ordinal %d) is not after record %d (journal index %d, ordinal %d): %w",
				i, r.JournalIndex, r.Ordinal, i-1, p.JournalIndex, p.Ordinal, ErrOrder)
		}
		if uint64(len(r.Data)) > math.MaxUint32 {
			return nil, fmt.Errorf("pack: record %d (journal index %d, ordinal %d) is %d bytes, more than a uint32 length allows",
				i, r.JournalIndex, r.Ordinal, len(r.Data))
		}
		size += uint64(len(r.Data))
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("pack: %d bytes do not fit in memory on this platform", size)
	}

	b := make([]byte, HeaderSize, int(size))
	copy(b, Magic)
	binary.BigEndian.PutUint32(b[8:], uint32(len(recs)))
	for _, r := range recs {
		b = binary.BigEndian.AppendUint64(b, r.JournalIndex)
		b = binary.BigEndian.AppendUint32(b, r.Ordinal)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Data)))
		h := archive.Hash(r.Data)
		b = append(b, h[:]...)
	}
	for _, r := range recs {
		b = append(b, r.Data...)
	}
	return b, nil
}

// Parse checks the structure of a pack and indexes it. It does not hash the
// records (Record and Verify do), so parsing a large pack to read one record
// stays cheap. Every fault is a *FormatError; Parse never panics, whatever b
// holds. The Pack keeps b, which must not be modified afterwards.
func Parse(b []byte) (*Pack, error) {
	if len(b) < HeaderSize {
		return nil, &FormatError{int64(len(b)), fmt.Sprintf("truncated header: %d bytes, a pack starts with %d", len(b), HeaderSize)}
	}
	if !bytes.Equal(b[:8], []byte(Magic)) {
		return nil, &FormatError{0, fmt.Sprintf("bad magic %q, want %q", b[:8], Magic)}
	}
	count := binary.BigEndian.Uint32(b[8:12])
	if count == 0 {
		return nil, &FormatError{8, "count is 0: a pack holds at least one record"}
	}
	// 64-bit arithmetic: count×48 overflows a 32-bit int long before it
	// exceeds what a uint64 holds.
	indexEnd := uint64(HeaderSize) + uint64(count)*EntrySize
	if indexEnd > uint64(len(b)) {
		return nil, &FormatError{8, fmt.Sprintf("count %d needs %d index bytes but only %d bytes follow the header",
			count, uint64(count)*EntrySize, len(b)-HeaderSize)}
	}

	// Bounded by len(b)/48 thanks to the check above, so a forged count
	// cannot make us allocate more than the input justifies.
	entries := make([]Entry, count)
	off := indexEnd
	for i := range entries {
		at := HeaderSize + i*EntrySize
		raw := b[at : at+EntrySize]
		e := Entry{
			JournalIndex: binary.BigEndian.Uint64(raw[0:8]),
			Ordinal:      binary.BigEndian.Uint32(raw[8:12]),
			Length:       binary.BigEndian.Uint32(raw[12:16]),
			Offset:       int64(off),
		}
		copy(e.SHA256[:], raw[16:48])
		if i > 0 {
			p := entries[i-1]
			if p.JournalIndex == e.JournalIndex && p.Ordinal == e.Ordinal {
				return nil, &FormatError{int64(at), fmt.Sprintf("duplicate entry: entry %d repeats (journal index %d, ordinal %d)",
					i, e.JournalIndex, e.Ordinal)}
			}
			if !less(p.JournalIndex, p.Ordinal, e.JournalIndex, e.Ordinal) {
				return nil, &FormatError{int64(at), fmt.Sprintf("unsorted index: entry %d (journal index %d, ordinal %d) is not after entry %d (journal index %d, ordinal %d)",
					i, e.JournalIndex, e.Ordinal, i-1, p.JournalIndex, p.Ordinal)}
			}
		}
		end := off + uint64(e.Length)
		if end > uint64(len(b)) {
			return nil, &FormatError{int64(at + 12), fmt.Sprintf("entry %d (journal index %d, ordinal %d): length %d ends at byte %d, beyond the end of the pack at byte %d",
				i, e.JournalIndex, e.Ordinal, e.Length, end, len(b))}
		}
		entries[i] = e
		off = end
	}
	if off != uint64(len(b)) {
		return nil, &FormatError{int64(off), fmt.Sprintf("%d trailing bytes after the last record", uint64(len(b))-off)}
	}
	return &Pack{b: b, entries: entries}, nil
}

// Len returns the number of records.
func (p *Pack) Len() int { return len(p.entries) }

// Entries returns the index, in pack order (ascending identity).
func (p *Pack) Entries() []Entry { return slices.Clone(p.entries) }

// Record returns a copy of the record's bytes after checking them against
// the index: a *RecordIntegrityError if they were altered, an error matching
// ErrRecordNotFound if the pack has no such record.
func (p *Pack) Record(journalIndex uint64, ordinal uint32) ([]byte, error) {
	i, ok := slices.BinarySearchFunc(p.entries, Entry{JournalIndex: journalIndex, Ordinal: ordinal}, compare)
	if !ok {
		return nil, fmt.Errorf("pack record (journal index %d, ordinal %d): %w", journalIndex, ordinal, ErrRecordNotFound)
	}
	e := &p.entries[i]
	data := p.data(e)
	if err := check(e, data); err != nil {
		return nil, err
	}
	return bytes.Clone(data), nil
}

// Verify hashes every record and returns one *RecordIntegrityError per
// damaged record, in pack order; nil when all are intact. It reports every
// fault, not the first, because a checker must list all damage.
func (p *Pack) Verify() []error {
	var errs []error
	for i := range p.entries {
		e := &p.entries[i]
		if err := check(e, p.data(e)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (p *Pack) data(e *Entry) []byte {
	// Parse proved Offset+Length <= len(p.b); the full slice expression keeps
	// a caller of this internal view from appending over the next record.
	end := e.Offset + int64(e.Length)
	return p.b[e.Offset:end:end]
}

func check(e *Entry, data []byte) error {
	if got := archive.Hash(data); got != e.SHA256 {
		return &RecordIntegrityError{JournalIndex: e.JournalIndex, Ordinal: e.Ordinal, Want: e.SHA256, Got: got}
	}
	return nil
}

func less(j1 uint64, o1 uint32, j2 uint64, o2 uint32) bool {
	return j1 < j2 || (j1 == j2 && o1 < o2)
}

func compare(a, b Entry) int {
	switch {
	case less(a.JournalIndex, a.Ordinal, b.JournalIndex, b.Ordinal):
		return -1
	case less(b.JournalIndex, b.Ordinal, a.JournalIndex, a.Ordinal):
		return 1
	}
	return 0
}
