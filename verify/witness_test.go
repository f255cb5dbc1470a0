package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
	"github.com/wxarchive/wxarchive/witness"
)

// The witness cases of the tamper suite. Each attack is one an insider
// with the archive's disk and signing key can carry out so that the
// archive agrees with itself: verify alone passes (asserted, that is why a
// witness exists), and verify with any of the three kinds of witness that
// saw the archive before the attack names it.

// witnesses are one of each kind, all real: a directory, and a witness
// server (the one `wxarchive witness serve` runs) spoken to over HTTP as a
// plain checkpoint store and as a C2SP tlog-witness.
type witnesses struct {
	all []witness.Witness
}

func newWitnesses(t *testing.T, cfg *repo.Config) *witnesses {
	t.Helper()
	skey, vkey, err := witness.GenerateCosignerKey("witness.test/w")
	if err != nil {
		t.Fatal(err)
	}
	cos, err := witness.NewCosigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := witness.ParseLogKey(cfg.Origin + "=" + cfg.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := witness.NewServer(t.TempDir(), []witness.LogKey{lk}, cos, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h, err := witness.NewHTTPWitness("http", ts.URL+"/checkpoints/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := witness.NewC2SPWitness("c2sp", ts.URL, "", []string{vkey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &witnesses{all: []witness.Witness{witness.NewDirWitness("dir", t.TempDir()), h, c}}
}

// publish sends the archive's newest checkpoint to every witness, as
// serve does every few seconds.
func (w *witnesses) publish(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	r := readOnly(t, dir)
	p := &witness.Publishing{Log: witness.NewLog(r.Verifier, r.Store),
		Latest: func(ctx context.Context) ([]byte, error) {
			row, err := r.Store.LatestCheckpoint(ctx)
			return row.Note, err
		}}
	for _, x := range w.all {
		p.Witnesses = append(p.Witnesses, x)
	}
	if err := p.PublishOnce(ctx); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func runWith(t *testing.T, dir string, now time.Time, opts verify.Options) *verify.Report {
	t.Helper()
	opts.Now = func() time.Time { return now }
	opts.Scratch, opts.ScratchDir = archivetest.Engines().Scratch, t.TempDir()
	rep, err := verify.Run(context.Background(), readOnly(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// addActivity opens the archive as serve would and commits n text
// messages and a directory update (one commit each). With crash, the
// writer stops without sealing: the records and leaves are acknowledged
// and durable in the database only, as within the seal delay.
func addActivity(t *testing.T, dir, tag string, n int, crash bool) {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{
		ID: "emp-" + tag, Kind: archive.ParticipantEmployee, Name: "李娜", Department: "财富管理部", ValidFrom: archive.MillisTime(1700000000000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("%s-%d", tag, i)
		m := &archive.Message{Source: "t:w", SourceID: id, SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
			SentAt: archive.MillisTime(1700000000000 + int64(i)), Sender: "zhangwei", Recipients: []string{"wmC"}, Direction: archive.DirectionOutbound, Text: "消息 " + id}
		if _, err := r.Engine.Archive(ctx, "test", []ingest.Item{{Source: "t:w", Raw: []byte(id), Message: m}}); err != nil {
			t.Fatal(err)
		}
	}
	if crash {
		if err := r.Engine.Close(ctx, false); err != nil {
			t.Fatal(err)
		}
		r.Engine = nil
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func journalSize(t *testing.T, dir string) uint64 {
	t.Helper()
	h, err := readOnly(t, dir).Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.JournalSize
}

// resign is what an insider with the signing key does after editing the
// journal table: recompute every leaf hash and tree node from the leaves,
// re-sign every checkpoint the journal still covers (at its time, or at
// resignAt for the newest, which must cover the whole journal), drop the
// others, and rebuild the index from the journal.
func resign(t *testing.T, dir string, resignAt time.Time) {
	t.Helper()
	ctx := context.Background()
	db := sqlDB(t, dir)
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	skey, err := os.ReadFile(filepath.Join(dir, repo.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := journal.NewSigner(cfg.Origin, string(skey))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT idx, leaf FROM journal ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	tree := journal.NewTree()
	roots := map[uint64][]byte{}
	nodes := map[compact.NodeID][]byte{}
	hashes := map[int64][]byte{}
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			t.Fatal(err)
		}
		h := journal.LeafHash(leaf)
		hashes[idx] = h
		tree.Append(h, func(n journal.Node) { nodes[compact.NewNodeID(n.Level, n.Index)] = n.Hash })
		roots[tree.Size()] = tree.Root()
	}
	rows.Close()
	size := tree.Size()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for idx, h := range hashes {
		if _, err := tx.Exec(`UPDATE journal SET hash = ? WHERE idx = ?`, h, idx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(`DELETE FROM tree_nodes`); err != nil {
		t.Fatal(err)
	}
	for id, h := range nodes {
		if _, err := tx.Exec(`INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`, id.Level, int64(id.Index), h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(`DELETE FROM checkpoints WHERE size > ?`, int64(size)); err != nil {
		t.Fatal(err)
	}
	type cpRow struct {
		size int64
		at   int64
	}
	var cps []cpRow
	crows, err := tx.Query(`SELECT size, time FROM checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	for crows.Next() {
		var c cpRow
		crows.Scan(&c.size, &c.at)
		cps = append(cps, c)
	}
	crows.Close()
	if len(cps) == 0 || cps[len(cps)-1].size != int64(size) {
		cps = append(cps, cpRow{size: int64(size)})
	}
	for i, c := range cps {
		at := archive.MillisTime(c.at)
		if i == len(cps)-1 {
			at = archive.At(resignAt)
		}
		note, err := signer.Sign(uint64(c.size), roots[uint64(c.size)], at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO checkpoints (size, time, note) VALUES (?, ?, ?) ON CONFLICT (size) DO UPDATE SET time = excluded.time, note = excluded.note`,
			c.size, at.UnixMilli(), note); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var next int64
	db.QueryRow(`SELECT coalesce(max(serial), 0) + 1 FROM messages`).Scan(&next)
	exec1(t, db, `UPDATE meta SET value = ? WHERE key = 'next_serial'`, fmt.Sprint(next))
}

// replaceKey is the insider's way round an auditor who does not bring the
// public key: a new key in the key file and the configuration, leaf 0
// (which records the key) rewritten, every checkpoint re-signed and every
// sealed segment rewritten from the database, the old ones deleted.
func replaceKey(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := journal.GenerateKey("wxarchive-" + cfg.ArchiveID[:12])
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(dir, repo.KeyFile)
	if err := os.WriteFile(kf, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, repo.ConfigFile)
	y, _ := os.ReadFile(cf)
	if err := os.WriteFile(cf, bytes.ReplaceAll(y, []byte(cfg.PublicKey), []byte(vkey)), 0o644); err != nil {
		t.Fatal(err)
	}
	db := sqlDB(t, dir)
	exec1(t, db, `UPDATE journal SET leaf = CAST(replace(CAST(leaf AS TEXT), ?, ?) AS BLOB) WHERE idx = 0`, cfg.PublicKey, vkey)
	resign(t, dir, time.Now())
	// Segments: rebuilt from the database's leaves and checkpoints.
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	var segs []store.SegmentRow
	r.Store.Segments(ctx, func(s store.SegmentRow) error { segs = append(segs, s); return nil })
	retain := map[archive.BlobID]time.Time{}
	r.Blobs.List(ctx, func(i blob.Info) error { retain[i.ID] = i.RetainUntil; return nil })
	var notes = map[uint64][]byte{}
	r.Store.Checkpoints(ctx, func(c store.CheckpointRow) error { notes[c.Size] = c.Note; return nil })
	for _, sg := range segs {
		seg := &journal.Segment{First: sg.First}
		r.Store.Leaves(ctx, sg.First, sg.End, func(_ uint64, _, leaf []byte) error {
			seg.Leaves = append(seg.Leaves, bytes.Clone(leaf))
			return nil
		})
		for size := sg.First + 1; size <= sg.End; size++ {
			if n, ok := notes[size]; ok {
				seg.Checkpoints = append(seg.Checkpoints, n)
			}
		}
		id, err := r.Blobs.Put(ctx, seg.Encode(), blob.PutOptions{RetainUntil: retain[sg.Blob]})
		if err != nil {
			t.Fatal(err)
		}
		exec1(t, db, `UPDATE segments SET blob = ? WHERE first = ?`, id[:], int64(sg.First))
		s := sg.Blob.String()
		os.Remove(filepath.Join(dir, repo.BlobDir, "objects", s[:2], s))
		os.Remove(filepath.Join(dir, repo.BlobDir, "meta", s[:2], s+".json"))
	}
}

func cpTo(t *testing.T, src, dst string) {
	t.Helper()
	os.RemoveAll(dst)
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

func TestWitnessedAttacks(t *testing.T) {
	clean := buildArchive(t)
	type attack struct {
		name string
		kind string
		// do carries out the attack on dir; publish sends the archive's
		// newest checkpoint to the witnesses, as a running archive does.
		do func(t *testing.T, dir string, publish func()) (kept []byte)
	}
	latestNote := func(t *testing.T, dir string) []byte {
		row, err := readOnly(t, dir).Store.LatestCheckpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return row.Note
	}
	attacks := []attack{
		{name: "consistent rollback: WAL lost after 200 acknowledged messages", kind: verify.WitnessRollback,
			do: func(t *testing.T, dir string, publish func()) []byte {
				publish()
				db := filepath.Join(dir, repo.DBFile)
				saved := filepath.Join(t.TempDir(), "index.db")
				cpTo(t, db, saved)
				addActivity(t, dir, "wal", 200, true)
				publish()
				kept := latestNote(t, dir)
				// The database reverts to its main file: everything the
				// lost WAL held is gone, consistently.
				cpTo(t, saved, db)
				os.Remove(db + "-wal")
				os.Remove(db + "-shm")
				return kept
			}},
		{name: "whole directory restored from an older copy", kind: verify.WitnessRollback,
			do: func(t *testing.T, dir string, publish func()) []byte {
				publish()
				old := filepath.Join(t.TempDir(), "old")
				cpTo(t, dir, old)
				addActivity(t, dir, "restore", 30, false) // sealed: segments and packs in the blob store too
				publish()
				kept := latestNote(t, dir)
				cpTo(t, old, dir)
				return kept
			}},
		{name: "journal truncated and the checkpoint re-signed", kind: verify.WitnessRollback,
			do: func(t *testing.T, dir string, publish func()) []byte {
				publish()
				k := journalSize(t, dir)
				addActivity(t, dir, "trunc", 60, true)
				publish()
				kept := latestNote(t, dir)
				db := sqlDB(t, dir)
				exec1(t, db, `DELETE FROM journal WHERE idx >= ?`, int64(k))
				exec1(t, db, `DELETE FROM pending WHERE key >= ?`, int64(k)*8)
				resign(t, dir, time.Now())
				return kept
			}},
		{name: "history rewritten and re-signed", kind: verify.WitnessInconsistent,
			do: func(t *testing.T, dir string, publish func()) []byte {
				k := journalSize(t, dir)
				addActivity(t, dir, "rewrite", 10, true)
				publish()
				kept := latestNote(t, dir)
				// The directory entry committed at k says another
				// department: the kind of edit that changes who
				// supervised whom.
				exec1(t, sqlDB(t, dir), `UPDATE journal SET leaf = CAST(replace(CAST(leaf AS TEXT), '财富管理部', '合规部') AS BLOB) WHERE idx = ?`, int64(k))
				resign(t, dir, time.Now())
				return kept
			}},
		{name: "signing key replaced and the whole history re-signed", kind: verify.WitnessSignature,
			do: func(t *testing.T, dir string, publish func()) []byte {
				publish()
				kept := latestNote(t, dir)
				replaceKey(t, dir)
				return kept
			}},
	}
	for _, a := range attacks {
		t.Run(a.kind+": "+a.name, func(t *testing.T) {
			dir := copyDir(t, clean)
			cfg, err := repo.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			ws := newWitnesses(t, cfg)
			kept := a.do(t, dir, func() { ws.publish(t, dir) })
			now := time.Now()
			t.Run("without a witness verify passes", func(t *testing.T) {
				// The attack is invisible from inside: the archive agrees
				// with itself. This is why a witness exists.
				if rep := runWith(t, dir, now, verify.Options{}); !rep.OK {
					t.Fatalf("verify without a witness found faults (the attack is not consistent): %+v", rep.Faults)
				}
			})
			for _, w := range ws.all {
				t.Run(w.Name()+" witness", func(t *testing.T) {
					rep := runWith(t, dir, now, verify.Options{Witnesses: []witness.Source{w}})
					if rep.OK || !hasFault(rep, a.kind, "") {
						t.Fatalf("want %s, got %+v", a.kind, rep.Faults)
					}
					for _, f := range rep.Faults {
						if f.Kind != a.kind && f.Kind != verify.WitnessInconsistent && f.Kind != verify.WitnessRollback {
							t.Errorf("unexpected fault %+v", f)
						}
					}
				})
			}
			t.Run("kept checkpoint", func(t *testing.T) {
				// An auditor who kept the newest checkpoint before the
				// attack catches it the same way.
				rep := runWith(t, dir, now, verify.Options{Checkpoints: []verify.KeptCheckpoint{{Name: "kept.cp", Note: kept}}})
				if !hasFault(rep, a.kind, "checkpoint-file:kept.cp") {
					t.Fatalf("want %s, got %+v", a.kind, rep.Faults)
				}
			})
			t.Run("witnesses refuse the attacked archive", func(t *testing.T) {
				// From then on publishing raises witness_refused.
				r := readOnly(t, dir)
				row, _ := r.Store.LatestCheckpoint(context.Background())
				cp, _ := r.Verifier.Open(row.Note)
				for _, w := range ws.all {
					if _, err := w.Publish(context.Background(), cp, witness.NewLog(r.Verifier, r.Store)); !errors.Is(err, witness.ErrRefused) {
						t.Errorf("%s witness: publishing the attacked archive's checkpoint %d: %v", w.Name(), cp.Size, err)
					}
				}
			})
		})
	}
}

// TestWitnessedCleanArchive: an archive that only grows is consistent with
// every checkpoint its witnesses hold, across many publications.
func TestWitnessedCleanArchive(t *testing.T) {
	dir := copyDir(t, buildArchive(t))
	cfg, _ := repo.LoadConfig(dir)
	ws := newWitnesses(t, cfg)
	ws.publish(t, dir)
	first := journalSize(t, dir)
	for i := range 3 {
		addActivity(t, dir, fmt.Sprint("grow", i), 5, false)
		ws.publish(t, dir)
	}
	opts := verify.Options{}
	for _, w := range ws.all {
		opts.Witnesses = append(opts.Witnesses, w)
	}
	rep := runWith(t, dir, time.Now(), opts)
	if !rep.OK {
		t.Fatalf("clean witnessed archive: %+v", rep.Faults)
	}
	// The stores hold every publication: the oldest is the first size.
	got, err := ws.all[0].Witnessed(context.Background(), cfg.Origin, 0)
	if err != nil || len(got) != 4 || got[0].Size != first {
		t.Fatalf("directory witness holds %+v %v", got, err)
	}
}

// TestWitnessLocationFaults: what verify says of a witness it cannot use.
func TestWitnessLocationFaults(t *testing.T) {
	dir := copyDir(t, buildArchive(t))
	cfg, _ := repo.LoadConfig(dir)
	ws := newWitnesses(t, cfg)
	ws.publish(t, dir)
	wdir := t.TempDir()
	d := witness.NewDirWitness("d", wdir)
	p := &witness.Publishing{Witnesses: []witness.Publisher{d}, Log: witness.NewLog(readOnly(t, dir).Verifier, readOnly(t, dir).Store),
		Latest: func(ctx context.Context) ([]byte, error) {
			row, err := readOnly(t, dir).Store.LatestCheckpoint(ctx)
			return row.Note, err
		}}
	if err := p.PublishOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	odir := filepath.Join(wdir, "wxarchive.local%2F"+cfg.ArchiveID)
	sizes, _ := os.ReadDir(odir)
	var sizeFile string
	for _, e := range sizes {
		if e.Name() != "latest" && e.Name() != ".lock" {
			sizeFile = filepath.Join(odir, e.Name())
		}
	}
	// Another archive's checkpoint planted in the witness, and a damaged file.
	other := copyDir(t, buildArchive(t))
	oRow, _ := readOnly(t, other).Store.LatestCheckpoint(context.Background())
	os.Chmod(filepath.Join(odir, "latest"), 0o644)
	os.WriteFile(filepath.Join(odir, "latest"), oRow.Note, 0o444)
	orig, _ := os.ReadFile(sizeFile)
	os.Chmod(sizeFile, 0o644)
	os.WriteFile(sizeFile, bytes.Replace(orig, []byte("\n\n"), []byte("\nx\n"), 1), 0o444)

	rep := runWith(t, dir, time.Now(), verify.Options{Witnesses: []witness.Source{
		d,
		witness.NewDirWitness("empty", t.TempDir()),
		witness.NewDirWitness("absent", filepath.Join(t.TempDir(), "not-mounted")),
	}})
	for _, want := range [][2]string{
		{verify.WitnessSignature, "witness:d/latest"},
		{verify.WitnessMalformed, "witness:d/" + filepath.Base(sizeFile)},
		{verify.WitnessEmpty, "witness:empty"},
		{verify.WitnessUnreachable, "witness:absent"},
	} {
		if !hasFault(rep, want[0], want[1]) {
			t.Errorf("want %s %s; got %+v", want[0], want[1], rep.Faults)
		}
	}
}
