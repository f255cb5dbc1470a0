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

// TestCustomerGroup: externalcontact/groupchat/get with a customer-contact
// secret — its own client and token — beside the conversation-archive
// secret, whose token WeCom refuses for it (48002).
func TestCustomerGroup(t *testing.T) {
	ctx := context.Background()
	const contactSecret = "customer-contact-s3cret"
	f := apitest.New("ww_corp", secret)
	defer f.Close()
	f.AddSecret(secret, apitest.CallPermitUsers, apitest.CallCheckSingleAgree, apitest.CallCheckRoomAgree, apitest.CallGroupChat)
	f.AddSecret(contactSecret, apitest.CallCustomerGroup)
	f.SetCustomerGroup("wrCustomer", "销售客服群", "ZhuShengBen",
		apitest.GroupMember{UserID: "abel", Type: 1, Name: "张三丰", GroupNickname: "客服小张", JoinTime: 1572505491, Invitor: "jack"},
		apitest.GroupMember{UserID: "wmOgQhDgAAuXFJGwbve4g4iyTxxxxxxx", Type: 2, Name: "王语嫣", GroupNickname: "顾客老王", JoinTime: 1572505492})
	now := time.Now()
	archiveClient := newClient(f, api.WeCom, &now)
	contact := newClient(f, api.WeCom, &now)
	contact.Secret = contactSecret

	g, err := contact.CustomerGroup(ctx, "wrCustomer")
	if err != nil {
		t.Fatal(err)
	}
	if g.ChatID != "wrCustomer" || g.Name != "销售客服群" || g.Owner != "ZhuShengBen" || g.CreatedAt.Unix() != 1572505490 ||
		len(g.Members) != 2 || !slices.Equal(g.Admins, []string{"ZhuShengBen"}) {
		t.Fatalf("group %+v", g)
	}
	emp, ext := g.Members[0], g.Members[1]
	if emp.UserID != "abel" || emp.Type != api.MemberEmployee || emp.Name != "张三丰" || emp.GroupNickname != "客服小张" || emp.Invitor != "jack" || emp.JoinedAt.Unix() != 1572505491 ||
		ext.Type != api.MemberExternal || ext.Name != "王语嫣" || ext.GroupNickname != "顾客老王" || ext.UnionID == "" || ext.Invitor != "" {
		t.Fatalf("members %+v", g.Members)
	}
	if req := f.CustomerGroupRequests(); len(req) != 1 || req[0]["chat_id"] != "wrCustomer" || req[0]["need_name"] != float64(1) {
		t.Fatalf("requests %v: want chat_id and need_name 1", req)
	}
	room := g.Room()
	if room.Name != "销售客服群" || room.Creator != "ZhuShengBen" || room.Call != api.CallCustomerGroup || len(room.Members) != 2 ||
		room.Members[1].ID != ext.UserID || room.Members[1].Type != api.MemberExternal || room.Members[0].GroupNickname != "客服小张" {
		t.Fatalf("as a room: %+v", room)
	}
	if r, err := archiveClient.GroupChat(ctx, "wrNONE"); err == nil {
		t.Fatalf("internal room lookup of an unknown room: %+v", r)
	}

	// "Not found here" is fs.ErrNotExist; everything else is a failure.
	for _, tc := range []struct {
		name     string
		c        *api.Client
		chat     string
		fail     int
		code     int
		notFound bool
	}{
		{"unknown chat", contact, "wrInternal", 0, api.CodeInvalidChatID, true},
		{"no interop licence", contact, "wrCustomer", api.CodeNoInteropLicense, api.CodeNoInteropLicense, true},
		{"chat not found", contact, "wrCustomer", api.CodeChatNotFound, api.CodeChatNotFound, true},
		{"busy", contact, "wrCustomer", api.CodeBusy, api.CodeBusy, false},
		{"archive secret", archiveClient, "wrCustomer", 0, apitest.CodeAPIForbidden, false},
	} {
		f.FailCall(apitest.CallCustomerGroup, tc.fail)
		_, err := tc.c.CustomerGroup(ctx, tc.chat)
		var ae *api.APIError
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.Call != api.CallCustomerGroup || errors.Is(err, fs.ErrNotExist) != tc.notFound {
			t.Errorf("%s: %v (want errcode %d, not found %v)", tc.name, err, tc.code, tc.notFound)
		}
		if err != nil && (strings.Contains(err.Error(), "tok-") || strings.Contains(err.Error(), "access_token") || strings.Contains(err.Error(), contactSecret)) {
			t.Errorf("%s: the error shows a credential: %v", tc.name, err)
		}
	}
	f.FailCall(apitest.CallCustomerGroup, 0)
	// The same codes from another call are not "not found".
	if errors.Is(&api.APIError{Call: api.CallGroupChat, Code: api.CodeInvalidChatID}, fs.ErrNotExist) {
		t.Error("86001 of msgaudit/groupchat/get matches fs.ErrNotExist")
	}

	// One token per secret, each cached and refreshed on its own.
	if a, c := f.TokenCallsFor(secret), f.TokenCallsFor(contactSecret); a != 1 || c != 1 {
		t.Fatalf("gettoken: %d with the archive secret, %d with the contact secret; want 1 and 1", a, c)
	}
	f.ExpireTokens()
	if _, err := contact.CustomerGroup(ctx, "wrCustomer"); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	if a, c := f.TokenCallsFor(secret), f.TokenCallsFor(contactSecret); a != 1 || c != 2 {
		t.Fatalf("after expiry: %d and %d gettoken calls; want the contact client alone to refresh", a, c)
	}
	// A wrong contact secret is a gettoken failure, not "not found".
	bad := newClient(f, api.WeCom, &now)
	bad.Secret = "not-the-contact-secret"
	if _, err := bad.CustomerGroup(ctx, "wrCustomer"); err == nil || errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), bad.Secret) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Transport failures do not show the URL (and so the token).
	f.Close()
	if _, err := contact.CustomerGroup(ctx, "wrCustomer"); err == nil || strings.Contains(err.Error(), "access_token") || strings.Contains(err.Error(), "tok-") {
		t.Fatalf("transport failure: %v", err)
	}
}
