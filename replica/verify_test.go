package replica_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// copied is an archive and a replica of it that reaches the primary's
// whole journal: a run, a seal of the replica.synced event, a second run.
type copied struct {
	r   *repo.Repo
	dir string // the replica's directory
	dst blob.Store
}

func newCopy(t *testing.T) *copied {
	t.Helper()
	r := newArchive(t)
	dir := t.TempDir()
	c := &copied{r: r, dir: dir, dst: openStore(t, dir)}
	c.sync(t)
	return c
}

// sync replicates, seals the primary's replica.synced and replicates
// again, so that the replica holds the primary's whole journal.
func (c *copied) sync(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := replica.Replicate(ctx, primary(c.r), c.dst, replica.Options{Location: "file:test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.r.Engine.Seal(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *copied) verify(t *testing.T, pin bool, withPrimary bool) *verify.Report {
	t.Helper()
	opts := replica.VerifyOptions{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()}
	if pin {
		opts.PublicKey = c.r.Config.PublicKey
	}
	if withPrimary {
		opts.Primary = c.r.Store
	}
	rep, err := replica.Verify(context.Background(), c.dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// path is where the replica's fsblob store keeps a blob and its metadata.
func (c *copied) paths(id archive.BlobID) (obj, meta string) {
	h := id.String()
	return filepath.Join(c.dir, "objects", h[:2], h), filepath.Join(c.dir, "meta", h[:2], h+".json")
}

// remove deletes a blob behind the store's back (what a person with file
// access can do to a replica on disk).
func (c *copied) remove(t *testing.T, id archive.BlobID) {
	t.Helper()
	obj, meta := c.paths(id)
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	os.Remove(meta)
}

func (c *copied) latest(t *testing.T) (*replica.Chain, *replica.Manifest) {
	t.Helper()
	chain, probs, err := replica.ReadChain(context.Background(), c.dst)
	if err != nil || len(probs) > 0 {
		t.Fatalf("chain: %v %v", probs, err)
	}
	return chain, chain.Latest
}

// rewrite replaces the latest manifest by m (what a forger does after
// replacing a segment).
func (c *copied) rewrite(t *testing.T, old archive.BlobID, m *replica.Manifest) {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.dst.Put(context.Background(), b, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.remove(t, old)
}

func kinds(rep *verify.Report) []string {
	var out []string
	for _, f := range rep.Faults {
		out = append(out, f.Kind)
	}
	sort.Strings(out)
	return out
}

func wantFault(t *testing.T, rep *verify.Report, kind, object string) {
	t.Helper()
	t.Logf("fault kinds: %v", kinds(rep))
	if rep.OK {
		t.Fatalf("verify passed; want %s", kind)
	}
	for _, f := range rep.Faults {
		if f.Kind == kind && strings.Contains(f.Object, object) {
			return
		}
	}
	t.Fatalf("no %s fault naming %q; faults: %+v", kind, object, rep.Faults)
}

// TestVerifyReplicaCleanCopy: a fresh copy verifies on its own, with its
// own key (and a notice saying so), with the archive's key pinned, and
// against the primary.
func TestVerifyReplicaCleanCopy(t *testing.T) {
	c := newCopy(t)
	for _, tc := range []struct {
		name          string
		pin, withPrim bool
	}{{"alone", false, false}, {"pinned", true, false}, {"primary", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			rep := c.verify(t, tc.pin, tc.withPrim)
			if !rep.OK {
				t.Fatalf("faults: %+v", rep.Faults)
			}
			if rep.Stats.Messages != 32 || rep.Stats.Segments == 0 || rep.Stats.Packs == 0 {
				t.Fatalf("stats %+v", rep.Stats)
			}
			self := false
			for _, n := range rep.Notices {
				self = self || n.Kind == replica.NoticeSelfKey
			}
			if self == tc.pin {
				t.Fatalf("self-key notice %v with pin %v: %+v", self, tc.pin, rep.Notices)
			}
		})
	}
}

func packOf(t *testing.T, r *repo.Repo) archive.BlobID {
	t.Helper()
	var id archive.BlobID
	r.Store.Packs(context.Background(), func(p store.PackRow) error {
		if id.IsZero() {
			id = p.Blob
		}
		return nil
	})
	if id.IsZero() {
		t.Fatal("no pack")
	}
	return id
}

func TestVerifyReplicaByteFlip(t *testing.T) {
	c := newCopy(t)
	id := packOf(t, c.r)
	obj, _ := c.paths(id)
	os.Chmod(obj, 0o644)
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(obj, b, 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(obj, 0o444)
	wantFault(t, c.verify(t, true, false), verify.BlobCorrupt, id.String())
}

func TestVerifyReplicaMissingPack(t *testing.T) {
	c := newCopy(t)
	id := packOf(t, c.r)
	c.remove(t, id)
	rep := c.verify(t, true, false)
	wantFault(t, rep, verify.BlobMissing, id.String())
	wantFault(t, rep, verify.RecordMissing, "")
}

// replaceSegment rewrites the replica's last segment through edit and
// stores it in place of the original, with a manifest that lists it.
func (c *copied) replaceSegment(t *testing.T, edit func(*journal.Segment), editManifest func(*replica.Manifest)) archive.BlobID {
	t.Helper()
	ctx := context.Background()
	chain, m := c.latest(t)
	ref := m.Segments[len(m.Segments)-1]
	b, err := c.dst.Get(ctx, ref.Blob)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := journal.ParseSegment(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(seg)
	nid, err := c.dst.Put(ctx, seg.Encode(), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.remove(t, ref.Blob)
	m.Segments[len(m.Segments)-1].Blob = nid
	if editManifest != nil {
		editManifest(m)
	}
	c.rewrite(t, chain.LatestID, m)
	return nid
}

// TestVerifyReplicaSegmentAltered: a leaf of a sealed segment changed, the
// segment re-stored under its new hash and the manifest rewritten to list
// it: every hash matches, but the tree's root is not the signed one.
func TestVerifyReplicaSegmentAltered(t *testing.T) {
	c := newCopy(t)
	c.replaceSegment(t, func(s *journal.Segment) {
		for i, leaf := range s.Leaves {
			if bytes.Contains(leaf, []byte("replica.synced")) {
				s.Leaves[i] = bytes.Replace(leaf, []byte(`"cli:test"`), []byte(`"cli:evil"`), 1)
				return
			}
		}
		t.Fatal("no leaf to alter")
	}, nil)
	rep := c.verify(t, true, false)
	wantFault(t, rep, verify.CheckpointRoot, "checkpoint:")
}

// TestVerifyReplicaCheckpointForged: the last segment's checkpoint
// replaced by one signed with another key (same origin, same root), the
// manifest rewritten to match: the pinned key refuses it.
func TestVerifyReplicaCheckpointForged(t *testing.T) {
	c := newCopy(t)
	sk, _, err := journal.GenerateKey(c.r.Config.Origin)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := journal.NewSigner(c.r.Config.Origin, sk)
	if err != nil {
		t.Fatal(err)
	}
	var forged []byte
	c.replaceSegment(t, func(s *journal.Segment) {
		last := s.Checkpoints[len(s.Checkpoints)-1]
		cp, err := journal.PeekCheckpoint(last)
		if err != nil {
			t.Fatal(err)
		}
		forged, err = forger.Sign(cp.Size, cp.Root, cp.Time)
		if err != nil {
			t.Fatal(err)
		}
		s.Checkpoints[len(s.Checkpoints)-1] = forged
	}, func(m *replica.Manifest) { m.Checkpoint = string(forged) })
	wantFault(t, c.verify(t, true, false), verify.CheckpointSignature, "checkpoint:")
}

// TestVerifyReplicaRollback: after two copies with new messages between,
// the latest manifest is removed: the segments and packs it listed are
// newer than the journal the remaining manifests describe; and when the
// newer blobs are removed too, the primary's replica.synced events still
// show it.
func TestVerifyReplicaRollback(t *testing.T) {
	ctx := context.Background()
	c := newCopy(t)
	before, _ := c.latest(t)
	line := `{"msgid":"new-1","action":"send","from":"zhangwei","tolist":["lisi"],"roomid":"","msgtime":1700000070000,"msgtype":"text","text":{"content":"after the first copy"}}` + "\n"
	in := &jsonl.Ingester{Engine: c.r.Engine, Blobs: c.r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:more"}
	if sum, err := in.Run(ctx, strings.NewReader(line)); err != nil || sum.Archived != 1 {
		t.Fatalf("ingest: %+v %v", sum, err)
	}
	if _, err := c.r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	c.sync(t)
	after, _ := c.latest(t)
	if after.TreeSize <= before.TreeSize {
		t.Fatalf("second copy did not grow: %d → %d", before.TreeSize, after.TreeSize)
	}
	if rep := c.verify(t, true, true); !rep.OK {
		t.Fatalf("before the rollback: %+v", rep.Faults)
	}
	// Remove every manifest newer than the first copy's.
	found, err := replica.Manifests(ctx, c.dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if f.Manifest.TreeSize > before.TreeSize {
			c.remove(t, f.ID)
		}
	}
	rep := c.verify(t, true, false)
	wantFault(t, rep, replica.ProblemRollback, "blob:")

	// The newer segments and packs removed too: alone the copy looks
	// whole; the primary knows better.
	_, m := c.latest(t)
	if m.TreeSize != before.TreeSize {
		t.Fatalf("latest after removal: %d, want %d", m.TreeSize, before.TreeSize)
	}
	for _, f := range rep.Faults {
		if f.Kind == replica.ProblemRollback {
			id, err := archive.ParseBlobID(strings.TrimPrefix(f.Object, "blob:"))
			if err != nil {
				t.Fatal(err)
			}
			c.remove(t, id)
		}
	}
	if rep := c.verify(t, true, false); !rep.OK {
		t.Fatalf("a consistent older copy: %+v", rep.Faults)
	}
	wantFault(t, c.verify(t, true, true), replica.ProblemRollback, "replica:")
}

// TestVerifyReplicaExtraFile: a retained blob nothing references.
func TestVerifyReplicaExtraFile(t *testing.T) {
	c := newCopy(t)
	id, err := c.dst.Put(context.Background(), []byte("planted evidence"), blob.PutOptions{RetainUntil: time.Now().AddDate(5, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	wantFault(t, c.verify(t, true, false), verify.BlobUnreferenced, id.String())
}

// TestVerifyReplicaDiverged: a replica checked against another archive is
// not a prefix of its journal.
func TestVerifyReplicaDiverged(t *testing.T) {
	c := newCopy(t)
	other := newArchive(t)
	rep, err := replica.Verify(context.Background(), c.dst, replica.VerifyOptions{Scratch: archivetest.Engines().Scratch,
		ScratchDir: t.TempDir(), PublicKey: c.r.Config.PublicKey, Primary: other.Store})
	if err != nil {
		t.Fatal(err)
	}
	wantFault(t, rep, replica.ProblemDiverged, "replica:")
}

// TestVerifyReplicaEmpty: a directory that holds no manifest.
func TestVerifyReplicaEmpty(t *testing.T) {
	dst := openStore(t, t.TempDir())
	rep, err := replica.Verify(context.Background(), dst, replica.VerifyOptions{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	wantFault(t, rep, replica.ProblemEmpty, "replica")
}
