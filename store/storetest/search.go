package storetest

import (
	"context"
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the suite's dates are in Asia/Shanghai on any machine

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// The relevance suite: a fixed corpus (relevance/corpus.yaml) and cases
// (relevance/cases.yaml) that state the exact serials each query returns.

//go:embed relevance/corpus.yaml relevance/cases.yaml
var relevanceFS embed.FS

type corpus struct {
	People []struct {
		ID, Kind, Name, Department string
	}
	Messages []corpusMessage
}

type corpusMessage struct {
	Serial      uint64
	At          string
	From        string
	To          []string
	Room        string
	Kind        string
	Text        string
	Recalls     uint64
	Attachments []struct{ File, Text string }
}

type relevanceCase struct {
	Q    string
	Want []uint64
	Why  string
}

// searchLocation is the archive time zone the suite's dates are in.
func searchLocation(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	check(t, err, "load Asia/Shanghai")
	return loc
}

func loadCorpus(t *testing.T) corpus {
	t.Helper()
	b, err := relevanceFS.ReadFile("relevance/corpus.yaml")
	check(t, err, "read corpus")
	var c corpus
	check(t, yaml.Unmarshal(b, &c), "parse corpus")
	return c
}

func relevanceCases(t *testing.T) []relevanceCase {
	t.Helper()
	b, err := relevanceFS.ReadFile("relevance/cases.yaml")
	check(t, err, "read cases")
	var cs []relevanceCase
	check(t, yaml.Unmarshal(b, &cs), "parse cases")
	return cs
}

// corpusRows turns the corpus into index rows, as the projection would.
func corpusRows(t *testing.T, c corpus) ([]store.MessageRow, [][]store.AttachmentRow) {
	t.Helper()
	kinds := map[string]archive.ParticipantKind{}
	for _, p := range c.People {
		kinds[p.ID] = archive.ParticipantKind(p.Kind)
	}
	var an textindex.Analyzer
	var rows []store.MessageRow
	var atts [][]store.AttachmentRow
	for _, cm := range c.Messages {
		at, err := time.Parse(time.RFC3339, cm.At)
		check(t, err, "message %d time", cm.Serial)
		m := msgRow(cm.Serial, "wecom-archive:relevance", fmt.Sprintf("m%d", cm.Serial))
		m.SentAt, m.CapturedAt = archive.At(at), archive.At(at.Add(time.Second))
		m.Sender, m.Recipients, m.Text = cm.From, cm.To, cm.Text
		if cm.Kind != "" {
			m.Kind, m.SourceType = archive.Kind(cm.Kind), cm.Kind
		}
		if cm.Room != "" {
			m.Conversation, m.ConvKind = cm.Room, archive.ConversationGroup
		} else {
			pair := []string{cm.From, cm.To[0]}
			sort.Strings(pair)
			m.Conversation = "direct:" + strings.Join(pair, "|")
		}
		m.Direction = archive.DirectionInternal
		if kinds[cm.From] == archive.ParticipantExternal {
			m.Direction = archive.DirectionInbound
		} else {
			for _, r := range cm.To {
				if kinds[r] == archive.ParticipantExternal {
					m.Direction = archive.DirectionOutbound
				}
			}
		}
		for _, id := range append([]string{cm.From}, cm.To...) {
			m.Participants = append(m.Participants, archive.Participant{ID: id, Kind: kinds[id]})
		}
		if cm.Recalls != 0 {
			m.Action, m.RefersTo = archive.ActionRecall, fmt.Sprintf("m%d", cm.Recalls)
		}
		m.SearchBody = string(an.AppendIndexTerms(nil, m.Text))
		var ar []store.AttachmentRow
		var at2 []byte
		for i, a := range cm.Attachments {
			ar = append(ar, store.AttachmentRow{Serial: cm.Serial, Ordinal: i, Attachment: archive.Attachment{
				Role: "file", FileName: a.File, Text: a.Text, Status: archive.AttachmentFetched}})
			if a.Text != "" {
				at2 = an.AppendIndexTerms(at2, a.Text)
			}
		}
		m.SearchAttachments = string(at2)
		m.Attachments = len(ar)
		rows = append(rows, m)
		atts = append(atts, ar)
	}
	return rows, atts
}

// loadRelevance writes the corpus into s.
func loadRelevance(t *testing.T, s store.Store) corpus {
	t.Helper()
	c := loadCorpus(t)
	rows, atts := corpusRows(t, c)
	write(t, s, func(tx store.Tx) {
		for i, p := range c.People {
			check(t, tx.IndexParticipant(ctx, store.ParticipantRow{JournalIndex: uint64(i + 1), ParticipantEvent: archive.ParticipantEvent{
				ID: p.ID, Kind: archive.ParticipantKind(p.Kind), Name: p.Name, Department: p.Department, ValidFrom: ms(0)}}), "directory %s", p.ID)
		}
		for i := range rows {
			index(t, tx, rows[i], atts[i]...)
		}
	})
	return c
}

func search(t *testing.T, s store.Reader, q string, req store.SearchRequest) store.SearchPage {
	t.Helper()
	n, err := textindex.Parse(q, textindex.ParseOptions{Location: searchLocation(t)})
	check(t, err, "parse %q", q)
	req.Query = n
	page, err := s.Search(ctx, req)
	check(t, err, "search %q", q)
	return page
}

func serialsOf(hits []store.SearchHit) []uint64 {
	out := make([]uint64, len(hits))
	for i, h := range hits {
		out[i] = h.Serial
	}
	return out
}

func testSearchRelevance(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	cases := relevanceCases(t)
	if len(cases) < 150 {
		t.Fatalf("the relevance suite has %d cases, want at least 150", len(cases))
	}
	loc := searchLocation(t)
	failed := 0
	for _, tc := range cases {
		n, err := textindex.Parse(tc.Q, textindex.ParseOptions{Location: loc})
		if err != nil {
			t.Errorf("%q: %v", tc.Q, err)
			failed++
			continue
		}
		page, err := s.Search(ctx, store.SearchRequest{Query: n, Limit: 1000})
		if err != nil {
			t.Errorf("%q: %v", tc.Q, err)
			failed++
			continue
		}
		got := serialsOf(page.Hits)
		slices.Sort(got)
		want := append([]uint64{}, tc.Want...)
		slices.Sort(want)
		if !slices.Equal(got, want) || page.Total != int64(len(want)) {
			t.Errorf("%q (parsed %s): got %v (total %d), want %v — %s", tc.Q, n, got, page.Total, want, tc.Why)
			failed++
		}
	}
	t.Logf("%d relevance cases, %d failed", len(cases), failed)
}

// testSearchOrderAndPaging: newest first by default; keyset pages cover
// every match once; relevance puts the denser match first.
func testSearchOrderAndPaging(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	all := search(t, s, "保", store.SearchRequest{Limit: 1000})
	want := []uint64{42, 26, 20, 19, 18, 17, 16, 9, 6, 5, 4, 3, 2, 1} // by sent time, newest first
	if got := serialsOf(all.Hits); !slices.Equal(got, want) {
		t.Fatalf("time order: got %v, want %v", got, want)
	}
	if all.Next != nil {
		t.Fatalf("a page holding every match has a next cursor %+v", all.Next)
	}
	for _, sort := range []store.SearchSort{store.SortTime, store.SortRelevance} {
		var got []uint64
		var after *store.SearchCursor
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatalf("%s: paging does not end", sort)
			}
			p := search(t, s, "保", store.SearchRequest{Limit: 3, Sort: sort, After: after})
			if p.Total != int64(len(want)) {
				t.Fatalf("%s: total %d on page %d, want %d", sort, p.Total, pages, len(want))
			}
			if len(p.Hits) > 3 {
				t.Fatalf("%s: page of %d hits, limit 3", sort, len(p.Hits))
			}
			got = append(got, serialsOf(p.Hits)...)
			if p.Next == nil {
				break
			}
			after = p.Next
		}
		if sort == store.SortTime && !slices.Equal(got, want) {
			t.Fatalf("time pages: got %v, want %v", got, want)
		}
		g := slices.Clone(got)
		slices.Sort(g)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Fatalf("%s pages cover %v, want each of %v once", sort, got, w)
		}
	}
	// Relevance: the message that is nothing but 保本 outranks long ones
	// that mention it once (BM25 length normalization), ties newest first.
	rel := search(t, s, "保本", store.SearchRequest{Limit: 1000, Sort: store.SortRelevance})
	if rel.Hits[0].Serial != 42 {
		t.Fatalf("relevance order %v: want serial 42 (the text is just 保本) first", serialsOf(rel.Hits))
	}
	for i := 1; i < len(rel.Hits); i++ {
		a, b := rel.Hits[i-1], rel.Hits[i]
		if a.Score > b.Score || (a.Score == b.Score && a.Key < b.Key) || math.IsNaN(a.Score) {
			t.Fatalf("relevance order broken at %d: %+v then %+v", i, a, b)
		}
	}
}

// testSearchCountLimit: a bounded count is exact below the bound and a
// lower bound (flagged) above it, for plain text, filtered and exact-mode
// queries alike; the page itself is unaffected.
func testSearchCountLimit(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	for _, q := range []string{"保", "保 before:2100-01-01", "保 -不存在"} {
		all := search(t, s, q, store.SearchRequest{Limit: 1000})
		n := int64(len(all.Hits))
		if n < 10 || all.Total != n || !all.TotalExact {
			t.Fatalf("%q: unbounded total %d (exact %v) for %d hits; the corpus should give at least 10", q, all.Total, all.TotalExact, n)
		}
		for _, tc := range []struct {
			limit, total int64
			exact        bool
		}{{n + 1, n, true}, {n, n, true}, {n - 1, n - 1, false}, {n / 2, n / 2, false}, {1, 1, false}} {
			p := search(t, s, q, store.SearchRequest{Limit: 3, CountLimit: tc.limit})
			if p.Total != tc.total || p.TotalExact != tc.exact {
				t.Errorf("%q with count limit %d: total %d (exact %v), want %d (exact %v)", q, tc.limit, p.Total, p.TotalExact, tc.total, tc.exact)
			}
			if got := serialsOf(p.Hits); !slices.Equal(got, serialsOf(all.Hits[:3])) || p.Next == nil {
				t.Errorf("%q with count limit %d: page %v (next %v), want %v and more", q, tc.limit, got, p.Next, serialsOf(all.Hits[:3]))
			}
		}
	}
	lit, err := s.Search(context.Background(), store.SearchRequest{Exact: "保", Limit: 2, CountLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if lit.Total != 2 || lit.TotalExact || len(lit.Hits) != 2 {
		t.Errorf("exact mode with count limit 2: total %d (exact %v), %d hits; want 2, a lower bound, 2 hits", lit.Total, lit.TotalExact, len(lit.Hits))
	}
}

func testSearchFacets(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	loc := searchLocation(t)
	p := search(t, s, "收益", store.SearchRequest{Limit: 2, Facets: true, FacetMonth: func(ms int64) string {
		return time.UnixMilli(ms).In(loc).Format("2006-01")
	}})
	// 收益: serials 1, 2, 3, 16, 17, 18, 26, 39, 46.
	want := map[string][]store.FacetCount{
		"sender":       {{Value: "zhangwei", Count: 7}, {Value: "client.chen", Count: 1}, {Value: "client.wong", Count: 1}},
		"conversation": {{Value: "direct:client.chen|zhangwei", Count: 8}, {Value: "direct:client.wong|liming", Count: 1}},
		"type":         {{Value: "text", Count: 8}, {Value: "file", Count: 1}},
		"direction":    {{Value: "outbound", Count: 7}, {Value: "inbound", Count: 2}},
		"month":        {{Value: "2026-08", Count: 2}, {Value: "2026-07", Count: 7}},
	}
	for _, name := range store.FacetNames {
		if !slices.Equal(p.Facets[name], want[name]) {
			t.Errorf("facet %s: got %v, want %v", name, p.Facets[name], want[name])
		}
	}
	if p.Total != 9 || len(p.Hits) != 2 {
		t.Errorf("total %d, %d hits; want 9 and a page of 2 (facets count every match)", p.Total, len(p.Hits))
	}
	// A month boundary in the archive's zone: 2026-10-01 00:30 Shanghai.
	p = search(t, s, "after:2026-09-01", store.SearchRequest{Facets: true, FacetMonth: func(ms int64) string {
		return time.UnixMilli(ms).In(loc).Format("2006-01")
	}})
	if w := []store.FacetCount{{Value: "2026-10", Count: 1}, {Value: "2026-09", Count: 1}}; !slices.Equal(p.Facets["month"], w) {
		t.Errorf("month facet across a zone boundary: got %v, want %v", p.Facets["month"], w)
	}
}

func testSearchExact(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	for _, tc := range []struct {
		lit  string
		want []uint64
	}{
		{"保 本", []uint64{19}},                     // exact: the space must be there
		{"保本", []uint64{42, 18, 17, 16, 9, 4, 1}}, // newest first; not 19 (保 本)
		{"承诺保本", []uint64{9}},                     // in an attachment's text
		{"%", []uint64{46, 27, 10, 1}},
		{"_", nil},
		{"Guaranteed", []uint64{11}}, // case-sensitive
	} {
		p, err := s.Search(ctx, store.SearchRequest{Exact: tc.lit, Limit: 100})
		check(t, err, "exact %q", tc.lit)
		if got := serialsOf(p.Hits); !slices.Equal(got, tc.want) || p.Total != int64(len(tc.want)) {
			t.Errorf("exact %q: got %v (total %d), want %v", tc.lit, got, p.Total, tc.want)
		}
	}
}

// testSearchKeys: messages sent in the same second with serials 2^30 apart
// get distinct keys and are all found; times before 1970 work.
func testSearchKeys(t *testing.T, s store.Store) {
	var an textindex.Analyzer
	write(t, s, func(tx store.Tx) {
		for _, serial := range []uint64{5, 5 + 1<<30, 5 + 2<<30, 7} {
			m := msgRow(serial, "src", fmt.Sprintf("k%d", serial))
			m.SentAt = ms(0)
			if serial == 7 {
				m.SentAt = archive.MillisTime(-86400000) // 1969-12-31
			}
			m.Text = "同一毫秒 collision"
			m.SearchBody = string(an.AppendIndexTerms(nil, m.Text))
			index(t, tx, m)
		}
	})
	p := search(t, s, "同一毫秒", store.SearchRequest{Limit: 10})
	got := serialsOf(p.Hits)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(sorted, []uint64{5, 7, 5 + 1<<30, 5 + 2<<30}) || got[len(got)-1] != 7 {
		t.Fatalf("colliding keys: got %v, want the four messages, the 1969 one last", got)
	}
	// Instants inside a second: keys cover whole seconds, the filter is
	// exact to the millisecond.
	at := ms(0).UTC() // the three colliding messages
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"同一毫秒 after:" + at.Format("2006-01-02T15:04:05.000Z"), 3},
		{"同一毫秒 after:" + at.Add(time.Millisecond).Format("2006-01-02T15:04:05.000Z"), 0},
		{"同一毫秒 before:" + at.Add(time.Millisecond).Format("2006-01-02T15:04:05.000Z"), 4},
		{"同一毫秒 before:" + at.Format("2006-01-02T15:04:05.000Z"), 1},
		{"同一毫秒 before:1970-01-01", 1},
		{"before:1970-01-01", 1},
		{"同一毫秒 after:2242-01-01", 0},
	} {
		if p := search(t, s, tc.q, store.SearchRequest{Limit: 10}); p.Total != int64(tc.want) || len(p.Hits) != tc.want {
			t.Errorf("%q: %d matches (%d hits), want %d", tc.q, p.Total, len(p.Hits), tc.want)
		}
	}
	keys := map[int64]bool{}
	for _, h := range p.Hits {
		if keys[h.Key] {
			t.Fatalf("two messages share search key %d: %v", h.Key, p.Hits)
		}
		keys[h.Key] = true
	}
}

// testSearchMatchesScan is a differential test: random queries built from
// the corpus's own words must return exactly what scanning every message
// with textindex.Matcher returns. A miss here is a search that silently
// misses a hit.
func testSearchMatchesScan(t *testing.T, s store.Store) {
	c := loadRelevance(t, s)
	rows, atts := corpusRows(t, c)
	loc := searchLocation(t)
	people := map[string]struct{ name, dept string }{}
	for _, p := range c.People {
		people[p.ID] = struct{ name, dept string }{p.Name, p.Department}
	}
	recalled := map[uint64]bool{}
	for _, m := range rows {
		if m.RefersTo != "" {
			var target uint64
			fmt.Sscanf(m.RefersTo, "m%d", &target)
			recalled[target] = true
		}
	}
	docs := make([]textindex.Doc, len(rows))
	for i := range rows {
		m, ar := rows[i], atts[i]
		texts := []string{m.Text}
		for _, a := range ar {
			if a.Text != "" {
				texts = append(texts, a.Text)
			}
		}
		is := func(id, v string) bool { return id == v || people[id].name == v }
		docs[i] = textindex.Doc{Texts: texts, Field: func(f *textindex.Field) bool {
			switch f.Name {
			case "from":
				return is(m.Sender, f.Value)
			case "to":
				return slices.ContainsFunc(m.Recipients, func(r string) bool { return is(r, f.Value) })
			case "participant":
				return is(m.Sender, f.Value) || slices.ContainsFunc(m.Recipients, func(r string) bool { return is(r, f.Value) })
			case "conversation":
				return m.Conversation == f.Value
			case "type":
				return string(m.Kind) == f.Value
			case "has":
				return len(ar) > 0
			case "filename":
				return slices.ContainsFunc(ar, func(a store.AttachmentRow) bool {
					return strings.Contains(strings.ToLower(a.FileName), strings.ToLower(f.Value))
				})
			case "after", "before", "on":
				ms := m.SentAt.Millis()
				return ms >= f.From && ms < f.To
			case "recalled":
				return recalled[m.Serial] == f.Bool
			case "direction":
				return string(m.Direction) == f.Value
			case "department":
				return people[m.Sender].dept == f.Value || slices.ContainsFunc(m.Recipients, func(r string) bool { return people[r].dept == f.Value })
			}
			t.Fatalf("field %s not evaluated by the scan", f.Name)
			return false
		}}
	}

	seed := uint64(time.Now().UnixNano())
	rng := newRand(seed)

	// Vocabulary: runs of 1–4 characters and words from the corpus.
	var vocab, texts []string
	for _, m := range c.Messages {
		texts = append(texts, m.Text)
		for _, a := range m.Attachments {
			texts = append(texts, a.Text)
		}
	}
	for _, text := range texts {
		r := []rune(text)
		for i := range r {
			for n := 1; n <= 4 && i+n <= len(r); n++ {
				vocab = append(vocab, string(r[i:i+n]))
			}
		}
		vocab = append(vocab, strings.Fields(text)...)
	}
	clean := strings.NewReplacer(`"`, "", "(", "", ")", "", "*", "", "-", "")
	// window returns a piece of a corpus text near character i.
	window := func(r []rune, i int) string {
		n := 1 + rng.IntN(3)
		if i+n > len(r) {
			n = len(r) - i
		}
		return clean.Replace(string(r[i : i+n]))
	}
	vocab = append(vocab, "保證", "ＧＵＡＲＡＮＴＥＥ", "returns", "policy", "box")
	fields := []string{"from:zhangwei", "from:王芳", "to:client.chen", "participant:client.lee", "conversation:room:vip",
		"type:text", "type:file", "has:attachment", "filename:docx", "after:2026-07-09", "before:2026-07-06",
		"on:2026-07-09", "recalled:true", "recalled:false", "direction:inbound", "direction:outbound",
		"department:财富管理部", "department:投资银行部"}

	var term func(depth int) string
	term = func(depth int) string {
		switch k := rng.IntN(12); {
		case k < 5:
			return strings.NewReplacer(`"`, "", "(", "", ")", "").Replace(vocab[rng.IntN(len(vocab))])
		case k < 6:
			return `"` + strings.ReplaceAll(vocab[rng.IntN(len(vocab))], `"`, "") + " " + strings.ReplaceAll(vocab[rng.IntN(len(vocab))], `"`, "") + `"`
		case k < 7:
			w := vocab[rng.IntN(len(vocab))]
			if r := []rune(w); len(r) > 3 {
				w = string(r[:3])
			}
			return strings.NewReplacer(`"`, "", "(", "", ")", "", "*", "").Replace(w) + "*"
		case k < 9:
			return fields[rng.IntN(len(fields))]
		case k < 10 && depth < 3:
			return "(" + term(depth+1) + " OR " + term(depth+1) + ")"
		case k < 11:
			// Two pieces of one text, a few characters apart, so that
			// NEAR's distance decides.
			r := []rune(texts[rng.IntN(len(texts))])
			if len(r) < 2 {
				return "保本"
			}
			i := rng.IntN(len(r) - 1)
			j := min(len(r)-1, i+1+rng.IntN(6))
			a, b := window(r, i), window(r, j)
			if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
				return "收益"
			}
			return `"` + a + `" NEAR/` + fmt.Sprint(rng.IntN(5)) + ` "` + b + `"`
		default:
			return "-" + term(depth+1)
		}
	}
	failures, tried := 0, 0
	for i := 0; i < 600 && failures < 10; i++ {
		q := term(0)
		for n := rng.IntN(3); n > 0; n-- {
			q += " " + term(0)
		}
		n, err := textindex.Parse(q, textindex.ParseOptions{Location: loc})
		if err != nil {
			continue // random text can be an invalid query (a lone NEAR, AND…)
		}
		tried++
		var want []uint64
		mt := textindex.NewMatcher(n)
		for j := range docs {
			if mt.Match(&docs[j]) {
				want = append(want, rows[j].Serial)
			}
		}
		page, err := s.Search(ctx, store.SearchRequest{Query: n, Limit: 1000})
		if err != nil {
			t.Errorf("%q (%s): %v", q, n, err)
			failures++
			continue
		}
		got := serialsOf(page.Hits)
		slices.Sort(got)
		if !slices.Equal(got, want) || page.Total != int64(len(want)) {
			t.Errorf("%q (parsed %s): index gives %v (total %d), scan gives %v", q, n, got, page.Total, want)
			failures++
		}
	}
	if tried < 300 {
		t.Fatalf("only %d of 600 random queries parsed (seed %d)", tried, seed)
	}
	if failures > 0 {
		t.Logf("seed %d", seed)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed>>1|1)) }

// testSearchSerials: Serials limits a search (full-text, filter-only and
// exact) to the given messages, with the same rules and a total counted
// over them alone; too many serials is an error, not a silent cut.
func testSearchSerials(t *testing.T, s store.Store) {
	loadRelevance(t, s)
	p := search(t, s, "保本", store.SearchRequest{Limit: 100, Serials: []uint64{1, 4, 5, 19, 42, 999}})
	if got := serialsOf(p.Hits); !slices.Equal(got, []uint64{42, 19, 4, 1}) || p.Total != 4 {
		t.Errorf("保本 within serials: %v (total %d), want [42 19 4 1]", got, p.Total)
	}
	all := search(t, s, "保本", store.SearchRequest{Limit: 100})
	if len(all.Hits) <= 4 {
		t.Fatalf("保本 matches %d messages: the corpus does not test Serials", len(all.Hits))
	}
	p = search(t, s, "-保本", store.SearchRequest{Limit: 100, Serials: []uint64{1, 2, 3}})
	if got := serialsOf(p.Hits); !slices.Equal(got, []uint64{3, 2}) || p.Total != 2 {
		t.Errorf("-保本 within 1,2,3: %v (total %d), want [3 2]", got, p.Total)
	}
	e, err := s.Search(ctx, store.SearchRequest{Exact: "保本", Limit: 100, Serials: []uint64{9, 16}})
	check(t, err, "exact within serials")
	if got := serialsOf(e.Hits); !slices.Equal(got, []uint64{16, 9}) {
		t.Errorf("exact 保本 within 9,16: %v", got)
	}
	many := make([]uint64, store.MaxSearchSerials+1)
	if _, err := s.Search(ctx, store.SearchRequest{Exact: "x", Serials: many}); err == nil {
		t.Errorf("%d serials accepted", len(many))
	}
}
