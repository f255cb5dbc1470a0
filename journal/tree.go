package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TileHeight is the spacing of stored tree levels: nodes at levels 0, 4, 8…
// are persisted; the rest are recomputed from at most 8 stored children.
const TileHeight = 4

// Hasher is the RFC 6962 SHA-256 tree hasher.
var Hasher = rfc6962.DefaultHasher

var factory = &compact.RangeFactory{Hash: Hasher.HashChildren}

// LeafHash returns the RFC 6962 hash of a leaf.
func LeafHash(leaf []byte) []byte { return Hasher.HashLeaf(leaf) }

// EmptyRoot is the root of the tree of size 0.
func EmptyRoot() []byte { return Hasher.EmptyRoot() }

// Stored reports whether nodes at level are persisted.
func Stored(level uint) bool { return level%TileHeight == 0 }

// Node is a hash at a position in the tree.
type Node struct {
	Level uint
	Index uint64
	Hash  []byte
}

// NodeReader reads persisted hashes. Implementations return, for a stored
// level (Stored(level) is true), the hashes of nodes begin..end-1 in order,
// or an error if any of them is absent. Level 0 is the leaf hashes.
type NodeReader interface {
	StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error)
}

// ErrMissingNode is returned when a reader lacks a node a computation needs.
var ErrMissingNode = errors.New("journal: tree node missing")

// NodeHash returns the hash of the perfect subtree id by reading its
// descendants at the nearest stored level.
func NodeHash(ctx context.Context, r NodeReader, id compact.NodeID) ([]byte, error) {
	base := id.Level - id.Level%TileHeight
	shift := id.Level - base
	begin := id.Index << shift
	end := (id.Index + 1) << shift
	hs, err := r.StoredNodes(ctx, base, begin, end)
	if err != nil {
		return nil, err
	}
	if uint64(len(hs)) != end-begin {
		return nil, fmt.Errorf("%w: level %d [%d,%d): got %d hashes", ErrMissingNode, base, begin, end, len(hs))
	}
	for len(hs) > 1 {
		next := make([][]byte, len(hs)/2)
		for i := range next {
			next[i] = Hasher.HashChildren(hs[2*i], hs[2*i+1])
		}
		hs = next
	}
	return hs[0], nil
}

// nodeHasher is a NodeReader that computes (and may remember) node hashes
// itself: TileCache.
type nodeHasher interface {
	NodeHash(ctx context.Context, id compact.NodeID) ([]byte, error)
}

func nodeHashes(ctx context.Context, r NodeReader, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	nh, _ := r.(nodeHasher)
	for i, id := range ids {
		var h []byte
		var err error
		if nh != nil {
			h, err = nh.NodeHash(ctx, id)
		} else {
			h, err = NodeHash(ctx, r, id)
		}
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// Tree is the right edge (compact range) of the journal's Merkle tree: enough
// to append leaves and compute the root without reading anything else.
type Tree struct {
	rng *compact.Range
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{rng: factory.NewEmptyRange(0)} }

// LoadTree rebuilds the right edge of a tree of the given size from stored
// nodes: O(log n) reads.
func LoadTree(ctx context.Context, r NodeReader, size uint64) (*Tree, error) {
	ids := compact.RangeNodes(0, size, nil)
	hs, err := nodeHashes(ctx, r, ids)
	if err != nil {
		return nil, fmt.Errorf("load journal tree of size %d: %w", size, err)
	}
	rng, err := factory.NewRange(0, size, hs)
	if err != nil {
		return nil, err
	}
	return &Tree{rng: rng}, nil
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return t.rng.End() }

// Clone returns an independent copy, so a failed commit can be rolled back.
func (t *Tree) Clone() *Tree {
	hs := make([][]byte, len(t.rng.Hashes()))
	copy(hs, t.rng.Hashes())
	rng, _ := factory.NewRange(0, t.rng.End(), hs)
	return &Tree{rng: rng}
}

// Append adds a leaf hash and calls store for every node that became complete
// at a stored level above 0 (level 0, the leaf hash itself, is stored with
// the leaf).
func (t *Tree) Append(leafHash []byte, store func(Node)) {
	// compact.Range.Append only fails for ranges from another factory.
	_ = t.rng.Append(leafHash, func(id compact.NodeID, h []byte) {
		if id.Level > 0 && Stored(id.Level) && store != nil {
			store(Node{Level: id.Level, Index: id.Index, Hash: h})
		}
	})
}

// Root returns the current root hash.
func (t *Tree) Root() []byte {
	if t.rng.End() == 0 {
		return EmptyRoot()
	}
	h, _ := t.rng.GetRootHash(nil)
	return h
}

// Equal reports whether two trees have the same size and edge.
func (t *Tree) Equal(o *Tree) bool { return t.rng.Equal(o.rng) }

// RootAt computes the root of the tree of the given size from stored nodes.
func RootAt(ctx context.Context, r NodeReader, size uint64) ([]byte, error) {
	t, err := LoadTree(ctx, r, size)
	if err != nil {
		return nil, err
	}
	return t.Root(), nil
}

// InclusionProof returns the RFC 6962 audit path of leaf index in the tree
// of the given size.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hs, err := nodeHashes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for %d in %d: %w", index, size, err)
	}
	return nodes.Rehash(hs, Hasher.HashChildren)
}

// ConsistencyProof returns the RFC 6962 consistency proof between two sizes.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hs, err := nodeHashes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", size1, size2, err)
	}
	return nodes.Rehash(hs, Hasher.HashChildren)
}

// VerifyInclusion checks an inclusion proof against a root.
func VerifyInclusion(index, size uint64, leafHash []byte, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(Hasher, index, size, leafHash, p, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(Hasher, size1, size2, p, root1, root2)
}
