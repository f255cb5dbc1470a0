package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// JSONL is the native format: one line per message with the normalized
// record and the raw original byte for byte (as JSON strings, so their
// SHA-256 can be checked against the journal leaf), the attachments'
// files and the facts the archive holds about the message.
type JSONL struct{}

// Name implements Format.
func (JSONL) Name() string { return "jsonl" }

// JSONLLine is one line of a JSONL unit file.
type JSONLLine struct {
	ProductionNumber string `json:"production_number"`
	Serial           uint64 `json:"serial"`
	JournalIndex     uint64 `json:"journal_index"`
	Version          int    `json:"version"`
	ConflictsWith    uint64 `json:"conflicts_with,omitempty"`
	RecalledBy       uint64 `json:"recalled_by,omitempty"`
	RefersToSerial   uint64 `json:"refers_to_serial,omitempty"`
	CapturedAt       string `json:"captured_at"`
	SenderName       string `json:"sender_name,omitempty"`
	SenderDepartment string `json:"sender_department,omitempty"`
	// Record is the normalized record's canonical JSON, as a string;
	// RecordSHA256 its hash (the journal leaf's "record").
	Record       string         `json:"record"`
	RecordSHA256 archive.BlobID `json:"record_sha256"`
	// Raw is the raw record when it is UTF-8, else RawBase64; RawSHA256
	// its hash (the leaf's "raw").
	Raw         string            `json:"raw,omitempty"`
	RawBase64   string            `json:"raw_base64,omitempty"`
	RawSHA256   archive.BlobID    `json:"raw_sha256"`
	Attachments []JSONLAttachment `json:"attachments"`
}

// JSONLAttachment is an attachment as a JSONL line lists it.
type JSONLAttachment struct {
	Ordinal   int                      `json:"ordinal"`
	Role      string                   `json:"role"`
	FileName  string                   `json:"file_name,omitempty"`
	MediaType string                   `json:"media_type,omitempty"`
	Status    archive.AttachmentStatus `json:"status"`
	Reason    string                   `json:"reason,omitempty"`
	SHA256    *archive.BlobID          `json:"sha256,omitempty"`
	Size      int64                    `json:"size,omitempty"`
	Path      string                   `json:"path,omitempty"`
}

// WriteUnit implements Format.
func (JSONL) WriteUnit(_ context.Context, u *Unit, out Sink, _ int) (int, error) {
	var b bytes.Buffer
	for _, m := range u.Messages {
		l := JSONLLine{ProductionNumber: m.ProductionNumber, Serial: m.Serial, JournalIndex: m.JournalIndex, Version: m.Version,
			ConflictsWith: m.ConflictsWith, RecalledBy: m.RecalledBy, RefersToSerial: m.RefersToSerial,
			CapturedAt: m.CapturedAt.UTC().Format(time.RFC3339Nano), SenderName: m.Sender.Name, SenderDepartment: m.Sender.Department,
			Record: string(m.Record), RecordSHA256: m.RecordSHA256, RawSHA256: m.RawSHA256, Attachments: []JSONLAttachment{}}
		if utf8.Valid(m.Raw) {
			l.Raw = string(m.Raw)
		} else {
			l.RawBase64 = base64.StdEncoding.EncodeToString(m.Raw)
		}
		for _, a := range m.Attachments {
			ja := JSONLAttachment{Ordinal: a.Ordinal, Role: a.Role, FileName: a.FileName, MediaType: a.MediaType, Status: a.Status, Reason: a.Reason, Path: a.Path}
			if !a.Blob.IsZero() {
				blob := a.Blob
				ja.SHA256, ja.Size = &blob, a.Size
			}
			l.Attachments = append(l.Attachments, ja)
		}
		if err := jsonLine(&b, &l); err != nil {
			return 0, err
		}
	}
	f, err := out.Create(u.Name + ".jsonl")
	if err != nil {
		return 0, err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return 0, err
	}
	return 0, f.Close()
}

// Unpaged implements Unpaged: a JSONL file has no pages.
func (JSONL) Unpaged() {}
