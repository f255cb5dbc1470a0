package replica

import (
	"bytes"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

func sampleManifest() *Manifest {
	return &Manifest{Version: 1, ReplicaID: "0123456789abcdef0123456789abcdef", ArchiveID: "fedcba9876543210fedcba9876543210",
		Origin: "wxarchive.local/fedcba9876543210fedcba9876543210", PublicKey: "wxarchive-fedcba987654+1234abcd+AQID",
		RetentionYears: 6, TimeZone: "Asia/Shanghai", SealDelayMS: 10000, From: 0, TreeSize: 7,
		Checkpoint: "wxarchive.local/x\n7\nAAAA\n\n— k sig\n",
		Segments:   []SegmentRef{{First: 0, End: 3, Blob: archive.Hash([]byte("a"))}, {First: 3, End: 7, Blob: archive.Hash([]byte("b"))}},
		Ahead:      []PackRef{{Pack: archive.Hash([]byte("p")), First: 5, Last: 8, Count: 2, Bytes: 10, Sealed: 9}},
		Copied:     Counts{Segments: 2, Packs: 1, Bytes: 99}}
}

func TestManifestRoundTripAndRefusals(t *testing.T) {
	b, err := sampleManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(b)
	if err != nil || m.TreeSize != 7 || len(m.Segments) != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	bad := map[string]func(m *Manifest){
		"gap between segments":   func(m *Manifest) { m.Segments[1].First = 4 },
		"segments short of size": func(m *Manifest) { m.TreeSize = 8 },
		"ahead pack not ahead":   func(m *Manifest) { m.Ahead[0].Sealed = 6 },
		"bad replica id":         func(m *Manifest) { m.ReplicaID = "XYZ" },
		"empty range":            func(m *Manifest) { m.From = 7 },
		"other version":          func(m *Manifest) { m.Version = 2 },
		"no checkpoint":          func(m *Manifest) { m.Checkpoint = "" },
	}
	for name, f := range bad {
		m := sampleManifest()
		f(m)
		if _, err := m.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	// Not canonical: an extra space.
	nc := bytes.Replace(b, []byte(`"version":1`), []byte(`"version": 1`), 1)
	if _, err := ParseManifest(nc); err == nil {
		t.Error("non-canonical manifest parsed")
	}
	unknown := bytes.Replace(b, []byte(`{"version":1`), []byte(`{"x":1,"version":1`), 1)
	if _, err := ParseManifest(unknown); err == nil {
		t.Error("manifest with an unknown member parsed")
	}
}

// FuzzParseManifest: never panics; what parses encodes to the same bytes.
func FuzzParseManifest(f *testing.F) {
	b, _ := sampleManifest().Encode()
	f.Add(b)
	f.Add([]byte(ManifestMagic + "{}\n"))
	f.Add([]byte("WXREPL01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parsed manifest does not encode to its bytes: %v", err)
		}
	})
}
