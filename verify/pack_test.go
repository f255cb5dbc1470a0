package verify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob/pack"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// packedArchive archives n messages and seals them, so that most records
// share a pack of a few hundred kilobytes to a few megabytes.
func packedArchive(t testing.TB, n int) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for batch := 0; batch*500 < n; batch++ {
		if _, err := w.Engine.Archive(ctx, "test", liveItems(0, batch, min(500, n-batch*500))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// damageRecord flips one byte in the middle of a message's record inside
// its pack, and returns the pack.
func damageRecord(t testing.TB, dir string, serial uint64, ord uint32) archive.BlobID {
	t.Helper()
	ctx := context.Background()
	r := readOnly(t, dir)
	row, err := r.Store.Message(ctx, serial)
	if err != nil {
		t.Fatal(err)
	}
	packs, err := r.Store.PacksCovering(ctx, row.JournalIndex)
	if err != nil || len(packs) != 1 {
		t.Fatalf("packs covering serial %d: %v %v", serial, packs, err)
	}
	b, err := r.Blobs.Get(ctx, packs[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pack.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries() {
		if e.JournalIndex == row.JournalIndex && e.Ordinal == ord {
			flipByte(t, blobPath(dir, packs[0].Blob), e.Offset+int64(e.Length)/2)
			return packs[0].Blob
		}
	}
	t.Fatalf("record %d/%d not in pack %s", row.JournalIndex, ord, packs[0].Blob)
	return archive.BlobID{}
}

// TestDamagedPackFailsSmall: one changed byte in a pack of thousands of
// records is the damaged record (named by its serial), the pack's blob,
// and the index rows only that record explains; every other record of the
// pack is still read, each verified by its own SHA-256.
func TestDamagedPackFailsSmall(t *testing.T) {
	ctx := context.Background()
	dir := packedArchive(t, 3000)
	const victim = 1234
	for _, ord := range []uint32{archive.OrdinalRaw, archive.OrdinalNormalized} {
		t.Run(fmt.Sprintf("ordinal %d", ord), func(t *testing.T) {
			dir := copyDir(t, dir)
			packID := damageRecord(t, dir, victim, ord)
			rep := run(t, dir, time.Now())
			var corrupt, blobs, other []verify.Fault
			for _, f := range rep.Faults {
				switch {
				case f.Kind == verify.RecordCorrupt:
					corrupt = append(corrupt, f)
				case f.Kind == verify.BlobCorrupt && f.Object == "blob:"+packID.String():
					blobs = append(blobs, f)
				case f.Kind == verify.IndexExtra && ord == archive.OrdinalNormalized && explainedBy(t, dir, victim, f.Object):
					// The rebuilt index cannot hold a message whose
					// normalized record is damaged: its own rows are extra.
				default:
					other = append(other, f)
				}
			}
			if len(corrupt) != 1 || corrupt[0].Object != fmt.Sprintf("serial:%d", victim) || len(blobs) != 1 || len(other) != 0 {
				t.Fatalf("want one record.corrupt on serial:%d and one blob.corrupt; got %d faults: %+v", victim, len(rep.Faults), rep.Faults)
			}
			row, _ := readOnly(t, dir).Store.Message(ctx, victim)
			if !strings.Contains(corrupt[0].Detail, fmt.Sprintf("journal index %d", row.JournalIndex)) {
				t.Errorf("detail does not give the journal index %d: %s", row.JournalIndex, corrupt[0].Detail)
			}
			if rep.Stats.Messages != 3000 {
				t.Errorf("checked %d messages", rep.Stats.Messages)
			}

			// Reading, as `show` does (the app layer): every other message
			// of the pack, with both its records verified; the damaged one
			// refused.
			w := archivetest.OpenDir(t, dir)
			a, actx := archivetest.App(ctx, w)
			if _, err := a.MessagesBySerial(actx, victim); err == nil {
				t.Fatalf("serial %d shown despite its damaged record", victim)
			}
			var others []uint64
			for serial := uint64(1); serial <= 3000; serial++ {
				if serial != victim {
					others = append(others, serial)
				}
			}
			views, err := a.MessagesBySerial(actx, others...)
			if err != nil {
				t.Fatalf("the untouched records in the damaged pack: %v", err)
			}
			for _, v := range views {
				if archive.Hash([]byte(v.Raw)) != v.RawSHA256 || v.Message.SourceID == "" {
					t.Fatalf("serial %d: view does not match its hash", v.Serial)
				}
			}
			w.Close(ctx)
			r := readOnly(t, dir)
			row, _ = r.Store.Message(ctx, victim+1)
			b, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
			if err != nil || archive.Hash(b) != row.RecordHash {
				t.Fatalf("records.Get of serial %d next to the damage: %v", victim+1, err)
			}
		})
	}
}

// explainedBy reports whether an index row (as verify names it) belongs to
// serial.
func explainedBy(t testing.TB, dir string, serial uint64, object string) bool {
	row, err := readOnly(t, dir).Store.Message(context.Background(), serial)
	if err != nil {
		t.Fatal(err)
	}
	skey := row.SentAt.Unix()<<30 | int64(serial&(1<<30-1))
	for _, prefix := range []string{fmt.Sprintf("messages serial=%d", serial), fmt.Sprintf("attachments serial=%d,", serial), fmt.Sprintf("search id=%d", skey)} {
		if strings.HasPrefix(object, prefix) {
			return true
		}
	}
	return false
}

// BenchmarkVerifyDamagedPack measures verify on one generated archive of
// 20,000 messages (their 40,000 records in a few packs of up to 8 MiB),
// clean and with one byte changed in one record of one pack: the damaged
// run must stay within 2× the clean one (issue 12: it took 19× before
// damaged packs were read record by record). docs/BENCHMARKS.md has the
// figures and the command.
func BenchmarkVerifyDamagedPack(b *testing.B) {
	clean := packedArchive(b, 20000)
	damaged := copyDir(b, clean)
	damageRecord(b, damaged, 12345, archive.OrdinalNormalized)
	for _, c := range []struct {
		name   string
		dir    string
		faults bool
	}{{"clean", clean, false}, {"one-damaged-pack", damaged, true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r := readOnly(b, c.dir)
			for b.Loop() {
				rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if rep.OK == c.faults || rep.Stats.Messages != 20000 {
					b.Fatalf("%s: ok %v, %d messages, faults %+v", c.name, rep.OK, rep.Stats.Messages, rep.Faults[:min(3, len(rep.Faults))])
				}
				b.ReportMetric(float64(rep.Stats.Packs), "packs")
				b.ReportMetric(float64(rep.Stats.BlobBytes)/(1<<20), "blob-MiB")
				b.ReportMetric(float64(len(rep.Faults)), "faults")
			}
		})
	}
}
