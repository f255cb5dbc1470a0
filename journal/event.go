package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// Event is one journal entry. Its canonical encoding (Marshal) is the leaf.
type Event struct {
	Index   uint64          `json:"index"`
	Time    archive.Time    `json:"time"`
	Type    string          `json:"type"`
	Actor   string          `json:"actor"`
	Subject []string        `json:"subject,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Limits on a leaf. They bound what a reader must accept; the writer
// refuses to write a leaf over them (CheckWritable), so that no input can
// make the journal unreadable.
const (
	MaxLeafBytes  = 1 << 20
	MaxActorBytes = 256
	maxTypeBytes  = 64
)

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// ErrMalformedLeaf is wrapped by every ParseLeaf error.
var ErrMalformedLeaf = errors.New("malformed journal leaf")

// LeafError names the leaf and what is wrong with it.
type LeafError struct {
	Index  uint64 // the position the leaf was read from
	Reason string
}

func (e *LeafError) Error() string {
	return fmt.Sprintf("journal leaf %d: %s", e.Index, e.Reason)
}
func (e *LeafError) Unwrap() error { return ErrMalformedLeaf }

// Marshal returns the canonical leaf bytes: encoding/json of Event with the
// payload compacted. Payloads are themselves produced by encoding/json from
// the documented structs, so the same event always yields the same bytes.
func (e *Event) Marshal() ([]byte, error) {
	if !typePattern.MatchString(e.Type) {
		return nil, fmt.Errorf("journal event type %q is not a dotted lower-case name", e.Type)
	}
	if len(e.Payload) == 0 {
		e.Payload = json.RawMessage(`{}`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, e.Payload); err != nil {
		return nil, fmt.Errorf("journal event %s payload: %w", e.Type, err)
	}
	e.Payload = buf.Bytes()
	return json.Marshal(e)
}

// NewEvent builds an event whose payload is the JSON of v.
func NewEvent(typ, actor string, at archive.Time, subject []string, v any) (Event, error) {
	p, err := json.Marshal(v)
	if err != nil {
		return Event{}, fmt.Errorf("journal event %s payload: %w", typ, err)
	}
	return Event{Time: at, Type: typ, Actor: actor, Subject: subject, Payload: p}, nil
}

// ParseLeaf decodes and validates a leaf read from position index. It never
// panics; every problem is a *LeafError. A leaf whose recorded index differs
// from its position is rejected: reordering leaves is tampering.
func ParseLeaf(index uint64, leaf []byte) (*Event, error) {
	return parseLeaf(index, leaf, true)
}

// DecodeLeaf decodes a leaf that ParseLeaf refuses for its size, its
// spelling or members it does not know, for the readers that must carry on
// past it: verify (which reports the leaf once and checks the rest) and
// reindex (which must not drop an acknowledged message because a field was
// too long). The leaf is still covered by the Merkle tree and the signed
// checkpoints, so what it says is what the archive committed to; it is
// only not in the documented form. It still requires one JSON object
// recording index as its position, with a time, a type, an actor and an
// object payload, and never panics; every problem is a *LeafError. A leaf
// ParseLeaf accepts decodes to the same event.
func DecodeLeaf(index uint64, leaf []byte) (*Event, error) {
	return parseLeaf(index, leaf, false)
}

func parseLeaf(index uint64, leaf []byte, strict bool) (*Event, error) {
	fail := func(format string, a ...any) (*Event, error) {
		return nil, &LeafError{Index: index, Reason: fmt.Sprintf(format, a...)}
	}
	if len(leaf) == 0 {
		return fail("empty")
	}
	if strict && len(leaf) > MaxLeafBytes {
		return fail("%d bytes, limit %d", len(leaf), MaxLeafBytes)
	}
	if strict && !utf8.Valid(leaf) {
		return fail("invalid UTF-8")
	}
	var raw struct {
		Index   *uint64         `json:"index"`
		Time    *archive.Time   `json:"time"`
		Type    *string         `json:"type"`
		Actor   *string         `json:"actor"`
		Subject []string        `json:"subject"`
		Payload json.RawMessage `json:"payload"`
	}
	dec := json.NewDecoder(bytes.NewReader(leaf))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&raw); err != nil {
		return fail("%v", err)
	}
	if dec.More() {
		return fail("trailing data after the event object")
	}
	switch {
	case raw.Index == nil:
		return fail("missing field \"index\"")
	case *raw.Index != index:
		return fail("records index %d but is stored at position %d", *raw.Index, index)
	case raw.Time == nil:
		return fail("missing field \"time\"")
	case raw.Type == nil || !typePattern.MatchString(*raw.Type) || len(*raw.Type) > maxTypeBytes:
		return fail("missing or invalid field \"type\"")
	case raw.Actor == nil || strict && len(*raw.Actor) > MaxActorBytes:
		return fail("missing or oversize field \"actor\"")
	case len(raw.Payload) == 0 || raw.Payload[0] != '{':
		return fail("field \"payload\" must be an object")
	}
	ev := &Event{Index: index, Time: *raw.Time, Type: *raw.Type, Actor: *raw.Actor, Subject: raw.Subject, Payload: raw.Payload}
	if !strict {
		return ev, nil
	}
	// The stored bytes must be exactly what Marshal produces: any other
	// spelling of the same event would let two different leaves claim to be
	// the same record.
	again, err := ev.Marshal()
	if err != nil || !bytes.Equal(again, leaf) {
		return fail("not in canonical form")
	}
	return ev, nil
}

// ErrLeafRefused is wrapped by CheckWritable's errors: the writer would
// have produced a leaf its own reader refuses.
var ErrLeafRefused = errors.New("journal leaf refused")

// RefusedError says which event could not be written and why.
type RefusedError struct {
	Type   string
	Actor  string // cut to 64 bytes: the actor may be what is at fault
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("journal event %s by %q refused: %s", e.Type, e.Actor, e.Reason)
}
func (e *RefusedError) Unwrap() error { return ErrLeafRefused }

// CheckWritable refuses an event whose leaf ParseLeaf would refuse for its
// size, type or actor (the rest of ParseLeaf's checks hold by construction
// of Marshal and AppendLeaf; Marshal checks the type's spelling, and the
// writer's own events have constant types). The writer calls it on every leaf before the
// leaf joins the tree: a leaf written once is in the journal forever.
func CheckWritable(ev *Event, leaf []byte) error {
	refuse := func(format string, a ...any) error {
		actor := ev.Actor
		if len(actor) > 64 {
			actor = actor[:64]
		}
		return &RefusedError{Type: ev.Type, Actor: actor, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case len(leaf) > MaxLeafBytes:
		return refuse("leaf of %d bytes, over the limit of %d", len(leaf), MaxLeafBytes)
	case len(ev.Type) > maxTypeBytes:
		return refuse("type of %d bytes, over the limit of %d", len(ev.Type), maxTypeBytes)
	case len(ev.Actor) > MaxActorBytes:
		return refuse("actor of %d bytes, over the limit of %d", len(ev.Actor), MaxActorBytes)
	case !utf8.ValidString(ev.Actor):
		return refuse("actor is not valid UTF-8")
	}
	// encoding/json writes invalid UTF-8 as an escaped U+FFFD, which
	// decodes to a different string: in the envelope (actor, subject),
	// which the reader decodes and encodes again, that leaf would never
	// be canonical. (The payload is compared as it is written.)
	for _, sub := range ev.Subject {
		if !utf8.ValidString(sub) {
			return refuse("subject %q is not valid UTF-8", sub)
		}
	}
	return nil
}

// DecodePayload unmarshals the payload into v, naming the event on error.
func (e *Event) DecodePayload(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return &LeafError{Index: e.Index, Reason: fmt.Sprintf("%s payload: %v", e.Type, err)}
	}
	return nil
}
