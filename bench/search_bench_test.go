package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// Search benchmarks run on a demo archive. Set WXARCHIVE_SEARCH_ARCHIVE to
// an archive made by `wxarchive demo --messages N --dir DIR` (the published
// results use 1,000,000 and 10,000,000); without it a 20,000-message demo
// archive is generated here. docs/BENCHMARKS.md gives the commands.

var (
	searchOnce sync.Once
	searchDir  string
	searchErr  error
)

func searchArchive(b *testing.B) *repo.Repo {
	b.Helper()
	searchOnce.Do(func() {
		if d := os.Getenv("WXARCHIVE_SEARCH_ARCHIVE"); d != "" {
			searchDir = d
			return
		}
		dir, err := os.MkdirTemp("", "wxarchive-search-bench-")
		if err != nil {
			searchErr = err
			return
		}
		searchDir = dir
		searchErr = demoArchive(dir, 20000)
	})
	if searchErr != nil {
		b.Fatal(searchErr)
	}
	r, err := archivetest.Open(context.Background(), searchDir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// openRO opens the archive's index database read-only for the scan.
func openRO(tb testing.TB, r *repo.Repo) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(r.Dir, repo.DBFile)+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// demoArchive archives n demo messages into dir, as `wxarchive demo` does
// (without the directory events and planted-message summary).
func demoArchive(dir string, n int) error {
	ctx := context.Background()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{TimeZone: "Asia/Shanghai"}); err != nil {
		return err
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	media, err := os.MkdirTemp("", "wxarchive-bench-media-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(media)
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := demo.Generate(demo.Config{Seed: 1, Messages: n}, func(line []byte) error {
			bw.Write(line)
			return bw.WriteByte('\n')
		}, func(id string, data []byte) error {
			return os.WriteFile(filepath.Join(media, id), data, 0o644)
		})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Media: ingest.DirMedia{Dir: media},
		Source: "wecom-archive:bench", Actor: "bench", Origin: "bench demo"}
	_, err = in.Run(ctx, pr)
	return err
}

// searchShapes are the query shapes of the issue: 1-, 2-, 4-character
// Chinese, English terms, phrases, NEAR, filters with dates, OR of ten
// terms, rare and very common terms. {from}, {month} and {day} are filled
// from the archive.
var searchShapes = []struct{ name, q string }{
	{"zh1-common", "的"},
	{"zh1", "股"},
	{"zh2", "保本"},
	{"zh2-common", "收益"},
	{"zh4", "私人微信"},
	{"zh-phrase", `"保证收益"`},
	{"zh-trad", "保證收益"},
	{"en-term", "fee"},
	{"en-rare", "whatsapp"},
	{"en-phrase", `"quick call"`},
	{"en-prefix", "check*"},
	{"near-zh", "保证 NEAR/5 收益"},
	{"near-en", "documents NEAR/5 review"},
	{"field-date", "from:{from} 的 after:{month}-01 before:{month}-15"},
	{"filter-only", "direction:inbound on:{day}"},
	{"or10", "保本 OR 私聊 OR 微信 OR 回扣 OR 内幕 OR 返点 OR whatsapp OR guarantee OR 加我 OR 删除"},
	{"not", "收益 -保证"},
	{"mixed", "A股"},
	{"rare", "内幕消息"},
	{"none", "不存在的词组"},
}

// shapeQuery fills a shape's placeholders from the archive.
func shapeQuery(b testing.TB, r *repo.Repo, db *sql.DB, q string) string {
	b.Helper()
	var from string
	var minMs, maxMs int64
	if err := db.QueryRow(`SELECT sender FROM messages WHERE direction = 'outbound' GROUP BY sender ORDER BY count(*) DESC LIMIT 1`).Scan(&from); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(`SELECT min(sent_at), max(sent_at) FROM messages`).Scan(&minMs, &maxMs); err != nil {
		b.Fatal(err)
	}
	loc := r.Config.Location()
	mid := time.UnixMilli((minMs + maxMs) / 2).In(loc)
	return replaceAll(q, map[string]string{"{from}": from, "{month}": mid.Format("2006-01"), "{day}": mid.Format("2006-01-02")})
}

func replaceAll(s string, kv map[string]string) string {
	for k, v := range kv {
		for {
			i := indexOf(s, k)
			if i < 0 {
				break
			}
			s = s[:i] + v + s[i+len(k):]
		}
	}
	return s
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// reportLatency adds p50 and p99 (milliseconds) to a benchmark.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(float64(len(lat)-1) * p)
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSearch runs each query shape as a user would see it: a page of
// 20 newest-first results with the total (counted up to
// app.SearchCountLimit, as `wxarchive search` does), snippets and
// highlights (journaling the access is excluded: it is one small commit).
// A shape whose total reaches the limit runs again as "SHAPE-count-all",
// counting every match (--count-all).
func BenchmarkSearch(b *testing.B) {
	r := searchArchive(b)
	db := openRO(b, r)
	ctx := context.Background()
	run := func(b *testing.B, node textindex.Node, countLimit int64) {
		lat := make([]time.Duration, 0, b.N)
		var total int64
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			page, err := r.Store.Search(ctx, store.SearchRequest{Query: node, Limit: 20, CountLimit: countLimit})
			if err != nil {
				b.Fatal(err)
			}
			hl := textindex.NewHighlighter(node)
			for _, h := range page.Hits {
				textindex.Snippet(h.Text, hl.Spans(h.Text), app.SnippetWidth)
			}
			lat = append(lat, time.Since(t0))
			total = page.Total
		}
		reportLatency(b, lat)
		b.ReportMetric(float64(total), "matches")
	}
	for _, sh := range searchShapes {
		q := shapeQuery(b, r, db, sh.q)
		node, err := textindex.Parse(q, textindex.ParseOptions{Location: r.Config.Location()})
		if err != nil {
			b.Fatalf("%s: %v", sh.name, err)
		}
		b.Run(sh.name, func(b *testing.B) { run(b, node, app.SearchCountLimit) })
		probe, err := r.Store.Search(ctx, store.SearchRequest{Query: node, Limit: 1, CountLimit: app.SearchCountLimit})
		if err != nil {
			b.Fatal(err)
		}
		if !probe.TotalExact {
			b.Run(sh.name+"-count-all", func(b *testing.B) { run(b, node, 0) })
		}
	}
}

// BenchmarkSearchScan answers the same shapes by brute force: read every
// message (and attachment text) and evaluate the query with
// textindex.Matcher. It is the baseline the index is compared with.
func BenchmarkSearchScan(b *testing.B) {
	r := searchArchive(b)
	db := openRO(b, r)
	loc := r.Config.Location()
	for _, sh := range searchShapes {
		q := shapeQuery(b, r, db, sh.q)
		node, err := textindex.Parse(q, textindex.ParseOptions{Location: loc})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sh.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			var n int64
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				n = scanCount(b, db, node)
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
			b.ReportMetric(float64(n), "matches")
		})
	}
}

// scanCount evaluates q on every message and returns how many match.
func scanCount(b testing.TB, db *sql.DB, q textindex.Node) int64 {
	rows, err := db.Query(`SELECT m.serial, m.text, m.sender, m.recipients, m.conversation, m.kind, m.sent_at,
		m.direction, m.recalled_by IS NOT NULL, m.n_attachments,
		coalesce((SELECT group_concat(text, char(31)) FROM attachments a WHERE a.serial = m.serial AND a.text != ''), '')
		FROM messages m`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	mt := textindex.NewMatcher(q)
	var n int64
	var d struct {
		serial                                       int64
		text, sender, recips, conv, kind, dir, atext string
		sent                                         int64
		recalled                                     bool
		natt                                         int
	}
	doc := textindex.Doc{Field: func(f *textindex.Field) bool {
		switch f.Name {
		case "from":
			return d.sender == f.Value
		case "direction":
			return d.dir == f.Value
		case "type":
			return d.kind == f.Value
		case "after", "before", "on":
			return d.sent >= f.From && d.sent < f.To
		case "recalled":
			return d.recalled == f.Bool
		case "has":
			return d.natt > 0
		case "conversation":
			return d.conv == f.Value
		}
		b.Fatalf("scan does not evaluate %s:", f.Name)
		return false
	}}
	for rows.Next() {
		if err := rows.Scan(&d.serial, &d.text, &d.sender, &d.recips, &d.conv, &d.kind, &d.sent, &d.dir, &d.recalled, &d.natt, &d.atext); err != nil {
			b.Fatal(err)
		}
		doc.Texts = append(doc.Texts[:0], d.text)
		if d.atext != "" {
			doc.Texts = append(doc.Texts, splitUnit(d.atext)...)
		}
		if mt.Match(&doc) {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func splitUnit(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 31 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestSearchShapesAgreeWithScan keeps the benchmark honest on a small
// archive: every shape's total from the index equals the scan's count.
func TestSearchShapesAgreeWithScan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a demo archive")
	}
	dir := t.TempDir()
	if err := demoArchive(dir, 5000); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(context.Background(), dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	db := openRO(t, r)
	var counts []string
	for _, sh := range searchShapes {
		q := shapeQuery(t, r, db, sh.q)
		node, err := textindex.Parse(q, textindex.ParseOptions{Location: r.Config.Location()})
		if err != nil {
			t.Fatal(err)
		}
		page, err := r.Store.Search(context.Background(), store.SearchRequest{Query: node, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		n := scanCount(t, db, node)
		if page.Total != n {
			t.Errorf("%s (%s): index total %d, scan %d", sh.name, q, page.Total, n)
		}
		counts = append(counts, fmt.Sprintf("%s=%d", sh.name, n))
	}
	sort.Strings(counts)
	t.Log(counts)
}

// TestSearchIndexSize reports the full-text index's size against the raw
// text it indexes, on WXARCHIVE_SEARCH_ARCHIVE (run with -v), and checks
// that every message with text has its document.
func TestSearchIndexSize(t *testing.T) {
	dir := os.Getenv("WXARCHIVE_SEARCH_ARCHIVE")
	if dir == "" {
		t.Skip("WXARCHIVE_SEARCH_ARCHIVE is not set")
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, repo.DBFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msgs, withText, docs, textBytes, attBytes int64
	q := func(dst *int64, query string) {
		if err := db.QueryRow(query).Scan(dst); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	q(&msgs, `SELECT count(*) FROM messages`)
	// A message has a document when its text or an attachment's yields
	// at least one index term (a text of emoji or punctuation yields none).
	rows0, err := db.Query(`SELECT m.text || ' ' || coalesce((SELECT group_concat(text, ' ') FROM attachments a WHERE a.serial = m.serial), '') FROM messages m`)
	if err != nil {
		t.Fatal(err)
	}
	var an textindex.Analyzer
	for rows0.Next() {
		var text string
		if err := rows0.Scan(&text); err != nil {
			t.Fatal(err)
		}
		if len(an.Tokens(text)) > 0 {
			withText++
		}
	}
	rows0.Close()
	q(&docs, `SELECT count(*) FROM fts_docsize`)
	q(&textBytes, `SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM messages`)
	q(&attBytes, `SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM attachments`)
	if docs != withText {
		t.Fatalf("%d full-text documents for %d messages with searchable text", docs, withText)
	}
	sizes := map[string]int64{}
	rows, err := db.Query(`SELECT name, sum(pgsize) FROM dbstat GROUP BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rows.Next() {
		var n string
		var sz int64
		if err := rows.Scan(&n, &sz); err != nil {
			t.Fatal(err)
		}
		sizes[n] = sz
		total += sz
	}
	fts := sizes["fts_data"] + sizes["fts_idx"] + sizes["fts_docsize"] + sizes["fts_config"]
	raw := textBytes + attBytes
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	t.Logf("%d messages (%d with searchable text); raw text %s (messages %s, attachments %s)", msgs, withText, mb(raw), mb(textBytes), mb(attBytes))
	t.Logf("full-text index %s = %.2f × the raw text (fts_data %s, fts_idx %s, fts_docsize %s); search key index %s",
		mb(fts), float64(fts)/float64(raw), mb(sizes["fts_data"]), mb(sizes["fts_idx"]), mb(sizes["fts_docsize"]), mb(sizes["messages_skey"]))
	t.Logf("index.db %s in all: journal %s, messages %s, attachments %s", mb(total), mb(sizes["journal"]), mb(sizes["messages"]), mb(sizes["attachments"]))
}
