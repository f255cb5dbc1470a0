package fsblob

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeMeta: the meta file parser never panics, and whatever it
// accepts re-encodes to something it decodes to the same state (so a
// rewrite never changes retention or hold).
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte("{\"retain_until\":\"2032-01-01T00:00:00.000Z\",\"legal_hold\":false}\n"))
	f.Add([]byte("{\"legal_hold\":true}\n"))
	f.Add([]byte("{\"retain_until\":\"2032-01-01T00:00:00.0001+08:00\",\"legal_hold\":true}"))
	f.Add([]byte("{\"legal_hold\":true,\"x\":1}"))
	f.Add([]byte("{} {}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		again, err := decodeMeta(encodeMeta(m))
		if err != nil {
			t.Fatalf("re-encoded meta does not decode: %v", err)
		}
		if !again.RetainUntil.Equal(m.RetainUntil) || again.LegalHold != m.LegalHold {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
		if !m.RetainUntil.IsZero() && m.RetainUntil.Truncate(time.Millisecond) != m.RetainUntil {
			t.Fatalf("retain_until %v is not whole milliseconds", m.RetainUntil)
		}
		if !bytes.HasSuffix(encodeMeta(m), []byte("\n")) {
			t.Fatal("encoded meta lacks its newline")
		}
	})
}
