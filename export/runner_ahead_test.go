package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/eml"
	"github.com/wxarchive/wxarchive/export/rsmf"
)

// serialFormat hides a format's Unpaged: the runner then writes it in
// the writer, unit after unit, as it did before formatting ahead.
type serialFormat struct{ export.Format }

// TestFormattedAheadIsIdentical: a production whose units are formatted
// ahead, on several goroutines, into memory (Unpaged formats) and whose
// files are written by the I/O workers is byte for byte the one the
// writer makes formatting each unit itself — in one volume and with a
// new volume after every unit (where units formatted for the volume
// before are formatted again). Its manifest is what json.MarshalIndent
// writes of it.
func TestFormattedAheadIsIdentical(t *testing.T) {
	for _, vs := range []int64{1, 1 << 30} {
		ctx := context.Background()
		fx := newFixture(t, testSigner(t, 1))
		root := t.TempDir()
		ahead, serial := filepath.Join(root, "ahead"), filepath.Join(root, "serial")
		fx.create(ahead, fx.job([]string{"rsmf", "eml", "dat", "jsonl"}, "utf-8", vs))
		copyDir(t, ahead, serial)
		extra := map[string][]byte{"audit.jsonl": []byte("audit\n")}
		run := func(dir string, formats []export.Format) string {
			r := runner(t, dir, &sampleSource{fx: fx})
			r.Formats = formats
			l, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sum, _, err := r.Finish(ctx, l, r.Job.LoadEncoding, extra)
			if err != nil {
				t.Fatal(err)
			}
			return sum
		}
		sa := run(ahead, []export.Format{rsmf.Format{}, eml.Format{}, export.JSONL{}})
		ss := run(serial, []export.Format{serialFormat{rsmf.Format{}}, serialFormat{eml.Format{}}, serialFormat{export.JSONL{}}})
		if sa != ss {
			t.Errorf("volume size %d: manifest %s formatted ahead, %s in the writer", vs, sa, ss)
		}
		ta, ts := readTree(t, ahead), readTree(t, serial)
		if len(ta) != len(ts) {
			t.Errorf("volume size %d: %d files formatted ahead, %d in the writer", vs, len(ta), len(ts))
		}
		for name, b := range ta {
			if !bytes.Equal(b, ts[name]) {
				t.Errorf("volume size %d: %s differs", vs, name)
			}
		}
		mb, err := os.ReadFile(filepath.Join(ahead, export.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		var m export.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Files) < 10 {
			t.Fatalf("the manifest lists %d files", len(m.Files))
		}
		want, err := json.MarshalIndent(&m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(want, '\n'), mb) {
			t.Errorf("volume size %d: manifest.json is not json.MarshalIndent of itself", vs)
		}
	}
}
