package pull_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
)

const contactSecret = "customer-contact-s3cret-value"

// withContact gives the connector a customer-contact client beside its
// msgaudit one. The fake lets the contact secret call
// externalcontact/groupchat/get only and the archive secret everything
// else, as WeCom's permissions do, so a call made with the wrong client
// fails (48002).
func withContact(c *pull.Connector, fake *apitest.Fake, clk *clock) *api.Client {
	fake.AddSecret(apiSecret, apitest.CallPermitUsers, apitest.CallCheckSingleAgree, apitest.CallCheckRoomAgree, apitest.CallGroupChat)
	fake.AddSecret(contactSecret, apitest.CallCustomerGroup)
	contact := &api.Client{Flavor: api.WeCom, BaseURL: fake.URL, ID: corp, Secret: contactSecret, HTTP: fake.Client(), Now: clk.Now}
	c.Contact = contact
	return contact
}

func (f *fixture) count(outcome string) int {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return f.h.counts[outcome]
}

// TestConnectorCustomerGroupNames: a customer group, which
// msgaudit/groupchat/get cannot describe, is named by
// externalcontact/groupchat/get — journaled once like an internal room's
// name, and again after a rename once the refresh interval has passed;
// its external members are checked with check_room_agree; an internal
// room still costs one msgaudit/groupchat/get only; each secret has its
// own token.
func TestConnectorCustomerGroupNames(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, client, clk := withAPI(t, c)
	contact := withContact(c, fake, clk)
	fake.SetRoom("wrInternal", "合规部", "lina", map[string]int64{"lina": 1600000000, "zhangwei": 1600000100}, nil)
	fake.SetCustomerGroup("wrCustomer", "销售客服群", "zhangwei",
		apitest.GroupMember{UserID: "zhangwei", Type: 1, Name: "张伟", JoinTime: 1600000000},
		apitest.GroupMember{UserID: "lina", Type: 1, Name: "李娜", JoinTime: 1600000001, Invitor: "zhangwei"},
		apitest.GroupMember{UserID: "wmExtSilent", Type: 2, Name: "王语嫣", GroupNickname: "顾客老王", JoinTime: 1600000002, Invitor: "zhangwei"})
	// wmExtSilent has not written yet, so no message names them: only the
	// member list shows the room has an external member.
	fake.SetRoomAgree("wrCustomer", map[string]string{"wmExtSilent": "Disagree"})
	base := clk.Now().Add(-time.Hour)
	for i := range 6 {
		f.add(text("lina", []string{"zhangwei"}, "wrInternal", base.Add(time.Duration(i)*time.Minute)),
			text("zhangwei", []string{"lina"}, "wrCustomer", base.Add(time.Duration(10+i)*time.Minute)))
	}
	f.drain(c)
	st := c.SyncAPI(ctx)
	if msgs, _, _ := f.counts(); msgs != 12 {
		t.Fatalf("%d messages archived, want 12", msgs)
	}
	if n, m := fake.Calls(apitest.CallGroupChat), fake.Calls(apitest.CallCustomerGroup); n != 2 || m != 1 {
		t.Fatalf("groupchat/get %d calls, externalcontact/groupchat/get %d; want 2 and 1 (the customer group alone)", n, m)
	}
	if req := fake.CustomerGroupRequests(); len(req) != 1 || req[0]["chat_id"] != "wrCustomer" {
		t.Fatalf("externalcontact/groupchat/get asked %v", req)
	}
	if st.RoomLookups != 2 || st.RoomLookupsFailed != 0 || st.RoomNames != 2 || st.CustomerGroupLookups != 1 ||
		st.CustomerGroupNotFound != 0 || st.CustomerGroupLookupsFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := f.count("room_lookup_failed") + f.count("customer_group_lookup_failed"); n != 0 {
		t.Fatalf("%d lookup failures counted, want none", n)
	}
	facts := roomFacts(t, f.r.Store)
	if len(facts) != 2 {
		t.Fatalf("room facts %+v", facts)
	}
	byID := map[string]archive.ParticipantEvent{}
	for _, p := range facts {
		byID[p.ID] = p
	}
	if p := byID["wrCustomer"]; p.Kind != pull.ParticipantRoom || p.Name != "销售客服群" || !p.ValidFrom.Equal(archive.At(base.Add(10*time.Minute)).Time) {
		t.Fatalf("customer group fact %+v; want its name valid from its first message", p)
	}
	if p := byID["wrInternal"]; p.Name != "合规部" {
		t.Fatalf("internal room fact %+v", p)
	}
	room, ok := c.Room("wrCustomer")
	if !ok || room.Call != api.CallCustomerGroup || room.Creator != "zhangwei" || len(room.Members) != 3 ||
		room.Members[2].ID != "wmExtSilent" || room.Members[2].Type != api.MemberExternal || room.Members[2].GroupNickname != "顾客老王" || room.Members[2].Name != "王语嫣" {
		t.Fatalf("cached customer group %+v %v", room, ok)
	}
	if room, ok := c.Room("wrInternal"); !ok || room.Call != api.CallGroupChat || len(room.Members) != 2 {
		t.Fatalf("cached internal room %+v %v", room, ok)
	}
	// The external member was checked for consent: the refusal is raised.
	if n := fake.Calls(apitest.CallCheckRoomAgree); n != 1 || !slices.Contains(f.h.Faults(), "consent_withdrawn wmExtSilent") {
		t.Fatalf("check_room_agree %d calls, faults %v; want the customer group's external member checked", n, f.h.Faults())
	}
	// One token per secret: the contact secret's never served a msgaudit
	// call (the fake would answer 48002), nor the other way round.
	if a, b := fake.TokenCallsFor(apiSecret), fake.TokenCallsFor(contactSecret); a != 1 || b != 1 {
		t.Fatalf("gettoken: %d with the archive secret, %d with the contact secret; want 1 each", a, b)
	}

	// Within the refresh interval both rooms are known: no call.
	f.add(text("lina", []string{"zhangwei"}, "wrCustomer", clk.Now()), text("lina", []string{"zhangwei"}, "wrInternal", clk.Now()))
	f.drain(c)
	if st := c.SyncAPI(ctx); st.RoomCacheHits != 2 || fake.Calls(apitest.CallGroupChat) != 2 || fake.Calls(apitest.CallCustomerGroup) != 1 {
		t.Fatalf("within the interval: stats %+v", st)
	}

	// A day later the group was renamed: the next message's lookup
	// notices and journals the new name; the internal room's name is
	// unchanged and not journaled again.
	clk.Add(25 * time.Hour)
	fake.SetCustomerGroup("wrCustomer", "销售客服VIP群", "zhangwei", apitest.GroupMember{UserID: "zhangwei", Type: 1, JoinTime: 1600000000})
	renamedAt := clk.Now().Add(-time.Minute)
	f.add(text("zhangwei", []string{"lina"}, "wrCustomer", renamedAt), text("lina", []string{"zhangwei"}, "wrInternal", renamedAt))
	f.drain(c)
	c.SyncAPI(ctx)
	if n, m := fake.Calls(apitest.CallGroupChat), fake.Calls(apitest.CallCustomerGroup); n != 4 || m != 2 {
		t.Fatalf("after the refresh interval: groupchat/get %d calls, externalcontact %d; want 4 and 2", n, m)
	}
	if facts = roomFacts(t, f.r.Store); len(facts) != 3 || facts[2].ID != "wrCustomer" || facts[2].Name != "销售客服VIP群" {
		t.Fatalf("after the rename: %+v", facts)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{base.Add(11 * time.Minute), "销售客服群"}, {renamedAt, "销售客服VIP群"}} {
		if p, _, _ := f.r.Store.Directory(ctx, "wrCustomer", archive.At(tc.at)); p.Name != tc.want {
			t.Errorf("customer group name at %s: %q, want %q", tc.at, p.Name, tc.want)
		}
	}
	// Both tokens expired during the day; each secret fetched its own anew.
	if a, b := fake.TokenCallsFor(apiSecret), fake.TokenCallsFor(contactSecret); a != 2 || b != 2 {
		t.Fatalf("gettoken after a day: %d and %d, want 2 and 2", a, b)
	}

	// A new run asks again but journals nothing new.
	c2 := f.connector("replay")
	c2.API, c2.Contact, c2.Now, c2.APIOptions.MinInterval = client, contact, clk.Now, -1
	f.drain(c2)
	c2.SyncAPI(ctx)
	if facts = roomFacts(t, f.r.Store); len(facts) != 3 {
		t.Fatalf("a replay journaled an unchanged name again: %+v", facts)
	}
	f.verify()
}

// TestConnectorCustomerGroupNoContact: without a customer-contact client
// the behaviour is as before — the customer group's messages are archived
// without a name and the failure is counted — even though WeCom could
// describe the group.
func TestConnectorCustomerGroupNoContact(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, _, clk := withAPI(t, c)
	fake.AddSecret(contactSecret, apitest.CallCustomerGroup)
	fake.SetCustomerGroup("wrCustomer", "销售客服群", "zhangwei", apitest.GroupMember{UserID: "zhangwei", Type: 1})
	f.add(text("zhangwei", []string{"lina"}, "wrCustomer", clk.Now().Add(-time.Minute)))
	f.drain(c)
	st := c.SyncAPI(ctx)
	if msgs, _, _ := f.counts(); msgs != 1 {
		t.Fatalf("%d messages", msgs)
	}
	if fake.Calls(apitest.CallCustomerGroup) != 0 || fake.TokenCallsFor(contactSecret) != 0 || st.RoomLookupsFailed != 1 ||
		st.CustomerGroupLookups+st.CustomerGroupNotFound+st.CustomerGroupLookupsFailed != 0 {
		t.Fatalf("without contact_secret: %d externalcontact calls, stats %+v", fake.Calls(apitest.CallCustomerGroup), st)
	}
	if f.count("room_lookup_failed") != 1 || f.count("customer_group_lookup_failed") != 0 {
		t.Fatalf("counts %v", f.h.counts)
	}
	if _, ok := c.Room("wrCustomer"); ok || len(roomFacts(t, f.r.Store)) != 0 {
		t.Fatal("a customer group was named without a contact client")
	}
}

// TestConnectorCustomerGroupFailures: whatever goes wrong with
// externalcontact/groupchat/get, every message is archived, the failure is
// counted (apart from "not a customer group"), logged without a secret or
// token, and asked again — soon after a transport failure or a busy
// service, after the refresh interval after an answer.
func TestConnectorCustomerGroupFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		breakIt  func(*apitest.Fake, *api.Client)
		fixIt    func(*apitest.Fake, *api.Client)
		notFound bool          // an answer meaning "not a customer group"
		retry    time.Duration // asked again after this
	}{
		{"busy", func(f *apitest.Fake, _ *api.Client) { f.FailCall(apitest.CallCustomerGroup, api.CodeBusy) },
			func(f *apitest.Fake, _ *api.Client) { f.FailCall(apitest.CallCustomerGroup, 0) }, false, pull.DefaultAPIRetry},
		{"unreachable", func(_ *apitest.Fake, c *api.Client) { c.BaseURL = "http://127.0.0.1:1" },
			func(f *apitest.Fake, c *api.Client) { c.BaseURL = f.URL }, false, pull.DefaultAPIRetry},
		{"wrong contact secret", func(_ *apitest.Fake, c *api.Client) { c.Secret = "not-the-contact-secret" },
			func(_ *apitest.Fake, c *api.Client) { c.Secret = contactSecret }, false, pull.DefaultRoomRefresh},
		{"no customer-contact permission", func(f *apitest.Fake, _ *api.Client) { f.AddSecret(contactSecret, apitest.CallPermitUsers) },
			func(f *apitest.Fake, _ *api.Client) { f.AddSecret(contactSecret, apitest.CallCustomerGroup) }, false, pull.DefaultRoomRefresh},
		{"no interop licence", func(f *apitest.Fake, _ *api.Client) { f.FailCall(apitest.CallCustomerGroup, api.CodeNoInteropLicense) },
			func(f *apitest.Fake, _ *api.Client) { f.FailCall(apitest.CallCustomerGroup, 0) }, true, pull.DefaultRoomRefresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.connector("main")
			fake, _, clk := withAPI(t, c)
			contact := withContact(c, fake, clk)
			var logs bytes.Buffer
			var logMu sync.Mutex
			c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
			fake.SetCustomerGroup("wrCustomer", "销售客服群", "zhangwei", apitest.GroupMember{UserID: "zhangwei", Type: 1})
			tc.breakIt(fake, contact)
			for i := range 3 {
				f.add(text("zhangwei", []string{"lina"}, "wrCustomer", clk.Now().Add(time.Duration(i-10)*time.Second)))
			}
			f.drain(c)
			st := c.SyncAPI(ctx)
			if msgs, _, _ := f.counts(); msgs != 3 {
				t.Fatalf("%d messages archived, want 3", msgs)
			}
			wantFailed, wantNotFound := 1, 0
			if tc.notFound {
				wantFailed, wantNotFound = 0, 1
			}
			if st.RoomLookupsFailed != 1 || st.CustomerGroupLookupsFailed != wantFailed || st.CustomerGroupNotFound != wantNotFound || st.RoomNames != 0 {
				t.Fatalf("stats %+v", st)
			}
			if f.count("room_lookup_failed") != 1 || f.count("customer_group_lookup_failed") != wantFailed {
				t.Fatalf("counts %v", f.h.counts)
			}
			if len(roomFacts(t, f.r.Store)) != 0 {
				t.Fatal("a room fact without an answer")
			}
			calls := fake.Calls(apitest.CallGroupChat)

			tc.fixIt(fake, contact)
			// Not asked again before the retry interval…
			clk.Add(tc.retry - time.Second)
			f.add(text("zhangwei", []string{"lina"}, "wrCustomer", clk.Now()))
			f.drain(c)
			c.SyncAPI(ctx)
			if n := fake.Calls(apitest.CallGroupChat); n != calls {
				t.Fatalf("asked again %s after the failure", tc.retry-time.Second)
			}
			// …and named once it has passed.
			clk.Add(2 * time.Second)
			f.add(text("zhangwei", []string{"lina"}, "wrCustomer", clk.Now()))
			f.drain(c)
			c.SyncAPI(ctx)
			if facts := roomFacts(t, f.r.Store); len(facts) != 1 || facts[0].Name != "销售客服群" {
				t.Fatalf("after the retry interval: facts %+v, stats %+v", facts, c.APIStats())
			}

			logMu.Lock()
			out := logs.String()
			logMu.Unlock()
			for _, s := range []string{apiSecret, contactSecret, "not-the-contact-secret", "access_token", "corpsecret", "tok-"} {
				if strings.Contains(out, s) {
					t.Fatalf("the log shows %q:\n%s", s, out)
				}
			}
			if !strings.Contains(out, "customer_group_err") {
				t.Fatalf("the externalcontact failure is not logged:\n%s", out)
			}
		})
	}
}
