package pack

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// -update rewrites testdata/*.hex from the code. Use it only when the format
// version changes (and then the magic changes too); otherwise a failing
// golden test means the encoding drifted, which would change every pack's
// blob id.
var update = flag.Bool("update", false, "rewrite testdata/*.hex golden vectors")

// goldenRecords is the content of testdata/golden-3records.hex: a raw and a
// normalized record of one event, and the raw record of the next, with
// non-ASCII bytes so that nothing in the format is text-dependent.
var goldenRecords = []Record{
	{JournalIndex: 1, Ordinal: 0, Data: []byte(`{"msgid":"m1","msgtype":"text","text":{"content":"hi"}}`)},
	{JournalIndex: 1, Ordinal: 1, Data: []byte(`{"serial":1,"kind":"text","text":"hi"}`)},
	{JournalIndex: 2, Ordinal: 0, Data: []byte("你好")},
}

// readHex reads a testdata vector: hex digits, whitespace ignored, so
// vectors can be laid out one field per line for people to read.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(s)), ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// formatHex lays a pack out as header, one line per index entry, one line
// per record (for a pack whose structure is valid enough to split), and
// falls back to 64 hex digits per line.
func formatHex(b []byte) string {
	var sb strings.Builder
	line := func(p []byte) { sb.WriteString(hex.EncodeToString(p)); sb.WriteByte('\n') }
	if p, err := Parse(b); err == nil {
		line(b[:HeaderSize])
		for i := range p.entries {
			line(b[HeaderSize+i*EntrySize : HeaderSize+(i+1)*EntrySize])
		}
		for i := range p.entries {
			if d := p.data(&p.entries[i]); len(d) > 0 {
				line(d)
			}
		}
		return sb.String()
	}
	for len(b) > 32 {
		line(b[:32])
		b = b[32:]
	}
	line(b)
	return sb.String()
}

func checkVector(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", name), []byte(formatHex(got)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readHex(t, name); !bytes.Equal(got, want) {
		t.Fatalf("%s drifted:\n got %x\nwant %x", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	b, err := Encode(goldenRecords)
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, "golden-3records.hex", b)

	// Spot-check the layout by hand, independently of Encode, so that the
	// golden file and the code cannot drift together unnoticed.
	if got, want := string(b[:12]), "WXPACK01\x00\x00\x00\x03"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	e1 := b[HeaderSize+EntrySize : HeaderSize+2*EntrySize]
	if j, o, n := binary.BigEndian.Uint64(e1), binary.BigEndian.Uint32(e1[8:]), binary.BigEndian.Uint32(e1[12:]); j != 1 || o != 1 || n != uint32(len(goldenRecords[1].Data)) {
		t.Errorf("entry 1 = (%d, %d, len %d)", j, o, n)
	}
	if h := archive.Hash(goldenRecords[1].Data); !bytes.Equal(e1[16:], h[:]) {
		t.Errorf("entry 1 hash = %x, want %x", e1[16:], h)
	}
	if tail := b[len(b)-len("你好"):]; string(tail) != "你好" {
		t.Errorf("pack does not end with the last record: %q", tail)
	}

	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Verify(); errs != nil {
		t.Fatalf("Verify: %v", errs)
	}
	off := int64(HeaderSize + 3*EntrySize)
	for i, e := range p.Entries() {
		r := goldenRecords[i]
		want := Entry{JournalIndex: r.JournalIndex, Ordinal: r.Ordinal, Offset: off, Length: uint32(len(r.Data)), SHA256: archive.Hash(r.Data)}
		if e != want {
			t.Errorf("entry %d = %+v, want %+v", i, e, want)
		}
		off += int64(len(r.Data))
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 17, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			recs := make([]Record, n)
			j := uint64(rng.Uint32())
			for i := range recs {
				ord := uint32(i % 3)
				if ord == 0 {
					j += 1 + uint64(rng.IntN(3))
				}
				data := make([]byte, rng.IntN(600)) // zero-length records are legal
				for k := range data {
					data[k] = byte(rng.Uint32())
				}
				recs[i] = Record{JournalIndex: j, Ordinal: ord, Data: data}
			}
			if n == 3 { // identities at the extremes of both fields
				recs[0].JournalIndex, recs[0].Ordinal = 0, 0
				recs[2].JournalIndex, recs[2].Ordinal = ^uint64(0), ^uint32(0)
			}
			b, err := Encode(recs)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if p.Len() != n {
				t.Fatalf("Len = %d, want %d", p.Len(), n)
			}
			for _, r := range recs {
				got, err := p.Record(r.JournalIndex, r.Ordinal)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, r.Data) {
					t.Fatalf("record (%d,%d) differs", r.JournalIndex, r.Ordinal)
				}
				// The copy is the caller's: scribbling on it must not
				// damage the pack.
				if len(got) > 0 {
					got[0] ^= 0xff
					if _, err := p.Record(r.JournalIndex, r.Ordinal); err != nil {
						t.Fatalf("pack changed through a returned record: %v", err)
					}
				}
			}
			// Absent identities: before the first, between two, after the last.
			for _, k := range [][2]uint64{{0, 7}, {recs[0].JournalIndex, 9}, {^uint64(0) - 1, 0}} {
				_, err := p.Record(k[0], uint32(k[1]))
				if !errors.Is(err, ErrRecordNotFound) {
					t.Fatalf("Record(%d, %d) = %v, want ErrRecordNotFound", k[0], k[1], err)
				}
			}
			if errs := p.Verify(); errs != nil {
				t.Fatalf("Verify: %v", errs)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	a := Record{JournalIndex: 5, Ordinal: 0, Data: []byte("a")}
	b := Record{JournalIndex: 5, Ordinal: 1, Data: []byte("b")}
	c := Record{JournalIndex: 6, Ordinal: 0, Data: []byte("c")}
	for _, tc := range []struct {
		name string
		recs []Record
		want string // in the error message: the offending position
	}{
		{"no-records", nil, "no records"},
		{"unsorted-ordinal", []Record{b, a}, "record 1 (journal index 5, ordinal 0)"},
		{"unsorted-journal-index", []Record{a, c, b}, "record 2 (journal index 5, ordinal 1)"},
		{"duplicate", []Record{a, b, b}, "record 2 (journal index 5, ordinal 1) is not after record 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.recs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if tc.name != "no-records" && !errors.Is(err, ErrOrder) {
				t.Fatalf("err = %v, want ErrOrder", err)
			}
		})
	}
}

// corruptions are golden vectors for the reader, each named after the fault
// it injects into the 3-record golden pack, and checked in as
// testdata/<name>.hex so another implementation can run them too.
var corruptions = []struct {
	name   string
	mutate func(b []byte) []byte
	offset int64  // expected FormatError.Offset
	reason string // expected in FormatError.Reason
}{
	{"truncated-header", func(b []byte) []byte { return b[:10] }, 10, "truncated header"},
	{"bad-magic", func(b []byte) []byte { b[7] = '2'; return b }, 0, "bad magic"},
	{"zero-count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0); return b }, 8, "count is 0"},
	{"count-too-large-for-size", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1000); return b }, 8, "count 1000 needs 48000 index bytes"},
	{"count-max-uint32", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }, 8, "count 4294967295 needs"},
	{"truncated-index", func(b []byte) []byte { return b[:HeaderSize+2*EntrySize+10] }, 8, "count 3 needs 144 index bytes but only 106"},
	{"unsorted-index", func(b []byte) []byte {
		e0 := bytes.Clone(b[HeaderSize : HeaderSize+EntrySize])
		copy(b[HeaderSize:], b[HeaderSize+EntrySize:HeaderSize+2*EntrySize])
		copy(b[HeaderSize+EntrySize:], e0)
		return b
	}, HeaderSize + EntrySize, "unsorted index: entry 1 (journal index 1, ordinal 0) is not after entry 0 (journal index 1, ordinal 1)"},
	{"unsorted-journal-index", func(b []byte) []byte {
		binary.BigEndian.PutUint64(b[HeaderSize+2*EntrySize:], 0)
		return b
	}, HeaderSize + 2*EntrySize, "unsorted index: entry 2 (journal index 0, ordinal 0)"},
	{"duplicate-entry", func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[HeaderSize+EntrySize+8:], 0) // entry 1 becomes (1, 0) like entry 0
		return b
	}, HeaderSize + EntrySize, "duplicate entry: entry 1 repeats (journal index 1, ordinal 0)"},
	{"length-overflow", func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[HeaderSize+12:], 0xffffffff)
		return b
	}, HeaderSize + 12, "entry 0 (journal index 1, ordinal 0): length 4294967295 ends at byte"},
	{"length-sum-overflow", func(b []byte) []byte {
		// Each length fits the data on its own; only their sum overflows.
		for i := range 3 {
			binary.BigEndian.PutUint32(b[HeaderSize+i*EntrySize+12:], 0x80000000)
		}
		return b
	}, HeaderSize + 12, "length 2147483648 ends at byte"},
	{"length-too-short", func(b []byte) []byte {
		at := HeaderSize + 2*EntrySize + 12
		binary.BigEndian.PutUint32(b[at:], binary.BigEndian.Uint32(b[at:])-1)
		return b
	}, -1, "1 trailing bytes after the last record"},
	{"trailing-byte", func(b []byte) []byte { return append(b, 0) }, -2, "1 trailing bytes"},
	{"truncated-data", func(b []byte) []byte { return b[:len(b)-1] }, HeaderSize + 2*EntrySize + 12, "entry 2 (journal index 2, ordinal 0): length 6 ends at byte"},
}

func TestParseCorrupt(t *testing.T) {
	golden, err := Encode(goldenRecords)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(bytes.Clone(golden))
			checkVector(t, tc.name+".hex", b)
			want := tc.offset
			switch want {
			case -1: // the last byte of the original
				want = int64(len(golden) - 1)
			case -2: // the end of the original
				want = int64(len(golden))
			}
			p, err := Parse(b)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, %v; want *FormatError", p, err)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("%v does not match ErrFormat", err)
			}
			if fe.Offset != want || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("FormatError = byte %d %q; want byte %d and %q", fe.Offset, fe.Reason, want, tc.reason)
			}
		})
	}
}

// Damage inside records is not a format fault: the pack parses, the damaged
// record fails on read, the others still read, and Verify lists every
// damaged record.
func TestRecordIntegrity(t *testing.T) {
	golden, err := Encode(goldenRecords)
	if err != nil {
		t.Fatal(err)
	}
	dataStart := HeaderSize + 3*EntrySize
	for _, tc := range []struct {
		name    string
		mutate  func(b []byte)
		damaged []int // record indexes
	}{
		{"flipped-data-byte", func(b []byte) { b[dataStart+len(goldenRecords[0].Data)] ^= 0x01 }, []int{1}},
		{"flipped-last-data-byte", func(b []byte) { b[len(b)-1] ^= 0x80 }, []int{2}},
		{"flipped-index-hash", func(b []byte) { b[HeaderSize+16] ^= 0x01 }, []int{0}},
		{"flipped-two-records", func(b []byte) { b[dataStart] ^= 0x01; b[len(b)-1] ^= 0x01 }, []int{0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(golden)
			tc.mutate(b)
			checkVector(t, tc.name+".hex", b)
			p, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			errs := p.Verify()
			if len(errs) != len(tc.damaged) {
				t.Fatalf("Verify = %v, want %d faults", errs, len(tc.damaged))
			}
			for k, i := range tc.damaged {
				r := goldenRecords[i]
				var ie *RecordIntegrityError
				if !errors.As(errs[k], &ie) || ie.JournalIndex != r.JournalIndex || ie.Ordinal != r.Ordinal {
					t.Errorf("Verify fault %d = %v, want record (%d,%d)", k, errs[k], r.JournalIndex, r.Ordinal)
				}
				if ie != nil && ie.Want == ie.Got {
					t.Errorf("Want == Got in %v", ie)
				}
				_, err := p.Record(r.JournalIndex, r.Ordinal)
				if !errors.As(err, &ie) || ie.JournalIndex != r.JournalIndex || ie.Ordinal != r.Ordinal {
					t.Errorf("Record(%d,%d) = %v, want *RecordIntegrityError", r.JournalIndex, r.Ordinal, err)
				}
				if !errors.Is(err, blob.ErrIntegrity) {
					t.Errorf("%v does not match blob.ErrIntegrity", err)
				}
			}
			for i, r := range goldenRecords {
				if contains(tc.damaged, i) {
					continue
				}
				if got, err := p.Record(r.JournalIndex, r.Ordinal); err != nil || !bytes.Equal(got, r.Data) {
					t.Errorf("intact record %d: %q, %v", i, got, err)
				}
			}
		})
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// FuzzParse: Parse never panics; a failure is a *FormatError pointing inside
// the input; a success is the one canonical encoding of its records, so
// re-encoding reproduces the input exactly, except for index hashes that
// Verify reports as wrong (Encode recomputes those).
func FuzzParse(f *testing.F) {
	golden, err := Encode(goldenRecords)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, tc := range corruptions {
		f.Add(tc.mutate(bytes.Clone(golden)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		p, err := Parse(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error %T %v, want *FormatError", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(b)) {
				t.Fatalf("FormatError offset %d outside input of %d bytes", fe.Offset, len(b))
			}
			return
		}
		want := bytes.Clone(b)
		recs := make([]Record, p.Len())
		bad := 0
		for i := range p.entries {
			e := &p.entries[i]
			d := p.data(e)
			recs[i] = Record{JournalIndex: e.JournalIndex, Ordinal: e.Ordinal, Data: d}
			h := archive.Hash(d)
			copy(want[HeaderSize+i*EntrySize+16:], h[:])
			_, rerr := p.Record(e.JournalIndex, e.Ordinal)
			if h != e.SHA256 {
				bad++
				var ie *RecordIntegrityError
				if !errors.As(rerr, &ie) {
					t.Fatalf("Record(%d,%d) on damaged record: %v", e.JournalIndex, e.Ordinal, rerr)
				}
			} else if rerr != nil {
				t.Fatalf("Record(%d,%d) on intact record: %v", e.JournalIndex, e.Ordinal, rerr)
			}
		}
		if n := len(p.Verify()); n != bad {
			t.Fatalf("Verify reported %d faults, want %d", n, bad)
		}
		got, err := Encode(recs)
		if err != nil {
			t.Fatalf("Encode of parsed records: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", got, want)
		}
		if !bytes.Equal(b, in) {
			t.Fatal("Parse or a read modified its input")
		}
	})
}
