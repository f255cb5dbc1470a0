package httpapi

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"regexp"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
)

// Limits on ingest requests.
const (
	MaxBodyBytes    = 64 << 20
	MaxBatchEntries = 10000
	// SpoolMemory is how much of an ingest body is held in memory; the
	// rest waits in a file of the spool directory.
	SpoolMemory = 1 << 20
	// ChunkEntries and ChunkBytes bound one chunk of a body: archived,
	// durable, and forgotten before the next chunk is read.
	ChunkEntries = 1000
	ChunkBytes   = 4 << 20
)

// ingestTypes are the media types ingest accepts: JSON, NDJSON / JSON
// lines under their common names. Anything else — text/plain above all,
// which a cross-site HTML form can send without a preflight — is refused.
var ingestTypes = []string{"application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
	"application/x-jsonl", "application/jsonlines", "application/x-jsonlines", "application/json-seq"}

var corpPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type ingestResult struct {
	Entry        int           `json:"entry"`
	MsgID        string        `json:"msgid,omitempty"`
	Outcome      string        `json:"outcome"`
	Serial       uint64        `json:"serial,omitempty"`
	Version      int           `json:"version,omitempty"`
	JournalIndex uint64        `json:"journal_index"`
	Error        *apiLineFault `json:"error,omitempty"`
}

type apiLineFault struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

type ingestAnswer struct {
	Archived   int            `json:"archived"`
	Duplicates int            `json:"duplicates"`
	Conflicts  int            `json:"conflicts"`
	Rejected   int            `json:"rejected"`
	Results    []ingestResult `json:"results"`
}

// ingestWecom archives one message, a JSON array of messages, or JSON
// lines. It answers only once every entry is durable. Rejected entries are
// quarantined and reported with 422; the others are archived regardless.
//
// The body is received into a spool and checked whole first (a malformed
// body is refused with nothing archived), then archived a chunk at a time
// (ChunkEntries or ChunkBytes), each chunk durable before the next is
// read, so what a request holds in memory does not grow with its body.
// A body of one chunk is one commit, its entries consecutive in the
// journal; a larger body's chunks may interleave with other requests.
func (s *Server) ingestWecom(w http.ResponseWriter, req *http.Request) error {
	if s.r.Engine == nil {
		return app.ErrUnavailable
	}
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "corp"); err != nil {
		return err
	}
	corp := q.Get("corp")
	if corp == "" {
		corp = "default"
	}
	// The corp names the source of every message and is journaled with
	// each: a WeCom corp id, not a path or a megabyte.
	if !corpPattern.MatchString(corp) {
		return httpx.BadParam("corp: want a WeCom corp id (letters, digits, '.', '_', '-'; at most 64), not %q", archive.Truncate(corp, 80))
	}
	if err := httpx.ContentType(req, ingestTypes...); err != nil {
		return err
	}
	release, err := s.ingestSlots.Acquire()
	if err != nil {
		return err
	}
	defer release()

	body, err := readSpool(http.MaxBytesReader(w, req.Body, MaxBodyBytes), SpoolMemory, s.spoolDir)
	if err != nil {
		return bodyError(err, MaxBodyBytes)
	}
	defer body.Close()
	plan, err := planBody(body, body.size)
	if errors.Is(err, errMalformed) {
		return httpx.Errorf(http.StatusBadRequest, "malformed_body", "%v", err)
	}
	if err != nil {
		return err
	}
	if plan.entries == 0 {
		return httpx.Errorf(http.StatusBadRequest, "empty_body", "no messages in the request body")
	}

	in := &msgaudit.Ingester{Engine: s.r.Engine, Blobs: s.r.Blobs, Media: s.opts.Media, Source: "wecom-archive:" + corp,
		Actor: s.actor(req), Origin: "api request " + time.Now().UTC().Format("20060102T150405.000000000Z"), Unit: "entry", Workers: 1}
	out := ingestAnswer{Results: make([]ingestResult, 0, plan.entries)}
	err = s.archiveChunks(req.Context(), in, body, plan, func(results []msgaudit.LineResult) {
		for _, r := range results {
			out.add(r)
		}
	})
	if err != nil {
		return err
	}
	if out.Archived+out.Conflicts > 0 {
		s.storageWritable(storageIndex)
	}
	status := http.StatusOK
	if out.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	httpx.JSON(w, status, out)
	return nil
}

func (a *ingestAnswer) add(r msgaudit.LineResult) {
	ir := ingestResult{Entry: r.Line, MsgID: r.MsgID, Outcome: r.Result.Outcome.String(), Serial: r.Result.Serial,
		Version: r.Result.Version, JournalIndex: r.Result.JournalIndex}
	switch r.Result.Outcome {
	case ingest.Archived:
		a.Archived++
	case ingest.Duplicate:
		a.Duplicates++
	case ingest.Conflict:
		a.Conflicts++
	case ingest.Rejected:
		a.Rejected++
		ir.Error = &apiLineFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
	}
	a.Results = append(a.Results, ir)
}

// archiveChunks archives a planned body chunk by chunk. Each chunk first
// takes its share of the ingest budget (its bytes, estimated before it is
// read), so that however many requests are in progress, the entries being
// decoded and committed at once stay within the budget. The first chunk
// is pushed back when the writer is saturated (nothing of the request is
// written then); later ones wait, since the request is already partly
// durable and failing it now would only make the client send it again.
func (s *Server) archiveChunks(ctx context.Context, in *msgaudit.Ingester, body *spool, plan bodyPlan, got func([]msgaudit.LineResult)) error {
	next, stop := iter.Pull2(entrySeq(body, plan))
	defer stop()
	remaining := body.size
	chunkCtx := ctx
	for first := true; ; first = false {
		if !first {
			chunkCtx = ingest.WithoutPushback(ctx)
		}
		release, err := s.ingestBudget.Acquire(ctx, min(remaining, ChunkBytes))
		if err != nil {
			return err
		}
		var chunk []msgaudit.Line
		var bytes int64
		done := false
		for len(chunk) < ChunkEntries && bytes < ChunkBytes {
			ln, err, ok := next()
			if !ok {
				done = true
				break
			}
			if err != nil {
				release()
				return err
			}
			chunk = append(chunk, ln)
			bytes += ln.FullSize + 1
		}
		if len(chunk) > 0 {
			results, err := in.Lines(chunkCtx, chunk)
			if err != nil {
				release()
				return err
			}
			got(results)
		}
		release()
		remaining -= bytes
		if done {
			return nil
		}
	}
}

// entrySeq is eachEntry as an iterator.
func entrySeq(body *spool, plan bodyPlan) iter.Seq2[msgaudit.Line, error] {
	return func(yield func(msgaudit.Line, error) bool) {
		errStop := errors.New("stop")
		err := eachEntry(body, body.size, plan, func(ln msgaudit.Line) error {
			if !yield(ln, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(msgaudit.Line{}, err)
		}
	}
}
