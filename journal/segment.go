package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Segment is a sealed, contiguous run of journal leaves and the signed
// checkpoints whose sizes fall within (First, First+len(Leaves)]. It is the
// WORM copy of the journal: an archive's history can be re-verified from its
// segments alone, without the database.
//
// Encoding (big-endian):
//
//	magic   8 bytes "WXSEG001"
//	first   uint64  index of the first leaf
//	count   uint32  number of leaves
//	leaves  count × { length uint32, bytes }
//	ncp     uint32  number of checkpoints
//	cps     ncp × { length uint32, signed note bytes }
type Segment struct {
	First       uint64
	Leaves      [][]byte
	Checkpoints [][]byte
}

const segmentMagic = "WXSEG001"

// MaxSegmentLeaves bounds a segment so that a reader never trusts a count
// to allocate memory.
const MaxSegmentLeaves = 1 << 22

// ErrMalformedSegment is wrapped by every ParseSegment error.
var ErrMalformedSegment = errors.New("malformed journal segment")

// SegmentError names the byte offset of a problem.
type SegmentError struct {
	Offset int
	Reason string
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("journal segment at byte %d: %s", e.Offset, e.Reason)
}
func (e *SegmentError) Unwrap() error { return ErrMalformedSegment }

// End is the index one past the last leaf.
func (s *Segment) End() uint64 { return s.First + uint64(len(s.Leaves)) }

// Encode returns the segment bytes.
func (s *Segment) Encode() []byte {
	n := len(segmentMagic) + 8 + 4 + 4
	for _, l := range s.Leaves {
		n += 4 + len(l)
	}
	for _, c := range s.Checkpoints {
		n += 4 + len(c)
	}
	b := make([]byte, 0, n)
	b = append(b, segmentMagic...)
	b = binary.BigEndian.AppendUint64(b, s.First)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Leaves)))
	for _, l := range s.Leaves {
		b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
		b = append(b, l...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Checkpoints)))
	for _, c := range s.Checkpoints {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

// ParseSegment decodes a segment. It never panics and never allocates more
// than the input's size; every problem is a *SegmentError.
func ParseSegment(b []byte) (*Segment, error) {
	off := 0
	fail := func(reason string, a ...any) (*Segment, error) {
		return nil, &SegmentError{Offset: off, Reason: fmt.Sprintf(reason, a...)}
	}
	if len(b) < len(segmentMagic)+12 || string(b[:len(segmentMagic)]) != segmentMagic {
		return fail("missing %q header", segmentMagic)
	}
	off = len(segmentMagic)
	s := &Segment{First: binary.BigEndian.Uint64(b[off:])}
	off += 8
	count := binary.BigEndian.Uint32(b[off:])
	off += 4
	if count > MaxSegmentLeaves || int(count)*4 > len(b)-off {
		return fail("leaf count %d does not fit in %d bytes", count, len(b))
	}
	if s.First+uint64(count) < s.First {
		return fail("first %d + count %d overflows", s.First, count)
	}
	readChunks := func(n uint32, what string) ([][]byte, error) {
		out := make([][]byte, 0, n)
		for i := uint32(0); i < n; i++ {
			if len(b)-off < 4 {
				return nil, &SegmentError{Offset: off, Reason: fmt.Sprintf("%s %d: truncated length", what, i)}
			}
			l := int(binary.BigEndian.Uint32(b[off:]))
			off += 4
			if l > len(b)-off {
				return nil, &SegmentError{Offset: off, Reason: fmt.Sprintf("%s %d: length %d exceeds the %d remaining bytes", what, i, l, len(b)-off)}
			}
			out = append(out, b[off:off+l:off+l])
			off += l
		}
		return out, nil
	}
	var err error
	if s.Leaves, err = readChunks(count, "leaf"); err != nil {
		return nil, err
	}
	if len(b)-off < 4 {
		return fail("truncated checkpoint count")
	}
	ncp := binary.BigEndian.Uint32(b[off:])
	off += 4
	if int64(ncp)*4 > int64(len(b)-off) {
		return fail("checkpoint count %d does not fit", ncp)
	}
	if s.Checkpoints, err = readChunks(ncp, "checkpoint"); err != nil {
		return nil, err
	}
	if off != len(b) {
		return fail("%d trailing bytes", len(b)-off)
	}
	return s, nil
}
