package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

	count int   // files listed, when Files is not kept (Finish)
	bytes int64 // their size
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
// and what it lists (without the file list, streamed from the progress
// file). It can run again after a crash: it rewrites the same bytes.
func (r *Runner) Finish(ctx context.Context, l *Loaded, loadEncoding string, extra map[string][]byte) (string, *Manifest, error) {
	var root []FileEntry
	w := &writer{root: r.Dir, files: &root, dirs: map[string]bool{}}
	for _, lf := range []struct {
		format, name string
		write        func(io.Writer, string, func(func(*LoadRow) error) error) error
	}{{"dat", "loadfile.dat", WriteDAT}, {"csv", "loadfile.csv", WriteCSV}} {
		if !slices.Contains(r.Job.Formats, lf.format) {
			continue
		}
		f, err := w.create(lf.name)
		if err != nil {
			return "", nil, err
		}
		if err := lf.write(f, loadEncoding, l.EachRow); err != nil {
			f.abort()
			return "", nil, err
		}
		if err := f.Close(); err != nil {
			return "", nil, err
		}
	}
	names := make([]string, 0, len(extra)+len(r.RootFiles))
	for n := range extra {
		names = append(names, n)
	}
	for n := range r.RootFiles {
		if _, dup := extra[n]; !dup {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if b, ok := extra[n]; ok {
			if err := w.write(n, b); err != nil {
				return "", nil, err
			}
			continue
		}
		f, err := w.create(n)
		if err != nil {
			return "", nil, err
		}
		if err := r.RootFiles[n](f); err != nil {
			f.abort()
			return "", nil, fmt.Errorf("%s: %w", n, err)
		}
		if err := f.Close(); err != nil {
			return "", nil, err
		}
	}
	m := &Manifest{Format: ManifestFormat, Job: *r.Job, Pages: l.Pages, Volumes: l.Volumes, First: l.First, Last: l.Last}
	sum, err := writeManifest(filepath.Join(r.Dir, ManifestName), m, l, root)
	if err != nil {
		return "", nil, err
	}
	m.count = l.Files + len(root)
	m.bytes = l.Bytes
	for _, f := range root {
		m.bytes += f.Size
	}
	return sum, m, nil
}

// FileCount and Bytes are what a manifest Finish wrote lists (its Files
// are not kept in memory).
func (m *Manifest) FileCount() int {
	if m.Files != nil {
		return len(m.Files)
	}
	return m.count
}

// Bytes is the size of every file the manifest lists.
func (m *Manifest) Bytes() int64 {
	if m.Files == nil {
		return m.bytes
	}
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// writeManifest writes the manifest as json.MarshalIndent(m, "", "  ")
// would, with the files streamed in production order (each unit's, then
// the root files), and returns its SHA-256.
func writeManifest(name string, m *Manifest, l *Loaded, root []FileEntry) (string, error) {
	head, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	// The head ends with `"files": null` and the closing brace.
	const tail = "\"files\": null\n}"
	if !bytes.HasSuffix(head, []byte(tail)) {
		return "", fmt.Errorf("manifest: unexpected encoding")
	}
	head = head[:len(head)-len(tail)]
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	bw.Write(head)
	bw.WriteString(`"files": [`)
	first := true
	var b []byte
	entry := func(e FileEntry) error {
		b = appendManifestEntry(b[:0], &e)
		if first {
			b = b[1:] // no comma before the first
		}
		first = false
		_, err := bw.Write(b)
		return err
	}
	if l.part != "" {
		// The units' entries, rendered as Run wrote them.
		var pf *os.File
		if pf, err = os.Open(l.part); err == nil {
			// Each entry starts with its comma: not the first's.
			var c [1]byte
			if _, err = io.ReadFull(pf, c[:]); err == nil {
				first = false
				_, err = io.Copy(bw, pf)
			} else if err == io.EOF {
				err = nil
			}
			pf.Close()
		}
	} else {
		err = l.EachFile(entry)
	}
	for _, e := range root {
		if err == nil {
			err = entry(e)
		}
	}
	if err == nil {
		if first {
			bw.WriteString("]\n}\n")
		} else {
			bw.WriteString("\n  ]\n}\n")
		}
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := syncClose(f); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, name); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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

// appendManifestEntry appends a file's entry in the manifest's list:
// ",\n    " and the entry as json.MarshalIndent(e, "    ", "  ") writes
// it (by hand when its strings need no escaping, the common case).
func appendManifestEntry(b []byte, e *FileEntry) []byte {
	b = append(b, ",\n    "...)
	if !plainJSON(e.Path) || !plainJSON(e.SHA256) {
		m, err := json.MarshalIndent(e, "    ", "  ")
		if err != nil {
			panic(err) // a struct of strings and an integer always encodes
		}
		return append(b, m...)
	}
	b = append(b, "{\n      \"path\": \""...)
	b = append(b, e.Path...)
	b = append(b, "\",\n      \"sha256\": \""...)
	b = append(b, e.SHA256...)
	b = append(b, "\",\n      \"size\": "...)
	b = strconv.AppendInt(b, e.Size, 10)
	return append(b, "\n    }"...)
}

// plainJSON says whether s is written into JSON as it is (printable
// ASCII that encoding/json does not escape).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
