package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus collectors.
type Metrics struct {
	items       *prometheus.CounterVec
	rejects     prometheus.Counter
	commits     *prometheus.CounterVec
	commitTime  prometheus.Histogram
	batchSize   prometheus.Histogram
	latency     prometheus.Histogram
	journalSize prometheus.Gauge
}

// NewMetrics creates and registers the collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_ingest_messages_total",
			Help: "Messages submitted for archiving, by outcome (archived, duplicate, conflict)."}, []string{"outcome"}),
		rejects: prometheus.NewCounter(prometheus.CounterOpts{Name: "wxarchive_ingest_rejects_total",
			Help: "Inputs quarantined because they could not be archived."}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_commits_total",
			Help: "Durable commits, by result."}, []string{"result"}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wxarchive_commit_duration_seconds",
			Help: "Time to write and fsync one commit.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wxarchive_commit_batch_messages",
			Help: "Items per commit (group commit batch size).", Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wxarchive_ingest_latency_seconds",
			Help: "Time from submission until a message is durable.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		journalSize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wxarchive_journal_size",
			Help: "Number of leaves in the journal."}),
	}
	if reg != nil {
		reg.MustRegister(m.items, m.rejects, m.commits, m.commitTime, m.batchSize, m.latency, m.journalSize)
	}
	return m
}

func (m *Metrics) observeCommit(batch []*request, n int, d time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.commits.WithLabelValues("error").Inc()
		return
	}
	m.commits.WithLabelValues("ok").Inc()
	m.commitTime.Observe(d.Seconds())
	m.batchSize.Observe(float64(n))
	now := time.Now()
	for _, r := range batch {
		switch r.kind {
		case reqItems:
			for _, res := range r.results {
				if res.Outcome == Rejected {
					m.rejects.Inc()
				} else {
					m.items.WithLabelValues(res.Outcome.String()).Inc()
				}
			}
			m.latency.Observe(now.Sub(r.start).Seconds())
		}
	}
}

func (m *Metrics) setJournalSize(n uint64) {
	if m != nil {
		m.journalSize.Set(float64(n))
	}
}
