package export_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without a zone database

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
	"github.com/wxarchive/wxarchive/journal"
)

// The test archive's identity. The zone is the sample's (+08:00, no DST).
const (
	testOrigin = "wxarchive.local/export-test"
	testZone   = "Asia/Shanghai"
	testPrefix = "WXA"
)

// testTime is when every journal event and checkpoint of the test
// archive happened: fixed, so a production is the same bytes on every
// run (the fuzz seeds in testdata are those bytes).
var testTime = archive.At(time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC))

// testSigner is a checkpoint signer whose key comes from seed, not from
// crypto/rand: productions built with it are reproducible byte for byte.
func testSigner(t testing.TB, seed byte) *journal.Signer {
	t.Helper()
	s := bytes.Repeat([]byte{seed}, ed25519.SeedSize)
	pub := ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey("wxarchive-test", pub)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(vkey, "+", 3) // name, hash, key
	skey := "PRIVATE+KEY+" + parts[0] + "+" + parts[1] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, s...))
	signer, err := journal.NewSigner(testOrigin, skey)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Key() != vkey {
		t.Fatalf("signer key %s, verifier key %s", signer.Key(), vkey)
	}
	return signer
}

// memNodes is a journal.NodeReader over what Tree.Append reported, as a
// store would persist it (the journal tests' model).
type memNodes struct{ nodes map[compact.NodeID][]byte }

func (m *memNodes) StoredNodes(_ context.Context, level uint, begin, end uint64) ([][]byte, error) {
	if !journal.Stored(level) {
		return nil, fmt.Errorf("level %d is not stored", level)
	}
	out := make([][]byte, 0, end-begin)
	for i := begin; i < end; i++ {
		h, ok := m.nodes[compact.NewNodeID(level, i)]
		if !ok {
			return nil, fmt.Errorf("%w: (%d,%d)", journal.ErrMissingNode, level, i)
		}
		out = append(out, h)
	}
	return out, nil
}

// testLog is an in-memory journal: leaves, their tree and stored nodes,
// and the archive's signer.
type testLog struct {
	t      testing.TB
	tree   *journal.Tree
	nodes  *memNodes
	leaves [][]byte
	signer *journal.Signer
}

func newTestLog(t testing.TB, signer *journal.Signer) *testLog {
	return &testLog{t: t, tree: journal.NewTree(), nodes: &memNodes{nodes: map[compact.NodeID][]byte{}}, signer: signer}
}

// append journals an event and returns its index and leaf.
func (l *testLog) append(typ string, subject []string, payload any) (uint64, []byte) {
	l.t.Helper()
	ev, err := journal.NewEvent(typ, "cli:test", testTime, subject, payload)
	if err != nil {
		l.t.Fatal(err)
	}
	ev.Index = uint64(len(l.leaves))
	leaf, err := ev.Marshal()
	if err != nil {
		l.t.Fatal(err)
	}
	lh := journal.LeafHash(leaf)
	l.nodes.nodes[compact.NewNodeID(0, ev.Index)] = lh
	l.tree.Append(lh, func(n journal.Node) { l.nodes.nodes[compact.NewNodeID(n.Level, n.Index)] = n.Hash })
	l.leaves = append(l.leaves, leaf)
	return ev.Index, leaf
}

// checkpoint signs the tree as it is.
func (l *testLog) checkpoint() (uint64, []byte) {
	l.t.Helper()
	n, err := l.signer.Sign(l.tree.Size(), l.tree.Root(), testTime)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.tree.Size(), n
}

// fixture is an archive holding the sample's messages: every message
// journaled as message.archived (message.conflict for a second version)
// with the hashes of its records and attachments.
type fixture struct {
	t      testing.TB
	log    *testLog
	index  map[uint64]uint64 // serial → journal index
	keys   []export.Key
	loc    *time.Location
	cpSize uint64 // the job's checkpoint, once created
}

func newFixture(t testing.TB, signer *journal.Signer) *fixture {
	t.Helper()
	loc, err := time.LoadLocation(testZone)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, log: newTestLog(t, signer), index: map[uint64]uint64{}, loc: loc}
	// Something before the messages, so leaf indices are not serials.
	fx.log.append(archive.EventParticipantUpdated, nil, map[string]string{"id": "zhangwei"})
	var msgs []*export.Message
	for _, u := range exporttest.Units(testPrefix).Units {
		msgs = append(msgs, u.Messages...)
	}
	slices.SortFunc(msgs, func(a, b *export.Message) int { return int(a.Serial) - int(b.Serial) })
	for _, m := range msgs {
		ev := archive.MessageEvent{Serial: m.Serial, Source: m.Message.Source, SourceID: m.Message.SourceID, Version: m.Version,
			ConflictsWith: m.ConflictsWith, Kind: m.Message.Kind, SentAt: m.Message.SentAt, Raw: m.RawSHA256, Record: m.RecordSHA256,
			RawSize: len(m.Raw), RecordSize: len(m.Record), RefersTo: m.Message.RefersTo, RetainUntil: testTime}
		for _, a := range m.Attachments {
			ev.Attachments = append(ev.Attachments, archive.AttachmentRef{Blob: a.Blob, Status: a.Status})
		}
		typ := archive.EventMessageArchived
		if m.Version > 1 {
			typ = archive.EventMessageConflict
		}
		idx, _ := fx.log.append(typ, []string{fmt.Sprintf("serial:%d", m.Serial)}, &ev)
		fx.index[m.Serial] = idx
		fx.keys = append(fx.keys, export.Key{Serial: m.Serial, Conversation: m.Message.Conversation, SentAt: m.Message.SentAt.Time})
	}
	return fx
}

// job is the job an app would build: the formats in the registry's order.
func (fx *fixture) job(formats []string, enc string, volumeSize int64) *export.Job {
	return &export.Job{Created: testTime, Actor: "cli:test", Scope: archive.HoldScope{Custodians: []string{"zhangwei"}},
		Formats: formats, Prefix: testPrefix, VolumeSize: volumeSize, TimeZone: testZone, Producer: "wxarchive test",
		Origin: testOrigin, PublicKey: fx.log.signer.Key(), Messages: len(fx.keys), LoadEncoding: enc}
}

// create does what CreateExport does: the state, export.created, the
// first checkpoint after it in the job.
func (fx *fixture) create(dir string, job *export.Job) []export.PlannedUnit {
	t := fx.t
	t.Helper()
	plan := export.Plan(slices.Clone(fx.keys), fx.loc)
	if err := export.WriteState(dir, job, plan); err != nil {
		t.Fatal(err)
	}
	idx, _ := fx.log.append(archive.EventExportCreated, nil, &archive.ExportCreatedEvent{Scope: job.Scope, Formats: job.Formats,
		Prefix: job.Prefix, Messages: job.Messages, Units: job.Units, PlanSHA256: job.PlanSHA256, Out: filepath.Base(dir)})
	// Unrelated events after the job: the manifest's checkpoint is a
	// larger tree than the job's, so the consistency proof is not empty.
	fx.log.append(archive.EventAccessView, nil, map[string]string{"what": "search"})
	size, cp := fx.log.checkpoint()
	fx.cpSize = size
	job.CreatedIndex, job.ID, job.Checkpoint = idx, fmt.Sprintf("export-%d", idx), string(cp)
	if err := export.UpdateJob(dir, job); err != nil {
		t.Fatal(err)
	}
	return plan
}

// sampleSource is an export.Source over the sample: every call builds
// the sample afresh (the runner fills in numbering and paths), puts the
// plan's serials in the plan's order and proves each in the job's
// checkpoint.
//
// The runner may load units ahead and concurrently, so the source keys
// failures to units, not to the order of calls, and counts under a lock.
type sampleSource struct {
	fx *fixture
	// fail, when set, is asked before each unit.
	fail func(pu export.PlannedUnit) error
	// edit, when set, changes a unit before the runner sees it.
	edit func(u *export.Unit)

	mu    sync.Mutex
	calls int
}

func (s *sampleSource) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *sampleSource) Unit(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(pu); err != nil {
			return nil, err
		}
	}
	var unit *export.Unit
	bySerial := map[uint64]*export.Message{}
	for _, u := range exporttest.Units(testPrefix).Units {
		if u.Conversation == pu.Conversation {
			unit = u
		}
		for _, m := range u.Messages {
			bySerial[m.Serial] = m
		}
	}
	if unit == nil {
		return nil, fmt.Errorf("no conversation %s", pu.Conversation)
	}
	u := &export.Unit{ConversationKind: unit.ConversationKind, Title: unit.Title, Custodian: unit.Custodian, Participants: unit.Participants}
	for _, serial := range pu.Serials {
		m := bySerial[serial]
		if m == nil {
			return nil, fmt.Errorf("no serial %d", serial)
		}
		idx := s.fx.index[serial]
		m.JournalIndex, m.Leaf = idx, s.fx.log.leaves[idx]
		p, err := journal.InclusionProof(ctx, s.fx.log.nodes, idx, s.fx.cpSize)
		if err != nil {
			return nil, err
		}
		m.Proof = p
		u.Messages = append(u.Messages, m)
	}
	if s.edit != nil {
		s.mu.Lock()
		s.edit(u)
		s.mu.Unlock()
	}
	return u, nil
}

// prodOpts vary a production; the zero value is the usual one.
type prodOpts struct {
	formats    []string // the job's; default dat, csv, jsonl
	encoding   string   // default utf-8
	volumeSize int64    // default 1: every unit in its own volume
	signer     *journal.Signer
	extra      map[string][]byte // root files; default an audit trail
}

func (o *prodOpts) defaults(t testing.TB) {
	if o.formats == nil {
		o.formats = []string{"dat", "csv", "jsonl"}
	}
	if o.encoding == "" {
		o.encoding = "utf-8"
	}
	if o.volumeSize == 0 {
		o.volumeSize = 1
	}
	if o.signer == nil {
		o.signer = testSigner(t, 1)
	}
	if o.extra == nil {
		o.extra = map[string][]byte{"audit.jsonl": []byte("{\"event\":\"export.created\"}\n")}
	}
}

// production is a finished production and what made it.
type production struct {
	Dir      string
	Fx       *fixture
	Job      *export.Job
	Plan     []export.PlannedUnit
	Loaded   *export.Loaded
	Rows     []export.LoadRow // the load-file rows, read before Seal removed the state
	Manifest *export.Manifest // as manifest.json has it
	SHA256   string           // the manifest's
	Proof    *export.ManifestProof
	Key      string // the archive's public key
}

// newProduction builds a finished production in a new directory as the
// app does, without the app: WriteState, export.created, Run, Finish,
// export.finished, ManifestProof, Seal.
func newProduction(t testing.TB, o prodOpts) *production {
	t.Helper()
	o.defaults(t)
	fx := newFixture(t, o.signer)
	dir := filepath.Join(t.TempDir(), "prod")
	job := fx.job(o.formats, o.encoding, o.volumeSize)
	fx.create(dir, job)
	return finishProduction(t, fx, dir, &sampleSource{fx: fx}, o.extra)
}

// runner is the runner the app makes for an unfinished production: the
// job and plan as the state has them.
func runner(t testing.TB, dir string, src export.Source) *export.Runner {
	t.Helper()
	job, plan, err := export.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &export.Runner{Dir: dir, Job: job, Plan: plan, Source: src, Formats: []export.Format{export.JSONL{}}}
}

// finishProduction runs (or resumes) dir's job and seals it.
func finishProduction(t testing.TB, fx *fixture, dir string, src export.Source, extra map[string][]byte) *production {
	t.Helper()
	ctx := context.Background()
	r := runner(t, dir, src)
	loaded, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum, m, err := r.Finish(ctx, loaded, r.Job.LoadEncoding, extra)
	if err != nil {
		t.Fatal(err)
	}
	return seal(t, fx, dir, r, loaded, sum, m)
}

func seal(t testing.TB, fx *fixture, dir string, r *export.Runner, loaded *export.Loaded, sum string, m *export.Manifest) *production {
	t.Helper()
	ctx := context.Background()
	var rows []export.LoadRow
	if err := loaded.EachRow(func(r *export.LoadRow) error { rows = append(rows, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	fin := archive.ExportFinishedEvent{ID: r.Job.ID, ManifestSHA256: sum, Messages: r.Job.Messages, Files: m.FileCount(), Bytes: m.Bytes()}
	idx, leaf := fx.log.append(archive.EventExportFinished, nil, &fin)
	cpSize, cp := fx.log.checkpoint()
	hs, err := journal.InclusionProof(ctx, fx.log.nodes, idx, cpSize)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := journal.ConsistencyProof(ctx, fx.log.nodes, fx.cpSize, cpSize)
	if err != nil {
		t.Fatal(err)
	}
	p := &export.ManifestProof{ManifestSHA256: sum, LeafIndex: idx, Leaf: string(leaf), Hashes: hexes(hs), Checkpoint: string(cp), Consistency: hexes(cs)}
	if err := export.Seal(dir, p); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m = new(export.Manifest)
	if err := json.Unmarshal(mb, m); err != nil {
		t.Fatal(err)
	}
	return &production{Dir: dir, Fx: fx, Job: r.Job, Plan: r.Plan, Loaded: loaded, Rows: rows, Manifest: m, SHA256: sum, Proof: p, Key: fx.log.signer.Key()}
}

func hexes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// readTree is every file under dir by slash path.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sameTree fails unless the two directories hold the same files, byte
// for byte.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	g, w := readTree(t, got), readTree(t, want)
	for name, b := range w {
		if gb, ok := g[name]; !ok {
			t.Errorf("%s: missing", name)
		} else if !bytes.Equal(gb, b) {
			t.Errorf("%s: differs from the uninterrupted run's", name)
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("%s: not in the uninterrupted run", name)
		}
	}
	if len(w) == 0 {
		t.Error("the reference run wrote nothing")
	}
}

func TestProductionLayout(t *testing.T) {
	p := newProduction(t, prodOpts{})
	// The plan puts the direct chat ("direct:…") before the group ("wr…").
	if len(p.Plan) != 2 || p.Plan[0].Conversation >= p.Plan[1].Conversation {
		t.Fatalf("plan %+v", p.Plan)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, export.StateDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state directory outlived Seal: %v", err)
	}
	files := readTree(t, p.Dir)
	var listed []string
	for _, f := range p.Manifest.Files {
		listed = append(listed, f.Path)
		sum := sha256.Sum256(files[f.Path])
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(files[f.Path])) != f.Size {
			t.Errorf("%s: the manifest's hash or size is not the file's", f.Path)
		}
	}
	// Production order: each unit's files, then the root files.
	if n := len(listed); n < 3 || listed[n-1] != "audit.jsonl" || strings.Contains(listed[n-1], "/") || !strings.HasPrefix(listed[0], "VOL001/") {
		t.Errorf("the manifest's files are not in production order: %v", listed)
	}
	if len(listed) != len(files)-2 {
		t.Errorf("the manifest lists %d files, the directory has %d besides the manifest and its proof", len(listed), len(files)-2)
	}
	n0, n1 := export.UnitName(p.Plan[0]), export.UnitName(p.Plan[1])
	for _, want := range []string{"loadfile.dat", "loadfile.csv", "audit.jsonl",
		"VOL001/JSONL/" + n0 + ".jsonl", "VOL001/PROOFS/" + n0 + ".jsonl", "VOL001/TEXT/WXA0000001.txt",
		"VOL002/JSONL/" + n1 + ".jsonl", "VOL002/PROOFS/" + n1 + ".jsonl", "VOL002/TEXT/WXA0000018.txt"} {
		if _, ok := files[want]; !ok {
			t.Errorf("no %s in %v", want, listed)
		}
	}
	natives := 0
	for _, f := range listed {
		if strings.HasPrefix(f, "VOL002/NATIVES/") {
			natives++
		}
	}
	if natives != 3 {
		t.Errorf("%d natives in the group's volume, want the image, the file and the voice note", natives)
	}
	if p.Manifest.Volumes != 2 || p.Manifest.First != "WXA0000001" || p.Manifest.Last != "WXA0000018" || p.Manifest.Messages != 18 {
		t.Errorf("manifest volumes %d, numbers %s–%s, %d messages", p.Manifest.Volumes, p.Manifest.First, p.Manifest.Last, p.Manifest.Messages)
	}
	// The manifest re-encodes to its own bytes: the tamper tests rewrite
	// it and must change only what they mean to.
	if got := marshalManifest(t, p.Manifest); !bytes.Equal(got, files[export.ManifestName]) {
		t.Error("the manifest does not re-encode to its bytes")
	}
}

func marshalManifest(t testing.TB, m *export.Manifest) []byte {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestResumeIsIdentical: a run that stops on a failing unit, resumed,
// writes exactly what an uninterrupted run writes — every file, the
// manifest and the job's state included.
func TestResumeIsIdentical(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, testSigner(t, 1))
	root := t.TempDir()
	dir, ref := filepath.Join(root, "resumed"), filepath.Join(root, "reference")
	plan := fx.create(dir, fx.job([]string{"dat", "csv", "jsonl"}, "utf-8", 1))
	// The copy is taken once the job is journaled (WriteState, then the
	// checkpoint in job.json): both runs start from the same state.
	copyDir(t, dir, ref)
	extra := map[string][]byte{"audit.jsonl": []byte("audit\n")}

	broken := &sampleSource{fx: fx, fail: func(pu export.PlannedUnit) error {
		if pu.Conversation == plan[1].Conversation {
			return errors.New("the record store is unavailable")
		}
		return nil
	}}
	if _, err := runner(t, dir, broken).Run(ctx); err == nil || !strings.Contains(err.Error(), "unit 2") || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("Run with a failing source: %v", err)
	}
	if n := export.Written(dir); n != 3 {
		t.Errorf("Written after the failure = %d, want the first unit's 3", n)
	}

	finish := func(dir string, src *sampleSource) string {
		r := runner(t, dir, src)
		l, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sum, _, err := r.Finish(ctx, l, r.Job.LoadEncoding, extra)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	resumed := &sampleSource{fx: fx}
	sumResumed := finish(dir, resumed)
	if resumed.Calls() != 1 {
		t.Errorf("the resumed run loaded %d units, want only the unwritten one", resumed.Calls())
	}
	sumRef := finish(ref, &sampleSource{fx: fx})
	if sumResumed != sumRef {
		t.Errorf("manifest %s resumed, %s uninterrupted", sumResumed, sumRef)
	}
	sameTree(t, dir, ref)

	t.Run("cut progress record", func(t *testing.T) {
		name := filepath.Join(dir, export.StateDir, "progress.jsonl")
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(name, st.Size()-5); err != nil {
			t.Fatal(err)
		}
		src := &sampleSource{fx: fx}
		finish(dir, src)
		if src.Calls() != 1 {
			t.Errorf("%d units rewritten, want the one whose record was cut", src.Calls())
		}
		sameTree(t, dir, ref)
	})
	t.Run("recorded file changed", func(t *testing.T) {
		name := filepath.Join(dir, "VOL001", "TEXT", "WXA0000002.txt")
		if err := os.WriteFile(name, []byte("changed"), 0o640); err != nil {
			t.Fatal(err)
		}
		src := &sampleSource{fx: fx}
		finish(dir, src)
		if src.Calls() != 2 {
			t.Errorf("%d units rewritten, want the changed unit and the one after it", src.Calls())
		}
		sameTree(t, dir, ref)
	})
	t.Run("seal and verify", func(t *testing.T) {
		r := runner(t, dir, &sampleSource{fx: fx})
		l, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sum, m, err := r.Finish(ctx, l, r.Job.LoadEncoding, extra)
		if err != nil {
			t.Fatal(err)
		}
		p := seal(t, fx, dir, r, l, sum, m)
		rep, err := export.Verify(dir, p.Key)
		if err != nil || !rep.OK() {
			t.Fatalf("the resumed production does not verify: %v %+v", err, rep)
		}
	})
}

// TestReadStateRefusesChangedPlan: a plan changed after it was hashed
// into the job is refused, and so is a finished production.
func TestReadStateRefusesChangedPlan(t *testing.T) {
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
	job, plan, err := export.ReadState(dir)
	if err != nil || job.Units != 2 || len(plan) != 2 || job.ID == "" {
		t.Fatalf("ReadState = %+v, %d units, %v", job, len(plan), err)
	}
	name := filepath.Join(dir, export.StateDir, "plan.jsonl")
	b, _ := os.ReadFile(name)
	if err := os.WriteFile(name, bytes.Replace(b, []byte(`"serials":[`), []byte(`"serials":[99,`), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := export.ReadState(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a changed plan: %v", err)
	}
	if err := export.WriteState(dir, fx.job(nil, "utf-8", 1), nil); err == nil {
		t.Error("WriteState wrote into a directory that is not empty")
	}
	p := newProduction(t, prodOpts{})
	if _, _, err := export.ReadState(p.Dir); err == nil || !strings.Contains(err.Error(), "finished") {
		t.Errorf("ReadState of a finished production: %v", err)
	}
}

func TestSetFont(t *testing.T) {
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	fx.create(dir, fx.job([]string{"pdf"}, "utf-8", 1))
	if err := export.SetFont(dir, "/fonts/x.ttf", true); err != nil {
		t.Fatal(err)
	}
	if err := export.SetFont(dir, "", false); err != nil {
		t.Fatal(err)
	}
	job, _, err := export.ReadState(dir)
	if err != nil || job.Font != "/fonts/x.ttf" || !job.Fallback {
		t.Fatalf("job after SetFont: font %q fallback %v, %v (an empty font keeps the last; fallback never turns off)", job.Font, job.Fallback, err)
	}
}

func TestPlanSlicesAndDays(t *testing.T) {
	loc, err := time.LoadLocation(testZone)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	var keys []export.Key
	n := export.MaxUnitEvents + 5
	// Serials run against time, and every pair shares a second: the
	// order must be time first, then serial.
	for i := 0; i < n; i++ {
		keys = append(keys, export.Key{Serial: uint64(3*n - 3*i), Conversation: "wrBig", SentAt: day.Add(time.Duration(i/2) * time.Second)})
	}
	// 23:59:59 and 00:00:00 local are one UTC day (15:59:59Z and
	// 16:00:00Z) but two local days.
	late := time.Date(2026, 3, 2, 23, 59, 59, 0, loc)
	keys = append(keys,
		export.Key{Serial: 1, Conversation: "direct:a:b", SentAt: late.Add(time.Second)},
		export.Key{Serial: 2, Conversation: "direct:a:b", SentAt: late},
		export.Key{Serial: 4, Conversation: "Awr", SentAt: late})
	slices.Reverse(keys)
	plan := export.Plan(keys, loc)
	type got struct {
		conv, day     string
		slice, slices int
		n             int
	}
	var g []got
	for _, u := range plan {
		g = append(g, got{u.Conversation, u.Day, u.Slice, u.Slices, len(u.Serials)})
	}
	// Day first, then conversation.
	want := []got{
		{"Awr", "2026-03-02", 1, 1, 1},
		{"direct:a:b", "2026-03-02", 1, 1, 1},
		{"wrBig", "2026-03-02", 1, 2, export.MaxUnitEvents},
		{"wrBig", "2026-03-02", 2, 2, 5},
		{"direct:a:b", "2026-03-03", 1, 1, 1},
	}
	if !slices.Equal(g, want) {
		t.Fatalf("plan\n%v\nwant\n%v", g, want)
	}
	if plan[1].Serials[0] != 2 || plan[4].Serials[0] != 1 {
		t.Errorf("day split: %v %v", plan[1].Serials, plan[4].Serials)
	}
	// Within a second, the smaller serial first; across seconds, time.
	at := map[uint64]time.Time{}
	for _, k := range keys {
		at[k.Serial] = k.SentAt
	}
	all := append(slices.Clone(plan[2].Serials), plan[3].Serials...)
	for i := 1; i < len(all); i++ {
		a, b := at[all[i-1]], at[all[i]]
		if a.After(b) || a.Equal(b) && all[i-1] > all[i] {
			t.Fatalf("positions %d, %d: serial %d (%s) before %d (%s)", i-1, i, all[i-1], a, all[i], b)
		}
	}
	if export.UnitName(plan[3]) != "2026-03-02_wrBig_2" || export.UnitName(plan[2]) != "2026-03-02_wrBig" {
		t.Errorf("slice names %s, %s", export.UnitName(plan[2]), export.UnitName(plan[3]))
	}
	// The plan is a function of its keys, not of their order.
	slices.Reverse(keys)
	if again := export.Plan(keys, loc); fmt.Sprint(again) != fmt.Sprint(plan) {
		t.Error("the plan depends on the keys' order")
	}
}

func TestSafeNames(t *testing.T) {
	long := strings.Repeat("长", 60) + strings.Repeat("x", 100)
	ids := []string{"a|b", "a:b", "a/b", "a_b", "群聊", "群聊2", "..", ".", "...", "a/../b", "../../etc/passwd", "",
		"direct:lina:wmEXTsmith", long, long + "y", strings.Repeat("a", 200), strings.Repeat("a", 201), "CON", "a\x00b", " a "}
	seen := map[string]string{}
	for _, id := range ids {
		name := export.SafeName(id, 80)
		if len(name) > 80 || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\:|\x00 ") ||
			strings.HasPrefix(name, ".") || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
			t.Errorf("SafeName(%q) = %q: not a safe file name of at most 80 bytes", id, name)
		}
		if other, ok := seen[name]; ok {
			t.Errorf("SafeName(%q) = SafeName(%q) = %q", id, other, name)
		}
		seen[name] = id
		u := export.PlannedUnit{Conversation: id, Day: "2026-03-02", Slice: 2, Slices: 2}
		un := export.UnitName(u)
		if filepath.Base(un) != un || len(un) > 80+len("2026-03-02_")+len("_2") || !strings.HasPrefix(un, "2026-03-02_") {
			t.Errorf("UnitName(%q) = %q", id, un)
		}
	}
	for _, id := range []string{"wrSampleGroup01", "a_b", "v1.2-x", strings.Repeat("a", 80)} {
		if got := export.SafeName(id, 80); got != id {
			t.Errorf("SafeName(%q) = %q: a safe id is kept as it is", id, got)
		}
	}
}

// TestSafeNameInjective: a safe id that looks like another id's hashed
// name is kept as it is, so the two conversations get the same unit
// name — and the runner, which checks duplicates only within a unit,
// writes the second unit's files over the first's.
func TestSafeNameInjective(t *testing.T) {
	hashed := export.SafeName("a|b", 80) // a_b-xxxxxxxx
	if got := export.SafeName(hashed, 80); got == hashed {
		t.Errorf("SafeName(%q) = SafeName(%q) = %q: two conversations, one file name", "a|b", hashed, got)
	}
}

// TestUnitNameCollisionInRun shows what the collision above does to a
// production: two units named alike must not silently overwrite each
// other's files.
func TestUnitNameCollisionInRun(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	job := fx.job([]string{"jsonl"}, "utf-8", 1<<30) // one volume
	fx.create(dir, job)
	job, plan, err := export.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same day, two conversation ids whose unit names coincide; the
	// source serves the sample's units under them.
	hashed := export.SafeName("a|b", 80)
	real := map[string]string{"a|b": plan[0].Conversation, hashed: plan[1].Conversation}
	plan[0].Conversation, plan[1].Conversation = "a|b", hashed
	src := &sampleSource{fx: fx}
	r := &export.Runner{Dir: dir, Job: job, Plan: plan, Formats: []export.Format{export.JSONL{}}, Source: sourceFunc(func(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error) {
		pu.Conversation = real[pu.Conversation]
		return src.Unit(ctx, pu)
	})}
	l, err := r.Run(ctx)
	if err != nil {
		return // refusing is a fix too
	}
	paths := map[string]bool{}
	l.EachFile(func(f export.FileEntry) error {
		if paths[f.Path] {
			t.Errorf("%s written by two units: the first unit's file is lost", f.Path)
		}
		paths[f.Path] = true
		return nil
	})
}

type sourceFunc func(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error)

func (f sourceFunc) Unit(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error) {
	return f(ctx, pu)
}

// loadRows are the sample production's rows and one whose fields hold
// newlines of every kind and Chinese.
func loadRows(t *testing.T) []export.LoadRow {
	p := newProduction(t, prodOpts{})
	rows := slices.Clone(p.Rows)
	r := rows[0]
	r.Number, r.Title, r.FromName = "WXA9999999", "第一行\n第二行\r\n第三行", "张\r伟"
	return append(rows, r)
}

// parseDAT splits a decoded DAT into fields, checking the delimiters on
// the way: CRLF line ends, DC4 between fields, þ around each, no bare
// newline, no pilcrow.
func parseDAT(t *testing.T, s string) [][]string {
	t.Helper()
	if strings.Contains(s, "¶") {
		t.Error("the DAT holds a pilcrow: the separator is DC4 (0x14)")
	}
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatal("the DAT does not end with CRLF")
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("a bare CR or LF inside a line: %q", line)
		}
		var rec []string
		for _, f := range strings.Split(line, export.DATSeparator) {
			if !strings.HasPrefix(f, "þ") || !strings.HasSuffix(f, "þ") || len(f) < 2*len("þ") {
				t.Fatalf("field %q is not quoted with þ", f)
			}
			rec = append(rec, strings.TrimSuffix(strings.TrimPrefix(f, "þ"), "þ"))
		}
		if len(rec) != len(export.LoadColumns) {
			t.Fatalf("%d fields, want %d: %q", len(rec), len(export.LoadColumns), line)
		}
		out = append(out, rec)
	}
	return out
}

func TestLoadFiles(t *testing.T) {
	rows := loadRows(t)
	dat, err := export.DAT(rows, "utf-8")
	if err != nil {
		t.Fatal(err)
	}
	bom := []byte{0xEF, 0xBB, 0xBF}
	if !bytes.HasPrefix(dat, bom) {
		t.Fatalf("utf-8 DAT starts % x, want a BOM", dat[:3])
	}
	text := string(dat[3:])
	if export.DATSeparator != "\x14" || export.DATQuote != "\u00fe" || export.DATNewline != "\u00ae" {
		t.Fatal("the DAT delimiters are not Concordance's defaults")
	}
	recs := parseDAT(t, text)
	if !slices.Equal(recs[0], export.LoadColumns) || len(recs) != len(rows)+1 {
		t.Fatalf("header %v, %d records", recs[0], len(recs))
	}
	last := recs[len(recs)-1]
	if last[7] != "第一行®第二行®第三行" || last[4] != "张®伟" {
		t.Errorf("newlines in fields: title %q, from name %q", last[7], last[4])
	}
	col := func(name string) int { return slices.Index(export.LoadColumns, name) }
	for i, r := range rows[:len(rows)-1] {
		rec := recs[i+1]
		if rec[col("BEGDOC")] != r.Number || rec[col("ENDDOC")] != r.Number || rec[col("SERIAL")] != fmt.Sprint(r.Serial) ||
			rec[col("TEXT_PATH")] != `.\`+strings.ReplaceAll(r.TextPath, "/", `\`) || rec[col("SHA256")] != r.RecordSHA256 {
			t.Errorf("row %d: %q", i, rec)
		}
		if r.Units["jsonl"] == "" || rec[col("JSONL_PATH")] != `.\`+strings.ReplaceAll(r.Units["jsonl"], "/", `\`) {
			t.Errorf("row %d: JSONL path %q for %q", i, rec[col("JSONL_PATH")], r.Units["jsonl"])
		}
	}
	if !strings.Contains(text, "财富管理VIP群") {
		t.Error("the group's title is not in the DAT")
	}

	t.Run("utf-16le", func(t *testing.T) {
		b, err := export.DAT(rows, "utf-16le")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
			t.Fatalf("starts % x, want the FF FE byte-order mark", b[:2])
		}
		back, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(b)
		if err != nil || string(back) != text {
			t.Fatalf("does not decode back to the UTF-8 text: %v", err)
		}
	})
	t.Run("gb18030", func(t *testing.T) {
		b, err := export.DAT(rows, "gb18030")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("财富管理VIP群")) {
			t.Error("the Chinese is still UTF-8")
		}
		back, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
		if err != nil || string(back) != text || !strings.Contains(string(back), "财富管理VIP群") {
			t.Fatalf("does not decode back with the Chinese intact: %v", err)
		}
	})
	t.Run("csv", func(t *testing.T) {
		for _, enc := range []string{"utf-8", "utf-16le", "gb18030"} {
			b, err := export.CSV(rows, enc)
			if err != nil {
				t.Fatal(err)
			}
			var dec []byte
			switch enc {
			case "utf-8":
				if !bytes.HasPrefix(b, bom) {
					t.Fatal("utf-8 CSV without a BOM")
				}
				dec = b[3:]
			case "utf-16le":
				dec, err = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(b)
			case "gb18030":
				dec, err = simplifiedchinese.GB18030.NewDecoder().Bytes(b)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := csv.NewReader(bytes.NewReader(dec)).ReadAll()
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			if !slices.Equal(got[0], export.LoadColumns) || len(got) != len(recs) {
				t.Fatalf("%s: header %v, %d records", enc, got[0], len(got))
			}
			// The CSV's rows are the DAT's with slash paths and real
			// newlines (encoding/csv reads CRLF as LF; the writer drops a
			// lone CR).
			for i := 1; i < len(recs); i++ {
				for j, f := range recs[i] {
					want := strings.ReplaceAll(f, "®", "\n")
					if strings.HasPrefix(want, `.\`) {
						want = strings.ReplaceAll(strings.TrimPrefix(want, `.\`), `\`, "/")
						want = strings.ReplaceAll(want, "; ./", "; ")
					}
					if i == len(recs)-1 && j == col("FROM_NAME") {
						want = "张伟"
					}
					if got[i][j] != want {
						t.Errorf("%s row %d %s: %q, DAT %q", enc, i, export.LoadColumns[j], got[i][j], f)
					}
				}
			}
		}
	})
	if err := export.CheckLoadEncoding("latin1"); err == nil || !strings.Contains(err.Error(), "utf-16le") {
		t.Errorf("CheckLoadEncoding(latin1) = %v", err)
	}
	if _, err := export.DAT(rows, "latin1"); err == nil {
		t.Error("DAT in latin1")
	}
	for _, e := range []string{"utf-8", "utf-16le", "gb18030"} {
		if err := export.CheckLoadEncoding(e); err != nil {
			t.Error(err)
		}
	}
}

// badFormat creates one file through the sink under a name a format
// must not use.
type badFormat struct{ name string }

func (badFormat) Name() string { return "bad" }

func (f badFormat) WriteUnit(_ context.Context, _ *export.Unit, out export.Sink, _ int) (int, error) {
	w, err := out.Create(f.name)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write([]byte("escaped")); err != nil {
		return 0, err
	}
	return 0, w.Close()
}

func TestSinkPathGuard(t *testing.T) {
	outside := t.TempDir()
	abs := filepath.Join(outside, "abs")
	for _, name := range []string{"../x", "../../x", "../../../x", abs, "/abs", "a/../b", "", ".", "./a", "a//b", "a/", `..\x`, "a/./b"} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, testSigner(t, 1))
			parent := t.TempDir()
			dir := filepath.Join(parent, "p")
			fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
			before := readTree(t, parent)
			r := runner(t, dir, &sampleSource{fx: fx})
			r.Formats = []export.Format{badFormat{name}}
			if _, err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "not a clean relative path") {
				t.Fatalf("Run: %v", err)
			}
			after := readTree(t, parent)
			for p := range after {
				if _, ok := before[p]; ok {
					continue
				}
				// The job's progress file may appear; nothing else does,
				// inside the production or out.
				if p != "p/.export/progress.jsonl" {
					t.Errorf("%s written", p)
				}
			}
			if _, err := os.Stat(abs); err == nil {
				t.Errorf("%s written", abs)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("%d files in a directory outside the production", len(ents))
			}
		})
	}
}

// TestNativeMustMatchBlob: bytes that do not hash to the journaled blob
// stop the run, name the message and the attachment, and leave nothing
// under the native's name.
func TestNativeMustMatchBlob(t *testing.T) {
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
	var serial uint64
	src := &sampleSource{fx: fx, edit: func(u *export.Unit) {
		for _, m := range u.Messages {
			for _, a := range m.Attachments {
				if a.Open != nil && a.Role == "file" {
					serial = m.Serial
					a.Open = func(context.Context) (io.ReadCloser, error) {
						return io.NopCloser(strings.NewReader("not the contract")), nil
					}
				}
			}
		}
	}}
	r := runner(t, dir, src)
	_, err := r.Run(context.Background())
	if serial == 0 {
		t.Fatal("the sample has no file attachment")
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("serial %d attachment 1", serial)) || !strings.Contains(err.Error(), "the journal recorded") {
		t.Fatalf("Run: %v", err)
	}
	for p := range readTree(t, dir) {
		if strings.Contains(p, "NATIVES/") && strings.HasSuffix(p, ".pdf") {
			t.Errorf("%s written", p)
		}
		if strings.HasPrefix(p, export.StateDir+"/tmp/") {
			t.Errorf("temporary file %s left", p)
		}
	}

	// A native the source offers without a blob cannot be vouched for:
	// it must not be carried unchecked.
	t.Run("no blob", func(t *testing.T) {
		fx := newFixture(t, testSigner(t, 1))
		dir := filepath.Join(t.TempDir(), "p")
		fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
		src := &sampleSource{fx: fx, edit: func(u *export.Unit) {
			for _, m := range u.Messages {
				for _, a := range m.Attachments {
					if a.Open != nil && a.Role == "file" {
						a.Blob = archive.BlobID{}
						a.Open = func(context.Context) (io.ReadCloser, error) {
							return io.NopCloser(strings.NewReader("unvouched bytes")), nil
						}
					}
				}
			}
		}}
		if _, err := runner(t, dir, src).Run(context.Background()); err == nil {
			t.Error("Run carried a native with no journaled hash")
		}
	})
}

// sameNameFormat writes one file of the same name for every unit.
type sameNameFormat struct{}

func (sameNameFormat) Name() string { return "same" }

func (sameNameFormat) WriteUnit(_ context.Context, u *export.Unit, out export.Sink, _ int) (int, error) {
	w, err := out.Create("index.txt")
	if err != nil {
		return 0, err
	}
	if _, err := io.WriteString(w, u.Conversation); err != nil {
		return 0, err
	}
	return 0, w.Close()
}

// TestRunnerKeepsEarlierUnitsFiles: a unit never replaces a file an
// earlier unit of the production wrote (whatever the reason two units
// name a file alike — a format's bug, two ids with one safe name): the
// run stops instead of losing the first file.
func TestRunnerKeepsEarlierUnitsFiles(t *testing.T) {
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1<<30)) // one volume
	r := runner(t, dir, &sampleSource{fx: fx})
	r.Formats = []export.Format{sameNameFormat{}}
	// A format may not name a unit's file other than after the unit: the
	// unit names are unique, so no two units' files can meet.
	if _, err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "named after the unit") {
		t.Errorf("Run: %v; VOL001/SAME/index.txt was written by both units", err)
	}
}
