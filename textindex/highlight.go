package textindex

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Span is a byte range [Start, End) of a text.
type Span struct{ Start, End int }

// Highlighter finds where the positive parts of a query (terms, phrases,
// NEAR groups not under a NOT) occur in a text. It applies the same rules
// as the index, so every search result has its hits marked.
type Highlighter struct {
	texts []*Text // terms and phrases
	nears []*Near
	an    Analyzer
}

// NewHighlighter collects the positive parts of q.
func NewHighlighter(q Node) *Highlighter {
	h := &Highlighter{}
	h.collect(q)
	return h
}

func (h *Highlighter) collect(n Node) {
	switch n := n.(type) {
	case *And:
		for _, c := range n.Nodes {
			h.collect(c)
		}
	case *Or:
		for _, c := range n.Nodes {
			h.collect(c)
		}
	case *Text:
		h.texts = append(h.texts, n)
	case *Near:
		h.nears = append(h.nears, n)
	}
}

// Empty reports whether the query has nothing to highlight (only filters).
func (h *Highlighter) Empty() bool { return len(h.texts) == 0 && len(h.nears) == 0 }

// docTerms returns the index term at each position.
func docTerms(toks []Token) []string {
	terms := make([]string, len(toks))
	for i, t := range toks {
		terms[i] = t.Term
		if t.Join && i+1 < len(toks) {
			terms[i] = t.Term + toks[i+1].Term
		}
	}
	return terms
}

// occurrences returns the positions where t starts.
func occurrences(t *Text, terms []string) []int {
	var out []int
	alts := [][]PatternTerm{t.Pattern(true)}
	for _, v := range t.Variants() {
		alts = append(alts, []PatternTerm{{Term: v}})
	}
	for p := range terms {
		for _, pat := range alts {
			if matchAt(pat, terms, p) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func matchAt(pat []PatternTerm, terms []string, p int) bool {
	if p+len(pat) > len(terms) {
		return false
	}
	for i, pt := range pat {
		d := terms[p+i]
		if pt.Prefix {
			if !strings.HasPrefix(d, pt.Term) {
				return false
			}
		} else if d != pt.Term {
			return false
		}
	}
	return true
}

// Spans returns the merged, sorted byte spans of text that match.
func (h *Highlighter) Spans(text string) []Span {
	toks := h.an.Tokens(text)
	if len(toks) == 0 {
		return nil
	}
	terms := docTerms(toks)
	var spans []Span
	add := func(p, n int) {
		spans = append(spans, Span{toks[p].Start, toks[p+n-1].End})
	}
	for _, t := range h.texts {
		for _, p := range occurrences(t, terms) {
			add(p, len(t.Tokens))
		}
	}
	for _, nr := range h.nears {
		occ := make([][]int, len(nr.Texts))
		for i, t := range nr.Texts {
			occ[i] = exactOccurrences(t, terms)
		}
		for _, hit := range nearHits(nr, occ) {
			add(hit[1], len(nr.Texts[hit[0]].Tokens))
		}
	}
	return merge(spans)
}

// nearHits returns the (phrase, position) instances that take part in a
// NEAR match. The rule is FTS5's: some instance of each phrase, where every
// phrase ends at most Distance positions before the latest-starting one
// starts (instances may overlap).
func nearHits(nr *Near, occ [][]int) [][2]int {
	var hits [][2]int
	seen := map[[2]int]bool{}
	for _, starts := range occ {
		for _, m := range starts { // m: the latest start of a clump
			var clump [][2]int
			ok := true
			for i, t := range nr.Texts {
				lo := m - len(t.Tokens) - nr.Distance
				found := false
				for _, p := range occ[i] {
					if p >= lo && p <= m {
						clump = append(clump, [2]int{i, p})
						found = true
					}
				}
				if !found {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			for _, h := range clump {
				if !seen[h] {
					seen[h] = true
					hits = append(hits, h)
				}
			}
		}
	}
	return hits
}

func merge(spans []Span) []Span {
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(a, b int) bool {
		return spans[a].Start < spans[b].Start || (spans[a].Start == spans[b].Start && spans[a].End > spans[b].End)
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.Start <= last.End {
			if s.End > last.End {
				last.End = s.End
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// LiteralSpans returns the spans where lit occurs in text (exact mode).
func LiteralSpans(text, lit string) []Span {
	var out []Span
	if lit == "" {
		return nil
	}
	for i := 0; ; {
		j := strings.Index(text[i:], lit)
		if j < 0 {
			return out
		}
		out = append(out, Span{i + j, i + j + len(lit)})
		i += j + len(lit)
	}
}

// Snippet cuts a window of at most width characters around the first span
// and returns it with the spans inside it as character (code point)
// offsets into the snippet. Ellipses mark cut ends. Line breaks become
// spaces so a snippet fits one line.
func Snippet(text string, spans []Span, width int) (string, [][2]int) {
	if width <= 0 {
		width = 80
	}
	total := utf8.RuneCountInString(text)
	start, end := 0, len(text)
	if total > width {
		// Start a little before the first hit: a quarter of the width.
		first := 0
		if len(spans) > 0 {
			first = utf8.RuneCountInString(text[:spans[0].Start])
		}
		from := first - width/4
		if from < 0 {
			from = 0
		}
		if from+width > total {
			from = total - width
		}
		start = byteOffset(text, 0, from)
		end = byteOffset(text, start, width)
	}
	var b strings.Builder
	prefix := 0
	if start > 0 {
		b.WriteString("…")
		prefix = 1
	}
	for _, r := range text[start:end] {
		if r == '\n' || r == '\r' || r == '\t' {
			r = ' '
		}
		b.WriteRune(r)
	}
	if end < len(text) {
		b.WriteString("…")
	}
	var hl [][2]int
	for _, s := range spans {
		if s.End <= start || s.Start >= end {
			continue
		}
		ss, se := max(s.Start, start), min(s.End, end)
		a := prefix + utf8.RuneCountInString(text[start:ss])
		hl = append(hl, [2]int{a, a + utf8.RuneCountInString(text[ss:se])})
	}
	return b.String(), hl
}

// byteOffset advances n characters from byte offset from.
func byteOffset(s string, from, n int) int {
	i := from
	for ; n > 0 && i < len(s); n-- {
		_, sz := utf8.DecodeRuneInString(s[i:])
		i += sz
	}
	return i
}
