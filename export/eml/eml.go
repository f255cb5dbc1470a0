// Package eml writes a production's EML format: one RFC 5322 / MIME
// message per unit (a conversation-day, or a slice of one), which any mail
// client or review platform opens. The message is from the custodian to
// the other participants; its text/plain part is the unit's transcript,
// one block per message with everything an examiner needs to tie it back
// to the archive (production number, serial, hashes, versions, recalls,
// consent, attachment status); every attachment whose bytes the
// production carries follows as its own part.
//
// The package also holds the small MIME writer (mime.go) and participant
// address form (address.go) the RSMF format shares.
package eml

import (
	"bufio"
	"context"
	"fmt"
	"mime/quotedprintable"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/export"
)

// Format is the EML format.
type Format struct{}

var _ export.Format = Format{}

// Name is the --format name.
func (Format) Name() string { return "eml" }

// WriteUnit writes <unit.Name>.eml. It uses no pages.
func (Format) WriteUnit(ctx context.Context, u *export.Unit, out export.Sink, firstPage int) (int, error) {
	if err := CheckUnit(u); err != nil {
		return 0, fmt.Errorf("eml: %w", err)
	}
	f, err := out.Create(u.Name + ".eml")
	if err != nil {
		return 0, fmt.Errorf("eml: unit %s: %w", u.Name, err)
	}
	w := bufio.NewWriter(f)
	err = writeMessage(ctx, w, u)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("eml: unit %s: %w", u.Name, err)
	}
	return 0, nil
}

// Subject is the unit's subject: the conversation's title (its id when it
// has none) and the day, with the slice when the day is split.
func Subject(u *export.Unit) string {
	title := strings.TrimSpace(u.Title)
	if title == "" {
		title = u.Conversation
	}
	s := title + " " + u.Day
	if u.Slices > 1 {
		s += fmt.Sprintf(" (%d/%d)", u.Slice, u.Slices)
	}
	return s
}

// Envelope is the header a unit's mail formats share: From the custodian,
// To everyone else, Subject, Date of the first message, a Message-ID
// derived from the format, the collection id and the slice (so every
// slice and format has its own, the same on every run), MIME-Version and
// the X-WXArchive fields naming the conversation and day. u must have
// passed CheckUnit.
func Envelope(u *export.Unit, format string) *Header {
	h := &Header{}
	custodian := u.Person(u.Custodian)
	var to []Address
	for _, p := range u.Participants {
		if p.ID != u.Custodian {
			to = append(to, PersonAddress(p))
		}
	}
	first, _ := Span(u)
	h.Add("From", PersonAddress(custodian).String())
	h.Add("To", FormatAddresses(to))
	h.AddText("Subject", Subject(u))
	h.Add("Date", FormatDate(first.In(Location(u))))
	h.Add("Message-ID", MessageID(format, u.CollectionID, strconv.Itoa(u.Slice)))
	h.Add("MIME-Version", "1.0")
	h.AddText("X-WXArchive-Conversation", u.Conversation)
	h.AddText("X-WXArchive-Day", u.Day)
	h.Add("X-WXArchive-Slice", fmt.Sprintf("%d/%d", u.Slice, u.Slices))
	h.AddText("X-WXArchive-Collection-ID", u.CollectionID)
	if u.Producer != "" {
		h.AddText("X-WXArchive-Producer", u.Producer)
	}
	return h
}

func writeMessage(ctx context.Context, w *bufio.Writer, u *export.Unit) error {
	h := Envelope(u, "eml")
	mp := NewMultipart(w, Boundary("eml", u.CollectionID, strconv.Itoa(u.Slice), "mixed"))
	h.Add("Content-Type", mp.ContentType("mixed"))
	if err := WriteHeader(w, h); err != nil {
		return err
	}

	text := &Header{}
	text.Add("Content-Type", "text/plain; charset=utf-8")
	text.Add("Content-Transfer-Encoding", "quoted-printable")
	pw, err := mp.CreatePart(text)
	if err != nil {
		return err
	}
	// quotedprintable turns the transcript's "\n" into CRLF and keeps
	// lines under 76 characters with soft breaks.
	transcript, err := Transcript(u)
	if err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(pw)
	if _, err := qp.Write([]byte(transcript)); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}

	for _, m := range u.Messages {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, a := range m.Attachments {
			if !a.HasBytes() {
				continue
			}
			ah := AttachmentHeader(a.MediaType, AttachmentFileName(m, a), contentID(m, a))
			aw, err := mp.CreatePart(ah)
			if err != nil {
				return err
			}
			b64 := NewBase64Writer(aw)
			if err := CopyAttachment(ctx, b64, m, a); err != nil {
				return err
			}
			if err := b64.Close(); err != nil {
				return err
			}
		}
	}
	return mp.Close()
}

// contentID names an attachment part <PRODNUM.n@wxarchive.invalid>, so a
// reader can cite it by the message's production number. A production
// number with characters a msg-id cannot hold has them replaced by "-".
func contentID(m *export.Message, a *export.Attachment) string {
	id := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			return r
		}
		return '-'
	}, m.ProductionNumber)
	return fmt.Sprintf("<%s.%d@%s>", id, a.Ordinal+1, Domain)
}
