package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters of new password hashes (RFC
// 9106). Hashes carry their own parameters, so raising these later
// re-hashes nobody's password but applies to every password set after.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2 costs 64 MiB and 105–135 ms per login on the reference
// machine (2 shared cores of an AMD EPYC; docs/BENCHMARKS.md,
// BenchmarkPasswordHash): inside the 50–250 ms a login may take, and
// above RFC 9106's second recommended option (64 MiB, t=3) for memory-
// constrained settings. At DefaultLockoutThreshold it also bounds how much
// memory guessers can make the server spend.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// Password length bounds (bytes). The upper one keeps a login from being a
// way to make the server hash megabytes.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Bounds a stored hash's parameters must respect (ParsePHC): a hash that
// asks for more is refused rather than verified, so that a tampered row
// cannot make one login cost gigabytes or minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonTime    = 64
	minArgonSalt    = 8
	maxArgonSalt    = 64
	minArgonKey     = 16
	maxArgonKey     = 64
	maxPHCBytes     = 256
	argon2idVersion = argon2.Version
)

// ErrPHC is wrapped by every ParsePHC error.
var ErrPHC = errors.New("not an argon2id PHC string")

// PHC is a parsed argon2id hash: $argon2id$v=19$m=M,t=T,p=P$SALT$HASH
// (salt and hash in unpadded standard base64, as the PHC string format
// and the reference implementation write them).
type PHC struct {
	Params Argon2Params
	Salt   []byte
	Hash   []byte
}

// String renders the PHC string.
func (h PHC) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2idVersion, h.Params.Memory, h.Params.Time, h.Params.Threads,
		base64.RawStdEncoding.EncodeToString(h.Salt), base64.RawStdEncoding.EncodeToString(h.Hash))
}

// ParsePHC reads an argon2id PHC string; every error wraps ErrPHC and says
// which part is wrong.
func ParsePHC(s string) (PHC, error) {
	fail := func(format string, a ...any) (PHC, error) {
		return PHC{}, fmt.Errorf("%w: %s", ErrPHC, fmt.Sprintf(format, a...))
	}
	if len(s) > maxPHCBytes {
		return fail("%d bytes, more than %d", len(s), maxPHCBytes)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2idVersion) {
		return fail("version %q, want v=%d", parts[2], argon2idVersion)
	}
	var h PHC
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return fail("parameters %q, want m=…,t=…,p=…", parts[3])
	}
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(params[i], "=")
		if !ok || k != name || v == "" || (len(v) > 1 && v[0] == '0') {
			return fail("parameter %d is %q, want %s=N", i+1, params[i], name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fail("parameter %s: %q is not a number", name, v)
		}
		switch name {
		case "m":
			h.Params.Memory = uint32(n)
		case "t":
			h.Params.Time = uint32(n)
		case "p":
			if n > 255 {
				return fail("p=%d is more than 255", n)
			}
			h.Params.Threads = uint8(n)
		}
	}
	switch {
	case h.Params.Threads < 1:
		return fail("p must be at least 1")
	case h.Params.Time < 1 || h.Params.Time > maxArgonTime:
		return fail("t=%d is not between 1 and %d", h.Params.Time, maxArgonTime)
	case h.Params.Memory < 8*uint32(h.Params.Threads) || h.Params.Memory > maxArgonMemory:
		return fail("m=%d is not between 8·p and %d KiB", h.Params.Memory, maxArgonMemory)
	}
	var err error
	if h.Salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.Salt) < minArgonSalt || len(h.Salt) > maxArgonSalt {
		return fail("salt is not %d to %d bytes of unpadded base64", minArgonSalt, maxArgonSalt)
	}
	if h.Hash, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.Hash) < minArgonKey || len(h.Hash) > maxArgonKey {
		return fail("hash is not %d to %d bytes of unpadded base64", minArgonKey, maxArgonKey)
	}
	h.Params.SaltLen, h.Params.KeyLen = uint32(len(h.Salt)), uint32(len(h.Hash))
	return h, nil
}

// CheckPassword says why a new password is refused (nil: acceptable).
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("the password is shorter than %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password is longer than %d bytes", MaxPasswordLen)
	}
	return nil
}

// HashPassword returns the PHC string of pw with a fresh salt from rand.
func HashPassword(pw string, p Argon2Params, rand io.Reader) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	h := PHC{Params: p, Salt: salt, Hash: argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)}
	if _, err := ParsePHC(h.String()); err != nil {
		return "", fmt.Errorf("argon2id parameters: %w", err)
	}
	return h.String(), nil
}

// VerifyPassword reports whether pw matches the PHC string, comparing in
// constant time. A string that does not parse is an error (and no match).
func VerifyPassword(phc, pw string) (bool, error) {
	h, err := ParsePHC(phc)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxPasswordLen {
		pw = pw[:MaxPasswordLen] // hashed anyway, so the time does not say it was too long
	}
	got := argon2.IDKey([]byte(pw), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, h.Params.KeyLen)
	return subtle.ConstantTimeCompare(got, h.Hash) == 1, nil
}
