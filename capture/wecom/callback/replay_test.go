package callback

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func key(i int) replayKey { return keyOf(fmt.Sprint(1700000000+i), fmt.Sprint(i), "sig") }

// TestReplayCacheBounds: a request is remembered until its expiry, then
// forgotten; a released one can be reserved again; a full cache drops the
// entry closest to expiry, never grows past its capacity, and its heap
// stays bounded however many reservations are released.
func TestReplayCacheBounds(t *testing.T) {
	c := newReplayCache(4)
	now := int64(1000)
	for i := range 4 {
		if ok, ev := c.reserve(key(i), now+int64(10+i), now); !ok || ev {
			t.Fatalf("reserve %d: ok %v evicted %v", i, ok, ev)
		}
	}
	if ok, _ := c.reserve(key(2), now+100, now); ok {
		t.Fatal("a remembered request reserved twice")
	}
	// Full: the fifth drops key(0), the one expiring first.
	if ok, ev := c.reserve(key(4), now+50, now); !ok || !ev {
		t.Fatalf("reserve into a full cache: ok %v evicted %v", ok, ev)
	}
	if n, _ := c.size(); n != 4 || c.evicted != 1 {
		t.Fatalf("size %d evicted %d", n, c.evicted)
	}
	if ok, _ := c.reserve(key(1), now+11, now); ok {
		t.Fatal("key(1) was dropped instead of key(0)")
	}
	// Expiry: at now+12, a request expiring at 11 is forgotten, one
	// expiring at 12 is still remembered.
	c = newReplayCache(8)
	c.reserve(key(1), now+11, now)
	c.reserve(key(2), now+12, now)
	if ok, _ := c.reserve(key(5), now+60, now+12); !ok {
		t.Fatal("reserve after expiry")
	}
	if ok, _ := c.reserve(key(1), now+70, now+12); !ok {
		t.Fatal("an expired request is still remembered")
	}
	if ok, _ := c.reserve(key(2), now+70, now+12); ok {
		t.Fatal("a request forgotten before its expiry")
	}
	// Release: the same parameters may come again.
	c.release(key(5))
	if ok, _ := c.reserve(key(5), now+60, now+12); !ok {
		t.Fatal("a released request cannot be reserved again")
	}
	// Reserve-and-release churn leaves the heap bounded.
	for i := range 1000 {
		k := key(100 + i)
		c.reserve(k, now+1000, now+12)
		c.release(k)
	}
	if n, h := c.size(); n > 8 || h > 2*8 {
		t.Fatalf("after churn: %d entries, heap %d", n, h)
	}
}

func TestFreshness(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		ts string
		ok bool
	}{{"1700000000", true}, {"1699999700", true}, {"1700000300", true}, {"1699999699", false}, {"1700000301", false},
		{"", false}, {"-1", false}, {"1.5", false}, {"0x10", false}, {"170000000000000000000000", false}} {
		sec, err := parseTimestamp(tc.ts)
		if err == nil {
			err = checkFresh(sec, now, 5*time.Minute)
		}
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrStale)) {
			t.Errorf("timestamp %q: %v, want ok %v", tc.ts, err, tc.ok)
		}
	}
}

// BenchmarkReplayCache: the cost a callback pays for replay protection,
// with a full cache (eviction on every reservation).
func BenchmarkReplayCache(b *testing.B) {
	c := newReplayCache(DefaultReplayCapacity)
	now := int64(1700000000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.reserve(keyOf(fmt.Sprint(now), fmt.Sprint(i), "0123456789abcdef0123456789abcdef01234567"), now+300+int64(i%600), now)
	}
}
