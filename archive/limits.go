package archive

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on the strings and lists that end up in a journal leaf
// (docs/FORMAT.md, "Limits"). A leaf is at most journal.MaxLeafBytes
// (1 MiB), and encoding/json may spell one input byte as six ("<" is
// \u003c, a control character \u00XX), so every input that reaches a leaf
// is bounded where it enters, well below what six-fold escaping of all the
// fields of one event together could bring to the leaf limit. The writer
// refuses any leaf its reader would refuse, so an input that slipped past
// these checks fails its own commit instead of poisoning the journal.
//
// Sizes are in bytes of UTF-8 (a Chinese character takes three).
const (
	// MaxIDBytes bounds identifiers: msgids, participant and external
	// contact ids, refers_to, a corp id, user names, assignees.
	MaxIDBytes = 256
	// MaxSourceBytes bounds a message's source (connector id or
	// "wecom-archive:CORP").
	MaxSourceBytes = 256
	// MaxOriginBytes bounds the provenance of an input (file and line,
	// API request).
	MaxOriginBytes = 1024
	// MaxNameBytes bounds display names, departments, titles, policy and
	// rule names.
	MaxNameBytes = 256
	// MaxNoteBytes bounds a reviewer's note (comment, remediation,
	// escalation reason): about 5,400 Chinese characters.
	MaxNoteBytes = 16 << 10
	// MaxReasonBytes bounds a bulk action's reason, a rejection's reason
	// and a fault's detail.
	MaxReasonBytes = 2 << 10
	// MaxQueryBytes bounds a search query as journaled in its access event.
	MaxQueryBytes = 4 << 10
	// MaxPolicySourceBytes bounds a policy file (its YAML is journaled
	// whole in policy.applied).
	MaxPolicySourceBytes = 128 << 10
	// MaxSourceRefBytes bounds an attachment's source reference (WeCom
	// sdkfileids are long base64 strings).
	MaxSourceRefBytes = 4 << 10
	// MaxAttachments bounds the attachments of one message (each is
	// referenced by blob id in the message's leaf).
	MaxAttachments = 4096
	// MaxReviewAlerts bounds the alerts of one review action.
	MaxReviewAlerts = 1000
)

// LimitError is an input over its documented limit, or not text at all:
// the edge answers it with the field's name (HTTP 400/413, CLI exit 2) and
// nothing is written.
type LimitError struct {
	Field  string // the parameter or field at fault
	Limit  int    // bytes
	Size   int    // bytes given (0 when the problem is not the size)
	Reason string // when the value is refused for another reason than size
}

func (e *LimitError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %d bytes, over the limit of %d", e.Field, e.Size, e.Limit)
}

// CheckText refuses a value over max bytes or not valid UTF-8 (which
// encoding/json would silently replace, altering the evidence).
func CheckText(field, s string, max int) error {
	if len(s) > max {
		return &LimitError{Field: field, Limit: max, Size: len(s)}
	}
	if !utf8.ValidString(s) {
		return &LimitError{Field: field, Limit: max, Reason: "not valid UTF-8"}
	}
	return nil
}

// CheckID is CheckText for an identifier: also no control characters, so
// that an id shown in a table or a log line is the id that was given.
func CheckID(field, s string, max int) error {
	if err := CheckText(field, s, max); err != nil {
		return err
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return &LimitError{Field: field, Limit: max, Reason: fmt.Sprintf("control character %U", r)}
		}
	}
	return nil
}

// Truncate shortens s to at most max bytes without splitting a character,
// marking the cut with "…", and replaces invalid UTF-8 with U+FFFD (the
// journal cannot hold it). For text we produce ourselves or must journal
// whatever it holds (a rejection's reason, a fault's detail, a file name);
// input a person can correct is refused with CheckText instead.
func Truncate(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
