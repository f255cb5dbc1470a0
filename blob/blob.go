// Package blob defines the write-once, content-addressed evidence store.
//
// Contract every Store implements (checked by blobtest.Run):
//   - Put stores data under archive.Hash(data) with the given retain-until
//     and returns the id only once the bytes are durable. Putting bytes that
//     already exist is not an error: it returns the same id, writes nothing
//     new, and extends the retain-until if the new one is later. If the
//     stored copy is not identical (it was damaged), Put fails with an
//     *IntegrityError and leaves the damaged copy for the checker to report.
//   - Get re-hashes what it reads; a mismatch is an *IntegrityError naming the
//     id, whose Data holds the bytes read (so that a reader able to verify
//     parts of them on its own — a pack, each record of which has its own
//     SHA-256 — can still use the intact parts: one damaged byte must not
//     make a whole pack of records unreadable). A missing blob is an error
//     matching ErrNotFound.
//   - Retention only grows: SetRetention to an earlier time fails with
//     ErrRetentionShortened. Delete is refused with ErrRetained before
//     retain-until and ErrLegalHold while a hold is set — the store's own
//     or the one the caller passes: the caller derives the blob's
//     retention from the journal, and Delete refuses when either says "not
//     yet", so an edited retention record in the store (a meta file set to
//     2001) never lets evidence go early.
//   - List visits every stored blob exactly once, in no particular order.
//     Stat and List give StoredAt, when the store first stored the bytes
//     (by its own clock), so that a checker can tell a blob a writer has
//     just put, and is about to reference, from one nothing references.
//   - All methods are safe for concurrent use.
package blob

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// Store is a content-addressed, write-once blob store with retention.
type Store interface {
	Put(ctx context.Context, data []byte, opts PutOptions) (archive.BlobID, error)
	Get(ctx context.Context, id archive.BlobID) ([]byte, error)
	Stat(ctx context.Context, id archive.BlobID) (Info, error)
	List(ctx context.Context, fn func(Info) error) error
	SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error
	SetLegalHold(ctx context.Context, id archive.BlobID, on bool) error
	// Delete removes a blob whose retention, by the store's records and
	// by the caller's (journal derived), has passed; see the contract.
	Delete(ctx context.Context, id archive.BlobID, journal Retention) error
	Properties() Properties
}

// BatchPutter is a Store that can store several blobs together, making
// them durable with a few barriers for the whole batch instead of
// several per blob (a replica copying thousands of blobs). Each item is
// stored exactly as Put would store it — same id, same retention rules,
// an existing blob verified, not rewritten — and becomes visible only
// once its bytes and retention are durable. On an error some items may be
// stored and others not, as with separate Puts; none is half-stored.
type BatchPutter interface {
	PutBatch(ctx context.Context, items []BatchItem) ([]archive.BlobID, error)
}

// BatchItem is one blob of a PutBatch.
type BatchItem struct {
	Data []byte
	Opts PutOptions
}

// PutOptions are the retention settings a blob is created with.
type PutOptions struct {
	RetainUntil time.Time // zero: no retention (deletable at once)
	LegalHold   bool
}

// Retention is a blob's retention as the caller's own records (the
// journal) give it, passed to Delete. The zero value says the journal
// imposes nothing: the store's records alone decide.
type Retention struct {
	RetainUntil time.Time // zero when none
	LegalHold   bool
}

// Info describes a stored blob.
type Info struct {
	ID          archive.BlobID
	Size        int64
	RetainUntil time.Time // zero when none
	LegalHold   bool
	StoredAt    time.Time // when the bytes were first stored, by the store's clock
}

// Properties are a store's capabilities, as data.
type Properties struct {
	Name       string // "fsblob", "s3blob"
	Location   string // directory or bucket URL, for humans
	ObjectLock bool   // retention is enforced by the storage itself (S3 Object Lock), not only by this program
}

// Sentinel errors. Typed errors below wrap them so errors.Is works.
var (
	ErrNotFound           = errors.New("blob not found")
	ErrIntegrity          = errors.New("blob integrity check failed")
	ErrRetained           = errors.New("blob is under retention")
	ErrLegalHold          = errors.New("blob is under legal hold")
	ErrRetentionShortened = errors.New("retention can only be extended")
)

// Error is the typed error every Store returns for an operation on one blob.
type Error struct {
	Op  string         // "put", "get", "stat", "delete", "set-retention", "set-legal-hold"
	ID  archive.BlobID // the blob concerned
	Err error          // one of the sentinels, or an underlying I/O error
}

func (e *Error) Error() string { return fmt.Sprintf("blob %s %s: %v", e.Op, e.ID, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// IntegrityError reports stored bytes that do not hash to their id.
type IntegrityError struct {
	ID     archive.BlobID // expected
	Actual archive.BlobID // hash of what was read
	Size   int64          // bytes read
	// Data, from Get, is what was read (Size bytes hashing to Actual); nil
	// from other operations. It is damaged evidence: never use it as the
	// blob, only parts of it that verify by their own hashes.
	Data []byte
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("blob %s: content hashes to %s (%d bytes): stored bytes were altered or replaced", e.ID, e.Actual, e.Size)
}
func (e *IntegrityError) Unwrap() error { return ErrIntegrity }
