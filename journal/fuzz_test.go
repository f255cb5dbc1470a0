package journal

import (
	"bytes"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

func FuzzParseLeaf(f *testing.F) {
	f.Add(uint64(7), []byte(`{"index":7,"time":"2026-11-27T05:00:00.000Z","type":"a.b","actor":"x","payload":{}}`))
	f.Add(uint64(0), []byte(`{"index":0,"time":"2026-11-27T05:00:00.000Z","type":"message.archived","actor":"cli:root","subject":["serial:1"],"payload":{"a":"保本"}}`))
	f.Add(uint64(1), []byte(`{"index":1}`))
	f.Add(uint64(1), []byte(`null`))
	f.Add(uint64(7), []byte(`{"index": 7,"time":"2026-11-27T05:00:00.000Z","type":"a.b","actor":"x","extra":1,"payload":{}}`))
	f.Fuzz(func(t *testing.T, index uint64, leaf []byte) {
		// DecodeLeaf (the lenient reader) never panics either, and
		// agrees with ParseLeaf on every leaf ParseLeaf accepts.
		lenient, lerr := DecodeLeaf(index, leaf)
		if (lenient == nil) == (lerr == nil) {
			t.Fatalf("DecodeLeaf returned %v with error %v", lenient, lerr)
		}
		ev, err := ParseLeaf(index, leaf)
		if err != nil {
			if ev != nil {
				t.Fatal("event returned with error")
			}
			return
		}
		if lerr != nil {
			t.Fatalf("DecodeLeaf refuses a leaf ParseLeaf accepts: %v", lerr)
		}
		if l, _ := lenient.Marshal(); !bytes.Equal(l, leaf) {
			t.Fatalf("DecodeLeaf decodes %q as %q", leaf, l)
		}
		again, err := ev.Marshal()
		if err != nil || !bytes.Equal(again, leaf) {
			t.Fatalf("accepted leaf does not re-encode to itself: %q vs %q (%v)", leaf, again, err)
		}
		// A canonical leaf's type is what PeekType reads (unless escaped).
		if typ, ok := PeekType(leaf); ok && typ != ev.Type || !ok && !bytes.Contains(leaf, []byte(`\\`)) {
			t.Fatalf("PeekType(%q) = %q, %v; the leaf's type is %q", leaf, typ, ok, ev.Type)
		}
	})
}

func FuzzParseSegment(f *testing.F) {
	f.Add((&Segment{First: 3, Leaves: [][]byte{[]byte("a"), []byte("bc")}, Checkpoints: [][]byte{[]byte("cp")}}).Encode())
	f.Add((&Segment{}).Encode())
	f.Add([]byte("WXSEG001"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSegment(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatal("accepted segment does not re-encode to itself")
		}
	})
}

// FuzzOpenCheckpoint: checkpoint notes come from the database and from
// sealed segments, both of which an attacker may have touched. Open never
// panics, and accepts only notes signed by the archive's key.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := GenerateKey("wxarchive-fuzz")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := NewSigner("wxarchive.local/fuzz", skey)
	v, _ := NewVerifier("wxarchive.local/fuzz", vkey)
	good, _ := s.Sign(5, LeafHash([]byte("r")), archive.MillisTime(1700000000000))
	f.Add(good)
	f.Add([]byte("wxarchive.local/fuzz\n5\nAAAA\n\n— wxarchive-fuzz AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := v.Open(b)
		if err != nil {
			return
		}
		if !bytes.Equal(b, good) && cp.Size == 5 && bytes.Equal(cp.Root, LeafHash([]byte("r"))) && cp.Time.Millis() == 1700000000000 {
			return // the same statement re-encoded (e.g. signature lines reordered) is still the signed statement
		}
		if !bytes.Equal(b, good) {
			t.Fatalf("a note the archive did not sign verified: %q", b)
		}
	})
}

// FuzzPeekCheckpoint: notes read without a key (restoring from a
// replica) never panic, and a note Open accepts reads the same through
// PeekCheckpoint.
func FuzzPeekCheckpoint(f *testing.F) {
	skey, vkey, err := GenerateKey("wxarchive-fuzz")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := NewSigner("wxarchive.local/fuzz", skey)
	v, _ := NewVerifier("wxarchive.local/fuzz", vkey)
	good, _ := s.Sign(5, LeafHash([]byte("r")), archive.MillisTime(1700000000000))
	f.Add(good)
	f.Add([]byte("o\n5\nAAAA\n\n— k AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, perr := PeekCheckpoint(b)
		cp, err := v.Open(b)
		if err != nil {
			return
		}
		if perr != nil || pk.Size != cp.Size || !bytes.Equal(pk.Root, cp.Root) || pk.Time != cp.Time {
			t.Fatalf("Open read %+v, PeekCheckpoint %+v (%v)", cp, pk, perr)
		}
	})
}

// FuzzOpenStatement: a key.rotated event's note comes from the journal
// (a leaf an attacker may have written). OpenStatement never panics, and
// returns text only for a note the verifier's key signed.
func FuzzOpenStatement(f *testing.F) {
	skey, vkey, err := GenerateKey("wxarchive-fuzz")
	if err != nil {
		f.Fatal(err)
	}
	_, vnext, _ := GenerateKey("wxarchive-fuzz")
	s, _ := NewSigner("wxarchive.local/fuzz", skey)
	v, _ := NewVerifier("wxarchive.local/fuzz", vkey)
	text := RotationStatement("wxarchive.local/fuzz", vkey, vnext)
	good, err := s.SignStatement(text)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("wxarchive key rotation\nwxarchive.local/fuzz\na\nb\n\n— wxarchive-fuzz AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := v.OpenStatement(b)
		if err != nil {
			if got != "" {
				t.Fatal("text returned with an error")
			}
			return
		}
		if got != text {
			t.Fatalf("a statement the key did not sign opened: %q", got)
		}
	})
}
