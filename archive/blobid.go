package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// BlobID is the SHA-256 of a blob's or record's bytes. The zero value means
// "no blob" (for example an attachment whose media was never obtained).
type BlobID [32]byte

// Hash returns the BlobID of data.
func Hash(data []byte) BlobID { return sha256.Sum256(data) }

// ParseBlobID parses the 64-character lower- or upper-case hex form.
func ParseBlobID(s string) (BlobID, error) {
	var id BlobID
	if len(s) != 64 {
		return id, fmt.Errorf("blob id %q: want 64 hex characters, got %d", truncate(s, 80), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("blob id %q: %v", truncate(s, 80), err)
	}
	return id, nil
}

// String returns the lower-case hex form.
func (id BlobID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex characters, for human-facing output only.
func (id BlobID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the zero value.
func (id BlobID) IsZero() bool { return id == BlobID{} }

// MarshalText implements encoding.TextMarshaler.
func (id BlobID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *BlobID) UnmarshalText(b []byte) error {
	p, err := ParseBlobID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
