package textindex

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token is one position of analyzed text.
type Token struct {
	Term       string // normalized: a word, a number or one CJK character
	Start, End int    // byte span in the original text (several tokens may share one, e.g. ㍿ → 株式会社)
	CJK        bool
	// Join reports that the next token is a CJK character joined to this
	// one (only horizontal white space between): Term+next is a bigram.
	Join bool
}

// class of a normalized character.
type class uint8

const (
	clsSep    class = iota // punctuation, symbols, line breaks: end a run
	clsSpace               // horizontal white space: separates words, joins CJK
	clsLetter              // letters and combining marks of alphabetic scripts
	clsDigit
	clsCJK
)

func classify(r rune) class {
	switch {
	case r < 0x80:
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			return clsLetter
		case r >= '0' && r <= '9':
			return clsDigit
		case r == ' ' || r == '\t':
			return clsSpace
		}
		return clsSep
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF:
		return clsCJK
	case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
		return clsCJK
	case unicode.IsLetter(r), unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me):
		return clsLetter
	case unicode.IsDigit(r):
		return clsDigit
	case r == 0x85 || r == 0x2028 || r == 0x2029:
		return clsSep
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsSep
}

// unit is one normalized character and the original span it came from.
type unit struct {
	r          rune
	start, end int // original bytes
	cls        class
}

// Analyzer holds reusable buffers. The zero value is ready; it is not safe
// for concurrent use (use one per goroutine, or the package functions).
type Analyzer struct {
	units []unit
	word  []byte
	toks  []Token
	cache map[rune]*normEntry // per character: its normalized, folded units
	strs  map[rune]string     // CJK characters as strings, allocated once
}

func (a *Analyzer) runeString(r rune) string {
	if s, ok := a.strs[r]; ok {
		return s
	}
	if a.strs == nil {
		a.strs = map[rune]string{}
	}
	s := string(r)
	if len(a.strs) < 1<<16 {
		a.strs[r] = s
	}
	return s
}

// normEntry is what one character becomes when it stands alone.
type normEntry struct {
	boundary bool // NFKC never combines it with what precedes it
	units    []unit
}

// normalize fills a.units from text: NFKC, case fold, traditional →
// simplified. Format characters (zero-width space, soft hyphen, BOM…) are
// dropped as if absent, so they cannot split a word or a Chinese run.
func (a *Analyzer) normalize(text string) {
	if a.normalizeFast(text) {
		return
	}
	a.normalizeSlow(text)
}

// normalizeFast handles text in which every character starts its own
// normalization segment (no combining marks, no conjoining jamo — nearly
// all chat text): NFKC of the text is then the NFKC of each character, so
// each character's result is looked up, computed once per Analyzer. It
// reports false, leaving the rest to normalizeSlow, otherwise.
func (a *Analyzer) normalizeFast(text string) bool {
	a.units = a.units[:0]
	for i := 0; i < len(text); {
		c := text[i]
		if c < 0x80 {
			r := rune(c)
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			a.units = append(a.units, unit{r, i, i + 1, classify(r)})
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		e := a.entry(r)
		if !e.boundary {
			return false
		}
		for _, u := range e.units {
			u.start, u.end = i, i+n
			a.units = append(a.units, u)
		}
		i += n
	}
	return true
}

func (a *Analyzer) entry(r rune) *normEntry {
	if e, ok := a.cache[r]; ok {
		return e
	}
	if a.cache == nil {
		a.cache = map[rune]*normEntry{}
	}
	s := string(r)
	// The character must not combine with what precedes it, and neither
	// may what it turns into (ㅏ becomes a conjoining vowel that composes
	// with a preceding ㄱ into 가).
	out := norm.NFKC.String(s)
	e := &normEntry{boundary: r != utf8.RuneError && norm.NFKC.PropertiesString(s).BoundaryBefore() &&
		(out == "" || norm.NFKC.PropertiesString(out).BoundaryBefore())}
	if e.boundary {
		saved := a.units
		a.units = nil
		a.normalizeSlow(s)
		e.units = a.units
		a.units = saved
	}
	if len(a.cache) < 1<<16 { // bounded: adversarial text cannot grow it forever
		a.cache[r] = e
	}
	return e
}

// normalizeSlow runs the NFKC iterator over the whole text.
func (a *Analyzer) normalizeSlow(text string) {
	a.units = a.units[:0]
	ft := fold()
	var it norm.Iter
	it.InitString(norm.NFKC, text)
	pending, pendStart := -1, 0 // units produced before their input was consumed
	for !it.Done() {
		start := it.Pos()
		seg := it.Next()
		end := it.Pos()
		if end == start {
			// A long expansion (㍿ → 株式会社) can arrive in pieces, the
			// input consumed only with the last one: give every piece the
			// span of the whole original character.
			if pending < 0 {
				pending, pendStart = len(a.units), start
			}
		} else if pending >= 0 {
			for k := pending; k < len(a.units); k++ {
				a.units[k].start, a.units[k].end = pendStart, end
			}
			start, pending = pendStart, -1
		}
		same := len(seg) == end-start && string(seg) == text[start:end]
		off := start
		for i := 0; i < len(seg); {
			r, n := utf8.DecodeRune(seg[i:])
			i += n
			s, e := start, end
			if same {
				s, e = off, off+n
				off += n
			}
			a.emit(r, s, e, ft)
		}
	}
}

func (a *Analyzer) emit(r rune, s, e int, ft map[rune]rune) {
	if r < 0x80 {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		a.units = append(a.units, unit{r, s, e, classify(r)})
		return
	}
	switch r {
	case 'ß', 'ẞ':
		a.units = append(a.units, unit{'s', s, e, clsLetter}, unit{'s', s, e, clsLetter})
		return
	case 'ς':
		r = 'σ'
	case utf8.RuneError:
		a.units = append(a.units, unit{r, s, e, clsSep})
		return
	}
	if unicode.Is(unicode.Cf, r) {
		return
	}
	r = unicode.ToLower(r)
	if f, ok := ft[r]; ok {
		r = f
	}
	a.units = append(a.units, unit{r, s, e, classify(r)})
}

// Tokens analyzes text. The returned slice is reused by the next call.
func (a *Analyzer) Tokens(text string) []Token {
	a.normalize(text)
	a.toks = a.toks[:0]
	u := a.units
	for i := 0; i < len(u); {
		switch u[i].cls {
		case clsCJK:
			t := Token{Term: a.runeString(u[i].r), Start: u[i].start, End: u[i].end, CJK: true}
			j := i + 1
			for j < len(u) && u[j].cls == clsSpace {
				j++
			}
			t.Join = j < len(u) && u[j].cls == clsCJK
			a.toks = append(a.toks, t)
			i++
		case clsLetter:
			j := i
			a.word = a.word[:0]
			for j < len(u) && u[j].cls == clsLetter {
				a.word = utf8.AppendRune(a.word, u[j].r)
				j++
			}
			a.toks = append(a.toks, Token{Term: string(a.word), Start: u[i].start, End: u[j-1].end})
			i = j
		case clsDigit:
			j := i
			a.word = a.word[:0]
			for j < len(u) {
				c := u[j]
				if c.cls == clsDigit {
					a.word = utf8.AppendRune(a.word, c.r)
					j++
					continue
				}
				// A decimal point between digits stays; a thousands
				// separator (a comma before exactly three digits) goes.
				if c.r == '.' && j+1 < len(u) && u[j+1].cls == clsDigit {
					a.word = append(a.word, '.')
					j++
					continue
				}
				if c.r == ',' && thousands(u, j+1) {
					j++
					continue
				}
				break
			}
			a.toks = append(a.toks, Token{Term: string(a.word), Start: u[i].start, End: u[j-1].end})
			i = j
		default:
			i++
		}
	}
	return a.toks
}

// thousands reports whether exactly three digits start at u[i], not followed
// by another digit.
func thousands(u []unit, i int) bool {
	if i+3 > len(u) {
		return false
	}
	for k := i; k < i+3; k++ {
		if u[k].cls != clsDigit {
			return false
		}
	}
	return i+3 == len(u) || u[i+3].cls != clsDigit
}

// AppendIndexTerms appends the index terms of text, one per position,
// separated by single spaces (the form the full-text index stores), and
// returns the extended buffer.
func (a *Analyzer) AppendIndexTerms(dst []byte, text string) []byte {
	toks := a.Tokens(text)
	for i, t := range toks {
		if len(dst) > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, t.Term...)
		if t.Join && i+1 < len(toks) {
			dst = append(dst, toks[i+1].Term...)
		}
	}
	return dst
}

// Normalize returns text as the analyzer sees it (NFKC, folded), for
// display in diagnostics and for exact-match helpers.
func (a *Analyzer) Normalize(text string) string {
	a.normalize(text)
	b := make([]byte, 0, len(text))
	for _, u := range a.units {
		b = utf8.AppendRune(b, u.r)
	}
	return string(b)
}

// NormalizeMapped is Normalize with, for every byte of the normalized text,
// the byte span [start, end) of the original text it came from, so a match
// found in normalized text (a policy's regular expression) can be shown
// where it is in the original.
func (a *Analyzer) NormalizeMapped(text string) (norm string, start, end []int) {
	a.normalize(text)
	b := make([]byte, 0, len(text))
	for _, u := range a.units {
		n := len(b)
		b = utf8.AppendRune(b, u.r)
		for range len(b) - n {
			start, end = append(start, u.start), append(end, u.end)
		}
	}
	return string(b), start, end
}
