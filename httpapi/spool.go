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

	"github.com/wxarchive/wxarchive/httpx"
)

// spool holds a request body while it is checked and archived: in memory
// up to a threshold, the rest in a temporary file, so that the memory a
// request costs does not grow with its body. The file is unlinked as soon
// as it is created where the system allows it (a crash leaves nothing),
// and removed on Close otherwise.
type spool struct {
	mem  []byte
	file *os.File
	name string // still to remove on Close
	size int64
}

// spoolPrefix names spool files, so that a server can remove the ones a
// crash left behind without touching anything else.
const spoolPrefix = "ingest-"

// readSpool reads body into a spool: up to memBytes in memory, the rest
// in a file in dir. Errors are the body's (too large, too slow, the
// client gone) or a *httpx.SpoolError for the file.
func readSpool(body io.Reader, memBytes int64, dir string) (*spool, error) {
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
	s := &spool{file: f, name: f.Name()}
	if os.Remove(f.Name()) == nil {
		s.name = ""
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		s.Close()
		return nil, &httpx.SpoolError{Err: err}
	}
	buf = bytes.Buffer{}
	copied, err := io.CopyBuffer(spoolWriter{f}, struct{ io.Reader }{body}, make([]byte, 64<<10))
	if err != nil {
		s.Close()
		return nil, err // a *httpx.SpoolError when writing failed, else the body's
	}
	s.size = n + copied
	return s, nil
}

// spoolWriter marks the file's errors, since io.Copy does not say whether
// reading or writing failed.
type spoolWriter struct{ f *os.File }

func (w spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
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
	case errors.Is(err, httpx.ErrBodyTimeout), errors.As(err, &se):
		return err
	}
	return httpx.Errorf(http.StatusBadRequest, "malformed_body", "reading the request body: %v", err)
}
