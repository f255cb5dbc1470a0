// Package export writes productions: the messages of a scope (a query, a
// legal hold, conversations, custodians, a period) in the formats review
// platforms and examiners read — RSMF 2.0, EML, HTML and PDF transcripts,
// Concordance DAT and CSV load files, native JSONL — with a manifest that
// lists every file's SHA-256 and every message's RFC 6962 inclusion proof,
// so the recipient can verify the production offline (Verify) without
// trusting the sender.
//
// Glossary:
//   - unit: one conversation on one day (in the archive's time zone), the
//     grain of the per-conversation formats (RSMF, EML, HTML, PDF, JSONL);
//     a unit of more than MaxUnitEvents messages is split into slices tied
//     by a collection id.
//   - production number: the Bates-style number of a message
//     (PREFIX0000001), in the order the production lists messages; a
//     transcript's pages have their own (PREFIX-P0000001).
//   - volume: a directory VOL001, VOL002… of at most the configured size;
//     a unit never spans two.
//   - sink: where a format writes its files; it hashes what passes through.
//
// The package formats and checks; it does not decide who may export or
// journal anything: app/ resolves the scope, journals the job and feeds
// the units in (DESIGN §6).
package export

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// NoConversation stands for the conversation of messages that belong to
// none (a switch event), where a format needs one (RSMF).
const NoConversation = "wxarchive:no-conversation"

// MaxUnitEvents is where a conversation-day is split into slices: RSMF
// readers expect at most about 10,000 events per file.
const MaxUnitEvents = 10_000

// Person is a participant as the directory described them when the unit's
// messages were sent ("" fields: the directory did not know).
type Person struct {
	ID         string
	Kind       archive.ParticipantKind
	Name       string
	Department string
}

// Display is the person's name, or the id when the directory had none.
func (p Person) Display() string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

// Message is one archived message version as a production shows it.
type Message struct {
	Serial           uint64
	JournalIndex     uint64
	ProductionNumber string // PREFIX0000001
	Version          int
	ConflictsWith    uint64 // serial of version 1 when Version > 1
	RecalledBy       uint64 // serial of the recall that withdrew this message, 0: none
	RefersToSerial   uint64 // a recall: the serial of the message it recalled, 0: not archived
	CapturedAt       time.Time
	Message          *archive.Message // the normalized record
	Raw              []byte           // the raw record, byte for byte
	Record           []byte           // the normalized record's canonical JSON, byte for byte
	RawSHA256        archive.BlobID
	RecordSHA256     archive.BlobID
	// Sender is the sender as the directory described them at SentAt.
	Sender Person
	// Attachments are the message's attachments in source order (the same
	// order as Message.Attachments).
	Attachments []*Attachment
	// Leaf is the journal leaf that archived the message (the canonical
	// event JSON) and Proof its RFC 6962 inclusion proof, bottom to top,
	// in the job's checkpoint: the production's proof files carry them.
	Leaf  []byte
	Proof [][]byte
}

// Attachment is one attachment of a message in a production.
type Attachment struct {
	Ordinal   int    // index in Message.Attachments
	Role      string // image, file, voice, video…
	FileName  string // the source's file name, "" when it gave none
	MediaType string
	Status    archive.AttachmentStatus // fetched, missing, failed… (a later fetch counts)
	Reason    string
	Blob      archive.BlobID // zero when no bytes are stored
	Size      int64
	// Path is where the production keeps the bytes, relative to the
	// production's root with slashes (NATIVES/…); "" when there are none.
	Path string
	// Open reads the stored bytes (verified against Blob); nil when none.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// HasBytes says whether the production carries the attachment's bytes.
func (a *Attachment) HasBytes() bool { return a.Path != "" && a.Open != nil }

// Unit is one conversation on one day, or one slice of it.
type Unit struct {
	Conversation     string
	ConversationKind archive.ConversationKind
	// Title is the conversation's display name: the room's name when the
	// directory had one, else the participants' names joined.
	Title string
	Day   string // YYYY-MM-DD in Location
	// Slice counts from 1 of Slices (1 of 1 unless the day has more than
	// MaxUnitEvents messages); CollectionID ties the slices of one
	// conversation-day (RSMF eventcollectionid), the same for every slice.
	Slice, Slices int
	CollectionID  string
	// Name is the unit's file name stem, safe on every file system
	// (2026-03-01_wrABC, with _2 for a second slice).
	Name string
	// Custodian is the employee whose records these are: the custodian the
	// scope named when it named one among the participants, else the
	// first employee participant.
	Custodian string
	// Participants are everyone in the unit's messages, employees first,
	// then by id.
	Participants []Person
	Messages     []*Message
	Location     *time.Location // the archive's time zone
	// Producer names the archive in headers (X-RSMF-Generator, PDF
	// producer): "wxarchive <version>".
	Producer string
	// Prefix is the production-number prefix (PageNumber uses it).
	Prefix string
}

// RootFromUnit leads from a format's unit file (VOL001/HTML/NAME.html) to
// the production's root, where Attachment.Path starts: a transcript links
// an image as RootFromUnit + Path.
const RootFromUnit = "../../"

// PageNumber is the production number of a transcript's n-th page
// (counting from 1 across the production): PREFIX-P0000001.
func PageNumber(prefix string, n int) string { return fmt.Sprintf("%s-P%07d", prefix, n) }

// MessageNumber is the production number of the n-th message (from 1).
func MessageNumber(prefix string, n int) string { return fmt.Sprintf("%s%07d", prefix, n) }

// Person returns the participant with the id (with only the id when the
// unit does not list it).
func (u *Unit) Person(id string) Person {
	for _, p := range u.Participants {
		if p.ID == id {
			return p
		}
	}
	return Person{ID: id}
}

// Sink is where a format writes a unit's files. Names are relative to the
// unit's directory for that format (the runner places them), slash
// separated, without "..", and start with the unit's Name and a "." or
// "/" (NAME.rsmf): unit names are unique in a production, so two units'
// files never meet.
type Sink interface {
	Create(name string) (io.WriteCloser, error)
}

// Format writes the files of one format for a unit. A format is
// deterministic: the same unit gives the same bytes (a resumed export is
// identical to an uninterrupted one), so nothing may depend on the clock,
// map order or randomness.
type Format interface {
	// Name is the --format name: rsmf, eml, html, pdf, jsonl.
	Name() string
	// WriteUnit writes u's files into out. firstPage is the page number
	// the unit's first page gets (transcripts number pages across the
	// production); it returns how many pages it used (0 for formats
	// without pages).
	WriteUnit(ctx context.Context, u *Unit, out Sink, firstPage int) (pages int, err error)
}

// BatchSource is a Source that loads consecutive units of the plan
// together (one index query for all of them): the runner hands it runs
// of units and takes them in the order given.
type BatchSource interface {
	Source
	Units(ctx context.Context, us []PlannedUnit) ([]*Unit, error)
}

// Unpaged is a Format whose files do not depend on the pages written
// before the unit (it ignores firstPage and returns 0 pages) and whose
// WriteUnit may run for several units at once: the runner formats such
// units ahead, on every core, into memory and writes them in order.
type Unpaged interface {
	Format
	Unpaged()
}
