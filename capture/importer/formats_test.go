package importer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/importer"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// parseFixture parses testdata/exports/NAME and returns its rows; any
// row error fails the test (these are what the tools write: all of it
// must import).
func parseFixture(t *testing.T, f importer.Format, name string, opts importer.Options) []*archive.Message {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "exports", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []*archive.Message
	err = importer.Parse(f, data, opts, func(r importer.Row) error {
		if r.Err != nil {
			t.Errorf("%s: %v (raw %q)", name, r.Err, r.Raw)
			return nil
		}
		out = append(out, r.Message)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func fileErr(t *testing.T, f importer.Format, name string, opts importer.Options) error {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "exports", name))
	if err != nil {
		t.Fatal(err)
	}
	err = importer.Parse(f, data, opts, func(importer.Row) error { return nil })
	var fe *importer.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: %v, want a file error", name, err)
	}
	return err
}

// oneDirect checks that every message is in one direct conversation of
// exactly owner and contact, in both directions: the contact writing to
// the owner and the owner to the contact.
func oneDirect(t *testing.T, ms []*archive.Message, owner, contact string) {
	t.Helper()
	conv := archive.DirectConversation(owner, contact)
	var in, out int
	for i, m := range ms {
		if m.Conversation != conv || m.ConversationKind != archive.ConversationDirect {
			t.Errorf("message %d (%s) in %s %s, want %s", i, m.SourceID, m.ConversationKind, m.Conversation, conv)
		}
		switch {
		case m.Sender == contact && len(m.Recipients) == 1 && m.Recipients[0] == owner:
			in++
			if m.Direction != archive.DirectionInbound {
				t.Errorf("message %d from the contact: direction %s", i, m.Direction)
			}
		case m.Sender == owner && len(m.Recipients) == 1 && m.Recipients[0] == contact:
			out++
			if m.Direction != archive.DirectionOutbound {
				t.Errorf("message %d from the owner: direction %s", i, m.Direction)
			}
		default:
			t.Errorf("message %d: %s → %v: neither the contact to the owner nor the reverse", i, m.Sender, m.Recipients)
		}
	}
	if in == 0 || out == 0 {
		t.Errorf("%d in, %d out: want both directions", in, out)
	}
}

func detail(m *archive.Message, name string) string {
	for _, d := range m.Details {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

func TestChatlogCSVAsWritten(t *testing.T) {
	// Without --owner: the account's own wxid is the 1:1 Sender that is not the talker.
	ms := parseFixture(t, importer.ChatlogCSV, "chatlog-v0.0.28-direct.csv", importer.Options{})
	if len(ms) != 7 {
		t.Fatalf("%d messages, want 7", len(ms))
	}
	var convo []*archive.Message
	for _, m := range ms {
		if m.Kind != archive.KindEvent {
			convo = append(convo, m)
		}
	}
	oneDirect(t, convo, "wxid_me999", "wxid_lilei01")
	if ms[1].SourceID == ms[2].SourceID {
		t.Errorf("two identical rows share the id %s", ms[1].SourceID)
	}
	if m := ms[3]; m.Kind != archive.KindFile || m.Text != "报价单.xlsx" || !strings.HasPrefix(detail(m, "media_url"), "http://127.0.0.1:5030/file/") {
		t.Errorf("file placeholder: %s %q %+v", m.Kind, m.Text, m.Details)
	}
	if m := ms[4]; m.Kind != archive.KindImage || m.Text != "图片" {
		t.Errorf("image placeholder: %s %q", m.Kind, m.Text)
	}
	if m := ms[5]; m.Kind != archive.KindEvent || m.Text != "你撤回了一条消息" || m.Conversation != archive.DirectConversation("wxid_me999", "wxid_lilei01") {
		t.Errorf("system message: %+v", m)
	}
	if m := ms[6]; m.Text != "第一行\n第二行, 含逗号 \"引号\"" {
		t.Errorf("multi-line text %q", m.Text)
	}
	if ms[0].SentAt.Time.Unix() != 1742450709 { // 2025-03-20 14:05:09 +08:00
		t.Errorf("time %s: want China time", ms[0].SentAt)
	}
	// With --owner: the owner's messages are the employee's, their wxid kept.
	again := parseFixture(t, importer.ChatlogCSV, "chatlog-v0.0.28-direct.csv", importer.Options{Owner: "zhangwei"})
	convo = convo[:0]
	for _, m := range again {
		if m.Kind != archive.KindEvent {
			convo = append(convo, m)
		}
	}
	oneDirect(t, convo, "zhangwei", "wxid_lilei01")
	if detail(again[1], "sender_wxid") != "wxid_me999" || again[1].SourceID != ms[1].SourceID {
		t.Errorf("owner's row: %+v (id %s, without --owner %s)", again[1].Details, again[1].SourceID, ms[1].SourceID)
	}
	// A group: the talker ends with @chatroom.
	g := parseFixture(t, importer.ChatlogCSV, "chatlog-v0.0.28-group.csv", importer.Options{Owner: "zhangwei"})
	for _, m := range g {
		if m.Conversation != "34567890123@chatroom" || m.ConversationKind != archive.ConversationGroup || detail(m, "conversation_name") != "周末爬山群" {
			t.Errorf("group row %+v", m)
		}
	}
	if g[0].Sender != "wxid_hanmm02" || g[1].Sender != "wxid_lilei01" || g[3].Kind != archive.KindEvent {
		t.Errorf("group senders %s %s, notice %s", g[0].Sender, g[1].Sender, g[3].Kind)
	}
	// The owner is in the group: a member's message reaches them, inbound.
	if len(g[0].Recipients) != 1 || g[0].Recipients[0] != "zhangwei" || g[0].Direction != archive.DirectionInbound {
		t.Errorf("group message to the owner: %v %s", g[0].Recipients, g[0].Direction)
	}
	// WeChat 3.x data: own messages have no Sender, so the owner must be named.
	if err := fileErr(t, importer.ChatlogCSV, "chatlog-v0.0.28-v3data.csv", importer.Options{}); !strings.Contains(err.Error(), "--owner") {
		t.Errorf("v3 data without --owner: %v", err)
	}
	oneDirect(t, parseFixture(t, importer.ChatlogCSV, "chatlog-v0.0.28-v3data.csv", importer.Options{Owner: "zhangwei"}), "zhangwei", "wxid_lilei01")
}

func TestChatlogJSONAsWritten(t *testing.T) {
	ms := parseFixture(t, importer.ChatlogJSON, "chatlog-v0.0.28.json", importer.Options{Owner: "zhangwei"})
	oneDirect(t, ms, "zhangwei", "wxid_lilei01")
	if ms[2].Kind != archive.KindFile || ms[2].Text != "报价单.xlsx" {
		t.Errorf("file: %s %q", ms[2].Kind, ms[2].Text)
	}
	old := parseFixture(t, importer.ChatlogJSON, "chatlog-v0.0.5.json", importer.Options{Owner: "zhangwei"})
	oneDirect(t, old[:2], "zhangwei", "wxid_lilei01")
	if g := old[2]; g.Sender != "wxid_hanmm02" || g.Conversation != "34567890123@chatroom" || g.ConversationKind != archive.ConversationGroup {
		t.Errorf("v0.0.5 group message: %+v", g)
	}
}

func TestWeChatMsgCSVAsWritten(t *testing.T) {
	opts := importer.Options{Owner: "zhangwei"}
	ms := parseFixture(t, importer.WeChatMsgCSV, "wechatmsg-2.0.5-direct.csv", opts)
	if len(ms) != 6 {
		t.Fatalf("%d messages, want 6", len(ms))
	}
	oneDirect(t, ms, "zhangwei", "wxid_lilei01")
	if detail(ms[1], "sender_wxid") != "wxid_me999" || detail(ms[0], "sender_remark") != "雷哥" {
		t.Errorf("details %+v / %+v", ms[1].Details, ms[0].Details)
	}
	if ms[2].Kind != archive.KindImage || ms[3].Kind != archive.KindFile || ms[4].Kind != archive.KindEvent || ms[5].Text != "第一行\n第二行" {
		t.Errorf("kinds %s %s %s, text %q", ms[2].Kind, ms[3].Kind, ms[4].Kind, ms[5].Text)
	}
	if !strings.HasPrefix(detail(ms[2], "content_xml"), "<?xml") || ms[2].Text != "" {
		t.Errorf("an image's XML: text %q, details %+v", ms[2].Text, ms[2].Details)
	}
	if ms[0].SourceID != "57#1021" || ms[0].SentAt.Time.Unix() != 1710915909 {
		t.Errorf("id %s time %s", ms[0].SourceID, ms[0].SentAt)
	}
	g := parseFixture(t, importer.WeChatMsgCSV, "wechatmsg-2.0.5-group.csv", opts)
	want := []string{"wxid_hanmm02", "zhangwei", "wechatmsg-talker:203", "wxid_lilei01"}
	for i, m := range g {
		if m.ConversationKind != archive.ConversationGroup || m.Conversation != "group:wechatmsg-talker:203" || m.Sender != want[i] {
			t.Errorf("group row %d: %s %s from %s, want from %s", i, m.ConversationKind, m.Conversation, m.Sender, want[i])
		}
	}
	all := parseFixture(t, importer.WeChatMsgCSV, "wechatmsg-2.0.5-all.csv", opts)
	oneDirect(t, all[:2], "zhangwei", "wechatmsg-talker:57")
	if all[2].ConversationKind != archive.ConversationGroup || all[2].Sender != "wechatmsg-name:韩梅梅" || detail(all[2], "conversation_name") != "周末爬山群" ||
		all[3].Sender != "zhangwei" {
		t.Errorf("export-all group rows: %+v / %+v", all[2], all[3])
	}
	oneDirect(t, parseFixture(t, importer.WeChatMsgCSV, "wechatmsg-2024-01-direct-short-rows.csv", opts), "zhangwei", "wechatmsg-talker:9")
	nine := parseFixture(t, importer.WeChatMsgCSV, "wechatmsg-2023-12-nine-columns.csv", opts)
	oneDirect(t, nine, "zhangwei", "wechatmsg-talker:9")
	if detail(nine[0], "extra_fields") != "3" {
		t.Errorf("trailing fields not noted: %+v", nine[0].Details)
	}
}

func TestPyWxDumpAsWritten(t *testing.T) {
	// 3.1.18+ names the owner: no --owner needed.
	ms := parseFixture(t, importer.PyWxDumpCSV, "pywxdump-3.1.45-wxid_lilei01_0_5.csv", importer.Options{})
	oneDirect(t, ms, "wxid_me999", "wxid_lilei01")
	kinds := []archive.Kind{archive.KindText, archive.KindText, archive.KindImage, archive.KindFile, archive.KindLink}
	for i, m := range ms {
		if m.Kind != kinds[i] {
			t.Errorf("row %d: kind %s, want %s", i, m.Kind, kinds[i])
		}
	}
	if ms[0].SourceID != "7283746519283746512" || ms[3].Text != "报价单.xlsx" || !strings.Contains(detail(ms[2], "src"), `Image\2024-03`) {
		t.Errorf("ids and text: %s %q %+v", ms[0].SourceID, ms[3].Text, ms[2].Details)
	}
	if ms[0].SentAt.Time.Unix() != 1710915909 {
		t.Errorf("time %s: want China time", ms[0].SentAt)
	}
	g := parseFixture(t, importer.PyWxDumpCSV, "pywxdump-3.1.45-34567890123@chatroom_0_4.csv", importer.Options{Owner: "zhangwei"})
	want := []string{"wxid_hanmm02", "zhangwei", "34567890123@chatroom", "wxid_lilei01"}
	for i, m := range g {
		if m.Conversation != "34567890123@chatroom" || m.ConversationKind != archive.ConversationGroup || m.Sender != want[i] {
			t.Errorf("group row %d: %s from %s, want from %s", i, m.Conversation, m.Sender, want[i])
		}
	}
	if g[0].Direction != archive.DirectionInbound || len(g[0].Recipients) != 1 || g[0].Recipients[0] != "zhangwei" {
		t.Errorf("a member's message to the owner's group: %v %s", g[0].Recipients, g[0].Direction)
	}
	if g[2].Kind != archive.KindEvent || detail(g[2], "talker") != "未知" {
		t.Errorf("invite notice: %s %+v", g[2].Kind, g[2].Details)
	}
	// Before 3.1.18 the owner is 我: --owner is required, and then used.
	if err := fileErr(t, importer.PyWxDumpCSV, "pywxdump-3.1.10-self-is-wo.csv", importer.Options{}); !strings.Contains(err.Error(), "--owner") {
		t.Errorf("我 without --owner: %v", err)
	}
	oneDirect(t, parseFixture(t, importer.PyWxDumpCSV, "pywxdump-3.1.10-self-is-wo.csv", importer.Options{Owner: "zhangwei"}), "zhangwei", "wxid_lilei01")
	c := parseFixture(t, importer.PyWxDumpCSV, "pywxdump-3.0.6-content-json.csv", importer.Options{Owner: "zhangwei"})
	oneDirect(t, c, "zhangwei", "wxid_lilei01")
	if c[0].Text != "你好, 在吗" || c[1].Kind != archive.KindImage || !strings.HasPrefix(detail(c[1], "src"), "FileStorage") {
		t.Errorf("content JSON: %q %s %+v", c[0].Text, c[1].Kind, c[1].Details)
	}
	u := parseFixture(t, importer.PyWxDumpCSV, "pywxdump-2.4.0-unquoted.csv", importer.Options{Owner: "zhangwei"})
	oneDirect(t, u, "zhangwei", "wxid_lilei01")
	if u[0].Text != "你好, 在吗" || u[1].Text != "在\n的" {
		t.Errorf("unquoted rows: %q %q", u[0].Text, u[1].Text)
	}
	j := parseFixture(t, importer.PyWxDumpJSON, "pywxdump-3.1.45-wxid_lilei01_0_5.json", importer.Options{Owner: "zhangwei"})
	oneDirect(t, j, "zhangwei", "wxid_lilei01")
	if j[2].Kind != archive.KindLink || !strings.Contains(j[2].Text, "季度报告") || j[3].Kind != archive.KindChatRecord || !strings.Contains(detail(j[3], "src"), "recorditem") {
		t.Errorf("JSON link and record: %s %q / %s %+v", j[2].Kind, j[2].Text, j[3].Kind, j[3].Details)
	}
	if j[1].SourceID != ms[1].SourceID {
		t.Errorf("the same message in JSON and CSV has ids %s and %s", j[1].SourceID, ms[1].SourceID)
	}
}

// TestImportExportsIntoArchive: each fixture imports completely into an
// archive, searchable, and a second import of it archives nothing.
func TestImportExportsIntoArchive(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	for _, tc := range []struct {
		f    importer.Format
		name string
		rows int
	}{
		{importer.ChatlogCSV, "chatlog-v0.0.28-direct.csv", 7},
		{importer.WeChatMsgCSV, "wechatmsg-2.0.5-direct.csv", 6},
		{importer.PyWxDumpCSV, "pywxdump-3.1.45-wxid_lilei01_0_5.csv", 5},
		{importer.PyWxDumpJSON, "pywxdump-3.1.45-wxid_lilei01_0_5.json", 4},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "exports", tc.name))
		if err != nil {
			t.Fatal(err)
		}
		im := &importer.Importer{Engine: r.Engine, Store: r.Store, Actor: "test", Options: importer.Options{Owner: "zhangwei"}}
		sum, err := im.Run(ctx, tc.f, tc.name, data)
		if err != nil || sum.Archived != tc.rows || len(sum.Rejected) != 0 {
			t.Fatalf("%s: %+v, %v", tc.name, sum, err)
		}
		im2 := &importer.Importer{Engine: r.Engine, Store: r.Store, Actor: "test", Options: importer.Options{Owner: "zhangwei"}}
		// A copy with one more line at the end: a new file, the same messages.
		sum, err = im2.Run(ctx, tc.f, tc.name, append(data, '\n'))
		if err != nil || sum.Archived != 0 || sum.Duplicates != tc.rows {
			t.Fatalf("%s again: %+v, %v", tc.name, sum, err)
		}
	}
	u, uctx := archivetest.App(ctx, r)
	for _, q := range []string{"保本", "保证收益", "报价单"} {
		if res, err := u.Search(uctx, app.SearchOptions{Query: q}); err != nil || res.Total == 0 {
			t.Errorf("search %s: %+v %v", q, res, err)
		}
	}
}

// TestImportWhoIsWho: without --owner, the employees are those the archive
// already knows; an import in which some message has no employee is
// refused, naming its senders, and archives nothing; and two outsiders'
// message is never called inbound.
func TestImportWhoIsWho(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	owned := []byte(`{"id":"k1","sender":"zhangwei","recipients":["client.li"],"sent_at":1700000000000,"text":"季度报告","employees":["zhangwei"]}` + "\n")
	ownerless := []byte(`{"id":"k2","sender":"client.li","recipients":["zhangwei"],"sent_at":1700000060000,"text":"保证收益吗"}` + "\n" +
		`{"id":"k3","sender":"client.wang","recipients":["client.li"],"sent_at":1700000120000,"text":"转告一下"}` + "\n")
	run := func(data []byte, opts importer.Options) (*importer.Summary, error) {
		im := &importer.Importer{Engine: r.Engine, Store: r.Store, Actor: "test", Options: opts}
		return im.Run(ctx, importer.JSONL, "m.jsonl", data)
	}
	// Nobody known yet: refused, nothing archived.
	_, err := run(ownerless, importer.Options{})
	var ue *importer.UnclassifiedError
	if !errors.As(err, &ue) || ue.Messages != 2 || !strings.Contains(err.Error(), "client.li") || !strings.Contains(err.Error(), "--owner") {
		t.Fatalf("owner-less import of outsiders: %v", err)
	}
	if c, _ := r.Store.Counts(ctx); c.Messages != 0 {
		t.Fatalf("a refused import archived %d messages", c.Messages)
	}
	// An earlier import names zhangwei an employee: now k2 is classified,
	// but k3 (two outsiders) still has no employee.
	if sum, err := run(owned, importer.Options{}); err != nil || sum.Archived != 1 {
		t.Fatalf("import naming the employee: %+v %v", sum, err)
	}
	if _, err := run(ownerless, importer.Options{}); !errors.As(err, &ue) || ue.Messages != 1 || !strings.Contains(err.Error(), "client.wang") {
		t.Fatalf("second owner-less import: %v", err)
	}
	sum, err := run(ownerless[:bytes.IndexByte(ownerless, '\n')+1], importer.Options{})
	if err != nil || sum.Archived != 1 {
		t.Fatalf("the classifiable message alone: %+v %v", sum, err)
	}
	rows, _ := r.Store.MessagesBySourceID(ctx, "k2")
	if len(rows) != 1 || rows[0].Direction != archive.DirectionInbound {
		t.Fatalf("k2: %+v", rows)
	}
	// Named with --employee, the outsiders' message archives, with no direction.
	if sum, err := run(ownerless, importer.Options{Employees: map[string]bool{"client.li": true}}); err != nil || sum.Archived != 1 {
		t.Fatalf("with --employee: %+v %v", sum, err)
	}
	m := &archive.Message{Sender: "client.wang", Recipients: []string{"client.li"}}
	m.SetConversation("", func(string) archive.ParticipantKind { return archive.ParticipantExternal })
	if m.Direction != archive.DirectionNone {
		t.Fatalf("two outsiders: direction %q", m.Direction)
	}
}
