package callback_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/ingest"
)

// signed builds WeChat's request for a plaintext message: the query and
// the body, encrypted and signed in safe mode, as is in plaintext mode.
func (e *env) signed(plain string, ts int64, nonce string) (url.Values, string) {
	e.t.Helper()
	t := fmt.Sprint(ts)
	q := url.Values{"timestamp": {t}, "nonce": {nonce}}
	if !e.cr.Encrypted() {
		q.Set("signature", e.cr.Sign(t, nonce))
		return q, plain
	}
	enc, err := e.cr.Encrypt([]byte(plain))
	if err != nil {
		e.t.Fatal(err)
	}
	q.Set("msg_signature", e.cr.Sign(t, nonce, enc))
	return q, "<xml><ToUserName><![CDATA[" + corpID + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
}

func (e *env) count(outcome string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, o := range e.events {
		if o == outcome {
			n++
		}
	}
	return n
}

// TestReceiverReplayRefused: the same request again within the window is
// refused and archives nothing, in safe mode and (with a forged body) in
// plaintext mode; the signature's hex case does not make it new.
func TestReceiverReplayRefused(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	q, body := e.signed(wecomMsg("text", "r1", "<Content>一次</Content>"), 1700000000, "555001")
	if code, _ := e.do(http.MethodPost, q, body); code != 200 {
		t.Fatalf("first delivery: %d", code)
	}
	size := e.journalSize()
	if code, reply := e.do(http.MethodPost, q, body); code != http.StatusForbidden || !strings.Contains(reply, "request replayed") {
		t.Fatalf("replay: %d %q", code, reply)
	}
	upper := url.Values{"timestamp": q["timestamp"], "nonce": q["nonce"], "msg_signature": {strings.ToUpper(q.Get("msg_signature"))}}
	if code, reply := e.do(http.MethodPost, upper, body); code != http.StatusForbidden || !strings.Contains(reply, "request replayed") {
		t.Fatalf("replay with an upper-case signature: %d %q", code, reply)
	}
	if e.journalSize() != size || e.count("rejected") != 2 {
		t.Fatalf("replays wrote %d events, %d counted rejected (events %v)", e.journalSize()-size, e.count("rejected"), e.events)
	}
	// URL verification requests are remembered the same way.
	echo, _ := e.cr.Encrypt([]byte("hello"))
	vq := url.Values{"timestamp": {"1700000001"}, "nonce": {"555002"}, "echostr": {echo}, "msg_signature": {e.cr.Sign("1700000001", "555002", echo)}}
	if code, reply := e.do(http.MethodGet, vq, ""); code != 200 || reply != "hello" {
		t.Fatalf("URL verification: %d %q", code, reply)
	}
	if code, reply := e.do(http.MethodGet, vq, ""); code != http.StatusForbidden || !strings.Contains(reply, "request replayed") {
		t.Fatalf("replayed URL verification: %d %q", code, reply)
	}

	// Plaintext mode: one seen request, five forged messages with its
	// parameters: all refused, none archived.
	p := newEnv(t, callback.PlatformOfficialAccount, "")
	oa := func(id, text string) string {
		return "<xml><ToUserName>gh_10f6c3c3ac5a</ToUserName><FromUserName>oyORnuP8q7ou2gfYjqLzSIWZf0rs</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>" +
			text + "</Content><MsgId>" + id + "</MsgId></xml>"
	}
	pq, pbody := p.signed(oa("6054768590064713728", "真的"), 1700000000, "777001")
	if code, reply := p.do(http.MethodPost, pq, pbody); code != 200 || reply != "success" {
		t.Fatalf("genuine OA message: %d %q", code, reply)
	}
	size = p.journalSize()
	for i := range 5 {
		if code, reply := p.do(http.MethodPost, pq, oa(fmt.Sprint(9000+i), "伪造的保本承诺")); code != http.StatusForbidden || !strings.Contains(reply, "request replayed") {
			t.Fatalf("forgery %d with a seen signature: %d %q", i, code, reply)
		}
	}
	if p.journalSize() != size || p.count("rejected") != 5 {
		t.Fatalf("forgeries wrote %d events, %d rejected", p.journalSize()-size, p.count("rejected"))
	}
}

// TestReceiverStaleTimestamp: a timestamp outside the window, before or
// after the clock, or not a time, is refused; the edges of the window are
// accepted; the window is configurable.
func TestReceiverStaleTimestamp(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	now := int64(1700000000)
	before := e.journalSize()
	for _, tc := range []struct {
		name string
		ts   int64
		want string
	}{
		{"six minutes old", now - 360, "is 6m0s before this server's clock (window ±5m0s)"},
		{"six minutes ahead", now + 360, "is 6m0s after this server's clock"},
		{"a year old", now - 365*24*3600, "before this server's clock"},
	} {
		q, body := e.signed(wecomMsg("text", "stale-"+tc.name, "<Content>x</Content>"), tc.ts, "600"+fmt.Sprint(tc.ts%1000))
		if code, reply := e.do(http.MethodPost, q, body); code != http.StatusForbidden ||
			!strings.Contains(reply, "timestamp outside the freshness window") || !strings.Contains(reply, tc.want) {
			t.Errorf("%s: %d %q, want 403 mentioning %q", tc.name, code, reply, tc.want)
		}
	}
	badTS := url.Values{"timestamp": {"soon"}, "nonce": {"1"}, "msg_signature": {e.cr.Sign("soon", "1", "x")}}
	if code, reply := e.do(http.MethodPost, badTS, "<xml><Encrypt>x</Encrypt></xml>"); code != http.StatusForbidden || !strings.Contains(reply, `timestamp "soon" is not a time in seconds`) {
		t.Errorf("non-numeric timestamp: %d %q", code, reply)
	}
	if e.journalSize() != before || e.count("rejected") != 4 {
		t.Fatalf("stale requests wrote %d events, %d rejected", e.journalSize()-before, e.count("rejected"))
	}
	for i, ts := range []int64{now - 300, now + 300} {
		q, body := e.signed(wecomMsg("text", fmt.Sprint("edge-", i), "<Content>x</Content>"), ts, fmt.Sprint("7000", i))
		if code, reply := e.do(http.MethodPost, q, body); code != 200 {
			t.Errorf("timestamp %+ds: %d %q", ts-now, code, reply)
		}
	}
	// A tighter window, configured.
	e.rcv.Freshness = time.Minute
	q, body := e.signed(wecomMsg("text", "tight", "<Content>x</Content>"), now-90, "8001")
	if code, reply := e.do(http.MethodPost, q, body); code != http.StatusForbidden || !strings.Contains(reply, "window ±1m0s") {
		t.Errorf("90 s old with a 1-minute window: %d %q", code, reply)
	}
	// Once a request's timestamp has left the window, it is refused as
	// stale: the replay cache need not remember it any longer.
	e.rcv.Freshness = 0
	q, body = e.signed(wecomMsg("text", "later", "<Content>x</Content>"), now, "8002")
	if code, _ := e.do(http.MethodPost, q, body); code != 200 {
		t.Fatal(code)
	}
	e.at(time.Unix(now+301, 0))
	if code, reply := e.do(http.MethodPost, q, body); code != http.StatusForbidden || !strings.Contains(reply, "freshness window") {
		t.Fatalf("replay after the window: %d %q", code, reply)
	}
}

// failOnce makes the first Archive fail, as a closing or failing writer.
type failOnce struct {
	callback.Archiver
	failed bool
}

func (f *failOnce) Archive(ctx context.Context, actor string, items []ingest.Item) ([]ingest.Result, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("disk full")
	}
	return f.Archiver.Archive(ctx, actor, items)
}

// TestReceiverGenuineRetry: WeChat's retries are answered correctly. A
// retry of an archived message (new timestamp and nonce) is acknowledged
// as a duplicate; a request that was not acknowledged (the archive failed)
// may come again with the very same parameters and is archived then.
func TestReceiverGenuineRetry(t *testing.T) {
	e := newEnv(t, callback.PlatformWeCom, aesKey)
	msg := wecomMsg("text", "retry-1", "<Content>请回电</Content>")
	q, body := e.signed(msg, 1700000000, "900001")
	if code, reply := e.do(http.MethodPost, q, body); code != 200 || reply != "" {
		t.Fatalf("delivery: %d %q", code, reply)
	}
	q2, body2 := e.signed(msg, 1700000005, "900002") // WeChat's retry after 5 s
	if code, reply := e.do(http.MethodPost, q2, body2); code != 200 || reply != "" {
		t.Fatalf("retry: %d %q", code, reply)
	}
	if strings.Join(e.events, ",") != "archived,duplicate" {
		t.Fatalf("outcomes %v", e.events)
	}
	e.message("retry-1") // archived once

	e.rcv.Engine = &failOnce{Archiver: e.rcv.Engine}
	q, body = e.signed(wecomMsg("text", "retry-2", "<Content>第二条</Content>"), 1700000010, "900003")
	if code, _ := e.do(http.MethodPost, q, body); code != http.StatusServiceUnavailable {
		t.Fatalf("failing archive: %d", code)
	}
	if code, reply := e.do(http.MethodPost, q, body); code != 200 {
		t.Fatalf("the same request after a failure: %d %q (refused as a replay?)", code, reply)
	}
	e.message("retry-2")
}

// TestReceiverPlaintextNeedsConsent: a receiver without an EncodingAESKey
// refuses everything unless plaintext mode was allowed explicitly.
func TestReceiverPlaintextNeedsConsent(t *testing.T) {
	p := newEnv(t, callback.PlatformOfficialAccount, "")
	p.rcv.AllowPlaintext = false
	q, body := p.signed("<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>", 1700000000, "1")
	before := p.journalSize()
	if code, reply := p.do(http.MethodPost, q, body); code != http.StatusForbidden || !strings.Contains(reply, "plaintext mode is not enabled") {
		t.Fatalf("plaintext message: %d %q", code, reply)
	}
	q.Set("echostr", "hi")
	if code, reply := p.do(http.MethodGet, q, ""); code != http.StatusForbidden || !strings.Contains(reply, "plaintext mode is not enabled") {
		t.Fatalf("plaintext URL verification: %d %q", code, reply)
	}
	if p.journalSize() != before {
		t.Fatal("a refused plaintext request was archived")
	}
}
