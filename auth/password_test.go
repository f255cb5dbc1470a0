package auth

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery", cheap, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q", h)
	}
	p, err := ParsePHC(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != h {
		t.Fatalf("String() = %q, want %q", p.String(), h)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batter": false, "": false} {
		if ok, err := VerifyPassword(h, pw); err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	h2, _ := HashPassword("correct horse battery", cheap, rand.Reader)
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
}

// TestPHCKnownVector: a hash made by the reference argon2 CLI
// (`echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32`).
func TestPHCKnownVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	ok, err := VerifyPassword(ref, "password")
	if err != nil || !ok {
		t.Fatalf("reference vector: %v, %v", ok, err)
	}
}

func TestParsePHCErrors(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if _, err := ParsePHC(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"", "want $argon2id"},
		{strings.Replace(good, "argon2id", "argon2i", 1), "algorithm"},
		{strings.Replace(good, "v=19", "v=16", 1), "version"},
		{strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1", 1), "parameters"},
		{strings.Replace(good, "m=64", "x=64", 1), "parameter 1"},
		{strings.Replace(good, "m=64", "m=064", 1), "parameter 1"},
		{strings.Replace(good, "m=64", "m=4294967296", 1), "not a number"},
		{strings.Replace(good, "m=64", "m=2000000", 1), "m=2000000"},
		{strings.Replace(good, "t=1", "t=0", 1), "t=0"},
		{strings.Replace(good, "t=1", "t=999", 1), "t=999"},
		{strings.Replace(good, "p=1", "p=0", 1), "p must"},
		{strings.Replace(good, "p=1", "p=300", 1), "p=300"},
		{strings.Replace(good, "c29tZXNhbHQ", "c29t", 1), "salt"},
		{strings.Replace(good, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1), "salt"},
		{good[:len(good)-30], "hash"},
		{good + strings.Repeat("A", 300), "bytes"},
	} {
		_, err := ParsePHC(c.in)
		if !errors.Is(err, ErrPHC) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePHC(%.60q) = %v, want ErrPHC saying %q", c.in, err, c.want)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrPHC) {
				t.Fatalf("error %v does not wrap ErrPHC", err)
			}
			return
		}
		// What parses is within bounds and renders back to a string that
		// parses to the same.
		if p.Params.Memory > maxArgonMemory || p.Params.Time > maxArgonTime || p.Params.Threads == 0 {
			t.Fatalf("out-of-bounds parameters accepted: %+v", p.Params)
		}
		q, err := ParsePHC(p.String())
		if err != nil || q.String() != p.String() {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

// BenchmarkPasswordHash is the cost of one login's password check with
// DefaultArgon2 (docs/BENCHMARKS.md: it must stay within 50–250 ms).
func BenchmarkPasswordHash(b *testing.B) {
	h, err := HashPassword("a password of some length", DefaultArgon2, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if ok, _ := VerifyPassword(h, "a password of some length"); !ok {
			b.Fatal("no match")
		}
	}
}
