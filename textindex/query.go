package textindex

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
)

// The query language (docs/SEARCH.md):
//
//	query   = or
//	or      = and { "OR" and }
//	and     = unary { ["AND"] unary }          bare terms are ANDed
//	unary   = ("NOT" | "-") unary | near
//	near    = primary { "NEAR" | "NEAR/n" primary }   terms and phrases only
//	primary = "(" or ")" | field ":" value | '"' phrase '"' | term ["*"]
//
// Operators are upper case (lower-case "and", "or" are words to find).

// Node is a node of a parsed query.
type Node interface {
	// Pos is the byte offset in the query where the node starts.
	Pos() int
	String() string
}

// And matches what every child matches.
type And struct {
	Nodes []Node
	At    int
}

// Or matches what any child matches.
type Or struct {
	Nodes []Node
	At    int
}

// Not matches what its child does not.
type Not struct {
	Node Node
	At   int
}

// Text is a term or a phrase. A bare term that analyzes to several tokens
// (保本收益, T+0, 5G手机) is a phrase too: its tokens must be adjacent.
type Text struct {
	Raw    string  // as written, without quotes or the trailing *
	Tokens []Token // analyzed
	Quoted bool    // written "…"
	Prefix bool    // written term*: the last word is a prefix
	At     int
}

// Near matches where its phrases occur within Distance positions of each
// other (in any order): at most Distance tokens between one and the next.
type Near struct {
	Texts    []*Text
	Distance int
	At       int
}

// Field is a filter on a message's metadata.
type Field struct {
	Name  string // from, to, participant, conversation, type, has, filename, after, before, on, recalled, direction, department
	Value string // as written (for dates: the date), lower-cased where the field is case-insensitive
	// Time bounds for after/before/on, in milliseconds since the epoch:
	// after → [From, ∞), before → (-∞, To), on → [From, To).
	From, To int64
	Bool     bool // recalled
	At       int
}

func (n *And) Pos() int   { return n.At }
func (n *Or) Pos() int    { return n.At }
func (n *Not) Pos() int   { return n.At }
func (n *Text) Pos() int  { return n.At }
func (n *Near) Pos() int  { return n.At }
func (n *Field) Pos() int { return n.At }

func (n *And) String() string { return "(" + join(n.Nodes, " AND ") + ")" }
func (n *Or) String() string  { return "(" + join(n.Nodes, " OR ") + ")" }
func (n *Not) String() string { return "NOT " + n.Node.String() }
func (n *Text) String() string {
	terms := make([]string, len(n.Tokens))
	for i, t := range n.Tokens {
		terms[i] = t.Term
	}
	s := strings.Join(terms, " ")
	if len(terms) > 1 || n.Quoted {
		s = `"` + s + `"`
	}
	if n.Prefix {
		s += "*"
	}
	return s
}
func (n *Near) String() string {
	parts := make([]string, len(n.Texts))
	for i, t := range n.Texts {
		parts[i] = t.String()
	}
	return fmt.Sprintf("NEAR/%d(%s)", n.Distance, strings.Join(parts, " "))
}
func (n *Field) String() string { return n.Name + ":" + n.Value }

func join(nodes []Node, sep string) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = n.String()
	}
	return strings.Join(parts, sep)
}

// SyntaxError is a query that cannot be parsed. Pos is a byte offset,
// Column the 1-based character column, for pointing at the mistake.
type SyntaxError struct {
	Query  string
	Pos    int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: column %d: %s", e.Column, e.Msg)
}

// DefaultNear is the distance of NEAR written without /n.
const DefaultNear = 10

// MaxNear bounds NEAR/n.
const MaxNear = 1000

// MaxQueryBytes bounds a query's length; MaxQueryNodes its size once parsed.
const (
	MaxQueryBytes = 4096
	MaxQueryNodes = 256
)

// ParseOptions configure Parse.
type ParseOptions struct {
	// Location resolves dates in after:, before: and on: (default UTC).
	Location *time.Location
}

// fieldNames are the filters a query may use.
var fieldNames = map[string]bool{
	"from": true, "to": true, "participant": true, "conversation": true, "type": true,
	"has": true, "filename": true, "after": true, "before": true, "on": true,
	"recalled": true, "direction": true, "department": true,
}

// fieldAliases are the names people type for a filter by another name.
var fieldAliases = map[string]string{
	"sender": "from", "author": "from", "recipient": "to", "date": "on", "day": "on", "since": "after",
	"until": "before", "kind": "type", "msgtype": "type", "file": "filename", "attachment": "has",
	"dept": "department", "room": "conversation", "group": "conversation", "chat": "conversation",
	"talker": "conversation", "with": "participant", "recall": "recalled", "revoked": "recalled",
}

// fieldLike reports whether s looks like a filter name (ASCII letters,
// digits after the first, '_' or '-'), as opposed to text such as 10:30.
func fieldLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return s != ""
}

// suggestField names the filter meant by an unknown name: an alias, or
// the closest name by edit distance (at most two edits), or the list.
func suggestField(name string) string {
	name = strings.ToLower(name)
	if f, ok := fieldAliases[name]; ok {
		if f == "has" {
			return " (did you mean has:attachment?)"
		}
		return " (did you mean " + f + ":?)"
	}
	best, bestD := "", 3
	for f := range fieldNames {
		if d := editDistance(name, f); d < bestD || (d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	if best != "" {
		return " (did you mean " + best + ":?)"
	}
	names := make([]string, 0, len(fieldNames))
	for f := range fieldNames {
		names = append(names, f+":")
	}
	sort.Strings(names)
	return " (the filters are " + strings.Join(names, " ") + ")"
}

// editDistance is the Levenshtein distance of two short ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Kinds accepted by type:.
var kinds = map[string]bool{}

func init() {
	for _, k := range []archive.Kind{archive.KindText, archive.KindImage, archive.KindVoice, archive.KindVideo,
		archive.KindFile, archive.KindLink, archive.KindLocation, archive.KindCard, archive.KindEmotion,
		archive.KindWeapp, archive.KindChatRecord, archive.KindMixed, archive.KindRedPacket, archive.KindTodo,
		archive.KindVote, archive.KindCollect, archive.KindMeeting, archive.KindDocMsg, archive.KindMarkdown,
		archive.KindNews, archive.KindCalendar, archive.KindSphFeed, archive.KindVoip, archive.KindRevoke,
		archive.KindAgree, archive.KindDisagree, archive.KindSwitch, archive.KindEvent, archive.KindUnknown} {
		kinds[string(k)] = true
	}
}

// Parse parses a query. Errors are *SyntaxError.
func Parse(q string, opts ParseOptions) (Node, error) {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	p := &parser{q: q, opts: opts}
	if len(q) > MaxQueryBytes {
		return nil, p.errAt(MaxQueryBytes, "query is longer than %d bytes", MaxQueryBytes)
	}
	if !utf8.ValidString(q) {
		i := 0
		for i < len(q) {
			r, n := utf8.DecodeRuneInString(q[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, p.errAt(i, "query is not valid UTF-8")
	}
	if err := p.lex(); err != nil {
		return nil, err
	}
	if len(p.toks) == 1 { // only the end
		return nil, p.errAt(0, "empty query: expected a term, a phrase or a field filter")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t.pos, "unexpected ')' with no '(' to close")
		}
		return nil, p.errAt(t.pos, "unexpected %s", t.describe())
	}
	if p.nodes > MaxQueryNodes {
		return nil, p.errAt(0, "query has more than %d terms and operators", MaxQueryNodes)
	}
	return n, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tNear
	tText
	tField
)

type qtok struct {
	kind   tokKind
	pos    int
	text   *Text
	field  *Field
	near   int
	negate bool // "-" written before the token
}

func (t qtok) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tAnd:
		return "AND"
	case tOr:
		return "OR"
	case tNot:
		return "NOT"
	case tNear:
		return "NEAR"
	case tField:
		return "filter " + t.field.Name + ":"
	}
	return "term " + strconv.Quote(t.text.Raw)
}

type parser struct {
	q     string
	opts  ParseOptions
	toks  []qtok
	i     int
	an    Analyzer
	nodes int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	if pos > len(p.q) {
		pos = len(p.q)
	}
	return &SyntaxError{Query: p.q, Pos: pos, Column: utf8.RuneCountInString(p.q[:pos]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// spaceAt reports the byte length of white space at q[i] (ASCII or
// ideographic space, which Chinese keyboards type), or 0.
func spaceAt(q string, i int) int {
	if isSpace(q[i]) {
		return 1
	}
	if strings.HasPrefix(q[i:], "\u3000") {
		return len("\u3000")
	}
	return 0
}

// lex splits the query into tokens.
func (p *parser) lex() error {
	q := p.q
	for i := 0; i < len(q); {
		if n := spaceAt(q, i); n > 0 {
			i += n
			continue
		}
		start := i
		negate := false
		if q[i] == '-' && i+1 < len(q) && spaceAt(q, i+1) == 0 {
			negate = true
			i++
		}
		switch q[i] {
		case '(':
			p.push(qtok{kind: tLParen, pos: start, negate: negate})
			i++
			continue
		case ')':
			if negate {
				return p.errAt(start, "'-' must be followed by a term, a phrase, a field filter or '('")
			}
			p.push(qtok{kind: tRParen, pos: i})
			i++
			continue
		case '"':
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				return p.errAt(i, "unterminated phrase: expected a closing '\"'")
			}
			raw := q[i+1 : i+1+end]
			i += end + 2
			t := p.text(raw, start, true, false)
			if len(t.Tokens) == 0 {
				if negate {
					return p.errAt(start, "phrase has nothing to search for (no letters, digits or CJK characters)")
				}
				continue // "" or "，": nothing to find, nothing to require
			}
			p.push(qtok{kind: tText, pos: start, text: t, negate: negate})
			continue
		}
		// A chunk runs to white space, a parenthesis or a quote.
		j := i
		for j < len(q) && spaceAt(q, j) == 0 && q[j] != '(' && q[j] != ')' && q[j] != '"' {
			j++
		}
		chunk := q[i:j]
		if !negate {
			switch {
			case chunk == "AND":
				p.push(qtok{kind: tAnd, pos: i})
				i = j
				continue
			case chunk == "OR":
				p.push(qtok{kind: tOr, pos: i})
				i = j
				continue
			case chunk == "NOT":
				p.push(qtok{kind: tNot, pos: i})
				i = j
				continue
			case chunk == "NEAR" || strings.HasPrefix(chunk, "NEAR/"):
				d := DefaultNear
				if chunk != "NEAR" {
					v, err := strconv.Atoi(chunk[len("NEAR/"):])
					if err != nil || v < 0 || v > MaxNear {
						return p.errAt(i+len("NEAR/"), "NEAR/n needs a distance n from 0 to %d", MaxNear)
					}
					d = v
				}
				p.push(qtok{kind: tNear, pos: i, near: d})
				i = j
				continue
			}
		}
		if c := strings.IndexByte(chunk, ':'); c > 0 && fieldNames[strings.ToLower(chunk[:c])] {
			name := strings.ToLower(chunk[:c])
			value, vpos := chunk[c+1:], i+c+1
			if value == "" && j < len(q) && q[j] == '"' {
				end := strings.IndexByte(q[j+1:], '"')
				if end < 0 {
					return p.errAt(j, "unterminated value: expected a closing '\"'")
				}
				value, vpos = q[j+1:j+1+end], j+1
				j += end + 2
			}
			f, err := p.field(name, value, start, vpos)
			if err != nil {
				return err
			}
			p.push(qtok{kind: tField, pos: start, field: f, negate: negate})
			i = j
			continue
		}
		if c := strings.IndexByte(chunk, ':'); c > 0 && fieldLike(chunk[:c]) && !strings.HasPrefix(chunk[c+1:], "//") {
			// Not a filter this language has: searching it as words would
			// answer "no messages match" (or the wrong ones) in silence.
			return p.errAt(start+boolInt(negate), "unknown filter %s:%s; to search for text with a colon in it, put it in quotes: \"%s\"",
				chunk[:c], suggestField(chunk[:c]), strings.TrimPrefix(chunk, "-"))
		}
		prefix := false
		raw := chunk
		if strings.HasSuffix(raw, "*") {
			raw = strings.TrimRight(raw, "*")
			prefix = true
		}
		t := p.text(raw, start, false, prefix)
		if len(t.Tokens) == 0 {
			if negate {
				return p.errAt(start, "'-' must be followed by something to search for")
			}
			i = j
			continue // "-", "，", "…": nothing to find
		}
		if prefix && t.Tokens[len(t.Tokens)-1].CJK {
			// 保* is every position starting with 保, which is what 保
			// already finds: the * changes nothing.
			t.Prefix = false
		}
		p.push(qtok{kind: tText, pos: start, text: t, negate: negate})
		i = j
	}
	p.toks = append(p.toks, qtok{kind: tEOF, pos: len(q)})
	return nil
}

func (p *parser) push(t qtok) {
	p.toks = append(p.toks, t)
	p.nodes++
}

func (p *parser) text(raw string, at int, quoted, prefix bool) *Text {
	toks := p.an.Tokens(raw)
	t := &Text{Raw: raw, Quoted: quoted, Prefix: prefix, At: at, Tokens: make([]Token, len(toks))}
	copy(t.Tokens, toks)
	// The last token of a query has no "next": whether the text continues
	// with a CJK character is for the index to say (see Pattern).
	if n := len(t.Tokens); n > 0 {
		t.Tokens[n-1].Join = false
	}
	return t
}

// field validates a filter value.
func (p *parser) field(name, value string, at, vpos int) (*Field, error) {
	f := &Field{Name: name, Value: value, At: at}
	if value == "" {
		return nil, p.errAt(vpos, "%s: needs a value", name)
	}
	switch name {
	case "type":
		f.Value = strings.ToLower(value)
		if !kinds[f.Value] {
			return nil, p.errAt(vpos, "type: expected a message type (text, image, voice, video, file, link, location, card, emotion, weapp, chatrecord, mixed, redpacket, todo, vote, collect, meeting, docmsg, markdown, news, calendar, sphfeed, voip, revoke, agree, disagree, switch, event, unknown), not %q", value)
		}
	case "has":
		f.Value = strings.ToLower(value)
		if f.Value != "attachment" && f.Value != "attachments" {
			return nil, p.errAt(vpos, "has: expected \"attachment\", not %q", value)
		}
		f.Value = "attachment"
	case "recalled":
		switch strings.ToLower(value) {
		case "true", "yes", "1":
			f.Bool = true
		case "false", "no", "0":
		default:
			return nil, p.errAt(vpos, "recalled: expected true or false, not %q", value)
		}
		f.Value = strconv.FormatBool(f.Bool)
	case "direction":
		f.Value = strings.ToLower(value)
		switch archive.Direction(f.Value) {
		case archive.DirectionInbound, archive.DirectionOutbound, archive.DirectionInternal:
		default:
			return nil, p.errAt(vpos, "direction: expected inbound, outbound or internal, not %q", value)
		}
	case "after", "before", "on":
		from, to, err := parseDate(value, p.opts.Location, name == "on")
		if err != nil {
			return nil, p.errAt(vpos, "%s: %v", name, err)
		}
		switch name {
		case "after":
			f.From, f.To = from, MaxMillis
		case "before":
			f.From, f.To = MinMillis, from
		case "on":
			f.From, f.To = from, to
		}
	}
	return f, nil
}

// Bounds of time filters (a filter with no lower or upper bound).
const (
	MinMillis int64 = -1 << 62
	MaxMillis int64 = 1 << 62
)

// parseDate reads a day (2026-07-01, 2026/07/01, 20260701) in loc, or an
// instant (RFC 3339), returning [start, end) in milliseconds. A day's end
// is the next midnight; an instant's is itself plus one millisecond.
func parseDate(v string, loc *time.Location, day bool) (int64, int64, error) {
	for _, layout := range []string{"2006-01-02", "2006/01/02", "20060102", "2006-1-2", "2006/1/2"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UnixMilli(), t.AddDate(0, 0, 1).UnixMilli(), nil
		}
	}
	if !day {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t.UnixMilli(), t.UnixMilli() + 1, nil
			}
		}
		return 0, 0, fmt.Errorf("expected a date (2026-07-01) or a time (2026-07-01T09:30:00+08:00), not %q", v)
	}
	return 0, 0, fmt.Errorf("expected a date (2026-07-01), not %q", v)
}

func (p *parser) peek() qtok { return p.toks[p.i] }
func (p *parser) next() qtok {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) parseOr() (Node, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for p.peek().kind == tOr {
		op := p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, p.errAt(p.peek().pos, "expected a term, a phrase or a filter after OR (column %d), found %s", p.col(op.pos), p.peek().describe())
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return &Or{Nodes: nodes, At: first.Pos()}, nil
}

func (p *parser) col(pos int) int { return utf8.RuneCountInString(p.q[:pos]) + 1 }

func (p *parser) parseAnd() (Node, error) {
	var nodes []Node
	for {
		t := p.peek()
		switch t.kind {
		case tEOF, tRParen, tOr:
			if len(nodes) == 0 {
				return nil, p.errAt(t.pos, "expected a term, a phrase or a filter, found %s", t.describe())
			}
			if len(nodes) == 1 {
				return nodes[0], nil
			}
			return &And{Nodes: nodes, At: nodes[0].Pos()}, nil
		case tAnd:
			if len(nodes) == 0 {
				return nil, p.errAt(t.pos, "expected a term, a phrase or a filter before AND")
			}
			p.next()
			if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
				return nil, p.errAt(p.peek().pos, "expected a term, a phrase or a filter after AND (column %d), found %s", p.col(t.pos), p.peek().describe())
			}
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
}

func (p *parser) parseUnary() (Node, error) {
	t := p.peek()
	if t.kind == tNot {
		p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, p.errAt(p.peek().pos, "expected a term, a phrase or a filter after NOT (column %d), found %s", p.col(t.pos), p.peek().describe())
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Not{Node: n, At: t.pos}, nil
	}
	return p.parseNear()
}

func (p *parser) parseNear() (Node, error) {
	start := p.peek().pos
	first, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tNear {
		return first, nil
	}
	ft, ok := first.(*Text)
	if !ok {
		return nil, p.errAt(start, "NEAR joins terms or phrases, not %s", first.String())
	}
	near := &Near{Texts: []*Text{ft}, Distance: p.peek().near, At: first.Pos()}
	for p.peek().kind == tNear {
		op := p.next()
		if op.near != near.Distance {
			return nil, p.errAt(op.pos, "a chain of NEAR must use one distance (NEAR/%d here, NEAR/%d before)", op.near, near.Distance)
		}
		t := p.peek()
		if t.kind != tText || t.negate {
			return nil, p.errAt(t.pos, "expected a term or a phrase after NEAR (column %d), found %s", p.col(op.pos), t.describe())
		}
		p.next()
		near.Texts = append(near.Texts, t.text)
	}
	return near, nil
}

func (p *parser) parsePrimary() (Node, error) {
	t := p.next()
	var n Node
	switch t.kind {
	case tText:
		n = t.text
	case tField:
		n = t.field
	case tLParen:
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c.pos, "expected ')' to close the '(' at column %d, found %s", p.col(t.pos), c.describe())
		}
		n = inner
	case tRParen:
		return nil, p.errAt(t.pos, "unexpected ')': expected a term, a phrase or a filter")
	default:
		return nil, p.errAt(t.pos, "expected a term, a phrase or a filter, found %s", t.describe())
	}
	if t.negate {
		return &Not{Node: n, At: t.pos}, nil
	}
	return n, nil
}
