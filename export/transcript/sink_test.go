package transcript

import (
	"bytes"
	"fmt"
	"io"
	"sort"
)

// memSink is an export.Sink that keeps each file in memory.
type memSink struct {
	files map[string][]byte
}

func newMemSink() *memSink { return &memSink{files: map[string][]byte{}} }

type memFile struct {
	s    *memSink
	name string
	b    bytes.Buffer
}

func (f *memFile) Write(p []byte) (int, error) { return f.b.Write(p) }

func (f *memFile) Close() error {
	f.s.files[f.name] = bytes.Clone(f.b.Bytes())
	return nil
}

func (s *memSink) Create(name string) (io.WriteCloser, error) {
	if _, dup := s.files[name]; dup {
		return nil, fmt.Errorf("memSink: %s written twice", name)
	}
	s.files[name] = nil
	return &memFile{s: s, name: name}, nil
}

func (s *memSink) names() []string {
	var n []string
	for k := range s.files {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
