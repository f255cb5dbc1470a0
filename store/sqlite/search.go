package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// A query compiles to a full-text part (an FTS5 MATCH expression) and a SQL
// part over messages (m). Maximal text-only subtrees become one MATCH
// expression, so the common query — words and phrases with a few filters —
// is one FTS5 lookup walked newest first. User text reaches SQL only as
// bound parameters; inside a MATCH expression every term is a quoted FTS5
// string built from analyzer output (which never contains a quote).

// frag is a compiled node: it matches where fts matches (if set) and the SQL
// predicate holds (if set). neg marks a pure negated full-text part.
type frag struct {
	fts  string
	neg  bool
	sql  string
	args []any
}

func ftsString(term string) string {
	return `"` + strings.ReplaceAll(term, `"`, `""`) + `"`
}

// ftsPhrase renders pattern terms as one FTS5 phrase.
func ftsPhrase(pat []textindex.PatternTerm) string {
	terms := make([]string, len(pat))
	for i, p := range pat {
		terms[i] = p.Term
	}
	s := ftsString(strings.Join(terms, " "))
	if len(pat) > 0 && pat[len(pat)-1].Prefix {
		s += "*"
	}
	return s
}

func ftsText(t *textindex.Text) string {
	s := ftsPhrase(t.Pattern(false))
	if vs := t.Variants(); len(vs) > 0 {
		parts := []string{s}
		for _, v := range vs {
			parts = append(parts, ftsString(v))
		}
		s = "(" + strings.Join(parts, " OR ") + ")"
	}
	return s
}

func ftsNear(n *textindex.Near) string {
	parts := make([]string, len(n.Texts))
	for i, t := range n.Texts {
		parts[i] = ftsPhrase(t.Pattern(true))
	}
	return fmt.Sprintf("NEAR(%s, %d)", strings.Join(parts, " "), n.Distance)
}

const ftsIn = "m.skey IN (SELECT rowid FROM fts WHERE fts MATCH ?)"

// toSQL turns a fragment into a SQL predicate alone.
func (f frag) toSQL() (string, []any) {
	var preds []string
	var args []any
	if f.fts != "" {
		if f.neg {
			preds = append(preds, "m.skey NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
		} else {
			preds = append(preds, ftsIn)
		}
		args = append(args, f.fts)
	}
	if f.sql != "" {
		preds = append(preds, f.sql)
		args = append(args, f.args...)
	}
	return "(" + strings.Join(preds, " AND ") + ")", args
}

func compile(n textindex.Node) (frag, error) {
	switch n := n.(type) {
	case *textindex.Text:
		return frag{fts: ftsText(n)}, nil
	case *textindex.Near:
		return frag{fts: ftsNear(n)}, nil
	case *textindex.Field:
		s, args := fieldSQL(n)
		return frag{sql: s, args: args}, nil
	case *textindex.Not:
		c, err := compile(n.Node)
		if err != nil {
			return frag{}, err
		}
		if c.sql == "" {
			return frag{fts: c.fts, neg: !c.neg}, nil
		}
		s, args := c.toSQL()
		return frag{sql: "NOT " + s, args: args}, nil
	case *textindex.And:
		var pos, neg, preds []string
		var args []any
		for _, child := range n.Nodes {
			c, err := compile(child)
			if err != nil {
				return frag{}, err
			}
			switch {
			case c.sql == "" && !c.neg:
				pos = append(pos, c.fts)
			case c.sql == "" && c.neg:
				neg = append(neg, c.fts)
			case c.fts != "" && !c.neg:
				pos = append(pos, c.fts)
				preds = append(preds, c.sql)
				args = append(args, c.args...)
			default:
				s, a := c.toSQL()
				preds = append(preds, s)
				args = append(args, a...)
			}
		}
		out := frag{}
		switch {
		case len(pos) > 0:
			out.fts = "(" + strings.Join(pos, " AND ") + ")"
			if len(neg) > 0 {
				out.fts += " NOT (" + strings.Join(neg, " OR ") + ")"
			}
		case len(neg) > 0 && len(preds) == 0:
			return frag{fts: "(" + strings.Join(neg, " OR ") + ")", neg: true}, nil
		case len(neg) > 0:
			preds = append(preds, "m.skey NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
			args = append(args, "("+strings.Join(neg, " OR ")+")")
		}
		if len(preds) > 0 {
			out.sql = strings.Join(preds, " AND ")
			out.args = args
		}
		return out, nil
	case *textindex.Or:
		var fts []string
		allFTS := true
		cs := make([]frag, len(n.Nodes))
		for i, child := range n.Nodes {
			c, err := compile(child)
			if err != nil {
				return frag{}, err
			}
			cs[i] = c
			if c.sql != "" || c.neg {
				allFTS = false
			}
			fts = append(fts, c.fts)
		}
		if allFTS {
			return frag{fts: "(" + strings.Join(fts, " OR ") + ")"}, nil
		}
		var preds []string
		var args []any
		for _, c := range cs {
			s, a := c.toSQL()
			preds = append(preds, s)
			args = append(args, a...)
		}
		return frag{sql: "(" + strings.Join(preds, " OR ") + ")", args: args}, nil
	}
	return frag{}, fmt.Errorf("search: unknown query node %T", n)
}

// fieldSQL renders a filter. Values are parameters.
func fieldSQL(f *textindex.Field) (string, []any) {
	const byName = "SELECT id FROM directory WHERE name = ?"
	switch f.Name {
	case "from":
		return "(m.sender = ? OR m.sender IN (" + byName + "))", []any{f.Value, f.Value}
	case "to":
		return "EXISTS (SELECT 1 FROM json_each(m.recipients) j WHERE j.value = ? OR j.value IN (" + byName + "))", []any{f.Value, f.Value}
	case "participant":
		return "(m.sender = ? OR m.sender IN (" + byName + ") OR EXISTS (SELECT 1 FROM json_each(m.recipients) j WHERE j.value = ? OR j.value IN (" + byName + ")))",
			[]any{f.Value, f.Value, f.Value, f.Value}
	case "conversation":
		return "m.conversation = ?", []any{f.Value}
	case "type":
		return "m.kind = ?", []any{f.Value}
	case "has":
		return "m.n_attachments > 0", nil
	case "filename":
		return `EXISTS (SELECT 1 FROM attachments a WHERE a.serial = m.serial AND a.file_name LIKE ? ESCAPE '\')`, []any{"%" + likeEscape(f.Value) + "%"}
	case "after", "before", "on":
		return "(m.sent_at >= ? AND m.sent_at < ?)", []any{f.From, f.To}
	case "recalled":
		if f.Bool {
			return "m.recalled_by IS NOT NULL", nil
		}
		return "m.recalled_by IS NULL", nil
	case "direction":
		return "m.direction = ?", []any{f.Value}
	case "department":
		const dept = "SELECT id FROM directory WHERE department = ?"
		return "(m.sender IN (" + dept + ") OR EXISTS (SELECT 1 FROM json_each(m.recipients) j WHERE j.value IN (" + dept + ")))", []any{f.Value, f.Value}
	}
	// Parse admits only the fields above.
	return "0", nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// timeRange returns the sent-time range [from, to) every match must lie in,
// from after:/before:/on: filters at the top level of an AND, so the walk
// over the index covers only those keys; ok is false when there are none.
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

const hitCols = `m.serial, m.source_id, m.conversation, m.sender, m.sent_at, m.kind, m.direction,
	coalesce(m.recalled_by, 0), m.time_unknown, m.n_attachments, m.text, m.skey`

// Search implements store.Reader.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) (store.SearchPage, error) {
	var page store.SearchPage
	var flag string
	switch err := s.rq.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'reindex_required'`).Scan(&flag); {
	case err == nil:
		return page, store.ErrReindexRequired
	case !errors.Is(err, sql.ErrNoRows):
		return page, err
	}
	if req.Limit <= 0 {
		req.Limit = 20
	}
	var (
		from     string // FROM … WHERE … shared by hits, count and facets
		args     []any
		ftsOK    bool // results come from the full-text index (relevance possible)
		plainFTS bool // nothing but the MATCH: the count needs no join
	)
	switch {
	case req.Query == nil:
		from = `FROM messages m WHERE (instr(m.text, ?) > 0 OR EXISTS (SELECT 1 FROM attachments a WHERE a.serial = m.serial AND instr(a.text, ?) > 0))`
		args = []any{req.Exact, req.Exact}
	default:
		f, err := compile(req.Query)
		if err != nil {
			return page, err
		}
		switch {
		case f.fts != "" && !f.neg:
			from = "FROM fts JOIN messages m ON m.skey = fts.rowid WHERE fts MATCH ?"
			args = []any{f.fts}
			plainFTS = f.sql == ""
			if lo, hi, ok := timeRange(req.Query); ok {
				klo, khi := store.SearchKeyRange(lo, hi)
				from += " AND fts.rowid >= ? AND fts.rowid < ?"
				args = append(args, klo, khi)
				plainFTS = false
			}
			if f.sql != "" {
				from += " AND " + f.sql
				args = append(args, f.args...)
			}
			ftsOK = true
		default:
			where, a := f.toSQL()
			from = "FROM messages m WHERE " + where
			args = a
			if lo, hi, ok := timeRange(req.Query); ok {
				klo, khi := store.SearchKeyRange(lo, hi)
				from += " AND m.skey >= ? AND m.skey < ?"
				args = append(args, klo, khi)
			}
		}
	}
	if req.Sort == store.SortRelevance && !ftsOK {
		req.Sort = store.SortTime
	}
	if len(req.Serials) > 0 {
		if len(req.Serials) > store.MaxSearchSerials {
			return page, fmt.Errorf("search: %d serials, over the limit of %d", len(req.Serials), store.MaxSearchSerials)
		}
		from += " AND m.serial IN (?" + strings.Repeat(",?", len(req.Serials)-1) + ")"
		for _, sr := range req.Serials {
			args = append(args, int64(sr))
		}
		plainFTS = false
	}

	// The total is counted while the page is read, in two halves of the key
	// space on two connections: counting a common term is the slow part of
	// a search (2.6M matches of 的 in 10M messages), and both cores help.
	cq, keyCol := "SELECT count(*) "+from, "m.skey"
	switch {
	case plainFTS:
		cq, keyCol = "SELECT count(*) FROM fts WHERE fts MATCH ?", "rowid" // no join needed
	case ftsOK:
		keyCol = "fts.rowid"
	}
	cctx, cancelCount := context.WithCancel(ctx)
	defer cancelCount()
	type counted struct {
		n   int64
		err error
	}
	totalc := make(chan counted, 1)
	go func() {
		limit := req.CountLimit
		if limit > 0 {
			limit++ // one more than the limit tells "exactly limit" from "more"
		}
		n, err := s.countSplit(cctx, cq, keyCol, args, limit)
		totalc <- counted{n, err}
	}()

	// Hits.
	var q string
	hargs := append([]any(nil), args...)
	if req.Sort == store.SortRelevance {
		// bm25 weights: the message text counts double an attachment's.
		q = "SELECT " + hitCols + ", r.score FROM (SELECT fts.rowid AS k, bm25(fts, 2.0, 1.0) AS score, m.serial AS serial " + from +
			") r JOIN messages m ON m.serial = r.serial"
		if c := req.After; c != nil {
			q += " WHERE (r.score > ? OR (r.score = ? AND r.k < ?))"
			hargs = append(hargs, c.Score, c.Score, c.Key)
		}
		q += " ORDER BY r.score, r.k DESC LIMIT ?"
	} else {
		q = "SELECT " + hitCols + ", 0.0 " + from
		if c := req.After; c != nil {
			q += " AND m.skey < ?"
			hargs = append(hargs, c.Key)
		}
		if ftsOK {
			q += " ORDER BY fts.rowid DESC LIMIT ?"
		} else {
			q += " ORDER BY m.skey DESC LIMIT ?"
		}
	}
	hargs = append(hargs, req.Limit+1)
	rows, err := s.rq.QueryContext(ctx, q, hargs...)
	if err != nil {
		return page, fmt.Errorf("search: %w", err)
	}
	for rows.Next() {
		var h store.SearchHit
		var serial, sent, recalled int64
		var kind, dir string
		if err := rows.Scan(&serial, &h.SourceID, &h.Conversation, &h.Sender, &sent, &kind, &dir, &recalled, &h.TimeUnknown,
			&h.Attachments, &h.Text, &h.Key, &h.Score); err != nil {
			rows.Close()
			return page, err
		}
		h.Serial, h.SentAt, h.Kind, h.Direction, h.RecalledBy = uint64(serial), archive.MillisTime(sent), archive.Kind(kind), archive.Direction(dir), uint64(recalled)
		page.Hits = append(page.Hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search: %w", err)
	}
	if len(page.Hits) > req.Limit {
		page.Hits = page.Hits[:req.Limit]
		last := page.Hits[len(page.Hits)-1]
		page.Next = &store.SearchCursor{Key: last.Key, Score: last.Score}
	}
	for i := range page.Hits {
		if page.Hits[i].Attachments == 0 {
			continue
		}
		if err := s.attachTexts(ctx, &page.Hits[i]); err != nil {
			return page, err
		}
	}

	c := <-totalc
	if c.err != nil {
		return page, fmt.Errorf("search count: %w", c.err)
	}
	page.Total, page.TotalExact = c.n, true
	if req.CountLimit > 0 && c.n > req.CountLimit {
		page.Total, page.TotalExact = req.CountLimit, false
	}
	if req.Facets {
		if page.Facets, err = s.facets(ctx, from, args, req.FacetMonth); err != nil {
			return page, err
		}
	}
	return page, nil
}

// countSplit runs a count query (whose WHERE clause it extends with
// keyCol bounds) over the two halves of the archive's key range at once.
// With limit > 0 each half stops counting at limit matches, so a result at
// or above limit means "at least limit".
func (s *Store) countSplit(ctx context.Context, cq, keyCol string, args []any, limit int64) (int64, error) {
	count := func(cond string, cargs ...any) (int64, error) {
		q, a := cq+cond, append(append([]any(nil), args...), cargs...)
		if limit > 0 {
			// The inner LIMIT stops the scan itself, not only the output.
			q = "SELECT count(*) FROM (SELECT 1 " + strings.TrimPrefix(cq, "SELECT count(*) ") + cond + " LIMIT ?)"
			a = append(a, limit)
		}
		var n int64
		err := s.rq.QueryRowContext(ctx, q, a...).Scan(&n)
		return n, err
	}
	var lo, hi sql.NullInt64
	if err := s.rq.QueryRowContext(ctx, `SELECT (SELECT min(skey) FROM messages), (SELECT max(skey) FROM messages)`).Scan(&lo, &hi); err != nil {
		return 0, err
	}
	if !lo.Valid || hi.Int64-lo.Int64 < 2 {
		return count("")
	}
	mid := lo.Int64 + (hi.Int64-lo.Int64)/2
	var low int64
	errc := make(chan error, 1)
	go func() {
		var err error
		low, err = count(" AND "+keyCol+" < ?", mid)
		errc <- err
	}()
	high, err := count(" AND "+keyCol+" >= ?", mid)
	if lerr := <-errc; err == nil {
		err = lerr
	}
	return low + high, err
}

func (s *Store) attachTexts(ctx context.Context, h *store.SearchHit) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT text FROM attachments WHERE serial = ? AND text != '' ORDER BY ord`, int64(h.Serial))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		h.AttachText = append(h.AttachText, t)
	}
	return rows.Err()
}

// facets counts values over every match.
func (s *Store) facets(ctx context.Context, from string, args []any, month func(int64) string) (map[string][]store.FacetCount, error) {
	out := map[string][]store.FacetCount{}
	cols := map[string]string{"sender": "m.sender", "conversation": "m.conversation", "type": "m.kind", "direction": "m.direction"}
	for _, name := range store.FacetNames {
		if name == "month" {
			continue
		}
		q := "SELECT " + cols[name] + ", count(*) " + from + " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?"
		rows, err := s.rq.QueryContext(ctx, q, append(append([]any(nil), args...), store.MaxFacetValues)...)
		if err != nil {
			return nil, fmt.Errorf("facet %s: %w", name, err)
		}
		for rows.Next() {
			var fc store.FacetCount
			if err := rows.Scan(&fc.Value, &fc.Count); err != nil {
				rows.Close()
				return nil, err
			}
			out[name] = append(out[name], fc)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	// Months in the archive's time zone: count per UTC hour here (every
	// zone offset is a whole number of quarter hours, but hours are exact
	// for the zones finance uses), then label in Go.
	rows, err := s.rq.QueryContext(ctx, "SELECT m.sent_at / 3600000, count(*) "+from+" GROUP BY 1", args...)
	if err != nil {
		return nil, fmt.Errorf("facet month: %w", err)
	}
	defer rows.Close()
	months := map[string]int64{}
	for rows.Next() {
		var hour, n int64
		if err := rows.Scan(&hour, &n); err != nil {
			return nil, err
		}
		label := archive.MillisTime(hour * 3600000).Format("2006-01")
		if month != nil {
			label = month(hour * 3600000)
		}
		months[label] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for label, n := range months {
		out["month"] = append(out["month"], store.FacetCount{Value: label, Count: n})
	}
	sort.Slice(out["month"], func(a, b int) bool { return out["month"][a].Value > out["month"][b].Value })
	return out, nil
}
