//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package fsblob

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// flock(2) locks belong to an open file description, so two Stores, or two
// goroutines with separate opens, exclude each other as two processes do,
// and closing the file releases the lock even if the process dies.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = unix.Flock(int(fd), how); !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

func lockShared(f *os.File) error    { return flock(f, unix.LOCK_SH) }
func lockExclusive(f *os.File) error { return flock(f, unix.LOCK_EX) }

// tryLockExclusive reports false, without waiting, if another open file
// holds a lock on f's file.
func tryLockExclusive(f *os.File) (bool, error) {
	err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
