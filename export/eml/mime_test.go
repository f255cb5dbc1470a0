package eml

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/mail"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

func TestFold(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, c := range []struct {
		name, value string
	}{
		{"Subject", "short"},
		{"Subject", long},
		{"To", FormatAddresses([]Address{{"张伟", "a@b"}, {"李娜", "c@d"}, {"John Smith", "e@f"}, {"王先生 (客户)", "g@h"}})},
		{"X-WXArchive-Conversation", EncodeText(strings.Repeat("财富管理VIP群", 20))},
		{"Subject", "a  b"}, // double space kept
	} {
		f := Fold(c.name, c.value)
		for i, l := range strings.Split(f, "\r\n") {
			if len(l) > MaxLineLength {
				t.Errorf("%s line %d: %d characters", c.name, i+1, len(l))
			}
			if i > 0 && (l == "" || strings.TrimSpace(l) == "" || l[0] != ' ') {
				t.Errorf("%s line %d: %q is not a continuation", c.name, i+1, l)
			}
		}
		// Unfolding (RFC 5322 §2.2.3: remove the CRLFs) gives the value.
		if got := strings.ReplaceAll(f, "\r\n", ""); got != c.name+": "+c.value {
			t.Errorf("%s: unfolds to %q", c.name, got)
		}
	}
}

func TestEncodeText(t *testing.T) {
	dec := new(mime.WordDecoder)
	for _, c := range []struct {
		in, want string
		encoded  bool
	}{
		{"plain ascii", "plain ascii", false},
		{"财富管理VIP群 2026-03-02", "财富管理VIP群 2026-03-02", true},
		{"looks =?like?= a word", "looks =?like?= a word", true},
		{"line\r\nbreak", "line  break", false},
		{strings.Repeat("长", 100), strings.Repeat("长", 100), true},
		{"bad \xff utf8", "bad \uFFFD utf8", true},
	} {
		enc := EncodeText(c.in)
		if (enc != c.in) != c.encoded && !strings.ContainsAny(c.in, "\r\n") {
			t.Errorf("%q: encoded %v, want %v", c.in, enc != c.in, c.encoded)
		}
		for _, w := range strings.Fields(enc) {
			if strings.HasPrefix(w, "=?") && len(w) > 75 {
				t.Errorf("%q: encoded-word of %d characters", c.in, len(w))
			}
		}
		got, err := dec.DecodeHeader(enc)
		if err != nil || got != c.want {
			t.Errorf("%q: decodes to %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

func TestAddress(t *testing.T) {
	for _, c := range []struct {
		p        export.Person
		name, to string
	}{
		{export.Person{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟"}, "张伟", "zhangwei@employee.wxarchive.invalid"},
		{export.Person{ID: "wmEXT", Kind: archive.ParticipantExternal, Name: `John "JJ" Smith, Jr.`}, `John "JJ" Smith, Jr.`, "wmEXT@external.wxarchive.invalid"},
		{export.Person{ID: "wmEXTnoname", Kind: archive.ParticipantExternal}, "wmEXTnoname", "wmEXTnoname@external.wxarchive.invalid"},
		{export.Person{ID: "robot1", Kind: archive.ParticipantBot, Name: "Bot"}, "Bot", "robot1@bot.wxarchive.invalid"},
		{export.Person{ID: "who", Name: "X"}, "X", "who@participant.wxarchive.invalid"},
		// Not a dot-atom: a hashed local part, still a valid address.
		{export.Person{ID: "张 伟@x", Kind: archive.ParticipantEmployee, Name: "Z"}, "Z", LocalPart("张 伟@x") + "@employee.wxarchive.invalid"},
		{export.Person{ID: "a..b", Kind: archive.ParticipantEmployee, Name: "A"}, "A", LocalPart("a..b") + "@employee.wxarchive.invalid"},
	} {
		s := PersonAddress(c.p).String()
		a, err := (&mail.AddressParser{WordDecoder: new(mime.WordDecoder)}).Parse(s)
		if err != nil || a.Name != c.name || a.Address != c.to {
			t.Errorf("%s: %q parses to %v (%v), want %q <%s>", c.p.ID, s, a, err, c.name, c.to)
		}
	}
	if l := LocalPart("张 伟@x"); !strings.HasPrefix(l, "h-") || len(l) != 26 || l != LocalPart("张 伟@x") {
		t.Errorf("hashed local part %q", l)
	}
	if got := FormatAddresses(nil); got != "undisclosed-recipients:;" {
		t.Errorf("empty list %q", got)
	}
}

// File names survive the round trip through Content-Disposition and
// Content-Type as the standard library reads them, long ones through RFC
// 2231 continuations.
func TestAttachmentHeader(t *testing.T) {
	dec := new(mime.WordDecoder)
	for _, name := range []string{
		"产品合同.pdf",
		"plain.txt",
		`quote"and\back.txt`,
		strings.Repeat("很长的文件名", 12) + ".docx",
		"mixed 名 %41.txt",
	} {
		h := AttachmentHeader("application/pdf", name, "<x@y>")
		_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
		if err != nil || params["filename"] != name {
			t.Errorf("%q: Content-Disposition %q gives %q (%v)", name, h.Get("Content-Disposition"), params["filename"], err)
		}
		ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil || ct != "application/pdf" {
			t.Errorf("%q: Content-Type %q (%v)", name, h.Get("Content-Type"), err)
			continue
		}
		if got, err := dec.DecodeHeader(params["name"]); err != nil || got != name {
			t.Errorf("%q: name %q decodes to %q (%v)", name, params["name"], got, err)
		}
		var b bytes.Buffer
		if _, err := h.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
			if len(l) > MaxLineLength {
				t.Errorf("%q: header line of %d characters: %q", name, len(l), l)
			}
		}
	}
	for _, c := range []struct{ in, want string }{
		{"image/png", "image/png"},
		{"", "application/octet-stream"},
		{"text/plain; charset=gbk", "application/octet-stream"},
		{"garbage", "application/octet-stream"},
		{"x\r\ny/z", "application/octet-stream"},
	} {
		if got := MediaType(c.in); got != c.want {
			t.Errorf("MediaType(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBase64Writer(t *testing.T) {
	for _, n := range []int{0, 1, 56, 57, 58, 1000} {
		data := bytes.Repeat([]byte{0xfe, 'a', 0x00}, n)[:n]
		var b bytes.Buffer
		w := NewBase64Writer(&b)
		// Odd-sized writes: line breaks must not depend on them.
		for i := 0; i < len(data); i += 7 {
			w.Write(data[i:min(i+7, len(data))])
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if n > 0 && !strings.HasSuffix(out, "\r\n") {
			t.Errorf("%d bytes: no final CRLF", n)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > MaxLineLength || (i < len(lines)-1 && len(l) != MaxLineLength) {
				t.Errorf("%d bytes: line %d has %d characters", n, i+1, len(l))
			}
		}
		got, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(out, "\r\n", ""))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: round trip failed (%v)", n, err)
		}
	}
}

func TestHeaderRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "Bad Name", "Colon:", "Ü"} {
		h := &Header{}
		h.Add(name, "v")
		if _, err := h.WriteTo(new(bytes.Buffer)); err == nil {
			t.Errorf("field name %q accepted", name)
		}
	}
	h := &Header{}
	h.Add("X-Test", "a\r\nInjected: yes")
	var b bytes.Buffer
	h.WriteTo(&b)
	if strings.Contains(b.String(), "\r\nInjected") {
		t.Errorf("a CRLF in a value started a field: %q", b.String())
	}
}

func TestBoundaryAndMessageID(t *testing.T) {
	if Boundary("a", "b") != Boundary("a", "b") || Boundary("a", "b") == Boundary("ab") {
		t.Error("boundary is not a function of its separated seed")
	}
	if id := MessageID("eml", "c", "1"); id != MessageID("eml", "c", "1") || id == MessageID("eml", "c", "2") || !strings.HasSuffix(id, "@wxarchive.invalid>") {
		t.Errorf("message id %s", id)
	}
}
