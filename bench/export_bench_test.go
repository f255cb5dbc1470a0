package bench

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// Export benchmarks run on a demo archive: WXARCHIVE_EXPORT_ARCHIVE names
// one made by `wxarchive demo --messages N --dir DIR` (copied first: an
// export journals), else a 20,000-message archive is generated here. One
// iteration exports every message; the metric is messages per second.
//
//	go test ./bench -run '^$' -bench 'Export' -benchtime 1x
var (
	exportOnce sync.Once
	exportDir  string
	exportErr  error
)

func exportArchive(b *testing.B) *repo.Repo {
	b.Helper()
	exportOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wxarchive-export-bench-")
		if err != nil {
			exportErr = err
			return
		}
		exportDir = filepath.Join(dir, "archive")
		if src := os.Getenv("WXARCHIVE_EXPORT_ARCHIVE"); src != "" {
			copyDir(b, src, exportDir)
			return
		}
		exportErr = demoArchive(exportDir, 20000)
	})
	if exportErr != nil {
		b.Fatal(exportErr)
	}
	r, err := archivetest.Open(context.Background(), exportDir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// BenchmarkExport writes a production of every message in each format
// alone, and the baseline: the same records (raw and normalized) and
// attachments read from the archive and written to files unformatted.
func BenchmarkExport(b *testing.B) {
	formats := []string{"baseline", "jsonl", "rsmf", "eml", "dat", "html", "pdf"}
	for _, f := range formats {
		b.Run(f, func(b *testing.B) {
			r := exportArchive(b)
			ctx := context.Background()
			u, ctx := archivetest.App(ctx, r)
			head, err := r.Store.Head(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n := int(head.NextSerial - 1)
			pages := 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "p")
				if f == "baseline" {
					baselineExport(b, r, out)
					continue
				}
				// Demo data holds emoji, which the CJK font cannot draw.
				if _, err := u.CreateExport(ctx, app.ExportRequest{From: "2000-01-01", Formats: []string{f}, Out: out, Fallback: true}); err != nil {
					b.Fatal(err)
				}
				v, err := u.RunExport(ctx, out, nil)
				if err != nil {
					b.Fatal(err)
				}
				if v.Written != n {
					b.Fatalf("%d of %d messages written", v.Written, n)
				}
				pages += v.Pages
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			// The process's CPU time (every goroutine, user and system)
			// per message: what a loaded machine's wall clock hides.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n*b.N), "cpu-µs/msg")
			if pages > 0 {
				b.ReportMetric(float64(pages)/b.Elapsed().Seconds(), "pages/s")
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baselineExport reads every message's records and attachments and
// writes them, one file of records and one file per attachment.
func baselineExport(b *testing.B, r *repo.Repo, out string) {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(out, "natives"), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(out, "records"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	head, err := r.Store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var rows []store.MessageRow
	if err := r.Store.Messages(ctx, 1, head.NextSerial-1, func(row store.MessageRow) error { rows = append(rows, row); return nil }); err != nil {
		b.Fatal(err)
	}
	for _, row := range rows {
		for _, k := range []struct {
			ord  uint32
			hash archive.BlobID
		}{{archive.OrdinalRaw, row.RawHash}, {archive.OrdinalNormalized, row.RecordHash}} {
			rec, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: k.ord}, k.hash)
			if err != nil {
				b.Fatal(err)
			}
			w.Write(rec)
			w.WriteByte('\n')
		}
		if row.Attachments > 0 {
			atts, err := r.Store.Attachments(ctx, row.Serial)
			if err != nil {
				b.Fatal(err)
			}
			for _, a := range atts {
				if a.Blob.IsZero() {
					continue
				}
				data, err := r.Blobs.Get(ctx, a.Blob)
				if err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, "natives", a.Blob.String()), data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
