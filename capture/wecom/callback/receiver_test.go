package callback_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

const (
	token  = "QDG6eK"
	aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	corpID = "ww5823bf96d3bd56c7"
)

type env struct {
	t      *testing.T
	now    time.Time // the receiver's clock
	r      *repo.Repo
	srv    *httptest.Server
	cr     *callback.Crypter
	fake   *apitest.Fake
	rcv    *callback.Receiver
	mu     sync.Mutex
	events []string
	seq    int
}

func newEnv(t *testing.T, platform callback.Platform, key string) *env {
	t.Helper()
	r := archivetest.New(t)
	cr, err := callback.NewCrypter(token, key, corpID)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, r: r, cr: cr, now: time.Unix(1700000000, 0)}
	e.fake = apitest.New(corpID, "app-secret")
	t.Cleanup(e.fake.Close)
	client := &api.Client{BaseURL: e.fake.URL, ID: corpID, Secret: "app-secret", HTTP: e.fake.Client()}
	e.rcv = &callback.Receiver{ID: "hr-app", Platform: platform, Crypter: cr, Engine: r.Engine, Blobs: r.Blobs, Media: client,
		// The clock of WeChat's requests in these tests (post signs
		// 1700000000 + n); plaintext mode only for the tests of it.
		Now: e.clock, AllowPlaintext: key == "",
		OnEvent: func(outcome, _, _ string) {
			e.mu.Lock()
			e.events = append(e.events, outcome)
			e.mu.Unlock()
		}}
	e.srv = httptest.NewServer(e.rcv)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// at sets the receiver's clock.
func (e *env) at(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

func (e *env) journalSize() uint64 {
	h, err := e.r.Store.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h.JournalSize
}

// post sends plaintext XML as WeChat would: encrypted and signed with a
// fresh timestamp and nonce each time (so retries differ on the wire).
func (e *env) post(plain string) (int, string) {
	e.t.Helper()
	e.seq++
	ts, nonce := fmt.Sprint(1700000000+e.seq), fmt.Sprint(900000+e.seq)
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}}
	body := plain
	if e.cr.Encrypted() {
		enc, err := e.cr.Encrypt([]byte(plain))
		if err != nil {
			e.t.Fatal(err)
		}
		q.Set("msg_signature", e.cr.Sign(ts, nonce, enc))
		body = "<xml><ToUserName><![CDATA[" + corpID + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
	} else {
		q.Set("signature", e.cr.Sign(ts, nonce))
	}
	return e.do(http.MethodPost, q, body)
}

func (e *env) do(method string, q url.Values, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+"?"+q.Encode(), strings.NewReader(body))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) message(sourceID string) (store.MessageRow, []store.AttachmentRow) {
	e.t.Helper()
	rows, err := e.r.Store.MessagesBySourceID(context.Background(), sourceID)
	if err != nil || len(rows) != 1 {
		e.t.Fatalf("messages with source id %s: %d, %v", sourceID, len(rows), err)
	}
	atts, err := e.r.Store.Attachments(context.Background(), rows[0].Serial)
	if err != nil {
		e.t.Fatal(err)
	}
	return rows[0], atts
}

func wecomMsg(msgType, msgID, extra string) string {
	return "<xml><ToUserName><![CDATA[" + corpID + "]]></ToUserName><FromUserName><![CDATA[zhangwei]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[" +
		msgType + "]]></MsgType>" + extra + "<MsgId>" + msgID + "</MsgId><AgentID>1000002</AgentID></xml>"
}

func TestReceiverVerifiesURL(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	e.at(time.Unix(1409659813, 0))
	echo, _ := e.cr.Encrypt([]byte("5927782489442352469"))
	q := url.Values{"timestamp": {"1409659813"}, "nonce": {"263014780"}, "echostr": {echo}, "msg_signature": {e.cr.Sign("1409659813", "263014780", echo)}}
	if code, body := e.do(http.MethodGet, q, ""); code != 200 || body != "5927782489442352469" {
		t.Fatalf("URL verification: %d %q", code, body)
	}
	q.Set("msg_signature", strings.Repeat("0", 40))
	if code, body := e.do(http.MethodGet, q, ""); code != 403 || !strings.Contains(body, "signature mismatch") {
		t.Fatalf("forged URL verification: %d %q", code, body)
	}
	// Plaintext mode (Official Account): the echostr itself.
	p := newEnv(t, callback.PlatformOfficialAccount, "")
	p.at(time.Unix(1, 0))
	q = url.Values{"timestamp": {"1"}, "nonce": {"2"}, "echostr": {"hello"}, "signature": {p.cr.Sign("1", "2")}}
	if code, body := p.do(http.MethodGet, q, ""); code != 200 || body != "hello" {
		t.Fatalf("plaintext URL verification: %d %q", code, body)
	}
}

func TestReceiverArchivesOnceThroughRetries(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	msg := wecomMsg("text", "4561255354251345929", "<Content><![CDATA[这个产品保本保收益]]></Content>")
	for i := 0; i < 4; i++ { // the delivery and WeChat's three retries
		if code, body := e.post(msg); code != 200 || body != "" {
			t.Fatalf("delivery %d: %d %q", i, code, body)
		}
	}
	m, _ := e.message("4561255354251345929")
	if m.Source != "wecom-callback:hr-app" || m.Kind != archive.KindText || m.Text != "这个产品保本保收益" || m.Sender != "zhangwei" ||
		m.Direction != archive.DirectionInternal || m.SentAt.Millis() != 1700000000000 || !strings.Contains(m.Origin, "callback hr-app") {
		t.Fatalf("archived %+v", m)
	}
	if strings.Join(e.events, ",") != "archived,duplicate,duplicate,duplicate" {
		t.Fatalf("outcomes %v", e.events)
	}
	// Search finds it, like any other message.
	u, uctx := archivetest.App(context.Background(), e.r)
	res, err := u.Search(uctx, app.SearchOptions{Query: "保本"})
	if err != nil || res.Total != 1 {
		t.Fatalf("search: %+v, %v", res, err)
	}
}

func TestReceiverMedia(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, make([]byte, 200)...)
	e.fake.AddMedia("MEDIA_OK", jpeg)
	if code, _ := e.post(wecomMsg("image", "1001", "<PicUrl>https://example.com/p.jpg</PicUrl><MediaId>MEDIA_OK</MediaId>")); code != 200 {
		t.Fatal(code)
	}
	m, atts := e.message("1001")
	if m.Kind != archive.KindImage || len(atts) != 1 || atts[0].Status != archive.AttachmentFetched || atts[0].Size != int64(len(jpeg)) || atts[0].MediaType != "image/jpeg" {
		t.Fatalf("image: %+v %+v", m, atts)
	}
	data, err := e.r.Blobs.Get(context.Background(), atts[0].Blob)
	if err != nil || string(data) != string(jpeg) {
		t.Fatalf("stored media: %v", err)
	}
	// Expired media id: archived, the attachment marked missing, reported.
	if code, _ := e.post(wecomMsg("voice", "1002", "<MediaId>MEDIA_GONE</MediaId><Format>amr</Format><Recognition>我要投诉</Recognition>")); code != 200 {
		t.Fatal(code)
	}
	m, atts = e.message("1002")
	if m.Text != "我要投诉" || len(atts) != 1 || atts[0].Status != archive.AttachmentMissing || m.AttachFaults != 1 {
		t.Fatalf("missing media: %+v %+v", m, atts)
	}
	if e.events[len(e.events)-2] != "media_failed" {
		t.Fatalf("outcomes %v: want media_failed reported", e.events)
	}
	// Media slower than the budget: archived in time, failure recorded.
	e.rcv.MediaBudget = 50 * time.Millisecond
	e.rcv.Media = blockingMedia{}
	start := time.Now()
	if code, _ := e.post(wecomMsg("video", "1003", "<MediaId>SLOW</MediaId><ThumbMediaId>SLOW2</ThumbMediaId>")); code != 200 {
		t.Fatal(code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("reply took %s", d)
	}
	_, atts = e.message("1003")
	if len(atts) != 2 || atts[0].Status != archive.AttachmentFailed || !strings.Contains(atts[0].Reason, "callback budget") {
		t.Fatalf("slow media: %+v", atts)
	}
}

type blockingMedia struct{}

func (blockingMedia) Fetch(ctx context.Context, _ string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestReceiverRefuses: forged, misaddressed, truncated or hostile requests
// are refused with the reason and archive nothing.
func TestReceiverRefuses(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	e.at(time.Unix(1, 0)) // the requests below are signed at timestamp 1
	before := e.journalSize()
	good, _ := e.cr.Encrypt([]byte(wecomMsg("text", "77", "<Content>x</Content>")))
	other, _ := callback.NewCrypter(token, aesKey, "ww_other")
	misaddressed, _ := other.Encrypt([]byte(wecomMsg("text", "78", "<Content>x</Content>")))
	truncated := good[:len(good)-24] + "===="
	env := func(enc string) string { return "<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>" }
	signed := func(enc string) url.Values {
		return url.Values{"timestamp": {"1"}, "nonce": {"2"}, "msg_signature": {e.cr.Sign("1", "2", enc)}}
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		body string
		code int
		want string
	}{
		{"tampered signature", url.Values{"timestamp": {"1"}, "nonce": {"2"}, "msg_signature": {strings.Repeat("a", 40)}}, env(good), 403, "signature mismatch"},
		{"no signature", url.Values{"timestamp": {"1"}, "nonce": {"2"}}, env(good), 403, "signature mismatch"},
		{"wrong receive id", signed(misaddressed), env(misaddressed), 400, "receive id mismatch"},
		{"truncated ciphertext", signed(truncated), env(truncated), 400, "decrypt"},
		{"doctype", signed(good), `<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>`, 400, "no DOCTYPE"},
		{"plaintext body", signed(good), wecomMsg("text", "79", "<Content>x</Content>"), 400, "no <Encrypt>"},
		{"no timestamp", url.Values{"nonce": {"2"}}, env(good), 400, "timestamp and nonce"},
	} {
		code, body := e.do(http.MethodPost, tc.q, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.name, code, body, tc.code, tc.want)
		}
		if strings.Contains(body, aesKey) || strings.Contains(body, token) {
			t.Errorf("%s: the answer shows a secret", tc.name)
		}
	}
	// A well-signed message that is not a valid message: refused too.
	bad, _ := e.cr.Encrypt([]byte("<xml><MsgType>text</MsgType></xml>"))
	if code, body := e.do(http.MethodPost, signed(bad), env(bad)); code != 400 || !strings.Contains(body, "FromUserName: missing") {
		t.Errorf("invalid message: %d %q", code, body)
	}
	if after := e.journalSize(); after != before {
		t.Fatalf("refused requests wrote %d journal events", after-before)
	}
	for _, o := range e.events {
		if o != "rejected" {
			t.Fatalf("outcomes %v", e.events)
		}
	}
}

func TestReceiverMsgauditNotify(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	notified := make(chan struct{}, 1)
	e.rcv.Notify = func() { notified <- struct{}{} }
	before := e.journalSize()
	ev := "<xml><ToUserName><![CDATA[" + corpID + "]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[msgaudit_notify]]></Event><AgentID>2000003</AgentID></xml>"
	if code, _ := e.post(ev); code != 200 {
		t.Fatal(code)
	}
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("msgaudit_notify did not trigger a pull")
	}
	if e.journalSize() != before {
		t.Fatal("msgaudit_notify was archived as a message")
	}
	// kf_msg_or_event hands its token to the customer-service sync.
	got := make(chan string, 1)
	e.rcv.OnKFEvent = func(token, kfid string) { got <- token + " " + kfid }
	kfEv := "<xml><ToUserName>" + corpID + "</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000050</CreateTime><MsgType>event</MsgType><Event>kf_msg_or_event</Event><Token>ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR</Token><OpenKfId>wkABC</OpenKfId></xml>"
	if code, _ := e.post(kfEv); code != 200 {
		t.Fatal(code)
	}
	select {
	case g := <-got:
		if g != "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR wkABC" {
			t.Fatalf("kf event: %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("kf_msg_or_event did not start a sync")
	}
	if e.journalSize() != before {
		t.Fatal("kf_msg_or_event was archived as a message")
	}
	// Other events are archived, keyed without a MsgId.
	sub := "<xml><ToUserName>" + corpID + "</ToUserName><FromUserName>lina</FromUserName><CreateTime>1700000100</CreateTime><MsgType>event</MsgType><Event>enter_agent</Event><EventKey></EventKey><AgentID>1000002</AgentID></xml>"
	for i := 0; i < 2; i++ {
		if code, _ := e.post(sub); code != 200 {
			t.Fatal(code)
		}
	}
	m, _ := e.message("event:lina:1700000100:enter_agent:")
	if m.Kind != archive.KindEvent || m.SourceType != "event:enter_agent" {
		t.Fatalf("event: %+v", m)
	}
}

func TestReceiverOfficialAccountPlaintext(t *testing.T) {
	e := newEnv(t, callback.PlatformOfficialAccount, "")
	msg := "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[link]]></MsgType><Title><![CDATA[保證收益的產品]]></Title><Description><![CDATA[desc]]></Description><Url><![CDATA[https://example.com/a]]></Url><MsgId>6054768590064713728</MsgId></xml>"
	if code, body := e.post(msg); code != 200 || body != "success" {
		t.Fatalf("OA post: %d %q", code, body)
	}
	m, _ := e.message("6054768590064713728")
	if m.Source != "oa-callback:hr-app" || m.Direction != archive.DirectionInbound || m.Kind != archive.KindLink || m.Conversation != "direct:gh_10f6c3c3ac5a|oyORnuP8q7ou2gfYjqLzSIWZf0rs" {
		t.Fatalf("OA message: %+v", m)
	}
	// Traditional text is found by a simplified query.
	u, uctx := archivetest.App(context.Background(), e.r)
	res, err := u.Search(uctx, app.SearchOptions{Query: "保证收益"})
	if err != nil || res.Total != 1 {
		t.Fatalf("search: %+v, %v", res, err)
	}
	q := url.Values{"timestamp": {"1"}, "nonce": {"2"}, "signature": {"bad"}}
	if code, _ := e.do(http.MethodPost, q, msg); code != 403 {
		t.Fatalf("unsigned plaintext post: %d", code)
	}
	if code, _ := e.do(http.MethodPut, url.Values{"timestamp": {"1"}, "nonce": {"2"}}, ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", code)
	}
}

// TestReceiverMediaRetry: media WeChat could not give at capture is
// fetched again later, stored with the message's retention and journaled
// as attachment.fetched; the index shows it fetched and the message
// without media faults, the record still says what happened at capture,
// the fault is reported resolved, and verify rebuilds the same index.
func TestReceiverMediaRetry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	e.rcv.Store = e.r.Store
	if code, _ := e.post(wecomMsg("image", "2001", "<PicUrl>https://example.com/p.jpg</PicUrl><MediaId>LATER</MediaId>")); code != 200 {
		t.Fatal(code)
	}
	m, atts := e.message("2001")
	if atts[0].Status == archive.AttachmentFetched || m.AttachFaults != 1 {
		t.Fatalf("at capture: %+v %+v", m, atts)
	}
	if n, err := e.rcv.RetryMedia(ctx); err != nil || n != 0 {
		t.Fatalf("retry while WeChat still lacks it: %d %v", n, err)
	}
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, make([]byte, 300)...)
	e.fake.AddMedia("LATER", jpeg)
	size := e.journalSize()
	if n, err := e.rcv.RetryMedia(ctx); err != nil || n != 1 {
		t.Fatalf("retry: %d %v", n, err)
	}
	if e.journalSize() != size+1 {
		t.Fatalf("journal grew by %d, want one attachment.fetched", e.journalSize()-size)
	}
	if e.events[len(e.events)-1] != "media_fetched" {
		t.Fatalf("outcomes %v: want media_fetched last", e.events)
	}
	m, atts = e.message("2001")
	if atts[0].Status != archive.AttachmentFetched || atts[0].MediaType != "image/jpeg" || atts[0].Size != int64(len(jpeg)) || m.AttachFaults != 0 {
		t.Fatalf("after the retry: %+v %+v", m, atts)
	}
	if data, err := e.r.Blobs.Get(ctx, atts[0].Blob); err != nil || string(data) != string(jpeg) {
		t.Fatalf("stored media: %v", err)
	}
	u, uctx := archivetest.App(ctx, e.r)
	vs, err := u.MessagesBySerial(uctx, m.Serial)
	if err != nil {
		t.Fatal(err)
	}
	v := vs[0]
	if v.Message.Attachments[0].Status == archive.AttachmentFetched || len(v.FetchedLater) != 1 || v.FetchedLater[0].Blob != atts[0].Blob {
		t.Fatalf("view: record %+v, fetched later %+v, %v", v.Message.Attachments, v.FetchedLater, err)
	}
	if n, err := e.rcv.RetryMedia(ctx); err != nil || n != 0 {
		t.Fatalf("second retry: %d %v", n, err)
	}
	rep, err := verify.Run(ctx, e.r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep.Faults)
	}
}
