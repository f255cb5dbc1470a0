package archive

import (
	"fmt"
	"time"
)

// TimeLayout is the one textual time form used in records and journal
// events: UTC, millisecond precision, always three fractional digits, so that
// the same instant always encodes to the same bytes.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is an instant with millisecond precision that marshals canonically.
type Time struct{ time.Time }

// MillisTime returns the Time for ms milliseconds since the Unix epoch.
func MillisTime(ms int64) Time { return Time{time.UnixMilli(ms).UTC()} }

// At truncates t to milliseconds and converts it to UTC.
func At(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// Millis returns milliseconds since the Unix epoch.
func (t Time) Millis() int64 { return t.UnixMilli() }

// String returns the canonical form.
func (t Time) String() string { return t.UTC().Format(TimeLayout) }

// MarshalText implements encoding.TextMarshaler.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText accepts the canonical form (and any RFC 3339 time).
func (t *Time) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return fmt.Errorf("time %q: want %s", b, TimeLayout)
	}
	*t = At(p)
	return nil
}

// MarshalJSON overrides the promoted time.Time method so JSON uses the
// canonical form too.
func (t Time) MarshalJSON() ([]byte, error) { return []byte(`"` + t.String() + `"`), nil }

// UnmarshalJSON accepts a JSON string in RFC 3339 form.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("time %s: want a string like %q", truncate(string(b), 40), TimeLayout)
	}
	return t.UnmarshalText(b[1 : len(b)-1])
}
