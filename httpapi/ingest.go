package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
)

// Limits on ingest requests.
const (
	// MaxBodyBytes bounds an ingest request body.
	MaxBodyBytes = 64 << 20
	// SpoolMemory is how much of an ingest body is held in memory; the
	// rest waits in a file of the spool directory. Small, since a body is
	// held from its first byte, before the request has shown it is not a
	// client dribbling it (those cost at most this each, and are cut off
	// by the body policy).
	SpoolMemory = 256 << 10
)

// ingestTypes are the media types ingest accepts: JSON, NDJSON / JSON
// lines under their common names. Anything else — text/plain above all,
// which a cross-site HTML form can send without a preflight — is refused.
var ingestTypes = []string{"application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
	"application/x-jsonl", "application/jsonlines", "application/x-jsonlines", "application/json-seq"}

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

// ingest: POST /api/v1/ingest/{format}[?corp=ID] archives one message, a
// JSON array of messages, or JSON lines, through the ingester registered
// for the format (cmd/ wires them: "wecom-archive" for decrypted msgaudit
// JSON). It answers only once every entry is durable. Rejected entries are
// quarantined and reported with 422; the others are archived regardless.
//
// The body is received into a spool (SpoolMemory in memory, the rest in a
// file, within the spool quota); only a complete body takes one of the
// ingest slots (so that clients dribbling bodies cannot hold them: they
// hold a connection until the body policy cuts them off), and is handed
// to the ingester, which checks it whole and archives it a chunk at a
// time within the server's ingest budget (capture.EntryIngester,
// "Memory").
func (s *Server) ingest(w http.ResponseWriter, req *http.Request) error {
	if s.r.Engine == nil {
		return app.ErrUnavailable
	}
	format := req.PathValue("format")
	in, ok := s.opts.Ingesters[format]
	if !ok {
		return httpx.Errorf(http.StatusNotFound, "not_found", "no ingester for %q", archive.Truncate(format, 80))
	}
	q := req.URL.Query()
	if err := httpx.CheckParams(q, "corp"); err != nil {
		return err
	}
	if err := httpx.ContentType(req, ingestTypes...); err != nil {
		return err
	}
	body, err := readSpool(http.MaxBytesReader(w, req.Body, MaxBodyBytes), SpoolMemory, s.spoolDir, s.spoolQuota)
	if err != nil {
		return bodyError(err, MaxBodyBytes)
	}
	defer body.Close()
	release, err := s.ingestSlots.Acquire()
	if err != nil {
		return err
	}
	defer release()
	results, err := in.Ingest(req.Context(), capture.EntryRequest{Body: body, Budget: s.ingestBudget, Account: q.Get("corp"),
		Actor: actorOf(req), Origin: "api request " + time.Now().UTC().Format("20060102T150405.000000000Z")})
	switch {
	case errors.Is(err, capture.ErrBadAccount):
		return httpx.BadParam("corp: %v", err)
	case errors.Is(err, capture.ErrEmptyBody):
		return httpx.Errorf(http.StatusBadRequest, "empty_body", "%v", err)
	case errors.Is(err, capture.ErrMalformedBody):
		return httpx.Errorf(http.StatusBadRequest, "malformed_body", "%v", err)
	case err != nil:
		return err
	}
	out := struct {
		Archived   int            `json:"archived"`
		Duplicates int            `json:"duplicates"`
		Conflicts  int            `json:"conflicts"`
		Rejected   int            `json:"rejected"`
		Results    []ingestResult `json:"results"`
	}{Results: make([]ingestResult, 0, len(results))}
	for _, r := range results {
		ir := ingestResult{Entry: r.Entry, MsgID: r.MsgID, Outcome: r.Outcome.String(), Serial: r.Serial,
			Version: r.Version, JournalIndex: r.JournalIndex}
		switch r.Outcome {
		case ingest.Archived:
			out.Archived++
		case ingest.Duplicate:
			out.Duplicates++
		case ingest.Conflict:
			out.Conflicts++
		case ingest.Rejected:
			out.Rejected++
			if r.Fault != nil {
				ir.Error = &apiLineFault{Field: r.Fault.Field, Reason: r.Fault.Reason}
			}
		}
		out.Results = append(out.Results, ir)
	}
	if out.Archived+out.Conflicts > 0 {
		// Messages were committed: the index database took a write.
		s.storageWritable(storageIndex)
	}
	status := http.StatusOK
	if out.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	httpx.JSON(w, status, out)
	return nil
}
