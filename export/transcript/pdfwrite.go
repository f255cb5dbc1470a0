package transcript

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// The PDF file itself is written here rather than by a general PDF
// library. What a transcript draws is small and fixed — text in one
// embedded CID font, filled and stroked rectangles, lines, images — and a
// general library redoes, for every document, work that depends only on
// the font: codeberg.org/go-pdf/fpdf (used before) parsed the face
// again, marshalled its 65,536-entry width table to JSON to name it,
// subset it a second time and compressed it and a 128 KiB CIDToGIDMap:
// most of the 5 ms of CPU a one-page unit took. Here the font's metrics
// are read once (loadFont) and a document costs its own subset, its
// content streams and their compression.
//
// The file is PDF 1.4: a catalog, a page tree, an info dictionary, one
// Type0 font (Identity-H, a CIDFontType2 descendant whose CIDs are the
// glyph ids of the embedded subset, CIDToGIDMap /Identity, widths for the
// glyphs used, a ToUnicode CMap so the text can be searched and
// extracted), image XObjects, and a content stream per page; every stream
// but JPEG data is Flate-compressed. The bytes depend only on the unit.

// Compression. Content streams and image pixels (repetitive): zlib's
// fastest LZ77 level, BestSpeed, with pooled compressors (a new one
// allocates about 1 MB of tables). The font subset — most of a small
// document's bytes, outlines in which LZ77 finds little to match — is
// compressed by fontCoder (fontz.go): the face's unchanged tables
// compressed once, its glyphs Huffman-coded once with a code made for the
// face, so a document's subset costs little more than a copy; about 75 %
// of the raw subset, where BestSpeed gives 70 % at five times the cost.
const contentLevel = zlib.BestSpeed

var zlibPool = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, contentLevel)
	return w
}}

// deflate appends data, zlib-compressed at contentLevel, to dst.
func deflate(dst *bytes.Buffer, data []byte) {
	w := zlibPool.Get().(*zlib.Writer)
	w.Reset(dst)
	w.Write(data) // a bytes.Buffer does not fail
	w.Close()
	w.Reset(nil)
	zlibPool.Put(w)
}

// k is points per millimetre: layout is in mm from the top left, PDF in
// points from the bottom left.
const k = 72 / 25.4

// pdfFile is a PDF being written: objects are numbered by the caller and
// may be written in any order.
type pdfFile struct {
	buf     bytes.Buffer
	offsets []int // byte offset of object n at offsets[n-1]
	scratch bytes.Buffer
}

func (p *pdfFile) begin(n int) {
	for len(p.offsets) < n {
		p.offsets = append(p.offsets, -1)
	}
	p.offsets[n-1] = p.buf.Len()
	p.buf.WriteString(strconv.Itoa(n))
	p.buf.WriteString(" 0 obj\n")
}

// object writes object n: a dictionary or other value.
func (p *pdfFile) object(n int, value string) {
	p.begin(n)
	p.buf.WriteString(value)
	p.buf.WriteString("\nendobj\n")
}

// stream writes object n, a stream of data with dict's entries (without
// the brackets) and its Length.
func (p *pdfFile) stream(n int, dict string, data []byte) {
	p.begin(n)
	p.buf.WriteString("<<")
	p.buf.WriteString(dict)
	p.buf.WriteString(" /Length ")
	p.buf.WriteString(strconv.Itoa(len(data)))
	p.buf.WriteString(">>\nstream\n")
	p.buf.Write(data)
	p.buf.WriteString("\nendstream\nendobj\n")
}

// flateStream writes object n, data compressed; data under 256 bytes as
// it is (compressing would cost more than it saves).
func (p *pdfFile) flateStream(n int, dict string, data []byte) {
	if len(data) < 256 {
		p.stream(n, dict, data)
		return
	}
	p.scratch.Reset()
	deflate(&p.scratch, data)
	p.stream(n, strings.TrimSpace(dict+" /Filter /FlateDecode"), p.scratch.Bytes())
}

// finish writes the cross-reference table and trailer.
func (p *pdfFile) finish(root, info int) []byte {
	at := p.buf.Len()
	n := len(p.offsets) + 1
	b := p.buf.AvailableBuffer()
	b = append(b, "xref\n0 "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\n0000000000 65535 f \n"...)
	for _, off := range p.offsets {
		if off < 0 { // a number never used (render leaves none)
			b = append(b, "0000000000 00001 f \n"...)
			continue
		}
		s := strconv.Itoa(off)
		for i := len(s); i < 10; i++ {
			b = append(b, '0')
		}
		b = append(b, s...)
		b = append(b, " 00000 n \n"...)
	}
	b = fmt.Appendf(b, "trailer\n<</Size %d /Root %d 0 R /Info %d 0 R>>\nstartxref\n%d\n%%%%EOF\n", n, root, info, at)
	p.buf.Write(b)
	return p.buf.Bytes()
}

// textString is s as a PDF text string (UTF-16BE with a byte order mark,
// in hex).
func textString(s string) string {
	b := make([]byte, 0, 6+4*len(s))
	b = append(b, "<FEFF"...)
	for _, u := range utf16.Encode([]rune(s)) {
		b = appendHex4(b, u)
	}
	return string(append(b, '>'))
}

const hexDigits = "0123456789ABCDEF"

func appendHex4(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&15], hexDigits[v>>4&15], hexDigits[v&15])
}

// pdfDate is t as a PDF date, D:YYYYMMDDHHmmSS+HH'mm'.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("(D:%s%c%02d'%02d')", t.Format("20060102150405"), sign, off/3600, off/60%60)
}

// num appends v rounded to 2 decimals, shortest form.
func num(b []byte, v float64) []byte {
	c := math.Round(v * 100)
	if math.Abs(c) >= 1<<53 {
		return strconv.AppendFloat(b, v, 'f', 2, 64)
	}
	n := int64(c)
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/100, 10)
	if f := n % 100; f != 0 {
		b = append(b, '.', byte('0'+f/10))
		if f%10 != 0 {
			b = append(b, byte('0'+f%10))
		}
	}
	return b
}

// colour appends the operator setting c, op being "rg" (fill) or "RG"
// (stroke): a grey as one component (g, G).
func colour(b []byte, c rgb, op string) []byte {
	comp := func(v uint8) {
		b = strconv.AppendFloat(b, math.Round(float64(v)/255*1000)/1000, 'f', -1, 64)
		b = append(b, ' ')
	}
	if c.r == c.g && c.g == c.b {
		comp(c.r)
		return append(b, op[1:]...)
	}
	comp(c.r)
	comp(c.g)
	comp(c.b)
	return append(b, op...)
}

// content builds one page's content stream, tracking the graphics state
// so that unchanged colours, widths and sizes are not repeated.
type content struct {
	b            []byte
	fill, stroke rgb
	fillSet      bool
	lineSet      bool
	width        float64
	size         float64
	cids         *cidMap
}

func (c *content) setFill(col rgb) {
	if !c.fillSet || c.fill != col {
		c.b = colour(c.b, col, "rg")
		c.b = append(c.b, '\n')
		c.fill, c.fillSet = col, true
	}
}

func (c *content) setStroke(col rgb, width float64) {
	if !c.lineSet || c.stroke != col {
		c.b = colour(c.b, col, "RG")
		c.b = append(c.b, '\n')
		c.stroke, c.lineSet = col, true
	}
	if c.width != width {
		c.b = num(c.b, width*k)
		c.b = append(c.b, " w\n"...)
		c.width = width
	}
}

// text draws s with its baseline starting at (x, y) mm.
func (c *content) text(x, y, size float64, col rgb, s string) {
	if s == "" {
		return
	}
	c.setFill(col)
	c.b = append(c.b, "BT "...)
	if c.size != size {
		c.b = append(c.b, "/F1 "...)
		c.b = num(c.b, size)
		c.b = append(c.b, " Tf "...)
		c.size = size
	}
	c.b = num(c.b, x*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, (pageH-y)*k)
	c.b = append(c.b, " Td ("...)
	for _, r := range s { // two bytes per CID (Identity-H), escaped
		id := c.cids.cid(r)
		for _, x := range [2]byte{byte(id >> 8), byte(id)} {
			switch x {
			case '(', ')', '\\':
				c.b = append(c.b, '\\', x)
			case '\r':
				c.b = append(c.b, '\\', 'r')
			case '\n':
				c.b = append(c.b, '\\', 'n')
			default:
				c.b = append(c.b, x)
			}
		}
	}
	c.b = append(c.b, ") Tj ET\n"...)
}

func (c *content) rect(x, y, w, h float64, op string) {
	c.b = num(c.b, x*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, (pageH-y-h)*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, w*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, h*k)
	c.b = append(c.b, " re "...)
	c.b = append(c.b, op...)
	c.b = append(c.b, '\n')
}

func (c *content) line(x1, y1, x2, y2 float64) {
	c.b = num(c.b, x1*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, (pageH-y1)*k)
	c.b = append(c.b, " m "...)
	c.b = num(c.b, x2*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, (pageH-y2)*k)
	c.b = append(c.b, " l S\n"...)
}

func (c *content) image(name string, x, y, w, h float64) {
	c.b = append(c.b, "q "...)
	c.b = num(c.b, w*k)
	c.b = append(c.b, " 0 0 "...)
	c.b = num(c.b, h*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, x*k)
	c.b = append(c.b, ' ')
	c.b = num(c.b, (pageH-y-h)*k)
	c.b = append(c.b, " cm /"...)
	c.b = append(c.b, name...)
	c.b = append(c.b, " Do Q\n"...)
}

// cidMap numbers the runes a document draws: CID i+1 is runes[i]. One
// CID per rune (not per glyph) keeps text extraction exact where a font
// draws two characters with one glyph.
type cidMap struct {
	runes []rune // sorted, each one the font has
	// gids[i] is the glyph drawing runes[i] when the whole face is
	// embedded; nil for a subset, whose glyph ids are the CIDs.
	gids []uint16
	// A rune's CID is its rank among the runes: set has a bit per rune,
	// rank[w] counts the runes of words before w.
	set  [0x10000 / 64]uint64
	rank [0x10000 / 64]uint16
}

// newCIDMap numbers the runes of set, a bit per BMP rune.
func newCIDMap(set *[0x10000 / 64]uint64) *cidMap {
	m := &cidMap{set: *set}
	n := 0
	for w, bitsW := range m.set {
		m.rank[w] = uint16(n)
		for b := bitsW; b != 0; b &= b - 1 {
			m.runes = append(m.runes, rune(w*64+bits.TrailingZeros64(b)))
		}
		n += bits.OnesCount64(bitsW)
	}
	return m
}

func (m *cidMap) cid(r rune) uint16 {
	if r < 0 || r > 0xFFFF {
		return 0
	}
	w, bit := r/64, uint(r)%64
	if m.set[w]&(1<<bit) == 0 {
		return 0 // .notdef; layout never draws a rune the font lacks
	}
	return m.rank[w] + uint16(bits.OnesCount64(m.set[w]&(1<<bit-1))) + 1
}

// fontObjects writes the Type0 font as objects n … n+5: the font, its
// CIDFont, descriptor, font file, ToUnicode CMap and CIDToGIDMap.
func (p *pdfFile) fontObjects(n int, f *cjkFont, m *cidMap, ttfLen int, compressed []byte) {
	// A subset's name carries a tag of six capital letters derived from
	// what it holds (PDF 32000-1 §9.6.4).
	h := fnv.New32a()
	for _, r := range m.runes {
		h.Write([]byte{byte(r >> 16), byte(r >> 8), byte(r)})
	}
	sum := h.Sum32()
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + byte(sum%26)
		sum /= 26
	}
	name := "/" + string(tag) + "+" + f.psName
	p.object(n, "<</Type /Font /Subtype /Type0 /BaseFont "+name+" /Encoding /Identity-H /DescendantFonts ["+
		strconv.Itoa(n+1)+" 0 R] /ToUnicode "+strconv.Itoa(n+4)+" 0 R>>")

	// Widths by CID: CIDs are consecutive, so one run, split where
	// widths would make a range (c_first c_last w) shorter.
	b := make([]byte, 0, 160+6*len(m.runes))
	b = append(b, "<</Type /Font /Subtype /CIDFontType2 /BaseFont "...)
	b = append(b, name...)
	b = append(b, " /CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor "...)
	b = strconv.AppendInt(b, int64(n+2), 10)
	b = append(b, " 0 R /DW "...)
	b = strconv.AppendInt(b, int64(f.missingWidth), 10)
	b = append(b, " /W ["...)
	for i := 0; i < len(m.runes); {
		j := i + 1
		for j < len(m.runes) && f.adv[m.runes[j]] == f.adv[m.runes[i]] {
			j++
		}
		if j-i >= 3 {
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(j), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(f.adv[m.runes[i]]), 10)
			b = append(b, ' ')
			i = j
			continue
		}
		// a list up to the next run of three equal widths
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, " ["...)
		for x := i; x < len(m.runes); x++ {
			if x+2 < len(m.runes) && f.adv[m.runes[x]] == f.adv[m.runes[x+1]] && f.adv[m.runes[x]] == f.adv[m.runes[x+2]] {
				break
			}
			if x > i {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(f.adv[m.runes[x]]), 10)
			j = x + 1
		}
		b = append(b, "] "...)
		i = j
	}
	if m.gids == nil {
		b = append(b, "] /CIDToGIDMap /Identity>>"...)
	} else {
		b = append(b, "] /CIDToGIDMap "...)
		b = strconv.AppendInt(b, int64(n+5), 10)
		b = append(b, " 0 R>>"...)
	}
	p.object(n+1, string(b))
	p.object(n+2, "<</Type /FontDescriptor /FontName "+name+f.descriptor+" /FontFile2 "+strconv.Itoa(n+3)+" 0 R>>")
	p.stream(n+3, "/Length1 "+strconv.Itoa(ttfLen)+" /Filter /FlateDecode", compressed)
	p.stream(n+4, "/Filter /FlateDecode", cmapCoder().compress(toUnicode(m)))
	if m.gids != nil {
		g := make([]byte, 2*(len(m.gids)+1))
		for i, gid := range m.gids {
			g[2*i+2], g[2*i+3] = byte(gid>>8), byte(gid)
		}
		p.flateStream(n+5, "", g)
	}
}

// cmapCoder compresses ToUnicode CMaps (hex numbers, brackets, a fixed
// preamble) with a code made once from a typical one: a zlib stream per
// document, the code's construction per document, saved; about the size
// zlib's BestSpeed gives them.
var cmapCoder = sync.OnceValue(func() *fontCoder {
	var set [0x10000 / 64]uint64
	for r := 0x20; r < 0x7F; r++ {
		set[r/64] |= 1 << (r % 64)
	}
	for r := 0x4E00; r < 0x9FA5; r += 97 {
		set[r/64] |= 1 << (r % 64)
	}
	return newFontCoder(toUnicode(newCIDMap(&set)))
})

// toUnicode is the CMap from CIDs to the runes they draw: CIDs number
// the sorted runes, so runs of consecutive runes (Latin letters, digits)
// are one bfrange each. A range stays within one last byte of both the
// CID and the rune (PDF 32000-1 §9.10.3).
func toUnicode(m *cidMap) []byte {
	type rng struct{ first, last int } // indices into m.runes
	var singles, ranges []rng
	for i := 0; i < len(m.runes); {
		j := i + 1
		for j < len(m.runes) && m.runes[j] == m.runes[j-1]+1 && (j+1)&0xFF != 0 && m.runes[j]&0xFF != 0 {
			j++
		}
		if j-i >= 2 {
			ranges = append(ranges, rng{i, j - 1})
		} else {
			singles = append(singles, rng{i, i})
		}
		i = j
	}
	b := make([]byte, 0, 400+20*len(singles)+30*len(ranges))
	b = append(b, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"...)
	for _, list := range [][]rng{singles, ranges} {
		op := "bfchar"
		if len(list) > 0 && list[0].first != list[0].last {
			op = "bfrange"
		}
		for i := 0; i < len(list); i += 100 {
			j := min(i+100, len(list))
			b = strconv.AppendInt(b, int64(j-i), 10)
			b = append(b, " begin"...)
			b = append(b, op...)
			b = append(b, '\n')
			for _, r := range list[i:j] {
				b = append(b, '<')
				b = appendHex4(b, uint16(r.first+1))
				if op == "bfrange" {
					b = append(b, "> <"...)
					b = appendHex4(b, uint16(r.last+1))
				}
				b = append(b, "> <"...)
				b = appendHex4(b, uint16(m.runes[r.first]))
				b = append(b, ">\n"...)
			}
			b = append(b, "end"...)
			b = append(b, op...)
			b = append(b, '\n')
		}
	}
	return append(b, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"...)
}
