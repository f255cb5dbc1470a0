package msgaudit

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// isSpace reports JSON whitespace. bytes.TrimSpace is not used because it
// also strips Unicode spaces (U+00A0, U+0085) that JSON does not allow, and
// a line with them must fail, not silently decode.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// firstByte returns the first non-space byte of b, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}

// invalidUTF8 returns the offset of the first byte that is not part of a
// valid UTF-8 sequence, or -1. encoding/json would quietly turn such bytes
// into U+FFFD, so the normalized record would no longer say what the raw
// record says; a compliance archive must refuse instead.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1 // not reached: utf8.Valid said there is a bad byte
}

// hasControl reports whether b holds any byte below 0x20. Most lines hold
// none (the caller strips the line ending), so this cheap scan keeps the
// escaping pass off the hot path.
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// escapeControls returns a copy of b in which every raw control byte
// (U+0000–U+001F) inside a JSON string literal is replaced by its \u00XX
// escape. DecryptData emits such bytes (strict JSON forbids them); rejecting
// them would make a genuine message unarchivable. Control bytes outside
// strings are left alone: there they are either JSON whitespace or a genuine
// syntax error.
func escapeControls(b []byte) []byte {
	out := make([]byte, 0, len(b)+32)
	var st escState
	for _, c := range b {
		if st.next(c) {
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		}
		out = append(out, c)
	}
	return out
}

// escState tracks whether the scan is inside a string literal.
type escState struct{ inStr, esc bool }

// next consumes c and reports whether escapeControls escapes it.
func (s *escState) next(c byte) bool {
	switch {
	case !s.inStr:
		s.inStr = c == '"'
	case s.esc:
		// A control byte right after a backslash is an invalid escape
		// whatever we do; leave it for the JSON decoder to reject.
		s.esc = false
	case c == '\\':
		s.esc = true
	case c == '"':
		s.inStr = false
	case c < 0x20:
		return true
	}
	return false
}

// origOffset maps an offset in escapeControls(b) back to the byte of b it
// came from, by replaying the escaping. Only error reports need it, so it
// costs nothing on the hot path and nothing is remembered per escape.
func origOffset(b []byte, off int64) int64 {
	var st escState
	var pos int64
	for i, c := range b {
		w := int64(1)
		if st.next(c) {
			w = 6
		}
		if off < pos+w {
			return int64(i)
		}
		pos += w
	}
	return int64(len(b))
}

// num is a JSON number that some producers re-encode as a string
// ("1700000060000"); both are accepted. It never fails during
// json.Unmarshal — a wrong type is recorded and reported by the accessor,
// which knows the field's path — so errors always name the exact field.
type num struct {
	kind byte   // 0: absent, null or ""; 'n': number; 's': string; 'x': another type
	text string // the number literal or the string's contents; for 'x' a description
}

func (n *num) UnmarshalJSON(b []byte) error {
	*n = num{}
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == 'n':
	case c == '"':
		var s string
		if !hasByte(b, '\\') {
			s = string(b[1 : len(b)-1])
		} else if json.Unmarshal(b, &s) != nil {
			n.kind, n.text = 'x', "invalid string"
			return nil
		}
		if s != "" {
			n.kind, n.text = 's', s
		}
	case c == '-' || (c >= '0' && c <= '9'):
		n.kind, n.text = 'n', string(b)
	default:
		n.kind, n.text = 'x', describe(b)
	}
	return nil
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func (n num) set() bool { return n.kind != 0 }

// got describes the received value for an error reason.
func (n num) got() string {
	switch n.kind {
	case 'n':
		return "number " + shorten(n.text, 64)
	case 's':
		return "string " + strconv.Quote(shorten(n.text, 64))
	case 'x':
		return n.text
	}
	return "nothing"
}

// int returns the integer value. ok is false when the field is absent.
// Integral floats (1.7e12, 3000.0) are accepted because some re-encoders
// emit them; fractions are refused. want is used in the error reason.
func (n num) int(at loc, want string) (v int64, ok bool, err *DecodeError) {
	switch n.kind {
	case 0:
		return 0, false, nil
	case 'x':
		return 0, false, fieldErr(at.String(), "want %s, got %s", want, n.got())
	}
	if v, err := strconv.ParseInt(n.text, 10, 64); err == nil {
		return v, true, nil
	}
	if numeric(n.text) {
		if f, err := strconv.ParseFloat(n.text, 64); err == nil && f == math.Trunc(f) && f >= -(1<<62) && f <= 1<<62 {
			return int64(f), true, nil
		}
	}
	return 0, false, fieldErr(at.String(), "want %s, got %s", want, n.got())
}

// float validates a number that is only displayed (coordinates): it must
// parse, and is rendered as received so no precision is lost or invented.
func (n num) float(at loc) (string, *DecodeError) {
	switch n.kind {
	case 0:
		return "", nil
	case 'x':
		return "", fieldErr(at.String(), "want a number, got %s", n.got())
	}
	if !numeric(n.text) {
		return "", fieldErr(at.String(), "want a number, got %s", n.got())
	}
	f, err := strconv.ParseFloat(n.text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fieldErr(at.String(), "want a number, got %s", n.got())
	}
	return n.text, nil
}

// str returns the value as text for display (ids such as meetingid that are
// numbers in some payloads and strings in others).
func (n num) str(at loc) (string, *DecodeError) {
	if n.kind == 'x' {
		return "", fieldErr(at.String(), "want a number or a string, got %s", n.got())
	}
	return n.text, nil
}

// numeric reports whether s uses only characters of a JSON number, so that
// strconv's extras (hex floats, "Inf", "NaN", underscores) are refused.
func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return false
		}
	}
	return true
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw []byte) bool {
	raw = trimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// unmarshalObject decodes raw, which must be a JSON object, into v. Errors
// name fields below path.
func unmarshalObject(raw []byte, path string, v any) *DecodeError {
	if firstByte(raw) != '{' {
		return fieldErr(path, "want an object, got %s", describe(raw))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonErr(err, path)
	}
	return nil
}

// stringList decodes an array of strings. With single, a lone string is
// accepted as a one-element list (SDKs disagree on calendar.attendeename).
// Absent or null gives nil. A wrong element is named by its index.
func stringList(raw []byte, path string, single bool) ([]string, *DecodeError) {
	if isNull(raw) {
		return nil, nil
	}
	switch firstByte(raw) {
	case '"':
		if single {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, jsonErr(err, path)
			}
			return []string{s}, nil
		}
	case '[':
		var out []string
		if json.Unmarshal(raw, &out) == nil {
			return out, nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, jsonErr(err, path)
		}
		for i, e := range elems {
			if firstByte(e) != '"' {
				return nil, fieldErr(indexPath(path, i), "want a string, got %s", describe(e))
			}
		}
		return nil, fieldErr(path, "want an array of strings")
	}
	if single {
		return nil, fieldErr(path, "want a string or an array of strings, got %s", describe(raw))
	}
	return nil, fieldErr(path, "want an array of strings, got %s", describe(raw))
}

// objectList splits an array into its elements, each checked to be an
// object. With single, a lone object is accepted as a one-element list
// (SDKs disagree on meeting_voice_call.demofiledata). Absent or null gives
// nil.
func objectList(raw []byte, path string, single bool) ([]json.RawMessage, *DecodeError) {
	if isNull(raw) {
		return nil, nil
	}
	switch firstByte(raw) {
	case '{':
		if single {
			return []json.RawMessage{raw}, nil
		}
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, jsonErr(err, path)
		}
		for i, e := range elems {
			if firstByte(e) != '{' {
				return nil, fieldErr(indexPath(path, i), "want an object, got %s", describe(e))
			}
		}
		return elems, nil
	}
	if single {
		return nil, fieldErr(path, "want an object or an array of objects, got %s", describe(raw))
	}
	return nil, fieldErr(path, "want an array of objects, got %s", describe(raw))
}

// idList is tolist: an array of strings. It is scanned by hand, in the
// single pass over the line, because every message has one and decoding it
// through a json.RawMessage would scan it twice more. Like num it never
// fails inside json.Unmarshal; check reports a wrong value by its index.
type idList struct {
	ids []string
	bad bool   // not an array of strings
	raw []byte // a copy of the value when bad, to describe the fault
}

func (l *idList) UnmarshalJSON(b []byte) error {
	*l = idList{}
	if string(b) == "null" {
		return nil
	}
	ids, ok := scanStrings(b)
	if !ok {
		l.bad, l.raw = true, bytes.Clone(b)
		return nil
	}
	l.ids = ids
	return nil
}

// scanStrings parses b, a valid JSON value, as an array of strings; ok is
// false if it is anything else. Strings without escapes are sliced
// directly; the rare escaped one goes through encoding/json.
func scanStrings(b []byte) (out []string, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return []string{}, skipSpace(b, i+1) == len(b)
	}
	out = make([]string, 0, 4)
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		start, esc := i, false
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				esc = true
				i++ // the escaped byte cannot end the string
			}
		}
		if i >= len(b) {
			return nil, false
		}
		if esc {
			var s string
			if json.Unmarshal(b[start:i+1], &s) != nil {
				return nil, false
			}
			out = append(out, s)
		} else {
			out = append(out, string(b[start+1:i]))
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// check returns the ids or an error naming the faulty element.
func (l *idList) check(path string) ([]string, *DecodeError) {
	if !l.bad {
		return l.ids, nil
	}
	return stringList(l.raw, path, false)
}
