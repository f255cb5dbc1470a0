package transcript

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFont: a font file given with --font is untrusted input. Whatever its
// bytes, loading it (collection face, sfnt tables, metrics, the subsetter)
// and subsetting it either works or is an error — never a panic, never a
// subset the checks let through that does not parse again. Seeds: the
// checked-in corpus, and when the system's WenQuanYi Micro Hei is present,
// its header and table directory cut at several lengths.
func FuzzFont(f *testing.F) {
	if data, err := os.ReadFile(microhei); err == nil {
		for _, n := range []int{12, 64, 512, 4096} {
			f.Add(data[:n])
		}
		if ttf, err := standaloneFace(data, 0); err == nil {
			f.Add(ttf[:1024])
		}
	}
	f.Add([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10"))
	f.Add([]byte("\x00\x01\x00\x00\x00\x01\x00\x10\x00\x01\x00\x00glyf\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x04\x00\x00\x00\x00"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "font.ttf")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fnt, err := loadFont(path)
		if err != nil {
			return
		}
		if fnt.sub == nil {
			return
		}
		ttf, err := fnt.sub.subset(fnt, []rune("中文 text 保证收益"))
		if err != nil {
			return
		}
		if _, err := sfntTables(ttf); err != nil {
			t.Fatalf("a subset that does not parse: %v", err)
		}
	})
}
