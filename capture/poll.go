package capture

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/ingest"
)

// Tally counts durable results by outcome.
type Tally struct {
	Archived   int // new messages and new versions (conflicts)
	Duplicates int
	Rejected   int // quarantined
}

// ObserveResults reports each durable result of a connector's batch to h
// (nil: only counted) as an outcome and returns the counts.
func ObserveResults(ctx context.Context, h Health, id string, results []ingest.Result) Tally {
	var t Tally
	for _, r := range results {
		outcome := ""
		switch r.Outcome {
		case ingest.Archived, ingest.Conflict:
			t.Archived++
			outcome = OutcomeArchived
		case ingest.Duplicate:
			t.Duplicates++
			outcome = OutcomeDuplicate
		case ingest.Rejected:
			t.Rejected++
			outcome = OutcomeRejectedMessage
		}
		if h != nil && outcome != "" {
			h.Observe(ctx, id, outcome, "")
		}
	}
	return t
}

// Poller is the loop of a pulling connector: Pull is called until ctx
// ends — at once again while it reports more, else after Interval or when
// Wake delivers (the value, e.g. a kf_msg_or_event token, goes to the next
// Pull; the zero value otherwise).
type Poller[T any] struct {
	ID       string        // the connector, for faults and logs
	What     string        // what a pull is, for the log: "msgaudit pull", "kf sync"
	Interval time.Duration // must be > 0
	Wake     <-chan T      // nil: none
	Health   Health        // nil: faults only logged
	Logger   *slog.Logger  // nil: discard
	Pull     func(ctx context.Context, woken T) (more bool, err error)
}

// Run polls until ctx ends. A failed pull is logged and raises
// FaultPullFailed (capture has stopped until it clears: a fault, not just a
// log line) and is retried after the interval; the next successful pull
// resolves it. Capture never stops by itself.
func (p Poller[T]) Run(ctx context.Context) {
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var woken T
	for ctx.Err() == nil {
		more, err := p.Pull(ctx, woken)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error(p.What+" failed", "connector", p.ID, "err", err)
			if p.Health != nil {
				p.Health.Raise(ctx, p.ID, FaultPullFailed, "", err.Error())
			}
		case err == nil && p.Health != nil:
			p.Health.Resolve(ctx, p.ID, FaultPullFailed, "", p.What+" works again", "connector:"+p.ID)
		}
		var zero T
		woken = zero
		if err == nil && more {
			continue
		}
		select {
		case <-ctx.Done():
		case woken = <-p.Wake:
		case <-time.After(p.Interval):
		}
	}
}

// Wakeup is the pending wake-up of a connector's loop (a Poller's Wake):
// Send never blocks — a wake-up already pending is enough — and the zero
// value is ready to use.
type Wakeup[T any] struct {
	once sync.Once
	ch   chan T
}

func (w *Wakeup[T]) init() { w.once.Do(func() { w.ch = make(chan T, 1) }) }

// C is the channel a loop waits on.
func (w *Wakeup[T]) C() <-chan T {
	w.init()
	return w.ch
}

// Send wakes the loop with v, unless a wake-up is already pending.
func (w *Wakeup[T]) Send(v T) {
	w.init()
	select {
	case w.ch <- v:
	default:
	}
}
