package diskprobe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the probe left %d files", len(ents))
	}
	missing := filepath.Join(dir, "gone")
	if err := Write(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("probe in a missing directory: %v", err)
	}
}
