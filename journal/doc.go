// Package journal is the append-only event log of an archive: an RFC 6962
// Merkle tree of canonical JSON events with Ed25519-signed C2SP checkpoints.
//
// Glossary:
//   - leaf: the canonical JSON bytes of one Event; its index is its position.
//   - leaf hash: RFC 6962 SHA-256(0x00 || leaf).
//   - stored node: the hash of a perfect subtree at a level that is a multiple
//     of TileHeight (level 0 = leaf hashes). Every other node is recomputed
//     from at most 2^(TileHeight-1) stored nodes, so a proof costs O(log n)
//     small reads and the database keeps about n/15 interior hashes.
//   - checkpoint: a signed note (C2SP tlog-checkpoint) committing to the tree
//     of a given size: origin, size, base64 root, and a "time" extension line.
//   - segment: a sealed, contiguous run of leaves plus the checkpoints that
//     fall in it, written to the WORM blob store (see docs/FORMAT.md).
//
// The package is storage-agnostic: callers supply a NodeReader and store
// the nodes Tree.Append reports in the same transaction as the leaves.
package journal
