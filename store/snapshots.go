package store

import (
	"errors"
	"sync"
)

// Snapshots tracks an engine's unreleased snapshots so that Close can
// release them: a release its caller forgot (or that a panic skipped)
// must not make Close wait — SQLite's final WAL checkpoint waits for
// readers until its busy timeout, pgxpool's Close for every acquired
// connection. The zero value is ready.
type Snapshots struct {
	mu     sync.Mutex
	next   uint64
	open   map[uint64]func() error
	closed bool
}

// Track registers release and returns the release to hand the caller: it
// runs release once, whoever calls it first (the caller or ReleaseAll),
// and answers nil after that.
func (s *Snapshots) Track(release func() error) func() error {
	s.mu.Lock()
	if s.closed { // taken while the store closes: released at once, reads fail
		s.mu.Unlock()
		release()
		return func() error { return nil }
	}
	if s.open == nil {
		s.open = map[uint64]func() error{}
	}
	id := s.next
	s.next++
	s.open[id] = release
	s.mu.Unlock()
	return func() error {
		s.mu.Lock()
		r, ok := s.open[id]
		delete(s.open, id)
		s.mu.Unlock()
		if !ok {
			return nil
		}
		return r()
	}
}

// ReleaseAll releases every snapshot still open (Close calls it first).
func (s *Snapshots) ReleaseAll() error {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for _, r := range open {
		errs = append(errs, r())
	}
	return errors.Join(errs...)
}
