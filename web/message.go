package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/httpx"
)

// messagePage is the message detail page's data.
type messagePage struct {
	M           *app.MessageView
	Recipients  string
	SentAt      timeView
	CapturedAt  timeView
	RetainUntil timeView
	Attachments []attachmentRow
	RawBinary   int // size of a raw record that is not text
	SealPending bool
	Sealed      string
	Proof       *app.Proof
	ProofRoot   string
	ConvHref    string
	ProofHashes string // the audit path, space-separated hex, for proof.js
}

type attachmentRow struct {
	archive.Attachment
	StatusKey   string // catalog key of the status
	Blob        string // hex SHA-256, "" when no bytes were stored
	FetchedLate string // blob of media fetched after capture
}

// Message: GET /messages/{serial}, one message as archived — normalized
// view, hashes, attachments and their status, the inclusion proof as the
// server verified it — through app.MessagesBySerial (which applies the
// viewer's barrier and journals the view).
func (u *UI) Message(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckParams(r.URL.Query()); err != nil {
		return err
	}
	serial, err := httpx.Uint("serial", r.PathValue("serial"))
	if err != nil {
		return err
	}
	vs, err := u.opts.App.MessagesBySerial(r.Context(), serial)
	if err != nil {
		return err
	}
	m := vs[0]
	v := u.newView(r, "", nil)
	v.Title = v.T("message.title", m.Serial)
	mp := &messagePage{M: m, Recipients: strings.Join(m.Message.Recipients, ", "), SentAt: v.Time(m.Message.SentAt.Time),
		CapturedAt: v.Time(m.CapturedAt.Time), RetainUntil: v.Time(m.RetainUntil.Time), Proof: m.Proof}
	if m.Raw == "" && len(m.RawBase64) > 0 {
		mp.RawBinary = len(m.RawBase64)
	}
	switch {
	case m.Sealed == "pending":
		mp.SealPending = true
	default:
		mp.Sealed = m.Sealed
	}
	late := map[int]string{}
	for _, l := range m.FetchedLater {
		late[l.Ordinal] = l.Blob.String()
	}
	for i, a := range m.Message.Attachments {
		row := attachmentRow{Attachment: a, StatusKey: "status." + string(a.Status), FetchedLate: late[i]}
		if !a.Blob.IsZero() {
			row.Blob = a.Blob.String()
		}
		mp.Attachments = append(mp.Attachments, row)
	}
	if c := m.Message.Conversation; c != "" {
		mp.ConvHref = "/conversations/" + url.PathEscape(c) + "?around=" + strconv.FormatUint(m.Serial, 10)
	}
	if m.Proof != nil {
		mp.ProofHashes = strings.Join(m.Proof.Hashes, " ")
	}
	v.Page = mp
	return u.render(w, http.StatusOK, "message", v)
}
