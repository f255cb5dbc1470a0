package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// DefaultSilentDays is how long an employee may send nothing before it is
// reported: a week covers holidays without hiding a broken capture long.
const DefaultSilentDays = 7

// Journal records fault events (the writer's Append).
type Journal interface {
	Append(ctx context.Context, events ...journal.Event) ([]uint64, error)
}

// Tracker keeps the capture health of a running archive's connectors: it
// is the Health they report to. The durable part (faults) lives in the
// journal and its index projection, so `wxarchive health` reads the same
// state without the server; the counts and last successes are what this
// process has seen.
type Tracker struct {
	journal Journal
	store   store.Reader
	now     func() time.Time
	logger  *slog.Logger

	mu       sync.Mutex
	conns    map[string]*runtime
	open     map[faultKey]bool
	replicas func(ts func(time.Time) string) []ReplicaReport

	messages    *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	faultsOpen  *prometheus.GaugeVec
	silent      prometheus.Gauge
	permitUsers *prometheus.GaugeVec
}

type faultKey struct{ connector, kind, subject string }

// runtime is what the server has seen since it started.
type runtime struct {
	Type        connector.Type
	Source      string
	Counts      map[string]int64
	LastSuccess time.Time
	// The size of WeCom's permit list when last read (wecom-archive with
	// the REST calls); PermitAt is zero before the first read.
	PermitUsers int
	PermitAt    time.Time
}

var (
	_ Health      = (*Tracker)(nil)
	_ PermitGauge = (*Tracker)(nil)
)

// NewTracker loads the open faults and registers the metrics on reg (nil:
// not exported).
func NewTracker(ctx context.Context, j Journal, st store.Reader, reg prometheus.Registerer, now func() time.Time, logger *slog.Logger) (*Tracker, error) {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Tracker{journal: j, store: st, now: now, logger: logger, conns: map[string]*runtime{}, open: map[faultKey]bool{},
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wxarchive_capture_messages_total",
			Help: "Messages and requests seen by capture connectors, by outcome (archived, duplicate, rejected, media_failed), and failed REST calls of the conversation archive (room_lookup_failed, customer_group_lookup_failed, consent_check_failed, permit_check_failed)."}, []string{"connector", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_capture_last_success_timestamp_seconds",
			Help: "When a connector last archived a message (Unix time)."}, []string{"connector"}),
		faultsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_capture_faults_open",
			Help: "Open capture-health faults by connector and kind."}, []string{"connector", "kind"}),
		silent: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wxarchive_capture_silent_employees",
			Help: "Employees with no captured message for the configured number of days."}),
		permitUsers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wxarchive_capture_permit_users",
			Help: "Employees in WeCom's conversation-archive permit list when a wecom-archive connector last read it."}, []string{"connector"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.messages, h.lastSuccess, h.faultsOpen, h.silent, h.permitUsers} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	open, err := st.OpenFaults(ctx)
	if err != nil {
		return nil, fmt.Errorf("load open capture faults: %w", err)
	}
	for _, f := range open {
		h.open[faultKey{f.Connector, f.Kind, f.Subject}] = true
		h.faultsOpen.WithLabelValues(f.Connector, f.Kind).Inc()
	}
	return h, nil
}

// Reload re-reads the open faults: a person may have resolved one with
// `wxarchive health resolve` while the server runs.
func (h *Tracker) Reload(ctx context.Context) error {
	// The read is under the lock: a raise or resolve journaled between the
	// read and the swap would otherwise be forgotten by the cache.
	h.mu.Lock()
	defer h.mu.Unlock()
	open, err := h.store.OpenFaults(ctx)
	if err != nil {
		return err
	}
	h.open = map[faultKey]bool{}
	h.faultsOpen.Reset()
	for _, f := range open {
		h.open[faultKey{f.Connector, f.Kind, f.Subject}] = true
		h.faultsOpen.WithLabelValues(f.Connector, f.Kind).Inc()
	}
	return nil
}

// SetReplicas makes the report show the replicas the server keeps up
// (their state is the replicator's; health only shows it). status renders
// times with ts, the report's time format.
func (h *Tracker) SetReplicas(status func(ts func(time.Time) string) []ReplicaReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replicas = status
}

// Register declares a running connector.
func (h *Tracker) Register(id string, typ connector.Type, source string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[id] = &runtime{Type: typ, Source: source, Counts: map[string]int64{}}
	h.messages.WithLabelValues(id, OutcomeArchived)
}

// Observe counts one outcome of a connector. An archived or duplicate
// message is a success, and resolves a requests_rejected fault: the
// callback works again.
func (h *Tracker) Observe(ctx context.Context, id, outcome, detail string) {
	h.messages.WithLabelValues(id, outcome).Inc()
	h.mu.Lock()
	rt := h.conns[id]
	if rt != nil {
		rt.Counts[outcome]++
	}
	h.mu.Unlock()
	switch outcome {
	case OutcomeArchived, OutcomeDuplicate:
		t := h.now()
		h.mu.Lock()
		if rt != nil {
			rt.LastSuccess = t
		}
		h.mu.Unlock()
		h.lastSuccess.WithLabelValues(id).Set(float64(t.UnixMilli()) / 1000)
		h.Resolve(ctx, id, FaultRequestsRejected, "", "a message was archived after the rejected requests", "connector:"+id)
	case OutcomeRejected:
		h.Raise(ctx, id, FaultRequestsRejected, "", detail)
	}
}

// SetPermitUsers records the size of the permit list a wecom-archive
// connector has just read. It is not journaled: the faults it leads to
// (permit_user_missing) are.
func (h *Tracker) SetPermitUsers(id string, n int) {
	t := h.now()
	h.mu.Lock()
	if rt := h.conns[id]; rt != nil {
		rt.PermitUsers, rt.PermitAt = n, t
	}
	h.mu.Unlock()
	h.permitUsers.WithLabelValues(id).Set(float64(n))
}

// Raise journals a fault unless it is already open. Journal failures are
// logged: health must never take capture down.
func (h *Tracker) Raise(ctx context.Context, id, kind, subject, detail string) {
	h.record(ctx, id, kind, subject, detail, archive.FaultRaised, "connector:"+id)
}

// Resolve journals the end of a fault if it is open.
func (h *Tracker) Resolve(ctx context.Context, id, kind, subject, detail, actor string) bool {
	return h.record(ctx, id, kind, subject, detail, archive.FaultResolved, actor)
}

func (h *Tracker) record(ctx context.Context, id, kind, subject, detail, state, actor string) bool {
	k := faultKey{id, kind, subject}
	h.mu.Lock()
	defer h.mu.Unlock() // serializes raise/resolve of one fault with its journal write
	if h.open[k] == (state == archive.FaultRaised) {
		return false
	}
	if err := RecordFault(ctx, h.journal, actor, archive.CaptureFaultEvent{Connector: id, Kind: kind, Subject: subject, State: state, Detail: detail}); err != nil {
		h.logger.Error("capture fault not journaled", "connector", id, "kind", kind, "subject", subject, "state", state, "err", err)
		return false
	}
	h.open[k] = state == archive.FaultRaised
	if state == archive.FaultRaised {
		h.faultsOpen.WithLabelValues(id, kind).Inc()
		h.logger.Warn("capture fault raised", "connector", id, "kind", kind, "subject", subject, "detail", detail)
	} else {
		h.faultsOpen.WithLabelValues(id, kind).Dec()
		h.logger.Info("capture fault resolved", "connector", id, "kind", kind, "subject", subject, "by", actor)
	}
	return true
}

// RecordFault journals one capture.fault event.
func RecordFault(ctx context.Context, j Journal, actor string, f archive.CaptureFaultEvent) error {
	// Subjects and details come from sources and error texts: bounded and
	// made valid UTF-8 here, the same way for a raise and its resolve, so
	// a fault is always journaled (docs/FORMAT.md §4.6).
	f.Subject = archive.Truncate(f.Subject, archive.MaxIDBytes)
	f.Detail = archive.Truncate(f.Detail, archive.MaxReasonBytes)
	var subj []string
	if f.Subject != "" {
		subj = []string{f.Subject}
	}
	ev, err := journal.NewEvent(archive.EventCaptureFault, actor, archive.Time{}, subj, &f)
	if err != nil {
		return err
	}
	_, err = j.Append(ctx, ev)
	return err
}

// CheckEmployees raises employee_silent for every employee with no sent
// message in silentDays, and resolves it for those who sent again.
func (h *Tracker) CheckEmployees(ctx context.Context, silentDays int) error {
	emps, err := h.store.EmployeeActivity(ctx)
	if err != nil {
		return err
	}
	cutoff := h.now().AddDate(0, 0, -silentDays)
	n := 0
	for _, e := range emps {
		if isSilent(e, cutoff) {
			n++
			h.Raise(ctx, "archive", FaultEmployeeSilent, e.ID, silentDetail(e, silentDays))
		} else {
			h.Resolve(ctx, "archive", FaultEmployeeSilent, e.ID, "sent a message again", "connector:archive")
		}
	}
	h.silent.Set(float64(n))
	return nil
}

func isSilent(e store.EmployeeActivity, cutoff time.Time) bool {
	return e.LastSent.IsZero() || e.LastSent.Time.Before(cutoff)
}

func silentDetail(e store.EmployeeActivity, days int) string {
	if e.LastSent.IsZero() {
		return "no message from this employee has been captured"
	}
	return fmt.Sprintf("no message captured since %s (more than %d days)", e.LastSent.Time.UTC().Format(time.RFC3339), days)
}

// Report is the capture-health report (GET /api/v1/capture/health,
// `wxarchive health --json`).
type Report struct {
	GeneratedAt     string            `json:"generated_at"`
	OK              bool              `json:"ok"` // no open fault and no silent employee
	Connectors      []ConnectorReport `json:"connectors"`
	Faults          []FaultReport     `json:"faults"`
	SilentEmployees []EmployeeReport  `json:"silent_employees"`
	SilentDays      int               `json:"silent_days"`
	// SilenceNotChecked says why no employee is reported silent without
	// being checked: with no capture connector enabled, nothing live can
	// fall silent (an archive of imports, or the demo's fixed period).
	SilenceNotChecked string `json:"silence_not_checked,omitempty"`
	// Supervision is how far policy evaluation is behind capture.
	Supervision SupervisionReport `json:"supervision"`
	// Replicas are the backup copies the server keeps up (empty outside
	// serve; their faults are journaled, so they show everywhere).
	Replicas []ReplicaReport `json:"replicas,omitempty"`
}

// ReplicaReport is one replica's state (docs/FORMAT.md §12).
type ReplicaReport struct {
	Location  string `json:"location"`
	ReplicaID string `json:"replica_id,omitempty"`
	// TreeSize is what the replica holds of the journal, SealedSize
	// what the archive had sealed at its last run; LagEvents the sealed
	// events it does not hold, the oldest from OldestUncopied.
	TreeSize       uint64  `json:"tree_size"`
	SealedSize     uint64  `json:"sealed_size"`
	LagEvents      uint64  `json:"lag_events"`
	LagSeconds     float64 `json:"lag_seconds"`
	OldestUncopied string  `json:"oldest_uncopied,omitempty"`
	LastSuccess    string  `json:"last_success,omitempty"`
	LastError      string  `json:"last_error,omitempty"`
	Behind         bool    `json:"behind"`
}

// SupervisionReport is the supervision lag: messages archived that the
// supervisor has not evaluated yet (its cursor, committed with the
// journaled supervision.progress, against the newest serial).
type SupervisionReport struct {
	EvaluatedThrough uint64 `json:"evaluated_through"` // serial
	ArchivedThrough  uint64 `json:"archived_through"`  // serial
	Lag              uint64 `json:"lag"`               // messages not yet evaluated
}

// ConnectorReport is one connector's state.
type ConnectorReport struct {
	ID      string         `json:"id"`
	Type    connector.Type `json:"type"`
	Source  string         `json:"source"`
	Enabled bool           `json:"enabled"`
	// Running and Counts are known only to the server running it.
	Running           bool             `json:"running"`
	Counts            map[string]int64 `json:"counts,omitempty"`
	LastSuccess       string           `json:"last_success,omitempty"`
	LastCaptured      string           `json:"last_captured,omitempty"` // newest message archived from this connector
	LastSerial        uint64           `json:"last_serial,omitempty"`
	LagSeconds        float64          `json:"lag_seconds"` // capture time − source time of the newest message
	MessagesPerMinute float64          `json:"messages_per_minute"`
	Cursor            string           `json:"cursor,omitempty"`
	OpenFaults        int              `json:"open_faults"`
	// WeCom's conversation-archive permit list when the running connector
	// last read it (wecom-archive with the api section).
	PermitUsers     *int   `json:"permit_users,omitempty"`
	PermitCheckedAt string `json:"permit_checked_at,omitempty"`
}

// FaultReport is one open fault.
type FaultReport struct {
	Connector    string `json:"connector"`
	Kind         string `json:"kind"`
	Subject      string `json:"subject,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Since        string `json:"since"`
	JournalIndex uint64 `json:"journal_index"`
}

// EmployeeReport is an employee who went silent.
type EmployeeReport struct {
	ID       string `json:"id"`
	LastSent string `json:"last_sent,omitempty"`
}

// rateWindow is the window messages per minute are averaged over.
const rateWindow = 10 * time.Minute

// BuildReport reads the archive's capture health: configured connectors
// with their newest message and recent rate (their sources named by reg),
// open faults and silent employees. h (optional) adds what a running
// server knows.
func BuildReport(ctx context.Context, st store.Reader, reg *Registry, conns []connector.Config, silentDays int, now time.Time, loc *time.Location, h *Tracker) (*Report, error) {
	if silentDays <= 0 {
		silentDays = DefaultSilentDays
	}
	ts := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	r := &Report{GeneratedAt: ts(now), SilentDays: silentDays, Connectors: []ConnectorReport{}, Faults: []FaultReport{}, SilentEmployees: []EmployeeReport{}}
	open, err := st.OpenFaults(ctx)
	if err != nil {
		return nil, err
	}
	perConn := map[string]int{}
	for _, f := range open {
		perConn[f.Connector]++
		r.Faults = append(r.Faults, FaultReport{Connector: f.Connector, Kind: f.Kind, Subject: f.Subject, Detail: f.Detail,
			Since: ts(f.Time.Time), JournalIndex: f.JournalIndex})
	}
	for _, c := range conns {
		cr := ConnectorReport{ID: c.ID, Type: c.Type, Source: reg.Source(c), Enabled: c.IsEnabled(), OpenFaults: perConn[c.ID]}
		a, err := st.SourceActivity(ctx, cr.Source, archive.At(now.Add(-rateWindow)))
		if err != nil {
			return nil, err
		}
		if a.LastSerial != 0 {
			cr.LastSerial, cr.LastCaptured = a.LastSerial, ts(a.LastCaptured.Time)
			cr.LagSeconds = max(0, a.LastCaptured.Time.Sub(a.LastSent.Time).Seconds())
			cr.MessagesPerMinute = float64(a.Messages) / rateWindow.Minutes()
		}
		if h != nil {
			h.mu.Lock()
			if rt := h.conns[c.ID]; rt != nil {
				cr.Running = true
				cr.Counts = map[string]int64{}
				for k, v := range rt.Counts {
					cr.Counts[k] = v
				}
				if !rt.LastSuccess.IsZero() {
					cr.LastSuccess = ts(rt.LastSuccess)
				}
				if !rt.PermitAt.IsZero() {
					n := rt.PermitUsers
					cr.PermitUsers, cr.PermitCheckedAt = &n, ts(rt.PermitAt)
				}
			}
			h.mu.Unlock()
		}
		r.Connectors = append(r.Connectors, cr)
	}
	live := false
	for _, c := range conns {
		live = live || c.IsEnabled()
	}
	var emps []store.EmployeeActivity
	if live {
		if emps, err = st.EmployeeActivity(ctx); err != nil {
			return nil, err
		}
	} else {
		r.SilenceNotChecked = "no capture connector is enabled: nothing live can fall silent (an archive of imported or demo messages)"
	}
	cutoff := now.AddDate(0, 0, -silentDays)
	for _, e := range emps {
		if isSilent(e, cutoff) {
			er := EmployeeReport{ID: e.ID}
			if !e.LastSent.IsZero() {
				er.LastSent = ts(e.LastSent.Time)
			}
			r.SilentEmployees = append(r.SilentEmployees, er)
		}
	}
	sort.Slice(r.SilentEmployees, func(i, j int) bool { return r.SilentEmployees[i].LastSent < r.SilentEmployees[j].LastSent })
	if r.Supervision, err = supervisionLag(ctx, st); err != nil {
		return nil, err
	}
	if h != nil {
		h.mu.Lock()
		status := h.replicas
		h.mu.Unlock()
		if status != nil {
			r.Replicas = status(ts)
		}
	}
	r.OK = len(r.Faults) == 0 && len(r.SilentEmployees) == 0
	return r, nil
}

func supervisionLag(ctx context.Context, st store.Reader) (SupervisionReport, error) {
	head, err := st.Head(ctx)
	if err != nil {
		return SupervisionReport{}, err
	}
	r := SupervisionReport{ArchivedThrough: head.NextSerial - 1}
	if head.NextSerial == 0 {
		r.ArchivedThrough = 0
	}
	cur, err := st.Cursor(ctx, store.SupervisionCursor)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return r, err
	default:
		if r.EvaluatedThrough, err = strconv.ParseUint(cur.Value, 10, 64); err != nil {
			return r, fmt.Errorf("supervision cursor %q: %w", cur.Value, err)
		}
	}
	if r.ArchivedThrough > r.EvaluatedThrough {
		r.Lag = r.ArchivedThrough - r.EvaluatedThrough
	}
	return r, nil
}
