package app

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

// sampleRecords are the normalized records of the export sample units
// (every message kind), and a few written by hand at the edges of what
// decodeRecord reads itself.
func sampleRecords(t testing.TB) [][]byte {
	var out [][]byte
	for _, u := range exporttest.Units("WXA").Units {
		for _, m := range u.Messages {
			out = append(out, m.Record)
			// The record as the archive writes it from the decoded message.
			b, err := json.Marshal(m.Message)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"schema":1}`, ` { "schema" : 1 , "text" : "a\nb\t\"c\"\\ \/ \u00e9\u4e2d\b\f\r" } `,
		`{"text":"\ud83d\ude00 emoji as surrogates"}`, `{"text":"lone \ud83d"}`, `{"text":"bad \x"}`,
		`{"text":"raw` + "\xff" + `bytes"}`, `{"text":"ctrl` + "\x01" + `"}`, `{"Text":"case"}`, `{"TEXT":"case"}`,
		`{"text":"a","text":"b"}`, `{"unknown":1}`, `{"recipients":null}`, `{"recipients":[]}`, `{"recipients":["a","b"]}`,
		`{"participants":[{}]}`, `{"participants":[{"id":"x","kind":"employee","extra":1}]}`, `{"details":[]}`,
		`{"attachments":[{"blob":"00","size":1}]}`, `{"attachments":[{"size":1.5}]}`, `{"attachments":[{"size":-3,"declared_size":0}]}`,
		`{"attachments":[{"size":01}]}`, `{"attachments":[{"size":123456789012345678901}]}`, `{"schema":1e3}`,
		`{"sent_at":"2026-03-02T01:30:00.000Z"}`, `{"sent_at":"2026-03-02T09:30:00.123456+08:00"}`, `{"sent_at":"yesterday"}`,
		`{"sent_at":"2026-03-02T01:30:00\u002e000Z"}`, `{"sent_at":1}`, `{"consent":{"external_id":"e","agreed":true,"at":"2026-03-02T01:30:00.000Z"}}`,
		`{"consent":{}}`, `{"consent":null}`, `{"time_unknown":true}`, `{"time_unknown":"true"}`, `{"time_unknown":tru}`,
		`{"schema":1}x`, `{"schema":1,}`, `{"schema":1`, `{"text":"unterminated`, `{"kind":"text","action":"send","direction":"inbound"}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

func checkDecode(t *testing.T, rec []byte) {
	t.Helper()
	var want, got archive.Message
	werr := json.Unmarshal(rec, &want)
	gerr := decodeRecord(rec, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, decodeRecord error %v", rec, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%q:\nencoding/json %#v\ndecodeRecord  %#v", rec, want, got)
	}
}

// TestDecodeRecordMatchesEncodingJSON: the export's record decoder gives
// the same message as encoding/json, on the sample's records and on
// mutations of them.
func TestDecodeRecordMatchesEncodingJSON(t *testing.T) {
	recs := sampleRecords(t)
	fast := 0
	for _, rec := range recs {
		checkDecode(t, rec)
		d := recordDecoder{b: rec}
		var m archive.Message
		if d.message(&m) && d.end() {
			fast++
		}
	}
	// The sample's records are read directly, not left to encoding/json.
	if n := 2 * len(exporttest.Units("WXA").Units[0].Messages); fast < n {
		t.Fatalf("%d records decoded directly, want at least %d", fast, n)
	}
	rnd := rand.New(rand.NewSource(1))
	inserts := []string{" ", "\n", `\n`, `\u00e9`, `\"`, `\\`, "\xff", "null", ",", ":", "{", "}", "[", "]", `"`, "0", "-", "é", "中", `\ud800`, "\x00", "1e2", "true"}
	for n := 0; n < 20000; n++ {
		rec := []byte(string(recs[rnd.Intn(len(recs))]))
		for k := rnd.Intn(3) + 1; k > 0; k-- {
			if len(rec) == 0 {
				break
			}
			i := rnd.Intn(len(rec))
			switch rnd.Intn(3) {
			case 0:
				rec = append(rec[:i], append([]byte(inserts[rnd.Intn(len(inserts))]), rec[i:]...)...)
			case 1:
				rec = append(rec[:i], rec[i+1:]...)
			default:
				rec[i] = byte(rnd.Intn(256))
			}
		}
		checkDecode(t, rec)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range sampleRecords(f) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if strings.Count(string(rec), "[") > 1000 {
			return
		}
		checkDecode(t, rec)
	})
}
