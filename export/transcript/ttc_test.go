package transcript

import (
	"encoding/binary"
	"os"
	"testing"

	"golang.org/x/image/font/sfnt"
)

const microhei = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

func readTTC(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(microhei)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skipf("%v: install %s", err, FontPackage)
	}
	if string(data[:4]) != "ttcf" {
		t.Fatalf("%s is not a collection", microhei)
	}
	return data
}

func TestStandaloneFace(t *testing.T) {
	data := readTTC(t)
	for face := 0; face < 2; face++ {
		ttf, err := standaloneFace(data, face)
		if err != nil {
			t.Fatal(err)
		}
		f, err := sfnt.Parse(ttf)
		if err != nil {
			t.Fatalf("face %d: %v", face, err)
		}
		var buf sfnt.Buffer
		if gi, err := f.GlyphIndex(&buf, '中'); err != nil || gi == 0 {
			t.Errorf("face %d: glyph for 中: %d %v", face, gi, err)
		}
		name, _ := f.Name(&buf, sfnt.NameIDFull)
		t.Logf("face %d: %s, %d bytes, %d glyphs", face, name, len(ttf), f.NumGlyphs())
		// The directory points inside the new file, 4-byte aligned, and
		// every table except head (whose checksum field changed) still
		// has its checksum.
		n := int(binary.BigEndian.Uint16(ttf[4:]))
		prev := ""
		for i := 0; i < n; i++ {
			r := ttf[12+16*i:]
			tag, sum := string(r[:4]), binary.BigEndian.Uint32(r[4:])
			off, length := int(binary.BigEndian.Uint32(r[8:])), int(binary.BigEndian.Uint32(r[12:]))
			if tag <= prev {
				t.Errorf("directory not sorted at %q", tag)
			}
			prev = tag
			if off%4 != 0 || off+length > len(ttf) {
				t.Errorf("table %q at %d+%d in %d bytes", tag, off, length, len(ttf))
				continue
			}
			if tag != "head" && checksum(ttf[off:off+length]) != sum {
				t.Errorf("table %q checksum changed", tag)
			}
		}
		if checksum(ttf) != 0xB1B0AFBA {
			t.Errorf("whole-file checksum %#x, want 0xB1B0AFBA", checksum(ttf))
		}
	}
	if _, err := standaloneFace(data, 2); err == nil {
		t.Error("face 2 of 2 accepted")
	}
}

// TestStandaloneFaceHostile: truncated or lying collections are errors,
// never panics.
func TestStandaloneFaceHostile(t *testing.T) {
	data := readTTC(t)
	for _, n := range []int{0, 4, 11, 12, 16, 20, 40, 200, 1000} {
		if _, err := standaloneFace(data[:n], 0); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	bad := append([]byte(nil), data[:4096]...)
	binary.BigEndian.PutUint32(bad[12:], 0xFFFFFFF0) // face offset past the end
	if _, err := standaloneFace(bad, 0); err == nil {
		t.Error("face offset out of range accepted")
	}
	huge := append([]byte(nil), data[:64]...)
	binary.BigEndian.PutUint32(huge[8:], 0x7FFFFFFF) // numFonts
	if _, err := standaloneFace(huge, 5); err == nil {
		t.Error("absurd face count accepted")
	}
	// A standalone font passes through unchanged.
	ttf, _ := standaloneFace(data, 0)
	same, err := standaloneFace(ttf, 0)
	if err != nil || &same[0] != &ttf[0] {
		t.Errorf("standalone font not returned as is: %v", err)
	}
}
