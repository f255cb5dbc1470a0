package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/api/apitest"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/repo"
)

// TestServeCallbackConnector: a configured WeCom callback connector runs
// under serve; messages are archived, forgeries refused, lost media raises
// a fault that health reports (exit 1) until a person resolves it, and the
// whole history verifies.
func TestServeCallbackConnector(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	secrets := t.TempDir()
	for name, v := range map[string]string{"token": vToken, "aeskey": vKey, "secret": "app-secret"} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fake := apitest.New(vRID, "app-secret")
	defer fake.Close()
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, make([]byte, 100)...)
	fake.AddMedia("MEDIA_1", jpeg)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg := mustRead(t, cfgPath) + fmt.Sprintf(`connectors:
  - id: staff-app
    type: wecom-callback
    corp_id: %s
    token: {file: %s}
    aes_key: {file: %s}
    app_secret: {file: %s}
    api_base: %s
  - id: old-app
    type: oa-callback
    app_id: wx1
    token: {env: WXARCHIVE_TEST_UNSET}
    plaintext: true
    enabled: false
`, vRID, filepath.Join(secrets, "token"), filepath.Join(secrets, "aeskey"), filepath.Join(secrets, "secret"), fake.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	s := startServe(t, dir)
	base := "http://" + s.addr
	cr, err := callback.NewCrypter(vToken, vKey, vRID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	seq := 0
	post := func(plain string, forge bool) int {
		t.Helper()
		seq++
		ts, nonce := fmt.Sprint(now+int64(seq)), fmt.Sprint(1000+seq)
		enc, err := cr.Encrypt([]byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		sig := cr.Sign(ts, nonce, enc)
		if forge {
			sig = strings.Repeat("f", 40)
		}
		q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "msg_signature": {sig}}
		resp, err := http.Post(base+"/capture/wecom/callback/staff-app?"+q.Encode(), "text/xml",
			strings.NewReader("<xml><ToUserName><![CDATA["+vRID+"]]></ToUserName><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	msg := func(typ, id, extra string) string {
		return fmt.Sprintf("<xml><ToUserName>%s</ToUserName><FromUserName>zhangwei</FromUserName><CreateTime>%d</CreateTime><MsgType>%s</MsgType>%s<MsgId>%s</MsgId><AgentID>1000002</AgentID></xml>",
			vRID, now, typ, extra, id)
	}
	if code := post(msg("text", "cb-1", "<Content>这个产品保本</Content>"), true); code != 403 {
		t.Fatalf("forged request: %d", code)
	}
	for i, m := range []string{
		msg("text", "cb-1", "<Content>这个产品保本</Content>"),
		msg("image", "cb-2", "<MediaId>MEDIA_1</MediaId>"),
		msg("image", "cb-3", "<MediaId>MEDIA_EXPIRED</MediaId>"),
		msg("text", "cb-1", "<Content>这个产品保本</Content>"), // WeChat's retry
	} {
		if code := post(m, false); code != 200 {
			t.Fatalf("message %d: %d\n%s", i, code, s.out.String())
		}
	}
	if resp, err := http.Get(base + "/capture/wecom/callback/nobody?timestamp=1&nonce=2&echostr=x"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown connector: %v %v", resp.StatusCode, err)
	}

	// The running server's report: counts, and the open media fault.
	var rep struct {
		OK         bool `json:"ok"`
		Connectors []struct {
			ID      string           `json:"id"`
			Running bool             `json:"running"`
			Enabled bool             `json:"enabled"`
			Counts  map[string]int64 `json:"counts"`
		} `json:"connectors"`
		Faults []struct {
			Connector, Kind, Subject string
		} `json:"faults"`
	}
	resp, err := s.do("GET", base+"/api/v1/capture/health", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if len(rep.Connectors) != 2 || !rep.Connectors[0].Running || rep.Connectors[1].Running || rep.Connectors[1].Enabled ||
		rep.Connectors[0].Counts["archived"] != 3 || rep.Connectors[0].Counts["duplicate"] != 1 || rep.Connectors[0].Counts["rejected"] != 1 {
		t.Fatalf("health report %+v", rep)
	}
	if rep.OK || len(rep.Faults) != 1 || rep.Faults[0].Kind != "media_failed" || rep.Faults[0].Subject != "cb-3" {
		t.Fatalf("faults %+v: want the media fault of cb-3 only (the rejected request was resolved by the next message)", rep.Faults)
	}
	resp, err = s.do("GET", base+"/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wxarchive_capture_messages_total{connector="staff-app",outcome="archived"} 3`,
		`wxarchive_capture_messages_total{connector="staff-app",outcome="rejected"} 1`,
		`wxarchive_capture_faults_open{connector="staff-app",kind="media_failed"} 1`,
		`wxarchive_capture_faults_open{connector="staff-app",kind="requests_rejected"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A captured request sent again is refused and archives nothing, as is
	// one whose timestamp is an hour old; both are counted, and the next
	// genuine message resolves requests_rejected.
	enc, err := cr.Encrypt([]byte(msg("text", "cb-4", "<Content>只说一次</Content>")))
	if err != nil {
		t.Fatal(err)
	}
	send := func(ts string) (int, string) {
		q := url.Values{"timestamp": {ts}, "nonce": {"424242"}, "msg_signature": {cr.Sign(ts, "424242", enc)}}
		resp, err := http.Post(base+"/capture/wecom/callback/staff-app?"+q.Encode(), "text/xml",
			strings.NewReader("<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	fresh := fmt.Sprint(time.Now().Unix())
	if code, body := send(fresh); code != 200 {
		t.Fatalf("cb-4: %d %s", code, body)
	}
	if code, body := send(fresh); code != 403 || !strings.Contains(body, "request replayed") {
		t.Fatalf("replayed cb-4: %d %s", code, body)
	}
	if code, body := send(fmt.Sprint(time.Now().Unix() - 3600)); code != 403 || !strings.Contains(body, "freshness window") {
		t.Fatalf("an hour-old request: %d %s", code, body)
	}
	if code := post(msg("text", "cb-5", "<Content>之后的消息</Content>"), false); code != 200 {
		t.Fatalf("cb-5: %d", code)
	}
	resp, err = s.do("GET", base+"/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wxarchive_capture_messages_total{connector="staff-app",outcome="archived"} 5`,
		`wxarchive_capture_messages_total{connector="staff-app",outcome="rejected"} 3`,
		`wxarchive_capture_faults_open{connector="staff-app",kind="requests_rejected"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics after the replay lacks %s", want)
		}
	}
	if err := s.stop(time.Minute); err != nil {
		t.Fatalf("serve: %v\n%s", err, s.out.String())
	}
	if strings.Contains(s.out.String(), vKey) || strings.Contains(s.out.String(), "app-secret") {
		t.Fatal("serve logged a secret")
	}

	// Without the server: health fails on the open fault, a person
	// resolves it with a reason, and health passes.
	out, _, code := runCLI(t, "--dir", dir, "health")
	if code != 1 || !strings.Contains(out, "1 open fault") || !strings.Contains(out, "media_failed") || !strings.Contains(out, "cb-3") {
		t.Fatalf("health: exit %d\n%s", code, out)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "health", "resolve", "staff-app", "media_failed", "cb-3"); code != 2 || !strings.Contains(errs, "--reason is required") {
		t.Fatalf("resolve without a reason: exit %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "health", "resolve", "staff-app", "media_failed", "cb-9", "--reason", "x"); code != 2 || !strings.Contains(errs, "no open fault") {
		t.Fatalf("resolve an unknown fault: exit %d %s", code, errs)
	}
	mustCLI(t, "--dir", dir, "health", "resolve", "staff-app", "media_failed", "cb-3", "--reason", "employee re-sent the image")
	if out, _, code := runCLI(t, "--dir", dir, "health"); code != 0 || !strings.Contains(out, "capture health OK") {
		t.Fatalf("health after resolve: exit %d\n%s", code, out)
	}
	out = mustCLI(t, "--dir", dir, "connectors")
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	if !strings.Contains(lines["staff-app"], "wecom-callback  true") || strings.Contains(lines["staff-app"], "never") ||
		!strings.Contains(lines["old-app"], "false") || !strings.Contains(lines["old-app"], "never") {
		t.Fatalf("connectors:\n%s", out)
	}
	// Messages are searchable and the journal, faults included, verifies.
	if out := mustCLI(t, "--dir", dir, "search", "保本"); !strings.HasPrefix(out, "1 match") {
		t.Fatalf("search: %s", out)
	}
	if out, _, code := runCLI(t, "--dir", dir, "verify"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
}

// TestServeRefusesBadConnectors: a configuration problem stops serve
// before it listens, naming the line, and never echoes a secret.
func TestServeRefusesBadConnectors(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg := mustRead(t, cfgPath) + "connectors:\n  - id: staff-app\n    type: wecom-callback\n    corp_id: ww1\n    token: hunter2\n    aes_key: {env: WXARCHIVE_TEST_UNSET_KEY}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "--dir", dir, "serve", "--addr", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "token: a secret must not be written in the configuration file") || strings.Contains(string(out), "hunter2") {
		t.Fatalf("serve with an inline secret: %v\n%s", err, out)
	}
	if out, _, code := runCLI(t, "--dir", dir, "connectors"); code != 2 || !strings.Contains(out, "staff-app") {
		t.Fatalf("connectors with a bad configuration: exit %d\n%s", code, out)
	}
	// A secret that cannot be read: named, not shown.
	cfg = mustRead(t, cfgPath)
	cfg = strings.Replace(cfg, "token: hunter2", "token: {env: WXARCHIVE_TEST_UNSET_TOKEN}", 1)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	out, err = exec.Command(binary, "--dir", dir, "serve", "--addr", "127.0.0.1:0").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "connector staff-app: token: environment variable WXARCHIVE_TEST_UNSET_TOKEN is not set") {
		t.Fatalf("serve with an unset secret: %v\n%s", err, out)
	}
}

// TestServeArchiveConnectorWithoutSDK: a wecom-archive connector whose
// Finance SDK cannot run (this build has no vendor binding) does not stop
// serve; it raises a pull_failed fault saying why, visible in health.
func TestServeArchiveConnectorWithoutSDK(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	secrets := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(secrets, "v1.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	os.WriteFile(filepath.Join(secrets, "secret"), []byte("archive-secret\n"), 0o600)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg := mustRead(t, cfgPath) + fmt.Sprintf(`connectors:
  - id: archive
    type: wecom-archive
    corp_id: ww5f3c9a1e2b7d4068
    secret: {file: %s}
    sdk_path: /opt/wecom/libWeWorkFinanceSdk_C.so
    private_keys:
      1: {file: %s}
    poll_interval: 1s
`, filepath.Join(secrets, "secret"), filepath.Join(secrets, "v1.pem"))
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	s := startServe(t, dir)
	deadline := time.Now().Add(60 * time.Second)
	var detail string
	for detail == "" && time.Now().Before(deadline) {
		var rep struct {
			Faults []struct{ Connector, Kind, Detail string } `json:"faults"`
		}
		resp, err := s.do("GET", "http://"+s.addr+"/api/v1/capture/health", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		for _, f := range rep.Faults {
			if f.Connector == "archive" && f.Kind == "pull_failed" {
				detail = f.Detail
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := s.stop(time.Minute); err != nil {
		t.Fatalf("serve: %v\n%s", err, s.out.String())
	}
	if !strings.Contains(detail, "built without the WeCom Finance SDK binding") {
		t.Fatalf("pull_failed detail %q\n%s", detail, s.out.String())
	}
	if strings.Contains(s.out.String(), "archive-secret") {
		t.Fatal("serve logged the archive secret")
	}
	// The CLI sees the same fault.
	if out, _, code := runCLI(t, "--dir", dir, "health"); code != 1 || !strings.Contains(out, "pull_failed") {
		t.Fatalf("health: exit %d\n%s", code, out)
	}
}

func TestCLIImport(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	files := t.TempDir()
	wm := filepath.Join(files, "王总.csv")
	os.WriteFile(wm, []byte("\xef\xbb\xbflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"+
		"1,17,1,0,1,1700000000,2,这个产品保本保收益,2023-11-15 06:13:20,王总,Wang,\n"+
		"2,17,1,0,0,1700000060,2,好的,2023-11-15 06:14:20,王总,Wang,\n"+
		"3,17,1,0,7,1700000120,2,坏行,2023-11-15 06:15:20,王总,Wang,\n"), 0o644)
	out, errs, code := runCLI(t, "--dir", dir, "import", "wechatmsg-csv", wm, "--owner", "wxid_zhangwei")
	if code != 2 || !strings.Contains(out, "3 rows") || !strings.Contains(out, "2 archived") || !strings.Contains(out, "line 4: IsSender") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errs)
	}
	if out := mustCLI(t, "--dir", dir, "search", "保本"); !strings.HasPrefix(out, "1 match") || !strings.Contains(out, "wxid_zhangwei") {
		t.Fatalf("search after import:\n%s", out)
	}
	// Again: resumed past the end, nothing archived.
	out, _, _ = runCLI(t, "--dir", dir, "import", "wechatmsg-csv", wm, "--owner", "wxid_zhangwei")
	if !strings.Contains(out, "0 archived") || !strings.Contains(out, "resumed after line 4") {
		t.Fatalf("second import:\n%s", out)
	}
	// A damaged file: the rows before the damage are archived; exit 2 names the line.
	jl := filepath.Join(files, "m.jsonl")
	os.WriteFile(jl, []byte(`{"id":"a","sender":"s","recipients":["r"],"sent_at":1700000000000,"text":"fee"}`+"\n"), 0o644)
	if out := mustCLI(t, "--dir", dir, "import", "jsonl", jl, "--json", "--employee", "s"); !strings.Contains(out, `"archived": 1`) {
		t.Fatalf("jsonl import: %s", out)
	}
	cj := filepath.Join(files, "chatlog.json")
	os.WriteFile(cj, []byte("[\n{\"seq\":1,\"time\":\"2023-11-15T06:13:20Z\",\"talker\":\"wxid_c\",\"isChatRoom\":false,\"sender\":\"wxid_zhangwei\",\"isSelf\":true,\"type\":1,\"content\":\"你好\"},\n{\"seq\":"), 0o644)
	_, errs, code = runCLI(t, "--dir", dir, "import", "chatlog-json", cj, "--owner", "wxid_zhangwei")
	if code != 2 || !strings.Contains(errs, "chatlog.json: chatlog-json: line 3") {
		t.Fatalf("damaged chatlog: exit %d, %s", code, errs)
	}
	if out := mustCLI(t, "--dir", dir, "search", "你好"); !strings.HasPrefix(out, "1 match") {
		t.Fatalf("rows before the damage: %s", out)
	}
	// Outsiders only, no owner: refused with the senders, nothing archived.
	out3 := filepath.Join(files, "outsiders.jsonl")
	os.WriteFile(out3, []byte(`{"id":"o1","sender":"client.wang","recipients":["client.li"],"sent_at":1700000000000,"text":"转告"}`+"\n"), 0o644)
	if _, errs, code := runCLI(t, "--dir", dir, "import", "jsonl", out3); code != 2 || !strings.Contains(errs, "no employee among their participants (senders client.wang)") {
		t.Fatalf("outsiders-only import: exit %d, %s", code, errs)
	}
	// PyWxDump's own file, as it writes it: the owner read from the rows.
	pw := filepath.Join("..", "..", "capture", "importer", "testdata", "exports", "pywxdump-3.1.45-wxid_lilei01_0_5.csv")
	if out := mustCLI(t, "--dir", dir, "import", "pywxdump-csv", pw); !strings.Contains(out, "5 archived") {
		t.Fatalf("pywxdump import: %s", out)
	}
	if out := mustCLI(t, "--dir", dir, "search", "报价单"); !strings.HasPrefix(out, "1 match") {
		t.Fatalf("search after the PyWxDump import: %s", out)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "import", "xml", cj); code != 2 || !strings.Contains(errs, "unknown format") {
		t.Fatalf("unknown format: %d %s", code, errs)
	}
	if out, _, code := runCLI(t, "--dir", dir, "verify"); code != 0 {
		t.Fatalf("verify: %s", out)
	}
}

// TestServeCustomerService: a wecom-kf connector syncs at start, and a
// kf_msg_or_event callback makes it sync again at once (the poll interval
// here is an hour).
func TestServeCustomerService(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	secrets := t.TempDir()
	for name, v := range map[string]string{"token": vToken, "aeskey": vKey, "kf": "kf-secret"} {
		os.WriteFile(filepath.Join(secrets, name), []byte(v), 0o600)
	}
	fake := apitest.New(vRID, "kf-secret")
	defer fake.Close()
	kfMsg := func(id, text string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"msgid":%q,"open_kfid":"wkA","external_userid":"wmC","send_time":%d,"origin":3,"msgtype":"text","text":{"content":%q}}`, id, time.Now().Unix(), text))
	}
	fake.AddKFPage([]json.RawMessage{kfMsg("kf1", "请问保本吗")}, false)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg := mustRead(t, cfgPath) + fmt.Sprintf(`connectors:
  - id: kf-app
    type: wecom-callback
    corp_id: %[1]s
    token: {file: %[2]s/token}
    aes_key: {file: %[2]s/aeskey}
  - id: service
    type: wecom-kf
    corp_id: %[1]s
    app_secret: {file: %[2]s/kf}
    api_base: %[3]s
    poll_interval: 1h
`, vRID, secrets, fake.URL)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	s := startServe(t, dir)
	defer s.stop(time.Minute)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s\n%s", what, s.out.String())
	}
	search := func(q string) int64 {
		var res struct {
			Total int64 `json:"total"`
		}
		resp, err := s.do("GET", "http://"+s.addr+"/api/v1/search?q="+url.QueryEscape(q), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		return res.Total
	}
	waitFor("the first sync did not archive kf1", func() bool { return search("保本") == 1 })
	fake.AddKFPage([]json.RawMessage{kfMsg("kf2", "好的，谢谢")}, false)
	cr, _ := callback.NewCrypter(vToken, vKey, vRID)
	// As WeCom documents it: no FromUserName.
	ev := fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[TKN]]></Token><OpenKfId><![CDATA[wkA]]></OpenKfId></xml>", vRID, time.Now().Unix())
	enc, _ := cr.Encrypt([]byte(ev))
	ts := fmt.Sprint(time.Now().Unix()) // within the callback's freshness window
	q := url.Values{"timestamp": {ts}, "nonce": {"2"}, "msg_signature": {cr.Sign(ts, "2", enc)}}
	resp, err := http.Post("http://"+s.addr+"/capture/wecom/callback/kf-app?"+q.Encode(), "text/xml", strings.NewReader("<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("kf event: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor("kf_msg_or_event did not trigger a sync", func() bool { return search("谢谢") == 1 })
	if !slices.Contains(fake.Tokens(), "TKN") {
		t.Fatalf("sync_msg calls carried tokens %q: not the event's", fake.Tokens())
	}
}

// TestCLIDemoLive: the demo captured through the simulator and the msgaudit
// connector archives the same messages as the JSONL path.
func TestCLIDemoLive(t *testing.T) {
	t.Parallel()
	live, plain := cliArchiveDir(t), cliArchiveDir(t)
	out := mustCLI(t, "--dir", live, "demo", "--live", "--messages", "400", "--seed", "5")
	if !strings.Contains(out, "Archived 400 demo messages (seed 5)") || !strings.Contains(out, "400 new") || !strings.Contains(out, "(0 not intact)") {
		t.Fatalf("demo --live:\n%s", out)
	}
	mustCLI(t, "--dir", plain, "demo", "--messages", "400", "--seed", "5")
	count := func(dir string) (n int64, atts int64) {
		var s struct {
			Messages    int64 `json:"messages"`
			Attachments int64 `json:"attachments"`
		}
		cliJSON(t, &s, "--dir", dir, "stats", "--json")
		return s.Messages, s.Attachments
	}
	lm, la := count(live)
	if pm, pa := count(plain); lm != pm || la != pa || lm != 400 {
		t.Fatalf("live %d messages %d attachments, plain %d and %d", lm, la, pm, pa)
	}
	if out, _, code := runCLI(t, "--dir", live, "verify"); code != 0 {
		t.Fatalf("verify: %s", out)
	}
}

func TestCLIPolicy(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	mustCLI(t, "--dir", dir, "demo", "--messages", "3000", "--seed", "3")
	pol := t.TempDir()
	out := mustCLI(t, "policy", "defaults", pol)
	if strings.Count(out, ".yaml") != 9 {
		t.Fatalf("defaults: %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(pol, "*.yaml"))
	out = mustCLI(t, append([]string{"policy", "validate"}, files...)...)
	if strings.Count(out, ": OK") != 9 {
		t.Fatalf("validate: %s", out)
	}
	bad := filepath.Join(pol, "bad.yaml")
	os.WriteFile(bad, []byte("policy: p\nrules:\n  - id: r\n    regex: '('\n"), 0o644)
	if _, errs, code := runCLI(t, "policy", "validate", bad); code != 2 || !strings.Contains(errs, "bad.yaml:3: rules[0].regex: not an RE2 pattern") {
		t.Fatalf("validate bad: %d %s", code, errs)
	}
	var bt struct {
		Scanned, Messages int
		Rules             []struct {
			Rule string
			Hits int
		}
		Samples []struct {
			Serial uint64
			Text   string
		}
	}
	cliJSON(t, &bt, "--dir", dir, "policy", "backtest", filepath.Join(pol, "guaranteed-returns.yaml"), "--json")
	if bt.Scanned != 3000 || bt.Messages == 0 || len(bt.Samples) == 0 || bt.Rules[0].Hits == 0 {
		t.Fatalf("backtest: %+v", bt)
	}
	out = mustCLI(t, "--dir", dir, "policy", "backtest", filepath.Join(pol, "guaranteed-returns.yaml"), "--from", "2026-07-01", "--to", "2026-10-01")
	if !strings.Contains(out, "zh-guarantee") || !strings.Contains(out, "«") {
		t.Fatalf("backtest table:\n%s", out)
	}

	// init installed the default pack and demo evaluated it: the planted
	// messages raised alerts, in the shape scripts rely on.
	var al struct {
		Alerts []struct {
			ID            *uint64   `json:"id"`
			Serial        *uint64   `json:"serial"`
			SourceID      *string   `json:"source_id"`
			Policy        *string   `json:"policy"`
			PolicyVersion *int      `json:"policy_version"`
			Rule          *string   `json:"rule"`
			Status        *string   `json:"status"`
			Spans         *[][2]int `json:"spans"`
			Sender        *string   `json:"sender"`
		} `json:"alerts"`
	}
	cliJSON(t, &al, "--dir", dir, "alerts", "list", "--json")
	policies := map[string]int{}
	for _, a := range al.Alerts {
		if a.ID == nil || a.Serial == nil || a.SourceID == nil || a.Policy == nil || a.PolicyVersion == nil || a.Rule == nil || a.Status == nil || a.Spans == nil ||
			a.Sender == nil || *a.Sender == "" {
			t.Fatalf("alert lacks a field: %+v", a)
		}
		policies[*a.Policy]++
	}
	for _, p := range []string{"guaranteed-returns", "off-channel", "sensitive-data", "complaints", "recalled-messages"} {
		if policies[p] == 0 {
			t.Errorf("no %s alert after the demo (alerts per policy: %v)", p, policies)
		}
	}
	// Review: a view is not a review; closing needs a disposition; only a
	// principal closes an escalation; the evidence report says so.
	a1, a2, a3 := fmt.Sprint(*al.Alerts[0].ID), fmt.Sprint(*al.Alerts[1].ID), fmt.Sprint(*al.Alerts[2].ID)
	mustCLI(t, "--dir", dir, "alerts", "show", a3)
	if _, errs, code := runCLI(t, "--dir", dir, "review", "close", a1); code != 2 || !strings.Contains(errs, "closing needs a disposition") {
		t.Fatalf("close without disposition: %d %s", code, errs)
	}
	mustCLI(t, "--dir", dir, "review", "close", a1, "--disposition", "false_positive")
	mustCLI(t, "--dir", dir, "review", "escalate", a2, "--note", "looks like a real promise")
	if _, errs, code := runCLI(t, "--dir", dir, "review", "close", a2, "--disposition", "no_issue"); code != 2 || !strings.Contains(errs, "only a principal") {
		t.Fatalf("non-principal closes an escalation: %d %s", code, errs)
	}
	u, _ := user.Current()
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	os.WriteFile(cfgPath, []byte(mustRead(t, cfgPath)+"supervision:\n  principals: ["+u.Username+"]\n"), 0o644)
	mustCLI(t, "--dir", dir, "review", "close", a2, "--disposition", "violation", "--note", "adviser retrained")
	// alerts show tells the whole story: every action, its reviewer and note.
	story := mustCLI(t, "--dir", dir, "alerts", "show", a2)
	for _, want := range []string{"review (2 actions)", "escalate  cli:", "note: looks like a real promise", "close     cli:",
		"disposition violation  note: adviser retrained", "closed by ", "message ", "record       sha256:", "viewed ("} {
		if !strings.Contains(story, want) {
			t.Fatalf("alerts show lacks %q:\n%s", want, story)
		}
	}
	// show lists the message's alerts.
	if sh := mustCLI(t, "--dir", dir, "show", fmt.Sprint(*al.Alerts[1].Serial)); !strings.Contains(sh, "alerts        ") || !strings.Contains(sh, a2+" ") ||
		!strings.Contains(sh, "(closed") {
		t.Fatalf("show does not list the message's alerts:\n%s", sh)
	}
	var ev struct {
		Alerts []struct {
			Alert       uint64
			Reviewed    bool
			ViewedOnly  bool `json:"viewed_only"`
			Reviewer    string
			Disposition string
		} `json:"alerts"`
	}
	cliJSON(t, &ev, "--dir", dir, "report", "review-evidence", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "json")
	byID := map[string]string{}
	for _, e := range ev.Alerts {
		byID[fmt.Sprint(e.Alert)] = fmt.Sprintf("%v/%v/%s", e.Reviewed, e.ViewedOnly, e.Disposition)
	}
	if byID[a1] != "true/false/false_positive" || byID[a2] != "true/false/violation" || byID[a3] != "false/true/" {
		t.Fatalf("evidence: %v", byID)
	}
	if out := mustCLI(t, "--dir", dir, "report", "review-evidence", "--from", "2000-01-01", "--to", "2100-01-01"); !strings.HasPrefix(out, "alert,serial,source_id,") {
		t.Fatalf("csv: %s", out)
	}
	var closed struct{ Alerts []struct{ Status string } }
	cliJSON(t, &closed, "--dir", dir, "alerts", "list", "--json", "--status", "closed")
	if len(closed.Alerts) != 2 || closed.Alerts[0].Status != "closed" {
		t.Fatalf("closed alerts %+v", closed)
	}
	// Queues: open alerts by policy and department (the demo's directory
	// puts its employees in departments); a department's queue lists
	// exactly its alerts.
	var qs struct {
		SLADays int `json:"sla_days"`
		Queues  []struct {
			Policy, Department string
			Open, Escalated    int
		}
	}
	cliJSON(t, &qs, "--dir", dir, "alerts", "queues", "--json")
	open, depts := 0, map[string]int{}
	for _, q := range qs.Queues {
		open += q.Open
		depts[q.Department] += q.Open
	}
	if qs.SLADays != 7 || open != len(al.Alerts)-2 || len(depts) < 2 || depts[""] > 0 {
		t.Fatalf("queues: %d open of %d alerts, by department %v (%+v)", open, len(al.Alerts), depts, qs)
	}
	for d, n := range depts {
		var q struct {
			Alerts []struct{ Department, Status string }
		}
		cliJSON(t, &q, "--dir", dir, "alerts", "list", "--json", "--status", "open", "--department", d)
		if len(q.Alerts) != n {
			t.Fatalf("department %s: %d open alerts listed, queue says %d", d, len(q.Alerts), n)
		}
		for _, a := range q.Alerts {
			if a.Department != d || a.Status == "closed" {
				t.Fatalf("department %s lists %+v", d, a)
			}
		}
	}
	if _, errs, code := runCLI(t, "--dir", dir, "alerts", "list", "--status", "pending"); code != 2 || !strings.Contains(errs, "--status") {
		t.Fatalf("bad status: %d %s", code, errs)
	}
	out = mustCLI(t, "--dir", dir, "policy", "list")
	if strings.Count(out, "cli:init") != 9 {
		t.Fatalf("policy list:\n%s", out)
	}
	out = mustCLI(t, "--dir", dir, "policy", "apply", filepath.Join(pol, "complaints.yaml"))
	if !strings.Contains(out, "unchanged (version 1)") {
		t.Fatalf("apply unchanged: %s", out)
	}
	os.WriteFile(filepath.Join(pol, "complaints.yaml"), []byte("policy: complaints\nrules:\n  - id: zh\n    lexicon: [投诉]\n"), 0o644)
	if out := mustCLI(t, "--dir", dir, "policy", "apply", filepath.Join(pol, "complaints.yaml")); !strings.Contains(out, "version 2 applied") {
		t.Fatalf("apply new version: %s", out)
	}
	// show: the file as applied, any version, and the history.
	if out := mustCLI(t, "--dir", dir, "policy", "show", "complaints"); !strings.Contains(out, "version 2 of 2") ||
		!strings.Contains(out, "lexicon: [投诉]") || strings.Count(out, "cli:") < 2 {
		t.Fatalf("policy show:\n%s", out)
	}
	var v1 struct {
		Version  int `json:"version"`
		Latest   int `json:"latest_version"`
		Source   string
		Versions []struct{ Version int }
	}
	cliJSON(t, &v1, "--dir", dir, "policy", "show", "complaints", "--version", "1", "--json")
	if v1.Version != 1 || v1.Latest != 2 || len(v1.Versions) != 2 || strings.Contains(v1.Source, "lexicon: [投诉]") || !strings.Contains(v1.Source, "policy: complaints") {
		t.Fatalf("policy show --version 1: %+v", v1)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "policy", "show", "complaints", "--version", "3"); code != 2 || !strings.Contains(errs, "versions 1 to 2") {
		t.Fatalf("show of a missing version: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "--dir", dir, "policy", "show", "nope"); code != 2 || !strings.Contains(errs, `no policy "nope"`) {
		t.Fatalf("show of an unknown policy: %d %s", code, errs)
	}
	if out, _, code := runCLI(t, "--dir", dir, "verify"); code != 0 {
		t.Fatalf("verify: %s", out)
	}
}
