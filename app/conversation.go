package app

import (
	"context"
	"fmt"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// Conversation bounds.
const (
	DefaultConversationLimit = 200
	MaxConversationLimit     = 1000
)

// ConversationOptions asks for a page of one conversation: the newest
// messages, or those before a cursor, or those around a message.
type ConversationOptions struct {
	ID string
	// Cursor is the Older cursor of a page: the messages before it.
	Cursor string
	// Around, when set, pages to the message with this serial: the page
	// holds it and the messages sent before it (Limit in all).
	Around uint64
	Limit  int // 0: DefaultConversationLimit
}

// ConversationMessage is one message as a conversation shows it: with the
// sender's name and department as they were when it was sent.
type ConversationMessage struct {
	Serial      uint64            `json:"serial"`
	SourceID    string            `json:"source_id"`
	SentAt      archive.Time      `json:"sent_at"`
	TimeUnknown bool              `json:"time_unknown,omitempty"` // SentAt is the capture time
	Sender      string            `json:"sender"`
	SenderName  string            `json:"sender_name,omitempty"`
	Department  string            `json:"department,omitempty"`
	Kind        archive.Kind      `json:"kind"`
	Direction   archive.Direction `json:"direction,omitempty"`
	Text        string            `json:"text"`
	RecalledBy  uint64            `json:"recalled_by,omitempty"`
	Attachments int               `json:"attachments"`
}

// ConversationPage is a page of a conversation, oldest first. Older is
// the cursor of the page before it ("" at the conversation's start).
type ConversationPage struct {
	ID       string                `json:"id"`
	Messages []ConversationMessage `json:"messages"`
	Older    string                `json:"older,omitempty"`
	Around   uint64                `json:"around,omitempty"`
}

// Conversation shows a page of a conversation within the viewer's
// barrier, journaled as an access (what "conversation:<id>", the serials
// shown) before it is returned.
func (a *App) Conversation(ctx context.Context, o ConversationOptions) (*ConversationPage, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := archive.CheckText("conversation", o.ID, archive.MaxQueryBytes); err != nil {
		return nil, badParam("conversation", "%v", err)
	}
	if o.ID == "" {
		return nil, badParam("conversation", "the conversation id is required")
	}
	switch {
	case o.Limit == 0:
		o.Limit = DefaultConversationLimit
	case o.Limit < 0 || o.Limit > MaxConversationLimit:
		return nil, badParam("limit", "want a number from 1 to %d, not %d", MaxConversationLimit, o.Limit)
	}
	if o.Cursor != "" && o.Around != 0 {
		return nil, badParam("around", "give a cursor or a message to page around, not both")
	}
	b, err := a.barrierOf(p)
	if err != nil {
		return nil, err
	}
	query := b.narrow(&textindex.Field{Name: "conversation", Value: o.ID})
	req := store.SearchRequest{Query: query, Sort: store.SortTime, Limit: o.Limit, CountLimit: 1}
	out := &ConversationPage{ID: o.ID, Messages: []ConversationMessage{}, Around: o.Around}
	if o.Cursor != "" {
		if req.After, err = decodeCursor(o.Cursor, store.SortTime); err != nil {
			return nil, badParam("cursor", "%v", err)
		}
	}
	if o.Around != 0 {
		// The page ends at the message: it and what was sent before it.
		// A message of another conversation (or none) is not found, the
		// same answer whether or not it exists.
		row, err := a.d.Store.Message(ctx, o.Around)
		if err == nil && row.Conversation != o.ID {
			err = store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("message %d in conversation %s: %w", o.Around, o.ID, err)
		}
		upTo := &textindex.Field{Name: "before", Value: "around", From: textindex.MinMillis, To: row.SentAt.Millis() + 1}
		req.Query = &textindex.And{Nodes: []textindex.Node{query, upTo}}
	}
	page, err := a.d.Store.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	if page.Next != nil {
		out.Older = encodeCursor(page.Next, store.SortTime)
	}
	serials := make([]uint64, 0, len(page.Hits))
	for i := len(page.Hits) - 1; i >= 0; i-- {
		h := page.Hits[i]
		m := ConversationMessage{Serial: h.Serial, SourceID: h.SourceID, SentAt: h.SentAt, Sender: h.Sender, Kind: h.Kind,
			Direction: h.Direction, Text: h.Text, RecalledBy: h.RecalledBy, Attachments: h.Attachments, TimeUnknown: h.TimeUnknown}
		// Names and departments as they were when the message was sent.
		pr, _, err := a.d.Store.Directory(ctx, h.Sender, h.SentAt)
		if err != nil {
			return nil, err
		}
		m.SenderName, m.Department = pr.Name, pr.Department
		out.Messages = append(out.Messages, m)
		serials = append(serials, h.Serial)
	}
	if err := a.journalAccess(ctx, p, archive.AccessEvent{What: "conversation:" + o.ID, Serials: serials}); err != nil {
		return nil, err
	}
	return out, nil
}
