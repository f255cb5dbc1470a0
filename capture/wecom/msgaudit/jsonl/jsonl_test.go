package jsonl

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

func TestLineReaderTerminatorsAndBOM(t *testing.T) {
	in := "\xef\xbb\xbf{\"a\":1}\r\n{\"b\":2}\n\n  \r\n{\"c\":3}"
	lr := NewLineReader(strings.NewReader(in))
	want := []string{`{"a":1}`, `{"b":2}`, ``, `  `, `{"c":3}`}
	for i, w := range want {
		ln, err := lr.Next()
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if string(ln.Data) != w || ln.No != i+1 || ln.FullSize != int64(len(w)) {
			t.Fatalf("line %d = %q (no %d, size %d), want %q", i+1, ln.Data, ln.No, ln.FullSize, w)
		}
	}
	if _, err := lr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v", err)
	}
}

func TestLineReaderKeepsPrefixOfOversizeLine(t *testing.T) {
	big := strings.Repeat("x", MaxLineBytes+10)
	lr := NewLineReader(strings.NewReader(big + "\n{}\n"))
	ln, err := lr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !ln.Truncated || len(ln.Data) != MaxLineBytes || ln.FullSize != int64(len(big)) {
		t.Fatalf("oversize line: truncated %v, kept %d, size %d", ln.Truncated, len(ln.Data), ln.FullSize)
	}
	if ln.FullHash != archive.Hash([]byte(big)) {
		t.Fatal("FullHash is not the SHA-256 of the whole line")
	}
	ln, err = lr.Next()
	if err != nil || string(ln.Data) != "{}" || ln.No != 2 {
		t.Fatalf("line after an oversize one: %q %v", ln.Data, err)
	}
}

// FuzzLineReader: lines read back concatenate to the input (modulo the
// terminators and a leading BOM the reader strips), line numbers count up,
// and no line is longer than MaxLineBytes.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nc"))
	f.Add([]byte("\xef\xbb\xbf{}\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		lr := NewLineReader(strings.NewReader(string(in)))
		var total int64
		for n := 1; ; n++ {
			ln, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ln.No != n || len(ln.Data) > MaxLineBytes || int64(len(ln.Data)) > ln.FullSize && !ln.Truncated {
				t.Fatalf("line %d: no %d, %d bytes, full %d", n, ln.No, len(ln.Data), ln.FullSize)
			}
			if !ln.Truncated && ln.FullHash != archive.Hash(ln.Data) {
				t.Fatalf("line %d: FullHash is not the hash of the line", n)
			}
			total += ln.FullSize
		}
		if total > int64(len(in)) {
			t.Fatalf("lines hold %d bytes, input has %d", total, len(in))
		}
	})
}
