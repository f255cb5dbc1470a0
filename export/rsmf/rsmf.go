// Package rsmf writes a production's RSMF format: Relativity Short Message
// Format 2.0.0, the form review platforms import chat in. One .rsmf file
// per unit (a conversation-day, or a slice of one) is an RFC 5322 message
// (multipart/mixed) with X-RSMF- header fields, a short text/plain
// summary and exactly one attachment, rsmf.zip, holding rsmf_manifest.json
// at its root and every attachment file the manifest names.
//
// Mapping of the archive's messages onto RSMF events (the schema's event
// types are message, disclaimer, join, leave, history and unknown):
//
//	archive                      RSMF event
//	---------------------------  -------------------------------------------
//	any sent message (text,      type "message", body the text; details and
//	image, file, link, card,     the archive's identifiers in custom fields
//	voice, video, voip, …)
//	recalled message             type "message", deleted true, body prefixed
//	(RecalledBy ≠ 0)             "[recalled by serial N]"
//	recall (revoke)              type "message", body names the recalled
//	                             message, parent = the recalled event when
//	                             it is in the same file
//	consent agree / disagree     type "disclaimer": the archiving notice a
//	                             contact accepted or refused, which is what
//	                             RSMF's disclaimer events are for
//	switch, event, unknown kind  type "unknown", body says what the source
//	                             called it; the record is in the custom
//	                             fields, nothing is dropped
//	version > 1                  its own event, custom version and
//	                             conflicts_with (RSMF "edits" describe a
//	                             sender's edit; a second archived version
//	                             is a different fact)
//
// WeChat has no join/leave events the archive normalizes (membership
// changes arrive as "event" records, mapped to unknown with their text).
// importance is always "normal": WeCom has no importance flag, and the
// archive does not invent one. direction is "outgoing" for the custodian's
// events, "incoming" for everyone else's.
package rsmf

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/eml"
)

// Version is the RSMF version written (manifest and X-RSMF-Version).
const Version = "2.0.0"

// ManifestName is the manifest's name at the root of rsmf.zip.
const ManifestName = "rsmf_manifest.json"

// ZipName is the name of the one attachment of an .rsmf file.
const ZipName = "rsmf.zip"

// TimeLayout is the manifest's and the X-RSMF- date fields' time form: UTC
// with Z and milliseconds, the archive's own precision, so header dates
// and event timestamps compare as strings.
const TimeLayout = archive.TimeLayout

// Format is the RSMF format.
type Format struct{}

var _ export.Format = Format{}

// Name is the --format name.
func (Format) Name() string { return "rsmf" }

// The manifest, in the schema's field order. Empty optional values are
// left out: the schema gives custom values a minimum length of 1.
type manifest struct {
	Version           string         `json:"version"`
	Participants      []participant  `json:"participants"`
	Conversations     []conversation `json:"conversations"`
	Events            []event        `json:"events"`
	EventCollectionID string         `json:"eventcollectionid,omitempty"`
}

type participant struct {
	ID        string   `json:"id"`
	Display   string   `json:"display,omitempty"`
	AccountID string   `json:"account_id,omitempty"`
	Custom    []custom `json:"custom,omitempty"`
}

type conversation struct {
	ID           string   `json:"id"`
	Display      string   `json:"display,omitempty"`
	Platform     string   `json:"platform"`
	Type         string   `json:"type"`
	Participants []string `json:"participants"`
	Custodian    string   `json:"custodian,omitempty"`
	Custom       []custom `json:"custom,omitempty"`
}

type event struct {
	ID           string       `json:"id"`
	Type         string       `json:"type"`
	Parent       string       `json:"parent,omitempty"`
	Body         string       `json:"body,omitempty"`
	Participant  string       `json:"participant,omitempty"`
	Conversation string       `json:"conversation"`
	Timestamp    string       `json:"timestamp"`
	Deleted      bool         `json:"deleted,omitempty"`
	Importance   string       `json:"importance"`
	Direction    string       `json:"direction,omitempty"`
	Attachments  []attachment `json:"attachments,omitempty"`
	Custom       []custom     `json:"custom,omitempty"`
}

type attachment struct {
	ID      string `json:"id"`
	Display string `json:"display,omitempty"`
	Size    int64  `json:"size"`
}

type custom struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// file is an attachment file to put in the zip.
type file struct {
	name string
	m    *export.Message
	a    *export.Attachment
}

// Application names the source application (X-RSMF-Application) from the
// connector id: WeCom's archive connectors are "wecom-…"; anything else
// is taken for personal WeChat.
func Application(u *export.Unit) string {
	for _, m := range u.Messages {
		if m != nil && m.Message != nil && strings.HasPrefix(m.Message.Source, "wecom") {
			return "WeCom"
		}
	}
	return "WeChat"
}

// platform is the conversation's platform: WeCom's English name before
// 2022, still what review platforms list it as.
func platform(app string) string {
	if app == "WeCom" {
		return "WeChat Work"
	}
	return "WeChat"
}

// WriteUnit writes <unit.Name>.rsmf. It uses no pages.
func (Format) WriteUnit(ctx context.Context, u *export.Unit, out export.Sink, firstPage int) (int, error) {
	if err := eml.CheckUnit(u); err != nil {
		return 0, fmt.Errorf("rsmf: %w", err)
	}
	man, files, err := buildManifest(u)
	if err != nil {
		return 0, fmt.Errorf("rsmf: unit %s: %w", u.Name, err)
	}
	f, err := out.Create(u.Name + ".rsmf")
	if err != nil {
		return 0, fmt.Errorf("rsmf: unit %s: %w", u.Name, err)
	}
	w := bufio.NewWriter(f)
	err = writeRSMF(ctx, w, u, man, files)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("rsmf: unit %s: %w", u.Name, err)
	}
	return 0, nil
}

func buildManifest(u *export.Unit) (*manifest, []file, error) {
	app := Application(u)
	man := &manifest{Version: Version}
	if u.Slices > 1 {
		man.EventCollectionID = u.CollectionID
	}

	// Participants: the unit's, then anyone its messages name that the
	// unit did not list (a sender, a consenting contact, the custodian),
	// so every reference resolves.
	known := map[string]bool{}
	addPerson := func(p export.Person) {
		if p.ID == "" || known[p.ID] {
			return
		}
		known[p.ID] = true
		pp := participant{ID: p.ID, Display: p.Display(), AccountID: p.ID}
		pp.Custom = addCustom(pp.Custom, "kind", string(p.Kind))
		pp.Custom = addCustom(pp.Custom, "department", p.Department)
		if p.Name == "" {
			pp.Custom = addCustom(pp.Custom, "name", "not known to the directory")
		}
		man.Participants = append(man.Participants, pp)
	}
	for _, p := range u.Participants {
		addPerson(p)
	}
	if u.Custodian != "" {
		addPerson(u.Person(u.Custodian))
	}
	for _, m := range u.Messages {
		addPerson(senderOf(u, m))
		if c := m.Message.Consent; c != nil {
			addPerson(u.Person(c.ExternalID))
		}
	}

	conv := conversation{ID: u.Conversation, Display: strings.TrimSpace(u.Title), Platform: platform(app),
		Type: "direct", Custodian: u.Custodian}
	if conv.ID == "" {
		// Messages outside any conversation (a switch event): RSMF needs
		// a conversation, so they get the archive's stand-in.
		conv.ID = export.NoConversation
	}
	if u.ConversationKind == archive.ConversationGroup {
		conv.Type = "channel"
	}
	for _, p := range man.Participants {
		conv.Participants = append(conv.Participants, p.ID)
	}
	conv.Custom = addCustom(conv.Custom, "conversation_id", u.Conversation)
	conv.Custom = addCustom(conv.Custom, "conversation_kind", string(u.ConversationKind))
	conv.Custom = addCustom(conv.Custom, "day", u.Day)
	conv.Custom = addCustom(conv.Custom, "slice", fmt.Sprintf("%d of %d", u.Slice, u.Slices))
	man.Conversations = []conversation{conv}

	bySerial := map[uint64]*export.Message{}
	ids := map[string]uint64{}
	for _, m := range u.Messages {
		bySerial[m.Serial] = m
		if s, dup := ids[m.ProductionNumber]; dup {
			return nil, nil, fmt.Errorf("serial %d: production number %s is also serial %d's", m.Serial, m.ProductionNumber, s)
		}
		ids[m.ProductionNumber] = m.Serial
	}

	var files []file
	names := map[string]bool{}
	for _, m := range u.Messages {
		ev, fs, err := buildEvent(u, m, bySerial, names)
		if err != nil {
			return nil, nil, err
		}
		man.Events = append(man.Events, ev)
		files = append(files, fs...)
	}
	return man, files, nil
}

// senderOf is the message's sender as the directory described them, with
// the record's sender id when the Person is empty.
func senderOf(u *export.Unit, m *export.Message) export.Person {
	if m.Sender.ID != "" {
		return m.Sender
	}
	return u.Person(m.Message.Sender)
}

func buildEvent(u *export.Unit, m *export.Message, bySerial map[uint64]*export.Message, names map[string]bool) (event, []file, error) {
	rec := m.Message
	sender := senderOf(u, m)
	ev := event{
		ID:           m.ProductionNumber,
		Type:         eventType(rec),
		Participant:  sender.ID,
		Conversation: conversationID(u),
		Timestamp:    rec.SentAt.UTC().Format(TimeLayout),
		Deleted:      m.RecalledBy != 0,
		Importance:   "normal",
		Direction:    "incoming",
	}
	if sender.ID == u.Custodian {
		ev.Direction = "outgoing"
	}
	ref := func(serial uint64) string {
		if o, ok := bySerial[serial]; ok {
			return fmt.Sprintf("serial %d (%s)", serial, o.ProductionNumber)
		}
		return fmt.Sprintf("serial %d (not in this file)", serial)
	}

	var body []string
	if m.RecalledBy != 0 {
		body = append(body, fmt.Sprintf("[recalled by serial %d]", m.RecalledBy))
	}
	if m.Version > 1 {
		body = append(body, fmt.Sprintf("[version %d of %s]", m.Version, ref(m.ConflictsWith)))
	}
	if rec.Action == archive.ActionRecall || rec.Kind == archive.KindRevoke {
		switch {
		case m.RefersToSerial != 0:
			body = append(body, "[recalls "+ref(m.RefersToSerial)+"]")
			if o, ok := bySerial[m.RefersToSerial]; ok {
				ev.Parent = o.ProductionNumber
			}
		case rec.RefersTo != "":
			body = append(body, "[recalls source message "+rec.RefersTo+", not archived]")
		default:
			body = append(body, "[recall of a message the source did not name]")
		}
	}
	if c := rec.Consent; c != nil {
		who := u.Person(c.ExternalID)
		verb := "refused"
		if c.Agreed {
			verb = "agreed"
		}
		body = append(body, fmt.Sprintf("[consent: %s (%s) %s to have the conversation archived at %s]",
			who.Display(), who.ID, verb, c.At.UTC().Format(TimeLayout)))
	}
	if ev.Type == "unknown" {
		body = append(body, fmt.Sprintf("[%s record, source type %q]", rec.Kind, rec.SourceType))
	}
	if rec.TimeUnknown {
		body = append(body, "[the source gave no time; the timestamp is when the archive captured the message]")
	}
	if rec.Text != "" {
		body = append(body, rec.Text)
	}

	c := []custom{}
	c = addCustom(c, "production_number", m.ProductionNumber)
	c = addCustom(c, "serial", strconv.FormatUint(m.Serial, 10))
	c = addCustom(c, "journal_index", strconv.FormatUint(m.JournalIndex, 10))
	c = addCustom(c, "kind", string(rec.Kind))
	c = addCustom(c, "source_type", rec.SourceType)
	c = addCustom(c, "source_id", rec.SourceID)
	c = addCustom(c, "action", string(rec.Action))
	c = addCustom(c, "raw_sha256", m.RawSHA256.String())
	c = addCustom(c, "record_sha256", m.RecordSHA256.String())
	if m.Version > 0 {
		c = addCustom(c, "version", strconv.Itoa(m.Version))
	}
	if m.ConflictsWith != 0 {
		c = addCustom(c, "conflicts_with", strconv.FormatUint(m.ConflictsWith, 10))
	}
	if m.RecalledBy != 0 {
		c = addCustom(c, "recalled_by", strconv.FormatUint(m.RecalledBy, 10))
	}
	if m.RefersToSerial != 0 {
		c = addCustom(c, "recalls", strconv.FormatUint(m.RefersToSerial, 10))
	}
	c = addCustom(c, "refers_to", rec.RefersTo)
	if rec.TimeUnknown {
		c = addCustom(c, "time_unknown", "true")
	}
	if !m.CapturedAt.IsZero() {
		c = addCustom(c, "captured_at", m.CapturedAt.UTC().Format(TimeLayout))
	}
	c = addCustom(c, "sender_department", sender.Department)
	for _, d := range rec.Details {
		c = addCustom(c, "detail: "+d.Name, d.Value)
	}

	var files []file
	for _, a := range m.Attachments {
		n := a.Ordinal + 1
		desc := attachmentDesc(a)
		c = addCustom(c, fmt.Sprintf("attachment %d", n), desc)
		if !a.HasBytes() {
			// No bytes: the event says so; nothing goes in the zip.
			body = append(body, fmt.Sprintf("[attachment %d %s]", n, desc))
			continue
		}
		display := eml.AttachmentFileName(m, a)
		id := ZipEntryName(m, a, display)
		if names[id] {
			return ev, nil, fmt.Errorf("serial %d: attachment %d: zip entry %s twice", m.Serial, n, id)
		}
		names[id] = true
		ev.Attachments = append(ev.Attachments, attachment{ID: id, Display: display, Size: a.Size})
		files = append(files, file{name: id, m: m, a: a})
	}
	ev.Body = strings.Join(body, "\n")
	ev.Custom = c
	return ev, files, nil
}

// eventType maps a record onto the schema's event types (table above).
func eventType(rec *archive.Message) string {
	switch rec.Kind {
	case archive.KindAgree, archive.KindDisagree:
		return "disclaimer"
	case archive.KindSwitch, archive.KindEvent, archive.KindUnknown, "":
		return "unknown"
	}
	if rec.Consent != nil {
		return "disclaimer"
	}
	return "message"
}

// attachmentDesc: "image/png, 1234 bytes, SHA-256 …, fetched" or
// "video/mp4, missing: media expired…".
func attachmentDesc(a *export.Attachment) string {
	var parts []string
	if a.FileName != "" {
		parts = append(parts, a.FileName)
	}
	if a.Role != "" {
		parts = append(parts, a.Role)
	}
	if a.MediaType != "" {
		parts = append(parts, a.MediaType)
	}
	if !a.Blob.IsZero() || a.Size > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", a.Size), "SHA-256 "+a.Blob.String())
	}
	status := string(a.Status)
	if status == "" {
		status = "status unknown"
	}
	if a.Reason != "" {
		status += ": " + a.Reason
	}
	if !a.HasBytes() {
		status += " (not in this production)"
	}
	return strings.Join(append(parts, status), ", ")
}

// ZipEntryName is an attachment's name in rsmf.zip (and so its RSMF id):
// <production number>_<n>_<file name>, the file name reduced to letters,
// digits, ".", "-" and "_" (anything else becomes "_") and at most 80
// bytes, keeping the extension. The production number and ordinal make
// it unique; the name keeps it recognizable.
func ZipEntryName(m *export.Message, a *export.Attachment, display string) string {
	safe := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, display)
	safe = strings.TrimLeft(safe, ".")
	if len(safe) > 80 {
		ext := ""
		if i := strings.LastIndexByte(safe, '.'); i >= 0 && len(safe)-i <= 10 {
			ext = safe[i:]
		}
		cut := 80 - len(ext)
		for cut > 0 && !utf8RuneStart(safe[cut]) {
			cut--
		}
		safe = safe[:cut] + ext
	}
	prod := strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, m.ProductionNumber)
	base := fmt.Sprintf("%s_%d", prod, a.Ordinal+1)
	switch {
	case safe == "":
		return base
	case safe == base || strings.HasPrefix(safe, base+"."):
		// The production's own copy, already named after the message.
		return safe
	}
	return base + "_" + safe
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// addCustom appends a custom field unless the value is empty (the schema
// requires a non-empty value).
func addCustom(c []custom, name, value string) []custom {
	if value == "" || name == "" {
		return c
	}
	return append(c, custom{Name: name, Value: value})
}

// span is the earliest and latest event timestamps, as the header shows
// them: the manifest's own strings.
func span(man *manifest) (begin, end string) {
	for _, e := range man.Events {
		if begin == "" || e.Timestamp < begin {
			begin = e.Timestamp
		}
		if end == "" || e.Timestamp > end {
			end = e.Timestamp
		}
	}
	return begin, end
}

func writeRSMF(ctx context.Context, w io.Writer, u *export.Unit, man *manifest, files []file) error {
	var mj bytes.Buffer
	enc := json.NewEncoder(&mj)
	enc.SetEscapeHTML(false) // "<2>" in a URL stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return err
	}

	// The X-RSMF- fields, as Relativity's processing maps them to
	// document fields: dates are the manifest's own earliest and latest
	// timestamps (so they agree by construction); the custodian and the
	// participants are display names, as a reviewer reads them, the
	// participants joined by ", " (the manifest has the ids); the
	// attachment count is the number of files in rsmf.zip, which is the
	// number of attachment references; the collection id only on a day
	// split into slices.
	h := eml.Envelope(u, "rsmf")
	begin, end := span(man)
	var names []string
	for _, p := range man.Participants {
		names = append(names, p.Display)
	}
	h.Add("X-RSMF-Version", Version)
	if u.Producer != "" {
		h.AddText("X-RSMF-Generator", u.Producer)
	}
	h.Add("X-RSMF-BeginDate", begin)
	h.Add("X-RSMF-EndDate", end)
	h.Add("X-RSMF-EventCount", strconv.Itoa(len(man.Events)))
	h.Add("X-RSMF-Application", Application(u))
	if u.Custodian != "" {
		h.AddText("X-RSMF-Custodian", u.Person(u.Custodian).Display())
	}
	h.AddText("X-RSMF-Participants", strings.Join(names, ", "))
	h.Add("X-RSMF-AttachmentCount", strconv.Itoa(len(files)))
	if man.EventCollectionID != "" {
		h.AddText("X-RSMF-EventCollectionID", man.EventCollectionID)
	}
	mp := eml.NewMultipart(w, eml.Boundary("rsmf", u.CollectionID, strconv.Itoa(u.Slice), "mixed"))
	h.Add("Content-Type", mp.ContentType("mixed"))
	if err := eml.WriteHeader(w, h); err != nil {
		return err
	}

	th := &eml.Header{}
	th.Add("Content-Type", "text/plain; charset=utf-8")
	th.Add("Content-Transfer-Encoding", "base64")
	tw, err := mp.CreatePart(th)
	if err != nil {
		return err
	}
	b64 := eml.NewBase64Writer(tw)
	if _, err := io.WriteString(b64, summary(u, man, len(files), begin, end)); err != nil {
		return err
	}
	if err := b64.Close(); err != nil {
		return err
	}

	zw, err := mp.CreatePart(eml.AttachmentHeader("application/zip", ZipName, ""))
	if err != nil {
		return err
	}
	b64 = eml.NewBase64Writer(zw)
	if err := writeZip(ctx, b64, u, mj.Bytes(), files); err != nil {
		return err
	}
	if err := b64.Close(); err != nil {
		return err
	}
	return mp.Close()
}

// summary is the readable body: what the file is and what it holds.
func summary(u *export.Unit, man *manifest, files int, begin, end string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RSMF %s short message file\r\n\r\n", Version)
	fmt.Fprintf(&b, "Conversation: %s (%s)\r\n", eml.Subject(u), u.Conversation)
	fmt.Fprintf(&b, "Application:  %s\r\n", Application(u))
	if u.Custodian != "" {
		fmt.Fprintf(&b, "Custodian:    %s (%s)\r\n", u.Person(u.Custodian).Display(), u.Custodian)
	}
	fmt.Fprintf(&b, "Events:       %d, %s to %s (%s to %s UTC)\r\n", len(man.Events),
		man.Events[0].ID, man.Events[len(man.Events)-1].ID, begin, end)
	fmt.Fprintf(&b, "Participants: %d\r\n", len(man.Participants))
	for _, p := range man.Participants {
		fmt.Fprintf(&b, "  %s (%s)\r\n", p.Display, p.ID)
	}
	fmt.Fprintf(&b, "Attachments:  %d in %s\r\n", files, ZipName)
	if man.EventCollectionID != "" {
		fmt.Fprintf(&b, "Slice %d of %d of collection %s\r\n", u.Slice, u.Slices, man.EventCollectionID)
	}
	b.WriteString("\r\nThe messages are in rsmf.zip (rsmf_manifest.json); open the file in an RSMF viewer.\r\n")
	return b.String()
}

// zipTime is the modification time every zip entry gets: the unit's first
// message time, so the zip is the same on every run. DOS times start in
// 1980; an earlier time (a source's garbage) is clamped.
func zipTime(u *export.Unit) time.Time {
	first, _ := eml.Span(u)
	min := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	if first.Before(min) {
		return min
	}
	return first.UTC()
}

// writeZip writes rsmf.zip: the manifest and the attachment files, sorted
// by name, deflated, with one fixed modification time.
func writeZip(ctx context.Context, w io.Writer, u *export.Unit, manifestJSON []byte, files []file) error {
	type entry struct {
		name string
		f    *file
	}
	entries := []entry{{name: ManifestName}}
	for i := range files {
		entries = append(entries, entry{name: files[i].name, f: &files[i]})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	mod := zipTime(u)
	zw := zip.NewWriter(w)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mod})
		if err != nil {
			return err
		}
		if e.f == nil {
			if _, err := fw.Write(manifestJSON); err != nil {
				return err
			}
			continue
		}
		if err := eml.CopyAttachment(ctx, fw, e.f.m, e.f.a); err != nil {
			return err
		}
	}
	return zw.Close()
}

// conversationID is the RSMF conversation id of u's messages.
func conversationID(u *export.Unit) string {
	if u.Conversation == "" {
		return export.NoConversation
	}
	return u.Conversation
}

// Unpaged implements export.Unpaged: an RSMF file has no pages.
func (Format) Unpaged() {}
