package transcript

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Why a subsetter of our own when the PDF writer subsets too: the writer
// parses the whole font (every cmap entry and metric of ~30,000 glyphs)
// for each document, twice — about 30 ms, which for the usual one- or
// two-page conversation-day is nearly all the time a PDF takes. Giving it
// a font cut down to the unit's few hundred characters first makes its
// parse and its own subsetting nearly free; the embedded result is the
// same kind of subset either way.

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

// subsetter holds what subsetting needs from the face, read once.
type subsetter struct {
	tables    map[string][]byte
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
	locaLen := 2 * (s.numGlyphs + 1)
	if s.longLoca {
		locaLen *= 2
	}
	if len(t["loca"]) < locaLen {
		return nil, errors.New("font loca too short")
	}
	return s, nil
}

// glyph returns the glyf data of old glyph g.
func (s *subsetter) glyph(g int) ([]byte, error) {
	loca, glyf := s.tables["loca"], s.tables["glyf"]
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

// subset builds a TrueType font with .notdef and the glyphs of runes
// (with the components they use), renumbered in old glyph order, and a
// format 4 cmap for exactly those runes.
func (s *subsetter) subset(f *cjkFont, runes []rune) ([]byte, error) {
	keep := map[int]bool{0: true}
	var queue []int
	add := func(g int) {
		if g < s.numGlyphs && !keep[g] {
			keep[g] = true
			queue = append(queue, g)
		}
	}
	for _, r := range runes {
		if f.has(r) {
			add(int(f.gid[r]))
		}
	}
	queue = append(queue, 0)
	for len(queue) > 0 {
		g := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		data, err := s.glyph(g)
		if err != nil {
			return nil, err
		}
		if err := components(data, func(at int) { add(int(binary.BigEndian.Uint16(data[at:]))) }); err != nil {
			return nil, err
		}
	}
	old := make([]int, 0, len(keep))
	for g := range keep {
		old = append(old, g)
	}
	sort.Ints(old)
	newID := make(map[int]int, len(old))
	for i, g := range old {
		newID[g] = i
	}

	// glyf and loca (long offsets), hmtx with a full metric per glyph.
	var glyf []byte
	loca := make([]byte, 0, 4*(len(old)+1))
	hmtx := make([]byte, 0, 4*len(old))
	om := s.tables["hmtx"]
	for _, g := range old {
		loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))
		data, _ := s.glyph(g) // read above
		start := len(glyf)
		glyf = append(glyf, data...)
		_ = components(data, func(at int) {
			c := int(binary.BigEndian.Uint16(data[at:]))
			binary.BigEndian.PutUint16(glyf[start+at:], uint16(newID[c]))
		})
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
		adv := om[4*min(g, s.numHM-1):]
		var lsb []byte
		if g < s.numHM {
			lsb = om[4*g+2:]
		} else {
			lsb = om[4*s.numHM+2*(g-s.numHM):]
		}
		hmtx = append(hmtx, adv[0], adv[1], lsb[0], lsb[1])
	}
	loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))

	head := append([]byte(nil), s.tables["head"]...)
	binary.BigEndian.PutUint16(head[50:], 1) // long loca
	hhea := append([]byte(nil), s.tables["hhea"]...)
	binary.BigEndian.PutUint16(hhea[34:], uint16(len(old)))
	maxp := append([]byte(nil), s.tables["maxp"]...)
	binary.BigEndian.PutUint16(maxp[4:], uint16(len(old)))
	// post format 3: no glyph names (they would index the old glyphs).
	post := append([]byte(nil), s.tables["post"][:32]...)
	binary.BigEndian.PutUint32(post, 0x00030000)

	out := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx, "loca": loca, "glyf": glyf,
		"post": post, "name": s.tables["name"], "cmap": cmap4(f, runes, newID),
	}
	for _, tag := range []string{"OS/2", "cvt ", "fpgm", "prep", "gasp"} {
		if t := s.tables[tag]; t != nil {
			out[tag] = t
		}
	}
	return assemble(out), nil
}

// cmap4 is a cmap with one (3,1) format 4 subtable mapping runes to the
// new glyph ids, runs of consecutive runes and glyphs sharing a segment.
func cmap4(f *cjkFont, runes []rune, newID map[int]int) []byte {
	type seg struct{ start, end, delta int }
	rs := append([]rune(nil), runes...)
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	var segs []seg
	for i, r := range rs {
		if (i > 0 && rs[i-1] == r) || !f.has(r) || r >= 0xFFFF {
			continue
		}
		g := newID[int(f.gid[r])]
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

// assemble writes tables as an sfnt: sorted directory, 4-byte aligned
// tables, checksums, head.checkSumAdjustment.
func assemble(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	sr, es := 1, 0
	for sr*2 <= n {
		sr *= 2
		es++
	}
	sr *= 16
	out := make([]byte, 12+16*n)
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	binary.BigEndian.PutUint16(out[6:], uint16(sr))
	binary.BigEndian.PutUint16(out[8:], uint16(es))
	binary.BigEndian.PutUint16(out[10:], uint16(16*n-sr))
	headAt := -1
	for i, tag := range tags {
		data := tables[tag]
		at := len(out)
		if tag == "head" {
			headAt = at
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		r := out[12+16*i:]
		copy(r, tag)
		binary.BigEndian.PutUint32(r[4:], checksum(data))
		binary.BigEndian.PutUint32(r[8:], uint32(at))
		binary.BigEndian.PutUint32(r[12:], uint32(len(data)))
		out = append(out, data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	}
	return out
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
