package textindex

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/textindex/internal/t2sdata"
)

// TestFoldTableIsCurrent regenerates the table from OpenCC's dictionary
// files when OPENCC_DICT names their directory (an OpenCC checkout's
// data/dictionary) and compares.
func TestFoldTableIsCurrent(t *testing.T) {
	dir := os.Getenv("OPENCC_DICT")
	if dir == "" {
		t.Skip("OPENCC_DICT is not set: the committed table is checked by TestFoldPairs only")
	}
	want, err := t2sdata.Derive(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(foldTable) {
		t.Fatalf("t2s_table.go has %d pairs, OpenCC gives %d: run go generate ./textindex", len(foldTable), len(want))
	}
	for r, s := range want {
		if foldTable[r] != s {
			t.Fatalf("t2s_table.go maps %c to %c, OpenCC to %c: run go generate ./textindex", r, foldTable[r], s)
		}
	}
}

func TestFoldPairs(t *testing.T) {
	if n := len(foldTable); n < 4000 {
		t.Fatalf("fold table has %d pairs, want the ~4100 of OpenCC", n)
	}
	for _, p := range []string{"證证", "們们", "買买", "價价", "業业", "績绩", "過过", "來来", "灣湾", "臺台", "號号", "內内",
		"裏里", "著着", "髮发", "於于", "衝冲", "纔才", "隻只", "穩稳", "賺赚", "賠赔", "產产", "這这", "個个", "請请"} {
		r := []rune(p)
		if got := foldTable[r[0]]; got != r[1] {
			t.Errorf("%c folds to %q, want %c", r[0], got, r[1])
		}
	}
	for _, r := range "保本收益台里只发后干" { // simplified (or shared) characters stay
		if f, ok := foldTable[r]; ok {
			t.Errorf("simplified %c folds to %c", r, f)
		}
	}
}

func TestFoldIsIdempotent(t *testing.T) {
	for r, s := range foldTable {
		if f, ok := foldTable[s]; ok {
			t.Errorf("%c folds to %c, which folds again to %c", r, s, f)
		}
	}
}

func terms(s string) string {
	var a Analyzer
	return string(a.AppendIndexTerms(nil, s))
}

func TestIndexTerms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"保本", "保本 本"},
		{"保证收益", "保证 证收 收益 益"},
		{"保證收益", "保证 证收 收益 益"},
		{"保 本", "保本 本"},                           // horizontal space joins CJK
		{"保\u3000本", "保本 本"},                      // ideographic space too
		{"保\u200b本", "保本 本"},                      // zero-width space is ignored
		{"保，本", "保 本"},                            // punctuation ends a run
		{"保\n本", "保 本"},                           // so does a line break
		{"A股", "a 股"},                             // words never join CJK
		{"Ａ股５Ｇ", "a 股 5 g"},                       // full width → half width; letters and digits split
		{"T+0", "t 0"},                            //
		{"iPhone15", "iphone 15"},                 //
		{"1,000.50元", "1000.50 元"},                // thousands separator dropped, decimal kept
		{"1,2,3", "1 2 3"},                        // not a thousands separator
		{"12,3456", "12 3456"},                    //
		{"3.5%", "3.5"},                           //
		{"v1.2.3", "v 1.2.3"},                     //
		{"Straße", "strasse"},                     //
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},                    // final sigma folds with sigma
		{"cafe\u0301", "café"},                    // NFKC composes
		{"㍿", "株式 式会 会社 社"},                       // NFKC expands
		{"ﬁnance", "finance"},                     // ligature
		{"①②", "12"},                              // NFKC makes them adjacent digits
		{"台灣的臺北", "台湾 湾的 的台 台北 北"},                // 臺 and 台 are one character after folding
		{"こんにちは", "こん んに にち ちは は"},                // kana are CJK
		{"한국어", "한국 국어 어"},                        // so is Hangul
		{"", ""},                                  //
		{"!!!，。", ""},                             //
		{"don't", "don t"},                        //
		{"Hello, World", "hello world"},           //
		{"e-mail: a.b@c.com", "e mail a b c com"}, // a dot between letters is not kept
	} {
		if got := terms(tc.in); got != tc.want {
			t.Errorf("terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTokenSpans(t *testing.T) {
	var a Analyzer
	in := "保證 ＡＢＣ,㍿\u200bx"
	var got []string
	for _, tk := range a.Tokens(in) {
		got = append(got, fmt.Sprintf("%s=%q", tk.Term, in[tk.Start:tk.End]))
	}
	want := []string{`保="保"`, `证="證"`, `abc="ＡＢＣ"`, `株="㍿"`, `式="㍿"`, `会="㍿"`, `社="㍿"`, `x="x"`}
	if !slices.Equal(got, want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		q     string
		short string // Pattern(false)
		full  string // Pattern(true)
	}{
		{"保", "保*", "保*"},
		{"保本", "保本", "保本 本*"},
		{"保本收益", "保本 本收 收益", "保本 本收 收益 益*"},
		{"A股", "a 股*", "a 股*"},
		{"股A", "股 a", "股 a"},
		{"保，本", "保 本*", "保 本*"},
		{"5G手机", "5 g 手机", "5 g 手机 机*"},
		{"guarant*", "guarant*", "guarant*"},
		{`"保本 收益"`, "保本 本收 收益", "保本 本收 收益 益*"},
	} {
		n, err := Parse(tc.q, ParseOptions{})
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		txt := n.(*Text)
		render := func(p []PatternTerm) string {
			var s []string
			for _, pt := range p {
				if pt.Prefix {
					s = append(s, pt.Term+"*")
				} else {
					s = append(s, pt.Term)
				}
			}
			return strings.Join(s, " ")
		}
		if got := render(txt.Pattern(false)); got != tc.short {
			t.Errorf("%q: Pattern(false) = %q, want %q", tc.q, got, tc.short)
		}
		if got := render(txt.Pattern(true)); got != tc.full {
			t.Errorf("%q: Pattern(true) = %q, want %q", tc.q, got, tc.full)
		}
	}
}

func TestVariants(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"guarantee", []string{"guarantees"}},
		{"guarantees", []string{"guarantee"}},
		{"policy", []string{"policies"}},
		{"policies", []string{"policy"}},
		{"box", []string{"boxes"}},
		{"boxes", []string{"box", "boxe"}},
		{"class", []string{"classes"}},
		{"day", []string{"days"}}, // vowel before y
		{"go", nil},               // too short
		{"ipo2", nil},             // not all letters
		{`"guarantee"`, nil},      // quoted
		{"guarantee*", nil},       // prefix
		{"保本", nil},
	} {
		n, err := Parse(tc.q, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.(*Text).Variants(); !slices.Equal(got, tc.want) {
			t.Errorf("Variants(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct{ q, want string }{
		{"保本", `"保 本"`},
		{"保本 收益", `("保 本" AND "收 益")`},
		{"保本 AND 收益", `("保 本" AND "收 益")`},
		{"保本 OR 收益 guarantee", `("保 本" OR ("收 益" AND guarantee))`},
		{"(保本 OR 收益) guarantee", `(("保 本" OR "收 益") AND guarantee)`},
		{"-保本 NOT 收益", `(NOT "保 本" AND NOT "收 益")`},
		{"NOT NOT a", `NOT NOT a`},
		{`"保本 收益"`, `"保 本 收 益"`},
		{`-"a b"`, `NOT "a b"`},
		{"-(a OR b)", `NOT (a OR b)`},
		{"a NEAR/3 b NEAR/3 c", `NEAR/3(a b c)`},
		{"a NEAR b", `NEAR/10(a b)`},
		{"guarant*", `guarant*`},
		{"from:zhangwei type:TEXT", `(from:zhangwei AND type:text)`},
		{`from:"David Lee"`, `from:David Lee`},
		{"http://example.com", `"http example com"`}, // not a field
		{"10:30", `"10 30"`},
		{`"fee:schedule"`, `"fee schedule"`}, // quoted: text with a colon
		{"保本：收益", `"保 本 收 益"`},               // a full-width colon is text
		{"and or", `(and AND or)`},           // lower case are words
		{"a - b", `(a AND b)`},               // a lone - is nothing to find
		{"，保本", `"保 本"`},
		{"recalled:yes", `recalled:true`},
		{"has:attachments", `has:attachment`},
	} {
		n, err := Parse(tc.q, ParseOptions{Location: sh})
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.q, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.q, got, tc.want)
		}
	}
}

func TestParseDates(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	n, err := Parse("on:2026-10-01", ParseOptions{Location: sh})
	if err != nil {
		t.Fatal(err)
	}
	f := n.(*Field)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, sh)
	if f.From != start.UnixMilli() || f.To != start.AddDate(0, 0, 1).UnixMilli() {
		t.Fatalf("on: [%d, %d), want the Shanghai day [%d, %d)", f.From, f.To, start.UnixMilli(), start.AddDate(0, 0, 1).UnixMilli())
	}
	n, _ = Parse("after:2026-07-01T09:30:00Z", ParseOptions{Location: sh})
	if f := n.(*Field); f.From != time.Date(2026, 7, 1, 9, 30, 0, 0, time.UTC).UnixMilli() || f.To != MaxMillis {
		t.Fatalf("after: with a time: %+v", f)
	}
	n, _ = Parse("before:2026/07/02", ParseOptions{})
	if f := n.(*Field); f.To != time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC).UnixMilli() || f.From != MinMillis {
		t.Fatalf("before: %+v", f)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		q    string
		col  int
		want string
	}{
		{"", 1, "empty query"},
		{"   ", 1, "empty query"},
		{`保本 "收益`, 4, "unterminated phrase"},
		{"(保本 OR 收益", 10, "expected ')' to close the '(' at column 1"},
		{"保本)", 3, "unexpected ')'"},
		{"OR 保本", 1, "expected a term"},
		{"保本 OR", 6, "after OR"},
		{"保本 AND", 7, "after AND"},
		{"AND 保本", 1, "before AND"},
		{"保本 NOT", 7, "after NOT"},
		{"保本 NEAR/x 收益", 9, "NEAR/n needs a distance"},
		{"保本 NEAR/5000 收益", 9, "NEAR/n needs a distance"},
		{"保本 NEAR/2 from:x", 11, "expected a term or a phrase after NEAR"},
		{"(a OR b) NEAR c", 1, "NEAR joins terms or phrases"},
		{"a NEAR/2 b NEAR/3 c", 12, "one distance"},
		{"type:bogus", 6, "type: expected a message type"},
		{"after:yesterday", 7, "after: expected a date"},
		{"on:2026-07-01T10:00", 4, "on: expected a date"},
		{"recalled:maybe", 10, "recalled: expected true or false"},
		{"direction:sideways", 11, "direction: expected inbound"},
		{"has:pictures", 5, "has: expected"},
		{"from:", 6, "from: needs a value"},
		{`from:"x`, 6, "unterminated value"},
		// Unknown filters are refused, not searched as words.
		{"保本 form:zhangwei", 4, "unknown filter form: (did you mean from:?)"},
		{"sender:x", 1, "unknown filter sender: (did you mean from:?)"},
		{"date:2026-09-01", 1, "unknown filter date: (did you mean on:?)"},
		{"fee:schedule", 1, `put it in quotes: "fee:schedule"`},
		{"a -Form:x", 4, "unknown filter Form: (did you mean from:?)"},
		{"attachment:pdf", 1, "did you mean has:attachment?"},
		{"-)", 1, "'-' must be followed"},
		{"-，", 1, "'-' must be followed by something"},
		{"a\xffb", 2, "not valid UTF-8"},
		{strings.Repeat("a", MaxQueryBytes+1), MaxQueryBytes + 1, "longer than"},
		{strings.Repeat("a ", MaxQueryNodes+1), 1, "more than"},
		{"()", 2, "expected a term"},
	} {
		_, err := Parse(tc.q, ParseOptions{})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tc.q, err)
			continue
		}
		if se.Column != tc.col || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("Parse(%q): column %d %q, want column %d containing %q", tc.q, se.Column, se.Msg, tc.col, tc.want)
		}
	}
}

func TestHighlight(t *testing.T) {
	for _, tc := range []struct {
		q, text string
		want    []string
	}{
		{"保本", "这款产品保本保息，保 本也算", []string{"保本", "保 本"}},
		{"保證", "我們保證收益", []string{"保證"}},
		{"保本收益", "保本收益型，收益保本", []string{"保本收益"}},
		{"A股", "Ａ股和A股票", []string{"Ａ股", "A股"}},
		{"guarantee", "We GUARANTEE guarantees and guaranteed", []string{"GUARANTEE", "guarantees"}},
		{"guarant*", "guaranteed", []string{"guaranteed"}},
		{`"chat history"`, "chat history, history chat", []string{"chat history"}},
		{"保证 NEAR/2 收益", "保证收益。保证您的年化收益", []string{"保证收益", "保证"}}, // punctuation is not a position: 收益。保证 are adjacent
		{"保本 -收益", "保本收益", []string{"保本"}},
		{"from:x", "保本", nil},
		{"1000", "价格1,000元", []string{"1,000"}},
		{"㍿", "㍿", []string{"㍿"}},
	} {
		n, err := Parse(tc.q, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range NewHighlighter(n).Spans(tc.text) {
			got = append(got, tc.text[s.Start:s.End])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("highlight %q in %q = %q, want %q", tc.q, tc.text, got, tc.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	text := strings.Repeat("前文", 50) + "保本收益" + strings.Repeat("后文", 50)
	start := strings.Index(text, "保本")
	snip, hl := Snippet(text, []Span{{start, start + len("保本")}}, 40)
	if utf8.RuneCountInString(snip) != 42 { // 40 + two ellipses
		t.Fatalf("snippet %q has %d characters", snip, utf8.RuneCountInString(snip))
	}
	if len(hl) != 1 {
		t.Fatalf("highlights %v", hl)
	}
	r := []rune(snip)
	if got := string(r[hl[0][0]:hl[0][1]]); got != "保本" {
		t.Fatalf("highlight covers %q, want 保本 (snippet %q, %v)", got, snip, hl)
	}
	snip, hl = Snippet("短\n文本", nil, 40)
	if snip != "短 文本" || hl != nil {
		t.Fatalf("short text: %q %v", snip, hl)
	}
}

// TestFastNormalizeAgrees: the per-character path gives exactly what the
// NFKC iterator gives, wherever it applies.
func TestFastNormalizeAgrees(t *testing.T) {
	for _, s := range []string{benchText, "保證收益，Ａ股５Ｇ！ ㍿①ﬁ Straße ΣΊΣΥΦΟΣ", "台灣的臺北分行", "こんにちは 한국어", "\u00a0x\u3000y", "a\xffb"} {
		var fast, slow Analyzer
		if !fast.normalizeFast(s) {
			continue
		}
		slow.normalizeSlow(s)
		if !slices.Equal(fast.units, slow.units) {
			t.Errorf("%q: fast %v\nslow %v", s, fast.units, slow.units)
		}
	}
	var a Analyzer
	if a.normalizeFast("cafe\u0301") {
		t.Error("a combining mark must take the slow path")
	}
	if a.normalizeFast("ㄱㅏ") {
		t.Error("compatibility jamo compose under NFKC: they must take the slow path")
	}
	if got := terms("ㄱㅏ"); got != "가" {
		t.Errorf("terms(ㄱㅏ) = %q, want 가", got)
	}
}

func TestNormalizeMapped(t *testing.T) {
	var a Analyzer
	text := "ＡＢ保證 x"
	norm, start, end := a.NormalizeMapped(text)
	if norm != a.Normalize(text) || len(start) != len(norm) || len(end) != len(norm) {
		t.Fatalf("%q: %d starts, %d ends", norm, len(start), len(end))
	}
	i := strings.Index(norm, "保证") // traditional 證 folded to 证
	if i < 0 || text[start[i]:end[i+len("保证")-1]] != "保證" {
		t.Fatalf("normalized %q maps %d..%d to %q", norm, i, i+len("保证"), text[start[i]:end[i+len("保证")-1]])
	}
	if text[start[0]:end[1]] != "ＡＢ" || norm[:2] != "ab" {
		t.Fatalf("full-width letters: %q from %q", norm[:2], text[start[0]:end[1]])
	}
}

// TestMatchPrepared: a prepared document matches as Match does, and stays
// intact across matchers.
func TestMatchPrepared(t *testing.T) {
	d := &Doc{Texts: []string{"这个产品保本保收益", "附件：guaranteed returns"}, Field: func(*Field) bool { return false }}
	p := Prepare(d)
	for _, q := range []string{"保本", "保 本", `"guaranteed return"`, "收益 -保本", "私聊", "保本", "returns"} {
		n, err := Parse(q, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := NewMatcher(n)
		if got, want := m.MatchPrepared(p), NewMatcher(n).Match(d); got != want {
			t.Errorf("%q: prepared %v, plain %v", q, got, want)
		}
		m.Match(&Doc{Texts: []string{"其他文字 other text"}}) // reusing the matcher must not touch p
	}
}

// TestMatchPreparedRandom: a matcher kept across many prepared documents
// (as a policy rule is), with its pattern cache and the documents' term
// sets rejecting early, decides exactly what a fresh scan decides, on
// random documents and queries of words, prefixes, phrases, plurals,
// negation and NEAR.
func TestMatchPreparedRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"保本", "保", "本", "收益", "年化", "私人", "微信", "guarantee", "guarantees", "return", "returns", "box", "boxes", "fee", "5G", "A股", "穩賺", "稳赚"}
	pick := func() string { return words[rng.IntN(len(words))] }
	var docs []*Doc
	for i := 0; i < 300; i++ {
		var texts []string
		for k := 0; k <= rng.IntN(2); k++ {
			var b strings.Builder
			for j := 0; j < 1+rng.IntN(8); j++ {
				b.WriteString(pick())
				if rng.IntN(3) == 0 {
					b.WriteString(" ")
				}
			}
			texts = append(texts, b.String())
		}
		docs = append(docs, &Doc{Texts: texts})
	}
	var queries []string
	for i := 0; i < 200; i++ {
		switch rng.IntN(6) {
		case 0:
			queries = append(queries, pick())
		case 1:
			queries = append(queries, `"`+pick()+" "+pick()+`"`)
		case 2:
			queries = append(queries, pick()+"*")
		case 3:
			queries = append(queries, pick()+" -"+pick())
		case 4:
			queries = append(queries, fmt.Sprintf("%s NEAR/%d %s", pick(), 1+rng.IntN(4), pick()))
		default:
			queries = append(queries, pick()+" OR "+pick()+pick())
		}
	}
	prepared := make([]*Prepared, len(docs))
	for i, d := range docs {
		prepared[i] = Prepare(d)
	}
	for _, q := range queries {
		n, err := Parse(q, ParseOptions{})
		if err != nil {
			continue
		}
		kept := NewMatcher(n)
		for i, d := range docs {
			if got, want := kept.MatchPrepared(prepared[i]), NewMatcher(n).Match(d); got != want {
				t.Fatalf("%q on %q: prepared %v, scan %v", q, d.Texts, got, want)
			}
		}
	}
}

// TestPrepareIndexed: a document prepared from the index terms the engine
// stores matches exactly as one analyzed again — the index terms of a
// text are its matcher terms joined by single spaces, and no term holds a
// space — over texts of every script, width and punctuation.
func TestPrepareIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	pieces := []string{"保本", "收益", "年化６．５％", "A股", "T+0", "1,000", "3.5", "guaranteed", "Returns", "e-mail", "wxarchive@example.com",
		" ", "\t", "\n", "，", "。", "!!", "穩賺不賠", "ｆｕｌｌ", "😀", "\u200b", "5G手机", "Dr.", "o'clock", "-", "#tag", "\u3000", "ⅷ", "¼"}
	var an Analyzer
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := 0; j < rng.IntN(12); j++ {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		idx := string(an.AppendIndexTerms(nil, text))
		want := docTerms(an.Tokens(text))
		for _, term := range want {
			if strings.ContainsAny(term, " ") || term == "" {
				t.Fatalf("%q: term %q", text, term)
			}
		}
		got := PrepareIndexed(&Doc{Texts: []string{text}}, []string{idx})
		if !slices.Equal(got.terms[0], want) && !(len(want) == 0 && len(got.terms[0]) == 0) {
			t.Fatalf("%q: indexed terms %q, analyzed %q", text, got.terms[0], want)
		}
	}
}
