// Package retention is how long each record is kept: a rule set (YAML,
// versioned and journaled like supervision policies) whose rules match
// messages and give a period, with the regulatory floor below which no
// rule goes unless it says why.
//
// Glossary:
//   - rule set: one YAML file (Parse); its versions are journaled whole
//     (retention.applied, docs/FORMAT.md) with their author.
//   - rule: a name, a match and a period; a message matched by several
//     rules is kept for the longest of their periods.
//   - base time: what a period counts from: the message's send time, or
//     its capture time when the send time is absent or implausible (Base).
//   - floor: FloorYears; a rule below it is raised to it, unless it
//     carries an override with a reason (journaled with the version).
//   - jurisdiction: a tag the set defines by a match (a WeCom corporation,
//     departments…); rules match messages by tag.
//   - default: the period of a message no rule matches (the set's
//     `default:`, else the archive's retention_years).
//
// This file parses and validates rule sets; eval.go evaluates them.
package retention

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the example rule set
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
)

// FloorYears is the regulatory minimum (SEC 17a-4(b)(4): three years):
// no rule keeps a message for less unless it has an Override.
const FloorYears = 3

// Limits of a rule set.
const (
	// MaxFileBytes bounds a rule-set file: it is journaled whole in
	// retention.applied, so it must fit a journal leaf however it is
	// escaped.
	MaxFileBytes = archive.MaxPolicySourceBytes
	MaxYears     = 100
	MaxDays      = 36525
	// MaxRules bounds the rules (and jurisdictions) of a set: each is
	// evaluated for every message archived.
	MaxRules = 1000
)

// Set is one rule-set file, validated.
type Set struct {
	Name        string
	Description string
	// Default is the period of a message no rule matches; nil: the
	// archive's retention_years (Evaluator.DefaultYears).
	Default       *Period
	Jurisdictions []Jurisdiction
	Rules         []Rule
	// SHA256 is the hash of the file's bytes, as journaled.
	SHA256 archive.BlobID

	usesDepartments bool
}

// Jurisdiction is a tag and the messages it applies to.
type Jurisdiction struct {
	Tag   string
	Match Match
	Line  int
}

// Rule is one rule of a set.
type Rule struct {
	Name        string
	Description string
	Match       Match
	Period      Period
	// Override, when set, lets the rule's period stand below the floor.
	Override *Override
	Line     int

	juris []int // indexes into Set.Jurisdictions
}

// Override is a rule's reason to go below the floor.
type Override struct {
	Reason string
}

// Period is how long from the base time: Years or Days, exactly one.
type Period struct {
	Years int
	Days  int
}

func (p Period) String() string {
	if p.Years > 0 {
		return strconv.Itoa(p.Years) + "y"
	}
	return strconv.Itoa(p.Days) + "d"
}

// belowFloor reports whether p is shorter than the floor for every base
// time (a period of days is compared with the shortest three years, 1095
// days plus the possible leap day: 1096 and more is never below).
func (p Period) belowFloor() bool {
	if p.Years > 0 {
		return p.Years < FloorYears
	}
	return p.Days < FloorYears*365+1
}

// Match says which messages a rule (or jurisdiction) applies to. Within a
// list any value matches; all the lists given must match; an empty Match
// matches every message.
type Match struct {
	// Sources: a connector id ("wecom-archive:ww5f3c…") matches that
	// source exactly; a name without ':' ("wecom-archive") matches every
	// source of that connector type.
	Sources           []string
	Conversations     []string
	ConversationKinds []archive.ConversationKind
	// Departments: the department of any employee of the message when it
	// was sent (the directory's historical value).
	Departments []string
	// Participants: employee or client ids, the sender or any recipient.
	Participants  []string
	Kinds         []archive.Kind
	Jurisdictions []string

	conversations, participants map[string]struct{}
}

// ParseError is a rule-set file that cannot be used: every problem with
// its line.
type ParseError struct {
	File     string
	Problems []Problem
}

// Problem is one mistake in a rule-set file.
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

// ErrInvalid is matched by every *ParseError.
var ErrInvalid = errors.New("invalid retention rule set")

// Is makes a ParseError match ErrInvalid.
func (e *ParseError) Is(target error) bool { return target == ErrInvalid }

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// kinds are the normalized message kinds a rule may name.
var kinds = []archive.Kind{archive.KindText, archive.KindImage, archive.KindVoice, archive.KindVideo, archive.KindFile,
	archive.KindLink, archive.KindLocation, archive.KindCard, archive.KindEmotion, archive.KindWeapp, archive.KindChatRecord,
	archive.KindMixed, archive.KindRedPacket, archive.KindTodo, archive.KindVote, archive.KindCollect, archive.KindMeeting,
	archive.KindDocMsg, archive.KindMarkdown, archive.KindNews, archive.KindCalendar, archive.KindSphFeed, archive.KindVoip,
	archive.KindRevoke, archive.KindAgree, archive.KindDisagree, archive.KindSwitch, archive.KindEvent, archive.KindUnknown}

type parser struct {
	perr *ParseError
}

func (p *parser) bad(line int, field, format string, a ...any) {
	p.perr.Problems = append(p.perr.Problems, Problem{Line: line, Field: field, Reason: fmt.Sprintf(format, a...)})
}

// Parse reads and validates a rule-set file (file names it in messages).
// Every problem is reported with its line: unknown keys, duplicate keys or
// names, values of the wrong type, unknown kinds or jurisdictions, a
// period missing, doubled or out of range, an override without a reason
// or on a rule that does not need one.
func Parse(file string, data []byte) (*Set, error) {
	p := &parser{perr: &ParseError{File: file}}
	s := p.parse(data)
	if len(p.perr.Problems) > 0 {
		slices.SortStableFunc(p.perr.Problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, p.perr
	}
	s.SHA256 = archive.BlobID(sha256.Sum256(data))
	return s, nil
}

func (p *parser) parse(data []byte) *Set {
	if len(data) > MaxFileBytes {
		p.bad(1, "file", "%d bytes, over the %d-byte limit", len(data), MaxFileBytes)
		return nil
	}
	if !utf8.Valid(data) {
		p.bad(1, "file", "not UTF-8")
		return nil
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		p.bad(yamlErrLine(err.Error()), "file", "not YAML: %v", err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.bad(extra.Line, "file", "a rule set is one YAML document; a second one starts here")
		return nil
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		p.bad(max(root.Line, 1), "file", "a rule set is a mapping with retention, rules and optionally description, default and jurisdictions")
		return nil
	}
	if n := findAlias(&root); n != nil {
		p.bad(n.Line, "file", "anchors and aliases are not allowed in a rule set")
		return nil
	}
	doc := root.Content[0]
	s := &Set{}
	var rulesNode, jurisNode *yaml.Node
	p.fields(doc, "", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "retention":
			s.Name = p.str(v, "retention", 64)
			if s.Name != "" && !namePattern.MatchString(s.Name) {
				p.bad(v.Line, "retention", "%q: a name of lower-case letters, digits and '-' (at most 64)", s.Name)
			}
		case "description":
			s.Description = p.str(v, "description", archive.MaxReasonBytes)
		case "default":
			per := p.period(v, "default")
			if per != nil && per.belowFloor() {
				p.bad(v.Line, "default", "%s is below the %d-year floor (the default has no override)", per, FloorYears)
			}
			s.Default = per
		case "jurisdictions":
			jurisNode = v
		case "rules":
			rulesNode = v
		default:
			return false
		}
		return true
	}, "retention, description, default, jurisdictions, rules")
	if valueNode(doc, "retention") == nil {
		p.bad(doc.Line, "retention", "missing: the rule set's name")
	}
	if jurisNode != nil {
		p.jurisdictions(s, jurisNode)
	}
	if rulesNode == nil {
		p.bad(doc.Line, "rules", "missing: a rule set needs at least one rule")
	} else {
		p.rules(s, rulesNode)
	}
	for _, j := range s.Jurisdictions {
		s.usesDepartments = s.usesDepartments || len(j.Match.Departments) > 0
	}
	for _, r := range s.Rules {
		s.usesDepartments = s.usesDepartments || len(r.Match.Departments) > 0
	}
	return s
}

func (p *parser) jurisdictions(s *Set, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.bad(n.Line, "jurisdictions", "a mapping of tag to match")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "jurisdictions." + k.Value
		if k.Kind != yaml.ScalarNode || !namePattern.MatchString(k.Value) {
			p.bad(k.Line, "jurisdictions", "%q: a tag of lower-case letters, digits and '-' (at most 64)", k.Value)
			continue
		}
		if seen[k.Value] {
			p.bad(k.Line, field, "defined twice")
			continue
		}
		seen[k.Value] = true
		if len(s.Jurisdictions) == MaxRules {
			p.bad(k.Line, "jurisdictions", "more than %d jurisdictions", MaxRules)
			return
		}
		m := p.match(v, field, false)
		s.Jurisdictions = append(s.Jurisdictions, Jurisdiction{Tag: k.Value, Match: m, Line: k.Line})
	}
}

func (p *parser) rules(s *Set, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.bad(n.Line, "rules", "a list of rules")
		return
	}
	if len(n.Content) == 0 {
		p.bad(n.Line, "rules", "a rule set needs at least one rule")
	}
	if len(n.Content) > MaxRules {
		p.bad(n.Line, "rules", "%d rules, more than %d", len(n.Content), MaxRules)
		return
	}
	names := map[string]int{}
	for i, rn := range n.Content {
		prefix := fmt.Sprintf("rules[%d]", i)
		if rn.Kind != yaml.MappingNode {
			p.bad(rn.Line, prefix, "a rule is a mapping with name, match and period")
			continue
		}
		r := Rule{Line: rn.Line}
		var periodNode, overrideNode *yaml.Node
		p.fields(rn, prefix+".", func(key string, k, v *yaml.Node) bool {
			switch key {
			case "name":
				r.Name = p.str(v, prefix+".name", 64)
				if r.Name != "" && !namePattern.MatchString(r.Name) {
					p.bad(v.Line, prefix+".name", "%q: a name of lower-case letters, digits and '-' (at most 64)", r.Name)
				}
			case "description":
				r.Description = p.str(v, prefix+".description", archive.MaxReasonBytes)
			case "match":
				r.Match = p.match(v, prefix+".match", true)
			case "period":
				periodNode = v
			case "override":
				overrideNode = v
			default:
				return false
			}
			return true
		}, "name, description, match, period, override")
		if valueNode(rn, "name") == nil {
			p.bad(rn.Line, prefix+".name", "missing")
		} else if r.Name != "" {
			if l, dup := names[r.Name]; dup {
				p.bad(lineOf(rn, "name"), prefix+".name", "%q is also the name of the rule at line %d", r.Name, l)
			} else {
				names[r.Name] = lineOf(rn, "name")
			}
			if r.Name == DefaultRule {
				p.bad(lineOf(rn, "name"), prefix+".name", "%q names the set's default; choose another name", r.Name)
			}
		}
		if periodNode == nil {
			p.bad(rn.Line, prefix+".period", "missing: {years: N} or {days: N}")
		} else if per := p.period(periodNode, prefix+".period"); per != nil {
			r.Period = *per
		}
		if overrideNode != nil {
			r.Override = p.override(overrideNode, prefix+".override")
			if r.Override != nil && r.Period != (Period{}) && !r.Period.belowFloor() {
				p.bad(overrideNode.Line, prefix+".override", "%s is not below the %d-year floor: an override is only for a shorter period", r.Period, FloorYears)
			}
		}
		for _, tag := range r.Match.Jurisdictions {
			j := slices.IndexFunc(s.Jurisdictions, func(j Jurisdiction) bool { return j.Tag == tag })
			if j < 0 {
				p.bad(lineOf(valueNode(rn, "match"), "jurisdictions"), prefix+".match.jurisdictions", "%q is not a jurisdiction defined under jurisdictions:", tag)
				continue
			}
			r.juris = append(r.juris, j)
		}
		s.Rules = append(s.Rules, r)
	}
}

func (p *parser) override(n *yaml.Node, field string) *Override {
	if n.Kind != yaml.MappingNode {
		p.bad(n.Line, field, "a mapping with reason")
		return nil
	}
	o := &Override{}
	p.fields(n, field+".", func(key string, k, v *yaml.Node) bool {
		if key != "reason" {
			return false
		}
		o.Reason = strings.TrimSpace(p.str(v, field+".reason", archive.MaxReasonBytes))
		return true
	}, "reason")
	if o.Reason == "" {
		p.bad(n.Line, field+".reason", "missing: an override below the floor must say why")
		return nil
	}
	return o
}

func (p *parser) period(n *yaml.Node, field string) *Period {
	if n.Kind != yaml.MappingNode {
		p.bad(n.Line, field, "{years: N} or {days: N}")
		return nil
	}
	var per Period
	count := 0
	ok := true
	p.fields(n, field+".", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "years":
			per.Years = p.int(v, field+".years", 1, MaxYears)
			ok = ok && per.Years > 0
		case "days":
			per.Days = p.int(v, field+".days", 1, MaxDays)
			ok = ok && per.Days > 0
		default:
			return false
		}
		count++
		return true
	}, "years, days")
	switch {
	case count == 0:
		p.bad(n.Line, field, "give years or days")
		return nil
	case count > 1:
		p.bad(n.Line, field, "give years or days, not both")
		return nil
	case !ok:
		return nil
	}
	return &per
}

func (p *parser) match(n *yaml.Node, field string, jurisdictions bool) Match {
	var m Match
	if n.Kind != yaml.MappingNode {
		p.bad(n.Line, field, "a mapping of sources, conversations, conversation_kinds, departments, participants, kinds, jurisdictions")
		return m
	}
	allowed := "sources, conversations, conversation_kinds, departments, participants, kinds"
	if jurisdictions {
		allowed += ", jurisdictions"
	}
	p.fields(n, field+".", func(key string, k, v *yaml.Node) bool {
		f := field + "." + key
		switch key {
		case "sources":
			m.Sources = p.strs(v, f, archive.MaxSourceBytes)
		case "conversations":
			m.Conversations = p.strs(v, f, archive.MaxIDBytes)
		case "departments":
			m.Departments = p.strs(v, f, archive.MaxNameBytes)
		case "participants":
			m.Participants = p.strs(v, f, archive.MaxIDBytes)
		case "conversation_kinds":
			for i, s := range p.strs(v, f, 16) {
				ck := archive.ConversationKind(s)
				if ck != archive.ConversationDirect && ck != archive.ConversationGroup {
					p.bad(v.Content[i].Line, f, "%q: want direct or group", s)
					continue
				}
				m.ConversationKinds = append(m.ConversationKinds, ck)
			}
		case "kinds":
			for i, s := range p.strs(v, f, 32) {
				if !slices.Contains(kinds, archive.Kind(s)) {
					p.bad(v.Content[i].Line, f, "%q is not a message kind (text, image, file, voice, video, …)", s)
					continue
				}
				m.Kinds = append(m.Kinds, archive.Kind(s))
			}
		case "jurisdictions":
			if !jurisdictions {
				return false
			}
			m.Jurisdictions = p.strs(v, f, 64)
		default:
			return false
		}
		return true
	}, allowed)
	m.conversations = setOf(m.Conversations)
	m.participants = setOf(m.Participants)
	return m
}

func setOf(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	s := make(map[string]struct{}, len(list))
	for _, v := range list {
		s[v] = struct{}{}
	}
	return s
}

// fields calls fn for each key of mapping n; fn returns false for a key
// it does not know, reported with the keys allowed. Duplicate keys are
// reported and skipped.
func (p *parser) fields(n *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node) bool, allowed string) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.bad(k.Line, strings.TrimSuffix(prefix, "."), "a key must be a plain name")
			continue
		}
		if seen[k.Value] {
			p.bad(k.Line, prefix+k.Value, "given twice")
			continue
		}
		seen[k.Value] = true
		if !fn(k.Value, k, v) {
			p.bad(k.Line, prefix+k.Value, "unknown key (expected one of %s)", allowed)
		}
	}
}

func (p *parser) str(n *yaml.Node, field string, limit int) string {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		p.bad(n.Line, field, "want a string")
		return ""
	}
	v := n.Value
	if v == "" {
		p.bad(n.Line, field, "empty")
		return ""
	}
	if len(v) > limit {
		p.bad(n.Line, field, "%d bytes, over the limit of %d", len(v), limit)
		return ""
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
		p.bad(n.Line, field, "contains a control character")
		return ""
	}
	return v
}

func (p *parser) strs(n *yaml.Node, field string, limit int) []string {
	if n.Kind != yaml.SequenceNode {
		p.bad(n.Line, field, "want a list, e.g. [a, b]")
		return nil
	}
	if len(n.Content) == 0 {
		p.bad(n.Line, field, "an empty list matches nothing: leave the key out to match everything")
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s := p.str(c, field, limit); s != "" {
			if strings.ContainsAny(s, "\n\t") {
				p.bad(c.Line, field, "%q: a value on one line", s)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) int(n *yaml.Node, field string, lo, hi int) int {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.bad(n.Line, field, "want a whole number from %d to %d", lo, hi)
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		p.bad(n.Line, field, "%s: want a whole number from %d to %d", n.Value, lo, hi)
		return 0
	}
	return v
}

func findAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n
	}
	for _, c := range n.Content {
		if a := findAlias(c); a != nil {
			return a
		}
	}
	return nil
}

func valueNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
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
	if m == nil {
		return 1
	}
	return m.Line
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(msg string) int {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// UsesDepartments reports whether evaluating s needs the departments of a
// message's employees (Subject.Departments): a caller that must look them
// up skips the lookup when it does not.
func (s *Set) UsesDepartments() bool { return s.usesDepartments }

// Overrides lists the rules that go below the floor, for the journal.
func (s *Set) Overrides() []OverrideEntry {
	var out []OverrideEntry
	for _, r := range s.Rules {
		if r.Override != nil {
			out = append(out, OverrideEntry{Rule: r.Name, Period: r.Period.String(), Reason: r.Override.Reason})
		}
	}
	return out
}

// OverrideEntry is a rule below the floor, as journaled with its version.
type OverrideEntry struct {
	Rule   string `json:"rule"`
	Period string `json:"period"`
	Reason string `json:"reason"`
}

//go:embed examples/default.yaml
var example []byte

// Example returns the example rule set that ships with wxarchive (US
// broker-dealer 6 years, Hong Kong SFC 2 years raised to the floor, EU
// MiFID II 5 years, UK SYSC 10A 5 years): a starting point to edit, not
// a rule set in force.
func Example() []byte { return slices.Clone(example) }
