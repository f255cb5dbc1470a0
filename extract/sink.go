package extract

import (
	"strings"
	"unicode/utf8"
)

// sepLevel is a pending separator; a stronger one absorbs weaker ones, so
// an empty cell or paragraph does not leave runs of tabs or blank lines.
type sepLevel uint8

const (
	sepNone sepLevel = iota
	sepTab
	sepNewline
)

// sink accumulates output text up to a byte limit. Once text had to be
// dropped it is full and extractors stop reading: there is no point in
// inflating the rest of a document nobody will index.
type sink struct {
	b         []byte
	max       int
	pending   sepLevel
	truncated bool
}

func newSink(max int) *sink { return &sink{max: max} }

// sep asks for a separator before the next text. Separators are never
// written at the start or end of the output.
func (s *sink) sep(l sepLevel) {
	if l > s.pending {
		s.pending = l
	}
}

// text appends t, preceded by any pending separator.
func (s *sink) text(t string) {
	if t == "" || s.truncated {
		return
	}
	if s.pending != sepNone && len(s.b) > 0 {
		sep := "\t"
		if s.pending == sepNewline {
			sep = "\n"
		}
		// A separator is only worth writing with some text after it;
		// truncated output must not end in a dangling tab.
		_, first := utf8.DecodeRuneInString(t)
		if len(s.b)+len(sep)+first > s.max {
			s.truncated = true
			return
		}
		s.put(sep)
	}
	s.pending = sepNone
	s.put(t)
}

// put appends t verbatim, cutting it on a rune boundary if it does not fit.
func (s *sink) put(t string) {
	if s.truncated {
		return
	}
	if !utf8.ValidString(t) {
		t = strings.ToValidUTF8(t, "\uFFFD")
	}
	room := s.max - len(s.b)
	if len(t) <= room {
		s.b = append(s.b, t...)
		return
	}
	cut := room
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	s.b = append(s.b, t[:cut]...)
	s.truncated = true
}

func (s *sink) full() bool { return s.truncated }

func (s *sink) reset() {
	s.b, s.pending, s.truncated = s.b[:0], sepNone, false
}

func (s *sink) result(format string) Result {
	return Result{Text: string(s.b), Truncated: s.truncated, Format: format}
}
