package eml

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

// Helpers both per-unit mail formats (EML and RSMF) need: checking a unit
// before anything is written, its dates, and copying an attachment's bytes
// while proving they are the bytes the archive recorded.

// CheckUnit returns an error for a unit a format cannot write: no unit, no
// file name, no messages, a message without its record, production
// number or attachments. Checking first means a format never writes half
// a file for a unit it would reject at the end.
func CheckUnit(u *export.Unit) error {
	if u == nil {
		return errors.New("no unit")
	}
	if u.Name == "" || strings.ContainsAny(u.Name, "/\\") || strings.Contains(u.Name, "..") {
		return fmt.Errorf("unit %s/%s: unusable file name %q", u.Conversation, u.Day, u.Name)
	}
	if len(u.Messages) == 0 {
		return fmt.Errorf("unit %s: no messages", u.Name)
	}
	for i, m := range u.Messages {
		if m == nil {
			return fmt.Errorf("unit %s: message %d is nil", u.Name, i+1)
		}
		if m.Message == nil {
			return fmt.Errorf("unit %s: serial %d has no normalized record", u.Name, m.Serial)
		}
		if m.ProductionNumber == "" {
			return fmt.Errorf("unit %s: serial %d has no production number", u.Name, m.Serial)
		}
		for j, a := range m.Attachments {
			if a == nil {
				return fmt.Errorf("unit %s: serial %d: attachment %d is nil", u.Name, m.Serial, j+1)
			}
		}
	}
	return nil
}

// Location is the unit's time zone, UTC when it has none.
func Location(u *export.Unit) *time.Location {
	if u.Location == nil {
		return time.UTC
	}
	return u.Location
}

// Span is the earliest and latest SentAt of the unit's messages. Messages
// whose time the source did not give are left out while any message has
// a real time (their SentAt is only when the archive captured them); a
// unit of such messages only spans their capture times.
func Span(u *export.Unit) (first, last time.Time) {
	// First pass: skip messages without a source time; second: only them.
	for _, skip := range []bool{true, false} {
		for _, m := range u.Messages {
			if m == nil || m.Message == nil || m.Message.TimeUnknown == skip {
				continue
			}
			t := m.Message.SentAt.Time
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if last.IsZero() || t.After(last) {
				last = t
			}
		}
		if !first.IsZero() {
			return first, last
		}
	}
	return first, last
}

// AttachmentFileName is the file name an attachment is given inside a
// production's mail formats: the source's name (without any directory a
// source may have put in it), else the name of the production's copy
// (Path's last element), else "<production number>_<n>".
func AttachmentFileName(m *export.Message, a *export.Attachment) string {
	name := a.FileName
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(scrub(name))
	if name == "" || name == "." || name == ".." {
		name = ""
		if a.Path != "" {
			name = path.Base(a.Path)
		}
	}
	if name == "" || name == "." || name == "/" {
		name = fmt.Sprintf("%s_%d", m.ProductionNumber, a.Ordinal+1)
	}
	return name
}

// CopyAttachment copies the attachment's stored bytes to w and checks
// them against the Blob and Size the archive recorded: a production must
// not carry bytes other than those it lists.
func CopyAttachment(ctx context.Context, w io.Writer, m *export.Message, a *export.Attachment) error {
	if !a.HasBytes() {
		return fmt.Errorf("serial %d: attachment %d has no stored bytes", m.Serial, a.Ordinal+1)
	}
	r, err := a.Open(ctx)
	if err != nil {
		return fmt.Errorf("serial %d: attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	cerr := r.Close()
	if err != nil {
		return fmt.Errorf("serial %d: attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	if cerr != nil {
		return fmt.Errorf("serial %d: attachment %d: %w", m.Serial, a.Ordinal+1, cerr)
	}
	var sum archive.BlobID
	copy(sum[:], h.Sum(nil))
	if sum != a.Blob || n != a.Size {
		return fmt.Errorf("serial %d: attachment %d: stored bytes (%d, %s) differ from the record (%d, %s)",
			m.Serial, a.Ordinal+1, n, sum.Short(), a.Size, a.Blob.Short())
	}
	return nil
}
