package repo

import (
	"slices"
	"testing"
)

// TestConfigUnknownSettings: a top-level setting the configuration does
// not know is a warning naming it and the setting it resembles; a known
// one is not.
func TestConfigUnknownSettings(t *testing.T) {
	got := unknownSettings([]byte("archive_id: x\nretension_years: 7\nfrobnicate: 1\nconnectors: []\n"))
	want := []string{`unknown setting "frobnicate" is ignored`, `unknown setting "retension_years" is ignored (did you mean "retention_years"?)`}
	if !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if got := unknownSettings([]byte("archive_id: x\nretention_years: 7\n")); len(got) != 0 {
		t.Errorf("warnings for known settings: %q", got)
	}
}
