package journal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/wxarchive/wxarchive/archive"
)

// Checkpoint is a verified, parsed checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Time   archive.Time // from the signed "time" extension line
	Note   []byte       // the signed note exactly as stored
}

// GenerateKey creates an Ed25519 note key pair. name identifies the key in
// signatures (it must not contain spaces or '+').
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Signer signs checkpoints for one log origin.
type Signer struct {
	origin string
	s      note.Signer
}

// NewSigner parses a note signer key (as written by GenerateKey).
func NewSigner(origin, signerKey string) (*Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(signerKey))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key: %w", err)
	}
	return &Signer{origin: origin, s: s}, nil
}

// Origin is the log identity in every checkpoint.
func (s *Signer) Origin() string { return s.origin }

// Sign returns the signed checkpoint note for a tree.
func (s *Signer) Sign(size uint64, root []byte, at archive.Time) ([]byte, error) {
	body := log.Checkpoint{Origin: s.origin, Size: size, Hash: root}.Marshal()
	body = append(body, "time "...)
	body = append(body, at.String()...)
	body = append(body, '\n')
	return note.Sign(&note.Note{Text: string(body)}, s.s)
}

// Verifier checks checkpoints of one origin.
type Verifier struct {
	origin string
	v      note.Verifier
}

// NewVerifier parses a note verifier key (the archive's public key).
func NewVerifier(origin, verifierKey string) (*Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("checkpoint public key: %w", err)
	}
	return &Verifier{origin: origin, v: v}, nil
}

// ErrBadCheckpoint is wrapped by every Open error.
var ErrBadCheckpoint = errors.New("invalid checkpoint")

// Open verifies the signature and parses a checkpoint note.
func (v *Verifier) Open(b []byte) (*Checkpoint, error) {
	cp, rest, _, err := log.ParseCheckpoint(b, v.origin, v.v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	out := &Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Note: bytes.Clone(b)}
	for _, line := range strings.Split(string(rest), "\n") {
		if t, ok := strings.CutPrefix(line, "time "); ok {
			if err := out.Time.UnmarshalText([]byte(t)); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
			}
		}
	}
	if len(out.Root) != 32 {
		return nil, fmt.Errorf("%w: root hash is %d bytes", ErrBadCheckpoint, len(out.Root))
	}
	return out, nil
}
