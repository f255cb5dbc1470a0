package jsonl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/store"
)

func msg(id string, ms int64, text string) string {
	return fmt.Sprintf(`{"msgid":%q,"action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":%q}}`, id, ms, text)
}

// TestEntryIngester: the ingest route's seam, found by name in the
// registry: per-entry outcomes in body order with serial, version and
// journal index; a rejected entry quarantined with its field; the account
// part of the source; bad requests refused whole with a sentinel, nothing
// written.
func TestEntryIngester(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	in, err := all.Registry(all.Options{}).Ingester(jsonl.IngesterName, capture.Deps{Writer: r.Engine, Blobs: r.Blobs})
	if err != nil {
		t.Fatal(err)
	}
	start, err := r.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := start.JournalSize // the first event of this request
	bad := `{"msgid":"e2","action":"send","from":["zhangwei"],"tolist":["wmExtClient001"],"roomid":"","msgtime":1700100000000,"msgtype":"text","text":{"content":"x"}}`
	body := msg("e1", 1700100000000, "第一条") + "\n" + bad + "\n" + msg("e1", 1700100000000, "第一条") + "\n"
	res, err := in.Ingest(ctx, capture.EntryRequest{Body: asBody(body), Actor: "api:test", Origin: "api request T"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	if r0 := res[0]; r0.Entry != 1 || r0.MsgID != "e1" || r0.Outcome != ingest.Archived || r0.Serial != 1 || r0.Version != 1 || r0.JournalIndex != first || r0.Fault != nil {
		t.Fatalf("entry 1: %+v", r0)
	}
	if r1 := res[1]; r1.Entry != 2 || r1.MsgID != "e2" || r1.Outcome != ingest.Rejected || r1.Serial != 0 || r1.JournalIndex != first+1 ||
		r1.Fault == nil || r1.Fault.Field != "from" {
		t.Fatalf("entry 2: %+v %+v", r1, r1.Fault)
	}
	if r2 := res[2]; r2.Entry != 3 || r2.Outcome != ingest.Duplicate || r2.Serial != 1 || r2.JournalIndex != first {
		t.Fatalf("entry 3: %+v", r2)
	}
	rows, err := r.Store.MessagesBySourceID(ctx, "e1")
	if err != nil || len(rows) != 1 || rows[0].Source != "wecom-archive:default" || rows[0].Origin != "api request T entry 1" {
		t.Fatalf("archived %+v, %v", rows, err)
	}
	var rejects []store.RejectRow
	r.Store.Rejects(ctx, func(row store.RejectRow) error { rejects = append(rejects, row); return nil })
	if len(rejects) != 1 || rejects[0].Origin != "api request T entry 2" || rejects[0].Field != "from" {
		t.Fatalf("quarantine %+v", rejects)
	}
	// Another account is another source.
	res, err = in.Ingest(ctx, capture.EntryRequest{Body: asBody(msg("e1", 1700100000000, "第一条")), Account: "ww5f3c9a1e2b7d4068", Actor: "api:test"})
	if err != nil || res[0].Outcome != ingest.Archived || res[0].Serial != 2 {
		t.Fatalf("other account: %+v, %v", res, err)
	}
	if rows, _ := r.Store.MessagesBySourceID(ctx, "e1"); len(rows) != 2 || rows[1].Source != "wecom-archive:ww5f3c9a1e2b7d4068" ||
		!strings.HasPrefix(rows[1].Origin, "api request ") || !strings.HasSuffix(rows[1].Origin, " entry 1") {
		t.Fatalf("other account's row %+v", rows)
	}

	head, _ := r.Store.Head(ctx)
	for _, tc := range []struct {
		name    string
		req     capture.EntryRequest
		want    error
		message string
	}{
		{"path as account", capture.EntryRequest{Body: asBody(msg("x", 1700100000000, "x")), Account: "../../.."}, capture.ErrBadAccount, `"../../.."`},
		{"huge account", capture.EntryRequest{Body: asBody(msg("x", 1700100000000, "x")), Account: strings.Repeat("w", 1<<20)}, capture.ErrBadAccount, "1 to 64"},
		{"empty body", capture.EntryRequest{Body: asBody("\n \n")}, capture.ErrEmptyBody, ""},
		{"empty array", capture.EntryRequest{Body: asBody("[]")}, capture.ErrEmptyBody, ""},
		{"malformed", capture.EntryRequest{Body: asBody(`[` + msg("x", 1700100000000, "x") + `, {"msgid": oops}]`)}, capture.ErrMalformedBody, "array element 2"},
	} {
		res, err := in.Ingest(ctx, tc.req)
		if res != nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) || len(err.Error()) > 300 {
			t.Errorf("%s: %v, %v; want %v mentioning %q", tc.name, res, err, tc.want, tc.message)
		}
	}
	if h, _ := r.Store.Head(ctx); h.JournalSize != head.JournalSize {
		t.Fatalf("refused requests wrote %d events", h.JournalSize-head.JournalSize)
	}
}

// asBody is a request body in memory.
func asBody(s string) capture.Body { return bytes.NewReader([]byte(s)) }
