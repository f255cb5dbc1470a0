package journal

import (
	"bytes"
	"testing"
)

func FuzzParseLeaf(f *testing.F) {
	f.Add(uint64(7), []byte(`{"index":7,"time":"2026-11-27T05:00:00.000Z","type":"a.b","actor":"x","payload":{}}`))
	f.Add(uint64(0), []byte(`{"index":0,"time":"2026-11-27T05:00:00.000Z","type":"message.archived","actor":"cli:root","subject":["serial:1"],"payload":{"a":"保本"}}`))
	f.Add(uint64(1), []byte(`{"index":1}`))
	f.Add(uint64(1), []byte(`null`))
	f.Fuzz(func(t *testing.T, index uint64, leaf []byte) {
		ev, err := ParseLeaf(index, leaf)
		if err != nil {
			if ev != nil {
				t.Fatal("event returned with error")
			}
			return
		}
		again, err := ev.Marshal()
		if err != nil || !bytes.Equal(again, leaf) {
			t.Fatalf("accepted leaf does not re-encode to itself: %q vs %q (%v)", leaf, again, err)
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
