package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// supervised is an archive with four messages the default pack flags.
func supervised(t *testing.T) (*repo.Repo, string) {
	t.Helper()
	ctx := context.Background()
	r, dir := archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true})
	var items []ingest.Item
	for i, text := range []string{"这个产品保本保收益", "加我私人微信", "我要投诉", "稳赚不赔"} {
		m, raw := testMessage(fmt.Sprintf("m%d", i), text)
		if i == 2 {
			m.Kind, m.SourceType = archive.KindAgree, "agree"
			m.Consent = &archive.Consent{ExternalID: "wmb", Agreed: true}
		}
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	if _, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func lastEvent(t *testing.T, st store.Reader) *journal.Event {
	t.Helper()
	ctx := context.Background()
	h, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev *journal.Event
	if err := st.Leaves(ctx, h.JournalSize-1, h.JournalSize, func(i uint64, _, leaf []byte) error {
		ev, err = journal.ParseLeaf(i, leaf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ev
}

const draft = `policy: draft
rules:
  - id: promise
    lexicon: [保本]
`

// TestAccessJournaled: every use case that shows content journals one
// access as the principal, through the surface it names, before it
// returns; without a writer it refuses instead of showing anything.
func TestAccessJournaled(t *testing.T) {
	r, dir := supervised(t)
	ctx := context.Background()
	u := app.New(app.FromRepo(r))
	p := app.Principal{Actor: "web:alice", User: "alice", Via: "web"}
	as := app.WithPrincipal(ctx, p)
	var alertID uint64
	r.Store.Alerts(ctx, 0, "", 1, func(a store.AlertRow) error { alertID = a.JournalIndex; return nil })
	cases := []struct {
		name string
		call func(ctx context.Context, u *app.App) error
		what string // access.view's what, or "review:view"
	}{
		{"messages", func(ctx context.Context, u *app.App) error { _, err := u.Messages(ctx, "m1"); return err }, "message"},
		{"proof", func(ctx context.Context, u *app.App) error {
			_, err := u.InclusionProof(ctx, app.ProofOf{BySerial: true, Serial: 1})
			return err
		}, "proof"},
		{"consent", func(ctx context.Context, u *app.App) error { _, err := u.Consent(ctx, "wmb"); return err }, "consent:wmb"},
		{"search", func(ctx context.Context, u *app.App) error {
			_, err := u.Search(ctx, app.SearchOptions{Query: "保本"})
			return err
		}, "search"},
		{"backtest", func(ctx context.Context, u *app.App) error {
			_, err := u.Backtest(ctx, app.BacktestRequest{File: "draft.yaml", Data: []byte(draft), Samples: 5})
			return err
		}, "backtest:draft"},
		{"alert", func(ctx context.Context, u *app.App) error { _, err := u.Alert(ctx, alertID); return err }, "review:view"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(as, u); err != nil {
				t.Fatal(err)
			}
			ev := lastEvent(t, r.Store)
			if ev.Actor != p.Actor {
				t.Fatalf("journaled as %q, want %q", ev.Actor, p.Actor)
			}
			switch ev.Type {
			case archive.EventAccessView:
				var a archive.AccessEvent
				if err := ev.DecodePayload(&a); err != nil || a.What != c.what || a.Via != "web" || len(a.Serials) == 0 {
					t.Fatalf("access %+v (%v), want what %q via web with serials", a, err, c.what)
				}
			case archive.EventReviewAction:
				var a archive.ReviewEvent
				if err := ev.DecodePayload(&a); err != nil || c.what != "review:view" || a.Action != "view" {
					t.Fatalf("review %+v (%v), want %s", a, err, c.what)
				}
			default:
				t.Fatalf("last event %s, want an access", ev.Type)
			}
			// No principal: refused, nothing journaled.
			before := lastEvent(t, r.Store).Index
			if err := c.call(ctx, u); !errors.Is(err, app.ErrNoPrincipal) {
				t.Fatalf("without a principal: %v", err)
			}
			if lastEvent(t, r.Store).Index != before {
				t.Fatal("a call without a principal was journaled")
			}
		})
	}
	// A read-only archive cannot account for an access: every one refused.
	ro, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close(ctx)
	ru := app.New(app.FromRepo(ro))
	for _, c := range cases {
		if err := c.call(as, ru); !errors.Is(err, app.ErrReadOnly) {
			t.Errorf("%s on a read-only archive: %v, want ErrReadOnly", c.name, err)
		}
	}
}

// TestInvalidNamesField: what the caller must change is an *InvalidError
// naming the parameter; nothing is journaled.
func TestInvalidNamesField(t *testing.T) {
	r, _ := supervised(t)
	ctx := app.WithPrincipal(context.Background(), app.Principal{Actor: "cli:alice", User: "alice", Via: "cli"})
	u := app.New(app.FromRepo(r))
	before := lastEvent(t, r.Store).Index
	for _, c := range []struct {
		field string
		err   error
	}{
		{"external_id", func() error { _, err := u.Consent(ctx, strings.Repeat("w", archive.MaxIDBytes+1)); return err }()},
		{"external_id", func() error { _, err := u.Consent(ctx, "wm\x07"); return err }()},
		{"to", func() error {
			_, err := u.ReviewEvidence(ctx, app.Range{From: "2026-02-01", To: "2026-01-01"})
			return err
		}()},
		{"to", func() error {
			_, err := u.Backtest(ctx, app.BacktestRequest{Data: []byte(draft), Period: app.Range{From: "2026-02-01", To: "2026-02-01"}})
			return err
		}()},
		{"from", func() error {
			_, err := u.ReviewEvidence(ctx, app.Range{From: "2026-13-01", To: "2027-01-01"})
			return err
		}()},
		{"status", func() error { _, err := u.Alerts(ctx, app.AlertFilter{Status: "pending"}); return err }()},
		{"samples", func() error {
			_, err := u.Backtest(ctx, app.BacktestRequest{Data: []byte(draft), Samples: 1001})
			return err
		}()},
		{"note", func() error {
			_, err := u.Review(ctx, app.ReviewRequest{Action: "comment", Alerts: []uint64{1}, Note: strings.Repeat("<", 300_000)})
			return err
		}()},
		{"alerts[0]", func() error {
			_, err := u.Review(ctx, app.ReviewRequest{Action: "claim", Alerts: []uint64{0}})
			return err
		}()},
	} {
		var inv *app.InvalidError
		if !errors.As(c.err, &inv) || inv.Field != c.field {
			t.Errorf("got %v, want an InvalidError naming %q", c.err, c.field)
		}
	}
	var se *app.SearchError
	if _, err := u.Search(ctx, app.SearchOptions{Query: strings.Repeat("保", archive.MaxQueryBytes)}); !errors.As(err, &se) || se.Field != "query" {
		t.Errorf("oversize query: %v", err)
	}
	// A parse error names the query and the column once (it read
	// "query: query: column 4: …").
	if _, err := u.Search(ctx, app.SearchOptions{Query: `保本 "收益`}); !errors.As(err, &se) || err.Error() != `query: column 4: unterminated phrase: expected a closing '"'` {
		t.Errorf("query error: %v", err)
	}
	if lastEvent(t, r.Store).Index != before {
		t.Fatal("a refused request was journaled")
	}
}
