package textindex

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
		for _, terms := range m.terms {
			if len(occurrences(n, terms)) > 0 {
				return true
			}
		}
		return false
	case *Near:
		for _, terms := range m.terms {
			occ := make([][]int, len(n.Texts))
			for i, t := range n.Texts {
				occ[i] = exactOccurrences(t, terms)
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
	pat := t.Pattern(true)
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
}

// Prepare analyzes d's texts.
func Prepare(d *Doc) *Prepared {
	var an Analyzer
	p := &Prepared{doc: d}
	for _, t := range d.Texts {
		p.terms = append(p.terms, docTerms(an.Tokens(t)))
	}
	return p
}

// MatchPrepared is Match on a prepared document.
func (m *Matcher) MatchPrepared(p *Prepared) bool {
	m.terms = p.terms
	ok := m.eval(m.q, p.doc)
	m.terms = nil // never append into the prepared document's slice
	return ok
}
