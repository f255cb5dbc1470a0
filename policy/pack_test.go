package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/policy"
)

// TestDefaultPackOnDemo: every planted compliance message of the demo data
// raises the pack's policy for its category; the risk disclosures and the
// near-miss numbers raise nothing; and on the ordinary chat around them
// the pack stays quiet enough for a reviewer.
func TestDefaultPackOnDemo(t *testing.T) {
	pack, err := policy.DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	wantPolicy := map[string]string{
		demo.CatGuaranteedReturn: "guaranteed-returns", demo.CatOffChannel: "off-channel", demo.CatDeleteRecords: "record-destruction",
		demo.CatIDNumber: "sensitive-data", demo.CatCardNumber: "sensitive-data", demo.CatInsider: "insider-information",
		demo.CatGift: "gifts-and-entertainment", demo.CatComplaint: "complaints",
	}
	quiet := map[string][]string{ // categories that must not raise these policies
		demo.CatRiskDisclosure: {"guaranteed-returns"}, demo.CatIDNearMiss: {"sensitive-data"}, demo.CatCardNearMiss: {"sensitive-data"},
	}
	planted := map[string]string{}
	var msgs []*archive.Message
	sum, err := demo.Generate(demo.Config{Seed: 1, Messages: 20000}, func(line []byte) error {
		m, err := msgaudit.Decode(line, msgaudit.Options{Source: "wecom-archive:demo"})
		if err == nil {
			msgs = append(msgs, m)
		}
		return nil
	}, func(string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Planted {
		planted[p.MsgID] = p.Category
	}
	flagged := map[string]int{} // policy → ordinary messages flagged
	missed := map[string][]string{}
	for _, m := range msgs {
		raised := map[string]bool{}
		for _, p := range pack {
			if len(p.Evaluate(policy.Input{Message: m})) > 0 {
				raised[p.Name] = true
			}
		}
		cat, isPlanted := planted[m.SourceID]
		switch {
		case isPlanted && wantPolicy[cat] != "":
			if !raised[wantPolicy[cat]] {
				missed[cat] = append(missed[cat], m.Text)
			}
		case isPlanted:
			for _, p := range quiet[cat] {
				if raised[p] {
					t.Errorf("%s message %q raised %s", cat, m.Text, p)
				}
			}
		default:
			for p := range raised {
				if p != "recalled-messages" && p != "contact-details" {
					flagged[p]++
				}
			}
		}
	}
	for cat, texts := range missed {
		t.Errorf("%d planted %s messages not flagged by %s, e.g. %q", len(texts), cat, wantPolicy[cat], texts[0])
	}
	// Precision on ordinary chat: at most 1 % of messages flagged per policy.
	for p, n := range flagged {
		if n > len(msgs)/100 {
			t.Errorf("%s flags %d ordinary messages of %d", p, n, len(msgs))
		}
	}
	b, _ := json.Marshal(flagged)
	t.Logf("ordinary messages flagged per policy (of %d): %s", len(msgs), strings.TrimSpace(string(b)))
}
