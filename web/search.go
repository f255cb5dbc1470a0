package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// searchPage is the search form and, once a query ran, its results.
type searchPage struct {
	Query  string
	Sort   string
	Facets bool
	Limit  int   // results per page
	Limits []int // the page sizes offered
	Ran    bool
	// Err is a query the archive refused; ErrBefore/ErrAt/ErrAfter split
	// the query around the column at fault (ErrColumn, 1-based).
	Err                        string
	ErrColumn                  int
	ErrBefore, ErrAt, ErrAfter string
	Total                      string // "1,234", or "100,000+" when a lower bound
	TotalKey                   string // its catalog key (one message, or several)
	Results                    []resultRow
	Next, First                string // page links ("" when none)
	FacetGroups                []facetGroup
	// Warnings are app's filter warnings in the page's language, shown
	// above the results (the search ran; the answer may be empty
	// because of them).
	Warnings []string
	// Types and Directions are the filter controls' choices.
	Types, Directions []string
}

type resultRow struct {
	Href         string
	Serial       uint64
	SentAt       timeView
	Sender       string
	Conversation string
	Kind         string
	Recalled     bool
	TimeUnknown  bool
	InAttachment int
	Snippet      []segment
	// SenderName, ConversationName: the directory's names when the
	// message was sent ("" when none), shown with the id beside them.
	SenderName, ConversationName string
}

// segment is a piece of a snippet, highlighted when it is a hit. Text is
// escaped by html/template like everything else.
type segment struct {
	Text string
	Hit  bool
}

type facetGroup struct {
	Key    string // catalog key of the facet's name
	Values []facetValue
}

type facetValue struct {
	Value string
	Name  string // the directory's name of a sender or conversation ("" when none)
	Count string
	Href  string // the query narrowed to this value ("" when it cannot be)
}

// The page sizes the form offers; a link may ask any up to maxPageSize.
var pageSizes = []int{20, 50, 100}

const maxPageSize = 200

// Search: GET /search?q=QUERY[&sort=time|relevance][&cursor=C][&facets=1],
// app.Search's results (journaled there) with highlighted snippets and
// keyset paging.
func (u *UI) Search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	composed := false
	for name := range q {
		switch name {
		case "q", "sort", "cursor", "facets", "limit":
		default:
			if _, ok := filterControls[name]; ok {
				composed = true
				continue
			}
			return &app.SearchError{Field: name, Err: errors.New("unknown parameter (expected q, sort, cursor, facets, limit, or a filter control f_…)")}
		}
	}
	if composed {
		// The filter controls are written into the query, which stays
		// the one statement of the search: the answer is the same
		// search with them in the query box.
		cq, err := composeFilters(q)
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/search?"+cq.Encode(), http.StatusSeeOther)
		return nil
	}
	sp := &searchPage{Query: q.Get("q"), Sort: q.Get("sort"), Facets: q.Get("facets") != "", Limit: app.DefaultSearchLimit, Limits: pageSizes,
		Types: searchTypes, Directions: searchDirections}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return &app.SearchError{Field: "limit", Err: fmt.Errorf("expected a number from 1 to %d, not %q", maxPageSize, l)}
		}
		sp.Limit = n
	}
	if sp.Sort == "" {
		sp.Sort = string(store.SortTime)
	}
	v := u.newView(r, "search.title", sp)
	if !q.Has("q") || strings.TrimSpace(sp.Query) == "" {
		return u.render(w, http.StatusOK, "search", v)
	}
	res, err := u.opts.App.Search(r.Context(), app.SearchOptions{Query: sp.Query, Sort: store.SearchSort(sp.Sort),
		Cursor: q.Get("cursor"), Facets: sp.Facets, Limit: sp.Limit})
	var se *app.SearchError
	if errors.As(err, &se) {
		sp.Err = se.Error()
		var syn *textindex.SyntaxError
		if errors.As(err, &syn) && syn.Column > 0 {
			sp.ErrColumn = syn.Column
			rs := []rune(sp.Query)
			c := min(syn.Column-1, len(rs))
			sp.ErrBefore = string(rs[:c])
			if c < len(rs) {
				sp.ErrAt, sp.ErrAfter = string(rs[c:c+1]), string(rs[c+1:])
			} else {
				sp.ErrAt = " "
			}
		}
		return u.render(w, http.StatusBadRequest, "search", v)
	}
	if err != nil {
		return err
	}
	sp.Ran = true
	for _, fw := range res.FilterWarnings {
		sp.Warnings = append(sp.Warnings, filterWarning(v, fw))
	}
	sp.Total, sp.TotalKey = thousands(res.Total), "search.total"
	if !res.TotalExact {
		sp.Total += "+"
	} else if res.Total == 1 {
		sp.TotalKey = "search.total_one"
	}
	base := url.Values{"q": {sp.Query}, "sort": {string(res.Sort)}}
	if sp.Limit != app.DefaultSearchLimit {
		base.Set("limit", strconv.Itoa(sp.Limit))
	}
	if sp.Facets {
		base.Set("facets", "1")
	}
	if res.NextCursor != "" {
		nq := url.Values{}
		for k, vs := range base {
			nq[k] = vs
		}
		nq.Set("cursor", res.NextCursor)
		sp.Next = "/search?" + nq.Encode()
	}
	if q.Get("cursor") != "" {
		sp.First = "/search?" + base.Encode()
	}
	for _, it := range res.Results {
		row := resultRow{Href: "/messages/" + strconv.FormatUint(it.Serial, 10), Serial: it.Serial, Sender: it.Sender,
			Conversation: it.Conversation, SenderName: it.SenderName, ConversationName: it.ConversationName, Kind: string(it.Kind), Recalled: it.Recalled, TimeUnknown: it.TimeUnknown, InAttachment: it.InAttachment,
			Snippet: segments(it.Snippet, it.Highlights)}
		if t, err := time.Parse(time.RFC3339Nano, it.SentAt); err == nil {
			row.SentAt = v.Time(t)
		}
		sp.Results = append(sp.Results, row)
	}
	for _, name := range store.FacetNames {
		counts, ok := res.Facets[name]
		if !ok {
			continue
		}
		g := facetGroup{Key: "facet." + name}
		for _, c := range counts {
			fv := facetValue{Value: c.Value, Name: c.Name, Count: thousands(c.Count)}
			if f := facetFilter(name, c.Value); f != "" {
				fq := url.Values{"q": {sp.Query + " " + f}, "sort": base["sort"], "facets": {"1"}}
				fv.Href = "/search?" + fq.Encode()
			}
			g.Values = append(g.Values, fv)
		}
		sp.FacetGroups = append(sp.FacetGroups, g)
	}
	return u.render(w, http.StatusOK, "search", v)
}

// filterWarning words an app.FilterWarning in the page's language. The
// filter's name and value stay as typed: they are query language.
func filterWarning(v *view, w app.FilterWarning) string {
	var parts []string
	if w.Filter == "conversation" {
		return v.T("search.warn_conversation", w.Value)
	}
	if w.Filter == "department" {
		parts = append(parts, v.T("search.warn_department", w.Value))
	} else {
		parts = append(parts, v.T("search.warn_person", w.Filter, w.Value))
	}
	if w.DidYouMean != "" {
		parts = append(parts, v.T("search.warn_did_you_mean", w.DidYouMean))
	}
	if w.Filter == "department" {
		switch known := strings.Join(w.Known, v.T("search.list_sep")); {
		case len(w.Known) == 0:
			parts = append(parts, v.T("search.warn_no_departments"))
		case w.MoreKnown:
			parts = append(parts, v.T("search.warn_known", known+v.T("search.list_sep")+"…"))
		default:
			parts = append(parts, v.T("search.warn_known", known))
		}
	}
	return strings.Join(parts, " ")
}

// facetFilter is the query-language filter selecting a facet's value, or
// "" when the value cannot be written as one.
func facetFilter(facet, value string) string {
	if value == "" || strings.ContainsAny(value, "\"\\") {
		return ""
	}
	quote := func(s string) string {
		if strings.ContainsAny(s, " \t()") {
			return `"` + s + `"`
		}
		return s
	}
	switch facet {
	case "sender":
		return "from:" + quote(value)
	case "conversation":
		return "conversation:" + quote(value)
	case "type":
		return "type:" + quote(value)
	case "direction":
		return "direction:" + quote(value)
	case "month":
		m, err := time.Parse("2006-01", value)
		if err != nil {
			return ""
		}
		return "after:" + m.Format("2006-01-02") + " before:" + m.AddDate(0, 1, 0).Format("2006-01-02")
	}
	return ""
}

// segments splits a snippet at its highlights, which are code-point
// offsets (textindex.Snippet). Offsets outside the snippet are ignored.
func segments(snippet string, hl [][2]int) []segment {
	rs := []rune(snippet)
	var out []segment
	at := 0
	for _, h := range hl {
		s, e := h[0], h[1]
		if s < at || e <= s || e > len(rs) {
			continue
		}
		if s > at {
			out = append(out, segment{Text: string(rs[at:s])})
		}
		out = append(out, segment{Text: string(rs[s:e]), Hit: true})
		at = e
	}
	if at < len(rs) {
		out = append(out, segment{Text: string(rs[at:])})
	}
	return out
}

// thousands formats n with comma separators (both catalogs' usage).
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// filterControls are the search form's filter controls and the query
// language filter each writes (docs/SEARCH.md).
var filterControls = map[string]string{
	"f_from": "from", "f_to": "to", "f_conversation": "conversation", "f_type": "type", "f_after": "after",
	"f_before": "before", "f_direction": "direction", "f_department": "department", "f_attachment": "has",
}

// filterOrder is the order the controls are written in.
var filterOrder = []string{"f_from", "f_to", "f_conversation", "f_department", "f_type", "f_direction", "f_attachment", "f_after", "f_before"}

// The choices the form offers (the query language takes more types).
var (
	searchTypes      = []string{"text", "image", "voice", "video", "file", "link", "card", "chatrecord", "mixed", "revoke"}
	searchDirections = []string{"inbound", "outbound", "internal"}
)

// composeFilters is the search of q with its filter controls written
// into the query (each value quoted when it has spaces or brackets) and
// the controls dropped; the cursor is dropped too (a new search).
func composeFilters(q url.Values) (url.Values, error) {
	parts := []string{strings.TrimSpace(q.Get("q"))}
	for _, name := range filterOrder {
		for _, val := range q[name] {
			val = strings.TrimSpace(val)
			if val == "" {
				continue
			}
			if strings.ContainsAny(val, "\"\\") {
				return nil, &app.SearchError{Field: name, Err: fmt.Errorf("%q: a filter value cannot hold a quote or a backslash", val)}
			}
			if name == "f_attachment" {
				val = "attachment"
			} else if strings.ContainsAny(val, " \t()") {
				val = `"` + val + `"`
			}
			parts = append(parts, filterControls[name]+":"+val)
		}
	}
	out := url.Values{"q": {strings.TrimSpace(strings.Join(parts, " "))}}
	for _, k := range []string{"sort", "limit", "facets"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out, nil
}
