package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/retention"
)

// benchRules is the example rule set with rules that match the
// benchmark's messages: every message is evaluated against jurisdictions,
// kinds, participants and conversation kinds, and one of them decides.
var benchRules = append(retention.Example(), []byte(`
  - name: bench-text
    match: {sources: [wecom-archive], kinds: [text, image], conversation_kinds: [direct, group]}
    period: {years: 7}
  - name: bench-vip
    match: {participants: [wmVIP0001, wmVIP0002, wmVIP0003]}
    period: {years: 10}
`)...)

// BenchmarkIngestRetentionRules is BenchmarkIngestBatched at batch=2000
// with a retention rule set in force: the cost of deciding each
// message's retain-until by the rules (compare with batch=2000 there, in
// the same run).
func BenchmarkIngestRetentionRules(b *testing.B) {
	r := openArchive(b)
	ctx := app.WithPrincipal(context.Background(), app.Principal{Actor: "bench", User: "bench", Via: "cli"})
	if _, err := app.New(app.FromRepo(r)).ApplyRetention(ctx, "bench.yaml", benchRules); err != nil {
		b.Fatal(err)
	}
	lines := uniq(demoText(b, b.N))
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:bench", Actor: "bench", Origin: "bench", BatchSize: 2000}
	b.SetBytes(int64(len(data)) / int64(b.N))
	b.ResetTimer()
	sum, err := in.Run(context.Background(), bytes.NewReader(data))
	b.StopTimer()
	if err != nil || sum.Archived != b.N {
		b.Fatalf("archived %d of %d: %v", sum.Archived, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if row, err := r.Store.Message(context.Background(), 1); err != nil || row.RetentionRule != "bench-text" {
		b.Fatalf("the rules did not decide: %+v, %v", row, err)
	}
}

// BenchmarkRetentionEvaluate is the evaluation alone, per message.
func BenchmarkRetentionEvaluate(b *testing.B) {
	s, err := retention.Parse("bench.yaml", benchRules)
	if err != nil {
		b.Fatal(err)
	}
	lines := demoText(b, 1000)
	msgs := make([]retention.Subject, 0, len(lines))
	for _, l := range lines {
		m, err := msgaudit.Decode(l, msgaudit.Options{Source: "wecom-archive:bench"})
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, retention.Subject{Message: m, CapturedAt: m.SentAt.Time})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Evaluate(msgs[i%len(msgs)], 6)
	}
}

// BenchmarkRetentionRecompute measures the recompute after a rule change
// that extends every archived message (20,000 here): each iteration
// applies a version one year longer than the last, so every message is
// re-evaluated, its pack and attachments extended and the extension
// journaled. Reported per message.
func BenchmarkRetentionRecompute(b *testing.B) {
	const n = 20000
	r := openArchive(b)
	lines := uniq(demoText(b, n))
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Source: "wecom-archive:bench", Actor: "bench", Origin: "bench", BatchSize: 2000}
	if sum, err := in.Run(context.Background(), bytes.NewReader(data)); err != nil || sum.Archived != n {
		b.Fatalf("archived %d of %d: %v", sum.Archived, n, err)
	}
	u := app.New(app.FromRepo(r))
	ctx := app.WithPrincipal(context.Background(), app.Principal{Actor: "bench", User: "bench", Via: "cli"})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		set := []byte(fmt.Sprintf("retention: bench\nrules:\n  - {name: all, period: {years: %d}}\n", 10+i))
		res, err := u.ApplyRetention(ctx, "bench.yaml", set)
		if err != nil || res.Recompute == nil || res.Recompute.Extended != n {
			b.Fatalf("recompute: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
