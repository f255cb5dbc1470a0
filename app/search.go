package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// SearchOptions is one search as a user asked for it (CLI or API).
type SearchOptions struct {
	Query  string
	Exact  bool // Query is a literal to scan for, not the query language
	Sort   store.SearchSort
	Limit  int
	Cursor string // next_cursor of the previous page
	Facets bool
	// CountAll counts every match; by default counting stops at
	// SearchCountLimit and the total is reported as a lower bound.
	CountAll bool
	// CountLimit replaces SearchCountLimit when positive (CountAll wins).
	CountLimit int64
}

// Search bounds.
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 1000
	SnippetWidth       = 80 // characters
	// SearchCountLimit is where counting stops unless every match is asked
	// for: beyond it a total reads "100,000+". Counting 的 (2.6M matches in
	// 10M messages) exactly takes longer than finding its first page;
	// nobody reviews 100,000 hits one by one, and --count-all is there for
	// the audit that needs the exact figure.
	SearchCountLimit = 100_000
)

// SearchResult is a page of results, ready to show.
type SearchResult struct {
	Total int64 `json:"total"`
	// TotalExact is false when Total is a lower bound: counting stopped at
	// SearchCountLimit (CountAll lifts it).
	TotalExact bool                    `json:"total_exact"`
	Results    []SearchResultItem      `json:"results"`
	NextCursor string                  `json:"next_cursor,omitempty"`
	Facets     map[string][]FacetCount `json:"facets,omitempty"`
	Sort       store.SearchSort        `json:"sort"`
	Query      string                  `json:"query"`
	Exact      bool                    `json:"exact,omitempty"`
	// Warnings say why an answer may be empty or narrower than meant: a
	// person or department filter whose value the archive does not know
	// (filterWarnings). The search still ran; every surface shows them
	// with the results. FilterWarnings are the same, for a surface that
	// words them in its own language.
	Warnings       []string        `json:"warnings,omitempty"`
	FilterWarnings []FilterWarning `json:"-"`
}

// FilterWarning is a person or department filter whose value the archive
// does not know.
type FilterWarning struct {
	Filter     string   // from, to, participant, department or conversation
	Value      string   // as written
	DidYouMean string   // the closest known value; "" when none is close
	Known      []string // department: the first departments of the directory
	MoreKnown  bool     // the directory has more departments than Known
}

// String is the warning in English, as the CLI and the API show it.
func (w FilterWarning) String() string {
	var hint []string
	if w.DidYouMean != "" {
		hint = append(hint, "did you mean "+w.DidYouMean+"?")
	}
	if w.Filter == "conversation" {
		return fmt.Sprintf("conversation: %q has no messages you may see", w.Value)
	}
	if w.Filter != "department" {
		s := fmt.Sprintf("%s: %q is no one the archive knows, by id or directory name", w.Filter, w.Value)
		if len(hint) > 0 {
			s += " (" + hint[0] + ")"
		}
		return s
	}
	switch {
	case len(w.Known) == 0:
		hint = append(hint, "the directory names no departments")
	case w.MoreKnown:
		hint = append(hint, "known: "+strings.Join(w.Known, ", ")+", …")
	default:
		hint = append(hint, "known: "+strings.Join(w.Known, ", "))
	}
	return fmt.Sprintf("department: %q is not in the directory (%s)", w.Value, strings.Join(hint, " "))
}

// FacetCount is one value of a facet and how many matches have it. Name is
// the directory's current name of a sender or conversation facet value
// ("" when it has none); Value stays the id.
type FacetCount struct {
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
	Count int64  `json:"count"`
}

// SearchResultItem is one hit. Highlights are [start, end) character (code
// point) offsets into Snippet.
type SearchResultItem struct {
	Serial       uint64 `json:"serial"`
	SourceID     string `json:"source_id"`
	Conversation string `json:"conversation"`
	Sender       string `json:"sender"`
	// SenderName and ConversationName: the directory's names as they were
	// when the message was sent ("" when it has none); the ids stay.
	SenderName       string `json:"sender_name,omitempty"`
	ConversationName string `json:"conversation_name,omitempty"`
	SentAt           string `json:"sent_at"` // RFC 3339 in the archive's time zone
	// TimeUnknown: the source gave no usable time; SentAt is when the
	// message was captured.
	TimeUnknown bool              `json:"time_unknown,omitempty"`
	Kind        archive.Kind      `json:"kind"`
	Direction   archive.Direction `json:"direction,omitempty"`
	Recalled    bool              `json:"recalled,omitempty"`
	Snippet     string            `json:"snippet"`
	Highlights  [][2]int          `json:"highlights"`
	// InAttachment is set when the snippet comes from an attachment's text
	// (1-based attachment number among those with text).
	InAttachment int     `json:"in_attachment,omitempty"`
	Score        float64 `json:"score,omitempty"` // BM25, relevance sort only (lower is better)
}

// SearchError is a search the user must change: a query that does not
// parse, a bad cursor or limit. Callers report it as a usage error.
type SearchError struct {
	Field string // "query", "cursor", "limit", "sort"
	Err   error
}

func (e *SearchError) Error() string {
	// The query parser's errors already name the query (and the column).
	if msg := e.Err.Error(); strings.HasPrefix(msg, e.Field+": ") {
		return msg
	}
	return e.Field + ": " + e.Err.Error()
}
func (e *SearchError) Unwrap() error { return e.Err }

// Search runs a search, journals it as an access (who, query, result count,
// serials shown) and only then returns the results.
func (a *App) Search(ctx context.Context, o SearchOptions) (*SearchResult, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := archive.CheckText("query", o.Query, archive.MaxQueryBytes); err != nil {
		return nil, &SearchError{"query", errors.New(strings.TrimPrefix(err.Error(), "query: "))}
	}
	loc := a.Location()
	req := store.SearchRequest{Sort: o.Sort, Limit: o.Limit, Facets: o.Facets, CountLimit: SearchCountLimit,
		FacetMonth: func(ms int64) string { return time.UnixMilli(ms).In(loc).Format("2006-01") }}
	switch req.Sort {
	case "":
		req.Sort = store.SortTime
	case store.SortTime, store.SortRelevance:
	default:
		return nil, &SearchError{"sort", fmt.Errorf("expected time or relevance, not %q", o.Sort)}
	}
	switch {
	case req.Limit == 0:
		req.Limit = DefaultSearchLimit
	case req.Limit < 0 || req.Limit > MaxSearchLimit:
		return nil, &SearchError{"limit", fmt.Errorf("must be between 1 and %d, not %d", MaxSearchLimit, o.Limit)}
	}
	b, err := a.barrierOf(p)
	if err != nil {
		return nil, err
	}
	var hl *textindex.Highlighter
	var warnings []FilterWarning
	var q textindex.Node
	if o.Exact && !b.all {
		return nil, &auth.ForbiddenError{User: p.User, Need: auth.PermContent,
			Reason: "exact mode scans every message; within " + b.what + " search with the query language"}
	}
	if o.Exact {
		if o.Query == "" {
			return nil, &SearchError{"query", errors.New("exact mode needs a non-empty literal")}
		}
		req.Exact = o.Query
		req.Sort = store.SortTime // a scan has no relevance
	} else {
		if q, err = textindex.Parse(o.Query, textindex.ParseOptions{Location: loc}); err != nil {
			return nil, &SearchError{"query", err}
		}
		req.Query = b.narrow(q)
		hl = textindex.NewHighlighter(q) // the user's terms, not the barrier's
		// The user's filters, not the barrier's: the barrier's departments
		// are the configuration's to get right.
		if warnings, err = a.filterWarnings(ctx, q); err != nil {
			return nil, err
		}
	}
	switch {
	case o.CountAll:
		req.CountLimit = 0
	case o.CountLimit > 0:
		req.CountLimit = o.CountLimit
	}
	if o.Cursor != "" {
		c, err := decodeCursor(o.Cursor, req.Sort)
		if err != nil {
			return nil, &SearchError{"cursor", err}
		}
		req.After = c
	}
	page, err := a.d.Store.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	if page.Total == 0 && q != nil {
		more, err := a.emptyConversations(ctx, q, b)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, more...)
	}
	res := &SearchResult{Total: page.Total, TotalExact: page.TotalExact, Sort: req.Sort, Query: o.Query, Exact: o.Exact,
		Results: make([]SearchResultItem, 0, len(page.Hits)), FilterWarnings: warnings}
	for _, w := range warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	if page.Next != nil {
		res.NextCursor = encodeCursor(page.Next, req.Sort)
	}
	serials := make([]uint64, len(page.Hits))
	names := newNamer(a.d.Store)
	var pageIDs []string
	for _, h := range page.Hits {
		pageIDs = append(pageIDs, h.Sender, h.Conversation)
	}
	for _, f := range []string{"sender", "conversation"} {
		for _, c := range page.Facets[f] {
			pageIDs = append(pageIDs, c.Value)
		}
	}
	if err := names.load(ctx, pageIDs...); err != nil { // one directory query for hits and facets
		return nil, err
	}
	if page.Facets != nil {
		if res.Facets, err = a.facetNames(ctx, names, page.Facets); err != nil {
			return nil, err
		}
	}
	for i, h := range page.Hits {
		serials[i] = h.Serial
		it := SearchResultItem{Serial: h.Serial, SourceID: h.SourceID, Conversation: h.Conversation, Sender: h.Sender,
			SentAt: h.SentAt.In(loc).Format(time.RFC3339Nano), Kind: h.Kind, Direction: h.Direction, Recalled: h.RecalledBy != 0,
			TimeUnknown: h.TimeUnknown}
		if it.SenderName, err = names.name(ctx, h.Sender, h.SentAt); err != nil {
			return nil, err
		}
		if it.ConversationName, err = names.conversation(ctx, h.Conversation, h.SentAt); err != nil {
			return nil, err
		}
		if req.Sort == store.SortRelevance {
			it.Score = h.Score
		}
		spansOf := func(text string) []textindex.Span {
			if o.Exact {
				return textindex.LiteralSpans(text, o.Query)
			}
			return hl.Spans(text)
		}
		// The snippet comes from the message text, or from the first
		// attachment text with a hit when the text has none.
		text, spans := h.Text, spansOf(h.Text)
		if len(spans) == 0 {
			for k, at := range h.AttachText {
				if s := spansOf(at); len(s) > 0 {
					text, spans, it.InAttachment = at, s, k+1
					break
				}
			}
		}
		it.Snippet, it.Highlights = textindex.Snippet(text, spans, SnippetWidth)
		if it.Highlights == nil {
			it.Highlights = [][2]int{}
		}
		res.Results = append(res.Results, it)
	}
	total := page.Total
	if err := a.journalAccess(ctx, p, archive.AccessEvent{What: "search", Serials: serials, Query: o.Query, Exact: o.Exact,
		Results: &total, ResultsAtLeast: !page.TotalExact}); err != nil {
		return nil, err
	}
	return res, nil
}

// facetNames gives the sender and conversation facets their directory
// names. A facet counts messages of many moments, so the name is the
// current one (a hit's is the one of its sent time).
func (a *App) facetNames(ctx context.Context, names *namer, facets map[string][]store.FacetCount) (map[string][]FacetCount, error) {
	now := archive.Time{Time: a.d.Now()}
	out := make(map[string][]FacetCount, len(facets))
	for f, counts := range facets {
		cs := make([]FacetCount, len(counts))
		for i, c := range counts {
			cs[i] = FacetCount{Value: c.Value, Count: c.Count}
			var err error
			switch f {
			case "sender":
				cs[i].Name, err = names.name(ctx, c.Value, now)
			case "conversation":
				cs[i].Name, err = names.conversation(ctx, c.Value, now)
			}
			if err != nil {
				return nil, err
			}
		}
		out[f] = cs
	}
	return out, nil
}

// personFilters are the filters whose value is a party, by id or by any
// name the directory has given it (store/sqlite fieldSQL).
var personFilters = map[string]bool{"from": true, "to": true, "participant": true}

// filterWarnings names each person and department filter of q whose value
// the archive does not know, so that a mistyped name is never a silent "no
// messages match": a person is known by an id seen in a message or in the
// directory, or by a directory name; a department by a directory fact.
// A known value that matches no message gets no warning (the empty answer
// is then right). Each value costs one or two indexed lookups; the
// directory's names, ids or departments are read at most once per search,
// and only when a value is not found otherwise.
func (a *App) filterWarnings(ctx context.Context, q textindex.Node) ([]FilterWarning, error) {
	var fields []*textindex.Field
	seen := map[string]bool{}
	var walk func(n textindex.Node)
	walk = func(n textindex.Node) {
		switch n := n.(type) {
		case *textindex.And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Not:
			walk(n.Node)
		case *textindex.Field:
			if (personFilters[n.Name] || n.Name == "department") && !seen[n.Name+":"+n.Value] {
				seen[n.Name+":"+n.Value] = true
				fields = append(fields, n)
			}
		}
	}
	walk(q)
	if len(fields) == 0 {
		return nil, nil
	}
	st := a.d.Store
	lists := map[string][]string{}
	list := func(column string) ([]string, error) {
		if v, ok := lists[column]; ok {
			return v, nil
		}
		v, err := st.DirectoryValues(ctx, column)
		lists[column] = v
		return v, err
	}
	var out []FilterWarning
	for _, f := range fields {
		if f.Name == "department" {
			depts, err := list(store.DirectoryDepartments)
			if err != nil {
				return nil, err
			}
			if slices.Contains(depts, f.Value) {
				continue
			}
			const shown = 8
			out = append(out, FilterWarning{Filter: f.Name, Value: f.Value, DidYouMean: closest(f.Value, depts),
				Known: depts[:min(len(depts), shown)], MoreKnown: len(depts) > shown})
			continue
		}
		if _, ok, err := st.FirstSerial(ctx, f.Value); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if _, ok, err := st.Directory(ctx, f.Value, archive.MillisTime(textindex.MaxMillis)); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		names, err := list(store.DirectoryNames)
		if err != nil {
			return nil, err
		}
		if slices.Contains(names, f.Value) {
			continue
		}
		ids, err := list(store.DirectoryIDs)
		if err != nil {
			return nil, err
		}
		out = append(out, FilterWarning{Filter: f.Name, Value: f.Value, DidYouMean: closest(f.Value, append(slices.Clone(names), ids...))})
	}
	return out, nil
}

// emptyConversations names each conversation: filter of q that selects no
// message the viewer may see, when the search found nothing: the index has
// no cheap lookup by conversation, so the check runs only on an empty
// answer — one search of that filter alone, stopping at the first hit.
func (a *App) emptyConversations(ctx context.Context, q textindex.Node, b *barrier) ([]FilterWarning, error) {
	var out []FilterWarning
	seen := map[string]bool{}
	var err error
	var walk func(n textindex.Node)
	walk = func(n textindex.Node) {
		switch n := n.(type) {
		case *textindex.And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Not:
			walk(n.Node)
		case *textindex.Field:
			if n.Name != "conversation" || seen[n.Value] || err != nil {
				return
			}
			seen[n.Value] = true
			var page store.SearchPage
			if page, err = a.d.Store.Search(ctx, store.SearchRequest{Query: b.narrow(n), Limit: 1, CountLimit: 1, Sort: store.SortTime}); err == nil && page.Total == 0 {
				out = append(out, FilterWarning{Filter: n.Name, Value: n.Value})
			}
		}
	}
	walk(q)
	return out, err
}

// closest is the candidate nearest to v by edit distance over characters,
// letters compared case-insensitively: one edit per three characters, at
// least one and at most two, and fewer than v has characters (张为 suggests
// 张伟, 稽核部 not 合规部, 张 nothing); ties go to the first in order. ""
// when none is that close.
func closest(v string, candidates []string) string {
	rv := []rune(strings.ToLower(v))
	best, bestD := "", min(3, max(2, len(rv)/3+1), len(rv)) // bestD is one more than allowed
	for _, c := range candidates {
		if d := runeDistance(rv, []rune(strings.ToLower(c))); d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// runeDistance is the Levenshtein distance of two short strings.
func runeDistance(a, b []rune) int {
	if len(a) > 64 || len(b) > 64 || max(len(a), len(b))-min(len(a), len(b)) > 2 {
		return 3 // too far apart, or too long to be a typo worth the cost
	}
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

// Cursors are opaque to users: base64url of "t:<key>" (time) or
// "r:<score>:<key>" (relevance). A cursor only continues the sort it came
// from.
func encodeCursor(c *store.SearchCursor, sort store.SearchSort) string {
	s := "t:" + strconv.FormatInt(c.Key, 10)
	if sort == store.SortRelevance {
		s = "r:" + strconv.FormatFloat(c.Score, 'g', -1, 64) + ":" + strconv.FormatInt(c.Key, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string, sort store.SearchSort) (*store.SearchCursor, error) {
	bad := errors.New("not a cursor from a previous page of this search")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ":")
	c := &store.SearchCursor{}
	switch {
	case sort == store.SortTime && len(parts) == 2 && parts[0] == "t":
		if c.Key, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
			return nil, bad
		}
	case sort == store.SortRelevance && len(parts) == 3 && parts[0] == "r":
		if c.Score, err = strconv.ParseFloat(parts[1], 64); err != nil {
			return nil, bad
		}
		if c.Key, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
			return nil, bad
		}
	default:
		return nil, bad
	}
	return c, nil
}
