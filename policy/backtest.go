package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/archive"
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

// RuleBacktest is one rule's hit count.
type RuleBacktest struct {
	Rule string `json:"rule"`
	Hits int    `json:"hits"`
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
func RunBacktest(ctx context.Context, p *Policy, st store.Reader, recs RecordReader, from, to time.Time, samples int) (*Backtest, error) {
	bt := &Backtest{Policy: p.Name, From: from.Format(time.RFC3339), To: to.Format(time.RFC3339), Rules: []RuleBacktest{}, Samples: []BacktestMatch{}}
	counts := map[string]int{}
	head, err := st.Head(ctx)
	if err != nil {
		return nil, err
	}
	for serial := uint64(1); serial < head.NextSerial; serial++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := st.Message(ctx, serial)
		if err != nil {
			return nil, fmt.Errorf("serial %d: %w", serial, err)
		}
		if row.SentAt.Time.Before(from) || !row.SentAt.Time.Before(to) {
			continue
		}
		bt.Scanned++
		b, err := recs.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
		if err != nil {
			return nil, fmt.Errorf("serial %d: %w", serial, err)
		}
		var m archive.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("serial %d: normalized record: %w", serial, err)
		}
		in := Input{Message: &m, Recalled: row.RecalledBy != 0}
		if !p.InScope(in) {
			continue
		}
		bt.InScope++
		hits := p.evaluate(in)
		if len(hits) > 0 {
			bt.Messages++
		}
		for _, h := range hits {
			counts[h.Rule]++
			if len(bt.Samples) < samples {
				bt.Samples = append(bt.Samples, BacktestMatch{Serial: serial, Rule: h.Rule, Text: m.Text, Spans: h.Spans})
			}
		}
	}
	for _, r := range p.Rules {
		bt.Rules = append(bt.Rules, RuleBacktest{Rule: r.ID, Hits: counts[r.ID]})
	}
	return bt, nil
}
