// Package pull is the wecom-archive connector: it pulls WeCom's
// conversation archive (会话内容存档) through the Finance SDK from a cursor
// committed with the messages it delivered, decodes each message with
// capture/wecom/msgaudit, fetches its media, and — with an api section —
// makes the msgaudit REST calls that enrich capture (room names, the
// permit list, consent checks; rest.go) beside the pulls, never in their
// way.
package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/store"
)

// Connector pulls the conversation archive through the Finance SDK:
// GetChatData from the committed cursor, each message's random key
// unwrapped with the key ring, DecryptData, decode, media fetched in
// chunks and checked against its md5, and the batch archived together with
// the new cursor in one transaction. A crash or restart resumes from the
// last durable batch; the replay is absorbed by idempotent ingest.
type Connector struct {
	ID     string // connector id; the cursor is stored under "msgaudit:"+ID
	CorpID string // messages are archived with source "wecom-archive:"+CorpID
	// Open (re)creates the SDK: at start and after the SDK crashed.
	Open   func() (finance.SDK, error)
	Keys   *finance.KeyRing
	Engine ingest.MessageWriter
	Blobs  blob.Store
	Store  store.Reader
	Health capture.Health // optional

	Limit         uint32        // per GetChatData, 1..1000 (default 1000)
	Proxy, Passwd string        // optional HTTP proxy for the SDK
	Timeout       time.Duration // per SDK call (default 10 s)
	Attempts      int           // tries of a retryable call before giving up (default 5)
	Backoff       time.Duration // first retry delay, doubled each time (default 500 ms)
	Workers       int           // messages decrypted and decoded in parallel (default GOMAXPROCS)
	Interval      time.Duration // Run: between pulls when there is nothing new (default connector.DefaultPollInterval)
	Logger        *slog.Logger

	// API (optional) makes the WeCom REST calls — room names, the permit
	// list, consent checks — beside capture, never in its way (rest.go).
	// Without it the connector uses the Finance SDK only.
	API        WeComAPI
	APIOptions APIOptions
	// Contact (optional, used only with API) describes the customer groups
	// msgaudit/groupchat/get cannot: a client with a customer-contact
	// secret (rest.go).
	Contact CustomerGroupAPI
	// Now is the clock of the REST side's caches and intervals (default:
	// the engine's).
	Now func() time.Time

	mu       sync.Mutex
	wake     capture.Wakeup[struct{}] // Wake → Run
	sdk      finance.SDK
	restarts int
	api      *apiState // nil without API
}

// PullResult is what one pull did.
type PullResult struct {
	Fetched    int    // messages GetChatData returned
	Archived   int    // new messages (or new versions)
	Duplicates int    // already archived (a replay after a crash)
	Rejected   int    // quarantined (undecryptable, undecodable)
	Cursor     uint64 // the committed cursor after the pull
	More       bool   // a full page: pull again at once
}

func (c *Connector) defaults() {
	if c.Limit == 0 || c.Limit > finance.MaxLimit {
		c.Limit = finance.MaxLimit
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Interval <= 0 {
		c.Interval = connector.DefaultPollInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.API != nil && c.api == nil {
		c.APIOptions.defaults()
		c.api = newAPIState()
	}
}

// Source is the archive source of the connector's messages: the same as
// `wxarchive ingest wecom-archive` uses, so a message captured both ways
// is archived once.
func (c *Connector) Source() string { return msgaudit.Source(c.CorpID) }

func (c *Connector) cursorName() string { return "msgaudit:" + c.ID }

// Restarts reports how many times the SDK was reopened after a crash.
func (c *Connector) Restarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

func (c *Connector) raise(ctx context.Context, kind, subject, detail string) {
	c.Logger.Warn("capture fault", "connector", c.ID, "kind", kind, "subject", subject, "detail", detail)
	if c.Health != nil {
		c.Health.Raise(ctx, c.ID, kind, subject, detail)
	}
}

func (c *Connector) observe(ctx context.Context, outcome string) {
	if c.Health != nil {
		c.Health.Observe(ctx, c.ID, outcome, "")
	}
}

// call runs one SDK call with retries: retryable codes (10001–10003) are
// retried with backoff; an SDK that fails in any other way than a vendor
// error code is treated as crashed and reopened.
func (c *Connector) call(ctx context.Context, op string, fn func(finance.SDK) error) error {
	delay := c.Backoff
	var err error
	for attempt := 1; attempt <= c.Attempts; attempt++ {
		var sdk finance.SDK
		if sdk, err = c.client(); err != nil {
			return err
		}
		err = fn(sdk)
		var fe *finance.Error
		switch {
		case err == nil:
			return nil
		case errors.As(err, &fe) && !fe.Retryable():
			return err
		case errors.As(err, &fe):
			c.Logger.Info("SDK call failed, retrying", "connector", c.ID, "op", op, "code", fe.Code, "attempt", attempt)
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			c.Logger.Error("Finance SDK failed; reopening it", "connector", c.ID, "op", op, "err", err)
			c.reopen(sdk)
		}
		if attempt == c.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	return fmt.Errorf("%s failed %d times: %w", op, c.Attempts, err)
}

func (c *Connector) client() (finance.SDK, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sdk == nil {
		sdk, err := c.Open()
		if err != nil {
			return nil, fmt.Errorf("open Finance SDK: %w", err)
		}
		c.sdk = sdk
	}
	return c.sdk, nil
}

func (c *Connector) reopen(bad finance.SDK) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sdk == bad && bad != nil {
		bad.Close()
		c.sdk = nil
		c.restarts++
	}
}

// Close releases the SDK.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sdk == nil {
		return nil
	}
	err := c.sdk.Close()
	c.sdk = nil
	return err
}

// Cursor returns the committed seq (0 before the first pull).
func (c *Connector) Cursor(ctx context.Context) (uint64, error) {
	cur, err := c.Store.Cursor(ctx, c.cursorName())
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(cur.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cursor of %s is %q, not a seq", c.ID, cur.Value)
	}
	return seq, nil
}

func (c *Connector) getChatData(ctx context.Context, seq uint64, limit uint32) (*finance.ChatData, error) {
	var cd *finance.ChatData
	err := c.call(ctx, "GetChatData", func(sdk finance.SDK) error {
		b, err := sdk.GetChatData(ctx, seq, limit, c.Proxy, c.Passwd, c.Timeout)
		if err != nil {
			return err
		}
		cd, err = finance.ParseChatData(b)
		var fe *finance.Error
		if err != nil && !errors.As(err, &fe) {
			return &finance.Error{Op: "GetChatData", Code: finance.ErrParse, Message: err.Error()}
		}
		return err
	})
	return cd, err
}

// Pull fetches and archives one page.
func (c *Connector) Pull(ctx context.Context) (PullResult, error) {
	c.defaults()
	var res PullResult
	seq, err := c.Cursor(ctx)
	if err != nil {
		return res, err
	}
	res.Cursor = seq
	cd, err := c.getChatData(ctx, seq, c.Limit)
	var fe *finance.Error
	if errors.As(err, &fe) && fe.Code == finance.ErrExpired {
		return c.skipExpired(ctx, seq)
	}
	if err != nil {
		return res, err
	}
	res.Fetched = len(cd.ChatData)
	if res.Fetched == 0 {
		return res, nil
	}
	items := make([]ingest.Item, len(cd.ChatData))
	faults := make([][]func(), len(cd.ChatData))
	errs := make([]error, c.Workers)
	var wg sync.WaitGroup
	for w := 0; w < c.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cd.ChatData); i += c.Workers {
				it, fs, err := c.prepare(ctx, cd.ChatData[i])
				if err != nil {
					errs[w] = err
					return
				}
				items[i], faults[i] = it, fs
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	// Gaps: the service's seqs are consecutive; a missing one is a message
	// the archive will never have.
	prev := seq
	for _, em := range cd.ChatData {
		if em.Seq > prev+1 {
			c.raise(ctx, capture.FaultSeqGap, fmt.Sprintf("seq %d-%d", prev+1, em.Seq-1),
				fmt.Sprintf("GetChatData after seq %d returned seq %d: %d messages were never delivered", prev, em.Seq, em.Seq-prev-1))
		}
		if em.Seq > prev {
			prev = em.Seq
		}
	}
	out, err := c.Engine.SubmitWithCursor(ctx, "connector:"+c.ID, items,
		&store.CursorRow{Connector: c.cursorName(), Value: strconv.FormatUint(prev, 10)}).Wait(ctx)
	if err != nil {
		return res, err
	}
	res.Cursor = prev
	t := capture.ObserveResults(ctx, c.Health, c.ID, out)
	res.Archived, res.Duplicates, res.Rejected = t.Archived, t.Duplicates, t.Rejected
	// Faults are raised once the messages they concern are durable.
	for _, fs := range faults {
		for _, f := range fs {
			f()
		}
	}
	c.queueAPI(items, out)
	res.More = res.Fetched == int(c.Limit)
	return res, nil
}

// prepare decrypts, decodes and fetches the media of one message. A
// message that cannot be read is quarantined (its encrypted form kept),
// never skipped. The error is operational.
func (c *Connector) prepare(ctx context.Context, em finance.EncryptedMessage) (ingest.Item, []func(), error) {
	it := ingest.Item{Source: c.Source(), Origin: fmt.Sprintf("msgaudit %s seq %d", c.ID, em.Seq)}
	var faults []func()
	reject := func(field, reason string) (ingest.Item, []func(), error) {
		raw, err := json.Marshal(em)
		if err != nil {
			return it, nil, err
		}
		it.Raw = raw
		it.Reject = &ingest.Rejection{MsgID: em.MsgID, Field: field, Reason: reason}
		return it, faults, nil
	}
	key, err := c.Keys.Unwrap(em.PublicKeyVer, em.EncryptRandomKey)
	var mk *finance.MissingKeyError
	if errors.As(err, &mk) {
		faults = append(faults, func() {
			c.raise(ctx, capture.FaultKeyMissing, fmt.Sprintf("publickey_ver %d", em.PublicKeyVer),
				fmt.Sprintf("%v; add it and re-ingest the quarantined messages", err))
		})
		return reject("publickey_ver", err.Error())
	}
	if err != nil {
		return reject("encrypt_random_key", err.Error())
	}
	var plain []byte
	err = c.call(ctx, "DecryptData", func(sdk finance.SDK) error {
		var err error
		plain, err = sdk.DecryptData(key, em.EncryptChatMsg)
		return err
	})
	var fe *finance.Error
	if errors.As(err, &fe) {
		return reject("encrypt_chat_msg", err.Error())
	}
	if err != nil {
		return it, nil, err
	}
	it.Raw = plain
	m, err := msgaudit.Decode(plain, msgaudit.Options{Source: c.Source(), Now: c.Now})
	if err != nil {
		var de *msgaudit.DecodeError
		if errors.As(err, &de) {
			it.Reject = &ingest.Rejection{MsgID: de.MsgID, Field: de.Field, Reason: de.Reason}
		} else {
			it.Reject = &ingest.Rejection{MsgID: em.MsgID, Reason: err.Error()}
		}
		return it, nil, nil
	}
	if err := ingest.ResolveMedia(ctx, m, sdkMedia{c}, c.Blobs); err != nil {
		return it, nil, err
	}
	for i, a := range m.Attachments {
		if a.Status != archive.AttachmentFetched && a.SourceRef != "" {
			detail := fmt.Sprintf("attachment %d (%s, %s): %s", i, a.Role, a.Status, a.Reason)
			faults = append(faults, func() { c.raise(ctx, capture.FaultMediaFailed, m.SourceID, detail) })
		}
	}
	if ws := msgaudit.WarnedFields(m); len(ws) > 0 {
		detail := fmt.Sprintf("archived with fields set aside: %s (the message's details keep their values)", strings.Join(ws, ", "))
		faults = append(faults, func() { c.raise(ctx, capture.FaultDecodeWarning, m.SourceID, detail) })
	}
	if m.Consent != nil && !m.Consent.Agreed {
		ext := m.Consent.ExternalID
		faults = append(faults, func() {
			c.raise(ctx, capture.FaultConsentWithdrawn, ext, fmt.Sprintf("%s refused or withdrew consent to archiving (message %s); their conversations are no longer captured", ext, m.SourceID))
		})
	}
	it.Message = m
	return it, faults, nil
}

// skipExpired handles 10010: data after the cursor is gone. The fault says
// which seqs were lost; the cursor moves to where data is still held, found
// by probing forward (doubling, then bisecting).
func (c *Connector) skipExpired(ctx context.Context, seq uint64) (PullResult, error) {
	res := PullResult{Cursor: seq}
	expired := func(s uint64) (bool, error) {
		_, err := c.getChatData(ctx, s, 1)
		var fe *finance.Error
		if errors.As(err, &fe) && fe.Code == finance.ErrExpired {
			return true, nil
		}
		return false, err
	}
	lo, step := seq, uint64(1)
	hi := seq + step
	for {
		exp, err := expired(hi)
		if err != nil {
			return res, err
		}
		if !exp {
			break
		}
		lo, step = hi, step*2
		if step > 1<<40 {
			return res, fmt.Errorf("data after seq %d expired and no later data was found", seq)
		}
		hi = seq + step
	}
	for hi-lo > 1 { // expired(lo) or lo == seq; !expired(hi)
		mid := lo + (hi-lo)/2
		exp, err := expired(mid)
		if err != nil {
			return res, err
		}
		if exp {
			lo = mid
		} else {
			hi = mid
		}
	}
	// hi is the smallest cursor the service accepts: seqs seq+1 .. hi are lost.
	c.raise(ctx, capture.FaultDataExpired, fmt.Sprintf("seq %d-%d", seq+1, hi),
		fmt.Sprintf("the service no longer holds seq %d to %d (error %d, data expired): those messages were never captured", seq+1, hi, finance.ErrExpired))
	if _, err := c.Engine.SubmitWithCursor(ctx, "connector:"+c.ID, nil,
		&store.CursorRow{Connector: c.cursorName(), Value: strconv.FormatUint(hi, 10)}).Wait(ctx); err != nil {
		return res, err
	}
	res.Cursor, res.More = hi, true
	return res, nil
}

// Info implements capture.Connector.
func (c *Connector) Info() capture.Info {
	return capture.Info{ID: c.ID, Type: TypeName, Source: c.Source()}
}

// Wake starts a pull at once when a msgaudit_notify callback says the
// corp's archive has new data (capture.Waker). It never blocks.
func (c *Connector) Wake(sig capture.Signal) {
	if sig.Kind != capture.SignalMsgauditNotify || sig.Corp != c.CorpID {
		return
	}
	c.wake.Send(struct{}{})
}

// Run pulls until ctx ends (capture.Connector): at once while pages are
// full, then every Interval or when Wake fires. Errors are logged, raised
// as pull_failed and retried after the interval: capture never stops by
// itself. With an API, the REST calls run beside the pulls (SyncAPI) and
// end with Run. When ctx ends, the SDK is released (its agent ends).
func (c *Connector) Run(ctx context.Context) error {
	c.defaults()
	defer c.Close()
	if c.API != nil {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runAPI(ctx)
		}()
		defer wg.Wait()
	}
	capture.Poller[struct{}]{ID: c.ID, What: "msgaudit pull", Interval: c.Interval, Wake: c.wake.C(), Health: c.Health, Logger: c.Logger,
		Pull: func(ctx context.Context, _ struct{}) (bool, error) {
			res, err := c.Pull(ctx)
			return res.More, err
		}}.Run(ctx)
	return nil
}

// sdkMedia fetches media through GetMediaData, chunk by chunk; each chunk
// is retried on its own.
type sdkMedia struct{ c *Connector }

func (s sdkMedia) Fetch(ctx context.Context, sdkFileID string) ([]byte, error) {
	var data []byte
	index := ""
	for chunks := 0; ; chunks++ {
		if chunks > ingest.MaxMediaBytes/finance.MaxChunkSize+1 {
			return nil, fmt.Errorf("media %s: more than %d chunks", sdkFileID, chunks)
		}
		var ch finance.MediaChunk
		err := s.c.call(ctx, "GetMediaData", func(sdk finance.SDK) error {
			var err error
			ch, err = sdk.GetMediaData(ctx, index, sdkFileID, s.c.Proxy, s.c.Passwd, s.c.Timeout)
			return err
		})
		var fe *finance.Error
		if errors.As(err, &fe) && fe.Code == finance.ErrFileID {
			return nil, fmt.Errorf("media %s: %w: %v", sdkFileID, fs.ErrNotExist, err)
		}
		if err != nil {
			return nil, err
		}
		data = append(data, ch.Data...)
		if ch.IsFinish {
			return data, nil
		}
		if ch.OutIndexBuf == index || len(ch.Data) == 0 {
			return nil, fmt.Errorf("media %s: GetMediaData made no progress at %q", sdkFileID, index)
		}
		index = ch.OutIndexBuf
	}
}
