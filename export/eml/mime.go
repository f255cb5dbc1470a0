package eml

// A small MIME writer: ordered header fields folded at 76 columns, RFC 2047
// encoded-words for non-ASCII text, RFC 2231 parameters for non-ASCII file
// names, multipart bodies with boundaries derived from a hash, and a base64
// encoder with 76-character lines. The standard library has pieces of this
// (mime.BEncoding, mime.FormatMediaType, mime/multipart) but none of them
// folds long encoded headers, and mime/multipart draws random boundaries;
// a production must be byte-for-byte reproducible, so every choice here is
// a function of its input. The RSMF format writes its envelope with it.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxLineLength is where header fields are folded and base64 lines end
// (RFC 2045 §6.8, RFC 2047 §2).
const MaxLineLength = 76

// wordBytes is the most UTF-8 bytes one encoded-word carries: 27 bytes are
// 36 base64 characters, a 48-character word, so a word still fits a line
// after the longest header name we write ("X-WXArchive-Conversation: ").
const wordBytes = 27

// Field is one header field. Value is unfolded, ASCII and already encoded
// (encoded-words, quoted strings, parameters): what goes after "Name: ".
type Field struct {
	Name, Value string
}

// Header is an ordered list of header fields; the order is the order of
// Add calls, so the output does not depend on map iteration.
type Header struct {
	Fields []Field
}

// Add appends a structured field whose value the caller has already
// encoded (addresses from FormatAddresses, a media type, a date). Control
// characters are replaced by spaces, so a value can never end the header
// early or inject a field.
func (h *Header) Add(name, value string) {
	h.Fields = append(h.Fields, Field{Name: name, Value: scrub(value)})
}

// AddText appends an unstructured field (Subject, an X- field) holding
// arbitrary text: ASCII text is written as is, anything else as RFC 2047
// encoded-words in UTF-8.
func (h *Header) AddText(name, text string) {
	h.Fields = append(h.Fields, Field{Name: name, Value: EncodeText(text)})
}

// Get returns the (encoded) value of the first field named name,
// case-insensitively, or "".
func (h *Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// WriteTo writes the fields, folded, each ending in CRLF; the blank line
// that ends a header is the caller's (Multipart.CreatePart and WriteHeader
// write it).
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, f := range h.Fields {
		if !validName(f.Name) {
			return 0, fmt.Errorf("eml: invalid header field name %q", f.Name)
		}
		b.WriteString(Fold(f.Name, f.Value))
		b.WriteString("\r\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// WriteHeader writes h and the blank line that separates it from a body.
func WriteHeader(w io.Writer, h *Header) error {
	if _, err := h.WriteTo(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\r\n")
	return err
}

// validName: RFC 5322 field names are printable ASCII without a colon.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// scrub replaces control characters (CR and LF above all) by spaces.
func scrub(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Fold returns "Name: value" folded at spaces so that no line is longer
// than MaxLineLength where a space allows it, with CRLF SP between lines
// (RFC 5322 §2.2.3) and no trailing CRLF. A run without spaces longer than
// a line stays whole: it is legal up to 998 characters, and EncodeText
// never makes one.
func Fold(name, value string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(':')
	lineLen := len(name) + 1
	content := false // the line holds something a fold may follow
	for _, tok := range strings.Split(value, " ") {
		piece := 1 + len(tok)
		if content && tok != "" && lineLen+piece > MaxLineLength {
			b.WriteString("\r\n")
			lineLen, content = 0, false
		}
		b.WriteByte(' ')
		b.WriteString(tok)
		lineLen += piece
		if tok != "" {
			content = true
		}
	}
	return b.String()
}

// EncodeText encodes unstructured text for a header: control characters
// become spaces; text that is ASCII, has no "=?" (which a reader would
// take for an encoded-word) and no unfoldable run is returned as is;
// anything else becomes UTF-8 "B" encoded-words of at most wordBytes
// bytes, split at rune boundaries and separated by spaces, which readers
// drop between encoded-words (RFC 2047 §6.2).
func EncodeText(text string) string {
	text = scrub(text)
	if !needsEncoding(text) {
		return text
	}
	return strings.Join(EncodeWords(text), " ")
}

func needsEncoding(s string) bool {
	if strings.Contains(s, "=?") {
		return true
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return true
		}
		if c == ' ' {
			run = 0
			continue
		}
		// A run that could not be folded under the line limit is
		// encoded, and so split into words.
		if run++; run > MaxLineLength-30 {
			return true
		}
	}
	return false
}

// EncodeWords splits s into RFC 2047 encoded-words ("=?UTF-8?B?…?=") of
// at most wordBytes bytes each, never splitting a character (§5: each word
// must decode on its own). Invalid UTF-8 becomes U+FFFD first.
func EncodeWords(s string) []string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > wordBytes {
				break
			}
			n += size
		}
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return words
}

// Address is a mailbox: a display name and an addr-spec.
type Address struct {
	Name string
	Addr string
}

// String formats the mailbox: `"Name" <addr>` for an ASCII name (always
// quoted, so specials in it need no thought), encoded-words (which RFC
// 2047 §5 forbids inside quotes) for any other, `<addr>` without a name.
func (a Address) String() string {
	name := scrub(a.Name)
	switch {
	case name == "":
		return "<" + a.Addr + ">"
	case needsEncoding(name):
		return strings.Join(EncodeWords(name), " ") + " <" + a.Addr + ">"
	}
	return quote(name) + " <" + a.Addr + ">"
}

// FormatAddresses joins mailboxes for an address-list field. An empty
// list is the empty group "undisclosed-recipients:;", since To may not be
// empty.
func FormatAddresses(addrs []Address) string {
	if len(addrs) == 0 {
		return "undisclosed-recipients:;"
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// quote makes an RFC 5322 quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// FormatDate is the RFC 5322 date-time of t in its own zone.
func FormatDate(t time.Time) string { return t.Format(time.RFC1123Z) }

// Boundary derives a multipart boundary from seed (the unit and the part's
// place in it), so the same unit gives the same bytes. "=_" cannot occur
// in base64 or quoted-printable output ("=" there is padding or starts a
// hex pair or soft break), so no encoded body contains the boundary.
func Boundary(seed ...string) string {
	h := sha256.New()
	for _, s := range seed {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "=_wxa_" + hex.EncodeToString(h.Sum(nil))[:40]
}

// MessageID derives a msg-id (with angle brackets) from seed:
// <first 32 hex digits of SHA-256@wxarchive.invalid>.
func MessageID(seed ...string) string {
	h := sha256.New()
	for _, s := range seed {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "<" + hex.EncodeToString(h.Sum(nil))[:32] + "@" + Domain + ">"
}

// Domain is the reserved domain (RFC 2606 .invalid) under which message
// ids and participant addresses are made: nothing in a production can be
// mistaken for a deliverable address.
const Domain = "wxarchive.invalid"

// Multipart writes the parts of a multipart body.
type Multipart struct {
	w        io.Writer
	boundary string
	parts    int
	closed   bool
}

// NewMultipart writes parts to w, delimited by boundary.
func NewMultipart(w io.Writer, boundary string) *Multipart {
	return &Multipart{w: w, boundary: boundary}
}

// ContentType is the Content-Type value for the body, e.g.
// `multipart/mixed; boundary="=_wxa_…"` for subtype "mixed". The boundary
// is quoted: "=" is a tspecial.
func (m *Multipart) ContentType(subtype string) string {
	return "multipart/" + subtype + `; boundary="` + m.boundary + `"`
}

// CreatePart starts a part with header h and returns where its (already
// encoded) body goes; the body ends where the next part or Close begins.
func (m *Multipart) CreatePart(h *Header) (io.Writer, error) {
	if m.closed {
		return nil, errors.New("eml: part after the multipart's close")
	}
	delim := "\r\n--" + m.boundary + "\r\n"
	if m.parts == 0 {
		// The first delimiter starts the body: its CRLF is the blank
		// line that ended the enclosing header.
		delim = delim[2:]
	}
	m.parts++
	if _, err := io.WriteString(m.w, delim); err != nil {
		return nil, err
	}
	if err := WriteHeader(m.w, h); err != nil {
		return nil, err
	}
	return m.w, nil
}

// Close writes the closing delimiter.
func (m *Multipart) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	if m.parts == 0 {
		return errors.New("eml: a multipart needs at least one part")
	}
	_, err := io.WriteString(m.w, "\r\n--"+m.boundary+"--\r\n")
	return err
}

// NewBase64Writer returns a writer that base64-encodes into w in lines of
// MaxLineLength characters ending in CRLF (RFC 2045 §6.8). Close flushes
// the last line; it does not close w.
func NewBase64Writer(w io.Writer) io.WriteCloser {
	lw := &lineWriter{w: w}
	return &base64Writer{enc: base64.NewEncoder(base64.StdEncoding, lw), lw: lw}
}

type base64Writer struct {
	enc io.WriteCloser
	lw  *lineWriter
}

func (b *base64Writer) Write(p []byte) (int, error) { return b.enc.Write(p) }

func (b *base64Writer) Close() error {
	if err := b.enc.Close(); err != nil {
		return err
	}
	if b.lw.col > 0 {
		b.lw.col = 0
		_, err := io.WriteString(b.lw.w, "\r\n")
		return err
	}
	return nil
}

// lineWriter breaks a stream without line ends into CRLF-terminated lines.
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(MaxLineLength-l.col, len(p))
		if _, err := l.w.Write(p[:n]); err != nil {
			return written, err
		}
		written += n
		l.col += n
		p = p[n:]
		if l.col == MaxLineLength {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return written, err
			}
			l.col = 0
		}
	}
	return written, nil
}

// MediaType returns mt when it parses as a media type without parameters
// (the archive sniffs types from bytes, so this is the usual case), else
// application/octet-stream: a part's Content-Type must never be broken by
// what a source wrote.
func MediaType(mt string) string {
	t, params, err := mime.ParseMediaType(mt)
	if err != nil || len(params) > 0 || !strings.Contains(t, "/") {
		return "application/octet-stream"
	}
	return t
}

// AttachmentHeader is the header of an attachment part carrying base64
// bytes: Content-Type with a name parameter (RFC 2047 encoded-words inside
// the quotes for a non-ASCII name, which RFC 2047 does not bless but
// mail readers without RFC 2231 support expect), Content-Disposition
// attachment with the file name in RFC 2231 form when it is not ASCII,
// Content-Transfer-Encoding base64 and, when contentID is not "",
// Content-ID (with its angle brackets).
func AttachmentHeader(mediaType, filename, contentID string) *Header {
	filename = scrub(filename)
	h := &Header{}
	var name, disp string
	if needsEncoding(filename) {
		name = `"` + strings.Join(EncodeWords(filename), " ") + `"`
		disp = rfc2231("filename", filename)
	} else {
		name = quote(filename)
		disp = "filename=" + quote(filename)
	}
	h.Add("Content-Type", MediaType(mediaType)+"; name="+name)
	h.Add("Content-Disposition", "attachment; "+disp)
	h.Add("Content-Transfer-Encoding", "base64")
	if contentID != "" {
		h.Add("Content-ID", contentID)
	}
	return h
}

// rfc2231 encodes a parameter as UTF-8 percent-encoding (RFC 2231 §4),
// split into numbered continuations (§3) of at most 45 encoded characters
// so that every segment fits a folded line, never splitting a %XX
// triplet.
func rfc2231(param, value string) string {
	value = strings.ToValidUTF8(value, "\uFFFD")
	var enc strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if isAttrChar(c) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	s := enc.String()
	const chunk = 45
	if len(s) <= 56 { // " filename*=UTF-8''" and 56 characters: 74
		return param + "*=UTF-8''" + s
	}
	var parts []string
	for n := 0; len(s) > 0; n++ {
		k := min(chunk, len(s))
		// Back off so a %XX triplet is not cut.
		if i := strings.LastIndexByte(s[max(0, k-2):k], '%'); i >= 0 {
			k = max(0, k-2) + i
		}
		prefix := ""
		if n == 0 {
			prefix = "UTF-8''"
		}
		parts = append(parts, fmt.Sprintf("%s*%d*=%s%s", param, n, prefix, s[:k]))
		s = s[k:]
	}
	return strings.Join(parts, "; ")
}

// isAttrChar: RFC 2231 attribute-char, without the characters Go's and
// other parsers are known to stumble on (').
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
