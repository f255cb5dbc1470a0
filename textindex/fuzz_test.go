package textindex

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"保本", "保本 收益", `"保本 收益"`, "保本 OR guarantee", "-保本 from:zhangwei", "(a OR b) NOT c",
	"a NEAR/3 b", "guarant* T+0 Ａ股", "after:2026-07-01 before:2026/08/01", "on:2026-10-01",
	`from:"David Lee" to:x`, "type:text has:attachment", "recalled:true direction:inbound",
	"((((", "))))", `"""`, "NEAR/", "-", "- -", "㍿ ①", "a\u200bb", "保\u3000本",
}

// FuzzParse: no input panics; an error is a *SyntaxError pointing inside
// the query; a parsed query renders and its texts have tokens.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q, ParseOptions{})
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", q, err)
			}
			if se.Pos < 0 || se.Pos > len(q) || se.Column < 1 || se.Column > utf8.RuneCountInString(q)+1 {
				t.Fatalf("Parse(%q): position %d column %d outside the query", q, se.Pos, se.Column)
			}
			return
		}
		if n.String() == "" {
			t.Fatalf("Parse(%q) renders empty", q)
		}
		var walk func(Node)
		walk = func(n Node) {
			switch n := n.(type) {
			case *And:
				for _, c := range n.Nodes {
					walk(c)
				}
			case *Or:
				for _, c := range n.Nodes {
					walk(c)
				}
			case *Not:
				walk(n.Node)
			case *Near:
				for _, c := range n.Texts {
					walk(c)
				}
			case *Text:
				if len(n.Tokens) == 0 || len(n.Pattern(false)) == 0 || len(n.Pattern(true)) != len(n.Tokens) {
					t.Fatalf("Parse(%q): text %q has tokens %v, patterns %v / %v", q, n.Raw, n.Tokens, n.Pattern(false), n.Pattern(true))
				}
			}
		}
		walk(n)
		NewHighlighter(n).Spans(q)
	})
}

// FuzzTokens: spans lie inside the text in order; index terms are
// space-separated and free of ASCII punctuation other than '.'.
func FuzzTokens(f *testing.F) {
	for _, s := range append(fuzzSeeds, "这款产品保本保息，年化收益8%。", "1,000.50", "ΣΊΣΥΦΟΣ Straße", "cafe\u0301") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var a Analyzer
		toks := a.Tokens(text)
		last := 0
		for _, tk := range toks {
			if tk.Start < last || tk.End < tk.Start || tk.End > len(text) || tk.Term == "" {
				t.Fatalf("Tokens(%q): bad token %+v after offset %d", text, tk, last)
			}
			last = tk.Start
		}
		terms := string(a.AppendIndexTerms(nil, text))
		for _, term := range strings.Split(terms, " ") {
			if term == "" && terms != "" {
				t.Fatalf("AppendIndexTerms(%q) = %q has an empty term", text, terms)
			}
			for _, c := range []byte(term) {
				if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.') {
					t.Fatalf("AppendIndexTerms(%q) = %q: term %q holds %q", text, terms, term, c)
				}
			}
		}
		if n := len(toks); n > 0 && len(strings.Split(terms, " ")) != n {
			t.Fatalf("AppendIndexTerms(%q) = %q: not one term per token (%d)", text, terms, n)
		}
		spans := (&Highlighter{texts: nil}).Spans(text)
		_ = spans
		snip, hl := Snippet(text, []Span{{0, len(text)}}, 20)
		if n := utf8.RuneCountInString(snip); n > 22 {
			t.Fatalf("Snippet(%q) has %d characters", text, n)
		}
		for _, h := range hl {
			if h[0] < 0 || h[1] < h[0] || h[1] > utf8.RuneCountInString(snip) {
				t.Fatalf("Snippet(%q) highlight %v outside %q", text, h, snip)
			}
		}
	})
}

// FuzzNormalize: the fast path agrees with the NFKC iterator.
func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fast, slow Analyzer
		if !fast.normalizeFast(s) {
			return
		}
		slow.normalizeSlow(s)
		if len(fast.units) != len(slow.units) {
			t.Fatalf("%q: fast %v, slow %v", s, fast.units, slow.units)
		}
		for i := range fast.units {
			if fast.units[i] != slow.units[i] {
				t.Fatalf("%q: fast %v, slow %v", s, fast.units, slow.units)
			}
		}
	})
}
