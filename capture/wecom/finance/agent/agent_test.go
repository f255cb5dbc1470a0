package agent_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/agent"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/sim"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

// TestMain doubles as the agent process: with WXA_AGENT_HELPER set, the
// test binary serves a simulated SDK on stdin/stdout (the same messages in
// every process, from the demo seed) and, with WXA_AGENT_CRASH_AFTER, dies
// the hard way after that many calls — as the vendor library can.
func TestMain(m *testing.M) {
	if os.Getenv("WXA_AGENT_HELPER") != "" {
		if err := helper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper() error {
	pemBytes, err := os.ReadFile(os.Getenv("WXA_AGENT_KEY"))
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pemBytes)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(os.Getenv("WXA_AGENT_MESSAGES"))
	svc := sim.New(map[int]*rsa.PublicKey{1: &key.PublicKey})
	if err := Fill(svc, 7, n); err != nil {
		return err
	}
	var sdk finance.SDK = svc.Open()
	if k, _ := strconv.Atoi(os.Getenv("WXA_AGENT_CRASH_AFTER")); k > 0 {
		sdk = &crasher{SDK: sdk, left: int64(k)}
	}
	return agent.Serve(context.Background(), sdk, os.Stdin, os.Stdout)
}

// Fill adds n demo messages (media included) to a simulated service.
func Fill(svc *sim.Service, seed int64, n int) error {
	media := map[string][]byte{}
	var lines [][]byte
	if _, err := demo.Generate(demo.Config{Seed: seed, Messages: n}, func(l []byte) error {
		lines = append(lines, append([]byte(nil), l...))
		return nil
	}, func(id string, data []byte) error {
		media[id] = append([]byte(nil), data...)
		return nil
	}); err != nil {
		return err
	}
	for i, l := range lines {
		var m map[string][]byte
		if i == 0 {
			m = media
		}
		if _, err := svc.Add(l, 1, m); err != nil {
			return err
		}
	}
	return nil
}

type crasher struct {
	finance.SDK
	left int64
}

func (c *crasher) tick() {
	if atomic.AddInt64(&c.left, -1) == 0 {
		os.Exit(139) // as a segfault in the vendor library would end it
	}
}

func (c *crasher) GetChatData(ctx context.Context, seq uint64, limit uint32, p, pw string, t time.Duration) ([]byte, error) {
	c.tick()
	return c.SDK.GetChatData(ctx, seq, limit, p, pw, t)
}

func (c *crasher) DecryptData(k, m string) ([]byte, error) {
	c.tick()
	return c.SDK.DecryptData(k, m)
}

// TestServeInProcess: every call and error code crosses the protocol.
func TestServeInProcess(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	svc := sim.New(map[int]*rsa.PublicKey{1: &key.PublicKey})
	svc.SetChunkSize(3)
	if _, err := svc.Add([]byte(`{"msgid":"m1","action":"send","msgtype":"text","text":{"content":"保本"}}`), 1, map[string][]byte{"f1": []byte("0123456789")}); err != nil {
		t.Fatal(err)
	}
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	go agent.Serve(ctx, svc.Open(), reqR, respW)
	c := agent.NewClient(reqW, respR)
	b, err := c.GetChatData(ctx, 0, 10, "", "", time.Second)
	cd, perr := finance.ParseChatData(b)
	if err != nil || perr != nil || len(cd.ChatData) != 1 {
		t.Fatalf("GetChatData: %s %v %v", b, err, perr)
	}
	var fe *finance.Error
	if _, err := c.GetChatData(ctx, 0, 0, "", "", time.Second); err != nil {
		t.Fatalf("limit 0 is an errcode in the answer, not a call failure: %v", err)
	}
	if _, err := c.DecryptData("short", "x"); !errors.As(err, &fe) || fe.Code != finance.ErrDecrypt {
		t.Fatalf("DecryptData: %v", err)
	}
	var media []byte
	idx := ""
	for {
		ch, err := c.GetMediaData(ctx, idx, "f1", "", "", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		media = append(media, ch.Data...)
		if ch.IsFinish {
			break
		}
		idx = ch.OutIndexBuf
	}
	if string(media) != "0123456789" {
		t.Fatalf("media %q", media)
	}
	svc.Fail("GetMediaData", finance.ErrNetwork, 1)
	if _, err := c.GetMediaData(ctx, "", "f1", "", "", time.Second); !errors.As(err, &fe) || !fe.Retryable() {
		t.Fatalf("injected 10001: %v", err)
	}
}

// TestAgentProcessCrash: a child that dies mid-call fails the call with
// ErrAgentDied (not a hang), and a new child serves the same data.
func TestAgentProcessCrash(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	env := []string{"WXA_AGENT_HELPER=1", "WXA_AGENT_KEY=" + keyFile, "WXA_AGENT_MESSAGES=50", "WXA_AGENT_CRASH_AFTER=3"}
	c, err := agent.Start(os.Args[0], []string{"-test.run=^$"}, env, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.GetChatData(ctx, 0, 5, "", "", time.Second); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := c.GetChatData(ctx, 0, 5, "", "", time.Second); !errors.Is(err, agent.ErrAgentDied) {
		t.Fatalf("call into a crashing agent: %v", err)
	}
	if _, err := c.DecryptData("k", "m"); !errors.Is(err, agent.ErrAgentDied) {
		t.Fatalf("call after the crash: %v", err)
	}
	c2, err := agent.Start(os.Args[0], []string{"-test.run=^$"}, env[:3], os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	b, err := c2.GetChatData(ctx, 0, 1000, "", "", time.Second)
	cd, _ := finance.ParseChatData(b)
	if err != nil || cd == nil || len(cd.ChatData) != 50 {
		t.Fatalf("new agent: %v", err)
	}
}

// TestAcceptance50k is the end-to-end test: the simulator serves
// 50,000 encrypted messages of every msgtype with media; the connector,
// with the SDK in agent processes, archives all of them exactly once
// through two restarts and one SDK crash (the agent process dies); all
// media md5s match; verify is clean; capture health has no fault but the
// consent refusals in the data.
func TestAcceptance50k(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 3000
	}
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, keyPEM, 0o600)
	ring, err := finance.ParseKeyRing(map[int][]byte{1: keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	dir := archivetest.InitDir(t, repo.InitOptions{})
	env := []string{"WXA_AGENT_HELPER=1", "WXA_AGENT_KEY=" + keyFile, "WXA_AGENT_MESSAGES=" + strconv.Itoa(n)}
	agents := 0
	crashNext := true
	run := func(pages int) (restarts int) {
		r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		h, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &pull.Connector{ID: "archive", CorpID: demo.DefaultCorpID, Keys: ring, Engine: r.Engine, Blobs: r.Blobs,
			Store: r.Store, Health: h, Backoff: time.Millisecond,
			Open: func() (finance.SDK, error) {
				agents++
				e := env
				if crashNext { // the first agent dies in the middle of a page
					e, crashNext = append(e, "WXA_AGENT_CRASH_AFTER=700"), false
				}
				return agent.Start(os.Args[0], []string{"-test.run=^$"}, e, io.Discard)
			}}
		defer c.Close()
		for i := 0; pages < 0 || i < pages; i++ {
			res, err := c.Pull(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !res.More {
				break
			}
		}
		return c.Restarts()
	}
	// Two stops and starts of the whole archive, one agent crash.
	crashes := run(3)
	crashes += run(10)
	crashes += run(-1)
	if crashes != 1 || agents != 4 {
		t.Fatalf("%d agent crashes and %d agents; want 1 crash (4 agents: one per run, one after the crash)", crashes, agents)
	}

	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	counts, err := r.Store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Messages != int64(n) || counts.Conflicts != 0 || counts.Rejects != 0 || counts.AttachFaults != 0 || counts.Attachments == 0 {
		t.Fatalf("counts %+v: want %d messages exactly once, every attachment fetched intact", counts, n)
	}
	open, err := r.Store.OpenFaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range open {
		if f.Kind != capture.FaultConsentWithdrawn {
			t.Fatalf("open fault %+v", f)
		}
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify: %+v", rep.Faults)
	}
}
