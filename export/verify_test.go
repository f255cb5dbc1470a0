package export_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/journal"
)

func TestVerifyFreshProduction(t *testing.T) {
	p := newProduction(t, prodOpts{})
	files := readTree(t, p.Dir)
	for _, pin := range []string{"", p.Key} {
		rep, err := export.Verify(p.Dir, pin)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("pin %q: %+v", pin, rep.Problems)
		}
		if rep.ID != p.Job.ID || rep.Messages != 18 || rep.Proved != 18 || rep.Files != len(files)-2 || rep.Files != len(p.Manifest.Files) ||
			rep.PublicKey != p.Key || rep.KeyPinned != (pin != "") || rep.TreeSize != p.Fx.cpSize {
			t.Errorf("pin %q: report %+v (job %s, %d files, tree %d)", pin, rep, p.Job.ID, len(files)-2, p.Fx.cpSize)
		}
	}
	// Every format and encoding verifies, not only the default one.
	for _, o := range []prodOpts{{encoding: "utf-16le"}, {encoding: "gb18030", volumeSize: 1 << 30}, {formats: []string{"jsonl"}}} {
		q := newProduction(t, o)
		if rep, err := export.Verify(q.Dir, q.Key); err != nil || !rep.OK() {
			t.Errorf("%+v: %v %+v", o, err, rep)
		}
	}
}

// tamper helpers. Each works on a finished production's directory.

func (p *production) path(rel string) string { return filepath.Join(p.Dir, filepath.FromSlash(rel)) }

// file is the first file the manifest lists under prefix.
func (p *production) file(t *testing.T, prefix string) string {
	t.Helper()
	for _, f := range p.Manifest.Files {
		if strings.HasPrefix(f.Path, prefix) {
			return f.Path
		}
	}
	t.Fatalf("no file under %s", prefix)
	return ""
}

// flip changes one byte in the middle of a file.
func (p *production) flip(t *testing.T, rel string) {
	t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(p.path(rel), b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// editLine replaces line n (from 1) of a JSONL file.
func (p *production) editLine(t *testing.T, rel string, n int, edit func(line []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	lines[n-1] = edit(lines[n-1])
	if err := os.WriteFile(p.path(rel), append(bytes.Join(lines, []byte("\n")), '\n'), 0o640); err != nil {
		t.Fatal(err)
	}
}

// line reads line n of a JSONL file into v.
func (p *production) line(t *testing.T, rel string, n int, v any) {
	t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bytes.Split(b, []byte("\n"))[n-1], v); err != nil {
		t.Fatal(err)
	}
}

// encodeLine is a JSONL line as the package writes them (no HTML
// escaping), so an edit changes only what it means to.
func encodeLine(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// rehash updates the manifest's entry for rel to the file as it is now,
// as a forger would: then only the deeper checks (proofs, leaves) and
// the journaled manifest hash stand in the way.
func (p *production) rehash(t *testing.T, rel string) {
	t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Manifest.Files {
		if p.Manifest.Files[i].Path == rel {
			sum := sha256Hex(b)
			p.Manifest.Files[i].SHA256, p.Manifest.Files[i].Size = sum, int64(len(b))
		}
	}
	p.writeManifest(t)
}

func (p *production) writeManifest(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(p.path(export.ManifestName), marshalManifest(t, p.Manifest), 0o640); err != nil {
		t.Fatal(err)
	}
}

func (p *production) writeProof(t *testing.T) {
	t.Helper()
	b, err := json.MarshalIndent(p.Proof, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.path(export.ManifestProofName), append(b, '\n'), 0o640); err != nil {
		t.Fatal(err)
	}
}

// resign re-signs a checkpoint note with another signer: same size, root
// and time.
func resign(t *testing.T, s *journal.Signer, n string) string {
	t.Helper()
	cp, err := journal.PeekCheckpoint([]byte(n))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Sign(cp.Size, cp.Root, cp.Time)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyLabel is how Verify names a key: name+hash.
func keyLabel(k string) string {
	parts := strings.SplitN(k, "+", 3)
	return parts[0] + "+" + parts[1]
}

// want is a problem a case must report: its path (a prefix, so a
// message's "NUMBER (FILE line N)" can be named by number and file) and
// part of what it says.
type want struct{ path, what string }

func TestVerifyTamper(t *testing.T) {
	type tcase struct {
		name   string
		pinned bool // verify with the archive's key pinned (both when false: the case must hold either way)
		tamper func(t *testing.T, p *production) []want
		// only: the wanted problems are all there is.
		only bool
	}
	changed := func(kind string) func(t *testing.T, p *production) []want {
		return func(t *testing.T, p *production) []want {
			rel := p.file(t, kind)
			p.flip(t, rel)
			return []want{{rel, "changed: SHA-256"}}
		}
	}
	cases := []tcase{
		{name: "JSONL byte", tamper: changed("VOL002/JSONL/")},
		{name: "PROOFS byte", tamper: changed("VOL001/PROOFS/")},
		{name: "NATIVES byte", tamper: changed("VOL002/NATIVES/"), only: true},
		{name: "TEXT byte", tamper: changed("VOL001/TEXT/"), only: true},
		{name: "loadfile.dat byte", tamper: changed("loadfile.dat"), only: true},
		{name: "loadfile.csv byte", tamper: changed("loadfile.csv"), only: true},
		{name: "audit.jsonl byte", tamper: changed("audit.jsonl"), only: true},
		{name: "file removed", only: true, tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL002/TEXT/")
			if err := os.Remove(p.path(rel)); err != nil {
				t.Fatal(err)
			}
			return []want{{rel, "missing: the manifest lists it"}}
		}},
		{name: "proof file removed", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL001/PROOFS/")
			if err := os.Remove(p.path(rel)); err != nil {
				t.Fatal(err)
			}
			return []want{{rel, "missing"}, {export.ManifestName, "the proof files prove 15"}, {"WXA0000001 (VOL001/JSONL/", "no proof for this message"}}
		}},
		{name: "file added at the root", only: true, tamper: func(t *testing.T, p *production) []want {
			if err := os.WriteFile(p.path("README.txt"), []byte("hi"), 0o640); err != nil {
				t.Fatal(err)
			}
			return []want{{"README.txt", "extra"}}
		}},
		{name: "file added in a volume", only: true, tamper: func(t *testing.T, p *production) []want {
			if err := os.WriteFile(p.path("VOL002/NATIVES/WXA0000009_9.png"), []byte("hi"), 0o640); err != nil {
				t.Fatal(err)
			}
			return []want{{"VOL002/NATIVES/WXA0000009_9.png", "extra"}}
		}},
		{name: "state directory left", only: true, tamper: func(t *testing.T, p *production) []want {
			if err := os.MkdirAll(p.path(export.StateDir), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p.path(export.StateDir+"/job.json"), []byte("{}"), 0o640); err != nil {
				t.Fatal(err)
			}
			return []want{{export.StateDir + "/job.json", "extra"}}
		}},
		{name: "proof hash changed, file rehashed", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL002/PROOFS/")
			var l export.ProofLine
			p.line(t, rel, 2, &l)
			p.editLine(t, rel, 2, func([]byte) []byte {
				h, _ := hex.DecodeString(l.Hashes[0])
				h[0] ^= 1
				l.Hashes[0] = hex.EncodeToString(h)
				return encodeLine(t, &l)
			})
			p.rehash(t, rel)
			return []want{{l.ProductionNumber + " (" + rel + " line 2)", "wrong proof"},
				{export.ManifestName, "the journaled manifest is"}}
		}},
		{name: "JSONL record changed, file rehashed", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL002/JSONL/")
			var l export.JSONLLine
			p.line(t, rel, 1, &l)
			p.editLine(t, rel, 1, func([]byte) []byte {
				l.Record = strings.Replace(l.Record, "保证收益", "预期收益", 1)
				return encodeLine(t, &l)
			})
			p.rehash(t, rel)
			return []want{{l.ProductionNumber + " (" + rel + " line 1)", "the normalized record does not hash"},
				{export.ManifestName, "the journaled manifest is"}}
		}},
		{name: "JSONL raw changed, file rehashed", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL001/JSONL/")
			var l export.JSONLLine
			p.line(t, rel, 3, &l)
			p.editLine(t, rel, 3, func([]byte) []byte {
				l.Raw = strings.Replace(l.Raw, `"msgtype"`, `"msgType"`, 1)
				return encodeLine(t, &l)
			})
			p.rehash(t, rel)
			return []want{{l.ProductionNumber + " (" + rel + " line 3)", "the raw record does not hash"}}
		}},
		{name: "native replaced, everything rehashed", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL002/NATIVES/")
			if err := os.WriteFile(p.path(rel), []byte("other bytes"), 0o640); err != nil {
				t.Fatal(err)
			}
			p.rehash(t, rel)
			return []want{{rel, "the message's attachment is"}, {export.ManifestName, "the journaled manifest is"}}
		}},
		{name: "leaf swapped for another message's", tamper: func(t *testing.T, p *production) []want {
			rel := p.file(t, "VOL002/PROOFS/")
			var a, b export.ProofLine
			p.line(t, rel, 1, &a)
			p.line(t, rel, 2, &b)
			p.editLine(t, rel, 1, func([]byte) []byte {
				a.Leaf = b.Leaf
				return encodeLine(t, &a)
			})
			p.rehash(t, rel)
			return []want{{a.ProductionNumber + " (" + rel + " line 1)", "wrong proof"}}
		}},
		{name: "another message's whole proof", tamper: func(t *testing.T, p *production) []want {
			// A valid proof, but of another leaf: the serial gives it away.
			rel := p.file(t, "VOL002/PROOFS/")
			var a, b export.ProofLine
			p.line(t, rel, 1, &a)
			p.line(t, rel, 2, &b)
			p.editLine(t, rel, 1, func([]byte) []byte {
				a.Leaf, a.LeafIndex, a.Hashes = b.Leaf, b.LeafIndex, b.Hashes
				return encodeLine(t, &a)
			})
			p.rehash(t, rel)
			return []want{{a.ProductionNumber + " (" + rel + " line 1)", fmt.Sprintf("not serial %d", a.Serial)}}
		}},
		{name: "another message's proof and serial", tamper: func(t *testing.T, p *production) []want {
			// Claiming the other serial too: the JSONL record then does
			// not hash to the proved leaf.
			rel := p.file(t, "VOL002/PROOFS/")
			var a, b export.ProofLine
			p.line(t, rel, 1, &a)
			p.line(t, rel, 3, &b)
			p.editLine(t, rel, 1, func([]byte) []byte {
				a.Leaf, a.LeafIndex, a.Hashes, a.Serial = b.Leaf, b.LeafIndex, b.Hashes, b.Serial
				return encodeLine(t, &a)
			})
			p.rehash(t, rel)
			return []want{{a.ProductionNumber + " (VOL002/JSONL/", "the normalized record does not hash"}}
		}},
		{name: "manifest re-signed with another key", pinned: true, tamper: func(t *testing.T, p *production) []want {
			forger := testSigner(t, 2)
			p.Manifest.PublicKey = forger.Key()
			p.Manifest.Checkpoint = resign(t, forger, p.Manifest.Checkpoint)
			p.writeManifest(t)
			p.Proof.Checkpoint = resign(t, forger, p.Proof.Checkpoint)
			p.writeProof(t)
			return []want{{export.ManifestName, fmt.Sprintf("signed with key %s, not the archive's key %s", keyLabel(forger.Key()), keyLabel(p.Key))}}
		}},
		{name: "manifest re-signed with another key, no pin", tamper: func(t *testing.T, p *production) []want {
			forger := testSigner(t, 2)
			p.Manifest.PublicKey = forger.Key()
			p.Manifest.Checkpoint = resign(t, forger, p.Manifest.Checkpoint)
			p.writeManifest(t)
			p.Proof.Checkpoint = resign(t, forger, p.Proof.Checkpoint)
			p.writeProof(t)
			return []want{{export.ManifestName, "the journaled manifest is"}}
		}},
		{name: "manifest and proof file re-signed, proof names the new manifest", tamper: func(t *testing.T, p *production) []want {
			forger := testSigner(t, 2)
			p.Manifest.PublicKey = forger.Key()
			p.Manifest.Checkpoint = resign(t, forger, p.Manifest.Checkpoint)
			p.writeManifest(t)
			b, _ := os.ReadFile(p.path(export.ManifestName))
			p.Proof.ManifestSHA256 = sha256Hex(b)
			p.Proof.Checkpoint = resign(t, forger, p.Proof.Checkpoint)
			p.writeProof(t)
			return []want{{export.ManifestProofName, "the journaled event names manifest"}}
		}},
		{name: "manifest.proof.json removed", tamper: func(t *testing.T, p *production) []want {
			if err := os.Remove(p.path(export.ManifestProofName)); err != nil {
				t.Fatal(err)
			}
			return []want{{export.ManifestProofName, "missing: nothing proves"}}
		}},
		{name: "manifest.json removed", only: true, tamper: func(t *testing.T, p *production) []want {
			if err := os.Remove(p.path(export.ManifestName)); err != nil {
				t.Fatal(err)
			}
			return []want{{export.ManifestName, "missing"}}
		}},
		{name: "manifest lists fewer messages", tamper: func(t *testing.T, p *production) []want {
			p.Manifest.Messages--
			p.writeManifest(t)
			return []want{{export.ManifestName, "the journal recorded 18"}, {export.ManifestName, "the proof files prove 18"}}
		}},
		{name: "manifest names a path outside", tamper: func(t *testing.T, p *production) []want {
			p.Manifest.Files = append(p.Manifest.Files, export.FileEntry{Path: "../outside", SHA256: p.Manifest.Files[0].SHA256})
			p.writeManifest(t)
			return []want{{export.ManifestName, "not a clean relative path"}}
		}},
		{name: "export.finished of another job", tamper: func(t *testing.T, p *production) []want {
			p.Manifest.ID = "export-1"
			p.writeManifest(t)
			return []want{{export.ManifestProofName, "the journaled event finishes " + p.Job.ID}}
		}},
		{name: "consistency proof dropped", tamper: func(t *testing.T, p *production) []want {
			p.Proof.Consistency = nil
			p.writeProof(t)
			return []want{{export.ManifestProofName, "is not proved a prefix"}}
		}},
		{name: "inclusion proof of export.finished changed", tamper: func(t *testing.T, p *production) []want {
			p.Proof.Hashes[0] = strings.Repeat("00", 32)
			p.writeProof(t)
			return []want{{export.ManifestProofName, "is not proved in the checkpoint"}}
		}},
	}
	for _, c := range cases {
		for _, pinned := range []bool{false, true} {
			if c.pinned && !pinned {
				continue
			}
			t.Run(fmt.Sprintf("%s/pinned=%v", c.name, pinned), func(t *testing.T) {
				p := newProduction(t, prodOpts{})
				wants := c.tamper(t, p)
				pin := ""
				if pinned {
					pin = p.Key
				}
				rep, err := export.Verify(p.Dir, pin)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() {
					t.Fatal("the tampered production verifies")
				}
				t.Logf("problems:\n%s", problems(rep))
				for _, w := range wants {
					found := false
					for _, pr := range rep.Problems {
						found = found || strings.HasPrefix(pr.Path, w.path) && strings.Contains(pr.What, w.what)
					}
					if !found {
						t.Errorf("no problem %q on %s in\n%s", w.what, w.path, problems(rep))
					}
				}
				if c.only && len(rep.Problems) != len(wants) {
					t.Errorf("%d problems, want %d:\n%s", len(rep.Problems), len(wants), problems(rep))
				}
			})
		}
	}
}

func problems(rep *export.Report) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "  %s: %s\n", p.Path, p.What)
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestVerifyForgedArchive: a production forged whole under another key
// (its own journal, its own checkpoints) verifies against its own key —
// that is why the recipient pins the archive's — and fails once pinned.
func TestVerifyForgedArchive(t *testing.T) {
	real := testSigner(t, 1)
	p := newProduction(t, prodOpts{signer: testSigner(t, 3)})
	if rep, _ := export.Verify(p.Dir, ""); !rep.OK() {
		t.Fatalf("the forgery is self-consistent: %s", problems(rep))
	}
	rep, err := export.Verify(p.Dir, real.Key())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Proved != 0 || !rep.KeyPinned {
		t.Fatalf("pinned: %+v", rep)
	}
	if !strings.Contains(problems(rep), "not the archive's key "+keyLabel(real.Key())) {
		t.Errorf("problems:\n%s", problems(rep))
	}
}

// TestVerifyHostileJSONL: Verify reads productions it cannot trust; a
// JSONL line with a negative attachment ordinal (its file rehashed in the
// manifest) must be reported, not crash the verifier.
func TestVerifyHostileJSONL(t *testing.T) {
	p := newProduction(t, prodOpts{})
	rel := p.file(t, "VOL002/JSONL/")
	n := 0
	var l export.JSONLLine
	for i := 1; n == 0; i++ {
		p.line(t, rel, i, &l)
		for _, a := range l.Attachments {
			if a.Path != "" && a.SHA256 != nil {
				n = i
			}
		}
	}
	p.editLine(t, rel, n, func([]byte) []byte {
		for i := range l.Attachments {
			l.Attachments[i].Ordinal = -1
		}
		return encodeLine(t, &l)
	})
	p.rehash(t, rel)
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Verify panicked: %v", r)
		}
	}()
	rep, err := export.Verify(p.Dir, p.Key)
	if err != nil || rep.OK() {
		t.Errorf("Verify = %v, %+v", err, rep)
	}
}
