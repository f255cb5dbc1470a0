package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

var (
	textOnce  sync.Once
	textLines [][]byte
)

// demoText returns demo-generated text messages (the bulk of real traffic),
// with msgids made unique per call site so repeated runs archive new data.
func demoText(b *testing.B, n int) [][]byte {
	textOnce.Do(func() {
		_, err := demo.Generate(demo.Config{Seed: 1, Messages: 400000}, func(l []byte) error {
			if bytes.Contains(l, []byte(`"msgtype":"text"`)) {
				textLines = append(textLines, bytes.Clone(l))
			}
			return nil
		}, nil)
		if err != nil {
			panic(err)
		}
	})
	if n > len(textLines) {
		b.Fatalf("want %d text lines, have %d", n, len(textLines))
	}
	return textLines[:n]
}

var runID atomic.Int64

// uniq rewrites msgids so each benchmark iteration archives new messages.
func uniq(lines [][]byte) [][]byte {
	tag := []byte(fmt.Sprintf(`"msgid":"r%d-`, runID.Add(1)))
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = bytes.Replace(l, []byte(`"msgid":"`), tag, 1)
	}
	return out
}

func openArchive(b *testing.B) *repo.Repo {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(ctx) })
	return r
}

var batchSizes = []int{100, 1000, 2000}

// BenchmarkIngestBatched measures durable ingest of demo-like text messages
// through the whole pipeline (decode, normalize, journal, index, fsync),
// one commit per batch. b.N is the number of messages.
func BenchmarkIngestBatched(b *testing.B) {
	for _, bs := range batchSizes {
		b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
			r := openArchive(b)
			lines := uniq(demoText(b, b.N))
			data := append(bytes.Join(lines, []byte("\n")), '\n')
			in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:bench", Actor: "bench", Origin: "bench", BatchSize: bs}
			b.SetBytes(int64(len(data)) / int64(b.N))
			b.ResetTimer()
			sum, err := in.Run(context.Background(), bytes.NewReader(data))
			b.StopTimer()
			if err != nil || sum.Archived != b.N {
				b.Fatalf("archived %d of %d: %v", sum.Archived, b.N, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkBaselineAppendFsync is the floor the issue compares against:
// append the same raw lines to a file, one fsync per batch of the same size.
// Batches of 1, 16 and 64 are the comparison for HTTP ingest at those
// concurrencies.
func BenchmarkBaselineAppendFsync(b *testing.B) {
	for _, bs := range append([]int{1, 16, 64}, batchSizes...) {
		b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
			lines := uniq(demoText(b, b.N))
			f, err := os.Create(filepath.Join(b.TempDir(), "append.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var total int64
			for _, l := range lines {
				total += int64(len(l)) + 1
			}
			b.SetBytes(total / int64(b.N))
			b.ResetTimer()
			for i, l := range lines {
				if _, err := f.Write(append(l, '\n')); err != nil {
					b.Fatal(err)
				}
				if (i+1)%bs == 0 || i == len(lines)-1 {
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkHTTPIngest posts one message per request from c concurrent
// clients; group commit batches what arrives together. b.N is the number
// of messages.
func BenchmarkHTTPIngest(b *testing.B) {
	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			r := openArchive(b)
			a := archivetest.NewAuth()
			token := a.Bearer("ingest-service", auth.Ingest)
			srv := httptest.NewServer(httpapi.New(r, httpapi.Options{Ingesters: archivetest.Ingesters(r, nil), Auth: a}))
			defer srv.Close()
			lines := uniq(demoText(b, b.N))
			tr := &http.Transport{MaxIdleConnsPerHost: c}
			client := &http.Client{Transport: tr}
			b.ResetTimer()
			hammer(b, client, c, int64(len(lines)), func(i int64) *http.Request {
				req, _ := http.NewRequest("POST", srv.URL+"/api/v1/ingest/wecom-archive?corp=bench", bytes.NewReader(lines[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				return req
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkVerifyHashing measures how fast blobs are read back and
// re-hashed (what verify does to every blob): 16 attachment blobs of 4 MiB
// per iteration.
func BenchmarkVerifyHashing(b *testing.B) {
	r := openArchive(b)
	ctx := context.Background()
	var ids []archive.BlobID
	for i := 0; i < 16; i++ {
		buf := make([]byte, 4<<20)
		for j := range buf {
			buf[j] = byte(i*7 + j*13)
		}
		id, err := r.Blobs.Put(ctx, buf, blob.PutOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	b.SetBytes(16 << 22)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, id := range ids {
			if _, err := r.Blobs.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkVerifyArchive runs the whole verify over a demo archive of
// 20,000 messages (with its media) per iteration.
func BenchmarkVerifyArchive(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	media := b.TempDir()
	var data bytes.Buffer
	if _, err := demo.Generate(demo.Config{Seed: 1}, func(l []byte) error { data.Write(l); data.WriteByte('\n'); return nil },
		func(id string, m []byte) error { return os.WriteFile(filepath.Join(media, id), m, 0o644) }); err != nil {
		b.Fatal(err)
	}
	in := &jsonl.Ingester{Engine: w.Engine, Blobs: w.Blobs, Media: ingest.DirMedia{Dir: media}, Source: "wecom-archive:bench", Actor: "bench", Origin: "bench"}
	if _, err := in.Run(ctx, &data); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	b.ResetTimer()
	var bytesHashed int64
	for i := 0; i < b.N; i++ {
		rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: b.TempDir()})
		if err != nil || !rep.OK {
			b.Fatalf("verify: %v %+v", err, rep)
		}
		bytesHashed += rep.Stats.BlobBytes
	}
	b.StopTimer()
	b.ReportMetric(float64(bytesHashed)/1e6/b.Elapsed().Seconds(), "blobMB/s")
	b.ReportMetric(float64(20000*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
