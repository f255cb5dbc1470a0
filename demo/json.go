package demo

import (
	"strconv"

	"github.com/wxarchive/wxarchive/archive"
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
	w.b = archive.AppendJSONStringRaw(w.b, v)
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
	w.b = archive.AppendJSONStringRaw(w.b, v)
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
