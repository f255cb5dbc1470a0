package eml

import (
	"fmt"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

// TimeLayout is how the transcript shows a time: in the unit's zone, with
// the zone's name and offset, so a reader never has to guess which clock.
const TimeLayout = "2006-01-02 15:04:05 MST -0700"

// Transcript is the unit's plain-text transcript: a heading (conversation,
// day, custodian, participants) and one block per message in production
// order. Lines end in "\n"; the EML writer's quoted-printable encoder
// makes them CRLF. A unit CheckUnit rejects is an error.
func Transcript(u *export.Unit) (string, error) {
	if err := CheckUnit(u); err != nil {
		return "", err
	}
	loc := Location(u)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	kind := string(u.ConversationKind)
	if kind == "" {
		kind = "no conversation kind"
	}
	line("Conversation: %s (%s, %s)", Subject(u), u.Conversation, kind)
	line("Day:          %s (%s), slice %d of %d, collection %s", u.Day, loc, u.Slice, u.Slices, u.CollectionID)
	if u.Custodian != "" {
		line("Custodian:    %s", personLine(u.Person(u.Custodian)))
	}
	line("Participants:")
	for _, p := range u.Participants {
		line("  %s", personLine(p))
	}
	line("Messages:     %d (%s to %s)", len(u.Messages), u.Messages[0].ProductionNumber, u.Messages[len(u.Messages)-1].ProductionNumber)
	if u.Producer != "" {
		line("Produced by:  %s", u.Producer)
	}

	bySerial := make(map[uint64]*export.Message, len(u.Messages))
	for _, m := range u.Messages {
		bySerial[m.Serial] = m
	}
	for _, m := range u.Messages {
		b.WriteString("\n")
		writeBlock(&b, u, m, bySerial, loc)
	}
	return b.String(), nil
}

// personLine: "张伟 <zhangwei> employee, 财富管理部"; a person the directory
// did not name shows the id alone and says so.
func personLine(p export.Person) string {
	var s string
	if p.Name != "" {
		s = p.Name + " <" + p.ID + ">"
	} else {
		s = "<" + p.ID + "> (no name in the directory)"
	}
	kind := string(p.Kind)
	if kind == "" {
		kind = "kind unknown"
	}
	s += " " + kind
	if p.Department != "" {
		s += ", " + p.Department
	}
	return s
}

func writeBlock(b *strings.Builder, u *export.Unit, m *export.Message, bySerial map[uint64]*export.Message, loc *time.Location) {
	rec := m.Message
	field := func(name, format string, args ...any) {
		fmt.Fprintf(b, "  %-15s %s\n", name+":", fmt.Sprintf(format, args...))
	}
	ref := func(serial uint64) string {
		if o, ok := bySerial[serial]; ok {
			return fmt.Sprintf("serial %d (%s)", serial, o.ProductionNumber)
		}
		return fmt.Sprintf("serial %d (not in this unit)", serial)
	}

	fmt.Fprintf(b, "--- %s ---\n", m.ProductionNumber)
	if m.RecalledBy != 0 {
		fmt.Fprintf(b, "  [recalled by serial %d]\n", m.RecalledBy)
	}
	when := rec.SentAt.In(loc).Format(TimeLayout)
	if rec.TimeUnknown {
		when += " (the source gave no time; this is when the archive captured it)"
	}
	field("Time", "%s", when)
	field("Sender", "%s", personLine(m.Sender))
	field("Kind", "%s (source type %q)", rec.Kind, rec.SourceType)
	field("Serial", "%d (journal index %d, source id %s)", m.Serial, m.JournalIndex, rec.SourceID)
	if m.Version > 1 {
		field("Version", "version %d of %s", m.Version, ref(m.ConflictsWith))
	}
	if rec.Action == archive.ActionRecall || rec.Kind == archive.KindRevoke {
		switch {
		case m.RefersToSerial != 0:
			field("Recalls", "%s", ref(m.RefersToSerial))
		case rec.RefersTo != "":
			field("Recalls", "source message %s (not archived)", rec.RefersTo)
		default:
			field("Recalls", "a message the source did not name")
		}
	}
	if c := rec.Consent; c != nil {
		verb := "refused to have the conversation archived"
		if c.Agreed {
			verb = "agreed to have the conversation archived"
		}
		field("Consent", "%s %s at %s", personLine(u.Person(c.ExternalID)), verb, c.At.In(loc).Format(TimeLayout))
	}
	if rec.Text != "" {
		b.WriteString("  Text:\n")
		for _, l := range strings.Split(rec.Text, "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	if len(rec.Details) > 0 {
		b.WriteString("  Details:\n")
		for _, d := range rec.Details {
			b.WriteString("    " + d.Name + ": " + strings.ReplaceAll(d.Value, "\n", "\n      ") + "\n")
		}
	}
	if len(m.Attachments) > 0 {
		b.WriteString("  Attachments:\n")
		for _, a := range m.Attachments {
			b.WriteString("    " + attachmentLine(m, a) + "\n")
		}
	}
	field("Raw SHA-256", "%s", m.RawSHA256)
	field("Record SHA-256", "%s", m.RecordSHA256)
}

// attachmentLine: "1. 产品合同.pdf (file): application/pdf, 35 bytes,
// SHA-256 …; fetched; attached as 产品合同.pdf", or for one without bytes
// its status and the reason.
func attachmentLine(m *export.Message, a *export.Attachment) string {
	mt := a.MediaType
	if mt == "" {
		mt = "media type unknown"
	}
	name := a.FileName
	if name == "" {
		name = "(no file name)"
	}
	s := fmt.Sprintf("%d. %s (%s): %s", a.Ordinal+1, name, a.Role, mt)
	if !a.Blob.IsZero() || a.Size > 0 {
		s += fmt.Sprintf(", %d bytes, SHA-256 %s", a.Size, a.Blob)
	}
	status := string(a.Status)
	if status == "" {
		status = "status unknown"
	}
	s += "; " + status
	if a.Reason != "" {
		s += " (" + a.Reason + ")"
	}
	if a.HasBytes() {
		s += "; attached as " + AttachmentFileName(m, a)
	} else {
		s += "; not in this production"
	}
	return s
}
