package journal

import (
	"bytes"
	"context"
	"testing"

	"github.com/transparency-dev/merkle/compact"
)

// shortNodes answers a range past the tree's edge with the nodes there
// are, as the stores do (memNodes refuses it).
type shortNodes struct{ *memNodes }

func (s shortNodes) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	s.reads++
	var out [][]byte
	for i := begin; i < end; i++ {
		h, ok := s.nodes[compact.NewNodeID(level, i)]
		if !ok {
			break
		}
		out = append(out, h)
	}
	return out, nil
}

// Proofs through the cache are the proofs without it — in a tree whose
// edge tiles are incomplete, for smaller trees too — with far fewer
// reads; a tiny cache that keeps restarting still answers right.
func TestTileCacheProofs(t *testing.T) {
	ctx := context.Background()
	const n = 1000
	_, m, roots := buildTree(t, n)
	for _, tc := range []struct {
		max   int
		short bool
	}{{1, true}, {3, true}, {1000, true}, {1000, false}} {
		max := tc.max
		var r NodeReader = m
		if tc.short {
			r = shortNodes{m}
		}
		c := NewTileCache(r, n, max)
		cached, direct := 0, 0
		for _, size := range []uint64{n, 17, 600} {
			for i := uint64(0); i < size; i += 7 {
				want, err := InclusionProof(ctx, m, i, size)
				if err != nil {
					t.Fatal(err)
				}
				before := m.reads
				got, err := InclusionProof(ctx, c, i, size)
				cached += m.reads - before
				direct += len(want)
				if err != nil {
					t.Fatalf("max %d size %d leaf %d: %v", max, size, i, err)
				}
				if len(got) != len(want) {
					t.Fatalf("max %d leaf %d: %d hashes, want %d", max, i, len(got), len(want))
				}
				for j := range got {
					if !bytes.Equal(got[j], want[j]) {
						t.Fatalf("max %d size %d leaf %d: hash %d differs", max, size, i, j)
					}
				}
				if err := VerifyInclusion(i, size, m.nodes[compact.NewNodeID(0, i)], got, roots[size]); err != nil {
					t.Fatalf("max %d size %d leaf %d: %v", max, size, i, err)
				}
			}
		}
		if max == 1000 && cached > direct/4 {
			t.Errorf("%d reads with the cache; %d without", cached, direct)
		}
	}
}
