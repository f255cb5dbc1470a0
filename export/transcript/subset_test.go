package transcript

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

// TestSubset: the cut-down face draws each kept rune with the very
// outline and advance of the full face, and holds nothing else.
func TestSubset(t *testing.T) {
	needFont(t)
	f, _ := findFont("")
	if f.sub == nil {
		t.Fatalf("%s: no subsetter", f.path)
	}
	runes := []rune("中文 Hello, 保证收益 8%（不保证）。→–·[U+1F600]")
	ttf, err := f.sub.subset(f, runes)
	if err != nil {
		t.Fatal(err)
	}
	full, err := sfnt.Parse(f.ttf)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := sfnt.Parse(ttf)
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	// .notdef, a glyph per distinct rune (a glyph two runes share is
	// copied, so glyph k is the k-th rune's), and the components
	// composites use (WenQuanYi builds many hanzi from components, e.g.
	// 保 and 证), nothing else.
	kept := map[int]bool{0: true}
	count := 1
	var queue []int
	distinct := map[rune]bool{}
	for _, r := range runes {
		if !f.has(r) || distinct[r] {
			continue
		}
		distinct[r] = true
		g := int(f.gid[r])
		kept[g] = true
		queue = append(queue, g)
		count++
	}
	composites := 0
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		data, _ := f.sub.glyph(g)
		components(data, func(at int) {
			composites++
			if c := int(binary.BigEndian.Uint16(data[at:])); !kept[c] {
				kept[c] = true
				queue = append(queue, c)
				count++
			}
		})
	}
	if sub.NumGlyphs() != count {
		t.Errorf("subset has %d glyphs, want %d", sub.NumGlyphs(), count)
	}
	if composites == 0 {
		t.Log("no composite glyphs among the test runes: component renumbering untested with this font")
	}
	var b1, b2 sfnt.Buffer
	ppem := fixed.I(1000)
	for _, r := range runes {
		g1, _ := full.GlyphIndex(&b1, r)
		g2, err := sub.GlyphIndex(&b2, r)
		if err != nil || (g1 != 0) != (g2 != 0) {
			t.Errorf("%q: glyph %d in the face, %d (%v) in the subset", r, g1, g2, err)
			continue
		}
		if g1 == 0 {
			continue
		}
		a1, _ := full.GlyphAdvance(&b1, g1, ppem, font.HintingNone)
		a2, _ := sub.GlyphAdvance(&b2, g2, ppem, font.HintingNone)
		if a1 != a2 {
			t.Errorf("%q: advance %v, subset %v", r, a1, a2)
		}
		s1, err1 := full.LoadGlyph(&b1, g1, ppem, nil)
		s1 = append(sfnt.Segments(nil), s1...)
		s2, err2 := sub.LoadGlyph(&b2, g2, ppem, nil)
		if err1 != nil || err2 != nil || len(s1) != len(s2) {
			t.Errorf("%q: outline %d segments (%v), subset %d (%v)", r, len(s1), err1, len(s2), err2)
			continue
		}
		for i := range s1 {
			if s1[i] != s2[i] {
				t.Errorf("%q: outline differs at segment %d", r, i)
				break
			}
		}
	}
	// Glyph k draws the k-th distinct rune in ascending order (the PDF's
	// CIDs index the glyphs directly).
	sorted := make([]rune, 0, len(distinct))
	for r := range distinct {
		sorted = append(sorted, r)
	}
	slices.Sort(sorted)
	for k, r := range sorted {
		if g, err := sub.GlyphIndex(&b2, r); err != nil || int(g) != k+1 {
			t.Errorf("%q: glyph %d (%v) in the subset, want %d", r, g, err, k+1)
		}
	}
	// A rune not kept is not in the subset.
	if g, _ := sub.GlyphIndex(&b2, '国'); g != 0 {
		t.Error("国 is in a subset that did not ask for it")
	}
	if checksum(ttf) != 0xB1B0AFBA {
		t.Errorf("subset whole-file checksum %#x", checksum(ttf))
	}
	// Each table's checksum in the directory is its own (head's with
	// checkSumAdjustment zero).
	for i := 0; i < int(binary.BigEndian.Uint16(ttf[4:])); i++ {
		r := ttf[12+16*i:]
		tag, sum := string(r[:4]), binary.BigEndian.Uint32(r[4:])
		off, length := binary.BigEndian.Uint32(r[8:]), binary.BigEndian.Uint32(r[12:])
		data := append([]byte(nil), ttf[off:off+length]...)
		if tag == "head" {
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		if checksum(data) != sum {
			t.Errorf("table %q: directory checksum %#x, table's %#x", tag, sum, checksum(data))
		}
	}
}

// TestPDFConcurrent: one PDF value writes units from several goroutines
// (the font is shared) and each gives the bytes it gives alone.
func TestPDFConcurrent(t *testing.T) {
	needFont(t)
	p := &PDF{}
	want := map[string][]byte{}
	for _, u := range exporttest.Units("WXA").Units {
		s := newMemSink()
		if _, err := (&PDF{}).WriteUnit(context.Background(), u, s, 1); err != nil {
			t.Fatal(err)
		}
		want[u.Name] = s.Files[u.Name+".pdf"]
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, u := range exporttest.Units("WXA").Units {
				s := newMemSink()
				_, err := p.WriteUnit(context.Background(), u, s, 1)
				mu.Lock()
				if err != nil {
					t.Error(err)
				} else if !bytes.Equal(s.Files[u.Name+".pdf"], want[u.Name]) {
					t.Errorf("%s: concurrent write differs", u.Name)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestHostileUnits: units missing what a unit should have are printed,
// never a panic.
func TestHostileUnits(t *testing.T) {
	needFont(t)
	s := exporttest.Units("WXA")
	g := s.Units[0]
	g.Location = nil
	g.Messages = append(g.Messages, nil, &export.Message{Serial: 999, ProductionNumber: "WXA9999999"},
		&export.Message{Serial: 1000, ProductionNumber: "WXA9999998", Message: &archive.Message{Kind: "brand_new"},
			Attachments: []*export.Attachment{nil, {Role: "image", MediaType: "image/png", Path: "VOL001/NATIVES/x.png"}}})
	empty := &export.Unit{Name: "empty"}
	for _, u := range []*export.Unit{g, empty} {
		for _, f := range []export.Format{HTML{}, &PDF{}} {
			if _, err := f.WriteUnit(context.Background(), u, newMemSink(), 1); err != nil {
				t.Errorf("%s %s: %v", f.Name(), u.Name, err)
			}
		}
	}
	for _, f := range []export.Format{HTML{}, &PDF{}} {
		if _, err := f.WriteUnit(context.Background(), &export.Unit{}, newMemSink(), 1); err == nil {
			t.Errorf("%s: a unit without a name was written", f.Name())
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.WriteUnit(ctx, g, newMemSink(), 1); err == nil {
			t.Errorf("%s: cancelled context ignored", f.Name())
		}
	}
}

// TestPDFWholeFace: a face the subsetter cannot cut is embedded whole
// (CIDs mapped to its glyphs by a CIDToGIDMap), and its text reads back.
func TestPDFWholeFace(t *testing.T) {
	needFont(t)
	needTool(t, "pdftotext")
	f, err := findFont("")
	if err != nil {
		t.Fatal(err)
	}
	f.sub, f.coder = nil, nil
	p := &PDF{}
	p.once.Do(func() { p.font = f })
	dir := t.TempDir()
	paths, _ := writePDFs(t, p, exporttest.Units("WXA").Units[1:], dir)
	text := run(t, "pdftotext", "-enc", "UTF-8", paths[0], "-")
	for _, want := range []string{"John Smith", "Page 1 of 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if st, err := os.Stat(paths[0]); err != nil || st.Size() < 1<<20 {
		t.Errorf("whole face: %v, %v", st, err)
	}
}
