package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

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
	m := p.message(j.ID, sent, j.Sender, j.Recipients, conv, group, j.Employees...)
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
