package msgaudit

import (
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

// TestFormatMsgtypeTable checks docs/FORMAT.md §3.2 against the decoder:
// every documented msgtype is in the table, and each row's msgtype decodes
// from its content key to its kind.
func TestFormatMsgtypeTable(t *testing.T) {
	rows := formatTable(t) // documented_test.go
	for mt, r := range rows {
		if mt == "switch" {
			continue // an action, not a msgtype with a content key
		}
		m, err := Decode(line(`"msgtype":"`+mt+`","`+r.key+`":{"content":"x"}`), testOpts)
		if err != nil {
			t.Errorf("%s: %v", mt, err)
			continue
		}
		if m.Kind != r.kind {
			t.Errorf("%s under %q: kind %q, the table says %q", mt, r.key, m.Kind, r.kind)
		}
	}
	for mt := range kinds {
		if _, ok := rows[mt]; !ok {
			t.Errorf("msgtype %q is decoded but not in FORMAT.md §3.2", mt)
		}
	}
	if len(rows) < len(kinds) {
		t.Errorf("table has %d rows, the decoder %d msgtypes", len(rows), len(kinds))
	}
}

// TestKeepsWhatWeComSends: the cases — WeCom's own image example
// with msgtime 0, a size past int64, an unknown nested field, a string
// where a number belongs — each archive with the detail, searchable, with
// their media still to be fetched.
func TestKeepsWhatWeComSends(t *testing.T) {
	for _, tc := range []struct {
		name, line, field, raw, text string
		atts                         int
	}{
		{"image_msgtime_0", `{"msgid":"CAQQluDa4QUY0On2rYSAgAMgzPrShAE=","action":"send","from":"XuJinSheng","tolist":["icefog"],"roomid":"","msgtime":0,"msgtype":"image","image":{"md5sum":"50de8e5ae8ffe4f1df7a93841f71993a","filesize":70961,"sdkfileid":"CtYBMzA2OTAy"}}`, "msgtime", "0", "", 1},
		{"size_past_int64", `{"msgid":"u1","action":"send","from":"zhangwei","tolist":["wmA"],"msgtime":1700000060000,"msgtype":"file","file":{"md5sum":"50de8e5ae8ffe4f1df7a93841f71993a","filename":"合同.pdf","fileext":"pdf","filesize":18446744073709551615,"sdkfileid":"S1"}}`, "file.filesize", "18446744073709551615", "合同.pdf", 1},
		{"unknown_nested_field", `{"msgid":"u2","action":"send","from":"zhangwei","tolist":["wmA"],"msgtime":1700000060000,"msgtype":"video","video":{"sdkfileid":"S2","filesize":10,"play_length":3,"extra":{"codec":{"name":"h265"}}}}`, "", "", "", 1},
		{"string_for_number", `{"msgid":"u3","action":"send","from":"zhangwei","tolist":["wmA"],"msgtime":1700000060000,"msgtype":"voice","voice":{"sdkfileid":"S3","voice_size":"large","play_length":"ten"}}`, "voice.voice_size", "large", "", 1},
		{"text_content_number", `{"msgid":"u4","action":"send","from":"zhangwei","tolist":["wmA"],"msgtime":1700000060000,"msgtype":"text","text":{"content":{"zh":"保证收益"}}}`, "text.content", `{"zh":"保证收益"}`, "保证收益", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(tc.line), testOpts)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			checkMessage(t, m)
			if len(m.Attachments) != tc.atts {
				t.Fatalf("attachments %+v", m.Attachments)
			}
			for _, a := range m.Attachments {
				if a.Status != archive.AttachmentPending || a.SourceRef == "" {
					t.Errorf("attachment %+v not to be fetched", a)
				}
			}
			if !strings.Contains(m.Text, tc.text) {
				t.Errorf("text %q lacks %q", m.Text, tc.text)
			}
			if tc.field == "" {
				if len(Warnings(m)) != 0 {
					t.Errorf("warnings %q for an unknown field", Warnings(m))
				}
				return
			}
			if ws := WarnedFields(m); len(ws) == 0 || ws[0] != tc.field {
				t.Errorf("warned fields %q, want %q first", ws, tc.field)
			}
			kept := false
			for _, d := range m.Details {
				if d.Name == tc.field && d.Value == tc.raw {
					kept = true
				}
			}
			if !kept {
				t.Errorf("details %+v do not keep %s = %s", m.Details, tc.field, tc.raw)
			}
			if tc.field == "msgtime" && (!m.TimeUnknown || !m.SentAt.Equal(testOpts.Now())) {
				t.Errorf("TimeUnknown %v SentAt %s: want the capture time", m.TimeUnknown, m.SentAt)
			}
		})
	}
}

// TestVoipTextAndDiskFile: the two documented types that decoded as
// unknown (SKIT's test vectors, WeCom's 音视频通话 and 微盘文件).
func TestVoipTextAndDiskFile(t *testing.T) {
	m, err := Decode([]byte(`{"msgid":"10950316726562067988_1666601563058","action":"send","from":"icef","tolist":["wmYKhyDwAAxda9Vrt7e6h0CgRhRVlGdQ"],"roomid":"","msgtime":1666601558876,"msgtype":"voiptext","info":{"callduration":9,"invitetype":2}}`), testOpts)
	if err != nil || m.Kind != archive.KindVoip || m.Text != "单人语音通话" || len(Warnings(m)) != 0 {
		t.Fatalf("voiptext: %+v %v", m, err)
	}
	if got := detailMap(m); got["duration_seconds"] != "9" || got["invite_type"] != "单人语音通话 (2)" {
		t.Errorf("voiptext details %v", got)
	}
	m, err = Decode([]byte(`{"msgid":"904076622482680588_1666602581569_external","action":"send","from":"wmYKhyDwAAxda9Vrt7e6h0CgRhRVlGdQ","tolist":["icef"],"roomid":"","msgtime":1666602577356,"msgtype":"qydiskfile","info":{"filename":"季度报告.pdf"}}`), testOpts)
	if err != nil || m.Kind != archive.KindFile || m.Text != "季度报告.pdf" || len(m.Attachments) != 0 {
		t.Fatalf("qydiskfile: %+v %v", m, err)
	}
}

func detailMap(m *archive.Message) map[string]string {
	out := map[string]string{}
	for _, d := range m.Details {
		out[d.Name] = d.Value
	}
	return out
}
