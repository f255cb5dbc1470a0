package demo

import (
	"strconv"
	"unicode/utf8"
)

// jw is a tiny append-only JSON writer. encoding/json would work, but it
// cannot fix key order per message type (the fixture's order is kept so the
// raw records look like the SDK's), it escapes <>& needlessly, and its
// reflection cost would dominate the 1M-message benchmark.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) reset() { w.b = w.b[:0]; w.comma = false }

func (w *jw) key(k string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.comma = false
}

func (w *jw) begin() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) end() { w.b = append(w.b, '}'); w.comma = true }

func (w *jw) obj(k string) { w.key(k); w.b = append(w.b, '{'); w.comma = false }

func (w *jw) arr(k string) { w.key(k); w.b = append(w.b, '['); w.comma = false }

func (w *jw) endArr() { w.b = append(w.b, ']'); w.comma = true }

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
	w.comma = true
}

func (w *jw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
	w.comma = true
}

func (w *jw) float(k string, v float64, prec int) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', prec, 64)
	w.comma = true
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

// elem appends one string element inside an array opened with arr.
func (w *jw) elem(v string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, v)
	w.comma = true
}

func (w *jw) strs(k string, vs []string) {
	w.arr(k)
	for _, v := range vs {
		w.elem(v)
	}
	w.endArr()
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s. Generated text is always valid UTF-8; invalid
// bytes would still be replaced so that every line stays valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
