// Package verify checks an archive end to end and reports every fault it
// finds, each with a kind and the object at fault (docs/FORMAT.md §7 lists
// the kinds). It trusts nothing it reads: blobs are re-hashed, the Merkle
// tree is recomputed from the leaves, every checkpoint signature is
// checked against the key the journal has in force for it (leaf 0's, then
// each rotation's, or one the auditor supplies), sealed segments are
// compared with the database journal, the index is rebuilt from the
// journal in a scratch store and compared row by row with the live one,
// and what an insider with file access could change behind the journal's
// back — blobs nothing references, a database older than its blob store,
// retention files, the supervisor's cursor, leaf times, the configured
// key, file modes — is checked against what the journal says.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/witness"
)

// Fault kinds.
const (
	BlobCorrupt           = "blob.corrupt"           // stored bytes do not hash to the blob id
	BlobMissing           = "blob.missing"           // a referenced blob is absent
	BlobUnreadable        = "blob.unreadable"        // I/O error reading a blob
	JournalLeafHash       = "journal.leaf_hash"      // stored leaf hash differs from the hash of the leaf
	JournalLeafMalformed  = "journal.leaf_malformed" // leaf is not a canonical event at its position
	JournalGap            = "journal.gap"            // a leaf index is missing
	JournalTruncated      = "journal.truncated"      // fewer leaves than a checkpoint or segment covers
	JournalUnsealed       = "journal.unsealed"       // leaves not copied to a segment past the seal delay
	TreeNode              = "tree.node"              // stored interior node differs from the recomputed one
	CheckpointSignature   = "checkpoint.signature"   // signature, key or origin invalid
	CheckpointRoot        = "checkpoint.root"        // signed root differs from the recomputed tree
	CheckpointInconsist   = "checkpoint.inconsistent"
	CheckpointRollback    = "checkpoint.rollback" // the latest checkpoint is older than the journal or a sealed one
	SegmentMalformed      = "segment.malformed"
	SegmentMismatch       = "segment.mismatch" // sealed leaves or checkpoints differ from the database
	SegmentGap            = "segment.gap"
	RecordMissing         = "record.missing"
	RecordCorrupt         = "record.corrupt"
	RecordUnsealed        = "record.unsealed"
	RecordMismatch        = "record.mismatch" // normalized record disagrees with its journal event
	PackMalformed         = "pack.malformed"
	SerialGap             = "serial.gap"
	IndexMismatch         = "index.mismatch"    // a live index row differs from the rebuilt one
	IndexMissing          = "index.missing"     // a row the journal implies is absent from the index
	IndexExtra            = "index.extra"       // an index row no journal event explains
	ConfigPublicKeyChange = "config.public_key" // the configured key is damaged or not the key the journal has in force

	BlobUnreferenced     = "blob.unreferenced"       // a blob nothing in the journal (or the segment table) references
	BlobNewerThanJournal = "blob.newer_than_journal" // a segment or pack of leaves the journal does not have: the database was rolled back
	BlobRetention        = "blob.retention"          // the store's retention of a blob is shorter than the journal requires
	FileMode             = "file.mode"               // a key readable by others, or a blob file writable
	JournalTime          = "journal.time"            // a leaf dated before the leaf it follows
	KeyRotation          = "key.rotation"            // a key.rotated event the key in force did not sign
	KeyMismatch          = "key.mismatch"            // the key supplied (--public-key) is not one the journal records
	SupervisionCursor    = "supervision.cursor"      // the supervisor's cursor disagrees with its journaled progress
	SupervisionGap       = "supervision.gap"         // a message behind the supervisor's cursor that no progress event covers
	SupervisionPolicy    = "supervision.policy"      // messages evaluated without a policy version in force
)

// Fault is one problem found.
type Fault struct {
	Kind   string `json:"kind"`
	Object string `json:"object"`
	Detail string `json:"detail"`
}

// Stats counts what was checked.
type Stats struct {
	Leaves      uint64 `json:"leaves"`
	Messages    uint64 `json:"messages"`
	Checkpoints int    `json:"checkpoints"`
	Segments    int    `json:"segments"`
	Packs       int    `json:"packs"`
	Blobs       int    `json:"blobs"`
	BlobBytes   int64  `json:"blob_bytes"`
	IndexRows   int64  `json:"index_rows"`
	Keys        int    `json:"keys"` // signing keys in the journal's chain (1 + rotations)
}

// Report is the result of a run.
type Report struct {
	OK     bool    `json:"ok"`
	Faults []Fault `json:"faults"`
	// Notices are findings that are not faults: blobs a crash left behind
	// whose content the journal already holds (an interrupted seal), and
	// blobs a running writer stored and has not referenced yet.
	Notices  []Fault       `json:"notices,omitempty"`
	Stats    Stats         `json:"stats"`
	Duration time.Duration `json:"-"`
}

// Options configure a run.
type Options struct {
	Now       func() time.Time
	PublicKey string        // verify checkpoints with this key instead of the configured one
	SealDelay time.Duration // default: the archive's
	// ReadSealDelay bounds a tail of reads alone (archive.IsReadEvent); default:
	// the archive's, at least SealDelay.
	ReadSealDelay time.Duration
	// Progress, if set, is told about each phase's progress.
	Progress func(phase string, done, total int64)
	// MaxFaultsPerKind caps the faults reported per kind (0: 1000); the
	// count beyond it is reported as one more fault of that kind.
	MaxFaultsPerKind int
	// ScratchDir holds the rebuilt index (default: a temporary directory).
	ScratchDir string
	// Scratch opens the empty store the index is rebuilt into, in a new
	// directory verify removes afterwards (required): the engine is the
	// caller's choice (repo.Engines.Scratch: cmd's engines(), the tests'
	// archivetest.Engines()); verify never picks an adapter itself.
	Scratch func(ctx context.Context, dir string) (store.Store, error)
	// InFlight is how long after it was stored a blob nothing references
	// yet is taken for one a running writer is about to reference (a
	// notice, not a fault), when a writer holds the archive (default
	// DefaultInFlight). Without a writer every unreferenced blob is a
	// fault.
	InFlight time.Duration
	// Witnesses are checkpoint locations outside the archive: the
	// journal must be consistent with every checkpoint they hold
	// (witness.go).
	Witnesses []witness.Source
	// Checkpoints are checkpoint notes an auditor kept.
	Checkpoints []KeptCheckpoint
	// MaxWitnessed caps the checkpoints checked per witness (0:
	// DefaultMaxWitnessed).
	MaxWitnessed int
	// External are blobs that something outside the journal references
	// (a replica's manifests), each with what it is: re-hashed like every
	// blob, never "unreferenced".
	External map[archive.BlobID]string
	// Restored says the index under test was rebuilt from the blob store
	// itself (a replica's check): its pending records are the records of
	// packs sealed after the copy's journal ends, not records a writer
	// failed to seal, so their age is no fault.
	Restored bool
}

// DefaultInFlight bounds the time between a writer storing an attachment
// and committing the message that references it.
const DefaultInFlight = 10 * time.Minute

// ErrNoScratch is returned by Run when Options.Scratch is not set.
var ErrNoScratch = errors.New("verify: Options.Scratch (the factory of the scratch index) is required")

type checker struct {
	ctx    context.Context
	r      *repo.Repo
	opts   Options
	rep    *Report
	counts map[string]int

	// The journal's facts read before the main pass (prescan): leaf 0,
	// the key rotations, the sealed packs.
	created   *archive.ArchiveCreated
	rotations []rotation
	sealed    []store.PackRow
	// keys is the chain of signing keys; eraEnd[i] the size of the last
	// checkpoint keys[i] signs (see keys.go).
	keys   []keyEra
	eraEnd []uint64
	// v verifies by the key in force now (the chain's newest). A
	// checkpoint of any size is verified with openCheckpoint, which picks
	// the key in force for it; v is for notes known to be of the latest
	// span.
	v     *journal.Verifier
	years int // retention_years from archive.created

	checkpoints map[uint64]store.CheckpointRow
	cpRoots     map[uint64][]byte // verified signed roots
	cpSizes     []uint64
	roots       map[uint64][]byte // recomputed roots at checkpoint sizes
	records     *repo.Records
	lastRecords map[store.RecordKey][]byte // the current event's verified records
	verified    map[archive.BlobID]bool
	uses        map[archive.BlobID]*blobUse // what refers to each blob, and the retention it requires
	segments    []store.SegmentRow
	segmentEnds map[uint64]int // segment End → index in segments
	sealedEnd   uint64         // leaves below are sealed in segments
	unfetched   map[uint64]archive.Time
	// extended is the latest retain-until retention.extended events gave
	// each message they name: its pack and attachments must be kept so long.
	extended    map[uint64]archive.Time
	prevTime    archive.Time
	sup         supervision
	journalSize uint64
	// at is the time of the snapshot verify reads.
	at time.Time
	// malformedLeaves are the leaves reported as journal.leaf_malformed;
	// unreadSinceMessage is set when one could not be read at all since
	// the last message event (a serial it held is then not a gap).
	malformedLeaves    map[uint64]bool
	unreadSinceMessage bool
	// st is the index as it was when verify started (a snapshot): a
	// writer running meanwhile (serve) changes nothing verify reads.
	st store.Reader
}

func (c *checker) fault(kind, object, format string, a ...any) {
	c.counts[kind]++
	n := c.counts[kind]
	if n <= c.opts.MaxFaultsPerKind {
		c.rep.Faults = append(c.rep.Faults, Fault{Kind: kind, Object: object, Detail: fmt.Sprintf(format, a...)})
	}
}

// malformed reports a leaf that is not a canonical event at its position,
// once however many readers of it notice.
func (c *checker) malformed(idx uint64, err error) {
	if c.malformedLeaves[idx] {
		return
	}
	c.malformedLeaves[idx] = true
	c.fault(JournalLeafMalformed, journalObj(idx), "%v", err)
}

func (c *checker) progress(phase string, done, total int64) {
	if c.opts.Progress != nil {
		c.opts.Progress(phase, done, total)
	}
}

// Run checks the archive. The error is for failures to run at all; every
// problem with the archive itself is a Fault.
func Run(ctx context.Context, r *repo.Repo, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Scratch == nil {
		return nil, ErrNoScratch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SealDelay <= 0 {
		opts.SealDelay = r.Config.SealDelay
		if opts.SealDelay <= 0 {
			opts.SealDelay = ingest.DefaultSealDelay
		}
	}
	if opts.ReadSealDelay <= 0 {
		opts.ReadSealDelay = r.Config.ReadSealDelay
		if opts.ReadSealDelay <= 0 {
			opts.ReadSealDelay = ingest.DefaultReadSealDelay
		}
	}
	opts.ReadSealDelay = max(opts.ReadSealDelay, opts.SealDelay)
	if opts.MaxFaultsPerKind <= 0 {
		opts.MaxFaultsPerKind = 1000
	}
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultInFlight
	}
	c := &checker{ctx: ctx, r: r, opts: opts, rep: &Report{Faults: []Fault{}}, counts: map[string]int{},
		checkpoints: map[uint64]store.CheckpointRow{}, cpRoots: map[uint64][]byte{}, roots: map[uint64][]byte{},
		verified: map[archive.BlobID]bool{}, malformedLeaves: map[uint64]bool{}, lastRecords: map[store.RecordKey][]byte{},
		uses: map[archive.BlobID]*blobUse{}, segmentEnds: map[uint64]int{}, unfetched: map[uint64]archive.Time{},
		extended: map[uint64]archive.Time{}}
	var supplied *journal.Verifier
	if opts.PublicKey != "" {
		v, err := journal.NewVerifier(r.Config.Origin, opts.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("--public-key: %w", err)
		}
		supplied = v
	}
	// Ages (unsealed records and leaves) are measured at the moment of
	// the snapshot, not when the check reaches them: a run lasting longer
	// than the seal delay next to a writer must not find the records the
	// writer had just committed "unsealed". Read just before the snapshot,
	// so an age is never overstated.
	c.at = opts.Now()
	snap, release, err := r.Store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	c.st = snap
	head, err := snap.Head(ctx)
	if err != nil {
		return nil, err
	}
	c.journalSize = head.JournalSize
	if err := c.prescan(); err != nil {
		return nil, err
	}
	// Records are located through the journal's seal events: the packs
	// table is part of the index under test.
	c.records = r.Records.With(snap).WithPacks(c.sealed)
	c.setupKeys(supplied)
	if err := c.st.Segments(ctx, func(s store.SegmentRow) error {
		c.segmentEnds[s.End] = len(c.segments)
		c.segments = append(c.segments, s)
		c.sealedEnd = max(c.sealedEnd, s.End)
		c.use(s.Blob, blobRef{kind: refSegment, jidx: s.First, end: s.End}, time.Time{})
		return nil
	}); err != nil {
		return nil, err
	}

	steps := []func() error{c.loadCheckpoints, c.checkJournal, c.checkCheckpointConsistency, c.checkSegments,
		c.checkPending, c.checkPacks, c.checkSupervision, c.checkBlobs, c.checkFileModes, c.checkWitnesses}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	for kind, n := range c.counts {
		if n > opts.MaxFaultsPerKind {
			c.rep.Faults = append(c.rep.Faults, Fault{Kind: kind, Object: "*", Detail: fmt.Sprintf("%d more faults of this kind not listed", n-opts.MaxFaultsPerKind)})
		}
	}
	c.rep.OK = len(c.rep.Faults) == 0
	c.rep.Duration = time.Since(start)
	return c.rep, nil
}

func journalObj(i uint64) string { return fmt.Sprintf("journal:%d", i) }
func cpObj(size uint64) string   { return fmt.Sprintf("checkpoint:%d", size) }
func blobObj(id archive.BlobID) string {
	return "blob:" + id.String()
}

// loadCheckpoints verifies every stored checkpoint's signature, each by
// the key in force for its span (keys.go).
func (c *checker) loadCheckpoints() error {
	var rows []store.CheckpointRow
	if err := c.st.Checkpoints(c.ctx, func(row store.CheckpointRow) error { rows = append(rows, row); return nil }); err != nil {
		return err
	}
	sizes := make([]uint64, len(rows))
	for i, row := range rows {
		sizes[i] = row.Size
	}
	c.setEras(sizes)
	var prevTime archive.Time
	for _, row := range rows {
		c.rep.Stats.Checkpoints++
		cp, err := c.openCheckpoint(row.Size, row.Note)
		if err != nil {
			c.fault(CheckpointSignature, cpObj(row.Size), "%v", err)
			continue
		}
		if cp.Size != row.Size {
			c.fault(CheckpointSignature, cpObj(row.Size), "signed size %d stored as %d", cp.Size, row.Size)
			continue
		}
		if cp.Time.Before(prevTime.Time) {
			c.fault(CheckpointRollback, cpObj(row.Size), "signed at %s, before the previous checkpoint (%s)", cp.Time, prevTime)
		}
		prevTime = cp.Time
		c.checkpoints[row.Size] = row
		c.cpRoots[row.Size] = cp.Root
		c.cpSizes = append(c.cpSizes, row.Size)
	}
	var latest uint64
	if n := len(c.cpSizes); n > 0 {
		latest = c.cpSizes[n-1]
	}
	switch {
	case c.journalSize == 0 && latest == 0:
	case latest > c.journalSize:
		c.fault(JournalTruncated, "journal", "journal has %d leaves but checkpoint %d was signed", c.journalSize, latest)
	case latest < c.journalSize:
		// Every commit signs a checkpoint in the same transaction as its
		// leaves, so a journal longer than the newest checkpoint means
		// checkpoints were removed.
		c.fault(CheckpointRollback, cpObj(latest), "latest checkpoint covers %d leaves; the journal has %d", latest, c.journalSize)
	}
	return nil
}

type scratch struct {
	st  store.Store
	tx  store.Tx
	dir string
}

func (c *checker) openScratch() (*scratch, error) {
	dir := c.opts.ScratchDir
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "wxarchive-verify-"); err != nil {
			return nil, err
		}
	} else {
		dir, err = os.MkdirTemp(dir, "verify-")
		if err != nil {
			return nil, err
		}
	}
	st, err := c.opts.Scratch(c.ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	tx, err := st.Begin(c.ctx)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &scratch{st: st, tx: tx, dir: dir}, nil
}

func (s *scratch) close() {
	s.tx.Rollback()
	s.st.Close()
	os.RemoveAll(s.dir)
}

// checkJournal streams the leaves once: hashes, canonical form, the tree
// and its stored nodes, checkpoint roots, the records each event references,
// serial continuity, and the rebuilt projection.
func (c *checker) checkJournal() error {
	nodes, err := c.loadNodes()
	if err != nil {
		return err
	}
	sc, err := c.openScratch()
	if err != nil {
		return err
	}
	defer sc.close()

	tree := journal.NewTree()
	var expect uint64
	var nextSerial uint64 = 1
	seenNodes := 0
	load := func(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error) {
		// checkEventRecords just read (and verified) this event's records.
		if b, ok := c.lastRecords[key]; ok {
			return b, nil
		}
		return c.records.Get(ctx, key, want)
	}
	err = c.st.Leaves(c.ctx, 0, c.journalSize, func(idx uint64, storedHash, leaf []byte) error {
		for expect < idx {
			// A missing leaf breaks the tree; nothing after it can be checked.
			c.fault(JournalGap, journalObj(expect), "leaf missing")
			expect = idx
			return errStop
		}
		expect = idx + 1
		c.rep.Stats.Leaves++
		if idx%8192 == 0 {
			c.progress("journal", int64(idx), int64(c.journalSize))
		}
		h := journal.LeafHash(leaf)
		if !bytes.Equal(h, storedHash) {
			c.fault(JournalLeafHash, journalObj(idx), "stored hash %x, leaf hashes to %x", storedHash, h)
		}
		tree.Append(h, func(n journal.Node) {
			seenNodes++
			got, ok := nodes[nodeKey{n.Level, n.Index}]
			if !ok {
				c.fault(TreeNode, fmt.Sprintf("node:%d/%d", n.Level, n.Index), "stored node missing")
			} else if !bytes.Equal(got, n.Hash) {
				c.fault(TreeNode, fmt.Sprintf("node:%d/%d", n.Level, n.Index), "stored %x, recomputed %x", got, n.Hash)
			}
		})
		size := idx + 1
		if signed, ok := c.cpRoots[size]; ok {
			root := tree.Root()
			c.roots[size] = root
			if !bytes.Equal(root, signed) {
				c.fault(CheckpointRoot, cpObj(size), "signed root %x, journal gives %x", signed, root)
			}
		}
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil {
			c.malformed(idx, err)
			// The leaf is still what the tree and the checkpoints commit
			// to: read it as it is, so that its records, its serial and
			// its index rows are checked like any other's and the one
			// fault above is the only one it causes.
			if ev, err = journal.DecodeLeaf(idx, leaf); err != nil {
				c.unreadSinceMessage = true
				return nil
			}
		}
		if ev.Time.Before(c.prevTime.Time) {
			c.fault(JournalTime, journalObj(idx), "dated %s, before the leaf it follows (%s): leaf times never decrease", ev.Time, c.prevTime)
		} else {
			c.prevTime = ev.Time
		}
		if i, ok := c.segmentEnds[size]; ok {
			// The last leaf of a sealed segment: how long the segment
			// must be kept follows from its time.
			c.require(c.segments[i].Blob, ingest.RetainUntilFor(ev.Time.Time, c.years).Time)
		}
		clear(c.lastRecords)
		c.checkEventRecords(ev, &nextSerial)
		c.sup.event(c, ev, nextSerial)
		if err := ingest.Apply(c.ctx, sc.tx, ev, load); err != nil {
			// The record faults were reported above; the rebuilt index
			// will lack this row and the comparison will name it too.
			return nil
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if expect < c.journalSize && !errors.Is(err, errStop) {
		c.fault(JournalGap, journalObj(expect), "leaves %d..%d missing", expect, c.journalSize-1)
	}
	if seenNodes != len(nodes) && expect == c.journalSize {
		c.fault(TreeNode, "tree_nodes", "%d stored nodes, the journal implies %d", len(nodes), seenNodes)
	}
	c.progress("journal", int64(c.journalSize), int64(c.journalSize))
	if err := sc.tx.Commit(); err != nil {
		return err
	}
	if err := c.requireExtensions(sc.st); err != nil {
		return err
	}
	return c.compareIndex(sc.st)
}

var errStop = errors.New("stop")

func ordinalName(ord uint32) string {
	switch ord {
	case archive.OrdinalRaw:
		return "raw"
	case archive.OrdinalNormalized:
		return "normalized"
	}
	return fmt.Sprintf("ordinal %d", ord)
}

type nodeKey struct {
	level uint
	index uint64
}

func (c *checker) loadNodes() (map[nodeKey][]byte, error) {
	out := map[nodeKey][]byte{}
	// Interior nodes at stored levels, read level by level.
	for level := uint(journal.TileHeight); level < 64; level += journal.TileHeight {
		n := c.journalSize >> level
		if n == 0 {
			break
		}
		hs, err := c.st.StoredNodes(c.ctx, level, 0, n)
		if err != nil {
			return nil, err
		}
		// StoredNodes returns what exists in order; missing ones are found
		// by the count check after the tree is recomputed.
		for i, h := range hs {
			out[nodeKey{level, uint64(i)}] = h
		}
		if uint64(len(hs)) != n {
			c.fault(TreeNode, fmt.Sprintf("level:%d", level), "%d nodes stored, %d expected", len(hs), n)
		}
	}
	return out, nil
}

func (c *checker) checkEventRecords(ev *journal.Event, nextSerial *uint64) {
	// A message's records are named by its serial (what a person looks
	// up), the detail giving the journal index and the ordinal.
	var serial uint64
	get := func(ord uint32, want archive.BlobID) ([]byte, bool) {
		b, err := c.records.Get(c.ctx, store.RecordKey{JournalIndex: ev.Index, Ordinal: ord}, want)
		obj, what := fmt.Sprintf("record:%d/%d", ev.Index, ord), fmt.Sprintf("record %d/%d", ev.Index, ord)
		if serial != 0 {
			obj, what = fmt.Sprintf("serial:%d", serial), fmt.Sprintf("serial %d, %s record (journal index %d, ordinal %d)", serial, ordinalName(ord), ev.Index, ord)
		}
		switch {
		case errors.Is(err, repo.ErrRecordMissing):
			c.fault(RecordMissing, obj, "%s: %v", what, err)
			return nil, false
		case errors.Is(err, blob.ErrNotFound):
			c.fault(RecordMissing, obj, "%s: %v", what, err)
			return nil, false
		case err != nil:
			c.fault(RecordCorrupt, obj, "%s: %v", what, err)
			return nil, false
		}
		c.lastRecords[store.RecordKey{JournalIndex: ev.Index, Ordinal: ord}] = b
		return b, true
	}
	switch ev.Type {
	case archive.EventMessageArchived, archive.EventMessageConflict:
		var p archive.MessageEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			c.unreadSinceMessage = true
			return
		}
		c.rep.Stats.Messages++
		serial = p.Serial
		// Serials held by leaves that could not be read are not gaps:
		// the leaf is the fault, reported once.
		if p.Serial != *nextSerial && !(c.unreadSinceMessage && p.Serial > *nextSerial) {
			c.fault(SerialGap, fmt.Sprintf("serial:%d", p.Serial), "journal event %d has serial %d, expected %d", ev.Index, p.Serial, *nextSerial)
		}
		*nextSerial = p.Serial + 1
		c.unreadSinceMessage = false
		get(archive.OrdinalRaw, p.Raw) // a fault, if any, is reported by get
		if b, ok := get(archive.OrdinalNormalized, p.Record); ok {
			var m archive.Message
			if err := json.Unmarshal(b, &m); err != nil {
				c.fault(RecordMismatch, fmt.Sprintf("serial:%d", p.Serial), "normalized record does not decode: %v", err)
			} else if m.Source != p.Source || m.SourceID != p.SourceID || m.Kind != p.Kind || m.SentAt != p.SentAt || len(m.Attachments) != len(p.Attachments) {
				c.fault(RecordMismatch, fmt.Sprintf("serial:%d", p.Serial), "normalized record (%s %s %s) disagrees with its journal event (%s %s %s)",
					m.SourceID, m.Kind, m.SentAt, p.SourceID, p.Kind, p.SentAt)
			}
		}
		unfetched := false
		for i, a := range p.Attachments {
			if !a.Blob.IsZero() {
				c.use(a.Blob, blobRef{kind: refAttachment, serial: p.Serial, ord: i, jidx: ev.Index}, c.attachmentRetention(ev.Index, p.RetainUntil.Time))
			}
			unfetched = unfetched || a.Status != archive.AttachmentFetched
		}
		if unfetched {
			// attachment.fetched may add its media later, with the
			// message's retention.
			c.unfetched[p.Serial] = p.RetainUntil
		}
	case archive.EventInputRejected:
		var p archive.RejectEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			return
		}
		get(archive.OrdinalRaw, p.Raw)
	case archive.EventRecordsSealed:
		var p archive.SealEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			return
		}
		c.use(p.Pack, blobRef{kind: refPack, jidx: ev.Index}, p.RetainUntil.Time)
	case archive.EventRetentionExtended:
		var p archive.RetentionExtendedEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			return
		}
		for _, g := range p.Groups {
			for _, s := range g.Serials {
				if s >= *nextSerial {
					c.fault(RecordMismatch, fmt.Sprintf("serial:%d", s), "journal event %d extends the retention of a message not archived before it", ev.Index)
					continue
				}
				if g.RetainUntil.After(c.extended[s].Time) {
					c.extended[s] = g.RetainUntil
				}
			}
		}
	case archive.EventAttachmentFetched:
		var p archive.AttachmentFetchedEvent
		if err := ev.DecodePayload(&p); err != nil {
			c.malformed(ev.Index, err)
			return
		}
		if p.Serial >= *nextSerial {
			c.fault(RecordMismatch, fmt.Sprintf("serial:%d", p.Serial), "journal event %d fetches media for a message not archived before it", ev.Index)
		}
		c.use(p.Blob, blobRef{kind: refFetched, serial: p.Serial, ord: p.Ordinal, jidx: ev.Index}, c.attachmentRetention(ev.Index, c.unfetched[p.Serial].Time))
	}
}

// checkCheckpointConsistency proves each checkpoint consistent with the
// next from stored nodes — what an auditor holding two checkpoints would
// ask the archive for.
func (c *checker) checkCheckpointConsistency() error {
	sizes := c.cpSizes
	const maxProofs = 20000
	step := 1
	if len(sizes) > maxProofs {
		step = len(sizes) / maxProofs
	}
	for i := step; i < len(sizes); i += step {
		a, b := sizes[i-step], sizes[i]
		ra, okA := c.cpRoots[a]
		rb, okB := c.cpRoots[b]
		if !okA || !okB || b > c.journalSize {
			continue
		}
		p, err := journal.ConsistencyProof(c.ctx, c.st, a, b)
		if err != nil {
			c.fault(CheckpointInconsist, cpObj(b), "cannot build a consistency proof from %d: %v", a, err)
			continue
		}
		if err := journal.VerifyConsistency(a, b, p, ra, rb); err != nil {
			c.fault(CheckpointInconsist, cpObj(b), "not consistent with checkpoint %d: %v", a, err)
		}
	}
	return nil
}

// checkSegments compares the WORM copy of the journal with the database.
func (c *checker) checkSegments() error {
	segs := c.segments
	var latestCP uint64
	if n := len(c.cpSizes); n > 0 {
		latestCP = c.cpSizes[n-1]
	}
	var next uint64
	for i, s := range segs {
		c.rep.Stats.Segments++
		c.progress("segments", int64(i), int64(len(segs)))
		obj := "segment:" + s.Blob.String()
		if s.First != next {
			c.fault(SegmentGap, obj, "starts at leaf %d, previous segment ended at %d", s.First, next)
		}
		next = s.End
		b, ok := c.getBlob(s.Blob, "journal segment")
		if !ok {
			continue
		}
		seg, err := journal.ParseSegment(b)
		if err != nil {
			c.fault(SegmentMalformed, obj, "%v", err)
			continue
		}
		if seg.First != s.First || seg.End() != s.End {
			c.fault(SegmentMismatch, obj, "holds leaves %d..%d, index says %d..%d", seg.First, seg.End(), s.First, s.End)
		}
		if s.End > c.journalSize {
			c.fault(JournalTruncated, "journal", "segment %s holds leaves up to %d; the journal has %d", s.Blob.Short(), s.End, c.journalSize)
		}
		i := seg.First
		err = c.st.Leaves(c.ctx, seg.First, seg.End(), func(idx uint64, _, leaf []byte) error {
			for i < idx && i < seg.End() {
				i++
			}
			if k := idx - seg.First; k < uint64(len(seg.Leaves)) && !bytes.Equal(seg.Leaves[k], leaf) {
				c.fault(SegmentMismatch, obj, "leaf %d differs from the database journal", idx)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, note := range seg.Checkpoints {
			cp, err := c.openCheckpoint(noteSize(note), note)
			if err != nil {
				c.fault(SegmentMismatch, obj, "sealed checkpoint: %v", err)
				continue
			}
			if cp.Size > latestCP {
				c.fault(CheckpointRollback, cpObj(latestCP), "a sealed checkpoint covers %d leaves; the latest stored one covers %d", cp.Size, latestCP)
			} else if signed, ok := c.cpRoots[cp.Size]; !ok {
				if _, stored := c.checkpoints[cp.Size]; !stored {
					c.fault(CheckpointRollback, cpObj(cp.Size), "sealed in segment %s but absent from the database", s.Blob.Short())
				}
			} else if !bytes.Equal(signed, cp.Root) {
				c.fault(SegmentMismatch, obj, "sealed checkpoint %d has a different root than the stored one", cp.Size)
			}
			if root, ok := c.roots[cp.Size]; ok && !bytes.Equal(root, cp.Root) {
				c.fault(CheckpointRoot, cpObj(cp.Size), "sealed checkpoint root differs from the journal's")
			}
		}
	}
	if next < c.journalSize {
		// Unsealed leaves are normal for a few seconds after a commit, and
		// a tail of reads alone (searches, views) waits longer, up to the
		// read seal delay (FORMAT.md §5).
		var t archive.Time
		reads := true
		_ = c.st.Leaves(c.ctx, next, c.journalSize, func(idx uint64, _, leaf []byte) error {
			ev, err := journal.DecodeLeaf(idx, leaf)
			if idx == next && err == nil {
				t = ev.Time
			}
			if err != nil || !archive.IsReadEvent(ev.Type, ev.Payload) {
				reads = false
				return errStop
			}
			return nil
		})
		bound := c.opts.SealDelay
		if reads {
			bound = c.opts.ReadSealDelay
		}
		if !t.IsZero() && c.at.Sub(t.Time) > bound {
			what := "leaves"
			if reads {
				what = "reads"
			}
			c.fault(JournalUnsealed, journalObj(next), "%s %d..%d not sealed since %s (bound %s, at %s)", what, next, c.journalSize-1, t, bound, archive.At(c.at))
		}
	}
	return nil
}

func (c *checker) checkPending() error {
	return c.st.PendingRecords(c.ctx, store.RecordKey{}, 0, func(r store.PendingRecord) error {
		obj := fmt.Sprintf("record:%d/%d", r.Key.JournalIndex, r.Key.Ordinal)
		if archive.Hash(r.Data) != r.Hash {
			c.fault(RecordCorrupt, obj, "pending record does not match its hash")
		}
		if !c.opts.Restored && c.at.Sub(r.CreatedAt.Time) > c.opts.SealDelay {
			c.fault(RecordUnsealed, obj, "captured %s, not sealed within %s (at %s)", r.CreatedAt, c.opts.SealDelay, archive.At(c.at))
		}
		return nil
	})
}

// checkPacks checks every indexed pack was sealed by the journal and
// parses it, damaged or not: its records are checked one by one where the
// journal references them (checkEventRecords), each by its own hash, so a
// damaged pack costs one fault per damaged record and one for the blob.
func (c *checker) checkPacks() error {
	var rows []store.PackRow
	if err := c.st.Packs(c.ctx, func(p store.PackRow) error { rows = append(rows, p); return nil }); err != nil {
		return err
	}
	for i, p := range rows {
		c.rep.Stats.Packs++
		c.progress("packs", int64(i), int64(len(rows)))
		if u := c.uses[p.Blob]; u == nil || !u.has(refPack) {
			c.fault(IndexExtra, "pack:"+p.Blob.String(), "indexed pack not sealed by any journal event")
		}
		b, _ := c.getBlob(p.Blob, "pack")
		if b == nil {
			continue
		}
		pk, err := pack.Parse(b)
		if err != nil {
			c.fault(PackMalformed, "pack:"+p.Blob.String(), "%v", err)
			continue
		}
		if pk.Len() != p.Count {
			c.fault(PackMalformed, "pack:"+p.Blob.String(), "holds %d records, sealed with %d", pk.Len(), p.Count)
		}
	}
	return nil
}

// getBlob reads (and so re-hashes) a blob, recording faults. ok is false
// for any fault; the bytes of a damaged blob are still returned, for the
// checks that can use its intact parts (a pack's records).
func (c *checker) getBlob(id archive.BlobID, what string) (b []byte, ok bool) {
	b, err := c.r.Blobs.Get(c.ctx, id)
	c.verified[id] = true
	var ie *blob.IntegrityError
	switch {
	case errors.As(err, &ie):
		c.fault(BlobCorrupt, blobObj(id), "%s: %v", what, err)
		return ie.Data, false
	case errors.Is(err, blob.ErrNotFound):
		if u := c.uses[id]; u != nil {
			// Name everything that shares the blob (one sticker, many
			// messages): each is evidence lost.
			for _, ref := range u.refs {
				c.fault(BlobMissing, blobObj(id), "%s is missing from the blob store", ref)
			}
		} else {
			c.fault(BlobMissing, blobObj(id), "%s is missing from the blob store", what)
		}
		return nil, false
	case err != nil:
		c.fault(BlobUnreadable, blobObj(id), "%s: %v", what, err)
		return nil, false
	}
	c.rep.Stats.Blobs++
	c.rep.Stats.BlobBytes += int64(len(b))
	return b, true
}

var zeroPad = regexp.MustCompile(`=0+(\d)`)

func displayKey(k string) string {
	return zeroPad.ReplaceAllString(string(bytes.ReplaceAll([]byte(k), []byte{0}, []byte(","))), "=$1")
}

type dumpRow struct{ table, key, row string }

// compareIndex merge-joins the live projection with the rebuilt one.
func (c *checker) compareIndex(rebuilt store.Reader) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stream := func(r store.Reader) (<-chan dumpRow, <-chan error) {
		ch := make(chan dumpRow, 256)
		errc := make(chan error, 1)
		go func() {
			defer close(ch)
			errc <- r.DumpProjection(ctx, func(t, k, row string) error {
				select {
				case ch <- dumpRow{t, k, row}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		return ch, errc
	}
	live, liveErr := stream(c.st)
	want, wantErr := stream(rebuilt)
	tableOrder := map[string]int{}
	for i, t := range store.ProjectionTables {
		tableOrder[t] = i
	}
	order := func(t string) int { return tableOrder[t] }
	less := func(a, b dumpRow) bool {
		if a.table != b.table {
			return order(a.table) < order(b.table)
		}
		return a.key < b.key
	}
	l, lok := <-live
	w, wok := <-want
	for lok || wok {
		c.rep.Stats.IndexRows++
		switch {
		case lok && wok && l.table == w.table && l.key == w.key:
			if l.row != w.row {
				c.fault(IndexMismatch, l.table+" "+displayKey(l.key), "index row %s; the journal gives %s", l.row, w.row)
			}
			l, lok = <-live
			w, wok = <-want
		case !wok || (lok && less(l, w)):
			c.fault(IndexExtra, l.table+" "+displayKey(l.key), "index row %s is not explained by the journal", l.row)
			l, lok = <-live
		default:
			c.fault(IndexMissing, w.table+" "+displayKey(w.key), "the journal implies row %s", w.row)
			w, wok = <-want
		}
	}
	if err := <-liveErr; err != nil {
		return err
	}
	return <-wantErr
}

// requireExtensions raises the retention the journal requires of the
// packs and attachments of every message a retention.extended event
// named (§4.2): the rebuilt index (sc, a function of the journal) says
// which attachments a message has; the packs located through the journal
// say which holds its records.
func (c *checker) requireExtensions(sc store.Reader) error {
	for serial, until := range c.extended {
		row, err := sc.Message(c.ctx, serial)
		if err != nil {
			continue // a message the journal lacks is reported as such
		}
		atts, err := sc.Attachments(c.ctx, serial)
		if err != nil {
			return err
		}
		for _, a := range atts {
			if !a.Blob.IsZero() {
				c.require(a.Blob, until.Time)
			}
		}
		for _, ord := range []uint32{archive.OrdinalRaw, archive.OrdinalNormalized} {
			id, ok, err := c.records.PackOf(c.ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: ord})
			if err != nil {
				return err
			}
			if ok {
				c.require(id, until.Time)
			}
		}
	}
	return nil
}
