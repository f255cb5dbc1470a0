package api_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/ingest"
)

var _ ingest.MediaSource = (*api.Client)(nil)

const secret = "s3cr3t-app-secret"

func newClient(f *apitest.Fake, flavor api.Flavor, now *time.Time) *api.Client {
	return &api.Client{Flavor: flavor, BaseURL: f.URL, ID: "ww_corp", Secret: secret, HTTP: f.Client(),
		Now: func() time.Time { return *now }}
}

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	f := apitest.New("ww_corp", secret)
	defer f.Close()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, flavor := range []api.Flavor{api.WeCom, api.OfficialAccount} {
		f.TokenCalls.Store(0)
		c := newClient(f, flavor, &now)
		a, err := c.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.Token(ctx)
		if a != b || f.TokenCalls.Load() != 1 {
			t.Fatalf("%s: tokens %q %q after %d gettoken calls; want one cached token", flavor, a, b, f.TokenCalls.Load())
		}
		// Refreshed five minutes before the 7200 s lifetime ends.
		now = now.Add(7200*time.Second - 5*time.Minute - time.Second)
		if c2, _ := c.Token(ctx); c2 != a {
			t.Fatalf("%s: refreshed too early", flavor)
		}
		now = now.Add(2 * time.Second)
		if c3, _ := c.Token(ctx); c3 == a || f.TokenCalls.Load() != 2 {
			t.Fatalf("%s: not refreshed near expiry (%d calls)", flavor, f.TokenCalls.Load())
		}
	}
	// Wrong credentials: the API error, and no secret in it.
	bad := &api.Client{BaseURL: f.URL, ID: "ww_corp", Secret: "wrong-secret", HTTP: f.Client()}
	_, err := bad.Token(ctx)
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Code != 40001 || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestFetchMedia(t *testing.T) {
	ctx := context.Background()
	f := apitest.New("ww_corp", secret)
	defer f.Close()
	now := time.Now()
	c := newClient(f, api.WeCom, &now)
	f.AddMedia("m1", []byte("\xff\xd8\xff\xe0 jpeg bytes"))
	data, err := c.Fetch(ctx, "m1")
	if err != nil || string(data) != "\xff\xd8\xff\xe0 jpeg bytes" {
		t.Fatalf("fetch: %q, %v", data, err)
	}
	// An unknown or expired media id is "not there" for ingest.
	if _, err := c.Fetch(ctx, "gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unknown media: %v", err)
	}
	// A refused token is replaced once, transparently.
	f.ExpireTokens()
	calls := f.TokenCalls.Load()
	if data, err := c.Fetch(ctx, "m1"); err != nil || len(data) == 0 || f.TokenCalls.Load() != calls+1 {
		t.Fatalf("after token expiry: %v (%d token calls)", err, f.TokenCalls.Load()-calls)
	}
	f.FailMedia("busy", -1)
	var ae *api.APIError
	if _, err := c.Fetch(ctx, "busy"); !errors.As(err, &ae) || ae.Code != -1 || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("system busy: %v", err)
	}
	// The size limit holds.
	c.MaxMediaBytes = 4
	if _, err := c.Fetch(ctx, "m1"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestErrorsHideSecrets: transport failures do not echo the URL, which
// carries the secret or the access token.
func TestErrorsHideSecrets(t *testing.T) {
	ctx := context.Background()
	c := &api.Client{BaseURL: "http://127.0.0.1:1", ID: "ww_corp", Secret: secret, HTTP: &http.Client{Timeout: time.Second}}
	_, err := c.Token(ctx)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "corpsecret") {
		t.Fatalf("transport error shows the request: %v", err)
	}
}

func TestMsgauditCalls(t *testing.T) {
	ctx := context.Background()
	for _, legacy := range []bool{false, true} {
		f := apitest.New("ww_corp", secret)
		f.LegacyField = legacy
		now := time.Now()
		c := newClient(f, api.WeCom, &now)
		f.SetPermitUsers("zhangwei", "lina")
		ids, err := c.PermitUsers(ctx, 0)
		if err != nil || !slices.Equal(ids, []string{"zhangwei", "lina"}) {
			t.Fatalf("permit users: %v, %v", ids, err)
		}
		f.SetAgree("zhangwei", "wmEXT1", "Agree")
		f.SetAgree("zhangwei", "wmEXT2", "Disagree")
		ag, err := c.CheckSingleAgree(ctx, []api.Pair{{"zhangwei", "wmEXT1"}, {"zhangwei", "wmEXT2"}})
		if err != nil || len(ag) != 2 || ag[0].ExternalID != "wmEXT1" || !ag[0].Agreed || ag[1].Agreed || ag[1].Status != "Disagree" || ag[0].UserID != "zhangwei" {
			t.Fatalf("legacy=%v single agree: %+v, %v", legacy, ag, err)
		}
		f.SetRoom("wrROOM", "客户服务群", "zhangwei", map[string]int64{"zhangwei": 1600000000}, map[string]string{"wmEXT1": "Agree"})
		ag, err = c.CheckRoomAgree(ctx, "wrROOM")
		if err != nil || len(ag) != 1 || ag[0].ExternalID != "wmEXT1" || !ag[0].Agreed {
			t.Fatalf("legacy=%v room agree: %+v, %v", legacy, ag, err)
		}
		room, err := c.GroupChat(ctx, "wrROOM")
		if err != nil || room.Name != "客户服务群" || room.Creator != "zhangwei" || len(room.Members) != 1 || room.Members[0].JoinedAt.Unix() != 1600000000 {
			t.Fatalf("group chat: %+v, %v", room, err)
		}
		var ae *api.APIError
		if _, err := c.GroupChat(ctx, "wrNONE"); !errors.As(err, &ae) || ae.Code != 301052 {
			t.Fatalf("unknown room: %v", err)
		}
		// An expired token is replaced once for JSON calls too.
		f.ExpireTokens()
		if _, err := c.PermitUsers(ctx, 1); err != nil {
			t.Fatalf("after token expiry: %v", err)
		}
		f.Close()
	}
}
