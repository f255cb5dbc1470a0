package importer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// WeChatMsg (留痕 / MemoTrace, github.com/LC044/WeChatMsg) exports a chat
// as CSV from Windows WeChat 3.x's MSG table (docs/IMPORT.md names the
// versions read). TalkerId is the numeric id of the chat's row, not a
// wxid; Remark, NickName and Sender describe the message's sender — the
// owner when IsSender is 1 — and Sender is a wxid. No column names the
// chat's wxid, so whether a chat is a group is read from its rows: more
// than one other person writing in it. The "export all" variant (several
// TalkerIds in one file) writes the chat's names in Remark and NickName
// and the sender's display name — 我 for the owner — in Sender.

var wechatMsgHeaders = []csvHeader{
	{"WeChatMsg", []string{"localId", "TalkerId", "Type", "IsSender", "CreateTime", "StrContent"}},
}

// wechatMsgChat is what the first pass learns of one chat (TalkerId).
type wechatMsgChat struct {
	senders map[string]bool // Sender of received rows (not system notices)
	group   bool
	contact string // the other party of a 1:1 chat
}

func (p *parser) wechatMsgCSV(data []byte, fn func(Row) error) error {
	chats := map[string]*wechatMsgChat{}
	exportAll := false
	err := p.csvRows(data, wechatMsgHeaders, func(_ int, r csvRecord) error {
		tid := strings.TrimSpace(r.get("TalkerId"))
		c := chats[tid]
		if c == nil {
			c = &wechatMsgChat{senders: map[string]bool{}}
			chats[tid] = c
		}
		s := strings.TrimSpace(r.get("Sender"))
		switch {
		case r.get("IsSender") == "1" && s == "我":
			exportAll = true
		case r.get("IsSender") == "0" && s != "" && r.get("Type") != "10000":
			c.senders[s] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(chats) > 1 {
		exportAll = true
	}
	for tid, c := range chats {
		c.group = len(c.senders) > 1
		c.contact = "wechatmsg-talker:" + tid
		if !c.group && !exportAll {
			for s := range c.senders {
				if validID(s) {
					c.contact = s // the peer's wxid
				}
			}
		}
	}
	return p.csvRows(data, wechatMsgHeaders, func(_ int, r csvRecord) error {
		return fn(p.wechatMsgRow(r, chats, exportAll))
	})
}

// wechatMsgRow normalizes one row. A row may be shorter than the header
// (some versions wrote 1:1 rows without the sender columns) or longer
// (some wrote raw database fields after them): what it has is read.
func (p *parser) wechatMsgRow(r csvRecord, chats map[string]*wechatMsgChat, exportAll bool) Row {
	localID := r.get("localId")
	bad := func(field, format string, a ...any) Row { return rowErr(r.line, r.raw, localID, field, format, a...) }
	if !r.has("StrContent") {
		return bad("", "%d fields: too few for the header's StrContent column", len(r.fields))
	}
	if _, err := strconv.ParseUint(localID, 10, 64); err != nil {
		return bad("localId", "%q is not a row id", clip(localID))
	}
	tid := strings.TrimSpace(r.get("TalkerId"))
	if !validID(tid) {
		return bad("TalkerId", "missing")
	}
	typ, err := strconv.ParseInt(strings.TrimSpace(r.get("Type")), 10, 64)
	if err != nil {
		return bad("Type", "%q is not an integer", clip(r.get("Type")))
	}
	var sub int64
	if s := strings.TrimSpace(r.get("SubType")); s != "" {
		if sub, err = strconv.ParseInt(s, 10, 64); err != nil {
			return bad("SubType", "%q is not an integer", clip(s))
		}
	}
	isSender := strings.TrimSpace(r.get("IsSender"))
	if isSender != "0" && isSender != "1" {
		return bad("IsSender", "%q: want 0 or 1", clip(isSender))
	}
	var sent time.Time
	if ct := strings.TrimSpace(r.get("CreateTime")); ct != "" {
		sec, err := strconv.ParseInt(ct, 10, 64)
		if err != nil || sec < 0 {
			return bad("CreateTime", "%q is not a time in seconds", clip(ct))
		}
		sent = time.Unix(sec, 0)
	} else {
		t, ok := p.localTime(r.get("StrTime"))
		if !ok {
			return bad("StrTime", "%q is not a time (2006-01-02 15:04:05)", clip(r.get("StrTime")))
		}
		sent = t
	}
	c := chats[tid]
	rawSender := strings.TrimSpace(r.get("Sender"))
	owner := p.opts.Owner
	var sender string
	var recipients []string
	conv := archive.DirectConversation(owner, c.contact)
	switch {
	case c.group:
		conv = "group:wechatmsg-talker:" + tid
		switch {
		case isSender == "1":
			sender = owner
		case rawSender == "":
			sender = "wechatmsg-talker:" + tid // a notice of the group itself
		case exportAll:
			sender = "wechatmsg-name:" + rawSender // a display name, not an id
		default:
			sender = rawSender
		}
	case isSender == "1":
		sender, recipients = owner, []string{c.contact}
	default:
		sender, recipients = c.contact, []string{owner}
	}
	if !validID(sender) {
		return bad("Sender", "%q is not an id", clip(rawSender))
	}
	if c.group && sender != owner {
		recipients = []string{owner} // the owner's export: they are in the group
	}
	m := p.message(tid+"#"+localID, sent, sender, recipients, conv, c.group)
	m.SourceType = sourceType(typ, sub)
	m.Kind = wechatKind(typ, sub)
	m.Text, m.Details = xmlContent(r.get("StrContent"), m.Details)
	names := []struct{ name, col string }{{"sender_remark", "Remark"}, {"sender_nickname", "NickName"}, {"status", "Status"}}
	if exportAll {
		names = []struct{ name, col string }{{"conversation_remark", "Remark"}, {"conversation_name", "NickName"}, {"sender_name", "Sender"}, {"status", "Status"}}
	}
	for _, d := range names {
		if v := strings.TrimSpace(r.get(d.col)); v != "" {
			m.Details = append(m.Details, archive.Detail{Name: d.name, Value: text(v)})
		}
	}
	if !exportAll && rawSender != "" && rawSender != sender {
		m.Details = append(m.Details, archive.Detail{Name: "sender_wxid", Value: text(rawSender)})
	}
	if len(r.fields) > r.width {
		m.Details = append(m.Details, archive.Detail{Name: "extra_fields", Value: fmt.Sprint(len(r.fields) - r.width)})
	}
	return Row{Line: r.line, Raw: r.raw, Message: m}
}
