package replica_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/replica"
	"github.com/wxarchive/wxarchive/store"
)

func dump(t *testing.T, r store.Reader) []string {
	t.Helper()
	var out []string
	if err := r.DumpProjection(context.Background(), func(table, key, row string) error {
		out = append(out, table+"\x00"+key+"\x00"+row)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func leaves(t *testing.T, r store.Reader) [][]byte {
	t.Helper()
	head, err := r.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	if err := r.Leaves(context.Background(), 0, head.JournalSize, func(_ uint64, _, leaf []byte) error {
		out = append(out, bytes.Clone(leaf))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreIndexEqualsOriginal: an index restored from the replica alone
// has the original's journal, checkpoints, segments and next serial, and
// every projection row of the original's index.
func TestRestoreIndexEqualsOriginal(t *testing.T) {
	ctx := context.Background()
	c := newCopy(t)
	chain, probs, err := replica.ReadChain(ctx, c.dst)
	if err != nil || len(probs) > 0 {
		t.Fatalf("chain: %v %v", probs, err)
	}
	st, err := archivetest.Engines().Scratch(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var progressed uint64
	res, err := replica.Restore(ctx, c.dst, st, chain, replica.RestoreOptions{Progress: func(done, total uint64) { progressed = done }})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := c.r.Store.Head(ctx)
	got, _ := st.Head(ctx)
	if res.TreeSize != orig.JournalSize || got.JournalSize != orig.JournalSize || progressed != orig.JournalSize || res.Messages != 32 {
		t.Fatalf("restored %+v (head %+v); original head %+v", res, got, orig)
	}
	if got.NextSerial != orig.NextSerial {
		t.Fatalf("next serial %d, original %d", got.NextSerial, orig.NextSerial)
	}
	ol, rl := leaves(t, c.r.Store), leaves(t, st)
	for i := range ol {
		if !bytes.Equal(ol[i], rl[i]) {
			t.Fatalf("leaf %d differs", i)
		}
	}
	od, rd := dump(t, c.r.Store), dump(t, st)
	if len(od) == 0 || fmt.Sprint(od) != fmt.Sprint(rd) {
		for i := 0; i < len(od) || i < len(rd); i++ {
			var a, b string
			if i < len(od) {
				a = od[i]
			}
			if i < len(rd) {
				b = rd[i]
			}
			if a != b {
				t.Fatalf("index row %d: original %q, restored %q (%d vs %d rows)", i, a, b, len(od), len(rd))
			}
		}
	}
	for _, pair := range []struct {
		name string
		fn   func(store.Reader) (string, error)
	}{
		{"checkpoints", func(r store.Reader) (string, error) {
			var s string
			err := r.Checkpoints(ctx, func(cp store.CheckpointRow) error { s += fmt.Sprintf("%d %s\n", cp.Size, cp.Note); return nil })
			return s, err
		}},
		{"segments", func(r store.Reader) (string, error) {
			var s string
			err := r.Segments(ctx, func(sg store.SegmentRow) error { s += fmt.Sprintf("%d %d %s\n", sg.First, sg.End, sg.Blob); return nil })
			return s, err
		}},
	} {
		a, err := pair.fn(c.r.Store)
		if err != nil {
			t.Fatal(err)
		}
		b, err := pair.fn(st)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%s differ:\noriginal\n%s\nrestored\n%s", pair.name, a, b)
		}
	}

	// A second restore into the same store is refused.
	if _, err := replica.Restore(ctx, c.dst, st, chain, replica.RestoreOptions{}); err == nil {
		t.Fatal("restore into a non-empty index accepted")
	}
}

// TestRestoreRefusesDamage: without Lenient a damaged segment stops the
// restore, naming it.
func TestRestoreRefusesDamage(t *testing.T) {
	ctx := context.Background()
	c := newCopy(t)
	chain, _, err := replica.ReadChain(ctx, c.dst)
	if err != nil {
		t.Fatal(err)
	}
	seg := chain.Segments[0].Blob
	c.remove(t, seg)
	st, err := archivetest.Engines().Scratch(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = replica.Restore(ctx, c.dst, st, chain, replica.RestoreOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(seg.String())) {
		t.Fatalf("restore of a replica missing a segment: %v", err)
	}
	if h, _ := st.Head(ctx); h.JournalSize != 0 {
		t.Fatalf("a refused restore left %d leaves", h.JournalSize)
	}
}
