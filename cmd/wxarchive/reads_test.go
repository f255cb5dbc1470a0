package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIReadsShareASegment: a hundred CLI searches and views (each journals
// its access and exits) add at most a handful of segments — the reads wait
// in the database, signed, for the next segment — and verify is clean; the
// next command that writes anything else seals them with it.
func TestCLIReadsShareASegment(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	type stats struct {
		JournalSize uint64 `json:"journal_size"`
		SealedSize  uint64 `json:"sealed_size"`
		Segments    int64  `json:"segments"`
		Checkpoints int64  `json:"checkpoints"`
	}
	get := func() stats {
		var s stats
		cliJSON(t, &s, "--dir", dir, "stats", "--json")
		return s
	}
	before := get()
	if before.SealedSize != before.JournalSize {
		t.Fatalf("ingest left leaves unsealed: %+v", before)
	}
	for i := 0; i < 100; i++ {
		q := []string{"保本", "收益", "税收", "from:zhangwei"}[i%4]
		mustCLI(t, "--dir", dir, "search", q)
		if i%25 == 24 {
			mustCLI(t, "--dir", dir, "show", "1")
		}
	}
	after := get()
	if after.JournalSize < before.JournalSize+104 {
		t.Fatalf("the searches were not journaled: %+v → %+v", before, after)
	}
	if added := after.Segments - before.Segments; added > 3 {
		t.Fatalf("100 searches added %d segments (%+v → %+v); want at most a handful", added, before, after)
	}
	// Each read is signed at once, as before.
	if after.Checkpoints < before.Checkpoints+104 {
		t.Fatalf("reads not signed by checkpoints: %+v → %+v", before, after)
	}
	rep := cliVerifyOK(t, dir)
	if !rep.OK {
		t.Fatal("verify not OK")
	}
	// A write that is not a read seals the reads before it at exit.
	more := filepath.Join(t.TempDir(), "more.jsonl")
	if err := os.WriteFile(more, []byte(strings.ReplaceAll(mustRead(t, fixture), `"msgid": "`, `"msgid": "again-`)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", more)
	final := get()
	if final.SealedSize != final.JournalSize {
		t.Fatalf("a write left the reads unsealed: %+v", final)
	}
	if final.Segments > after.Segments+1 {
		t.Fatalf("the write sealed %d segments; want one", final.Segments-after.Segments)
	}
}
