package export

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
)

// Problem is one thing wrong with a production, named by the file (or
// the message's production number) it concerns.
type Problem struct {
	Path string `json:"path"`
	What string `json:"what"`
}

// Report is what Verify found. A production verifies when Problems is
// empty.
type Report struct {
	ID        string `json:"id"`
	Messages  int    `json:"messages"`
	Proved    int    `json:"proved"` // messages whose inclusion proof verified
	Files     int    `json:"files"`
	PublicKey string `json:"public_key"`
	KeyPinned bool   `json:"key_pinned"` // checked against a key given by the verifier, not the production's own
	// Offline: the production was made from a copy of the archive that
	// could not journal it; its messages are proved, its manifest is not.
	Offline  bool      `json:"offline,omitempty"`
	TreeSize uint64    `json:"tree_size"`
	Problems []Problem `json:"problems"`
}

// OK says whether the production verified.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) fault(path, format string, a ...any) {
	r.Problems = append(r.Problems, Problem{Path: path, What: fmt.Sprintf(format, a...)})
}

// Verify checks a production offline (docs/FORMAT.md §13): the manifest's
// proof (the export.finished leaf naming the manifest's hash, included in
// a checkpoint signed by the archive's key, consistent with the job's
// checkpoint), every file against the manifest (changed, missing, extra),
// every message's inclusion proof and the JSONL records and natives
// against the leaves that archived them. pinnedKey, when not empty, is
// the archive's public key as the recipient obtained it independently
// (the production's own key proves nothing against a forger who re-signed
// everything). Every problem is reported, not only the first; the error
// is for a directory that cannot be read at all.
func Verify(dir, pinnedKey string) (*Report, error) {
	rep := &Report{Problems: []Problem{}}
	mb, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, StateDir, "job.json")); err == nil {
			rep.fault(ManifestName, "missing: the production is unfinished (resume it with wxarchive export resume)")
		} else {
			rep.fault(ManifestName, "missing")
		}
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		rep.fault(ManifestName, "not a manifest: %v", err)
		return rep, nil
	}
	if m.Format != ManifestFormat {
		rep.fault(ManifestName, "format %q, expected %q", m.Format, ManifestFormat)
	}
	rep.ID, rep.Messages, rep.Files, rep.PublicKey = m.ID, m.Messages, len(m.Files), m.PublicKey
	key := m.PublicKey
	if pinnedKey != "" {
		rep.KeyPinned = true
		if pinnedKey != m.PublicKey {
			rep.fault(ManifestName, "signed with key %s, not the archive's key %s", keyName(m.PublicKey), keyName(pinnedKey))
		}
		key = pinnedKey
	}
	// Without a usable key nothing is proved, but the files are still
	// checked against the manifest: the recipient learns all that is wrong.
	var jobCP *journal.Checkpoint
	ver, err := journal.NewVerifier(m.Origin, key)
	if err != nil {
		rep.fault(ManifestName, "public key %s: %v", keyName(key), err)
	} else if jobCP, err = ver.Open([]byte(m.Checkpoint)); err != nil {
		rep.fault(ManifestName, "the job's checkpoint does not verify with key %s: %v", keyName(key), err)
		jobCP = nil
	} else {
		rep.TreeSize = jobCP.Size
	}
	if ver != nil {
		verifyManifestProof(dir, mb, &m, ver, jobCP, rep)
	}

	listed := map[string]FileEntry{}
	for _, f := range m.Files {
		if err := cleanRel(f.Path); err != nil {
			rep.fault(ManifestName, "lists %v", err)
			continue
		}
		listed[f.Path] = f
	}
	// Every file on disk is listed and intact; every listed file exists.
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if rel == ManifestName || rel == ManifestProofName {
			return nil
		}
		f, ok := listed[rel]
		if !ok {
			rep.fault(rel, "extra: the manifest does not list this file")
			return nil
		}
		seen[rel] = true
		sum, size, err := hashFile(p)
		if err != nil {
			rep.fault(rel, "unreadable: %v", err)
		} else if sum != f.SHA256 || size != f.Size {
			rep.fault(rel, "changed: SHA-256 %s (%d bytes), the manifest lists %s (%d bytes)", sum, size, f.SHA256, f.Size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		if _, ok := listed[f.Path]; ok && !seen[f.Path] {
			rep.fault(f.Path, "missing: the manifest lists it")
		}
	}
	if jobCP != nil {
		verifyMessages(dir, &m, listed, jobCP, rep)
	}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return rep, nil
}

func keyName(k string) string {
	if name, _, ok := strings.Cut(k, "+"); ok {
		rest := strings.TrimPrefix(k, name+"+")
		if h, _, ok := strings.Cut(rest, "+"); ok {
			return name + "+" + h
		}
	}
	return k
}

func unhex(hs []string) ([][]byte, error) {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("hash %d is not 32 bytes of hex", i+1)
		}
		out[i] = b
	}
	return out, nil
}

func verifyManifestProof(dir string, mb []byte, m *Manifest, ver *journal.Verifier, jobCP *journal.Checkpoint, rep *Report) {
	pb, err := os.ReadFile(filepath.Join(dir, ManifestProofName))
	if err != nil {
		rep.fault(ManifestProofName, "missing: nothing proves the manifest was journaled (%v)", err)
		return
	}
	var p ManifestProof
	if err := json.Unmarshal(pb, &p); err != nil {
		rep.fault(ManifestProofName, "unreadable: %v", err)
		return
	}
	sum := sha256.Sum256(mb)
	if got := hex.EncodeToString(sum[:]); got != p.ManifestSHA256 {
		rep.fault(ManifestName, "changed: SHA-256 %s, the journaled manifest is %s", got, p.ManifestSHA256)
	}
	if p.Offline {
		// Nothing journaled the manifest (yet: `export record` replaces
		// this file with a journaled proof): what can be checked is that
		// the manifest says so too and names the same checkpoint.
		rep.Offline = true
		if !m.Offline {
			rep.fault(ManifestProofName, "says the production was made offline; the manifest does not")
		}
		if p.Checkpoint != m.Checkpoint {
			rep.fault(ManifestProofName, "names another checkpoint than the manifest")
		}
		return
	}
	ev, err := journal.DecodeLeaf(p.LeafIndex, []byte(p.Leaf))
	if err != nil {
		rep.fault(ManifestProofName, "leaf: %v", err)
		return
	}
	var fin archive.ExportFinishedEvent
	if ev.Type != archive.EventExportFinished || json.Unmarshal(ev.Payload, &fin) != nil {
		rep.fault(ManifestProofName, "the leaf is a %s event, not %s", ev.Type, archive.EventExportFinished)
		return
	}
	if fin.ManifestSHA256 != p.ManifestSHA256 {
		rep.fault(ManifestProofName, "the journaled event names manifest %s, the proof file %s", fin.ManifestSHA256, p.ManifestSHA256)
	}
	if fin.ID != m.ID {
		rep.fault(ManifestProofName, "the journaled event finishes %s, the manifest is %s", fin.ID, m.ID)
	}
	if fin.Messages != m.Messages || fin.Files != len(m.Files) {
		rep.fault(ManifestName, "lists %d messages and %d files, the journal recorded %d and %d", m.Messages, len(m.Files), fin.Messages, fin.Files)
	}
	cp, err := ver.Open([]byte(p.Checkpoint))
	if err != nil {
		rep.fault(ManifestProofName, "the checkpoint does not verify: %v", err)
		return
	}
	hs, err := unhex(p.Hashes)
	if err == nil {
		err = journal.VerifyInclusion(p.LeafIndex, cp.Size, journal.LeafHash([]byte(p.Leaf)), hs, cp.Root)
	}
	if err != nil {
		rep.fault(ManifestProofName, "the export.finished leaf %d is not proved in the checkpoint of size %d: %v", p.LeafIndex, cp.Size, err)
	}
	if jobCP != nil {
		cs, err := unhex(p.Consistency)
		if err == nil {
			err = journal.VerifyConsistency(jobCP.Size, cp.Size, cs, jobCP.Root, cp.Root)
		}
		if err != nil {
			rep.fault(ManifestProofName, "the job's checkpoint (size %d) is not proved a prefix of the manifest's (size %d): %v", jobCP.Size, cp.Size, err)
		}
	}
}

// verifyMessages checks every proof file line against the job's
// checkpoint, and the JSONL records and natives against the leaves — a
// unit at a time (a unit's JSONL file holds the messages its proof file
// proves), so verifying holds one unit's leaves, not the production's.
func verifyMessages(dir string, m *Manifest, listed map[string]FileEntry, cp *journal.Checkpoint, rep *Report) {
	if m.Messages < 0 || m.Messages > 1<<31 {
		rep.fault(ManifestName, "lists an impossible number of messages (%d)", m.Messages)
		return
	}
	seen := make([]bool, m.Messages+1) // production numbers met, by their number
	outside := map[string]bool{}       // numbers met that the manifest's range has not
	proved := 0
	checked := map[string]bool{} // JSONL files checked with their unit's proofs
	for _, f := range m.Files {
		if _, clean := listed[f.Path]; !clean || !isUnitFile(f.Path, "PROOFS", ".jsonl") {
			continue
		}
		leaves := map[string]*archive.MessageEvent{} // production number → the archived event
		eachLine(dir, f.Path, rep, func(n int, line []byte) {
			var l ProofLine
			if err := json.Unmarshal(line, &l); err != nil {
				rep.fault(f.Path, "line %d: %v", n, err)
				return
			}
			where := fmt.Sprintf("%s (%s line %d)", l.ProductionNumber, f.Path, n)
			k, ok := numberOf(m.Prefix, l.ProductionNumber)
			switch {
			case !ok || k > m.Messages:
				rep.fault(where, "not a production number of this production (%s0000001 to %s)", m.Prefix, m.Last)
				if !outside[l.ProductionNumber] {
					outside[l.ProductionNumber] = true
					proved++
				} else {
					rep.fault(where, "production number listed twice")
				}
			case seen[k]:
				rep.fault(where, "production number listed twice")
			default:
				seen[k] = true
				proved++
			}
			hs, err := unhex(l.Hashes)
			if err == nil {
				err = journal.VerifyInclusion(l.LeafIndex, cp.Size, journal.LeafHash([]byte(l.Leaf)), hs, cp.Root)
			}
			if err != nil {
				rep.fault(where, "wrong proof: leaf %d is not included in the checkpoint of size %d: %v", l.LeafIndex, cp.Size, err)
				return
			}
			ev, err := journal.DecodeLeaf(l.LeafIndex, []byte(l.Leaf))
			var me archive.MessageEvent
			if err == nil && (ev.Type == archive.EventMessageArchived || ev.Type == archive.EventMessageConflict) {
				err = json.Unmarshal(ev.Payload, &me)
			} else if err == nil {
				err = fmt.Errorf("a %s event", ev.Type)
			}
			if err != nil {
				rep.fault(where, "the proved leaf does not archive serial %d: %v", l.Serial, err)
				return
			}
			if me.Serial != l.Serial {
				rep.fault(where, "the proved leaf archives serial %d, not serial %d", me.Serial, l.Serial)
				return
			}
			rep.Proved++
			leaves[l.ProductionNumber] = &me
		})
		jf := strings.Replace(f.Path, "/PROOFS/", "/JSONL/", 1)
		if _, ok := listed[jf]; ok {
			checked[jf] = true
			verifyJSONL(dir, jf, leaves, listed, rep)
		}
	}
	if proved != m.Messages {
		rep.fault(ManifestName, "lists %d messages; the proof files prove %d", m.Messages, proved)
	}
	// A JSONL file without its unit's proof file proves nothing.
	for _, f := range m.Files {
		if _, clean := listed[f.Path]; clean && isUnitFile(f.Path, "JSONL", ".jsonl") && !checked[f.Path] {
			verifyJSONL(dir, f.Path, nil, listed, rep)
		}
	}
}

// numberOf is the n of production number PREFIX000000n.
func numberOf(prefix, number string) (int, bool) {
	digits, ok := strings.CutPrefix(number, prefix)
	if !ok || len(digits) < 7 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' || n > 1<<40 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0
}

// verifyJSONL checks a unit's JSONL lines against the leaves its proof
// file proved: the records hash to the journal's, the natives to the
// blobs it archived.
func verifyJSONL(dir, rel string, leaves map[string]*archive.MessageEvent, listed map[string]FileEntry, rep *Report) {
	eachLine(dir, rel, rep, func(n int, line []byte) {
		var l JSONLLine
		if err := json.Unmarshal(line, &l); err != nil {
			rep.fault(rel, "line %d: %v", n, err)
			return
		}
		where := fmt.Sprintf("%s (%s line %d)", l.ProductionNumber, rel, n)
		me := leaves[l.ProductionNumber]
		if me == nil {
			rep.fault(where, "no proof for this message")
			return
		}
		if sha256.Sum256([]byte(l.Record)) != me.Record {
			rep.fault(where, "the normalized record does not hash to the journal's record %s", me.Record)
		}
		raw := []byte(l.Raw)
		if l.RawBase64 != "" {
			raw = decodeB64(l.RawBase64)
		}
		if sha256.Sum256(raw) != me.Raw {
			rep.fault(where, "the raw record does not hash to the journal's raw %s", me.Raw)
		}
		for _, a := range l.Attachments {
			if a.Path == "" || a.SHA256 == nil {
				continue
			}
			if a.Ordinal < 0 || a.Ordinal >= len(me.Attachments) {
				rep.fault(where, "attachment ordinal %d: the journal archived %d attachments", a.Ordinal, len(me.Attachments))
			} else if !me.Attachments[a.Ordinal].Blob.IsZero() && me.Attachments[a.Ordinal].Blob != *a.SHA256 {
				rep.fault(where, "attachment %d is %s, the journal archived %s", a.Ordinal+1, a.SHA256, me.Attachments[a.Ordinal].Blob)
			}
			if fe, ok := listed[a.Path]; ok && fe.SHA256 != a.SHA256.String() {
				rep.fault(a.Path, "the manifest lists SHA-256 %s; the message's attachment is %s", fe.SHA256, a.SHA256)
			}
		}
	})
}

func isUnitFile(p, kind, ext string) bool {
	parts := strings.Split(p, "/")
	return len(parts) == 3 && strings.HasPrefix(parts[0], "VOL") && parts[1] == kind && strings.HasSuffix(parts[2], ext)
}

func eachLine(dir, rel string, rep *Report, fn func(n int, line []byte)) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return // reported as missing
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	n := 0
	for sc.Scan() {
		n++
		fn(n, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		rep.fault(rel, "line %d: %v", n+1, err)
	}
}

func decodeB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return []byte(s) // cannot hash to the leaf's raw: reported as such
	}
	return b
}
