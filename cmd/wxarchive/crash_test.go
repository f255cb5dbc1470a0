package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

type server struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	done chan error
	// token is an API token of a service user holding every role (made
	// once per archive, before its first serve): the API needs one.
	token string
	// stopped and exit: what stop saw, so a second stop (a deferred one
	// after an explicit one) returns at once.
	stopped bool
	exit    error
}

var (
	tokensMu sync.Mutex
	tokens   = map[string]string{}
)

// serviceToken returns the token of dir's test service user, creating
// the user and the token through the CLI the first time.
func serviceToken(t *testing.T, dir string) string {
	t.Helper()
	tokensMu.Lock()
	defer tokensMu.Unlock()
	if tok, ok := tokens[dir]; ok {
		return tok
	}
	mustCLI(t, "--dir", dir, "user", "add", "svc", "--role", "admin,principal,auditor,ingest", "--sso")
	out := mustCLI(t, "--dir", dir, "token", "create", "--name", "test", "--owner", "svc", "--json")
	var created struct{ Secret string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" {
		t.Fatalf("token create --json: %q: %v", out, err)
	}
	tokens[dir] = created.Secret
	return created.Secret
}

// stop ends the server with SIGTERM and waits for it, at most wait (then
// kills it): serve's exit error, or why it did not stop.
func (s *server) stop(wait time.Duration) error {
	if s.stopped {
		return s.exit
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case s.exit = <-s.done:
	case <-time.After(wait):
		s.cmd.Process.Kill()
		<-s.done
		s.exit = fmt.Errorf("serve did not stop within %s of SIGTERM", wait)
	}
	return s.exit
}

// do sends a request with the service token.
func (s *server) do(method, url, contentType string, body io.Reader) (*http.Response, error) {
	return s.doWith(http.DefaultClient, method, url, contentType, body)
}

func (s *server) doWith(c *http.Client, method, url, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return c.Do(req)
}

// startServe runs `wxarchive serve` on the archive in dir, with extra
// flags (by default --addr 127.0.0.1:0), and waits until it listens.
func startServe(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	if !slices.Contains(extra, "--addr") {
		extra = append(extra, "--addr", "127.0.0.1:0")
	}
	token := serviceToken(t, dir)
	cmd := exec.Command(binary, append([]string{"--dir", dir, "serve"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, out: &logs, done: make(chan error, 1), token: token}
	sc := bufio.NewScanner(stdout)
	ready := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "://"); i >= 0 && strings.Contains(sc.Text(), "wxarchive serving") {
				ready <- sc.Text()[i+len("://"):]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		t.Fatalf("serve exited at start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not start\n%s", logs.String())
	}
	return s
}

func crashLine(n int) string {
	return fmt.Sprintf(`{"msgid":"crash-%06d","action":"send","from":"zhangwei","tolist":["wmClient%03d"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"第%d条消息 保本 guaranteed"}}`,
		n, n%150, 1700000000000+int64(n)*1000, n)
}

type ackResult struct {
	Results []struct {
		MsgID   string `json:"msgid"`
		Outcome string `json:"outcome"`
		Serial  uint64 `json:"serial"`
	} `json:"results"`
}

// TestCrashDurability kills the server with SIGKILL at random moments while
// clients stream messages, and checks after every crash that every
// acknowledged message is there with the serial it was acknowledged with,
// that nothing is duplicated, that serials have no gaps, and that verify
// finds the archive clean.
func TestCrashDurability(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))

	var mu sync.Mutex
	acked := map[string]uint64{} // msgid → serial
	unacked := map[int]bool{}    // message numbers sent but not acknowledged
	next := 0
	client := &http.Client{Timeout: 30 * time.Second}
	api := &server{token: serviceToken(t, dir)}

	send := func(addr string, nums []int) error {
		var body strings.Builder
		for _, n := range nums {
			body.WriteString(crashLine(n) + "\n")
		}
		resp, err := api.doWith(client, "POST", "http://"+addr+"/api/v1/ingest/wecom-archive", "application/x-ndjson", strings.NewReader(body.String()))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var ack ackResult
		if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, r := range ack.Results {
			if r.Outcome != "archived" && r.Outcome != "duplicate" {
				return fmt.Errorf("%s: outcome %s", r.MsgID, r.Outcome)
			}
			if prev, ok := acked[r.MsgID]; ok && prev != r.Serial {
				return fmt.Errorf("%s acknowledged as serial %d, then %d", r.MsgID, prev, r.Serial)
			}
			acked[r.MsgID] = r.Serial
			delete(unacked, nums[i])
		}
		return nil
	}

	const rounds = 22
	srv := startServe(t, dir)
	for round := 0; round < rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var protoErr error
		for c := 0; c < 3; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					var nums []int
					// Re-send what a crash left unacknowledged: at-least-once capture.
					for n := range unacked {
						if len(nums) < 3 && n%3 == c {
							nums = append(nums, n)
						}
					}
					for k := 1 + next%4; k > 0; k-- {
						nums = append(nums, next)
						unacked[next] = true
						next++
					}
					mu.Unlock()
					if err := send(srv.addr, nums); err != nil {
						select {
						case <-stop: // expected: the server was killed
						default:
							if !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") {
								mu.Lock()
								protoErr = err
								mu.Unlock()
							}
						}
						return
					}
				}
			}(c)
		}
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		close(stop)
		wg.Wait()
		if protoErr != nil {
			t.Fatalf("round %d: %v\n%s", round, protoErr, srv.out.String())
		}
		t0 := time.Now()
		checkAcked(t, dir, acked, round, false)
		t1 := time.Now()
		// Restart: the server seals what the crash left pending before it
		// serves; the archive must then verify clean.
		srv = startServe(t, dir)
		t2 := time.Now()
		checkAcked(t, dir, acked, round, true)
		if testing.Verbose() {
			t.Logf("round %d: %d acknowledged; check %v, restart %v, check+verify %v", round, len(acked), t1.Sub(t0), t2.Sub(t1), time.Since(t2))
		}
	}
	// A clean stop seals everything.
	mu.Lock()
	var rest []int
	for n := range unacked {
		rest = append(rest, n)
	}
	mu.Unlock()
	if len(rest) > 0 {
		if err := send(srv.addr, rest); err != nil {
			t.Fatal(err)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, srv.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	checkAcked(t, dir, acked, rounds, true)
	r, err := archivetest.Open(context.Background(), dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	h, _ := r.Store.Head(context.Background())
	c, _ := r.Store.Counts(context.Background())
	if c.PendingRecords != 0 || h.SealedSize != h.JournalSize {
		t.Fatalf("after SIGTERM: %d records pending, %d of %d journal events sealed", c.PendingRecords, h.SealedSize, h.JournalSize)
	}
	if len(acked) < 500 {
		t.Fatalf("only %d messages acknowledged over %d rounds: the test exercised too little", len(acked), rounds)
	}
	t.Logf("%d messages acknowledged across %d crashes", len(acked), rounds)
}

func checkAcked(t *testing.T, dir string, acked map[string]uint64, round int, runVerify bool) {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	defer r.Close(ctx)
	for id, serial := range acked {
		rows, err := r.Store.MessagesBySourceID(ctx, id)
		if err != nil {
			t.Fatalf("round %d: acknowledged %s (serial %d) is missing: %v", round, id, serial, err)
		}
		if len(rows) != 1 || rows[0].Serial != serial {
			t.Fatalf("round %d: %s acknowledged as serial %d, archive has %+v", round, id, serial, rows)
		}
	}
	h, err := r.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(c.Messages) != h.NextSerial-1 || c.Conflicts != 0 {
		t.Fatalf("round %d: %d messages but serials run to %d (%d conflicts)", round, c.Messages, h.NextSerial-1, c.Conflicts)
	}
	for s := uint64(1); s < h.NextSerial; s++ {
		if _, err := r.Store.Message(ctx, s); err != nil {
			t.Fatalf("round %d: serial %d: %v", round, s, err)
		}
	}
	if !runVerify {
		return
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: engines().Scratch, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("round %d: verify: %+v", round, rep.Faults)
	}
}
