// Package s3blob is the blob.Store on an S3 bucket with Object Lock: the
// storage itself refuses to delete or replace a blob before its
// retain-until, whoever asks (Properties.ObjectLock is true), which is the
// WORM storage SEC 17a-4(f) names. It is written and tested against
// SeaweedFS (internal/s3test) with github.com/minio/minio-go/v7, and uses
// only the S3 API, so AWS S3, Ceph RGW and the like fit too.
//
// Glossary:
//   - id: a blob's SHA-256, written as 64 lower-case hex characters.
//   - key: the object key a blob is stored under (layout below).
//   - lock: the object version's S3 Object Lock retention (COMPLIANCE
//     mode, whole seconds) and legal hold, enforced by the server.
//   - tag: the object tag wxarchive-retain-until, this store's record of
//     the retain-until asked for, at full precision and also when it is
//     past (S3 refuses a lock date in the past).
//
// # Object layout
//
// This block is the normative description; docs/FORMAT.md copies it.
//
//	s3blob layout, version 1
//
//	bucket     Object Lock enabled (hence versioned). Open refuses a bucket
//	           without it. A default retention on the bucket is allowed:
//	           objects then carry at least that lock.
//	key        <prefix>blobs/<xx>/<id>
//	           <prefix> is the URL's prefix parameter (empty, or ending in
//	           "/"), so several archives can share a bucket; <id> is the
//	           SHA-256 of the object's bytes, 64 lower-case hex
//	           characters, and <xx> its first two. Keys under
//	           <prefix>blobs/ that do not fit are not blobs: List skips them.
//	object     the blob's bytes exactly, written by one conditional PUT
//	           (If-None-Match: *), so an existing key is never replaced by
//	           this program. A blob is the key's current version; versions
//	           below it are kept by the bucket, not read.
//	metadata   x-amz-meta-wxarchive-stored-at: when Put stored the bytes,
//	           by the store's clock, RFC 3339 UTC with nanoseconds.
//	tag        wxarchive-retain-until: the retain-until Put or
//	           SetRetention was given, RFC 3339 UTC with nanoseconds;
//	           absent when the blob has no retention.
//	lock       COMPLIANCE retain-until = the tag rounded up to the next
//	           whole second (never shorter than asked), set only while
//	           that is in the future; legal hold ON while a hold is set.
//
//	A blob's retain-until (Stat, List, Delete) is the tag's, unless the
//	lock ends later than the tag rounded up (a bucket default retention,
//	or a tag edited behind the store's back): then the lock's. Its hold is
//	the lock's legal hold.
//
//	A blob may be deleted when it has no hold and its retain-until is
//	absent or not after the current time, and the retention the caller
//	derives from the journal and passes to Delete says the same. Delete
//	then removes every version of the key (a plain DELETE on a versioned
//	bucket would only add a delete marker); the server refuses a version
//	still locked.
//
// Retention changes (SetRetention, an idempotent Put that extends) read
// the blob's state and write the lock first, then the tag, under a
// per-blob mutex, so within one process no extension is lost. Across
// processes sharing a bucket, two racing changes can leave the tag with the
// smaller of two future dates, but never the lock, which S3 only lets grow
// in COMPLIANCE mode; Stat then reports the lock's.
//
// Every call has a timeout (Options.Timeout) and minio-go retries
// transient failures (network errors, 5xx, throttling) a bounded number of
// times (Options.MaxRetries) with backoff.
package s3blob
