package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
)

func readEvent(t *testing.T, n int) journal.Event {
	t.Helper()
	ev, err := journal.NewEvent(archive.EventAccessView, "cli:analyst", archive.Time{}, nil,
		&archive.AccessEvent{What: "search", Query: fmt.Sprint("收益 ", n), Via: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func reviewEvent(t *testing.T, action string) journal.Event {
	t.Helper()
	ev, err := journal.NewEvent(archive.EventReviewAction, "cli:reviewer", archive.Time{}, nil,
		&archive.ReviewEvent{Action: action, Items: []archive.ReviewItem{{Alert: 1, Serial: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestReadsWaitForASegment: a journal tail of reads alone is not sealed at
// every clean exit — short reading commands would each leave a WORM
// segment — but waits for the next segment, at most half the read seal
// delay; anything else in the tail seals it all as before, and an
// explicit forced seal seals reads too.
func TestReadsWaitForASegment(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)}
	cfg := ingest.Config{SealDelay: 10 * time.Second, ReadSealDelay: time.Hour, Now: clk.Now}
	e := newEnv(t, cfg, nil)
	e.clock = clk
	t0 := clk.Now()
	archiveItems(t, e.eng, item("m1", "保证收益"))
	if _, err := e.eng.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	sealed := head(t, e.st).SealedSize
	segs := counts(t, e.st).Segments

	// A hundred short commands, each a read, a commit and a clean exit.
	dir := e.dir
	for i := 0; i < 100; i++ {
		e.clock.Set(t0.Add(time.Duration(i) * 10 * time.Second))
		ev := readEvent(t, i)
		if i%10 == 9 {
			ev = reviewEvent(t, "view")
		}
		if _, err := e.eng.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.Close(ctx, true); err != nil {
			t.Fatal(err)
		}
		e.st.Close()
		e.blobs.Close()
		e = openEnv(t, dir, cfg, nil)
		e.clock = clk
	}
	h := head(t, e.st)
	if c := counts(t, e.st); c.Segments != segs || h.SealedSize != sealed {
		t.Fatalf("after 100 reads within 17 minutes: %d segments (was %d), sealed %d (was %d); want none added", c.Segments, segs, h.SealedSize, sealed)
	}
	if h.CheckpointSize != h.JournalSize {
		t.Fatalf("reads not signed: checkpoint %d of %d leaves", h.CheckpointSize, h.JournalSize)
	}
	// The periodic sealer leaves them too, until half the read seal delay.
	if st, err := e.eng.Seal(ctx, false); err != nil || st.Segments != 0 {
		t.Fatalf("periodic seal of young reads: %+v, %v", st, err)
	}
	e.clock.Set(t0.Add(30 * time.Minute))
	if st, err := e.eng.Seal(ctx, false); err != nil || st.Segments != 1 || st.Leaves != h.JournalSize-sealed {
		t.Fatalf("periodic seal of reads half a read delay old: %+v, %v; want 1 segment of %d leaves", st, err, h.JournalSize-sealed)
	}

	// A review decision is not a read: it seals at exit with the reads before it.
	e.clock.Set(t0.Add(31 * time.Minute))
	for _, ev := range []journal.Event{readEvent(t, 200), reviewEvent(t, "close")} {
		if _, err := e.eng.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.eng.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	if h := head(t, e.st); h.SealedSize != h.JournalSize {
		t.Fatalf("a review decision left unsealed at exit: %+v", h)
	}
}

// TestReadsForcedSeal: an explicit forced seal (serve at start, replicate)
// seals a young tail of reads.
func TestReadsForcedSeal(t *testing.T) {
	e := newEnv(t, ingest.Config{}, nil)
	if _, err := e.eng.Append(ctx, readEvent(t, 1)); err != nil {
		t.Fatal(err)
	}
	if st, err := e.eng.Seal(ctx, true); err != nil || st.Segments != 1 {
		t.Fatalf("forced seal of reads: %+v, %v", st, err)
	}
	if h := head(t, e.st); h.SealedSize != h.JournalSize {
		t.Fatalf("after a forced seal: %+v", h)
	}
}
