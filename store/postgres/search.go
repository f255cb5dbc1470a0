package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// Search runs in two stages.
//
//  1. SQL narrows the messages to candidates: a predicate compiled from the
//     query that every match satisfies (a superset). A term is a lookup
//     of the GIN index on search.terms; a prefix is a substring test of the
//     index-term strings; metadata filters are exact SQL. Where the whole
//     query is exact in SQL (terms, filters and their Boolean combinations,
//     no phrase, prefix or NEAR) the candidates are the matches.
//  2. Otherwise each candidate is checked by textindex.Matcher on its
//     stored index terms — the same rules the differential suite checks
//     store/sqlite's FTS5 against — with the filters' values computed by
//     SQL in the same row (one column per filter of the query).
//
// Counting, facets and relevance are computed over the matches as they
// stream, newest first. Relevance is FTS5's bm25 (k1 1.2, b 0.75, the
// text weighted 2, attachments 1) computed here from the stored token
// counts; store/sqlite's scores and this package's agree in order for the
// same data, though NEAR groups count every occurrence of their phrases
// (FTS5 counts only those within the distance).
//
// User text reaches SQL only as bound parameters.

// compiler builds the candidate predicate and the filter columns.
type compiler struct {
	args    []any
	fields  map[*textindex.Field]int // filter → its column among cols
	cols    []string                 // boolean SQL columns, one per filter
	matcher bool                     // some node is not exact in SQL: stage 2 runs
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return fmt.Sprintf("$%d", len(c.args))
}

// searchConds is the condition on a search row of one pattern: it holds
// every exact term and the first character of every prefix (the GIN
// index answers both), and contains a longer prefix as a substring of its
// terms ("" when there is nothing to test).
func (c *compiler) searchConds(pat []textindex.PatternTerm) string {
	var terms []string
	var conds []string
	for _, p := range pat {
		switch {
		case !p.Prefix:
			terms = append(terms, p.Term)
		case p.Term == "":
		default:
			_, n := utf8.DecodeRuneInString(p.Term)
			terms = append(terms, prefixMark+p.Term[:n])
			if n < len(p.Term) {
				a := c.arg(p.Term)
				conds = append(conds, "(strpos(body, "+a+") > 0 OR strpos(atts, "+a+") > 0)")
			}
		}
	}
	if len(terms) > 0 {
		conds = append([]string{"terms @> " + c.arg(terms) + "::text[]"}, conds...)
	}
	return strings.Join(conds, " AND ")
}

// exactPattern reports whether searchConds is the pattern's match
// condition itself: one term, or a one-character prefix.
func exactPattern(pat []textindex.PatternTerm) bool {
	return len(pat) == 1 && (!pat[0].Prefix || pat[0].Term != "" && utf8.RuneCountInString(pat[0].Term) == 1)
}

// textPred is the candidate predicate of one pattern on messages m.
func (c *compiler) textPred(pat []textindex.PatternTerm) string {
	conds := c.searchConds(pat)
	if conds == "" {
		return "m.skey IN (SELECT skey FROM search)"
	}
	return "m.skey IN (SELECT skey FROM search WHERE " + conds + ")"
}

// pre compiles n to a candidate predicate; exact reports that it is the
// match predicate itself. "" means no constraint.
func (c *compiler) pre(n textindex.Node) (string, bool, error) {
	switch n := n.(type) {
	case *textindex.Text:
		pat := n.Pattern(false)
		alts := []string{c.textPred(pat)}
		for _, v := range n.Variants() {
			alts = append(alts, c.textPred([]textindex.PatternTerm{{Term: v}}))
		}
		exact := exactPattern(pat)
		if !exact {
			c.matcher = true
		}
		if len(alts) == 1 {
			return alts[0], exact, nil
		}
		return "(" + strings.Join(alts, " OR ") + ")", exact, nil
	case *textindex.Near:
		c.matcher = true
		var pat []textindex.PatternTerm
		for _, t := range n.Texts {
			pat = append(pat, t.Pattern(true)...)
		}
		return c.textPred(pat), false, nil
	case *textindex.Field:
		return c.fieldSQL(n), true, nil
	case *textindex.Not:
		// A superset of the child's matches says nothing of its
		// complement: unless exact, the NOT adds no constraint (and its
		// arguments go).
		save := len(c.args)
		s, exact, err := c.pre(n.Node)
		if err != nil || !exact {
			c.args = c.args[:save]
			return "", false, err
		}
		return "NOT " + s, true, nil
	case *textindex.And:
		var parts []string
		exact := true
		for _, child := range n.Nodes {
			s, ex, err := c.pre(child)
			if err != nil {
				return "", false, err
			}
			exact = exact && ex
			if s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return "", exact, nil
		}
		return "(" + strings.Join(parts, " AND ") + ")", exact, nil
	case *textindex.Or:
		save := len(c.args)
		var parts []string
		exact, open := true, false
		for _, child := range n.Nodes {
			s, ex, err := c.pre(child)
			if err != nil {
				return "", false, err
			}
			exact = exact && ex
			if s == "" {
				open = true // one unconstrained branch: the OR is unconstrained
			}
			parts = append(parts, s)
		}
		if open {
			c.args = c.args[:save]
			return "", exact, nil
		}
		return "(" + strings.Join(parts, " OR ") + ")", exact, nil
	}
	return "", false, fmt.Errorf("search: unknown query node %T", n)
}

// columns compiles one boolean column per filter of the query (after the
// candidate predicate, whose arguments must not be dropped from under
// them), for the matcher.
func (c *compiler) columns(n textindex.Node) {
	switch n := n.(type) {
	case *textindex.Field:
		c.fields[n] = len(c.cols)
		c.cols = append(c.cols, "coalesce("+c.fieldSQL(n)+", false)")
	case *textindex.Not:
		c.columns(n.Node)
	case *textindex.And:
		for _, x := range n.Nodes {
			c.columns(x)
		}
	case *textindex.Or:
		for _, x := range n.Nodes {
			c.columns(x)
		}
	}
}

// recipient is a recipient id of m, as text of the columns' collation.
const recipients = `jsonb_array_elements_text(m.recipients::jsonb) j(v)`

func (c *compiler) fieldSQL(f *textindex.Field) string {
	switch f.Name {
	case "from":
		v := c.arg(f.Value)
		return "(m.sender = " + v + " OR m.sender IN (SELECT id FROM directory WHERE name = " + v + "))"
	case "to":
		v := c.arg(f.Value)
		return "EXISTS (SELECT 1 FROM " + recipients + ` WHERE j.v COLLATE "C" = ` + v +
			` OR j.v COLLATE "C" IN (SELECT id FROM directory WHERE name = ` + v + "))"
	case "participant":
		v := c.arg(f.Value)
		return "(m.sender = " + v + " OR m.sender IN (SELECT id FROM directory WHERE name = " + v + ") OR EXISTS (SELECT 1 FROM " +
			recipients + ` WHERE j.v COLLATE "C" = ` + v + ` OR j.v COLLATE "C" IN (SELECT id FROM directory WHERE name = ` + v + ")))"
	case "conversation":
		return "m.conversation = " + c.arg(f.Value)
	case "type":
		return "m.kind = " + c.arg(f.Value)
	case "has":
		return "m.n_attachments > 0"
	case "filename":
		// ILIKE on a COLLATE "C" column folds ASCII case only, as
		// SQLite's LIKE does.
		return `EXISTS (SELECT 1 FROM attachments a WHERE a.serial = m.serial AND a.file_name ILIKE ` +
			c.arg("%"+likeEscape(f.Value)+"%") + ` ESCAPE '\')`
	case "after", "before", "on":
		return "(m.sent_at >= " + c.arg(f.From) + " AND m.sent_at < " + c.arg(f.To) + ")"
	case "recalled":
		if f.Bool {
			return "m.recalled_by IS NOT NULL"
		}
		return "m.recalled_by IS NULL"
	case "direction":
		return "m.direction = " + c.arg(f.Value)
	case "department":
		v := c.arg(f.Value)
		return "(m.sender IN (SELECT id FROM directory WHERE department = " + v + ") OR EXISTS (SELECT 1 FROM " +
			recipients + ` WHERE j.v COLLATE "C" IN (SELECT id FROM directory WHERE department = ` + v + ")))"
	}
	// Parse admits only the fields above.
	return "false"
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// timeRange returns the sent-time range [from, to) every match must lie in,
// from after:/before:/on: filters at the top level of an AND, so the scan
// covers only those keys; ok is false when there are none.
func timeRange(n textindex.Node) (from, to int64, ok bool) {
	from, to = -1<<62, 1<<62
	visit := func(c textindex.Node) {
		if f, isField := c.(*textindex.Field); isField && (f.Name == "after" || f.Name == "before" || f.Name == "on") {
			from, to, ok = max(from, f.From), min(to, f.To), true
		}
	}
	if a, isAnd := n.(*textindex.And); isAnd {
		for _, c := range a.Nodes {
			visit(c)
		}
	} else {
		visit(n)
	}
	return from, to, ok
}

// ftsClass is how store/sqlite compiles a node (compile in its search.go):
// whether it becomes a full-text expression (fts), negated (neg), and/or a
// SQL predicate (sql). Relevance sorting applies exactly where SQLite's
// results come from its full-text index: a positive full-text part at the
// top.
type ftsClass struct{ fts, neg, sql bool }

func classify(n textindex.Node) ftsClass {
	switch n := n.(type) {
	case *textindex.Text, *textindex.Near:
		return ftsClass{fts: true}
	case *textindex.Field:
		return ftsClass{sql: true}
	case *textindex.Not:
		c := classify(n.Node)
		if !c.sql {
			return ftsClass{fts: c.fts, neg: !c.neg}
		}
		return ftsClass{sql: true}
	case *textindex.And:
		var pos, neg, preds int
		for _, child := range n.Nodes {
			c := classify(child)
			switch {
			case !c.sql && !c.neg:
				pos++
			case !c.sql && c.neg:
				neg++
			case c.fts && !c.neg:
				pos++
				preds++
			default:
				preds++
			}
		}
		switch {
		case pos > 0:
			return ftsClass{fts: true, sql: preds > 0}
		case neg > 0 && preds == 0:
			return ftsClass{fts: true, neg: true}
		case neg > 0:
			preds++
		}
		return ftsClass{sql: preds > 0}
	case *textindex.Or:
		for _, child := range n.Nodes {
			if c := classify(child); c.sql || c.neg {
				return ftsClass{sql: true}
			}
		}
		return ftsClass{fts: true}
	}
	return ftsClass{}
}

// phrase is one phrase of the full-text expression, for bm25.
type phrase struct {
	pat []textindex.PatternTerm
	idf float64
}

// phrases collects the phrases that SQLite's MATCH expression would hold
// at the top (not under NOT, not inside a part compiled to SQL): a term's
// pattern and each of its plural variants, each phrase of a NEAR group.
func phrases(n textindex.Node, out []phrase) []phrase {
	switch n := n.(type) {
	case *textindex.Text:
		out = append(out, phrase{pat: n.Pattern(false)})
		for _, v := range n.Variants() {
			out = append(out, phrase{pat: []textindex.PatternTerm{{Term: v}}})
		}
	case *textindex.Near:
		for _, t := range n.Texts {
			out = append(out, phrase{pat: t.Pattern(true)})
		}
	case *textindex.And:
		for _, c := range n.Nodes {
			out = phrases(c, out)
		}
	case *textindex.Or:
		if c := classify(n); !c.sql {
			for _, c := range n.Nodes {
				out = phrases(c, out)
			}
		}
	}
	return out
}

// occurrences counts the positions where pat starts in terms.
func occurrences(pat []textindex.PatternTerm, terms []string) int {
	n := 0
	for p := 0; p+len(pat) <= len(terms); p++ {
		ok := true
		for i, pt := range pat {
			d := terms[p+i]
			if pt.Prefix && !strings.HasPrefix(d, pt.Term) || !pt.Prefix && d != pt.Term {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

func splitTerms(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// bm25 parameters of FTS5, and store/sqlite's column weights.
const (
	bm25K1       = 1.2
	bm25B        = 0.75
	weightBody   = 2.0
	weightAttach = 1.0
)

// prepareBM25 computes each phrase's inverse document frequency over the
// whole index (FTS5's formula, floored at 1e-6) and the mean document
// length.
func (s *Store) prepareBM25(ctx context.Context, ps []phrase) (avgdl float64, err error) {
	var nRow, nTok int64
	if err := s.q.QueryRow(ctx, `SELECT count(*), coalesce(sum(body_len + atts_len), 0) FROM search`).Scan(&nRow, &nTok); err != nil {
		return 0, err
	}
	if nRow > 0 {
		avgdl = float64(nTok) / float64(nRow)
	}
	for i := range ps {
		c := &compiler{}
		if exactPattern(ps[i].pat) {
			// The GIN index counts it alone.
			var hits int64
			if err := s.q.QueryRow(ctx, "SELECT count(*) FROM search WHERE "+c.searchConds(ps[i].pat), c.args...).Scan(&hits); err != nil {
				return 0, err
			}
			ps[i].idf = idf(nRow, hits)
			continue
		}
		q := "SELECT body, atts FROM search"
		if conds := c.searchConds(ps[i].pat); conds != "" {
			q += " WHERE " + conds
		}
		rows, err := s.q.Query(ctx, q, c.args...)
		if err != nil {
			return 0, err
		}
		var hits int64
		for rows.Next() {
			var body, atts string
			if err := rows.Scan(&body, &atts); err != nil {
				rows.Close()
				return 0, err
			}
			if occurrences(ps[i].pat, splitTerms(body)) > 0 || occurrences(ps[i].pat, splitTerms(atts)) > 0 {
				hits++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		ps[i].idf = idf(nRow, hits)
	}
	return avgdl, nil
}

// idf is FTS5's inverse document frequency of a phrase in hits of nRow
// documents, floored at 1e-6 (a phrase in most documents still counts a
// little).
func idf(nRow, hits int64) float64 {
	v := math.Log((float64(nRow) - float64(hits) + 0.5) / (float64(hits) + 0.5))
	if v <= 0 {
		v = 1e-6
	}
	return v
}

func bm25(ps []phrase, body, atts []string, docLen int64, avgdl float64) float64 {
	score := 0.0
	for _, p := range ps {
		f := weightBody*float64(occurrences(p.pat, body)) + weightAttach*float64(occurrences(p.pat, atts))
		if f == 0 {
			continue
		}
		score += p.idf * (f * (bm25K1 + 1)) / (f + bm25K1*(1-bm25B+bm25B*float64(docLen)/avgdl))
	}
	return -score
}

// match is one matching message as the scan keeps it.
type match struct {
	serial uint64
	key    int64
	score  float64
}

// Search implements store.Reader.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) (store.SearchPage, error) {
	var page store.SearchPage
	var flag string
	switch err := s.q.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'reindex_required'`).Scan(&flag); {
	case err == nil:
		return page, store.ErrReindexRequired
	case !errors.Is(err, pgx.ErrNoRows):
		return page, err
	}
	if req.Limit <= 0 {
		req.Limit = 20
	}
	if len(req.Serials) > store.MaxSearchSerials {
		return page, fmt.Errorf("search: %d serials, over the limit of %d", len(req.Serials), store.MaxSearchSerials)
	}
	c := &compiler{fields: map[*textindex.Field]int{}}
	var where string
	relevance := false
	if req.Query == nil {
		// Exact mode: a literal substring of the text or an attachment's
		// text, case-sensitive (SQLite's instr).
		lit := c.arg(req.Exact)
		where = "(strpos(m.text, " + lit + ") > 0 OR EXISTS (SELECT 1 FROM attachments a WHERE a.serial = m.serial AND strpos(a.text, " + lit + ") > 0))"
	} else {
		w, exact, err := c.pre(req.Query)
		if err != nil {
			return page, err
		}
		if !exact {
			c.matcher = true
		}
		where = w
		if where == "" {
			where = "true"
		}
		if lo, hi, ok := timeRange(req.Query); ok {
			klo, khi := store.SearchKeyRange(lo, hi)
			where += " AND m.skey >= " + c.arg(klo) + " AND m.skey < " + c.arg(khi)
		}
		cl := classify(req.Query)
		relevance = req.Sort == store.SortRelevance && cl.fts && !cl.neg
	}
	if len(req.Serials) > 0 {
		ids := make([]int64, len(req.Serials))
		for i, sr := range req.Serials {
			ids[i] = int64(sr)
		}
		where += " AND m.serial = ANY(" + c.arg(ids) + ")"
	}

	if !c.matcher && !relevance && !req.Facets {
		return s.searchSQL(ctx, req, where, c.args)
	}

	var ps []phrase
	var avgdl float64
	if relevance {
		ps = phrases(req.Query, nil)
		var err error
		if avgdl, err = s.prepareBM25(ctx, ps); err != nil {
			return page, fmt.Errorf("search: %w", err)
		}
	}
	needTerms := c.matcher || relevance
	terms := "'', '', 0"
	if needTerms {
		terms = "coalesce(s.body, ''), coalesce(s.atts, ''), coalesce(s.body_len + s.atts_len, 0)"
	}
	q := "SELECT m.serial, m.skey, m.sender, m.conversation, m.kind, m.direction, m.sent_at, " + terms
	if c.matcher {
		c.columns(req.Query)
	}
	for _, col := range c.cols {
		q += ", " + col
	}
	q += " FROM messages m"
	if needTerms {
		q += " LEFT JOIN search s ON s.skey = m.skey"
	}
	q += " WHERE " + where + " ORDER BY m.skey DESC"

	var mt *textindex.Matcher
	var fieldVals []bool
	fieldFn := func(f *textindex.Field) bool {
		i, ok := c.fields[f]
		return ok && fieldVals[i]
	}
	if c.matcher {
		mt = textindex.NewMatcher(req.Query)
	}

	type facetKey struct{ facet, value string }
	facetCounts := map[facetKey]int64{}
	hours := map[int64]int64{}
	var (
		count   int64
		matches []match // time sort: the page (and one more); relevance: every match
	)
	countLimit := req.CountLimit
	rows, err := s.q.Query(ctx, q, c.args...)
	if err != nil {
		return page, fmt.Errorf("search: %w", err)
	}
	fieldVals = make([]bool, len(c.cols))
	dest := make([]any, 10+len(c.cols))
	var (
		serial, key, sent, docLen int64
		sender, conv, kind, dir   string
		bodyTerms, attTerms       string
	)
	for i, p := range []any{&serial, &key, &sender, &conv, &kind, &dir, &sent, &bodyTerms, &attTerms, &docLen} {
		dest[i] = p
	}
	for i := range c.cols {
		dest[10+i] = &fieldVals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return page, fmt.Errorf("search: %w", err)
		}
		if mt != nil {
			p := textindex.PrepareIndexed(&textindex.Doc{Texts: []string{"", ""}, Field: fieldFn}, []string{bodyTerms, attTerms})
			if !mt.MatchPrepared(p) {
				continue
			}
		}
		count++
		if req.Facets {
			facetCounts[facetKey{"sender", sender}]++
			facetCounts[facetKey{"conversation", conv}]++
			facetCounts[facetKey{"type", kind}]++
			facetCounts[facetKey{"direction", dir}]++
			hours[sent/3600000]++
		}
		switch {
		case relevance:
			sc := bm25(ps, splitTerms(bodyTerms), splitTerms(attTerms), docLen, avgdl)
			if a := req.After; a == nil || sc > a.Score || (sc == a.Score && key < a.Key) {
				matches = append(matches, match{uint64(serial), key, sc})
			}
		case len(matches) <= req.Limit && (req.After == nil || key < req.After.Key):
			matches = append(matches, match{serial: uint64(serial), key: key})
		}
		// Past the page and the count limit, nothing more is needed
		// (facets count every match, so they read on).
		if !relevance && !req.Facets && countLimit > 0 && count > countLimit && len(matches) > req.Limit {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search: %w", err)
	}
	if relevance {
		sort.Slice(matches, func(i, j int) bool {
			a, b := matches[i], matches[j]
			return a.score < b.score || (a.score == b.score && a.key > b.key)
		})
		if len(matches) > req.Limit+1 {
			matches = matches[:req.Limit+1]
		}
	}
	if len(matches) > req.Limit {
		matches = matches[:req.Limit]
		last := matches[len(matches)-1]
		page.Next = &store.SearchCursor{Key: last.key, Score: last.score}
	}
	if page.Hits, err = s.hits(ctx, matches); err != nil {
		return page, err
	}
	page.Total, page.TotalExact = count, true
	if countLimit > 0 && count > countLimit {
		page.Total, page.TotalExact = countLimit, false
	}
	if req.Facets {
		page.Facets = map[string][]store.FacetCount{}
		for k, n := range facetCounts {
			page.Facets[k.facet] = append(page.Facets[k.facet], store.FacetCount{Value: k.value, Count: n})
		}
		for name, fc := range page.Facets {
			sort.Slice(fc, func(i, j int) bool {
				return fc[i].Count > fc[j].Count || (fc[i].Count == fc[j].Count && fc[i].Value < fc[j].Value)
			})
			if len(fc) > store.MaxFacetValues {
				page.Facets[name] = fc[:store.MaxFacetValues]
			}
		}
		// Months in the archive's time zone: counted per UTC hour, then
		// labelled (store/sqlite does the same).
		months := map[string]int64{}
		for hour, n := range hours {
			label := archive.MillisTime(hour * 3600000).Format("2006-01")
			if req.FacetMonth != nil {
				label = req.FacetMonth(hour * 3600000)
			}
			months[label] += n
		}
		for label, n := range months {
			page.Facets["month"] = append(page.Facets["month"], store.FacetCount{Value: label, Count: n})
		}
		m := page.Facets["month"]
		sort.Slice(m, func(a, b int) bool { return m[a].Value > m[b].Value })
	}
	return page, nil
}

// searchSQL answers a query that SQL matches exactly, newest first and
// without facets, in two queries: the page (by the skey index, or the GIN
// index's candidates sorted) and the count, which stops at the count
// limit.
func (s *Store) searchSQL(ctx context.Context, req store.SearchRequest, where string, args []any) (store.SearchPage, error) {
	var page store.SearchPage
	arg := func(a []any, v any) ([]any, string) {
		a = append(a, v)
		return a, fmt.Sprintf("$%d", len(a))
	}
	hargs := append([]any(nil), args...)
	q := "SELECT m.serial, m.skey FROM messages m WHERE " + where
	var p string
	if req.After != nil {
		hargs, p = arg(hargs, req.After.Key)
		q += " AND m.skey < " + p
	}
	hargs, p = arg(hargs, req.Limit+1)
	q += " ORDER BY m.skey DESC LIMIT " + p
	matches, err := collect(ctx, s, func(r scanner) (match, error) {
		var serial int64
		var m match
		err := r.Scan(&serial, &m.key)
		m.serial = uint64(serial)
		return m, err
	}, q, hargs...)
	if err != nil {
		return page, fmt.Errorf("search: %w", err)
	}
	if len(matches) > req.Limit {
		matches = matches[:req.Limit]
		page.Next = &store.SearchCursor{Key: matches[len(matches)-1].key}
	}
	if page.Hits, err = s.hits(ctx, matches); err != nil {
		return page, err
	}
	cargs := append([]any(nil), args...)
	cq := "SELECT count(*) FROM messages m WHERE " + where
	if req.CountLimit > 0 {
		// The inner LIMIT stops the scan itself; one more than the
		// limit tells "exactly limit" from "more".
		cargs, p = arg(cargs, req.CountLimit+1)
		cq = "SELECT count(*) FROM (SELECT 1 FROM messages m WHERE " + where + " LIMIT " + p + ") x"
	}
	var n int64
	if err := s.q.QueryRow(ctx, cq, cargs...).Scan(&n); err != nil {
		return page, fmt.Errorf("search count: %w", err)
	}
	page.Total, page.TotalExact = n, true
	if req.CountLimit > 0 && n > req.CountLimit {
		page.Total, page.TotalExact = req.CountLimit, false
	}
	return page, nil
}

// hits reads the page's messages and their attachments' texts, in the
// page's order.
func (s *Store) hits(ctx context.Context, page []match) ([]store.SearchHit, error) {
	if len(page) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(page))
	for i, m := range page {
		ids[i] = int64(m.serial)
	}
	bySerial := map[uint64]*store.SearchHit{}
	out := make([]store.SearchHit, len(page))
	for i, m := range page {
		out[i].Serial, out[i].Key, out[i].Score = m.serial, m.key, m.score
		bySerial[m.serial] = &out[i]
	}
	type row struct {
		h                 store.SearchHit
		serial, sent, rec int64
		natt, unknown     int64
		kind, dir         string
	}
	rows, err := collect(ctx, s, func(r scanner) (row, error) {
		var x row
		err := r.Scan(&x.serial, &x.h.SourceID, &x.h.Conversation, &x.h.Sender, &x.sent, &x.kind, &x.dir, &x.rec, &x.natt, &x.h.Text, &x.unknown)
		return x, err
	}, `SELECT serial, source_id, conversation, sender, sent_at, kind, direction, coalesce(recalled_by, 0), n_attachments, text, time_unknown
		FROM messages WHERE serial = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var withAtts []int64
	for _, x := range rows {
		h := bySerial[uint64(x.serial)]
		h.SourceID, h.Conversation, h.Sender, h.Text = x.h.SourceID, x.h.Conversation, x.h.Sender, x.h.Text
		h.SentAt, h.Kind, h.Direction = archive.MillisTime(x.sent), archive.Kind(x.kind), archive.Direction(x.dir)
		h.RecalledBy, h.Attachments, h.TimeUnknown = uint64(x.rec), int(x.natt), x.unknown != 0
		if x.natt > 0 {
			withAtts = append(withAtts, x.serial)
		}
	}
	if len(withAtts) > 0 {
		type att struct {
			serial int64
			text   string
		}
		atts, err := collect(ctx, s, func(r scanner) (att, error) {
			var a att
			err := r.Scan(&a.serial, &a.text)
			return a, err
		}, `SELECT serial, text FROM attachments WHERE serial = ANY($1) AND text != '' ORDER BY serial, ord`, withAtts)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		for _, a := range atts {
			h := bySerial[uint64(a.serial)]
			h.AttachText = append(h.AttachText, a.text)
		}
	}
	return out, nil
}
