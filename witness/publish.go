package witness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/journal"
)

// DefaultInterval is how often a running archive publishes its newest
// checkpoint when none is configured: what a witness can miss of a
// rollback is at most this much of the archive's history.
const DefaultInterval = 10 * time.Second

// Health fault kinds (capture.fault events, connector "archive", subject
// the witness's name).
const (
	FaultUnreachable = "witness_unreachable" // publishing failed: the witness lags
	FaultRefused     = "witness_refused"     // the witness holds a larger or different tree: rollback or rewrite
)

// Faults is where publishing failures become visible (capture health:
// connector.Health satisfies it). Raise and Resolve must not block for
// long and must not fail publishing.
type Faults interface {
	Raise(ctx context.Context, id, kind, subject, detail string)
	Resolve(ctx context.Context, id, kind, subject, detail, actor string) bool
}

// Metrics are the publisher's Prometheus collectors.
type Metrics struct {
	publish     *prometheus.CounterVec
	size        *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// exported).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		publish: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_witness_publish_total",
			Help: "Checkpoint publications to witnesses, by outcome (ok, unreachable, refused)."}, []string{"witness", "outcome"}),
		size: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_witness_size",
			Help: "Tree size each witness last acknowledged."}, []string{"witness"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_witness_last_success_timestamp_seconds",
			Help: "When each witness last acknowledged a checkpoint (Unix time)."}, []string{"witness"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.publish, m.size, m.lastSuccess} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Publishing is the archive side of witnessing: it polls the archive's
// newest checkpoint and publishes it to every witness that does not hold
// it yet. It never blocks the archive: a slow or failing witness only
// delays itself.
type Publishing struct {
	Witnesses []Publisher
	// Latest returns the archive's newest signed checkpoint note.
	Latest func(ctx context.Context) ([]byte, error)
	Log    Log
	// Interval between polls (default DefaultInterval).
	Interval time.Duration
	Faults   Faults   // optional
	Metrics  *Metrics // optional
	Logger   *slog.Logger
	Now      func() time.Time

	mu    sync.Mutex
	state map[string]*pubState
}

type pubState struct {
	acked   uint64
	ok      bool // the last attempt succeeded
	lastErr error
	refusal string // the last refusal logged, so a refusing witness is not logged every round
}

// Status is what Publishing knows of one witness.
type Status struct {
	Witness string
	Acked   uint64 // size the witness last acknowledged
	OK      bool
	Err     error
}

func (p *Publishing) init() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		p.state = map[string]*pubState{}
		for _, w := range p.Witnesses {
			p.state[w.Name()] = &pubState{}
		}
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
}

// Status reports every witness's state, in configuration order.
func (p *Publishing) Status() []Status {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Status, 0, len(p.Witnesses))
	for _, w := range p.Witnesses {
		s := p.state[w.Name()]
		out = append(out, Status{Witness: w.Name(), Acked: s.acked, OK: s.ok, Err: s.lastErr})
	}
	return out
}

// PublishOnce publishes the newest checkpoint to every witness that has
// not acknowledged it (all of them concurrently) and returns their
// errors joined.
func (p *Publishing) PublishOnce(ctx context.Context) error {
	p.init()
	note, err := p.Latest(ctx)
	if err != nil {
		return fmt.Errorf("read the newest checkpoint: %w", err)
	}
	cp, err := p.Log.Open(note)
	if err != nil {
		// Never publish what the archive's own key does not vouch for.
		return fmt.Errorf("the newest checkpoint does not verify: %w", err)
	}
	errs := make([]error, len(p.Witnesses))
	var wg sync.WaitGroup
	for i, w := range p.Witnesses {
		p.mu.Lock()
		s := p.state[w.Name()]
		skip := s.ok && s.acked == cp.Size
		p.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.publish(ctx, w, cp)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Publishing) publish(ctx context.Context, w Publisher, cp *journal.Checkpoint) error {
	name := w.Name()
	ack, err := w.Publish(ctx, cp, p.Log)
	var re *RefusedError
	refusal := ""
	if errors.As(err, &re) {
		refusal = fmt.Sprintf("%s %d", re.Reason, re.Held)
	}
	p.mu.Lock()
	s := p.state[name]
	wasOK, hadErr, newRefusal := s.ok, s.lastErr != nil, refusal != s.refusal
	s.ok, s.lastErr, s.refusal = err == nil, err, refusal
	if err == nil {
		s.acked = ack.Size
	}
	p.mu.Unlock()
	outcome := "ok"
	switch {
	case re != nil:
		outcome = "refused"
		if newRefusal {
			p.Logger.Error("witness refused the archive's checkpoint: the archive may have been rolled back or rewritten",
				"witness", name, "size", cp.Size, "held", re.Held, "reason", re.Reason, "detail", re.Detail)
		}
		p.raise(ctx, FaultRefused, name, err.Error())
	case err != nil:
		outcome = "unreachable"
		if wasOK || !hadErr {
			p.Logger.Warn("witness publication failed", "witness", name, "size", cp.Size, "err", err.Error())
		}
		p.raise(ctx, FaultUnreachable, name, err.Error())
	default:
		if hadErr {
			p.Logger.Info("witness reachable again", "witness", name, "size", cp.Size)
		}
		if p.Faults != nil {
			p.Faults.Resolve(ctx, "archive", FaultUnreachable, name, fmt.Sprintf("witnessed checkpoint %d", cp.Size), "connector:archive")
			p.Faults.Resolve(ctx, "archive", FaultRefused, name, fmt.Sprintf("witnessed checkpoint %d", cp.Size), "connector:archive")
		}
		if p.Metrics != nil {
			p.Metrics.size.WithLabelValues(name).Set(float64(ack.Size))
			p.Metrics.lastSuccess.WithLabelValues(name).Set(float64(p.Now().UnixMilli()) / 1000)
		}
	}
	if p.Metrics != nil {
		p.Metrics.publish.WithLabelValues(name, outcome).Inc()
	}
	return err
}

func (p *Publishing) raise(ctx context.Context, kind, name, detail string) {
	if p.Faults == nil {
		return
	}
	if len(detail) > 500 {
		detail = detail[:500] + "…"
	}
	p.Faults.Raise(ctx, "archive", kind, name, detail)
}

// Run publishes now and then every Interval until ctx is done, then once
// more (within final, so that what the archive did last is witnessed
// too) before it returns.
func (p *Publishing) Run(ctx context.Context, final time.Duration) {
	p.init()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		if err := p.PublishOnce(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Debug("witness round", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			if final > 0 {
				fctx, cancel := context.WithTimeout(context.Background(), final)
				p.PublishOnce(fctx)
				cancel()
			}
			return
		case <-t.C:
		}
	}
}
