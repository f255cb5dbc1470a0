package callback

import (
	"container/heap"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Freshness and replay. WeChat signs a callback's timestamp and nonce but
// says nothing about how old a request may be; a captured request could be
// sent again for ever, and in plaintext mode (an Official Account without
// an EncodingAESKey) its signature covers only the token, timestamp and
// nonce, so one seen request lets anyone post any body with it. Two checks
// close that, for every callback in every mode:
//
//   - freshness: the timestamp must be within the window (DefaultFreshness,
//     ±5 minutes, the common allowance for signed webhooks) of the
//     receiver's clock; anything older or later is refused.
//   - replay: the (timestamp, nonce, signature) of every acknowledged
//     request is remembered until its timestamp leaves the window, and a
//     second request with the same three is refused.
//
// WeChat's retries of an unacknowledged message are new deliveries of it:
// its documentation tells developers to recognise them by MsgId (by
// FromUserName + CreateTime for events), not by the request's parameters,
// and the receiver acknowledges them as duplicates of the archived message.
// Should a retry ever repeat the parameters of the first attempt, nothing
// is lost either way: a parameter triple is remembered only once its
// request was acknowledged (the message archived), so the re-sent
// parameters of a request that failed are processed normally.

// DefaultFreshness is the default freshness window: a request's timestamp
// may be this far before or after the receiver's clock.
const DefaultFreshness = 5 * time.Minute

// DefaultReplayCapacity bounds the replay cache of one receiver: 65,536
// requests within a window is over 100 a second for ten minutes. When it
// is full, the entry closest to leaving the window makes room (and a
// warning is logged), so memory stays bounded under any load.
const DefaultReplayCapacity = 1 << 16

// maxNonce bounds a nonce: WeChat's are ten digits.
const maxNonce = 128

// parseTimestamp reads a callback's timestamp: seconds since the epoch.
func parseTimestamp(ts string) (int64, error) {
	v, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v < 0 || len(ts) > 20 {
		return 0, &Error{Op: "verify", Err: ErrStale, Detail: fmt.Sprintf("timestamp %q is not a time in seconds", clip(ts, 24))}
	}
	return v, nil
}

// CheckFresh reports why a request's timestamp parameter would be refused
// by a receiver whose clock says now, with the given window (0:
// DefaultFreshness); nil when it would not. For tools that check a
// captured request (`wxarchive wecom decrypt`).
func CheckFresh(ts string, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultFreshness
	}
	sec, err := parseTimestamp(ts)
	if err != nil {
		return err
	}
	return checkFresh(sec, now, window)
}

// checkFresh refuses a timestamp outside now ± window.
func checkFresh(ts int64, now time.Time, window time.Duration) error {
	d := now.Sub(time.Unix(ts, 0))
	if d <= window && d >= -window {
		return nil
	}
	when := "before"
	if d < 0 {
		d, when = -d, "after"
	}
	if d < 48*time.Hour {
		when = d.Round(time.Second).String() + " " + when
	} else {
		when = fmt.Sprintf("%d days %s", int64(d/(24*time.Hour)), when)
	}
	return &Error{Op: "verify", Err: ErrStale, Detail: fmt.Sprintf("timestamp %d is %s this server's clock (window ±%s): a replayed or delayed request, or a wrong clock here (check NTP)",
		ts, when, window)}
}

type replayKey [sha256.Size]byte

// keyOf identifies a request by its signed parameters. The signature's hex
// case is folded, as Verify folds it: case variants are the same request.
func keyOf(ts, nonce, signature string) replayKey {
	return sha256.Sum256([]byte(ts + "\x00" + nonce + "\x00" + strings.ToLower(signature)))
}

// replayCache remembers requests until their timestamp leaves the window.
// Memory is bounded by capacity; it is safe for concurrent use.
type replayCache struct {
	mu       sync.Mutex
	capacity int
	until    map[replayKey]int64 // expiry (Unix seconds) of each remembered request
	byExpiry expiryHeap
	evicted  int64 // entries dropped before their expiry because the cache was full
}

func newReplayCache(capacity int) *replayCache {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &replayCache{capacity: capacity, until: map[replayKey]int64{}}
}

// reserve remembers k until expiry (Unix seconds) and reports true, or
// reports false when k is already remembered: a replay, or the same
// request still being handled. evicted says an entry had to make room.
func (c *replayCache) reserve(k replayKey, expiry, now int64) (ok, evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	if _, seen := c.until[k]; seen {
		return false, false
	}
	for len(c.until) >= c.capacity && len(c.byExpiry) > 0 {
		e := heap.Pop(&c.byExpiry).(expiryEntry)
		if c.until[e.key] == e.expiry {
			delete(c.until, e.key)
			c.evicted++
			evicted = true
		}
	}
	c.until[k] = expiry
	heap.Push(&c.byExpiry, expiryEntry{key: k, expiry: expiry})
	if len(c.byExpiry) > 2*c.capacity {
		// Released requests leave their heap entries behind; rebuilt from
		// the map, the heap never holds more than twice the capacity.
		c.byExpiry = c.byExpiry[:0]
		for k, e := range c.until {
			c.byExpiry = append(c.byExpiry, expiryEntry{key: k, expiry: e})
		}
		heap.Init(&c.byExpiry)
	}
	return true, evicted
}

// release forgets a reserved request that was not acknowledged, so its
// parameters may be used again (a retry of a request that failed).
func (c *replayCache) release(k replayKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.until, k) // its heap entry goes stale and is skipped when popped
}

// pruneLocked drops the requests whose timestamp has left the window, and
// heap entries left stale by release.
func (c *replayCache) pruneLocked(now int64) {
	for len(c.byExpiry) > 0 {
		e := c.byExpiry[0]
		cur, ok := c.until[e.key]
		switch {
		case ok && cur == e.expiry && e.expiry >= now:
			return
		case ok && cur == e.expiry:
			delete(c.until, e.key)
		}
		heap.Pop(&c.byExpiry)
	}
}

// size reports how many requests are remembered and how many heap entries
// hold them (tests).
func (c *replayCache) size() (entries, heapLen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.until), len(c.byExpiry)
}

type expiryEntry struct {
	key    replayKey
	expiry int64
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
