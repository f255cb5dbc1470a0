package pull_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

const apiSecret = "msgaudit-s3cret-value"

// clock is a settable clock for the REST side's caches and intervals.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// withAPI gives the connector the real REST client, talking to the fake.
func withAPI(t *testing.T, c *pull.Connector) (*apitest.Fake, *api.Client, *clock) {
	t.Helper()
	fake := apitest.New(corp, apiSecret)
	t.Cleanup(fake.Close)
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	client := &api.Client{Flavor: api.WeCom, BaseURL: fake.URL, ID: corp, Secret: apiSecret, HTTP: fake.Client(), Now: clk.Now}
	c.API, c.Now = client, clk.Now
	c.APIOptions.MinInterval = -1 // the rate limiter has its own test
	return fake, client, clk
}

var msgSeq int

// text is a decrypted msgaudit text message.
func text(from string, to []string, room string, at time.Time) []byte {
	msgSeq++
	b, _ := json.Marshal(map[string]any{"msgid": fmt.Sprintf("rest%04d_%d", msgSeq, at.Unix()), "action": "send", "from": from,
		"tolist": to, "roomid": room, "msgtime": at.UnixMilli(), "msgtype": "text", "text": map[string]string{"content": "hello " + from}})
	return b
}

func (f *fixture) add(lines ...[]byte) {
	f.t.Helper()
	for _, l := range lines {
		if _, err := f.svc.Add(l, 1, nil); err != nil {
			f.t.Fatal(err)
		}
	}
}

// roomFacts returns the participant.updated events journaled for rooms.
func roomFacts(t *testing.T, st store.Reader) []archive.ParticipantEvent {
	t.Helper()
	ctx := context.Background()
	h, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []archive.ParticipantEvent
	err = st.Leaves(ctx, 0, h.JournalSize, func(i uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(i, leaf)
		if err != nil || ev.Type != archive.EventParticipantUpdated {
			return err
		}
		var p archive.ParticipantEvent
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			return err
		}
		if ev.Actor != "connector:main" && ev.Actor != "connector:replay" {
			t.Errorf("room fact by %q", ev.Actor)
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConnectorAPIRoomNames: a room's name is asked once per run and
// journaled once as a directory fact (the raw message untouched); a room
// groupchat/get does not know is archived without a name, the failure
// counted; a rename is noticed after the refresh interval; one access
// token serves every call.
func TestConnectorAPIRoomNames(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	c.Limit = 5
	fake, client, clk := withAPI(t, c)
	fake.SetRoom("wrRoomA", "沪港通客户群", "zhangwei", map[string]int64{"zhangwei": 1600000000, "lina": 1600000100}, nil)
	// wrRoomB is not an internal room: groupchat/get answers 301052.
	base := clk.Now().Add(-time.Hour)
	var lines [][]byte
	for i := range 12 {
		lines = append(lines, text("zhangwei", []string{"lina"}, "wrRoomA", base.Add(time.Duration(i)*time.Minute)))
	}
	for i := range 4 {
		lines = append(lines, text("lina", []string{"zhangwei"}, "wrRoomB", base.Add(time.Duration(20+i)*time.Minute)))
	}
	f.add(lines...)

	for pull := 0; ; pull++ {
		res, err := c.Pull(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pull == 0 && fake.Calls(apitest.CallGroupChat) != 0 {
			t.Fatal("Pull called groupchat/get: capture must not wait for the REST API")
		}
		c.SyncAPI(ctx)
		if !res.More {
			break
		}
	}
	st := c.APIStats()
	if msgs, _, _ := f.counts(); msgs != 16 {
		t.Fatalf("%d messages archived, want 16 (a failed room lookup must not stop capture)", msgs)
	}
	if n := fake.Calls(apitest.CallGroupChat); n != 2 || st.RoomLookups != 1 || st.RoomLookupsFailed != 1 || st.RoomNames != 1 || st.RoomCacheHits != 7 {
		t.Fatalf("groupchat/get called %d times (want 2: one per room); stats %+v (want 7 cache hits)", n, st)
	}
	f.h.mu.Lock()
	failed := f.h.counts["room_lookup_failed"]
	f.h.mu.Unlock()
	if failed != 1 {
		t.Fatalf("room_lookup_failed counted %d times, want 1", failed)
	}
	facts := roomFacts(t, f.r.Store)
	if len(facts) != 1 || facts[0].ID != "wrRoomA" || facts[0].Kind != pull.ParticipantRoom || facts[0].Name != "沪港通客户群" ||
		!facts[0].ValidFrom.Equal(archive.At(base).Time) {
		t.Fatalf("room facts %+v; want one for wrRoomA valid from its first message (%s)", facts, base)
	}
	if p, ok, err := f.r.Store.Directory(ctx, "wrRoomA", archive.At(base.Add(5*time.Minute))); err != nil || !ok || p.Name != "沪港通客户群" {
		t.Fatalf("directory of wrRoomA: %+v %v %v", p, ok, err)
	}
	if _, ok, _ := f.r.Store.Directory(ctx, "wrRoomB", archive.At(clk.Now())); ok {
		t.Fatal("wrRoomB has a directory fact though groupchat/get failed")
	}
	if room, ok := c.Room("wrRoomA"); !ok || len(room.Members) != 2 || room.Creator != "zhangwei" {
		t.Fatalf("cached room: %+v %v", room, ok)
	}
	// The raw record is the line as the SDK decrypted it.
	var first struct {
		MsgID string `json:"msgid"`
	}
	json.Unmarshal(lines[0], &first)
	rows, err := f.r.Store.MessagesBySourceID(ctx, first.MsgID)
	if err != nil || len(rows) != 1 || rows[0].RawHash != archive.BlobID(sha256.Sum256(lines[0])) || rows[0].Conversation != "wrRoomA" {
		t.Fatalf("message %s: %+v %v", first.MsgID, rows, err)
	}

	// Every call so far (permit list, two rooms) used one cached token.
	if n := fake.TokenCalls.Load(); n != 1 || fake.Calls(apitest.CallPermitUsers) != 1 {
		t.Fatalf("gettoken called %d times, want 1", n)
	}

	// A day later the room was renamed: the next message's lookup notices.
	clk.Add(25 * time.Hour)
	fake.SetRoom("wrRoomA", "沪港通VIP群", "zhangwei", map[string]int64{"zhangwei": 1600000000}, nil)
	renamedAt := clk.Now().Add(-time.Minute)
	f.add(text("lina", []string{"zhangwei"}, "wrRoomA", renamedAt))
	f.drain(c)
	c.SyncAPI(ctx)
	if n := fake.Calls(apitest.CallGroupChat); n != 3 {
		t.Fatalf("groupchat/get called %d times after the refresh interval, want 3", n)
	}
	if facts = roomFacts(t, f.r.Store); len(facts) != 2 || facts[1].Name != "沪港通VIP群" {
		t.Fatalf("after the rename: %+v", facts)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{base.Add(time.Minute), "沪港通客户群"}, {renamedAt, "沪港通VIP群"}} {
		if p, _, _ := f.r.Store.Directory(ctx, "wrRoomA", archive.At(tc.at)); p.Name != tc.want {
			t.Errorf("room name at %s: %q, want %q", tc.at, p.Name, tc.want)
		}
	}

	// A new run asks again (its cache is empty) but journals nothing new:
	// the directory already says so.
	c2 := f.connector("replay")
	c2.API, c2.Now, c2.APIOptions.MinInterval = client, clk.Now, -1
	if res := f.drain(c2); res.Duplicates != 17 {
		t.Fatalf("replay: %+v", res)
	}
	c2.SyncAPI(ctx)
	if facts = roomFacts(t, f.r.Store); len(facts) != 2 {
		t.Fatalf("a replay journaled the unchanged name again: %+v", facts)
	}
	// The day expired the token (2 h): one new token served the calls of
	// both connectors since.
	if n := fake.TokenCalls.Load(); n != 2 {
		t.Fatalf("gettoken called %d times, want 2", n)
	}
	f.verify()
}

// TestConnectorAPIPermitUsers: the permit list is read every interval; an
// expected employee missing from it is a fault journaled once, resolved
// once when WeCom lists them; the count shows in the health report and
// the metrics; a permit list that cannot be read is a fault of its own.
func TestConnectorAPIPermitUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, _, clk := withAPI(t, c)
	reg := prometheus.NewRegistry()
	h, err := capture.NewTracker(ctx, f.r.Engine, f.r.Store, reg, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Register("main", pull.TypeName, "wecom-archive:"+corp)
	c.Health = h
	c.APIOptions.ExpectedEmployees = []string{"zhangwei", "lina"}
	fake.SetPermitUsers("zhangwei", "wangfang")

	open := func() []string {
		t.Helper()
		fs, err := f.r.Store.OpenFaults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range fs {
			out = append(out, x.Kind+" "+x.Subject)
		}
		return out
	}
	size := func() uint64 {
		hd, _ := f.r.Store.Head(ctx)
		return hd.JournalSize
	}
	c.SyncAPI(ctx)
	if got := open(); !slices.Equal(got, []string{"permit_user_missing lina"}) {
		t.Fatalf("open faults %v", got)
	}
	c.SyncAPI(ctx) // within the interval: no call
	if n := fake.Calls(apitest.CallPermitUsers); n != 1 {
		t.Fatalf("permit list read %d times within the interval", n)
	}
	before := size()
	clk.Add(61 * time.Minute)
	c.SyncAPI(ctx)
	if n := fake.Calls(apitest.CallPermitUsers); n != 2 || size() != before {
		t.Fatalf("after the interval: %d reads, %d new journal events (want 2 reads, the open fault not journaled again)", n, size()-before)
	}
	rep, err := capture.BuildReport(ctx, f.r.Store, all.Registry(all.Options{}), []connector.Config{{ID: "main", Type: pull.TypeName, CorpID: corp}}, 7, clk.Now(), time.UTC, h)
	if err != nil {
		t.Fatal(err)
	}
	if cr := rep.Connectors[0]; cr.PermitUsers == nil || *cr.PermitUsers != 2 || cr.PermitCheckedAt == "" || rep.OK {
		t.Fatalf("report %+v", rep.Connectors[0])
	}
	// The firm enables archiving for lina: the fault resolves.
	fake.SetPermitUsers("zhangwei", "wangfang", "lina")
	clk.Add(61 * time.Minute)
	c.SyncAPI(ctx)
	if got := open(); len(got) != 0 {
		t.Fatalf("open faults after lina was permitted: %v", got)
	}
	if v := gauge(t, reg, "wxarchive_capture_permit_users"); v != 3 {
		t.Fatalf("wxarchive_capture_permit_users = %v", v)
	}
	// The list cannot be read (no API permission): a fault, until it can.
	fake.FailCall(apitest.CallPermitUsers, 48002)
	clk.Add(61 * time.Minute)
	c.SyncAPI(ctx)
	if got := open(); !slices.Equal(got, []string{"permit_check_failed "}) {
		t.Fatalf("open faults %v", got)
	}
	fake.FailCall(apitest.CallPermitUsers, 0)
	clk.Add(2 * time.Minute) // a failed read is retried within minutes
	c.SyncAPI(ctx)
	var history []string
	f.r.Store.FaultHistory(ctx, func(r store.FaultRow) error {
		history = append(history, r.Kind+"/"+r.Subject+"/"+r.State)
		if strings.Contains(r.Detail, apiSecret) || strings.Contains(r.Detail, "access_token") {
			t.Errorf("fault detail shows a secret: %s", r.Detail)
		}
		return nil
	})
	want := "permit_user_missing/lina/raised,permit_user_missing/lina/resolved,permit_check_failed//raised,permit_check_failed//resolved"
	if strings.Join(history, ",") != want {
		t.Fatalf("fault history %v, want %s", history, want)
	}
	f.verify()
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestConnectorAPIConsent: contacts seen in direct messages are checked
// with check_single_agree in batches, rooms with external members with
// check_room_agree; each answer is cached; a refusal raises
// consent_withdrawn like a disagree message does.
func TestConnectorAPIConsent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, _, clk := withAPI(t, c)
	c.APIOptions.ConsentBatch = 2
	fake.SetAgree("zhangwei", "wmExtAgree", "Agree")
	fake.SetAgree("zhangwei", "wmExtRefuse", "Disagree")
	fake.SetAgree("lina", "wmExtRefuse2", "Disagree")
	fake.SetRoom("wrClients", "客户群", "zhangwei", map[string]int64{"zhangwei": 1600000000, "wmExtRoomRefuse": 1600000001},
		map[string]string{"wmExtRoomRefuse": "Disagree", "wmExtRoomOK": "Agree"})
	at := clk.Now().Add(-time.Hour)
	f.add(
		text("zhangwei", []string{"wmExtAgree"}, "", at),
		text("wmExtAgree", []string{"zhangwei"}, "", at.Add(time.Second)),
		text("wmExtRefuse", []string{"zhangwei"}, "", at.Add(2*time.Second)),
		text("lina", []string{"wmExtRefuse2"}, "", at.Add(3*time.Second)),
		text("zhangwei", []string{"wmExtUnknown"}, "", at.Add(4*time.Second)), // WeCom does not answer for it
		text("zhangwei", []string{"lina"}, "", at.Add(5*time.Second)),         // internal: no consent involved
		text("wmExtRoomRefuse", []string{"zhangwei", "wmExtRoomOK"}, "wrClients", at.Add(6*time.Second)),
	)
	f.drain(c)
	if n := fake.Calls(apitest.CallCheckSingleAgree) + fake.Calls(apitest.CallCheckRoomAgree); n != 0 {
		t.Fatalf("%d consent calls during Pull: capture must not wait for them", n)
	}
	st := c.SyncAPI(ctx)
	if b := fake.SingleAgreeBatches(); !slices.Equal(b, []int{2, 2}) || fake.Calls(apitest.CallCheckRoomAgree) != 1 {
		t.Fatalf("check_single_agree batches %v (want [2 2]: 4 pairs by 2), check_room_agree %d calls", b, fake.Calls(apitest.CallCheckRoomAgree))
	}
	if st.ConsentPairs != 4 || st.ConsentCalls != 3 || st.ConsentRefusals != 3 {
		t.Fatalf("stats %+v", st)
	}
	want := []string{"consent_withdrawn wmExtRefuse", "consent_withdrawn wmExtRefuse2", "consent_withdrawn wmExtRoomRefuse"}
	if got := f.h.Faults(); !slices.Equal(got, want) {
		t.Fatalf("faults %v, want %v", got, want)
	}
	// The same pairs again: answered from the cache.
	f.add(text("zhangwei", []string{"wmExtAgree"}, "", at.Add(time.Minute)), text("wmExtRoomOK", []string{"zhangwei"}, "wrClients", at.Add(time.Minute)))
	f.drain(c)
	c.SyncAPI(ctx)
	if n := len(fake.SingleAgreeBatches()); n != 2 || fake.Calls(apitest.CallCheckRoomAgree) != 1 {
		t.Fatalf("cached consent asked again: %d batches, %d room calls", n, fake.Calls(apitest.CallCheckRoomAgree))
	}
	// After the refresh interval it is asked again.
	clk.Add(25 * time.Hour)
	f.add(text("zhangwei", []string{"wmExtAgree"}, "", clk.Now()))
	f.drain(c)
	c.SyncAPI(ctx)
	if b := fake.SingleAgreeBatches(); !slices.Equal(b, []int{2, 2, 1}) {
		t.Fatalf("batches after the refresh interval %v", b)
	}
	if msgs, _, _ := f.counts(); msgs != 10 {
		t.Fatalf("%d messages", msgs)
	}
}

// TestConnectorAPIDown: with the REST API unreachable, Run captures every
// message all the same; the failures are logged without the secret or a
// token, counted, and the permit check's failure is a fault.
func TestConnectorAPIDown(t *testing.T) {
	f := newFixture(t)
	c := f.connector("main")
	fake, _, _ := withAPI(t, c)
	fake.Close() // nothing answers
	var logs bytes.Buffer
	var logMu sync.Mutex
	c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 20 {
		room := ""
		if i%2 == 0 {
			room = "wrRoomA"
		}
		f.add(text("zhangwei", []string{"wmExt" + fmt.Sprint(i%3)}, room, at.Add(time.Duration(i)*time.Second)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	c.Interval = 10 * time.Millisecond
	go func() {
		c.Run(ctx)
		close(done)
	}()
	for {
		msgs, _, _ := f.counts()
		st := c.APIStats()
		if msgs == 20 && st.RoomLookupsFailed > 0 && st.ConsentCallsFailed > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d messages archived, stats %+v", msgs, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Contains(out, apiSecret) || strings.Contains(out, "access_token") || strings.Contains(out, "corpsecret") {
		t.Fatalf("the log shows a secret:\n%s", out)
	}
	if !strings.Contains(out, "groupchat/get failed") {
		t.Fatalf("room lookup failure not logged:\n%s", out)
	}
	found := false
	for _, x := range f.h.Faults() {
		found = found || x == "permit_check_failed "
	}
	if !found {
		t.Fatalf("faults %v: want permit_check_failed", f.h.Faults())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestConnectorNoAPI: without an API the connector makes no REST call and
// reports nothing of it.
func TestConnectorNoAPI(t *testing.T) {
	f := newFixture(t)
	c := f.connector("main")
	f.add(text("zhangwei", []string{"wmExt1"}, "wrRoomA", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)))
	if res := f.drain(c); res.Archived != 1 {
		t.Fatalf("%+v", res)
	}
	if st := c.SyncAPI(context.Background()); st != (pull.APIStats{PermitUsers: -1}) {
		t.Fatalf("stats without an API: %+v", st)
	}
	if _, ok := c.Room("wrRoomA"); ok || len(roomFacts(t, f.r.Store)) != 0 {
		t.Fatal("room facts without an API")
	}
}

// TestAPIRateLimit: calls are spaced by MinInterval.
func TestAPIRateLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, _, _ := withAPI(t, c)
	c.APIOptions.MinInterval = 40 * time.Millisecond
	for i := range 5 {
		fake.SetRoom(fmt.Sprintf("wrR%d", i), "room", "zhangwei", nil, nil)
		f.add(text("zhangwei", []string{"lina"}, fmt.Sprintf("wrR%d", i), time.Date(2026, 11, 27, 9, 0, i, 0, time.UTC)))
	}
	f.drain(c)
	start := time.Now()
	c.SyncAPI(ctx) // the permit list and five rooms: six calls
	if d := time.Since(start); d < 5*40*time.Millisecond {
		t.Fatalf("six calls took %s, want at least 200ms at one per 40ms", d)
	}
	if n := fake.Calls(apitest.CallGroupChat); n != 5 {
		t.Fatalf("%d room lookups", n)
	}
}

// TestConnectorAPIQuietRoomRetried: a room whose lookup failed is asked
// again when its retry is due even if it gets no new message, and its
// name is journaled valid from its first message.
func TestConnectorAPIQuietRoomRetried(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.connector("main")
	fake, _, clk := withAPI(t, c)
	fake.SetRoom("wrQuiet", "港股通客户群", "zhangwei", map[string]int64{"zhangwei": 1600000000}, nil)
	fake.FailCall(apitest.CallGroupChat, -1) // WeCom busy: retried after a minute
	first := clk.Now().Add(-time.Hour)
	f.add(text("zhangwei", []string{"lina"}, "wrQuiet", first), text("lina", []string{"zhangwei"}, "wrQuiet", first.Add(time.Minute)))
	f.drain(c)
	c.SyncAPI(ctx)
	if st := c.APIStats(); st.RoomLookupsFailed != 1 || len(roomFacts(t, f.r.Store)) != 0 {
		t.Fatalf("while WeCom is busy: %+v", st)
	}
	fake.FailCall(apitest.CallGroupChat, 0)
	c.SyncAPI(ctx) // not due yet: nothing asked
	if n := fake.Calls(apitest.CallGroupChat); n != 1 {
		t.Fatalf("groupchat/get called %d times before the retry was due", n)
	}
	clk.Add(2 * time.Minute) // no new message in the room
	c.SyncAPI(ctx)
	facts := roomFacts(t, f.r.Store)
	if len(facts) != 1 || facts[0].Name != "港股通客户群" || !facts[0].ValidFrom.Equal(archive.At(first).Time) {
		t.Fatalf("room facts after the retry: %+v", facts)
	}
}
