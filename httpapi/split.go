package httpapi

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
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
)

// The ingest body splitter reads a request body in bounded memory: the
// body is read twice from a ReaderAt (an in-memory body or the spool
// file), first to check the whole of it (planBody: layout, syntax, number
// of entries), then to hand its entries out one by one (eachEntry), so
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

// bodyPlan is what the first pass learned.
type bodyPlan struct {
	layout  bodyLayout
	start   int64 // offset of the first non-blank byte
	entries int
}

// errMalformed is matched by the splitter's refusals of a body as a whole
// (a *malformedError, whose message says where).
var errMalformed = errors.New("malformed body")

type malformedError struct{ msg string }

func (e *malformedError) Error() string        { return e.msg }
func (e *malformedError) Is(target error) bool { return target == errMalformed }

func malformed(format string, a ...any) error {
	return &malformedError{msg: fmt.Sprintf(format, a...)}
}

// planBody checks a whole body and says how to split it. Errors wrap
// errMalformed (the body is refused whole, nothing archived), or are I/O
// errors of src.
func planBody(src io.ReaderAt, size int64) (bodyPlan, error) {
	start, first, found, err := firstByte(src, size)
	if err != nil {
		return bodyPlan{}, err
	}
	p := bodyPlan{start: start}
	if !found {
		return p, nil // nothing but blanks: no entries
	}
	switch first {
	case '[':
		p.layout = layoutArray
		n := 0
		err := scanArray(bufio.NewReaderSize(io.NewSectionReader(src, start, size-start), 64<<10), func(ln msgaudit.Line) error {
			if !ln.Truncated && !json.Valid(ln.Data) {
				var raw json.RawMessage
				return malformed("array element %d: %v", ln.No, json.Unmarshal(ln.Data, &raw))
			}
			n++
			return nil
		})
		if err != nil {
			return bodyPlan{}, err
		}
		p.entries = n
		return p, nil
	case '{':
		if ok, err := oneValue(src, start, size); err != nil {
			return bodyPlan{}, err
		} else if ok {
			p.layout, p.entries = layoutOne, 1
			return p, nil
		}
	}
	p.layout, p.start = layoutLines, 0
	n, err := countLines(src, size)
	if err != nil {
		return bodyPlan{}, err
	}
	p.entries = n
	return p, nil
}

// eachEntry hands out the entries of a body planBody accepted, in order.
func eachEntry(src io.ReaderAt, size int64, p bodyPlan, yield func(msgaudit.Line) error) error {
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
	lr := msgaudit.NewLineReader(io.NewSectionReader(src, 0, size))
	for i := 0; i < p.entries; i++ {
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
// the last one that is not blank. More than MaxBatchEntries lines (blank
// ones included) is refused.
func countLines(src io.ReaderAt, size int64) (int, error) {
	lr := msgaudit.NewLineReader(io.NewSectionReader(src, 0, size))
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
		if lines > MaxBatchEntries {
			return 0, malformed("more than %d entries", MaxBatchEntries)
		}
		if len(bytes.TrimSpace(ln.Data)) > 0 {
			lastFull = lines
		}
	}
}

// scanArray reads a JSON array (from its '[') and yields its elements,
// checking the structure between them.
func scanArray(br *bufio.Reader, yield func(msgaudit.Line) error) error {
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
		if n > MaxBatchEntries {
			return malformed("more than %d entries", MaxBatchEntries)
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
	if len(e.data) < msgaudit.MaxLineBytes {
		e.data = append(e.data, c)
		return
	}
	if e.h == nil {
		e.h = sha256.New()
		e.h.Write(e.data)
	}
	e.h.Write([]byte{c})
}

func (e *entryBuf) line(no int) msgaudit.Line {
	ln := msgaudit.Line{No: no, Data: e.data, FullSize: e.size}
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
func scanValue(br *bufio.Reader, c byte, no int) (msgaudit.Line, byte, error) {
	var e entryBuf
	eof := func(err error) (msgaudit.Line, byte, error) {
		if err == io.EOF {
			return msgaudit.Line{}, 0, malformed("array element %d: unexpected end of JSON input", no)
		}
		return msgaudit.Line{}, 0, err
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
					return msgaudit.Line{}, 0, malformed("array element %d: nested more than %d deep", no, maxEntryDepth)
				}
				stack = append(stack, c)
			case '}', ']':
				open := stack[len(stack)-1]
				if (open == '{') != (c == '}') {
					return msgaudit.Line{}, 0, malformed("array element %d: invalid character %q", no, c)
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
			return msgaudit.Line{}, 0, err
		}
		if isBlank(c) || c == ',' || c == ']' {
			if e.h != nil {
				return msgaudit.Line{}, 0, malformed("array element %d: a value of %d bytes that is not an object", no, e.size)
			}
			return e.line(no), c, nil
		}
		e.add(c)
	}
	if e.h != nil {
		return msgaudit.Line{}, 0, malformed("array element %d: a value of %d bytes that is not an object", no, e.size)
	}
	return e.line(no), 0, nil
}

// scanString reads a JSON string after its opening quote, through the
// closing one.
func scanString(br *bufio.Reader, e *entryBuf) error {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		e.add(c)
		switch c {
		case '\\':
			c, err := br.ReadByte()
			if err != nil {
				return err
			}
			e.add(c)
		case '"':
			return nil
		}
	}
}
