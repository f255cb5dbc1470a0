// Package replica keeps a second, independent copy of an archive in another
// blob store (a directory, an S3 bucket) and checks and restores it without
// the primary.
//
// Glossary:
//   - replica: a blob store holding copies of the primary's durable state —
//     every attachment, pack and sealed journal segment, byte for byte, with
//     the same retain-until and legal hold — and the replica's manifests.
//     The index database is never copied: it is rebuilt from the journal.
//   - manifest: a blob (magic "WXREPL01") one replication run writes last,
//     after everything it copied is durable: which segments it added, the
//     tree size and checkpoint the replica reached, and the packs it holds
//     ahead of that size. The manifests make a replica self-describing;
//     docs/FORMAT.md §12 specifies them.
//   - ahead pack: a pack whose records.sealed event is beyond the tree size
//     the replica reached but which holds records of events below it (the
//     primary seals records after the events that bring them); copied so
//     that every record of the replica's journal is in the replica.
package replica

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/wxarchive/wxarchive/archive"
)

// ManifestMagic starts every manifest blob.
const ManifestMagic = "WXREPL01\n"

// MaxManifestBytes bounds a manifest a reader accepts (a run lists at most
// the segments and packs it copied).
const MaxManifestBytes = 64 << 20

// ManifestVersion is the only version this program writes and reads.
const ManifestVersion = 1

// Manifest is what one replication run recorded in the replica.
type Manifest struct {
	Version        int    `json:"version"`
	ReplicaID      string `json:"replica_id"` // 32 hex, chosen by the first run
	ArchiveID      string `json:"archive_id"`
	Origin         string `json:"origin"`
	PublicKey      string `json:"public_key"` // the primary's configured key when the run started
	RetentionYears int    `json:"retention_years"`
	TimeZone       string `json:"timezone"`
	SealDelayMS    int64  `json:"seal_delay_ms"`
	// From and TreeSize: the run added the journal's leaves [From,
	// TreeSize) to the replica, in Segments.
	From       uint64       `json:"from"`
	TreeSize   uint64       `json:"tree_size"`
	Checkpoint string       `json:"checkpoint"` // the signed note of size TreeSize, as the primary stores it
	Segments   []SegmentRef `json:"segments"`
	// Ahead are the packs beyond TreeSize the replica holds (all of them,
	// not only those this run copied): records of events below TreeSize
	// that the primary sealed after it.
	Ahead     []PackRef    `json:"ahead,omitempty"`
	Copied    Counts       `json:"copied"`
	WrittenAt archive.Time `json:"written_at"`
}

// SegmentRef is a sealed journal segment: leaves [First, End).
type SegmentRef struct {
	First uint64         `json:"first"`
	End   uint64         `json:"end"`
	Blob  archive.BlobID `json:"blob"`
}

// PackRef is a pack as its records.sealed event (journal index Sealed)
// describes it.
type PackRef struct {
	Pack        archive.BlobID `json:"pack"`
	First       uint64         `json:"first"`
	Last        uint64         `json:"last"`
	Count       int            `json:"count"`
	Bytes       int64          `json:"bytes"`
	RetainUntil archive.Time   `json:"retain_until"`
	Sealed      uint64         `json:"sealed"`
}

// Counts are what a run copied (blobs that were already in the replica are
// not counted).
type Counts struct {
	Segments    int   `json:"segments"`
	Packs       int   `json:"packs"`
	Attachments int   `json:"attachments"`
	Bytes       int64 `json:"bytes"`
}

// ErrMalformedManifest is wrapped by every ParseManifest error.
var ErrMalformedManifest = errors.New("malformed replica manifest")

// ManifestError names what is wrong with a manifest.
type ManifestError struct{ Reason string }

func (e *ManifestError) Error() string     { return "replica manifest: " + e.Reason }
func (e *ManifestError) Unwrap() error     { return ErrMalformedManifest }
func manifestErr(f string, a ...any) error { return &ManifestError{Reason: fmt.Sprintf(f, a...)} }
func isManifest(b []byte) bool             { return bytes.HasPrefix(b, []byte(ManifestMagic)) }
func hex32(s string) bool                  { return hexPattern.MatchString(s) }

var hexPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Encode returns the manifest blob: the magic line, the JSON of m, "\n".
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	j, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(ManifestMagic)+len(j)+1)
	b = append(b, ManifestMagic...)
	b = append(b, j...)
	return append(b, '\n'), nil
}

// ParseManifest decodes a manifest blob. It accepts only the canonical
// encoding (what Encode writes), never panics, and every problem is a
// *ManifestError.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestBytes {
		return nil, manifestErr("%d bytes, limit %d", len(b), MaxManifestBytes)
	}
	if !isManifest(b) {
		return nil, manifestErr("missing %q header", ManifestMagic[:8])
	}
	body := b[len(ManifestMagic):]
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, manifestErr("%v", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	again, err := m.Encode()
	if err != nil || !bytes.Equal(again, b) {
		return nil, manifestErr("not in canonical form")
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	switch {
	case m.Version != ManifestVersion:
		return manifestErr("version %d, want %d", m.Version, ManifestVersion)
	case !hex32(m.ReplicaID):
		return manifestErr("replica_id %q is not 32 lower-case hex digits", m.ReplicaID)
	case !hex32(m.ArchiveID):
		return manifestErr("archive_id %q is not 32 lower-case hex digits", m.ArchiveID)
	case m.Origin == "" || m.PublicKey == "":
		return manifestErr("origin and public_key are required")
	case m.TreeSize <= m.From:
		return manifestErr("tree_size %d is not after from %d", m.TreeSize, m.From)
	case m.Checkpoint == "":
		return manifestErr("checkpoint is required")
	case len(m.Segments) == 0:
		return manifestErr("no segments")
	}
	next := m.From
	for i, s := range m.Segments {
		if s.First != next || s.End <= s.First {
			return manifestErr("segments[%d] covers [%d,%d); want a non-empty run from %d", i, s.First, s.End, next)
		}
		next = s.End
	}
	if next != m.TreeSize {
		return manifestErr("segments end at %d, tree_size is %d", next, m.TreeSize)
	}
	for i, p := range m.Ahead {
		if p.Last < p.First || p.Count < 1 || p.Sealed < m.TreeSize || p.First >= m.TreeSize {
			return manifestErr("ahead[%d]: pack %s covering %d..%d sealed at %d is not ahead of tree size %d", i, p.Pack.Short(), p.First, p.Last, p.Sealed, m.TreeSize)
		}
	}
	return nil
}
