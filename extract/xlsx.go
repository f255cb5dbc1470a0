package extract

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// xlsx extracts every worksheet in natural name order, then cell comments.
func (a *archive) xlsx(s *sink) error {
	// Values are kept a rune longer than the output limit, so that the
	// sink, not the walker, notices and reports the truncation.
	maxValue := s.max + utf8.UTFMax
	strs, err := a.sharedStrings(maxValue)
	if err != nil {
		return err
	}
	w := &sheetWalker{s: s, strs: strs, max: maxValue}
	if err := a.walkParts(formatXlsx, a.worksheets(), s, sheetSkip, w.token); err != nil {
		return err
	}
	cw := &textWalker{s: s, roles: commentRole}
	return a.walkParts(formatXlsx, a.glob("xl/comments", ".xml", false), s, sheetSkip, cw.token)
}

// sheetSkip skips phonetic guides (rPh: furigana, a reading aid repeating
// the text) and formulas (the computed value is in v).
func sheetSkip(local string) bool { return local == "rPh" || local == "f" }

// commentRole maps spreadsheet comment elements to text roles.
func commentRole(local string) role {
	switch local {
	case "t":
		return roleText
	case "comment":
		return roleBlock
	}
	return roleNone
}

// sharedStrings loads xl/sharedStrings.xml, which sheets index into. It is
// optional: a workbook with only numbers or inline strings has none.
func (a *archive) sharedStrings(maxLen int) (*stringTable, error) {
	tab := &stringTable{}
	parts := a.named("xl/sharedstrings.xml")
	if len(parts) == 0 {
		return tab, nil
	}
	w := &sstWalker{tab: tab, max: maxLen}
	return tab, a.walkPart(formatXlsx, parts[0], sheetSkip, w.token)
}

// stringTable stores strings in one arena with 4-byte end offsets rather
// than as []string (16 bytes each): a hostile table of millions of empty
// <si/> would otherwise cost far more memory than its inflated size.
type stringTable struct {
	buf  []byte
	ends []uint32
}

func (t *stringTable) add(s []byte) error {
	if uint64(len(t.buf))+uint64(len(s)) > math.MaxUint32 {
		return fmt.Errorf("%w: shared strings exceed 4 GiB", ErrTooLarge)
	}
	t.buf = append(t.buf, s...)
	t.ends = append(t.ends, uint32(len(t.buf)))
	return nil
}

// get returns string i, or "" when the index is out of range (a broken
// reference loses one cell, not the document).
func (t *stringTable) get(i int) string {
	if i < 0 || i >= len(t.ends) {
		return ""
	}
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return string(t.buf[start:t.ends[i]])
}

// sstWalker collects each <si> (plain <t> or rich-text runs <r><t>) into
// the table. Strings are capped just past the output limit: no longer
// string could be emitted anyway.
type sstWalker struct {
	tab *stringTable
	cur []byte
	inT int
	max int
}

func (w *sstWalker) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		switch t.Name.Local {
		case "si":
			w.cur = w.cur[:0]
		case "t":
			w.inT++
		}
	case xml.EndElement:
		switch t.Name.Local {
		case "si":
			return w.tab.add(w.cur)
		case "t":
			w.inT--
		}
	case xml.CharData:
		if w.inT > 0 {
			w.cur = appendCapped(w.cur, t, w.max)
		}
	}
	return nil
}

// sheetWalker emits cell values: rows on lines, cells separated by tabs.
type sheetWalker struct {
	s        *sink
	strs     *stringTable
	max      int
	cellType string // the c element's t attribute
	inCell   bool
	inV      bool
	inIs     bool // inside an inline string
	inT      int
	val      []byte // the v element's text
	inline   []byte // the inline string's text
}

func (w *sheetWalker) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		w.start(t)
	case xml.EndElement:
		w.end(t.Name.Local)
	case xml.CharData:
		switch {
		case w.inV:
			w.val = appendCapped(w.val, t, w.max)
		case w.inIs && w.inT > 0:
			w.inline = appendCapped(w.inline, t, w.max)
		}
	}
	if w.s.full() {
		return errStop
	}
	return nil
}

func (w *sheetWalker) start(t xml.StartElement) {
	switch t.Name.Local {
	case "row":
		w.s.sep(sepNewline)
	case "c":
		w.inCell, w.cellType = true, attr(t, "t")
		w.val, w.inline = w.val[:0], w.inline[:0]
	case "v":
		w.inV = w.inCell
	case "is":
		w.inIs = w.inCell
	case "t":
		if w.inIs {
			w.inT++
		}
	}
}

func (w *sheetWalker) end(local string) {
	switch local {
	case "v":
		w.inV = false
	case "is":
		w.inIs, w.inT = false, 0
	case "t":
		if w.inT > 0 {
			w.inT--
		}
	case "c":
		if w.inCell {
			w.s.sep(sepTab)
			w.s.text(w.cellText())
		}
		w.inCell, w.inV, w.inIs, w.inT = false, false, false, 0
	}
}

// cellText renders a cell as its value is written: shared-string cells are
// looked up, booleans spelled out, everything else (numbers, dates in
// ISO form, formula results, errors like #DIV/0!) taken verbatim.
func (w *sheetWalker) cellText() string {
	switch w.cellType {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(string(w.val)))
		if err != nil {
			return ""
		}
		return w.strs.get(i)
	case "b":
		switch strings.TrimSpace(string(w.val)) {
		case "1":
			return "TRUE"
		case "0":
			return "FALSE"
		}
	}
	if len(w.inline) > 0 {
		return string(w.inline)
	}
	return string(w.val)
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// appendCapped appends as much of src as keeps dst within max bytes,
// cutting on a rune boundary.
func appendCapped(dst, src []byte, max int) []byte {
	room := max - len(dst)
	if room <= 0 {
		return dst
	}
	if len(src) <= room {
		return append(dst, src...)
	}
	cut := room
	for cut > 0 && !utf8.RuneStart(src[cut]) {
		cut--
	}
	return append(dst, src[:cut]...)
}
