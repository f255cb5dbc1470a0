package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/supervise"
)

// BenchmarkIngestSupervised measures ingest as `wxarchive ingest` and
// `serve` run it — durable ingest in batches of 1,000 with the supervisor
// evaluating every new message right behind it and journaling its alerts,
// until both are done —
// with the default policy pack installed (pack=on) and with no policy
// (pack=off, the baseline: the supervisor only moves its cursor). The
// cost of supervision is 1 − on/off. b.N is the number of messages.
func BenchmarkIngestSupervised(b *testing.B) {
	for _, pack := range []bool{false, true} {
		name := "pack=off"
		if pack {
			name = "pack=on"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			init := repo.InitOptions{}
			if !pack {
				init.Setup = archivetest.NoPolicies
			}
			if _, err := archivetest.Init(ctx, dir, init); err != nil {
				b.Fatal(err)
			}
			r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(ctx)
			lines := uniq(demoText(b, b.N))
			data := append(bytes.Join(lines, []byte("\n")), '\n')
			in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:bench", Actor: "bench", Origin: "bench", BatchSize: 1000}
			sup := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
			b.SetBytes(int64(len(data)) / int64(b.N))
			b.ResetTimer()
			// As serve and the ingest command run it: right behind the
			// engine, woken by its commits, then catching up at the end.
			supCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				sup.Run(supCtx, time.Second)
			}()
			sum, err := in.Run(ctx, bytes.NewReader(data))
			if err != nil || sum.Archived != b.N {
				b.Fatalf("archived %d of %d: %v", sum.Archived, b.N, err)
			}
			ingested := time.Now()
			stop()
			<-done
			_, err = sup.CatchUp(ctx)
			b.StopTimer()
			res := sup.Totals()
			b.ReportMetric(float64(time.Since(ingested).Microseconds())/float64(b.N), "tail-µs/msg")
			if err != nil || !res.CaughtUp {
				b.Fatalf("supervise: %+v %v", res, err)
			}
			if pack && res.Evaluated != b.N {
				b.Fatalf("evaluated %d of %d", res.Evaluated, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(res.Alerts), "alerts")
		})
	}
}
