// Package importer reads chat exports a firm already holds and turns each
// row into a normalized message, or a rejection naming the line and field.
// Formats (docs/IMPORT.md):
//
//   - chatlog-json: a JSON array of messages as the open-source chatlog
//     tool exports them (seq, time, talker, talkerName, isChatRoom, sender,
//     senderName, isSelf, type, subType, content, contents);
//   - chatlog-csv: the same fields as CSV columns, with a header row;
//   - wechatmsg-csv: WeChatMsg's CSV export (UTF-8 with BOM; columns
//     localId, TalkerId, Type, SubType, IsSender, CreateTime, Status,
//     StrContent, StrTime, Remark, NickName, Sender);
//   - jsonl: wxarchive's documented generic format, one object per line.
//
// Imported messages are marked as imported (source "import:<format>:…",
// a "capture" detail, and an origin naming the file, its SHA-256 and the
// line), never as live capture. This package reads exports; it never
// extracts keys or decrypts WeChat's local databases, and never will.
package importer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// Format names an export format.
type Format string

// Formats.
const (
	ChatlogJSON  Format = "chatlog-json"
	ChatlogCSV   Format = "chatlog-csv"
	WeChatMsgCSV Format = "wechatmsg-csv"
	PyWxDumpCSV  Format = "pywxdump-csv"
	PyWxDumpJSON Format = "pywxdump-json"
	JSONL        Format = "jsonl"
)

// Formats lists the supported formats.
var Formats = []Format{ChatlogJSON, ChatlogCSV, WeChatMsgCSV, PyWxDumpCSV, PyWxDumpJSON, JSONL}

// MaxFileBytes bounds an import file (it is read whole: its hash names it
// and its rows are kept byte for byte).
const MaxFileBytes = 2 << 30

// Options configure an import.
type Options struct {
	// Owner is the employee whose export this is: the sender of rows
	// marked as sent by "self" (IsSender=1, isSelf=true). Required for
	// wechatmsg-csv, whose rows do not name the owner.
	Owner string
	// Location is the time zone of naive times (WeChatMsg's StrTime):
	// default China Standard Time.
	Location *time.Location
	// Employees are ids to classify as employees (besides Owner).
	Employees map[string]bool
}

// Row is one row of an export: its line, its exact bytes, and either the
// normalized message or why it cannot be archived.
type Row struct {
	Line    int
	Raw     []byte
	Message *archive.Message
	Err     *RowError
}

// RowError is a row that cannot be archived.
type RowError struct {
	Line   int
	MsgID  string
	Field  string
	Reason string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// FileError is a file that cannot be read as the format at all.
type FileError struct {
	Format Format
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.Format, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Format, e.Reason)
}

// Hash is the hex SHA-256 of a file's bytes, which names the file in
// origins and resume cursors.
func Hash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// Source is the archive source of an import: the format and whose export
// it is, so that importing an overlapping export again archives nothing
// twice.
func Source(f Format, owner string) string {
	if owner == "" {
		owner = "unknown"
	}
	return "import:" + string(f) + ":" + owner
}

// Parse reads data in format f and calls fn for every row, in file order.
// A file that is not the format at all is a *FileError; a bad row is a Row
// with Err. fn's error stops the parse.
func Parse(f Format, data []byte, opts Options, fn func(Row) error) error {
	if opts.Location == nil {
		opts.Location = chinaTime
	}
	if len(data) > MaxFileBytes {
		return &FileError{Format: f, Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", len(data), MaxFileBytes)}
	}
	p := parser{f: f, opts: opts, src: Source(f, opts.Owner)}
	switch f {
	case ChatlogJSON:
		return p.chatlogJSON(data, fn)
	case ChatlogCSV:
		return p.chatlogCSV(data, fn)
	case WeChatMsgCSV:
		if opts.Owner == "" {
			return &FileError{Format: f, Reason: "the owner (whose export this is) is required: WeChatMsg rows do not name who IsSender=1 is"}
		}
		return p.wechatMsgCSV(data, fn)
	case PyWxDumpCSV:
		return p.pywxdumpCSV(data, fn)
	case PyWxDumpJSON:
		return p.pywxdumpJSON(data, fn)
	case JSONL:
		return p.jsonl(data, fn)
	}
	return &FileError{Format: f, Reason: fmt.Sprintf("unknown format (expected one of %v)", Formats)}
}

var chinaTime = time.FixedZone("CST", 8*60*60)

type parser struct {
	f    Format
	opts Options
	src  string
}

// message builds the common part of an imported message. Employees are
// the owner, Options.Employees and also (ids the row or file names as
// employees: the owner's own wxid, a jsonl row's "employees"), checked
// where they are rather than merged into a copy of the map per row (the
// map holds every employee the archive knows).
func (p *parser) message(id string, sent time.Time, sender string, recipients []string, conv string, group bool, also ...string) *archive.Message {
	o := p.opts
	m := &archive.Message{Schema: archive.RecordSchema, Source: p.src, SourceID: id, Kind: archive.KindText, Action: archive.ActionSend,
		SentAt: archive.At(sent), Sender: sender, Recipients: recipients, Attachments: []archive.Attachment{},
		Details: []archive.Detail{{Name: "capture", Value: "imported from a " + string(p.f) + " export, not captured live"}}}
	m.SetConversation("", func(id string) archive.ParticipantKind {
		if id == o.Owner || o.Employees[id] || slices.Contains(also, id) {
			return archive.ParticipantEmployee
		}
		return archive.ParticipantExternal
	})
	// The export names the conversation (a group's talker, or the direct
	// conversation the caller derived with the same rule).
	m.Conversation, m.ConversationKind = conv, archive.ConversationDirect
	if group {
		m.ConversationKind = archive.ConversationGroup
	}
	return m
}

// lineAt counts the line of a byte offset.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (c *lineCounter) at(off int) int {
	if off < c.off {
		c.off, c.line = 0, 1
	}
	if c.line == 0 {
		c.line = 1
	}
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return c.line
}

// text cleans a field for the message text: valid UTF-8, no NULs.
func text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

func validID(s string) bool {
	return s != "" && len(s) <= 256 && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\n\r")
}
