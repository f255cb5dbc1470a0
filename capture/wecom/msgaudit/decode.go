package msgaudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// Limits. A line that exceeds one is rejected whole with a DecodeError naming
// the field and the limit: the raw bytes are still kept by the caller, and a
// quarantined line is a visible fault, whereas an unbounded one could stall
// ingest or bloat the index for every other message.
const (
	// MaxLineBytes bounds a whole line. WeCom text messages are a few KB and
	// media travel separately by sdkfileid, so 4 MiB leaves ample room for
	// the largest merged forwards.
	MaxLineBytes = 4 << 20

	// MaxIDBytes bounds every identifier: msgid, from, each tolist entry,
	// roomid, user, msgtype, revoke.pre_msgid and agree/disagree userid.
	// Real ids are under 100 bytes; these become index keys.
	MaxIDBytes = 512

	// MaxRecipients bounds tolist. WeCom groups hold at most a few thousand
	// members; 20000 allows for the largest enterprise broadcast.
	MaxRecipients = 20000

	// MaxTextBytes bounds Message.Text, the extracted text for search.
	MaxTextBytes = 1 << 20

	// MaxItems bounds the array elements the decoder expands over the whole
	// message: items of mixed, chatrecord (nested ones included) and news,
	// vote options, calendar attendees, collect questions, demo files and
	// screen shares. Each becomes text, details or an attachment, so this
	// bounds the work and the size of the normalized record.
	MaxItems = 10000

	// MaxNesting bounds how deep chatrecord/mixed items may nest (a merged
	// forward inside a merged forward...). Each level is a JSON document
	// encoded in a string of its parent, so deep nesting is only ever an
	// attack on the decoder.
	MaxNesting = 8
)

// Times before 2000 or from 2100 on are refused: WeCom archiving began in
// 2020, so such a time is a unit mix-up (seconds where milliseconds belong)
// or corruption, and a wrong sent_at would misfile the record for its whole
// retention period.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// chinaTime renders times in Details. WeCom is a Chinese service whose
// string times (collect.create_time) are Beijing wall-clock time; China has
// had no daylight saving since 1991, so a fixed zone is exact and needs no
// tzdata on the host.
var chinaTime = time.FixedZone("CST", 8*60*60)

// recoverPanics turns a decoder panic into a DecodeError. Tests switch it
// off so that the fuzzer sees every panic instead of a tidy error.
var recoverPanics = true

// Options configure decoding.
type Options struct {
	// Source is the connector id stored in Message.Source, e.g.
	// "wecom-archive:ww1234". Required.
	Source string
	// Now is the capture clock: a message whose msgtime is missing or
	// impossible is filed at the time it was decoded, marked TimeUnknown.
	// Nil means time.Now.
	Now func() time.Time
}

// envelope is the common part of every msgaudit message plus the raw
// content of each known content key. Content stays json.RawMessage so the
// line is parsed once and only the one present content object is decoded
// again, into its own typed struct.
//
// encoding/json matches keys case-insensitively and, for a duplicate key,
// keeps the last value. Both are accepted: the raw record keeps the exact
// bytes, and WeCom itself never emits either.
type envelope struct {
	MsgID   string `json:"msgid"`
	Action  string `json:"action"`
	From    string `json:"from"`
	ToList  idList `json:"tolist"`
	RoomID  string `json:"roomid"`
	MsgTime num    `json:"msgtime"`
	MsgType string `json:"msgtype"`
	Time    num    `json:"time"` // switch
	User    string `json:"user"` // switch
	VoiceID string `json:"voiceid"`
	VoipID  string `json:"voipid"`

	Text              json.RawMessage `json:"text"`
	Image             json.RawMessage `json:"image"`
	Voice             json.RawMessage `json:"voice"`
	Video             json.RawMessage `json:"video"`
	File              json.RawMessage `json:"file"`
	Link              json.RawMessage `json:"link"`
	Location          json.RawMessage `json:"location"`
	Card              json.RawMessage `json:"card"`
	Emotion           json.RawMessage `json:"emotion"`
	Weapp             json.RawMessage `json:"weapp"`
	ChatRecord        json.RawMessage `json:"chatrecord"`
	Mixed             json.RawMessage `json:"mixed"`
	RedPacket         json.RawMessage `json:"redpacket"`
	ExternalRedPacket json.RawMessage `json:"external_redpacket"`
	Todo              json.RawMessage `json:"todo"`
	Vote              json.RawMessage `json:"vote"`
	Collect           json.RawMessage `json:"collect"`
	Meeting           json.RawMessage `json:"meeting"`
	Doc               json.RawMessage `json:"doc"`
	DocMsg            json.RawMessage `json:"docmsg"`
	Info              json.RawMessage `json:"info"`
	Markdown          json.RawMessage `json:"markdown"`
	News              json.RawMessage `json:"news"`
	Calendar          json.RawMessage `json:"calendar"`
	SphFeed           json.RawMessage `json:"sphfeed"`
	MeetingVoiceCall  json.RawMessage `json:"meeting_voice_call"`
	VoipDocShare      json.RawMessage `json:"voip_doc_share"`
	Revoke            json.RawMessage `json:"revoke"`
	Agree             json.RawMessage `json:"agree"`
	Disagree          json.RawMessage `json:"disagree"`
}

// content returns the raw value of a known content key (nil if absent).
func (e *envelope) content(key string) json.RawMessage {
	switch key {
	case "text":
		return e.Text
	case "image":
		return e.Image
	case "voice":
		return e.Voice
	case "video":
		return e.Video
	case "file":
		return e.File
	case "link":
		return e.Link
	case "location":
		return e.Location
	case "card":
		return e.Card
	case "emotion":
		return e.Emotion
	case "weapp":
		return e.Weapp
	case "chatrecord":
		return e.ChatRecord
	case "mixed":
		return e.Mixed
	case "redpacket":
		return e.RedPacket
	case "external_redpacket":
		return e.ExternalRedPacket
	case "todo":
		return e.Todo
	case "vote":
		return e.Vote
	case "collect":
		return e.Collect
	case "meeting":
		return e.Meeting
	case "doc":
		return e.Doc
	case "docmsg":
		return e.DocMsg
	case "info":
		return e.Info
	case "markdown":
		return e.Markdown
	case "news":
		return e.News
	case "calendar":
		return e.Calendar
	case "sphfeed":
		return e.SphFeed
	case "meeting_voice_call":
		return e.MeetingVoiceCall
	case "voip_doc_share":
		return e.VoipDocShare
	case "revoke":
		return e.Revoke
	case "agree":
		return e.Agree
	case "disagree":
		return e.Disagree
	}
	return nil
}

// softEnvelope are the envelope fields whose wrong type is set aside rather
// than refused: the message is still a message without them.
var softEnvelope = map[string]bool{"action": true, "msgtype": true, "voiceid": true, "voipid": true}

// commonKeys are the envelope fields of every message; for an unknown
// msgtype without a content object under its own name, every other
// top-level field is treated as content.
var commonKeys = map[string]bool{
	"msgid": true, "action": true, "from": true, "tolist": true,
	"roomid": true, "msgtime": true, "msgtype": true,
}

// Decode decodes one line, a decrypted msgaudit message as DecryptData
// returns it. It never panics. On error it returns a *DecodeError and no
// message. The line is not modified; surrounding JSON whitespace (such as
// the line ending) is ignored.
func Decode(line []byte, opts Options) (msg *archive.Message, err error) {
	if opts.Source == "" || !utf8.ValidString(opts.Source) {
		return nil, &DecodeError{Reason: "Options.Source is empty or not UTF-8", err: ErrNoSource}
	}
	// Belt and braces for invariant 9 (never a panic): every path below is
	// meant to be panic-free and is fuzzed, but a panic here would take down
	// a whole ingest batch, so it is turned into a rejection of this line.
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				msg, err = nil, &DecodeError{Reason: fmt.Sprintf("internal decoder fault: %v", r)}
			}
		}()
	}
	m, derr := decode(line, opts)
	if derr != nil {
		return nil, derr
	}
	return m, nil
}

func decode(line []byte, opts Options) (*archive.Message, *DecodeError) {
	if len(line) > MaxLineBytes {
		return nil, fieldErr("", "line is %d bytes, over the limit of %d (MaxLineBytes)", len(line), MaxLineBytes)
	}
	body := trimSpace(line)
	if len(body) == 0 {
		return nil, fieldErr("", "empty line")
	}
	if off := invalidUTF8(line); off >= 0 {
		return nil, fieldErr("", "invalid UTF-8 at byte offset %d", off)
	}
	lead := int64(len(line) - len(trimSpaceLeft(line)))

	// Decode a copy with raw control bytes escaped; the caller keeps the
	// original bytes as evidence.
	var orig []byte // the line before escaping, when it was escaped
	if hasControl(body) {
		orig, body = body, escapeControls(body)
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return nil, fieldErr("", "want a JSON object, got %s", describe(body))
		}
		return nil, lineSyntaxErr(body, orig, lead)
	}

	var env envelope
	d := &decoder{env: &env, body: body}
	for tries := 0; ; tries++ {
		err := json.Unmarshal(d.body, &env)
		if err == nil {
			break
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, lineSyntaxErr(body, orig, lead)
		}
		de := jsonErr(err, "")
		// A mistyped action, msgtype or call id is set aside (keep.go);
		// a mistyped msgid, sender or room leaves no message to keep.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && softEnvelope[te.Field] && tries < len(softEnvelope) {
			if raw, nb, ok := removeAt(d.body, te.Field); ok {
				d.warn(de, rawText(raw))
				d.body, env = nb, envelope{}
				continue
			}
		}
		de.MsgID = readableID(env.MsgID)
		return nil, de
	}
	m, derr := d.message(opts)
	if derr != nil {
		derr.MsgID = readableID(env.MsgID)
		return nil, derr
	}
	return m, nil
}

func trimSpaceLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// lineSyntaxErr reports a JSON syntax error at its offset in the caller's
// line, not in the escaped copy: orig is the unescaped body (nil if body was
// not escaped) and lead the whitespace trimmed before it.
func lineSyntaxErr(body, orig []byte, lead int64) *DecodeError {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// SyntaxError.Offset counts the bytes read, the offending one
		// included; report that byte's 0-based offset, as for UTF-8 faults.
		off := se.Offset
		if off > 0 {
			off--
		}
		if orig != nil {
			off = origOffset(orig, off)
		}
		off += lead
		return fieldErr("", "invalid JSON at byte offset %d: %v", off, se)
	}
	if err != nil {
		return fieldErr("", "invalid JSON: %v", err)
	}
	return fieldErr("", "invalid JSON")
}

// readableID returns id for DecodeError.MsgID when it is usable as one.
func readableID(id string) string {
	if id == "" || len(id) > MaxIDBytes {
		return ""
	}
	return id
}

// checkID validates an identifier field.
func checkID(field, id string, required bool) *DecodeError {
	if id == "" {
		if required {
			return fieldErr(field, "missing")
		}
		return nil
	}
	if len(id) > MaxIDBytes {
		return fieldErr(field, "is %d bytes, over the limit of %d (MaxIDBytes)", len(id), MaxIDBytes)
	}
	return nil
}

// millis validates a top-level time in milliseconds.
func millis(field string, n num) (archive.Time, *DecodeError) {
	v, ok, err := n.int(loc{key: field}, "a number of milliseconds")
	if err != nil {
		return archive.Time{}, err
	}
	if !ok {
		return archive.Time{}, fieldErr(field, "missing")
	}
	if v < minTime.UnixMilli() || v >= maxTime.UnixMilli() {
		return archive.Time{}, fieldErr(field, "want a time in milliseconds between 2000 and 2100, got %d", v)
	}
	return archive.MillisTime(v), nil
}

// message builds the Message from the decoded envelope.
func (d *decoder) message(opts Options) (*archive.Message, *DecodeError) {
	env := d.env
	if err := checkID("msgid", env.MsgID, true); err != nil {
		return nil, err
	}
	var action archive.Action
	switch env.Action {
	case "send":
		action = archive.ActionSend
	case "recall":
		action = archive.ActionRecall
	case "switch":
		action = archive.ActionSwitch
	case "":
		// Not seen from WeCom, but the msgtype says enough: a revoke is a
		// recall and everything else a send.
		action = archive.ActionSend
		if env.MsgType == "revoke" {
			action = archive.ActionRecall
		}
		if env.MsgType == "" && env.User != "" {
			action = archive.ActionSwitch
		}
	default:
		// Kept as a send (a recall by its msgtype), the action set aside.
		d.warn(fieldErr("action", `want "send", "recall" or "switch", got %q`, shorten(env.Action, 64)), env.Action)
		action = archive.ActionSend
		if env.MsgType == "revoke" {
			action = archive.ActionRecall
		}
	}
	m := &archive.Message{
		Schema:     archive.RecordSchema,
		Source:     opts.Source,
		SourceID:   env.MsgID,
		SourceType: env.MsgType,
		Action:     action,
	}
	if action == archive.ActionSwitch {
		return d.switchMessage(m, opts)
	}

	if err := checkID("from", env.From, true); err != nil {
		return nil, err
	}
	to, err := env.ToList.check("tolist")
	if err != nil {
		return nil, err
	}
	if len(to) > MaxRecipients {
		return nil, fieldErr("tolist", "has %d entries, over the limit of %d (MaxRecipients)", len(to), MaxRecipients)
	}
	for i, id := range to {
		if id == "" {
			return nil, fieldErr(indexPath("tolist", i), "empty id")
		}
		if err := checkID(indexPath("tolist", i), id, true); err != nil {
			return nil, err
		}
	}
	if err := checkID("roomid", env.RoomID, false); err != nil {
		return nil, err
	}
	d.setSentAt(m, "msgtime", env.MsgTime, opts)
	if len(env.MsgType) > MaxIDBytes {
		return nil, checkID("msgtype", env.MsgType, true)
	}
	if env.MsgType == "" {
		// No msgtype: kept as a message of unknown kind, every string of
		// its content searchable.
		d.warn(fieldErr("msgtype", "missing"), "")
	}

	m.Sender = env.From
	m.Recipients = to
	if m.Recipients == nil {
		m.Recipients = []string{}
	}
	// DESIGN §3's rule, with msgaudit's classification of ids.
	m.SetConversation(env.RoomID, ClassifyParticipant)

	spec, known := kinds[env.MsgType]
	m.Kind = archive.KindUnknown
	if known {
		m.Kind = spec.kind
	}
	if err := d.decodeContent(m, spec, known); err != nil {
		return nil, err
	}
	d.finish(m)
	return m, nil
}

// switchMessage decodes {"msgid","action":"switch","time","user"}: the user
// switched the enterprise whose log is being archived. It has no
// conversation, so no direction.
func (d *decoder) switchMessage(m *archive.Message, opts Options) (*archive.Message, *DecodeError) {
	env := d.env
	if err := checkID("user", env.User, true); err != nil {
		return nil, err
	}
	field, t := "time", env.Time
	if !t.set() && env.MsgTime.set() {
		field, t = "msgtime", env.MsgTime // tolerate the common name
	}
	d.setSentAt(m, field, t, opts)
	m.Kind = archive.KindSwitch
	if m.SourceType == "" {
		m.SourceType = "switch"
	}
	m.Sender = env.User
	m.Recipients = []string{}
	m.Participants = []archive.Participant{{ID: env.User, Kind: ClassifyParticipant(env.User)}}
	m.Direction = archive.DirectionNone
	m.ConversationKind = archive.ConversationNone
	d.detail("user", env.User)
	d.finish(m)
	return m, nil
}

// setSentAt sets m.SentAt from the time field, or — missing, unreadable or
// impossible (WeCom's own image example has msgtime 0) — files the message
// at its capture time, marked TimeUnknown, the value kept in a Detail. The
// capture time is after the real one, so a retention period counted from
// it never ends early.
func (d *decoder) setSentAt(m *archive.Message, field string, n num, opts Options) {
	at, err := millis(field, n)
	if err == nil {
		m.SentAt = at
		return
	}
	err.Reason += "; the time sent is unknown, filed at the time captured"
	d.warn(err, numRaw(n))
	m.SentAt = opts.captureTime()
	m.TimeUnknown = true
}

// finish moves the collected text, details and attachments into m.
func (d *decoder) finish(m *archive.Message) {
	d.flushWarnings()
	m.Text = d.textString()
	m.Details = d.details
	m.Attachments = d.atts
	if m.Attachments == nil {
		m.Attachments = []archive.Attachment{}
	}
	m.RefersTo = d.refersTo
	m.Consent = d.consent
}

// ClassifyParticipant classifies a participant id by its prefix, the only
// signal a msgaudit line carries: external contacts' external_userid start
// with "wm" (WeCom/WeChat customers) or "wo", robots' ids with "wb", and
// everything else is an employee userid.
func ClassifyParticipant(id string) archive.ParticipantKind {
	switch {
	case strings.HasPrefix(id, "wm"), strings.HasPrefix(id, "wo"):
		return archive.ParticipantExternal
	case strings.HasPrefix(id, "wb"):
		return archive.ParticipantBot
	}
	return archive.ParticipantEmployee
}

// Source is the archive source of a corp's conversation-archive messages,
// however they arrive (pulled by a wecom-archive connector, a file given to
// `wxarchive ingest wecom-archive`, an ingest request): one source, so a
// message captured two ways is archived once.
func Source(corpID string) string { return "wecom-archive:" + corpID }
