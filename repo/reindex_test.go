package repo_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

func dump(t *testing.T, st store.Reader) []string {
	t.Helper()
	var rows []string
	err := st.DumpProjection(context.Background(), func(table, key, row string) error {
		rows = append(rows, table+"|"+key+"|"+row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestReindexEqualsLive proves the index is a projection of the journal and
// the records: rebuilding it from scratch gives exactly the live rows.
func TestReindexEqualsLive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	fixture, err := os.ReadFile("../capture/wecom/msgaudit/testdata/all-types.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:t", Actor: "test", Origin: "file:f", BatchSize: 7}
	if _, err := in.Run(ctx, bytes.NewReader(fixture)); err != nil {
		t.Fatal(err)
	}
	// Part sealed, part pending; a recall arriving before its original; a
	// conflict; a quarantined line; directory facts.
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	extra := strings.Join([]string{
		`{"msgid":"late-recall","action":"recall","from":"lina","tolist":["wmX"],"roomid":"","msgtime":1700009000000,"msgtype":"revoke","revoke":{"pre_msgid":"late-original"}}`,
		`{"msgid":"late-original","action":"send","from":"lina","tolist":["wmX"],"roomid":"","msgtime":1700008000000,"msgtype":"text","text":{"content":"撤回我"}}`,
		`{"msgid":"fx0002_1700000002","action":"send","from":"wmExtClient001","tolist":["zhangwei"],"roomid":"","msgtime":1700000120000,"msgtype":"text","text":{"content":"changed"}}`,
		`not json`,
	}, "\n")
	in.Origin = "file:extra"
	sum, err := in.Run(ctx, strings.NewReader(extra))
	if err != nil || sum.Archived != 2 || sum.Conflicts != 1 || sum.Rejected != 1 {
		t.Fatalf("extra: %+v, %v", sum, err)
	}
	if _, err := r.Engine.Append(ctx, participant("lina", "财富管理部")); err != nil {
		t.Fatal(err)
	}
	live := dump(t, r.Store)
	if len(live) < 55 {
		t.Fatalf("suspiciously small projection: %d rows", len(live))
	}
	// The recall that arrived first is linked both ways.
	orig, err := r.Store.MessagesBySourceID(ctx, "late-original")
	if err != nil || orig[0].RecalledBy == 0 {
		t.Fatalf("late original not marked recalled: %+v %v", orig, err)
	}

	if err := r.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := dump(t, r.Store)
	if strings.Join(live, "\n") != strings.Join(rebuilt, "\n") {
		for i := range live {
			if i >= len(rebuilt) || live[i] != rebuilt[i] {
				t.Fatalf("row %d differs after reindex:\nlive    %s\nrebuilt %s", i, live[i], at(rebuilt, i))
			}
		}
		t.Fatalf("rebuilt has %d rows, live %d", len(rebuilt), len(live))
	}

	// And reindex repairs a damaged index.
	db := r.Store
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.ResetProjection(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, r.Store); len(got) != 0 {
		t.Fatalf("reset left %d rows", len(got))
	}
	if err := r.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, r.Store); strings.Join(got, "\n") != strings.Join(live, "\n") {
		t.Fatal("reindex after wiping the index differs from the live index")
	}
}

func at(rows []string, i int) string {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}
