package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"
)

// storageIndex is httpx.StorageOf's name for the index database.
const storageIndex = "the index database"

// probeInterval is the least time between two write probes.
const probeInterval = time.Second

// storageState remembers that a write failed for want of space, so that
// /readyz says not ready (a load balancer then stops sending writes the
// server can only refuse) until a write succeeds again.
type storageState struct {
	probe  func(ctx context.Context) error // writes and removes a probe file on every storage
	logger *slog.Logger

	mu        sync.Mutex
	what      string // "" while writable
	since     time.Time
	lastProbe time.Time
	probeErr  error
}

// full records that a write to what failed with ENOSPC.
func (s *storageState) full(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.what == "" {
		s.since = time.Now()
		s.logger.Error("storage full: not ready until a write succeeds", "storage", what, "err", err)
	}
	s.what = what
}

// writable records a successful write to what: it clears a fault of that
// storage (a commit proves the database has room, not the blob store).
func (s *storageState) writable(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.what == what {
		s.logger.Info("storage writable again", "storage", what, "after", time.Since(s.since).Round(time.Millisecond))
		s.what = ""
	}
}

// check returns why the server is not ready ("" when it is), probing at
// most once per probeInterval while a fault stands.
func (s *storageState) check(ctx context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.what == "" {
		return ""
	}
	if s.probe != nil && time.Since(s.lastProbe) >= probeInterval {
		s.lastProbe = time.Now()
		s.probeErr = s.probe(ctx)
		if s.probeErr != nil && !errors.Is(s.probeErr, syscall.ENOSPC) {
			s.logger.Warn("write probe failed", "err", s.probeErr)
		}
		if s.probeErr == nil {
			s.logger.Info("storage writable again (write probe)", "storage", s.what, "after", time.Since(s.since).Round(time.Millisecond))
			s.what = ""
			return ""
		}
	}
	reason := fmt.Sprintf("no space left on the device holding %s since %s: writes are refused (507) until one succeeds", s.what, s.since.UTC().Format(time.RFC3339))
	switch {
	case errors.Is(s.probeErr, syscall.ENOSPC):
		reason += "; the last write probe found no space either"
	case s.probeErr != nil:
		// Logged in full; the first failure is enough here.
		first, _, _ := strings.Cut(s.probeErr.Error(), "\n")
		reason += "; the last write probe failed: " + first
	}
	return reason
}

// storageWritable is the server's hook for a successful write.
func (s *Server) storageWritable(what string) { s.storage.writable(what) }
