package callback

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMessageTypes(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		typ, id   string
		fields    map[string]string
	}{
		{"text", `<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangwei]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[保本保收益 <b>&amp;</b>]]></Content><MsgId>1234567890123456</MsgId><AgentID>1000002</AgentID></xml>`,
			"text", "1234567890123456", map[string]string{"Content": "保本保收益 <b>&amp;</b>", "AgentID": "1000002"}},
		{"escaped text", `<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>a &lt; b &amp; 收益</Content><MsgId>9</MsgId></xml>`,
			"text", "9", map[string]string{"Content": "a < b & 收益"}},
		{"image", `<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>image</MsgType><PicUrl>https://example.com/p.jpg</PicUrl><MediaId>media_1</MediaId><MsgId>10</MsgId></xml>`,
			"image", "10", map[string]string{"PicUrl": "https://example.com/p.jpg", "MediaId": "media_1"}},
		{"location", `<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[广州市海珠区]]></Label><MsgId>11</MsgId></xml>`,
			"location", "11", map[string]string{"Label": "广州市海珠区", "Location_X": "23.134521"}},
		{"event with nested items", `<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>pic_sysphoto</Event><EventKey>k</EventKey><SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum>abc</PicMd5Sum></item></PicList></SendPicsInfo></xml>`,
			"event", "", map[string]string{"Event": "pic_sysphoto", "SendPicsInfo/PicList/item/PicMd5Sum": "abc", "SendPicsInfo/Count": "1"}},
		{"prolog and comment", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi --><xml>\n <FromUserName>u</FromUserName>\n <CreateTime>1</CreateTime>\n <MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition></Recognition><MsgId>12</MsgId>\n</xml>\n",
			"voice", "12", map[string]string{"Format": "amr", "Recognition": ""}},
	} {
		m, err := ParseMessage([]byte(tc.xml))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if m.MsgType != tc.typ || m.MsgID != tc.id || m.FromUserName != "u" && m.FromUserName != "zhangwei" {
			t.Errorf("%s: %+v", tc.name, m)
		}
		for k, want := range tc.fields {
			if got, ok := m.Doc.Get(k); !ok || got != want {
				t.Errorf("%s: %s = %q (%v), want %q", tc.name, k, got, ok, want)
			}
		}
	}
}

func TestDedupeKey(t *testing.T) {
	a, _ := ParseMessage([]byte(`<xml><FromUserName>u</FromUserName><CreateTime>5</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>`))
	b, _ := ParseMessage([]byte(`<xml><FromUserName>u</FromUserName><CreateTime>5</CreateTime><MsgType>event</MsgType><Event>unsubscribe</Event></xml>`))
	c, _ := ParseMessage([]byte(`<xml><FromUserName>u</FromUserName><CreateTime>5</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>77</MsgId></xml>`))
	if a.DedupeKey() == b.DedupeKey() || c.DedupeKey() != "77" {
		t.Fatalf("dedupe keys %q %q %q", a.DedupeKey(), b.DedupeKey(), c.DedupeKey())
	}
}

// TestParseRejects: entity tricks and malformed documents are refused with
// where and why.
func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, xml, want string }{
		{"doctype", `<!DOCTYPE xml [<!ENTITY x "boom">]><xml><MsgType>&x;</MsgType></xml>`, "no DOCTYPE"},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE foo SYSTEM "file:///etc/passwd"><xml/>`, "directive (<!DOCTYPE"},
		{"entity inside", `<xml><MsgType>&x;</MsgType></xml>`, "invalid character entity &x;"},
		{"html entity", `<xml><Content>&nbsp;</Content></xml>`, "&nbsp;"},
		{"wrong root", `<message><MsgType>text</MsgType></message>`, "root element is <message>"},
		{"unclosed", `<xml><MsgType>text</MsgType>`, "unexpected EOF"},
		{"two roots", `<xml></xml><xml></xml>`, "after the root"},
		{"text outside", `<xml></xml>junk`, "text outside"},
		{"mixed content", `<xml><A>x<B>y</B></A></xml>`, "both text and child"},
		{"mixed after child", `<xml><A><B>y</B>x</A></xml>`, "both text and child"},
		{"too deep", `<xml><a><b><c><d><e><f><g><h><i>x</i></h></g></f></e></d></c></b></a></xml>`, "deeper than 8"},
		{"processing instruction", `<xml><?php echo 1 ?></xml>`, "<?php?>"},
		{"not utf-8", "<xml><Content>\xff</Content></xml>", "not UTF-8"},
		{"other encoding", `<?xml version="1.0" encoding="GBK"?><xml></xml>`, "UTF-8 only"},
		{"empty", ``, "no complete <xml>"},
		{"too big", "<xml><C>" + strings.Repeat("a", MaxXMLBytes) + "</C></xml>", "more than"},
	} {
		doc, err := ParseXML([]byte(tc.xml))
		if doc != nil || !errors.Is(err, ErrXML) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an XML error mentioning %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, xml, want string }{
		{"no type", `<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime></xml>`, "MsgType: missing"},
		{"no sender", `<xml><MsgType>text</MsgType><CreateTime>1</CreateTime><MsgId>1</MsgId></xml>`, "FromUserName: missing"},
		{"no msgid", `<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>`, "MsgId: missing for MsgType text"},
		{"event without name", `<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><CreateTime>1</CreateTime></xml>`, "Event: missing"},
	} {
		if m, err := ParseMessage([]byte(tc.xml)); m != nil || !errors.Is(err, ErrXML) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Kept, not refused: a message without a usable time, an event
	// without a sender (WeCom's kf_msg_or_event).
	for _, tc := range []struct{ name, xml, want string }{
		{"bad time", `<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>yesterday</CreateTime><MsgId>1</MsgId></xml>`, `CreateTime: "yesterday" is not a time`},
		{"zero time", `<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>0</CreateTime><MsgId>1</MsgId></xml>`, `CreateTime: "0" is not a time`},
		{"no time", `<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><MsgId>1</MsgId></xml>`, `CreateTime: missing`},
		{"year 10000", `<xml><FromUserName>u</FromUserName><MsgType>text</MsgType><CreateTime>253402300800</CreateTime><MsgId>1</MsgId></xml>`, `after 9999`},
		{"event without sender", `<xml><MsgType>event</MsgType><Event>kf_msg_or_event</Event><CreateTime>1348831860</CreateTime></xml>`, ``},
	} {
		m, err := ParseMessage([]byte(tc.xml))
		if err != nil || !strings.Contains(m.TimeProblem, tc.want) || (tc.want == "") != (m.TimeProblem == "") {
			t.Errorf("%s: %+v, %v: want kept, time problem %q", tc.name, m, err, tc.want)
		}
	}
	if _, err := ParseEnvelope([]byte(`<xml><ToUserName>ww1</ToUserName><Content>plain</Content></xml>`)); !errors.Is(err, ErrXML) || !strings.Contains(err.Error(), "plaintext mode") {
		t.Errorf("envelope without Encrypt: %v", err)
	}
	env, err := ParseEnvelope([]byte(`<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`))
	if err != nil || env.Encrypt != "abc=" || env.ToUserName != "ww1" || env.AgentID != "218" {
		t.Fatalf("envelope: %+v, %v", env, err)
	}
}
