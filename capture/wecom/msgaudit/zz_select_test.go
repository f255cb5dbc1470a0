package msgaudit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func readCorpusFile(t *testing.T, f string) []byte {
	b, _ := os.ReadFile(f)
	lines := strings.SplitN(string(b), "\n", 2)
	s := strings.TrimSpace(lines[1])
	s = strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")
	v, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return []byte(v)
}

func TestZZSelect(t *testing.T) {
	if os.Getenv("CORPUS") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("CORPUS"), "*"))
	type cand struct {
		name string
		data []byte
	}
	buckets := map[string][]cand{}
	for _, f := range files {
		data := readCorpusFile(t, f)
		m, err := Decode(data, testOpts)
		var key string
		if err != nil {
			var de *DecodeError
			errors.As(err, &de)
			w := strings.Fields(de.Reason)
			if len(w) > 9 {
				w = w[:9]
			}
			for i := range w {
				w[i] = strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return -1
					}
					return r
				}, w[i])
			}
			f := de.Field
			if i := strings.IndexAny(f, "[."); i >= 0 {
				f = f[:i] + "…"
			}
			key = "err " + f + " " + strings.Join(w, " ")
		} else {
			key = fmt.Sprintf("ok %s atts=%d det=%v", m.Kind, len(m.Attachments), len(m.Details) > 0)
		}
		buckets[key] = append(buckets[key], cand{filepath.Base(f), data})
	}
	keys := make([]string, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := os.Getenv("OUT")
	for _, k := range keys {
		cs := buckets[k]
		sort.Slice(cs, func(i, j int) bool { return len(cs[i].data) < len(cs[j].data) })
		t.Logf("%3d %-60s %s", len(cs), k, cs[0].name)
		if out != "" {
			os.WriteFile(filepath.Join(out, cs[0].name), []byte("go test fuzz v1\n[]byte("+strconv.Quote(string(cs[0].data))+")\n"), 0o644)
		}
	}
}
