package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names at a production's root.
const (
	ManifestName      = "manifest.json"
	ManifestProofName = "manifest.proof.json"
	ManifestFormat    = "wxarchive-production/1"
)

// Manifest lists a finished production: the job, and every file with its
// SHA-256 (sorted by path). Its own SHA-256 is journaled in
// export.finished; manifest.proof.json proves that event in a signed
// checkpoint.
type Manifest struct {
	Format string `json:"format"`
	Job
	Volumes int         `json:"volumes"`
	Pages   int         `json:"pages"`
	First   string      `json:"first_number,omitempty"`
	Last    string      `json:"last_number,omitempty"`
	Files   []FileEntry `json:"files"`
}

// ManifestProof is manifest.proof.json: the export.finished leaf that
// names the manifest's hash, its inclusion proof in a checkpoint signed
// by the archive, and the consistency proof from the job's checkpoint
// (where the messages' proofs lead) to that one — one log, one key.
type ManifestProof struct {
	ManifestSHA256 string `json:"manifest_sha256"`
	// Offline: the production was made from a copy that could not
	// journal; nothing proves the manifest until `export record` replaces
	// this file (Leaf, Hashes and Consistency are then empty, Checkpoint
	// is the manifest's).
	Offline     bool     `json:"offline,omitempty"`
	LeafIndex   uint64   `json:"leaf_index"`
	Leaf        string   `json:"leaf"`
	Hashes      []string `json:"hashes"`
	Checkpoint  string   `json:"checkpoint"`
	Consistency []string `json:"consistency"`
}

// Finish writes the production's root files — the load files the job
// asked for, then extra (the audit trail, the coverage certificate:
// name → bytes) — and the manifest, and returns the manifest's SHA-256
// and what it lists. It can run again after a crash: it rewrites the same
// bytes.
func (r *Runner) Finish(ctx context.Context, l *Loaded, loadEncoding string, extra map[string][]byte) (string, *Manifest, error) {
	files := slices.Clone(l.Files)
	w := &writer{root: r.Dir, files: &files, dirs: map[string]bool{}}
	if r.written == nil {
		r.written = map[string]bool{}
	}
	if slices.Contains(r.Job.Formats, "dat") {
		b, err := DAT(l.Rows, loadEncoding)
		if err != nil {
			return "", nil, err
		}
		if err := w.write("loadfile.dat", b); err != nil {
			return "", nil, err
		}
	}
	if slices.Contains(r.Job.Formats, "csv") {
		b, err := CSV(l.Rows, loadEncoding)
		if err != nil {
			return "", nil, err
		}
		if err := w.write("loadfile.csv", b); err != nil {
			return "", nil, err
		}
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.write(n, extra[n]); err != nil {
			return "", nil, err
		}
	}
	slices.SortFunc(files, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
	m := &Manifest{Format: ManifestFormat, Job: *r.Job, Pages: l.Pages, Files: files}
	for _, f := range files {
		if v, _, ok := strings.Cut(f.Path, "/"); ok && strings.HasPrefix(v, "VOL") {
			var n int
			if _, err := fmt.Sscanf(v, "VOL%d", &n); err == nil && n > m.Volumes {
				m.Volumes = n
			}
		}
	}
	if len(l.Rows) > 0 {
		m.First, m.Last = l.Rows[0].Number, l.Rows[len(l.Rows)-1].Number
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", nil, err
	}
	b = append(b, '\n')
	if err := writeFileAtomic(filepath.Join(r.Dir, ManifestName), b); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), m, nil
}

// Seal writes manifest.proof.json and removes the job's state: the
// production is finished.
func Seal(dir string, p *ManifestProof) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, ManifestProofName), append(b, '\n')); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(dir, StateDir))
}

func writeFileAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := syncClose(f); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
