package kf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/capture/wecom/kf"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

func msg(id string, origin int, typ, body string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"msgid":%q,"open_kfid":"wkACCOUNT","external_userid":"wmCUSTOMER","send_time":1700000000,"origin":%d,"servicer_userid":"zhangwei","msgtype":%q,%s}`,
		id, origin, typ, body))
}

func setup(t *testing.T) (*repo.Repo, *apitest.Fake, *kf.Syncer, string) {
	t.Helper()
	dir := archivetest.InitDir(t, repo.InitOptions{})
	r := archivetest.OpenDir(t, dir)
	f := apitest.New("ww_corp", "kf-secret")
	t.Cleanup(f.Close)
	client := &api.Client{BaseURL: f.URL, ID: "ww_corp", Secret: "kf-secret", HTTP: f.Client()}
	s := &kf.Syncer{ID: "service", CorpID: "ww_corp", Client: client, Engine: r.Engine, Blobs: r.Blobs, Store: r.Store}
	return r, f, s, dir
}

// TestSyncPages: has_more paging (an empty page with has_more set is not
// the end), origins, media, a broken message quarantined, the cursor
// committed with each page and resumed from.
func TestSyncPages(t *testing.T) {
	ctx := context.Background()
	r, f, s, _ := setup(t)
	f.AddMedia("MEDIA_IMG", []byte("\xff\xd8\xff\xe0 jpeg"))
	f.AddKFPage([]json.RawMessage{
		msg("k1", kf.OriginCustomer, "text", `"text":{"content":"我要投诉，收益没有达到承诺"}`),
		msg("k2", kf.OriginServicer, "text", `"text":{"content":"您好，我来处理"}`),
	}, true)
	f.AddKFPage(nil, true) // empty, but more to come
	f.AddKFPage([]json.RawMessage{
		msg("k3", kf.OriginCustomer, "image", `"image":{"media_id":"MEDIA_IMG"}`),
		msg("k4", kf.OriginEvent, "event", `"event":{"event_type":"enter_session","scene":"123","welcome_code":"w"}`),
		msg("k5", 9, "text", `"text":{"content":"?"}`),
	}, false)
	res, err := s.Sync(ctx, "TOKEN_FROM_CALLBACK")
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 3 || res.Archived != 4 || res.Rejected != 1 || res.Cursor != "p3" {
		t.Fatalf("sync: %+v", res)
	}
	if strings.Join(f.KFTokens, ",") != "TOKEN_FROM_CALLBACK,TOKEN_FROM_CALLBACK,TOKEN_FROM_CALLBACK" {
		t.Fatalf("tokens %v", f.KFTokens)
	}
	get := func(id string) archive.Message {
		rows, _ := r.Store.MessagesBySourceID(ctx, id)
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows", id, len(rows))
		}
		m := rows[0]
		return archive.Message{Sender: m.Sender, Direction: m.Direction, Kind: m.Kind, Text: m.Text, Conversation: m.Conversation, Recipients: m.Recipients}
	}
	if m := get("k1"); m.Sender != "wmCUSTOMER" || m.Direction != archive.DirectionInbound || m.Conversation != "direct:kf:wkACCOUNT|wmCUSTOMER" || !strings.Contains(m.Text, "投诉") {
		t.Fatalf("k1 %+v", m)
	}
	if m := get("k2"); m.Sender != "zhangwei" || m.Direction != archive.DirectionOutbound || m.Recipients[0] != "wmCUSTOMER" {
		t.Fatalf("k2 %+v", m)
	}
	if m := get("k4"); m.Kind != archive.KindEvent || !strings.Contains(m.Text, "enter_session") {
		t.Fatalf("k4 %+v", m)
	}
	rows, _ := r.Store.MessagesBySourceID(ctx, "k3")
	atts, _ := r.Store.Attachments(ctx, rows[0].Serial)
	if len(atts) != 1 || atts[0].Status != archive.AttachmentFetched {
		t.Fatalf("k3 media %+v", atts)
	}
	var rejects []string
	r.Store.Rejects(ctx, func(rr storeReject) error { rejects = append(rejects, rr.Field+": "+rr.Reason); return nil })
	if len(rejects) != 1 || !strings.HasPrefix(rejects[0], "origin: 9") {
		t.Fatalf("quarantine %v", rejects)
	}
	// Nothing new: the cursor holds; a later page is read from it.
	res, err = s.Sync(ctx, "")
	if err != nil || res.Fetched != 0 || res.Cursor != "p3" {
		t.Fatalf("second sync: %+v, %v", res, err)
	}
	f.AddKFPage([]json.RawMessage{msg("k6", kf.OriginCustomer, "text", `"text":{"content":"谢谢"}`)}, false)
	res, err = s.Sync(ctx, "")
	if err != nil || res.Archived != 1 || res.Cursor != "p4" {
		t.Fatalf("third sync: %+v, %v", res, err)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{"open_kfid":"a","send_time":1,"origin":3,"external_userid":"x","msgtype":"text"}`, "msgid: missing"},
		{`{"msgid":"m","open_kfid":"a","origin":3,"external_userid":"x","msgtype":"text"}`, "send_time: missing"},
		{`{"msgid":"m","open_kfid":"a","send_time":1,"origin":3,"msgtype":"text"}`, "external_userid: missing"},
		{`not json`, "not a JSON message"},
	} {
		if _, err := kf.Decode([]byte(tc.raw), "wecom-kf:c"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.raw, err, tc.want)
		}
	}
}

// FuzzDecode: any bytes decode or give a *DecodeError, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(msg("k1", 3, "text", `"text":{"content":"保本"}`)))
	f.Add([]byte(msg("k4", 4, "event", `"event":{"event_type":"enter_session"}`)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := kf.Decode(raw, "wecom-kf:c")
		if err != nil {
			if _, ok := err.(*kf.DecodeError); !ok || m != nil {
				t.Fatalf("%v (%T)", err, err)
			}
			return
		}
		if m.SourceID == "" || m.Sender == "" || m.Conversation == "" {
			t.Fatalf("decoded %+v", m)
		}
	})
}

type storeReject = store.RejectRow
