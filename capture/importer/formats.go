package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// chatlog message types (WeChat's local type numbers) → kinds.
var wechatKinds = map[int64]archive.Kind{
	1: archive.KindText, 3: archive.KindImage, 34: archive.KindVoice, 42: archive.KindCard, 43: archive.KindVideo,
	47: archive.KindEmotion, 48: archive.KindLocation, 49: archive.KindLink, 50: archive.KindVoip, 10000: archive.KindEvent,
	10002: archive.KindRevoke,
}

// wechatAppKinds refines type 49 by its subtype.
var wechatAppKinds = map[int64]archive.Kind{
	5: archive.KindLink, 6: archive.KindFile, 19: archive.KindChatRecord, 33: archive.KindWeapp, 36: archive.KindWeapp,
	51: archive.KindSphFeed, 57: archive.KindText, 2000: archive.KindRedPacket, 2001: archive.KindRedPacket,
}

func wechatKind(typ, sub int64) archive.Kind {
	if typ == 49 {
		if k, ok := wechatAppKinds[sub]; ok {
			return k
		}
	}
	if k, ok := wechatKinds[typ]; ok {
		return k
	}
	return archive.KindUnknown
}

// collectStrings gathers the human-readable strings of a JSON value, in
// key order (archive.WalkJSONStrings); md5 sums, hosts and URLs are not
// text.
func collectStrings(v any, out []string) []string {
	archive.WalkJSONStrings(v, func(s string, path []archive.PathStep) error {
		for _, st := range path {
			if !st.IsIndex && (st.Key == "md5" || st.Key == "rawmd5" || st.Key == "host" || st.Key == "url") {
				return nil
			}
		}
		if s = strings.TrimSpace(s); s != "" && !strings.HasPrefix(s, "http") && !isHex(s) {
			out = append(out, text(s))
		}
		return nil
	})
	return out
}

func isHex(s string) bool {
	if len(s) < 16 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// jsonArray reads a top-level JSON array element by element, calling fn
// with each element's line and exact bytes.
func (p *parser) jsonArray(data []byte, what string, fn func(line int, raw []byte) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	lc := &lineCounter{data: data}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return &FileError{Format: p.f, Line: 1, Reason: "expected a JSON array of " + what + " ([ … ])"}
	}
	for dec.More() {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// Point at the element, not the separator before it.
			at := min(start, len(data))
			for at < len(data) && bytes.IndexByte([]byte(", \t\r\n"), data[at]) >= 0 {
				at++
			}
			return &FileError{Format: p.f, Line: lc.at(min(at, len(data))), Reason: fmt.Sprintf("not JSON: %v", err)}
		}
		// InputOffset was at the separator: skip to the element itself.
		start += bytes.Index(data[start:], raw)
		if err := fn(lc.at(start), raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return &FileError{Format: p.f, Line: lc.at(int(dec.InputOffset())), Reason: "the array is not closed"}
	}
	return nil
}

// csvHeader is one header a tool writes: its name (for errors) and the
// columns a row needs.
type csvHeader struct {
	name     string
	required []string
}

// csvRecord is one CSV row: its line, exact bytes, fields, and its
// fields by (case-insensitive) column name.
type csvRecord struct {
	line   int
	raw    []byte
	fields []string
	width  int // columns in the header
	col    map[string]int
}

// get is the field of a column, "" when the row is too short for it or
// the header has no such column.
func (r csvRecord) get(name string) string {
	i, ok := r.col[strings.ToLower(name)]
	if !ok || i >= len(r.fields) {
		return ""
	}
	return r.fields[i]
}

// has says whether the row reaches the column.
func (r csvRecord) has(name string) bool {
	i, ok := r.col[strings.ToLower(name)]
	return ok && i < len(r.fields)
}

// csvRows reads a CSV file with a header row (after a UTF-8 byte-order
// mark, which Python's utf-8-sig writes), choosing the first of headers
// whose columns the file has, and calls fn with each record. A record
// whose quotes do not close stops the file: nothing after it can be
// trusted to be where it seems.
func (p *parser) csvRows(data []byte, headers []csvHeader, fn func(variant int, r csvRecord) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return &FileError{Format: p.f, Line: 1, Reason: fmt.Sprintf("no header row: %v", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		if _, dup := col[strings.ToLower(strings.TrimSpace(h))]; !dup {
			col[strings.ToLower(strings.TrimSpace(h))] = i
		}
	}
	variant, best := -1, []string(nil)
	for i, h := range headers {
		var missing []string
		for _, name := range h.required {
			if _, ok := col[strings.ToLower(name)]; !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			variant = i
			break
		}
		if best == nil || len(missing) < len(best) {
			best = missing
		}
	}
	if variant < 0 {
		var names []string
		for _, h := range headers {
			names = append(names, h.name+": "+strings.Join(h.required, ","))
		}
		return &FileError{Format: p.f, Line: 1, Reason: fmt.Sprintf("header lacks %s (it has %s); the headers read are %s",
			strings.Join(best, ", "), clip(strings.Join(header, ",")), strings.Join(names, "; "))}
	}
	for {
		start := int(r.InputOffset())
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return &FileError{Format: p.f, Line: pe.StartLine, Reason: pe.Err.Error()}
		}
		if err != nil {
			return &FileError{Format: p.f, Reason: err.Error()}
		}
		line, _ := r.FieldPos(0) // a record always has a field
		raw := bytes.TrimRight(data[start:int(r.InputOffset())], "\r\n")
		if err := fn(variant, csvRecord{line: line, raw: raw, fields: rec, width: len(header), col: col}); err != nil {
			return err
		}
	}
}

// localTime reads the naive "2006-01-02 15:04:05" the export tools write
// in the exporting machine's zone (Options.Location).
func (p *parser) localTime(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(s), p.opts.Location)
	return t, err == nil
}

// rowErr is a Row that cannot be archived.
func rowErr(line int, raw []byte, msgID, field, format string, a ...any) Row {
	return Row{Line: line, Raw: raw, Err: &RowError{Line: line, MsgID: msgID, Field: field, Reason: fmt.Sprintf(format, a...)}}
}

// sourceType is WeChat's TYPE or TYPE.SUBTYPE.
func sourceType(typ, sub int64) string {
	s := strconv.FormatInt(typ, 10)
	if sub != 0 {
		s += "." + strconv.FormatInt(sub, 10)
	}
	return s
}

// xmlContent reads a message body that WeChat's database stores as XML
// (an image's <img>, a link's <appmsg>, a system notice's <sysmsg>): the
// XML is kept as a detail and its human text — titles, descriptions,
// file names, notices — is the message's text. Anything else is text as
// it is.
func xmlContent(s string, details []archive.Detail) (string, []archive.Detail) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "<") || !strings.HasSuffix(t, ">") {
		return text(s), details
	}
	dec := xml.NewDecoder(strings.NewReader(t))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var parts []string
	var path []string
	for {
		tok, err := dec.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return text(s), details // not XML after all
			}
			break
		}
		switch v := tok.(type) {
		case xml.Directive:
			return text(s), details // no DOCTYPE: keep it as text
		case xml.StartElement:
			path = append(path, v.Name.Local)
		case xml.EndElement:
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		case xml.CharData:
			if len(path) == 0 {
				continue
			}
			switch path[len(path)-1] {
			case "title", "des", "filename", "content", "plain", "template", "replacemsg", "desc", "nickname", "displayname", "revokemsg":
				if v := strings.TrimSpace(string(v)); v != "" && !slices.Contains(parts, v) {
					parts = append(parts, text(v))
				}
			}
		}
		if len(parts) > 50 {
			break
		}
	}
	details = append(details, archive.Detail{Name: "content_xml", Value: text(s)})
	return strings.Join(parts, "\n"), details
}
