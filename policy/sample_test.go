package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func population(n, employees int) []Candidate {
	pop := make([]Candidate, n)
	for i := range pop {
		pop[i] = Candidate{ID: fmt.Sprintf("msg-%06d", i), Employee: fmt.Sprintf("emp%02d", i%employees), Period: fmt.Sprintf("2026-%02d", 1+i%3)}
	}
	return pop
}

func TestSamplingReproducible(t *testing.T) {
	s := &Sampling{Rate: 0.02, MinPerEmployee: 0, Seed: "regulator-can-rederive-this"}
	pop := population(100000, 50)
	a, b := s.Select(pop), s.Select(slices.Clone(pop))
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave two samples")
	}
	other := &Sampling{Rate: 0.02, Seed: "another-seed-another-sample"}
	if slices.Equal(a, other.Select(pop)) {
		t.Fatal("another seed gave the same sample")
	}
	// The rate within 5 standard deviations on 100k messages.
	n := float64(len(pop))
	sd := math.Sqrt(n * 0.02 * 0.98)
	if got := float64(len(a)); math.Abs(got-n*0.02) > 5*sd {
		t.Fatalf("sampled %v of %v at rate 0.02 (expected %v ± %v)", got, n, n*0.02, 5*sd)
	}
	for _, rate := range []float64{0, 0.001, 0.1, 0.5, 1} {
		s := &Sampling{Rate: rate, Seed: "regulator-can-rederive-this"}
		got := float64(len(s.Select(pop)))
		sd := math.Sqrt(n * rate * (1 - rate))
		if math.Abs(got-n*rate) > 5*sd+0.5 {
			t.Errorf("rate %v: %v sampled", rate, got)
		}
	}
}

func TestSamplingMinimumPerEmployee(t *testing.T) {
	s := &Sampling{Rate: 0.001, MinPerEmployee: 5, Seed: "regulator-can-rederive-this"}
	pop := population(30000, 40) // 40 employees × 3 periods, 250 messages each
	chosen := map[string]bool{}
	for _, id := range s.Select(pop) {
		chosen[id] = true
	}
	per := map[string]int{}
	for _, c := range pop {
		if chosen[c.ID] {
			per[c.Employee+" "+c.Period]++
		}
	}
	if len(per) != 120 {
		t.Fatalf("%d employee-periods sampled, want all 120", len(per))
	}
	for k, n := range per {
		if n < 5 {
			t.Fatalf("%s: %d sampled, minimum 5", k, n)
		}
	}
	// An employee with fewer messages than the minimum gets them all.
	small := []Candidate{{ID: "x1", Employee: "new", Period: "2026-01"}, {ID: "x2", Employee: "new", Period: "2026-01"}}
	if got := s.Select(small); len(got) != 2 {
		t.Fatalf("small population: %v", got)
	}
}

func TestSamplingPolicy(t *testing.T) {
	p, err := Parse("s.yaml", []byte("policy: random-review\nsampling:\n  rate: 1\n  seed: regulator-can-rederive-this\n"))
	if err != nil {
		t.Fatal(err)
	}
	if hits := p.Evaluate(Input{Message: msg("hello")}); len(hits) != 1 || hits[0].Rule != SampleRule {
		t.Fatalf("hits %+v", hits)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"policy: p\nsampling:\n  rate: 2\n  seed: regulator-can-rederive-this\n", "sampling.rate"},
		{"policy: p\nsampling:\n  rate: 0.1\n  seed: short\n", "sampling.seed"},
		{"policy: p\nsampling:\n  rate: 0.1\n  period: year\n  seed: regulator-can-rederive-this\n", "sampling.period"},
		{"policy: p\nsampling:\n  rates: 0.1\n", "sampling.rates: unknown key"},
	} {
		if _, err := Parse("s.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
