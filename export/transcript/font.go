package transcript

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// FontPaths are the well-known Debian locations PDF tries, in order, when
// no Font is given. WenQuanYi Micro Hei comes first: it is a glyf-based
// TrueType face (what the PDF library can embed and subset), small, and
// covers GB 18030's common characters. Noto Sans CJK is last: Debian ships
// it as CFF outlines, which the library cannot embed, so it is only used
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

// cjkFont is a loaded face: the standalone TrueType bytes the PDF library
// embeds (and subsets per document) and which runes it can draw.
type cjkFont struct {
	path string
	ttf  []byte
	// bmp has a bit for every Basic Multilingual Plane rune the face maps
	// to a glyph. The PDF library reads only the format 4 (BMP) cmap, so a
	// rune outside the BMP is never drawable, whatever the font has.
	bmp [0x10000 / 64]uint64
	// adv is each BMP rune's advance width in 1/1000 em, for line
	// wrapping (read once here rather than asked of the PDF writer per
	// rune per document).
	adv [0x10000]uint16
	// gid is each BMP rune's glyph, for subsetting.
	gid [0x10000]uint16
	// sub cuts the face down per document; nil when the face's tables
	// are unusual enough that the PDF writer gets the whole face.
	sub *subsetter
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
// and checks that the PDF library can use it: glyf outlines, a Unicode
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
		f.adv[r] = uint16(min(int64(a>>6)*1000/int64(upem), 0xFFFF))
	}
	f.sub, _ = newSubsetter(ttf) // nil: embed the whole face (slower, same glyphs)
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
// the PDF library (like most pure-Go ones) reads only standalone fonts,
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
