package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
)

// RecordReader reads a message's normalized record (repo.Records).
type RecordReader interface {
	Get(ctx context.Context, key store.RecordKey, want archive.BlobID) ([]byte, error)
}

// Backtest is what a draft policy would have raised over a period, without
// raising anything.
type Backtest struct {
	Policy   string          `json:"policy"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	Scanned  int             `json:"scanned"`  // messages sent in the period
	InScope  int             `json:"in_scope"` // of those, in the policy's scope
	Messages int             `json:"messages"` // messages with at least one hit
	Rules    []RuleBacktest  `json:"rules"`
	Samples  []BacktestMatch `json:"samples"`
}

// RuleBacktest is one rule's hit count and, where reviewers have already
// closed alerts of this policy's rule on the messages it hits, how those
// were dispositioned: Precision is violations over dispositioned hits
// (a "no issue" or "false positive" close both say the alert was not
// needed). Absent when no hit has been dispositioned.
type RuleBacktest struct {
	Rule          string   `json:"rule"`
	Hits          int      `json:"hits"`
	Dispositioned int      `json:"dispositioned"`
	Violations    int      `json:"violations"`
	FalsePositive int      `json:"false_positives"`
	NoIssue       int      `json:"no_issue"`
	Precision     *float64 `json:"precision,omitempty"`
}

// BacktestMatch is one message a rule matched.
type BacktestMatch struct {
	Serial uint64   `json:"serial"`
	Rule   string   `json:"rule"`
	Text   string   `json:"text"`
	Spans  [][2]int `json:"spans"`
}

// RunBacktest evaluates p over every message sent in [from, to), reading
// each normalized record (verified against its hash), and keeps up to
// samples matches.
func RunBacktest(ctx context.Context, p *Policy, st BacktestReader, recs RecordReader, from, to time.Time, samples int) (*Backtest, error) {
	bt := &Backtest{Policy: p.Name, From: from.Format(time.RFC3339), To: to.Format(time.RFC3339), Rules: []RuleBacktest{}, Samples: []BacktestMatch{}}
	counts := map[string]*RuleBacktest{}
	for _, r := range p.Rules {
		counts[r.ID] = &RuleBacktest{Rule: r.ID}
	}
	if p.Sampling != nil {
		counts[SampleRule] = &RuleBacktest{Rule: SampleRule}
	}
	dispositions, err := closedDispositions(ctx, st, p.Name)
	if err != nil {
		return nil, err
	}
	head, err := st.Head(ctx)
	if err != nil {
		return nil, err
	}
	// mass_communication rules count what was sent in the window before
	// each message, so the lead-in before the period is observed too.
	outreach := NewOutreach()
	leadIn := from.Add(-time.Duration(p.MaxMassDays()) * 24 * time.Hour)
	for serial := uint64(1); serial < head.NextSerial; serial++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := st.Message(ctx, serial)
		if err != nil {
			return nil, fmt.Errorf("serial %d: %w", serial, err)
		}
		inPeriod := !row.SentAt.Time.Before(from) && row.SentAt.Time.Before(to)
		inLeadIn := !inPeriod && p.MaxMassDays() > 0 && !row.SentAt.Time.Before(leadIn) && row.SentAt.Time.Before(from)
		if !inPeriod && !inLeadIn {
			continue
		}
		if inPeriod {
			bt.Scanned++
		}
		b, err := recs.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
		if err != nil {
			return nil, fmt.Errorf("serial %d: %w", serial, err)
		}
		var m archive.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("serial %d: normalized record: %w", serial, err)
		}
		var dirErr error
		in := Input{Message: &m, Recalled: row.RecalledBy != 0, Serial: serial, Outreach: outreach,
			Department: DirectoryDepartment(ctx, st, m.SentAt, &dirErr)}
		if inLeadIn {
			p.Observe(in, outreach)
			if dirErr != nil {
				return nil, fmt.Errorf("serial %d: directory: %w", serial, dirErr)
			}
			continue
		}
		if !p.InScope(in) {
			if dirErr != nil {
				return nil, fmt.Errorf("serial %d: directory: %w", serial, dirErr)
			}
			continue
		}
		bt.InScope++
		hits := p.evaluate(in)
		if dirErr != nil {
			return nil, fmt.Errorf("serial %d: directory: %w", serial, dirErr)
		}
		if len(hits) > 0 {
			bt.Messages++
		}
		for _, h := range hits {
			c := counts[h.Rule]
			c.Hits++
			switch dispositions[ruleOn{serial, h.Rule}] {
			case "violation":
				c.Dispositioned++
				c.Violations++
			case "false_positive":
				c.Dispositioned++
				c.FalsePositive++
			case "no_issue":
				c.Dispositioned++
				c.NoIssue++
			}
			if len(bt.Samples) < samples {
				bt.Samples = append(bt.Samples, BacktestMatch{Serial: serial, Rule: h.Rule, Text: m.Text, Spans: h.Spans})
			}
		}
	}
	ids := make([]string, 0, len(p.Rules)+1)
	for _, r := range p.Rules {
		ids = append(ids, r.ID)
	}
	if p.Sampling != nil {
		ids = append(ids, SampleRule)
	}
	for _, id := range ids {
		c := counts[id]
		if c.Dispositioned > 0 {
			prec := float64(c.Violations) / float64(c.Dispositioned)
			c.Precision = &prec
		}
		bt.Rules = append(bt.Rules, *c)
	}
	return bt, nil
}

type ruleOn struct {
	serial uint64
	rule   string
}

// closedDispositions are the dispositions of the closed alerts of a
// policy (any version), by message and rule: reviewers' labels, against
// which a draft is measured. When one message has several closed alerts
// of a rule, the last one closed wins.
func closedDispositions(ctx context.Context, st store.SupervisionReader, policy string) (map[ruleOn]string, error) {
	alerts := map[uint64]ruleOn{}
	if err := st.Alerts(ctx, 0, policy, 0, func(a store.AlertRow) error {
		alerts[a.JournalIndex] = ruleOn{a.Serial, a.Rule}
		return nil
	}); err != nil {
		return nil, err
	}
	out := map[ruleOn]string{}
	if len(alerts) == 0 {
		return out, nil
	}
	actions := map[uint64][]store.ReviewActionRow{}
	if err := st.ReviewActions(ctx, 0, func(r store.ReviewActionRow) error {
		if _, ok := alerts[r.Alert]; ok {
			actions[r.Alert] = append(actions[r.Alert], r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	closedAt := map[ruleOn]archive.Time{}
	for id, acts := range actions {
		s := review.StateOf(acts)
		k := alerts[id]
		if s.Reviewed && !s.ClosedAt.Before(closedAt[k].Time) {
			out[k], closedAt[k] = s.Disposition, s.ClosedAt
		}
	}
	return out, nil
}

// BacktestReader is what a backtest reads: the messages of the period
// (their records through RecordReader), the directory for scopes and
// behaviours, and reviewers' dispositions for precision.
type BacktestReader interface {
	Head(ctx context.Context) (store.Head, error)
	store.MessageReader
	store.DirectoryReader
	store.SupervisionReader
}
