package callback

import (
	"fmt"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// Platform is where callbacks come from: a WeCom self-built app (staff
// writing to the firm's app) or a WeChat Official Account (the public
// writing to the firm).
type Platform string

// Platforms.
const (
	PlatformWeCom           Platform = "wecom"
	PlatformOfficialAccount Platform = "official-account"
)

// kinds maps callback MsgTypes onto normalized kinds; anything else is
// archived as unknown, with its text fields indexed.
var kinds = map[string]archive.Kind{
	"text": archive.KindText, "image": archive.KindImage, "voice": archive.KindVoice,
	"video": archive.KindVideo, "shortvideo": archive.KindVideo, "location": archive.KindLocation,
	"link": archive.KindLink, "file": archive.KindFile, "event": archive.KindEvent,
}

// Normalize turns a decrypted callback message into the canonical message.
// source is the connector's source name; app is the party id of the app or
// account that received it. Media ids become attachments to fetch. A
// message without a usable CreateTime is filed at captured, marked
// TimeUnknown, with a decode_warning detail saying why.
func Normalize(m *Message, platform Platform, source string, captured time.Time) *archive.Message {
	app := appParty(m, platform)
	sender := m.FromUserName
	if sender == "" {
		sender = SystemSender // an event WeCom sends without FromUserName
	}
	out := &archive.Message{
		Schema: archive.RecordSchema, Source: source, SourceID: m.DedupeKey(), SourceType: m.MsgType,
		Kind: kinds[m.MsgType], Action: archive.ActionSend, SentAt: archive.MillisTime(m.CreateTime * 1000),
		Sender: sender, Recipients: []string{app}, Attachments: []archive.Attachment{},
	}
	if m.TimeProblem != "" {
		out.SentAt, out.TimeUnknown = archive.At(captured), true
		out.Details = append(out.Details, archive.Detail{Name: DetailDecodeWarning,
			Value: m.TimeProblem + "; the time sent is unknown, filed at the time captured"})
		if v, ok := m.Doc.Get("CreateTime"); ok {
			out.Details = append(out.Details, archive.Detail{Name: "CreateTime", Value: v})
		}
	}
	// The app or account is the firm's bot; a WeCom app's users are staff
	// (userids), an Official Account's are the public (openids).
	out.SetConversation("", func(id string) archive.ParticipantKind {
		switch {
		case id == app:
			return archive.ParticipantBot
		case platform == PlatformWeCom:
			return archive.ParticipantEmployee
		}
		return archive.ParticipantExternal
	})
	if out.Kind == "" {
		out.Kind = archive.KindUnknown
	}
	if m.MsgType == "event" {
		out.SourceType = "event:" + m.Event
	}
	d := m.Doc
	var text []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			text = append(text, s)
		}
	}
	detail := func(name, field string) {
		if v := strings.TrimSpace(d.Value(field)); v != "" {
			out.Details = append(out.Details, archive.Detail{Name: name, Value: v})
		}
	}
	media := func(role, field string) {
		if id := d.Value(field); id != "" {
			out.Attachments = append(out.Attachments, archive.Attachment{Role: role, SourceRef: id, Status: archive.AttachmentPending})
		}
	}
	switch m.MsgType {
	case "text":
		add(d.Value("Content"))
	case "image":
		media("image", "MediaId")
		detail("picture_url", "PicUrl")
	case "voice":
		media("voice", "MediaId")
		detail("format", "Format")
		add(d.Value("Recognition")) // speech recognition, when enabled
	case "video", "shortvideo":
		media("video", "MediaId")
		media("thumbnail", "ThumbMediaId")
	case "file":
		media("file", "MediaId")
		add(d.Value("FileName"))
		if len(out.Attachments) > 0 {
			out.Attachments[0].FileName = d.Value("FileName")
		}
	case "location":
		add(d.Value("Label"))
		if x, y := d.Value("Location_X"), d.Value("Location_Y"); x != "" || y != "" {
			out.Details = append(out.Details, archive.Detail{Name: "coordinates", Value: x + "," + y})
		}
		detail("scale", "Scale")
	case "link":
		add(d.Value("Title"))
		add(d.Value("Description"))
		detail("url", "Url")
		detail("picture_url", "PicUrl")
	case "event":
		add(label(eventLabels, m.Event, strings.TrimSpace(d.Value("ChangeType"))))
		out.Details = append(out.Details, archive.Detail{Name: "event", Value: m.Event})
		detail("event_key", "EventKey")
		for _, f := range d.Fields {
			switch f.Name {
			case "ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "EventKey", "AgentID":
			default:
				if v := strings.TrimSpace(f.Value); v != "" {
					if secretField(f.Name) {
						v = redact(v) // a credential is kept only as its digest
					}
					out.Details = append(out.Details, archive.Detail{Name: f.Name, Value: v})
				}
			}
		}
	default:
		// An unknown type: every field's text is searchable, nothing lost.
		for _, f := range d.Fields {
			switch f.Name {
			case "ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "AgentID":
			default:
				add(f.Value)
			}
		}
	}
	out.Text = strings.Join(text, "\n")
	return out
}

// appParty names the receiving app or account as a participant: a WeCom
// app by corp and agent id, an Official Account by its original id.
func appParty(m *Message, platform Platform) string {
	if platform == PlatformWeCom && m.AgentID != "" {
		return fmt.Sprintf("app:%s:%s", m.ToUserName, m.AgentID)
	}
	if m.ToUserName == "" {
		return "app:unknown"
	}
	return m.ToUserName
}
