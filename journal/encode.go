package journal

import (
	"bytes"
	"strconv"

	"github.com/wxarchive/wxarchive/archive"
)

// The leaf encoding is defined as encoding/json's output (see Marshal and
// docs/FORMAT.md). These appenders produce exactly the same bytes without
// reflection: the committer encodes every event on the hot path, and
// encoding/json re-validates an embedded RawMessage on every Marshal.
// encode_test.go checks them against encoding/json.

// AppendLeaf appends the canonical leaf of e; e.Payload must be compact
// encoding/json output (as NewEvent makes it). It equals e.Marshal().
func (e *Event) AppendLeaf(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","type":`...)
	b = archive.AppendJSONString(b, e.Type)
	b = append(b, `,"actor":`...)
	b = archive.AppendJSONString(b, e.Actor)
	if len(e.Subject) > 0 {
		b = append(b, `,"subject":[`...)
		for i, s := range e.Subject {
			if i > 0 {
				b = append(b, ',')
			}
			b = archive.AppendJSONString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"payload":`...)
	if len(e.Payload) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, e.Payload...)
	}
	return append(b, '}')
}

// PeekType reads the type of a leaf in the canonical encoding without
// decoding it (a reader skipping the events it has no use for). ok is
// false when the leaf does not start as a canonical leaf does, or its type
// is escaped: decode it then.
func PeekType(leaf []byte) (typ string, ok bool) {
	const marker = `","type":"`
	if !bytes.HasPrefix(leaf, []byte(`{"index":`)) {
		return "", false
	}
	i := bytes.Index(leaf, []byte(marker))
	if i < 0 {
		return "", false
	}
	rest := leaf[i+len(marker):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}
