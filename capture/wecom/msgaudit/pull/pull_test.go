package pull_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/sim"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

const corp = "ww5f3c9a1e2b7d4068"

// keys makes RSA key pairs by version: PKCS#1 PEM for odd versions and
// PKCS#8 for even ones, as firms hold both. 1024 bits keep the tests
// quick; the code does not depend on the size (WeCom uses 2048).
func keys(t testing.TB, versions ...int) (*finance.KeyRing, map[int]*rsa.PublicKey) {
	t.Helper()
	pems := map[int][]byte{}
	pubs := map[int]*rsa.PublicKey{}
	for _, v := range versions {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		pubs[v] = &k.PublicKey
		if v%2 == 1 {
			pems[v] = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
		} else {
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			pems[v] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
	}
	ring, err := finance.ParseKeyRing(pems)
	if err != nil {
		t.Fatal(err)
	}
	return ring, pubs
}

// health records what a connector reports.
type health struct {
	mu     sync.Mutex
	faults []string
	counts map[string]int
}

func (h *health) Observe(_ context.Context, _, outcome, _ string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[string]int{}
	}
	h.counts[outcome]++
}

func (h *health) Raise(_ context.Context, _, kind, subject, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, kind+" "+subject)
}

// tee reports to two healths: the test's recorder and the server's.
type tee [2]capture.Health

func (t tee) Observe(ctx context.Context, id, outcome, detail string) {
	t[0].Observe(ctx, id, outcome, detail)
	t[1].Observe(ctx, id, outcome, detail)
}

func (t tee) Raise(ctx context.Context, id, kind, subject, detail string) {
	t[0].Raise(ctx, id, kind, subject, detail)
	t[1].Raise(ctx, id, kind, subject, detail)
}

func (t tee) Resolve(ctx context.Context, id, kind, subject, detail, actor string) bool {
	t[0].Resolve(ctx, id, kind, subject, detail, actor)
	return t[1].Resolve(ctx, id, kind, subject, detail, actor)
}

func (h *health) Resolve(_ context.Context, _, kind, subject, _, _ string) bool { return false }

func (h *health) Faults() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]string(nil), h.faults...)
	sort.Strings(out)
	return out
}

type fixture struct {
	t     *testing.T
	r     *repo.Repo
	svc   *sim.Service
	ring  *finance.KeyRing
	pubs  map[int]*rsa.PublicKey
	h     *health
	dir   string
	media int // attachments with media in the generated data
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: archivetest.InitDir(t, repo.InitOptions{TimeZone: "Asia/Shanghai"}), h: &health{}}
	f.open()
	f.ring, f.pubs = keys(t, 1, 2)
	f.svc = sim.New(f.pubs)
	f.svc.SetChunkSize(8 * 1024) // media of a few chunks each
	return f
}

func (f *fixture) open() { f.r = archivetest.OpenDir(f.t, f.dir) }

// restart closes the archive and opens it again, as a process restart.
func (f *fixture) restart() {
	if err := f.r.Close(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// addDemo feeds n demo messages (every msgtype, with media) to the service,
// alternating key versions, and returns them.
func (f *fixture) addDemo(seed int64, n int) [][]byte {
	media := map[string][]byte{}
	var lines [][]byte
	if _, err := demo.Generate(demo.Config{Seed: seed, Messages: n, CorpID: corp}, func(l []byte) error {
		lines = append(lines, append([]byte(nil), l...))
		return nil
	}, func(id string, data []byte) error {
		media[id] = append([]byte(nil), data...)
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	f.media += len(media)
	for i, l := range lines {
		m := map[string][]byte(nil)
		if i == 0 {
			m = media
		}
		if _, err := f.svc.Add(l, 1+i%2, m); err != nil {
			f.t.Fatal(err)
		}
	}
	return lines
}

func (f *fixture) connector(id string) *pull.Connector {
	return &pull.Connector{ID: id, CorpID: corp, Open: func() (finance.SDK, error) { return f.svc.Open(), nil },
		Keys: f.ring, Engine: f.r.Engine, Blobs: f.r.Blobs, Store: f.r.Store, Health: f.h, Limit: 500, Backoff: time.Millisecond}
}

// drain pulls until the service has nothing more.
func (f *fixture) drain(c *pull.Connector) (total pull.PullResult) {
	f.t.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			f.t.Fatal("pulling does not end")
		}
		res, err := c.Pull(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		total.Fetched += res.Fetched
		total.Archived += res.Archived
		total.Duplicates += res.Duplicates
		total.Rejected += res.Rejected
		total.Cursor = res.Cursor
		if !res.More {
			return total
		}
	}
}

func (f *fixture) counts() (messages, fetched, faulty int64) {
	c, err := f.r.Store.Counts(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Messages, c.Attachments - c.AttachFaults, c.AttachFaults
}

func (f *fixture) verify() {
	f.t.Helper()
	rep, err := verify.Run(context.Background(), f.r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.OK {
		f.t.Fatalf("verify: %+v", rep.Faults)
	}
}

// TestConnectorExactlyOnce: every message of every type is archived once,
// with its media fetched in chunks and md5-checked, through restarts, an
// SDK crash, transient errors and a second connector replaying everything.
func TestConnectorExactlyOnce(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	f := newFixture(t)
	lines := f.addDemo(1, n)
	// The demo has clients who refuse consent: those are the only faults.
	refused := map[string]bool{}
	for _, l := range lines {
		var m struct {
			MsgType string `json:"msgtype"`
			From    string `json:"from"`
		}
		if json.Unmarshal(l, &m) == nil && m.MsgType == "disagree" {
			refused["consent_withdrawn "+m.From] = true
		}
	}
	c := f.connector("main")
	// The first third, then a "process restart".
	res, err := c.Pull(context.Background())
	if err != nil || res.Archived != 500 || res.Cursor != 500 || !res.More {
		t.Fatalf("first pull: %+v, %v", res, err)
	}
	f.restart()
	c = f.connector("main")
	if got, _ := c.Cursor(context.Background()); got != 500 {
		t.Fatalf("cursor after restart: %d", got)
	}
	// Transient network errors and a crash on the way.
	f.svc.Fail("GetChatData", finance.ErrNetwork, 2)
	f.svc.Fail("GetMediaData", finance.ErrSystem, 3)
	f.svc.CrashAfter(40)
	total := f.drain(c)
	if total.Archived != n-500 || total.Duplicates != 0 || total.Rejected != 0 || total.Cursor != uint64(n) {
		t.Fatalf("drain: %+v", total)
	}
	if c.Restarts() != 1 {
		t.Fatalf("SDK reopened %d times, want 1 (one crash)", c.Restarts())
	}
	msgs, fetched, faulty := f.counts()
	if msgs != int64(n) || faulty != 0 || fetched == 0 {
		t.Fatalf("%d messages, %d attachments fetched, %d faulty", msgs, fetched, faulty)
	}
	// A second connector for the same corp replays the whole window:
	// nothing is archived twice.
	f.restart()
	again := f.drain(f.connector("replay"))
	if again.Archived != 0 || again.Duplicates != n {
		t.Fatalf("replay: %+v, want %d duplicates", again, n)
	}
	for _, got := range f.h.Faults() {
		if !refused[got] {
			t.Fatalf("fault %q (faults %v); want only the demo's refusals %v", got, f.h.Faults(), refused)
		}
	}
	f.verify()
}

// TestConnectorFaults: an expired window, a seq gap, a missing key
// version, a corrupt media chunk and withdrawn consent each raise their
// fault, and nothing that arrived is lost.
func TestConnectorFaults(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, pub3 := keys(t, 3) // a key version the firm never configured here
	f.svc = sim.New(map[int]*rsa.PublicKey{1: f.pubs[1], 2: f.pubs[2], 3: pub3[3]})
	f.svc.SetChunkSize(8 * 1024)
	lines := f.addDemo(2, 300)
	// A corrupt chunk in the media of a message after the gap.
	var victim string
	for _, l := range lines[220:] {
		if id, msgid := sdkFileID(l); id != "" {
			f.svc.CorruptChunk(id, 0)
			victim = msgid
			break
		}
	}
	if victim == "" {
		t.Fatal("no message with media after seq 220 in the demo data")
	}
	fx := fixtureLines(t)
	if _, err := f.svc.Add(fx["disagree"], 1, nil); err != nil { // seq 301
		t.Fatal(err)
	}
	if _, err := f.svc.Add(fx["text"], 3, nil); err != nil { // seq 302, unreadable here
		t.Fatal(err)
	}
	f.svc.Expire(120)   // the service dropped seq 1..120 before the first pull
	f.svc.Withhold(200) // and never delivers seq 200
	// The server's capture health: journaled faults and metrics.
	reg := prometheus.NewRegistry()
	h, err := capture.NewTracker(ctx, f.r.Engine, f.r.Store, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := f.connector("main")
	c.Health = tee{f.h, h}
	total := f.drain(c)
	if total.Cursor != 302 || total.Rejected != 1 {
		t.Fatalf("pulls: %+v", total)
	}
	// `wxarchive health` reads the journaled faults; /metrics the registry.
	rep, err := capture.BuildReport(ctx, f.r.Store, nil, nil, 7, time.Now(), time.UTC, h)
	if err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	for _, fr := range rep.Faults {
		reported[fr.Kind] = true
	}
	mfs, _ := reg.Gather()
	gauges := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "wxarchive_capture_faults_open" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					gauges[l.GetValue()] += m.GetGauge().GetValue()
				}
			}
		}
	}
	for _, kind := range []string{"data_expired", "seq_gap", "key_version_missing", "media_failed", "consent_withdrawn"} {
		if !reported[kind] || gauges[kind] < 1 {
			t.Errorf("fault %s: in the health report %v, wxarchive_capture_faults_open %v", kind, reported[kind], gauges[kind])
		}
	}
	faults := f.h.Faults()
	for _, want := range []string{"data_expired seq 1-120", "seq_gap seq 200-200", "key_version_missing publickey_ver 3",
		"media_failed " + victim, "consent_withdrawn wmExtClient002"} {
		found := false
		for _, got := range faults {
			found = found || got == want
		}
		if !found {
			t.Errorf("fault %q not raised; raised %v", want, faults)
		}
	}
	// Everything delivered is kept: the readable messages archived, the
	// unreadable one quarantined with its encrypted form, the corrupt
	// media stored and marked.
	msgs, _, faulty := f.counts()
	if msgs != 300-120-1+1 || faulty < 1 {
		t.Fatalf("%d messages (%d attachment faults), want %d", msgs, faulty, 300-120-1+1)
	}
	var rejects []string
	f.r.Store.Rejects(ctx, func(r store.RejectRow) error {
		rejects = append(rejects, r.Field+": "+r.Reason)
		return nil
	})
	if len(rejects) != 1 || !strings.Contains(rejects[0], "publickey_ver: no private key for publickey_ver 3") {
		t.Fatalf("quarantine %v", rejects)
	}
	rows, _ := f.r.Store.MessagesBySourceID(ctx, victim)
	atts, _ := f.r.Store.Attachments(ctx, rows[0].Serial)
	if len(atts) == 0 || atts[0].Status != archive.AttachmentMD5Mismatch || atts[0].Blob.IsZero() {
		t.Fatalf("corrupt media: %+v", atts)
	}
	f.verify()
}

// sdkFileID returns the first sdkfileid a demo line references and its msgid.
func sdkFileID(line []byte) (id, msgid string) {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		return "", ""
	}
	msgid, _ = m["msgid"].(string)
	for _, v := range m {
		if o, ok := v.(map[string]any); ok {
			if s, ok := o["sdkfileid"].(string); ok && s != "" {
				return s, msgid
			}
		}
	}
	return "", ""
}

// fixtureLines indexes testdata/all-types.jsonl by msgtype.
func fixtureLines(t *testing.T) map[string][]byte {
	b, err := os.ReadFile("../testdata/all-types.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, l := range bytes.Split(b, []byte("\n")) {
		var m struct {
			MsgType string `json:"msgtype"`
		}
		if json.Unmarshal(l, &m) == nil && m.MsgType != "" && out[m.MsgType] == nil {
			out[m.MsgType] = l
		}
	}
	return out
}

func TestKeyRing(t *testing.T) {
	ring, pubs := keys(t, 1, 2)
	if fmt.Sprint(ring.Versions()) != "[1 2]" {
		t.Fatalf("versions %v", ring.Versions())
	}
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pubs[2], []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(wrapped)
	if k, err := ring.Unwrap(2, b64); err != nil || k != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("unwrap: %q, %v", k, err)
	}
	var mk *finance.MissingKeyError
	if _, err := ring.Unwrap(7, b64); !errors.As(err, &mk) || mk.Version != 7 || !strings.Contains(err.Error(), "[1 2]") {
		t.Fatalf("missing version: %v", err)
	}
	if _, err := ring.Unwrap(1, b64); err == nil || !strings.Contains(err.Error(), "does not decrypt with key version 1") {
		t.Fatalf("wrong version: %v", err)
	}
	if _, err := ring.Unwrap(1, "%%%"); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Fatalf("bad base64: %v", err)
	}
	for _, tc := range []struct{ pem, want string }{
		{"not a pem", "no PEM block"},
		{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", `"PUBLIC KEY"`},
		{"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "key version 4"},
	} {
		if _, err := finance.ParseKeyRing(map[int][]byte{4: []byte(tc.pem)}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.pem, err, tc.want)
		}
	}
}
