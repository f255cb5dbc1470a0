package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"time"
)

// TOTP (RFC 6238) with the parameters every authenticator app supports:
// HMAC-SHA-1, 6 digits, 30-second steps, and one step of clock skew
// either way. A code is accepted once (the store records the last step
// used), so an observed code cannot be replayed within its window.
const (
	TOTPPeriod    = 30 * time.Second
	TOTPDigits    = 6
	TOTPSkew      = 1  // steps accepted before and after the current one
	TOTPSecretLen = 20 // bytes: the SHA-1 block-size key RFC 4226 recommends
)

// hotp is RFC 4226's HOTP value of counter, digits long.
func hotp(key []byte, counter uint64, digits int) string {
	m := hmac.New(sha1.New, key)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	m.Write(c[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// totpStep is the RFC 6238 time step of t (T0 = 0).
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode is the code of key at t.
func TOTPCode(key []byte, t time.Time) string { return hotp(key, uint64(totpStep(t)), TOTPDigits) }

// matchTOTP returns the step whose code code is, within the skew of t
// (ok false when none). Every candidate is computed and compared in
// constant time, so the time taken says nothing about which matched.
func matchTOTP(key []byte, code string, t time.Time) (step int64, ok bool) {
	now := totpStep(t)
	for s := now - TOTPSkew; s <= now+TOTPSkew; s++ {
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(key, uint64(s), TOTPDigits)), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// NewTOTPSecret returns a new TOTP key from rand.
func NewTOTPSecret(rand io.Reader) ([]byte, error) {
	k := make([]byte, TOTPSecretLen)
	if _, err := io.ReadFull(rand, k); err != nil {
		return nil, fmt.Errorf("TOTP secret: %w", err)
	}
	return k, nil
}

// TOTPURI is the otpauth:// URI an authenticator app enrols from (the
// key in unpadded base32, as the apps expect).
func TOTPURI(issuer, user string, key []byte) string {
	q := url.Values{}
	q.Set("secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+user) + "?" + q.Encode()
}
