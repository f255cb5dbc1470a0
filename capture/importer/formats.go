package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// chatlog message types (WeChat's local type numbers) → kinds.
var wechatKinds = map[int64]archive.Kind{
	1: archive.KindText, 3: archive.KindImage, 34: archive.KindVoice, 42: archive.KindCard, 43: archive.KindVideo,
	47: archive.KindEmotion, 48: archive.KindLocation, 49: archive.KindLink, 50: archive.KindVoip, 10000: archive.KindEvent,
	10002: archive.KindRevoke,
}

// wechatAppKinds refines type 49 by its subtype.
var wechatAppKinds = map[int64]archive.Kind{
	5: archive.KindLink, 6: archive.KindFile, 19: archive.KindChatRecord, 33: archive.KindWeapp, 36: archive.KindWeapp,
	51: archive.KindSphFeed, 57: archive.KindText, 2000: archive.KindRedPacket, 2001: archive.KindRedPacket,
}

func wechatKind(typ, sub int64) archive.Kind {
	if typ == 49 {
		if k, ok := wechatAppKinds[sub]; ok {
			return k
		}
	}
	if k, ok := wechatKinds[typ]; ok {
		return k
	}
	return archive.KindUnknown
}

// chatlogMessage is one message of chatlog's JSON.
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
}

// chatlogRow normalizes a chatlog message; raw is its exact bytes.
func (p *parser) chatlogRow(line int, raw []byte, c chatlogMessage) Row {
	row := Row{Line: line, Raw: raw}
	bad := func(field, format string, a ...any) Row {
		id := ""
		if c.Seq != nil {
			id = strconv.FormatInt(*c.Seq, 10)
		}
		row.Err = &RowError{Line: line, MsgID: id, Field: field, Reason: fmt.Sprintf(format, a...)}
		return row
	}
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
	}
	// The source id: chatlog's seq (timestamp and sequence) within the
	// conversation.
	m := p.message(c.Talker+"#"+strconv.FormatInt(*c.Seq, 10), sent, sender, recipients, conv, c.IsChatRoom)
	m.SourceType = strconv.FormatInt(c.Type, 10)
	if c.SubType != 0 {
		m.SourceType += "." + strconv.FormatInt(c.SubType, 10)
	}
	m.Kind = wechatKind(c.Type, c.SubType)
	var parts []string
	if c.Content != "" {
		parts = append(parts, text(c.Content))
	}
	// Titles, descriptions and other strings in contents are searchable.
	if len(c.Contents) > 0 && string(c.Contents) != "null" {
		var v any
		if json.Unmarshal(c.Contents, &v) == nil {
			strs := collectStrings(v, nil)
			parts = append(parts, strs...)
		}
	}
	if c.TalkerName != "" {
		m.Details = append(m.Details, archive.Detail{Name: "conversation_name", Value: text(c.TalkerName)})
	}
	if c.SenderName != "" {
		m.Details = append(m.Details, archive.Detail{Name: "sender_name", Value: text(c.SenderName)})
	}
	m.Text = strings.Join(parts, "\n")
	row.Message = m
	return row
}

// collectStrings gathers the human-readable strings of a JSON value, in
// key order (archive.WalkJSONStrings); md5 sums, hosts and URLs are not
// text.
func collectStrings(v any, out []string) []string {
	archive.WalkJSONStrings(v, func(s string, path []archive.PathStep) error {
		for _, st := range path {
			if !st.IsIndex && (st.Key == "md5" || st.Key == "rawmd5" || st.Key == "host" || st.Key == "url") {
				return nil
			}
		}
		if s = strings.TrimSpace(s); s != "" && !strings.HasPrefix(s, "http") && !isHex(s) {
			out = append(out, text(s))
		}
		return nil
	})
	return out
}

func isHex(s string) bool {
	if len(s) < 16 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// chatlogJSON reads a JSON array of chatlog messages, element by element,
// keeping each element's bytes.
func (p *parser) chatlogJSON(data []byte, fn func(Row) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	lc := &lineCounter{data: data}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return &FileError{Format: p.f, Line: 1, Reason: "expected a JSON array of messages ([ … ])"}
	}
	for dec.More() {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// Point at the element, not the separator before it.
			at := min(start, len(data))
			for at < len(data) && bytes.IndexByte([]byte(", \t\r\n"), data[at]) >= 0 {
				at++
			}
			return &FileError{Format: p.f, Line: lc.at(min(at, len(data))), Reason: fmt.Sprintf("not JSON: %v", err)}
		}
		// InputOffset was at the separator: skip to the element itself.
		start += bytes.Index(data[start:], raw)
		line := lc.at(start)
		var c chatlogMessage
		var row Row
		if err := json.Unmarshal(raw, &c); err != nil {
			row = Row{Line: line, Raw: raw, Err: &RowError{Line: line, Reason: fmt.Sprintf("not a chatlog message: %v", err)}}
		} else {
			row = p.chatlogRow(line, raw, c)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return &FileError{Format: p.f, Line: lc.at(int(dec.InputOffset())), Reason: "the array is not closed"}
	}
	return nil
}

// csvRows reads a CSV file with a header, calling row with each record,
// its line and its exact bytes.
func (p *parser) csvRows(data []byte, required []string, fn func(line int, raw []byte, get func(string) string) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // utf-8-sig
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = false
	header, err := r.Read()
	if err != nil {
		return &FileError{Format: p.f, Line: 1, Reason: fmt.Sprintf("no header row: %v", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	var missing []string
	for _, name := range required {
		if _, ok := col[strings.ToLower(name)]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return &FileError{Format: p.f, Line: 1, Reason: fmt.Sprintf("header lacks %s (it has %s)", strings.Join(missing, ", "), strings.Join(header, ","))}
	}
	for {
		start := int(r.InputOffset())
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A broken row (an unclosed quote swallows the rest of the
			// file): the file cannot be trusted past it.
			return &FileError{Format: p.f, Line: pe.StartLine, Reason: pe.Err.Error()}
		}
		if err != nil {
			return &FileError{Format: p.f, Reason: err.Error()}
		}
		line, _ := r.FieldPos(0) // a record always has a field
		end := int(r.InputOffset())
		raw := bytes.TrimRight(data[start:end], "\r\n")
		get := func(name string) string {
			i, ok := col[strings.ToLower(name)]
			if !ok || i >= len(rec) {
				return ""
			}
			return rec[i]
		}
		if len(rec) != len(header) {
			if err := fn(line, raw, nil); err != nil {
				return err
			}
			continue
		}
		if err := fn(line, raw, get); err != nil {
			return err
		}
	}
}

var chatlogColumns = []string{"seq", "time", "talker", "talkerName", "isChatRoom", "sender", "senderName", "isSelf", "type", "subType", "content"}

func (p *parser) chatlogCSV(data []byte, fn func(Row) error) error {
	return p.csvRows(data, chatlogColumns, func(line int, raw []byte, get func(string) string) error {
		if get == nil {
			return fn(Row{Line: line, Raw: raw, Err: &RowError{Line: line, Reason: fmt.Sprintf("wrong number of columns (want %d)", len(chatlogColumns))}})
		}
		c := chatlogMessage{Time: get("time"), Talker: get("talker"), TalkerName: get("talkerName"), Sender: get("sender"),
			SenderName: get("senderName"), Content: get("content")}
		bad := func(field, v string) error {
			return fn(Row{Line: line, Raw: raw, Err: &RowError{Line: line, Field: field, Reason: fmt.Sprintf("%q is not %s", clip(v), map[bool]string{true: "true or false", false: "an integer"}[field == "isChatRoom" || field == "isSelf"])}})
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
		return fn(p.chatlogRow(line, raw, c))
	})
}

var wechatMsgColumns = []string{"localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender"}

// wechatMsgCSV reads WeChatMsg's CSV export. A file holds one chat: rows
// with a Sender other than the owner and IsSender=0 in a chat whose rows
// name several senders are a group chat.
func (p *parser) wechatMsgCSV(data []byte, fn func(Row) error) error {
	return p.csvRows(data, wechatMsgColumns, func(line int, raw []byte, get func(string) string) error {
		row := Row{Line: line, Raw: raw}
		bad := func(field, format string, a ...any) error {
			id := ""
			if get != nil {
				id = get("localId")
			}
			row.Err = &RowError{Line: line, MsgID: id, Field: field, Reason: fmt.Sprintf(format, a...)}
			return fn(row)
		}
		if get == nil {
			return bad("", "wrong number of columns (want %d)", len(wechatMsgColumns))
		}
		localID := get("localId")
		if _, err := strconv.ParseUint(localID, 10, 64); err != nil {
			return bad("localId", "%q is not a row id", clip(localID))
		}
		talker := strings.TrimSpace(get("TalkerId"))
		if !validID(talker) {
			return bad("TalkerId", "missing")
		}
		typ, err := strconv.ParseInt(get("Type"), 10, 64)
		if err != nil {
			return bad("Type", "%q is not an integer", clip(get("Type")))
		}
		var sub int64
		if s := get("SubType"); s != "" {
			if sub, err = strconv.ParseInt(s, 10, 64); err != nil {
				return bad("SubType", "%q is not an integer", clip(s))
			}
		}
		isSender := get("IsSender")
		if isSender != "0" && isSender != "1" {
			return bad("IsSender", "%q: want 0 or 1", clip(isSender))
		}
		var sent time.Time
		if ct := get("CreateTime"); ct != "" {
			sec, err := strconv.ParseInt(ct, 10, 64)
			if err != nil || sec < 0 {
				return bad("CreateTime", "%q is not a time in seconds", clip(ct))
			}
			sent = time.Unix(sec, 0)
		} else {
			t, err := time.ParseInLocation("2006-01-02 15:04:05", get("StrTime"), p.opts.Location)
			if err != nil {
				return bad("StrTime", "%q is not a time (2006-01-02 15:04:05)", clip(get("StrTime")))
			}
			sent = t
		}
		contact := "wechatmsg-talker:" + talker
		sender := p.opts.Owner
		group := false
		if isSender == "0" {
			sender = contact
			if s := strings.TrimSpace(get("Sender")); s != "" && s != talker {
				// A group chat: the row names its member.
				sender, group = s, true
			}
		}
		var recipients []string
		conv := contact
		if !group {
			other := contact
			if isSender == "0" {
				other = p.opts.Owner
			}
			recipients = []string{other}
			conv = archive.DirectConversation(sender, other)
		} else {
			conv = "group:" + contact
		}
		m := p.message(talker+"#"+localID, sent, sender, recipients, conv, group)
		m.SourceType = strconv.FormatInt(typ, 10)
		if sub != 0 {
			m.SourceType += "." + strconv.FormatInt(sub, 10)
		}
		m.Kind = wechatKind(typ, sub)
		m.Text = text(get("StrContent"))
		for _, d := range []struct{ name, col string }{{"contact_remark", "Remark"}, {"contact_nickname", "NickName"}, {"status", "Status"}} {
			if v := strings.TrimSpace(get(d.col)); v != "" {
				m.Details = append(m.Details, archive.Detail{Name: d.name, Value: text(v)})
			}
		}
		row.Message = m
		return fn(row)
	})
}

// jsonlMessage is the generic format (docs/IMPORT.md).
type jsonlMessage struct {
	ID               string          `json:"id"`
	Conversation     string          `json:"conversation"`
	ConversationKind string          `json:"conversation_kind"`
	Sender           string          `json:"sender"`
	Recipients       []string        `json:"recipients"`
	SentAt           json.RawMessage `json:"sent_at"`
	Type             string          `json:"type"`
	Text             string          `json:"text"`
	Employees        []string        `json:"employees"`
}

func (p *parser) jsonl(data []byte, fn func(Row) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	line := 0
	for len(data) > 0 {
		line++
		i := bytes.IndexByte(data, '\n')
		var raw []byte
		if i < 0 {
			raw, data = data, nil
		} else {
			raw, data = data[:i], data[i+1:]
		}
		raw = bytes.TrimRight(raw, "\r")
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if err := fn(p.jsonlRow(line, raw)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) jsonlRow(line int, raw []byte) Row {
	row := Row{Line: line, Raw: raw}
	var j jsonlMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	bad := func(field, format string, a ...any) Row {
		row.Err = &RowError{Line: line, MsgID: j.ID, Field: field, Reason: fmt.Sprintf(format, a...)}
		return row
	}
	if err := dec.Decode(&j); err != nil {
		return bad("", "not a message object: %v", err)
	}
	if dec.More() {
		return bad("", "more than one JSON value on the line")
	}
	if !validID(j.ID) {
		return bad("id", "missing or not an id")
	}
	if !validID(j.Sender) {
		return bad("sender", "missing or not an id")
	}
	var sent time.Time
	var ms int64
	var str string
	switch {
	case json.Unmarshal(j.SentAt, &ms) == nil:
		sent = time.UnixMilli(ms)
	case json.Unmarshal(j.SentAt, &str) == nil:
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return bad("sent_at", "%q is not an RFC 3339 time", clip(str))
		}
		sent = t
	default:
		return bad("sent_at", "missing: milliseconds since the epoch or an RFC 3339 time")
	}
	for i, r := range j.Recipients {
		if !validID(r) {
			return bad(fmt.Sprintf("recipients[%d]", i), "not an id")
		}
	}
	group := false
	switch j.ConversationKind {
	case "", "direct":
	case "group":
		group = true
	default:
		return bad("conversation_kind", "%q: want direct or group", clip(j.ConversationKind))
	}
	conv := j.Conversation
	if conv == "" {
		if group {
			return bad("conversation", "required for a group conversation")
		}
		conv = archive.DirectConversation(append([]string{j.Sender}, j.Recipients...)...)
	}
	emps := map[string]bool{}
	for k, v := range p.opts.Employees {
		emps[k] = v
	}
	for _, e := range j.Employees {
		emps[e] = true
	}
	saved := p.opts.Employees
	p.opts.Employees = emps
	m := p.message(j.ID, sent, j.Sender, j.Recipients, conv, group)
	p.opts.Employees = saved
	m.SourceType = j.Type
	if j.Type == "" {
		m.SourceType = "text"
	}
	m.Kind = archive.Kind(m.SourceType)
	if !knownKind(m.Kind) {
		m.Kind = archive.KindUnknown
	}
	m.Text = text(j.Text)
	row.Message = m
	return row
}

func knownKind(k archive.Kind) bool {
	switch k {
	case archive.KindText, archive.KindImage, archive.KindVoice, archive.KindVideo, archive.KindFile, archive.KindLink,
		archive.KindLocation, archive.KindCard, archive.KindEmotion, archive.KindEvent:
		return true
	}
	return false
}
