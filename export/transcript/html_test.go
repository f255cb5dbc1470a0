package transcript

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func writeHTML(t *testing.T) (*exporttest.Sample, *memSink) {
	t.Helper()
	s := exporttest.Units("WXA")
	sink := newMemSink()
	for _, u := range s.Units {
		pages, err := HTML{}.WriteUnit(context.Background(), u, sink, 1)
		if err != nil {
			t.Fatal(err)
		}
		if pages != 0 {
			t.Errorf("%s: pages %d, want 0 for html", u.Name, pages)
		}
	}
	return s, sink
}

func TestHTMLGolden(t *testing.T) {
	s, sink := writeHTML(t)
	if len(sink.Files) != len(s.Units) {
		t.Fatalf("files %v, want one per unit", sink.Names())
	}
	for _, name := range sink.Names() {
		got := sink.Files[name]
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestHTMLGolden -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -run TestHTMLGolden -update, then review the diff)", name, golden)
		}
	}
	// Deterministic: a second write gives the same bytes.
	_, again := writeHTML(t)
	for name, b := range sink.Files {
		if !bytes.Equal(b, again.Files[name]) {
			t.Errorf("%s: two writes differ", name)
		}
	}
}

// node helpers over golang.org/x/net/html.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, c string) bool {
	for _, f := range strings.Fields(attr(n, "class")) {
		if f == c {
			return true
		}
	}
	return false
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func TestHTMLContent(t *testing.T) {
	s, sink := writeHTML(t)
	docs := map[string]*html.Node{}
	for _, u := range s.Units {
		b := sink.Files[u.Name+".html"]
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		docs[u.Name] = doc
		var lang string
		walk(doc, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "html" {
				lang = attr(n, "lang")
			}
			if n.Type == html.ElementNode && (n.Data == "script" || (n.Data == "link" && attr(n, "rel") == "stylesheet")) {
				t.Errorf("%s: external asset or script <%s>", u.Name, n.Data)
			}
		})
		if lang == "" {
			t.Errorf("%s: no lang attribute", u.Name)
		}
		// Every message is on the page, anchored by its production number,
		// and its text is there as text.
		for _, m := range u.Messages {
			n := byID(doc, m.ProductionNumber)
			if n == nil {
				t.Errorf("%s: no element with id %s", u.Name, m.ProductionNumber)
				continue
			}
			for _, line := range strings.Split(m.Message.Text, "\n") {
				if !strings.Contains(textOf(n), line) {
					t.Errorf("%s: %s lacks its text %q", u.Name, m.ProductionNumber, line)
				}
			}
		}
		foot := textOf(doc)
		first, last := u.Messages[0].ProductionNumber, u.Messages[len(u.Messages)-1].ProductionNumber
		if !strings.Contains(foot, "Production numbers "+first+" – "+last) {
			t.Errorf("%s: footer lacks the span %s – %s", u.Name, first, last)
		}
	}

	group, direct := s.Units[0], s.Units[1]
	gdoc, ddoc := docs[group.Name], docs[direct.Name]
	gtext := textOf(gdoc)
	for _, want := range []string{"财富管理VIP群", "保证收益", "产品合同.pdf", "张伟", "财富管理部", "王先生 (客户)",
		"wrSampleGroup01", "群聊 Group chat", "2026-03-02", "UTC+08:00"} {
		if !strings.Contains(gtext, want) {
			t.Errorf("group page lacks %q", want)
		}
	}

	// Escaping: the markup in a message is text, not elements.
	rawDirect := string(sink.Files[direct.Name+".html"])
	if strings.Contains(rawDirect, "<b>not</b>") {
		t.Error("message markup <b>not</b> written unescaped")
	}
	m1 := byID(ddoc, direct.Messages[0].ProductionNumber)
	if !strings.Contains(textOf(m1), "8% <b>not</b> advice & more.") {
		t.Errorf("escaped text not read back: %q", textOf(m1))
	}
	walk(m1, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "b" {
			t.Error("message text became a <b> element")
		}
	})

	// Images: src is RootFromUnit + Path; other attachments are links.
	var imgs []string
	walk(gdoc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "img" {
			imgs = append(imgs, attr(n, "src"))
		}
	})
	var wantImgs, wantLinks []string
	for _, m := range group.Messages {
		for _, a := range m.Attachments {
			if a.HasBytes() && strings.HasPrefix(a.MediaType, "image/") {
				wantImgs = append(wantImgs, export.RootFromUnit+a.Path)
			} else if a.HasBytes() {
				wantLinks = append(wantLinks, export.RootFromUnit+a.Path)
			}
		}
	}
	if len(wantImgs) == 0 || strings.Join(imgs, "|") != strings.Join(wantImgs, "|") {
		t.Errorf("img src %q, want %q", imgs, wantImgs)
	}
	for _, l := range wantLinks {
		found := false
		walk(gdoc, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "a" && attr(n, "href") == l {
				found = true
			}
		})
		if !found {
			t.Errorf("no link to %s", l)
		}
	}
	// The file's hash and the missing video's reason are printed.
	file := byID(gdoc, group.Messages[3].ProductionNumber)
	if h := group.Messages[3].Attachments[0].Blob.String(); !strings.Contains(textOf(file), h) {
		t.Errorf("file message lacks SHA-256 %s", h)
	}
	video := byID(gdoc, group.Messages[5].ProductionNumber)
	if vt := textOf(video); !strings.Contains(vt, "Missing") || !strings.Contains(vt, "media expired at the source") {
		t.Errorf("missing attachment not explained: %q", vt)
	}

	// The recalled message is marked, and the recall names it.
	var recalled, recall *export.Message
	for _, m := range group.Messages {
		if m.RecalledBy != 0 {
			recalled = m
		}
		if m.RefersToSerial != 0 {
			recall = m
		}
	}
	rn := byID(gdoc, recalled.ProductionNumber)
	if !hasClass(rn, "recalled") {
		t.Error("recalled message lacks class recalled")
	}
	if rt := textOf(rn); !strings.Contains(rt, "Recalled by serial") || !strings.Contains(rt, recall.ProductionNumber) {
		t.Errorf("recalled message badge: %q", rt)
	}
	if rt := textOf(byID(gdoc, recall.ProductionNumber)); !strings.Contains(rt, "recalled the message serial") || !strings.Contains(rt, recalled.ProductionNumber) {
		t.Errorf("recall event does not name the message: %q", rt)
	}
	// The second version says so.
	v2 := group.Messages[len(group.Messages)-1]
	if vt := textOf(byID(gdoc, v2.ProductionNumber)); !strings.Contains(vt, "version 2, conflicts with serial") || !strings.Contains(vt, group.Messages[0].ProductionNumber) {
		t.Errorf("version 2 not marked: %q", vt)
	}
	// Consent events are system events.
	for _, c := range []struct {
		doc  *html.Node
		u    *export.Unit
		want string
	}{{gdoc, group, "agreed to the archiving"}, {ddoc, direct, "refused the archiving"}} {
		found := false
		walk(c.doc, func(n *html.Node) {
			if n.Type == html.ElementNode && hasClass(n, "system") && strings.Contains(textOf(n), c.want) {
				found = true
			}
		})
		if !found {
			t.Errorf("%s: no system event %q", c.u.Name, c.want)
		}
	}
	// Unknown kinds show their source type; unknown times are flagged.
	if !strings.Contains(gtext, "source type: hongbao_v9") || !strings.Contains(gtext, `{"hongbao_v9":{"x":1}}`) {
		t.Error("unknown kind lacks its source type or details")
	}
	if !strings.Contains(textOf(ddoc), "Time unknown") {
		t.Error("time_unknown not flagged")
	}
	// Employees and external contacts sit on different sides.
	if !hasClass(byID(gdoc, group.Messages[0].ProductionNumber), "employee") || !hasClass(byID(gdoc, group.Messages[1].ProductionNumber), "external") {
		t.Error("sides not marked")
	}
}
