package textindex

import "strings"

// PatternTerm is what one position of a phrase must hold in the index.
type PatternTerm struct {
	Term   string
	Prefix bool // any index term starting with Term
}

// Pattern returns the index terms a Text must match at consecutive
// positions. A CJK character joined to the next one in the query becomes
// their bigram; a CJK character the query ends on is a prefix (the text may
// go on with another CJK character, making the index term a bigram); a CJK
// character followed by a word or by punctuation must stand alone in the
// text too.
//
// With full=false the last CJK character of a joined pair is dropped (the
// bigram before it already requires it), which makes 保本 one index term
// instead of two; full=true keeps one pattern term per position, which NEAR
// needs to count distances exactly.
func (t *Text) Pattern(full bool) []PatternTerm {
	q := t.Tokens
	n := len(q)
	out := make([]PatternTerm, 0, n)
	for i, tok := range q {
		switch {
		case !tok.CJK:
			out = append(out, PatternTerm{Term: tok.Term, Prefix: i == n-1 && t.Prefix})
		case tok.Join && i+1 < n:
			out = append(out, PatternTerm{Term: tok.Term + q[i+1].Term})
		case i == n-1:
			if !full && i > 0 && q[i-1].CJK && q[i-1].Join {
				continue
			}
			out = append(out, PatternTerm{Term: tok.Term, Prefix: true})
		default:
			out = append(out, PatternTerm{Term: tok.Term})
		}
	}
	return out
}

// Variants returns the alternative single terms a bare English word also
// matches: its regular plural or singular (guarantee ↔ guarantees, policy ↔
// policies, box ↔ boxes). Quoted phrases, prefixes, multi-token terms,
// numbers and words under three letters match exactly and have none.
// docs/SEARCH.md lists the rules; irregular plurals are not folded.
func (t *Text) Variants() []string {
	if t.Quoted || t.Prefix || len(t.Tokens) != 1 || t.Tokens[0].CJK {
		return nil
	}
	w := t.Tokens[0].Term
	if len(w) < 3 {
		return nil
	}
	for _, c := range []byte(w) {
		if c < 'a' || c > 'z' {
			return nil
		}
	}
	return englishNumber(w)
}

func englishNumber(w string) []string {
	consonantY := func(s string) bool {
		return len(s) >= 2 && s[len(s)-1] == 'y' && !strings.ContainsRune("aeiou", rune(s[len(s)-2]))
	}
	sibilant := func(s string) bool {
		return strings.HasSuffix(s, "s") || strings.HasSuffix(s, "x") || strings.HasSuffix(s, "z") ||
			strings.HasSuffix(s, "ch") || strings.HasSuffix(s, "sh")
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return []string{w[:len(w)-3] + "y"}
	case strings.HasSuffix(w, "es") && sibilant(w[:len(w)-2]) && len(w) > 4:
		return []string{w[:len(w)-2], w[:len(w)-1]}
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return []string{w + "es"}
	case strings.HasSuffix(w, "s"):
		return []string{w[:len(w)-1]}
	case consonantY(w):
		return []string{w[:len(w)-1] + "ies"}
	case sibilant(w):
		return []string{w + "es"}
	}
	return []string{w + "s"}
}
