package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Sampling selects messages for review at random, reproducibly: a message
// is in the sample when HMAC-SHA256(seed, message id) read as a number in
// [0, 1) is below the rate, so anyone holding the seed — a regulator — can
// re-derive the sample. At the end of each period every employee is topped
// up to the minimum with their messages of the lowest HMAC values not yet
// sampled (FINRA 3110.06 risk-based review with a floor).
type Sampling struct {
	Rate           float64 `yaml:"rate"`             // 0..1
	MinPerEmployee int     `yaml:"min_per_employee"` // per period
	Period         string  `yaml:"period"`           // day, week, month (default month)
	Seed           string  `yaml:"seed"`             // the HMAC key; required
}

// score is the message's uniform draw in [0, 1).
func (s *Sampling) score(id string) float64 {
	m := hmac.New(sha256.New, []byte(s.Seed))
	m.Write([]byte(id))
	return float64(binary.BigEndian.Uint64(m.Sum(nil))>>11) / (1 << 53)
}

// Sampled reports whether a message is in the rate sample.
func (s *Sampling) Sampled(id string) bool { return s.score(id) < s.Rate }

// PeriodOf names the period a time falls in (in loc): 2026-07-03,
// 2026-W27 or 2026-07.
func (s *Sampling) PeriodOf(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	switch s.Period {
	case "day":
		return t.Format("2006-01-02")
	case "week":
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}
	return t.Format("2006-01")
}

// Candidate is a message of the sampled population.
type Candidate struct {
	ID       string // the message id the HMAC is taken over (source id)
	Employee string // whose message it is
	Period   string
}

// Select returns the ids of the sample of a population: the rate sample,
// plus each employee's top-up to the minimum per period. The result is
// sorted and depends only on the population and the seed.
func (s *Sampling) Select(pop []Candidate) []string {
	var out []string
	for _, c := range pop {
		if s.Sampled(c.ID) {
			out = append(out, c.ID)
		}
	}
	out = append(out, s.TopUp(pop, s.Sampled)...)
	sort.Strings(out)
	return slices.Compact(out)
}

// TopUp returns the messages to add so that each employee has at least
// the minimum sampled in each period, given which are sampled already:
// each employee's unsampled messages of the lowest HMAC values, so the
// top-up too is re-derivable from the seed. Sorted by id.
func (s *Sampling) TopUp(pop []Candidate, sampled func(id string) bool) []string {
	type key struct{ emp, period string }
	have := map[key]map[string]bool{}
	rest := map[key][]Candidate{}
	for _, c := range pop {
		k := key{c.Employee, c.Period}
		if have[k] == nil {
			have[k] = map[string]bool{}
		}
		if sampled(c.ID) {
			have[k][c.ID] = true
		} else {
			rest[k] = append(rest[k], c)
		}
	}
	chosen := map[string]bool{}
	for k, cs := range rest {
		need := s.MinPerEmployee - len(have[k])
		if need <= 0 {
			continue
		}
		sort.Slice(cs, func(i, j int) bool {
			si, sj := s.score(cs[i].ID), s.score(cs[j].ID)
			if si != sj {
				return si < sj
			}
			return cs[i].ID < cs[j].ID
		})
		for _, c := range cs {
			if need == 0 {
				break
			}
			if !chosen[c.ID] && !have[k][c.ID] {
				chosen[c.ID], have[k][c.ID] = true, true
				need--
			}
		}
	}
	out := make([]string, 0, len(chosen))
	for id := range chosen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// PeriodBounds returns the period containing t (in loc) as [start, end).
func (s *Sampling) PeriodBounds(t time.Time, loc *time.Location) (start, end time.Time) {
	t = t.In(loc)
	switch s.Period {
	case "day":
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 1)
	case "week":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		back := (int(d.Weekday()) + 6) % 7 // ISO weeks start on Monday
		start = d.AddDate(0, 0, -back)
		return start, start.AddDate(0, 0, 7)
	}
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 1, 0)
}

func (s *Sampling) validate(line int, bad func(int, string, string, ...any)) {
	if s.Rate < 0 || s.Rate > 1 {
		bad(line, "sampling.rate", "%v: between 0 and 1", s.Rate)
	}
	if s.MinPerEmployee < 0 {
		bad(line, "sampling.min_per_employee", "%d: not negative", s.MinPerEmployee)
	}
	switch s.Period {
	case "", "day", "week", "month":
	default:
		bad(line, "sampling.period", "%q: day, week or month", s.Period)
	}
	if len(s.Seed) < 16 {
		bad(line, "sampling.seed", "at least 16 characters: the sample is only as unpredictable as the seed")
	}
}
