package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/policy/detect"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// Input is a message as a policy sees it.
type Input struct {
	Message  *archive.Message
	Recalled bool // a later message recalled it
	// Department returns a participant's department when the message was
	// sent ("" when unknown).
	Department func(id string) string
	// FirstContacts are the external parties this message is the first
	// archived message with.
	FirstContacts []string
	// Serial is the message's serial (0 for a message not archived).
	Serial uint64
	// Outreach is the history mass_communication rules count in; without
	// one they match nothing. Evaluating records the message in it.
	Outreach *Outreach
	// Shared, when set, is shared by every policy evaluating this
	// message, so its text is analyzed once rather than once per policy.
	Shared *Shared
}

// Shared is what the policies evaluating one message share: the analyzed
// texts (per disclaimer-stripped variant) and a long-lived analyzer.
type Shared struct {
	// Analyzer, when set, is reused across messages (its caches stay
	// warm); it must not be used concurrently.
	Analyzer *textindex.Analyzer
	docs     map[string]*textindex.Prepared // analysis only, no metadata filter
	// The texts as they are and their analysis: what most policies use.
	plain    []string
	plainDoc *textindex.Prepared
}

// Analyze analyzes the message's text and attachment texts as they are
// (what every policy without a matching disclaimer evaluates), so it can
// be done ahead of evaluation — on another goroutine than the one that
// evaluates.
func (sh *Shared) Analyze(m *archive.Message) {
	sh.plain = messageTexts(m, nil)
	sh.plainDoc = sh.doc(sh.plain)
}

// AnalyzeIndexed is Analyze given the index terms of the message's text,
// which the engine computed when it archived it: a message with no
// attachment text is then not analyzed again.
func (sh *Shared) AnalyzeIndexed(m *archive.Message, bodyTerms string) {
	sh.plain = messageTexts(m, nil)
	if len(sh.plain) > 1 {
		sh.plainDoc = sh.doc(sh.plain)
		return
	}
	sh.plainDoc = textindex.PrepareIndexed(&textindex.Doc{Texts: sh.plain}, []string{bodyTerms})
}

func (sh *Shared) doc(texts []string) *textindex.Prepared {
	if sh.plainDoc != nil && slices.Equal(texts, sh.plain) {
		return sh.plainDoc
	}
	key := strings.Join(texts, "\x00")
	if p, ok := sh.docs[key]; ok {
		return p
	}
	an := sh.Analyzer
	if an == nil {
		an = &textindex.Analyzer{}
	}
	p := an.Prepare(&textindex.Doc{Texts: texts})
	if sh.docs == nil {
		sh.docs = map[string]*textindex.Prepared{}
	}
	sh.docs[key] = p
	return p
}

func (in Input) prepare(texts []string) *textindex.Prepared {
	if in.Shared == nil {
		return textindex.Prepare(&textindex.Doc{Texts: texts, Field: fieldOf(in)})
	}
	return in.Shared.doc(texts).WithField(fieldOf(in))
}

// messageTexts are the texts a policy matches: the message's, then each
// attachment's extracted text, with the policy's disclaimers blanked.
func messageTexts(m *archive.Message, p *Policy) []string {
	strip := func(s string) string { return s }
	if p != nil {
		strip = p.stripDisclaimers
	}
	texts := []string{strip(m.Text)}
	for _, a := range m.Attachments {
		if a.Text != "" {
			texts = append(texts, strip(a.Text))
		}
	}
	return texts
}

// DirectoryDepartment returns a Department function that looks each
// participant up in the archive's directory as it was at a time. The first
// lookup error is kept in *errp (and the participant reads as unknown), so
// the caller can fail the evaluation instead of misrouting an alert.
func DirectoryDepartment(ctx context.Context, st interface {
	Directory(ctx context.Context, id string, at archive.Time) (store.ParticipantRow, bool, error)
}, at archive.Time, errp *error) func(id string) string {
	cache := map[string]string{}
	return func(id string) string {
		if d, ok := cache[id]; ok {
			return d
		}
		p, ok, err := st.Directory(ctx, id, at)
		if err != nil {
			if *errp == nil {
				*errp = err
			}
			return ""
		}
		if ok {
			cache[id] = p.Department
		} else {
			cache[id] = ""
		}
		return cache[id]
	}
}

// QueueDepartment is the department an alert on the message is queued
// to: the sender's when an employee sent it, else the first employee
// participant's ("" when unknown).
func QueueDepartment(in Input) string {
	if in.Department == nil {
		return ""
	}
	m := in.Message
	for _, pt := range m.Participants {
		if pt.ID == m.Sender && pt.Kind == archive.ParticipantEmployee {
			return in.Department(pt.ID)
		}
	}
	for _, pt := range m.Participants {
		if pt.Kind == archive.ParticipantEmployee {
			return in.Department(pt.ID)
		}
	}
	return ""
}

// SampleRule is the rule name of alerts raised by sampling.
const SampleRule = "sample"

// Hit is one rule that matched a message.
type Hit struct {
	Rule string `json:"rule"`
	// Spans are [start, end) code-point offsets into the message text,
	// or into attachment text InAttachment (1-based) when that is where
	// the hit is.
	Spans        [][2]int `json:"spans"`
	InAttachment int      `json:"in_attachment,omitempty"`
	// Masked values of detector hits, never the values themselves.
	Masked []string `json:"masked,omitempty"`
	// Detail says why a behaviour rule matched.
	Detail string `json:"detail,omitempty"`
}

// InScope reports whether the policy looks at the message.
func (p *Policy) InScope(in Input) bool {
	m := in.Message
	s := p.Scope
	if len(s.Directions) > 0 && !slices.Contains(s.Directions, m.Direction) {
		return false
	}
	if len(s.ConversationKinds) > 0 && !slices.Contains(s.ConversationKinds, m.ConversationKind) {
		return false
	}
	if slices.Contains(s.ExceptSenders, m.Sender) {
		return false
	}
	employees := func(fn func(id string) bool) bool {
		for _, pt := range m.Participants {
			if pt.Kind == archive.ParticipantEmployee && fn(pt.ID) {
				return true
			}
		}
		return false
	}
	if len(s.Employees) > 0 && !employees(func(id string) bool { return slices.Contains(s.Employees, id) }) {
		return false
	}
	if len(s.Departments) > 0 && (in.Department == nil ||
		!employees(func(id string) bool { return slices.Contains(s.Departments, in.Department(id)) })) {
		return false
	}
	return true
}

// Evaluate returns the rules of p that m matches, in rule order (nothing
// when m is out of scope or the policy is disabled). A Policy is not safe
// for concurrent evaluation: its rules keep matchers across messages.
func (p *Policy) Evaluate(in Input) []Hit {
	if !p.IsEnabled() {
		return nil
	}
	return p.evaluate(in)
}

// EvaluateRecalled returns the hits of p's recalled rules on a message
// that has just been recalled (in.Recalled is taken as true): what the
// supervisor raises on the original when it evaluates the recall.
func (p *Policy) EvaluateRecalled(in Input) []Hit {
	if !p.IsEnabled() || !p.InScope(in) {
		return nil
	}
	var hits []Hit
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Behaviour == BehaviourRecalled {
			hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}})
		}
	}
	return hits
}

// evaluate is Evaluate for a policy enabled or not (a backtest of a draft).
func (p *Policy) evaluate(in Input) []Hit {
	if !p.InScope(in) {
		return nil
	}
	m := in.Message
	texts := messageTexts(m, p)
	doc := in.prepare(texts)
	var hits []Hit
	for i := range p.Rules {
		r := &p.Rules[i]
		switch {
		case len(r.queries) > 0:
			if h, ok := r.lexicon(doc, texts); ok {
				hits = append(hits, h)
			}
		case r.re != nil:
			if h, ok := r.regex(texts); ok {
				hits = append(hits, h)
			}
		case r.Detector != "":
			if h, ok := r.detector(texts); ok {
				hits = append(hits, h)
			}
		case r.Behaviour == BehaviourRecalled:
			if in.Recalled {
				hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}})
			}
		case r.Behaviour == BehaviourOutsideHours:
			if !m.SentAt.IsZero() && r.Hours.outside(m.SentAt.Time) {
				hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}})
			}
		case r.Behaviour == BehaviourFirstContact:
			if len(in.FirstContacts) > 0 {
				hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}})
			}
		case r.Behaviour == BehaviourMassCommunication:
			if in.Outreach == nil {
				continue
			}
			mp := r.Mass.withDefaults()
			before, after, ok := in.Outreach.observe(massKey(p.Name, r), mp, in)
			if ok && before <= mp.Recipients && after > mp.Recipients {
				hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}, Detail: fmt.Sprintf(
					"the same or near-identical text has reached %d distinct external recipients within %d days (more than %d): possibly a retail communication needing a principal's approval",
					after, mp.Days, mp.Recipients)})
			}
		case r.Attachment != nil:
			if reason := r.Attachment.flag(m.Attachments); reason != "" {
				hits = append(hits, Hit{Rule: r.ID, Spans: [][2]int{}})
			}
		}
	}
	// The rate sample is drawn as messages arrive; the per-employee
	// minimum is topped up when a period ends (Sampling.Select).
	if p.Sampling != nil && p.Sampling.Sampled(m.SourceID) {
		hits = append(hits, Hit{Rule: SampleRule, Spans: [][2]int{}})
	}
	return hits
}

// stripDisclaimers blanks each configured disclaimer (the standard risk
// warning a firm appends) with spaces, rune for rune, so offsets stay
// those of the original text and the disclaimer's own words (不保本…)
// raise nothing.
func (p *Policy) stripDisclaimers(text string) string {
	for _, d := range p.Disclaimers {
		if d == "" {
			continue
		}
		for {
			i := strings.Index(text, d)
			if i < 0 {
				break
			}
			text = text[:i] + strings.Repeat(" ", utf8.RuneCountInString(d)) + text[i+len(d):]
		}
	}
	return text
}

func (r *Rule) lexicon(doc *textindex.Prepared, texts []string) (Hit, bool) {
	for _, u := range r.unlessMatchers {
		if u.MatchPrepared(doc) {
			return Hit{}, false
		}
	}
	for i, q := range r.queries {
		if !r.matchers[i].MatchPrepared(doc) {
			continue
		}
		hl := textindex.NewHighlighter(q)
		for k, t := range texts {
			if spans := hl.Spans(t); len(spans) > 0 {
				h := Hit{Rule: r.ID, Spans: toPairs(t, spans)}
				if k > 0 {
					h.InAttachment = k
				}
				return h, true
			}
		}
		return Hit{Rule: r.ID, Spans: [][2]int{}}, true // matched on metadata alone
	}
	return Hit{}, false
}

func (r *Rule) regex(texts []string) (Hit, bool) {
	var an textindex.Analyzer
	for k, t := range texts {
		norm, start, end := an.NormalizeMapped(t)
		locs := r.re.FindAllStringIndex(norm, 20)
		if len(locs) == 0 {
			continue
		}
		h := Hit{Rule: r.ID, Spans: [][2]int{}}
		if k > 0 {
			h.InAttachment = k
		}
		for _, l := range locs {
			if l[0] == l[1] {
				continue // an empty match marks nothing
			}
			s, e := start[l[0]], end[l[1]-1]
			h.Spans = append(h.Spans, [2]int{utf8.RuneCountInString(t[:s]), utf8.RuneCountInString(t[:e])})
		}
		if len(h.Spans) > 0 {
			return h, true
		}
	}
	return Hit{}, false
}

func (r *Rule) detector(texts []string) (Hit, bool) {
	for k, t := range texts {
		found := detect.Find(t, []detect.Kind{detect.Kind(r.Detector)}, detect.Options{})
		if len(found) == 0 {
			continue
		}
		h := Hit{Rule: r.ID, Spans: [][2]int{}}
		if k > 0 {
			h.InAttachment = k
		}
		for _, f := range found {
			h.Spans = append(h.Spans, [2]int{f.Start, f.End})
			h.Masked = append(h.Masked, f.Masked)
		}
		return h, true
	}
	return Hit{}, false
}

// toPairs turns the highlighter's byte spans into code-point offsets.
func toPairs(text string, spans []textindex.Span) [][2]int {
	out := make([][2]int, len(spans))
	for i, s := range spans {
		out[i] = [2]int{utf8.RuneCountInString(text[:s.Start]), utf8.RuneCountInString(text[:s.End])}
	}
	return out
}

// fieldOf evaluates search filters a lexicon term may carry (from:,
// type:, direction:…) on the message itself.
func fieldOf(in Input) func(f *textindex.Field) bool {
	m := in.Message
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
		case "recalled":
			return in.Recalled == f.Bool
		case "department":
			return in.Department != nil && in.Department(m.Sender) == f.Value
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
		return false
	}
}

// flag says why attachments break the rule ("" when they do not).
func (a *AttachmentRule) flag(atts []archive.Attachment) string {
	if a.MaxCount > 0 && len(atts) > a.MaxCount {
		return "count"
	}
	for _, at := range atts {
		if a.MaxSize > 0 && max(at.Size, at.DeclaredSize) > a.MaxSize {
			return "size"
		}
		for _, t := range a.Types {
			if kindOf(at.MediaType) == t || at.MediaType == t {
				return "type"
			}
		}
	}
	return ""
}

// kindOf groups sniffed media types.
func kindOf(mediaType string) string {
	switch mediaType {
	case "application/vnd.microsoft.portable-executable", "application/x-executable", "application/x-mach-binary":
		return "executable"
	case "application/zip", "application/x-rar-compressed", "application/x-7z-compressed", "application/x-gzip", "application/gzip", "application/x-tar":
		return "archive"
	}
	return ""
}
