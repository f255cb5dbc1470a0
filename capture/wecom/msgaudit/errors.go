package msgaudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// ErrMalformed is what every DecodeError about the line itself unwraps to,
// so that a connector can quarantine the line with errors.Is without caring
// which field was wrong.
var ErrMalformed = errors.New("malformed msgaudit message")

// ErrNoSource is what the DecodeError for an empty Options.Source unwraps to.
// It is a caller bug, not bad input: keeping it apart from ErrMalformed stops
// a misconfigured connector from quarantining every good line it reads.
var ErrNoSource = errors.New("msgaudit: Options.Source is empty")

// DecodeError names what is wrong with a line. Decode returns it for every
// failure, so a quarantine report can always say which field was at fault.
type DecodeError struct {
	// MsgID is the line's msgid when it could be read, so the fault can be
	// reported against the message; "" otherwise.
	MsgID string
	// Field is a JSON path such as "msgtime", "tolist[3]" or
	// "chatrecord.item[1].content.filesize"; "" for the whole line. A path
	// below an item's "content" continues inside the JSON document that the
	// content string encodes.
	Field string
	// Reason says what was wanted and what was found.
	Reason string

	err error // what Unwrap returns; nil means ErrMalformed
	// hard marks a limit exceeded (MaxTextBytes, MaxItems, MaxNesting): the
	// line is refused rather than decoded with the field set aside, because
	// the limits bound the work and size one line can cause.
	hard bool
}

// Error renders the fault, e.g.
// `field "msgtime": want a number of milliseconds, got string "abc"`.
func (e *DecodeError) Error() string {
	s := e.Reason
	if e.Field != "" {
		s = fmt.Sprintf("field %q: %s", e.Field, e.Reason)
	}
	if e.MsgID != "" {
		s = fmt.Sprintf("msgid %q: %s", e.MsgID, s)
	}
	return s
}

// Unwrap returns ErrMalformed (or ErrNoSource for a configuration fault).
func (e *DecodeError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ErrMalformed
}

func fieldErr(field, format string, args ...any) *DecodeError {
	return &DecodeError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// limitErr is a fieldErr for an exceeded limit, which no retry can mend.
func limitErr(field, format string, args ...any) *DecodeError {
	e := fieldErr(field, format, args...)
	e.hard = true
	return e
}

// joinPath appends a JSON path segment; segments starting with "[" are
// array indexes and attach without a dot.
func joinPath(base, seg string) string {
	switch {
	case base == "":
		return seg
	case seg == "":
		return base
	case seg[0] == '[':
		return base + seg
	}
	return base + "." + seg
}

// loc is a JSON path still in two parts: handlers name the field of every
// value they read, and joining the parts only when an error is reported
// keeps string building off the hot path.
type loc struct{ base, key string }

func (l loc) String() string { return joinPath(l.base, l.key) }

func indexPath(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// jsonErr turns an encoding/json error met while decoding the value at path
// into a DecodeError naming the deepest field encoding/json reports.
func jsonErr(err error, path string) *DecodeError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fieldErr(joinPath(path, te.Field), "want %s, got %s", wantType(te.Type), te.Value)
	case errors.As(err, &se):
		off := se.Offset
		if off > 0 {
			off-- // Offset counts the offending byte; report its 0-based offset
		}
		return fieldErr(path, "invalid JSON at byte offset %d: %v", off, se)
	}
	return fieldErr(path, "%v", err)
}

func wantType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// describe says what a JSON value is, for "got ..." in reasons. Strings and
// numbers are quoted (shortened) so the operator sees the offending value.
func describe(raw []byte) string {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "invalid string"
		}
		return "string " + strconv.Quote(shorten(s, 64))
	case c == 't' || c == 'f':
		return "boolean " + shorten(string(raw), 8)
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number " + shorten(string(raw), 64)
	}
	return "invalid JSON"
}

// shorten cuts s to at most n bytes on a rune boundary, so reasons stay
// readable and valid UTF-8 even when the offending value is huge.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
