package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
)

// splitInMemory is the splitter as it was before bodies were streamed: the
// whole body in memory, entries cut out of it. It is the streaming
// splitter's oracle: for every body whose entries fit in MaxLineBytes,
// both must agree on the entries, or both refuse the body.
func splitInMemory(body []byte) ([]msgaudit.Line, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		var out []msgaudit.Line
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("array element %d: %v", len(out)+1, err)
			}
			out = append(out, msgaudit.Line{No: len(out) + 1, Data: []byte(raw), FullSize: int64(len(raw))})
			if len(out) > MaxBatchEntries {
				return nil, fmt.Errorf("more than %d entries", MaxBatchEntries)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("after element %d: %v", len(out), err)
		}
		if rest := bytes.TrimSpace(trimmed[dec.InputOffset():]); len(rest) > 0 {
			return nil, errors.New("data after the JSON array")
		}
		return out, nil
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		var raw json.RawMessage
		if dec.Decode(&raw) == nil && len(bytes.TrimSpace(trimmed[dec.InputOffset():])) == 0 {
			one := bytes.TrimRight(trimmed, " \t\r\n")
			return []msgaudit.Line{{No: 1, Data: one, FullSize: int64(len(one)), FullHash: archive.Hash(one)}}, nil
		}
	}
	var out []msgaudit.Line
	lr := msgaudit.NewLineReader(bytes.NewReader(body))
	for {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ln)
		if len(out) > MaxBatchEntries {
			return nil, fmt.Errorf("more than %d entries", MaxBatchEntries)
		}
	}
	for len(out) > 0 && len(bytes.TrimSpace(out[len(out)-1].Data)) == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
}

// splitStreaming runs both passes of the streaming splitter.
func splitStreaming(body []byte) ([]msgaudit.Line, error) {
	src := bytes.NewReader(body)
	plan, err := planBody(src, int64(len(body)))
	if err != nil {
		return nil, err
	}
	var out []msgaudit.Line
	err = eachEntry(src, int64(len(body)), plan, func(ln msgaudit.Line) error {
		out = append(out, ln)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("second pass failed after the first accepted the body: %w", err)
	}
	if len(out) != plan.entries {
		return nil, fmt.Errorf("planned %d entries, yielded %d", plan.entries, len(out))
	}
	return out, nil
}

// FuzzSplitBody: the streaming splitter never panics, never yields more
// than MaxBatchEntries entries, numbers them 1..n, cuts every entry out of
// the body (never rewrites it), and agrees with the in-memory splitter:
// the same entries, or both refuse the body (and its refusal is a
// malformed body, not an I/O fault).
func FuzzSplitBody(f *testing.F) {
	f.Add([]byte(`{"msgid":"a","action":"send"}`))
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n\n"))
	f.Add([]byte(`[{"a":1}, {"b":[2,3]}]`))
	f.Add([]byte("{\n  \"pretty\": true\n}\n"))
	f.Add([]byte(`[{"a":1} {"b":2}]`))
	f.Add([]byte("\xef\xbb\xbf{\"a\":1}"))
	f.Add([]byte(`[1, "two", null, {"x":"]"}, [true]]`))
	f.Add([]byte(`[{"a":"\"]"},]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := splitStreaming(body)
		want, wantErr := splitInMemory(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("streaming: %v; in memory: %v", err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("a refusal that is not a malformed body: %v", err)
			}
			return
		}
		if len(got) > MaxBatchEntries {
			t.Fatalf("%d entries", len(got))
		}
		if len(got) != len(want) {
			t.Fatalf("%d entries, in memory %d", len(got), len(want))
		}
		for i, e := range got {
			if e.No != i+1 {
				t.Fatalf("entry %d numbered %d", i+1, e.No)
			}
			if !bytes.Contains(body, e.Data) {
				t.Fatalf("entry %d %q is not a piece of the body", i+1, e.Data)
			}
			if !bytes.Equal(e.Data, want[i].Data) || e.Truncated != want[i].Truncated || e.FullSize != want[i].FullSize {
				t.Fatalf("entry %d: %q (%d bytes), in memory %q (%d bytes)", i+1, e.Data, e.FullSize, want[i].Data, want[i].FullSize)
			}
			if e.FullHash != archive.Hash(e.Data) {
				t.Fatalf("entry %d: hash is not of its bytes", i+1)
			}
		}
	})
}
