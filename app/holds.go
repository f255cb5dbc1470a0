package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/retention"
	"github.com/wxarchive/wxarchive/store"
)

// Legal holds: create, list, show (with what each covers), release, and
// Held — whether a message is held now, which disposition asks before it
// deletes anything. Creating and releasing need PermRetention (an
// administrator or a supervising principal); reading them PermAudit.

var holdName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Hold limits.
const (
	MaxHoldIDs = 1000 // custodians, conversations
)

// HoldRequest is a hold to create. Days are in the archive's time zone
// (DateLayout); To is exclusive.
type HoldRequest struct {
	Name, Matter, Reason string
	// Owner answers for the hold; empty: the principal's user.
	Owner         string
	Custodians    []string
	Conversations []string
	Query         string
	From, To      string
	// GraceDays: nil for DefaultHoldGraceDays.
	GraceDays *int
}

// HoldView is one hold.
type HoldView struct {
	Name   string            `json:"name"`
	Matter string            `json:"matter"`
	Reason string            `json:"reason"`
	Owner  string            `json:"owner"`
	Scope  archive.HoldScope `json:"scope"`
	// SentFrom and SentTo are the scope's dates as days in the archive's
	// time zone (To exclusive); empty when not set.
	SentFrom      string `json:"sent_from,omitempty"`
	SentTo        string `json:"sent_to,omitempty"`
	GraceDays     int    `json:"grace_days"`
	CreatedBy     string `json:"created_by"`
	CreatedAt     string `json:"created_at"`
	JournalIndex  uint64 `json:"journal_index"`
	State         string `json:"state"` // active, grace (released, still holding), released
	ReleasedBy    string `json:"released_by,omitempty"`
	ReleasedAt    string `json:"released_at,omitempty"`
	ReleaseReason string `json:"release_reason,omitempty"`
	// HoldsUntil is when a released hold stops holding (its grace ends).
	HoldsUntil string `json:"holds_until,omitempty"`
	// Messages is how many archived messages its scope covers (show and
	// create only; -1 when not counted).
	Messages int64 `json:"messages"`
}

func (a *App) holdView(h store.HoldRow, now time.Time) HoldView {
	v := HoldView{Name: h.Name, Matter: h.Matter, Reason: h.Reason, Owner: h.Owner, Scope: h.Scope, GraceDays: h.GraceDays,
		CreatedBy: h.Actor, CreatedAt: a.rfc3339(h.Time), JournalIndex: h.JournalIndex, State: "active", Messages: -1}
	if !h.Scope.From.IsZero() {
		v.SentFrom = h.Scope.From.Time.In(a.Location()).Format(DateLayout)
	}
	if !h.Scope.To.IsZero() {
		v.SentTo = h.Scope.To.Time.In(a.Location()).Format(DateLayout)
	}
	if !h.Released.IsZero() {
		v.ReleasedBy, v.ReleasedAt, v.ReleaseReason = h.ReleasedBy, a.rfc3339(h.Released), h.ReleaseReason
		v.HoldsUntil = a.rfc3339(archive.At(h.Released.Time.AddDate(0, 0, h.GraceDays)))
		v.State = "released"
		if retention.HoldInForce(h, now) {
			v.State = "grace"
		}
	}
	return v
}

func checkText(field, v string, limit int, required bool) error {
	switch {
	case strings.TrimSpace(v) == "" && required:
		return invalid(field, "required")
	case len(v) > limit:
		return invalid(field, "%d bytes, over the limit of %d", len(v), limit)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }):
		return invalid(field, "contains a control character")
	}
	return nil
}

func checkIDs(field string, ids []string) error {
	if len(ids) > MaxHoldIDs {
		return invalid(field, "%d values, more than %d", len(ids), MaxHoldIDs)
	}
	for _, id := range ids {
		if err := archive.CheckID(field, id, archive.MaxIDBytes); err != nil || id == "" {
			return invalid(field, "%q: an id of 1 to %d bytes without control characters", id, archive.MaxIDBytes)
		}
	}
	return nil
}

// CreateHold journals a legal hold (hold.created) by the principal.
// Nothing is written when any field is wrong, or when the name is taken
// (by an active or a released hold: names are never reused).
func (a *App) CreateHold(ctx context.Context, r HoldRequest) (*HoldView, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermRetention); err != nil {
		return nil, err
	}
	if !holdName.MatchString(r.Name) {
		return nil, invalid("name", "%q: a name of lower-case letters, digits and '-' (at most 64)", r.Name)
	}
	if err := checkText("matter", r.Matter, archive.MaxNameBytes, true); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, archive.MaxReasonBytes, true); err != nil {
		return nil, err
	}
	if r.Owner == "" {
		r.Owner = pr.User
		if r.Owner == "" {
			r.Owner = pr.Actor
		}
	}
	if err := checkIDs("owner", []string{r.Owner}); err != nil {
		return nil, err
	}
	if err := checkIDs("custodians", r.Custodians); err != nil {
		return nil, err
	}
	if err := checkIDs("conversations", r.Conversations); err != nil {
		return nil, err
	}
	if len(r.Query) > archive.MaxQueryBytes {
		return nil, invalid("query", "%d bytes, over the limit of %d", len(r.Query), archive.MaxQueryBytes)
	}
	if r.Query != "" {
		if err := retention.CheckHoldQuery(r.Query); err != nil {
			// The parser's errors already start "query: ".
			return nil, invalid("query", "%s", strings.TrimPrefix(err.Error(), "query: "))
		}
	}
	scope := archive.HoldScope{Custodians: dedupe(r.Custodians), Conversations: dedupe(r.Conversations), Query: r.Query}
	if r.From != "" {
		t, err := a.ParseDay("from", r.From)
		if err != nil {
			return nil, err
		}
		scope.From = archive.At(t)
	}
	if r.To != "" {
		t, err := a.ParseDay("to", r.To)
		if err != nil {
			return nil, err
		}
		scope.To = archive.At(t)
	}
	if !scope.From.IsZero() && !scope.To.IsZero() && !scope.To.After(scope.From.Time) {
		return nil, badParam("to", "%s is not after from (%s)", r.To, r.From)
	}
	if len(scope.Custodians) == 0 && len(scope.Conversations) == 0 && scope.Query == "" && scope.From.IsZero() && scope.To.IsZero() {
		return nil, invalid("scope", "a hold needs custodians, conversations, a query or a date range (or several)")
	}
	grace := retention.DefaultHoldGraceDays
	if r.GraceDays != nil {
		grace = *r.GraceDays
	}
	if grace < 0 || grace > retention.MaxHoldGraceDays {
		return nil, badParam("grace_days", "want a number of days from 0 to %d, not %d", retention.MaxHoldGraceDays, grace)
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	p := archive.HoldEvent{Name: r.Name, Matter: r.Matter, Reason: r.Reason, Owner: r.Owner, Scope: scope, GraceDays: grace}
	ev, err := journal.NewEvent(archive.EventHoldCreated, pr.Actor, archive.Time{}, []string{"hold:" + r.Name}, &p)
	if err != nil {
		return nil, err
	}
	if _, err := w.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, ok, err := tx.HoldState(ctx, r.Name); err != nil {
			return err
		} else if ok {
			return &ingest.ConflictError{Reason: fmt.Sprintf("a hold named %s exists already (names are never reused)", r.Name)}
		}
		return nil
	}, ev); err != nil {
		return nil, holdConflict("hold:"+r.Name, err)
	}
	h, err := a.findHold(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	v := a.holdView(h, a.d.Now())
	if v.Messages, err = a.countHeld(ctx, h); err != nil {
		return nil, err
	}
	return &v, nil
}

// holdConflict turns the writer's refusal of a conditional append into a
// ConflictError naming the hold.
func holdConflict(object string, err error) error {
	var ce *ingest.ConflictError
	if errors.As(err, &ce) {
		return &ConflictError{Object: object, Reason: ce.Reason}
	}
	return unavailable(err)
}

func dedupe(list []string) []string {
	var out []string
	for _, v := range list {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ReleaseHold journals the release of an active hold (hold.released) by
// the principal, who must be a supervising principal or an administrator
// (PermRetention). What it held stays held for its grace period.
func (a *App) ReleaseHold(ctx context.Context, name, reason string) (*HoldView, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermRetention); err != nil {
		return nil, err
	}
	if err := checkText("reason", reason, archive.MaxReasonBytes, true); err != nil {
		return nil, err
	}
	if _, err := a.findHold(ctx, name); err != nil {
		return nil, err
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	ev, err := journal.NewEvent(archive.EventHoldReleased, pr.Actor, archive.Time{}, []string{"hold:" + name},
		&archive.HoldReleasedEvent{Name: name, Reason: reason})
	if err != nil {
		return nil, err
	}
	if _, err := w.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
		h, ok, err := tx.HoldState(ctx, name)
		switch {
		case err != nil:
			return err
		case !ok:
			return &ingest.ConflictError{Reason: "no such hold"}
		case !h.Released.IsZero():
			return &ingest.ConflictError{Reason: fmt.Sprintf("released already, by %s", h.ReleasedBy)}
		}
		return nil
	}, ev); err != nil {
		return nil, holdConflict("hold:"+name, err)
	}
	h, err := a.findHold(ctx, name)
	if err != nil {
		return nil, err
	}
	v := a.holdView(h, a.d.Now())
	return &v, nil
}

func (a *App) findHold(ctx context.Context, name string) (store.HoldRow, error) {
	hs, err := a.d.Store.Holds(ctx)
	if err != nil {
		return store.HoldRow{}, err
	}
	i := slices.IndexFunc(hs, func(h store.HoldRow) bool { return h.Name == name })
	if i < 0 {
		return store.HoldRow{}, fmt.Errorf("no hold %q: %w", name, ErrNotFound)
	}
	return hs[i], nil
}

// HoldsView is every hold.
type HoldsView struct {
	Holds []HoldView `json:"holds"`
}

// Holds lists every hold, active or released.
func (a *App) Holds(ctx context.Context) (*HoldsView, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermAudit); err != nil {
		return nil, err
	}
	hs, err := a.d.Store.Holds(ctx)
	if err != nil {
		return nil, err
	}
	now := a.d.Now()
	out := &HoldsView{Holds: []HoldView{}}
	for _, h := range hs {
		out.Holds = append(out.Holds, a.holdView(h, now))
	}
	return out, nil
}

// Hold shows one hold with how many archived messages it covers.
func (a *App) Hold(ctx context.Context, name string) (*HoldView, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermAudit); err != nil {
		return nil, err
	}
	h, err := a.findHold(ctx, name)
	if err != nil {
		return nil, err
	}
	v := a.holdView(h, a.d.Now())
	if v.Messages, err = a.countHeld(ctx, h); err != nil {
		return nil, err
	}
	return &v, nil
}

// countHeld counts the archived messages a hold's scope covers.
func (a *App) countHeld(ctx context.Context, h store.HoldRow) (int64, error) {
	hs, err := retention.CompileHolds([]store.HoldRow{h})
	if err != nil {
		return 0, err
	}
	var n int64
	err = a.eachMessage(ctx, h.Scope.Query != "", func(m *archive.Message) {
		if len(hs.Covers(m)) > 0 {
			n++
		}
	})
	return n, err
}

// eachMessage visits every archived message as the rules see it, from its
// index row (with its attachments' texts when withText).
func (a *App) eachMessage(ctx context.Context, withText bool, fn func(m *archive.Message)) error {
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return err
	}
	const chunk = 8192
	for first := uint64(1); first < head.NextSerial; first += chunk {
		last := min(first+chunk-1, head.NextSerial-1)
		if err := a.d.Store.Messages(ctx, first, last, func(row store.MessageRow) error {
			m, err := a.messageOfRow(ctx, &row, withText)
			if err != nil {
				return err
			}
			fn(m)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) messageOfRow(ctx context.Context, row *store.MessageRow, withText bool) (*archive.Message, error) {
	m := &archive.Message{Source: row.Source, SourceID: row.SourceID, Kind: row.Kind, SentAt: row.SentAt, Conversation: row.Conversation,
		ConversationKind: row.ConvKind, Sender: row.Sender, Recipients: row.Recipients, Direction: row.Direction, Text: row.Text}
	if withText && row.Attachments > 0 {
		atts, err := a.d.Store.Attachments(ctx, row.Serial)
		if err != nil {
			return nil, fmt.Errorf("attachments of message %d: %w", row.Serial, err)
		}
		for _, at := range atts {
			m.Attachments = append(m.Attachments, at.Attachment)
		}
	}
	return m, nil
}

// HeldView says whether a message is held, and by which holds.
type HeldView struct {
	Serial uint64   `json:"serial"`
	Held   bool     `json:"held"`
	Holds  []string `json:"holds"`
}

// Held reports whether a message is held now (a hold in force — active,
// or released within its grace period — covers it): what disposition
// asks, at the moment of deletion, before it deletes anything.
func (a *App) Held(ctx context.Context, serial uint64) (*HeldView, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermAudit); err != nil {
		return nil, err
	}
	rows, err := a.d.Store.Holds(ctx)
	if err != nil {
		return nil, err
	}
	hs, err := retention.CompileHolds(rows)
	if err != nil {
		return nil, err
	}
	row, err := a.d.Store.Message(ctx, serial)
	if err != nil {
		return nil, err
	}
	m, err := a.messageOfRow(ctx, &row, true)
	if err != nil {
		return nil, err
	}
	names := hs.Held(m, a.d.Now())
	return &HeldView{Serial: serial, Held: len(names) > 0, Holds: append([]string{}, names...)}, nil
}
