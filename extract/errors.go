package extract

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; match them with errors.Is. Every error returned by Text
// and TextInfo is an *Error wrapping one of the first three.
var (
	// ErrUnsupported means the media type is not one this package reads
	// (images, PDF, audio, plain zips ...). Callers should skip silently.
	ErrUnsupported = errors.New("unsupported format")
	// ErrTooLarge means an input, entry count, or inflated size exceeded
	// Limits.
	ErrTooLarge = errors.New("input exceeds limits")
	// ErrMalformed means the bytes claim a format but do not parse as it.
	ErrMalformed = errors.New("malformed input")
	// ErrDTD means an XML part contains a DOCTYPE (and thus possibly entity
	// declarations). It wraps ErrMalformed.
	ErrDTD = fmt.Errorf("%w: XML DOCTYPE or entity declaration not allowed", ErrMalformed)
)

// Error describes a failed extraction: which format was being read, which
// zip entry (if any) failed, and why.
type Error struct {
	Format string // "text", "csv", "docx", "xlsx", "pptx", "zip", or "" if unknown
	Entry  string // zip entry name, or "" when not inside a zip
	Err    error  // wraps ErrUnsupported, ErrTooLarge or ErrMalformed
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("extract")
	if e.Format != "" {
		b.WriteString(" ")
		b.WriteString(e.Format)
	}
	if e.Entry != "" {
		// Quoted: entry names come from the attacker and may hold
		// control characters.
		fmt.Fprintf(&b, " entry %q", e.Entry)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errStop ends a walk early without error (the output is full).
var errStop = errors.New("extract: stop")

// malformed wraps a parser error so that it matches ErrMalformed, unless it
// already carries one of the package sentinels (a size limit hit while the
// parser was reading must stay ErrTooLarge).
func malformed(err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}
