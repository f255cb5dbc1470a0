package msgaudit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

const testSource = "wecom-archive:ww1234"

// testOpts' clock is fixed, so a message filed at its capture time decodes
// the same every time.
var testOpts = Options{Source: testSource, Now: func() time.Time { return time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC) }}

// fixtureLines returns the lines of testdata/all-types.jsonl keyed by the
// msgid prefix before the first "_" ("fx0001"), and in file order.
func fixtureLines(t testing.TB) (map[string][]byte, [][]byte) {
	t.Helper()
	f, err := os.Open("testdata/all-types.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byID := map[string][]byte{}
	var all [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), MaxLineBytes)
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		var head struct {
			MsgID string `json:"msgid"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			t.Fatalf("fixture line %d: %v", len(all)+1, err)
		}
		id, _, _ := strings.Cut(head.MsgID, "_")
		byID[id] = line
		all = append(all, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return byID, all
}

type wantAtt struct {
	role, ref, md5 string
	size           int64
	name           string
}

type fixtureCase struct {
	id       string // msgid prefix
	kind     archive.Kind
	srcType  string
	action   archive.Action
	sender   string
	conv     string
	convKind archive.ConversationKind
	dir      archive.Direction
	sentAt   int64    // ms
	text     []string // substrings Text must contain, in this order
	noText   bool     // Text must be empty
	atts     []wantAtt
	refersTo string
	consent  *archive.Consent
	details  []archive.Detail // must appear in Details, in this order
}

const (
	directZW  = "direct:wmExtClient001|zhangwei"
	directBot = "direct:wb0000robot01|wmExtClient001"
)

var fixtureCases = []fixtureCase{
	{id: "fx0001", kind: archive.KindText, srcType: "text", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000060000,
		text: []string{"王总您好，关于上周说的那只基金，我下午把资料发您。"}},
	{id: "fx0002", kind: archive.KindText, srcType: "text", action: archive.ActionSend, sender: "wmExtClient001", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionInbound, sentAt: 1700000120000,
		text: []string{"OK thanks, please also send the fee schedule."}},
	{id: "fx0003", kind: archive.KindImage, srcType: "image", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000180000,
		noText:  true,
		atts:    []wantAtt{{role: "image", ref: "SDKFILEID-IMAGE-0003", md5: "50de8e5ae8ffe4f1df7a93841f71993a", size: 70961}},
		details: []archive.Detail{{Name: "size_bytes", Value: "70961"}}},
	{id: "fx0004", kind: archive.KindFile, srcType: "file", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000240000,
		text:    []string{"产品说明书.pdf"},
		atts:    []wantAtt{{role: "file", ref: "SDKFILEID-FILE-0004", md5: "18e93fc2ea884df23b3b2d3e7f0e1a11", size: 18181, name: "产品说明书.pdf"}},
		details: []archive.Detail{{Name: "file_name", Value: "产品说明书.pdf"}, {Name: "file_ext", Value: "pdf"}, {Name: "size_bytes", Value: "18181"}}},
	{id: "fx0005", kind: archive.KindText, srcType: "text", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000300000,
		text: []string{"保本保收益", "年化8%"}},
	{id: "fx0006", kind: archive.KindRevoke, srcType: "revoke", action: archive.ActionRecall, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000360000,
		noText: true, refersTo: "fx0005_1700000005",
		details: []archive.Detail{{Name: "pre_msgid", Value: "fx0005_1700000005"}}},
	{id: "fx0007", kind: archive.KindAgree, srcType: "agree", action: archive.ActionSend, sender: "wmExtClient001", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionInbound, sentAt: 1700000420000,
		noText:  true,
		consent: &archive.Consent{ExternalID: "wmExtClient001", Agreed: true, At: archive.MillisTime(1700000420000)},
		details: []archive.Detail{{Name: "userid", Value: "wmExtClient001"}, {Name: "agree_time", Value: "2023-11-15T06:20:20+08:00"}}},
	{id: "fx0008", kind: archive.KindDisagree, srcType: "disagree", action: archive.ActionSend, sender: "wmExtClient002", conv: "direct:wmExtClient002|zhangwei", convKind: archive.ConversationDirect, dir: archive.DirectionInbound, sentAt: 1700000480000,
		noText:  true,
		consent: &archive.Consent{ExternalID: "wmExtClient002", Agreed: false, At: archive.MillisTime(1700000480000)},
		details: []archive.Detail{{Name: "userid", Value: "wmExtClient002"}, {Name: "disagree_time", Value: "2023-11-15T06:21:20+08:00"}}},
	{id: "fx0009", kind: archive.KindVoice, srcType: "voice", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000540000,
		noText:  true,
		atts:    []wantAtt{{role: "voice", ref: "SDKFILEID-VOICE-0009", md5: "9db09ce3e34b6ec0ba3c0b8c3e4e6f31", size: 6810}},
		details: []archive.Detail{{Name: "duration_s", Value: "10"}, {Name: "size_bytes", Value: "6810"}, {Name: "format", Value: "AMR"}}},
	{id: "fx0010", kind: archive.KindVideo, srcType: "video", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000600000,
		noText:  true,
		atts:    []wantAtt{{role: "video", ref: "SDKFILEID-VIDEO-0010", md5: "d06fc80c01d6fbffcca3b229ba41eac6", size: 15169724}},
		details: []archive.Detail{{Name: "duration_s", Value: "108"}, {Name: "size_bytes", Value: "15169724"}}},
	{id: "fx0011", kind: archive.KindCard, srcType: "card", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000660000,
		text:    []string{"微信联系人"},
		details: []archive.Detail{{Name: "corpname", Value: "微信联系人"}, {Name: "userid", Value: "wmGAgeDQAAGjFmfnP7A3j2JxQDdLNhSw"}}},
	{id: "fx0012", kind: archive.KindLocation, srcType: "location", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000720000,
		text: []string{"国贸中心", "北京市朝阳区建国路88号"},
		details: []archive.Detail{{Name: "title", Value: "国贸中心"}, {Name: "address", Value: "北京市朝阳区建国路88号"},
			{Name: "latitude", Value: "39.911125799"}, {Name: "longitude", Value: "116.586285899"}, {Name: "zoom", Value: "15"}}},
	{id: "fx0013", kind: archive.KindEmotion, srcType: "emotion", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000780000,
		noText:  true,
		atts:    []wantAtt{{role: "emotion", ref: "SDKFILEID-EMOTION-0013", md5: "94c2b0bba52ae74cb6ef0b6e4e7f9a0d", size: 962604}},
		details: []archive.Detail{{Name: "emotion_type", Value: "gif (1)"}, {Name: "width", Value: "290"}, {Name: "height", Value: "290"}}},
	{id: "fx0014", kind: archive.KindLink, srcType: "link", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000840000,
		text:    []string{"2024年第三季度市场展望", "研究所最新报告", "https://example.com/report/q3"},
		details: []archive.Detail{{Name: "title", Value: "2024年第三季度市场展望"}, {Name: "description", Value: "研究所最新报告"}, {Name: "url", Value: "https://example.com/report/q3"}}},
	{id: "fx0015", kind: archive.KindWeapp, srcType: "weapp", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000900000,
		text:    []string{"开户小程序", "三分钟在线开户", "证券开户"},
		details: []archive.Detail{{Name: "title", Value: "开户小程序"}, {Name: "app_name", Value: "证券开户"}}},
	{id: "fx0016", kind: archive.KindChatRecord, srcType: "chatrecord", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700000960000,
		text: []string{"群聊的聊天记录", "明天开盘前加仓"},
		atts: []wantAtt{{role: "item[1]", ref: "SDKFILEID-CR-IMG-0016", md5: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", size: 1234}},
		// item msgtimes are seconds: 1700000900 s is 2023-11-15 06:28:20 in Beijing.
		details: []archive.Detail{{Name: "title", Value: "群聊的聊天记录"}, {Name: "items", Value: "2"},
			{Name: "first_item_time", Value: "2023-11-15T06:28:20+08:00"}, {Name: "last_item_time", Value: "2023-11-15T06:29:20+08:00"}}},
	{id: "fx0017", kind: archive.KindTodo, srcType: "todo", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001020000,
		text:    []string{"客户回访", "周五前回访王总"},
		details: []archive.Detail{{Name: "title", Value: "客户回访"}, {Name: "content", Value: "周五前回访王总"}}},
	{id: "fx0018", kind: archive.KindVote, srcType: "vote", action: archive.ActionSend, sender: "zhangwei", conv: "wrRoomSales01", convKind: archive.ConversationGroup, dir: archive.DirectionInternal, sentAt: 1700001080000,
		text: []string{"下次路演时间", "周一", "周三"},
		details: []archive.Detail{{Name: "title", Value: "下次路演时间"}, {Name: "option", Value: "周一"}, {Name: "option", Value: "周三"},
			{Name: "vote_type", Value: "发起投票 (101)"}, {Name: "vote_id", Value: "vote-0018"}}},
	{id: "fx0019", kind: archive.KindCollect, srcType: "collect", action: archive.ActionSend, sender: "zhangwei", conv: "wrRoomSales01", convKind: archive.ConversationGroup, dir: archive.DirectionInternal, sentAt: 1700001140000,
		text: []string{"客户风险测评", "销售一组", "可承受最大亏损", "投资年限"},
		details: []archive.Detail{{Name: "title", Value: "客户风险测评"}, {Name: "room_name", Value: "销售一组"}, {Name: "creator", Value: "zhangwei"},
			{Name: "create_time", Value: "2023-11-14T10:21:22+08:00"}, {Name: "question", Value: "可承受最大亏损"}, {Name: "question", Value: "投资年限"}}},
	{id: "fx0020", kind: archive.KindRedPacket, srcType: "redpacket", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001200000,
		text: []string{"恭喜发财，大吉大利"},
		details: []archive.Detail{{Name: "redpacket_type", Value: "普通红包 (1)"}, {Name: "total_count", Value: "1"},
			{Name: "amount", Value: "30.00 元"}, {Name: "amount_fen", Value: "3000"}}},
	{id: "fx0021", kind: archive.KindMeeting, srcType: "meeting", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001260000,
		text: []string{"季度复盘"},
		// starttime/endtime are seconds.
		details: []archive.Detail{{Name: "topic", Value: "季度复盘"}, {Name: "start", Value: "2023-11-16T06:13:20+08:00"},
			{Name: "end", Value: "2023-11-16T07:13:20+08:00"}, {Name: "meeting_type", Value: "发起会议邀请 (101)"}, {Name: "meeting_id", Value: "1210342560"}}},
	{id: "fx0022", kind: archive.KindSwitch, srcType: "switch", action: archive.ActionSwitch, sender: "zhangwei", conv: "", convKind: archive.ConversationNone, dir: archive.DirectionNone, sentAt: 1700001320000,
		noText:  true,
		details: []archive.Detail{{Name: "user", Value: "zhangwei"}}},
	{id: "fx0023", kind: archive.KindDocMsg, srcType: "docmsg", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001380000,
		text:    []string{"客户持仓明细"},
		details: []archive.Detail{{Name: "title", Value: "客户持仓明细"}, {Name: "url", Value: "https://doc.weixin.qq.com/txdoc/excel?docid=demo"}}},
	{id: "fx0024", kind: archive.KindMarkdown, srcType: "markdown", action: archive.ActionSend, sender: "wb0000robot01", conv: directBot, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001440000,
		text:    []string{"**提醒**：请前往系统查看，谢谢。"},
		details: []archive.Detail{{Name: "format", Value: "markdown"}}},
	{id: "fx0025", kind: archive.KindNews, srcType: "news", action: archive.ActionSend, sender: "wb0000robot01", conv: directBot, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001500000,
		text:    []string{"今日市场快讯", "沪指收涨"},
		details: []archive.Detail{{Name: "title", Value: "今日市场快讯"}, {Name: "url", Value: "https://example.com/news/1"}}},
	{id: "fx0026", kind: archive.KindCalendar, srcType: "calendar", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001560000,
		text: []string{"客户面谈", "公司会议室", "带上合同", "王总", "lina"},
		details: []archive.Detail{{Name: "title", Value: "客户面谈"}, {Name: "attendee", Value: "王总"}, {Name: "attendee", Value: "lina"},
			{Name: "start", Value: "2023-11-17T06:13:20+08:00"}, {Name: "end", Value: "2023-11-17T07:13:20+08:00"}, {Name: "place", Value: "公司会议室"}}},
	{id: "fx0027", kind: archive.KindMixed, srcType: "mixed", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001620000,
		text:    []string{"您看下这张图[微笑]"},
		atts:    []wantAtt{{role: "item[1]", ref: "SDKFILEID-MIXED-IMG-0027", md5: "aa11bb22cc33dd44ee55ff6677889900", size: 2048}},
		details: []archive.Detail{{Name: "items", Value: "2"}}},
	{id: "fx0028", kind: archive.KindVoip, srcType: "meeting_voice_call", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001680000,
		text: []string{"方案.pptx"},
		atts: []wantAtt{{role: "voip", ref: "SDKFILEID-CALL-0028"}},
		details: []archive.Detail{{Name: "voice_id", Value: "grb8a4c48a3c094a70982c518d55e40557"}, {Name: "end", Value: "2023-11-15T07:13:20+08:00"},
			{Name: "demo_file", Value: "方案.pptx"}, {Name: "screen_share", Value: "zhangwei"}}},
	{id: "fx0029", kind: archive.KindFile, srcType: "voip_doc_share", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001740000,
		text:    []string{"欢迎使用微盘.pdf"},
		atts:    []wantAtt{{role: "file", ref: "SDKFILEID-VOIPDOC-0029", md5: "ff893900f24e55e216e617a40e5c4648", size: 4400654, name: "欢迎使用微盘.pdf"}},
		details: []archive.Detail{{Name: "voip_id", Value: "gr2751c98b19300571f8afb3b74514bd32"}, {Name: "file_name", Value: "欢迎使用微盘.pdf"}}},
	{id: "fx0030", kind: archive.KindRedPacket, srcType: "external_redpacket", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001800000,
		text:    []string{"新年快乐"},
		details: []archive.Detail{{Name: "redpacket_type", Value: "拼手气群红包 (2)"}, {Name: "total_count", Value: "2"}, {Name: "amount", Value: "0.20 元"}, {Name: "amount_fen", Value: "20"}}},
	{id: "fx0031", kind: archive.KindSphFeed, srcType: "sphfeed", action: archive.ActionSend, sender: "zhangwei", conv: directZW, convKind: archive.ConversationDirect, dir: archive.DirectionOutbound, sentAt: 1700001860000,
		text:    []string{"财经观察", "今日美股复盘"},
		details: []archive.Detail{{Name: "feed_type", Value: "4"}, {Name: "sph_name", Value: "财经观察"}}},
	{id: "fx0032", kind: archive.KindText, srcType: "text", action: archive.ActionSend, sender: "zhangwei", conv: "wrRoomSales01", convKind: archive.ConversationGroup, dir: archive.DirectionOutbound, sentAt: 1700001920000,
		text: []string{"大家注意，明天早上九点开晨会。"}},
}

func TestDecodeFixture(t *testing.T) {
	byID, all := fixtureLines(t)
	if len(all) != 32 || len(fixtureCases) != len(all) {
		t.Fatalf("fixture has %d lines, table %d cases: every line needs a case", len(all), len(fixtureCases))
	}
	covered := map[string]bool{}
	for _, tc := range fixtureCases {
		t.Run(tc.id+"_"+tc.srcType, func(t *testing.T) {
			line, ok := byID[tc.id]
			if !ok {
				t.Fatalf("no fixture line %s", tc.id)
			}
			covered[tc.id] = true
			m, err := Decode(line, testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var head struct {
				MsgID string `json:"msgid"`
			}
			_ = json.Unmarshal(line, &head)
			if m.SourceID != head.MsgID || !strings.HasPrefix(m.SourceID, tc.id) {
				t.Errorf("SourceID = %q, want %q", m.SourceID, head.MsgID)
			}
			if m.Schema != archive.RecordSchema || m.Source != testSource {
				t.Errorf("Schema, Source = %d, %q", m.Schema, m.Source)
			}
			if m.Kind != tc.kind || m.SourceType != tc.srcType || m.Action != tc.action {
				t.Errorf("Kind, SourceType, Action = %q, %q, %q; want %q, %q, %q", m.Kind, m.SourceType, m.Action, tc.kind, tc.srcType, tc.action)
			}
			if m.Sender != tc.sender {
				t.Errorf("Sender = %q, want %q", m.Sender, tc.sender)
			}
			if m.Conversation != tc.conv || m.ConversationKind != tc.convKind {
				t.Errorf("Conversation = %q (%q), want %q (%q)", m.Conversation, m.ConversationKind, tc.conv, tc.convKind)
			}
			if m.Direction != tc.dir {
				t.Errorf("Direction = %q, want %q", m.Direction, tc.dir)
			}
			if m.SentAt.Millis() != tc.sentAt {
				t.Errorf("SentAt = %d (%s), want %d", m.SentAt.Millis(), m.SentAt, tc.sentAt)
			}
			checkText(t, m.Text, tc.text, tc.noText)
			checkAtts(t, m.Attachments, tc.atts)
			if m.RefersTo != tc.refersTo {
				t.Errorf("RefersTo = %q, want %q", m.RefersTo, tc.refersTo)
			}
			if !reflect.DeepEqual(m.Consent, tc.consent) {
				t.Errorf("Consent = %+v, want %+v", m.Consent, tc.consent)
			}
			if tc.kind != archive.KindText && len(m.Details) == 0 {
				t.Errorf("no Details for kind %s", tc.kind)
			}
			checkDetails(t, m.Details, tc.details)
			checkParticipants(t, m)
		})
	}
	for id := range byID {
		if !covered[id] {
			t.Errorf("fixture line %s has no case", id)
		}
	}
}

func checkText(t *testing.T, text string, want []string, empty bool) {
	t.Helper()
	if empty {
		if text != "" {
			t.Errorf("Text = %q, want empty", text)
		}
		return
	}
	if len(want) == 0 {
		t.Fatal("test case names no text")
	}
	rest := text
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("Text = %q: want %q (after the previous parts)", text, w)
			return
		}
		rest = rest[i+len(w):]
	}
}

func checkAtts(t *testing.T, got []archive.Attachment, want []wantAtt) {
	t.Helper()
	if got == nil {
		t.Errorf("Attachments is nil, want a (possibly empty) slice")
	}
	if len(got) != len(want) {
		t.Fatalf("%d attachments %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Role != w.role || g.SourceRef != w.ref || g.SourceMD5 != w.md5 || g.DeclaredSize != w.size || g.FileName != w.name {
			t.Errorf("attachment %d = role %q ref %q md5 %q size %d name %q; want %+v", i, g.Role, g.SourceRef, g.SourceMD5, g.DeclaredSize, g.FileName, w)
		}
		if g.Status != archive.AttachmentPending || !g.Blob.IsZero() || g.Size != 0 || g.MediaType != "" {
			t.Errorf("attachment %d: status %q blob %s size %d media type %q; want pending, nothing stored", i, g.Status, g.Blob, g.Size, g.MediaType)
		}
	}
}

// checkDetails asserts want is a subsequence of got.
func checkDetails(t *testing.T, got, want []archive.Detail) {
	t.Helper()
	j := 0
	for _, g := range got {
		if j < len(want) && g == want[j] {
			j++
		}
	}
	if j < len(want) {
		t.Errorf("Details = %v: want %v in this order (missing from %v)", got, want, want[j])
	}
	for _, g := range got {
		if g.Name == "" || g.Value == "" {
			t.Errorf("empty detail %+v", g)
		}
	}
}

func checkParticipants(t *testing.T, m *archive.Message) {
	t.Helper()
	if len(m.Participants) == 0 || m.Participants[0].ID != m.Sender {
		t.Fatalf("Participants = %v: want the sender first", m.Participants)
	}
	seen := map[string]bool{}
	for _, p := range m.Participants {
		if seen[p.ID] {
			t.Errorf("participant %q twice", p.ID)
		}
		seen[p.ID] = true
		if p.Kind != ClassifyParticipant(p.ID) {
			t.Errorf("participant %q kind %q", p.ID, p.Kind)
		}
	}
	for _, r := range m.Recipients {
		if !seen[r] {
			t.Errorf("recipient %q not a participant", r)
		}
	}
}

func TestClassifyParticipant(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want archive.ParticipantKind
	}{
		{"zhangwei", archive.ParticipantEmployee},
		{"wmExtClient001", archive.ParticipantExternal},
		{"woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA", archive.ParticipantExternal},
		{"wb0000robot01", archive.ParticipantBot},
		{"WMupper", archive.ParticipantEmployee}, // prefixes are case-sensitive
		{"w", archive.ParticipantEmployee},
		{"", archive.ParticipantEmployee},
		{"wangfang", archive.ParticipantEmployee}, // "wa" is no prefix
	} {
		if got := ClassifyParticipant(tc.id); got != tc.want {
			t.Errorf("ClassifyParticipant(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

// line builds a message line from a base envelope plus extra raw JSON
// members (later keys win over the base ones in encoding/json).
func line(extra string) []byte {
	base := `{"msgid":"t1","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000060000`
	if extra != "" {
		base += "," + extra
	}
	return []byte(base + "}")
}

func mustDecode(t *testing.T, l []byte) *archive.Message {
	t.Helper()
	m, err := Decode(l, testOpts)
	if err != nil {
		t.Fatalf("Decode(%q): %v", l, err)
	}
	return m
}

func TestDecodeUnknownMsgtypeIsSearchable(t *testing.T) {
	m := mustDecode(t, line(`"msgtype":"future_card","future_card":{"zz":"最后","aa":{"x":["第一", 3, {"k":"第二"}], "n": 5, "b": true},"mm":"中间"}`))
	if m.Kind != archive.KindUnknown || m.SourceType != "future_card" {
		t.Errorf("Kind, SourceType = %q, %q", m.Kind, m.SourceType)
	}
	if want := "第一\n第二\n中间\n最后"; m.Text != want {
		t.Errorf("Text = %q, want %q (keys sorted, arrays in order, non-strings skipped)", m.Text, want)
	}
	if len(m.Attachments) != 0 || m.Attachments == nil {
		t.Errorf("Attachments = %#v, want empty", m.Attachments)
	}

	// Without a key named after the msgtype, every non-common top-level field
	// is content; common fields (msgid, from...) are not text.
	m = mustDecode(t, line(`"msgtype":"newthing","zeta":"z text","alpha":{"k":["a text"]},"num":7`))
	if want := "a text\nz text"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}

	// Media in an unknown type is still recorded so its absence is visible.
	m = mustDecode(t, line(`"msgtype":"hologram","hologram":{"sdkfileid":"SDK-H","md5sum":"AA11BB22CC33DD44EE55FF6677889900","filesize":12,"title":"全息"}`))
	if len(m.Attachments) != 1 || m.Attachments[0].SourceRef != "SDK-H" || m.Attachments[0].Role != "media" ||
		m.Attachments[0].SourceMD5 != "aa11bb22cc33dd44ee55ff6677889900" || m.Attachments[0].DeclaredSize != 12 {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
	if !strings.Contains(m.Text, "全息") {
		t.Errorf("Text = %q", m.Text)
	}
	// ...also when the unknown type's content is flattened into the top level.
	m = mustDecode(t, line(`"msgtype":"flatmedia","sdkfileid":"SDK-F","filename":"报告.docx"`))
	if len(m.Attachments) != 1 || m.Attachments[0].SourceRef != "SDK-F" || m.Attachments[0].FileName != "报告.docx" || m.Text != "报告.docx\nSDK-F" {
		t.Errorf("Attachments = %+v, Text = %q", m.Attachments, m.Text)
	}
}

func TestDecodeRawControlCharacters(t *testing.T) {
	// DecryptData output can hold raw control bytes inside strings.
	raw := "第一行\n第二行\t制表\x01\x00\x1f\r结束"
	l := line(`"msgtype":"text","text":{"content":"` + raw + `"}`)
	orig := bytes.Clone(l)
	m := mustDecode(t, l)
	if m.Text != raw {
		t.Errorf("Text = %q, want %q", m.Text, raw)
	}
	if !bytes.Equal(l, orig) {
		t.Error("Decode modified its input")
	}
	// In a chatrecord item's content string, once unescaped.
	m = mustDecode(t, line(`"msgtype":"chatrecord","chatrecord":{"title":"t","item":[{"type":"ChatRecordText","msgtime":1700000000,"content":"{\"content\":\"a`+"\x02"+`b\nc\"}"}]}`))
	if want := "t\na\x02b\nc"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	// Control bytes between tokens are JSON whitespace (\t, \n, \r) or an error.
	if _, err := Decode([]byte("{\t\"msgid\":\"a\",\r\n\"action\":\"switch\",\"user\":\"u\",\"time\":1700000000000}"), testOpts); err != nil {
		t.Errorf("whitespace between tokens: %v", err)
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  []byte
		check func(*testing.T, *archive.Message)
	}{
		{"msgtime_as_numeric_string", line(`"msgtime":"1700000060000","msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.SentAt.Millis() != 1700000060000 {
				t.Errorf("SentAt = %s", m.SentAt)
			}
		}},
		{"msgtime_as_integral_float", line(`"msgtime":1.70000006e12,"msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.SentAt.Millis() != 1700000060000 {
				t.Errorf("SentAt = %s", m.SentAt)
			}
		}},
		{"trailing_crlf_and_leading_space", append([]byte("  "), append(line(`"msgtype":"text","text":{"content":"x"}`), "\r\n"...)...), func(t *testing.T, m *archive.Message) {
			if m.Text != "x" {
				t.Errorf("Text = %q", m.Text)
			}
		}},
		{"unknown_fields_everywhere", line(`"msgtype":"image","image":{"sdkfileid":"S","new":{"deep":[1]}},"seq":5,"publickey_ver":2`), func(t *testing.T, m *archive.Message) {
			if len(m.Attachments) != 1 || m.Attachments[0].SourceRef != "S" {
				t.Errorf("Attachments = %+v", m.Attachments)
			}
		}},
		{"duplicate_key_last_wins", line(`"msgtype":"text","text":{"content":"first"},"text":{"content":"second"}`), func(t *testing.T, m *archive.Message) {
			if m.Text != "second" {
				t.Errorf("Text = %q", m.Text)
			}
		}},
		{"msgid_suffixes_kept_verbatim", line(`"msgid":"abc_updown_stream","msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.SourceID != "abc_updown_stream" {
				t.Errorf("SourceID = %q", m.SourceID)
			}
		}},
		{"vote_flattened_to_top_level", line(`"msgtype":"vote","votetitle":"标题","voteitem":["A","B"],"votetype":102,"voteid":"v1"`), func(t *testing.T, m *archive.Message) {
			if m.Kind != archive.KindVote || m.Text != "标题\nA\nB" {
				t.Errorf("Kind, Text = %q, %q", m.Kind, m.Text)
			}
			checkDetails(t, m.Details, []archive.Detail{{Name: "vote_type", Value: "参与投票 (102)"}, {Name: "vote_id", Value: "v1"}})
		}},
		{"todo_flattened_to_top_level", line(`"msgtype":"todo","title":"待办","content":"内容"`), func(t *testing.T, m *archive.Message) {
			if m.Kind != archive.KindTodo || m.Text != "待办\n内容" {
				t.Errorf("Kind, Text = %q, %q", m.Kind, m.Text)
			}
		}},
		{"external_redpacket_under_its_own_key", line(`"msgtype":"external_redpacket","external_redpacket":{"type":3,"wish":"加油","totalcnt":5,"totalamount":12345}`), func(t *testing.T, m *archive.Message) {
			if m.Kind != archive.KindRedPacket || m.Text != "加油" {
				t.Errorf("Kind, Text = %q, %q", m.Kind, m.Text)
			}
			checkDetails(t, m.Details, []archive.Detail{{Name: "redpacket_type", Value: "激励群红包 (3)"}, {Name: "amount", Value: "123.45 元"}})
		}},
		{"md5_upper_case_is_lowered", line(`"msgtype":"image","image":{"sdkfileid":"S","md5sum":"50DE8E5AE8FFE4F1DF7A93841F71993A"}`), func(t *testing.T, m *archive.Message) {
			if m.Attachments[0].SourceMD5 != "50de8e5ae8ffe4f1df7a93841f71993a" {
				t.Errorf("SourceMD5 = %q", m.Attachments[0].SourceMD5)
			}
		}},
		{"md5_not_hex_is_kept_not_rejected", line(`"msgtype":"image","image":{"sdkfileid":"S","md5sum":"NOT-AN-MD5"}`), func(t *testing.T, m *archive.Message) {
			a := m.Attachments[0]
			if a.SourceMD5 != "NOT-AN-MD5" || a.Status != archive.AttachmentPending {
				t.Errorf("attachment = %+v", a)
			}
		}},
		{"media_without_sdkfileid_is_missing", line(`"msgtype":"video","video":{"md5sum":"d06fc80c01d6fbffcca3b229ba41eac6","filesize":10}`), func(t *testing.T, m *archive.Message) {
			a := m.Attachments[0]
			if a.Status != archive.AttachmentMissing || a.Reason != "no sdkfileid" || a.Role != "video" || a.DeclaredSize != 10 {
				t.Errorf("attachment = %+v", a)
			}
		}},
		{"sizes_as_strings", line(`"msgtype":"file","file":{"sdkfileid":"S","filename":"a.pdf","filesize":"2048"}`), func(t *testing.T, m *archive.Message) {
			if m.Attachments[0].DeclaredSize != 2048 || m.Attachments[0].FileName != "a.pdf" {
				t.Errorf("attachment = %+v", m.Attachments[0])
			}
		}},
		{"direct_with_several_recipients_sorts_all", line(`"tolist":["lina","wmB","lina"],"from":"wmA","msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.Conversation != "direct:lina|wmA|wmB" || m.Direction != archive.DirectionInbound {
				t.Errorf("Conversation, Direction = %q, %q", m.Conversation, m.Direction)
			}
			if !slices.Equal(m.Recipients, []string{"lina", "wmB", "lina"}) || len(m.Participants) != 3 {
				t.Errorf("Recipients %v Participants %v", m.Recipients, m.Participants)
			}
		}},
		{"big_group_participants_deduplicated_in_order", line(`"roomid":"wrBig","tolist":` + bigTolist(30)[:len(bigTolist(30))-1] + `,"u3","zhangwei","wmLate"],"msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if len(m.Recipients) != 33 || len(m.Participants) != 32 {
				t.Fatalf("%d recipients, %d participants", len(m.Recipients), len(m.Participants))
			}
			if m.Participants[0].ID != "zhangwei" || m.Participants[4].ID != "u3" || m.Participants[31].ID != "wmLate" ||
				m.Conversation != "wrBig" || m.ConversationKind != archive.ConversationGroup || m.Direction != archive.DirectionOutbound {
				t.Errorf("Participants %v Conversation %q Direction %q", m.Participants, m.Conversation, m.Direction)
			}
		}},
		{"direct_to_self", line(`"tolist":["zhangwei"],"msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.Conversation != "direct:zhangwei" || len(m.Participants) != 1 || m.Direction != archive.DirectionInternal {
				t.Errorf("Conversation %q Participants %v Direction %q", m.Conversation, m.Participants, m.Direction)
			}
		}},
		{"tolist_with_escaped_ids", line(`"tolist":["wm\u0041b", "li\"na" ],"msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if !slices.Equal(m.Recipients, []string{"wmAb", "li\"na"}) {
				t.Errorf("Recipients = %q", m.Recipients)
			}
		}},
		{"bot_to_employee_is_internal", line(`"from":"wbRobot","tolist":["lina"],"msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if m.Direction != archive.DirectionInternal || m.Participants[0].Kind != archive.ParticipantBot {
				t.Errorf("Direction %q Participants %v", m.Direction, m.Participants)
			}
		}},
		{"action_absent_revoke_is_recall", []byte(`{"msgid":"r","from":"a","tolist":["b"],"msgtime":1700000060000,"msgtype":"revoke","revoke":{"pre_msgid":"p"}}`), func(t *testing.T, m *archive.Message) {
			if m.Action != archive.ActionRecall || m.RefersTo != "p" {
				t.Errorf("Action, RefersTo = %q, %q", m.Action, m.RefersTo)
			}
		}},
		{"agree_without_userid_uses_from_and_seconds_time", line(`"from":"wmC","tolist":["lina"],"msgtype":"agree","agree":{"agree_time":"1700000420"}`), func(t *testing.T, m *archive.Message) {
			want := &archive.Consent{ExternalID: "wmC", Agreed: true, At: archive.MillisTime(1700000420000)}
			if !reflect.DeepEqual(m.Consent, want) {
				t.Errorf("Consent = %+v, want %+v", m.Consent, want)
			}
		}},
		{"disagree_without_time_uses_msgtime", line(`"from":"wmC","tolist":["lina"],"msgtype":"disagree","disagree":{}`), func(t *testing.T, m *archive.Message) {
			want := &archive.Consent{ExternalID: "wmC", Agreed: false, At: archive.MillisTime(1700000060000)}
			if !reflect.DeepEqual(m.Consent, want) {
				t.Errorf("Consent = %+v, want %+v", m.Consent, want)
			}
		}},
		{"collect_create_time_other_format_kept", line(`"msgtype":"collect","collect":{"title":"t","create_time":"2019/12/11 11:21"}`), func(t *testing.T, m *archive.Message) {
			checkDetails(t, m.Details, []archive.Detail{{Name: "create_time", Value: "2019/12/11 11:21"}})
		}},
		{"nested_chatrecord_roles", line(`"msgtype":"chatrecord","chatrecord":{"title":"外层","item":[` +
			`{"type":"ChatRecordText","msgtime":1700000000,"content":"{\"content\":\"一\"}"},` +
			`{"type":"chatrecord","msgtime":1700000001,"content":"{\"title\":\"内层\",\"item\":[{\"type\":\"ChatRecordText\",\"content\":\"{\\\"content\\\":\\\"二\\\"}\"},{\"type\":\"ChatRecordFile\",\"content\":\"{\\\"sdkfileid\\\":\\\"F\\\",\\\"filename\\\":\\\"f.xlsx\\\",\\\"filesize\\\":9}\"}]}"},` +
			`{"type":"ChatRecordMixed","msgtime":1700000002,"content":{"item":[{"type":"image","content":"{\"sdkfileid\":\"I\"}"}]}}]}`), func(t *testing.T, m *archive.Message) {
			if want := "外层\n一\n内层\n二\nf.xlsx"; m.Text != want {
				t.Errorf("Text = %q, want %q", m.Text, want)
			}
			if len(m.Attachments) != 2 || m.Attachments[0].Role != "item[1].item[1]" || m.Attachments[0].FileName != "f.xlsx" ||
				m.Attachments[1].Role != "item[2].item[0]" || m.Attachments[1].SourceRef != "I" {
				t.Errorf("Attachments = %+v", m.Attachments)
			}
			checkDetails(t, m.Details, []archive.Detail{{Name: "title", Value: "外层"}, {Name: "items", Value: "3"}})
		}},
		{"chatrecord_items_out_of_time_order", line(`"msgtype":"chatrecord","chatrecord":{"title":"t","item":[` +
			`{"type":"ChatRecordText","msgtime":1700000500,"content":"{}"},{"type":"ChatRecordText","msgtime":1700000100,"content":"{}"},` +
			`{"type":"ChatRecordText","msgtime":0,"content":"{}"},{"type":"ChatRecordText","msgtime":"1700000300","content":"{}"}]}`), func(t *testing.T, m *archive.Message) {
			checkDetails(t, m.Details, []archive.Detail{{Name: "items", Value: "4"},
				{Name: "first_item_time", Value: "2023-11-15T06:15:00+08:00"}, {Name: "last_item_time", Value: "2023-11-15T06:21:40+08:00"}})
		}},
		{"mixed_media_item_without_content_is_missing", line(`"msgtype":"mixed","mixed":{"item":[{"type":"image"}]}`), func(t *testing.T, m *archive.Message) {
			if len(m.Attachments) != 1 || m.Attachments[0].Status != archive.AttachmentMissing || m.Attachments[0].Role != "item[0]" {
				t.Errorf("Attachments = %+v", m.Attachments)
			}
		}},
		{"calendar_attendee_single_string", line(`"msgtype":"calendar","calendar":{"title":"会","attendeename":"王总"}`), func(t *testing.T, m *archive.Message) {
			if m.Text != "会\n王总" {
				t.Errorf("Text = %q", m.Text)
			}
		}},
		{"demofiledata_single_object", line(`"msgtype":"meeting_voice_call","meeting_voice_call":{"sdkfileid":"V","demofiledata":{"filename":"a.ppt"}}`), func(t *testing.T, m *archive.Message) {
			if m.Text != "a.ppt" || m.Attachments[0].Role != "voip" {
				t.Errorf("Text %q Attachments %+v", m.Text, m.Attachments)
			}
		}},
		{"switch_without_action_user_set", []byte(`{"msgid":"s","time":1700001320000,"user":"lina"}`), func(t *testing.T, m *archive.Message) {
			if m.Kind != archive.KindSwitch || m.Sender != "lina" || m.Conversation != "" {
				t.Errorf("Kind %q Sender %q Conversation %q", m.Kind, m.Sender, m.Conversation)
			}
		}},
		{"text_exactly_at_MaxTextBytes", line(`"msgtype":"text","text":{"content":"` + strings.Repeat("a", MaxTextBytes) + `"}`), func(t *testing.T, m *archive.Message) {
			if len(m.Text) != MaxTextBytes {
				t.Errorf("len(Text) = %d", len(m.Text))
			}
		}},
		{"id_exactly_at_MaxIDBytes", line(`"msgid":"` + strings.Repeat("m", MaxIDBytes) + `","msgtype":"text","text":{"content":"x"}`), func(t *testing.T, m *archive.Message) {
			if len(m.SourceID) != MaxIDBytes {
				t.Errorf("len(SourceID) = %d", len(m.SourceID))
			}
		}},
		{"unknown_type_nested_thousands_deep", line(`"msgtype":"x","x":` + strings.Repeat(`["s",`, 5000) + `"z"` + strings.Repeat("]", 5000)), func(t *testing.T, m *archive.Message) {
			if want := strings.Repeat("s\n", 5000) + "z"; m.Text != want {
				t.Errorf("Text has %d bytes, want %d", len(m.Text), len(want))
			}
		}},
		{"escaped_lone_surrogate_becomes_replacement_char", line(`"msgtype":"text","text":{"content":"a\ud800b"}`), func(t *testing.T, m *archive.Message) {
			if m.Text != "a\uFFFDb" {
				t.Errorf("Text = %q", m.Text)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustDecode(t, tc.line)
			tc.check(t, m)
		})
	}
}

// rejectCase is a line with one injected fault and the field the error must
// name.
type rejectCase struct {
	name   string // the fault
	line   []byte
	field  string
	reason string // substring of Reason
}

func bigTolist(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprintf("u%d", i))
	}
	return "[" + strings.Join(ids, ",") + "]"
}

func manyItems(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"type":"text","content":"{}"}`
	}
	return strings.Join(items, ",")
}

// nestedChatRecord builds a chatrecord nested depth levels deep, each level
// a JSON string inside its parent.
func nestedChatRecord(depth int) string {
	inner := `{"title":"底","item":[]}`
	for i := 0; i < depth; i++ {
		b, _ := json.Marshal(inner)
		inner = `{"title":"层","item":[{"type":"chatrecord","content":` + string(b) + `}]}`
	}
	return inner
}

var rejectCases = []rejectCase{
	{"empty_line", []byte(""), "", "empty line"},
	{"whitespace_only_line", []byte(" \t\r\n"), "", "empty line"},
	{"line_is_json_array", []byte(`[{"msgid":"a"}]`), "", "want a JSON object, got array"},
	{"line_is_json_number", []byte(`1700000060000`), "", "got number"},
	{"line_is_json_string", []byte(`"text"`), "", "got string"},
	{"line_is_json_null", []byte(`null`), "", "got null"},
	{"trailing_garbage_after_object", append(line(`"msgtype":"text","text":{"content":"x"}`), " garbage"...), "", "invalid JSON"},
	{"two_objects_on_one_line", append(line(`"msgtype":"text","text":{"content":"x"}`), line(`"msgtype":"text","text":{"content":"y"}`)...), "", "invalid JSON"},
	{"truncated_object", line(`"msgtype":"text","text":{"content":"x"}`)[:40], "", "invalid JSON"},
	{"line_over_MaxLineBytes", line(`"msgtype":"text","text":{"content":"` + strings.Repeat("x", MaxLineBytes) + `"}`), "", "MaxLineBytes"},
	{"invalid_utf8_byte_in_string", []byte("{\"msgid\":\"a\xffb\"}"), "", "invalid UTF-8 at byte offset 11"},
	{"invalid_utf8_overlong_encoding", []byte("{\"msgid\":\"\xc0\xaf\"}"), "", "invalid UTF-8 at byte offset 10"},
	{"invalid_utf8_encoded_surrogate", []byte("  {\"msgid\":\"\xed\xa0\x80\"}"), "", "invalid UTF-8 at byte offset 12"},
	{"invalid_utf8_truncated_sequence_at_end", []byte("{\"msgid\":\"a\"}\xe4\xb8"), "", "invalid UTF-8 at byte offset 13"},
	{"utf8_bom_before_object", []byte("\ufeff{\"msgid\":\"a\"}"), "", "invalid JSON"},
	{"control_byte_outside_string", []byte("{\"msgid\":\"a\",\x01\"action\":\"send\"}"), "", "invalid JSON at byte offset 13"},
	{"control_byte_after_backslash", []byte("{\"msgid\":\"a\\\x01\"}"), "", "invalid JSON"},
	{"syntax_error_offset_after_escaped_control_bytes", []byte("{\"msgid\":\"a\x01\x02\",]"), "", "invalid JSON at byte offset 15"},

	{"missing_msgid", []byte(`{"action":"send","from":"a","tolist":["b"],"msgtime":1700000060000,"msgtype":"text","text":{"content":"x"}}`), "msgid", "missing"},
	{"empty_msgid", line(`"msgid":"","msgtype":"text","text":{"content":"x"}`), "msgid", "missing"},
	{"msgid_is_number", line(`"msgid":12,"msgtype":"text","text":{"content":"x"}`), "msgid", "want a string, got number"},
	{"msgid_over_MaxIDBytes", line(`"msgid":"` + strings.Repeat("m", MaxIDBytes+1) + `","msgtype":"text","text":{"content":"x"}`), "msgid", "MaxIDBytes"},
	{"missing_from", []byte(`{"msgid":"a","action":"send","tolist":["b"],"msgtime":1700000060000,"msgtype":"text","text":{"content":"x"}}`), "from", "missing"},
	{"from_is_array", line(`"from":["a"],"msgtype":"text","text":{"content":"x"}`), "from", "want a string, got array"},
	{"from_over_MaxIDBytes", line(`"from":"` + strings.Repeat("f", MaxIDBytes+1) + `","msgtype":"text","text":{"content":"x"}`), "from", "MaxIDBytes"},
	{"tolist_is_string", line(`"tolist":"lina","msgtype":"text","text":{"content":"x"}`), "tolist", "want an array of strings"},
	{"tolist_is_object", line(`"tolist":{"a":"b"},"msgtype":"text","text":{"content":"x"}`), "tolist", "want an array of strings"},
	{"tolist_element_is_number", line(`"tolist":["lina",7],"msgtype":"text","text":{"content":"x"}`), "tolist[1]", "want a string, got number 7"},
	{"tolist_element_is_empty", line(`"tolist":["lina",""],"msgtype":"text","text":{"content":"x"}`), "tolist[1]", "empty id"},
	{"tolist_element_over_MaxIDBytes", line(`"tolist":["` + strings.Repeat("t", MaxIDBytes+1) + `"],"msgtype":"text","text":{"content":"x"}`), "tolist[0]", "MaxIDBytes"},
	{"tolist_over_MaxRecipients", line(`"tolist":` + bigTolist(MaxRecipients+1) + `,"msgtype":"text","text":{"content":"x"}`), "tolist", "MaxRecipients"},
	{"roomid_over_MaxIDBytes", line(`"roomid":"` + strings.Repeat("r", MaxIDBytes+1) + `","msgtype":"text","text":{"content":"x"}`), "roomid", "MaxIDBytes"},
	{"roomid_is_number", line(`"roomid":5,"msgtype":"text","text":{"content":"x"}`), "roomid", "want a string"},
	{"msgtype_over_MaxIDBytes", line(`"msgtype":"` + strings.Repeat("y", MaxIDBytes+1) + `"`), "msgtype", "MaxIDBytes"},

	{"switch_missing_user", []byte(`{"msgid":"s","action":"switch","time":1700001320000}`), "user", "missing"},
	{"switch_user_over_MaxIDBytes", []byte(`{"msgid":"s","action":"switch","time":1700001320000,"user":"` + strings.Repeat("u", MaxIDBytes+1) + `"}`), "user", "MaxIDBytes"},

	{"text_over_MaxTextBytes", line(`"msgtype":"text","text":{"content":"` + strings.Repeat("a", MaxTextBytes+1) + `"}`), "text.content", "MaxTextBytes"},
	{"mixed_items_over_MaxItems", line(`"msgtype":"mixed","mixed":{"item":[` + manyItems(MaxItems+1) + `]}`), "mixed.item", "MaxItems"},
	{"chatrecord_nested_over_MaxNesting", line(`"msgtype":"chatrecord","chatrecord":` + nestedChatRecord(MaxNesting+1)), nestedPath(MaxNesting), "MaxNesting"},
	{"unknown_type_nested_text_over_MaxTextBytes", line(`"msgtype":"later","later":{"z":[{"k":"` + strings.Repeat("a", MaxTextBytes/2+1) + `"},{"k":["` + strings.Repeat("b", MaxTextBytes/2+1) + `"]}]}`), "later.z[1].k[0]", "MaxTextBytes"},
	{"unknown_type_text_over_MaxTextBytes", line(`"msgtype":"later","later":{"a":"` + strings.Repeat("a", MaxTextBytes/2+1) + `","b":"` + strings.Repeat("b", MaxTextBytes/2+1) + `"}`), "later.b", "MaxTextBytes"},
}

// keptCases were refused before "keep, don't refuse" (keep.go): a line that
// is a message is archived with the faulty field set aside, and a
// decode_warning naming the field and the fault.
var keptCases = []rejectCase{
	{"action_unknown", line(`"action":"edit","msgtype":"text","text":{"content":"x"}`), "action", `got "edit"`},
	{"action_is_number", line(`"action":1,"msgtype":"text","text":{"content":"x"}`), "action", "want a string"},
	{"missing_msgtime", []byte(`{"msgid":"a","action":"send","from":"a","tolist":["b"],"msgtype":"text","text":{"content":"x"}}`), "msgtime", "missing"},
	{"msgtime_null", line(`"msgtime":null,"msgtype":"text","text":{"content":"x"}`), "msgtime", "missing"},
	{"msgtime_non_numeric_string", line(`"msgtime":"abc","msgtype":"text","text":{"content":"x"}`), "msgtime", `want a number of milliseconds, got string "abc"`},
	{"msgtime_is_boolean", line(`"msgtime":true,"msgtype":"text","text":{"content":"x"}`), "msgtime", "got boolean"},
	{"msgtime_is_object", line(`"msgtime":{"ms":1},"msgtype":"text","text":{"content":"x"}`), "msgtime", "got object"},
	{"msgtime_has_fraction", line(`"msgtime":1700000060000.5,"msgtype":"text","text":{"content":"x"}`), "msgtime", "got number 1700000060000.5"},
	{"msgtime_negative", line(`"msgtime":-1700000060000,"msgtype":"text","text":{"content":"x"}`), "msgtime", "between 2000 and 2100"},
	{"msgtime_in_seconds_not_ms", line(`"msgtime":1700000060,"msgtype":"text","text":{"content":"x"}`), "msgtime", "between 2000 and 2100"},
	{"msgtime_before_2000", line(`"msgtime":946684799999,"msgtype":"text","text":{"content":"x"}`), "msgtime", "between 2000 and 2100"},
	{"msgtime_after_2100", line(`"msgtime":4102444800000,"msgtype":"text","text":{"content":"x"}`), "msgtime", "between 2000 and 2100"},
	{"msgtime_overflows_int64", line(`"msgtime":99999999999999999999999,"msgtype":"text","text":{"content":"x"}`), "msgtime", "want a number of milliseconds"},
	{"missing_msgtype", line(`"text":{"content":"x"}`), "msgtype", "missing"},
	{"msgtype_is_number", line(`"msgtype":1`), "msgtype", "want a string"},
	{"switch_missing_time", []byte(`{"msgid":"s","action":"switch","user":"u"}`), "time", "missing"},
	{"switch_time_non_numeric_string", []byte(`{"msgid":"s","action":"switch","user":"u","time":"abc"}`), "time", `got string "abc"`},
	{"text_content_object_missing", line(`"msgtype":"text"`), "text", "missing"},
	{"text_content_not_object", line(`"msgtype":"text","text":"hello"`), "text", `want an object, got string "hello"`},
	{"text_content_null", line(`"msgtype":"text","text":null`), "text", "got null"},
	{"text_content_field_is_number", line(`"msgtype":"text","text":{"content":5}`), "text.content", "want a string, got number"},
	{"image_filesize_negative", line(`"msgtype":"image","image":{"sdkfileid":"S","filesize":-1}`), "image.filesize", "want a size in bytes, got -1"},
	{"image_filesize_is_boolean", line(`"msgtype":"image","image":{"sdkfileid":"S","filesize":true}`), "image.filesize", "got boolean"},
	{"image_sdkfileid_is_number", line(`"msgtype":"image","image":{"sdkfileid":5}`), "image.sdkfileid", "want a string"},
	{"voice_size_non_numeric", line(`"msgtype":"voice","voice":{"sdkfileid":"S","voice_size":"big"}`), "voice.voice_size", `got string "big"`},
	{"location_latitude_not_a_number", line(`"msgtype":"location","location":{"latitude":"north","longitude":1}`), "location.latitude", "want a number"},
	{"revoke_pre_msgid_missing", line(`"action":"recall","msgtype":"revoke","revoke":{}`), "revoke.pre_msgid", "missing"},
	{"revoke_pre_msgid_empty", line(`"action":"recall","msgtype":"revoke","revoke":{"pre_msgid":""}`), "revoke.pre_msgid", "missing"},
	{"revoke_pre_msgid_over_MaxIDBytes", line(`"action":"recall","msgtype":"revoke","revoke":{"pre_msgid":"` + strings.Repeat("p", MaxIDBytes+1) + `"}`), "revoke.pre_msgid", "MaxIDBytes"},
	{"agree_time_garbage", line(`"msgtype":"agree","agree":{"userid":"wmA","agree_time":"yesterday"}`), "agree.agree_time", `got string "yesterday"`},
	{"agree_time_after_2100", line(`"msgtype":"agree","agree":{"userid":"wmA","agree_time":5000000000000}`), "agree.agree_time", "between 2000 and 2100"},
	{"agree_userid_over_MaxIDBytes", line(`"msgtype":"agree","agree":{"userid":"` + strings.Repeat("w", MaxIDBytes+1) + `"}`), "agree.userid", "MaxIDBytes"},
	{"redpacket_totalamount_is_object", line(`"msgtype":"redpacket","redpacket":{"totalamount":{}}`), "redpacket.totalamount", "got object"},
	{"vote_item_is_number", line(`"msgtype":"vote","vote":{"votetitle":"t","voteitem":["a",2]}`), "vote.voteitem[1]", "want a string, got number 2"},
	{"vote_content_is_array", line(`"msgtype":"vote","vote":[]`), "vote", "want an object, got array"},
	{"news_item_not_object", line(`"msgtype":"news","info":{"item":["x"]}`), "info.item[0]", "want an object"},
	{"news_item_title_is_number", line(`"msgtype":"news","info":{"item":[{"title":"ok"},{"title":1}]}`), "info.item[1].title", "want a string"},
	{"calendar_attendee_is_number", line(`"msgtype":"calendar","calendar":{"attendeename":[3]}`), "calendar.attendeename[0]", "want a string"},
	{"calendar_starttime_non_numeric", line(`"msgtype":"calendar","calendar":{"starttime":"noon"}`), "calendar.starttime", `got string "noon"`},
	{"collect_question_not_object", line(`"msgtype":"collect","collect":{"details":[1]}`), "collect.details[0]", "want an object"},
	{"meeting_voice_call_demofiledata_is_string", line(`"msgtype":"meeting_voice_call","meeting_voice_call":{"demofiledata":"x"}`), "meeting_voice_call.demofiledata", "want an object or an array of objects"},
	{"chatrecord_item_is_not_array", line(`"msgtype":"chatrecord","chatrecord":{"item":{"type":"x"}}`), "chatrecord.item", "want an array of objects"},
	{"chatrecord_item_not_object", line(`"msgtype":"chatrecord","chatrecord":{"item":[7]}`), "chatrecord.item[0]", "want an object, got number 7"},
	{"chatrecord_item_content_invalid_json", line(`"msgtype":"chatrecord","chatrecord":{"item":[{"type":"ChatRecordText","content":"{\"content\":\"ok\"}"},{"type":"ChatRecordText","content":"{\"content\":"}]}`), "chatrecord.item[1].content", "invalid JSON"},
	{"chatrecord_item_content_string_holds_array", line(`"msgtype":"chatrecord","chatrecord":{"item":[{"type":"ChatRecordText","content":"[1]"}]}`), "chatrecord.item[0].content", "holding array"},
	{"chatrecord_item_content_is_number", line(`"msgtype":"chatrecord","chatrecord":{"item":[{"type":"ChatRecordText","content":5}]}`), "chatrecord.item[0].content", "got number 5"},
	{"chatrecord_item_msgtime_non_numeric", line(`"msgtype":"chatrecord","chatrecord":{"item":[{"type":"ChatRecordText","msgtime":"abc","content":"{}"}]}`), "chatrecord.item[0].msgtime", `got string "abc"`},
	{"chatrecord_item_text_is_number", line(`"msgtype":"chatrecord","chatrecord":{"item":[{"type":"ChatRecordText","content":"{\"content\":1}"}]}`), "chatrecord.item[0].content.content", "want a string"},
	{"mixed_item_filesize_non_numeric", line(`"msgtype":"mixed","mixed":{"item":[{"type":"image","content":"{\"sdkfileid\":\"S\",\"filesize\":\"big\"}"}]}`), "mixed.item[0].content.filesize", `got string "big"`},
}

// nestedPath is the path of the items array at nesting depth n.
func nestedPath(n int) string {
	p := "chatrecord.item"
	for i := 0; i < n; i++ {
		p += "[0].content.item"
	}
	return p
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.line, testOpts)
			if m != nil {
				t.Errorf("got a message with the error: %+v", m)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *DecodeError", err, err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(err, ErrMalformed) = false for %v", err)
			}
			if de.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tc.field, err)
			}
			if !strings.Contains(de.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", de.Reason, tc.reason)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error message is %d bytes: must stay readable", len(err.Error()))
			}
		})
	}
}

func TestDecodeKeeps(t *testing.T) {
	for _, tc := range keptCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.line, testOpts)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			checkMessage(t, m)
			ws := Warnings(m)
			found := false
			for _, w := range ws {
				if strings.HasPrefix(w, tc.field+": ") && strings.Contains(w, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("warnings %q: want one for %q containing %q", ws, tc.field, tc.reason)
			}
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := Decode(line(`"msgid":12,"msgtype":"text","text":{"content":"x"}`), testOpts)
	if want := `msgid "t1": field "msgid": want a string, got number`; err == nil || err.Error() != want {
		t.Errorf("Error() = %v, want %s", err, want)
	}
	_, err = Decode([]byte(" "), testOpts)
	if err == nil || err.Error() != "empty line" {
		t.Errorf("Error() = %v, want empty line", err)
	}
	var de *DecodeError
	if errors.As(err, &de); de == nil || de.MsgID != "" {
		t.Errorf("MsgID = %+v, want none", de)
	}
}

func TestDecodeNoSource(t *testing.T) {
	m, err := Decode(line(`"msgtype":"text","text":{"content":"x"}`), Options{})
	var de *DecodeError
	if m != nil || !errors.As(err, &de) || !errors.Is(err, ErrNoSource) || errors.Is(err, ErrMalformed) {
		t.Errorf("Decode without Source = %v, %v; want a DecodeError wrapping ErrNoSource only", m, err)
	}
}

func TestDecodeDeterministic(t *testing.T) {
	_, all := fixtureLines(t)
	extra := [][]byte{
		line(`"msgtype":"unknown_x","unknown_x":{"d":"4","c":{"b":"3","a":["1","2"]}}`),
		line(`"msgtype":"zz","k3":"c","k1":"a","k2":{"y":"b2","x":"b1"}`),
	}
	for _, l := range append(all, extra...) {
		first := mustDecode(t, l)
		for i := 0; i < 20; i++ {
			if again := mustDecode(t, l); !reflect.DeepEqual(first, again) {
				t.Fatalf("decode %d of %s differs:\n%+v\n%+v", i, l, first, again)
			}
		}
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(mustDecode(t, l))
		if !bytes.Equal(a, b) {
			t.Fatalf("JSON encodings differ for %s", l)
		}
	}
}

func TestOrigOffset(t *testing.T) {
	in := []byte("{\"a\":\"x\x01y\x02\"!}")
	esc := escapeControls(in)
	if want := `{"a":"x\u0001y\u0002"!}`; string(esc) != want {
		t.Fatalf("escaped = %s, want %s", esc, want)
	}
	// Every byte of the copy maps back onto the input byte it came from; the
	// six bytes of an escape all map onto the control byte.
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7, 8, 9, 9, 9, 9, 9, 9, 10, 11, 12, 13}
	for off := 0; off <= len(esc); off++ {
		if o := origOffset(in, int64(off)); o != want[off] {
			t.Errorf("origOffset(%d) = %d, want %d", off, o, want[off])
		}
	}
}

// BenchmarkDecode decodes the fixture lines round-robin; ns/op is per
// message.
func BenchmarkDecode(b *testing.B) {
	_, all := fixtureLines(b)
	var total int
	for _, l := range all {
		total += len(l)
	}
	b.SetBytes(int64(total / len(all)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Decode(all[i%len(all)], testOpts); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodeControlChars measures the escaping path.
func BenchmarkDecodeControlChars(b *testing.B) {
	l := line(`"msgtype":"text","text":{"content":"第一行` + "\x01\x02" + `第二行，这是一条较长的消息内容，用于测试转义路径的性能。"}`)
	b.SetBytes(int64(len(l)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(l, testOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineUnmarshal is the floor Decode is measured against in the
// same run: one encoding/json pass over each fixture line into the common
// fields only, with no content, validation or normalization.
func BenchmarkBaselineUnmarshal(b *testing.B) {
	_, all := fixtureLines(b)
	var total int
	for _, l := range all {
		total += len(l)
	}
	b.SetBytes(int64(total / len(all)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var common struct {
			MsgID   string   `json:"msgid"`
			Action  string   `json:"action"`
			From    string   `json:"from"`
			ToList  []string `json:"tolist"`
			RoomID  string   `json:"roomid"`
			MsgTime int64    `json:"msgtime"`
			MsgType string   `json:"msgtype"`
		}
		if err := json.Unmarshal(all[i%len(all)], &common); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestMain(m *testing.M) {
	// Tests must see decoder panics, not the production safety net.
	recoverPanics = false
	os.Exit(m.Run())
}
