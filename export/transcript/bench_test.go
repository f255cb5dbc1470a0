package transcript

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/wxarchive/wxarchive/export/exporttest"
)

// countSink discards what is written and counts the bytes.
type countSink struct{ n *atomic.Int64 }

func (s countSink) Create(string) (io.WriteCloser, error) { return countWC{s.n}, nil }

type countWC struct{ n *atomic.Int64 }

func (w countWC) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }
func (countWC) Close() error                  { return nil }

// BenchmarkPDF writes the sample's units (a two-page group day with every
// kind of message, a one-page direct day) over and over: the per-document
// cost of a production's many small units. It reports documents as ns/doc,
// pages/s and the bytes of a document. Parallel: the same from every
// GOMAXPROCS goroutine at once, one PDF value shared (as the runner does).
func BenchmarkPDF(b *testing.B) {
	needFont(b)
	units := exporttest.Units("WXA").Units
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			p := &PDF{}
			if _, err := p.loaded(); err != nil {
				b.Fatal(err)
			}
			var docs, pages, size atomic.Int64
			sink := countSink{&size}
			write := func(i int) {
				u := units[i%len(units)]
				n, err := p.WriteUnit(context.Background(), u, sink, 1)
				if err != nil {
					b.Error(err)
					return
				}
				docs.Add(1)
				pages.Add(int64(n))
			}
			b.ResetTimer()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						write(i)
					}
				})
			} else {
				for i := 0; b.Loop(); i++ {
					write(i)
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(pages.Load())/s, "pages/s")
			b.ReportMetric(s*1e9/float64(docs.Load()), "ns/doc")
			b.ReportMetric(float64(size.Load())/float64(docs.Load()), "B/doc")
		})
	}
}
