package jsonl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// An entry over MaxLineBytes, in an array or as the one object of a body,
// is kept truncated with the size and SHA-256 of all of it, as a JSON
// line is: the splitter never holds more than MaxLineBytes of an entry.
func TestSplitOversizeEntry(t *testing.T) {
	big := `{"msgid":"huge","text":{"content":"` + strings.Repeat("大", jsonl.MaxLineBytes/3+10) + `"}}`
	small := msg("s1", 1700100000000, "小")
	for name, body := range map[string]string{
		"array":      "[" + small + ", " + big + ", " + small + "]",
		"one object": "\n " + big + " \n",
		"JSON lines": small + "\n" + big + "\n" + small + "\n",
	} {
		got, err := jsonl.Split([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ln jsonl.Line
		for _, l := range got {
			if l.FullSize > int64(jsonl.MaxLineBytes) {
				ln = l
			}
		}
		if !ln.Truncated || ln.FullSize != int64(len(big)) || len(ln.Data) != jsonl.MaxLineBytes ||
			ln.FullHash != archive.Hash([]byte(big)) || !bytes.HasPrefix([]byte(big), ln.Data) {
			t.Fatalf("%s: oversize entry kept %d of %d bytes, truncated %v, hash of all %v", name, len(ln.Data), ln.FullSize, ln.Truncated, ln.FullHash == archive.Hash([]byte(big)))
		}
	}
	// A scalar that large is no message: the body is refused.
	if _, err := jsonl.Split([]byte("[" + strings.Repeat("1", jsonl.MaxLineBytes+1) + "]")); !errors.Is(err, capture.ErrMalformedBody) {
		t.Fatalf("huge scalar: %v", err)
	}
	// Nesting is bounded as encoding/json bounds it.
	if _, err := jsonl.Split([]byte("[" + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "]")); !errors.Is(err, capture.ErrMalformedBody) || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("deep nesting: %v", err)
	}
}

// recordingBudget is a capture.Budget that records what was taken.
type recordingBudget struct {
	mu      sync.Mutex
	held    int64
	maxHeld int64
	takes   []int64
}

func (b *recordingBudget) Acquire(_ context.Context, n int64) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.takes = append(b.takes, n)
	b.held += n
	b.maxHeld = max(b.maxHeld, b.held)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.held -= n
			b.mu.Unlock()
		})
	}, nil
}

// A body of several chunks read from a file: every entry's outcome in
// order, each chunk taking its bytes from the budget (never more than
// ChunkBytes) and giving them back, one commit per chunk at least.
func TestEntryIngesterChunks(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	in, err := all.Registry(all.Options{}).Ingester(jsonl.IngesterName, capture.Deps{Writer: r.Engine, Blobs: r.Blobs})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*jsonl.ChunkEntries + 300
	var body bytes.Buffer
	body.WriteString("[\n")
	for i := range n {
		if i > 0 {
			body.WriteString(",\n")
		}
		body.WriteString(msg(fmt.Sprintf("ch%05d", i), 1700100000000+int64(i), fmt.Sprintf("第%d条", i)))
	}
	body.WriteString("\n]\n")
	path := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(path, body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := fileBody{f, int64(body.Len())}
	budget := &recordingBudget{}
	before, _ := r.Store.Head(ctx)
	res, err := in.Ingest(ingest.WithPushback(ctx), capture.EntryRequest{Body: src, Budget: budget, Actor: "api:test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != n {
		t.Fatalf("%d results for %d entries", len(res), n)
	}
	for i, x := range res {
		if x.Entry != i+1 || x.MsgID != fmt.Sprintf("ch%05d", i) || x.Outcome != ingest.Archived {
			t.Fatalf("result %d: %+v", i, x)
		}
	}
	if len(budget.takes) != 3 || budget.held != 0 {
		t.Fatalf("budget taken %v (held %d after), want 3 chunks all given back", budget.takes, budget.held)
	}
	for _, n := range budget.takes {
		if n > jsonl.ChunkBytes || n <= 0 {
			t.Fatalf("a chunk took %d units", n)
		}
	}
	if budget.maxHeld > jsonl.ChunkBytes {
		t.Fatalf("%d units held at once by one request", budget.maxHeld)
	}
	after, _ := r.Store.Head(ctx)
	if after.JournalSize-before.JournalSize != n {
		t.Fatalf("journal grew by %d", after.JournalSize-before.JournalSize)
	}
	// A malformed element at the very end: refused whole, nothing written,
	// nothing taken from the budget.
	bad := append(bytes.TrimSuffix(body.Bytes(), []byte("\n]\n")), []byte(`, {"msgid": oops}]`)...)
	budget2 := &recordingBudget{}
	if _, err := in.Ingest(ctx, capture.EntryRequest{Body: bytes.NewReader(bad), Budget: budget2}); !errors.Is(err, capture.ErrMalformedBody) || !strings.Contains(err.Error(), fmt.Sprintf("array element %d", n+1)) {
		t.Fatalf("malformed last element: %v", err)
	}
	if h, _ := r.Store.Head(ctx); h.JournalSize != after.JournalSize || len(budget2.takes) != 0 {
		t.Fatalf("a malformed body wrote %d events, took %v", h.JournalSize-after.JournalSize, budget2.takes)
	}
}

type fileBody struct {
	*os.File
	size int64
}

func (b fileBody) Size() int64 { return b.size }
