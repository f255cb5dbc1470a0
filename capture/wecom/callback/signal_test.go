package callback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/store"
)

const suiteID = "ww4asffe99e54c0fxxxx"

// kfDocumented is kf_msg_or_event exactly as WeCom's 客服 documentation
// ("接收消息和事件") shows it: no FromUserName, no AgentID.
const kfDocumented = `<xml>
   <ToUserName><![CDATA[` + corpID + `]]></ToUserName>
   <CreateTime>1348831860</CreateTime>
   <MsgType><![CDATA[event]]></MsgType>
   <Event><![CDATA[kf_msg_or_event]]></Event>
   <Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>
   <OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId>
</xml>`

func TestReceiverKFEventAsDocumented(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	got := make(chan string, 1)
	e.rcv.OnKFEvent = func(token, kfid string) { got <- token + " " + kfid }
	before := e.journalSize()
	if code, body := e.post(kfDocumented); code != 200 || body != "" {
		t.Fatalf("documented kf_msg_or_event: %d %q", code, body)
	}
	select {
	case g := <-got:
		if g != "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR wkxxxxxxx" {
			t.Fatalf("kf sync woken with %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("kf_msg_or_event did not wake the customer-service sync")
	}
	if e.journalSize() != before {
		t.Fatal("a signal was archived")
	}
	for _, o := range e.events {
		if o == "rejected" {
			t.Fatalf("outcomes %v: the documented event was refused", e.events)
		}
	}
}

// suiteEnv is a receiver whose callback URL is also a suite's instruction
// URL: it accepts plaintexts for the CorpID and for the suite id.
func suiteEnv(t *testing.T) (*env, *callback.Crypter) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	cr, err := callback.NewCrypter(token, aesKey, corpID, suiteID)
	if err != nil {
		t.Fatal(err)
	}
	e.rcv.Crypter = cr
	// WeCom encrypts suite callbacks to the suite id.
	forSuite, err := callback.NewCrypter(token, aesKey, suiteID)
	if err != nil {
		t.Fatal(err)
	}
	return e, forSuite
}

func TestReceiverSuiteCallbacks(t *testing.T) {
	ctx := context.Background()
	e, forSuite := suiteEnv(t)
	// As WeCom's third-party documentation shows them (推送suite_ticket,
	// 授权成功通知, 变更授权通知, 取消授权通知, 成员变更).
	cases := []struct {
		name, doc, secret, text string
	}{
		{"suite_ticket", `<xml><SuiteId><![CDATA[` + suiteID + `]]></SuiteId><InfoType> <![CDATA[suite_ticket]]></InfoType><TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>`,
			"asdfasfdasdfasdf", "推送suite_ticket"},
		{"create_auth", `<xml><SuiteId><![CDATA[` + suiteID + `]]></SuiteId><AuthCode><![CDATA[AUTHCODE]]></AuthCode><InfoType><![CDATA[create_auth]]></InfoType><TimeStamp>1403610514</TimeStamp><State><![CDATA[123]]></State></xml>`,
			"AUTHCODE", "授权成功"},
		{"change_auth", `<xml><SuiteId><![CDATA[` + suiteID + `]]></SuiteId><InfoType><![CDATA[change_auth]]></InfoType><TimeStamp>1403610515</TimeStamp><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId><State><![CDATA[abc]]></State></xml>`,
			"", "变更授权"},
		{"cancel_auth", `<xml><SuiteId><![CDATA[` + suiteID + `]]></SuiteId><InfoType><![CDATA[cancel_auth]]></InfoType><TimeStamp>1403610516</TimeStamp><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId></xml>`,
			"", "取消授权"},
		{"change_contact", `<xml><SuiteId><![CDATA[` + suiteID + `]]></SuiteId><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId><InfoType><![CDATA[change_contact]]></InfoType><TimeStamp>1403610517</TimeStamp><ChangeType><![CDATA[create_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><Name><![CDATA[张三]]></Name></xml>`,
			"", "通讯录变更 create_user"},
	}
	saved := e.cr
	e.cr = forSuite
	defer func() { e.cr = saved }()
	u, uctx := archivetest.App(ctx, e.r)
	for _, tc := range cases {
		for i := 0; i < 2; i++ { // a delivery and WeChat's retry
			if code, body := e.post(tc.doc); code != 200 || body != "" {
				t.Fatalf("%s: %d %q", tc.name, code, body)
			}
		}
		rows, err := e.r.Store.MessagesBySourceID(ctx, sourceIDOf(t, e, tc.name))
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, %v", tc.name, len(rows), err)
		}
		m := rows[0]
		if m.Kind != archive.KindEvent || m.SourceType != "suite:"+tc.name || m.Sender != "suite:"+suiteID || m.Text != tc.text {
			t.Fatalf("%s archived as %+v", tc.name, m)
		}
		vs, err := u.MessagesBySerial(uctx, m.Serial)
		if err != nil {
			t.Fatal(err)
		}
		if tc.secret != "" {
			if strings.Contains(vs[0].Raw, tc.secret) {
				t.Fatalf("%s: the raw record keeps the credential: %s", tc.name, vs[0].Raw)
			}
			found := false
			for _, d := range vs[0].Message.Details {
				if strings.Contains(d.Value, tc.secret) {
					t.Fatalf("%s: detail %s keeps the credential", tc.name, d.Name)
				}
				found = found || strings.HasPrefix(d.Value, "redacted sha256:")
			}
			if !found || !strings.Contains(vs[0].Raw, "redacted sha256:") {
				t.Fatalf("%s: no digest of the credential kept: %+v", tc.name, vs[0].Message.Details)
			}
		}
	}
	// A suite callback for another suite is refused, like any wrong receive id.
	other, _ := callback.NewCrypter(token, aesKey, "wwsomeoneelse")
	e.cr = other
	if code, _ := e.post(cases[0].doc); code != 400 {
		t.Fatalf("a callback for another suite: %d", code)
	}
}

// sourceIDOf finds the source id of the one suite event of that InfoType.
func sourceIDOf(t *testing.T, e *env, info string) string {
	t.Helper()
	var ids []string
	err := e.r.Store.Messages(context.Background(), 1, 1<<62, func(m store.MessageRow) error {
		if m.SourceType == "suite:"+info {
			ids = append(ids, m.SourceID)
		}
		return nil
	})
	if err != nil || len(ids) != 1 {
		t.Fatalf("suite:%s: %d messages, %v", info, len(ids), err)
	}
	return ids[0]
}

// TestReceiverKeepsOddTimes: a message or event whose CreateTime is
// missing, 0 or unreadable is archived at capture time, marked unknown,
// with a decode warning — not refused.
func TestReceiverKeepsOddTimes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	var outcomes []string
	e.rcv.OnEvent = func(o, _, detail string) { outcomes = append(outcomes, o+":"+detail) }
	docs := map[string]string{
		"3001": "<xml><ToUserName>" + corpID + "</ToUserName><FromUserName>zhangwei</FromUserName><CreateTime>0</CreateTime><MsgType>text</MsgType><Content>零时</Content><MsgId>3001</MsgId></xml>",
		"3002": "<xml><ToUserName>" + corpID + "</ToUserName><FromUserName>zhangwei</FromUserName><MsgType>text</MsgType><Content>无时</Content><MsgId>3002</MsgId></xml>",
		"3003": "<xml><ToUserName>" + corpID + "</ToUserName><FromUserName>zhangwei</FromUserName><CreateTime>yesterday</CreateTime><MsgType>text</MsgType><Content>昨天</Content><MsgId>3003</MsgId></xml>",
	}
	u, uctx := archivetest.App(ctx, e.r)
	for id, doc := range docs {
		if code, body := e.post(doc); code != 200 {
			t.Fatalf("%s: %d %q", id, code, body)
		}
		m, _ := e.message(id)
		if m.SentAt.Millis() != e.clock().UnixMilli() {
			t.Fatalf("%s filed at %s, want the capture time", id, m.SentAt)
		}
		vs, err := u.MessagesBySerial(uctx, m.Serial)
		if err != nil || !vs[0].Message.TimeUnknown {
			t.Fatalf("%s: not marked time unknown (%v)", id, err)
		}
		if w := vs[0].Message.Details; len(w) == 0 || w[0].Name != "decode_warning" || !strings.HasPrefix(w[0].Value, "CreateTime:") {
			t.Fatalf("%s details %+v", id, w)
		}
	}
	if !strings.Contains(strings.Join(outcomes, "\n"), "decode_warning:archived with fields set aside: CreateTime") {
		t.Fatalf("outcomes %v: no decode warning", outcomes)
	}
	// Searchable like any other message.
	if res, err := u.Search(uctx, app.SearchOptions{Query: "零时"}); err != nil || res.Total != 1 {
		t.Fatalf("search: %+v %v", res, err)
	}
}
