package httpapi

import (
	"bytes"
	"testing"
)

// FuzzSplitBody: the request-body splitter never panics, never returns more
// than MaxBatchEntries entries, and every entry's bytes occur in the body
// (entries are cut out of the input, never rewritten).
func FuzzSplitBody(f *testing.F) {
	f.Add([]byte(`{"msgid":"a","action":"send"}`))
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n\n"))
	f.Add([]byte(`[{"a":1}, {"b":[2,3]}]`))
	f.Add([]byte("{\n  \"pretty\": true\n}\n"))
	f.Add([]byte(`[{"a":1} {"b":2}]`))
	f.Add([]byte("\xef\xbb\xbf{\"a\":1}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := splitBody(body)
		if err != nil {
			return
		}
		if len(entries) > MaxBatchEntries {
			t.Fatalf("%d entries", len(entries))
		}
		for i, e := range entries {
			if e.No != i+1 {
				t.Fatalf("entry %d numbered %d", i+1, e.No)
			}
			if !bytes.Contains(body, e.Data) {
				t.Fatalf("entry %d %q is not a piece of the body", i+1, e.Data)
			}
		}
	})
}
