package jsonl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"time"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/ingest"
)

// IngesterName is the name the msgaudit EntryIngester is registered under
// (the route /api/v1/ingest/wecom-archive).
const IngesterName = "wecom-archive"

// DefaultAccount is the corp of a request that names none.
const DefaultAccount = "default"

// accountPattern bounds a corp id: WeCom's are "ww" and 16 hex digits; a
// hand-picked name like "default" fits too. It becomes part of a source
// name in the journal, so nothing else may pass (no path, no 1 MiB).
var accountPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckAccount refuses a corp id that does not match accountPattern, with
// an error wrapping capture.ErrBadAccount.
func CheckAccount(corp string) error {
	if !accountPattern.MatchString(corp) {
		return fmt.Errorf("%w: %q: a corp id is 1 to 64 letters, digits, '_' or '-'", capture.ErrBadAccount, shortened(corp))
	}
	return nil
}

// IngesterType registers the EntryIngester of decrypted msgaudit messages:
// sources "wecom-archive:<corp>", like `wxarchive ingest wecom-archive`
// and the wecom-archive connector, so a message that arrives two ways is
// archived once.
func IngesterType() capture.IngesterType {
	return capture.IngesterType{Name: IngesterName, New: func(d capture.Deps) capture.EntryIngester {
		return &EntryIngester{Writer: d.Writer, Blobs: d.Blobs, Media: d.Media, Now: d.Now}
	}}
}

// EntryIngester archives ingest request bodies of decrypted msgaudit
// messages (capture.EntryIngester).
type EntryIngester struct {
	Writer ingest.MessageWriter
	Blobs  blob.Store
	Media  ingest.MediaSource // nil: attachments stay pending
	// Now stamps the request's origin (nil: the writer's clock).
	Now func() time.Time
}

var _ capture.EntryIngester = (*EntryIngester)(nil)

// Ingest implements capture.EntryIngester.
func (e *EntryIngester) Ingest(ctx context.Context, req capture.EntryRequest) ([]capture.EntryResult, error) {
	account := req.Account
	if account == "" {
		account = DefaultAccount
	}
	if err := CheckAccount(account); err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, capture.ErrEmptyBody
	}
	plan, err := PlanBody(req.Body)
	if err != nil {
		return nil, err
	}
	if plan.Entries == 0 {
		return nil, capture.ErrEmptyBody
	}
	now := e.Now
	if now == nil {
		now = e.Writer.Now
	}
	origin := req.Origin
	if origin == "" {
		origin = "api request " + now().UTC().Format("20060102T150405.000000000Z")
	}
	in := &Ingester{Engine: e.Writer, Blobs: e.Blobs, Media: e.Media, Source: msgaudit.Source(account),
		Actor: req.Actor, Origin: origin, Unit: "entry", Workers: 1}
	out := make([]capture.EntryResult, 0, plan.Entries)
	err = archiveChunks(ctx, in, req, plan, func(results []LineResult) {
		for _, r := range results {
			er := capture.EntryResult{Entry: r.Line, MsgID: r.MsgID, Outcome: r.Result.Outcome, Serial: r.Result.Serial,
				Version: r.Result.Version, JournalIndex: r.Result.JournalIndex}
			if r.Fault != nil {
				er.Fault = &capture.EntryFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
			}
			out = append(out, er)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Chunks of a request body: archived, durable, and forgotten before the
// next chunk is read (capture.EntryIngester, "Memory").
const (
	ChunkEntries = 1000
	ChunkBytes   = 4 << 20
)

// archiveChunks archives a planned body chunk by chunk. Each chunk first
// takes its share of the budget (its bytes, estimated before it is read:
// a one-message request takes a few hundred bytes and still shares a
// commit with its neighbours). The first chunk is pushed back when the
// writer is saturated and ctx asks for it; later ones wait.
func archiveChunks(ctx context.Context, in *Ingester, req capture.EntryRequest, plan Plan, got func([]LineResult)) error {
	next, stop := iter.Pull2(entrySeq(req.Body, plan))
	defer stop()
	remaining := req.Body.Size()
	chunkCtx := ctx
	for first := true; ; first = false {
		if !first {
			chunkCtx = ingest.WithoutPushback(ctx)
		}
		release := func() {}
		if req.Budget != nil {
			var err error
			if release, err = req.Budget.Acquire(ctx, min(remaining, ChunkBytes)); err != nil {
				return err
			}
		}
		var chunk []Line
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

// entrySeq is EachEntry as an iterator.
func entrySeq(body capture.Body, plan Plan) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		errStop := errors.New("stop")
		err := EachEntry(body, plan, func(ln Line) error {
			if !yield(ln, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Line{}, err)
		}
	}
}

// shortened keeps an untrusted value readable in an error.
func shortened(s string) string {
	if len(s) > 64 {
		return string(bytes.ToValidUTF8([]byte(s[:64]), []byte("\uFFFD"))) + "…"
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
}
