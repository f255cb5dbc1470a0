// Package kf captures WeCom customer service (微信客服): the messages
// between WeChat users and a firm's customer-service accounts, read with
// kf/sync_msg from a cursor. The cursor is committed with the messages of
// each page; a kf_msg_or_event callback carries a token that starts a sync
// at once.
package kf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/store"
)

// Origins of a customer-service message (the "origin" field).
const (
	OriginCustomer = 3 // sent by the WeChat user
	OriginEvent    = 4 // a system event
	OriginServicer = 5 // sent by a servicer (an employee) from WeCom
)

// Syncer reads one corp's customer-service messages.
type Syncer struct {
	ID       string // connector id; the cursor is stored under "kf:"+ID
	CorpID   string
	OpenKfID string // one customer-service account, or "" for all the app sees
	Client   *api.Client
	Engine   ingest.MessageWriter
	Blobs    blob.Store
	Store    store.Reader
	Health   capture.Health // optional
	Limit    int            // messages per page (default 1000)
	Interval time.Duration  // Run: between syncs (default connector.DefaultPollInterval)
	Logger   *slog.Logger

	wake capture.Wakeup[string] // Wake → Run: a kf_msg_or_event token
}

// Source is the archive source of customer-service messages.
func (s *Syncer) Source() string { return SourceName(s.CorpID) }

// SourceName is the archive source of a corp's customer-service messages.
func SourceName(corpID string) string { return "wecom-kf:" + corpID }

func (s *Syncer) cursorName() string { return "kf:" + s.ID }

// SyncResult is what one sync did.
type SyncResult struct {
	Pages, Fetched, Archived, Duplicates, Rejected int
	Cursor                                         string
}

// MaxPages bounds one sync (a runaway has_more must not loop forever).
const MaxPages = 100000

// Sync reads pages until has_more is 0. token is a kf_msg_or_event
// token, or "".
func (s *Syncer) Sync(ctx context.Context, token string) (SyncResult, error) {
	var res SyncResult
	if s.Limit <= 0 || s.Limit > 1000 {
		s.Limit = 1000
	}
	cur, err := s.Store.Cursor(ctx, s.cursorName())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	res.Cursor = cur.Value
	for res.Pages < MaxPages {
		page, err := s.Client.KFSyncMsg(ctx, res.Cursor, token, s.OpenKfID, s.Limit)
		if err != nil {
			return res, err
		}
		res.Pages++
		res.Fetched += len(page.Messages)
		items := make([]ingest.Item, 0, len(page.Messages))
		for i, raw := range page.Messages {
			it, err := s.prepare(ctx, raw, fmt.Sprintf("kf %s cursor %q item %d", s.ID, res.Cursor, i))
			if err != nil {
				return res, err
			}
			items = append(items, it)
		}
		next := page.NextCursor
		if next == "" {
			next = res.Cursor
		}
		out, err := s.Engine.SubmitWithCursor(ctx, "connector:"+s.ID, items, &store.CursorRow{Connector: s.cursorName(), Value: next}).Wait(ctx)
		if err != nil {
			return res, err
		}
		t := capture.ObserveResults(ctx, s.Health, s.ID, out)
		res.Archived += t.Archived
		res.Duplicates += t.Duplicates
		res.Rejected += t.Rejected
		res.Cursor = next
		// An empty page with has_more set is not the end.
		if !page.HasMore {
			return res, nil
		}
	}
	return res, fmt.Errorf("kf sync: more than %d pages in one sync", MaxPages)
}

// prepare decodes one message and fetches its media; an undecodable one
// is quarantined. The error is operational (blob store).
func (s *Syncer) prepare(ctx context.Context, raw []byte, origin string) (ingest.Item, error) {
	it := ingest.Item{Source: s.Source(), Raw: raw, Origin: origin}
	m, err := Decode(raw, s.Source())
	var de *DecodeError
	if errors.As(err, &de) {
		it.Reject = &ingest.Rejection{MsgID: de.MsgID, Field: de.Field, Reason: de.Reason}
		return it, nil
	}
	if err != nil {
		return it, err
	}
	var media ingest.MediaSource
	if s.Client != nil {
		media = s.Client
	}
	if err := ingest.ResolveMedia(ctx, m, media, s.Blobs); err != nil {
		return it, err
	}
	for i, a := range m.Attachments {
		if a.Status != archive.AttachmentFetched && s.Health != nil {
			s.Health.Raise(ctx, s.ID, capture.FaultMediaFailed, m.SourceID, fmt.Sprintf("attachment %d (%s, %s): %s", i, a.Role, a.Status, a.Reason))
		}
	}
	it.Message = m
	return it, nil
}

// Info implements capture.Connector.
func (s *Syncer) Info() capture.Info {
	return capture.Info{ID: s.ID, Type: TypeName, Source: s.Source()}
}

// Wake starts a sync at once, with its token, when a kf_msg_or_event
// callback says the corp has customer-service messages (capture.Waker).
// It never blocks.
func (s *Syncer) Wake(sig capture.Signal) {
	if sig.Kind != capture.SignalKF || sig.Corp != s.CorpID {
		return
	}
	token := sig.Token
	if s.OpenKfID != "" && sig.OpenKfID != "" && sig.OpenKfID != s.OpenKfID {
		// Another account has messages: WeCom ties the token to that
		// account, so sync (something may be waiting here too) without it.
		token = ""
	}
	s.wake.Send(token)
}

// Run syncs every Interval and when woken (capture.Connector), until ctx
// ends. A failed sync raises pull_failed and is retried: capture never
// stops by itself.
func (s *Syncer) Run(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = connector.DefaultPollInterval
	}
	capture.Poller[string]{ID: s.ID, What: "kf sync", Interval: interval, Wake: s.wake.C(), Health: s.Health, Logger: s.Logger,
		Pull: func(ctx context.Context, token string) (bool, error) {
			_, err := s.Sync(ctx, token) // a sync reads every page there is
			return false, err
		}}.Run(ctx)
	return nil
}

// DecodeError is a message that cannot be archived as a message.
type DecodeError struct {
	MsgID, Field, Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("kf message %s: %s: %s", e.MsgID, e.Field, e.Reason)
}

type kfMessage struct {
	MsgID                     string                    `json:"msgid"`
	OpenKfID                  string                    `json:"open_kfid"`
	ExternalUserID            string                    `json:"external_userid"`
	SendTime                  *int64                    `json:"send_time"`
	Origin                    int                       `json:"origin"`
	ServicerUserID            string                    `json:"servicer_userid"`
	MsgType                   string                    `json:"msgtype"`
	Text                      *struct{ Content string } `json:"text"`
	Image, Voice, Video, File *struct {
		MediaID string `json:"media_id"`
	}
	Location *struct {
		Latitude, Longitude float64
		Name, Address       string
	}
	Link *struct {
		Title  string `json:"title"`
		Desc   string `json:"desc"`
		URL    string `json:"url"`
		PicURL string `json:"pic_url"`
	}
	BusinessCard *struct {
		UserID string `json:"userid"`
	} `json:"business_card"`
	MiniProgram *struct {
		Title    string `json:"title"`
		AppID    string `json:"appid"`
		PagePath string `json:"pagepath"`
	} `json:"miniprogram"`
	Event json.RawMessage `json:"event"`
}

var kinds = map[string]archive.Kind{
	"text": archive.KindText, "image": archive.KindImage, "voice": archive.KindVoice, "video": archive.KindVideo,
	"file": archive.KindFile, "location": archive.KindLocation, "link": archive.KindLink, "business_card": archive.KindCard,
	"miniprogram": archive.KindWeapp, "msgmenu": archive.KindText, "channels_shop_product": archive.KindLink,
	"channels_shop_order": archive.KindLink, "merged_msg": archive.KindChatRecord, "channels": archive.KindSphFeed,
	"event": archive.KindEvent,
}

// Decode normalizes one sync_msg message.
func Decode(raw []byte, source string) (*archive.Message, error) {
	var k kfMessage
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, &DecodeError{Field: "", Reason: "not a JSON message: " + err.Error()}
	}
	bad := func(field, reason string) error { return &DecodeError{MsgID: k.MsgID, Field: field, Reason: reason} }
	switch {
	case k.MsgID == "":
		return nil, bad("msgid", "missing")
	case k.SendTime == nil || *k.SendTime < 0:
		return nil, bad("send_time", "missing")
	case k.MsgType == "":
		return nil, bad("msgtype", "missing")
	case k.OpenKfID == "":
		return nil, bad("open_kfid", "missing")
	}
	account := "kf:" + k.OpenKfID
	m := &archive.Message{Schema: archive.RecordSchema, Source: source, SourceID: k.MsgID, SourceType: k.MsgType,
		Kind: kinds[k.MsgType], Action: archive.ActionSend, SentAt: archive.MillisTime(*k.SendTime * 1000), Attachments: []archive.Attachment{}}
	if m.Kind == "" {
		m.Kind = archive.KindUnknown
	}
	switch k.Origin {
	case OriginCustomer:
		if k.ExternalUserID == "" {
			return nil, bad("external_userid", "missing for a customer's message")
		}
		m.Sender, m.Recipients = k.ExternalUserID, []string{account}
	case OriginServicer:
		m.Sender = k.ServicerUserID
		if m.Sender == "" {
			m.Sender = account
		}
		if k.ExternalUserID != "" {
			m.Recipients = []string{k.ExternalUserID}
		}
	case OriginEvent:
		m.Sender = account
	default:
		return nil, bad("origin", fmt.Sprintf("%d: want 3 (customer), 4 (event) or 5 (servicer)", k.Origin))
	}
	// The session is between the customer and the account, whichever
	// servicer answers: the servicer is a participant, not part of the
	// conversation's id.
	m.Conversation, m.ConversationKind = archive.DirectConversation(account, k.ExternalUserID), archive.ConversationDirect
	m.Participants = []archive.Participant{{ID: account, Kind: archive.ParticipantBot}}
	if k.ExternalUserID != "" {
		m.Participants = append(m.Participants, archive.Participant{ID: k.ExternalUserID, Kind: archive.ParticipantExternal})
	}
	if k.ServicerUserID != "" {
		m.Participants = append(m.Participants, archive.Participant{ID: k.ServicerUserID, Kind: archive.ParticipantEmployee})
	}
	if k.Origin == OriginEvent {
		// A system event is sent by nobody: it crosses no boundary.
		m.Direction = archive.DirectionInternal
	} else {
		m.Direction = archive.DirectionOf(kindOf(m.Participants, m.Sender), m.Participants)
	}
	m.Details = append(m.Details, archive.Detail{Name: "origin", Value: map[int]string{3: "customer", 4: "event", 5: "servicer"}[k.Origin]})
	var text []string
	media := func(role string, v *struct {
		MediaID string `json:"media_id"`
	}) {
		if v != nil && v.MediaID != "" {
			m.Attachments = append(m.Attachments, archive.Attachment{Role: role, SourceRef: v.MediaID, Status: archive.AttachmentPending})
		}
	}
	switch {
	case k.Text != nil:
		text = append(text, k.Text.Content)
	case k.Location != nil:
		text = append(text, k.Location.Name, k.Location.Address)
		m.Details = append(m.Details, archive.Detail{Name: "coordinates", Value: fmt.Sprintf("%g,%g", k.Location.Latitude, k.Location.Longitude)})
	case k.Link != nil:
		text = append(text, k.Link.Title, k.Link.Desc)
		m.Details = append(m.Details, archive.Detail{Name: "url", Value: k.Link.URL})
	case k.BusinessCard != nil:
		m.Details = append(m.Details, archive.Detail{Name: "card_userid", Value: k.BusinessCard.UserID})
	case k.MiniProgram != nil:
		text = append(text, k.MiniProgram.Title)
		m.Details = append(m.Details, archive.Detail{Name: "appid", Value: k.MiniProgram.AppID}, archive.Detail{Name: "pagepath", Value: k.MiniProgram.PagePath})
	}
	media("image", k.Image)
	media("voice", k.Voice)
	media("video", k.Video)
	media("file", k.File)
	if k.MsgType == "event" || m.Kind == archive.KindUnknown || k.MsgType == "msgmenu" {
		// Every string of an event or an unknown type is kept searchable.
		var all map[string]any
		json.Unmarshal(raw, &all)
		if v, ok := all[k.MsgType]; ok {
			archive.WalkJSONStrings(v, func(s string, _ []archive.PathStep) error {
				text = append(text, s)
				return nil
			})
		}
	}
	var clean []string
	for _, t := range text {
		if t = strings.TrimSpace(t); t != "" {
			clean = append(clean, strings.ToValidUTF8(t, "\uFFFD"))
		}
	}
	m.Text = strings.Join(clean, "\n")
	return m, nil
}

// kindOf is the kind of the participant with that id ("" if none).
func kindOf(ps []archive.Participant, id string) archive.ParticipantKind {
	for _, p := range ps {
		if p.ID == id {
			return p.Kind
		}
	}
	return ""
}
