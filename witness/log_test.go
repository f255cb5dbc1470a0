package witness_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/witness"
)

// testLog is a journal tree and its checkpoints, built with the journal
// package as the archive builds them, for tests that need a log.
type testLog struct {
	t        testing.TB
	origin   string
	signer   *journal.Signer
	verifier *journal.Verifier
	pub      string
	skey     string
	nodes    map[compact.NodeID][]byte
	tree     *journal.Tree
	tag      string
	at       time.Time
}

func newTestLog(t testing.TB) *testLog {
	t.Helper()
	skey, vkey, err := journal.GenerateKey("wxarchive-test")
	if err != nil {
		t.Fatal(err)
	}
	return newTestLogWithKey(t, "wxarchive.local/0123456789abcdef", skey, vkey)
}

func newTestLogWithKey(t testing.TB, origin, skey, vkey string) *testLog {
	s, err := journal.NewSigner(origin, skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := journal.NewVerifier(origin, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{t: t, origin: origin, signer: s, verifier: v, pub: vkey, skey: skey,
		nodes: map[compact.NodeID][]byte{}, tree: journal.NewTree(), at: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// fork returns a log with the same key and the first n leaves of l, whose
// later leaves will differ: a rewritten history.
func (l *testLog) fork(n int) *testLog {
	f := newTestLogWithKey(l.t, l.origin, l.skey, l.pub)
	f.tag = "rewritten"
	for i := 0; i < n; i++ {
		f.appendLeaf(l.leaf(i))
	}
	return f
}

func (l *testLog) leaf(i int) []byte {
	return []byte(fmt.Sprintf("leaf %d %s", i, l.leafTag(i)))
}

func (l *testLog) leafTag(int) string { return l.tag }

func (l *testLog) appendLeaf(leaf []byte) {
	idx := l.tree.Size()
	lh := journal.LeafHash(leaf)
	l.nodes[compact.NewNodeID(0, idx)] = lh
	l.tree.Append(lh, func(n journal.Node) { l.nodes[compact.NewNodeID(n.Level, n.Index)] = n.Hash })
}

// grow appends n leaves and returns the signed checkpoint of the new size.
func (l *testLog) grow(n int) *journal.Checkpoint {
	l.t.Helper()
	for range n {
		l.appendLeaf(l.leaf(int(l.tree.Size())))
	}
	return l.checkpoint()
}

func (l *testLog) checkpoint() *journal.Checkpoint {
	l.t.Helper()
	l.at = l.at.Add(time.Second)
	note, err := l.signer.Sign(l.tree.Size(), l.tree.Root(), archive.At(l.at))
	if err != nil {
		l.t.Fatal(err)
	}
	cp, err := l.verifier.Open(note)
	if err != nil {
		l.t.Fatal(err)
	}
	return cp
}

// checkpointAt signs the tree of an earlier size (a rollback's newest).
func (l *testLog) checkpointAt(size uint64) *journal.Checkpoint {
	l.t.Helper()
	root, err := journal.RootAt(context.Background(), l, size)
	if err != nil {
		l.t.Fatal(err)
	}
	l.at = l.at.Add(time.Second)
	note, err := l.signer.Sign(size, root, archive.At(l.at))
	if err != nil {
		l.t.Fatal(err)
	}
	cp, _ := l.verifier.Open(note)
	return cp
}

func (l *testLog) StoredNodes(_ context.Context, level uint, begin, end uint64) ([][]byte, error) {
	out := make([][]byte, 0, end-begin)
	for i := begin; i < end; i++ {
		h, ok := l.nodes[compact.NewNodeID(level, i)]
		if !ok {
			return nil, fmt.Errorf("%w: (%d,%d)", journal.ErrMissingNode, level, i)
		}
		out = append(out, h)
	}
	return out, nil
}

func (l *testLog) log() witness.Log { return witness.NewLog(l.verifier, l) }

func (l *testLog) logKey() witness.LogKey {
	k, err := witness.ParseLogKey(l.origin + "=" + l.pub)
	if err != nil {
		l.t.Fatal(err)
	}
	return k
}
