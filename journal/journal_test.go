package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/wxarchive/wxarchive/archive"
)

// memNodes is a NodeReader over what Tree.Append reported, as a store would
// persist it.
type memNodes struct {
	nodes map[compact.NodeID][]byte
	reads int
}

func (m *memNodes) StoredNodes(_ context.Context, level uint, begin, end uint64) ([][]byte, error) {
	if !Stored(level) {
		return nil, fmt.Errorf("level %d is not stored", level)
	}
	m.reads++
	out := make([][]byte, 0, end-begin)
	for i := begin; i < end; i++ {
		h, ok := m.nodes[compact.NewNodeID(level, i)]
		if !ok {
			return nil, fmt.Errorf("%w: (%d,%d)", ErrMissingNode, level, i)
		}
		out = append(out, h)
	}
	return out, nil
}

func buildTree(t *testing.T, n int) (*Tree, *memNodes, [][]byte) {
	t.Helper()
	m := &memNodes{nodes: map[compact.NodeID][]byte{}}
	tr := NewTree()
	roots := [][]byte{EmptyRoot()}
	for i := 0; i < n; i++ {
		lh := LeafHash([]byte(fmt.Sprintf("leaf %d 保本", i)))
		m.nodes[compact.NewNodeID(0, uint64(i))] = lh
		tr.Append(lh, func(nd Node) {
			if !Stored(nd.Level) || nd.Level == 0 {
				t.Fatalf("asked to store level %d", nd.Level)
			}
			m.nodes[compact.NewNodeID(nd.Level, nd.Index)] = nd.Hash
		})
		roots = append(roots, tr.Root())
	}
	return tr, m, roots
}

// refRoot is a naive RFC 6962 root, independent of compact ranges.
func refRoot(leaves [][]byte) []byte {
	if len(leaves) == 0 {
		return EmptyRoot()
	}
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return Hasher.HashChildren(refRoot(leaves[:k]), refRoot(leaves[k:]))
}

func TestTreeRootsMatchReference(t *testing.T) {
	_, m, roots := buildTree(t, 300)
	var leaves [][]byte
	for i := 0; i <= 300; i++ {
		if got, want := roots[i], refRoot(leaves); !bytes.Equal(got, want) {
			t.Fatalf("root at size %d differs from reference", i)
		}
		if i < 300 {
			leaves = append(leaves, m.nodes[compact.NewNodeID(0, uint64(i))])
		}
	}
}

func TestProofsFromStoredNodes(t *testing.T) {
	ctx := context.Background()
	const n = 140
	_, m, roots := buildTree(t, n)
	for size := uint64(1); size <= n; size++ {
		got, err := RootAt(ctx, m, size)
		if err != nil || !bytes.Equal(got, roots[size]) {
			t.Fatalf("RootAt(%d) = %x, %v", size, got, err)
		}
		for idx := uint64(0); idx < size; idx++ {
			p, err := InclusionProof(ctx, m, idx, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d,%d): %v", idx, size, err)
			}
			lh := m.nodes[compact.NewNodeID(0, idx)]
			if err := VerifyInclusion(idx, size, lh, p, roots[size]); err != nil {
				t.Fatalf("VerifyInclusion(%d,%d): %v", idx, size, err)
			}
			// A proof for another leaf must not verify.
			other := m.nodes[compact.NewNodeID(0, (idx+1)%size)]
			if size > 1 && VerifyInclusion(idx, size, other, p, roots[size]) == nil {
				t.Fatalf("proof for %d verified leaf %d", idx, (idx+1)%size)
			}
		}
		for s1 := uint64(1); s1 <= size; s1 += 3 {
			p, err := ConsistencyProof(ctx, m, s1, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(s1, size, p, roots[s1], roots[size]); err != nil {
				t.Fatalf("VerifyConsistency(%d,%d): %v", s1, size, err)
			}
			if s1 < size && s1 > 1 && VerifyConsistency(s1, size, p, roots[s1-1], roots[size]) == nil {
				t.Fatalf("consistency %d→%d accepted the wrong old root", s1, size)
			}
		}
	}
}

func TestStoredNodeCountAndReadsAreLogarithmic(t *testing.T) {
	ctx := context.Background()
	const n = 1 << 12
	_, m, _ := buildTree(t, n)
	interior := len(m.nodes) - n
	// levels 4 and 8 (and 12): n/16 + n/256 + 1
	if want := n/16 + n/256 + 1; interior != want {
		t.Fatalf("stored %d interior nodes, want %d", interior, want)
	}
	m.reads = 0
	if _, err := InclusionProof(ctx, m, 1234, n-7); err != nil {
		t.Fatal(err)
	}
	if m.reads > 2*12 {
		t.Fatalf("inclusion proof took %d reads for a tree of %d", m.reads, n)
	}
}

func TestLoadTreeContinuesAppending(t *testing.T) {
	ctx := context.Background()
	full, m, _ := buildTree(t, 200)
	tr, err := LoadTree(ctx, m, 77)
	if err != nil {
		t.Fatal(err)
	}
	for i := 77; i < 200; i++ {
		tr.Append(m.nodes[compact.NewNodeID(0, uint64(i))], nil)
	}
	if !tr.Equal(full) || !bytes.Equal(tr.Root(), full.Root()) {
		t.Fatal("a loaded tree appended to differs from the original")
	}
	c := tr.Clone()
	c.Append(LeafHash([]byte("x")), nil)
	if c.Size() != tr.Size()+1 || tr.Size() != 200 {
		t.Fatal("Clone is not independent")
	}
	delete(m.nodes, compact.NewNodeID(4, 3))
	if _, err := LoadTree(ctx, m, 200); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("LoadTree with a missing node: %v", err)
	}
}

func TestEventCanonicalRoundTrip(t *testing.T) {
	at := archive.At(time.Date(2026, 11, 27, 5, 0, 0, 123456789, time.UTC))
	ev, err := NewEvent("message.archived", "cli:root", at, []string{"serial:1"}, map[string]any{"b": 1, "a": "保本 <x>"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Index = 42
	leaf, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":42,"time":"2026-11-27T05:00:00.123Z","type":"message.archived","actor":"cli:root","subject":["serial:1"],"payload":{"a":"保本 \u003cx\u003e","b":1}}`
	if string(leaf) != want {
		t.Fatalf("leaf =\n%s\nwant\n%s", leaf, want)
	}
	back, err := ParseLeaf(42, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Type != ev.Type || back.Time != ev.Time || string(back.Payload) != string(ev.Payload) {
		t.Fatalf("parsed %+v", back)
	}
}

func TestParseLeafRejects(t *testing.T) {
	good := `{"index":7,"time":"2026-11-27T05:00:00.000Z","type":"a.b","actor":"x","payload":{}}`
	if _, err := ParseLeaf(7, []byte(good)); err != nil {
		t.Fatalf("good leaf: %v", err)
	}
	cases := map[string]struct {
		index uint64
		leaf  string
	}{
		"moved to another position": {8, good},
		"not canonical whitespace":  {7, strings.Replace(good, `"index":7`, `"index": 7`, 1)},
		"non-canonical time":        {7, strings.Replace(good, "05:00:00.000Z", "05:00:00Z", 1)},
		"unknown field":             {7, strings.Replace(good, `"payload"`, `"extra":1,"payload"`, 1)},
		"payload not object":        {7, strings.Replace(good, `"payload":{}`, `"payload":[]`, 1)},
		"missing type":              {7, strings.Replace(good, `"type":"a.b",`, ``, 1)},
		"bad type":                  {7, strings.Replace(good, `"a.b"`, `"A B"`, 1)},
		"trailing data":             {7, good + "{}"},
		"empty":                     {7, ""},
		"invalid utf8":              {7, strings.Replace(good, `"x"`, "\"\xff\"", 1)},
	}
	for name, c := range cases {
		_, err := ParseLeaf(c.index, []byte(c.leaf))
		var le *LeafError
		if !errors.As(err, &le) || le.Index != c.index || !errors.Is(err, ErrMalformedLeaf) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestDecodeLeafCarriesOn: what verify and reindex read past — a leaf
// refused only for its size or spelling — decodes to what it says; what
// is not an event at its position still does not.
func TestDecodeLeafCarriesOn(t *testing.T) {
	good := `{"index":7,"time":"2026-11-27T05:00:00.000Z","type":"a.b","actor":"x","payload":{"q":"v"}}`
	decodes := map[string]string{
		"oversize":                 strings.Replace(good, `"v"`, `"`+strings.Repeat("\\u003c", MaxLeafBytes/6+1)+`"`, 1),
		"not canonical whitespace": strings.Replace(good, `"index":7`, `"index": 7`, 1),
		"unknown field":            strings.Replace(good, `"payload"`, `"extra":1,"payload"`, 1),
		"oversize actor":           strings.Replace(good, `"actor":"x"`, `"actor":"`+strings.Repeat("a", 300)+`"`, 1),
	}
	for name, leaf := range decodes {
		if _, err := ParseLeaf(7, []byte(leaf)); err == nil {
			t.Errorf("%s: ParseLeaf accepts it", name)
		}
		ev, err := DecodeLeaf(7, []byte(leaf))
		if err != nil || ev.Index != 7 || ev.Type != "a.b" || ev.Time.Millis() != 1795755600000 || ev.Payload[0] != '{' {
			t.Errorf("%s: DecodeLeaf = %+v, %v", name, ev, err)
		}
	}
	refused := map[string]struct {
		index uint64
		leaf  string
	}{
		"moved to another position": {8, good},
		"payload not object":        {7, strings.Replace(good, `"payload":{"q":"v"}`, `"payload":[]`, 1)},
		"missing type":              {7, strings.Replace(good, `"type":"a.b",`, ``, 1)},
		"missing time":              {7, strings.Replace(good, `"time":"2026-11-27T05:00:00.000Z",`, ``, 1)},
		"truncated":                 {7, good[:40]},
		"trailing data":             {7, good + "{}"},
		"empty":                     {7, ""},
	}
	for name, c := range refused {
		ev, err := DecodeLeaf(c.index, []byte(c.leaf))
		var le *LeafError
		if ev != nil || !errors.As(err, &le) || le.Index != c.index || !errors.Is(err, ErrMalformedLeaf) {
			t.Errorf("%s: DecodeLeaf = %v, %v", name, ev, err)
		}
	}
}

func TestCheckpointSignVerifyAndForgery(t *testing.T) {
	skey, vkey, err := GenerateKey("wxarchive-test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("wxarchive/test", skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier("wxarchive/test", vkey)
	if err != nil {
		t.Fatal(err)
	}
	root := LeafHash([]byte("r"))
	at := archive.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	note, err := s.Sign(9, root, at)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := v.Open(note)
	if err != nil || cp.Size != 9 || !bytes.Equal(cp.Root, root) || cp.Time != at {
		t.Fatalf("Open = %+v, %v", cp, err)
	}
	forged := bytes.Replace(note, []byte("\n9\n"), []byte("\n10\n"), 1)
	if _, err := v.Open(forged); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("altered size accepted: %v", err)
	}
	// PeekCheckpoint reads the same fields without a key — also from
	// the forged note, which only Open refuses.
	if pk, err := PeekCheckpoint(note); err != nil || pk.Size != 9 || !bytes.Equal(pk.Root, root) || pk.Time != at || pk.Origin != "wxarchive/test" {
		t.Fatalf("PeekCheckpoint = %+v, %v", pk, err)
	}
	if pk, err := PeekCheckpoint(forged); err != nil || pk.Size != 10 {
		t.Fatalf("PeekCheckpoint(forged) = %+v, %v", pk, err)
	}
	for _, bad := range []string{"", "o\n9\n", "o\nnine\nAAAA\n\n— k x\n", "o\n9\nAAAA\n\n— k x\n"} {
		if _, err := PeekCheckpoint([]byte(bad)); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("PeekCheckpoint(%q) = %v", bad, err)
		}
	}
	_, otherV, _ := GenerateKey("wxarchive-test")
	ov, _ := NewVerifier("wxarchive/test", otherV)
	if _, err := ov.Open(note); err == nil {
		t.Fatal("checkpoint verified under another key")
	}
	wrongOrigin, _ := NewVerifier("wxarchive/other", vkey)
	if _, err := wrongOrigin.Open(note); err == nil {
		t.Fatal("checkpoint verified for another origin")
	}
}

func TestSegmentRoundTripAndErrors(t *testing.T) {
	s := &Segment{First: 10, Leaves: [][]byte{[]byte("a"), {}, []byte("保本")}, Checkpoints: [][]byte{[]byte("cp")}}
	b := s.Encode()
	got, err := ParseSegment(b)
	if err != nil || got.First != 10 || len(got.Leaves) != 3 || string(got.Leaves[2]) != "保本" || string(got.Checkpoints[0]) != "cp" || got.End() != 13 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"truncated":      b[:len(b)-1],
		"trailing byte":  append(append([]byte{}, b...), 0),
		"bad magic":      append([]byte("WXSEG002"), b[8:]...),
		"empty":          nil,
		"huge count":     append(append(append([]byte{}, b[:16]...), 0xff, 0xff, 0xff, 0xff), b[20:]...),
		"leaf too long":  append(append(append([]byte{}, b[:20]...), 0, 0, 1, 0), b[24:]...),
		"first overflow": append(append([]byte("WXSEG001"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), b[16:]...),
	} {
		if _, err := ParseSegment(bad); !errors.Is(err, ErrMalformedSegment) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestAppendLeafMatchesMarshal(t *testing.T) {
	for i, ev := range []Event{
		{Index: 0, Type: "a.b", Actor: "x"},
		{Index: 1 << 40, Type: "message.archived", Actor: "api:127.0.0.1:5555 <&>", Subject: []string{"serial:1", "保本\u2028"},
			Payload: []byte(`{"serial":1,"text":"\u003c"}`)},
		{Index: 7, Type: "access.view", Actor: "cli:root", Payload: []byte(`{}`)},
	} {
		ev.Time = archive.At(time.Date(2026, 11, 27, 5, 0, i, 123456789, time.FixedZone("CST", 8*3600)))
		want, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.AppendLeaf(nil); string(got) != string(want) {
			t.Fatalf("AppendLeaf =\n%s\nMarshal =\n%s", got, want)
		}
	}
}

// TestRotationStatement: a signer knows its public key, and a statement
// it signs (the key.rotated note) opens only under that key.
func TestRotationStatement(t *testing.T) {
	s1, v1, _ := GenerateKey("wxarchive-test")
	_, v2, _ := GenerateKey("wxarchive-test")
	signer, err := NewSigner("wxarchive.local/t", s1)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Key() != v1 {
		t.Fatalf("Key() = %q, want %q", signer.Key(), v1)
	}
	text := RotationStatement("wxarchive.local/t", v1, v2)
	n, err := signer.SignStatement(text)
	if err != nil {
		t.Fatal(err)
	}
	ver1, _ := NewVerifier("wxarchive.local/t", v1)
	ver2, _ := NewVerifier("wxarchive.local/t", v2)
	if got, err := ver1.OpenStatement(n); err != nil || got != text {
		t.Fatalf("OpenStatement = %q, %v", got, err)
	}
	if _, err := ver2.OpenStatement(n); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("another key opened the statement: %v", err)
	}
	bad := InvalidVerifier(errors.New("damaged key"))
	if _, err := bad.Open(n); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "damaged key") {
		t.Fatalf("InvalidVerifier.Open: %v", err)
	}
}

// TestCheckWritable: the writer refuses exactly the leaves the reader
// would refuse for size, actor and invalid UTF-8 (which encoding/json
// writes as an escaped U+FFFD that never decodes back to the same bytes).
func TestCheckWritable(t *testing.T) {
	cases := []struct {
		name    string
		actor   string
		subject []string
		payload any
		refused bool
	}{
		{"plain", "cli:alice", nil, map[string]string{"note": "保证收益 <ok>"}, false},
		{"real U+FFFD", "cli:alice", nil, map[string]string{"note": "\uFFFD"}, false},
		{"escaped backslash then ufffd", "cli:alice", nil, map[string]string{"note": `\ufffd`}, false},
		{"invalid UTF-8 in the payload", "cli:alice", nil, map[string]string{"note": "a\xffb"}, false},
		{"invalid UTF-8 in the actor", "cli:\xff", nil, map[string]string{}, true},
		{"invalid UTF-8 in a subject", "cli:alice", []string{"serial:1", "\x00\xff"}, map[string]string{}, true},
		{"actor at the limit", strings.Repeat("a", MaxActorBytes), nil, map[string]string{}, false},
		{"actor over the limit", strings.Repeat("a", MaxActorBytes+1), nil, map[string]string{}, true},
		{"leaf over the limit", "cli:alice", nil, map[string]string{"note": strings.Repeat("<", MaxLeafBytes/6+1)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := NewEvent("review.action", c.actor, archive.Time{}, c.subject, c.payload)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := ev.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			err = CheckWritable(&ev, leaf)
			_, perr := ParseLeaf(0, leaf)
			if (err != nil) != c.refused {
				t.Fatalf("CheckWritable: %v, want refused=%v", err, c.refused)
			}
			if (perr != nil) != c.refused {
				t.Fatalf("writer and reader disagree: CheckWritable %v, ParseLeaf %v", err, perr)
			}
			if err != nil && !errors.Is(err, ErrLeafRefused) {
				t.Fatalf("%v does not match ErrLeafRefused", err)
			}
		})
	}
}
