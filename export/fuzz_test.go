package export_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/journal"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/fuzz from the test production")

// smallProduction is the fuzz targets' production: JSONL only, one
// volume, so an iteration verifies few files.
func smallProduction(t testing.TB) *production {
	return newProduction(t, prodOpts{formats: []string{"jsonl"}, volumeSize: 1 << 30, extra: map[string][]byte{}})
}

// seed is a corpus file in the `go test fuzz v1` encoding.
func seed(args ...[]byte) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		fmt.Fprintf(&b, "[]byte(%q)\n", a)
	}
	return []byte(b.String())
}

// fuzzSeeds are the checked-in corpus entries of each target: the real
// files, and a few edits worth keeping (an edit Verify must accept,
// edits it must refuse).
func fuzzSeeds(t testing.TB) map[string]map[string][]byte {
	p := smallProduction(t)
	m, _ := os.ReadFile(p.path(export.ManifestName))
	pr, _ := os.ReadFile(p.path(export.ManifestProofName))
	var mp map[string]any
	if err := json.Unmarshal(pr, &mp); err != nil {
		t.Fatal(err)
	}
	upper := bytes.ReplaceAll(pr, []byte(mp["hashes"].([]any)[0].(string)), []byte(strings.ToUpper(mp["hashes"].([]any)[0].(string))))
	fx := newFixture(t, testSigner(t, 1))
	dir := filepath.Join(t.TempDir(), "p")
	fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
	job, _ := os.ReadFile(filepath.Join(dir, export.StateDir, "job.json"))
	plan, _ := os.ReadFile(filepath.Join(dir, export.StateDir, "plan.jsonl"))
	return map[string]map[string][]byte{
		"FuzzVerify": {
			"real":               seed(m, pr),
			"manifest-truncated": seed(m[:len(m)/2], pr),
			"proof-upper-hex":    seed(m, upper), // the same proof: must verify
			"proof-empty-object": seed(m, []byte("{}")),
		},
		"FuzzReadState": {
			"real":         seed(job, plan),
			"plan-swapped": seed(job, bytes.Replace(plan, []byte(`"slice":1`), []byte(`"slice":2`), 1)),
			"job-no-hash":  seed(bytes.Replace(job, []byte(`"plan_sha256"`), []byte(`"plan_sha"`), 1), plan),
		},
	}
}

// TestFuzzSeeds keeps the checked-in seeds the real files of the test
// production (go test ./export -run TestFuzzSeeds -update rewrites them).
func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range fuzzSeeds(t) {
		for name, b := range seeds {
			file := filepath.Join("testdata", "fuzz", target, name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(file)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("%s is not the test production's (run with -update): %v", file, err)
			}
		}
	}
}

// proofEquivalent says whether two manifest.proof.json texts prove the
// same thing: the same manifest hash, leaf, hashes (hex in any case) and
// checkpoint (size and root under the archive's key; other signature
// lines do not matter). JSON spelling — spaces, key case, escapes — is
// not part of what the file proves.
func proofEquivalent(a, b []byte, ver *journal.Verifier) bool {
	var x, y export.ManifestProof
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	if x.ManifestSHA256 != y.ManifestSHA256 || x.LeafIndex != y.LeafIndex || x.Leaf != y.Leaf ||
		!sameHex(x.Hashes, y.Hashes) || !sameHex(x.Consistency, y.Consistency) {
		return false
	}
	cx, err1 := ver.Open([]byte(x.Checkpoint))
	cy, err2 := ver.Open([]byte(y.Checkpoint))
	return err1 == nil && err2 == nil && cx.Size == cy.Size && bytes.Equal(cx.Root, cy.Root)
}

func sameHex(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err1 := hex.DecodeString(a[i])
		y, err2 := hex.DecodeString(b[i])
		if err1 != nil || err2 != nil || len(x) != sha256.Size || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// FuzzVerify: whatever manifest.json and manifest.proof.json hold,
// Verify does not panic, reads the directory, and reports a problem
// whenever they say anything but what the archive journaled; when they
// say the same (the proof file spelled otherwise) the production
// verifies.
func FuzzVerify(f *testing.F) {
	p := smallProduction(f)
	origM, err := os.ReadFile(p.path(export.ManifestName))
	if err != nil {
		f.Fatal(err)
	}
	origP, err := os.ReadFile(p.path(export.ManifestProofName))
	if err != nil {
		f.Fatal(err)
	}
	ver, err := journal.NewVerifier(testOrigin, p.Key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(origM, origP)
	f.Fuzz(func(t *testing.T, manifest, proof []byte) {
		if err := os.WriteFile(p.path(export.ManifestName), manifest, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p.path(export.ManifestProofName), proof, 0o640); err != nil {
			t.Fatal(err)
		}
		same := bytes.Equal(manifest, origM) && (bytes.Equal(proof, origP) || proofEquivalent(proof, origP, ver))
		for _, pin := range []string{"", p.Key} {
			rep, err := export.Verify(p.Dir, pin)
			if err != nil {
				t.Fatalf("pin %q: %v", pin, err)
			}
			if same && !rep.OK() {
				t.Fatalf("pin %q: the journaled manifest and an equivalent proof: %s", pin, problems(rep))
			}
			if !same && rep.OK() {
				t.Fatalf("pin %q: changed manifest or proof verifies:\nmanifest %q\nproof %q", pin, manifest, proof)
			}
		}
	})
}

// FuzzReadState: whatever the state files hold, ReadState does not
// panic, and never returns a plan that is not the one the job hashed; a
// plan changed under an unchanged job is refused.
func FuzzReadState(f *testing.F) {
	fx := newFixture(f, testSigner(f, 1))
	dir := filepath.Join(f.TempDir(), "p")
	fx.create(dir, fx.job([]string{"jsonl"}, "utf-8", 1))
	jobName, planName := filepath.Join(dir, export.StateDir, "job.json"), filepath.Join(dir, export.StateDir, "plan.jsonl")
	origJ, _ := os.ReadFile(jobName)
	origP, _ := os.ReadFile(planName)
	f.Add(origJ, origP)
	f.Fuzz(func(t *testing.T, job, plan []byte) {
		if err := os.WriteFile(jobName, job, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(planName, plan, 0o640); err != nil {
			t.Fatal(err)
		}
		j, units, err := export.ReadState(dir)
		if err != nil {
			return
		}
		sum := sha256.Sum256(plan)
		if j.PlanSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("a plan hashing to %x accepted for a job naming %s", sum, j.PlanSHA256)
		}
		if bytes.Equal(job, origJ) && !bytes.Equal(plan, origP) {
			t.Fatalf("a changed plan accepted under the journaled job: %q", plan)
		}
		// What was read is what the file says: re-encoded, the plan
		// hashes to the job's hash.
		if bytes.Equal(plan, origP) {
			var b bytes.Buffer
			for _, u := range units {
				line, _ := json.Marshal(u)
				b.Write(append(line, '\n'))
			}
			if !bytes.Equal(b.Bytes(), plan) {
				t.Fatal("the plan read does not re-encode to the journaled plan")
			}
		}
	})
}

// FuzzVerifyUnitFiles: a forger who changes a unit's JSONL and proof
// file and lists their new hashes in the manifest gets past the file
// checks; what the per-message checks then read is hostile, and Verify
// must still report, never panic.
func FuzzVerifyUnitFiles(f *testing.F) {
	p := smallProduction(f)
	var jsonl, proofs string
	for _, e := range p.Manifest.Files {
		switch {
		case jsonl == "" && strings.Contains(e.Path, "/JSONL/"):
			jsonl = e.Path
		case proofs == "" && strings.Contains(e.Path, "/PROOFS/"):
			proofs = e.Path
		}
	}
	origJ, _ := os.ReadFile(p.path(jsonl))
	origP, _ := os.ReadFile(p.path(proofs))
	base := *p.Manifest
	base.Files = append([]export.FileEntry(nil), p.Manifest.Files...)
	f.Add(origJ, origP)
	f.Fuzz(func(t *testing.T, j, pr []byte) {
		m := base
		m.Files = append([]export.FileEntry(nil), base.Files...)
		for name, b := range map[string][]byte{jsonl: j, proofs: pr} {
			if err := os.WriteFile(p.path(name), b, 0o640); err != nil {
				t.Fatal(err)
			}
			for i := range m.Files {
				if m.Files[i].Path == name {
					m.Files[i].SHA256, m.Files[i].Size = sha256Hex(b), int64(len(b))
				}
			}
		}
		if err := os.WriteFile(p.path(export.ManifestName), marshalManifest(t, &m), 0o640); err != nil {
			t.Fatal(err)
		}
		rep, err := export.Verify(p.Dir, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		if changed := !bytes.Equal(j, origJ) || !bytes.Equal(pr, origP); changed == rep.OK() {
			t.Fatalf("files changed %v, verified %v: %s", changed, rep.OK(), problems(rep))
		}
	})
}
