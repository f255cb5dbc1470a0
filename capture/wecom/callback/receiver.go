package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Archiver is the part of the ingest engine the receiver uses: Archive
// returns only once the items are durable.
type Archiver interface {
	Archive(ctx context.Context, actor string, items []ingest.Item) ([]ingest.Result, error)
	Append(ctx context.Context, events ...journal.Event) ([]uint64, error)
	RetainUntil(t time.Time) archive.Time
	Now() time.Time
}

// AttachmentReader is what RetryMedia reads of the archive (store.Reader).
type AttachmentReader interface {
	UnfetchedAttachments(ctx context.Context, source string, since archive.Time, limit int) ([]store.UnfetchedAttachment, error)
	Attachments(ctx context.Context, serial uint64) ([]store.AttachmentRow, error)
}

// MediaValidity is how long WeChat keeps a message's temporary media
// (MediaId): media not fetched by then is lost, and RetryMedia stops
// asking for it.
const MediaValidity = 72 * time.Hour

// Receiver handles GET (URL verification) and POST (messages) for one
// callback connector. A message is acknowledged only after it is archived;
// WeChat retries an unacknowledged message up to three times, and the
// retries of an archived one are duplicates that archive nothing.
type Receiver struct {
	ID       string // connector id
	Platform Platform
	Crypter  *Crypter // token, key and receive id
	Engine   Archiver
	Blobs    blob.Store
	// Media fetches media by MediaId (an *api.Client); nil leaves
	// attachments recorded as failed with the reason.
	Media ingest.MediaSource
	// MediaBudget bounds media fetching per message so the reply makes
	// WeChat's 5-second window (default 3 s). Media not fetched in time is
	// recorded as failed, with the reason, and reported by OnEvent.
	MediaBudget time.Duration
	// Notify is called (without blocking the reply) when a msgaudit_notify
	// event says new conversation-archive data is waiting.
	Notify func()
	// OnKFEvent is called (without blocking the reply) when a
	// kf_msg_or_event says customer-service messages are waiting; token
	// lifts sync_msg's rate limit for ten minutes.
	OnKFEvent func(token, openKfID string)
	// OnEvent reports outcomes for capture health and metrics (the
	// capture.Outcome* values): archived, duplicate, rejected (a request
	// refused: bad signature, XML…) and media_failed (subject: the msgid);
	// media_fetched (subject: the msgid) says RetryMedia fetched every
	// attachment of a message that had reported media_failed. detail never
	// holds secrets or message content.
	OnEvent func(outcome, subject, detail string)
	Logger  *slog.Logger
	// Store lets RetryMedia find the media still to fetch (nil: no retry).
	Store AttachmentReader

	// Now is the clock the freshness window is measured on (nil:
	// time.Now). Freshness is the window (0: DefaultFreshness); a request
	// outside it, or one whose timestamp, nonce and signature were already
	// acknowledged within it, is refused (replay.go). ReplayCapacity
	// bounds the memory of acknowledged requests (0:
	// DefaultReplayCapacity).
	Now            func() time.Time
	Freshness      time.Duration
	ReplayCapacity int
	// AllowPlaintext lets a receiver whose Crypter has no EncodingAESKey
	// (an Official Account in plaintext mode) accept requests. Without it
	// every such request is refused: plaintext mode must be chosen
	// explicitly (the oa-callback `plaintext: true` setting).
	AllowPlaintext bool

	replayOnce sync.Once
	replay     *replayCache
	warnedAt   atomic.Int64 // Unix seconds of the last "replay cache full" warning
}

// Source is the archive source name of the connector's messages.
func (r *Receiver) Source() string { return SourceName(r.Platform, r.ID) }

func (r *Receiver) event(outcome, subject, detail string) {
	if r.OnEvent != nil {
		r.OnEvent(outcome, subject, detail)
	}
}

func (r *Receiver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// refuse answers a request that is not archived, with a reason safe to
// show (no secrets, no plaintext).
func (r *Receiver) refuse(w http.ResponseWriter, req *http.Request, status int, err error) {
	r.logger().Warn("callback refused", "connector", r.ID, "remote", req.RemoteAddr, "method", req.Method, "reason", err.Error())
	r.event(capture.OutcomeRejected, "", err.Error())
	http.Error(w, err.Error(), status)
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if ts == "" || nonce == "" {
		r.refuse(w, req, http.StatusBadRequest, errors.New("timestamp and nonce parameters are required"))
		return
	}
	if len(nonce) > maxNonce {
		r.refuse(w, req, http.StatusBadRequest, fmt.Errorf("nonce: %d bytes, more than %d", len(nonce), maxNonce))
		return
	}
	switch req.Method {
	case http.MethodGet:
		r.verifyURL(w, req, ts, nonce)
	case http.MethodPost:
		r.receive(w, req, ts, nonce)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// admit lets a request whose signature verified through the freshness
// window and the replay cache, reserving its parameters. The caller must
// call done exactly once: with true when the request was acknowledged
// (its parameters stay remembered until its timestamp leaves the window),
// false otherwise (they are released: a retry of a failed request is not
// a replay).
func (r *Receiver) admit(ts, nonce, signature string) (done func(acked bool), err error) {
	sec, err := parseTimestamp(ts)
	if err != nil {
		return nil, err
	}
	window := r.Freshness
	if window <= 0 {
		window = DefaultFreshness
	}
	now := r.now()
	if err := checkFresh(sec, now, window); err != nil {
		return nil, err
	}
	r.replayOnce.Do(func() { r.replay = newReplayCache(r.ReplayCapacity) })
	k := keyOf(ts, nonce, signature)
	expiry := time.Unix(sec, 0).Add(window).Unix()
	ok, evicted := r.replay.reserve(k, expiry, now.Unix())
	if evicted {
		if last := r.warnedAt.Load(); now.Unix()-last >= 60 && r.warnedAt.CompareAndSwap(last, now.Unix()) {
			r.logger().Warn("callback replay cache is full: requests about to leave the freshness window are forgotten early",
				"connector", r.ID, "capacity", r.replay.capacity)
		}
	}
	if !ok {
		return nil, &Error{Op: "verify", Err: ErrReplay, Detail: "the timestamp, nonce and signature of a request already acknowledged"}
	}
	return func(acked bool) {
		if !acked {
			r.replay.release(k)
		}
	}, nil
}

// plaintextAllowed refuses a request to a receiver in plaintext mode that
// was not configured for it.
func (r *Receiver) plaintextAllowed(w http.ResponseWriter, req *http.Request) bool {
	if r.Crypter.Encrypted() || r.AllowPlaintext {
		return true
	}
	r.refuse(w, req, http.StatusForbidden, &Error{Op: "verify", Err: ErrPlaintext,
		Detail: "this receiver has no EncodingAESKey and its configuration does not say plaintext: true"})
	return false
}

// verifyURL answers the URL check WeChat makes when the callback is saved.
func (r *Receiver) verifyURL(w http.ResponseWriter, req *http.Request, ts, nonce string) {
	q := req.URL.Query()
	echo := q.Get("echostr")
	if echo == "" {
		r.refuse(w, req, http.StatusBadRequest, errors.New("echostr parameter is required"))
		return
	}
	if !r.plaintextAllowed(w, req) {
		return
	}
	sig := q.Get("signature")
	if r.Crypter.Encrypted() {
		sig = q.Get("msg_signature")
		if err := r.Crypter.Verify(sig, ts, nonce, echo); err != nil {
			r.refuse(w, req, http.StatusForbidden, err)
			return
		}
	} else if err := r.Crypter.Verify(sig, ts, nonce); err != nil {
		r.refuse(w, req, http.StatusForbidden, err)
		return
	}
	done, err := r.admit(ts, nonce, sig)
	if err != nil {
		r.refuse(w, req, http.StatusForbidden, err)
		return
	}
	plain := []byte(echo)
	if r.Crypter.Encrypted() {
		if plain, err = r.Crypter.Decrypt(echo); err != nil {
			done(false)
			r.refuse(w, req, http.StatusBadRequest, err)
			return
		}
	}
	done(true)
	r.logger().Info("callback URL verified", "connector", r.ID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(plain)
}

func (r *Receiver) receive(w http.ResponseWriter, req *http.Request, ts, nonce string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxXMLBytes+1))
	if err != nil {
		r.refuse(w, req, http.StatusBadRequest, fmt.Errorf("read body: %v", err))
		return
	}
	if len(body) > MaxXMLBytes {
		r.refuse(w, req, http.StatusRequestEntityTooLarge, &Error{Op: "parse", Err: ErrXML, Detail: "body over 1 MB"})
		return
	}
	if !r.plaintextAllowed(w, req) {
		return
	}
	q := req.URL.Query()
	plain := body
	var done func(bool)
	if r.Crypter.Encrypted() {
		env, err := ParseEnvelope(body)
		if err != nil {
			r.refuse(w, req, http.StatusBadRequest, err)
			return
		}
		sig := q.Get("msg_signature")
		if err := r.Crypter.Verify(sig, ts, nonce, env.Encrypt); err != nil {
			r.refuse(w, req, http.StatusForbidden, err)
			return
		}
		if done, err = r.admit(ts, nonce, sig); err != nil {
			r.refuse(w, req, http.StatusForbidden, err)
			return
		}
		if plain, err = r.Crypter.Decrypt(env.Encrypt); err != nil {
			done(false)
			r.refuse(w, req, http.StatusBadRequest, err)
			return
		}
	} else {
		// Plaintext mode: the signature covers the token, timestamp and
		// nonce, not the body. Only the window and the replay cache stand
		// between a seen request and a forged one.
		sig := q.Get("signature")
		if err := r.Crypter.Verify(sig, ts, nonce); err != nil {
			r.refuse(w, req, http.StatusForbidden, err)
			return
		}
		if done, err = r.admit(ts, nonce, sig); err != nil {
			r.refuse(w, req, http.StatusForbidden, err)
			return
		}
	}
	acked := false
	defer func() { done(acked) }()
	doc, err := ParseXML(plain)
	if err != nil {
		r.refuse(w, req, http.StatusBadRequest, err)
		return
	}
	if s, ok := SuiteOf(doc); ok {
		// A suite's instruction callback: not a communication, but what
		// it says (an authorization granted, changed or cancelled) is
		// kept as an event, its credentials as digests only.
		raw, _ := Redacted(plain, doc)
		msg := NormalizeSuite(s, r.Platform, r.Source(), "callback:"+r.ID, r.now())
		acked = r.archive(w, req, raw, msg)
		return
	}
	m, err := MessageOf(doc)
	if err != nil {
		r.refuse(w, req, http.StatusBadRequest, err)
		return
	}
	switch signal := m.MsgType == "event"; {
	case signal && m.Event == "msgaudit_notify":
		// Not a communication: a signal that the conversation archive has
		// new data. Pull now instead of at the next poll.
		if r.Notify != nil {
			go r.Notify()
		}
		acked = true
		r.ack(w)
		return
	case signal && m.Event == "kf_msg_or_event":
		// Also a signal, not a communication: the messages come through
		// kf/sync_msg. WeCom sends it without FromUserName.
		if r.OnKFEvent != nil {
			go r.OnKFEvent(strings.TrimSpace(doc.Value("Token")), strings.TrimSpace(doc.Value("OpenKfId")))
		}
		acked = true
		r.ack(w)
		return
	}
	msg := Normalize(m, r.Platform, r.Source(), r.now())
	raw, _ := Redacted(plain, doc)
	acked = r.archive(w, req, raw, msg)
}

// archive stores one normalized callback (its media first) and answers
// WeChat: acknowledged only once durable.
func (r *Receiver) archive(w http.ResponseWriter, req *http.Request, raw []byte, msg *archive.Message) (acked bool) {
	ctx := req.Context()
	if len(msg.Attachments) > 0 {
		if err := r.fetchMedia(ctx, msg); err != nil {
			// The blob store failed: acknowledging now would claim media
			// is safe that is not. WeChat retries.
			r.logger().Error("callback media not stored", "connector", r.ID, "msgid", msg.SourceID, "err", err)
			http.Error(w, "media not stored, retry", http.StatusServiceUnavailable)
			return false
		}
	}
	item := ingest.Item{Source: r.Source(), Raw: raw, Message: msg,
		Origin: fmt.Sprintf("callback %s from %s", r.ID, req.RemoteAddr)}
	res, err := r.Engine.Archive(ctx, "connector:"+r.ID, []ingest.Item{item})
	if err != nil {
		// Not acknowledged: WeChat retries.
		r.logger().Error("callback not archived", "connector", r.ID, "msgid", msg.SourceID, "err", err)
		http.Error(w, "not archived, retry", http.StatusServiceUnavailable)
		return false
	}
	if res[0].Outcome == ingest.Duplicate {
		r.event(capture.OutcomeDuplicate, msg.SourceID, "")
	} else {
		r.event(capture.OutcomeArchived, msg.SourceID, "")
		if f := archive.WarnedFields(msg); len(f) > 0 {
			r.event(capture.OutcomeDecodeWarning, msg.SourceID,
				fmt.Sprintf("archived with fields set aside: %s (the message's details keep their values)", strings.Join(f, ", ")))
		}
	}
	r.ack(w)
	return true
}

// fetchMedia stores the message's media within the budget. Each attachment
// ends with a status: fetched, or missing/failed with the reason. Only a
// failing blob store is an error (the message must not be acknowledged).
func (r *Receiver) fetchMedia(ctx context.Context, msg *archive.Message) error {
	budget := r.MediaBudget
	if budget <= 0 {
		budget = 3 * time.Second
	}
	mctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if err := ingest.ResolveMedia(mctx, msg, r.Media, r.Blobs); err != nil {
		return err
	}
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		switch {
		case a.Status == archive.AttachmentPending:
			a.Status, a.Reason = archive.AttachmentFailed, "no media client configured for this connector"
		case a.Status == archive.AttachmentFailed && errors.Is(mctx.Err(), context.DeadlineExceeded):
			a.Reason = fmt.Sprintf("not fetched within the %s callback budget (WeChat expects a reply within 5 s): %s", budget, a.Reason)
		}
		if a.Status != archive.AttachmentFetched {
			r.event(capture.OutcomeMediaFailed, msg.SourceID, fmt.Sprintf("attachment %d (%s, %s): %s", i, a.Role, a.Status, a.Reason))
		}
	}
	return nil
}

// ack tells WeChat the message is handled: "success" for Official
// Accounts, an empty body for WeCom (which shows any other unencrypted
// text to the user as an error).
func (r *Receiver) ack(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Platform == PlatformOfficialAccount {
		io.WriteString(w, "success")
	}
}

// RetryMedia fetches again, by MediaId, the media of this connector's
// messages that could not be fetched at capture (the reply window, a
// transient error), while WeChat still keeps it (MediaValidity). Each
// attachment fetched is stored with its message's retention and journaled
// as attachment.fetched; the message's records are never rewritten. A
// message whose media is now all fetched is reported as "media_fetched".
// Only a failing blob store or journal is an error; media still not
// available is tried again on the next call.
func (r *Receiver) RetryMedia(ctx context.Context) (fetched int, err error) {
	if r.Store == nil || r.Media == nil {
		return 0, nil
	}
	since := archive.At(r.Engine.Now().Add(-MediaValidity))
	todo, err := r.Store.UnfetchedAttachments(ctx, r.Source(), since, 1000)
	if err != nil {
		return 0, err
	}
	touched := map[uint64]string{} // serial → msgid
	for _, u := range todo {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		data, ferr := r.Media.Fetch(fctx, u.SourceRef)
		cancel()
		if ferr != nil {
			if ctx.Err() != nil {
				return fetched, ctx.Err()
			}
			r.logger().Debug("media still not fetched", "connector", r.ID, "msgid", u.SourceID, "attachment", u.Ordinal, "err", ferr)
			continue
		}
		// Staged (no retention) until the event that references it is
		// durable, then locked with the message's retention: a failed
		// append leaves no blob locked that nothing references (the
		// engine's sealer locks it too, ingest/lock.go).
		id, err := r.Blobs.Put(ctx, data, blob.PutOptions{})
		if err != nil {
			return fetched, fmt.Errorf("store media of %s: %w", u.SourceID, err)
		}
		ev, err := journal.NewEvent(archive.EventAttachmentFetched, "connector:"+r.ID, archive.Time{}, []string{fmt.Sprintf("serial:%d", u.Serial)},
			&archive.AttachmentFetchedEvent{Serial: u.Serial, Ordinal: u.Ordinal, Blob: id, Size: int64(len(data)),
				MediaType: ingest.SniffMediaType(data, u.FileName), SourceRef: u.SourceRef})
		if err != nil {
			return fetched, err
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			return fetched, err
		}
		if err := r.Blobs.SetRetention(ctx, id, u.RetainUntil.Time); err != nil && !errors.Is(err, blob.ErrRetentionShortened) {
			return fetched, fmt.Errorf("lock media of %s: %w", u.SourceID, err)
		}
		fetched++
		touched[u.Serial] = u.SourceID
	}
	for serial, msgid := range touched {
		atts, err := r.Store.Attachments(ctx, serial)
		if err != nil {
			return fetched, err
		}
		left := 0
		for _, a := range atts {
			if a.Status != archive.AttachmentFetched {
				left++
			}
		}
		if left == 0 {
			r.event(capture.OutcomeMediaFetched, msgid, fmt.Sprintf("media of serial %d fetched after capture", serial))
		}
	}
	return fetched, nil
}

// RunMediaRetry calls RetryMedia every interval until ctx ends.
func (r *Receiver) RunMediaRetry(ctx context.Context, interval time.Duration) {
	for {
		if n, err := r.RetryMedia(ctx); err != nil && ctx.Err() == nil {
			r.logger().Error("media retry failed", "connector", r.ID, "err", err)
		} else if n > 0 {
			r.logger().Info("media fetched after capture", "connector", r.ID, "attachments", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
