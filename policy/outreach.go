package policy

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unicode"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/textindex"
)

// BehaviourMassCommunication flags the message with which one employee's
// same or near-identical text reaches more than Mass.Recipients distinct
// external recipients within Mass.Days days: under FINRA Rule 2210 a
// communication to more than 25 retail investors within 30 days is retail
// communication, which needs a principal's approval before it is sent.
const BehaviourMassCommunication = "mass_communication"

// Mass are the parameters of a mass_communication rule.
type Mass struct {
	Recipients int `yaml:"recipients"` // flagged above this many distinct external recipients (default 25)
	Days       int `yaml:"days"`       // within this many days (default 30)
	// Similarity is the least Jaccard similarity of two texts' sets of
	// character 3-grams (after normalization: full/half width, traditional/
	// simplified, case) for them to count as the same text (default 0.7:
	// a template with the client's name or a date changed still counts).
	Similarity float64 `yaml:"similarity"`
	MinLength  int     `yaml:"min_length"` // texts shorter than this many characters are not counted (default 20: "好的", "thanks")
}

func (m *Mass) withDefaults() Mass {
	out := Mass{Recipients: 25, Days: 30, Similarity: 0.7, MinLength: 20}
	if m == nil {
		return out
	}
	if m.Recipients > 0 {
		out.Recipients = m.Recipients
	}
	if m.Days > 0 {
		out.Days = m.Days
	}
	if m.Similarity > 0 {
		out.Similarity = m.Similarity
	}
	if m.MinLength > 0 {
		out.MinLength = m.MinLength
	}
	return out
}

func (m *Mass) validate(line int, field string, bad func(int, string, string, ...any)) {
	if m.Recipients < 0 || m.Days < 0 || m.MinLength < 0 {
		bad(line, field, "recipients, days and min_length are positive")
	}
	if m.Days > 366 {
		bad(line, field+".days", "%d: at most 366", m.Days)
	}
	if m.Similarity < 0 || m.Similarity > 1 || math.IsNaN(m.Similarity) {
		bad(line, field+".similarity", "%v: between 0 and 1", m.Similarity)
	}
}

// Outreach is the history a mass_communication rule needs: per rule and
// employee, clusters of near-identical outbound texts with the external
// recipients each was sent to and when. The supervisor keeps one for the
// life of the process, loaded from the archive's last Days days when it
// starts (Warmed/MarkWarmed), and a backtest builds its own.
//
// Observing a message is idempotent by serial (a batch evaluated again
// after a failed commit counts nothing twice), and whether a message is
// flagged depends only on the messages observed before it, never on
// alerts already raised: a message is flagged when the distinct
// recipients in the window were at most the threshold without it and
// above it with it — once per crossing, not on every later send.
//
// Not safe for concurrent use.
type Outreach struct {
	rules  map[string]*massState
	warmed map[string]bool
	an     textindex.Analyzer
}

// NewOutreach returns an empty history.
func NewOutreach() *Outreach {
	return &Outreach{rules: map[string]*massState{}, warmed: map[string]bool{}}
}

type massState struct {
	p       Mass
	senders map[string]*senderState
	newest  int64 // latest send seen, ms
	adds    int
}

type senderState struct {
	clusters []*cluster
	bands    map[uint64][]*cluster
}

type cluster struct {
	sig    [sigSize]uint32
	sends  map[string][]send // external recipient → sends
	newest int64
}

type send struct {
	at     int64 // ms
	serial uint64
}

// MinHash signature: 64 hash functions, 16 bands of 4 for candidate
// lookup. Two texts with similarity 0.8 share a band with probability
// 1-(1-0.8⁴)¹⁶ > 0.9997 (0.7: 0.98); the estimate's standard error at
// 0.8 is 0.05.
const (
	sigSize  = 64
	bandRows = 4
)

// key names a rule's state; a new version with other parameters starts a
// new history.
func massKey(policy string, r *Rule) string {
	p := r.Mass.withDefaults()
	return fmt.Sprintf("%s/%s %d/%d/%g/%d", policy, r.ID, p.Recipients, p.Days, p.Similarity, p.MinLength)
}

// MassKeys are the history keys of p's mass_communication rules.
func (p *Policy) MassKeys() []string {
	var out []string
	for i := range p.Rules {
		if p.Rules[i].Behaviour == BehaviourMassCommunication {
			out = append(out, massKey(p.Name, &p.Rules[i]))
		}
	}
	return out
}

// MaxMassDays is the longest window of p's mass_communication rules (0 if
// none): how far back a history must be loaded.
func (p *Policy) MaxMassDays() int {
	n := 0
	for i := range p.Rules {
		if p.Rules[i].Behaviour == BehaviourMassCommunication {
			n = max(n, p.Rules[i].Mass.withDefaults().Days)
		}
	}
	return n
}

// Warmed reports whether the history for key has been loaded.
func (o *Outreach) Warmed(key string) bool { return o.warmed[key] }

// MarkWarmed records that the history for key is loaded.
func (o *Outreach) MarkWarmed(key string) { o.warmed[key] = true }

// Observe adds a message to p's mass_communication histories without
// evaluating anything (loading history, or a backtest's lead-in before
// its period).
func (p *Policy) Observe(in Input, o *Outreach) {
	if !p.InScope(in) {
		return
	}
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Behaviour == BehaviourMassCommunication {
			o.observe(massKey(p.Name, r), r.Mass.withDefaults(), in)
		}
	}
}

// observe records m and returns the distinct external recipients of its
// text in the window ending at it, without and with it. ok is false when
// the message does not count (not outbound, too short, no external
// recipient).
func (o *Outreach) observe(key string, p Mass, in Input) (before, after int, ok bool) {
	m := in.Message
	if m.Direction != archive.DirectionOutbound || m.SentAt.IsZero() || m.Action == archive.ActionRecall {
		return 0, 0, false
	}
	external := map[string]bool{}
	for _, pt := range m.Participants {
		if pt.Kind == archive.ParticipantExternal {
			external[pt.ID] = true
		}
	}
	var recipients []string
	for _, r := range m.Recipients {
		if external[r] && !slices.Contains(recipients, r) {
			recipients = append(recipients, r)
		}
	}
	if len(recipients) == 0 {
		return 0, 0, false
	}
	sig, n := o.signature(m.Text)
	if n < p.MinLength {
		return 0, 0, false
	}
	st := o.rules[key]
	if st == nil {
		st = &massState{p: p, senders: map[string]*senderState{}}
		o.rules[key] = st
	}
	ss := st.senders[m.Sender]
	if ss == nil {
		ss = &senderState{bands: map[uint64][]*cluster{}}
		st.senders[m.Sender] = ss
	}
	c := ss.find(&sig, p.Similarity)
	if c == nil {
		c = &cluster{sig: sig, sends: map[string][]send{}}
		ss.add(c)
	}
	at := m.SentAt.Millis()
	from := at - int64(p.Days)*24*int64(time.Hour/time.Millisecond)
	seen := map[string]bool{}
	for r, ss := range c.sends {
		for _, s := range ss {
			if s.serial != in.Serial && s.at > from && s.at <= at {
				seen[r] = true
				break
			}
		}
	}
	before = len(seen)
	for _, r := range recipients {
		seen[r] = true
		if !slices.ContainsFunc(c.sends[r], func(s send) bool { return s.serial == in.Serial && s.at == at }) {
			c.sends[r] = append(c.sends[r], send{at: at, serial: in.Serial})
		}
	}
	after = len(seen)
	c.newest = max(c.newest, at)
	st.newest = max(st.newest, at)
	if st.adds++; st.adds%4096 == 0 {
		st.prune()
	}
	return before, after, true
}

// prune forgets clusters and sends older than the window (with a day's
// grace for messages arriving late).
func (st *massState) prune() {
	horizon := st.newest - int64(st.p.Days+1)*24*int64(time.Hour/time.Millisecond)
	for id, ss := range st.senders {
		kept := ss.clusters[:0]
		for _, c := range ss.clusters {
			if c.newest < horizon {
				continue
			}
			for r, sends := range c.sends {
				sends = slices.DeleteFunc(sends, func(s send) bool { return s.at < horizon })
				if len(sends) == 0 {
					delete(c.sends, r)
				} else {
					c.sends[r] = sends
				}
			}
			kept = append(kept, c)
		}
		if len(kept) == 0 {
			delete(st.senders, id)
			continue
		}
		fresh := &senderState{bands: map[uint64][]*cluster{}}
		for _, c := range kept {
			fresh.add(c)
		}
		st.senders[id] = fresh
	}
}

func (ss *senderState) add(c *cluster) {
	ss.clusters = append(ss.clusters, c)
	for b := 0; b < sigSize/bandRows; b++ {
		k := bandKey(&c.sig, b)
		ss.bands[k] = append(ss.bands[k], c)
	}
}

// find returns the most similar cluster at or above the similarity.
func (ss *senderState) find(sig *[sigSize]uint32, similarity float64) *cluster {
	var best *cluster
	bestSim := -1.0
	for b := 0; b < sigSize/bandRows; b++ {
		for _, c := range ss.bands[bandKey(sig, b)] {
			same := 0
			for i := range sig {
				if sig[i] == c.sig[i] {
					same++
				}
			}
			if s := float64(same) / sigSize; s >= similarity && s > bestSim {
				best, bestSim = c, s
			}
		}
	}
	return best
}

func bandKey(sig *[sigSize]uint32, b int) uint64 {
	h := uint64(b) + 0x9e3779b97f4a7c15
	for _, v := range sig[b*bandRows : (b+1)*bandRows] {
		h = mix64(h ^ uint64(v))
	}
	return h
}

// signature is the MinHash of the text's character 3-grams after
// normalization, ignoring spaces and punctuation; n is the number of
// characters that remain.
func (o *Outreach) signature(text string) (sig [sigSize]uint32, n int) {
	var runes []rune
	for _, r := range o.an.Normalize(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			runes = append(runes, r)
		}
	}
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	if len(runes) == 0 {
		return sig, 0
	}
	k := min(3, len(runes))
	for i := 0; i+k <= len(runes); i++ {
		h := uint64(0xcbf29ce484222325)
		for _, r := range runes[i : i+k] {
			h = mix64(h ^ uint64(r))
		}
		for j := range sig {
			if v := uint32(mix64(h + uint64(j)*0x9e3779b97f4a7c15)); v < sig[j] {
				sig[j] = v
			}
		}
	}
	return sig, len(runes)
}

// mix64 is SplitMix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
