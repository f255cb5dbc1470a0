package exporttest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Sink is an in-memory export.Sink for the format tests: name → bytes,
// filled when a file is closed. It refuses a name created twice, a write
// after Close and a second Close, so a format that misuses its sink
// fails its tests.
type Sink struct {
	Files map[string][]byte
	Fail  error // returned by Create when set
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{Files: map[string][]byte{}} }

// Create implements export.Sink.
func (s *Sink) Create(name string) (io.WriteCloser, error) {
	if s.Fail != nil {
		return nil, s.Fail
	}
	if _, ok := s.Files[name]; ok {
		return nil, fmt.Errorf("%s created twice", name)
	}
	s.Files[name] = nil
	return &sinkFile{sink: s, name: name}, nil
}

// Names are the files created, sorted.
func (s *Sink) Names() []string {
	var n []string
	for k := range s.Files {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

type sinkFile struct {
	sink   *Sink
	name   string
	buf    bytes.Buffer
	closed bool
}

func (f *sinkFile) Write(p []byte) (int, error) {
	if f.closed {
		return 0, errors.New("write after close")
	}
	return f.buf.Write(p)
}

func (f *sinkFile) Close() error {
	if f.closed {
		return errors.New("closed twice")
	}
	f.closed = true
	f.sink.Files[f.name] = bytes.Clone(f.buf.Bytes())
	return nil
}
