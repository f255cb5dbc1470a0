package journal

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// TileCache is a NodeReader that reads stored nodes a tile at a time (the
// 2^TileHeight nodes of one level that a node's hash is computed from)
// and keeps the last tiles read. Proofs of many leaves in one tree (a
// production proves every message it holds) share most of their nodes:
// through the cache each tile is read once instead of once per proof.
// Stored nodes never change, so a cached tile stays right. The cache
// serves trees of at most size leaves: a tile at that tree's edge is read
// with the nodes the tree has there (a store refuses a range past what it
// holds).
type TileCache struct {
	r     NodeReader
	size  uint64
	max   int
	mu    sync.Mutex
	tiles map[tileKey][][]byte
	// nodes remembers the hashes computed from the tiles (a node above a
	// stored level is rehashed from up to 8 children otherwise, for every
	// proof that needs it).
	nodes map[compact.NodeID][]byte
}

type tileKey struct {
	level uint
	tile  uint64
}

// NewTileCache caches up to maxTiles tiles of r (about 600 bytes each)
// for proofs in trees of at most size leaves: when full it starts again
// empty, which bounds memory whatever the tree.
func NewTileCache(r NodeReader, size uint64, maxTiles int) *TileCache {
	return &TileCache{r: r, size: size, max: maxTiles, tiles: map[tileKey][][]byte{}, nodes: map[compact.NodeID][]byte{}}
}

// NodeHash is journal.NodeHash through the cache, remembering the result.
func (c *TileCache) NodeHash(ctx context.Context, id compact.NodeID) ([]byte, error) {
	c.mu.Lock()
	h, ok := c.nodes[id]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	h, err := NodeHash(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if id.Level%TileHeight != 0 && (id.Index+1)<<id.Level <= c.size {
		c.mu.Lock()
		if len(c.nodes) >= c.max*4 {
			clear(c.nodes)
		}
		c.nodes[id] = h
		c.mu.Unlock()
	}
	return h, nil
}

// StoredNodes implements NodeReader.
func (c *TileCache) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	const w = 1 << TileHeight
	if end <= begin || begin/w != (end-1)/w {
		return c.r.StoredNodes(ctx, level, begin, end)
	}
	k := tileKey{level, begin / w}
	first := k.tile * w
	// The nodes of this level in the tree of c.size leaves: the perfect
	// subtrees it holds.
	have := c.size >> level
	if end > have {
		return c.r.StoredNodes(ctx, level, begin, end)
	}
	c.mu.Lock()
	t, ok := c.tiles[k]
	c.mu.Unlock()
	if !ok {
		var err error
		if t, err = c.r.StoredNodes(ctx, level, first, min(first+w, have)); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if len(c.tiles) >= c.max {
			clear(c.tiles)
		}
		c.tiles[k] = t
		c.mu.Unlock()
	}
	if uint64(len(t)) < end-first {
		return nil, fmt.Errorf("%w: level %d [%d,%d): got %d hashes", ErrMissingNode, level, first, min(first+w, have), len(t))
	}
	return t[begin-first : end-first], nil
}
