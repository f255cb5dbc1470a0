package witness_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/witness"
)

func TestCosignatureRoundTrip(t *testing.T) {
	skey, vkey, err := witness.GenerateCosignerKey("witness.example.com/w1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	c, err := witness.NewCosigner(skey, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	if c.VerifierKey() != vkey {
		t.Fatalf("verifier key %q, generated %q", c.VerifierKey(), vkey)
	}
	v, err := witness.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	text := "example.com/log\n5\n" + strings.Repeat("A", 43) + "=\n"
	signed, err := note.Sign(&note.Note{Text: text}, c)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("open cosigned note: %v", err)
	}
	if ts, ok := witness.CosignatureTime(n.Sigs[0]); !ok || !ts.Equal(at) {
		t.Fatalf("cosignature time %v %v, want %v", ts, ok, at)
	}
	// The signed message binds the time: changing the timestamp bytes
	// breaks the signature, as does changing the text.
	if _, err := note.Open(bytes.Replace(signed, []byte("\n5\n"), []byte("\n6\n"), 1), note.VerifierList(v)); err == nil {
		t.Fatal("a changed text verified")
	}
	line, err := c.SignatureLine([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append([]byte(text+"\n"), line...), signed) {
		t.Fatalf("SignatureLine differs from note.Sign:\n%s\n%s", line, signed)
	}
	// The key type is cosignature/v1 (0x04): an ordinary note key of the
	// same name does not verify it, and a note key is not a witness key.
	_, other, _ := note.GenerateKey(nil, "witness.example.com/w1")
	if _, err := witness.NewCosignatureVerifier(other); !errors.Is(err, witness.ErrBadKey) {
		t.Fatalf("an Ed25519 note key (type 0x01) was accepted as a cosignature key: %v", err)
	}
	bad := vkey[:len(vkey)-6] + "AAAAA="
	if _, err := witness.NewCosignatureVerifier(bad); err == nil {
		t.Fatal("a key whose hash does not match was accepted")
	}
	if _, _, err := witness.GenerateCosignerKey("has space"); err == nil {
		t.Fatal("a name with a space was accepted")
	}
}

func TestStoreIsMonotonicAndAtomic(t *testing.T) {
	l := newTestLog(t)
	base := t.TempDir()
	st, err := witness.OpenStore(base, l.origin, true)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(cp *journal.Checkpoint) *witness.Entry {
		return &witness.Entry{Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Note: cp.Note}
	}
	cp5 := l.grow(5)
	cp9 := l.grow(4)
	for _, cp := range []*journal.Checkpoint{cp5, cp9} {
		if stored, err := st.Append(entry(cp), nil); err != nil || !stored {
			t.Fatalf("append %d: %v %v", cp.Size, stored, err)
		}
	}
	if stored, err := st.Append(entry(cp9), nil); err != nil || stored {
		t.Fatalf("the same tree again: stored %v, %v", stored, err)
	}
	if _, err := st.Append(entry(cp5), nil); !errors.Is(err, witness.ErrStale) {
		t.Fatalf("a smaller tree: %v", err)
	}
	other := l.fork(3).grow(6)
	if _, err := st.Append(entry(other), nil); !errors.Is(err, witness.ErrConflict) {
		t.Fatalf("another root for the same size: %v", err)
	}
	sizes, err := st.Sizes()
	if err != nil || len(sizes) != 2 || sizes[0] != 5 || sizes[1] != 9 {
		t.Fatalf("sizes %v %v", sizes, err)
	}
	latest, err := st.Latest()
	if err != nil || latest.Size != 9 || !bytes.Equal(latest.Note, cp9.Note) {
		t.Fatalf("latest %+v %v", latest, err)
	}
	dir := filepath.Join(base, "wxarchive.local%2F0123456789abcdef")
	for _, name := range []string{"5", "9", "latest"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o444 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
	// A size file holding another size is malformed, not trusted.
	os.Chmod(filepath.Join(dir, "5"), 0o644)
	os.WriteFile(filepath.Join(dir, "5"), cp9.Note, 0o444)
	if _, err := st.Read(5); !errors.Is(err, witness.ErrMalformed) {
		t.Fatalf("size file with another size: %v", err)
	}
	// Origins cannot escape the base directory.
	for _, o := range []string{"..", ".", "", "a\nb"} {
		if _, err := witness.OpenStore(base, o, true); !errors.Is(err, witness.ErrMalformed) {
			t.Fatalf("origin %q: %v", o, err)
		}
	}
	if name, _ := witness.OriginDir("../../etc"); strings.Contains(name, "/") {
		t.Fatalf("origin ../../etc names %q", name)
	}
}

// server starts a real witness server (the one `wxarchive witness serve`
// runs) for the log.
func server(t *testing.T, logs ...witness.LogKey) (*httptest.Server, string, string) {
	t.Helper()
	skey, vkey, err := witness.GenerateCosignerKey("witness.test/w1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := witness.NewCosigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := witness.NewServer(dir, logs, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, vkey, dir
}

type kind struct {
	name string
	open func(t *testing.T, l *testLog) witness.Witness
}

func kinds() []kind {
	return []kind{
		{"dir", func(t *testing.T, l *testLog) witness.Witness {
			return witness.NewDirWitness("dir", t.TempDir())
		}},
		{"http", func(t *testing.T, l *testLog) witness.Witness {
			ts, _, _ := server(t, l.logKey())
			w, err := witness.NewHTTPWitness("http", ts.URL+"/checkpoints/", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}},
		{"c2sp", func(t *testing.T, l *testLog) witness.Witness {
			ts, vkey, _ := server(t, l.logKey())
			w, err := witness.NewC2SPWitness("c2sp", ts.URL, "", []string{vkey}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}},
	}
}

func refused(t *testing.T, err error, reason string) {
	t.Helper()
	var re *witness.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, witness.ErrRefused) || re.Reason != reason {
		t.Fatalf("want a refusal (%s), got %v", reason, err)
	}
}

// TestPublishAndReadBack runs every kind of witness through a log's life:
// it grows, is published, then is rolled back and rewritten; every kind
// refuses the last two and keeps what it had.
func TestPublishAndReadBack(t *testing.T) {
	ctx := context.Background()
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			l := newTestLog(t)
			w := k.open(t, l)
			var last *journal.Checkpoint
			for _, n := range []int{1, 6, 17, 40} {
				last = l.grow(n)
				ack, err := w.Publish(ctx, last, l.log())
				if err != nil || ack.Size != last.Size {
					t.Fatalf("publish %d: %+v %v", last.Size, ack, err)
				}
				if k.name == "c2sp" && len(ack.Cosigned) == 0 {
					t.Fatal("no cosigned checkpoint")
				}
			}
			// Publishing the same checkpoint again is idempotent.
			if _, err := w.Publish(ctx, last, l.log()); err != nil {
				t.Fatalf("republish: %v", err)
			}
			// A rollback: the archive's newest checkpoint is older.
			_, err := w.Publish(ctx, l.checkpointAt(24), l.log())
			refused(t, err, witness.ReasonRollback)
			// A rewrite: same key, other leaves after 10, larger tree.
			rw := l.fork(10)
			_, err = w.Publish(ctx, rw.grow(60), rw.log())
			refused(t, err, witness.ReasonInconsistent)
			// A rewrite of the same size.
			rw2 := l.fork(10)
			_, err = w.Publish(ctx, rw2.grow(int(last.Size)-10), rw2.log())
			refused(t, err, witness.ReasonInconsistent)

			got, err := w.Witnessed(ctx, l.origin, 0)
			if err != nil || len(got) == 0 {
				t.Fatalf("witnessed: %v %v", got, err)
			}
			newest := got[len(got)-1]
			if newest.Err != nil || newest.Size != last.Size {
				t.Fatalf("newest witnessed %+v", newest)
			}
			cp, err := l.verifier.Open(newest.Note)
			if err != nil || !bytes.Equal(cp.Root, last.Root) {
				t.Fatalf("witnessed note does not verify as the last published: %v", err)
			}
			if k.name != "c2sp" && len(got) != 4 {
				t.Fatalf("a store keeps every published size: %d entries", len(got))
			}
			if got, _ := w.Witnessed(ctx, "wxarchive.local/other", 0); len(got) != 0 {
				t.Fatalf("another origin: %+v", got)
			}
		})
	}
}

func TestC2SPCosignatureChecked(t *testing.T) {
	ctx := context.Background()
	l := newTestLog(t)
	ts, _, _ := server(t, l.logKey())
	_, wrongKey, _ := witness.GenerateCosignerKey("witness.test/w1")
	w, err := witness.NewC2SPWitness("c2sp", ts.URL, "", []string{wrongKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Publish(ctx, l.grow(3), l.log()); !errors.Is(err, witness.ErrUnreachable) || !strings.Contains(err.Error(), "cosignature") {
		t.Fatalf("a cosignature under another key was accepted: %v", err)
	}
	got, err := w.Witnessed(ctx, l.origin, 0)
	if err != nil || len(got) != 1 || !errors.Is(got[0].Err, witness.ErrCosignature) {
		t.Fatalf("read back under the wrong key: %+v %v", got, err)
	}
}

func post(t *testing.T, url, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func addBody(old uint64, proof [][]byte, cp []byte) string {
	return string((&witness.AddCheckpoint{Old: old, Proof: proof, Checkpoint: cp}).Marshal())
}

// TestServerProtocol checks the witness server's answers against
// c2sp.org/tlog-witness, request by request.
func TestServerProtocol(t *testing.T) {
	ctx := context.Background()
	l := newTestLog(t)
	ts, vkey, dir := server(t, l.logKey())
	u := ts.URL + "/add-checkpoint"
	cp8 := l.grow(8)
	v, _ := witness.NewCosignatureVerifier(vkey)

	code, _, body := post(t, u, addBody(0, nil, cp8.Note))
	if code != 200 {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	if _, err := note.Open(append(bytes.Clone(cp8.Note), body...), note.VerifierList(v)); err != nil {
		t.Fatalf("the answer is not a cosignature line: %v\n%s", err, body)
	}
	cp20 := l.grow(12)
	// A stale old size: 409 with the size held, as text/x.tlog.size.
	code, ctype, body := post(t, u, addBody(0, nil, cp20.Note))
	if code != 409 || ctype != "text/x.tlog.size" || body != "8\n" {
		t.Fatalf("stale old size: %d %q %q", code, ctype, body)
	}
	// A proof that does not verify: 422.
	p, _ := l.log().ConsistencyProof(ctx, 8, 20)
	badProof := append([][]byte{}, p...)
	badProof[0] = bytes.Repeat([]byte{1}, 32)
	if code, _, body := post(t, u, addBody(8, badProof, cp20.Note)); code != 422 {
		t.Fatalf("bad proof: %d %s", code, body)
	}
	// Old larger than the checkpoint: 400.
	if code, _, _ := post(t, u, addBody(30, nil, cp20.Note)); code != 400 {
		t.Fatalf("old > size: %d", code)
	}
	// Unknown origin: 404; a signature by another key: 403; garbage: 400.
	other := newTestLogWithKey(t, "wxarchive.local/other", l.skey, l.pub)
	if code, _, _ := post(t, u, addBody(0, nil, other.grow(2).Note)); code != 404 {
		t.Fatalf("unknown origin: %d", code)
	}
	skey2, vkey2, _ := journal.GenerateKey("wxarchive-test")
	forger := newTestLogWithKey(t, l.origin, skey2, vkey2)
	if code, _, _ := post(t, u, addBody(8, nil, forger.grow(8).Note)); code != 403 {
		t.Fatalf("another key: %d", code)
	}
	if code, _, _ := post(t, u, "old 0\n\nnot a checkpoint\n"); code != 400 {
		t.Fatalf("garbage: %d", code)
	}
	if code, _, _ := post(t, u, strings.Repeat("x", witness.MaxBodySize+10)); code != 413 {
		t.Fatalf("oversize body: %d", code)
	}
	// The right proof: 200.
	if code, _, body := post(t, u, addBody(8, p, cp20.Note)); code != 200 {
		t.Fatalf("good proof: %d %s", code, body)
	}
	// A rolled-back checkpoint (size 8 < 20, correctly signed) and a
	// same-size rewrite are refused, and kept as evidence.
	if code, ctype, body := post(t, u, addBody(20, nil, l.checkpointAt(8).Note)); code != 400 {
		t.Fatalf("rollback with old 20: %d %s %s", code, ctype, body)
	}
	rolledBack := l.checkpointAt(8).Note
	for range 3 { // replayed: kept once
		if code, _, body := post(t, u, addBody(8, nil, rolledBack)); code != 409 || body != "20\n" {
			t.Fatalf("rollback with old 8: %d %s", code, body)
		}
	}
	rw := l.fork(5)
	if code, _, body := post(t, u, addBody(20, nil, rw.grow(15).Note)); code != 409 || body != "20\n" {
		t.Fatalf("same-size rewrite: %d %s", code, body)
	}
	rw2 := l.fork(5)
	rcp := rw2.grow(25)
	rp, _ := rw2.log().ConsistencyProof(ctx, 20, 30)
	if code, _, body := post(t, u, addBody(20, rp, rcp.Note)); code != 422 {
		t.Fatalf("larger rewrite: %d %s", code, body)
	}
	// The state is still the tree of 20.
	resp, err := http.Get(ts.URL + "/cosigned/" + "wxarchive.local%2F0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	e, err := witness.ParseNote(b)
	if err != nil || e.Size != 20 {
		t.Fatalf("state after refusals: %v %+v", err, e)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, witness.C2SPDir, "wxarchive.local%2F0123456789abcdef"))
	var evidence int
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), "refused-") {
			evidence++
		}
	}
	if evidence != 4 {
		t.Fatalf("refused checkpoints kept as evidence: %d, want 4 (a bad proof, a rollback, a same-size and a larger rewrite)", evidence)
	}
}

func TestServerPlainStore(t *testing.T) {
	l := newTestLog(t)
	ts, _, _ := server(t, l.logKey())
	base := ts.URL + "/checkpoints/wxarchive.local%2F0123456789abcdef/"
	cp3, cp7 := l.grow(3), l.grow(4)
	for _, c := range []struct {
		note []byte
		want int
	}{{cp3.Note, 201}, {cp7.Note, 201}, {cp7.Note, 200}, {cp3.Note, 409}, {l.fork(1).grow(6).Note, 409}} {
		if code, _, body := post(t, base, string(c.note)); code != c.want {
			t.Fatalf("post: %d %s, want %d", code, body, c.want)
		}
	}
	if code, _, _ := post(t, ts.URL+"/checkpoints/wxarchive.local%2Fother/", string(cp7.Note)); code != 400 {
		t.Fatalf("origin in the path differs: %d", code)
	}
	resp, _ := http.Get(base)
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "3\n7\n" {
		t.Fatalf("listing %q", b)
	}
	resp, _ = http.Get(base + "latest")
	b, _ = io.ReadAll(resp.Body)
	if !bytes.Equal(b, cp7.Note) {
		t.Fatalf("latest %q", b)
	}
	resp, _ = http.Get(base + "5")
	if resp.StatusCode != 404 {
		t.Fatalf("absent size: %d", resp.StatusCode)
	}
}

type fault struct{ kind, subject, detail, state string }

// faults records what Publishing reports to capture health.
type faults struct {
	mu   sync.Mutex
	open map[string]bool
	log  []fault
}

func (f *faults) Raise(_ context.Context, id, kind, subject, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		f.open = map[string]bool{}
	}
	if !f.open[kind+subject] {
		f.open[kind+subject] = true
		f.log = append(f.log, fault{kind, subject, detail, "raised"})
	}
}

func (f *faults) Resolve(_ context.Context, id, kind, subject, detail, actor string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open[kind+subject] {
		return false
	}
	f.open[kind+subject] = false
	f.log = append(f.log, fault{kind, subject, detail, "resolved"})
	return true
}

// TestPublishingReportsFailures: a witness that goes away is counted,
// raised once in health and resolved when it is back; a witness that
// refuses is raised as witness_refused; the others are published to all
// the same, and nothing carries the token.
func TestPublishingReportsFailures(t *testing.T) {
	ctx := context.Background()
	l := newTestLog(t)
	good := witness.NewDirWitness("good", t.TempDir())
	flaky := t.TempDir()
	mount := filepath.Join(flaky, "mnt")
	os.Mkdir(mount, 0o755)
	gone := witness.NewDirWitness("flaky", mount)
	const token = "s3cr3t-t0ken-value"
	ts, _, _ := server(t, l.logKey())
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy "+r.Header.Get("Authorization"), http.StatusServiceUnavailable)
	}))
	defer down.Close()
	unavailable, err := witness.NewHTTPWitness("down", down.URL+"/", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := witness.NewHTTPWitness("plain", ts.URL+"/checkpoints/", "", nil)

	reg := prometheus.NewRegistry()
	m, err := witness.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var f faults
	cur := l.grow(5)
	p := &witness.Publishing{Witnesses: []witness.Publisher{good, gone, unavailable, plain}, Log: l.log(), Metrics: m, Faults: &f,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Latest: func(context.Context) ([]byte, error) { return cur.Note, nil }}
	if err := p.PublishOnce(ctx); err == nil || !errors.Is(err, witness.ErrUnreachable) {
		t.Fatalf("round 1: %v", err)
	}
	os.RemoveAll(mount) // the mount disappears
	cur = l.grow(3)
	p.PublishOnce(ctx)
	cur = l.grow(3)
	p.PublishOnce(ctx)
	os.Mkdir(mount, 0o755) // and comes back (empty: another host's share remounted)
	cur = l.grow(3)
	if err := p.PublishOnce(ctx); !errors.Is(err, witness.ErrUnreachable) || strings.Contains(err.Error(), "flaky") {
		t.Fatalf("round 4: %v", err)
	}
	st := p.Status()
	if !st[0].OK || st[0].Acked != 14 || !st[1].OK || st[2].OK || !st[3].OK {
		t.Fatalf("status %+v", st)
	}
	if got := counter(t, reg, "good", "ok"); got != 4 {
		t.Fatalf("good ok = %v", got)
	}
	if got := counter(t, reg, "flaky", "unreachable"); got != 2 {
		t.Fatalf("flaky unreachable = %v", got)
	}
	if got := counter(t, reg, "down", "unreachable"); got != 4 {
		t.Fatalf("down unreachable = %v", got)
	}
	var raised, resolved int
	for _, x := range f.log {
		if x.subject == "flaky" && x.kind == witness.FaultUnreachable {
			if x.state == "raised" {
				raised++
			} else {
				resolved++
			}
		}
	}
	if raised != 1 || resolved != 1 || !f.open[witness.FaultUnreachable+"down"] {
		t.Fatalf("health faults %+v", f.log)
	}
	// A rollback of the archive: the witnesses refuse, health says so.
	cur = l.checkpointAt(8)
	p.PublishOnce(ctx)
	if !f.open[witness.FaultRefused+"good"] || !f.open[witness.FaultRefused+"plain"] {
		t.Fatalf("refusals not raised: %+v", f.log)
	}
	if got := counter(t, reg, "good", "refused"); got != 1 {
		t.Fatalf("good refused = %v", got)
	}
	for _, x := range f.log {
		if strings.Contains(x.detail, token) {
			t.Fatalf("a fault detail carries the token: %q", x.detail)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Fatalf("the log carries the token:\n%s", logs.String())
	}
}

func counter(t *testing.T, reg *prometheus.Registry, w, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wxarchive_witness_publish_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["witness"] == w && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
