// Package exporttest builds the units the format tests write: one group
// conversation-day holding every kind of message a production must show
// (text in Chinese and English, image, file, voice, video, link, card,
// merged forward, red packet, a recalled message and its recall, consent
// events, an unknown type, a missing attachment, a second version) and a
// 1:1 conversation with an external contact. Everything is built in
// memory and deterministic: golden files compare bytes.
package exporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

// Location is the archive time zone of the sample (Asia/Shanghai, fixed
// so tests do not depend on the machine's zone database).
var Location = time.FixedZone("CST", 8*3600)

// People of the sample.
var (
	Zhang  = export.Person{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部"}
	Li     = export.Person{ID: "lina", Kind: archive.ParticipantEmployee, Name: "李娜", Department: "合规部"}
	Client = export.Person{ID: "wmEXTclient01", Kind: archive.ParticipantExternal, Name: "王先生 (客户)"}
	Smith  = export.Person{ID: "wmEXTsmith", Kind: archive.ParticipantExternal, Name: "John Smith"}
	// Nameless is an external contact the directory never named.
	Nameless = export.Person{ID: "wmEXTnoname", Kind: archive.ParticipantExternal}
)

// PNG is a small deterministic image (16×16, a gradient).
func PNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// FileBytes is the sample's 合同.pdf (not a real PDF: a file is a file).
var FileBytes = []byte("%PDF-1.4 sample contract 合同 bytes\n")

// VoiceBytes stands for an AMR voice note.
var VoiceBytes = []byte("#!AMR\n\x00\x01\x02\x03")

type builder struct {
	prefix string
	n      int
	serial uint64
	unit   *export.Unit
	files  map[string][]byte
}

func (b *builder) at(hh, mm, ss int) archive.Time {
	return archive.Time{Time: time.Date(2026, 3, 2, hh, mm, ss, 0, Location).UTC()}
}

func (b *builder) add(m *archive.Message, sender export.Person, atts ...[]byte) *export.Message {
	b.n++
	b.serial += 3
	m.Schema = archive.RecordSchema
	if m.Source == "" {
		m.Source = "wecom-archive:ww0sample"
	}
	if m.Action == "" {
		m.Action = archive.ActionSend
	}
	if m.SourceID == "" {
		m.SourceID = fmt.Sprintf("msg%04d", b.n)
	}
	m.Conversation = b.unit.Conversation
	m.ConversationKind = b.unit.ConversationKind
	m.Sender = sender.ID
	for _, p := range b.unit.Participants {
		if p.ID != sender.ID {
			m.Recipients = append(m.Recipients, p.ID)
		}
		m.Participants = append(m.Participants, archive.Participant{ID: p.ID, Kind: p.Kind})
	}
	if m.Attachments == nil {
		m.Attachments = []archive.Attachment{}
	}
	rec, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	raw := []byte(fmt.Sprintf(`{"msgid":%q,"action":%q,"from":%q,"msgtype":%q,"msgtime":%d}`,
		m.SourceID, m.Action, m.Sender, m.SourceType, m.SentAt.UnixMilli()))
	em := &export.Message{
		Serial: b.serial, JournalIndex: b.serial + 10, ProductionNumber: export.MessageNumber(b.prefix, b.n),
		Version: 1, CapturedAt: m.SentAt.Add(2 * time.Second), Message: m, Raw: raw, Record: rec,
		RawSHA256: sha256.Sum256(raw), RecordSHA256: sha256.Sum256(rec), Sender: sender,
	}
	for i, a := range m.Attachments {
		ea := &export.Attachment{Ordinal: i, Role: a.Role, FileName: a.FileName, MediaType: a.MediaType,
			Status: a.Status, Reason: a.Reason, Blob: a.Blob, Size: a.Size}
		if i < len(atts) && atts[i] != nil {
			data := atts[i]
			ea.Blob, ea.Size = sha256.Sum256(data), int64(len(data))
			ea.Path = fmt.Sprintf("VOL001/NATIVES/%s_%d%s", em.ProductionNumber, i+1, ext(a))
			b.files[ea.Path] = data
			ea.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		em.Attachments = append(em.Attachments, ea)
	}
	b.unit.Messages = append(b.unit.Messages, em)
	return em
}

func ext(a archive.Attachment) string {
	switch a.MediaType {
	case "image/png":
		return ".png"
	case "application/pdf":
		return ".pdf"
	case "audio/amr":
		return ".amr"
	case "video/mp4":
		return ".mp4"
	}
	return ".bin"
}

// Sample is the sample production: its units and the bytes of every
// native file by Attachment.Path.
type Sample struct {
	Units []*export.Unit
	Files map[string][]byte
}

// Units builds the sample with production numbers PREFIX0000001….
func Units(prefix string) *Sample {
	s := &Sample{Files: map[string][]byte{}}
	b := &builder{prefix: prefix, files: s.Files}

	// A group: two employees and a client, every kind of message.
	b.unit = &export.Unit{Conversation: "wrSampleGroup01", ConversationKind: archive.ConversationGroup,
		Title: "财富管理VIP群", Day: "2026-03-02", Slice: 1, Slices: 1, CollectionID: "wrSampleGroup01/2026-03-02",
		Name: "2026-03-02_wrSampleGroup01", Custodian: Zhang.ID, Participants: []export.Person{Li, Zhang, Client},
		Location: Location, Producer: "wxarchive test", Prefix: prefix}
	g := b.unit
	b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(9, 30, 0),
		Text: "王先生您好，这款产品保证收益8%，下周一前打款即可。"}, Zhang)
	b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(9, 31, 5),
		Text: "Thanks — please send me the contract. 合同发我看看"}, Client)
	pngBytes := PNG()
	b.add(&archive.Message{SourceType: "image", Kind: archive.KindImage, SentAt: b.at(9, 32, 0),
		Attachments: []archive.Attachment{{Role: "image", MediaType: "image/png", Status: archive.AttachmentFetched}}}, Client, pngBytes)
	b.add(&archive.Message{SourceType: "file", Kind: archive.KindFile, SentAt: b.at(9, 33, 0), Text: "产品合同.pdf",
		Attachments: []archive.Attachment{{Role: "file", FileName: "产品合同.pdf", MediaType: "application/pdf", Status: archive.AttachmentFetched}}}, Zhang, FileBytes)
	b.add(&archive.Message{SourceType: "voice", Kind: archive.KindVoice, SentAt: b.at(9, 34, 0),
		Details:     []archive.Detail{{Name: "duration", Value: "4 s"}},
		Attachments: []archive.Attachment{{Role: "voice", MediaType: "audio/amr", Status: archive.AttachmentFetched}}}, Client, VoiceBytes)
	b.add(&archive.Message{SourceType: "video", Kind: archive.KindVideo, SentAt: b.at(9, 35, 0),
		Attachments: []archive.Attachment{{Role: "video", MediaType: "video/mp4", Status: archive.AttachmentMissing, Reason: "media expired at the source (errcode 10001)"}}}, Zhang)
	b.add(&archive.Message{SourceType: "link", Kind: archive.KindLink, SentAt: b.at(9, 36, 0), Text: "基金年报 2025 https://example.com/report",
		Details: []archive.Detail{{Name: "title", Value: "基金年报 2025"}, {Name: "url", Value: "https://example.com/report?a=1&b=<2>"}}}, Zhang)
	b.add(&archive.Message{SourceType: "card", Kind: archive.KindCard, SentAt: b.at(9, 37, 0), Text: "名片: 李娜",
		Details: []archive.Detail{{Name: "corpname", Value: "示例证券"}, {Name: "userid", Value: "lina"}}}, Zhang)
	b.add(&archive.Message{SourceType: "chatrecord", Kind: archive.KindChatRecord, SentAt: b.at(9, 38, 0),
		Text:    "群聊的聊天记录\n张伟: 收益没问题\n王先生: 好的",
		Details: []archive.Detail{{Name: "title", Value: "群聊的聊天记录"}, {Name: "item[1]", Value: "张伟: 收益没问题"}, {Name: "item[2]", Value: "王先生: 好的"}}}, Client)
	b.add(&archive.Message{SourceType: "redpacket", Kind: archive.KindRedPacket, SentAt: b.at(9, 39, 0), Text: "恭喜发财，大吉大利",
		Details: []archive.Detail{{Name: "totalamount", Value: "88.88"}, {Name: "totalcnt", Value: "1"}}}, Client)
	recalled := b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(9, 40, 0), SourceID: "msgRecalled",
		Text: "内部消息：明天公告重组，先买入"}, Zhang)
	recall := b.add(&archive.Message{SourceType: "revoke", Kind: archive.KindRevoke, Action: archive.ActionRecall, SentAt: b.at(9, 40, 30),
		RefersTo: "msgRecalled"}, Zhang)
	recalled.RecalledBy, recall.RefersToSerial = recall.Serial, recalled.Serial
	b.add(&archive.Message{SourceType: "agree", Kind: archive.KindAgree, SentAt: b.at(9, 41, 0),
		Consent: &archive.Consent{ExternalID: Client.ID, Agreed: true, At: b.at(9, 41, 0)}}, Client)
	b.add(&archive.Message{SourceType: "hongbao_v9", Kind: archive.KindUnknown, SentAt: b.at(9, 42, 0),
		Details: []archive.Detail{{Name: "raw", Value: `{"hongbao_v9":{"x":1}}`}}}, Client)
	v2 := b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(9, 30, 0), SourceID: "msg0001",
		Text: "王先生您好，这款产品预期收益8%（不保证）。"}, Zhang)
	v2.Version, v2.ConflictsWith = 2, g.Messages[0].Serial
	s.Units = append(s.Units, g)

	// A 1:1 chat with an external contact, in English, with a refusal of
	// consent and a sender the directory never named.
	b.unit = &export.Unit{Conversation: archive.DirectConversation(Li.ID, Smith.ID), ConversationKind: archive.ConversationDirect,
		Title: "李娜, John Smith", Day: "2026-03-02", Slice: 1, Slices: 1, CollectionID: archive.DirectConversation(Li.ID, Smith.ID) + "/2026-03-02",
		Name: "2026-03-02_direct_lina_wmEXTsmith", Custodian: Li.ID, Participants: []export.Person{Li, Smith},
		Location: Location, Producer: "wxarchive test", Prefix: prefix}
	b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(14, 0, 0),
		Text: "Hi John, the fund's guaranteed return is 8% <b>not</b> advice & more."}, Li)
	b.add(&archive.Message{SourceType: "disagree", Kind: archive.KindDisagree, SentAt: b.at(14, 5, 0),
		Consent: &archive.Consent{ExternalID: Smith.ID, Agreed: false, At: b.at(14, 5, 0)}}, Smith)
	b.add(&archive.Message{SourceType: "text", Kind: archive.KindText, SentAt: b.at(23, 59, 59), TimeUnknown: true,
		Text: "Message with no usable time from the source"}, Smith)
	s.Units = append(s.Units, b.unit)
	return s
}
