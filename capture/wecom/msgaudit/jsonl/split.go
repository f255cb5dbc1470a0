package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
)

// MaxEntries bounds the entries of one request body: refused before any is
// decoded.
const MaxEntries = 10000

// Split turns a request body into entries: a JSON array's elements, a
// single JSON object (however it is laid out), or JSON lines. Each entry
// keeps its exact bytes and its number (the element, or the line). A
// blank line before a message is an entry (the decoder quarantines it as
// an empty line); blank lines after the last one are formatting and
// dropped. Errors wrap capture.ErrMalformedBody and say where; nothing is
// split then.
func Split(body []byte) ([]Line, error) {
	malformed := func(format string, a ...any) ([]Line, error) {
		return nil, fmt.Errorf("%w: %s", capture.ErrMalformedBody, fmt.Sprintf(format, a...))
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return malformed("%v", err)
		}
		var out []Line
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return malformed("array element %d: %v", len(out)+1, err)
			}
			out = append(out, Line{No: len(out) + 1, Data: []byte(raw), FullSize: int64(len(raw)), FullHash: archive.Hash(raw)})
			if len(out) > MaxEntries {
				return malformed("more than %d entries", MaxEntries)
			}
		}
		if _, err := dec.Token(); err != nil {
			return malformed("after element %d: %v", len(out), err)
		}
		if rest := bytes.TrimSpace(trimmed[dec.InputOffset():]); len(rest) > 0 {
			return malformed("data after the JSON array")
		}
		return out, nil
	}
	// One JSON value filling the whole body is one message, however it is
	// laid out; anything else is JSON lines.
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		var raw json.RawMessage
		if dec.Decode(&raw) == nil && len(bytes.TrimSpace(trimmed[dec.InputOffset():])) == 0 {
			one := bytes.TrimRight(trimmed, " \t\r\n")
			return []Line{{No: 1, Data: one, FullSize: int64(len(one)), FullHash: archive.Hash(one)}}, nil
		}
	}
	var out []Line
	lr := NewLineReader(bytes.NewReader(body))
	for {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return malformed("line %d: %v", lr.no+1, err)
		}
		out = append(out, ln)
		if len(out) > MaxEntries {
			return malformed("more than %d entries", MaxEntries)
		}
	}
	// A trailing empty line after the last object is formatting, not input.
	for len(out) > 0 && len(bytes.TrimSpace(out[len(out)-1].Data)) == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
}
