package replica_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/replica"
)

// faultLog records what is open, as capture health would show it.
type faultLog struct {
	mu   sync.Mutex
	open map[string]string // kind/subject → detail
}

func (f *faultLog) Raise(_ context.Context, id, kind, subject, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open[id+"/"+kind+"/"+subject] = detail
}

func (f *faultLog) Resolve(_ context.Context, id, kind, subject, _, _ string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.open[id+"/"+kind+"/"+subject]
	delete(f.open, id+"/"+kind+"/"+subject)
	return ok
}

func (f *faultLog) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.open {
		out = append(out, k)
	}
	return out
}

// failing refuses writes while fail is set (an unreachable replica).
type failing struct {
	blob.Store
	fail atomic.Bool
}

func (s *failing) Put(ctx context.Context, b []byte, o blob.PutOptions) (archive.BlobID, error) {
	if s.fail.Load() {
		return archive.BlobID{}, errors.New("replica unreachable")
	}
	return s.Store.Put(ctx, b, o)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestContinuousKeepsUpAndReports: runs keep the replica at the primary's
// sealed journal; a replica that refuses writes raises replica_failed at
// once and replica_behind once a sealed event has waited longer than
// MaxLag; both resolve when it works again; the lag is in the status and
// the metrics.
func TestContinuousKeepsUpAndReports(t *testing.T) {
	ctx := context.Background()
	r := newArchive(t)
	dst := &failing{Store: openStore(t, t.TempDir())}
	reg := prometheus.NewRegistry()
	m, err := replica.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var skew atomic.Int64
	faults := &faultLog{open: map[string]string{}}
	c := &replica.Continuous{Primary: primary(r), Targets: []replica.Target{{Location: "file:test", Store: dst}}, MaxLag: 10 * time.Minute,
		Faults: faults, Metrics: m, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}

	c.RunOnce(ctx)
	head, _ := r.Store.Head(ctx)
	st := c.Status()[0]
	if st.TreeSize != head.SealedSize || st.LagEvents != 0 || st.LastError != "" || st.ReplicaID == "" || len(faults.kinds()) != 0 {
		t.Fatalf("after a first run: %+v (sealed %d) faults %v", st, head.SealedSize, faults.kinds())
	}
	if got := gauge(t, reg, "wxarchive_replica_tree_size"); got != float64(head.SealedSize) {
		t.Fatalf("tree size metric %v", got)
	}

	// The replica goes away; the archive goes on.
	dst.fail.Store(true)
	line := `{"msgid":"while-down","action":"send","from":"zhangwei","tolist":["lisi"],"roomid":"","msgtime":1700000070000,"msgtype":"text","text":{"content":"while the replica is down"}}` + "\n"
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:more"}
	if sum, err := in.Run(ctx, strings.NewReader(line)); err != nil || sum.Archived != 1 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	c.RunOnce(ctx)
	st = c.Status()[0]
	if st.LastError == "" || st.LagEvents == 0 || st.Behind {
		t.Fatalf("replica down: %+v", st)
	}
	if k := faults.kinds(); len(k) != 1 || k[0] != "archive/"+replica.FaultFailed+"/file:test" {
		t.Fatalf("faults while down: %v", k)
	}
	if gauge(t, reg, "wxarchive_replica_lag_events") != float64(st.LagEvents) {
		t.Fatalf("lag metric differs from status %d", st.LagEvents)
	}
	skew.Store(int64(11 * time.Minute))
	c.RunOnce(ctx)
	if st = c.Status()[0]; !st.Behind || len(faults.kinds()) != 2 {
		t.Fatalf("down past MaxLag: %+v faults %v", st, faults.kinds())
	}
	if gauge(t, reg, "wxarchive_replica_lag_seconds") < 600 {
		t.Fatalf("lag seconds %v", gauge(t, reg, "wxarchive_replica_lag_seconds"))
	}

	// Back: one run catches up and resolves both.
	dst.fail.Store(false)
	c.RunOnce(ctx)
	head, _ = r.Store.Head(ctx)
	if st = c.Status()[0]; st.LagEvents != 0 || st.Behind || st.LastError != "" || st.TreeSize != head.SealedSize || len(faults.kinds()) != 0 {
		t.Fatalf("after recovery: %+v (sealed %d) faults %v", st, head.SealedSize, faults.kinds())
	}
	if rep := (&copied{r: r, dst: dst.Store}).verify(t, true, true); !rep.OK {
		t.Fatalf("the caught-up replica: %+v", rep.Faults)
	}
}
