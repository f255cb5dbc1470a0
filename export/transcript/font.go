package transcript

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// FontPaths are the well-known Debian locations PDF tries, in order, when
// no Font is given. WenQuanYi Micro Hei comes first: it is a glyf-based
// TrueType face (what the PDF writer embeds and subsets), small, and
// covers GB 18030's common characters. Noto Sans CJK is last: Debian ships
// it as CFF outlines, which the writer cannot embed, so it is only used
// when a glyf build happens to be installed there.
var FontPaths = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
}

// FontPackage is the Debian package named when no usable font is found.
const FontPackage = "fonts-wqy-microhei"

// cjkFont is a loaded face: the standalone TrueType bytes the PDF writer
// subsets per document (pdfwrite.go), which runes it can draw, and what
// every document needs of it, read once.
type cjkFont struct {
	path string
	ttf  []byte
	// bmp has a bit for every Basic Multilingual Plane rune the face maps
	// to a glyph. Only BMP runes are drawn (the face is read, and its
	// subset's cmap written, as format 4), so a rune outside the BMP is
	// never drawable, whatever the font has.
	bmp [0x10000 / 64]uint64
	// adv is each BMP rune's advance width in 1/1000 em, rounded: for
	// line wrapping, and the widths (W) the PDF gives its glyphs, so what
	// layout measured is what is drawn.
	adv [0x10000]uint16
	// gid is each BMP rune's glyph, for subsetting.
	gid [0x10000]uint16
	// sub cuts the face down per document; nil when the face's tables
	// are unusual enough that the whole face is embedded.
	sub *subsetter
	// coder compresses the face's subsets (fontz.go).
	coder *fontCoder

	// What every document's font objects say about the face, read once:
	// its PostScript name, the width of a glyph not listed, and the
	// descriptor's metric entries (" /Ascent … /StemV …").
	psName       string
	missingWidth int
	descriptor   string

	// The whole face compressed, for a face that cannot be subset:
	// compressed once, not per document.
	fullOnce sync.Once
	fullZ    []byte
}

// wholeFace is the face compressed for embedding whole.
func (f *cjkFont) wholeFace() []byte {
	f.fullOnce.Do(func() {
		var b bytes.Buffer // once per font: the better ratio is worth the time
		w, _ := zlib.NewWriterLevel(&b, zlib.DefaultCompression)
		w.Write(f.ttf)
		w.Close()
		f.fullZ = b.Bytes()
	})
	return f.fullZ
}

// readMetrics fills in the face's PDF font descriptor (PDF 32000-1
// §9.8) from its head, hhea, OS/2 and post tables, in 1/1000 em.
func (f *cjkFont) readMetrics(upem int) {
	t, _ := sfntTables(f.ttf)
	scale := func(v int16) int { return int(math.Round(float64(v) * 1000 / float64(upem))) }
	i16 := func(b []byte, at int) int16 {
		if at+2 > len(b) {
			return 0
		}
		return int16(binary.BigEndian.Uint16(b[at:]))
	}
	head, hhea, os2, post := t["head"], t["hhea"], t["OS/2"], t["post"]
	ascent, descent := scale(i16(hhea, 4)), scale(i16(hhea, 6))
	capHeight := ascent
	if len(os2) >= 90 && binary.BigEndian.Uint16(os2) >= 2 {
		if c := scale(i16(os2, 88)); c > 0 {
			capHeight = c
		}
	}
	weight := 400
	if len(os2) >= 6 {
		weight = int(binary.BigEndian.Uint16(os2[4:]))
	}
	italic := 0.0
	if len(post) >= 8 {
		italic = float64(int32(binary.BigEndian.Uint32(post[4:]))) / 65536
	}
	stemV := 50 + int(math.Pow(float64(weight)/65, 2))
	f.missingWidth = f.gidWidth(0, upem, t) // .notdef's: never drawn, but named
	f.descriptor = fmt.Sprintf(" /Flags 4 /FontBBox [%d %d %d %d] /ItalicAngle %s /Ascent %d /Descent %d /CapHeight %d /StemV %d",
		scale(i16(head, 36)), scale(i16(head, 38)), scale(i16(head, 40)), scale(i16(head, 42)),
		strconv.FormatFloat(italic, 'f', -1, 64), ascent, descent, capHeight, stemV)
	f.psName = postScriptName(t["name"])
}

// gidWidth is glyph g's advance in 1/1000 em, from hmtx.
func (f *cjkFont) gidWidth(g, upem int, t map[string][]byte) int {
	hhea, hmtx := t["hhea"], t["hmtx"]
	if len(hhea) < 36 {
		return 0
	}
	numHM := int(binary.BigEndian.Uint16(hhea[34:]))
	i := min(g, numHM-1)
	if i < 0 || 4*i+2 > len(hmtx) {
		return 0
	}
	return int(binary.BigEndian.Uint16(hmtx[4*i:])) * 1000 / upem
}

// postScriptName is the face's PostScript name (name ID 6), reduced to
// the characters a PDF name may hold unescaped; "CJK" when it has none.
func postScriptName(name []byte) string {
	if len(name) < 6 {
		return "CJK"
	}
	count, strOff := int(binary.BigEndian.Uint16(name[2:])), int(binary.BigEndian.Uint16(name[4:]))
	var found string
	for i := 0; i < count && 6+12*i+12 <= len(name); i++ {
		r := name[6+12*i:]
		platform, id := binary.BigEndian.Uint16(r), binary.BigEndian.Uint16(r[6:])
		length, off := int(binary.BigEndian.Uint16(r[8:])), int(binary.BigEndian.Uint16(r[10:]))
		if id != 6 || strOff+off+length > len(name) {
			continue
		}
		raw := name[strOff+off : strOff+off+length]
		var s []byte
		if platform == 1 {
			s = raw
		} else {
			for j := 1; j < len(raw); j += 2 { // UTF-16BE, ASCII expected
				if raw[j-1] == 0 {
					s = append(s, raw[j])
				}
			}
		}
		var b strings.Builder
		for _, c := range s {
			if c > ' ' && c < 127 && !strings.ContainsRune("()<>[]{}/%#", rune(c)) {
				b.WriteByte(c)
			}
		}
		if b.Len() > 0 {
			found = b.String()
			break
		}
	}
	if found == "" {
		return "CJK"
	}
	return found
}

// width is r's advance in millimetres at size points.
func (f *cjkFont) width(r rune, size float64) float64 {
	if r < 0 || r > 0xFFFF {
		return size * ptMM // drawn as a marker, never as itself
	}
	return float64(f.adv[r]) / 1000 * size * ptMM
}

// has says whether the face can draw r.
func (f *cjkFont) has(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false
	}
	return f.bmp[r/64]&(1<<(uint(r)%64)) != 0
}

// loadFont reads a TrueType font or collection (face 0 of a collection)
// and checks that the PDF writer can use it: glyf outlines, a Unicode
// cmap and the glyph for 中 (a "CJK" font without it would print every
// Chinese message as markers).
func loadFont(path string) (*cjkFont, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ttf, err := standaloneFace(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if binary.BigEndian.Uint32(ttf) == 0x4F54544F { // 'OTTO'
		return nil, fmt.Errorf("%s: CFF (PostScript) outlines; the PDF writer embeds only TrueType (glyf) outlines", path)
	}
	fnt, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &cjkFont{path: path, ttf: ttf}
	var buf sfnt.Buffer
	upem := fnt.UnitsPerEm()
	if upem == 0 {
		return nil, fmt.Errorf("%s: unitsPerEm is 0", path)
	}
	ppem := fixed.Int26_6(upem) << 6 // advances in font units
	for r := rune(0x20); r <= 0xFFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not characters
			continue
		}
		gi, err := fnt.GlyphIndex(&buf, r)
		if err != nil || gi == 0 {
			continue
		}
		a, err := fnt.GlyphAdvance(&buf, gi, ppem, font.HintingNone)
		if err != nil {
			continue
		}
		f.bmp[r/64] |= 1 << (uint(r) % 64)
		f.gid[r] = uint16(gi)
		f.adv[r] = uint16(min((int64(a>>6)*1000+int64(upem)/2)/int64(upem), 0xFFFF)) // rounded, as the PDF's widths
	}
	f.sub, _ = newSubsetter(ttf) // nil: embed the whole face (slower, same glyphs)
	if f.sub != nil {
		// The code is made from a subset like a document's: Latin, digits,
		// punctuation and some hundreds of hanzi (its tables other than
		// glyf weigh as they do in a document's subset).
		var sample []rune
		for r := rune(0x20); r < 0x7F; r++ {
			sample = append(sample, r)
		}
		sample = append(sample, []rune("，。、：；？！（）·–—“”‘’《》【】")...)
		for r := rune(0x4E00); r < 0x9FA5; r += 41 {
			sample = append(sample, r)
		}
		ttf, err := f.sub.subset(f, sample)
		if err != nil {
			f.sub = nil
		} else {
			f.coder = newFontCoder(ttf)
			f.coder.codeGlyphs(f.sub)
		}
	}
	f.readMetrics(int(upem))
	if !f.has('中') {
		return nil, fmt.Errorf("%s: the font has no glyph for 中 (U+4E2D); it is not a CJK font", path)
	}
	return f, nil
}

// findFont loads the font at path, or the first usable one of FontPaths.
func findFont(path string) (*cjkFont, error) {
	if path != "" {
		f, err := loadFont(path)
		if err != nil {
			return nil, fmt.Errorf("transcript: PDF font: %w", err)
		}
		return f, nil
	}
	var tried []string
	for _, p := range FontPaths {
		f, err := loadFont(p)
		if err == nil {
			return f, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			tried = append(tried, p+" (absent)")
		} else {
			tried = append(tried, err.Error())
		}
	}
	return nil, fmt.Errorf("transcript: no usable CJK TrueType font for PDF transcripts; install the Debian package %s (apt-get install %s) or name a font with --font; tried: %s",
		FontPackage, FontPackage, strings.Join(tried, "; "))
}

// standaloneFace returns the sfnt of one face. A plain TrueType/OpenType
// file is returned as is. A TrueType Collection ('ttcf') is rewritten:
// a PDF embeds a standalone font (FontFile2), not a collection,
// and a collection's table offsets count from the start of the collection
// (faces share tables such as glyf), so the face cannot simply be cut
// out — its offset table is copied and each table it names is copied
// after it, at new 4-byte aligned offsets.
func standaloneFace(data []byte, face int) ([]byte, error) {
	if len(data) < 12 {
		return nil, errors.New("not a font: too short")
	}
	if string(data[:4]) != "ttcf" {
		return data, nil
	}
	n := int(binary.BigEndian.Uint32(data[8:]))
	if face < 0 || face >= n || 12+4*n > len(data) {
		return nil, fmt.Errorf("font collection: face %d of %d", face, n)
	}
	off := int(binary.BigEndian.Uint32(data[12+4*face:]))
	if off < 0 || off+12 > len(data) {
		return nil, errors.New("font collection: face offset out of range")
	}
	numTables := int(binary.BigEndian.Uint16(data[off+4:]))
	if numTables == 0 || off+12+16*numTables > len(data) {
		return nil, errors.New("font collection: table directory out of range")
	}
	type table struct {
		tag            string
		sum            uint32
		offset, length int
	}
	tables := make([]table, numTables)
	for i := range tables {
		r := data[off+12+16*i:]
		t := table{tag: string(r[:4]), sum: binary.BigEndian.Uint32(r[4:]),
			offset: int(binary.BigEndian.Uint32(r[8:])), length: int(binary.BigEndian.Uint32(r[12:]))}
		if t.offset < 0 || t.length < 0 || t.offset > len(data) || t.length > len(data)-t.offset {
			return nil, fmt.Errorf("font collection: table %q out of range", t.tag)
		}
		tables[i] = t
	}
	// The directory must be sorted by tag (readers binary-search it).
	sort.Slice(tables, func(i, j int) bool { return tables[i].tag < tables[j].tag })

	headerLen := 12 + 16*numTables
	size := headerLen
	for _, t := range tables {
		size += (t.length + 3) &^ 3
	}
	out := make([]byte, headerLen, size)
	copy(out[:12], data[off:off+12]) // sfnt version, numTables, search hints
	headAt := -1
	for i, t := range tables {
		at := len(out)
		r := out[12+16*i:]
		copy(r[:4], t.tag)
		binary.BigEndian.PutUint32(r[4:], t.sum)
		binary.BigEndian.PutUint32(r[8:], uint32(at))
		binary.BigEndian.PutUint32(r[12:], uint32(t.length))
		out = append(out, data[t.offset:t.offset+t.length]...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		if t.tag == "head" && t.length >= 12 {
			headAt = at
		}
	}
	// head.checkSumAdjustment covers the whole file, which is new; the
	// head table's own checksum is defined with the field zeroed, so the
	// directory's checksums stay valid.
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0)
		var sum uint32
		for i := 0; i+4 <= len(out); i += 4 {
			sum += binary.BigEndian.Uint32(out[i:])
		}
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-sum)
	}
	return out, nil
}
