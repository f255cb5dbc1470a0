package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

// TestConversation: a conversation pages oldest first within a page and
// backwards by cursor, pages to a message, names each sender as the
// directory named them when they sent it, keeps to the viewer's barrier,
// and journals what it showed.
func TestConversation(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	const t0 = 1700000000000
	for _, p := range []archive.ParticipantEvent{
		{ID: "a", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(0)},
		{ID: "a", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "投资银行部", ValidFrom: archive.MillisTime(t0 + 4*60000)},
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
	for i := range 7 {
		m, raw := testMessage(fmt.Sprintf("c%d", i), fmt.Sprintf("第%d条", i))
		m.SentAt = archive.MillisTime(t0 + int64(i)*60000)
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	other, raw := testMessage("x", "别的对话")
	other.Conversation = "direct:a|z"
	items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: other})
	res, err := r.Engine.Archive(ctx, "test", items)
	if err != nil {
		t.Fatal(err)
	}
	serial := func(i int) uint64 { return res[i].Serial }
	texts := func(p *app.ConversationPage) []string {
		var out []string
		for _, m := range p.Messages {
			out = append(out, m.Text)
		}
		return out
	}

	p1, err := u.Conversation(uctx, app.ConversationOptions{ID: "direct:a|b", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(p1); !slices.Equal(got, []string{"第4条", "第5条", "第6条"}) || p1.Older == "" {
		t.Fatalf("newest page %v, older %q", got, p1.Older)
	}
	if m := p1.Messages[0]; m.SenderName != "张伟" || m.Department != "投资银行部" || m.Serial != serial(4) {
		t.Fatalf("message 4 as shown: %+v", m)
	}
	ev := lastEvent(t, r.Store)
	var acc archive.AccessEvent
	if err := json.Unmarshal(ev.Payload, &acc); err != nil || ev.Type != archive.EventAccessView || acc.What != "conversation:direct:a|b" ||
		!slices.Equal(acc.Serials, []uint64{serial(4), serial(5), serial(6)}) {
		t.Fatalf("journaled %s %+v (%v)", ev.Type, acc, err)
	}
	p2, err := u.Conversation(uctx, app.ConversationOptions{ID: "direct:a|b", Limit: 3, Cursor: p1.Older})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(p2); !slices.Equal(got, []string{"第1条", "第2条", "第3条"}) || p2.Messages[0].Department != "财富管理部" {
		t.Fatalf("older page %v (%+v)", got, p2.Messages[0])
	}
	p3, err := u.Conversation(uctx, app.ConversationOptions{ID: "direct:a|b", Limit: 3, Cursor: p2.Older})
	if err != nil || !slices.Equal(texts(p3), []string{"第0条"}) || p3.Older != "" {
		t.Fatalf("oldest page %+v, %v", p3, err)
	}
	around, err := u.Conversation(uctx, app.ConversationOptions{ID: "direct:a|b", Limit: 2, Around: serial(3)})
	if err != nil || !slices.Equal(texts(around), []string{"第2条", "第3条"}) || around.Around != serial(3) {
		t.Fatalf("around message 3: %+v, %v", around, err)
	}
	if _, err := u.Conversation(uctx, app.ConversationOptions{ID: "direct:a|b", Around: serial(7)}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("around a message of another conversation: %v", err)
	}

	// A reviewer of another department sees nothing of it.
	ib := as(&auth.Identity{User: "ivan", Roles: []auth.Role{auth.Reviewer}, Departments: []string{"合规部"}})
	if p, err := u.Conversation(ib, app.ConversationOptions{ID: "direct:a|b"}); err != nil || len(p.Messages) != 0 {
		t.Fatalf("another department's reviewer: %+v, %v", p, err)
	}

	before := head(t, r)
	for _, c := range []struct {
		o     app.ConversationOptions
		field string
	}{
		{app.ConversationOptions{}, "conversation"},
		{app.ConversationOptions{ID: "direct:a|b", Limit: app.MaxConversationLimit + 1}, "limit"},
		{app.ConversationOptions{ID: "direct:a|b", Cursor: "nonsense"}, "cursor"},
		{app.ConversationOptions{ID: "direct:a|b", Cursor: p1.Older, Around: serial(1)}, "around"},
	} {
		_, err := u.Conversation(uctx, c.o)
		var ie *app.InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%+v: %v, want an InvalidError naming %s", c.o, err, c.field)
		}
	}
	if head(t, r) != before {
		t.Fatal("a refused request journaled something")
	}
}
