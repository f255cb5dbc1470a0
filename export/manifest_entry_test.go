package export

import (
	"encoding/json"
	"testing"
)

// TestManifestEntry: an entry is written as json.MarshalIndent writes it.
func TestManifestEntry(t *testing.T) {
	for _, e := range []FileEntry{
		{Path: "VOL001/JSONL/2026-03-02_wrSampleGroup01.jsonl", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 1234},
		{Path: "audit.jsonl", SHA256: "", Size: 0},
		{Path: "VOL001/NATIVES/WXA0000001_1.pdf", Size: -1},
		{Path: "a<b>&c\"d\\e\u2028f\x01g中", SHA256: "x", Size: 1 << 40},
	} {
		m, err := json.MarshalIndent(&e, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want := ",\n    " + string(m)
		if got := string(appendManifestEntry(nil, &e)); got != want {
			t.Errorf("entry %q:\n%s\nwant\n%s", e.Path, got, want)
		}
	}
}
