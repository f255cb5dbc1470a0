package s3blob_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/fsblob"
	"github.com/wxarchive/wxarchive/blob/s3blob"
	"github.com/wxarchive/wxarchive/internal/s3test"
)

// The blob store's throughput, s3blob on SeaweedFS (weed mini on this
// machine, loopback) beside fsblob (a local directory, fsync on), in one
// run: Put of distinct blobs of 64 KiB (an attachment) and 4 MiB (a pack),
// and Get of one stored blob. Each Put hashes, writes and waits for the
// store's acknowledgement; each Get reads and re-hashes. docs/BENCHMARKS.md
// has results.

var benchSizes = []int{64 << 10, 4 << 20}

func benchStores(b *testing.B) []struct {
	name string
	s    blob.Store
} {
	srv := s3test.Shared(b)
	s3, err := s3blob.Open(context.Background(), options(srv, srv.Bucket(b)))
	if err != nil {
		b.Fatal(err)
	}
	fs, err := fsblob.Open(b.TempDir(), fsblob.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		s    blob.Store
	}{{"s3blob", s3}, {"fsblob", fs}}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	p := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
	return p
}

func BenchmarkPut(b *testing.B) {
	for _, st := range benchStores(b) {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dKiB", st.name, n>>10), func(b *testing.B) {
				data := randomBytes(n, uint64(n))
				ctx := context.Background()
				b.SetBytes(int64(n))
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					binary.LittleEndian.PutUint64(data, uint64(i)+1<<40) // distinct bytes each time
					if _, err := st.s.Put(ctx, data, blob.PutOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for _, st := range benchStores(b) {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dKiB", st.name, n>>10), func(b *testing.B) {
				ctx := context.Background()
				id, err := st.s.Put(ctx, randomBytes(n, uint64(n)+7), blob.PutOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(n))
				b.ResetTimer()
				for b.Loop() {
					if _, err := st.s.Get(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
