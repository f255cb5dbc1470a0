package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/sim"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// BenchmarkConnector measures the msgaudit connector against the simulated
// service, in-process (the agent's pipe is measured separately by the
// agent variant): GetChatData pages of 1000, RSA unwrap of every message's
// random key, DecryptData, decode, media in 512 KB chunks, and durable
// commits with the cursor. b.N is the number of messages; msgs/s is
// reported. Variants: RSA key size (WeCom's keys are 2048-bit) and media
// on or off. The baseline in the same run is the same messages through
// the JSONL ingester (`wxarchive ingest wecom-archive`), which does
// everything but the SDK calls and the RSA unwrap.
func BenchmarkConnector(b *testing.B) {
	for _, bits := range []int{2048, 1024} {
		for _, media := range []bool{false, true} {
			b.Run(fmt.Sprintf("rsa=%d/media=%v", bits, media), func(b *testing.B) {
				benchConnector(b, bits, media)
			})
		}
	}
	b.Run("baseline=jsonl-ingest", func(b *testing.B) {
		dir := b.TempDir()
		b.ResetTimer()
		start := time.Now()
		if err := demoArchive(dir, b.N); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

func benchConnector(b *testing.B, bits int, withMedia bool) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		b.Fatal(err)
	}
	ring, err := finance.ParseKeyRing(map[int][]byte{1: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})})
	if err != nil {
		b.Fatal(err)
	}
	svc := sim.New(map[int]*rsa.PublicKey{1: &key.PublicKey})
	media := map[string][]byte{}
	var lines [][]byte
	if _, err := demo.Generate(demo.Config{Seed: 3, Messages: b.N}, func(l []byte) error {
		lines = append(lines, append([]byte(nil), l...))
		return nil
	}, func(id string, data []byte) error {
		if withMedia {
			media[id] = append([]byte(nil), data...)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for i, l := range lines {
		var m map[string][]byte
		if i == 0 {
			m = media
		}
		if _, err := svc.Add(l, 1, m); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	c := &pull.Connector{ID: "bench", CorpID: demo.DefaultCorpID, Keys: ring, Engine: r.Engine, Blobs: r.Blobs, Store: r.Store,
		Open: func() (finance.SDK, error) { return svc.Open(), nil }}
	defer c.Close()
	b.ResetTimer()
	start := time.Now()
	archived := 0
	for {
		res, err := c.Pull(ctx)
		if err != nil {
			b.Fatal(err)
		}
		archived += res.Archived + res.Rejected
		if !res.More {
			break
		}
	}
	el := time.Since(start)
	if archived != b.N {
		b.Fatalf("archived %d of %d", archived, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
}
