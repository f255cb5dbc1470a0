package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
)

func textMsg(id, from, to string, ms int64, text string) []byte {
	return fmt.Appendf(nil, `{"msgid":%q,"action":"send","from":%q,"tolist":[%q],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":%q}}`,
		id, from, to, ms, text)
}

func datas(ls []Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = string(l.Data)
	}
	return out
}

// TestSplit: the body forms of the ingest route (the cases of httpapi's
// ingest tests, moved here with splitBody): one object however laid out, a
// JSON array, JSON lines; each entry's exact bytes, number and hash.
func TestSplit(t *testing.T) {
	a := textMsg("s1", "zhangwei", "wmExtClient001", 1700100000000, "王总，合同已经发到您邮箱")
	b := textMsg("s2", "wmExtClient001", "zhangwei", 1700100060000, "收到")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, a, "", "  "); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want []string
	}{
		{"one object", a, []string{string(a)}},
		{"pretty-printed object", pretty.Bytes(), []string{pretty.String()}},
		{"whitespace around one object", append(append([]byte("  \n"), a...), "\n\n\n"...), []string{string(a)}},
		{"array", []byte("[" + string(a) + ",\n " + string(b) + "]"), []string{string(a), string(b)}},
		{"array with spaces", []byte(" [ " + string(a) + " ] \n"), []string{string(a)}},
		{"JSON lines", append(append(append([]byte(nil), a...), '\n'), b...), []string{string(a), string(b)}},
		{"JSON lines, CRLF and a final newline", []byte(string(a) + "\r\n" + string(b) + "\r\n"), []string{string(a), string(b)}},
		// A blank line before a message is an entry (quarantined as an
		// empty line); blank lines after the last one are dropped.
		{"leading blank line", []byte("  \n" + string(a) + "\n" + string(b) + "\n\n"), []string{"  ", string(a), string(b)}},
		{"empty", nil, []string{}},
		{"blank lines only", []byte("\n\n  \n"), []string{}},
		{"empty array", []byte(` [ ] `), []string{}},
	} {
		got, err := Split(tc.body)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d := datas(got); strings.Join(d, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("%s: entries %q, want %q", tc.name, d, tc.want)
			continue
		}
		for i, l := range got {
			if l.No != i+1 || l.FullSize != int64(len(l.Data)) || l.FullHash != archive.Hash(l.Data) || l.Truncated {
				t.Errorf("%s: entry %d: no %d, size %d, hash ok %v", tc.name, i+1, l.No, l.FullSize, l.FullHash == archive.Hash(l.Data))
			}
		}
	}
}

// TestSplitMalformed: a body that is not one of the forms is refused
// whole, saying where, with capture.ErrMalformedBody; so is one over
// MaxEntries (before anything is decoded).
func TestSplitMalformed(t *testing.T) {
	good := string(textMsg("mb0001", "zhangwei", "wmExtClient001", 1700400000000, "好"))
	many := bytes.Repeat([]byte("{}\n"), MaxEntries+1)
	arr := append([]byte("["), bytes.Repeat([]byte("{},"), MaxEntries)...)
	arr = append(arr, "{}]"...)
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"bad element", []byte(`[` + good + `, {"msgid": oops}]`), "array element 2"},
		{"unclosed array", []byte(`[` + good), "after element 1"},
		{"data after the array", []byte(`[` + good + `] trailing`), "data after the JSON array"},
		{"too many lines", many, strconv.Itoa(MaxEntries)},
		{"too many elements", arr, strconv.Itoa(MaxEntries)},
	} {
		got, err := Split(tc.body)
		if err == nil || got != nil || !errors.Is(err, capture.ErrMalformedBody) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %d entries, %v; want ErrMalformedBody mentioning %q", tc.name, len(got), err, tc.want)
		}
	}
	// Exactly MaxEntries is fine.
	if got, err := Split(bytes.Repeat([]byte("{}\n"), MaxEntries)); err != nil || len(got) != MaxEntries {
		t.Fatalf("MaxEntries lines: %d, %v", len(got), err)
	}
}

// FuzzSplit: any body gives entries or an ErrMalformedBody, never a panic;
// entries are numbered from 1, never more than MaxEntries, each its exact
// bytes found in the body and hashed; and the streaming splitter agrees
// with the in-memory one it replaced (splitInMemory) on entries and on
// refusals.
func FuzzSplit(f *testing.F) {
	m := textMsg("f1", "zhangwei", "wmA", 1700000000000, "x")
	for _, s := range [][]byte{m, append(append([]byte("["), m...), ']'), []byte(string(m) + "\n" + string(m)), []byte("[{},"), []byte(" \n{}\n\n"), []byte("[1, \"a\", {}]"), []byte("{\"a\":\n1}")} {
		f.Add(s)
	}
	for _, s := range []string{`[{"a":1}, {"b":[2,3]}]`, "{\n  \"pretty\": true\n}\n", `[{"a":1} {"b":2}]`, "\xef\xbb\xbf{\"a\":1}",
		`[1, "two", null, {"x":"]"}, [true]]`, `[{"a":"\"]"},]`, " \x0000000", `[{]`, `[[}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Split(body)
		want, wantErr := splitInMemory(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("streaming: %v; in memory: %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d entries, in memory %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Data, want[i].Data) || got[i].FullSize != want[i].FullSize {
				t.Fatalf("entry %d: %q, in memory %q", i+1, got[i].Data, want[i].Data)
			}
		}
		if err != nil {
			if !errors.Is(err, capture.ErrMalformedBody) || got != nil {
				t.Fatalf("Split = %d entries, %v", len(got), err)
			}
			return
		}
		if len(got) > MaxEntries {
			t.Fatalf("%d entries", len(got))
		}
		for i, l := range got {
			if l.No != i+1 || l.Truncated != (l.FullSize > int64(len(l.Data))) {
				t.Fatalf("entry %d: %+v", i+1, l)
			}
			if !l.Truncated && (l.FullHash != archive.Hash(l.Data) || !bytes.Contains(body, l.Data)) {
				t.Fatalf("entry %d is not its bytes of the body", i+1)
			}
		}
	})
}

// splitInMemory is the splitter as it was before bodies were streamed:
// the whole body in memory, entries cut out of it. It is the streaming
// splitter's oracle (FuzzSplit): for a body whose entries fit in
// MaxLineBytes both give the same entries, or both refuse it.
func splitInMemory(body []byte) ([]Line, error) {
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

// BenchmarkSplit: the streaming splitter (both passes) against the
// in-memory one it replaced, on a 10 MB JSON array and the same as JSON
// lines.
func BenchmarkSplit(b *testing.B) {
	var lines [][]byte
	for i := 0; len(lines) < 10000; i++ {
		lines = append(lines, textMsg(fmt.Sprintf("b%05d", i), "zhangwei", "wmA", 1700000000000+int64(i), strings.Repeat("合同已经发到您邮箱 contract sent ", 30)))
	}
	for name, body := range map[string][]byte{
		"array": append(append([]byte("["), bytes.Join(lines, []byte(",\n"))...), ']'),
		"lines": append(bytes.Join(lines, []byte("\n")), '\n'),
	} {
		for impl, split := range map[string]func([]byte) ([]Line, error){"streaming": Split, "in-memory": splitInMemory} {
			b.Run(name+"/"+impl, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if got, err := split(body); err != nil || len(got) != len(lines) {
						b.Fatal(len(got), err)
					}
				}
			})
		}
	}
}
