package retention

import (
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// DefaultRule names the decision for a message no rule matched.
const DefaultRule = "default"

// MaxClockSkew is how far after its capture a send time may lie and still
// be believed: beyond it the sender's clock was wrong, and the period
// counts from the capture time instead.
const MaxClockSkew = 24 * time.Hour

// earliestSent is the earliest believable send time (the decoders refuse
// earlier ones; a record without one reads as zero).
var earliestSent = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Base is the time a message's period counts from: its send time — the
// record's creation, which is what the rules (SEC 17a-4, MiFID II
// Art. 16(7)) count from — unless that is absent, before 2000 or more
// than MaxClockSkew after capturedAt, when it is the capture time.
// fromCapture says which.
func Base(sentAt, capturedAt time.Time) (base time.Time, fromCapture bool) {
	if sentAt.IsZero() || sentAt.Before(earliestSent) || (!capturedAt.IsZero() && sentAt.After(capturedAt.Add(MaxClockSkew))) {
		return capturedAt, true
	}
	return sentAt, false
}

// Until is base plus p, rounded up to the next UTC midnight (so that the
// records of one day share a retain-until, and a pack).
func Until(base time.Time, p Period) time.Time {
	u := base.UTC().AddDate(p.Years, 0, p.Days)
	d := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(u) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// Subject is what a rule set is evaluated on.
type Subject struct {
	Message    *archive.Message
	CapturedAt time.Time
	// Departments are those of the message's employees when it was sent
	// (needed only when the set UsesDepartments).
	Departments []string
}

// Decision is how long a message is kept, and why.
type Decision struct {
	RetainUntil archive.Time
	// Rule is the name of the rule that decided (DefaultRule when none
	// matched).
	Rule string
	// Base is what the period counted from; FromCapture is true when it is
	// the capture time (the send time absent or implausible).
	Base        time.Time
	FromCapture bool
	// Floored: the deciding rule's period was below the floor and was
	// raised to it. Override: the deciding rule's override let its period
	// stand below the floor.
	Floored  bool
	Override bool
}

// Evaluate decides a message's retain-until under s: of the rules that
// match, the one giving the latest date wins; a tie goes to the rule
// earlier in the file. A rule below the floor is raised to it unless it
// has an override. A message no rule matches takes the set's default, or
// defaultYears (the archive's retention_years) when the set has none.
func (s *Set) Evaluate(subj Subject, defaultYears int) Decision {
	var m archive.Message
	if subj.Message != nil {
		m = *subj.Message
	}
	base, fromCapture := Base(m.SentAt.Time, subj.CapturedAt)
	floor := Until(base, Period{Years: FloorYears})
	d := Decision{Base: base, FromCapture: fromCapture}
	var tags []bool
	if len(s.Jurisdictions) > 0 {
		tags = make([]bool, len(s.Jurisdictions))
		for i := range s.Jurisdictions {
			tags[i] = s.Jurisdictions[i].Match.matches(&m, subj.Departments, nil, nil)
		}
	}
	var best time.Time
	found := false
	for i := range s.Rules {
		r := &s.Rules[i]
		if !r.Match.matches(&m, subj.Departments, r.juris, tags) {
			continue
		}
		u, floored := Until(base, r.Period), false
		if u.Before(floor) && r.Override == nil {
			u, floored = floor, true
		}
		if !found || u.After(best) {
			found, best = true, u
			d.Rule, d.Floored, d.Override = r.Name, floored, r.Override != nil && u.Before(floor)
		}
	}
	if !found {
		per := Period{Years: max(defaultYears, FloorYears)}
		if s.Default != nil {
			per = *s.Default
		}
		best, d.Rule = Until(base, per), DefaultRule
		if best.Before(floor) {
			best, d.Floored = floor, true
		}
	}
	d.RetainUntil = archive.At(best)
	return d
}

// Longest is the latest retain-until any rule of s (or its default) could
// give something captured at capturedAt: what an input that could not be
// read as a message (a quarantined line) is kept for, since no rule can
// be shown not to apply to it.
func (s *Set) Longest(capturedAt time.Time, defaultYears int) archive.Time {
	per := Period{Years: max(defaultYears, FloorYears)}
	if s.Default != nil {
		per = *s.Default
	}
	best := Until(capturedAt, per)
	if f := Until(capturedAt, Period{Years: FloorYears}); f.After(best) {
		best = f
	}
	for _, r := range s.Rules {
		if u := Until(capturedAt, r.Period); u.After(best) {
			best = u
		}
	}
	return archive.At(best)
}

// matches reports whether m is in the match. juris are the indexes of the
// jurisdictions the match names and tags which of them m has.
func (ma *Match) matches(m *archive.Message, departments []string, juris []int, tags []bool) bool {
	if len(ma.Sources) > 0 && !sourceMatches(ma.Sources, m.Source) {
		return false
	}
	if ma.conversations != nil {
		if _, ok := ma.conversations[m.Conversation]; !ok {
			return false
		}
	}
	if len(ma.ConversationKinds) > 0 && !containsKind(ma.ConversationKinds, m.ConversationKind) {
		return false
	}
	if len(ma.Kinds) > 0 && !containsKind(ma.Kinds, m.Kind) {
		return false
	}
	if ma.participants != nil && !ma.hasParticipant(m) {
		return false
	}
	if len(ma.Departments) > 0 && !anyIn(ma.Departments, departments) {
		return false
	}
	if len(ma.Jurisdictions) > 0 {
		ok := false
		for _, j := range juris {
			ok = ok || tags[j]
		}
		if !ok {
			return false
		}
	}
	return true
}

func (ma *Match) hasParticipant(m *archive.Message) bool {
	if _, ok := ma.participants[m.Sender]; ok {
		return true
	}
	for _, r := range m.Recipients {
		if _, ok := ma.participants[r]; ok {
			return true
		}
	}
	for _, p := range m.Participants {
		if _, ok := ma.participants[p.ID]; ok {
			return true
		}
	}
	return false
}

// sourceMatches: an entry with ':' is a source id; one without is a
// connector type, matching its sources ("wecom-archive" matches
// "wecom-archive:ww5f…").
func sourceMatches(list []string, source string) bool {
	for _, s := range list {
		if source == s || (!strings.Contains(s, ":") && len(source) > len(s) && source[len(s)] == ':' && strings.HasPrefix(source, s)) {
			return true
		}
	}
	return false
}

func containsKind[K ~string](list []K, k K) bool {
	for _, v := range list {
		if v == k {
			return true
		}
	}
	return false
}

func anyIn(want, have []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
