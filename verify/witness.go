package verify

import (
	"bytes"
	"errors"

	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/witness"
)

// Witness fault kinds: a checkpoint kept outside the archive (by a
// witness, or by an auditor: --checkpoint) that the journal does not
// honour. These are the attacks the archive cannot catch by itself:
// whoever holds the signing key can make a rolled-back or rewritten
// archive agree with itself, but not with what was witnessed before.
const (
	WitnessRollback     = "witness.rollback"     // a witnessed tree is larger than the journal
	WitnessInconsistent = "witness.inconsistent" // the journal's tree at a witnessed size has another root
	WitnessSignature    = "witness.signature"    // a witnessed checkpoint does not verify under the archive's key (or its cosignature under the witness's)
	WitnessUnreachable  = "witness.unreachable"  // the witness could not be read
	WitnessMalformed    = "witness.malformed"    // a witness holds something that is not a checkpoint of the size it is filed under
	WitnessEmpty        = "witness.empty"        // the witness holds no checkpoint of this archive
)

// KeptCheckpoint is a checkpoint note an auditor kept (verify --checkpoint).
type KeptCheckpoint struct {
	Name string // where it came from, for the report (a file name)
	Note []byte
}

// DefaultMaxWitnessed is how many checkpoints are checked per witness
// when Options.MaxWitnessed is 0: the newest always, and an even sample of
// the older ones.
const DefaultMaxWitnessed = 1000

// checkWitnesses proves the journal consistent with every checkpoint held
// outside the archive. The roots are taken from the stored tree nodes,
// which checkJournal ties to the leaves, and each witnessed root is also
// proved consistent with the archive's newest checkpoint.
func (c *checker) checkWitnesses() error {
	if len(c.opts.Witnesses) == 0 && len(c.opts.Checkpoints) == 0 {
		return nil
	}
	max := c.opts.MaxWitnessed
	if max <= 0 {
		max = DefaultMaxWitnessed
	}
	var latest *journal.Checkpoint
	if row, err := c.st.LatestCheckpoint(c.ctx); err == nil {
		// An unverifiable newest checkpoint is reported by the checkpoint
		// checks; witnessed roots are then compared with the tree alone.
		latest, _ = c.openCheckpoint(row.Size, row.Note)
	}
	origin := c.r.Config.Origin
	for _, src := range c.opts.Witnesses {
		obj := "witness:" + src.Name()
		entries, err := src.Witnessed(c.ctx, origin, max)
		if err != nil {
			c.fault(WitnessUnreachable, obj, "%v", err)
			continue
		}
		if len(entries) == 0 {
			c.fault(WitnessEmpty, obj, "the witness holds no checkpoint of origin %s", origin)
			continue
		}
		for _, e := range entries {
			switch {
			case errors.Is(e.Err, witness.ErrCosignature):
				c.fault(WitnessSignature, e.Object, "%v", e.Err)
			case e.Err != nil:
				c.fault(WitnessMalformed, e.Object, "%v", e.Err)
			default:
				c.checkWitnessed(e.Object, e.Note, latest)
			}
		}
	}
	for _, k := range c.opts.Checkpoints {
		c.checkWitnessed("checkpoint-file:"+k.Name, k.Note, latest)
	}
	return nil
}

func (c *checker) checkWitnessed(obj string, note []byte, latest *journal.Checkpoint) {
	// Signed by the key in force for its size (keys.go): a checkpoint
	// witnessed before a key rotation is the old key's.
	cp, err := c.openCheckpoint(noteSize(note), note)
	if err != nil {
		c.fault(WitnessSignature, obj, "not a checkpoint of this archive signed by its key: %v", err)
		return
	}
	if cp.Size > c.journalSize {
		c.fault(WitnessRollback, obj, "a tree of %d leaves was witnessed (signed %s); the journal has %d: it was rolled back", cp.Size, cp.Time, c.journalSize)
		return
	}
	root, err := journal.RootAt(c.ctx, c.st, cp.Size)
	if err != nil {
		c.fault(WitnessInconsistent, obj, "the journal's tree of %d leaves cannot be computed: %v", cp.Size, err)
		return
	}
	if !bytes.Equal(root, cp.Root) {
		c.fault(WitnessInconsistent, obj, "the journal's first %d leaves have root %x; the witnessed checkpoint (signed %s) has %x: history was rewritten", cp.Size, root, cp.Time, cp.Root)
		return
	}
	if latest == nil || latest.Size <= cp.Size {
		if latest != nil && latest.Size == cp.Size && !bytes.Equal(latest.Root, cp.Root) {
			c.fault(WitnessInconsistent, obj, "the archive's newest checkpoint has another root for %d leaves", cp.Size)
		}
		return
	}
	p, err := journal.ConsistencyProof(c.ctx, c.st, cp.Size, latest.Size)
	if err == nil {
		err = journal.VerifyConsistency(cp.Size, latest.Size, p, cp.Root, latest.Root)
	}
	if err != nil {
		c.fault(WitnessInconsistent, obj, "not consistent with the archive's newest checkpoint (%d leaves): %v", latest.Size, err)
	}
}
