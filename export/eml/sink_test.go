package eml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
)

// memSink is an in-memory export.Sink: name → bytes, filled on Close.
type memSink struct {
	files map[string][]byte
	fail  error // returned by Create when set
}

func newMemSink() *memSink { return &memSink{files: map[string][]byte{}} }

func (s *memSink) Create(name string) (io.WriteCloser, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	if _, ok := s.files[name]; ok {
		return nil, fmt.Errorf("%s created twice", name)
	}
	return &memFile{sink: s, name: name}, nil
}

func (s *memSink) names() []string {
	var n []string
	for k := range s.files {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

type memFile struct {
	sink   *memSink
	name   string
	buf    bytes.Buffer
	closed bool
}

func (f *memFile) Write(p []byte) (int, error) {
	if f.closed {
		return 0, errors.New("write after close")
	}
	return f.buf.Write(p)
}

func (f *memFile) Close() error {
	if f.closed {
		return errors.New("closed twice")
	}
	f.closed = true
	f.sink.files[f.name] = f.buf.Bytes()
	return nil
}
