package capture_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/ingest"
)

// TestPoller: a full page is pulled again at once, a failure raises
// pull_failed and the next success resolves it, a wake-up's value reaches
// the next pull, and Run ends with ctx.
func TestPoller(t *testing.T) {
	h := &recorder{}
	var w capture.Wakeup[string]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	step := 0
	pulled := make(chan struct{}, 16)
	p := capture.Poller[string]{ID: "svc", What: "test sync", Interval: time.Hour, Wake: w.C(), Health: h,
		Pull: func(_ context.Context, token string) (bool, error) {
			step++
			got = append(got, token)
			defer func() { pulled <- struct{}{} }()
			switch step {
			case 1:
				return true, nil // more: again at once
			case 2:
				return false, errors.New("network down")
			}
			return false, nil
		}}
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	wait := func(n int) {
		for range n {
			select {
			case <-pulled:
			case <-time.After(5 * time.Second):
				t.Fatalf("pull %d did not happen", step+1)
			}
		}
	}
	wait(2) // the first two pulls happen without waiting for the hour
	w.Send("TOKEN")
	wait(1)
	for range 100 {
		w.Send("AGAIN") // never blocks: one wake-up pending is enough
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end with ctx")
	}
	if len(got) < 3 || !slices.Equal(got[:3], []string{"", "", "TOKEN"}) || len(got) > 5 {
		t.Fatalf("tokens %q", got)
	}
	if !slices.Equal(h.events, []string{"raise svc pull_failed", "resolve svc pull_failed"}) {
		t.Fatalf("health %v", h.events)
	}
}

func TestObserveResults(t *testing.T) {
	h := &recorder{}
	got := capture.ObserveResults(context.Background(), h, "c", []ingest.Result{{Outcome: ingest.Archived}, {Outcome: ingest.Conflict},
		{Outcome: ingest.Duplicate}, {Outcome: ingest.Rejected}})
	if got != (capture.Tally{Archived: 2, Duplicates: 1, Rejected: 1}) ||
		!slices.Equal(h.events, []string{"observe c archived", "observe c archived", "observe c duplicate", "observe c rejected_message"}) {
		t.Fatalf("%+v %v", got, h.events)
	}
}
