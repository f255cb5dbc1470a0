package postgres

import (
	"context"
	"fmt"
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
