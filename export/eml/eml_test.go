package eml

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func writeAll(t *testing.T, units []*export.Unit) *memSink {
	t.Helper()
	sink := newMemSink()
	for _, u := range units {
		pages, err := Format{}.WriteUnit(context.Background(), u, sink, 1)
		if err != nil {
			t.Fatalf("unit %s: %v", u.Name, err)
		}
		if pages != 0 {
			t.Errorf("unit %s: %d pages, want 0", u.Name, pages)
		}
	}
	return sink
}

// The sample's output is fixed byte for byte: any change to it shows up
// as a golden diff to review.
func TestGolden(t *testing.T) {
	sink := writeAll(t, exporttest.Units("WXA").Units)
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range sink.Files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := sink.Names(), []string{"2026-03-02_direct_lina_wmEXTsmith.eml", "2026-03-02_wrSampleGroup01.eml"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", got, want)
	}
	for name, data := range sink.Files {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./export/eml -update)", err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs from its golden file (%d bytes, golden %d); if the change is intended, run with -update and review the diff", name, len(data), len(want))
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := writeAll(t, exporttest.Units("WXA").Units)
	b := writeAll(t, exporttest.Units("WXA").Units)
	for name := range a.Files {
		if !bytes.Equal(a.Files[name], b.Files[name]) {
			t.Errorf("%s: two writes of the same unit differ", name)
		}
	}
}

// Every line is CRLF-terminated and at most 76 characters: headers are
// folded, the text is quoted-printable, attachments base64 in 76-column
// lines.
func TestLines(t *testing.T) {
	for name, data := range writeAll(t, exporttest.Units("WXA").Units).Files {
		lines := bytes.Split(data, []byte("\r\n"))
		if len(lines[len(lines)-1]) != 0 {
			t.Errorf("%s does not end in CRLF", name)
		}
		for i, l := range lines {
			if bytes.IndexByte(l, '\n') >= 0 || bytes.IndexByte(l, '\r') >= 0 {
				t.Errorf("%s line %d: bare CR or LF", name, i+1)
			}
			if len(l) > MaxLineLength {
				t.Errorf("%s line %d: %d characters: %q", name, i+1, len(l), l)
			}
			for _, c := range l {
				if c >= 0x80 {
					t.Errorf("%s line %d: 8-bit byte", name, i+1)
					break
				}
			}
		}
	}
}

type parsed struct {
	header mail.Header
	text   string
	atts   []parsedAtt
}

type parsedAtt struct {
	filename, ctName, mediaType, contentID string
	data                                   []byte
}

// parse reads a message back with go-message, a MIME parser that shares
// no code with the writer.
func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: r.Header}
	texts := 0
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			if ct, params, _ := h.ContentType(); ct != "text/plain" || params["charset"] != "utf-8" {
				t.Errorf("inline part %s %v, want text/plain utf-8", ct, params)
			}
			texts++
			p.text = strings.ReplaceAll(string(body), "\r\n", "\n")
		case *mail.AttachmentHeader:
			fn, err := h.Filename()
			if err != nil {
				t.Errorf("attachment filename: %v", err)
			}
			ct, params, err := h.ContentType()
			if err != nil {
				t.Errorf("attachment content type: %v", err)
			}
			p.atts = append(p.atts, parsedAtt{filename: fn, ctName: params["name"], mediaType: ct, contentID: h.Get("Content-ID"), data: body})
		}
	}
	if texts != 1 {
		t.Errorf("%d text parts, want 1", texts)
	}
	return p
}

func TestParse(t *testing.T) {
	sample := exporttest.Units("WXA")
	sink := writeAll(t, sample.Units)
	for _, u := range sample.Units {
		t.Run(u.Name, func(t *testing.T) {
			data, ok := sink.Files[u.Name+".eml"]
			if !ok {
				t.Fatal("no file")
			}
			p := parse(t, data)

			subject, err := p.header.Subject()
			if err != nil || subject != u.Title+" "+u.Day {
				t.Errorf("subject %q (%v), want %q", subject, err, u.Title+" "+u.Day)
			}
			from, err := p.header.AddressList("From")
			cust := u.Person(u.Custodian)
			if err != nil || len(from) != 1 || from[0].Name != cust.Display() || from[0].Address != cust.ID+"@employee.wxarchive.invalid" {
				t.Errorf("from %v (%v), want %s <%s@employee.wxarchive.invalid>", from, err, cust.Display(), cust.ID)
			}
			to, err := p.header.AddressList("To")
			if err != nil || len(to) != len(u.Participants)-1 {
				t.Errorf("to %v (%v), want %d addresses", to, err, len(u.Participants)-1)
			}
			for _, a := range to {
				found := false
				for _, q := range u.Participants {
					if q.ID != u.Custodian && a.Name == q.Display() && a.Address == PersonAddress(q).Addr {
						found = true
					}
				}
				if !found {
					t.Errorf("to %s <%s> is no participant", a.Name, a.Address)
				}
			}
			date, err := p.header.Date()
			first, _ := Span(u)
			if err != nil || !date.Equal(first) {
				t.Errorf("date %v (%v), want %v", date, err, first)
			}
			if id, err := p.header.MessageID(); err != nil || !strings.HasSuffix(id, "@wxarchive.invalid") || len(id) != 32+len("@wxarchive.invalid") {
				t.Errorf("message-id %q (%v)", id, err)
			}
			if got := p.header.Get("X-WXArchive-Conversation"); got != u.Conversation {
				t.Errorf("X-WXArchive-Conversation %q", got)
			}
			if got := p.header.Get("X-WXArchive-Day"); got != u.Day {
				t.Errorf("X-WXArchive-Day %q", got)
			}

			// Every message's production number and every line of its
			// text are in the transcript.
			for _, m := range u.Messages {
				if !strings.Contains(p.text, "--- "+m.ProductionNumber+" ---") {
					t.Errorf("no block for %s", m.ProductionNumber)
				}
				for _, l := range strings.Split(m.Message.Text, "\n") {
					if !strings.Contains(p.text, l) {
						t.Errorf("%s: text %q not in the transcript", m.ProductionNumber, l)
					}
				}
				for _, d := range m.Message.Details {
					if !strings.Contains(p.text, d.Name+": "+d.Value) {
						t.Errorf("%s: detail %s not in the transcript", m.ProductionNumber, d.Name)
					}
				}
				if !strings.Contains(p.text, m.RawSHA256.String()) {
					t.Errorf("%s: raw hash not in the transcript", m.ProductionNumber)
				}
			}

			// Attachments with bytes are parts with those bytes, named
			// by the source's file name (or the production's copy).
			var want []parsedAtt
			for _, m := range u.Messages {
				for _, a := range m.Attachments {
					if a.HasBytes() {
						want = append(want, parsedAtt{filename: AttachmentFileName(m, a), mediaType: a.MediaType, data: sample.Files[a.Path], contentID: contentID(m, a)})
					}
				}
			}
			if u.ConversationKind == "group" {
				found := false
				for _, a := range p.atts {
					found = found || a.filename == "产品合同.pdf" && bytes.Equal(a.data, exporttest.FileBytes)
				}
				if !found {
					t.Error("no part 产品合同.pdf with the contract's bytes")
				}
			}
			if len(p.atts) != len(want) {
				t.Fatalf("%d attachment parts, want %d", len(p.atts), len(want))
			}
			for i, w := range want {
				g := p.atts[i]
				if g.filename != w.filename || g.ctName != w.filename || g.mediaType != w.mediaType || g.contentID != w.contentID || !bytes.Equal(g.data, w.data) {
					t.Errorf("attachment %d: %q/%q %s %s %d bytes, want %q %s %s %d bytes", i+1, g.filename, g.ctName, g.mediaType, g.contentID, len(g.data),
						w.filename, w.mediaType, w.contentID, len(w.data))
				}
			}
		})
	}
}

// The facts an examiner must not miss, in the transcript's words.
func TestTranscriptFacts(t *testing.T) {
	sample := exporttest.Units("WXA")
	sink := writeAll(t, sample.Units)
	group := parse(t, sink.Files["2026-03-02_wrSampleGroup01.eml"]).text
	direct := parse(t, sink.Files["2026-03-02_direct_lina_wmEXTsmith.eml"]).text
	for _, c := range []struct {
		text, want string
	}{
		{group, "保证收益8%"},
		{group, "Conversation: 财富管理VIP群 2026-03-02 (wrSampleGroup01, group)"},
		{group, "2026-03-02 09:30:00 CST +0800"},
		{group, "张伟 <zhangwei> employee, 财富管理部"},
		{group, "--- WXA0000011 ---\n  [recalled by serial 36]"},
		{group, "Recalls:        serial 33 (WXA0000011)"},
		{group, "Version:        version 2 of serial 3 (WXA0000001)"},
		{group, "王先生 (客户) <wmEXTclient01> external agreed to have the conversation archived"},
		{group, `Kind:           unknown (source type "hongbao_v9")`},
		{group, "产品合同.pdf (file): application/pdf, 38 bytes, SHA-256 "},
		{group, "; fetched; attached as 产品合同.pdf"},
		{group, "attached as WXA0000003_1.png"},
		{group, "(no file name) (video): video/mp4; missing (media expired at the source (errcode 10001)); not in this production"},
		{direct, "John Smith <wmEXTsmith> external refused to have the conversation archived"},
		{direct, "(the source gave no time; this is when the archive captured it)"},
		{direct, "the fund's guaranteed return is 8% <b>not</b> advice & more."},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("transcript lacks %q", c.want)
		}
	}
	if strings.Contains(direct, "[recalled") {
		t.Error("the direct chat has no recalled message")
	}
}

// A slice of a split day has its own subject and Message-ID, and names
// the slice.
func TestSlices(t *testing.T) {
	u1 := exporttest.Units("WXA").Units[0]
	u2 := exporttest.Units("WXA").Units[0]
	u1.Slices, u2.Slices, u2.Slice, u2.Name = 2, 2, 2, u2.Name+"_2"
	sink := writeAll(t, []*export.Unit{u1, u2})
	p1, p2 := parse(t, sink.Files[u1.Name+".eml"]), parse(t, sink.Files[u2.Name+".eml"])
	id1, _ := p1.header.MessageID()
	id2, _ := p2.header.MessageID()
	if id1 == id2 {
		t.Errorf("both slices have Message-ID %s", id1)
	}
	if s, _ := p2.header.Subject(); s != "财富管理VIP群 2026-03-02 (2/2)" {
		t.Errorf("subject %q", s)
	}
	if got := p2.header.Get("X-WXArchive-Slice"); got != "2/2" {
		t.Errorf("X-WXArchive-Slice %q", got)
	}
}

// Bad input is an error naming the message, never a panic or a file.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(u *export.Unit) *export.Unit
		fail  error
		want  string
		wrote bool
	}{
		{name: "nil unit", edit: func(*export.Unit) *export.Unit { return nil }, want: "no unit"},
		{name: "no name", edit: func(u *export.Unit) *export.Unit { u.Name = ""; return u }, want: "file name"},
		{name: "name with a directory", edit: func(u *export.Unit) *export.Unit { u.Name = "../x"; return u }, want: "file name"},
		{name: "no messages", edit: func(u *export.Unit) *export.Unit { u.Messages = nil; return u }, want: "no messages"},
		{name: "nil message", edit: func(u *export.Unit) *export.Unit { u.Messages[2] = nil; return u }, want: "message 3 is nil"},
		{name: "no record", edit: func(u *export.Unit) *export.Unit { u.Messages[3].Message = nil; return u }, want: "serial 12 has no normalized record"},
		{name: "no production number", edit: func(u *export.Unit) *export.Unit { u.Messages[0].ProductionNumber = ""; return u }, want: "serial 3 has no production number"},
		{name: "nil attachment", edit: func(u *export.Unit) *export.Unit { u.Messages[3].Attachments[0] = nil; return u }, want: "serial 12: attachment 1 is nil"},
		{name: "bytes differ from the record", edit: func(u *export.Unit) *export.Unit {
			u.Messages[3].Attachments[0].Open = func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("tampered")), nil
			}
			return u
		}, want: "serial 12: attachment 1: stored bytes", wrote: true},
		{name: "open fails", edit: func(u *export.Unit) *export.Unit {
			u.Messages[4].Attachments[0].Open = func(context.Context) (io.ReadCloser, error) { return nil, errors.New("blob store down") }
			return u
		}, want: "serial 15: attachment 1: blob store down", wrote: true},
		{name: "sink fails", edit: func(u *export.Unit) *export.Unit { return u }, fail: errors.New("disk full"), want: "disk full"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := c.edit(exporttest.Units("WXA").Units[0])
			sink := newMemSink()
			sink.Fail = c.fail
			_, err := Format{}.WriteUnit(context.Background(), u, sink, 1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !c.wrote && len(sink.Files) > 0 {
				t.Errorf("a rejected unit left files %v", sink.Names())
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Format{}).WriteUnit(ctx, exporttest.Units("WXA").Units[0], newMemSink(), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// A unit whose messages all lack a source time is dated by capture time,
// not the zero time.
func TestSpanTimeUnknown(t *testing.T) {
	u := exporttest.Units("WXA").Units[1]
	first, last := Span(u)
	if want := time.Date(2026, 3, 2, 14, 0, 0, 0, exporttest.Location); !first.Equal(want) {
		t.Errorf("first %v, want %v", first, want)
	}
	if want := time.Date(2026, 3, 2, 14, 5, 0, 0, exporttest.Location); !last.Equal(want) {
		t.Errorf("last %v, want %v (the message without a source time is left out)", last, want)
	}
	u.Messages = u.Messages[2:]
	if first, _ := Span(u); first.IsZero() {
		t.Error("only messages without a source time: zero span")
	}
}
