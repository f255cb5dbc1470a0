package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// DefaultHoldGraceDays is how long what a released hold held stays held:
// a release is never effective at once, so a mistaken one can be undone
// (a new hold) before anything becomes eligible.
const DefaultHoldGraceDays = 30

// MaxHoldGraceDays bounds a hold's grace period.
const MaxHoldGraceDays = 3650

// HoldSet is the legal holds of an archive, ready to tell whether a
// message is held. Not safe for concurrent use (its query matchers keep
// state): one goroutine at a time, or one HoldSet each.
type HoldSet struct {
	holds []compiledHold
}

type compiledHold struct {
	row     store.HoldRow
	matcher *textindex.Matcher // nil without a query
	custody map[string]bool
	convs   map[string]bool
}

// NeedsText says whether a hold's query reads texts (the message's and
// its attachments'): a caller scanning index rows loads attachment texts
// only then.
func (hs *HoldSet) NeedsText() bool {
	for i := range hs.holds {
		if hs.holds[i].matcher != nil {
			return true
		}
	}
	return false
}

// CompileHolds prepares holds for Held. A stored query that no longer
// parses is an error naming the hold: a hold must never silently cover
// nothing.
func CompileHolds(rows []store.HoldRow) (*HoldSet, error) {
	hs := &HoldSet{}
	for _, r := range rows {
		c := compiledHold{row: r, custody: boolSet(r.Scope.Custodians), convs: boolSet(r.Scope.Conversations)}
		if r.Scope.Query != "" {
			q, err := textindex.Parse(r.Scope.Query, textindex.ParseOptions{})
			if err != nil {
				return nil, fmt.Errorf("hold %s: query %q: %w", r.Name, r.Scope.Query, err)
			}
			c.matcher = textindex.NewMatcher(q)
		}
		hs.holds = append(hs.holds, c)
	}
	return hs, nil
}

func boolSet(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

// HoldInForce reports whether a hold holds at now: from its creation until
// its grace period after its release has passed.
func HoldInForce(h store.HoldRow, now time.Time) bool {
	if now.Before(h.Time.Time) {
		return false
	}
	if h.Released.IsZero() {
		return true
	}
	return now.Before(h.Released.Time.AddDate(0, 0, h.GraceDays))
}

// Held returns the names of the holds that hold m at now (none: m is not
// held). Whether m was archived before or after a hold was created makes
// no difference: a hold covers what arrives while it is in force.
func (hs *HoldSet) Held(m *archive.Message, now time.Time) []string {
	var out []string
	for i := range hs.holds {
		h := &hs.holds[i]
		if HoldInForce(h.row, now) && h.covers(m) {
			out = append(out, h.row.Name)
		}
	}
	return out
}

// Covers returns the names of the holds whose scope covers m, in force or
// not (what a report counts).
func (hs *HoldSet) Covers(m *archive.Message) []string {
	var out []string
	for i := range hs.holds {
		if hs.holds[i].covers(m) {
			out = append(out, hs.holds[i].row.Name)
		}
	}
	return out
}

// covers reports whether m is in the hold's scope: every criterion given
// matches. A hold with no criterion covers nothing (app refuses to create
// one).
func (h *compiledHold) covers(m *archive.Message) bool {
	sc := &h.row.Scope
	if h.custody == nil && h.convs == nil && h.matcher == nil && sc.From.IsZero() && sc.To.IsZero() {
		return false
	}
	if h.custody != nil && !h.custody[m.Sender] && !slices.ContainsFunc(m.Recipients, func(r string) bool { return h.custody[r] }) &&
		!slices.ContainsFunc(m.Participants, func(p archive.Participant) bool { return h.custody[p.ID] }) {
		return false
	}
	if h.convs != nil && !h.convs[m.Conversation] {
		return false
	}
	if !sc.From.IsZero() && m.SentAt.Time.Before(sc.From.Time) {
		return false
	}
	if !sc.To.IsZero() && !m.SentAt.Time.Before(sc.To.Time) {
		return false
	}
	if h.matcher != nil {
		texts := []string{m.Text}
		for _, a := range m.Attachments {
			if a.Text != "" {
				texts = append(texts, a.Text)
			}
		}
		if !h.matcher.Match(&textindex.Doc{Texts: texts, Field: fieldOf(m)}) {
			return false
		}
	}
	return true
}

// fieldOf evaluates a query's metadata filters on a message, as search
// does.
func fieldOf(m *archive.Message) func(f *textindex.Field) bool {
	return func(f *textindex.Field) bool {
		switch f.Name {
		case "from":
			return m.Sender == f.Value
		case "to":
			return slices.Contains(m.Recipients, f.Value)
		case "participant":
			return m.Sender == f.Value || slices.Contains(m.Recipients, f.Value)
		case "conversation":
			return m.Conversation == f.Value
		case "type":
			return string(m.Kind) == f.Value
		case "direction":
			return string(m.Direction) == f.Value
		case "has":
			return len(m.Attachments) > 0
		case "after", "before", "on":
			ms := m.SentAt.Millis()
			return ms >= f.From && ms < f.To
		case "filename":
			for _, a := range m.Attachments {
				if strings.Contains(a.FileName, f.Value) {
					return true
				}
			}
		}
		// recalled:, department: need the index and the directory; a hold
		// on them is refused when it is created (CheckHoldQuery).
		return false
	}
}

// CheckHoldQuery parses a hold's query and refuses filters a hold cannot
// evaluate from the message alone (recalled:, department:), so that a
// hold never quietly covers less than its author meant.
func CheckHoldQuery(q string) error {
	n, err := textindex.Parse(q, textindex.ParseOptions{})
	if err != nil {
		return err
	}
	var bad string
	var walk func(n textindex.Node)
	walk = func(n textindex.Node) {
		switch n := n.(type) {
		case *textindex.And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *textindex.Not:
			walk(n.Node)
		case *textindex.Field:
			if (n.Name == "recalled" || n.Name == "department") && bad == "" {
				bad = n.Name
			}
		}
	}
	walk(n)
	if bad != "" {
		return fmt.Errorf("a hold cannot use %s: (name the custodians or conversations instead)", bad)
	}
	return nil
}
