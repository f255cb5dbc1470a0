package retention

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

func mustParse(t *testing.T, src string) *Set {
	t.Helper()
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

var sent = time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)

func msg(mod func(*archive.Message)) *archive.Message {
	m := &archive.Message{Source: "wecom-archive:wwhk", SourceID: "m1", Kind: archive.KindText, SentAt: archive.At(sent),
		Conversation: "direct:alice|wmclient", ConversationKind: archive.ConversationDirect, Sender: "alice",
		Recipients: []string{"wmclient"}, Participants: []archive.Participant{{ID: "alice", Kind: archive.ParticipantEmployee}, {ID: "wmclient", Kind: archive.ParticipantExternal}}}
	if mod != nil {
		mod(m)
	}
	return m
}

func day(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC) }

const precedence = `
retention: t
jurisdictions:
  hk: {sources: [wecom-archive:wwhk]}
  desk: {departments: [Equities]}
rules:
  - name: hk
    match: {jurisdictions: [hk]}
    period: {years: 2}
  - name: five
    match: {kinds: [file]}
    period: {years: 5}
  - name: five-again
    match: {conversation_kinds: [direct], kinds: [file]}
    period: {days: 1826}
  - name: desk
    match: {jurisdictions: [desk]}
    period: {years: 7}
  - name: stickers
    match: {kinds: [emotion]}
    period: {days: 400}
    override: {reason: stickers carry no business content (legal memo 2026-04)}
  - name: vip
    match: {participants: [wmvip]}
    period: {years: 10}
`

func TestPrecedence(t *testing.T) {
	s := mustParse(t, precedence)
	captured := sent.Add(time.Minute)
	cases := []struct {
		name      string
		m         *archive.Message
		depts     []string
		rule      string
		until     time.Time
		floored   bool
		override  bool
		fromCapt  bool
		defaultYr int
	}{
		{name: "floor raises a 2-year rule to 3", m: msg(nil), rule: "hk", until: day(2029, 3, 11), floored: true},
		{name: "longest wins over the floored rule", m: msg(func(m *archive.Message) { m.Kind = archive.KindFile }), rule: "five", until: day(2031, 3, 11)},
		{name: "a tie goes to the rule written first", m: msg(func(m *archive.Message) { m.Kind = archive.KindFile }), rule: "five", until: day(2031, 3, 11)},
		{name: "department jurisdiction, longest", m: msg(nil), depts: []string{"Equities"}, rule: "desk", until: day(2033, 3, 11)},
		{name: "participant by recipient", m: msg(func(m *archive.Message) { m.Recipients = []string{"wmvip"} }), depts: []string{"Equities"}, rule: "vip", until: day(2036, 3, 11)},
		{name: "override stands below the floor", m: msg(func(m *archive.Message) { m.Source = "wecom-archive:wwus"; m.Kind = archive.KindEmotion }), rule: "stickers", until: day(2027, 4, 15), override: true},
		{name: "override loses to a longer rule", m: msg(func(m *archive.Message) { m.Kind = archive.KindEmotion }), rule: "hk", until: day(2029, 3, 11), floored: true},
		{name: "no rule: the archive's default years", m: msg(func(m *archive.Message) { m.Source = "wecom-archive:wwus" }), rule: DefaultRule, until: day(2032, 3, 11), defaultYr: 6},
		{name: "no rule, default below the floor is floored", m: msg(func(m *archive.Message) { m.Source = "wecom-archive:wwus" }), rule: DefaultRule, until: day(2029, 3, 11), defaultYr: 1},
		{name: "implausible send time counts from capture", m: msg(func(m *archive.Message) { m.SentAt = archive.At(captured.AddDate(0, 0, 3)) }), rule: "hk", until: day(2029, 3, 11), floored: true, fromCapt: true},
		{name: "absent send time counts from capture", m: msg(func(m *archive.Message) { m.SentAt = archive.Time{} }), rule: "hk", until: day(2029, 3, 11), floored: true, fromCapt: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dy := c.defaultYr
			if dy == 0 {
				dy = 6
			}
			d := s.Evaluate(Subject{Message: c.m, CapturedAt: captured, Departments: c.depts}, dy)
			if d.Rule != c.rule || !d.RetainUntil.Time.Equal(c.until) || d.Floored != c.floored || d.Override != c.override || d.FromCapture != c.fromCapt {
				t.Errorf("got rule %s until %s floored %v override %v fromCapture %v; want %s %s %v %v %v", d.Rule, d.RetainUntil.Time.Format(time.DateOnly),
					d.Floored, d.Override, d.FromCapture, c.rule, c.until.Format(time.DateOnly), c.floored, c.override, c.fromCapt)
			}
		})
	}
}

// Ties are decided by file order, whatever the order of evaluation: the
// same messages under the rules reversed pick the other name.
func TestTieDeterministic(t *testing.T) {
	a := mustParse(t, "retention: t\nrules:\n  - {name: a, period: {years: 5}}\n  - {name: b, period: {years: 5}}\n")
	b := mustParse(t, "retention: t\nrules:\n  - {name: b, period: {years: 5}}\n  - {name: a, period: {years: 5}}\n")
	for range 3 {
		if got := a.Evaluate(Subject{Message: msg(nil)}, 6).Rule; got != "a" {
			t.Fatalf("first set: %s", got)
		}
		if got := b.Evaluate(Subject{Message: msg(nil)}, 6).Rule; got != "b" {
			t.Fatalf("second set: %s", got)
		}
	}
}

func TestSetDefault(t *testing.T) {
	s := mustParse(t, "retention: t\ndefault: {years: 4}\nrules:\n  - {name: a, match: {kinds: [file]}, period: {years: 5}}\n")
	d := s.Evaluate(Subject{Message: msg(nil)}, 6)
	if d.Rule != DefaultRule || !d.RetainUntil.Time.Equal(day(2030, 3, 11)) {
		t.Fatalf("default: %+v", d)
	}
	if got := s.Longest(sent, 6).Time; !got.Equal(day(2031, 3, 11)) {
		t.Errorf("Longest = %s, want the 5-year rule's 2031-03-11", got)
	}
}

func TestSources(t *testing.T) {
	s := mustParse(t, "retention: t\nrules:\n  - {name: a, match: {sources: [wecom-archive]}, period: {years: 9}}\n  - {name: b, match: {sources: [oa-callback:x]}, period: {years: 8}}\n")
	for src, want := range map[string]string{"wecom-archive:wwhk": "a", "wecom-archivex:y": DefaultRule, "oa-callback:x": "b", "oa-callback:xy": DefaultRule, "wecom-archive": "a"} {
		if got := s.Evaluate(Subject{Message: msg(func(m *archive.Message) { m.Source = src })}, 6).Rule; got != want {
			t.Errorf("source %s: rule %s, want %s", src, got, want)
		}
	}
}

func TestExample(t *testing.T) {
	s, err := Parse("default.yaml", Example())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		rule  string
		until time.Time
	}{
		"wecom-archive:ww-us-broker-dealer":   {"us-broker-dealer", day(2032, 3, 11)},
		"wecom-archive:ww-hk-sfc-licensed":    {"hk-sfc", day(2029, 3, 11)}, // 2 y raised to the floor
		"wecom-archive:ww-eu-investment-firm": {"eu-mifid", day(2031, 3, 11)},
		"wecom-archive:ww-uk-fca-firm":        {"uk-sysc", day(2031, 3, 11)},
		"wecom-archive:other":                 {DefaultRule, day(2032, 3, 11)},
	}
	for src, w := range want {
		d := s.Evaluate(Subject{Message: msg(func(m *archive.Message) { m.Source = src }), CapturedAt: sent}, 10)
		if d.Rule != w.rule || !d.RetainUntil.Time.Equal(w.until) {
			t.Errorf("%s: %s until %s, want %s until %s", src, d.Rule, d.RetainUntil.Time.Format(time.DateOnly), w.rule, w.until.Format(time.DateOnly))
		}
	}
	if s.UsesDepartments() {
		t.Error("the example needs no directory lookups")
	}
}

// Every problem of a file is reported with its own line, not only the
// first, and nothing is returned.
func TestParseErrorsWithLines(t *testing.T) {
	src := `retention: Bad Name
colour: blue
jurisdictions:
  hk: {sources: [x], planet: [mars]}
rules:
  - name: a
    match: {kinds: [text, smoke], conversation_kinds: [trio]}
    period: {years: 2, days: 3}
  - name: a
    period: {years: 0}
  - name: c
    match: {jurisdictions: [mars]}
    period: {months: 3}
  - name: d
    period: {days: 2000}
    override: {reason: "not needed"}
  - name: e
    period: {years: 1}
    override: {}
  - match: {}
    period: {years: three}
`
	_, err := Parse("bad.yaml", []byte(src))
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want a *ParseError, got %v", err)
	}
	want := []struct {
		line  int
		field string
	}{
		{1, "retention"}, {2, "colour"}, {4, "jurisdictions.hk.planet"}, {7, "rules[0].match.kinds"},
		{7, "rules[0].match.conversation_kinds"}, {8, "rules[0].period"}, {9, "rules[1].name"}, {10, "rules[1].period.years"},
		{12, "rules[2].match.jurisdictions"}, {13, "rules[2].period.months"}, {16, "rules[3].override"},
		{19, "rules[4].override.reason"}, {20, "rules[5].name"}, {21, "rules[5].period.years"},
	}
	for _, w := range want {
		if !slices.ContainsFunc(pe.Problems, func(p Problem) bool { return p.Line == w.line && p.Field == w.field }) {
			t.Errorf("no problem at line %d for %s", w.line, w.field)
		}
	}
	if len(pe.Problems) < len(want) {
		t.Errorf("%d problems, want at least %d:\n%v", len(pe.Problems), len(want), err)
	}
	if !slices.IsSortedFunc(pe.Problems, func(a, b Problem) int { return a.Line - b.Line }) {
		t.Error("problems not in line order")
	}
	if !strings.HasPrefix(err.Error(), "bad.yaml:1: retention:") {
		t.Errorf("message does not name the file and line: %q", err.Error())
	}
}

func TestParseRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"not yaml":        "retention: [",
		"not a mapping":   "- a\n- b\n",
		"empty":           "",
		"no rules":        "retention: t\n",
		"empty rules":     "retention: t\nrules: []\n",
		"two documents":   "retention: t\nrules:\n  - {name: a, period: {years: 3}}\n---\nretention: u\n",
		"alias":           "retention: t\nx: &a {years: 3}\nrules:\n  - {name: a, period: *a}\n",
		"default floor":   "retention: t\ndefault: {years: 2}\nrules:\n  - {name: a, period: {years: 3}}\n",
		"default name":    "retention: t\nrules:\n  - {name: default, period: {years: 3}}\n",
		"empty list":      "retention: t\nrules:\n  - {name: a, match: {kinds: []}, period: {years: 3}}\n",
		"too long":        "retention: t\ndescription: " + strings.Repeat("x", MaxFileBytes) + "\n",
		"control char":    "retention: t\nrules:\n  - {name: a, match: {participants: [\"a\\u0001\"]}, period: {years: 3}}\n",
		"years too large": "retention: t\nrules:\n  - {name: a, period: {years: 101}}\n",
		"bad utf-8":       "retention: t\xff\n",
		"duplicate key":   "retention: t\nretention: u\nrules:\n  - {name: a, period: {years: 3}}\n",
	} {
		if _, err := Parse(name, []byte(src)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: want ErrInvalid, got %v", name, err)
		}
	}
}

func TestOverrides(t *testing.T) {
	s := mustParse(t, precedence)
	got := s.Overrides()
	if len(got) != 1 || got[0].Rule != "stickers" || got[0].Period != "400d" || !strings.Contains(got[0].Reason, "legal memo") {
		t.Fatalf("Overrides = %+v", got)
	}
	if mustParse(t, "retention: t\nrules:\n  - {name: a, period: {years: 3}}\n").Overrides() != nil {
		t.Error("a set without overrides lists some")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte(precedence))
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error is not a ParseError with problems: %v", err)
			}
			for _, p := range pe.Problems {
				if p.Line < 1 || p.Field == "" || p.Reason == "" {
					t.Fatalf("problem without a line, field or reason: %+v", p)
				}
			}
			if s != nil {
				t.Fatal("a set returned with an error")
			}
			return
		}
		if len(s.Rules) == 0 || s.Name == "" {
			t.Fatalf("accepted a set without name or rules: %+v", s)
		}
		// Whatever was accepted evaluates, and never below the floor
		// except through an override.
		d := s.Evaluate(Subject{Message: msg(nil), CapturedAt: sent}, 6)
		if d.RetainUntil.Time.Before(Until(sent, Period{Years: FloorYears})) && !d.Override {
			t.Fatalf("below the floor without an override: %+v", d)
		}
	})
}
