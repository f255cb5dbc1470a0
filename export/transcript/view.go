// Package transcript writes the human-readable transcripts of a
// production: one HTML page and one PDF per unit (a conversation-day),
// laid out like the chat an examiner would have seen — who said what,
// when, as whom — with every fact a reviewer must not miss spelled out in
// both 简体中文 and English: recalls, second versions, consent events,
// attachments that were never fetched, times the source did not give.
//
// Both formats render the same view (buildView), so the HTML and the PDF
// of a unit never disagree about what a message was.
package transcript

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

// side is where a message sits: the firm's people on one side, outsiders
// on the other, events in the middle.
type side string

const (
	sideEmployee side = "employee"
	sideExternal side = "external"
	sideSystem   side = "system"
)

// personView is a participant as the transcript prints them.
type personView struct {
	Name, ID, Department string
	Kind                 string // bilingual label of the participant kind
}

// attView is one attachment as the transcript prints it.
type attView struct {
	Ordinal   int
	Role      string
	FileName  string // the source's name, else a name made from the role
	MediaType string
	Size      string // human and exact: "1.2 KiB (1234 bytes)"
	SHA256    string // "" when no bytes are stored
	Status    string // bilingual status label
	Reason    string
	Href      string // RootFromUnit + Path, "" without bytes
	Image     bool   // an image the HTML shows inline
	HasBytes  bool
	Mismatch  bool // bytes stored but the source checksum differs
	att       *export.Attachment
}

// badge is one flag on a message (recalled, version, time unknown…).
type badge struct {
	Class string // recalled, version, time, warn: the HTML's CSS class
	Text  string
}

// entry is one message of the transcript.
type entry struct {
	Number     string // production number, also the HTML anchor
	Serial     uint64
	Time       string // HH:MM:SS in the archive zone
	Side       side
	Sender     personView
	Kind       string // bilingual kind label
	SourceType string
	// Event is the sentence of a system event (recall, consent, switch);
	// "" for an ordinary message.
	Event    string
	Lines    []string // the text, split at line breaks
	Details  []archive.Detail
	Atts     []attView
	Recalled bool
	Badges   []badge
	// Links are production numbers this entry points to (the recalled
	// message, the first version), for the HTML's jump links.
	Links []link
}

type link struct {
	Text, Number string
}

// view is a whole unit as both formats print it.
type view struct {
	Lang         string
	Title        string
	Conversation string
	ConvKind     string
	Day          string
	Zone         string
	Slice        string // "1 / 1"
	Collection   string
	Custodian    string
	Producer     string
	Participants []personView
	Entries      []entry
	First, Last  string // production numbers the unit spans
	Name         string
}

// Bilingual labels: Chinese first (the language of the records), English
// for reviewers who do not read it.
var kindLabels = map[archive.Kind]string{
	archive.KindText:       "文本 Text",
	archive.KindImage:      "图片 Image",
	archive.KindVoice:      "语音 Voice",
	archive.KindVideo:      "视频 Video",
	archive.KindFile:       "文件 File",
	archive.KindLink:       "链接 Link",
	archive.KindLocation:   "位置 Location",
	archive.KindCard:       "名片 Contact card",
	archive.KindEmotion:    "表情 Sticker",
	archive.KindWeapp:      "小程序 Mini program",
	archive.KindChatRecord: "聊天记录 Forwarded chat history",
	archive.KindMixed:      "图文混合 Mixed",
	archive.KindRedPacket:  "红包 Red packet",
	archive.KindTodo:       "待办 To-do",
	archive.KindVote:       "投票 Vote",
	archive.KindCollect:    "填表 Form",
	archive.KindMeeting:    "会议 Meeting",
	archive.KindDocMsg:     "在线文档 Online document",
	archive.KindMarkdown:   "Markdown",
	archive.KindNews:       "图文 News",
	archive.KindCalendar:   "日程 Calendar",
	archive.KindSphFeed:    "视频号 Channels post",
	archive.KindVoip:       "音视频通话 Call",
	archive.KindRevoke:     "撤回 Recall",
	archive.KindAgree:      "同意存档 Consent given",
	archive.KindDisagree:   "拒绝存档 Consent refused",
	archive.KindSwitch:     "切换企业 Switched company",
	archive.KindEvent:      "事件 Event",
	archive.KindUnknown:    "未知类型 Unknown type",
}

var statusLabels = map[archive.AttachmentStatus]string{
	archive.AttachmentFetched:     "已获取 Fetched",
	archive.AttachmentMD5Mismatch: "校验不符 Checksum mismatch",
	archive.AttachmentMissing:     "缺失 Missing",
	archive.AttachmentPending:     "待获取 Pending",
	archive.AttachmentFailed:      "获取失败 Failed",
}

func kindLabel(k archive.Kind) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return "未知类型 Unknown type (" + string(k) + ")"
}

func statusLabel(s archive.AttachmentStatus) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	if s == "" {
		return "状态未知 Status unknown"
	}
	return "状态 Status " + string(s)
}

func personKind(k archive.ParticipantKind) string {
	switch k {
	case archive.ParticipantEmployee:
		return "员工 Employee"
	case archive.ParticipantExternal:
		return "外部联系人 External"
	case archive.ParticipantBot:
		return "机器人 Bot"
	case "":
		return "类型未知 Unknown"
	}
	return string(k)
}

func convKind(k archive.ConversationKind) string {
	switch k {
	case archive.ConversationGroup:
		return "群聊 Group chat"
	case archive.ConversationDirect:
		return "单聊 Direct chat"
	}
	return "无会话 No conversation"
}

func toPersonView(p export.Person) personView {
	name := p.Name
	if name == "" {
		name = "(未命名 unnamed)"
	}
	return personView{Name: name, ID: p.ID, Department: p.Department, Kind: personKind(p.Kind)}
}

// humanSize prints a size both ways: the exact count is what a reviewer
// compares, the rounded one what they read.
func humanSize(n int64) string {
	exact := strconv.FormatInt(n, 10) + " bytes"
	switch {
	case n < 1024:
		return exact
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB (%s)", float64(n)/1024, exact)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.1f MiB (%s)", float64(n)/(1024*1024), exact)
	}
	return fmt.Sprintf("%.1f GiB (%s)", float64(n)/(1024*1024*1024), exact)
}

func location(u *export.Unit) *time.Location {
	if u.Location == nil {
		return time.UTC
	}
	return u.Location
}

// zoneName prints the archive zone with its offset on the unit's day,
// since a zone name alone ("CST") is ambiguous.
func zoneName(u *export.Unit) string {
	loc := location(u)
	at := time.Date(2000, 1, 1, 12, 0, 0, 0, loc)
	if d, err := time.ParseInLocation("2006-01-02", u.Day, loc); err == nil {
		at = d.Add(12 * time.Hour)
	}
	name, off := at.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	utc := fmt.Sprintf("UTC%s%02d:%02d", sign, off/3600, off%3600/60)
	if name == loc.String() {
		return fmt.Sprintf("%s (%s)", name, utc)
	}
	return fmt.Sprintf("%s (%s, %s)", loc.String(), name, utc)
}

// cleanText makes a message's text printable line by line: CR LF and CR
// become line breaks and tabs spaces; invalid UTF-8 becomes U+FFFD (the
// raw record keeps the bytes).
func cleanText(s string) []string {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\t", "    ")
	return strings.Split(s, "\n")
}

// buildView turns a unit into what a transcript prints. It never fails:
// whatever a message lacks is printed as lacking.
func buildView(u *export.Unit) *view {
	v := &view{
		Lang:         "zh-Hans",
		Title:        u.Title,
		Conversation: u.Conversation,
		ConvKind:     convKind(u.ConversationKind),
		Day:          u.Day,
		Zone:         zoneName(u),
		Slice:        fmt.Sprintf("%d / %d", u.Slice, u.Slices),
		Collection:   u.CollectionID,
		Producer:     u.Producer,
		Name:         u.Name,
	}
	if v.Title == "" {
		v.Title = u.Conversation
	}
	if u.Custodian != "" {
		c := u.Person(u.Custodian)
		v.Custodian = c.Display() + " (" + c.ID + ")"
	}
	for _, p := range u.Participants {
		v.Participants = append(v.Participants, toPersonView(p))
	}
	// Serials → production numbers, so a recall or a second version can
	// name (and link to) the message it concerns.
	numbers := make(map[uint64]string, len(u.Messages))
	for _, m := range u.Messages {
		if m != nil {
			numbers[m.Serial] = m.ProductionNumber
		}
	}
	// ref names a message by serial and, when it is in the unit, by
	// production number; zh picks the Chinese word for serial.
	ref := func(serial uint64, zh bool) string {
		s := "serial " + strconv.FormatUint(serial, 10)
		if zh {
			s = "序号 " + strconv.FormatUint(serial, 10)
		}
		if n, ok := numbers[serial]; ok && n != "" {
			s += " (" + n + ")"
		}
		return s
	}
	loc := location(u)
	for _, m := range u.Messages {
		if m == nil {
			continue
		}
		if v.First == "" {
			v.First = m.ProductionNumber
		}
		v.Last = m.ProductionNumber
		v.Entries = append(v.Entries, buildEntry(u, m, loc, ref, numbers))
	}
	return v
}

func buildEntry(u *export.Unit, m *export.Message, loc *time.Location, ref func(uint64, bool) string, numbers map[uint64]string) entry {
	e := entry{Number: m.ProductionNumber, Serial: m.Serial, Sender: toPersonView(m.Sender)}
	switch m.Sender.Kind {
	case archive.ParticipantExternal:
		e.Side = sideExternal
	default: // employees and the firm's bots speak for the firm
		e.Side = sideEmployee
	}
	rec := m.Message
	if rec == nil {
		// A production always carries the record; if one is missing the
		// transcript says so rather than guessing.
		e.Side = sideSystem
		e.Kind = kindLabel(archive.KindUnknown)
		e.Event = "记录缺失 Normalized record missing — see the raw record"
		return e
	}
	e.Time = rec.SentAt.In(loc).Format("15:04:05")
	e.Kind = kindLabel(rec.Kind)
	e.SourceType = rec.SourceType
	e.Lines = cleanText(rec.Text)
	e.Details = rec.Details
	sender := m.Sender.Display()

	switch rec.Kind {
	case archive.KindRevoke:
		e.Side = sideSystem
		e.Lines = nil
		if m.RefersToSerial != 0 {
			e.Event = fmt.Sprintf("%s 撤回了消息 %s · %s recalled the message %s", sender, ref(m.RefersToSerial, true), sender, ref(m.RefersToSerial, false))
			if n, ok := numbers[m.RefersToSerial]; ok {
				e.Links = append(e.Links, link{Text: "→ " + n, Number: n})
			}
		} else {
			e.Event = fmt.Sprintf("%s 撤回了一条未存档的消息 (来源编号 %s) · %s recalled a message that was not archived (source id %s)",
				sender, rec.RefersTo, sender, rec.RefersTo)
		}
	case archive.KindAgree, archive.KindDisagree:
		e.Side = sideSystem
		who, at := sender, e.Time
		if c := rec.Consent; c != nil {
			p := u.Person(c.ExternalID)
			who = p.Display()
			if p.ID != "" && p.ID != who {
				who += " (" + p.ID + ")"
			}
			if !c.At.IsZero() {
				at = c.At.In(loc).Format("15:04:05")
			}
		}
		if rec.Kind == archive.KindAgree {
			e.Event = fmt.Sprintf("%s 于 %s 同意会话内容存档 · %s agreed to the archiving of this conversation at %s", who, at, who, at)
		} else {
			e.Event = fmt.Sprintf("%s 于 %s 拒绝会话内容存档 · %s refused the archiving of this conversation at %s", who, at, who, at)
		}
	case archive.KindSwitch:
		e.Side = sideSystem
		e.Event = fmt.Sprintf("%s 切换了企业 · %s switched company", sender, sender)
	case archive.KindUnknown:
		e.Badges = append(e.Badges, badge{"warn", "未知类型 Unknown type — 来源类型 source type: " + rec.SourceType})
	}
	if m.RecalledBy != 0 {
		e.Recalled = true
		e.Badges = append(e.Badges, badge{"recalled", "已撤回，撤回记录 " + ref(m.RecalledBy, true) + " · Recalled by " + ref(m.RecalledBy, false)})
		if n, ok := numbers[m.RecalledBy]; ok {
			e.Links = append(e.Links, link{Text: "→ " + n, Number: n})
		}
	}
	if m.Version > 1 {
		e.Badges = append(e.Badges, badge{"version", fmt.Sprintf("版本 %d，与 %s 冲突 · version %d, conflicts with %s",
			m.Version, ref(m.ConflictsWith, true), m.Version, ref(m.ConflictsWith, false))})
		if n, ok := numbers[m.ConflictsWith]; ok {
			e.Links = append(e.Links, link{Text: "→ " + n, Number: n})
		}
	}
	if rec.TimeUnknown {
		e.Badges = append(e.Badges, badge{"time", "时间未知 Time unknown — 来源未提供有效时间，所示为采集时间 the source gave no usable time; shown is the capture time"})
	}
	for _, a := range m.Attachments {
		if a != nil {
			e.Atts = append(e.Atts, buildAtt(a))
		}
	}
	return e
}

func buildAtt(a *export.Attachment) attView {
	v := attView{Ordinal: a.Ordinal, Role: a.Role, FileName: a.FileName, MediaType: a.MediaType,
		Status: statusLabel(a.Status), Reason: a.Reason, HasBytes: a.HasBytes(), att: a,
		Mismatch: a.Status == archive.AttachmentMD5Mismatch}
	if v.FileName == "" {
		role := a.Role
		if role == "" {
			role = "attachment"
		}
		v.FileName = fmt.Sprintf("(%s %d)", role, a.Ordinal+1)
	}
	if v.MediaType == "" {
		v.MediaType = "application/octet-stream"
	}
	if v.HasBytes {
		v.Href = export.RootFromUnit + a.Path
		v.Size = humanSize(a.Size)
		if !a.Blob.IsZero() {
			v.SHA256 = a.Blob.String()
		}
		v.Image = strings.HasPrefix(a.MediaType, "image/")
	}
	return v
}
