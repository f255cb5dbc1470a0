package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/wxarchive/wxarchive/httpx"
)

// spool holds a request body while it is checked and archived: in memory
// up to a threshold, the rest in a temporary file, so that the memory a
// request costs does not grow with its body. The file is unlinked as soon
// as it is created where the system allows it (a crash leaves nothing),
// and removed on Close otherwise.
type spool struct {
	mem   []byte
	file  *os.File
	name  string // still to remove on Close
	size  int64
	quota *spoolQuota
	held  int64 // bytes of quota taken
}

// spoolPrefix names spool files, so that a server can remove the ones a
// crash left behind without touching anything else.
const spoolPrefix = "ingest-"

// spoolQuota bounds the bytes all spool files hold together: a body
// arriving while the quota is spent is refused (503 busy), so that many
// large bodies received at once cannot fill the disk the archive needs.
type spoolQuota struct {
	limit int64
	used  atomic.Int64
}

// take reserves n bytes, or fails with a *httpx.SaturatedError.
func (q *spoolQuota) take(n int64) error {
	if q.used.Add(n) > q.limit {
		q.used.Add(-n)
		return &httpx.SaturatedError{What: "ingest", Detail: fmt.Sprintf("the request spool holds %d bytes of bodies being received or archived, the most this server keeps at once", q.limit)}
	}
	return nil
}

// readSpool reads body into a spool: up to memBytes in memory, the rest
// in a file in dir, within quota. Errors are the body's (too large, too
// slow, the client gone), a *httpx.SaturatedError when the quota is
// spent, or a *httpx.SpoolError for the file.
func readSpool(body io.Reader, memBytes int64, dir string, quota *spoolQuota) (*spool, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(body, memBytes+1))
	if err != nil {
		return nil, err
	}
	if n <= memBytes {
		return &spool{mem: buf.Bytes(), size: n}, nil
	}
	f, err := os.CreateTemp(dir, spoolPrefix+"*")
	if err != nil {
		return nil, &httpx.SpoolError{Err: err}
	}
	s := &spool{file: f, name: f.Name(), quota: quota}
	if os.Remove(f.Name()) == nil {
		s.name = ""
	}
	w := &spoolWriter{s: s}
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.Close()
		return nil, err
	}
	buf = bytes.Buffer{}
	copied, err := io.CopyBuffer(w, struct{ io.Reader }{body}, make([]byte, 64<<10))
	if err != nil {
		s.Close()
		return nil, err // a *httpx.SpoolError when writing failed, else the body's
	}
	s.size = n + copied
	return s, nil
}

// spoolWriter writes to the spool file within the quota, and marks the
// file's errors, since io.Copy does not say whether reading or writing
// failed.
type spoolWriter struct{ s *spool }

func (w *spoolWriter) Write(p []byte) (int, error) {
	if err := w.s.quota.take(int64(len(p))); err != nil {
		return 0, err
	}
	w.s.held += int64(len(p))
	n, err := w.s.file.Write(p)
	if err != nil {
		err = &httpx.SpoolError{Err: err}
	}
	return n, err
}

// ReadAt implements io.ReaderAt.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if s.file != nil {
		n, err := s.file.ReadAt(p, off)
		if err != nil && err != io.EOF {
			err = &httpx.SpoolError{Err: err}
		}
		return n, err
	}
	if off >= int64(len(s.mem)) {
		return 0, io.EOF
	}
	n := copy(p, s.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size is the body's length (capture.Body).
func (s *spool) Size() int64 { return s.size }

// Close releases the spool.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.quota.used.Add(-s.held)
	s.held = 0
	if s.name != "" {
		if rerr := os.Remove(s.name); err == nil {
			err = rerr
		}
	}
	s.file = nil
	return err
}

// prepareSpoolDir creates dir and removes spool files a crash left in it
// (where files cannot be unlinked while open).
func prepareSpoolDir(dir string, logger *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("request spool %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("request spool %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), spoolPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				logger.Warn("request spool: could not remove a stale file", "file", e.Name(), "err", err)
			}
		}
	}
	return nil
}

// bodyError turns an error reading a request body into its answer.
func bodyError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	var se *httpx.SpoolError
	switch {
	case errors.As(err, &tooLarge):
		return httpx.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", limit)
	case errors.Is(err, httpx.ErrBodyTimeout), errors.Is(err, httpx.ErrSaturated), errors.As(err, &se):
		return err
	}
	return httpx.Errorf(http.StatusBadRequest, "malformed_body", "reading the request body: %v", err)
}
