//go:build !linux

package fsblob

// haveBarrier: no syncfs(2) here; PutBatch stores one blob after another.
const haveBarrier = false

func (s *Store) barrier() error { return nil }
