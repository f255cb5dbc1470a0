// Package diskprobe tells whether a directory can take a write now, by
// making one: a probe file of Size bytes, written, fsync'd and removed.
// Readiness uses it after a write failed for want of space, to learn that
// space is back without writing anything that belongs to the archive.
package diskprobe

import (
	"errors"
	"fmt"
	"os"
)

// Size is the probe's size: small enough to cost nothing, large enough
// that a disk with a few blocks left still fails it, instead of
// announcing a readiness the next commit would refute.
const Size = 1 << 20

// Prefix names probe files; a crash between writing and removing one
// leaves a file of this name, which anyone may delete.
const Prefix = ".wxarchive-probe-"

var zeros = make([]byte, 64<<10)

// Write writes, syncs and removes a probe file in dir. The error wraps
// the system's (syscall.ENOSPC when the disk is still full).
func Write(dir string) (err error) {
	f, err := os.CreateTemp(dir, Prefix+"*")
	if err != nil {
		return fmt.Errorf("write probe in %s: %w", dir, err)
	}
	defer func() {
		cerr := f.Close()
		rerr := os.Remove(f.Name())
		if err == nil {
			err = errors.Join(cerr, rerr)
		}
		if err != nil {
			err = fmt.Errorf("write probe in %s: %w", dir, err)
		}
	}()
	for n := 0; n < Size; n += len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			return err
		}
	}
	return f.Sync()
}
