package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// The tamper suite (issue 12, "verify finds the insider's edits"): one
// case per attack an insider with file access can make, each named after
// the fault it must produce, each checking the fault's kind and the
// object it names — on a copy of one clean archive, which itself must
// verify without a fault.

// plantBlob writes bytes into the blob store behind its back, as an
// insider would: a well-formed object file, 0444, stored an hour ago.
func plantBlob(t *testing.T, dir string, data []byte) archive.BlobID {
	t.Helper()
	id := archive.Hash(data)
	p := blobPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	return id
}

// plantRetained is plantBlob with a retention file, as an insider making
// the hidden blob undeletable would write it.
func plantRetained(t *testing.T, dir string, data []byte) archive.BlobID {
	t.Helper()
	id := plantBlob(t, dir, data)
	mp := metaPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(mp), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, []byte(`{"retain_until":"2040-01-01T00:00:00.000Z","legal_hold":false}`+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	return id
}

func diskSigner(t *testing.T, dir string) *journal.Signer {
	t.Helper()
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, repo.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := journal.NewSigner(cfg.Origin, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rewriteJournal rewrites history as an insider holding the signing key
// would: edit changes events (returning true for those it changed), then
// every leaf hash, tree node and checkpoint is recomputed and re-signed
// with signer, and every sealed segment rewritten to match (the old
// segment blobs deleted), so that nothing but what the edit itself
// breaks gives it away.
func rewriteJournal(t *testing.T, dir string, signer *journal.Signer, edit func(ev *journal.Event) bool) {
	t.Helper()
	db := sqlDB(t, dir)
	rows, err := db.Query(`SELECT idx, leaf FROM journal ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			t.Fatal(err)
		}
		ev, err := journal.ParseLeaf(uint64(idx), leaf)
		if err != nil {
			t.Fatal(err)
		}
		if edit(ev) {
			if leaf, err = ev.Marshal(); err != nil {
				t.Fatal(err)
			}
		}
		leaves = append(leaves, leaf)
	}
	rows.Close()
	tree := journal.NewTree()
	roots := map[uint64][]byte{}
	exec1(t, db, `DELETE FROM tree_nodes`)
	for i, leaf := range leaves {
		h := journal.LeafHash(leaf)
		if _, err := db.Exec(`UPDATE journal SET leaf = ?, hash = ? WHERE idx = ?`, leaf, h, i); err != nil {
			t.Fatal(err)
		}
		tree.Append(h, func(n journal.Node) {
			if _, err := db.Exec(`INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`, n.Level, n.Index, n.Hash); err != nil {
				t.Fatal(err)
			}
		})
		roots[uint64(i+1)] = tree.Root()
	}
	type cp struct {
		size uint64
		note []byte
	}
	var cps []cp
	crow, err := db.Query(`SELECT size, time FROM checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	for crow.Next() {
		var size, ms int64
		if err := crow.Scan(&size, &ms); err != nil {
			t.Fatal(err)
		}
		note, err := signer.Sign(uint64(size), roots[uint64(size)], archive.MillisTime(ms))
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp{uint64(size), note})
	}
	crow.Close()
	for _, c := range cps {
		exec1(t, db, `UPDATE checkpoints SET note = ? WHERE size = ?`, c.note, c.size)
	}
	var segs []store.SegmentRow
	readOnly(t, dir).Store.Segments(context.Background(), func(s store.SegmentRow) error { segs = append(segs, s); return nil })
	for _, s := range segs {
		seg := &journal.Segment{First: s.First, Leaves: leaves[s.First:s.End]}
		for _, c := range cps {
			if c.size > s.First && c.size <= s.End {
				seg.Checkpoints = append(seg.Checkpoints, c.note)
			}
		}
		b := seg.Encode()
		id := plantBlob(t, dir, b)
		if id == s.Blob {
			continue
		}
		// The segment keeps its retention file, under its new name.
		if meta, err := os.ReadFile(metaPath(dir, s.Blob)); err == nil {
			os.MkdirAll(filepath.Dir(metaPath(dir, id)), 0o750)
			os.WriteFile(metaPath(dir, id), meta, 0o444)
			os.Remove(metaPath(dir, s.Blob))
		}
		os.Remove(blobPath(dir, s.Blob))
		exec1(t, db, `UPDATE segments SET blob = ? WHERE first = ?`, id[:], s.First)
	}
}

func metaPath(dir string, id archive.BlobID) string {
	s := id.String()
	return filepath.Join(dir, repo.BlobDir, "meta", s[:2], s+".json")
}

func packRows(t *testing.T, dir string) []store.PackRow {
	var out []store.PackRow
	readOnly(t, dir).Store.Packs(context.Background(), func(p store.PackRow) error { out = append(out, p); return nil })
	if len(out) == 0 {
		t.Fatal("no packs")
	}
	return out
}

// eventIndex finds the first journal event of a type.
func eventIndex(t *testing.T, dir, typ string) uint64 {
	t.Helper()
	found := ^uint64(0)
	readOnly(t, dir).Store.Leaves(context.Background(), 0, 1<<32, func(idx uint64, _, leaf []byte) error {
		if ev, err := journal.ParseLeaf(idx, leaf); err == nil && ev.Type == typ && found == ^uint64(0) {
			found = idx
		}
		return nil
	})
	if found == ^uint64(0) {
		t.Fatalf("no %s event", typ)
	}
	return found
}

func verifyWith(t *testing.T, dir string, opts verify.Options) *verify.Report {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	defer r.Close(ctx)
	opts.Scratch, opts.ScratchDir = archivetest.Engines().Scratch, t.TempDir()
	rep, err := verify.Run(ctx, r, opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func faultsOf(rep *verify.Report, kind string) []verify.Fault {
	var out []verify.Fault
	for _, f := range rep.Faults {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func TestTamper(t *testing.T) {
	clean := buildArchive(t)
	ctx := context.Background()
	type want struct{ kind, object string }
	cases := []struct {
		name string
		// do tampers with the copy and returns the faults verify must
		// report, and optionally its own run of verify.
		do   func(t *testing.T, dir string) []want
		opts verify.Options
		// only: these must be the only faults.
		only bool
		// auditorKey: verify is given the archive's original public key,
		// as an auditor holding a copy would (--public-key).
		auditorKey bool
	}{
		{name: verify.BlobUnreferenced, only: true, do: func(t *testing.T, dir string) []want {
			// Evidence hidden where no event points, and a "pack" of
			// records the journal never had.
			hidden := plantRetained(t, dir, []byte("a spreadsheet of client accounts, kept off the record"))
			fake, err := pack.Encode([]pack.Record{{JournalIndex: 3, Ordinal: 5, Data: []byte("unjournaled")}})
			if err != nil {
				t.Fatal(err)
			}
			fakePack := plantBlob(t, dir, fake)
			return []want{{verify.BlobUnreferenced, "blob:" + hidden.String()}, {verify.BlobUnreferenced, "blob:" + fakePack.String()}}
		}},
		{name: verify.BlobNewerThanJournal, do: func(t *testing.T, dir string) []want {
			// The database restored from an older copy while its blob
			// store keeps what was written since: the newer segment and
			// pack give it away.
			old := t.TempDir()
			for _, f := range []string{repo.DBFile, repo.DBFile + "-wal", repo.DBFile + "-shm"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					os.WriteFile(filepath.Join(old, f), b, 0o644)
				}
			}
			before := map[archive.BlobID]bool{}
			for _, s := range segments(t, dir) {
				before[s.Blob] = true
			}
			for _, p := range packRows(t, dir) {
				before[p.Blob] = true
			}
			w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Engine.Archive(ctx, "test", liveItems(1, 1, 3)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil { // seals a pack and a segment
				t.Fatal(err)
			}
			var out []want
			for _, s := range segments(t, dir) {
				if !before[s.Blob] {
					out = append(out, want{verify.BlobNewerThanJournal, "blob:" + s.Blob.String()})
				}
			}
			for _, p := range packRows(t, dir) {
				if !before[p.Blob] {
					out = append(out, want{verify.BlobNewerThanJournal, "blob:" + p.Blob.String()})
				}
			}
			if len(out) != 2 {
				t.Fatalf("want a new segment and a new pack, have %v", out)
			}
			for _, f := range []string{repo.DBFile, repo.DBFile + "-wal", repo.DBFile + "-shm"} {
				os.Remove(filepath.Join(dir, f))
				if b, err := os.ReadFile(filepath.Join(old, f)); err == nil {
					os.WriteFile(filepath.Join(dir, f), b, 0o644)
				}
			}
			return out
		}},
		{name: verify.BlobRetention, do: func(t *testing.T, dir string) []want {
			// Every retention file set to 2001: the store would let a
			// disposal delete everything today.
			var out []want
			filepath.WalkDir(filepath.Join(dir, repo.BlobDir, "meta"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				os.Chmod(p, 0o644)
				if err := os.WriteFile(p, []byte(`{"retain_until":"2001-01-01T00:00:00.000Z","legal_hold":false}`+"\n"), 0o444); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, 0o444)
				id, _ := archive.ParseBlobID(strings.TrimSuffix(filepath.Base(p), ".json"))
				out = append(out, want{verify.BlobRetention, "blob:" + id.String()})
				return nil
			})
			if len(out) < 4 {
				t.Fatalf("only %d retention files", len(out))
			}
			// And the store refuses to delete, deciding from the
			// journal's retention, not the edited file.
			r := readOnly(t, dir)
			p := packRows(t, dir)[0]
			if err := r.Blobs.Delete(ctx, p.Blob, blob.Retention{RetainUntil: p.RetainUntil.Time}); !errors.Is(err, blob.ErrRetained) {
				t.Fatalf("Delete of a pack the journal retains until %s: %v", p.RetainUntil, err)
			}
			if _, err := r.Blobs.Stat(ctx, p.Blob); err != nil {
				t.Fatalf("pack gone: %v", err)
			}
			return out
		}},
		{name: verify.BlobMissing, do: func(t *testing.T, dir string) []want {
			// One image shared by two messages: both are named.
			img := attachmentBlob(t, dir, 3)
			w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			it := liveItems(2, 0, 1)[0]
			it.Message.Kind = archive.KindImage
			it.Message.Attachments = []archive.Attachment{{Role: "image", Blob: img, Size: 1200, MediaType: "image/jpeg", Status: archive.AttachmentFetched}}
			res, err := w.Engine.Archive(ctx, "test", []ingest.Item{it})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			os.Remove(blobPath(dir, img))
			rep := run(t, dir, time.Now())
			var named []string
			for _, f := range faultsOf(rep, verify.BlobMissing) {
				if f.Object == "blob:"+img.String() {
					named = append(named, f.Detail)
				}
			}
			sort.Strings(named)
			if len(named) != 2 || !strings.Contains(named[0], "serial 3 ") || !strings.Contains(named[1], fmt.Sprintf("serial %d ", res[0].Serial)) {
				t.Fatalf("blob.missing should name serial 3 and serial %d: %q", res[0].Serial, named)
			}
			return []want{{verify.BlobMissing, "blob:" + img.String()}}
		}},
		{name: verify.SupervisionGap, do: func(t *testing.T, dir string) []want {
			// Two more messages, and the supervisor's cursor moved past
			// them in the cursors table: they are never evaluated.
			w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Engine.Archive(ctx, "test", liveItems(3, 0, 2)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			exec1(t, sqlDB(t, dir), `UPDATE cursors SET value = '35' WHERE connector = 'supervise'`)
			return []want{{verify.SupervisionCursor, "cursor:supervise"}, {verify.SupervisionGap, "serial:34"}, {verify.SupervisionGap, "serial:35"}}
		}},
		{name: verify.SupervisionCursor, only: true, do: func(t *testing.T, dir string) []want {
			// The cursor moved back: the supervisor would evaluate
			// serials again that the journal says it evaluated.
			exec1(t, sqlDB(t, dir), `UPDATE cursors SET value = '10' WHERE connector = 'supervise'`)
			return []want{{verify.SupervisionCursor, "cursor:supervise"}}
		}},
		{name: verify.SupervisionPolicy, do: func(t *testing.T, dir string) []want {
			// The progress event rewritten (and everything re-signed) to
			// say the batch was evaluated without the policy in force.
			idx := eventIndex(t, dir, archive.EventSupervisionProgress)
			rewriteJournal(t, dir, diskSigner(t, dir), func(ev *journal.Event) bool {
				if ev.Index != idx {
					return false
				}
				ev.Payload = []byte(`{"from":0,"through":33,"policies":[]}`)
				return true
			})
			return []want{{verify.SupervisionPolicy, fmt.Sprintf("journal:%d", idx)}}
		}},
		{name: verify.JournalTime, do: func(t *testing.T, dir string) []want {
			// An event dated 60 days before the leaf it follows,
			// re-signed with the key on disk.
			idx := eventIndex(t, dir, archive.EventRecordsSealed)
			var prev archive.Time
			rewriteJournal(t, dir, diskSigner(t, dir), func(ev *journal.Event) bool {
				if ev.Index == idx-1 {
					prev = ev.Time
				}
				if ev.Index != idx {
					return false
				}
				ev.Time = archive.At(prev.Add(-60 * 24 * time.Hour))
				return true
			})
			return []want{{verify.JournalTime, fmt.Sprintf("journal:%d", idx)}}
		}},
		{name: verify.ConfigPublicKeyChange + "/replaced key", do: func(t *testing.T, dir string) []want {
			// A new key, every checkpoint and segment re-signed with it,
			// the configuration and key file replaced: leaf 0 still
			// records the original key, so verify needs no key from the
			// auditor to see it.
			cfg, _ := repo.LoadConfig(dir)
			skey, vkey, _ := journal.GenerateKey("wxarchive-" + cfg.ArchiveID[:12])
			s, err := journal.NewSigner(cfg.Origin, skey)
			if err != nil {
				t.Fatal(err)
			}
			rewriteJournal(t, dir, s, func(*journal.Event) bool { return false })
			replaceInFile(t, filepath.Join(dir, repo.ConfigFile), cfg.PublicKey, vkey)
			os.WriteFile(filepath.Join(dir, repo.KeyFile), []byte(skey+"\n"), 0o600)
			return []want{{verify.ConfigPublicKeyChange, repo.ConfigFile}, {verify.CheckpointSignature, ""}}
		}},
		{name: verify.ConfigPublicKeyChange + "/damaged key", only: true, do: func(t *testing.T, dir string) []want {
			// One character of the configured key changed: verify still
			// runs, checks every checkpoint by the journal's key, and
			// reports the configuration.
			cfg, _ := repo.LoadConfig(dir)
			bad := damageKey(cfg.PublicKey)
			replaceInFile(t, filepath.Join(dir, repo.ConfigFile), cfg.PublicKey, bad)
			return []want{{verify.ConfigPublicKeyChange, repo.ConfigFile}}
		}},
		{name: verify.ConfigPublicKeyChange + "/damaged key, auditor's key", only: true, auditorKey: true, do: func(t *testing.T, dir string) []want {
			// The same damage, with the auditor's copy of the key: it
			// does not stop verify, and only the configuration is at
			// fault.
			cfg, _ := repo.LoadConfig(dir)
			bad := damageKey(cfg.PublicKey)
			replaceInFile(t, filepath.Join(dir, repo.ConfigFile), cfg.PublicKey, bad)
			return []want{{verify.ConfigPublicKeyChange, repo.ConfigFile}}
		}},
		{name: verify.KeyMismatch, do: func(t *testing.T, dir string) []want {
			return []want{{verify.KeyMismatch, "public-key"}, {verify.CheckpointSignature, ""}}
		}, opts: verify.Options{PublicKey: otherKey(t)}},
		{name: verify.KeyRotation, do: func(t *testing.T, dir string) []want {
			// A key.rotated event the key in force did not sign (its note
			// signed by the new key itself), and checkpoints signed by
			// the new key after it.
			cfg, _ := repo.LoadConfig(dir)
			skey, vkey, _ := journal.GenerateKey("wxarchive-" + cfg.ArchiveID[:12])
			next, _ := journal.NewSigner(cfg.Origin, skey)
			note, _ := next.SignStatement(journal.RotationStatement(cfg.Origin, cfg.PublicKey, vkey))
			w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			ev, _ := journal.NewEvent(archive.EventKeyRotated, "cli:mallory", archive.Time{}, nil,
				&archive.KeyRotatedEvent{PublicKey: vkey, PreviousKey: cfg.PublicKey, Note: string(note)})
			idx, err := w.Engine.RotateSigner(ctx, ev, next)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Engine.Append(ctx, accessEvent(t, "cli:mallory", 2)); err != nil {
				t.Fatal(err)
			}
			w.Engine.Close(ctx, true)
			w.Engine = nil
			w.Close(ctx)
			return []want{{verify.KeyRotation, fmt.Sprintf("journal:%d", idx)}, {verify.CheckpointSignature, ""}}
		}},
		{name: verify.FileMode, do: func(t *testing.T, dir string) []want {
			os.Chmod(filepath.Join(dir, repo.KeyFile), 0o644)
			p := packRows(t, dir)[0].Blob
			os.Chmod(blobPath(dir, p), 0o664)
			return []want{{verify.FileMode, "file:" + repo.KeyFile}, {verify.FileMode, "file:blobs/objects/" + p.String()[:2] + "/" + p.String()}}
		}, only: true},
		{name: verify.JournalLeafMalformed, only: true, do: func(t *testing.T, dir string) []want {
			idx := appendRawLeaf(t, dir, oversizeAccess)
			return []want{{verify.JournalLeafMalformed, fmt.Sprintf("journal:%d", idx)}}
		}},
		{name: verify.RecordCorrupt, do: func(t *testing.T, dir string) []want {
			damageRecord(t, dir, 20, archive.OrdinalRaw)
			return []want{{verify.RecordCorrupt, "serial:20"}}
		}},
	}
	t.Run("clean", func(t *testing.T) {
		rep := run(t, clean, time.Now())
		if !rep.OK || len(rep.Notices) != 0 || rep.Stats.Keys != 1 {
			t.Fatalf("clean archive: %+v %+v", rep.Faults, rep.Notices)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, clean)
			opts := c.opts
			if c.auditorKey {
				cfg, err := repo.LoadConfig(clean)
				if err != nil {
					t.Fatal(err)
				}
				opts.PublicKey = cfg.PublicKey
			}
			wants := c.do(t, dir)
			rep := verifyWith(t, dir, opts)
			for _, f := range rep.Faults[:min(len(rep.Faults), 8)] {
				t.Logf("%s %s: %.160s", f.Kind, f.Object, f.Detail)
			}
			if rep.OK {
				t.Fatal("verify found nothing")
			}
			for _, w := range wants {
				if !hasFault(rep, w.kind, w.object) {
					t.Errorf("want fault %s %s; got %+v", w.kind, w.object, rep.Faults[:min(len(rep.Faults), 12)])
				}
			}
			if c.only {
				for _, f := range rep.Faults {
					expected := false
					for _, w := range wants {
						expected = expected || f.Kind == w.kind && (w.object == "" || f.Object == w.object)
					}
					if !expected {
						t.Errorf("unrelated fault %+v", f)
					}
				}
			}
		})
	}
}

func otherKey(t *testing.T) string {
	_, vkey, err := journal.GenerateKey("wxarchive-other")
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// accessEvent is an access.view of one message, as the app journals it.
func accessEvent(t *testing.T, actor string, serial uint64) journal.Event {
	t.Helper()
	ev, err := journal.NewEvent(archive.EventAccessView, actor, archive.Time{}, []string{fmt.Sprintf("serial:%d", serial)},
		&archive.AccessEvent{What: "message", Serials: []uint64{serial}, Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestNotices: what a crash or a running writer leaves in the blob store
// is reported as a notice, not a fault — a copy of journal leaves or of
// records the journal holds (a seal interrupted between its write and
// its commit), and a blob a writer holding the archive stored moments
// ago — while the same blob stored long ago, or with no writer, is a
// fault.
func TestNotices(t *testing.T) {
	clean := buildArchive(t)
	ctx := context.Background()
	noticed := func(rep *verify.Report, kind, object string) bool {
		for _, n := range rep.Notices {
			if n.Kind == kind && n.Object == object {
				return true
			}
		}
		return false
	}
	t.Run("interrupted seal", func(t *testing.T) {
		dir := copyDir(t, clean)
		r := readOnly(t, dir)
		// A segment of the same leaves as a sealed one, without its
		// checkpoints: other bytes, the same journal.
		seg := segments(t, dir)[0]
		b, err := r.Blobs.Get(ctx, seg.Blob)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := journal.ParseSegment(b)
		if err != nil {
			t.Fatal(err)
		}
		segCopy := plantBlob(t, dir, (&journal.Segment{First: parsed.First, Leaves: parsed.Leaves}).Encode())
		// A pack of two records the journal holds (in another pack).
		pb, err := r.Blobs.Get(ctx, packRows(t, dir)[0].Blob)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pack.Parse(pb)
		if err != nil {
			t.Fatal(err)
		}
		var recs []pack.Record
		for _, e := range p.Entries()[:2] {
			data, err := p.Record(e.JournalIndex, e.Ordinal)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, pack.Record{JournalIndex: e.JournalIndex, Ordinal: e.Ordinal, Data: data})
		}
		enc, err := pack.Encode(recs)
		if err != nil {
			t.Fatal(err)
		}
		packCopy := plantBlob(t, dir, enc)
		rep := verifyWith(t, dir, verify.Options{})
		if !rep.OK {
			t.Fatalf("faults: %+v", rep.Faults)
		}
		for _, id := range []archive.BlobID{segCopy, packCopy} {
			if !noticed(rep, verify.NoticeOrphan, "blob:"+id.String()) {
				t.Errorf("no %s notice for %s: %+v", verify.NoticeOrphan, id.Short(), rep.Notices)
			}
		}
	})
	t.Run("in flight", func(t *testing.T) {
		dir := copyDir(t, clean)
		recent := plantRetained(t, dir, []byte("an attachment a running writer has just stored"))
		now := time.Now()
		os.Chtimes(blobPath(dir, recent), now, now)
		old := plantRetained(t, dir, []byte("stored an hour ago and never referenced"))
		// No writer: both are unreferenced.
		rep := verifyWith(t, dir, verify.Options{})
		if !hasFault(rep, verify.BlobUnreferenced, "blob:"+recent.String()) || !hasFault(rep, verify.BlobUnreferenced, "blob:"+old.String()) {
			t.Fatalf("without a writer: %+v", rep.Faults)
		}
		// A writer holds the archive: the recent one is in flight.
		w := archivetest.OpenDir(t, dir)
		rep = verifyWith(t, dir, verify.Options{})
		if !noticed(rep, verify.NoticeInFlight, "blob:"+recent.String()) || hasFault(rep, verify.BlobUnreferenced, "blob:"+recent.String()) {
			t.Errorf("with a writer, the recent blob: faults %+v notices %+v", rep.Faults, rep.Notices)
		}
		if !hasFault(rep, verify.BlobUnreferenced, "blob:"+old.String()) {
			t.Errorf("with a writer, the blob stored an hour ago: faults %+v", rep.Faults)
		}
		w.Close(ctx)
	})
	t.Run("staged", func(t *testing.T) {
		// An attachment a failed ingest stored staged (no retention) and
		// never committed: deletable, and no fault.
		dir := copyDir(t, clean)
		staged := plantBlob(t, dir, []byte("the media of a request that failed before its commit"))
		rep := verifyWith(t, dir, verify.Options{})
		if !rep.OK || !noticed(rep, verify.NoticeStaged, "blob:"+staged.String()) {
			t.Fatalf("faults %+v notices %+v", rep.Faults, rep.Notices)
		}
	})
}

// damageKey changes one character of the base64 key of a note verifier
// key (name+hash+key; the key itself may contain '+').
func damageKey(k string) string {
	name, rest, _ := strings.Cut(k, "+")
	i := len(name) + 1 + strings.Index(rest, "+") + 5
	return k[:i] + string(rune(k[i]^1)) + k[i+1:]
}

// TestStagedAttachmentBeforeSeal: an attachment is stored staged and
// locked when its request is answered, at the latest when its leaf is
// sealed. A committed message whose attachment is not locked yet (its
// caller has not been answered, the leaf is not sealed) is no
// blob.retention fault; after the seal the attachment has the message's
// retention.
func TestStagedAttachmentBeforeSeal(t *testing.T) {
	ctx := context.Background()
	dir := archivetest.InitDir(t, repo.InitOptions{Setup: archivetest.NoPolicies})
	w := archivetest.OpenDir(t, dir)
	img := []byte("\xff\xd8\xff\xe0 a staged jpeg")
	id, err := w.Blobs.Put(ctx, img, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := liveItems(7, 0, 1)[0]
	it.Message.Kind = archive.KindImage
	it.Message.Attachments = []archive.Attachment{{Role: "image", Blob: id, Size: int64(len(img)), MediaType: "image/jpeg", Status: archive.AttachmentFetched}}
	w.Engine.Submit(ctx, "test", []ingest.Item{it}) // committed, never waited for: not locked
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := w.Store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.NextSerial > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message did not commit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if info, err := w.Blobs.Stat(ctx, id); err != nil || !info.RetainUntil.IsZero() {
		t.Fatalf("the attachment before its lock: %+v %v", info, err)
	}
	if rep := verifyWith(t, dir, verify.Options{}); !rep.OK {
		t.Fatalf("committed, not sealed, not locked: %+v", rep.Faults)
	}
	row, err := w.Store.Message(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil { // seals, locking what the leaves reference
		t.Fatal(err)
	}
	r := readOnly(t, dir)
	if info, err := r.Blobs.Stat(ctx, id); err != nil || !info.RetainUntil.Equal(row.RetainUntil.Time) {
		t.Fatalf("after the seal the attachment is retained until %v (%v), want %s", info.RetainUntil, err, row.RetainUntil)
	}
	if rep := verifyWith(t, dir, verify.Options{}); !rep.OK {
		t.Fatalf("sealed: %+v", rep.Faults)
	}
}
