package verify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
	"github.com/wxarchive/wxarchive/verify"
)

const fixture = "../capture/wecom/msgaudit/testdata/all-types.jsonl"

// buildArchive makes a small sealed archive from the fixture, with real
// media for two attachments, several commits (so several checkpoints and
// segments), a conflict and a quarantined line.
func buildArchive(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	// Without the default policies: the tests name journal indexes.
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	media := t.TempDir()
	// Real bytes for the image and the voice message; the md5 in the
	// fixture will not match, which is recorded, not fatal.
	os.WriteFile(filepath.Join(media, "SDKFILEID-IMAGE-0003"), bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 300), 0o644)
	os.WriteFile(filepath.Join(media, "SDKFILEID-VOICE-0009"), append([]byte("#!AMR\n"), bytes.Repeat([]byte{0x3c}, 320)...), 0o644)
	lines, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	all := bytes.Split(bytes.TrimSpace(lines), []byte("\n"))
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Media: ingest.DirMedia{Dir: media}, Source: "wecom-archive:test", Actor: "test", Origin: "file:fixture", BatchSize: 5}
	sum, err := in.Run(ctx, bytes.NewReader(bytes.Join(all, []byte("\n"))))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Archived != 32 {
		t.Fatalf("archived %d of the fixture", sum.Archived)
	}
	// A policy in force for what follows, so that supervision has
	// something to prove.
	if _, _, err := supervise.Apply(ctx, r.Engine, r.Store, "guarantees.yaml", []byte(testPolicy), "cli:test"); err != nil {
		t.Fatal(err)
	}
	// A conflicting version and a rejected line.
	extra := `{"msgid":"fx0001_1700000001","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000060000,"msgtype":"text","text":{"content":"edited"}}` + "\n" + `{"msgid": 5}` + "\n"
	in.Origin = "file:extra"
	sum, err = in.Run(ctx, strings.NewReader(extra))
	if err != nil || sum.Conflicts != 1 || sum.Rejected != 1 {
		t.Fatalf("extra: %+v %v", sum, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	// More events after the first seal, so there are several segments.
	access, err := journal.NewEvent(archive.EventAccessView, "test", archive.Time{}, []string{"serial:1"}, &archive.AccessEvent{What: "message", Serials: []uint64{1}, Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Append(ctx, access); err != nil {
		t.Fatal(err)
	}
	sup := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records}
	if res, err := sup.CatchUp(ctx); err != nil || res.Cursor != 33 {
		t.Fatalf("supervision: %+v %v", res, err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

const testPolicy = `policy: guarantees
description: Guaranteed returns (test)
rules:
  - id: zh-guarantee
    lexicon: [保本, 保收益]
`

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

func run(t *testing.T, dir string, now time.Time) *verify.Report {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, Now: func() time.Time { return now }, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func sqlDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, repo.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec1(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s: changed nothing", q)
	}
}

func blobPath(dir string, id archive.BlobID) string {
	s := id.String()
	return filepath.Join(dir, repo.BlobDir, "objects", s[:2], s)
}

func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	os.Chmod(path, 0o644)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off%int64(len(b))] ^= 0x01
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}
	// As careful an intruder would: the mode it had (file.mode is a test
	// of its own).
	os.Chmod(path, 0o444)
}

func readOnly(t testing.TB, dir string) *repo.Repo {
	t.Helper()
	r, err := archivetest.Open(context.Background(), dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func attachmentBlob(t *testing.T, dir string, serial uint64) archive.BlobID {
	t.Helper()
	atts, err := readOnly(t, dir).Store.Attachments(context.Background(), serial)
	if err != nil || len(atts) == 0 || atts[0].Blob.IsZero() {
		t.Fatalf("serial %d attachments: %+v %v", serial, atts, err)
	}
	return atts[0].Blob
}

func segments(t *testing.T, dir string) []store.SegmentRow {
	var out []store.SegmentRow
	readOnly(t, dir).Store.Segments(context.Background(), func(s store.SegmentRow) error { out = append(out, s); return nil })
	if len(out) < 2 {
		t.Fatalf("want several segments, have %d", len(out))
	}
	return out
}

func hasFault(rep *verify.Report, kind, object string) bool {
	for _, f := range rep.Faults {
		if f.Kind == kind && (object == "" || f.Object == object) {
			return true
		}
	}
	return false
}

func TestCleanArchiveVerifies(t *testing.T) {
	dir := buildArchive(t)
	rep := run(t, dir, time.Now())
	if !rep.OK {
		t.Fatalf("clean archive has faults: %+v", rep.Faults)
	}
	if rep.Stats.Messages != 33 || rep.Stats.Segments < 2 || rep.Stats.Packs == 0 || rep.Stats.Checkpoints < 3 {
		t.Fatalf("stats = %+v", rep.Stats)
	}
}

// Each tamper test corrupts one thing in a copy of a clean archive and
// requires verify to name it.
func TestTamperDetection(t *testing.T) {
	clean := buildArchive(t)
	now := time.Now()
	type tamper struct {
		name   string
		do     func(t *testing.T, dir string) (kind, object string)
		also   []string // other kinds that must appear
		strict bool     // object must match exactly
	}
	cases := []tamper{
		{name: "blob byte flip", strict: true, do: func(t *testing.T, dir string) (string, string) {
			id := attachmentBlob(t, dir, 3)
			flipByte(t, blobPath(dir, id), 100)
			return verify.BlobCorrupt, "blob:" + id.String()
		}},
		{name: "blob deleted", strict: true, do: func(t *testing.T, dir string) (string, string) {
			id := attachmentBlob(t, dir, 9)
			if err := os.Remove(blobPath(dir, id)); err != nil {
				t.Fatal(err)
			}
			return verify.BlobMissing, "blob:" + id.String()
		}},
		{name: "blob swapped for another valid blob", strict: true, do: func(t *testing.T, dir string) (string, string) {
			victim, other := attachmentBlob(t, dir, 3), attachmentBlob(t, dir, 9)
			p := blobPath(dir, victim)
			os.Chmod(p, 0o644)
			b, _ := os.ReadFile(blobPath(dir, other))
			if err := os.WriteFile(p, b, 0o444); err != nil {
				t.Fatal(err)
			}
			return verify.BlobCorrupt, "blob:" + victim.String()
		}},
		{name: "index row altered", strict: true, do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `UPDATE messages SET text = '没问题' WHERE serial = 5`)
			return verify.IndexMismatch, "messages serial=5"
		}},
		{name: "index row deleted", strict: true, do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `DELETE FROM messages WHERE serial = 7`)
			return verify.IndexMissing, "messages serial=7"
		}},
		{name: "index row added", strict: true, do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `INSERT INTO consent (external_id, serial, agreed, at, employee) VALUES ('wmFake', 99, 1, 0, 'x')`)
			return verify.IndexExtra, "consent external_id=wmFake,serial=99"
		}},
		{name: "journal leaf altered", strict: true, do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `UPDATE journal SET leaf = CAST(replace(CAST(leaf AS TEXT), '"kind":"text"', '"kind":"file"') AS BLOB) WHERE idx = 5`)
			return verify.JournalLeafHash, "journal:5"
		}},
		{name: "journal leaf altered with its hash", do: func(t *testing.T, dir string) (string, string) {
			db := sqlDB(t, dir)
			var leaf []byte
			db.QueryRow(`SELECT leaf FROM journal WHERE idx = 6`).Scan(&leaf)
			leaf = bytes.Replace(leaf, []byte(`"action`), []byte(`"action`), 1)
			leaf = bytes.Replace(leaf, []byte(`"sent_at":"2023`), []byte(`"sent_at":"2024`), 1)
			h := journalLeafHash(leaf)
			exec1(t, db, `UPDATE journal SET leaf = ?, hash = ? WHERE idx = 6`, leaf, h)
			return verify.CheckpointRoot, ""
		}, also: []string{verify.SegmentMismatch}},
		{name: "journal truncated", do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `DELETE FROM journal WHERE idx >= (SELECT max(idx) - 2 FROM journal)`)
			return verify.JournalTruncated, ""
		}},
		{name: "checkpoint signature forged", strict: true, do: func(t *testing.T, dir string) (string, string) {
			db := sqlDB(t, dir)
			var size int64
			var note []byte
			db.QueryRow(`SELECT size, note FROM checkpoints ORDER BY size LIMIT 1 OFFSET 1`).Scan(&size, &note)
			exec1(t, db, `UPDATE checkpoints SET note = ? WHERE size = ?`, forgeSignature(t, note), size)
			return verify.CheckpointSignature, fmt.Sprintf("checkpoint:%d", size)
		}},
		{name: "checkpoint rolled back", do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)`)
			return verify.CheckpointRollback, ""
		}},
		{name: "checkpoint and journal rolled back together", do: func(t *testing.T, dir string) (string, string) {
			// A consistent-looking rollback of the database is still caught
			// by the sealed segments in the blob store.
			db := sqlDB(t, dir)
			var prev int64
			db.QueryRow(`SELECT size FROM checkpoints ORDER BY size DESC LIMIT 1 OFFSET 1`).Scan(&prev)
			exec1(t, db, `DELETE FROM checkpoints WHERE size > ?`, prev)
			exec1(t, db, `DELETE FROM journal WHERE idx >= ?`, prev)
			return verify.CheckpointRollback, ""
		}},
		{name: "sealed segment altered", strict: true, do: func(t *testing.T, dir string) (string, string) {
			seg := segments(t, dir)[0]
			flipByte(t, blobPath(dir, seg.Blob), 40)
			return verify.BlobCorrupt, "blob:" + seg.Blob.String()
		}},
		{name: "sealed segment rewritten under a new id", do: func(t *testing.T, dir string) (string, string) {
			var seg store.SegmentRow
			for _, s := range segments(t, dir) {
				if s.End-s.First > seg.End-seg.First {
					seg = s
				}
			}
			orig, _ := os.ReadFile(blobPath(dir, seg.Blob))
			b := bytes.Replace(orig, []byte(`"kind":"text"`), []byte(`"kind":"file"`), 1)
			if bytes.Equal(b, orig) {
				t.Fatal("segment has no text message to alter")
			}
			id := archive.Hash(b)
			p := blobPath(dir, id)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, b, 0o444)
			exec1(t, sqlDB(t, dir), `UPDATE segments SET blob = ? WHERE first = ?`, id[:], seg.First)
			return verify.SegmentMismatch, "segment:" + id.String()
		}},
		{name: "pack byte flip", do: func(t *testing.T, dir string) (string, string) {
			var id archive.BlobID
			readOnly(t, dir).Store.Packs(context.Background(), func(p store.PackRow) error { id = p.Blob; return nil })
			flipByte(t, blobPath(dir, id), 300)
			return verify.BlobCorrupt, "blob:" + id.String()
		}, also: []string{verify.RecordCorrupt}},
		{name: "blob retention file damaged", do: func(t *testing.T, dir string) (string, string) {
			// Retention metadata that cannot be read makes the store refuse
			// to list: verify reports it and still checks every blob the
			// journal references.
			var meta string
			filepath.WalkDir(filepath.Join(dir, repo.BlobDir, "meta"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && meta == "" {
					meta = p
				}
				return nil
			})
			if meta == "" {
				t.Fatal("no meta file to damage")
			}
			os.Chmod(meta, 0o644)
			if err := os.WriteFile(meta, []byte("{not json"), 0o444); err != nil {
				t.Fatal(err)
			}
			return verify.BlobUnreadable, "blob store"
		}},
		{name: "tree node altered", do: func(t *testing.T, dir string) (string, string) {
			exec1(t, sqlDB(t, dir), `UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 0`)
			return verify.TreeNode, "node:4/0"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, clean)
			kind, object := c.do(t, dir)
			rep := run(t, dir, now)
			if rep.OK {
				t.Fatal("verify found nothing")
			}
			if !hasFault(rep, kind, object) {
				t.Fatalf("want fault %s %s; got %+v", kind, object, rep.Faults)
			}
			for _, k := range c.also {
				if !hasFault(rep, k, "") {
					t.Errorf("want also a %s fault; got %+v", k, rep.Faults)
				}
			}
		})
	}
}

func journalLeafHash(leaf []byte) []byte {
	h := archive.Hash(append([]byte{0}, leaf...))
	return h[:]
}

// forgeSignature replaces the signature bytes of a note, keeping its
// shape, as a forger without the key would have to.
func forgeSignature(t *testing.T, note []byte) []byte {
	i := bytes.LastIndex(note, []byte(" "))
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(note[i+1:])))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 0xff
	return append(append([]byte{}, note[:i+1]...), base64.StdEncoding.EncodeToString(sig)+"\n"...)
}

func TestUnsealedPastBoundIsReported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Without the default policies: the tests name journal indexes.
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true, Guest: false})
	if err != nil {
		t.Fatal(err)
	}
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:test", Actor: "test", Origin: "file:x"}
	lines, _ := os.ReadFile(fixture)
	if _, err := in.Run(ctx, bytes.NewReader(lines)); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: stop without sealing.
	if err := r.Engine.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
	r.Engine = nil
	r.Close(ctx)
	if rep := run(t, dir, time.Now()); !rep.OK {
		t.Fatalf("fresh unsealed records reported: %+v", rep.Faults)
	}
	rep := run(t, dir, time.Now().Add(time.Minute))
	if !hasFault(rep, verify.RecordUnsealed, "") || !hasFault(rep, verify.JournalUnsealed, "") {
		t.Fatalf("records unsealed past the bound not reported: %+v", rep.Faults)
	}
}

// TestVerifyWhileWriting: verify run next to a writer (serve ingesting, a
// cron verify) checks the archive as it was when it started — the index
// compared is the one of that same moment — and reports nothing the
// writer did meanwhile as a fault.
func TestVerifyWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := buildArchive(t)
	w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			ev, _ := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{
				ID: fmt.Sprintf("emp%d", i), Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(1700000000000)})
			if _, err := w.Engine.Append(ctx, ev); err != nil {
				done <- err
				return
			}
			// Messages (records pending, then sealed into packs and the
			// pending rows deleted) while verify reads them.
			id := fmt.Sprintf("live-%d", i)
			m := &archive.Message{Source: "t:live", SourceID: id, SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
				SentAt: archive.MillisTime(1700000000000), Sender: "zhangwei", Recipients: []string{"wmC"}, Direction: archive.DirectionOutbound, Text: "消息 " + id}
			if _, err := w.Engine.Archive(ctx, "test", []ingest.Item{{Source: "t:live", Raw: []byte(id), Message: m}}); err != nil {
				done <- err
				return
			}
			if i%5 == 4 {
				if _, err := w.Engine.Seal(ctx, true); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	for range 3 {
		r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()})
		r.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK {
			close(stop)
			<-done
			t.Fatalf("verify next to a writer: %+v", rep.Faults[:min(len(rep.Faults), 5)])
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestScratchFromTheCaller: verify picks no storage engine itself; the
// scratch index comes from the caller's factory, and without one Run
// refuses to start rather than guess.
func TestScratchFromTheCaller(t *testing.T) {
	ctx := context.Background()
	dir := buildArchive(t)
	r := readOnly(t, dir)
	if _, err := verify.Run(ctx, r, verify.Options{}); !errors.Is(err, verify.ErrNoScratch) {
		t.Fatalf("Run without Scratch: %v", err)
	}
	var opened []string
	rep, err := verify.Run(ctx, r, verify.Options{ScratchDir: t.TempDir(), Scratch: func(ctx context.Context, dir string) (store.Store, error) {
		opened = append(opened, dir)
		return archivetest.Engines().Scratch(ctx, dir)
	}})
	if err != nil || !rep.OK {
		t.Fatalf("Run: %v %+v", err, rep)
	}
	if len(opened) != 1 {
		t.Fatalf("scratch opened %d times", len(opened))
	}
	if _, err := os.Stat(opened[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("scratch directory %s left behind (%v)", opened[0], err)
	}
	// Its own imports (repo still opens the archive's engines until they
	// are chosen in cmd/: the architecture test checks the whole graph).
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "github.com/wxarchive/wxarchive/verify").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/wxarchive/wxarchive/store/") {
			t.Errorf("verify depends on the adapter %s", dep)
		}
	}
}

// TestUnsealedReadsBound: a tail of reads alone (access.view), left in the
// database at a clean exit to share the next segment, is within bounds for
// the read seal delay and reported past it; a tail with anything else in
// it keeps the seal delay's bound.
func TestUnsealedReadsBound(t *testing.T) {
	ctx := context.Background()
	dir := buildArchive(t)
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := journal.NewEvent(archive.EventAccessView, "cli:analyst", archive.Time{}, nil, &archive.AccessEvent{What: "search", Query: "收益", Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil { // a clean exit: the read waits
		t.Fatal(err)
	}
	if rep := run(t, dir, time.Now().Add(time.Minute)); !rep.OK {
		t.Fatalf("a young read reported: %+v", rep.Faults)
	}
	rep := run(t, dir, time.Now().Add(2*time.Hour))
	if !unsealedFault(rep, "reads ") {
		t.Fatalf("a read unsealed past the read seal delay not reported: %+v", rep.Faults)
	}

	// Another event behind the read: the seal delay bounds them both.
	r, err = archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	pe, err := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{ID: "lisi", Kind: archive.ParticipantEmployee, Name: "李四"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Append(ctx, pe); err != nil {
		t.Fatal(err)
	}
	if err := r.Engine.Close(ctx, false); err != nil { // a crash: nothing sealed
		t.Fatal(err)
	}
	r.Engine = nil
	r.Close(ctx)
	rep = run(t, dir, time.Now().Add(time.Minute))
	if !unsealedFault(rep, "leaves ") {
		t.Fatalf("a tail with a directory event unsealed past the seal delay not reported: %+v", rep.Faults)
	}
}

func unsealedFault(rep *verify.Report, what string) bool {
	for _, f := range rep.Faults {
		if f.Kind == verify.JournalUnsealed && strings.HasPrefix(f.Detail, what) {
			return true
		}
	}
	return false
}
