package fsblob

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// haveBarrier: syncfs(2) makes everything written to the store's file
// system durable at once (what `sync` does for one file system).
const haveBarrier = true

// barrier makes every write to the store's file system so far durable:
// file contents, new names, renames (syncfs(2), one journal commit).
func (s *Store) barrier() error {
	if !s.sync {
		return nil
	}
	rc, err := s.tmpLock.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("fsblob: syncfs %s: %w", s.dir, serr)
	}
	return nil
}
