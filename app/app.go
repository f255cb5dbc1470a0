// Package app holds the use cases every surface calls — the CLI, the JSON
// API and the web interface: search, view a message, proofs, consent,
// alerts and review queues, policies, review actions, evidence reports and
// capture health. Each use case takes the acting principal from the
// context, journals its own access event (DESIGN §1.4: every access is a
// journal event; an edge never journals by hand) and returns one view type
// that every surface renders.
//
// Glossary:
//   - principal: who acts (WithPrincipal): the journal actor, the
//     authenticated user when there is one, and the surface.
//   - view: what a use case returns; its JSON is the API's and `--json`'s.
//   - access event: access.view (or review.action "view"), journaled before
//     the view is returned: content that cannot be accounted for is not
//     shown.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// Deps is what the use cases read and write through.
type Deps struct {
	Store store.Reader
	// Writer journals accesses and actions; nil for a read-only archive,
	// where every use case that must journal answers ErrReadOnly.
	Writer   ingest.EventWriter
	Records  RecordReader
	Verifier *journal.Verifier
	Config   *repo.Config
	Now      func() time.Time // nil: time.Now
	// Health is the running server's view of its connectors (nil outside
	// serve: the report then comes from the journal alone); Connectors
	// the registry of connector types, which says what each type's source
	// is and which faults it keeps standing (nil: none known).
	Health     *capture.Tracker
	Connectors *capture.Registry
	// Auth administers users and tokens (users.go, tokens.go); nil for a
	// read-only archive, where those use cases answer ErrReadOnly.
	Auth *auth.Service
	// Blobs extends the retention of blobs when a new retention rule set
	// keeps records longer (retention.go); nil: recomputes only plan.
	Blobs BlobRetainer
	// Media reads stored blobs (attachments' bytes) for productions;
	// nil: a production lists attachments without their bytes.
	Media BlobReader
}

// BlobReader reads a blob, verified against its id (blob.Store's Get).
type BlobReader interface {
	Get(ctx context.Context, id archive.BlobID) ([]byte, error)
}

// BlobRetainer extends a blob's retention (blob.Store's SetRetention).
type BlobRetainer interface {
	SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error
}

// RecordReader reads records verified against the hashes the journal
// recorded (repo.Records).
type RecordReader interface {
	Get(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error)
}

// App is the use-case layer over one open archive.
type App struct{ d Deps }

// New returns the use cases over d.
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &App{d: d}
}

// FromRepo is Deps for an open archive directory. A read-only archive has
// no writer: use cases that journal answer ErrReadOnly.
func FromRepo(r *repo.Repo) Deps {
	d := Deps{Store: r.Store, Records: r.Records, Verifier: r.Verifier, Config: r.Config, Media: r.Blobs}
	if r.Engine != nil {
		d.Writer = r.Engine
		d.Blobs = r.Blobs
		// The policy was validated when the configuration was loaded.
		pol, _ := r.Config.AuthPolicy()
		d.Auth, _ = auth.NewService(auth.Options{Store: r.Store, Journal: r.Engine, Policy: pol, Issuer: "wxarchive " + r.Config.ArchiveID[:min(8, len(r.Config.ArchiveID))]})
	}
	return d
}

// Location is the archive's time zone, in which people read times.
func (a *App) Location() *time.Location { return a.d.Config.Location() }

// Principal is who acts.
type Principal struct {
	// Actor is the journal actor: "cli:alice", "api:alice", or for an
	// unauthenticated API caller "api:ADDRESS:PORT".
	Actor string
	// User is the authenticated user name; "" when the caller is not
	// authenticated (it can then never be a supervision principal).
	User string
	// Via is the surface: "cli", "api" or "web" (journaled with accesses).
	Via string
	// Identity is the authenticated caller when a surface authenticated
	// one (the API, the web interface): use cases then check its
	// permissions. The CLI acts as the operating-system user, who owns the
	// archive's files, and carries none: it is its archive's administrator
	// as it always was.
	Identity *auth.Identity
}

// authorize checks that p may use perm now: a principal with an identity
// needs the permission; one without (the CLI) may.
func (a *App) authorize(p Principal, perm auth.Permission) error {
	if p.Identity == nil {
		return nil
	}
	return p.Identity.Authorize(perm, a.d.Now())
}

type principalKey struct{}

// WithPrincipal returns ctx acting as p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx acts as.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok && p.Actor != ""
}

func (a *App) principal(ctx context.Context) (Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return Principal{}, ErrNoPrincipal
	}
	if err := archive.CheckID("actor", p.Actor, journal.MaxActorBytes); err != nil {
		return Principal{}, &InvalidError{Field: "actor", Reason: err.Error()}
	}
	return p, nil
}

// Errors every surface maps once (httpx: status codes; the CLI: exit codes).
var (
	// ErrNoPrincipal: a use case was called without WithPrincipal — a
	// wiring bug, never a user's.
	ErrNoPrincipal = errors.New("no principal in the context")
	// ErrReadOnly: the archive was opened without a writer, so the access
	// cannot be journaled and is refused.
	ErrReadOnly = errors.New("the archive is open read-only: this needs a writer to journal it")
	// ErrUnavailable: the archive is closing, or a facility is not running
	// here; try again later or elsewhere.
	ErrUnavailable = errors.New("unavailable")
	// ErrNotFound is matched by errors for absent objects (store.ErrNotFound).
	ErrNotFound = store.ErrNotFound
)

// InvalidError is a request the caller must change: a parameter or field
// at fault, named. Nothing was written.
type InvalidError struct {
	Field  string
	Reason string
	// Code is the machine-readable code surfaces report ("bad_parameter"
	// for a request parameter — a filter, a limit, a date); empty means
	// "bad_" + Field, for a field of what was submitted.
	Code string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// invalid is a field of what was submitted (a note, an alert id list).
func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// badParam is a request parameter (a filter, a limit, a date, a version).
func badParam(field, format string, a ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, a...), Code: "bad_parameter"}
}

// limitErr turns archive's LimitError into an InvalidError for the same
// field (err is returned unchanged otherwise).
func limitErr(err error) error {
	var le *archive.LimitError
	if errors.As(err, &le) {
		r := le.Reason
		if r == "" {
			r = fmt.Sprintf("%d bytes, over the limit of %d", le.Size, le.Limit)
		}
		return &InvalidError{Field: le.Field, Reason: r}
	}
	return err
}

// ConflictError is an action the state of an object refuses (an alert
// closed, escalated…); nothing was written. Object names it.
type ConflictError struct {
	Object string
	Reason string
}

func (e *ConflictError) Error() string { return e.Object + ": " + e.Reason }

// writer returns the writer, or why there is none.
func (a *App) writer() (ingest.EventWriter, error) {
	if a.d.Writer == nil {
		return nil, ErrReadOnly
	}
	return a.d.Writer, nil
}

// journalAccess records that p was shown what (and the messages concerned)
// — the one place access.view events are built. It returns before the
// view is handed to the surface: an access that cannot be recorded is
// refused.
func (a *App) journalAccess(ctx context.Context, p Principal, ev archive.AccessEvent) error {
	w, err := a.writer()
	if err != nil {
		return err
	}
	ev.Via = p.Via
	e, err := journal.NewEvent(archive.EventAccessView, p.Actor, archive.Time{}, subjects(ev.Serials), &ev)
	if err != nil {
		return err
	}
	if _, err := w.Append(ctx, e); err != nil {
		return fmt.Errorf("record the access: %w", unavailable(err))
	}
	return nil
}

// unavailable marks a closed writer as ErrUnavailable (the edges answer
// 503); other errors pass unchanged.
func unavailable(err error) error {
	if errors.Is(err, ingest.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func subjects(serials []uint64) []string {
	subj := make([]string, len(serials))
	for i, s := range serials {
		subj[i] = fmt.Sprintf("serial:%d", s)
	}
	return subj
}

// DateLayout is how days are given to reports and backtests, in the
// archive's time zone.
const DateLayout = "2006-01-02"

// ParseDay reads a day in the archive's time zone; field names the
// parameter for the error.
func (a *App) ParseDay(field, v string) (time.Time, error) {
	t, err := time.ParseInLocation(DateLayout, v, a.Location())
	if err != nil {
		return t, badParam(field, "%q is not a date (%s)", v, DateLayout)
	}
	return t, nil
}

// Range is a period [From, To) of days, given as text (either may be
// empty where the use case has a default).
type Range struct {
	From, To string
	// By is which date the period selects, where a report offers the
	// choice (review evidence: review.BySent, the default, or
	// review.ByRaised).
	By string
}

// period parses r; a side left empty takes its default. An inverted or
// empty period is refused naming "to" — the same answer on every surface.
func (a *App) period(r Range, defFrom, defTo time.Time) (from, to time.Time, err error) {
	from, to = defFrom, defTo
	if r.From != "" {
		if from, err = a.ParseDay("from", r.From); err != nil {
			return
		}
	}
	if r.To != "" {
		if to, err = a.ParseDay("to", r.To); err != nil {
			return
		}
	}
	if !to.After(from) {
		err = badParam("to", "%s is not after from (%s)", to.In(a.Location()).Format(DateLayout), from.In(a.Location()).Format(DateLayout))
	}
	return
}

func (a *App) rfc3339(t archive.Time) string { return t.Time.In(a.Location()).Format(time.RFC3339) }

func accessOf(what string, serials []uint64) archive.AccessEvent {
	return archive.AccessEvent{What: what, Serials: serials}
}
