package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
)

// StatsView summarizes the archive (`wxarchive stats --json`, DESIGN §9).
type StatsView struct {
	ArchiveID      string           `json:"archive_id"`
	Messages       int64            `json:"messages"`
	Attachments    int64            `json:"attachments"`
	AttachFaults   int64            `json:"attachment_faults"`
	Conflicts      int64            `json:"conflicts"`
	Recalled       int64            `json:"recalled"`
	Quarantined    int64            `json:"quarantined"`
	JournalSize    uint64           `json:"journal_size"`
	SealedSize     uint64           `json:"sealed_size"`
	PendingRecords int64            `json:"pending_records"`
	Packs          int64            `json:"packs"`
	Segments       int64            `json:"segments"`
	Checkpoints    int64            `json:"checkpoints"`
	Checkpoint     *StatsCheckpoint `json:"checkpoint"`
	PublicKey      string           `json:"public_key"`
	RetentionYears int              `json:"retention_years"`
	// Supervision: policies in force, alerts raised, and how many are
	// still open or past the review SLA.
	Policies      int   `json:"policies"`
	Alerts        int64 `json:"alerts"`
	OpenAlerts    int64 `json:"open_alerts"`
	OverdueAlerts int64 `json:"overdue_alerts"`
}

// StatsCheckpoint is the latest checkpoint and whether its signature
// verifies with the configured key.
type StatsCheckpoint struct {
	Size        uint64 `json:"size"`
	Time        string `json:"time"`
	Note        string `json:"note"`
	SignatureOK bool   `json:"signature_ok"`
	RootHash    string `json:"root_hash,omitempty"`
}

// Stats counts what the archive holds. It shows no content.
func (a *App) Stats(ctx context.Context) (*StatsView, error) {
	cnt, err := a.d.Store.Counts(ctx)
	if err != nil {
		return nil, err
	}
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	c := a.d.Config
	out := &StatsView{ArchiveID: c.ArchiveID, Messages: cnt.Messages, Attachments: cnt.Attachments,
		AttachFaults: cnt.AttachFaults, Conflicts: cnt.Conflicts, Recalled: cnt.Recalled, Quarantined: cnt.Rejects,
		JournalSize: head.JournalSize, SealedSize: head.SealedSize, PendingRecords: cnt.PendingRecords,
		Packs: cnt.Packs, Segments: cnt.Segments, Checkpoints: cnt.Checkpoints, PublicKey: c.PublicKey, RetentionYears: c.RetentionYears}
	pols, err := a.d.Store.Policies(ctx)
	if err != nil {
		return nil, err
	}
	out.Policies = len(pols)
	if err := a.d.Store.Alerts(ctx, 0, "", 0, func(store.AlertRow) error { out.Alerts++; return nil }); err != nil {
		return nil, err
	}
	queues, err := review.Queues(ctx, a.d.Store, a.d.Now(), a.sla())
	if err != nil {
		return nil, err
	}
	for _, q := range queues {
		out.OpenAlerts += int64(q.Open)
		out.OverdueAlerts += int64(q.Overdue)
	}
	row, err := a.d.Store.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		cp, verr := a.d.Verifier.Open(row.Note)
		out.Checkpoint = &StatsCheckpoint{Size: row.Size, Time: row.Time.String(), Note: string(row.Note), SignatureOK: verr == nil}
		if verr == nil {
			out.Checkpoint.RootHash = fmt.Sprintf("%x", cp.Root)
		}
	}
	return out, nil
}

// QuarantineView lists the inputs that could not be archived, with why.
// Their raw bytes are kept but not shown here, so listing is not an access.
type QuarantineView struct {
	Rejects []store.RejectRow `json:"rejects"`
}

// Quarantine lists the quarantined inputs, oldest first.
func (a *App) Quarantine(ctx context.Context) (*QuarantineView, error) {
	v := &QuarantineView{Rejects: []store.RejectRow{}}
	err := a.d.Store.Rejects(ctx, func(x store.RejectRow) error { v.Rejects = append(v.Rejects, x); return nil })
	return v, err
}
