package auth

import (
	"testing"
	"time"
)

// TestTOTPVectors: the SHA-1 test vectors of RFC 6238 appendix B (8
// digits, the seed "12345678901234567890"), and the 6-digit codes used
// here are their last six digits.
func TestTOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		if got := hotp(key, uint64(totpStep(at)), 8); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
		if got := TOTPCode(key, at); got != v.code[2:] {
			t.Errorf("T=%d 6 digits: %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestTOTPSkew(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{now, true}, {now.Add(-TOTPPeriod), true}, {now.Add(TOTPPeriod), true},
		{now.Add(-2 * TOTPPeriod), false}, {now.Add(2 * TOTPPeriod), false},
	} {
		step, ok := matchTOTP(key, TOTPCode(key, c.at), now)
		if ok != c.ok {
			t.Errorf("code of %v at %v: ok %v, want %v", c.at.Sub(now), now, ok, c.ok)
		}
		if ok && step != totpStep(c.at) {
			t.Errorf("matched step %d, want %d", step, totpStep(c.at))
		}
	}
	if _, ok := matchTOTP(key, "", now); ok {
		t.Error("an empty code matched")
	}
}
