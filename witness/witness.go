package witness

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxarchive/wxarchive/journal"
)

// Log is what a publisher needs of the archive: its checkpoint verifier
// and consistency proofs between two of its tree sizes.
type Log interface {
	// Open verifies a checkpoint note under the archive's key and origin.
	Open(note []byte) (*journal.Checkpoint, error)
	// ConsistencyProof is the RFC 6962 proof from tree size from to to.
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
}

// NewLog is the Log of an archive whose tree nodes r reads.
func NewLog(v *journal.Verifier, r journal.NodeReader) Log { return &archiveLog{v: v, r: r} }

type archiveLog struct {
	v *journal.Verifier
	r journal.NodeReader
}

func (l *archiveLog) Open(note []byte) (*journal.Checkpoint, error) { return l.v.Open(note) }
func (l *archiveLog) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	return journal.ConsistencyProof(ctx, l.r, from, to)
}

// Ack is a witness's answer to a publication.
type Ack struct {
	// Size is the tree size the witness now holds for the archive.
	Size uint64
	// Cosigned is the checkpoint with the witness's cosignature lines
	// appended (C2SP witnesses only; nil otherwise).
	Cosigned []byte
}

// Publisher sends checkpoints to one witness.
//
// Contract: Publish sends cp, the archive's newest checkpoint, proving it
// consistent with what the witness holds (a proof from log). It is
// idempotent: publishing what the witness already holds succeeds and
// changes nothing. A witness holding a larger tree, or one of the same
// size with another root, or one the new checkpoint is not consistent
// with, is a *RefusedError (matching ErrRefused) and nothing is written:
// the witness keeps what it had. A witness that cannot be reached, or
// answers with a server error, is an error matching ErrUnreachable: try
// again later. Errors never contain a secret (tokens are sent, never
// printed; URLs carrying credentials are refused by Config.Validate).
type Publisher interface {
	Name() string
	Publish(ctx context.Context, cp *journal.Checkpoint, log Log) (Ack, error)
}

// Witnessed is one checkpoint a witness holds.
type Witnessed struct {
	// Object names it for a report: "witness:<name>/<size>".
	Object string
	// Size is the tree size the witness files it under.
	Size uint64
	// Note is the checkpoint as the witness holds it, signed by the
	// archive (and, for a C2SP witness, cosigned by it).
	Note []byte
	// Err is a problem with this checkpoint alone: ErrMalformed (it does
	// not parse, or is filed under another size) or ErrCosignature (no
	// cosignature verifies under the witness keys given). Note may then
	// be nil.
	Err error
}

// Source reads back what a witness holds.
//
// Contract: Witnessed returns the checkpoints of origin the witness holds,
// in increasing size, the newest always included; when it holds more than
// max (max > 0), an evenly spaced sample of max of them. An origin the
// witness holds nothing for is an empty list and a nil error. An error
// matching ErrUnreachable means nothing could be read. Source never checks
// the archive's signature: the caller does, with the key it trusts.
type Source interface {
	Name() string
	Witnessed(ctx context.Context, origin string, max int) ([]Witnessed, error)
}

// Witness is a location that can be published to and read back.
type Witness interface {
	Publisher
	Source
}

// Sentinel errors.
var (
	ErrRefused     = errors.New("witness refused the checkpoint")
	ErrUnreachable = errors.New("witness unreachable")
	ErrMalformed   = errors.New("malformed witness data")
	ErrCosignature = errors.New("no valid cosignature")
	// ErrNotFound: nothing stored under that name (an unknown origin or size).
	ErrNotFound = errors.New("not found")
)

// Refusal reasons.
const (
	ReasonRollback     = "rollback"     // the witness holds a larger tree
	ReasonInconsistent = "inconsistent" // same size with another root, or no consistency proof
	ReasonSignature    = "signature"    // the witness does not accept the archive's key, or holds a note it cannot verify
	ReasonUnknownLog   = "unknown_log"  // the witness does not witness this origin
)

// RefusedError says why a checkpoint was refused. Reason is one of the
// Reason constants; Held is the size the witness holds (0 if unknown).
type RefusedError struct {
	Witness string
	Reason  string
	Size    uint64 // the size that was offered
	Held    uint64
	Detail  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("witness %s refused checkpoint %d (%s): %s", e.Witness, e.Size, e.Reason, e.Detail)
}
func (e *RefusedError) Unwrap() error { return ErrRefused }

// UnreachableError wraps a failure to talk to a witness.
type UnreachableError struct {
	Witness string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("witness %s unreachable: %v", e.Witness, e.Err)
}
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// checkAppend decides, for a witness that does not check consistency
// itself (a directory, a plain HTTP store), whether cp may follow held,
// the newest checkpoint it holds (nil: none). It returns done when the
// witness already holds cp's tree.
func checkAppend(ctx context.Context, name string, held *Entry, cp *journal.Checkpoint, log Log) (done bool, err error) {
	if held == nil {
		return false, nil
	}
	refuse := func(reason, format string, a ...any) (bool, error) {
		return false, &RefusedError{Witness: name, Reason: reason, Size: cp.Size, Held: held.Size, Detail: fmt.Sprintf(format, a...)}
	}
	switch {
	case held.Size > cp.Size:
		return refuse(ReasonRollback, "the witness holds a tree of %d leaves; the archive's newest has %d", held.Size, cp.Size)
	case held.Size == cp.Size:
		if string(held.Root) != string(cp.Root) {
			return refuse(ReasonInconsistent, "the witness holds another root for %d leaves", held.Size)
		}
		return true, nil
	}
	old, err := log.Open(held.Note)
	if err != nil {
		return refuse(ReasonSignature, "the checkpoint the witness holds does not verify under the archive's key: %v", err)
	}
	if held.Size == 0 {
		return false, nil
	}
	p, err := log.ConsistencyProof(ctx, old.Size, cp.Size)
	if err != nil {
		return refuse(ReasonInconsistent, "no consistency proof from %d: %v", old.Size, err)
	}
	if err := journal.VerifyConsistency(old.Size, cp.Size, p, old.Root, cp.Root); err != nil {
		return refuse(ReasonInconsistent, "not consistent with the witnessed tree of %d leaves: %v", old.Size, err)
	}
	return false, nil
}
