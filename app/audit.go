package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/internal/csvcell"
	"github.com/wxarchive/wxarchive/journal"
)

// The audit log: the journal's access and change events read back, newest
// first, with filters and keyset paging (`wxarchive audit`, GET
// /api/v1/audit). Reading it is itself an access (access.view, what
// "audit"), journaled before the page is returned.

// AuditKinds are the event types the audit log shows: every access, every
// change of who may do what or of what supervision applies, and every
// login.
var AuditKinds = []string{
	archive.EventAccessView, archive.EventReviewAction, archive.EventPolicyApplied, archive.EventKeyRotated, archive.EventArchiveCreated,
	archive.EventUserAdded, archive.EventUserChanged, archive.EventUserDisabled, archive.EventTokenCreated, archive.EventTokenRevoked, archive.EventTokenUsed,
	archive.EventLoginSucceeded, archive.EventLoginFailed, archive.EventLoginLocked, archive.EventSessionEnded, archive.EventOIDCMapped,
	archive.EventRetentionApplied, archive.EventHoldCreated, archive.EventHoldReleased,
}

// Audit paging bounds.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 1000
	// MaxAuditScan bounds the journal events one page reads: a filter
	// that matches little in a large journal returns a partial page with
	// a cursor instead of reading the whole journal in one request.
	MaxAuditScan = 200_000
	auditChunk   = 512
)

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	// User matches the actor (cli:U, api:U, web:U) or the user an event
	// is about (a login's user, a token's owner, a changed user).
	User string
	Kind string // one of AuditKinds
	// Period is the days [From, To) in the archive's time zone.
	Period Range
	// Before is the cursor: events before this journal index (0: from
	// the newest). A page's Next is the next page's Before.
	Before uint64
	Limit  int // 0: DefaultAuditLimit
}

// AuditEntry is one event of the audit log.
type AuditEntry struct {
	Index   uint64          `json:"index"`
	Time    string          `json:"time"`
	Kind    string          `json:"kind"`
	Actor   string          `json:"actor"`
	User    string          `json:"user,omitempty"` // whom it concerns, when not the actor
	Subject []string        `json:"subject,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// AuditPage is a page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the cursor of the following (older) page; 0 when there is
	// none. Partial says the page stopped at MaxAuditScan events read,
	// not at Limit matches: there may be more, from Next.
	Next    uint64 `json:"next,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// actorUser is the user name of an actor "surface:NAME".
func actorUser(actor string) string {
	_, u, ok := strings.Cut(actor, ":")
	if !ok {
		return ""
	}
	return u
}

// Audit reads the audit log.
func (a *App) Audit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermAudit); err != nil {
		return nil, err
	}
	if f.Kind != "" && !slices.Contains(AuditKinds, f.Kind) {
		return nil, badParam("kind", "%q is not an audit event kind (%s)", f.Kind, strings.Join(AuditKinds, ", "))
	}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultAuditLimit
	case f.Limit < 0 || f.Limit > MaxAuditLimit:
		return nil, badParam("limit", "%d is not between 1 and %d", f.Limit, MaxAuditLimit)
	}
	from, to := time.Time{}, time.Time{}
	if f.Period.From != "" || f.Period.To != "" {
		if from, to, err = a.period(f.Period, time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			return nil, err
		}
	}
	if _, err := a.writer(); err != nil {
		return nil, err // the read must be journaled: refuse before reading
	}
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	end := head.JournalSize
	if f.Before > 0 && f.Before < end {
		end = f.Before
	}
	page := &AuditPage{Entries: []AuditEntry{}}
	scanned := 0
	for end > 0 && len(page.Entries) < f.Limit {
		if scanned >= MaxAuditScan {
			page.Next, page.Partial = end, true
			break
		}
		begin := end - min(end, auditChunk)
		var chunk []AuditEntry
		err := a.d.Store.Leaves(ctx, begin, end, func(i uint64, _, leaf []byte) error {
			ev, err := journal.DecodeLeaf(i, leaf)
			if err != nil || !slices.Contains(AuditKinds, ev.Type) {
				return nil // verify reports unreadable leaves; the audit shows what it can read
			}
			if f.Kind != "" && ev.Type != f.Kind {
				return nil
			}
			if !from.IsZero() && (ev.Time.Before(from) || !ev.Time.Before(to)) {
				return nil
			}
			e := AuditEntry{Index: i, Time: a.rfc3339(ev.Time), Kind: ev.Type, Actor: ev.Actor, Subject: ev.Subject, Payload: ev.Payload}
			var about struct {
				User  string `json:"user"`
				Owner string `json:"owner"`
			}
			json.Unmarshal(ev.Payload, &about) // events without these fields leave them empty
			e.User = about.User
			if e.User == "" {
				e.User = about.Owner
			}
			if f.User != "" && actorUser(ev.Actor) != f.User && e.User != f.User {
				return nil
			}
			chunk = append(chunk, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
		scanned += int(end - begin)
		for k := len(chunk) - 1; k >= 0 && len(page.Entries) < f.Limit; k-- {
			page.Entries = append(page.Entries, chunk[k])
		}
		if len(page.Entries) == f.Limit {
			if last := page.Entries[len(page.Entries)-1].Index; last > 0 {
				page.Next = last
			}
			break
		}
		end = begin
	}
	ev := archive.AccessEvent{What: "audit", Query: f.describe()}
	if err := a.journalAccess(ctx, p, ev); err != nil {
		return nil, err
	}
	return page, nil
}

// describe renders the filter for the audit read's own access event.
func (f AuditFilter) describe() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("user", f.User)
	add("kind", f.Kind)
	add("from", f.Period.From)
	add("to", f.Period.To)
	if f.Before > 0 {
		add("before", fmt.Sprint(f.Before))
	}
	return strings.Join(parts, " ")
}

// AuditColumns are the columns of the audit log as CSV.
var AuditColumns = []string{"index", "time", "kind", "actor", "user", "subject", "payload"}

// WriteAuditCSV writes a page of the audit log as CSV (UTF-8), the
// payload as its JSON; cells a spreadsheet would run as formulas are
// neutralized (csvcell).
func WriteAuditCSV(w io.Writer, p *AuditPage) error {
	cw := csv.NewWriter(w)
	cw.Write(AuditColumns)
	for _, e := range p.Entries {
		rec := []string{strconv.FormatUint(e.Index, 10), e.Time, e.Kind, e.Actor, e.User, strings.Join(e.Subject, " "), string(e.Payload)}
		for i, c := range rec {
			rec[i] = csvcell.Safe(c)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
