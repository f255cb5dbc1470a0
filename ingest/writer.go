package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// The engine is the single writer of the journal (DESIGN §6). Its callers
// take the narrowest of these faces, never *Engine: what they need is to
// have events committed durably, not the engine's lifecycle (sealing,
// closing, metrics). Every method has the contract of the Engine method of
// the same name.

// Clock is the writer's time: evidence timestamps and retention come from
// it, so producers that stamp records (captured_at, retain-until of an
// attachment) agree with the journal.
type Clock interface {
	Now() time.Time
	RetainUntil(t time.Time) archive.Time
}

// EventWriter journals events other than archived messages (access,
// directory facts, review actions, policy versions, capture faults).
type EventWriter interface {
	Append(ctx context.Context, events ...journal.Event) ([]uint64, error)
	// AppendIf appends only if cond, run inside the commit's transaction,
	// returns nil (a *ConflictError typically).
	AppendIf(ctx context.Context, cond func(ctx context.Context, tx store.Tx) error, events ...journal.Event) ([]uint64, error)
}

// MessageWriter archives messages: what a capture connector takes.
type MessageWriter interface {
	Clock
	EventWriter
	Submit(ctx context.Context, actor string, items []Item) *Future
	SubmitWithCursor(ctx context.Context, actor string, items []Item, cursor *store.CursorRow) *Future
	Archive(ctx context.Context, actor string, items []Item) ([]Result, error)
}

// Follower is what a reader right behind the writer uses (the supervisor):
// the latest messages from memory, a signal per commit, and events
// committed together with its cursor.
type Follower interface {
	EventWriter
	Commits() <-chan struct{}
	Recent(serial uint64, record archive.BlobID) (m *archive.Message, bodyTerms string, ok bool)
	AppendWithCursor(ctx context.Context, cursor *store.CursorRow, events ...journal.Event) ([]uint64, error)
	SubmitEvents(ctx context.Context, cursor *store.CursorRow, events ...journal.Event) *EventsFuture
}

var (
	_ MessageWriter = (*Engine)(nil)
	_ Follower      = (*Engine)(nil)
)

// ErrPushback is returned, instead of waiting, to a request made with a
// context from WithPushback when the writer's queue is full: the caller
// (an HTTP client, through 503 and Retry-After) should come back later.
// Nothing of the request was written.
var ErrPushback = errors.New("the archive's writer is saturated; retry later")

type pushbackKey struct{}

// WithPushback marks ctx so that requests made with it fail with
// ErrPushback when the writer's queue is full, instead of waiting for
// room. Connectors that own their pace (a puller with a cursor) wait;
// servers answering remote clients push back.
func WithPushback(ctx context.Context) context.Context {
	return context.WithValue(ctx, pushbackKey{}, true)
}

// WithoutPushback undoes WithPushback for requests made with the returned
// context: they wait for room. A server that has already archived part of
// a request (the first chunk of a large body) waits for the rest rather
// than fail it half-way.
func WithoutPushback(ctx context.Context) context.Context {
	return context.WithValue(ctx, pushbackKey{}, false)
}

func pushback(ctx context.Context) bool {
	v, _ := ctx.Value(pushbackKey{}).(bool)
	return v
}
