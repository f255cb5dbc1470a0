package main

import (
	"testing"
	"time"

	uc "github.com/wxarchive/wxarchive/app"
)

func TestParseExpiry(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"30d", now.AddDate(0, 0, 30), true},
		{"72h", now.Add(72 * time.Hour), true},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, loc), true},
		{"0d", time.Time{}, false}, {"-1h", time.Time{}, false}, {"07d", time.Time{}, false},
		{"someday", time.Time{}, false}, {"2026-13-01", time.Time{}, false}, {"99999999999d", time.Time{}, false},
	} {
		got, err := parseExpiry(loc, c.in, now)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"30d", "72h", "2026-03-01", "0d", "-5m", "1e9h"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseExpiry(time.UTC, s, now)
		if err != nil || s == "" {
			return
		}
		// A day is taken as written; anything else is a time from now,
		// which must be after it.
		if _, derr := time.Parse(uc.DateLayout, s); derr != nil && !got.After(now) {
			t.Fatalf("%q: %v, not after now", s, got)
		}
	})
}
