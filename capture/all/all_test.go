package all_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/sim"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/store"
)

const (
	token  = "QDG6eK"
	aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	corp   = "ww5823bf96d3bd56c7"
)

// TestServeWiring builds the configured connectors as serve does, through
// the registry of every type: the callback connector is mounted as a
// handler, the wecom-archive connector runs with the SDK its option
// starts, both are registered with health, and a msgaudit_notify posted to
// the callback wakes the puller long before its poll interval.
func TestServeWiring(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "v1.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	t.Setenv("WXA_TEST_TOKEN", token)
	t.Setenv("WXA_TEST_AESKEY", aesKey)
	t.Setenv("WXA_TEST_ARCHIVE_SECRET", "archive-secret")
	var f struct {
		Connectors []connector.Config `yaml:"connectors"`
	}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(`connectors:
  - {id: staff-app, type: wecom-callback, corp_id: %s, token: {env: WXA_TEST_TOKEN}, aes_key: {env: WXA_TEST_AESKEY}}
  - id: archive
    type: wecom-archive
    corp_id: %s
    secret: {env: WXA_TEST_ARCHIVE_SECRET}
    sdk_path: /opt/wecom/libWeWorkFinanceSdk_C.so
    private_keys: {1: {file: %s}}
    poll_interval: 1h
`, corp, corp, filepath.Join(secrets, "v1.pem"))), &f); err != nil {
		t.Fatal(err)
	}

	svc := sim.New(map[int]*rsa.PublicKey{1: &key.PublicKey})
	var mu sync.Mutex
	var opened []string
	reg := all.Registry(all.Options{OpenSDK: func(c connector.Config, secret string, _ *slog.Logger) (finance.SDK, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, c.SDKPath+" "+secret)
		return svc.Open(), nil
	}})
	health, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := reg.Build(ctx, f.Connectors, capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store, Health: health})
	if err != nil {
		t.Fatal(err)
	}
	h := set.Handlers()["staff-app"]
	if h == nil || len(set.Connectors()) != 2 {
		t.Fatalf("handlers %v, connectors %d", set.Handlers(), len(set.Connectors()))
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		set.Run(runCtx)
		close(done)
	}()
	defer func() {
		stop()
		<-done
	}()

	// The first pull finds nothing; then a message arrives at WeCom and
	// WeCom says so on the app's callback URL.
	time.Sleep(200 * time.Millisecond)
	line := fmt.Sprintf(`{"msgid":"notified-1","action":"send","from":"zhangwei","tolist":["wmExt1"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"通知后拉取"}}`, time.Now().UnixMilli())
	if _, err := svc.Add([]byte(line), 1, nil); err != nil {
		t.Fatal(err)
	}
	cr, err := callback.NewCrypter(token, aesKey, corp)
	if err != nil {
		t.Fatal(err)
	}
	ts, nonce := fmt.Sprint(time.Now().Unix()), "4711"
	plain := "<xml><ToUserName>" + corp + "</ToUserName><FromUserName>sys</FromUserName><CreateTime>" + ts + "</CreateTime><MsgType>event</MsgType><Event>msgaudit_notify</Event><AgentID>2000003</AgentID></xml>"
	enc, err := cr.Encrypt([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "msg_signature": {cr.Sign(ts, nonce, enc)}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/capture/wecom/callback/staff-app?"+q.Encode(),
		strings.NewReader("<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>")))
	if rec.Code != 200 {
		t.Fatalf("msgaudit_notify: %d %s", rec.Code, rec.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := r.Store.MessagesBySourceID(ctx, "notified-1")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if len(rows) == 1 {
			if rows[0].Source != "wecom-archive:"+corp {
				t.Fatalf("source %q", rows[0].Source)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the notified message was not pulled (the poll interval is an hour)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opened) == 0 || opened[0] != "/opt/wecom/libWeWorkFinanceSdk_C.so archive-secret" {
		t.Fatalf("SDK opened with %q", opened)
	}
	rep, err := capture.BuildReport(ctx, r.Store, reg, f.Connectors, 7, time.Now(), time.UTC, health)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Connectors) != 2 || !rep.Connectors[0].Running || !rep.Connectors[1].Running ||
		rep.Connectors[0].Source != "wecom-callback:staff-app" || rep.Connectors[1].Source != "wecom-archive:"+corp || rep.Connectors[1].LastSerial != 1 {
		t.Fatalf("report %+v", rep.Connectors)
	}
}

// TestPlaintextStandingFault: an Official Account callback configured
// with plaintext: true starts with a warning and a plaintext_mode fault
// that stays open while the configuration says so; started in safe mode,
// the fault is resolved.
func TestPlaintextStandingFault(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	t.Setenv("WXA_TEST_TOKEN", token)
	t.Setenv("WXA_TEST_AESKEY", aesKey)
	load := func(s string) []connector.Config {
		var f struct {
			Connectors []connector.Config `yaml:"connectors"`
		}
		if err := yaml.Unmarshal([]byte(s), &f); err != nil {
			t.Fatal(err)
		}
		return f.Connectors
	}
	reg := all.Registry(all.Options{})
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	open := func() []string {
		faults, err := r.Store.OpenFaults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range faults {
			out = append(out, f.Connector+" "+f.Kind)
		}
		return out
	}
	for i := 0; i < 2; i++ { // a restart raises nothing new
		health, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		set, err := reg.Build(ctx, load("connectors:\n  - {id: public, type: oa-callback, app_id: wx1, token: {env: WXA_TEST_TOKEN}, plaintext: true}\n"),
			capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store, Health: health, Logger: logger})
		if err != nil || set.Handlers()["public"] == nil {
			t.Fatalf("plaintext OA: %v", err)
		}
	}
	if got := open(); len(got) != 1 || got[0] != "public plaintext_mode" {
		t.Fatalf("open faults %v", got)
	}
	logMu.Lock()
	warned := strings.Count(logs.String(), "level=WARN msg=\"connector runs with a standing risk\" connector=public fault=plaintext_mode")
	logMu.Unlock()
	if warned != 2 {
		t.Fatalf("%d warnings at start, want one per start:\n%s", warned, logs.String())
	}
	var history []string
	r.Store.FaultHistory(ctx, func(f store.FaultRow) error {
		history = append(history, f.Kind+"/"+f.State)
		return nil
	})
	if strings.Join(history, ",") != "plaintext_mode/raised" {
		t.Fatalf("history %v: journaled once", history)
	}
	health, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Build(ctx, load("connectors:\n  - {id: public, type: oa-callback, app_id: wx1, token: {env: WXA_TEST_TOKEN}, aes_key: {env: WXA_TEST_AESKEY}}\n"),
		capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store, Health: health}); err != nil {
		t.Fatal(err)
	}
	if got := open(); len(got) != 0 {
		t.Fatalf("in safe mode, open faults %v", got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
