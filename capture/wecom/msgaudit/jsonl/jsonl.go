// Package jsonl archives decrypted WeCom conversation-archive (msgaudit)
// messages delivered as JSON lines — a file (`wxarchive ingest
// wecom-archive`) or the body of an ingest request (a JSON array, one
// object, or JSON lines; Split) — decoding each entry with
// capture/wecom/msgaudit and keeping its exact bytes as the raw record.
package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/ingest"
)

// Ingester archives decrypted msgaudit messages, one JSON object per line:
// it decodes each line, fetches and checks its media, and submits the
// messages (and the lines it must reject) to the engine in input order.
type Ingester struct {
	Engine ingest.MessageWriter
	Blobs  blob.Store
	Media  ingest.MediaSource // nil: attachments stay pending
	Source string             // e.g. "wecom-archive:ww5f3c9a1e2b7d4068"
	Actor  string             // who is ingesting, for the journal
	Origin string             // provenance prefix, e.g. "file:chat.jsonl"
	Unit   string             // what a Line.No counts in Origin (default "line")
	// BatchSize is the number of lines per submitted batch (default 1000).
	BatchSize int
	// Workers decode and fetch media in parallel (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called after each batch is durable.
	Progress func(lines int, bytes int64)
}

// LineFault is a rejected line.
type LineFault struct {
	Line   int    `json:"line"`
	MsgID  string `json:"msgid,omitempty"` // when it could be read
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// AttachmentFault is an attachment that was not fetched intact.
type AttachmentFault struct {
	Line   int                      `json:"line"`
	MsgID  string                   `json:"msgid"`
	Serial uint64                   `json:"serial"`
	Role   string                   `json:"role"`
	Status archive.AttachmentStatus `json:"status"`
	Reason string                   `json:"reason"`
}

// DecodeWarning is a line archived with fields it could not use set
// aside (msgaudit.DetailDecodeWarning): the message is kept, the fields'
// values are in its details.
type DecodeWarning struct {
	Line   int      `json:"line"`
	MsgID  string   `json:"msgid"`
	Serial uint64   `json:"serial"`
	Fields []string `json:"fields"`
}

// Summary is what a run did.
type Summary struct {
	Lines            int               `json:"lines"`
	Bytes            int64             `json:"bytes"`
	Archived         int               `json:"archived"`
	Duplicates       int               `json:"duplicates"`
	Conflicts        int               `json:"conflicts"`
	Rejected         int               `json:"rejected"`
	Attachments      int               `json:"attachments"`
	Rejects          []LineFault       `json:"rejects"`
	AttachmentFaults []AttachmentFault `json:"attachment_faults"`
	DecodeWarnings   []DecodeWarning   `json:"decode_warnings"`
	FirstSerial      uint64            `json:"first_serial,omitempty"`
	LastSerial       uint64            `json:"last_serial,omitempty"`
}

// MaxLineBytes bounds a line: the decoder's limit on a whole message. The
// reader keeps this much of a longer line (the rest is counted and
// hashed), so an oversize line is still identified in the quarantine.
const MaxLineBytes = msgaudit.MaxLineBytes

// Line is one input line and where it came from.
type Line struct {
	No        int    // 1-based line number
	Data      []byte // the line without its "\n" (at most MaxLineBytes kept)
	FullSize  int64  // length of the whole line
	FullHash  archive.BlobID
	Truncated bool
}

// LineResult is the durable outcome of one line.
type LineResult struct {
	Line    int
	MsgID   string
	Result  ingest.Result
	Fault   *LineFault
	Message *archive.Message
}

// LineReader reads "\n"-separated lines of any length, keeping the first
// MaxLineBytes of each (the rest is counted and hashed, so an oversize line
// is still identified exactly in the quarantine).
type LineReader struct {
	br *bufio.Reader
	no int
}

// NewLineReader reads lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 1<<20)}
}

// Next returns the next line, or io.EOF. A final line without "\n" counts;
// the empty string after a final "\n" does not.
func (lr *LineReader) Next() (Line, error) {
	var ln Line
	var h = sha256.New()
	for {
		chunk, err := lr.br.ReadSlice('\n')
		data := chunk
		done := err == nil
		if done {
			data = chunk[:len(chunk)-1]
		}
		ln.FullSize += int64(len(data))
		if ln.FullSize > MaxLineBytes || ln.Truncated {
			if !ln.Truncated {
				h.Write(ln.Data)
				ln.Truncated = true
			}
			room := MaxLineBytes - len(ln.Data)
			if room > 0 {
				ln.Data = append(ln.Data, data[:min(room, len(data))]...)
			}
			h.Write(data)
		} else {
			ln.Data = append(ln.Data, data...)
		}
		switch {
		case done:
			lr.no++
			ln.No = lr.no
			lr.stripBOM(&ln)
			ln.finish(h)
			return ln, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if ln.FullSize == 0 {
				return Line{}, io.EOF
			}
			lr.no++
			ln.No = lr.no
			lr.stripBOM(&ln)
			ln.finish(h)
			return ln, nil
		default:
			return Line{}, err
		}
	}
}

// stripBOM drops a UTF-8 byte-order mark at the start of the input: it
// marks the file's encoding (tools on Windows write it), it is not part of
// the first message.
func (lr *LineReader) stripBOM(ln *Line) {
	if ln.No == 1 && !ln.Truncated && bytes.HasPrefix(ln.Data, []byte("\xef\xbb\xbf")) {
		ln.Data = ln.Data[3:]
		ln.FullSize -= 3
	}
}

func (ln *Line) finish(h interface{ Sum([]byte) []byte }) {
	// "\r\n" is a line terminator too (files written on Windows): the
	// record is the line's content, the same bytes whichever convention the
	// file used, so re-importing it yields duplicates, not conflicts.
	if !ln.Truncated && len(ln.Data) > 0 && ln.Data[len(ln.Data)-1] == '\r' {
		ln.Data = ln.Data[:len(ln.Data)-1]
		ln.FullSize--
	}
	if ln.Truncated {
		copy(ln.FullHash[:], h.Sum(nil))
	} else {
		ln.FullHash = archive.Hash(ln.Data)
	}
	if ln.Data == nil {
		ln.Data = []byte{}
	}
}

func (in *Ingester) defaults() {
	if in.BatchSize <= 0 {
		in.BatchSize = 1000
	}
	if in.Workers <= 0 {
		in.Workers = runtime.GOMAXPROCS(0)
	}
	if in.Unit == "" {
		in.Unit = "line"
	}
}

// prepare turns a line into an item: a decoded message with its media
// stored, or a rejection. The error is operational (blob store failure).
func (in *Ingester) prepare(ctx context.Context, ln Line) (ingest.Item, error) {
	it := ingest.Item{Source: in.Source, Raw: ln.Data, Origin: fmt.Sprintf("%s %s %d", in.Origin, in.Unit, ln.No)}
	if ln.Truncated {
		it.Reject = &ingest.Rejection{Reason: fmt.Sprintf("line is %d bytes, over the %d-byte limit (first %d bytes kept)", ln.FullSize, MaxLineBytes, len(ln.Data)),
			FullSize: ln.FullSize, FullHash: ln.FullHash}
		return it, nil
	}
	m, err := msgaudit.Decode(ln.Data, msgaudit.Options{Source: in.Source})
	if err != nil {
		var de *msgaudit.DecodeError
		if errors.As(err, &de) {
			it.Reject = &ingest.Rejection{MsgID: de.MsgID, Field: de.Field, Reason: de.Reason}
		} else {
			it.Reject = &ingest.Rejection{Reason: err.Error()}
		}
		return it, nil
	}
	if err := ingest.ResolveMedia(ctx, m, in.Media, in.Blobs); err != nil {
		return it, err
	}
	it.Message = m
	return it, nil
}

// prepareAll prepares lines in parallel, keeping their order.
func (in *Ingester) prepareAll(ctx context.Context, lines []Line) ([]ingest.Item, error) {
	items := make([]ingest.Item, len(lines))
	errs := make([]error, in.Workers)
	var wg sync.WaitGroup
	for w := 0; w < in.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(lines); i += in.Workers {
				it, err := in.prepare(ctx, lines[i])
				if err != nil {
					errs[w] = err
					return
				}
				items[i] = it
			}
		}(w)
	}
	wg.Wait()
	return items, errors.Join(errs...)
}

// Lines archives the given lines and returns each one's durable outcome.
func (in *Ingester) Lines(ctx context.Context, lines []Line) ([]LineResult, error) {
	in.defaults()
	items, err := in.prepareAll(ctx, lines)
	if err != nil {
		return nil, err
	}
	res, err := in.Engine.Archive(ctx, in.Actor, items)
	if err != nil {
		return nil, err
	}
	return lineResults(lines, items, res), nil
}

func lineResults(lines []Line, items []ingest.Item, res []ingest.Result) []LineResult {
	out := make([]LineResult, len(lines))
	for i := range lines {
		lr := LineResult{Line: lines[i].No, Result: res[i], Message: items[i].Message}
		if items[i].Message != nil {
			lr.MsgID = items[i].Message.SourceID
		}
		if r := items[i].Reject; r != nil {
			lr.MsgID = r.MsgID
			lr.Fault = &LineFault{Line: lines[i].No, MsgID: r.MsgID, Field: r.Field, Reason: r.Reason}
		}
		out[i] = lr
	}
	return out
}

type inflight struct {
	lines []Line
	items []ingest.Item
	fut   *ingest.Future
	bytes int64
}

// Run archives every line of r. Decoding the next batch overlaps with the
// commit of the previous one. On an operational error it stops and returns
// what was durably done so far with the error.
func (in *Ingester) Run(ctx context.Context, r io.Reader) (*Summary, error) {
	in.defaults()
	sum := &Summary{Rejects: []LineFault{}, AttachmentFaults: []AttachmentFault{}, DecodeWarnings: []DecodeWarning{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pending := make(chan inflight, 4)
	waitErr := make(chan error, 1)
	go func() {
		var firstErr error
		for f := range pending {
			if firstErr != nil {
				continue
			}
			res, err := f.fut.Wait(ctx)
			if err != nil {
				firstErr = err
				cancel()
				continue
			}
			in.tally(sum, lineResults(f.lines, f.items, res))
			sum.Bytes += f.bytes
			if in.Progress != nil {
				in.Progress(sum.Lines, sum.Bytes)
			}
		}
		waitErr <- firstErr
	}()

	lr := NewLineReader(r)
	var runErr error
	for runErr == nil && ctx.Err() == nil {
		var batch []Line
		var bytes int64
		for len(batch) < in.BatchSize {
			ln, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				runErr = fmt.Errorf("read line %d: %w", lr.no+1, err)
				break
			}
			batch = append(batch, ln)
			bytes += ln.FullSize + 1
		}
		if len(batch) == 0 {
			break
		}
		items, err := in.prepareAll(ctx, batch)
		if err != nil {
			runErr = err
			break
		}
		pending <- inflight{lines: batch, items: items, fut: in.Engine.Submit(ctx, in.Actor, items), bytes: bytes}
		if len(batch) < in.BatchSize {
			break
		}
	}
	close(pending)
	if err := <-waitErr; err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil && ctx.Err() != nil {
		runErr = ctx.Err()
	}
	return sum, runErr
}

func (in *Ingester) tally(sum *Summary, results []LineResult) {
	for _, r := range results {
		sum.Lines++
		switch r.Result.Outcome {
		case ingest.Archived:
			sum.Archived++
		case ingest.Duplicate:
			sum.Duplicates++
		case ingest.Conflict:
			sum.Conflicts++
		case ingest.Rejected:
			sum.Rejected++
			sum.Rejects = append(sum.Rejects, *r.Fault)
		}
		if r.Result.Outcome == ingest.Archived || r.Result.Outcome == ingest.Conflict {
			if sum.FirstSerial == 0 {
				sum.FirstSerial = r.Result.Serial
			}
			sum.LastSerial = r.Result.Serial
		}
		if r.Message == nil || r.Result.Outcome == ingest.Duplicate {
			continue
		}
		if f := msgaudit.WarnedFields(r.Message); len(f) > 0 {
			sum.DecodeWarnings = append(sum.DecodeWarnings, DecodeWarning{Line: r.Line, MsgID: r.MsgID, Serial: r.Result.Serial, Fields: f})
		}
		for _, a := range r.Message.Attachments {
			sum.Attachments++
			if a.Status != archive.AttachmentFetched {
				sum.AttachmentFaults = append(sum.AttachmentFaults, AttachmentFault{Line: r.Line, MsgID: r.MsgID,
					Serial: r.Result.Serial, Role: a.Role, Status: a.Status, Reason: a.Reason})
			}
		}
	}
}
