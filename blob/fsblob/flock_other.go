//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris)

package fsblob

import "os"

// Without flock(2) only one process may use a store directory at a time:
// the in-process shard mutexes still serialize goroutines, and Open empties
// tmp/ unconditionally.
func lockShared(*os.File) error               { return nil }
func lockExclusive(*os.File) error            { return nil }
func tryLockExclusive(*os.File) (bool, error) { return true, nil }
