package oidc

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Pending is a sign-in begun and not yet completed: what Complete needs to
// check the callback. Verifier and Nonce are secrets (a store keeps them
// as it would a session secret, and never logs them).
type Pending struct {
	Issuer   string // the configured name
	Verifier string // the PKCE code verifier
	Nonce    string
	ReturnTo string
	// Browser is the SHA-256 of the binding cookie the sign-in was begun
	// with: only the browser holding that cookie can complete it.
	Browser [32]byte
	Created time.Time
	Expires time.Time
}

// StateStore keeps pending sign-ins between Begin and Complete. Keys are
// the hex SHA-256 of the state (the raw state, a bearer value in the
// callback URL, is never stored). Contract:
//   - Put keeps p under key until p.Expires; a store may bound how many it
//     keeps by forgetting the oldest (that sign-in then fails with
//     ErrStateUnknown, and the user starts again) — never by refusing
//     Begin, which would let anyone lock everyone out;
//   - Take returns and removes the pending sign-in under key, atomically:
//     of any number of Takes of one key, at most one succeeds. A key never
//     put, or forgotten, is ErrStateUnknown; one taken before,
//     ErrStateReplayed (a store that cannot tell may say ErrStateUnknown);
//     one whose Expires is not after now, ErrStateExpired (and it is gone).
//
// MemoryStates is the implementation for one server process; replicas
// behind a load balancer without sticky sessions need one backed by the
// shared database.
type StateStore interface {
	Put(ctx context.Context, key string, p Pending) error
	Take(ctx context.Context, key string, now time.Time) (Pending, error)
}

// DefaultMaxPending bounds MemoryStates when New is given no store: far
// more sign-ins than a firm starts in a StateTTL, few enough (a few
// hundred bytes each) to bound memory against a flood of Begins.
const DefaultMaxPending = 10000

// MemoryStates is a StateStore in memory, bounded to max entries: the
// oldest are forgotten first (expired ones before live ones). A taken
// state is remembered until its expiry, so a replay is told apart from
// an unknown state.
type MemoryStates struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *stateEntry, oldest first
	byKey map[string]*list.Element
}

type stateEntry struct {
	key   string
	p     Pending
	taken bool
}

var _ StateStore = (*MemoryStates)(nil)

// NewMemoryStates returns an empty store of at most max entries
// (DefaultMaxPending when max ≤ 0).
func NewMemoryStates(max int) *MemoryStates {
	if max <= 0 {
		max = DefaultMaxPending
	}
	return &MemoryStates{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// Put implements StateStore. p.Created is taken as now for forgetting
// what has expired.
func (m *MemoryStates) Put(_ context.Context, key string, p Pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok { // a 256-bit random key does not repeat; be exact anyway
		m.order.Remove(el)
		delete(m.byKey, key)
	}
	m.expire(p.Created)
	for m.order.Len() >= m.max {
		m.drop(m.order.Front())
	}
	m.byKey[key] = m.order.PushBack(&stateEntry{key: key, p: p})
	return nil
}

// Take implements StateStore.
func (m *MemoryStates) Take(_ context.Context, key string, now time.Time) (Pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[key]
	if !ok {
		return Pending{}, ErrStateUnknown
	}
	e := el.Value.(*stateEntry)
	if !now.Before(e.p.Expires) {
		m.drop(el)
		return Pending{}, ErrStateExpired
	}
	if e.taken {
		return Pending{}, ErrStateReplayed
	}
	p := e.p
	// Keep a tombstone without the secrets until the state expires.
	e.taken = true
	e.p = Pending{Issuer: p.Issuer, Created: p.Created, Expires: p.Expires}
	return p, nil
}

// Len is how many states the store holds (pending and taken).
func (m *MemoryStates) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// expire forgets entries that have expired at now. Entries are in order
// of creation and share one TTL in practice, so the scan stops at the
// first live one; a longer-lived entry ahead only delays the others
// until the size bound.
func (m *MemoryStates) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		if now.Before(el.Value.(*stateEntry).p.Expires) {
			return
		}
		m.drop(el)
	}
}

func (m *MemoryStates) drop(el *list.Element) {
	delete(m.byKey, el.Value.(*stateEntry).key)
	m.order.Remove(el)
}
