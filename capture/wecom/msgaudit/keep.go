package msgaudit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// Keep, don't refuse. A compliance archive's first promise is that it keeps
// what it is given, so a line that is a message — valid JSON, an object,
// with a msgid, a sender and readable ids — is always archived, even when a
// field the decoder understands holds something it cannot use (a size past
// int64, a string where a number belongs, an object where a string
// belongs, a time of 0). Such a field is set aside: the message is decoded
// without it, the field's value is kept verbatim in a Detail named by its
// path, and a "decode_warning" Detail says what was wrong. The raw line is
// kept byte for byte by the caller as always, so nothing is lost either
// way; what changes is that the message has a serial, is searchable and
// its media are fetched.
//
// What stays a rejection: a line that cannot be a message at all (not
// UTF-8, not JSON, not an object, no msgid, no sender, unreadable
// recipients) and a line over one of the limits (MaxLineBytes,
// MaxIDBytes on the envelope, MaxRecipients, MaxTextBytes, MaxItems,
// MaxNesting), which bound the work one line can cause.

// DetailDecodeWarning names the Details that say what the decoder set aside
// and why (archive.DetailDecodeWarning).
const DetailDecodeWarning = archive.DetailDecodeWarning

// maxSetAside bounds how many fields one message may have set aside before
// the decoder stops retrying and salvages the content as plain strings:
// each retry re-decodes the content, so this bounds the work too.
const maxSetAside = 16

// Warnings returns the decode warnings of a decoded message, for capture
// health (archive.DecodeWarnings).
func Warnings(m *archive.Message) []string { return archive.DecodeWarnings(m) }

// WarnedFields returns the paths of the fields set aside in m
// (archive.WarnedFields).
func WarnedFields(m *archive.Message) []string { return archive.WarnedFields(m) }

// warning is one field set aside: what was wrong and the value as received.
type warning struct {
	field, reason, raw string
}

// warn records a field set aside. raw is the value as received ("" when the
// field was absent).
func (d *decoder) warn(err *DecodeError, raw string) {
	d.warnings = append(d.warnings, warning{field: err.Field, reason: err.Reason, raw: raw})
}

// flushWarnings appends the warnings to the details, after the content's:
// a reader sees the message first, then what could not be read.
func (d *decoder) flushWarnings() {
	for _, w := range d.warnings {
		s := w.reason
		if w.field != "" {
			s = w.field + ": " + w.reason
		}
		d.detail(DetailDecodeWarning, s)
		if w.raw != "" && w.field != "" {
			d.detail(w.field, w.raw)
		}
	}
}

// reset forgets what a failed content decode collected.
func (d *decoder) reset() {
	d.text.Reset()
	d.text1 = ""
	d.details = nil
	d.atts = nil
	d.refersTo = ""
	d.consent = nil
	d.items, d.depth = 0, 0
}

// decodeContent decodes the content of m, setting aside what it cannot use.
func (d *decoder) decodeContent(m *archive.Message, spec kindSpec, known bool) *DecodeError {
	run := func() *DecodeError {
		if known {
			return d.known(m, spec)
		}
		return d.unknownTop()
	}
	err := run()
	if err == nil || err.hard {
		return err
	}
	orig, origEnv, first, w0 := d.body, d.env, err, len(d.warnings)
	firstRaw := ""
	var removed [][2]string // path, raw value: made searchable below
	for tries := 0; err != nil && !err.hard && tries < maxSetAside; tries++ {
		raw, body, ok := removeAt(d.body, err.Field)
		if !ok {
			break
		}
		var env envelope
		if json.Unmarshal(body, &env) != nil {
			break
		}
		if len(removed) == 0 {
			firstRaw = rawText(raw)
		}
		d.warn(err, rawText(raw))
		removed = append(removed, [2]string{err.Field, string(raw)})
		d.reset()
		d.body, d.env = body, &env
		err = run()
	}
	if err != nil && err.hard {
		return err
	}
	if err != nil {
		// Nothing left to set aside (a content object missing or not an
		// object, a required field absent): keep every string of the content
		// as text and every media object as an attachment. The content is
		// salvaged whole, so only the first fault is reported.
		d.warnings = d.warnings[:w0]
		d.warn(first, firstRaw)
		d.reset()
		d.body, d.env = orig, origEnv
		return d.salvage(spec, known)
	}
	// The strings of what was set aside stay searchable: a text content that
	// was an object, an item whose content string was not JSON.
	for _, r := range removed {
		var v any
		if json.Unmarshal([]byte(r[1]), &v) == nil {
			if err := d.walkStrings(v, r[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// salvage indexes the content of a known msgtype that could not be decoded
// as documented: every string under its content key (or, without one, under
// every non-common key) becomes text, and an object with an sdkfileid an
// attachment, so the message stays searchable and its media are fetched.
func (d *decoder) salvage(spec kindSpec, known bool) *DecodeError {
	if known {
		role := spec.role
		if role == "" {
			role = "media"
		}
		for _, k := range spec.keys {
			raw := d.env.content(k)
			if raw == nil {
				continue
			}
			var v any
			if json.Unmarshal(raw, &v) != nil {
				continue
			}
			d.unknownMedia(v, role)
			return d.walkStrings(v, k)
		}
	}
	return d.unknownTop()
}

// rawText renders a set-aside JSON value for its Detail: a string's
// contents, anything else as its JSON text (numbers exactly as received, so
// a size past int64 is kept digit for digit).
func rawText(raw []byte) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// numRaw renders a num as received, for the Detail of a set-aside time.
func numRaw(n num) string {
	if n.kind == 'x' {
		return ""
	}
	return n.text
}

// pathSeg is one step of a DecodeError.Field path.
type pathSeg struct {
	key   string
	index int
	isIdx bool
}

// parsePath splits "a.b[2].c" into its steps. Keys holding "." or "[" (never
// in WeCom's documented fields) cannot be told apart and give ok false.
func parsePath(p string) (segs []pathSeg, ok bool) {
	for p != "" {
		switch {
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(p[1:end])
			if err != nil || n < 0 {
				return nil, false
			}
			segs = append(segs, pathSeg{index: n, isIdx: true})
			p = p[end+1:]
			p = strings.TrimPrefix(p, ".")
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			if end == 0 {
				return nil, false
			}
			segs = append(segs, pathSeg{key: p[:end]})
			p = p[end:]
			if strings.HasPrefix(p, ".") {
				p = p[1:]
			}
		}
	}
	return segs, len(segs) > 0
}

// removeAt returns body without the value at path, and that value's JSON.
// A path continuing below a string (an item's "content", a JSON document
// encoded in a string) continues inside that document, which is re-encoded
// into its string. Numbers keep their exact text.
func removeAt(body []byte, path string) (removed, out []byte, ok bool) {
	segs, ok := parsePath(path)
	if !ok {
		return nil, nil, false
	}
	root, ok := decodeAny(body)
	if !ok {
		return nil, nil, false
	}
	removed, root, ok = removeIn(root, segs)
	if !ok {
		return nil, nil, false
	}
	out, ok = encodeAny(root)
	return removed, out, ok
}

func decodeAny(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	return v, true
}

func encodeAny(v any) ([]byte, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}

func removeIn(v any, segs []pathSeg) (removed []byte, nv any, ok bool) {
	s := segs[0]
	switch x := v.(type) {
	case string:
		inner, ok := decodeAny([]byte(x))
		if !ok {
			return nil, nil, false
		}
		removed, inner, ok = removeIn(inner, segs)
		if !ok {
			return nil, nil, false
		}
		b, ok := encodeAny(inner)
		if !ok {
			return nil, nil, false
		}
		return removed, string(b), true
	case map[string]any:
		if s.isIdx {
			return nil, nil, false
		}
		key, found := s.key, false
		if _, found = x[key]; !found {
			// encoding/json matched the field case-insensitively.
			for k := range x {
				if strings.EqualFold(k, s.key) {
					key, found = k, true
					break
				}
			}
		}
		if !found {
			return nil, nil, false
		}
		if len(segs) == 1 {
			b, ok := encodeAny(x[key])
			if !ok {
				return nil, nil, false
			}
			delete(x, key)
			return b, x, true
		}
		removed, c, ok := removeIn(x[key], segs[1:])
		if !ok {
			return nil, nil, false
		}
		x[key] = c
		return removed, x, true
	case []any:
		if !s.isIdx || s.index >= len(x) {
			return nil, nil, false
		}
		if len(segs) == 1 {
			b, ok := encodeAny(x[s.index])
			if !ok {
				return nil, nil, false
			}
			return b, append(x[:s.index:s.index], x[s.index+1:]...), true
		}
		removed, c, ok := removeIn(x[s.index], segs[1:])
		if !ok {
			return nil, nil, false
		}
		x[s.index] = c
		return removed, x, true
	}
	return nil, nil, false
}

// captureTime is the time a message whose own time is unknown is filed
// under: when it was decoded, which is when it was captured.
func (o Options) captureTime() archive.Time {
	if o.Now != nil {
		return archive.At(o.Now())
	}
	return archive.At(time.Now())
}
