package archive

import (
	"strconv"
	"unicode/utf8"
)

// Records and journal events are defined as encoding/json's output of the
// documented structs (docs/FORMAT.md). The appenders here produce exactly
// those bytes without reflection, for the ingest hot path; jsonenc_test.go
// checks them against encoding/json.

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as encoding/json does
// (HTML-escaping <, > and &; escaping U+2028 and U+2029; replacing invalid
// UTF-8 with U+FFFD).
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s, true) }

// AppendJSONStringRaw is AppendJSONString without HTML escaping, as an
// encoding/json Encoder with SetEscapeHTML(false) writes it (and as WeCom's
// SDK output looks).
func AppendJSONStringRaw(b []byte, s string) []byte { return appendJSONString(b, s, false) }

func appendJSONString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSON appends the JSON of p exactly as encoding/json encodes it.
func (p *MessageEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"serial":`...)
	b = strconv.AppendUint(b, p.Serial, 10)
	b = append(b, `,"source":`...)
	b = AppendJSONString(b, p.Source)
	b = append(b, `,"source_id":`...)
	b = AppendJSONString(b, p.SourceID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(p.Version), 10)
	if p.ConflictsWith != 0 {
		b = append(b, `,"conflicts_with":`...)
		b = strconv.AppendUint(b, p.ConflictsWith, 10)
	}
	b = append(b, `,"kind":`...)
	b = AppendJSONString(b, string(p.Kind))
	b = append(b, `,"sent_at":"`...)
	b = p.SentAt.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","raw":"`...)
	b = appendHex(b, p.Raw[:])
	b = append(b, `","record":"`...)
	b = appendHex(b, p.Record[:])
	b = append(b, `","raw_size":`...)
	b = strconv.AppendInt(b, int64(p.RawSize), 10)
	b = append(b, `,"record_size":`...)
	b = strconv.AppendInt(b, int64(p.RecordSize), 10)
	if len(p.Attachments) > 0 {
		b = append(b, `,"attachments":[`...)
		for i, a := range p.Attachments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"blob":"`...)
			b = appendHex(b, a.Blob[:])
			b = append(b, `","status":`...)
			b = AppendJSONString(b, string(a.Status))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.RefersTo != "" {
		b = append(b, `,"refers_to":`...)
		b = AppendJSONString(b, p.RefersTo)
	}
	if p.Origin != "" {
		b = append(b, `,"origin":`...)
		b = AppendJSONString(b, p.Origin)
	}
	b = append(b, `,"retain_until":"`...)
	b = p.RetainUntil.UTC().AppendFormat(b, TimeLayout)
	b = append(b, '"')
	if p.RetentionRule != "" {
		b = append(b, `,"retention_rule":`...)
		b = AppendJSONString(b, p.RetentionRule)
	}
	if p.RetentionVersion != 0 {
		b = append(b, `,"retention_version":`...)
		b = strconv.AppendInt(b, int64(p.RetentionVersion), 10)
	}
	return append(b, '}')
}

func appendHex(b, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return b
}
