package importer

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
)

// PyWxDump (github.com/xaoyaoo/PyWxDump) exports a chat as CSV pages of
// 5,000 rows and as JSON, under export/<owner wxid>/csv|json/<chat>/
// (docs/IMPORT.md names the versions read). talker is the message's
// sender — the owner's wxid, or 我 before 3.1.18, when is_sender is 1 —
// and room_name the chat: a group's ends with @chatroom. Times are the
// exporting machine's local "2006-01-02 15:04:05"; type_name is a Chinese
// type name; MsgSvrID is WeChat's server id of the message.

// pywxdumpMessage is one message, as a CSV row or a JSON element: 3.1's
// msg and src, or 2.4–3.0's content {"src", "msg"}.
type pywxdumpMessage struct {
	ID         json.RawMessage `json:"id"`
	MsgSvrID   json.RawMessage `json:"MsgSvrID"`
	TypeName   string          `json:"type_name"`
	IsSender   json.RawMessage `json:"is_sender"`
	Talker     string          `json:"talker"`
	RoomName   string          `json:"room_name"`
	Msg        *string         `json:"msg"`
	Src        json.RawMessage `json:"src"`
	Content    json.RawMessage `json:"content"`
	Extra      json.RawMessage `json:"extra"`
	CreateTime string          `json:"CreateTime"`
}

// pywxdumpSpecial are talker values that name no one.
const (
	pywxdumpSelf    = "我"  // the owner, before 3.1.18
	pywxdumpUnknown = "未知" // a group member PyWxDump could not read
	pywxdumpSystem  = "系统" // a system notice
)

// pywxdumpKinds maps PyWxDump's type names to kinds.
var pywxdumpKinds = map[string]archive.Kind{
	"文本": archive.KindText, "图片": archive.KindImage, "语音": archive.KindVoice, "视频": archive.KindVideo,
	"动画表情": archive.KindEmotion, "用户上传的GIF表情": archive.KindEmotion, "位置": archive.KindLocation, "位置共享": archive.KindLocation,
	"文件": archive.KindFile, "粘贴的文本": archive.KindText, "(分享)音乐": archive.KindLink, "(分享)卡片式链接": archive.KindLink,
	"(分享)笔记": archive.KindLink, "(分享)收藏夹": archive.KindLink, "合并转发的聊天记录": archive.KindChatRecord,
	"(分享)小程序": archive.KindWeapp, "(分享)视频号名片": archive.KindCard, "(分享)视频号视频": archive.KindSphFeed,
	"视频号直播或直播回放": archive.KindSphFeed, "引用回复": archive.KindText, "推荐公众号": archive.KindCard, "添加好友": archive.KindEvent,
	"接龙": archive.KindText, "群公告": archive.KindText, "转账": archive.KindRedPacket, "赠送红包封面": archive.KindRedPacket,
	"红包": archive.KindRedPacket, "语音通话": archive.KindVoip, "系统通知": archive.KindEvent, "拍一拍": archive.KindEvent,
	"邀请加群": archive.KindEvent, "游戏相关": archive.KindLink,
}

func pywxdumpKind(name string) archive.Kind {
	if k, ok := pywxdumpKinds[name]; ok {
		return k
	}
	if strings.HasPrefix(name, "消息撤回") {
		return archive.KindRevoke
	}
	return archive.KindUnknown
}

// pywxdumpOwner finds whose export this is: --owner, else the talker of
// the rows the owner sent (3.1.18 and later write the owner's wxid).
// needOwner says rows name the owner only as 我.
func (p *parser) pywxdumpOwner(ms func(func(pywxdumpMessage)) error) (owner string, err error) {
	seen := map[string]bool{}
	anon := 0
	if err := ms(func(m pywxdumpMessage) {
		if flag(m.IsSender) {
			switch t := strings.TrimSpace(m.Talker); t {
			case "", pywxdumpSelf:
				anon++
			default:
				seen[t] = true
			}
		}
	}); err != nil {
		return "", err
	}
	if p.opts.Owner != "" {
		return p.opts.Owner, nil
	}
	if len(seen) == 1 && anon == 0 {
		for id := range seen {
			return id, nil
		}
	}
	if anon > 0 || len(seen) > 1 {
		return "", &FileError{Format: p.f, Reason: "the rows you sent name you as 我 (PyWxDump before 3.1.18) or as more than one id: give --owner " +
			"(the wxid in the export's path, export/<wxid>/…)"}
	}
	return "", nil
}

// flag reads is_sender: 1 or "1".
func flag(raw json.RawMessage) bool {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	return s == "1" || s == "true"
}

// jsonText reads a JSON string or number as text ("" for null).
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// pywxdumpRow normalizes one message.
func (p *parser) pywxdumpRow(line int, raw []byte, m pywxdumpMessage, owner string) Row {
	svr, rowID := strings.TrimSpace(jsonText(m.MsgSvrID)), strings.TrimSpace(jsonText(m.ID))
	bad := func(field, format string, a ...any) Row { return rowErr(line, raw, svr, field, format, a...) }
	room := strings.TrimSpace(m.RoomName)
	if !validID(room) {
		return bad("room_name", "missing or not an id")
	}
	sent, ok := p.localTime(m.CreateTime)
	if !ok {
		return bad("CreateTime", "%q is not a time (2006-01-02 15:04:05, the exporting machine's zone)", clip(m.CreateTime))
	}
	is := strings.Trim(strings.TrimSpace(string(m.IsSender)), `"`)
	if is != "0" && is != "1" {
		return bad("is_sender", "%q: want 0 or 1", clip(is))
	}
	id := svr
	if id == "" || id == "0" {
		if rowID == "" {
			return bad("MsgSvrID", "missing, and no id either")
		}
		id = room + "#" + rowID // the row's number within the chat
	}
	group := strings.HasSuffix(room, "@chatroom")
	talker := strings.TrimSpace(m.Talker)
	var sender string
	var recipients []string
	conv := room
	switch {
	case is == "1":
		sender = owner
		if sender == "" {
			sender = talker
		}
		if !group {
			recipients = []string{room}
		}
	case group && (talker == "" || talker == pywxdumpUnknown || talker == pywxdumpSystem):
		sender = room // a member PyWxDump could not name, or a notice of the group
	case group:
		sender = talker
	default:
		sender = room // a 1:1 chat: the other party
		if owner != "" {
			recipients = []string{owner}
		}
	}
	if !validID(sender) {
		return bad("talker", "%q is not an id", clip(talker))
	}
	if group && is != "1" && owner != "" && owner != sender {
		recipients = []string{owner} // the owner's export: they are in the group
	}
	if !group {
		conv = archive.DirectConversation(append([]string{sender}, recipients...)...)
	}
	msg := p.message(id, sent, sender, recipients, conv, group, owner)
	msg.SourceType = m.TypeName
	msg.Kind = pywxdumpKind(m.TypeName)
	body, src := "", jsonText(m.Src)
	if m.Msg != nil {
		body = *m.Msg
	} else if len(m.Content) > 0 {
		// 2.4–3.0: content is {"src": …, "msg": …}, in CSV as a JSON string.
		c := jsonText(m.Content)
		var inner struct {
			Src json.RawMessage `json:"src"`
			Msg string          `json:"msg"`
		}
		if json.Unmarshal([]byte(c), &inner) == nil {
			body, src = inner.Msg, jsonText(inner.Src)
		} else {
			body = c
		}
	}
	msg.Text = text(body)
	if src = strings.TrimSpace(src); src != "" {
		msg.Details = append(msg.Details, archive.Detail{Name: "src", Value: text(src)})
	}
	if talker != "" && talker != sender {
		msg.Details = append(msg.Details, archive.Detail{Name: "talker", Value: text(talker)})
	}
	if e := bytes.TrimSpace(m.Extra); len(e) > 2 && string(e) != "null" {
		var v any
		if json.Unmarshal(e, &v) == nil {
			if strs := collectStrings(v, nil); len(strs) > 0 {
				msg.Text = strings.TrimSpace(msg.Text + "\n" + strings.Join(strs, "\n"))
			}
		}
	}
	return Row{Line: line, Raw: raw, Message: msg}
}

func (p *parser) pywxdumpJSON(data []byte, fn func(Row) error) error {
	each := func(f func(line int, raw []byte, m pywxdumpMessage, err error) error) error {
		return p.jsonArray(data, "messages", func(line int, raw []byte) error {
			var m pywxdumpMessage
			err := json.Unmarshal(raw, &m)
			return f(line, raw, m, err)
		})
	}
	owner, err := p.pywxdumpOwner(func(g func(pywxdumpMessage)) error {
		return each(func(_ int, _ []byte, m pywxdumpMessage, err error) error {
			if err == nil {
				g(m)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return each(func(line int, raw []byte, m pywxdumpMessage, err error) error {
		if err != nil {
			return fn(rowErr(line, raw, "", "", "not a PyWxDump message: %v", err))
		}
		return fn(p.pywxdumpRow(line, raw, m, owner))
	})
}

// The CSV headers PyWxDump writes: 3.1's msg and src columns, and
// 2.4.8–3.0's content column holding {"src","msg"} as JSON.
var pywxdumpHeaders = []csvHeader{
	{"PyWxDump ≥ 3.1", []string{"MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime"}},
	{"PyWxDump 2.4.8–3.0", []string{"MsgSvrID", "type_name", "is_sender", "talker", "room_name", "content", "CreateTime"}},
}

// pywxdumpLegacyHeader is 2.3.25–2.4.7's header: rows written without CSV
// quoting, so a comma in a message splits it; read line by line, the
// fields before content and after it counted from each end.
const pywxdumpLegacyHeader = "MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime"

func (p *parser) pywxdumpCSV(data []byte, fn func(Row) error) error {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first, _, _ := bytes.Cut(body, []byte("\n"))
	if string(bytes.TrimRight(first, "\r")) == pywxdumpLegacyHeader {
		return p.pywxdumpLegacyCSV(body, fn)
	}
	toMsg := func(variant int, r csvRecord) pywxdumpMessage {
		q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
		m := pywxdumpMessage{ID: q(r.get("id")), MsgSvrID: q(r.get("MsgSvrID")), TypeName: r.get("type_name"), IsSender: q(r.get("is_sender")),
			Talker: r.get("talker"), RoomName: r.get("room_name"), CreateTime: r.get("CreateTime")}
		if variant == 0 {
			s := r.get("msg")
			m.Msg, m.Src = &s, q(r.get("src"))
		} else {
			m.Content = q(r.get("content"))
		}
		return m
	}
	owner, err := p.pywxdumpOwner(func(g func(pywxdumpMessage)) error {
		return p.csvRows(data, pywxdumpHeaders, func(v int, r csvRecord) error {
			if len(r.fields) == r.width {
				g(toMsg(v, r))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return p.csvRows(data, pywxdumpHeaders, func(v int, r csvRecord) error {
		if len(r.fields) != r.width {
			return fn(rowErr(r.line, r.raw, r.get("MsgSvrID"), "", "%d fields, the header has %d", len(r.fields), r.width))
		}
		return fn(p.pywxdumpRow(r.line, r.raw, toMsg(v, r), owner))
	})
}

func (p *parser) pywxdumpLegacyCSV(body []byte, fn func(Row) error) error {
	type legacyLine struct {
		line int
		raw  []byte
		m    pywxdumpMessage
		ok   bool
	}
	var rows []legacyLine
	for i, ln := range bytes.Split(body, []byte("\n"))[1:] {
		ln = bytes.TrimRight(ln, "\r")
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		f := strings.Split(string(ln), ",")
		r := legacyLine{line: i + 2, raw: ln}
		if len(f) >= 7 {
			q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
			r.m = pywxdumpMessage{MsgSvrID: q(f[0]), TypeName: f[1], IsSender: q(f[2]), Talker: f[3], RoomName: f[4],
				Content: q(strings.Join(f[5:len(f)-1], ",")), CreateTime: f[len(f)-1]}
			r.ok = true
		}
		rows = append(rows, r)
	}
	owner, err := p.pywxdumpOwner(func(g func(pywxdumpMessage)) error {
		for _, r := range rows {
			if r.ok {
				g(r.m)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		row := rowErr(r.line, r.raw, "", "", "fewer than the 7 fields of %s", pywxdumpLegacyHeader)
		if r.ok {
			row = p.pywxdumpRow(r.line, r.raw, r.m, owner)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}
