package replica

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/journal"
)

// Fault kinds Continuous raises (capture health, connector "archive",
// subject the replica's location).
const (
	FaultFailed = "replica_failed" // the last run failed: the replica is not being kept up
	FaultBehind = "replica_behind" // a sealed event has been missing from the replica for longer than MaxLag
)

// Defaults of Continuous.
const (
	DefaultInterval = 30 * time.Second
	DefaultMaxLag   = 15 * time.Minute
)

// Faults is where Continuous reports a replica that fails or falls behind
// (capture.Tracker: journaled capture.fault events).
type Faults interface {
	Raise(ctx context.Context, id, kind, subject, detail string)
	Resolve(ctx context.Context, id, kind, subject, detail, actor string) bool
}

// Target is one replica Continuous keeps up.
type Target struct {
	Location string // the replica's URL without credentials or query
	Store    blob.Store
}

// Status is what Continuous knows of one replica.
type Status struct {
	Location  string `json:"location"`
	ReplicaID string `json:"replica_id,omitempty"`
	// TreeSize is the replica's journal size after the last successful
	// run; SealedSize the primary's sealed journal then.
	TreeSize   uint64 `json:"tree_size"`
	SealedSize uint64 `json:"sealed_size"`
	// LagEvents counts the sealed events the replica does not hold
	// besides the primary's own replica.synced bookkeeping; Oldest is the
	// time of the oldest of them (zero when none).
	LagEvents   uint64    `json:"lag_events"`
	Oldest      time.Time `json:"oldest_uncopied,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Behind      bool      `json:"behind"`
}

// Metrics are Continuous's Prometheus collectors.
type Metrics struct {
	runs        *prometheus.CounterVec
	copied      *prometheus.CounterVec
	treeSize    *prometheus.GaugeVec
	lagEvents   *prometheus.GaugeVec
	lagSeconds  *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// exported).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_replica_runs_total",
			Help: "Replication runs, by replica and outcome (ok, failed)."}, []string{"replica", "outcome"}),
		copied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_replica_copied_bytes_total",
			Help: "Bytes copied to each replica."}, []string{"replica"}),
		treeSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_replica_tree_size",
			Help: "Journal events each replica holds."}, []string{"replica"}),
		lagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_replica_lag_events",
			Help: "Sealed journal events each replica does not hold yet."}, []string{"replica"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_replica_lag_seconds",
			Help: "Age of the oldest sealed journal event each replica does not hold (0: none)."}, []string{"replica"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_replica_last_success_timestamp_seconds",
			Help: "When each replica's last successful run ended (Unix time)."}, []string{"replica"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.copied, m.treeSize, m.lagEvents, m.lagSeconds, m.lastSuccess} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Continuous keeps replicas up with a running archive (serve): a run
// every Interval, each replica on its own, so a slow or failing one never
// holds up another or the archive. A failed run raises FaultFailed; a
// sealed event missing from a replica for longer than MaxLag raises
// FaultBehind; both resolve by themselves once the replica is up again.
type Continuous struct {
	Primary  Primary
	Targets  []Target
	Interval time.Duration
	MaxLag   time.Duration
	Faults   Faults   // optional
	Metrics  *Metrics // optional
	Logger   *slog.Logger
	Now      func() time.Time

	once  sync.Once
	mu    sync.Mutex
	state map[string]*Status
}

func (c *Continuous) init() {
	c.once.Do(func() {
		if c.Interval <= 0 {
			c.Interval = DefaultInterval
		}
		if c.MaxLag <= 0 {
			c.MaxLag = DefaultMaxLag
		}
		if c.Logger == nil {
			c.Logger = slog.New(slog.DiscardHandler)
		}
		if c.Now == nil {
			c.Now = time.Now
		}
		c.state = map[string]*Status{}
		for _, t := range c.Targets {
			c.state[t.Location] = &Status{Location: t.Location}
		}
	})
}

// Status reports every replica's state, in configuration order.
func (c *Continuous) Status() []Status {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.Targets))
	for _, t := range c.Targets {
		out = append(out, *c.state[t.Location])
	}
	return out
}

// RunOnce replicates to every target, concurrently, and returns when all
// are done.
func (c *Continuous) RunOnce(ctx context.Context) {
	c.init()
	var wg sync.WaitGroup
	for _, t := range c.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runOne(ctx, t)
		}()
	}
	wg.Wait()
}

// Run replicates now and every Interval until ctx is done.
func (c *Continuous) Run(ctx context.Context) {
	c.init()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		c.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Continuous) runOne(ctx context.Context, t Target) {
	res, err := Replicate(ctx, c.Primary, t.Store, Options{Location: t.Location, Now: c.Now})
	if ctx.Err() != nil {
		return // stopping: not the replica's fault
	}
	now := c.Now()
	c.mu.Lock()
	st := c.state[t.Location]
	hadErr := st.LastError != ""
	c.mu.Unlock()
	if err != nil {
		msg := err.Error()
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if !hadErr {
			c.Logger.Warn("replication failed", "replica", t.Location, "err", msg)
		}
		c.mu.Lock()
		st.LastError = msg
		c.mu.Unlock()
		c.count("failed", t.Location, 0)
		if c.Faults != nil {
			c.Faults.Raise(ctx, "archive", FaultFailed, t.Location, msg)
		}
		c.checkLag(ctx, t.Location, st.TreeSize, now)
		return
	}
	if hadErr {
		c.Logger.Info("replication works again", "replica", t.Location, "tree_size", res.TreeSize)
	}
	if c.Faults != nil {
		c.Faults.Resolve(ctx, "archive", FaultFailed, t.Location, fmt.Sprintf("replicated through event %d", res.TreeSize), "connector:archive")
	}
	c.mu.Lock()
	st.ReplicaID, st.TreeSize, st.LastSuccess, st.LastError = res.ReplicaID, res.TreeSize, now, ""
	c.mu.Unlock()
	c.count("ok", t.Location, res.Copied.Bytes)
	if c.Metrics != nil {
		c.Metrics.treeSize.WithLabelValues(t.Location).Set(float64(res.TreeSize))
		c.Metrics.lastSuccess.WithLabelValues(t.Location).Set(float64(now.UnixMilli()) / 1000)
	}
	c.checkLag(ctx, t.Location, res.TreeSize, now)
}

func (c *Continuous) count(outcome, loc string, bytes int64) {
	if c.Metrics == nil {
		return
	}
	c.Metrics.runs.WithLabelValues(loc, outcome).Inc()
	if bytes > 0 {
		c.Metrics.copied.WithLabelValues(loc).Add(float64(bytes))
	}
}

// checkLag measures what the replica (at size) lacks of the primary's
// sealed journal, and raises or resolves FaultBehind.
func (c *Continuous) checkLag(ctx context.Context, loc string, size uint64, now time.Time) {
	lag, oldest, sealed, err := c.lag(ctx, size)
	if err != nil {
		c.Logger.Warn("replica lag not measured", "replica", loc, "err", err.Error())
		return
	}
	behind := !oldest.IsZero() && now.Sub(oldest) > c.MaxLag
	c.mu.Lock()
	st := c.state[loc]
	st.SealedSize, st.LagEvents, st.Oldest, st.Behind = sealed, lag, oldest, behind
	c.mu.Unlock()
	if c.Metrics != nil {
		c.Metrics.lagEvents.WithLabelValues(loc).Set(float64(lag))
		secs := 0.0
		if !oldest.IsZero() {
			secs = max(0, now.Sub(oldest).Seconds())
		}
		c.Metrics.lagSeconds.WithLabelValues(loc).Set(secs)
	}
	if c.Faults == nil {
		return
	}
	if behind {
		c.Faults.Raise(ctx, "archive", FaultBehind, loc, fmt.Sprintf("%d sealed journal events not in the replica, the oldest from %s (more than %s ago)",
			lag, archive.At(oldest), c.MaxLag))
	} else {
		c.Faults.Resolve(ctx, "archive", FaultBehind, loc, fmt.Sprintf("the replica holds the journal through event %d", size), "connector:archive")
	}
}

// lag counts the sealed events at or after size other than replica.synced
// (what a run that copied nothing else does not journal again), and the
// time of the first that is not a read.
func (c *Continuous) lag(ctx context.Context, size uint64) (n uint64, oldest time.Time, sealed uint64, err error) {
	head, err := c.Primary.Store.Head(ctx)
	if err != nil {
		return 0, time.Time{}, 0, err
	}
	sealed = head.SealedSize
	if sealed <= size {
		return 0, time.Time{}, sealed, nil
	}
	err = c.Primary.Store.Leaves(ctx, size, sealed, func(idx uint64, _, leaf []byte) error {
		if bytes.Contains(leaf, []byte(`"type":"`+EventReplicaSynced+`"`)) {
			if ev, err := journal.DecodeLeaf(idx, leaf); err == nil && ev.Type == EventReplicaSynced {
				return nil
			}
		}
		n++
		if oldest.IsZero() {
			if ev, err := journal.DecodeLeaf(idx, leaf); err == nil {
				// A read is sealed up to the read seal delay after its
				// time (docs/FORMAT.md §5), so its time says nothing of
				// the replica's lag: the first other event's does.
				if !archive.IsReadEvent(ev.Type, ev.Payload) {
					oldest = ev.Time.Time
				}
			} else {
				oldest = c.Now() // unreadable: counted as new
			}
		}
		return nil
	})
	return n, oldest, sealed, err
}
