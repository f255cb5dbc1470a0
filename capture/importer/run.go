package importer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/archive"

	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/store"
)

// Importer archives an export file. The resume cursor (the last line of
// the last durable batch) is committed with each batch under the file's
// hash, so an interrupted import continues where it stopped, and importing
// the same file again archives nothing new.
type Importer struct {
	Engine  ingest.MessageWriter
	Store   store.Reader
	Actor   string
	Options Options
	// BatchSize is rows per commit (default 1000).
	BatchSize int
	// Progress, if set, is called after each durable batch with the line
	// reached and the total bytes.
	Progress func(line int)
}

// Summary is what an import did.
type Summary struct {
	File       string     `json:"file"`
	SHA256     string     `json:"sha256"`
	Format     Format     `json:"format"`
	Rows       int        `json:"rows"`
	Resumed    int        `json:"resumed_after_line,omitempty"` // lines skipped: archived by an earlier, interrupted run
	Archived   int        `json:"archived"`
	Duplicates int        `json:"duplicates"`
	Rejected   []RowError `json:"rejected"`
}

func cursorName(hash string) string { return "import:" + hash }

// Run imports data (the bytes of the file at path) in format f.
func (im *Importer) Run(ctx context.Context, f Format, path string, data []byte) (*Summary, error) {
	if im.BatchSize <= 0 {
		im.BatchSize = 1000
	}
	hash := Hash(data)
	sum := &Summary{File: filepath.Base(path), SHA256: hash, Format: f, Rejected: []RowError{}}
	resume := 0
	cur, err := im.Store.Cursor(ctx, cursorName(hash))
	switch {
	case err == nil:
		if resume, err = strconv.Atoi(cur.Value); err != nil {
			return nil, fmt.Errorf("resume cursor of %s is %q", hash, cur.Value)
		}
		sum.Resumed = resume
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// Who is an employee: the owner, --employee, and every employee the
	// archive already knows (the directory, earlier imports and captures).
	opts := im.Options
	opts.Employees = map[string]bool{}
	for k, v := range im.Options.Employees {
		opts.Employees[k] = v
	}
	known, err := im.Store.EmployeeActivity(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range known {
		opts.Employees[e.ID] = true
	}
	if err := unclassified(f, data, opts); err != nil {
		return nil, err
	}
	src := Source(f, im.Options.Owner)
	origin := fmt.Sprintf("import:%s file:%s sha256:%s", f, sum.File, hash)
	var items []ingest.Item
	var rows []Row
	lastLine := resume
	flush := func() error {
		if len(items) == 0 && lastLine == resume {
			return nil
		}
		res, err := im.Engine.SubmitWithCursor(ctx, im.Actor, items,
			&store.CursorRow{Connector: cursorName(hash), Value: strconv.Itoa(lastLine)}).Wait(ctx)
		if err != nil {
			return err
		}
		for i, r := range res {
			switch r.Outcome {
			case ingest.Archived, ingest.Conflict:
				sum.Archived++
			case ingest.Duplicate:
				sum.Duplicates++
			case ingest.Rejected:
				sum.Rejected = append(sum.Rejected, *rows[i].Err)
			}
		}
		items, rows = items[:0], rows[:0]
		resume = lastLine
		if im.Progress != nil {
			im.Progress(lastLine)
		}
		return nil
	}
	err = Parse(f, data, opts, func(row Row) error {
		sum.Rows++
		if row.Line <= resume {
			return nil
		}
		it := ingest.Item{Source: src, Raw: row.Raw, Origin: fmt.Sprintf("%s line %d", origin, row.Line)}
		if row.Err != nil {
			it.Reject = &ingest.Rejection{MsgID: row.Err.MsgID, Field: row.Err.Field, Reason: row.Err.Reason}
		} else {
			it.Message = row.Message
		}
		items, rows = append(items, it), append(rows, row)
		lastLine = row.Line
		if len(items) >= im.BatchSize {
			return flush()
		}
		return ctx.Err()
	})
	var fe *FileError
	if errors.As(err, &fe) {
		// The rows before the damage are good: keep them, so that a fixed
		// file resumes after them.
		if ferr := flush(); ferr != nil {
			return sum, ferr
		}
	}
	if err != nil {
		return sum, err
	}
	return sum, flush()
}

// UnclassifiedError refuses an import in which some messages have no
// employee among their participants: archived, they would say nothing of
// which side of the firm they crossed (and a policy on outbound messages
// would never see them). Nothing is archived.
type UnclassifiedError struct {
	Messages int
	Senders  []string // some of their senders, for the message
}

func (e *UnclassifiedError) Error() string {
	what := fmt.Sprintf("%d messages have", e.Messages)
	if e.Messages == 1 {
		what = "1 message has"
	}
	return fmt.Sprintf("%s no employee among their participants (senders %s): say whose export this is with --owner, "+
		"or name the employees with --employee ID (repeatable); nothing was archived", what, strings.Join(e.Senders, ", "))
}

// unclassified checks every message of the file has an employee among
// its participants.
func unclassified(f Format, data []byte, opts Options) error {
	e := &UnclassifiedError{}
	seen := map[string]bool{}
	err := Parse(f, data, opts, func(r Row) error {
		if r.Message == nil {
			return nil
		}
		for _, p := range r.Message.Participants {
			if p.Kind != archive.ParticipantExternal {
				return nil
			}
		}
		e.Messages++
		if s := r.Message.Sender; !seen[s] && len(e.Senders) < 5 {
			seen[s] = true
			e.Senders = append(e.Senders, s)
		}
		return nil
	})
	var fe *FileError
	if err != nil && !errors.As(err, &fe) {
		return err
	}
	if e.Messages > 0 {
		return e
	}
	return nil
}
