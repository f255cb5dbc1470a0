package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
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
func (r *Repo) InclusionProof(ctx context.Context, idx uint64) (*Proof, error) {
	row, err := r.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := r.Verifier.Open(row.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	if idx >= cp.Size {
		return nil, fmt.Errorf("journal leaf %d is not covered by checkpoint %d: %w", idx, cp.Size, store.ErrNotFound)
	}
	var leaf, lh []byte
	if err := r.Store.Leaves(ctx, idx, idx+1, func(_ uint64, h, l []byte) error { lh, leaf = h, l; return nil }); err != nil {
		return nil, err
	}
	if leaf == nil {
		return nil, fmt.Errorf("journal leaf %d: %w", idx, store.ErrNotFound)
	}
	hs, err := journal.InclusionProof(ctx, r.Store, idx, cp.Size)
	if err != nil {
		return nil, err
	}
	p := &Proof{LeafIndex: idx, TreeSize: cp.Size, Leaf: string(leaf), LeafHash: fmt.Sprintf("%x", lh),
		RootHash: fmt.Sprintf("%x", cp.Root), Checkpoint: string(row.Note), PublicKey: r.Config.PublicKey, Hashes: []string{}}
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
	Raw           string           `json:"raw"`                  // the raw record, when valid UTF-8
	RawBase64     []byte           `json:"raw_base64,omitempty"` // otherwise
	RawSHA256     archive.BlobID   `json:"raw_sha256"`
	RecordSHA256  archive.BlobID   `json:"record_sha256"`
	Sealed        string           `json:"sealed"` // "pack <id>" or "pending"
	Proof         *Proof           `json:"proof"`
	// FetchedLater are attachments whose media could not be fetched at
	// capture and was later (attachment.fetched): the normalized record
	// still says what happened at capture.
	FetchedLater []LateAttachment `json:"fetched_later,omitempty"`
}

// LateAttachment is media fetched after its message was archived.
type LateAttachment struct {
	Ordinal   int            `json:"ordinal"`
	Blob      archive.BlobID `json:"blob"`
	Size      int64          `json:"size"`
	MediaType string         `json:"media_type,omitempty"`
}

// ViewMessage assembles the view of a serial, re-verifying the records
// against the hashes in the journal.
func (r *Repo) ViewMessage(ctx context.Context, serial uint64) (*MessageView, error) {
	row, err := r.Store.Message(ctx, serial)
	if err != nil {
		return nil, err
	}
	v := &MessageView{Serial: row.Serial, Version: row.Version, ConflictsWith: row.ConflictsWith, RecalledBy: row.RecalledBy,
		CapturedAt: row.CapturedAt, RetainUntil: row.RetainUntil, Origin: row.Origin, RawSHA256: row.RawHash, RecordSHA256: row.RecordHash}
	raw, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}, row.RawHash)
	if err != nil {
		return nil, err
	}
	if utf8.Valid(raw) {
		v.Raw = string(raw)
	} else {
		v.RawBase64 = raw
	}
	rec, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
	if err != nil {
		return nil, err
	}
	v.Message = new(archive.Message)
	if err := json.Unmarshal(rec, v.Message); err != nil {
		return nil, fmt.Errorf("normalized record of serial %d: %w", serial, err)
	}
	if row.Attachments > 0 {
		atts, err := r.Store.Attachments(ctx, serial)
		if err != nil {
			return nil, err
		}
		for _, a := range atts {
			if a.Ordinal < len(v.Message.Attachments) && a.Status == archive.AttachmentFetched && v.Message.Attachments[a.Ordinal].Status != archive.AttachmentFetched {
				v.FetchedLater = append(v.FetchedLater, LateAttachment{Ordinal: a.Ordinal, Blob: a.Blob, Size: a.Size, MediaType: a.MediaType})
			}
		}
	}
	if _, err := r.Store.PendingRecord(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}); err == nil {
		v.Sealed = "pending"
	} else if packs, err := r.Store.PacksCovering(ctx, row.JournalIndex); err == nil && len(packs) > 0 {
		v.Sealed = "pack " + packs[0].Blob.String()
	}
	if row.RefersTo != "" {
		if targets, err := r.Store.MessagesBySourceID(ctx, row.RefersTo); err == nil {
			for _, t := range targets {
				if t.Source == row.Source {
					s := t.Serial
					v.RefersTo = &s
					break
				}
			}
		}
	}
	if v.Proof, err = r.InclusionProof(ctx, row.JournalIndex); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return v, nil
}

// AccessEvent builds an access.* journal event.
func AccessEvent(actor, what, via string, serials ...uint64) journal.Event {
	ev, _ := journal.NewEvent(archive.EventAccessView, actor, archive.Time{}, subjects(serials), &archive.AccessEvent{What: what, Serials: serials, Via: via})
	return ev
}
