// Package policy is supervision: policies of rules (lexicons in Chinese
// and English, RE2 patterns, validated detectors, message behaviour) over a
// scope of messages, evaluated against normalized messages. A lexicon term
// is a query of the search language (docs/SEARCH.md) evaluated by the same
// analyzer, so a lexicon hit and a search for the same term find the same
// messages.
//
// This file parses and validates policy files (YAML); eval.go evaluates.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/policy/detect"
	"github.com/wxarchive/wxarchive/textindex"
)

// Policy is one policy file.
type Policy struct {
	Name        string    `yaml:"policy"`
	Description string    `yaml:"description"`
	Enabled     *bool     `yaml:"enabled"`
	Scope       Scope     `yaml:"scope"`
	Disclaimers []string  `yaml:"disclaimers"` // removed from the text before matching
	Rules       []Rule    `yaml:"rules"`
	Sampling    *Sampling `yaml:"sampling"` // random review sample of the scope
}

// Scope says which messages a policy looks at. Empty lists mean all.
type Scope struct {
	Directions        []archive.Direction        `yaml:"directions"`
	Departments       []string                   `yaml:"departments"`
	Employees         []string                   `yaml:"employees"`
	ConversationKinds []archive.ConversationKind `yaml:"conversation_kinds"`
	ExceptSenders     []string                   `yaml:"except_senders"` // privileged senders
}

// Rule is one rule; exactly one of Lexicon, Regex, Detector, Behaviour is
// set.
type Rule struct {
	ID          string          `yaml:"id"`
	Description string          `yaml:"description"`
	Lexicon     []string        `yaml:"lexicon"`    // search-language terms, any matches
	Unless      []string        `yaml:"unless"`     // lexicon: no hit when any of these matches the message
	WholeWord   *bool           `yaml:"whole_word"` // lexicon: false matches English words as prefixes (guarantee → guaranteed)
	Regex       string          `yaml:"regex"`      // RE2 over the normalized text
	Detector    string          `yaml:"detector"`   // one of detect.All
	Behaviour   string          `yaml:"behaviour"`  // recalled, outside_hours, first_contact
	Attachment  *AttachmentRule `yaml:"attachment"`
	// Hours are the business hours of outside_hours.
	Hours *Hours `yaml:"hours"`
	// Mass are the parameters of mass_communication.
	Mass *Mass `yaml:"mass"`

	line    int
	queries []textindex.Node
	unless  []textindex.Node
	re      *regexp.Regexp
	// Matchers kept for every message (they cache the queries' patterns):
	// a Policy is evaluated by one goroutine at a time.
	matchers, unlessMatchers []*textindex.Matcher
}

// Behaviours a rule can flag.
const (
	BehaviourRecalled     = "recalled"      // the message was recalled
	BehaviourOutsideHours = "outside_hours" // sent outside business hours
	BehaviourFirstContact = "first_contact" // the first message with an external party
)

// AttachmentRule flags attachments by what they are (sniffed from their
// bytes, not their names), their size or their number.
type AttachmentRule struct {
	Types    []string `yaml:"types"`     // executable, archive, or media types (image/jpeg)
	MaxSize  int64    `yaml:"max_size"`  // bytes; larger attachments are flagged
	MaxCount int      `yaml:"max_count"` // more attachments than this are flagged
}

// Hours are business hours in a time zone.
type Hours struct {
	Start    string   `yaml:"start"` // "08:30"
	End      string   `yaml:"end"`   // "18:00"
	Days     []string `yaml:"days"`  // mon … sun (default mon-fri)
	TimeZone string   `yaml:"timezone"`

	start, end int // minutes
	days       map[time.Weekday]bool
	loc        *time.Location
}

// ParseError is a policy file that cannot be used: every problem with its
// line.
type ParseError struct {
	File     string
	Problems []Problem
}

// Problem is one mistake in a policy file.
type Problem struct {
	Line   int
	Field  string
	Reason string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File + ":")
		}
		fmt.Fprintf(&b, "%d: %s: %s", p.Line, p.Field, p.Reason)
	}
	return b.String()
}

// MaxFileBytes bounds a policy file: its YAML is journaled whole in
// policy.applied, so it must fit a journal leaf however it is escaped.
const MaxFileBytes = archive.MaxPolicySourceBytes

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Parse reads and validates a policy file. Unknown keys, a rule with no
// or two kinds, a lexicon term that does not parse, a bad RE2 pattern or an
// unknown detector are all reported, each with its line.
func Parse(name string, data []byte) (*Policy, error) {
	perr := &ParseError{File: name}
	bad := func(line int, field, format string, a ...any) {
		perr.Problems = append(perr.Problems, Problem{Line: line, Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if len(data) > MaxFileBytes {
		bad(1, "file", "%d bytes, over the %d-byte limit", len(data), MaxFileBytes)
		return nil, perr
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		line := 1
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			if l := yamlErrLine(err.Error()); l > 0 {
				line = l
			}
		}
		bad(line, "file", "not YAML: %v", err)
		return nil, perr
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		bad(1, "file", "a policy is a mapping with policy, scope and rules")
		return nil, perr
	}
	doc := root.Content[0]
	checkKeys(doc, []string{"policy", "description", "enabled", "scope", "disclaimers", "rules", "sampling"}, "", bad)
	var p Policy
	if err := doc.Decode(&p); err != nil {
		bad(doc.Line, "file", "%v", err)
		return nil, perr
	}
	if !idPattern.MatchString(p.Name) {
		bad(doc.Line, "policy", "%q: a name of lower-case letters, digits and '-'", p.Name)
	}
	if n := valueNode(doc, "scope"); n != nil {
		checkKeys(n, []string{"directions", "departments", "employees", "conversation_kinds", "except_senders"}, "scope.", bad)
	}
	for _, d := range p.Scope.Directions {
		if d != archive.DirectionInbound && d != archive.DirectionOutbound && d != archive.DirectionInternal {
			bad(lineOf(doc, "scope"), "scope.directions", "%q: want inbound, outbound or internal", d)
		}
	}
	for _, k := range p.Scope.ConversationKinds {
		if k != archive.ConversationDirect && k != archive.ConversationGroup {
			bad(lineOf(doc, "scope"), "scope.conversation_kinds", "%q: want direct or group", k)
		}
	}
	if n := valueNode(doc, "sampling"); n != nil {
		checkKeys(n, []string{"rate", "min_per_employee", "period", "seed"}, "sampling.", bad)
		if p.Sampling != nil {
			p.Sampling.validate(n.Line, bad)
		}
	}
	rulesNode := valueNode(doc, "rules")
	if (rulesNode == nil || len(p.Rules) == 0) && p.Sampling == nil {
		bad(doc.Line, "rules", "a policy needs at least one rule (or sampling)")
	}
	seen := map[string]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		line := doc.Line
		if rulesNode != nil && i < len(rulesNode.Content) {
			rn := rulesNode.Content[i]
			line = rn.Line
			checkKeys(rn, []string{"id", "description", "lexicon", "unless", "whole_word", "regex", "detector", "behaviour", "attachment", "hours", "mass"}, fmt.Sprintf("rules[%d].", i), bad)
		}
		r.line = line
		field := func(f string) string { return fmt.Sprintf("rules[%d].%s", i, f) }
		// Lines of the nested mappings, whose keys are checked too.
		nested := map[string]int{}
		if rulesNode != nil && i < len(rulesNode.Content) {
			for _, k := range []struct {
				key     string
				allowed []string
			}{{"hours", []string{"start", "end", "days", "timezone"}}, {"attachment", []string{"types", "max_size", "max_count"}},
				{"mass", []string{"recipients", "days", "similarity", "min_length"}}} {
				if n := valueNode(rulesNode.Content[i], k.key); n != nil {
					checkKeys(n, k.allowed, field(k.key)+".", bad)
					nested[k.key] = n.Line
				}
			}
		}
		if !idPattern.MatchString(r.ID) {
			bad(line, field("id"), "%q: an id of lower-case letters, digits and '-'", r.ID)
		} else if prev, dup := seen[r.ID]; dup {
			bad(line, field("id"), "%q is also rules[%d]", r.ID, prev)
		}
		seen[r.ID] = i
		kinds := 0
		for _, set := range []bool{len(r.Lexicon) > 0, r.Regex != "", r.Detector != "", r.Behaviour != "", r.Attachment != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			bad(line, field("lexicon"), "a rule has exactly one of lexicon, regex, detector, behaviour or attachment (this one has %d)", kinds)
			continue
		}
		wholeWord := r.WholeWord == nil || *r.WholeWord
		for j, term := range r.Lexicon {
			q, err := textindex.Parse(lexiconTerm(term, wholeWord), textindex.ParseOptions{})
			if err != nil {
				bad(line, field(fmt.Sprintf("lexicon[%d]", j)), "%q: %v", term, err)
				continue
			}
			r.queries = append(r.queries, q)
			r.matchers = append(r.matchers, textindex.NewMatcher(q))
		}
		for j, term := range r.Unless {
			q, err := textindex.Parse(term, textindex.ParseOptions{})
			if err != nil {
				bad(line, field(fmt.Sprintf("unless[%d]", j)), "%q: %v", term, err)
				continue
			}
			r.unless = append(r.unless, q)
			r.unlessMatchers = append(r.unlessMatchers, textindex.NewMatcher(q))
		}
		if len(r.Unless) > 0 && len(r.Lexicon) == 0 {
			bad(line, field("unless"), "only a lexicon rule has exceptions")
		}
		if r.Regex != "" {
			re, err := regexp.Compile(r.Regex)
			if err != nil {
				bad(line, field("regex"), "not an RE2 pattern: %v", err)
			}
			r.re = re
		}
		if r.Detector != "" && !knownDetector(r.Detector) {
			bad(line, field("detector"), "%q: want one of %v", r.Detector, detect.All)
		}
		switch r.Behaviour {
		case "", BehaviourRecalled, BehaviourFirstContact:
		case BehaviourMassCommunication:
			if r.Mass != nil {
				r.Mass.validate(nested["mass"], field("mass"), bad)
			}
		case BehaviourOutsideHours:
			if r.Hours == nil {
				bad(line, field("hours"), "outside_hours needs hours: {start, end, days, timezone}")
			} else {
				r.Hours.compile(line, field("hours"), bad)
			}
		default:
			bad(line, field("behaviour"), "%q: want recalled, outside_hours, first_contact or mass_communication", r.Behaviour)
		}
		if r.Hours != nil && r.Behaviour != BehaviourOutsideHours {
			bad(line, field("hours"), "only an outside_hours rule has hours")
		}
		if r.Mass != nil && r.Behaviour != BehaviourMassCommunication {
			bad(line, field("mass"), "only a mass_communication rule has mass")
		}
		if a := r.Attachment; a != nil {
			if len(a.Types) == 0 && a.MaxSize <= 0 && a.MaxCount <= 0 {
				bad(line, field("attachment"), "give types, max_size or max_count")
			}
			for _, t := range a.Types {
				if t != "executable" && t != "archive" && !strings.Contains(t, "/") {
					bad(line, field("attachment.types"), "%q: executable, archive or a media type like image/jpeg", t)
				}
			}
		}
	}
	if len(perr.Problems) > 0 {
		return nil, perr
	}
	return &p, nil
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (h *Hours) compile(line int, field string, bad func(int, string, string, ...any)) {
	clock := func(name, v string) int {
		t, err := time.Parse("15:04", v)
		if err != nil {
			bad(line, field+"."+name, "%q is not a time (15:04)", v)
			return 0
		}
		return t.Hour()*60 + t.Minute()
	}
	h.start, h.end = clock("start", h.Start), clock("end", h.End)
	if h.end <= h.start {
		bad(line, field, "end %s is not after start %s", h.End, h.Start)
	}
	h.days = map[time.Weekday]bool{}
	days := h.Days
	if len(days) == 0 {
		days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	for _, d := range days {
		wd, ok := dayNames[strings.ToLower(d)]
		if !ok {
			bad(line, field+".days", "%q: mon, tue, wed, thu, fri, sat or sun", d)
		}
		h.days[wd] = true
	}
	h.loc = time.UTC
	if h.TimeZone != "" {
		loc, err := time.LoadLocation(h.TimeZone)
		if err != nil {
			bad(line, field+".timezone", "%q: %v", h.TimeZone, err)
		} else {
			h.loc = loc
		}
	}
}

// outside reports whether t falls outside the hours.
func (h *Hours) outside(t time.Time) bool {
	t = t.In(h.loc)
	m := t.Hour()*60 + t.Minute()
	return !h.days[t.Weekday()] || m < h.start || m >= h.end
}

// lexiconTerm turns a lexicon entry into a query: with whole_word false,
// each bare English word also matches as a prefix.
func lexiconTerm(term string, wholeWord bool) string {
	if wholeWord {
		return term
	}
	fields := strings.Fields(term)
	for i, f := range fields {
		if isWord(f) {
			fields[i] = f + "*"
		}
	}
	return strings.Join(fields, " ")
}

func isWord(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != "" && s != "AND" && s != "OR" && s != "NOT"
}

func knownDetector(d string) bool {
	for _, k := range detect.All {
		if string(k) == d {
			return true
		}
	}
	return false
}

func checkKeys(n *yaml.Node, allowed []string, prefix string, bad func(int, string, string, ...any)) {
	if n.Kind != yaml.MappingNode {
		bad(n.Line, strings.TrimSuffix(prefix, "."), "expected a mapping")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			bad(k.Line, prefix+k.Value, "unknown key (expected one of %s)", strings.Join(allowed, ", "))
		}
	}
}

func valueNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lineOf(m *yaml.Node, key string) int {
	if n := valueNode(m, key); n != nil {
		return n.Line
	}
	return m.Line
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(msg string) int {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n := 0
	fmt.Sscan(m[1], &n)
	return n
}

// IsEnabled reports whether the policy runs (default true).
func (p *Policy) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// HasBehaviour reports whether a rule of p is the behaviour.
func (p *Policy) HasBehaviour(b string) bool {
	for i := range p.Rules {
		if p.Rules[i].Behaviour == b {
			return true
		}
	}
	return false
}
