package postgres

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/store/sqlite"
	"github.com/wxarchive/wxarchive/textindex"
)

// The differential tests: the same writes through store/sqlite and this
// store must give byte-identical dumps (the suite only checks what a dump
// looks like, not that two engines render a row alike) and the same
// search results, in the same order, relevance included.

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), sqlite.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type corpus struct {
	People []struct {
		ID, Kind, Name, Department string
	}
	Messages []struct {
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
}

// loadCorpus writes store/storetest's relevance corpus, as its search
// tests do, plus rows of every other projection table.
func loadCorpus(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile("../storetest/relevance/corpus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]archive.ParticipantKind{}
	for _, p := range c.People {
		kinds[p.ID] = archive.ParticipantKind(p.Kind)
	}
	var an textindex.Analyzer
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	base := archive.MillisTime(1700000000000)
	for i, p := range c.People {
		must(tx.IndexParticipant(ctx, store.ParticipantRow{JournalIndex: uint64(i + 1), ParticipantEvent: archive.ParticipantEvent{
			ID: p.ID, Kind: archive.ParticipantKind(p.Kind), Name: p.Name, Department: p.Department, ValidFrom: base}}))
	}
	for _, cm := range c.Messages {
		at, err := time.Parse(time.RFC3339, cm.At)
		must(err)
		id := fmt.Sprintf("m%d", cm.Serial)
		m := store.MessageRow{
			Serial: cm.Serial, JournalIndex: cm.Serial + 1000, Source: "wecom-archive:relevance", SourceID: id, Version: 1,
			Kind: archive.KindText, SourceType: "text", Action: archive.ActionSend,
			SentAt: archive.At(at), CapturedAt: archive.At(at.Add(time.Second)),
			Sender: cm.From, Recipients: cm.To, Text: cm.Text, Direction: archive.DirectionInternal,
			RawHash: archive.Hash([]byte("raw " + id)), RecordHash: archive.Hash([]byte("record " + id)),
			RawSize: 100, RecordSize: 200, RetainUntil: archive.MillisTime(1900000000000),
		}
		if cm.Serial%3 == 0 {
			m.Origin = "文件 line " + fmt.Sprint(cm.Serial) // NULL elsewhere
		}
		if cm.Kind != "" {
			m.Kind, m.SourceType = archive.Kind(cm.Kind), cm.Kind
		}
		if cm.Room != "" {
			m.Conversation, m.ConvKind = cm.Room, archive.ConversationGroup
		} else {
			pair := []string{cm.From, cm.To[0]}
			sort.Strings(pair)
			m.Conversation, m.ConvKind = "direct:"+strings.Join(pair, "|"), archive.ConversationDirect
		}
		if kinds[cm.From] == archive.ParticipantExternal {
			m.Direction = archive.DirectionInbound
		} else if slices.ContainsFunc(cm.To, func(r string) bool { return kinds[r] == archive.ParticipantExternal }) {
			m.Direction = archive.DirectionOutbound
		}
		for _, id := range append([]string{cm.From}, cm.To...) {
			m.Participants = append(m.Participants, archive.Participant{ID: id, Kind: kinds[id]})
		}
		if cm.Recalls != 0 {
			m.Action, m.RefersTo = archive.ActionRecall, fmt.Sprintf("m%d", cm.Recalls)
		}
		if cm.Serial%5 == 0 {
			m.Consent = &archive.Consent{ExternalID: cm.To[0], Agreed: cm.Serial%2 == 0, At: m.SentAt}
		}
		m.SearchBody = string(an.AppendIndexTerms(nil, m.Text))
		var atts []store.AttachmentRow
		var at2 []byte
		for i, a := range cm.Attachments {
			ar := store.AttachmentRow{Serial: cm.Serial, Ordinal: i, Attachment: archive.Attachment{
				Role: "file", FileName: a.File, Text: a.Text, Status: archive.AttachmentMissing, Reason: "未取到"}}
			if i%2 == 1 {
				ar.Blob, ar.Status, ar.Reason, ar.Size = archive.Hash([]byte(a.Text)), archive.AttachmentFetched, "", 42
			}
			atts = append(atts, ar)
			if a.Text != "" {
				at2 = an.AppendIndexTerms(at2, a.Text)
			}
		}
		m.SearchAttachments = string(at2)
		m.Attachments = len(atts)
		must(tx.IndexMessage(ctx, m, atts))
	}
	// A long document: its token count takes a two-byte varint.
	long := store.MessageRow{Serial: 500, JournalIndex: 5000, Source: "src", SourceID: "long", Version: 1, Kind: archive.KindText,
		Action: archive.ActionSend, SentAt: base, CapturedAt: base, Recipients: []string{"x"}, Text: strings.Repeat("保本 word ", 300)}
	long.SearchBody = string(an.AppendIndexTerms(nil, long.Text))
	must(tx.IndexMessage(ctx, long, nil))
	must(tx.IndexReject(ctx, store.RejectRow{JournalIndex: 7000, Time: base, Source: "s", Origin: "第 9 行", Field: "内容", Reason: "无法解析",
		RawHash: archive.Hash([]byte("r")), RawSize: 3, InputHash: archive.Hash([]byte("r")), InputSize: 3}))
	must(tx.IndexPack(ctx, store.PackRow{Blob: archive.Hash([]byte("p")), First: 1, Last: 9, Count: 9, Bytes: 999, RetainUntil: base, JournalIndex: 7001}))
	must(tx.IndexFault(ctx, store.FaultRow{JournalIndex: 7002, Time: base, CaptureFaultEvent: archive.CaptureFaultEvent{
		Connector: "c", Kind: "media_failed", Subject: "m1", State: archive.FaultRaised, Detail: "超时"}}))
	must(tx.IndexPolicy(ctx, store.PolicyRow{JournalIndex: 7003, Time: base, Actor: "a", PolicyEvent: archive.PolicyEvent{
		Policy: "p", Version: 1, Source: "policy: p\n", SHA256: archive.Hash([]byte("policy"))}}))
	must(tx.IndexAlert(ctx, store.AlertRow{JournalIndex: 7004, Time: base, AlertEvent: archive.AlertEvent{
		Serial: 1, Policy: "p", PolicyVersion: 1, Rule: "r", Spans: [][2]int{{1, 2}}, Masked: []string{"<x>&"}}}))
	must(tx.IndexReview(ctx, store.ReviewRow{JournalIndex: 7005, Time: base, Actor: "cli:a", ReviewEvent: archive.ReviewEvent{
		Action: "close", Disposition: "no_issue", Note: "“引号”", Items: []archive.ReviewItem{{Alert: 7004}}}}))
	must(tx.IndexRetention(ctx, store.RetentionRow{JournalIndex: 7006, Time: base, Actor: "cli:a", RetentionEvent: archive.RetentionEvent{
		Name: "r", Version: 1, Source: "retention: r"}}))
	must(tx.IndexHold(ctx, store.HoldRow{JournalIndex: 7007, Time: base, Actor: "cli:a", HoldEvent: archive.HoldEvent{
		Name: "h", Matter: "m", Reason: "r", Owner: "a", GraceDays: 3}}))
	must(tx.IndexHoldReleased(ctx, store.HoldReleaseRow{JournalIndex: 7008, Time: base, Actor: "cli:b",
		HoldReleasedEvent: archive.HoldReleasedEvent{Name: "h", Reason: "结案"}}))
	must(tx.Commit())
}

func dumpOf(t *testing.T, s store.Reader) []string {
	t.Helper()
	var out []string
	err := s.DumpProjection(context.Background(), func(table, key, row string) error {
		out = append(out, table+" | "+strings.ReplaceAll(key, "\x00", "\\0")+" | "+row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDumpMatchesSQLite(t *testing.T) {
	lite, pg := openSQLite(t), openTemp(t)
	loadCorpus(t, lite)
	loadCorpus(t, pg)
	a, b := dumpOf(t, lite), dumpOf(t, pg)
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			t.Fatalf("dump row %d differs:\nsqlite:   %s\npostgres: %s", i, x, y)
		}
	}
	t.Logf("%d rows alike", len(a))
}

func TestSearchMatchesSQLite(t *testing.T) {
	lite, pg := openSQLite(t), openTemp(t)
	loadCorpus(t, lite)
	loadCorpus(t, pg)
	b, err := os.ReadFile("../storetest/relevance/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Q string }
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	month := func(ms int64) string { return time.UnixMilli(ms).In(loc).Format("2006-01") }
	queries := []string{"保本", "保", "收益 OR 保本", "guarantee", "保本 -收益", "\"保本\" NEAR/3 收益", "收益 from:zhangwei"}
	for _, c := range cases {
		queries = append(queries, c.Q)
	}
	ctx := context.Background()
	differ := 0
	for _, q := range queries {
		n, err := textindex.Parse(q, textindex.ParseOptions{Location: loc})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		for _, sort := range []store.SearchSort{store.SortTime, store.SortRelevance} {
			req := store.SearchRequest{Query: n, Sort: sort, Limit: 1000, Facets: true, FacetMonth: month}
			x, err := lite.Search(ctx, req)
			if err != nil {
				t.Fatalf("sqlite %q: %v", q, err)
			}
			y, err := pg.Search(ctx, req)
			if err != nil {
				t.Fatalf("postgres %q: %v", q, err)
			}
			if x.Total != y.Total || !reflect.DeepEqual(x.Facets, y.Facets) {
				t.Errorf("%q %s: sqlite total %d facets %v; postgres %d %v", q, sort, x.Total, x.Facets, y.Total, y.Facets)
			}
			xs, ys := hitKeys(x.Hits), hitKeys(y.Hits)
			if !slices.Equal(xs, ys) {
				differ++
				t.Errorf("%q %s: sqlite %v\npostgres %v", q, sort, scored(x.Hits), scored(y.Hits))
			}
			for i := range min(len(x.Hits), len(y.Hits)) {
				if d := math.Abs(x.Hits[i].Score - y.Hits[i].Score); d > 1e-9*math.Max(1, math.Abs(x.Hits[i].Score)) {
					t.Logf("%q %s: hit %d score sqlite %g, postgres %g", q, sort, i, x.Hits[i].Score, y.Hits[i].Score)
					break
				}
			}
		}
	}
	t.Logf("%d queries, %d orders differ", len(queries), differ)
}

func hitKeys(hs []store.SearchHit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%d/%d/%q/%d", h.Serial, h.Key, h.AttachText, h.RecalledBy))
	}
	return out
}

func scored(hs []store.SearchHit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%d:%.4g", h.Serial, h.Score))
	}
	return out
}

// TestNULText: WeCom text may carry U+0000, which PostgreSQL's text cannot
// hold. The message indexes (stored as U+FFFD; the records keep the exact
// bytes), and its projection renders as SQLite's does, so verify's
// comparison with a rebuilt index holds.
func TestNULText(t *testing.T) {
	ctx := context.Background()
	lite, pg := openSQLite(t), openTemp(t)
	var an textindex.Analyzer
	for _, s := range []store.Store{lite, pg} {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := store.MessageRow{Serial: 1, JournalIndex: 1, Source: "wecom-archive:x", SourceID: "nul\x00id", Version: 1, Kind: archive.KindText,
			SourceType: "text", Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000), CapturedAt: archive.MillisTime(1700000000001),
			Conversation: "direct:a|b", ConvKind: archive.ConversationDirect, Sender: "a", Recipients: []string{"b"}, Text: "保本\x00收益",
			Direction: archive.DirectionInternal, RawHash: archive.Hash([]byte("r")), RecordHash: archive.Hash([]byte("n")), RawSize: 1, RecordSize: 1,
			RetainUntil: archive.MillisTime(1900000000000), SearchBody: string(an.AppendIndexTerms(nil, "保本\x00收益"))}
		atts := []store.AttachmentRow{{Serial: 1, Ordinal: 0, Attachment: archive.Attachment{Role: "file", FileName: "a\x00.pdf", Status: archive.AttachmentMissing, Reason: "x\x00y", Text: "t\x00"}}}
		if err := tx.IndexMessage(ctx, m, atts); err != nil {
			t.Fatalf("%T: %v", s, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("%T commit: %v", s, err)
		}
	}
	got, err := pg.Message(ctx, 1)
	if err != nil || got.Text != "保本\uFFFD收益" {
		t.Fatalf("postgres message: %q, %v", got.Text, err)
	}
	a, b := dumpOf(t, lite), dumpOf(t, pg)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("dumps differ:\nsqlite:\n%s\npostgres:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}
