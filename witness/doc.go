// Package witness keeps the archive's signed checkpoints outside the
// archive, where whoever controls the archive's disk and signing key cannot
// reach them, and reads them back so verify can prove the journal never
// went back on what was witnessed.
//
// Glossary:
//   - witness: a location outside the archive that holds checkpoints of
//     it: a directory (another mount or host), a plain HTTP checkpoint
//     store, or a C2SP tlog-witness (https://c2sp.org/tlog-witness) that
//     checks consistency itself and cosigns.
//   - publisher: sends the archive's newest checkpoint to one witness,
//     with an RFC 6962 consistency proof from the size the witness holds.
//   - source: reads back the checkpoints a witness holds for an origin.
//   - cosignature: a witness's timestamped Ed25519 signature over a
//     checkpoint (https://c2sp.org/tlog-cosignature, cosignature/v1).
//   - refused: the witness (or the publisher, comparing with what the
//     witness holds) found the archive's checkpoint smaller than, or
//     inconsistent with, what was witnessed: evidence of a rollback or a
//     rewrite, never a transient error.
//
// docs/FORMAT.md §9 specifies the directory layout and the HTTP
// protocols; docs/SECURITY.md says what a witness protects against.
package witness
