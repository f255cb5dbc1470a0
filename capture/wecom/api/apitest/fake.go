// Package apitest is an in-process fake of the WeCom / Official Account
// server APIs that package api calls, for tests: it issues tokens (per
// secret, each secret allowed its own calls), serves media by id, and
// answers the msgaudit REST calls and externalcontact/groupchat/get, with
// the same error envelopes ({"errcode", "errmsg"}) as the real service.
package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
)

// Fake is a fake API server. Set its fields before use; they are read
// under its lock.
type Fake struct {
	*httptest.Server
	ID, Secret string // accepted credentials (corpid/corpsecret or appid/secret)

	mu         sync.Mutex
	tokens     map[string]*token
	tokenSeq   int
	media      map[string][]byte
	permit     []string
	agree      map[string]string // userid|external → agree_status
	roomAgree  map[string][]map[string]any
	rooms      map[string]map[string]any
	failMedia  map[string]int // media id → errcode to answer with
	failCall   map[string]int // call → errcode to answer with
	calls      map[string]int64
	batches    []int // pairs per check_single_agree, in order
	kfPages    []kfPage
	KFTokens   []string // tokens sync_msg calls carried, in order
	TokenCalls atomic.Int64
	MediaCalls atomic.Int64

	scopes      map[string]map[string]bool // accepted secrets besides Secret (AddSecret) → the calls their tokens may make (nil: any)
	tokenCalls  map[string]int64           // corpsecret (or secret) → gettoken requests
	groups      map[string]customerGroup
	groupBodies []map[string]any // externalcontact/groupchat/get request bodies, in order

	// LegacyField answers consent with the documented misspelt
	// "exteranalopenid" instead of external_userid.
	LegacyField bool
}

// New starts a fake for the given credentials.
func New(id, secret string) *Fake {
	f := &Fake{ID: id, Secret: secret, tokens: map[string]*token{}, media: map[string][]byte{},
		agree: map[string]string{}, roomAgree: map[string][]map[string]any{}, rooms: map[string]map[string]any{},
		failMedia: map[string]int{}, failCall: map[string]int{}, calls: map[string]int64{},
		scopes: map[string]map[string]bool{}, tokenCalls: map[string]int64{}, groups: map[string]customerGroup{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/gettoken", f.gettoken)
	mux.HandleFunc("GET /cgi-bin/token", f.gettoken)
	mux.HandleFunc("GET /cgi-bin/media/get", f.mediaGet)
	for call, h := range map[string]func(http.ResponseWriter, map[string]any){
		CallPermitUsers: f.permitUsers, CallCheckSingleAgree: f.checkSingle, CallCheckRoomAgree: f.checkRoom,
		CallGroupChat: f.groupChat, CallKFSyncMsg: f.kfSync, CallCustomerGroup: f.customerGroup,
	} {
		mux.HandleFunc("POST /cgi-bin/"+call, f.authed(call, h))
	}
	f.Server = httptest.NewServer(mux)
	return f
}

// JSON calls the fake answers, named as api.APIError.Call names them (the
// path after /cgi-bin/). Calls and FailCall take these names.
const (
	CallPermitUsers      = "msgaudit/get_permit_user_list"
	CallCheckSingleAgree = "msgaudit/check_single_agree"
	CallCheckRoomAgree   = "msgaudit/check_room_agree"
	CallGroupChat        = "msgaudit/groupchat/get"
	CallKFSyncMsg        = "kf/sync_msg"
	CallCustomerGroup    = "externalcontact/groupchat/get"
	callMedia            = "media/get" // for scopes only
)

// CodeAPIForbidden is WeCom's answer to a token whose app may not make
// the call (48002, "api forbidden").
const CodeAPIForbidden = 48002

type token struct {
	valid  bool
	secret string
}

// AddSecret makes the fake accept another secret of the corp — a
// customer-contact (客户联系) secret beside the conversation-archive one,
// say — and limits what its tokens may call to calls (none: anything;
// media downloads are "media/get"). WeCom issues a token per secret and
// answers 48002 to a call the secret's app has no permission for; the
// fake does the same. AddSecret(f.Secret, …) limits the main secret.
func (f *Fake) AddSecret(secret string, calls ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var scope map[string]bool
	if len(calls) > 0 {
		scope = map[string]bool{}
		for _, c := range calls {
			scope[c] = true
		}
	}
	f.scopes[secret] = scope
}

// TokenCallsFor reports how many gettoken requests carried secret
// (refused ones included); TokenCalls counts them all.
func (f *Fake) TokenCallsFor(secret string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls[secret]
}

// Calls reports how many requests a JSON call received (a request the
// fake refused for its token counts too: it was a call).
func (f *Fake) Calls(call string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

// FailCall makes every later request of call answer errcode code (with a
// valid token); code 0 makes it answer normally again.
func (f *Fake) FailCall(call string, code int) {
	f.mu.Lock()
	if code == 0 {
		delete(f.failCall, call)
	} else {
		f.failCall[call] = code
	}
	f.mu.Unlock()
}

// SingleAgreeBatches returns the number of pairs each check_single_agree
// request asked about, in order.
func (f *Fake) SingleAgreeBatches() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.batches...)
}

// AddMedia makes data downloadable under id.
func (f *Fake) AddMedia(id string, data []byte) {
	f.mu.Lock()
	f.media[id] = data
	f.mu.Unlock()
}

// FailMedia makes downloads of id answer errcode code.
func (f *Fake) FailMedia(id string, code int) {
	f.mu.Lock()
	f.failMedia[id] = code
	f.mu.Unlock()
}

// ExpireTokens makes every issued token invalid (errcode 42001 on use).
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	for _, t := range f.tokens {
		t.valid = false
	}
	f.mu.Unlock()
}

// SetPermitUsers sets the employees licensed for archiving.
func (f *Fake) SetPermitUsers(ids ...string) {
	f.mu.Lock()
	f.permit = ids
	f.mu.Unlock()
}

// SetAgree sets the consent status of an employee–external pair.
func (f *Fake) SetAgree(userID, externalID, status string) {
	f.mu.Lock()
	f.agree[userID+"|"+externalID] = status
	f.mu.Unlock()
}

// SetRoom sets a room's details and its external members' consent.
func (f *Fake) SetRoom(roomID, name, creator string, members map[string]int64, agree map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ms []map[string]any
	for id, t := range members {
		ms = append(ms, map[string]any{"memberid": id, "jointime": t})
	}
	f.rooms[roomID] = map[string]any{"roomname": name, "creator": creator, "room_create_time": 1600000000, "notice": "", "members": ms}
	var ag []map[string]any
	for ext, st := range agree {
		ag = append(ag, f.agreeEntry("", ext, st))
	}
	f.roomAgree[roomID] = ag
}

// SetRoomAgree sets the consent check_room_agree answers for a room
// without making it an internal room (a customer group's, say).
func (f *Fake) SetRoomAgree(roomID string, agree map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ag []map[string]any
	for ext, st := range agree {
		ag = append(ag, f.agreeEntry("", ext, st))
	}
	f.roomAgree[roomID] = ag
}

func (f *Fake) agreeEntry(userID, ext, status string) map[string]any {
	e := map[string]any{"status_change_time": 1600000000, "agree_status": status}
	if userID != "" {
		e["userid"] = userID
	}
	if f.LegacyField {
		e["exteranalopenid"] = ext
	} else {
		e["external_userid"] = ext
	}
	return e
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func apiErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg})
}

func (f *Fake) gettoken(w http.ResponseWriter, r *http.Request) {
	f.TokenCalls.Add(1)
	q := r.URL.Query()
	id, secret := q.Get("corpid"), q.Get("corpsecret")
	if r.URL.Path == "/cgi-bin/token" {
		id, secret = q.Get("appid"), q.Get("secret")
		if q.Get("grant_type") != "client_credential" {
			apiErr(w, 40002, "invalid grant_type")
			return
		}
	}
	f.mu.Lock()
	f.tokenCalls[secret]++
	_, extra := f.scopes[secret]
	f.mu.Unlock()
	if id != f.ID {
		apiErr(w, 40013, "invalid corpid")
		return
	}
	if secret != f.Secret && !extra {
		apiErr(w, 40001, "invalid credential")
		return
	}
	f.mu.Lock()
	f.tokenSeq++
	tok := fmt.Sprintf("tok-%d", f.tokenSeq)
	f.tokens[tok] = &token{valid: true, secret: secret}
	f.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": 7200})
}

// tokenOK answers the token error itself when the token is bad, or
// 48002 when its secret may not make call.
func (f *Fake) tokenOK(w http.ResponseWriter, r *http.Request, call string) bool {
	f.mu.Lock()
	t := f.tokens[r.URL.Query().Get("access_token")]
	var allowed bool
	if t != nil {
		scope := f.scopes[t.secret]
		allowed = scope == nil || scope[call]
	}
	f.mu.Unlock()
	switch {
	case t == nil:
		apiErr(w, 40014, "invalid access_token")
	case !t.valid:
		apiErr(w, 42001, "access_token expired")
	case !allowed:
		apiErr(w, CodeAPIForbidden, "api forbidden")
	default:
		return true
	}
	return false
}

func (f *Fake) authed(call string, h func(http.ResponseWriter, map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[call]++
		code := f.failCall[call]
		f.mu.Unlock()
		if !f.tokenOK(w, r, call) {
			return
		}
		if code != 0 {
			apiErr(w, code, "injected failure")
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			apiErr(w, 47001, "data format error")
			return
		}
		h(w, body)
	}
}

func (f *Fake) mediaGet(w http.ResponseWriter, r *http.Request) {
	f.MediaCalls.Add(1)
	if !f.tokenOK(w, r, callMedia) {
		return
	}
	id := r.URL.Query().Get("media_id")
	f.mu.Lock()
	data, ok := f.media[id]
	code := f.failMedia[id]
	f.mu.Unlock()
	if code != 0 {
		apiErr(w, code, "media failure")
		return
	}
	if !ok {
		apiErr(w, 40007, "invalid media_id")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`"`)
	w.Write(data)
}

func (f *Fake) permitUsers(w http.ResponseWriter, _ map[string]any) {
	f.mu.Lock()
	ids := append([]string{}, f.permit...)
	f.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "ids": ids})
}

func (f *Fake) checkSingle(w http.ResponseWriter, body map[string]any) {
	infos, _ := body["info"].([]any)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, len(infos))
	var out []map[string]any
	for _, x := range infos {
		m, _ := x.(map[string]any)
		u, _ := m["userid"].(string)
		e, _ := m["exteranalopenid"].(string)
		if st, ok := f.agree[u+"|"+e]; ok {
			out = append(out, f.agreeEntry(u, e, st))
		}
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "agreeinfo": out})
}

func (f *Fake) checkRoom(w http.ResponseWriter, body map[string]any) {
	id, _ := body["roomid"].(string)
	f.mu.Lock()
	ag, ok := f.roomAgree[id]
	f.mu.Unlock()
	if !ok {
		apiErr(w, 301052, "roomid not exist")
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "agreeinfo": ag})
}

func (f *Fake) groupChat(w http.ResponseWriter, body map[string]any) {
	id, _ := body["roomid"].(string)
	f.mu.Lock()
	room, ok := f.rooms[id]
	f.mu.Unlock()
	if !ok {
		apiErr(w, 301052, "roomid not exist")
		return
	}
	out := map[string]any{"errcode": 0, "errmsg": "ok"}
	for k, v := range room {
		out[k] = v
	}
	writeJSON(w, out)
}

type kfPage struct {
	msgs    []json.RawMessage
	hasMore bool
}

// AddKFPage appends a page to the customer-service message stream: the
// page after cursor "pN" is page N (the first page has no cursor).
func (f *Fake) AddKFPage(msgs []json.RawMessage, hasMore bool) {
	f.mu.Lock()
	f.kfPages = append(f.kfPages, kfPage{msgs, hasMore})
	f.mu.Unlock()
}

// Tokens returns the tokens sync_msg calls carried so far ("" for none),
// safe to call while the fake serves.
func (f *Fake) Tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.KFTokens)
}

func (f *Fake) kfSync(w http.ResponseWriter, body map[string]any) {
	cursor, _ := body["cursor"].(string)
	token, _ := body["token"].(string)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.KFTokens = append(f.KFTokens, token)
	n := 0
	if cursor != "" {
		if _, err := fmt.Sscanf(cursor, "p%d", &n); err != nil {
			apiErr(w, 95000, "invalid cursor")
			return
		}
	}
	if n >= len(f.kfPages) {
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "has_more": 0, "msg_list": []any{}})
		return
	}
	p := f.kfPages[n]
	more := 0
	if p.hasMore {
		more = 1
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": fmt.Sprintf("p%d", n+1), "has_more": more, "msg_list": p.msgs})
}

// GroupMember is a member of a customer group in the fake.
type GroupMember struct {
	UserID        string
	Type          int // 1 employee, 2 external contact
	Name          string
	GroupNickname string
	JoinTime      int64
	Invitor       string // "" for none
}

type customerGroup struct {
	name, owner string
	members     []GroupMember
}

// SetCustomerGroup sets (or renames) a customer group (客户群) that
// externalcontact/groupchat/get describes; a chat id it was not given is
// answered with 86001 (invalid chat id), as an internal room's is.
func (f *Fake) SetCustomerGroup(chatID, name, owner string, members ...GroupMember) {
	f.mu.Lock()
	f.groups[chatID] = customerGroup{name, owner, append([]GroupMember(nil), members...)}
	f.mu.Unlock()
}

// CustomerGroupRequests returns the bodies externalcontact/groupchat/get
// received with a valid token, in order.
func (f *Fake) CustomerGroupRequests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.groupBodies...)
}

func (f *Fake) customerGroup(w http.ResponseWriter, body map[string]any) {
	id, _ := body["chat_id"].(string)
	needName, _ := body["need_name"].(float64)
	f.mu.Lock()
	f.groupBodies = append(f.groupBodies, body)
	g, ok := f.groups[id]
	f.mu.Unlock()
	if !ok {
		apiErr(w, 86001, "invalid chatid")
		return
	}
	members := []map[string]any{}
	for _, m := range g.members {
		e := map[string]any{"userid": m.UserID, "type": m.Type, "join_time": m.JoinTime, "join_scene": 1, "group_nickname": m.GroupNickname}
		if m.Invitor != "" {
			e["invitor"] = map[string]any{"userid": m.Invitor}
		}
		if m.Type == 2 {
			e["unionid"] = "oAAAA" + m.UserID
		}
		if needName == 1 { // WeCom gives names only when asked
			e["name"] = m.Name
		}
		members = append(members, e)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "group_chat": map[string]any{
		"chat_id": id, "name": g.name, "owner": g.owner, "create_time": 1572505490, "notice": "",
		"member_list": members, "admin_list": []map[string]any{{"userid": g.owner}}}})
}
