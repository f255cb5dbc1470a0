package transcript

import (
	"bytes"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// TestFontCoder: subsets compressed with the face's prebuilt code read
// back exactly with a standard zlib reader, for subsets of every size,
// and come out about as small as zlib's Huffman-only level makes them.
func TestFontCoder(t *testing.T) {
	needFont(t)
	f, _ := findFont("")
	if f.coder == nil {
		t.Fatalf("%s: no coder", f.path)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var cjk []rune
	for r := rune(0x4E00); r < 0x9FA5; r++ {
		if f.has(r) {
			cjk = append(cjk, r)
		}
	}
	var ours, huff, fast int
	var tOurs, tHuff, tFast time.Duration
	for _, n := range []int{0, 1, 10, 100, 300, 1000, 3000} {
		runes := []rune("第 1 页，共 2 页 · Page 1 of 2 WXA-P0000001")
		for i := 0; i < n; i++ {
			runes = append(runes, cjk[rng.IntN(len(cjk))])
		}
		start := time.Now()
		ttf, z, err := f.sub.subsetZ(f, runes) // as documents are
		tOurs += time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range [][]byte{z, f.coder.compress(ttf)} {
			r, err := zlib.NewReader(bytes.NewReader(z))
			if err != nil {
				t.Fatalf("%d runes: %v", n, err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, ttf) {
				t.Fatalf("%d runes: read back %d bytes of %d, %v", n, len(back), len(ttf), err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("%d runes: %v", n, err)
			}
		}
		for _, lv := range []struct {
			level int
			size  *int
			d     *time.Duration
		}{{zlib.HuffmanOnly, &huff, &tHuff}, {zlib.BestSpeed, &fast, &tFast}} {
			var b bytes.Buffer
			start := time.Now()
			w, _ := zlib.NewWriterLevel(&b, lv.level)
			w.Write(ttf)
			w.Close()
			*lv.d += time.Since(start)
			*lv.size += b.Len()
		}
		ours += len(z)
		t.Logf("%4d runes: subset %7d bytes, compressed %7d (%.0f %%)", n, len(ttf), len(z), 100*float64(len(z))/float64(len(ttf)))
	}
	t.Logf("total: prebuilt code %d bytes in %v, zlib HuffmanOnly %d in %v, zlib BestSpeed %d in %v", ours, tOurs, huff, tHuff, fast, tFast)
	if float64(ours) > 1.05*float64(huff) {
		t.Errorf("prebuilt code: %d bytes, HuffmanOnly %d", ours, huff)
	}
}
