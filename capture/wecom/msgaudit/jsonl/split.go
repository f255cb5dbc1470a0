package jsonl

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
)

// MaxEntries bounds the entries of one request body: refused before any is
// decoded.
const MaxEntries = 10000

// The body splitter reads a request body in bounded memory: the body is
// read twice from a capture.Body (an in-memory body or a server's spool
// file), first to check the whole of it (PlanBody: layout, syntax, number
// of entries), then to hand its entries out one by one (EachEntry), so
// that a malformed body is refused before anything is archived while no
// more than one entry (at most MaxLineBytes of it) is ever held.
//
// Layouts, as before streaming: a JSON array (each element an entry); a
// single JSON value filling the whole body, however laid out (one entry);
// anything else is JSON lines (each line an entry; blank lines after the
// last one are formatting). Each entry keeps its exact bytes. An entry
// over MaxLineBytes keeps its first MaxLineBytes with the size and
// SHA-256 of all of it, as a JSON line does, and is quarantined as over
// the limit.

// maxEntryDepth bounds nesting, as encoding/json does.
const maxEntryDepth = 10000

type bodyLayout int

const (
	layoutLines bodyLayout = iota
	layoutArray
	layoutOne
)

// Plan is what the first pass learned of a body: how to split it and
// into how many entries.
type Plan struct {
	layout  bodyLayout
	start   int64 // offset of the first non-blank byte
	Entries int
}

// malformed is the splitter's refusal of a body as a whole: it wraps
// capture.ErrMalformedBody and says where.
func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", capture.ErrMalformedBody, fmt.Sprintf(format, a...))
}

// errMalformed is what the splitter's refusals match.
var errMalformed = capture.ErrMalformedBody

// PlanBody checks a whole body and says how to split it. Errors wrap
// capture.ErrMalformedBody (the body is refused whole, nothing archived),
// or are I/O errors of body.
func PlanBody(body capture.Body) (Plan, error) {
	src, size := body, body.Size()
	start, first, found, err := firstByte(src, size)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{start: start}
	if !found {
		return p, nil // nothing but blanks: no entries
	}
	switch first {
	case '[':
		p.layout = layoutArray
		n := 0
		err := scanArray(bufio.NewReaderSize(io.NewSectionReader(src, start, size-start), 64<<10), func(ln Line) error {
			if !ln.Truncated && !json.Valid(ln.Data) {
				var raw json.RawMessage
				return malformed("array element %d: %v", ln.No, json.Unmarshal(ln.Data, &raw))
			}
			n++
			return nil
		})
		if err != nil {
			return Plan{}, err
		}
		p.Entries = n
		return p, nil
	case '{':
		if ok, err := oneValue(src, start, size); err != nil {
			return Plan{}, err
		} else if ok {
			p.layout, p.Entries = layoutOne, 1
			return p, nil
		}
	}
	p.layout, p.start = layoutLines, 0
	n, err := countLines(src, size)
	if err != nil {
		return Plan{}, err
	}
	p.Entries = n
	return p, nil
}

// EachEntry hands out the entries of a body PlanBody accepted, in order,
// each with its own bytes (the yield may keep them). An error of yield
// stops it and is returned.
func EachEntry(body capture.Body, p Plan, yield func(Line) error) error {
	src, size := body, body.Size()
	switch p.layout {
	case layoutArray:
		return scanArray(bufio.NewReaderSize(io.NewSectionReader(src, p.start, size-p.start), 64<<10), yield)
	case layoutOne:
		br := bufio.NewReaderSize(io.NewSectionReader(src, p.start, size-p.start), 64<<10)
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		ln, _, err := scanValue(br, c, 1)
		if err != nil {
			return err
		}
		return yield(ln)
	}
	lr := NewLineReader(io.NewSectionReader(src, 0, size))
	for i := 0; i < p.Entries; i++ {
		ln, err := lr.Next()
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err) // the body changed under us: an I/O fault
		}
		if err := yield(ln); err != nil {
			return err
		}
	}
	return nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// firstByte finds the first byte that is not JSON whitespace.
func firstByte(src io.ReaderAt, size int64) (off int64, c byte, found bool, err error) {
	br := bufio.NewReaderSize(io.NewSectionReader(src, 0, size), 64<<10)
	for ; ; off++ {
		c, err := br.ReadByte()
		if err == io.EOF {
			return off, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
		if !isBlank(c) {
			return off, c, true, nil
		}
	}
}

// oneValue reports whether the body from start is one valid JSON value
// followed only by blanks.
func oneValue(src io.ReaderAt, start, size int64) (bool, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(src, start, size-start), 64<<10)
	c, err := br.ReadByte()
	if err != nil {
		return false, err
	}
	ln, _, err := scanValue(br, c, 1)
	if errors.Is(err, errMalformed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !ln.Truncated && !json.Valid(ln.Data) {
		return false, nil
	}
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if !isBlank(c) {
			return false, nil
		}
	}
}

// countLines counts the entries of a JSON-lines body: every line up to
// the last one that is not blank. More than MaxEntries lines (blank
// ones included) is refused.
func countLines(src io.ReaderAt, size int64) (int, error) {
	lr := NewLineReader(io.NewSectionReader(src, 0, size))
	lines, lastFull := 0, 0
	for {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return lastFull, nil
		}
		if err != nil {
			return 0, err
		}
		lines++
		if lines > MaxEntries {
			return 0, malformed("more than %d entries", MaxEntries)
		}
		if len(bytes.TrimSpace(ln.Data)) > 0 {
			lastFull = lines
		}
	}
}

// scanArray reads a JSON array (from its '[') and yields its elements,
// checking the structure between them.
func scanArray(br *bufio.Reader, yield func(Line) error) error {
	if c, err := br.ReadByte(); err != nil || c != '[' {
		return malformed("not a JSON array")
	}
	n := 0
	for {
		c, err := skipBlanks(br)
		if err == io.EOF {
			return malformed("after element %d: unexpected end of JSON input", n)
		}
		if err != nil {
			return err
		}
		if c == ']' && n == 0 {
			break
		}
		n++
		if n > MaxEntries {
			return malformed("more than %d entries", MaxEntries)
		}
		if c == ']' || c == ',' {
			return malformed("array element %d: invalid character %q looking for beginning of value", n, c)
		}
		ln, next, err := scanValue(br, c, n)
		if err != nil {
			return err
		}
		if err := yield(ln); err != nil {
			return err
		}
		if next == 0 || isBlank(next) {
			if next, err = skipBlanks(br); err == io.EOF {
				return malformed("after element %d: unexpected end of JSON input", n)
			} else if err != nil {
				return err
			}
		}
		if next == ']' {
			break
		}
		if next != ',' {
			return malformed("after element %d: invalid character %q after array element", n, next)
		}
	}
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !isBlank(c) {
			return malformed("data after the JSON array")
		}
	}
}

func skipBlanks(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isBlank(c) {
			return c, nil
		}
	}
}

// entryBuf collects an entry's bytes: the first MaxLineBytes kept, all of
// them counted and hashed.
type entryBuf struct {
	data []byte
	size int64
	h    hash.Hash
}

func (e *entryBuf) add(c byte) {
	e.size++
	if len(e.data) < MaxLineBytes {
		e.data = append(e.data, c)
		return
	}
	if e.h == nil {
		e.h = sha256.New()
		e.h.Write(e.data)
	}
	e.h.Write([]byte{c})
}

func (e *entryBuf) addBytes(b []byte) {
	if room := MaxLineBytes - len(e.data); room > 0 {
		k := min(room, len(b))
		e.data = append(e.data, b[:k]...)
		e.size += int64(k)
		b = b[k:]
	}
	if len(b) == 0 {
		return
	}
	if e.h == nil {
		e.h = sha256.New()
		e.h.Write(e.data)
	}
	e.h.Write(b)
	e.size += int64(len(b))
}

func (e *entryBuf) line(no int) Line {
	ln := Line{No: no, Data: e.data, FullSize: e.size}
	if e.h != nil {
		ln.Truncated = true
		copy(ln.FullHash[:], e.h.Sum(nil))
	} else {
		ln.FullHash = archive.Hash(e.data)
	}
	return ln
}

// scanValue reads one JSON value whose first byte c was just read, and
// returns it with the byte that ended it when a scalar had to read one
// past its end (0 otherwise). Strings, nesting and bracket pairs are
// checked here; the grammar of an entry that fits in MaxLineBytes is
// checked whole by the caller (json.Valid). Errors wrap errMalformed or
// are I/O errors.
func scanValue(br *bufio.Reader, c byte, no int) (Line, byte, error) {
	var e entryBuf
	eof := func(err error) (Line, byte, error) {
		if err == io.EOF {
			return Line{}, 0, malformed("array element %d: unexpected end of JSON input", no)
		}
		return Line{}, 0, err
	}
	switch c {
	case '{', '[':
		stack := []byte{c}
		e.add(c)
		for len(stack) > 0 {
			c, err := br.ReadByte()
			if err != nil {
				return eof(err)
			}
			e.add(c)
			switch c {
			case '"':
				if err := scanString(br, &e); err != nil {
					return eof(err)
				}
			case '{', '[':
				if len(stack) >= maxEntryDepth {
					return Line{}, 0, malformed("array element %d: nested more than %d deep", no, maxEntryDepth)
				}
				stack = append(stack, c)
			case '}', ']':
				open := stack[len(stack)-1]
				if (open == '{') != (c == '}') {
					return Line{}, 0, malformed("array element %d: invalid character %q", no, c)
				}
				stack = stack[:len(stack)-1]
			}
		}
		return e.line(no), 0, nil
	case '"':
		e.add(c)
		if err := scanString(br, &e); err != nil {
			return eof(err)
		}
		return e.line(no), 0, nil
	}
	// A scalar (number, true, false, null, or garbage that json.Valid
	// will name) runs to the next delimiter.
	e.add(c)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Line{}, 0, err
		}
		if isBlank(c) || c == ',' || c == ']' {
			if e.h != nil {
				return Line{}, 0, malformed("array element %d: a value of %d bytes that is not an object", no, e.size)
			}
			return e.line(no), c, nil
		}
		e.add(c)
	}
	if e.h != nil {
		return Line{}, 0, malformed("array element %d: a value of %d bytes that is not an object", no, e.size)
	}
	return e.line(no), 0, nil
}

// scanString reads a JSON string after its opening quote, through the
// closing one, a buffered run at a time (most of a message's bytes are in
// its strings).
func scanString(br *bufio.Reader, e *entryBuf) error {
	for {
		n := max(br.Buffered(), 1)
		buf, err := br.Peek(n)
		if len(buf) == 0 {
			return err
		}
		i := bytes.IndexAny(buf, `"\`)
		if i < 0 {
			e.addBytes(buf)
			br.Discard(len(buf))
			continue
		}
		quote := buf[i] == '"'
		e.addBytes(buf[:i+1])
		br.Discard(i + 1)
		if quote {
			return nil
		}
		c, err := br.ReadByte() // the escaped byte
		if err != nil {
			return err
		}
		e.add(c)
	}
}

// Split is PlanBody and EachEntry on an in-memory body, collecting the
// entries: a JSON array's elements, a single JSON value filling the body
// (however it is laid out), or JSON lines. A blank line before a message
// is an entry (the decoder quarantines it as an empty line); blank lines
// after the last one are formatting and dropped. Errors wrap
// capture.ErrMalformedBody and say where; nothing is split then.
func Split(body []byte) ([]Line, error) {
	src := bytes.NewReader(body)
	p, err := PlanBody(src)
	if err != nil {
		return nil, err
	}
	out := make([]Line, 0, p.Entries)
	if err := EachEntry(src, p, func(ln Line) error {
		out = append(out, ln)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}
