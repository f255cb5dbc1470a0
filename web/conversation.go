package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/httpx"
)

// conversationPage is a conversation as bubbles, oldest first.
type conversationPage struct {
	ID       string
	Messages []bubble
	Older    string
	Latest   string // the newest page, when this is not it
	Around   uint64
}

type bubble struct {
	app.ConversationMessage
	Href     string
	At       timeView
	Outbound bool // sent by the firm's side (not inbound): drawn on the right
	Here     bool // the message the page was asked around
	Day      string
	NewDay   bool
}

// Conversation: GET /conversations/{id}[?cursor=C][&around=SERIAL],
// app.Conversation (barrier applied and the page journaled there) as
// WeChat-like bubbles: names and departments as they were when sent,
// recalled messages marked, attachments counted and linked through the
// message page.
func (u *UI) Conversation(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "cursor", "around"); err != nil {
		return err
	}
	o := app.ConversationOptions{ID: r.PathValue("id"), Cursor: q.Get("cursor")}
	if s := q.Get("around"); s != "" {
		n, err := httpx.Uint("around", s)
		if err != nil {
			return err
		}
		o.Around = n
	}
	p, err := u.opts.App.Conversation(r.Context(), o)
	if err != nil {
		return err
	}
	v := u.newView(r, "", nil)
	v.Title = v.T("conversation.title", p.ID)
	base := "/conversations/" + url.PathEscape(p.ID)
	cp := &conversationPage{ID: p.ID, Around: p.Around}
	if p.Older != "" {
		cp.Older = base + "?" + url.Values{"cursor": {p.Older}}.Encode()
	}
	if o.Cursor != "" || o.Around != 0 {
		cp.Latest = base
	}
	prev := ""
	for _, m := range p.Messages {
		b := bubble{ConversationMessage: m, Href: "/messages/" + strconv.FormatUint(m.Serial, 10), At: v.Time(m.SentAt.Time),
			Outbound: m.Direction != archive.DirectionInbound,
			Here:     m.Serial == p.Around}
		b.Day = m.SentAt.Time.In(v.loc).Format("2006-01-02")
		b.NewDay, prev = b.Day != prev, b.Day
		cp.Messages = append(cp.Messages, b)
	}
	v.Page = cp
	return u.render(w, http.StatusOK, "conversation", v)
}
