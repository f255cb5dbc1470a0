package capture_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

// types names the connectors' sources in reports.
var types = all.Registry(all.Options{})

func openRepo(t *testing.T) *repo.Repo { return archivetest.New(t) }

func sent(r *repo.Repo, t *testing.T, id, sender string, at time.Time) {
	t.Helper()
	m := &archive.Message{Schema: archive.RecordSchema, Source: "wecom-callback:hr", SourceID: id, SourceType: "text", Kind: archive.KindText,
		Action: archive.ActionSend, SentAt: archive.At(at), Conversation: "direct:app|" + sender, ConversationKind: archive.ConversationDirect,
		Sender: sender, Recipients: []string{"app"}, Participants: []archive.Participant{{ID: sender, Kind: archive.ParticipantEmployee}, {ID: "app", Kind: archive.ParticipantBot}},
		Direction: archive.DirectionInternal, Text: "hi", Attachments: []archive.Attachment{}}
	if _, err := r.Engine.Archive(context.Background(), "test", []ingest.Item{{Source: m.Source, Raw: []byte(id), Message: m}}); err != nil {
		t.Fatal(err)
	}
}

// gauge reads one labelled gauge from the registry (-1 when absent).
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return value(m)
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

func journalSize(t *testing.T, r *repo.Repo) uint64 {
	h, err := r.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.JournalSize
}

// TestHealthFaults: a fault is journaled once when raised and once when
// resolved, shows in the metrics, survives a restart (reload from the
// journal's projection) and verifies.
func TestHealthFaults(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t)
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h, err := capture.NewTracker(ctx, r.Engine, r.Store, reg, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Register("hr", callback.TypeWeCom, "wecom-callback:hr")
	start := journalSize(t, r)
	h.Observe(ctx, "hr", "rejected", "verify: signature mismatch")
	h.Observe(ctx, "hr", "rejected", "verify: signature mismatch") // still open: not journaled again
	h.Raise(ctx, "hr", capture.FaultMediaFailed, "m1", "attachment 0: expired")
	h.Raise(ctx, "hr", capture.FaultMediaFailed, "m1", "attachment 0: expired")
	if got := journalSize(t, r) - start; got != 2 {
		t.Fatalf("%d fault events journaled, want 2 (one per distinct fault)", got)
	}
	rr := map[string]string{"connector": "hr", "kind": capture.FaultRequestsRejected}
	if v := gauge(t, reg, "wxarchive_capture_faults_open", rr); v != 1 {
		t.Fatalf("faults_open = %v", v)
	}
	if v := gauge(t, reg, "wxarchive_capture_messages_total", map[string]string{"connector": "hr", "outcome": "rejected"}); v != 2 {
		t.Fatalf("messages_total rejected = %v", v)
	}
	h.Observe(ctx, "hr", "archived", "")
	if got := journalSize(t, r) - start; got != 3 {
		t.Fatalf("a success after rejections: %d events, want the resolve as the 3rd", got)
	}
	open, _ := r.Store.OpenFaults(ctx)
	if len(open) != 1 || open[0].Kind != capture.FaultMediaFailed || open[0].Subject != "m1" || open[0].Detail != "attachment 0: expired" {
		t.Fatalf("open faults %+v", open)
	}
	if v := gauge(t, reg, "wxarchive_capture_faults_open", rr); v != 0 {
		t.Fatalf("faults_open after resolve = %v", v)
	}
	if v := gauge(t, reg, "wxarchive_capture_last_success_timestamp_seconds", map[string]string{"connector": "hr"}); v != float64(now.Unix()) {
		t.Fatalf("last success = %v, want %d", v, now.Unix())
	}

	// A restart knows the fault is open: raising it again writes nothing.
	h2, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := journalSize(t, r)
	h2.Raise(ctx, "hr", capture.FaultMediaFailed, "m1", "again")
	if journalSize(t, r) != before {
		t.Fatal("a restarted health raised an open fault twice")
	}
	if !h2.Resolve(ctx, "hr", capture.FaultMediaFailed, "m1", "re-sent", "cli:alice") {
		t.Fatal("resolve of an open fault did nothing")
	}
	var history []string
	r.Store.FaultHistory(ctx, func(f store.FaultRow) error {
		history = append(history, f.Kind+"/"+f.State)
		return nil
	})
	if strings.Join(history, ",") != "requests_rejected/raised,media_failed/raised,requests_rejected/resolved,media_failed/resolved" {
		t.Fatalf("history %v", history)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify: %+v", rep.Faults)
	}
}

// TestHealthSilentEmployees: an employee with no message for N days is a
// fault until they send again; the report lists them.
func TestHealthSilentEmployees(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t)
	// Real time: the messages' capture times come from the engine's clock.
	now := time.Now().UTC()
	h, err := capture.NewTracker(ctx, r.Engine, r.Store, nil, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent(r, t, "a1", "active", now.Add(-24*time.Hour))
	sent(r, t, "q1", "quiet", now.Add(-10*24*time.Hour))
	if err := h.CheckEmployees(ctx, 7); err != nil {
		t.Fatal(err)
	}
	open, _ := r.Store.OpenFaults(ctx)
	if len(open) != 1 || open[0].Kind != capture.FaultEmployeeSilent || open[0].Subject != "quiet" || !strings.Contains(open[0].Detail, now.Add(-10*24*time.Hour).Format("2006-01-02")) {
		t.Fatalf("open faults %+v", open)
	}
	conns := []connector.Config{{ID: "hr", Type: callback.TypeWeCom}}
	rep, err := capture.BuildReport(ctx, r.Store, types, conns, 7, now, time.UTC, h)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.SilentEmployees) != 1 || rep.SilentEmployees[0].ID != "quiet" || len(rep.Connectors) != 1 ||
		rep.Connectors[0].LastSerial == 0 || rep.Connectors[0].Source != "wecom-callback:hr" {
		t.Fatalf("report %+v", rep)
	}
	// A 14-day threshold: nobody is silent, the fault resolves.
	if err := h.CheckEmployees(ctx, 14); err != nil {
		t.Fatal(err)
	}
	if open, _ := r.Store.OpenFaults(ctx); len(open) != 0 {
		t.Fatalf("after a quiet employee is within the threshold: %+v", open)
	}
	sent(r, t, "q2", "quiet", now)
	rep, _ = capture.BuildReport(ctx, r.Store, types, conns, 7, now, time.UTC, nil)
	if !rep.OK || rep.Connectors[0].MessagesPerMinute != float64(3)/10 {
		t.Fatalf("report %+v: want OK and 3 messages in the 10-minute window", rep)
	}
}

// TestHealthPermitUsers: the permit list's size a wecom-archive connector
// last read is in the report and the metrics of the running server.
func TestHealthPermitUsers(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t)
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h, err := capture.NewTracker(ctx, r.Engine, r.Store, reg, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	conns := []connector.Config{{ID: "archive", Type: pull.TypeName, CorpID: "ww1"}}
	h.Register("archive", pull.TypeName, "wecom-archive:ww1")
	rep, _ := capture.BuildReport(ctx, r.Store, types, conns, 7, now, time.UTC, h)
	if rep.Connectors[0].PermitUsers != nil {
		t.Fatalf("permit users before any read: %v", *rep.Connectors[0].PermitUsers)
	}
	h.SetPermitUsers("archive", 42)
	rep, _ = capture.BuildReport(ctx, r.Store, types, conns, 7, now, time.UTC, h)
	if cr := rep.Connectors[0]; cr.PermitUsers == nil || *cr.PermitUsers != 42 || cr.PermitCheckedAt != "2026-11-27T10:00:00Z" {
		t.Fatalf("report %+v", cr)
	}
	if v := gauge(t, reg, "wxarchive_capture_permit_users", map[string]string{"connector": "archive"}); v != 42 {
		t.Fatalf("gauge %v", v)
	}
}

// TestRecordFaultBounded: a fault whose subject or detail came from a
// source (an invalid msgid, a megabyte of error text) is still journaled,
// bounded, and reads back.
func TestRecordFaultBounded(t *testing.T) {
	r := openRepo(t)
	ctx := context.Background()
	f := archive.CaptureFaultEvent{Connector: "c", Kind: capture.FaultMediaFailed, Subject: strings.Repeat("m", 1000) + "\xff",
		State: archive.FaultRaised, Detail: strings.Repeat("<", 1<<20)}
	if err := capture.RecordFault(ctx, r.Engine, "connector:c", f); err != nil {
		t.Fatal(err)
	}
	open, err := r.Store.OpenFaults(ctx)
	if err != nil || len(open) != 1 {
		t.Fatalf("open faults %+v, %v", open, err)
	}
	if got := open[0]; len(got.Subject) > archive.MaxIDBytes || len(got.Detail) > archive.MaxReasonBytes || !utf8.ValidString(got.Subject) {
		t.Fatalf("journaled subject %d bytes, detail %d bytes", len(got.Subject), len(got.Detail))
	}
}
