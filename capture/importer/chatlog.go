package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// chatlog (github.com/sjzar/chatlog) serves a chat's messages from its
// HTTP API, /api/v1/chatlog?format=json|csv (docs/IMPORT.md names the
// versions read).

// chatlogMessage is one message of chatlog's JSON: the keys of v0.0.6 and
// later, and those of v0.0.1–v0.0.5 (sequence, createTime, isSender,
// chatRoomSender).
type chatlogMessage struct {
	Seq        *int64          `json:"seq"`
	Time       string          `json:"time"`
	Talker     string          `json:"talker"`
	TalkerName string          `json:"talkerName"`
	IsChatRoom bool            `json:"isChatRoom"`
	Sender     string          `json:"sender"`
	SenderName string          `json:"senderName"`
	IsSelf     bool            `json:"isSelf"`
	Type       int64           `json:"type"`
	SubType    int64           `json:"subType"`
	Content    string          `json:"content"`
	Contents   json.RawMessage `json:"contents"`

	Sequence       *int64          `json:"sequence"`
	CreateTime     string          `json:"createTime"`
	IsSender       json.RawMessage `json:"isSender"`
	ChatRoomSender string          `json:"chatRoomSender"`
}

// upgrade reads v0.0.1–v0.0.5's keys into the current ones.
func (c *chatlogMessage) upgrade() {
	if c.Seq == nil && c.Sequence != nil {
		c.Seq = c.Sequence
	}
	if c.Time == "" {
		c.Time = c.CreateTime
	}
	if v := strings.TrimSpace(string(c.IsSender)); v == "1" || v == "true" {
		c.IsSelf = true
	}
	if c.Sender == "" && c.ChatRoomSender != "" && c.IsChatRoom {
		c.Sender = c.ChatRoomSender
	}
	if c.Sender == "" && !c.IsChatRoom && !c.IsSelf && len(c.IsSender) > 0 {
		c.Sender = c.Talker // v0.0.1–0.0.5: a received 1:1 message is from the talker
	}
	if !c.IsChatRoom && strings.HasSuffix(c.Talker, "@chatroom") {
		c.IsChatRoom = true
	}
}

// chatlogRow normalizes a chatlog message; raw is its exact bytes.
func (p *parser) chatlogRow(line int, raw []byte, c chatlogMessage) Row {
	c.upgrade()
	id := ""
	if c.Seq != nil {
		id = strconv.FormatInt(*c.Seq, 10)
	}
	bad := func(field, format string, a ...any) Row { return rowErr(line, raw, id, field, format, a...) }
	if c.Seq == nil {
		return bad("seq", "missing")
	}
	sent, err := time.Parse(time.RFC3339Nano, c.Time)
	if err != nil {
		return bad("time", "%q is not an RFC 3339 time", clip(c.Time))
	}
	if !validID(c.Talker) {
		return bad("talker", "missing or not an id")
	}
	sender := c.Sender
	if c.IsSelf && p.opts.Owner != "" {
		sender = p.opts.Owner
	}
	if !validID(sender) {
		if c.IsSelf {
			return bad("sender", "empty for one of your own messages (chatlog writes none in WeChat 3.x 1:1 chats): give --owner")
		}
		return bad("sender", "missing or not an id")
	}
	var recipients []string
	conv := c.Talker
	if !c.IsChatRoom {
		// A 1:1 chat: the talker is the other party.
		other := c.Talker
		if !c.IsSelf {
			other = p.opts.Owner
		}
		if other != "" && other != sender {
			recipients = []string{other}
		}
		conv = archive.DirectConversation(append([]string{sender}, recipients...)...)
	} else if !c.IsSelf && p.opts.Owner != "" && p.opts.Owner != sender {
		recipients = []string{p.opts.Owner} // the owner's export: they are in the group
	}
	// The source id: chatlog's seq (timestamp and sequence) within the
	// conversation.
	var self []string
	if c.IsSelf {
		self = []string{c.Sender} // the owner's own wxid
	}
	m := p.message(c.Talker+"#"+id, sent, sender, recipients, conv, c.IsChatRoom, self...)
	m.SourceType = sourceType(c.Type, c.SubType)
	m.Kind = wechatKind(c.Type, c.SubType)
	var parts []string
	if c.Content != "" {
		parts = append(parts, text(c.Content))
	}
	// Titles, descriptions and other strings in contents are searchable.
	if len(c.Contents) > 0 && string(c.Contents) != "null" {
		var v any
		if json.Unmarshal(c.Contents, &v) == nil {
			parts = append(parts, collectStrings(v, nil)...)
		}
	}
	if c.TalkerName != "" {
		m.Details = append(m.Details, archive.Detail{Name: "conversation_name", Value: text(c.TalkerName)})
	}
	if c.SenderName != "" {
		m.Details = append(m.Details, archive.Detail{Name: "sender_name", Value: text(c.SenderName)})
	}
	if c.IsSelf && sender != c.Sender && c.Sender != "" {
		m.Details = append(m.Details, archive.Detail{Name: "sender_wxid", Value: text(c.Sender)})
	}
	m.Text = strings.Join(parts, "\n")
	return Row{Line: line, Raw: raw, Message: m}
}

// chatlogJSON reads a JSON array of chatlog messages, element by element,
// keeping each element's bytes.
func (p *parser) chatlogJSON(data []byte, fn func(Row) error) error {
	return p.jsonArray(data, "messages", func(line int, raw []byte) error {
		var c chatlogMessage
		if err := json.Unmarshal(raw, &c); err != nil {
			return fn(rowErr(line, raw, "", "", "not a chatlog message: %v", err))
		}
		return fn(p.chatlogRow(line, raw, c))
	})
}

// The CSV headers chatlog-csv reads: what chatlog v0.0.22 and later write
// (earlier versions answer format=csv with an empty body), and the JSON
// keys as columns, which this importer documented before it read
// chatlog's source.
var chatlogHeaders = []csvHeader{
	{"wxarchive's chatlog columns", []string{"seq", "time", "talker", "talkerName", "isChatRoom", "sender", "senderName", "isSelf", "type", "subType", "content"}},
	{"chatlog ≥ v0.0.22", []string{"Time", "SenderName", "Sender", "TalkerName", "Talker", "Content"}},
}

// chatlogSystem is the Sender chatlog writes for a system message.
const chatlogSystem = "系统消息"

func (p *parser) chatlogCSV(data []byte, fn func(Row) error) error {
	// First pass: who "self" is. chatlog's CSV has no isSelf column; in a
	// 1:1 chat a Sender other than the talker is the account's own wxid
	// (WeChat 4.x data), an empty Sender its own message (3.x data).
	self := map[string]bool{}
	emptySelf := 0
	err := p.csvRows(data, chatlogHeaders, func(variant int, r csvRecord) error {
		if variant != 1 || len(r.fields) != r.width {
			return nil
		}
		talker, sender := strings.TrimSpace(r.get("Talker")), strings.TrimSpace(r.get("Sender"))
		switch {
		case sender == "":
			emptySelf++
		case sender != chatlogSystem && sender != talker && !strings.HasSuffix(talker, "@chatroom"):
			self[sender] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	selfID := p.opts.Owner
	if selfID == "" && len(self) == 1 {
		for id := range self {
			selfID = id
		}
	}
	if emptySelf > 0 && selfID == "" {
		return &FileError{Format: p.f, Reason: fmt.Sprintf("%d rows have an empty Sender — your own messages, which chatlog writes without a sender for WeChat 3.x data — "+
			"and the file does not say who you are: give --owner", emptySelf)}
	}
	// The owner's ids, once per file: --owner or the one inferred, and
	// every wxid the file shows as its own.
	selfIDs := []string{selfID}
	for id := range self {
		selfIDs = append(selfIDs, id)
	}
	seen := map[string]int{}
	return p.csvRows(data, chatlogHeaders, func(variant int, r csvRecord) error {
		if variant == 0 {
			return p.chatlogLegacyCSV(r, fn)
		}
		if len(r.fields) != r.width {
			return fn(rowErr(r.line, r.raw, "", "", "%d fields, the header has %d", len(r.fields), r.width))
		}
		return fn(p.chatlogCSVRow(r, self, selfID, selfIDs, seen))
	})
}

// chatlogCSVRow normalizes one row of chatlog's own CSV.
func (p *parser) chatlogCSVRow(r csvRecord, self map[string]bool, selfID string, selfIDs []string, seen map[string]int) Row {
	bad := func(field, format string, a ...any) Row { return rowErr(r.line, r.raw, "", field, format, a...) }
	sent, ok := p.localTime(r.get("Time"))
	if !ok {
		return bad("Time", "%q is not a time (2006-01-02 15:04:05, the exporting machine's zone)", clip(r.get("Time")))
	}
	talker, rawSender, content := strings.TrimSpace(r.get("Talker")), strings.TrimSpace(r.get("Sender")), r.get("Content")
	if !validID(talker) {
		return bad("Talker", "missing or not an id")
	}
	group := strings.HasSuffix(talker, "@chatroom")
	system := rawSender == chatlogSystem
	isSelf := !system && (rawSender == "" || self[rawSender] || (p.opts.Owner != "" && rawSender == p.opts.Owner) || (!group && rawSender != talker))
	sender := rawSender
	switch {
	case system:
		sender = talker // a system notice of the chat: from the chat itself
	case isSelf:
		sender = selfID
		if p.opts.Owner == "" && rawSender != "" {
			sender = rawSender
		}
	}
	if !validID(sender) {
		return bad("Sender", "missing or not an id")
	}
	// chatlog's CSV has no message id: the chat, the second, a digest of
	// the sender and text, and which of identical such rows this is.
	sum := sha256.Sum256([]byte(rawSender + "\x00" + content))
	key := fmt.Sprintf("%s#%d#%s", talker, sent.Unix(), hex.EncodeToString(sum[:8]))
	seen[key]++
	id := key
	if n := seen[key]; n > 1 {
		id += "#" + strconv.Itoa(n)
	}
	var recipients []string
	conv := talker
	if !group {
		other := talker
		if !isSelf && !system {
			other = selfID
		}
		if other != "" && other != sender {
			recipients = []string{other}
		}
		conv = archive.DirectConversation(append([]string{sender}, recipients...)...)
		if system && selfID != "" {
			conv = archive.DirectConversation(selfID, talker)
			recipients = []string{selfID}
		}
	} else if !isSelf && selfID != "" && selfID != sender {
		recipients = []string{selfID} // the owner's export: they are in the group
	}
	m := p.message(id, sent, sender, recipients, conv, group, selfIDs...)
	label, title, url := chatlogPlaceholder(content)
	m.Kind, m.SourceType = chatlogKinds[label], label
	switch {
	case system:
		m.Kind, m.SourceType = archive.KindEvent, chatlogSystem
	case m.Kind == "":
		m.Kind, m.SourceType = archive.KindText, "text"
		if label != "" {
			m.Kind = archive.KindUnknown
		}
	}
	m.Text = text(content)
	switch {
	case title != "":
		m.Text = text(title)
	case url != "":
		m.Text = label // ![图片](a link to the exporting machine): the link is a detail
	}
	for _, d := range []struct{ name, v string }{{"sender_name", r.get("SenderName")}, {"conversation_name", r.get("TalkerName")}, {"media_url", url}} {
		if v := strings.TrimSpace(d.v); v != "" {
			m.Details = append(m.Details, archive.Detail{Name: d.name, Value: text(v)})
		}
	}
	if isSelf && sender != rawSender && rawSender != "" {
		m.Details = append(m.Details, archive.Detail{Name: "sender_wxid", Value: text(rawSender)})
	}
	return Row{Line: r.line, Raw: r.raw, Message: m}
}

// chatlogPlaceholder reads the text chatlog renders a non-text message
// as — ![图片](URL), [文件|报价单.xlsx](URL), [位置|label|city|x|y],
// [语音] — into its label, its title and its link.
var placeholderRE = regexp.MustCompile(`^!?\[([^\]\n]{1,200})\](?:\(([^)\n]*)\))?$`)

func chatlogPlaceholder(content string) (label, title, url string) {
	m := placeholderRE.FindStringSubmatch(strings.TrimSpace(content))
	if m == nil {
		return "", "", ""
	}
	parts := strings.Split(m[1], "|")
	if _, ok := chatlogKinds[parts[0]]; !ok {
		return "", "", ""
	}
	label = parts[0]
	if len(parts) > 1 {
		title = strings.Join(parts[1:], " ")
		if label == "位置" && len(parts) >= 3 {
			title = strings.TrimSpace(parts[1] + " " + parts[2])
		}
	}
	if strings.HasPrefix(m[2], "http") {
		url = m[2]
	} else if m[2] != "" && title != "" {
		title += "\n" + m[2] // [链接|title](description)
	}
	return label, title, url
}

// chatlogKinds are the labels of chatlog's placeholders.
var chatlogKinds = map[string]archive.Kind{
	"图片": archive.KindImage, "语音": archive.KindVoice, "名片": archive.KindCard, "视频": archive.KindVideo,
	"动画表情": archive.KindEmotion, "GIF表情": archive.KindEmotion, "位置": archive.KindLocation, "链接": archive.KindLink,
	"文件": archive.KindFile, "合并转发": archive.KindChatRecord, "笔记": archive.KindLink, "小程序": archive.KindWeapp,
	"视频号": archive.KindSphFeed, "视频号直播": archive.KindSphFeed, "群公告": archive.KindText, "音乐": archive.KindLink,
	"转账": archive.KindRedPacket, "红包": archive.KindRedPacket, "红包封面": archive.KindRedPacket, "分享": archive.KindLink,
	"语音通话": archive.KindVoip,
}

// chatlogLegacyCSV reads a row of the JSON keys as columns.
func (p *parser) chatlogLegacyCSV(r csvRecord, fn func(Row) error) error {
	if len(r.fields) != r.width {
		return fn(rowErr(r.line, r.raw, "", "", "wrong number of columns (want %d)", r.width))
	}
	get := r.get
	c := chatlogMessage{Time: get("time"), Talker: get("talker"), TalkerName: get("talkerName"), Sender: get("sender"),
		SenderName: get("senderName"), Content: get("content")}
	bad := func(field, v string) error {
		want := "an integer"
		if field == "isChatRoom" || field == "isSelf" {
			want = "true or false"
		}
		return fn(rowErr(r.line, r.raw, "", field, "%q is not %s", clip(v), want))
	}
	seq, err := strconv.ParseInt(get("seq"), 10, 64)
	if err != nil {
		return bad("seq", get("seq"))
	}
	c.Seq = &seq
	if c.IsChatRoom, err = strconv.ParseBool(get("isChatRoom")); err != nil {
		return bad("isChatRoom", get("isChatRoom"))
	}
	if c.IsSelf, err = strconv.ParseBool(get("isSelf")); err != nil {
		return bad("isSelf", get("isSelf"))
	}
	if c.Type, err = strconv.ParseInt(get("type"), 10, 64); err != nil {
		return bad("type", get("type"))
	}
	if s := get("subType"); s != "" {
		if c.SubType, err = strconv.ParseInt(s, 10, 64); err != nil {
			return bad("subType", s)
		}
	}
	return fn(p.chatlogRow(r.line, r.raw, c))
}
