package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/witness"
)

// witnessProc is a `wxarchive witness serve` process.
type witnessProc struct {
	cmd  *exec.Cmd
	addr string
	key  string
	logs *lockedBuffer
	done chan error
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startWitness(t *testing.T, dir string, logs ...string) *witnessProc {
	t.Helper()
	args := []string{"--dir", dir, "witness", "serve", "--addr", "127.0.0.1:0", "--name", "witness.test/w"}
	for _, l := range logs {
		args = append(args, "--log", l)
	}
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &witnessProc{cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "witness public key: "); ok {
				w.key = k
			}
			if i := strings.Index(line, "http://"); i >= 0 {
				w.addr = line[i+len("http://"):]
				close(ready)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { w.done <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-w.done:
		t.Fatalf("witness serve exited: %v\n%s", err, w.logs)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("witness serve did not start\n%s", w.logs)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return w
}

type verifyFaults struct {
	OK     bool `json:"ok"`
	Faults []struct {
		Kind   string `json:"kind"`
		Object string `json:"object"`
		Detail string `json:"detail"`
	} `json:"faults"`
}

func runVerifyJSON(t *testing.T, args ...string) (verifyFaults, int) {
	t.Helper()
	out, errs, code := runCLI(t, args...)
	var rep verifyFaults
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s\n%s", err, out, errs)
	}
	return rep, code
}

func (v verifyFaults) count(kind string) int {
	n := 0
	for _, f := range v.Faults {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// setWitnesses rewrites the witnesses section of an archive's
// configuration, as an operator edits wxarchive.yaml.
func setWitnesses(t *testing.T, dir, section string) {
	t.Helper()
	path := filepath.Join(dir, repo.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i := strings.Index(s, "\n# witness-test\n"); i >= 0 {
		s = s[:i+1]
	}
	if err := os.WriteFile(path, []byte(s+"# witness-test\n"+section), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCLIWitness runs the whole story with real processes: a witness on
// "another host" (its own process and directory), an archive that
// publishes to it and to a witness directory while ingesting and serving,
// a restore of the archive from an older copy that verify alone accepts
// and verify with the witnesses rejects, and a server that, restarted on
// the restored archive, is refused by the witnesses and says so in health
// and metrics.
func TestCLIWitness(t *testing.T) {
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	wdir := t.TempDir()
	wp := startWitness(t, filepath.Join(t.TempDir(), "state"), cfg.Origin+"="+cfg.PublicKey)
	if wp.key == "" {
		t.Fatal("witness serve printed no public key")
	}
	section := fmt.Sprintf("witnesses:\n  - dir: %s\n  - url: http://%s/checkpoints/\n    name: plain\n  - url: http://%s/\n    kind: c2sp\n    key: %s\nwitness_interval: 200ms\n",
		wdir, wp.addr, wp.addr, wp.key)
	setWitnesses(t, dir, section)

	// ingest publishes the checkpoint it ends with.
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	size := cliGetStats(t, dir).JournalSize
	st, err := witness.OpenStore(wdir, cfg.Origin, false)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := st.Latest(); err != nil || e == nil || e.Size != size {
		t.Fatalf("witness directory after ingest: %+v %v (journal %d)", e, err, size)
	}
	cliVerifyOK(t, dir)
	old := filepath.Join(t.TempDir(), "old")
	if out, err := exec.Command("cp", "-a", dir, old).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	var kept bytes.Buffer
	if e, _ := st.Latest(); e != nil {
		kept.Write(e.Note)
	}

	// serve publishes while it runs.
	srv := startServe(t, dir)
	body := strings.Join([]string{crashLine(1), crashLine(2), crashLine(3)}, "\n")
	resp, err := srv.do("POST", "http://"+srv.addr+"/api/v1/ingest/wecom-archive?corp=ww1", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest over HTTP: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, _ := st.Latest()
		if e != nil && e.Size > size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not publish within 20s\n%s", srv.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each witness is published to on its own: the directory's having the
	// checkpoint says nothing of the others yet.
	for _, name := range []string{"plain", "127.0.0.1"} {
		for {
			resp, err = srv.do("GET", "http://"+srv.addr+"/metrics", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(metrics), `wxarchive_witness_publish_total{outcome="ok",witness="`+name) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics lack successful publications to %s:\n%s", name, grepLines(string(metrics), "wxarchive_witness"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-srv.done; err != nil {
		t.Fatalf("serve: %v\n%s", err, srv.out)
	}
	final := cliGetStats(t, dir).JournalSize
	if e, _ := st.Latest(); e == nil || e.Size != final {
		t.Fatalf("the checkpoint of serve's last seal was not published: %+v, journal %d", e, final)
	}

	// Restore the archive from the older copy.
	os.RemoveAll(dir)
	if out, err := exec.Command("cp", "-a", old, dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// Without the witnesses (an insider removes the section), verify
	// passes: the archive agrees with itself.
	setWitnesses(t, dir, "")
	cliVerifyOK(t, dir)
	// The auditor's witnesses catch it.
	rep, code := runVerifyJSON(t, "--dir", dir, "verify", "--json",
		"--witness", wdir, "--witness", "http://"+wp.addr+"/checkpoints/",
		"--witness", "c2sp+http://"+wp.addr+"/", "--witness-key", wp.key)
	if code != 1 || rep.OK || rep.count("witness.rollback") < 3 {
		t.Fatalf("verify with the witnesses: exit %d %+v", code, rep)
	}
	// So does a checkpoint the auditor kept... no: the kept one is from
	// before the restore point; a newer one, taken from the witness, is.
	keptFile := filepath.Join(t.TempDir(), "kept.cp")
	e, _ := st.Latest()
	os.WriteFile(keptFile, e.Note, 0o644)
	rep, code = runVerifyJSON(t, "--dir", dir, "verify", "--json", "--checkpoint", keptFile)
	if code != 1 || rep.count("witness.rollback") != 1 {
		t.Fatalf("verify --checkpoint: exit %d %+v", code, rep)
	}
	rep, code = runVerifyJSON(t, "--dir", dir, "verify", "--json", "--checkpoint", writeTemp(t, kept.Bytes()))
	if code != 0 || !rep.OK {
		t.Fatalf("a checkpoint older than the restore point must verify: exit %d %+v", code, rep)
	}
	// With the configured witnesses back, plain verify catches it too.
	setWitnesses(t, dir, section)
	if rep, code := runVerifyJSON(t, "--dir", dir, "verify", "--json"); code != 1 || rep.count("witness.rollback") < 3 {
		t.Fatalf("verify with the configured witnesses: exit %d %+v", code, rep)
	}

	// serve on the restored archive: every witness refuses its checkpoint,
	// health shows it, serving goes on.
	srv = startServe(t, dir)
	deadline = time.Now().Add(20 * time.Second)
	var health struct {
		Faults []struct {
			Connector string `json:"connector"`
			Kind      string `json:"kind"`
			Subject   string `json:"subject"`
		} `json:"faults"`
	}
	for {
		out, _, _ := runCLI(t, "--dir", dir, "health", "--json")
		json.Unmarshal([]byte(out), &health)
		n := 0
		for _, f := range health.Faults {
			if f.Kind == witness.FaultRefused && f.Connector == "archive" {
				n++
			}
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health does not show three refusing witnesses: %+v\n%s", health, srv.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp, err = http.Get("http://" + srv.addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("serve not ready while witnesses refuse: %v %v", resp, err)
	}
	resp.Body.Close()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	if !strings.Contains(srv.out.String(), "witness refused") {
		t.Fatalf("serve did not log the refusal:\n%s", srv.out)
	}
	// The witness server kept the refused checkpoints as evidence.
	if !strings.Contains(wp.logs.String(), "checkpoint refused") {
		t.Fatalf("the witness did not log the refusal:\n%s", wp.logs)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "cp")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCLIWitnessUsage: mistakes are usage errors that name what is wrong.
func TestCLIWitnessUsage(t *testing.T) {
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"witness", "serve", "--log", "a=b"}, "needs --dir"},
		{[]string{"--dir", dir, "witness", "serve", "--log", "x=y"}, "holds an archive"},
		{[]string{"--dir", t.TempDir(), "witness", "serve"}, "--log"},
		{[]string{"--dir", t.TempDir(), "witness", "serve", "--log", "wxarchive.local/x=notakey"}, "public key"},
		{[]string{"--dir", dir, "verify", "--witness", "c2sp+https://w.example/"}, "--witness-key"},
		{[]string{"--dir", dir, "verify", "--witness", "ftp://w.example/"}, "directory, an http(s)"},
		{[]string{"--dir", dir, "verify", "--witness", "https://user:pw@w.example/"}, "credentials"},
		{[]string{"--dir", dir, "verify", "--checkpoint", "/nonexistent/cp"}, "--checkpoint"},
	} {
		out, errs, code := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) || strings.Contains(errs, "pw@") {
			t.Errorf("%v: exit %d, want 2 naming %q\n%s%s", c.args, code, c.want, out, errs)
		}
	}
	setWitnesses(t, dir, "witnesses:\n  - url: https://w.example/\n    kind: c2sp\n")
	if _, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture); code != exitUsage || !strings.Contains(errs, "witnesses[0].key") {
		t.Errorf("a c2sp witness without a key: exit %d\n%s", code, errs)
	}
}
