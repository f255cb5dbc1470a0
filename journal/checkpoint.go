package journal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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
	origin      string
	s           note.Signer
	verifierKey string
}

// NewSigner parses a note signer key (as written by GenerateKey).
func NewSigner(origin, signerKey string) (*Signer, error) {
	skey := strings.TrimSpace(signerKey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key: %w", err)
	}
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key: %w", err)
	}
	return &Signer{origin: origin, s: s, verifierKey: vkey}, nil
}

// verifierKeyOf derives the verifier key "name+hash+base64(0x01‖pub)"
// from a note signer key "PRIVATE+KEY+name+hash+base64(0x01‖seed)".
func verifierKeyOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // base64 may hold a +
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(vkey, parts[2]+"+"+parts[3]+"+") {
		return "", errors.New("signer key's hash does not match its key")
	}
	return vkey, nil
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

// Key returns the note signer key's public (verifier) key.
func (s *Signer) Key() string {
	return s.verifierKey
}

// RotationStatement is the text an archive's current key signs to vouch
// for the next one (the key.rotated event's note).
func RotationStatement(origin, previousKey, nextKey string) string {
	return "wxarchive key rotation\n" + origin + "\n" + strings.TrimSpace(previousKey) + "\n" + strings.TrimSpace(nextKey) + "\n"
}

// SignStatement signs text (lines ending in newline) as a note.
func (s *Signer) SignStatement(text string) ([]byte, error) {
	return note.Sign(&note.Note{Text: text}, s.s)
}

// Verifier checks checkpoints of one origin.
type Verifier struct {
	origin string
	v      note.Verifier
	err    error // set by InvalidVerifier
}

// InvalidVerifier is a Verifier for a key that could not be read: every
// Open fails with err. A reader opened on an archive whose configured key
// is damaged still opens, and says why nothing verifies.
func InvalidVerifier(err error) *Verifier { return &Verifier{err: err} }

// OpenStatement verifies a note signed by this verifier's key and returns
// its text.
func (v *Verifier) OpenStatement(b []byte) (string, error) {
	if v.err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCheckpoint, v.err)
	}
	n, err := note.Open(b, note.VerifierList(v.v))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	return n.Text, nil
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
	if v.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, v.err)
	}
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

// PeekCheckpoint reads a checkpoint note's origin, size, root and time
// WITHOUT verifying its signature: for a reader that files notes before it
// can know which key must have signed them (restoring an index from a
// replica's segments, whose notes verify checks afterwards). Never treat
// what it returns as attested.
func PeekCheckpoint(b []byte) (*Checkpoint, error) {
	body, _, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no signature block", ErrBadCheckpoint)
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: %d header lines, want at least 3", ErrBadCheckpoint, len(lines))
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: size line %q", ErrBadCheckpoint, lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return nil, fmt.Errorf("%w: root line %q", ErrBadCheckpoint, lines[2])
	}
	out := &Checkpoint{Origin: lines[0], Size: size, Root: root, Note: bytes.Clone(b)}
	for _, line := range lines[3:] {
		if t, ok := strings.CutPrefix(line, "time "); ok {
			if err := out.Time.UnmarshalText([]byte(t)); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
			}
		}
	}
	return out, nil
}
