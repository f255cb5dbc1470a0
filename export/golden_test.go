package export_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

// golden compares got with testdata/golden/NAME, or rewrites it with
// -update (the same flag as the fuzz seeds').
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./export -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (if the change is meant, -update); got:\n%s", name, got)
	}
}

// TestGoldenJSONLAndLoadFiles: the JSONL of the sample units (every kind
// of message) and the load files and text files of their rows are the
// golden bytes.
func TestGoldenJSONLAndLoadFiles(t *testing.T) {
	s := exporttest.Units("WXA")
	var rows []export.LoadRow
	for _, u := range s.Units {
		out := exporttest.NewSink()
		if _, err := (export.JSONL{}).WriteUnit(context.Background(), u, out, 1); err != nil {
			t.Fatal(err)
		}
		golden(t, u.Name+".jsonl", out.Files[u.Name+".jsonl"])
		for _, m := range u.Messages {
			rows = append(rows, export.RowOf(u, m, map[string]string{"jsonl": "VOL001/JSONL/" + u.Name + ".jsonl"}, exporttest.Location))
			if m.ProductionNumber == "WXA0000011" || m.ProductionNumber == "WXA0000008" {
				golden(t, m.ProductionNumber+".txt", []byte(export.PlainText(u, m)))
			}
		}
	}
	for _, enc := range []string{"utf-8", "utf-16le", "gb18030"} {
		dat, err := export.DAT(rows, enc)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "loadfile."+enc+".dat", dat)
		csv, err := export.CSV(rows, enc)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "loadfile."+enc+".csv", csv)
	}
}
