package jsonl

import (
	"bytes"
	"context"
	"fmt"
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
	entries, err := Split(req.Body)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
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
	results, err := in.Lines(ctx, entries)
	if err != nil {
		return nil, err
	}
	out := make([]capture.EntryResult, len(results))
	for i, r := range results {
		out[i] = capture.EntryResult{Entry: i + 1, MsgID: r.MsgID, Outcome: r.Result.Outcome, Serial: r.Result.Serial,
			Version: r.Result.Version, JournalIndex: r.Result.JournalIndex}
		if r.Fault != nil {
			out[i].Fault = &capture.EntryFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
		}
	}
	return out, nil
}

// shortened keeps an untrusted value readable in an error.
func shortened(s string) string {
	if len(s) > 64 {
		return string(bytes.ToValidUTF8([]byte(s[:64]), []byte("\uFFFD"))) + "…"
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
}
