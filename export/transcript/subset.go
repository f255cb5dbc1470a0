package transcript

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Each PDF embeds the face cut down to the characters it draws (a few
// hundred of ~30,000 glyphs): what the face's tables are is read once
// (newSubsetter), a document's subset is then a copy of its glyphs with
// new loca, hmtx and cmap tables; the tables a subset copies unchanged are
// compressed once (constZ), and the glyphs coded once (fontCoder), so
// compressing a subset is mostly copying.

// sfntTables reads a standalone sfnt's table directory.
func sfntTables(ttf []byte) (map[string][]byte, error) {
	if len(ttf) < 12 {
		return nil, errors.New("font too short")
	}
	n := int(binary.BigEndian.Uint16(ttf[4:]))
	if 12+16*n > len(ttf) {
		return nil, errors.New("font table directory out of range")
	}
	tables := make(map[string][]byte, n)
	for i := 0; i < n; i++ {
		r := ttf[12+16*i:]
		off, length := int(binary.BigEndian.Uint32(r[8:])), int(binary.BigEndian.Uint32(r[12:]))
		if off < 0 || length < 0 || off > len(ttf) || length > len(ttf)-off {
			return nil, fmt.Errorf("font table %q out of range", r[:4])
		}
		tables[string(r[:4])] = ttf[off : off+length]
	}
	return tables, nil
}

// varTable: the tables a subset rewrites; the others it copies.
var varTable = map[string]bool{"cmap": true, "glyf": true, "head": true, "hhea": true, "hmtx": true, "loca": true, "maxp": true, "post": true}

// subsetter holds what subsetting needs from the face, read once.
type subsetter struct {
	tables  map[string][]byte
	outTags []string // the subset's tables, sorted
	// The tables a subset copies unchanged (name, OS/2, hinting) are
	// written first, after the directory, as constLen bytes that constZ
	// holds compressed once for every document (subsetZ).
	writeOrder []int    // indices into outTags
	constSum   []uint32 // per outTags index: the checksum of a table copied
	loca, glyf []byte
	// glyphSum is each glyph's checksum (padded to four bytes): a glyf
	// table's checksum is its glyphs' sum, each starting four-aligned.
	glyphSum  []uint32
	dirLen    int
	constLen  int
	constZ    []byte
	numGlyphs int
	numHM     int
	longLoca  bool
}

func newSubsetter(ttf []byte) (*subsetter, error) {
	t, err := sfntTables(ttf)
	if err != nil {
		return nil, err
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "name", "post"} {
		if t[tag] == nil {
			return nil, fmt.Errorf("font has no %q table", tag)
		}
	}
	s := &subsetter{tables: t}
	if len(t["head"]) < 54 || len(t["hhea"]) < 36 || len(t["maxp"]) < 6 || len(t["post"]) < 32 {
		return nil, errors.New("font header tables too short")
	}
	s.longLoca = binary.BigEndian.Uint16(t["head"][50:]) == 1
	s.numGlyphs = int(binary.BigEndian.Uint16(t["maxp"][4:]))
	s.numHM = int(binary.BigEndian.Uint16(t["hhea"][34:]))
	if s.numHM == 0 || s.numHM > s.numGlyphs || len(t["hmtx"]) < 4*s.numHM+2*(s.numGlyphs-s.numHM) {
		return nil, errors.New("font hmtx does not match hhea/maxp")
	}
	s.outTags = []string{"cmap", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "name", "post"}
	for _, tag := range []string{"OS/2", "cvt ", "fpgm", "prep", "gasp"} {
		if t[tag] != nil {
			s.outTags = append(s.outTags, tag)
		}
	}
	sort.Strings(s.outTags)
	s.dirLen = 12 + 16*len(s.outTags)
	var blob []byte
	s.constSum = make([]uint32, len(s.outTags))
	for i, tag := range s.outTags {
		if !varTable[tag] {
			s.writeOrder = append(s.writeOrder, i)
			s.constSum[i] = checksum(t[tag])
			blob = append(blob, t[tag]...)
			for len(blob)%4 != 0 {
				blob = append(blob, 0)
			}
		}
	}
	for i, tag := range s.outTags {
		if varTable[tag] {
			s.writeOrder = append(s.writeOrder, i)
		}
	}
	if len(blob) > 0 {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestCompression)
		w.Write(blob)
		w.Flush() // byte-aligned, not final: the document's blocks follow
		s.constLen, s.constZ = len(blob), z.Bytes()
	}
	locaLen := 2 * (s.numGlyphs + 1)
	if s.longLoca {
		locaLen *= 2
	}
	if len(t["loca"]) < locaLen {
		return nil, errors.New("font loca too short")
	}
	s.loca, s.glyf = t["loca"], t["glyf"]
	s.glyphSum = make([]uint32, s.numGlyphs)
	for g := range s.numGlyphs {
		if data, err := s.glyph(g); err == nil {
			s.glyphSum[g] = checksum(data)
		}
	}
	return s, nil
}

// glyph returns the glyf data of old glyph g.
func (s *subsetter) glyph(g int) ([]byte, error) {
	loca, glyf := s.loca, s.glyf
	var a, b int
	if s.longLoca {
		a, b = int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:]))
	} else {
		a, b = 2*int(binary.BigEndian.Uint16(loca[2*g:])), 2*int(binary.BigEndian.Uint16(loca[2*g+2:]))
	}
	if a < 0 || b < a || b > len(glyf) {
		return nil, fmt.Errorf("glyph %d out of range", g)
	}
	return glyf[a:b], nil
}

// Composite glyph flags (TrueType glyf).
const (
	argsAreWords   = 0x0001
	haveScale      = 0x0008
	moreComponents = 0x0020
	haveXYScale    = 0x0040
	have2x2        = 0x0080
)

// components calls fn with the offset of each component glyph id in a
// composite glyph (none for a simple glyph).
func components(data []byte, fn func(at int)) error {
	if len(data) < 10 || int16(binary.BigEndian.Uint16(data)) >= 0 {
		return nil
	}
	p := 10
	for {
		if p+4 > len(data) {
			return errors.New("composite glyph truncated")
		}
		flags := binary.BigEndian.Uint16(data[p:])
		fn(p + 2)
		p += 4
		if flags&argsAreWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&haveScale != 0:
			p += 2
		case flags&haveXYScale != 0:
			p += 4
		case flags&have2x2 != 0:
			p += 8
		}
		if flags&moreComponents == 0 {
			return nil
		}
	}
}

// subset builds a TrueType font of the distinct runes the face can draw
// (BMP, below U+FFFF) in ascending order: glyph 0 is .notdef, glyph k the
// k-th rune's, then the components composite glyphs use; a glyph two runes
// share is copied for each, so that glyph ids are the runes' ranks (the
// PDF's CIDs, with an identity CIDToGIDMap). Its cmap (format 4) maps
// exactly those runes.
func (s *subsetter) subset(f *cjkFont, runes []rune) ([]byte, error) {
	ttf, _, _, err := s.build(f, runes)
	return ttf, err
}

// subsetZ is subset and the subset compressed (zlib) with f.coder: its
// directory stored, the tables it copies from the face as compressed
// once, its simple glyphs as coded once, the rest coded.
func (s *subsetter) subsetZ(f *cjkFont, runes []rune) (ttf, z []byte, err error) {
	ttf, glyfAt, old, err := s.build(f, runes)
	if err != nil {
		return nil, nil, err
	}
	return ttf, f.coder.compressSubset(s, ttf, glyfAt, old), nil
}

// build is subset, also saying where the glyf table starts and which of
// the face's glyphs it holds, in order.
func (s *subsetter) build(f *cjkFont, runes []rune) (ttf []byte, glyfAt int, old []int, err error) {
	rs := make([]rune, 0, len(runes))
	for _, r := range runes {
		if f.has(r) && r < 0xFFFF {
			rs = append(rs, r)
		}
	}
	if !slices.IsSorted(rs) {
		slices.Sort(rs)
	}
	rs = slices.Compact(rs)

	// old[k] is the face's glyph that becomes glyph k; newOf the new id
	// of each face glyph kept (its first copy).
	old = make([]int, 1, len(rs)+8)
	newOf := make(map[int]int, len(rs)+8)
	newOf[0] = 0
	for _, r := range rs {
		g := int(f.gid[r])
		if _, ok := newOf[g]; !ok {
			newOf[g] = len(old)
		}
		old = append(old, g)
	}
	// Components of composites (and theirs): old grows while scanned.
	glyfLen := 0
	for i := 0; i < len(old); i++ {
		data, err := s.glyph(old[i])
		if err != nil {
			return nil, 0, nil, err
		}
		glyfLen += (len(data) + 3) &^ 3
		err = components(data, func(at int) {
			c := int(binary.BigEndian.Uint16(data[at:]))
			if _, ok := newOf[c]; !ok && c < s.numGlyphs {
				newOf[c] = len(old)
				old = append(old, c)
			}
		})
		if err != nil {
			return nil, 0, nil, err
		}
	}
	n := len(old)

	// The tables, in directory (tag) order; sizes first, so the file is
	// allocated once and each table written in place.
	cmap := cmap4(rs)
	size := func(tag string) int {
		switch tag {
		case "hmtx":
			return 4 * n
		case "loca":
			return 4 * (n + 1)
		case "glyf":
			return glyfLen
		case "post":
			return 32
		case "cmap":
			return len(cmap)
		}
		return len(s.tables[tag])
	}
	tags := s.outTags
	total := 12 + 16*len(tags)
	for _, tag := range tags {
		total += (size(tag) + 3) &^ 3
	}
	out := make([]byte, 12+16*len(tags), total)
	nt := len(tags)
	sr, es := 1, 0
	for sr*2 <= nt {
		sr *= 2
		es++
	}
	sr *= 16
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(nt))
	binary.BigEndian.PutUint16(out[6:], uint16(sr))
	binary.BigEndian.PutUint16(out[8:], uint16(es))
	binary.BigEndian.PutUint16(out[10:], uint16(16*nt-sr))
	headAt := -1
	var sum uint32
	om := s.tables["hmtx"]
	for _, i := range s.writeOrder {
		tag := tags[i]
		at := len(out)
		var tableSum uint32
		known := false
		switch tag {
		case "head":
			headAt = at
			out = append(out, s.tables["head"]...)
			binary.BigEndian.PutUint32(out[at+8:], 0)  // checkSumAdjustment, set last
			binary.BigEndian.PutUint16(out[at+50:], 1) // long loca
		case "hhea":
			out = append(out, s.tables["hhea"]...)
			binary.BigEndian.PutUint16(out[at+34:], uint16(n))
		case "maxp":
			out = append(out, s.tables["maxp"]...)
			binary.BigEndian.PutUint16(out[at+4:], uint16(n))
		case "post": // format 3: no glyph names (they would index the old glyphs)
			out = append(out, s.tables["post"][:32]...)
			binary.BigEndian.PutUint32(out[at:], 0x00030000)
		case "hmtx": // a full metric per glyph
			for _, g := range old {
				adv := om[4*min(g, s.numHM-1):]
				var lsb []byte
				if g < s.numHM {
					lsb = om[4*g+2:]
				} else {
					lsb = om[4*s.numHM+2*(g-s.numHM):]
				}
				out = append(out, adv[0], adv[1], lsb[0], lsb[1])
			}
		case "loca": // long offsets, into glyf as written below
			off := 0
			for _, g := range old {
				out = binary.BigEndian.AppendUint32(out, uint32(off))
				data, _ := s.glyph(g) // read above
				off += (len(data) + 3) &^ 3
			}
			out = binary.BigEndian.AppendUint32(out, uint32(off))
		case "glyf":
			glyfAt = at
			for _, g := range old {
				data, _ := s.glyph(g)
				start := len(out)
				out = append(out, data...)
				composite := false
				_ = components(data, func(p int) {
					c := int(binary.BigEndian.Uint16(data[p:]))
					binary.BigEndian.PutUint16(out[start+p:], uint16(newOf[c])) // 0 if out of range
					composite = true
				})
				for len(out)%4 != 0 {
					out = append(out, 0)
				}
				if composite {
					tableSum += checksum(out[start:])
				} else {
					tableSum += s.glyphSum[g]
				}
			}
			known = true
		case "cmap":
			out = append(out, cmap...)
		default:
			out = append(out, s.tables[tag]...)
			tableSum, known = s.constSum[i], true
		}
		length := len(out) - at
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		c := tableSum
		if !known {
			c = checksum(out[at:])
		}
		sum += c
		r := out[12+16*i:]
		copy(r, tag)
		binary.BigEndian.PutUint32(r[4:], c)
		binary.BigEndian.PutUint32(r[8:], uint32(at))
		binary.BigEndian.PutUint32(r[12:], uint32(length))
	}
	// The whole file's checksum is the directory's plus the tables' (each
	// padded to four bytes); head.checkSumAdjustment makes it 0xB1B0AFBA.
	sum += checksum(out[:12+16*nt])
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-sum)
	}
	return out, glyfAt, old, nil
}

// cmap4 is a cmap with one (3,1) format 4 subtable mapping the sorted
// distinct runes rs to glyphs 1, 2, …, runs of consecutive runes sharing
// a segment.
func cmap4(rs []rune) []byte {
	type seg struct{ start, end, delta int }
	var segs []seg
	for i, r := range rs {
		g := i + 1
		if n := len(segs); n > 0 && segs[n-1].end == int(r)-1 && int(r)+segs[n-1].delta == g {
			segs[n-1].end = int(r)
			continue
		}
		segs = append(segs, seg{int(r), int(r), g - int(r)})
	}
	segs = append(segs, seg{0xFFFF, 0xFFFF, 1})
	n := len(segs)
	searchRange, entrySelector := 2, 0
	for searchRange*2 <= 2*n {
		searchRange *= 2
		entrySelector++
	}
	length := 16 + 8*n
	b := make([]byte, 0, 12+length)
	b = binary.BigEndian.AppendUint16(b, 0) // version
	b = binary.BigEndian.AppendUint16(b, 1) // one subtable
	b = binary.BigEndian.AppendUint16(b, 3) // Windows
	b = binary.BigEndian.AppendUint16(b, 1) // Unicode BMP
	b = binary.BigEndian.AppendUint32(b, 12)
	for _, v := range []int{4, length, 0, 2 * n, searchRange, entrySelector, 2*n - searchRange} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	for _, s := range segs {
		b = binary.BigEndian.AppendUint16(b, uint16(s.end))
	}
	b = binary.BigEndian.AppendUint16(b, 0) // reservedPad
	for _, s := range segs {
		b = binary.BigEndian.AppendUint16(b, uint16(s.start))
	}
	for _, s := range segs {
		b = binary.BigEndian.AppendUint16(b, uint16(int16(s.delta)))
	}
	for range segs {
		b = binary.BigEndian.AppendUint16(b, 0) // idRangeOffset: deltas only
	}
	return b
}

// checksum is the sfnt table checksum: the sum of big-endian uint32s,
// the last one zero-padded.
func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}
