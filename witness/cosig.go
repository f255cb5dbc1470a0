package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note key type of Ed25519 cosignature/v1
// keys (https://c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// A cosignature/v1 signature is an 8-byte big-endian POSIX timestamp and
// a 64-byte Ed25519 signature of "cosignature/v1\ntime <t>\n" followed by
// the checkpoint's note text.
const cosigSize = 8 + ed25519.SignatureSize

// ErrBadKey is wrapped by every key parsing error.
var ErrBadKey = errors.New("malformed witness key")

// GenerateCosignerKey creates an Ed25519 cosignature/v1 key pair in
// signed-note key encoding: "PRIVATE+KEY+<name>+<hash>+<base64(0x04 ||
// seed)>" and "<name>+<hash>+<base64(0x04 || public key)>". name
// identifies the witness (a schema-less URL is customary) and must not
// contain spaces or '+'.
func GenerateCosignerKey(name string) (signerKey, verifierKey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("%w: name %q must be non-empty, without spaces or '+'", ErrBadKey, name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	h := cosigKeyHash(name, pub)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
	vkey := fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
	return skey, vkey, nil
}

func validKeyName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "+") && !strings.ContainsFunc(name, isSpaceOrControl)
}

// cosigKeyHash is SHA-256(name || "\n" || 0x04 || public key)[:4].
func cosigKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignedMessage(t uint64, text []byte) []byte {
	m := make([]byte, 0, 40+len(text))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, text...)
}

// Cosigner signs checkpoints with a witness's cosignature/v1 key. It is a
// note.Signer.
type Cosigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
	now  func() time.Time
}

var _ note.Signer = (*Cosigner)(nil)

// NewCosigner parses a signer key made by GenerateCosignerKey. now is the
// clock whose time each cosignature states (nil: time.Now): the
// timestamp is evidence of when the witness saw the tree.
func NewCosigner(signerKey string, now func() time.Time) (*Cosigner, error) {
	parts := strings.SplitN(strings.TrimSpace(signerKey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" || !validKeyName(parts[2]) || len(parts[3]) != 8 {
		return nil, fmt.Errorf("%w: not a PRIVATE+KEY+<name>+<hash>+<key> signer key", ErrBadKey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algCosignatureV1 {
		return nil, fmt.Errorf("%w: not an Ed25519 cosignature/v1 signer key", ErrBadKey)
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	c := &Cosigner{name: parts[2], priv: priv, now: now}
	c.hash = cosigKeyHash(c.name, priv.Public().(ed25519.PublicKey))
	if want, err := strconv.ParseUint(parts[3], 16, 32); err != nil || uint32(want) != c.hash {
		return nil, fmt.Errorf("%w: key hash does not match the key", ErrBadKey)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

func (c *Cosigner) Name() string    { return c.name }
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// VerifierKey is the public key to give to those who check cosignatures.
func (c *Cosigner) VerifierKey() string {
	pub := c.priv.Public().(ed25519.PublicKey)
	return fmt.Sprintf("%s+%08x+%s", c.name, c.hash, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
}

// Sign returns the cosignature of a note's text (timestamp || signature).
func (c *Cosigner) Sign(text []byte) ([]byte, error) {
	t := c.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosigner clock before 1970")
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, cosigSize), uint64(t))
	return append(sig, ed25519.Sign(c.priv, cosignedMessage(uint64(t), text))...), nil
}

// SignatureLine returns the note signature line ("— name base64\n") of a
// cosignature of text.
func (c *Cosigner) SignatureLine(text []byte) ([]byte, error) {
	sig, err := c.Sign(text)
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(sig)), c.hash)
	b = append(b, sig...)
	return []byte("— " + c.name + " " + base64.StdEncoding.EncodeToString(b) + "\n"), nil
}

// CosignatureVerifier checks cosignature/v1 signatures of one witness. It
// is a note.Verifier.
type CosignatureVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

var _ note.Verifier = (*CosignatureVerifier)(nil)

// NewCosignatureVerifier parses a witness's verifier key
// ("<name>+<hash>+<base64(0x04 || key)>").
func NewCosignatureVerifier(verifierKey string) (*CosignatureVerifier, error) {
	parts := strings.SplitN(strings.TrimSpace(verifierKey), "+", 3)
	if len(parts) != 3 || !validKeyName(parts[0]) || len(parts[1]) != 8 {
		return nil, fmt.Errorf("%w: not a <name>+<hash>+<key> verifier key", ErrBadKey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, fmt.Errorf("%w: not an Ed25519 cosignature/v1 key (type 0x04)", ErrBadKey)
	}
	v := &CosignatureVerifier{name: parts[0], pub: ed25519.PublicKey(raw[1:])}
	v.hash = cosigKeyHash(v.name, v.pub)
	if want, err := strconv.ParseUint(parts[1], 16, 32); err != nil || uint32(want) != v.hash {
		return nil, fmt.Errorf("%w: key hash does not match the key", ErrBadKey)
	}
	return v, nil
}

func (v *CosignatureVerifier) Name() string    { return v.name }
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks a cosignature of a note's text.
func (v *CosignatureVerifier) Verify(text, sig []byte) bool {
	if len(sig) != cosigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(t, text), sig[8:])
}

// CosignatureTime is the time a cosignature in a note line states.
func CosignatureTime(s note.Signature) (time.Time, bool) {
	raw, err := base64.StdEncoding.DecodeString(s.Base64)
	if err != nil || len(raw) != 4+cosigSize {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[4:])), 0).UTC(), true
}
