package detect_test

import (
	"testing"

	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/policy/detect"
)

// TestDemoPlanted: the demo's planted identity and card numbers are found;
// its near misses (a wrong check digit, a failed Luhn) are not.
func TestDemoPlanted(t *testing.T) {
	sum, err := demo.Generate(demo.Config{Seed: 1, Messages: 20000}, func([]byte) error { return nil }, func(string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		kind detect.Kind
		hit  bool
	}{
		demo.CatIDNumber: {detect.PRCResidentID, true}, demo.CatIDNearMiss: {detect.PRCResidentID, false},
		demo.CatCardNumber: {detect.BankCard, true}, demo.CatCardNearMiss: {detect.BankCard, false},
	}
	seen := map[string]int{}
	for _, p := range sum.Planted {
		w, ok := want[p.Category]
		if !ok {
			continue
		}
		seen[p.Category]++
		got := len(detect.Find(p.Text, []detect.Kind{w.kind}, detect.Options{})) > 0
		if got != w.hit {
			t.Errorf("%s %q: detected %v, want %v", p.Category, p.Text, got, w.hit)
		}
	}
	for c := range want {
		if seen[c] == 0 {
			t.Errorf("no planted %s message in the demo data", c)
		}
	}
}
