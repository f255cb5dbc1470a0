package msgaudit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// FuzzDecode checks the properties ingest relies on for any input: Decode
// never panics, returns either a message or a *DecodeError, never mutates
// its input, and a message it returns is complete, valid UTF-8 and the same
// every time. The checked-in corpus (testdata/fuzz/FuzzDecode) runs as
// regression input in every `go test`.
func FuzzDecode(f *testing.F) {
	_, all := fixtureLines(f)
	for _, l := range all {
		f.Add(l)
	}
	for _, tc := range rejectCases {
		if len(tc.line) <= 4096 { // the huge limit cases only slow the fuzzer
			f.Add(tc.line)
		}
	}
	f.Add(line(`"msgtype":"text","text":{"content":"a` + "\x01\x00\t\n" + `b"}`))
	f.Add(line(`"msgtype":"future","future":{"b":"2","a":["1",{"c":"3"}],"sdkfileid":"S"}`))
	f.Add(line(`"msgtype":"vote","votetitle":"t","voteitem":["a"]`))
	// WeCom's documented examples (testdata/documented.md).
	doc, err := os.ReadFile("testdata/documented.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range bytes.Split(bytes.TrimSpace(doc), []byte("\n")) {
		f.Add(l)
	}

	f.Fuzz(checkDecode)
}

// FuzzDecodeContent wraps a fuzzed content object in a valid envelope, so
// the fuzzer spends its time in the per-type decoders instead of in JSON
// syntax: fuzzing whole lines mostly breaks the line before any content is
// read. Its corpus is checked in too (testdata/fuzz/FuzzDecodeContent).
func FuzzDecodeContent(f *testing.F) {
	_, all := fixtureLines(f)
	for _, l := range all {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(l, &top); err != nil {
			f.Fatal(err)
		}
		var msgtype string
		if json.Unmarshal(top["msgtype"], &msgtype) != nil {
			continue // switch
		}
		for k, v := range top {
			if !commonKeys[k] && k != "voiceid" && k != "voipid" {
				f.Add(msgtype, k, []byte(v))
			}
		}
	}
	f.Add("chatrecord", "chatrecord", []byte(`{"title":"t","item":[{"type":"chatrecord","msgtime":1700000000,"content":"{\"item\":[{\"type\":\"ChatRecordFile\",\"content\":\"{\\\"sdkfileid\\\":\\\"F\\\"}\"}]}"}]}`))
	f.Add("mixed", "mixed", []byte(`{"item":[{"type":"image"},{"type":"novel","content":"{\"sdkfileid\":\"N\",\"x\":[\"t\"]}"}]}`))
	f.Add("future", "future", []byte(`{"b":"2","a":["1",{"c":"3"}],"sdkfileid":"S"}`))
	f.Add("calendar", "calendar", []byte(`{"attendeename":"王总","starttime":"1700000000"}`))
	f.Fuzz(func(t *testing.T, msgtype, key string, content []byte) {
		mt, _ := json.Marshal(msgtype)
		k, _ := json.Marshal(key)
		l := []byte(`{"msgid":"f1","action":"send","from":"zhangwei","tolist":["wmA"],"roomid":"","msgtime":1700000060000,"msgtype":`)
		l = append(append(append(append(append(l, mt...), ','), k...), ':'), content...)
		checkDecode(t, append(l, '}'))
	})
}

// checkDecode asserts the properties of Decode on any input.
func checkDecode(t *testing.T, data []byte) {
	orig := bytes.Clone(data)
	m, err := Decode(data, testOpts)
	if !bytes.Equal(data, orig) {
		t.Fatal("Decode modified its input")
	}
	if err != nil {
		var de *DecodeError
		if m != nil || !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode = %v, %v (%T): want nil and a *DecodeError wrapping ErrMalformed", m, err, err)
		}
		if !utf8.ValidString(err.Error()) {
			t.Fatalf("error message is not UTF-8: %q", err.Error())
		}
		return
	}
	if m == nil {
		t.Fatal("Decode returned neither a message nor an error")
	}
	checkMessage(t, m)

	again, err := Decode(data, testOpts)
	if err != nil || !reflect.DeepEqual(m, again) {
		t.Fatalf("second decode differs: %v\n%+v\n%+v", err, m, again)
	}
	// Surrounding whitespace (a line ending) changes nothing.
	padded, err := Decode(append(append([]byte(" "), data...), "\r\n"...), testOpts)
	if err != nil || !reflect.DeepEqual(m, padded) {
		t.Fatalf("decode with a line ending differs: %v", err)
	}
}

// checkMessage asserts the invariants of every decoded message.
func checkMessage(t *testing.T, m *archive.Message) {
	t.Helper()
	if m.SourceID == "" || len(m.SourceID) > MaxIDBytes {
		t.Fatalf("SourceID %q", m.SourceID)
	}
	warned := func(field string) bool {
		for _, w := range Warnings(m) {
			if strings.HasPrefix(w, field) {
				return true
			}
		}
		return false
	}
	if m.Source != testSource || m.Schema != archive.RecordSchema || m.Kind == "" || (m.SourceType == "" && !warned("msgtype")) {
		t.Fatalf("Source %q Schema %d Kind %q SourceType %q", m.Source, m.Schema, m.Kind, m.SourceType)
	}
	if ms := m.SentAt.Millis(); ms < minTime.UnixMilli() || ms >= maxTime.UnixMilli() {
		t.Fatalf("SentAt %s out of range", m.SentAt)
	}
	if m.Sender == "" || len(m.Participants) == 0 || m.Participants[0].ID != m.Sender {
		t.Fatalf("Sender %q Participants %v", m.Sender, m.Participants)
	}
	if m.Recipients == nil || m.Attachments == nil {
		t.Fatal("nil Recipients or Attachments")
	}
	if (m.Kind == archive.KindSwitch) != (m.Direction == archive.DirectionNone) || (m.Kind == archive.KindSwitch) != (m.Conversation == "") {
		t.Fatalf("Kind %q Direction %q Conversation %q", m.Kind, m.Direction, m.Conversation)
	}
	if m.TimeUnknown && !warned("msgtime") && !warned("time") {
		t.Fatal("TimeUnknown without a warning")
	}
	if len(m.Text) > MaxTextBytes {
		t.Fatalf("Text is %d bytes", len(m.Text))
	}
	if m.Kind == archive.KindRevoke && m.RefersTo == "" && !warned("revoke") {
		t.Fatal("revoke without RefersTo")
	}
	for _, a := range m.Attachments {
		if a.Status != archive.AttachmentPending && a.Status != archive.AttachmentMissing {
			t.Fatalf("attachment status %q", a.Status)
		}
		if (a.SourceRef == "") != (a.Status == archive.AttachmentMissing) || a.DeclaredSize < 0 || a.Role == "" {
			t.Fatalf("attachment %+v", a)
		}
	}
	for _, s := range stringsOf(m) {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 in %q", s)
		}
	}
	if _, err := json.Marshal(m); err != nil {
		t.Fatalf("normalized record does not encode: %v", err)
	}
}

// stringsOf returns every string field of m.
func stringsOf(m *archive.Message) []string {
	s := []string{m.Source, m.SourceID, m.SourceType, string(m.Kind), string(m.Action), m.Conversation,
		string(m.ConversationKind), m.Sender, string(m.Direction), m.Text, m.RefersTo}
	s = append(s, m.Recipients...)
	for _, p := range m.Participants {
		s = append(s, p.ID, string(p.Kind))
	}
	for _, d := range m.Details {
		s = append(s, d.Name, d.Value)
	}
	for _, a := range m.Attachments {
		s = append(s, a.Role, a.FileName, a.SourceRef, a.SourceMD5, a.MediaType, a.Reason, string(a.Status))
	}
	if m.Consent != nil {
		s = append(s, m.Consent.ExternalID)
	}
	return s
}

// FuzzScanStrings checks the hand-written tolist scanner against
// encoding/json: on any valid JSON value it accepts exactly the arrays of
// strings, with the same values.
func FuzzScanStrings(f *testing.F) {
	for _, s := range []string{`[]`, ` [ "a" , "b" ] `, `["\u00e9\"\\"]`, `["a",1]`, `["a",null]`, `"a"`, `{}`, `[["a"]]`, `["a\\"]`, `[ ]`, `["\ud800"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || !utf8.Valid(b) {
			return // scanStrings only sees what Decode and encoding/json validated
		}
		got, ok := scanStrings(b)
		var elems []json.RawMessage
		want := json.Unmarshal(b, &elems) == nil && firstByte(b) == '['
		for _, e := range elems {
			want = want && firstByte(e) == '"'
		}
		if ok != want {
			t.Fatalf("scanStrings(%q) ok = %v, want %v", b, ok, want)
		}
		if ok {
			var ref []string
			if err := json.Unmarshal(b, &ref); err != nil || !reflect.DeepEqual(got, ref) {
				t.Fatalf("scanStrings(%q) = %q, encoding/json says %q (%v)", b, got, ref, err)
			}
		}
	})
}
