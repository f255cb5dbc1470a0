package capture

import (
	"context"
	"errors"
	"io"

	"github.com/wxarchive/wxarchive/ingest"
)

// EntryIngester archives the body of one ingest request: it splits the
// body into entries (a JSON array's elements, one JSON value, or JSON
// lines — whatever its format defines), keeping each entry's exact bytes
// as its raw record and its number for the origin, decodes and archives
// them, and returns every entry's durable outcome in input order. It is the
// seam between an HTTP route and a vendor's decoder: the route knows
// neither the format nor the vendor.
//
// Contract: Ingest returns only once every entry is durable (archived,
// duplicate, conflict, or quarantined as rejected, with the field and the
// reason); an entry that cannot be archived never fails the others. An
// error means nothing of the request was archived when it wraps
// ErrMalformedBody, ErrEmptyBody or ErrBadAccount (bad input: the edge
// answers 400 naming it); any other error is operational (ingest.ErrClosed,
// ingest.ErrPushback when ctx asks for push-back, the blob store), and the
// entries of the request may or may not be durable — a retry of the same
// body is a duplicate, so the client retries.
//
// Memory: an ingester checks the whole body first, reading it from
// EntryRequest.Body (so that a malformed body still archives nothing),
// then archives it a chunk of entries at a time, each chunk durable
// before the next is read, taking the chunk's bytes from
// EntryRequest.Budget first; what a request holds does not grow with its
// body. Only the first chunk is pushed back (ctx from
// ingest.WithPushback); later ones wait for the writer, since failing a
// request half-way only makes its client send all of it again.
type EntryIngester interface {
	Ingest(ctx context.Context, req EntryRequest) ([]EntryResult, error)
}

// Body is a request body an EntryIngester reads with ReadAt, from the
// start, at most twice (once to check it whole, once to archive it): an
// in-memory body (*bytes.Reader) or a server's spool file.
type Body interface {
	io.ReaderAt
	Size() int64
}

// Budget bounds the memory of ingest requests together: an EntryIngester
// takes n units (the bytes of the entries it is about to decode and
// archive) before each chunk and releases them once the chunk is durable.
// Acquire waits (until ctx ends) while the budget is spent.
type Budget interface {
	Acquire(ctx context.Context, n int64) (release func(), err error)
}

// EntryRequest is one ingest request.
type EntryRequest struct {
	Body Body
	// Budget, if not nil, is taken for each chunk (nil: the request is
	// bounded by its chunks alone).
	Budget Budget
	// Account is whose messages these are within the vendor (a WeCom corp
	// id): part of the archive source, so the same msgid of two accounts is
	// two messages. "" is the ingester's default account.
	Account string
	Actor   string // who is ingesting, for the journal ("api:alice")
	Origin  string // provenance of the request; each entry's origin adds " entry N"
}

// EntryResult is the durable outcome of one entry.
type EntryResult struct {
	Entry        int            // 1-based, in the body's order
	MsgID        string         // the source's id, when it could be read
	Outcome      ingest.Outcome // archived, duplicate, conflict or rejected
	Serial       uint64         // 0 when rejected
	Version      int            // 0 when rejected
	JournalIndex uint64         // the event that archived (or quarantined) it
	Fault        *EntryFault    // why it was rejected
}

// EntryFault is why an entry was quarantined: the field at fault ("" for
// the entry as a whole) and the reason.
type EntryFault struct {
	Field  string
	Reason string
}

// Errors of an ingest request refused whole (nothing archived).
var (
	ErrMalformedBody = errors.New("malformed request body")
	ErrEmptyBody     = errors.New("no entries in the request body")
	ErrBadAccount    = errors.New("bad account")
)
