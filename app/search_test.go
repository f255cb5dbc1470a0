package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

func testMessage(id, text string) (*archive.Message, []byte) {
	raw := []byte(fmt.Sprintf(`{"msgid":%q,"text":%q}`, id, text))
	return &archive.Message{Source: "test:1", SourceID: id, SourceType: "text", Kind: archive.KindText,
		Action: archive.ActionSend, SentAt: archive.MillisTime(1700000000000), Conversation: "direct:a|b",
		ConversationKind: archive.ConversationDirect, Sender: "a", Recipients: []string{"b"},
		Participants: []archive.Participant{{ID: "a", Kind: archive.ParticipantEmployee}, {ID: "wmb", Kind: archive.ParticipantExternal}},
		Direction:    archive.DirectionOutbound, Text: text}, raw
}

// TestSearchCountLimit: past the count limit a search reports a lower
// bound, says so, and journals it as one; CountAll counts every match.
func TestSearchCountLimit(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	var items []ingest.Item
	for i := 0; i < 12; i++ {
		m, raw := testMessage(fmt.Sprintf("m%d", i), fmt.Sprintf("保本 %d", i))
		m.SentAt = archive.MillisTime(1700000000000 + int64(i)*60000)
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o         app.SearchOptions
		total     int64
		exact     bool
		journaled string
	}{
		{app.SearchOptions{Query: "保本", Limit: 3}, 12, true, "12"},
		{app.SearchOptions{Query: "保本", Limit: 3, CountLimit: 5}, 5, false, "at least 5"},
		{app.SearchOptions{Query: "保本", Limit: 3, CountLimit: 12}, 12, true, "12"},
		{app.SearchOptions{Query: "保本", Limit: 3, CountLimit: 5, CountAll: true}, 12, true, "12"},
		{app.SearchOptions{Query: "保本", Exact: true, Limit: 3, CountLimit: 2}, 2, false, "at least 2"},
	} {
		res, err := u.Search(uctx, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != tc.total || res.TotalExact != tc.exact || len(res.Results) != 3 || res.NextCursor == "" {
			t.Errorf("%+v: total %d (exact %v), %d results, next %q; want %d (exact %v), 3 and a cursor",
				tc.o, res.Total, res.TotalExact, len(res.Results), res.NextCursor, tc.total, tc.exact)
		}
		head, err := r.Store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var a archive.AccessEvent
		r.Store.Leaves(ctx, head.JournalSize-1, head.JournalSize, func(idx uint64, _, leaf []byte) error {
			ev, err := journal.ParseLeaf(idx, leaf)
			if err != nil {
				return err
			}
			return ev.DecodePayload(&a)
		})
		got := "none"
		if a.Results != nil {
			got = fmt.Sprint(*a.Results)
			if a.ResultsAtLeast {
				got = "at least " + got
			}
		}
		if a.What != "search" || got != tc.journaled {
			t.Errorf("%+v: journaled %q results %s, want search with %s", tc.o, a.What, got, tc.journaled)
		}
	}
}
