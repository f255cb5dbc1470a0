package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// bytes found in the body and hashed.
func FuzzSplit(f *testing.F) {
	m := textMsg("f1", "zhangwei", "wmA", 1700000000000, "x")
	for _, s := range [][]byte{m, append(append([]byte("["), m...), ']'), []byte(string(m) + "\n" + string(m)), []byte("[{},"), []byte(" \n{}\n\n"), []byte("[1, \"a\", {}]"), []byte("{\"a\":\n1}")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Split(body)
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
