package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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
	TotalExact bool                          `json:"total_exact"`
	Results    []SearchResultItem            `json:"results"`
	NextCursor string                        `json:"next_cursor,omitempty"`
	Facets     map[string][]store.FacetCount `json:"facets,omitempty"`
	Sort       store.SearchSort              `json:"sort"`
	Query      string                        `json:"query"`
	Exact      bool                          `json:"exact,omitempty"`
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
		q, err := textindex.Parse(o.Query, textindex.ParseOptions{Location: loc})
		if err != nil {
			return nil, &SearchError{"query", err}
		}
		req.Query = b.narrow(q)
		hl = textindex.NewHighlighter(q) // the user's terms, not the barrier's
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
	res := &SearchResult{Total: page.Total, TotalExact: page.TotalExact, Facets: page.Facets, Sort: req.Sort, Query: o.Query, Exact: o.Exact,
		Results: make([]SearchResultItem, 0, len(page.Hits))}
	if page.Next != nil {
		res.NextCursor = encodeCursor(page.Next, req.Sort)
	}
	serials := make([]uint64, len(page.Hits))
	names := newNamer(a.d.Store)
	var pageIDs []string
	for _, h := range page.Hits {
		pageIDs = append(pageIDs, h.Sender, h.Conversation)
	}
	if err := names.load(ctx, pageIDs...); err != nil {
		return nil, err
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
