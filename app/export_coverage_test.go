package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

// TestExportCoverageAndAudit: the coverage certificate names what the
// archive knows it lacks in the scope — a capture fault raised in the
// period, the client's refusal of consent, a custodian with no message,
// a missing attachment — and leaves out a fault of another period; the
// audit trail lists the exported messages' archiving and the views of
// them, not a view of a message outside the production.
func TestExportCoverageAndAudit(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	const day = int64(1700000000000) // 2023-11-14
	var items []ingest.Item
	for i, text := range []string{"收益一", "收益二", "无关的消息"} {
		m, raw := testMessage("c"+string(rune('0'+i)), text)
		m.SentAt = archive.MillisTime(day + int64(i)*60000)
		if i == 1 {
			m.Kind, m.SourceType = archive.KindImage, "image"
			m.Attachments = []archive.Attachment{{Role: "image", Status: archive.AttachmentMissing, Reason: "media expired"}}
		}
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	refuse, raw := testMessage("c9", "")
	refuse.Kind, refuse.SourceType, refuse.Sender, refuse.Recipients = archive.KindDisagree, "disagree", "wmb", []string{"a"}
	refuse.SentAt = archive.MillisTime(day + 10*60000)
	refuse.Consent = &archive.Consent{ExternalID: "wmb", Agreed: false, At: refuse.SentAt}
	items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: refuse})
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	fault := func(subject string) journal.Event {
		e, err := journal.NewEvent(archive.EventCaptureFault, "connector:c1", archive.Time{}, []string{subject},
			&archive.CaptureFaultEvent{Connector: "c1", Kind: "media_failed", Subject: subject, State: archive.FaultRaised, Detail: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if _, err := r.Engine.Append(ctx, fault("in-period")); err != nil {
		t.Fatal(err)
	}
	// A view of message 3 (not exported) and of message 1 (exported).
	if _, err := u.MessagesBySerial(uctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := u.MessagesBySerial(uctx, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "p")
	// The fault was journaled now, so the period that holds it is today's:
	// no period here (every fault counts), custodians a and nobody.
	if _, err := u.CreateExport(uctx, app.ExportRequest{Query: "收益 OR type:disagree", Custodians: []string{"a"}, Formats: []string{"jsonl"}, Out: out}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.RunExport(uctx, out, nil); err != nil {
		t.Fatal(err)
	}
	var cov app.Coverage
	b, err := os.ReadFile(filepath.Join(out, "coverage.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cov); err != nil {
		t.Fatal(err)
	}
	if len(cov.Faults) != 1 || cov.Faults[0].Subject != "in-period" {
		t.Errorf("faults %+v, want the one raised", cov.Faults)
	}
	if len(cov.ConsentRefused) != 1 || cov.ConsentRefused[0].ExternalID != "wmb" {
		t.Errorf("consent refused %+v", cov.ConsentRefused)
	}
	if len(cov.AbsentMedia) != 1 || cov.AbsentMedia[0].Serial != 2 {
		t.Errorf("absent media %+v, want serial 2's image", cov.AbsentMedia)
	}
	if len(cov.SilentCustodians) != 0 {
		t.Errorf("silent custodians %v: a has messages", cov.SilentCustodians)
	}
	// A period before the fault leaves it out; a custodian who never
	// appears in the production is silent.
	if _, err := u.CreateHold(uctx, app.HoldRequest{Name: "m1", Matter: "SEC", Reason: "test", Custodians: []string{"a", "ghost"}}); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "p2")
	if _, err := u.CreateExport(uctx, app.ExportRequest{Query: "收益", Hold: "m1", From: "2023-11-01", To: "2023-12-01", Formats: []string{"jsonl"}, Out: out2}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.RunExport(uctx, out2, nil); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(out2, "coverage.json"))
	cov = app.Coverage{}
	json.Unmarshal(b, &cov)
	if len(cov.Faults) != 0 {
		t.Errorf("a fault raised after the period is listed: %+v", cov.Faults)
	}
	if len(cov.SilentCustodians) != 1 || cov.SilentCustodians[0] != "ghost" {
		t.Errorf("silent custodians %v, want the hold's ghost", cov.SilentCustodians)
	}
	// The audit trail of the first production.
	ab, err := os.ReadFile(filepath.Join(out, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	views, archived := 0, 0
	for _, line := range splitLines(ab) {
		var l app.AuditLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		switch l.Type {
		case archive.EventAccessView:
			views++
			for _, s := range l.Serials {
				if s == 3 {
					t.Error("the audit trail lists a view of serial 3, which is not exported")
				}
			}
		case archive.EventMessageArchived:
			archived++
		}
	}
	if archived != 3 || views != 1 {
		t.Errorf("audit trail: %d archived, %d views; want 3 and 1", archived, views)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
