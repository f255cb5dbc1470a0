//go:build !windows

package fsblob

import "os"

// syncDirFile makes the entries of an open directory durable (new, renamed
// and removed names), which fsyncing the files themselves does not.
func syncDirFile(d *os.File) error { return d.Sync() }
