// Package fsblob is the local-directory blob.Store, the embedded default.
//
// Glossary:
//   - id: a blob's SHA-256, written as 64 lower-case hex characters.
//   - shard: the first two hex characters of an id. Objects and meta files
//     are spread over up to 256 shard directories so none grows huge.
//   - object: the file holding a blob's bytes. Its existence is the blob's
//     existence; it is never modified once visible.
//   - meta: the optional file holding a blob's retain-until and legal hold,
//     the only mutable state, replaced atomically and only in the allowed
//     directions (retain-until later; hold on or off).
//
// Retention here is enforced by this program only (Properties.ObjectLock is
// false): anyone with write access to the directory can delete files. Pair it
// with the journal's audit trail, or use an Object Lock store for 17a-4(f)
// WORM storage proper.
//
// # Directory layout
//
// This block is the normative description; docs/FORMAT.md copies it.
//
//	fsblob directory layout, version 1 (no version file; a later layout
//	would add one, so its absence means version 1)
//
//	<dir>/objects/<xx>/<id>       the blob's bytes, exactly as stored by Put
//	<dir>/meta/<xx>/<id>.json     the blob's retention and legal hold (optional)
//	<dir>/tmp/                    files being written; never part of the store
//
//	<id> is the SHA-256 of the blob's bytes as 64 lower-case hex characters;
//	<xx> is its first two characters. A blob exists if and only if its object
//	file exists. Object files are regular files of mode 0444, never modified
//	after they appear: an object whose bytes do not hash to its name is
//	damaged. Entries under objects/ that do not fit this pattern (other
//	names, upper-case hex, an id under the wrong shard, non-regular files)
//	are not blobs: readers skip them, a checker reports them.
//
//	A meta file (mode 0444 too: it is replaced, never edited) is one JSON
//	object followed by a newline, members in this order, no others:
//	  {"retain_until":"2032-01-01T00:00:00.000Z","legal_hold":false}
//	  retain_until  UTC, millisecond precision, exactly three fractional
//	                digits (archive.TimeLayout); the member is omitted when
//	                the blob has no retention. Instants finer than a
//	                millisecond are rounded up, never down.
//	  legal_hold    true while a legal hold is set.
//	A missing meta file means no retention and no hold. A meta file with no
//	object beside it is left by an interrupted Put or Delete; it is not a blob
//	but is kept (it only ever errs towards more retention). An unreadable
//	meta file makes Delete and every retention change fail: retention fails
//	closed.
//
//	A blob may be deleted when legal_hold is false and retain_until is absent
//	or not after the current time, and the retention the caller derives from
//	its own records (the journal) and passes to Delete says the same: the
//	meta file alone, which anyone with write access can edit, never decides.
//
//	Write order, which decides what a crash can leave behind:
//	  Put     write tmp/put-<random>, fsync it; if retention or hold is set,
//	          make the meta file durable (below); hard-link the temp file to
//	          objects/<xx>/<id> (the link fails if the name exists, which is
//	          what makes objects create-only); fsync objects/<xx>; remove
//	          the temp file. So a visible object always has its retention.
//	  meta    write tmp/meta-<random>, fsync it, rename it over
//	          meta/<xx>/<id>.json, fsync meta/<xx>.
//	  Delete  remove the object, fsync objects/<xx>, remove the meta file,
//	          fsync meta/<xx>.
//	Directories are created on first use and their parent fsync'd.
//	Files in tmp/ are garbage once their writer is gone.
//
//	Locking, for every program that writes the directory: each process holds
//	a shared flock(2) on tmp/ while it has the store open, and empties tmp/ at
//	open only when it can take that lock exclusively (no other writer is
//	alive). Every change to shard <xx> (Put, retention, hold, Delete) runs
//	under an exclusive flock on the meta/<xx> directory.
package fsblob
