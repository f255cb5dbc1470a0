package httpx

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrSaturated is matched by the error of a request refused because its
// route already serves as many requests as it may (a *SaturatedError).
var ErrSaturated = errors.New("too many concurrent requests")

// SaturatedError is a request turned away by a Limiter (or another bound
// on a shared resource): the client is told to come back (503 busy,
// Retry-After), like the writer's own push-back. Nothing of the request
// was archived.
type SaturatedError struct {
	What   string // the route or resource, e.g. "ingest"
	Limit  int
	Detail string // what is exhausted, when it is not a count of requests
}

func (e *SaturatedError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s; retry later", e.What, e.Detail)
	}
	return fmt.Sprintf("%s: %d requests already in progress, the most this server takes at once; retry later", e.What, e.Limit)
}

func (e *SaturatedError) Unwrap() error { return ErrSaturated }

// Limiter bounds how many requests of an expensive route run at once. It
// never queues: a request over the limit is refused at once, so a burst
// cannot pile up goroutines, buffers and connections behind the limit.
type Limiter struct {
	what  string
	slots chan struct{}
}

// NewLimiter returns a limiter of n concurrent requests (n ≥ 1).
func NewLimiter(what string, n int) *Limiter {
	return &Limiter{what: what, slots: make(chan struct{}, max(n, 1))}
}

// Acquire takes a slot, or fails with a *SaturatedError. The caller must
// call release exactly once.
func (l *Limiter) Acquire() (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-l.slots }) }, nil
	default:
		return nil, &SaturatedError{What: l.what, Limit: cap(l.slots)}
	}
}

// InUse is the number of slots taken.
func (l *Limiter) InUse() int { return len(l.slots) }

// Budget is a weighted semaphore: a request takes units (bytes of
// entries it is about to archive) before doing the work that costs
// memory, and waits, in arrival order, while the budget is spent. It
// bounds the memory of all requests together without serializing small
// ones: twenty one-message requests take twenty small shares and still
// share one commit. The Limiter in front bounds how many may wait.
type Budget struct {
	mu      sync.Mutex
	total   int64
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

// NewBudget returns a budget of total units (≥ 1).
func NewBudget(total int64) *Budget { return &Budget{total: max(total, 1)} }

// Total is the budget's size.
func (b *Budget) Total() int64 { return b.total }

// Acquire takes n units (n is clamped to [1, Total]), waiting in FIFO
// order until they are free or ctx ends. The caller must call release
// exactly once.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), b.total)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.total {
		b.used += n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.grant() // the head of the line may fit now
	return nil, ctx.Err()
}

func (b *Budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.grant()
			b.mu.Unlock()
		})
	}
}

// grant wakes waiters in order while they fit; b.mu is held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.total {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// InUse is the number of units taken.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
