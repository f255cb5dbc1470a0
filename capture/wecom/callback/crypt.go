// Package callback receives WeCom application and WeChat Official Account
// callbacks: message signatures, "safe mode" encryption (WXBizMsgCrypt),
// the callback XML, and an HTTP receiver that archives what arrives.
//
// Glossary:
//   - token: the shared secret configured with the callback URL; it signs
//     every request (msg_signature, or signature in plaintext mode).
//   - EncodingAESKey: 43 characters of base64 (without the final '=')
//     giving the 32-byte AES-256 key; the IV is its first 16 bytes.
//   - receive id: whom the message is for — the CorpID of a WeCom app, the
//     suite id of a third-party app, the AppID of an Official Account. It
//     ends every decrypted plaintext and must match.
//   - echostr: the challenge of a URL verification (GET); in safe mode it
//     is encrypted and signed like a message.
//
// The wire format (shared/fixtures/wecom/callback/vectors.json):
//
//	msg_signature = hex(sha1(sort(token, timestamp, nonce, encrypt) joined))
//	plaintext     = random(16) | uint32 big-endian len(msg) | msg | receive id
//	encrypt       = base64(AES-256-CBC(key, IV = key[:16], PKCS#7 to 32-byte blocks))
package callback

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Reasons a callback is refused. Every *Error wraps one of them, so callers
// can tell a forged request (ErrSignature) from a misconfigured key or
// receive id.
var (
	ErrSignature = errors.New("signature mismatch")
	ErrKey       = errors.New("bad EncodingAESKey")
	ErrBase64    = errors.New("ciphertext is not base64")
	ErrLength    = errors.New("bad ciphertext length")
	ErrPadding   = errors.New("bad padding")
	ErrFrame     = errors.New("bad plaintext frame")
	ErrReceiveID = errors.New("receive id mismatch")
	ErrXML       = errors.New("bad callback XML")
	// ErrStale: the timestamp is outside the freshness window (or not a
	// time at all).
	ErrStale = errors.New("timestamp outside the freshness window")
	// ErrReplay: the timestamp, nonce and signature are those of a request
	// already acknowledged within the window.
	ErrReplay = errors.New("request replayed")
	// ErrPlaintext: a request to a receiver without an EncodingAESKey
	// whose configuration does not allow plaintext mode.
	ErrPlaintext = errors.New("plaintext mode is not enabled")
)

// Error is a refused callback: which step failed and why. It never holds
// the token, the key or the plaintext.
type Error struct {
	Op     string // "verify", "decrypt", "parse", "key"
	Err    error  // one of the Err* reasons
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error() + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// pkcs7Block is WXBizMsgCrypt's padding block: 32 bytes, not AES's 16.
const pkcs7Block = 32

// MaxCiphertext bounds an encrypted message (WeCom's are a few KB).
const MaxCiphertext = 1 << 20

// Crypter signs, verifies, encrypts and decrypts for one callback
// configuration. It is safe for concurrent use.
type Crypter struct {
	token     string
	key       []byte
	receiveID string
	also      []string // further receive ids accepted (a suite id)
	block     cipher.Block
	// Rand supplies the 16 random bytes of each encrypted reply
	// (crypto/rand when nil); tests fix it to reproduce vectors.
	Rand io.Reader
}

// NewCrypter checks the EncodingAESKey (43 base64 characters, 32 bytes)
// and returns a Crypter. encodingAESKey may be empty for an Official
// Account in plaintext mode: then only signatures work. Decrypt accepts a
// plaintext for receiveID or any of also (a callback URL that is both a
// corp's data URL and a suite's instruction URL); Encrypt seals for
// receiveID.
func NewCrypter(token, encodingAESKey, receiveID string, also ...string) (*Crypter, error) {
	if token == "" {
		return nil, &Error{Op: "key", Err: ErrKey, Detail: "the token is empty"}
	}
	c := &Crypter{token: token, receiveID: receiveID}
	for _, id := range also {
		if id != "" && id != receiveID {
			c.also = append(c.also, id)
		}
	}
	if encodingAESKey == "" {
		return c, nil
	}
	if len(encodingAESKey) != 43 {
		return nil, &Error{Op: "key", Err: ErrKey, Detail: fmt.Sprintf("want 43 characters, got %d", len(encodingAESKey))}
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, &Error{Op: "key", Err: ErrKey, Detail: "not base64 for 32 bytes"}
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, &Error{Op: "key", Err: ErrKey, Detail: err.Error()}
	}
	c.key, c.block = key, b
	return c, nil
}

// Encrypted reports whether the Crypter has an AES key (safe mode).
func (c *Crypter) Encrypted() bool { return c.block != nil }

// Sign returns the hex SHA-1 signature over the token and parts, sorted
// as strings. With an encrypt part it is msg_signature; without, the
// plaintext-mode signature of Official Accounts.
func (c *Crypter) Sign(parts ...string) string {
	all := append([]string{c.token}, parts...)
	sort.Strings(all)
	sum := sha1.Sum([]byte(strings.Join(all, "")))
	return hex.EncodeToString(sum[:])
}

// Verify checks a signature over (timestamp, nonce[, encrypt]) in constant
// time. Hex case is ignored (some proxies upper-case it).
func (c *Crypter) Verify(signature string, parts ...string) error {
	want := c.Sign(parts...)
	got := strings.ToLower(signature)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &Error{Op: "verify", Err: ErrSignature}
	}
	return nil
}

// Decrypt opens an encrypt value: base64, AES-256-CBC, padding, frame and
// receive id are all checked, and the message bytes returned.
func (c *Crypter) Decrypt(encrypt string) ([]byte, error) {
	fail := func(err error, detail string, a ...any) ([]byte, error) {
		return nil, &Error{Op: "decrypt", Err: err, Detail: fmt.Sprintf(detail, a...)}
	}
	if c.block == nil {
		return fail(ErrKey, "no EncodingAESKey configured (plaintext mode)")
	}
	if len(encrypt) > base64.StdEncoding.EncodedLen(MaxCiphertext) {
		return fail(ErrLength, "%d base64 characters, more than %d bytes", len(encrypt), MaxCiphertext)
	}
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return fail(ErrBase64, "%v", err)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return fail(ErrLength, "%d bytes is not a whole number of %d-byte AES blocks", len(ct), aes.BlockSize)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n < 1 || n > pkcs7Block || n > len(pt) {
		return fail(ErrPadding, "pad byte %d (want 1–%d)", n, pkcs7Block)
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return fail(ErrPadding, "pad bytes differ")
		}
	}
	pt = pt[:len(pt)-n]
	if len(pt) < 20 {
		return fail(ErrFrame, "%d bytes, shorter than the 16-byte random prefix and 4-byte length", len(pt))
	}
	msgLen := binary.BigEndian.Uint32(pt[16:20])
	if uint64(msgLen) > uint64(len(pt)-20) {
		return fail(ErrFrame, "message length %d exceeds the %d bytes present", msgLen, len(pt)-20)
	}
	msg, rid := pt[20:20+msgLen], pt[20+msgLen:]
	match := subtle.ConstantTimeCompare(rid, []byte(c.receiveID))
	for _, id := range c.also {
		match |= subtle.ConstantTimeCompare(rid, []byte(id))
	}
	if match != 1 {
		// The receive id is not secret: naming it helps the administrator
		// who configured the wrong CorpID, suite id or AppID.
		want := c.receiveID
		if len(c.also) > 0 {
			want += " or " + strings.Join(c.also, " or ")
		}
		return fail(ErrReceiveID, "message is for %q, this receiver is %q", printable(rid), want)
	}
	return bytes.Clone(msg), nil
}

// Encrypt seals msg for a reply (or a test), with 16 random bytes from
// c.Rand.
func (c *Crypter) Encrypt(msg []byte) (string, error) {
	if c.block == nil {
		return "", &Error{Op: "encrypt", Err: ErrKey, Detail: "no EncodingAESKey configured (plaintext mode)"}
	}
	if len(msg) > MaxCiphertext {
		return "", &Error{Op: "encrypt", Err: ErrLength, Detail: fmt.Sprintf("%d bytes", len(msg))}
	}
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	pt := make([]byte, 20, 20+len(msg)+len(c.receiveID)+pkcs7Block)
	if _, err := io.ReadFull(r, pt[:16]); err != nil {
		return "", fmt.Errorf("encrypt: random prefix: %w", err)
	}
	binary.BigEndian.PutUint32(pt[16:20], uint32(len(msg)))
	pt = append(pt, msg...)
	pt = append(pt, c.receiveID...)
	n := pkcs7Block - len(pt)%pkcs7Block
	pt = append(pt, bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(pt, pt)
	return base64.StdEncoding.EncodeToString(pt), nil
}

// printable shortens and quotes-safe an untrusted id for an error message.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
