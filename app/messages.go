package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/review"
	"github.com/wxarchive/wxarchive/store"
)

// Proof is an RFC 6962 inclusion proof of a journal leaf in a signed
// checkpoint, with everything an offline verifier needs.
type Proof struct {
	LeafIndex  uint64   `json:"leaf_index"`
	TreeSize   uint64   `json:"tree_size"`
	Leaf       string   `json:"leaf"`      // the canonical event JSON
	LeafHash   string   `json:"leaf_hash"` // hex
	Hashes     []string `json:"hashes"`    // hex, bottom to top
	RootHash   string   `json:"root_hash"` // hex
	Checkpoint string   `json:"checkpoint"`
	PublicKey  string   `json:"public_key"`
	Verified   bool     `json:"verified"` // checked here against the checkpoint
}

// InclusionProof proves journal leaf idx in the latest checkpoint.
func (a *App) inclusionProof(ctx context.Context, idx uint64) (*Proof, error) {
	row, err := a.d.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := a.d.Verifier.Open(row.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	if idx >= cp.Size {
		return nil, fmt.Errorf("journal leaf %d is not covered by checkpoint %d: %w", idx, cp.Size, store.ErrNotFound)
	}
	var leaf, lh []byte
	if err := a.d.Store.Leaves(ctx, idx, idx+1, func(_ uint64, h, l []byte) error { lh, leaf = h, l; return nil }); err != nil {
		return nil, err
	}
	if leaf == nil {
		return nil, fmt.Errorf("journal leaf %d: %w", idx, store.ErrNotFound)
	}
	hs, err := journal.InclusionProof(ctx, a.d.Store, idx, cp.Size)
	if err != nil {
		return nil, err
	}
	p := &Proof{LeafIndex: idx, TreeSize: cp.Size, Leaf: string(leaf), LeafHash: fmt.Sprintf("%x", lh),
		RootHash: fmt.Sprintf("%x", cp.Root), Checkpoint: string(row.Note), PublicKey: a.d.Config.PublicKey, Hashes: []string{}}
	for _, h := range hs {
		p.Hashes = append(p.Hashes, fmt.Sprintf("%x", h))
	}
	// The leaf hash is recomputed from the leaf, not taken from the
	// database: the proof must hold for the bytes we show.
	p.Verified = journal.VerifyInclusion(idx, cp.Size, journal.LeafHash(leaf), hs, cp.Root) == nil && string(journal.LeafHash(leaf)) == string(lh)
	return p, nil
}

// MessageView is everything known about one archived message version.
type MessageView struct {
	Serial        uint64           `json:"serial"`
	Version       int              `json:"version"`
	ConflictsWith uint64           `json:"conflicts_with,omitempty"`
	RecalledBy    uint64           `json:"recalled_by,omitempty"`
	RefersTo      *uint64          `json:"refers_to_serial,omitempty"` // the recalled message, when archived
	CapturedAt    archive.Time     `json:"captured_at"`
	RetainUntil   archive.Time     `json:"retain_until"`
	Origin        string           `json:"origin,omitempty"`
	Message       *archive.Message `json:"message"`
	// Names are the directory names, when the message was sent, of its
	// sender, recipients and room (id → name; ids it does not know are
	// absent).
	Names        map[string]string `json:"names,omitempty"`
	Raw          string            `json:"raw"`                  // the raw record, when valid UTF-8
	RawBase64    []byte            `json:"raw_base64,omitempty"` // otherwise
	RawSHA256    archive.BlobID    `json:"raw_sha256"`
	RecordSHA256 archive.BlobID    `json:"record_sha256"`
	Sealed       string            `json:"sealed"` // "pack <id>" or "pending"
	Proof        *Proof            `json:"proof"`
	// FetchedLater are attachments whose media could not be fetched at
	// capture and was later (attachment.fetched): the normalized record
	// still says what happened at capture.
	FetchedLater []LateAttachment `json:"fetched_later,omitempty"`
	// Alerts raised on the message, for a viewer who may read alerts
	// (within their departments); nil otherwise.
	Alerts []MessageAlert `json:"alerts,omitempty"`
}

// MessageAlert is an alert as a message's view lists it.
type MessageAlert struct {
	ID            uint64 `json:"id"`
	Policy        string `json:"policy"`
	PolicyVersion int    `json:"policy_version"`
	Rule          string `json:"rule"`
	Status        string `json:"status"`
	Assignee      string `json:"assignee,omitempty"`
}

// LateAttachment is media fetched after its message was archived.
type LateAttachment struct {
	Ordinal   int            `json:"ordinal"`
	Blob      archive.BlobID `json:"blob"`
	Size      int64          `json:"size"`
	MediaType string         `json:"media_type,omitempty"`
}

// viewMessage assembles the view of a serial, re-verifying the records
// against the hashes in the journal.
func (a *App) viewMessage(ctx context.Context, serial uint64) (*MessageView, error) {
	row, err := a.d.Store.Message(ctx, serial)
	if err != nil {
		return nil, err
	}
	v := &MessageView{Serial: row.Serial, Version: row.Version, ConflictsWith: row.ConflictsWith, RecalledBy: row.RecalledBy,
		CapturedAt: row.CapturedAt, RetainUntil: row.RetainUntil, Origin: row.Origin, RawSHA256: row.RawHash, RecordSHA256: row.RecordHash}
	raw, err := a.d.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}, row.RawHash)
	if err != nil {
		return nil, err
	}
	if utf8.Valid(raw) {
		v.Raw = string(raw)
	} else {
		v.RawBase64 = raw
	}
	rec, err := a.d.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
	if err != nil {
		return nil, err
	}
	v.Message = new(archive.Message)
	if err := json.Unmarshal(rec, v.Message); err != nil {
		return nil, fmt.Errorf("normalized record of serial %d: %w", serial, err)
	}
	ids := append([]string{v.Message.Sender}, v.Message.Recipients...)
	if v.Message.ConversationKind == archive.ConversationGroup {
		ids = append(ids, v.Message.Conversation)
	}
	if v.Names, err = newNamer(a.d.Store).names(ctx, v.Message.SentAt, ids...); err != nil {
		return nil, err
	}
	if len(v.Names) == 0 {
		v.Names = nil
	}
	if row.Attachments > 0 {
		atts, err := a.d.Store.Attachments(ctx, serial)
		if err != nil {
			return nil, err
		}
		for _, a := range atts {
			if a.Ordinal < len(v.Message.Attachments) && a.Status == archive.AttachmentFetched && v.Message.Attachments[a.Ordinal].Status != archive.AttachmentFetched {
				v.FetchedLater = append(v.FetchedLater, LateAttachment{Ordinal: a.Ordinal, Blob: a.Blob, Size: a.Size, MediaType: a.MediaType})
			}
		}
	}
	if _, err := a.d.Store.PendingRecord(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}); err == nil {
		v.Sealed = "pending"
	} else if packs, err := a.d.Store.PacksCovering(ctx, row.JournalIndex); err == nil && len(packs) > 0 {
		v.Sealed = "pack " + packs[0].Blob.String()
	}
	if row.RefersTo != "" {
		if targets, err := a.d.Store.MessagesBySourceID(ctx, row.RefersTo); err == nil {
			for _, t := range targets {
				if t.Source == row.Source {
					s := t.Serial
					v.RefersTo = &s
					break
				}
			}
		}
	}
	if v.Proof, err = a.inclusionProof(ctx, row.JournalIndex); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return v, nil
}

// Messages shows the messages a reference names — a serial, or a source
// message id (every version of it) — verified against the journal, and
// journals the access before returning them.
func (a *App) Messages(ctx context.Context, ref string) ([]*MessageView, error) {
	if n, err := strconv.ParseUint(ref, 10, 64); err == nil && n > 0 {
		return a.MessagesBySerial(ctx, n)
	}
	if err := archive.CheckText("msgid", ref, archive.MaxIDBytes); err != nil {
		return nil, limitErr(err)
	}
	rows, err := a.d.Store.MessagesBySourceID(ctx, ref)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(rows) == 0) {
		return nil, fmt.Errorf("no message with serial or msgid %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	serials := make([]uint64, len(rows))
	for i, row := range rows {
		serials[i] = row.Serial
	}
	return a.MessagesBySerial(ctx, serials...)
}

// MessagesBySerial shows messages by serial, journaled as one access.
func (a *App) MessagesBySerial(ctx context.Context, serials ...uint64) ([]*MessageView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.barrierOf(p)
	if err != nil {
		return nil, err
	}
	views := make([]*MessageView, 0, len(serials))
	for _, s := range serials {
		if _, err := a.d.Store.Message(ctx, s); errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no message with serial %d: %w", s, ErrNotFound)
		}
	}
	if err := a.within(ctx, p, b, serials); err != nil {
		return nil, err
	}
	for _, s := range serials {
		v, err := a.viewMessage(ctx, s)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no message with serial %d: %w", s, ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		if v.Alerts, err = a.messageAlerts(ctx, p, s); err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	if err := a.journalAccess(ctx, p, archive.AccessEvent{What: "message", Serials: serials}); err != nil {
		return nil, err
	}
	return views, nil
}

// ProofOf names the leaf to prove: a message (BySerial, Serial) or any
// journal event (Index).
type ProofOf struct {
	BySerial bool
	Serial   uint64
	Index    uint64
}

// InclusionProof proves a message's event, or any journal leaf, included in
// the latest checkpoint. The leaf of a message shows its hashes, so the
// proof is journaled as an access to it.
func (a *App) InclusionProof(ctx context.Context, of ProofOf) (*Proof, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.barrierOf(p)
	if err != nil {
		return nil, err
	}
	if !b.all && !of.BySerial {
		// A leaf names its message; within a barrier, proofs are asked
		// for by serial, which the barrier can check.
		return nil, &auth.ForbiddenError{User: p.User, Need: auth.PermContent, Reason: "within " + b.what + ", ask for a proof by serial, not by journal index"}
	}
	idx := of.Index
	var serials []uint64
	if of.BySerial {
		row, err := a.d.Store.Message(ctx, of.Serial)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no message with serial %d: %w", of.Serial, ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		idx, serials = row.JournalIndex, []uint64{of.Serial}
		if err := a.within(ctx, p, b, serials); err != nil {
			return nil, err
		}
	}
	pr, err := a.inclusionProof(ctx, idx)
	if err != nil {
		return nil, err
	}
	if err := a.journalAccess(ctx, p, archive.AccessEvent{What: "proof", Serials: serials}); err != nil {
		return nil, err
	}
	return pr, nil
}

// Consistency is an RFC 6962 consistency proof between two tree sizes.
type Consistency struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes []string `json:"hashes"`
}

// ConsistencyProof proves the tree of size from a prefix of the tree of
// size to (at most the latest checkpoint's). It shows no content.
func (a *App) ConsistencyProof(ctx context.Context, from, to uint64) (*Consistency, error) {
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if from > to || to > head.CheckpointSize {
		return nil, badParam("to", "need 0 ≤ from ≤ to ≤ %d (the latest checkpoint), not from %d to %d", head.CheckpointSize, from, to)
	}
	hs, err := journal.ConsistencyProof(ctx, a.d.Store, from, to)
	if err != nil {
		return nil, err
	}
	out := &Consistency{From: from, To: to, Hashes: []string{}}
	for _, h := range hs {
		out.Hashes = append(out.Hashes, fmt.Sprintf("%x", h))
	}
	return out, nil
}

// CheckpointView is the latest signed checkpoint, verified.
type CheckpointView struct {
	Origin    string       `json:"origin"`
	Size      uint64       `json:"size"`
	RootHash  string       `json:"root_hash"`
	Time      archive.Time `json:"time"`
	Note      string       `json:"note"` // the C2SP note as signed
	PublicKey string       `json:"public_key"`
}

// Checkpoint returns the latest checkpoint, verified with the archive's key.
func (a *App) Checkpoint(ctx context.Context) (*CheckpointView, error) {
	row, err := a.d.Store.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no checkpoint yet: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	cp, err := a.d.Verifier.Open(row.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint does not verify: %w", err)
	}
	return &CheckpointView{Origin: cp.Origin, Size: cp.Size, RootHash: fmt.Sprintf("%x", cp.Root), Time: cp.Time,
		Note: string(row.Note), PublicKey: a.d.Config.PublicKey}, nil
}

// messageAlerts lists the alerts raised on a message, for a principal
// who may read alerts, within their departments. Alerts come after the
// message in the journal (a later policy version's too), so the scan
// starts at the message's event.
func (a *App) messageAlerts(ctx context.Context, p Principal, serial uint64) ([]MessageAlert, error) {
	b, err := a.alertBarrier(p)
	var forbidden *auth.ForbiddenError
	if errors.As(err, &forbidden) {
		return nil, nil // no right to alerts: the view simply has none
	}
	if err != nil {
		return nil, err
	}
	row, err := a.d.Store.Message(ctx, serial)
	if err != nil {
		return nil, err
	}
	var found []store.AlertRow
	if err := a.d.Store.Alerts(ctx, row.JournalIndex, "", 0, func(r store.AlertRow) error {
		if r.Serial == serial && b.alert(r.Department) {
			found = append(found, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []MessageAlert
	for _, r := range found {
		acts, err := a.alertActions(ctx, r.JournalIndex)
		if err != nil {
			return nil, err
		}
		st := review.StateOf(acts)
		out = append(out, MessageAlert{ID: r.JournalIndex, Policy: r.Policy, PolicyVersion: r.PolicyVersion, Rule: r.Rule, Status: st.Status, Assignee: st.Assignee})
	}
	return out, nil
}
