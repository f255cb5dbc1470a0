package textindex

import "strings"

// Doc is a message as the brute-force matcher sees it.
type Doc struct {
	// Texts are matched separately (a phrase never spans two): the message
	// text, then each attachment's extracted text.
	Texts []string
	// Field evaluates a filter on the message's metadata.
	Field func(f *Field) bool
}

// Matcher evaluates a query against one document at a time by scanning its
// text: the reference the full-text index is tested and benchmarked
// against. It is slow by design and never misses what the rules say.
type Matcher struct {
	q     Node
	an    Analyzer
	terms [][]string // per text of the current document
	set   map[string]bool
	// alts caches each text node's patterns (its own and its plural
	// variants'): a matcher kept for many documents (a policy's rule)
	// builds them once. A Matcher is not safe for concurrent use.
	alts map[*Text][][]PatternTerm
}

func (m *Matcher) patterns(t *Text) [][]PatternTerm {
	if a, ok := m.alts[t]; ok {
		return a
	}
	a := [][]PatternTerm{t.Pattern(true)}
	for _, v := range t.Variants() {
		a = append(a, []PatternTerm{{Term: v}})
	}
	if m.alts == nil {
		m.alts = map[*Text][][]PatternTerm{}
	}
	m.alts[t] = a
	return a
}

// absent reports whether a pattern cannot occur in the prepared document:
// one of its exact terms is not in it (most lexicon terms are not in most
// messages, and a set lookup is cheaper than a scan).
func (m *Matcher) absent(pat []PatternTerm) bool {
	if m.set == nil {
		return false
	}
	for _, pt := range pat {
		if !pt.Prefix && !m.set[pt.Term] {
			return true
		}
	}
	return false
}

// NewMatcher prepares q.
func NewMatcher(q Node) *Matcher { return &Matcher{q: q} }

// Match reports whether d matches the query.
func (m *Matcher) Match(d *Doc) bool {
	m.terms = m.terms[:0]
	for _, t := range d.Texts {
		m.terms = append(m.terms, docTerms(m.an.Tokens(t)))
	}
	return m.eval(m.q, d)
}

func (m *Matcher) eval(n Node, d *Doc) bool {
	switch n := n.(type) {
	case *And:
		for _, c := range n.Nodes {
			if !m.eval(c, d) {
				return false
			}
		}
		return true
	case *Or:
		for _, c := range n.Nodes {
			if m.eval(c, d) {
				return true
			}
		}
		return false
	case *Not:
		return !m.eval(n.Node, d)
	case *Field:
		return d.Field != nil && d.Field(n)
	case *Text:
		alts := m.patterns(n)
		for _, pat := range alts {
			if m.absent(pat) {
				continue
			}
			for _, terms := range m.terms {
				for p := range terms {
					if matchAt(pat, terms, p) {
						return true
					}
				}
			}
		}
		return false
	case *Near:
		for _, t := range n.Texts {
			if m.absent(m.patterns(t)[0]) {
				return false
			}
		}
		for _, terms := range m.terms {
			occ := make([][]int, len(n.Texts))
			for i, t := range n.Texts {
				occ[i] = exactOccurrencesOf(m.patterns(t)[0], terms)
			}
			if len(nearHits(n, occ)) > 0 {
				return true
			}
		}
		return false
	}
	return false
}

// exactOccurrences is occurrences without plural variants (NEAR takes its
// terms exactly, as the index does).
func exactOccurrences(t *Text, terms []string) []int {
	return exactOccurrencesOf(t.Pattern(true), terms)
}

func exactOccurrencesOf(pat []PatternTerm, terms []string) []int {
	var out []int
	for p := range terms {
		if matchAt(pat, terms, p) {
			out = append(out, p)
		}
	}
	return out
}

// Prepared is a document analyzed once, for evaluating many queries
// against it (a message against every rule of every policy).
type Prepared struct {
	doc   *Doc
	terms [][]string
	set   map[string]bool // every term of every text
}

// Prepare analyzes d's texts.
func Prepare(d *Doc) *Prepared {
	var an Analyzer
	return an.Prepare(d)
}

// Prepare analyzes d's texts with a, whose caches stay warm from one
// document to the next.
func (an *Analyzer) Prepare(d *Doc) *Prepared {
	p := &Prepared{doc: d}
	p.set = map[string]bool{}
	for _, t := range d.Texts {
		terms := docTerms(an.Tokens(t))
		p.terms = append(p.terms, terms)
		for _, term := range terms {
			p.set[term] = true
		}
	}
	return p
}

// PrepareIndexed is Prepare for texts whose index terms are already known
// (AppendIndexTerms output, one string per text: the engine computes them
// for the full-text index), so they need not be analyzed again. terms[i]
// must be the index terms of d.Texts[i].
func PrepareIndexed(d *Doc, terms []string) *Prepared {
	p := &Prepared{doc: d, set: map[string]bool{}}
	for _, t := range terms {
		var ts []string
		if t != "" {
			ts = strings.Split(t, " ")
		}
		p.terms = append(p.terms, ts)
		for _, term := range ts {
			p.set[term] = true
		}
	}
	return p
}

// WithField returns the prepared document with another metadata filter
// (the analysis is shared, not copied).
func (p *Prepared) WithField(f func(*Field) bool) *Prepared {
	d := *p.doc
	d.Field = f
	return &Prepared{doc: &d, terms: p.terms, set: p.set}
}

// MatchPrepared is Match on a prepared document.
func (m *Matcher) MatchPrepared(p *Prepared) bool {
	m.terms, m.set = p.terms, p.set
	ok := m.eval(m.q, p.doc)
	m.terms, m.set = nil, nil // never append into the prepared document's slice
	return ok
}
