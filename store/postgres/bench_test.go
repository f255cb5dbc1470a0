package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/internal/pgtest"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// BenchmarkIndexMessage indexes messages 1,000 per commit, with text,
// three participants and one attachment each (the engine's batch shape).
// go test ./store/postgres/ -run '^$' -bench IndexMessage
func BenchmarkIndexMessage(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Open(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var an textindex.Analyzer
	text := "这款产品保本保息，年化收益8%，请加我私人微信 guaranteed returns"
	terms := string(an.AppendIndexTerms(nil, text))
	b.ResetTimer()
	var tx store.Tx
	for i := range b.N {
		if i%1000 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			if tx, err = s.Begin(ctx); err != nil {
				b.Fatal(err)
			}
		}
		serial := uint64(i + 1)
		m := store.MessageRow{Serial: serial, JournalIndex: serial, Source: "bench", SourceID: fmt.Sprint("m", i), Version: 1,
			Kind: archive.KindText, Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000 + int64(i)*1000),
			Sender: "zhangwei", Recipients: []string{"client.chen", "liming"}, Text: text, SearchBody: terms, Attachments: 1,
			Participants: []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee},
				{ID: "client.chen", Kind: archive.ParticipantExternal}, {ID: "liming", Kind: archive.ParticipantEmployee}}}
		att := store.AttachmentRow{Serial: serial, Attachment: archive.Attachment{Role: "file", FileName: "a.pdf", Status: archive.AttachmentFetched}}
		if err := tx.IndexMessage(ctx, m, []store.AttachmentRow{att}); err != nil {
			b.Fatal(err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch searches 20,000 messages drawn from a small vocabulary
// (so common terms match thousands): the first page of a common CJK
// character, of a bigram, of a phrase, and relevance.
// go test ./store/postgres/ -run '^$' -bench Search
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Open(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	words := []string{"保本", "收益", "基金", "理财", "风险", "微信", "客户", "产品", "年化", "承诺", "guaranteed", "returns", "meeting", "保险", "本金"}
	var an textindex.Analyzer
	tx, err := s.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	for i := range n {
		var sb strings.Builder
		for j := range 8 {
			sb.WriteString(words[(i*7+j*j*3+i/13)%len(words)])
			if j%2 == 1 {
				sb.WriteString("，") // pairs of words form longer runs
			}
		}
		serial := uint64(i + 1)
		m := store.MessageRow{Serial: serial, JournalIndex: serial, Source: "bench", SourceID: fmt.Sprint("m", i), Version: 1,
			Kind: archive.KindText, Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000 + int64(i)*1000),
			Sender: "zhangwei", Recipients: []string{"client.chen"}, Text: sb.String()}
		m.SearchBody = string(an.AppendIndexTerms(nil, m.Text))
		if err := tx.IndexMessage(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, q string
		sort    store.SearchSort
	}{
		{"char", "保", store.SortTime},
		{"bigram", "收益", store.SortTime},
		{"phrase", "保本理财", store.SortTime},
		{"relevance", "保本", store.SortRelevance},
	} {
		q, err := textindex.Parse(c.q, textindex.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			var total int64
			for range b.N {
				p, err := s.Search(ctx, store.SearchRequest{Query: q, Sort: c.sort, Limit: 20, CountLimit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				total = p.Total
			}
			b.ReportMetric(float64(total), "matches")
		})
	}
}
