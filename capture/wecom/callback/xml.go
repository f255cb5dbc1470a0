package callback

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse limits: WeChat's callback documents are flat and small.
const (
	MaxXMLBytes  = 1 << 20
	maxXMLDepth  = 8
	maxXMLFields = 2000
)

// Field is one leaf element of a callback document: its path below the
// root (nested elements joined with '/', e.g. "SendPicsInfo/PicList/item/PicMd5Sum")
// and its text.
type Field struct {
	Name  string
	Value string
}

// Document is a parsed callback XML document: every leaf in document order.
type Document struct {
	Fields []Field
}

// Get returns the first field with that path, and whether there was one.
func (d *Document) Get(name string) (string, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the first field with that path, or "".
func (d *Document) Value(name string) string {
	v, _ := d.Get(name)
	return v
}

// ParseXML parses a callback document: a root element <xml> holding
// elements whose text is the value (CDATA or escaped). A DOCTYPE, an
// entity declaration or any other directive is refused (no entity tricks),
// as are undefined entities, mixed content, more than 8 levels, and
// documents over 1 MB. Errors say where (byte offset, element).
func ParseXML(data []byte) (*Document, error) {
	fail := func(off int64, format string, a ...any) (*Document, error) {
		return nil, &Error{Op: "parse", Err: ErrXML, Detail: fmt.Sprintf("byte %d: ", off) + fmt.Sprintf(format, a...)}
	}
	if len(data) > MaxXMLBytes {
		return fail(0, "%d bytes, more than %d", len(data), MaxXMLBytes)
	}
	if !utf8.Valid(data) {
		return fail(0, "not UTF-8")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") {
			return r, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported (UTF-8 only)", charset)
	}
	doc := &Document{}
	var path []string
	var text strings.Builder
	hasChild := []bool{} // per open element: has it child elements?
	rootSeen, rootDone := false, false
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return fail(off, "line %d: %s", se.Line, se.Msg)
			}
			return fail(off, "%v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fail(off, "a directive (<!%s…>) is not allowed: no DOCTYPE or entity declarations", firstWord(t))
		case xml.ProcInst:
			if t.Target != "xml" || rootSeen {
				return fail(off, "processing instruction <?%s?> is not allowed", t.Target)
			}
		case xml.Comment:
		case xml.StartElement:
			if rootDone {
				return fail(off, "content after the root element")
			}
			if !rootSeen {
				if t.Name.Local != "xml" {
					return fail(off, "root element is <%s>, want <xml>", t.Name.Local)
				}
				rootSeen = true
				hasChild = append(hasChild, false)
				continue
			}
			if len(path) >= maxXMLDepth {
				return fail(off, "elements nested deeper than %d", maxXMLDepth)
			}
			if strings.TrimSpace(text.String()) != "" {
				return fail(off, "<%s> has both text and child elements", pathName(path))
			}
			hasChild[len(hasChild)-1] = true
			path = append(path, t.Name.Local)
			hasChild = append(hasChild, false)
			text.Reset()
		case xml.EndElement:
			leaf := !hasChild[len(hasChild)-1]
			hasChild = hasChild[:len(hasChild)-1]
			if len(path) == 0 { // </xml>
				rootDone = true
				continue
			}
			if leaf {
				if len(doc.Fields) >= maxXMLFields {
					return fail(off, "more than %d fields", maxXMLFields)
				}
				doc.Fields = append(doc.Fields, Field{Name: pathName(path), Value: text.String()})
			}
			path = path[:len(path)-1]
			text.Reset()
		case xml.CharData:
			if !rootSeen || rootDone {
				if len(bytes.TrimSpace(t)) != 0 {
					return fail(off, "text outside the root element")
				}
				continue
			}
			if len(path) > 0 && hasChild[len(hasChild)-1] && len(bytes.TrimSpace(t)) != 0 {
				return fail(off, "<%s> has both text and child elements", pathName(path))
			}
			text.Write(t)
		}
	}
	if !rootDone {
		return fail(int64(len(data)), "no complete <xml> root element")
	}
	return doc, nil
}

func pathName(p []string) string {
	if len(p) == 0 {
		return "xml"
	}
	return strings.Join(p, "/")
}

func firstWord(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \t\r\n["); i >= 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

// Envelope is the outer document of a safe-mode POST: the encrypted
// message and whom it is for.
type Envelope struct {
	ToUserName string
	Encrypt    string
	AgentID    string
}

// ParseEnvelope parses a safe-mode POST body and requires its Encrypt.
func ParseEnvelope(body []byte) (*Envelope, error) {
	doc, err := ParseXML(body)
	if err != nil {
		return nil, err
	}
	enc, ok := doc.Get("Encrypt")
	if !ok || enc == "" {
		return nil, &Error{Op: "parse", Err: ErrXML, Detail: "no <Encrypt> element: not a safe-mode message (is the callback in plaintext mode?)"}
	}
	return &Envelope{ToUserName: doc.Value("ToUserName"), Encrypt: enc, AgentID: doc.Value("AgentID")}, nil
}

// Message is a decrypted callback message or event.
type Message struct {
	ToUserName   string // the corp id / OA original id
	FromUserName string // userid (WeCom) or openid (OA); empty for some WeCom events (kf_msg_or_event)
	CreateTime   int64  // seconds since the epoch; 0 when TimeProblem says why
	MsgType      string // text, image, voice, video, shortvideo, location, link, event, …
	MsgID        string // absent for events
	AgentID      string
	Event        string // for MsgType event
	Doc          *Document
	// TimeProblem says why CreateTime is missing or unreadable: the
	// message is kept, filed at its capture time and marked time unknown.
	TimeProblem string
}

// ParseMessage parses a message document and checks the fields every
// message has. Fields of particular types are read from Doc.
func ParseMessage(data []byte) (*Message, error) {
	doc, err := ParseXML(data)
	if err != nil {
		return nil, err
	}
	return MessageOf(doc)
}

// MessageOf reads a parsed document as a message or event. Refused is
// only what cannot be a record: no MsgType, an event without its Event, a
// message without its MsgId or its sender. An event needs no sender (WeCom
// documents kf_msg_or_event without FromUserName), and a missing or
// unreadable CreateTime is kept (TimeProblem).
func MessageOf(doc *Document) (*Message, error) {
	// Trimmed: WeCom's own examples put spaces around CDATA sections.
	v := func(name string) string { return strings.TrimSpace(doc.Value(name)) }
	m := &Message{ToUserName: v("ToUserName"), FromUserName: v("FromUserName"),
		MsgType: v("MsgType"), MsgID: v("MsgId"), AgentID: v("AgentID"), Event: v("Event"), Doc: doc}
	bad := func(field, format string, a ...any) (*Message, error) {
		return nil, &Error{Op: "parse", Err: ErrXML, Detail: field + ": " + fmt.Sprintf(format, a...)}
	}
	if m.MsgType == "" {
		if _, ok := doc.Get("InfoType"); ok {
			return bad("MsgType", "missing: this is a suite callback (InfoType), not a message")
		}
		return bad("MsgType", "missing")
	}
	if m.MsgType == "event" && m.Event == "" {
		return bad("Event", "missing for MsgType event")
	}
	if m.MsgType != "event" && m.FromUserName == "" {
		return bad("FromUserName", "missing for MsgType %s: a message needs its sender", m.MsgType)
	}
	if m.MsgType != "event" && m.MsgID == "" {
		return bad("MsgId", "missing for MsgType %s", m.MsgType)
	}
	ct, ok := doc.Get("CreateTime")
	switch n, err := strconv.ParseInt(strings.TrimSpace(ct), 10, 64); {
	case !ok:
		m.TimeProblem = "CreateTime: missing"
	case err != nil || n <= 0:
		m.TimeProblem = fmt.Sprintf("CreateTime: %q is not a time in seconds", clip(ct, 40))
	case n > maxCreateTime:
		m.TimeProblem = fmt.Sprintf("CreateTime: %d is after 9999", n)
	default:
		m.CreateTime = n
	}
	return m, nil
}

// maxCreateTime is 9999-12-31T23:59:59Z: a later time cannot be filed.
const maxCreateTime = 253402300799

// DedupeKey identifies a delivery across WeChat's retries: the MsgId, or
// for events (which have none) sender, time and event, as WeChat's
// documentation recommends.
func (m *Message) DedupeKey() string {
	if m.MsgID != "" {
		return m.MsgID
	}
	if m.TimeProblem != "" {
		// No time to tell deliveries apart by: the document itself does
		// (WeChat's retries repeat it byte for byte).
		return fmt.Sprintf("event:%s:%s:%s", m.FromUserName, m.Event, docHash(m.Doc))
	}
	return fmt.Sprintf("event:%s:%d:%s:%s", m.FromUserName, m.CreateTime, m.Event, m.Doc.Value("EventKey"))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
