package pull

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
)

// WeComAPI is the part of the WeCom REST API the connector uses besides
// the Finance SDK; *api.Client implements it. Contract: calls are safe
// for concurrent use; an error is an *api.APIError when WeCom answered
// with an errcode and anything else is transport; no error carries the
// secret or an access token (api.Client strips URLs from its errors).
type WeComAPI interface {
	// PermitUsers lists the employees whose conversations WeCom archives
	// (kind 0: all editions).
	PermitUsers(ctx context.Context, kind int) ([]string, error)
	// CheckSingleAgree answers for the pairs it knows; pairs it does not
	// know are simply absent from the answer.
	CheckSingleAgree(ctx context.Context, pairs []api.Pair) ([]api.Agreement, error)
	CheckRoomAgree(ctx context.Context, roomID string) ([]api.Agreement, error)
	// GroupChat describes an internal room; WeCom answers an errcode for
	// other rooms (external group chats).
	GroupChat(ctx context.Context, roomID string) (*api.Room, error)
}

var _ WeComAPI = (*api.Client)(nil)

// CustomerGroupAPI describes customer groups (客户群: rooms with external
// contacts), which msgaudit/groupchat/get does not; *api.Client implements
// it. WeCom answers this call only to a secret with customer-contact
// (客户联系) permission — not the conversation-archive secret — so it is a
// second client, with its own access token. Contract as WeComAPI's, and
// an error matching fs.ErrNotExist means the chat is not a customer group
// this secret may describe.
type CustomerGroupAPI interface {
	CustomerGroup(ctx context.Context, chatID string) (*api.CustomerGroup, error)
}

var _ CustomerGroupAPI = (*api.Client)(nil)

// ParticipantRoom is the participant.updated kind of a directory fact
// about a room (id: the roomid; name: its name as msgaudit/groupchat/get
// gave it, or externalcontact/groupchat/get for a customer group — the
// event has no field saying which, so the fact does not). A room is not
// a party to a message, but the directory is the archive's one journaled,
// time-valid record of names — and a room name changes over time like a
// person's does — so a room's name is recorded there rather than written
// into each message's normalized record, which must stay what the raw
// bytes say.
const ParticipantRoom archive.ParticipantKind = "room"

// Defaults of APIOptions.
const (
	DefaultRoomRefresh    = 24 * time.Hour
	DefaultPermitInterval = time.Hour
	DefaultConsentRefresh = 24 * time.Hour
	DefaultAPIMinInterval = 100 * time.Millisecond
	DefaultConsentBatch   = 100
	DefaultAPIRetry       = time.Minute // after a call failed in transport (or WeCom was busy)
	apiTick               = time.Minute // the background loop's wake-up when nothing is queued
	maxConsentBatch       = 1000
)

// APIOptions tune the REST calls. Zero values mean the defaults.
type APIOptions struct {
	RoomRefresh    time.Duration // a room's name and members are fetched again after this
	PermitInterval time.Duration // how often the permit list is read
	ConsentRefresh time.Duration // how long a consent answer is trusted before it is asked again
	// MinInterval spaces two REST calls (the rate limit); negative: none.
	MinInterval  time.Duration
	ConsentBatch int // pairs per check_single_agree
	// ExpectedEmployees must be in the permit list: each one missing
	// raises permit_user_missing until WeCom lists them.
	ExpectedEmployees []string
}

// APIStats counts what the REST side did since the connector started.
type APIStats struct {
	RoomLookups        int // rooms described (groupchat/get, or externalcontact/groupchat/get for a customer group)
	RoomLookupsFailed  int // rooms neither call described: their messages stay without a name
	RoomCacheHits      int // messages whose room was already known (no call)
	RoomNames          int // room names journaled (participant.updated)
	PermitChecks       int // get_permit_user_list answers
	PermitChecksFailed int
	PermitUsers        int // in the last permit list; -1 before the first
	ConsentCalls       int // check_single_agree and check_room_agree answers
	ConsentCallsFailed int
	ConsentPairs       int // employee–contact pairs asked about
	ConsentRefusals    int // Disagree answers

	// externalcontact/groupchat/get (with Contact), asked for the rooms
	// groupchat/get could not describe: the groups it described, its "not
	// a customer group" answers, and its failures (token, permission,
	// transport…), which concern every customer group.
	CustomerGroupLookups       int
	CustomerGroupNotFound      int
	CustomerGroupLookupsFailed int
}

// apiState is the REST side's per-run memory: caches, work queued by
// pulls, the rate limiter. Queues are sets, so a busy room costs one
// lookup however many messages it has.
type apiState struct {
	round sync.Mutex // one SyncAPI at a time

	mu        sync.Mutex
	rooms     map[string]*roomEntry
	wantRooms map[string]archive.Time // room → earliest sent time of its messages waiting for the name
	// retryRooms are rooms whose name could not be learnt (a transient
	// failure) or journaled, with the earliest sent time of their
	// messages: asked again when their entry is due, whether or not the
	// room gets new messages (a quiet room must not stay nameless).
	retryRooms  map[string]archive.Time
	pairDue     map[api.Pair]time.Time // when a pair's consent is to be asked again
	wantPairs   map[api.Pair]bool
	roomDue     map[string]time.Time // the same for check_room_agree
	wantRoomAgr map[string]bool
	permitDue   time.Time
	nextCall    time.Time // rate limiter, wall clock
	stats       APIStats
	wake        chan struct{}
}

type roomEntry struct {
	room *api.Room // nil until a lookup succeeded
	due  time.Time // when to look it up again
}

func newAPIState() *apiState {
	return &apiState{rooms: map[string]*roomEntry{}, wantRooms: map[string]archive.Time{}, retryRooms: map[string]archive.Time{},
		pairDue: map[api.Pair]time.Time{}, wantPairs: map[api.Pair]bool{},
		roomDue: map[string]time.Time{}, wantRoomAgr: map[string]bool{},
		stats: APIStats{PermitUsers: -1}, wake: make(chan struct{}, 1)}
}

func (o *APIOptions) defaults() {
	if o.RoomRefresh <= 0 {
		o.RoomRefresh = DefaultRoomRefresh
	}
	if o.PermitInterval <= 0 {
		o.PermitInterval = DefaultPermitInterval
	}
	if o.ConsentRefresh <= 0 {
		o.ConsentRefresh = DefaultConsentRefresh
	}
	if o.MinInterval == 0 {
		o.MinInterval = DefaultAPIMinInterval
	}
	if o.ConsentBatch <= 0 || o.ConsentBatch > maxConsentBatch {
		o.ConsentBatch = DefaultConsentBatch
	}
}

func (c *Connector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return c.Engine.Now()
}

func (c *Connector) resolve(ctx context.Context, kind, subject, detail string) {
	if c.Health != nil {
		c.Health.Resolve(ctx, c.ID, kind, subject, detail, "connector:"+c.ID)
	}
}

// APIStats reports what the REST side did since the connector started.
func (c *Connector) APIStats() APIStats {
	if c.api == nil {
		return APIStats{PermitUsers: -1}
	}
	c.api.mu.Lock()
	defer c.api.mu.Unlock()
	return c.api.stats
}

// Room returns what groupchat/get — or externalcontact/groupchat/get, for
// a customer group (room.Call says which) — last said of a room in this
// run (ok false when neither has answered for it).
func (c *Connector) Room(roomID string) (room api.Room, ok bool) {
	if c.api == nil {
		return room, false
	}
	c.api.mu.Lock()
	defer c.api.mu.Unlock()
	if e := c.api.rooms[roomID]; e != nil && e.room != nil {
		room = *e.room
		room.Members = slices.Clone(e.room.Members)
		return room, true
	}
	return room, false
}

// queueAPI notes, for the REST side, the rooms and the employee–contact
// pairs of messages that are now durable. It makes no call: message
// capture never waits for the REST API.
func (c *Connector) queueAPI(items []ingest.Item, out []ingest.Result) {
	if c.API == nil {
		return
	}
	now := c.now()
	s := c.api
	s.mu.Lock()
	queued := false
	for i, it := range items {
		m := it.Message
		if m == nil || it.Reject != nil || (i < len(out) && out[i].Outcome == ingest.Rejected) {
			continue
		}
		switch m.ConversationKind {
		case archive.ConversationGroup:
			room := m.Conversation
			if e := s.rooms[room]; e != nil && now.Before(e.due) {
				if e.room != nil {
					s.stats.RoomCacheHits++
				}
			} else {
				if t, ok := s.wantRooms[room]; !ok || m.SentAt.Before(t.Time) {
					s.wantRooms[room] = m.SentAt
				}
				queued = true
			}
			if hasExternal(m.Participants) && !now.Before(s.roomDue[room]) {
				s.wantRoomAgr[room] = true
				queued = true
			}
		case archive.ConversationDirect:
			for _, p := range consentPairs(m.Participants) {
				if !now.Before(s.pairDue[p]) {
					s.wantPairs[p] = true
					queued = true
				}
			}
		}
	}
	s.mu.Unlock()
	if queued {
		select {
		case s.wake <- struct{}{}:
		default: // a round is already due
		}
	}
}

func hasExternal(ps []archive.Participant) bool {
	for _, p := range ps {
		if p.Kind == archive.ParticipantExternal {
			return true
		}
	}
	return false
}

// consentPairs pairs each employee of a direct conversation with each
// external contact in it: consent is given per such pair.
func consentPairs(ps []archive.Participant) []api.Pair {
	var out []api.Pair
	for _, e := range ps {
		if e.Kind != archive.ParticipantEmployee {
			continue
		}
		for _, x := range ps {
			if x.Kind == archive.ParticipantExternal {
				out = append(out, api.Pair{UserID: e.ID, ExternalID: x.ID})
			}
		}
	}
	return out
}

// runAPI makes the REST calls in the background until ctx ends: whenever
// a pull queued work, and every minute for what falls due (the permit
// list, retries).
func (c *Connector) runAPI(ctx context.Context) {
	for ctx.Err() == nil {
		c.SyncAPI(ctx)
		select {
		case <-ctx.Done():
		case <-c.api.wake:
		case <-time.After(apiTick):
		}
	}
}

// SyncAPI makes the REST calls that are due: the permit list when its
// interval has passed, then the names of rooms and the consent of
// contacts that pulls queued. Run calls it in the background; it is
// exported for callers that pull without Run (and for tests). Failures
// are logged, counted and retried later, never returned: the REST API
// enriches capture and must never stop it.
func (c *Connector) SyncAPI(ctx context.Context) APIStats {
	c.defaults()
	if c.API == nil {
		return c.APIStats()
	}
	c.api.round.Lock()
	defer c.api.round.Unlock()
	c.checkPermits(ctx)
	c.lookupRooms(ctx)
	c.checkRoomConsent(ctx)
	c.checkPairConsent(ctx)
	return c.APIStats()
}

// apiWait spaces REST calls by MinInterval. It paces real network calls,
// so it uses the wall clock, not the injected one.
func (c *Connector) apiWait(ctx context.Context) error {
	if c.APIOptions.MinInterval < 0 {
		return ctx.Err()
	}
	s := c.api
	s.mu.Lock()
	now := time.Now()
	at := s.nextCall
	if at.Before(now) {
		at = now
	}
	s.nextCall = at.Add(c.APIOptions.MinInterval)
	s.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter is when to ask again after a failed call: an answer from
// WeCom (not an internal room, no permission…) stands for the normal
// interval; a transport failure or a busy service is retried soon.
func retryAfter(err error, normal time.Duration) time.Duration {
	var ae *api.APIError
	if errors.As(err, &ae) && ae.Code != api.CodeBusy {
		return normal
	}
	return min(DefaultAPIRetry, normal)
}

// checkPermits reads the permit list when due and raises
// permit_user_missing for every expected employee not in it (resolving
// it for those who are): an employee missing there is not archived at
// all, and nothing else would ever say so.
func (c *Connector) checkPermits(ctx context.Context) {
	s, o := c.api, &c.APIOptions
	s.mu.Lock()
	due := !c.now().Before(s.permitDue)
	s.mu.Unlock()
	if !due || c.apiWait(ctx) != nil {
		return
	}
	ids, err := c.API.PermitUsers(ctx, 0)
	now := c.now()
	s.mu.Lock()
	if err != nil {
		s.permitDue = now.Add(min(DefaultAPIRetry, o.PermitInterval))
		s.stats.PermitChecksFailed++
	} else {
		s.permitDue = now.Add(o.PermitInterval)
		s.stats.PermitChecks++
		s.stats.PermitUsers = len(ids)
	}
	s.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.Logger.Warn("msgaudit permit list not read", "connector", c.ID, "err", err)
		c.observe(ctx, capture.OutcomePermitCheckFailed)
		c.raise(ctx, capture.FaultPermitCheckFailed, "", fmt.Sprintf("msgaudit/get_permit_user_list failed, so employees missing from the permit list cannot be detected: %v", err))
		return
	}
	c.resolve(ctx, capture.FaultPermitCheckFailed, "", "the permit list was read")
	if g, ok := c.Health.(capture.PermitGauge); ok {
		g.SetPermitUsers(c.ID, len(ids))
	}
	permitted := make(map[string]bool, len(ids))
	for _, id := range ids {
		permitted[id] = true
	}
	for _, e := range o.ExpectedEmployees {
		if permitted[e] {
			c.resolve(ctx, capture.FaultPermitUserMissing, e, "in WeCom's conversation-archive permit list")
			continue
		}
		c.raise(ctx, capture.FaultPermitUserMissing, e, fmt.Sprintf(
			"%s is an expected employee but not in WeCom's conversation-archive permit list (%d users): their conversations are not archived; enable archiving for them in the WeCom admin console", e, len(ids)))
	}
}

type roomWant struct {
	id    string
	since archive.Time
}

// lookupRooms describes each queued room (describeRoom) and journals its
// name when the directory does not already say so. A failure leaves the
// room's messages archived without a name (they already are) and is
// retried later.
func (c *Connector) lookupRooms(ctx context.Context) {
	s, o := c.api, &c.APIOptions
	s.mu.Lock()
	now := c.now()
	for id, since := range s.retryRooms {
		if e := s.rooms[id]; e == nil || !now.Before(e.due) {
			if t, ok := s.wantRooms[id]; !ok || since.Before(t.Time) {
				s.wantRooms[id] = since
			}
			delete(s.retryRooms, id)
		}
	}
	want := make([]roomWant, 0, len(s.wantRooms))
	for id, t := range s.wantRooms {
		want = append(want, roomWant{id, t})
	}
	s.mu.Unlock()
	sort.Slice(want, func(i, j int) bool { return want[i].id < want[j].id })
	for _, w := range want {
		a, ok := c.describeRoom(ctx, w.id)
		if !ok {
			return
		}
		now := c.now()
		s.mu.Lock()
		delete(s.wantRooms, w.id)
		e := s.rooms[w.id]
		if e == nil {
			e = &roomEntry{}
			s.rooms[w.id] = e
		}
		if a.err != nil {
			e.due = now.Add(a.retry)
			s.stats.RoomLookupsFailed++
			if a.retry < o.RoomRefresh {
				// Transient (WeCom busy, the network): ask again when
				// due even if the room stays quiet. An answer that the
				// room cannot be described waits for its next message.
				s.retryLocked(w)
			}
		} else {
			e.room, e.due = a.room, now.Add(o.RoomRefresh)
			s.stats.RoomLookups++
			for _, m := range a.room.Members {
				if externalMember(m) && !now.Before(s.roomDue[w.id]) {
					s.wantRoomAgr[w.id] = true
				}
			}
		}
		if a.askedGroup {
			switch {
			case a.err == nil:
				s.stats.CustomerGroupLookups++
			case errors.Is(a.groupErr, fs.ErrNotExist):
				s.stats.CustomerGroupNotFound++
			default:
				s.stats.CustomerGroupLookupsFailed++
			}
		}
		s.mu.Unlock()
		if a.err != nil {
			attrs := []any{"connector", c.ID, "room", w.id, "err", a.err}
			if a.askedGroup {
				attrs = append(attrs, "customer_group_err", a.groupErr)
			}
			c.Logger.Warn("groupchat/get failed: the room's messages are archived without its name", attrs...)
			c.observe(ctx, capture.OutcomeRoomLookupFailed)
			if a.askedGroup && !errors.Is(a.groupErr, fs.ErrNotExist) {
				// Counted apart: a wrong contact secret or a missing
				// permission leaves every customer group unnamed.
				c.observe(ctx, capture.OutcomeCustomerGroupLookupFailed)
			}
			continue
		}
		recorded, err := c.recordRoomName(ctx, w.id, a.room.Name, w.since)
		if err != nil {
			c.Logger.Error("room name not journaled; it is asked again later", "connector", c.ID, "room", w.id, "err", err)
			s.mu.Lock()
			e.due = now.Add(DefaultAPIRetry)
			s.retryLocked(w)
			s.mu.Unlock()
			continue
		}
		if recorded {
			// The fact cannot say which call named the room; the log does.
			c.Logger.Info("room name journaled", "connector", c.ID, "room", w.id, "call", a.room.Call)
			s.mu.Lock()
			s.stats.RoomNames++
			s.mu.Unlock()
		}
	}
}

// retryLocked keeps a room to ask again when its entry is due (s.mu held).
func (s *apiState) retryLocked(w roomWant) {
	if t, ok := s.retryRooms[w.id]; !ok || w.since.Before(t.Time) {
		s.retryRooms[w.id] = w.since
	}
}

// roomAnswer is what describeRoom learnt of a room.
type roomAnswer struct {
	room       *api.Room     // nil when neither call described it
	err        error         // groupchat/get's failure, when room is nil
	askedGroup bool          // externalcontact/groupchat/get was asked
	groupErr   error         // and its failure
	retry      time.Duration // when to ask again after a failure
}

// describeRoom asks groupchat/get for a room and, when that cannot
// describe it (WeCom answers an errcode for a customer group; or any other
// failure) and Contact is set, externalcontact/groupchat/get. An internal
// room so costs one call, a customer group two. ok is false when ctx
// ended during a call: nothing was learnt.
func (c *Connector) describeRoom(ctx context.Context, id string) (a roomAnswer, ok bool) {
	o := &c.APIOptions
	if c.apiWait(ctx) != nil {
		return a, false
	}
	a.room, a.err = c.API.GroupChat(ctx, id)
	if a.err == nil {
		return a, true
	}
	if ctx.Err() != nil {
		return a, false
	}
	a.retry = retryAfter(a.err, o.RoomRefresh)
	if c.Contact == nil {
		return a, true
	}
	if c.apiWait(ctx) != nil {
		return a, false
	}
	a.askedGroup = true
	g, err := c.Contact.CustomerGroup(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return a, false
		}
		a.groupErr = err
		a.retry = min(a.retry, retryAfter(err, o.RoomRefresh))
		return a, true
	}
	a.room, a.err = g.Room(), nil
	return a, true
}

// externalMember: a customer group says who is an external contact; an
// internal room's member list gives ids only, classified like a message's.
func externalMember(m api.RoomMember) bool {
	if m.Type != 0 {
		return m.Type == api.MemberExternal
	}
	return msgaudit.ClassifyParticipant(m.ID) == archive.ParticipantExternal
}

// farFuture finds the latest directory fact of an id.
var farFuture = archive.At(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))

// recordRoomName journals a room's name as a participant.updated fact
// unless the directory's latest fact already says the same. The fact is
// valid from the earliest message captured with it (since) — the name is
// what WeCom said when those messages were captured — but never before
// the previous fact, so history stays in order. A rename is therefore
// noticed within RoomRefresh.
func (c *Connector) recordRoomName(ctx context.Context, roomID, name string, since archive.Time) (bool, error) {
	if name == "" { // WeCom rooms may have no name: nothing to record
		return false, nil
	}
	latest, ok, err := c.Store.Directory(ctx, roomID, farFuture)
	if err != nil {
		return false, err
	}
	if ok && latest.Kind == ParticipantRoom && latest.Name == name {
		return false, nil
	}
	from := since
	if ok && from.Before(latest.ValidFrom.Time) {
		from = latest.ValidFrom
	}
	ev, err := journal.NewEvent(archive.EventParticipantUpdated, "connector:"+c.ID, archive.Time{}, nil,
		&archive.ParticipantEvent{ID: roomID, Kind: ParticipantRoom, Name: name, ValidFrom: from})
	if err != nil {
		return false, err
	}
	if _, err := c.Engine.Append(ctx, ev); err != nil {
		return false, err
	}
	return true, nil
}

// refused reports a consent answer that is neither agreement nor silence
// ("Disagree", or a status WeCom may add later: unknown is not consent).
func refused(a api.Agreement) bool { return a.Status != "" && !a.Agreed }

// raiseRefusals counts the refusals among a consent call's answers and
// raises consent_withdrawn for each; where says in which conversation.
func (c *Connector) raiseRefusals(ctx context.Context, call string, ags []api.Agreement, where func(api.Agreement) string) {
	for _, a := range ags {
		if !refused(a) {
			continue
		}
		c.api.mu.Lock()
		c.api.stats.ConsentRefusals++
		c.api.mu.Unlock()
		when := ""
		if a.ChangedAt.Unix() > 0 {
			when = " since " + a.ChangedAt.UTC().Format(time.RFC3339)
		}
		c.raise(ctx, capture.FaultConsentWithdrawn, a.ExternalID, fmt.Sprintf(
			"%s refused or withdrew consent to archiving (%s: %q%s, %s); their conversations are no longer captured", a.ExternalID, call, a.Status, when, where(a)))
	}
}

// checkRoomConsent asks check_room_agree for each queued room with
// external members. A refusal raises consent_withdrawn, as a disagree
// message does; it is never resolved here, because the messages of the
// refused period are lost whatever the contact says later — a person
// resolves it.
func (c *Connector) checkRoomConsent(ctx context.Context) {
	s, o := c.api, &c.APIOptions
	s.mu.Lock()
	rooms := make([]string, 0, len(s.wantRoomAgr))
	for id := range s.wantRoomAgr {
		rooms = append(rooms, id)
	}
	s.mu.Unlock()
	sort.Strings(rooms)
	for _, id := range rooms {
		if c.apiWait(ctx) != nil {
			return
		}
		ags, err := c.API.CheckRoomAgree(ctx, id)
		if err != nil && ctx.Err() != nil {
			return
		}
		now := c.now()
		s.mu.Lock()
		delete(s.wantRoomAgr, id)
		if err != nil {
			s.roomDue[id] = now.Add(retryAfter(err, o.ConsentRefresh))
			s.stats.ConsentCallsFailed++
		} else {
			s.roomDue[id] = now.Add(o.ConsentRefresh)
			s.stats.ConsentCalls++
		}
		s.mu.Unlock()
		if err != nil {
			c.Logger.Warn("check_room_agree failed; asked again later", "connector", c.ID, "room", id, "err", err)
			c.observe(ctx, capture.OutcomeConsentCheckFailed)
			continue
		}
		c.raiseRefusals(ctx, "msgaudit/check_room_agree", ags, func(api.Agreement) string { return "in room " + id })
	}
}

// checkPairConsent asks check_single_agree for the queued pairs, batched.
func (c *Connector) checkPairConsent(ctx context.Context) {
	s, o := c.api, &c.APIOptions
	s.mu.Lock()
	pairs := make([]api.Pair, 0, len(s.wantPairs))
	for p := range s.wantPairs {
		pairs = append(pairs, p)
	}
	s.mu.Unlock()
	sort.Slice(pairs, func(i, j int) bool {
		return pairs[i].UserID < pairs[j].UserID || (pairs[i].UserID == pairs[j].UserID && pairs[i].ExternalID < pairs[j].ExternalID)
	})
	for len(pairs) > 0 {
		batch := pairs[:min(len(pairs), o.ConsentBatch)]
		pairs = pairs[len(batch):]
		if c.apiWait(ctx) != nil {
			return
		}
		ags, err := c.API.CheckSingleAgree(ctx, batch)
		if err != nil && ctx.Err() != nil {
			return
		}
		now := c.now()
		s.mu.Lock()
		due := now.Add(o.ConsentRefresh)
		if err != nil {
			due = now.Add(retryAfter(err, o.ConsentRefresh))
			s.stats.ConsentCallsFailed++
		} else {
			s.stats.ConsentCalls++
			s.stats.ConsentPairs += len(batch)
		}
		for _, p := range batch {
			delete(s.wantPairs, p)
			s.pairDue[p] = due
		}
		s.mu.Unlock()
		if err != nil {
			c.Logger.Warn("check_single_agree failed; asked again later", "connector", c.ID, "pairs", len(batch), "err", err)
			c.observe(ctx, capture.OutcomeConsentCheckFailed)
			continue
		}
		c.raiseRefusals(ctx, "msgaudit/check_single_agree", ags, func(a api.Agreement) string {
			if a.UserID == "" {
				return "with an employee"
			}
			return "with " + a.UserID
		})
	}
}
