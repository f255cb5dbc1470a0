package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

// warnArchive has a directory of three employees and one external
// contact, some never in a message, and two messages from zhangwei.
func warnArchive(t *testing.T) (*app.App, context.Context) {
	t.Helper()
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	const t0 = 1700000000000
	for _, p := range []archive.ParticipantEvent{
		{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(0)},
		{ID: "lina", Kind: archive.ParticipantEmployee, Name: "李娜", Department: "销售部", ValidFrom: archive.MillisTime(0)},
		{ID: "quiet", Kind: archive.ParticipantEmployee, Name: "王静", Department: "合规部", ValidFrom: archive.MillisTime(0)},
		{ID: "wmLiu", Kind: archive.ParticipantExternal, Name: "刘总", ValidFrom: archive.MillisTime(0)},
		// Renamed after the messages: facets show the name of now, hits
		// the name of their time.
		{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟（财富）", Department: "财富管理部", ValidFrom: archive.MillisTime(t0 + 3600000)},
	} {
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var items []ingest.Item
	for i := range 2 {
		m, raw := testMessage(fmt.Sprintf("w%d", i), fmt.Sprintf("保本 %d", i))
		m.SentAt = archive.MillisTime(t0 + int64(i)*60000)
		m.Sender, m.Recipients, m.Conversation = "zhangwei", []string{"b"}, "direct:b|zhangwei"
		m.Participants = []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "b", Kind: archive.ParticipantExternal}}
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	return u, uctx
}

// TestSearchFilterWarnings: a person or department filter whose value the
// archive does not know is a warning beside the (still run) results, with
// the closest known value; a known value — by id in a message or the
// directory, by a directory name, a department with no messages — is not.
func TestSearchFilterWarnings(t *testing.T) {
	u, uctx := warnArchive(t)
	for _, tc := range []struct {
		q     string
		total int64
		want  []string
	}{
		{"保本", 2, nil},
		{"保本 from:zhangwei", 2, nil},
		{"保本 from:张伟", 2, nil},
		{"to:b", 2, nil},              // an id seen only in messages
		{"participant:刘总", 0, nil},    // a directory name, never in a message
		{"from:quiet", 0, nil},        // a directory id, never in a message
		{"保本 department:合规部", 0, nil}, // a department without messages
		{"保本 department:财富管理部", 2, nil},
		{"保本 from:zhangwie", 0, []string{`from: "zhangwie" is no one the archive knows, by id or directory name (did you mean zhangwei?)`}},
		{"from:张为", 0, []string{`from: "张为" is no one the archive knows, by id or directory name (did you mean 张伟?)`}},
		{"保本 OR to:nobody1234", 2, []string{`to: "nobody1234" is no one the archive knows, by id or directory name`}},
		{"保本 -participant:Zhangwei", 2, []string{`participant: "Zhangwei" is no one the archive knows, by id or directory name (did you mean zhangwei?)`}},
		{"from:x1 from:x1 to:x1", 0, []string{`from: "x1" is no one the archive knows, by id or directory name`,
			`to: "x1" is no one the archive knows, by id or directory name`}},
		{"保本 department:销售部x", 0, []string{`department: "销售部x" is not in the directory (did you mean 销售部? known: 合规部, 财富管理部, 销售部)`}},
		{"department:稽核部", 0, []string{`department: "稽核部" is not in the directory (known: 合规部, 财富管理部, 销售部)`}},
		// A conversation is checked only when nothing matched.
		{"保本 conversation:direct:b|zhangwei", 2, nil},
		{"税收 conversation:direct:b|zhangwei", 0, nil},
		{"保本 conversation:direct:b|zhangwie", 0, []string{`conversation: "direct:b|zhangwie" has no messages you may see`}},
	} {
		res, err := u.Search(uctx, app.SearchOptions{Query: tc.q})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if res.Total != tc.total || !slices.Equal(res.Warnings, tc.want) {
			t.Errorf("%s: total %d, warnings %q; want %d, %q", tc.q, res.Total, res.Warnings, tc.total, tc.want)
		}
		if len(res.FilterWarnings) != len(res.Warnings) {
			t.Errorf("%s: %d filter warnings for %d warnings", tc.q, len(res.FilterWarnings), len(res.Warnings))
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(b), `"warnings":`); has != (tc.want != nil) {
			t.Errorf("%s: JSON %s: warnings present %v", tc.q, b, has)
		}
	}
	// Exact mode has no filters to check.
	res, err := u.Search(uctx, app.SearchOptions{Query: "from:nobody", Exact: true})
	if err != nil || res.Warnings != nil {
		t.Errorf("exact: %v, warnings %q", err, res.Warnings)
	}
}

// TestSearchFacetNames: sender and conversation facets carry the
// directory's current name beside the id; the other facets have none.
func TestSearchFacetNames(t *testing.T) {
	u, uctx := warnArchive(t)
	res, err := u.Search(uctx, app.SearchOptions{Query: "保本", Facets: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sender":       "zhangwei=张伟（财富）:2",
		"conversation": "direct:b|zhangwei=b、张伟（财富）:2",
		"type":         "text=:2",
		"direction":    "outbound=:2",
	}
	for f, w := range want {
		var got []string
		for _, c := range res.Facets[f] {
			got = append(got, fmt.Sprintf("%s=%s:%d", c.Value, c.Name, c.Count))
		}
		if strings.Join(got, " ") != w {
			t.Errorf("facet %s = %q, want %q", f, got, w)
		}
	}
	if n := res.Results[0].SenderName; n != "张伟" {
		t.Errorf("a hit's sender name %q, want the name of its time 张伟", n)
	}
	b, _ := json.Marshal(res.Facets["sender"])
	if string(b) != `[{"value":"zhangwei","name":"张伟（财富）","count":2}]` {
		t.Errorf("sender facet JSON %s", b)
	}
}
