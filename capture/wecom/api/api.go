// Package api is a client for the WeCom (qyapi.weixin.qq.com) and WeChat
// Official Account (api.weixin.qq.com) server APIs the capture connectors
// need: access tokens (cached, refreshed before they expire and when the
// server says they are invalid), temporary media by media id, and the
// conversation-archive (msgaudit) REST calls — permitted users, consent of
// single and room conversations, and room details — and the description of
// customer groups (externalcontact/groupchat/get), which needs another
// secret and so another Client.
//
// Secrets (the app secret and the access token) never appear in errors or
// logs: the token travels in the query string, so every transport error is
// reported without the URL.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Flavor says which platform a client talks to: they differ in how a
// token is obtained.
type Flavor string

// Flavors.
const (
	WeCom           Flavor = "wecom"            // GET /cgi-bin/gettoken?corpid&corpsecret
	OfficialAccount Flavor = "official-account" // GET /cgi-bin/token?grant_type=client_credential&appid&secret
)

// Default endpoints.
const (
	WeComBaseURL = "https://qyapi.weixin.qq.com"
	OABaseURL    = "https://api.weixin.qq.com"
)

// Error codes the client acts on (WeCom and WeChat share them).
const (
	CodeInvalidToken   = 40014
	CodeTokenExpired   = 42001
	CodeInvalidMediaID = 40007
	CodeBusy           = -1
	CodeInvalidCredit  = 40001
)

// APIError is an errcode other than 0. It carries no secret.
type APIError struct {
	Call    string // e.g. "media/get"
	Code    int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wecom %s: errcode %d: %s", e.Call, e.Code, e.Message)
}

// Is makes "not found here" match fs.ErrNotExist: an invalid media id,
// as ingest.MediaSource requires of "the source does not have it", and a
// chat externalcontact/groupchat/get will not describe.
func (e *APIError) Is(target error) bool {
	if target != fs.ErrNotExist {
		return false
	}
	switch {
	case e.Code == CodeInvalidMediaID:
		return true
	case e.Call == CallCustomerGroup:
		return e.Code == CodeInvalidChatID || e.Code == CodeChatNotFound || e.Code == CodeNoInteropLicense
	}
	return false
}

// Client calls one app's API. Safe for concurrent use.
type Client struct {
	Flavor  Flavor
	BaseURL string // WeComBaseURL or OABaseURL when empty
	ID      string // CorpID (WeCom) or AppID (Official Account)
	Secret  string // the app's secret; never logged
	HTTP    *http.Client
	Now     func() time.Time
	// MaxMediaBytes bounds one media download (default 1 GiB).
	MaxMediaBytes int64

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (c *Client) base() string {
	switch {
	case c.BaseURL != "":
		return strings.TrimRight(c.BaseURL, "/")
	case c.Flavor == OfficialAccount:
		return OABaseURL
	}
	return WeComBaseURL
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// do sends a request and returns the response; transport errors are
// stripped of the URL (which holds the token or secret).
func (c *Client) do(ctx context.Context, call, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := c.base() + path + "?" + q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("wecom %s: %v", call, redact(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("wecom %s: %w", call, redact(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("wecom %s: HTTP %d", call, resp.StatusCode)
	}
	return resp, nil
}

// redact drops the URL from a *url.Error, keeping its cause.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// status is the envelope every JSON answer has.
type status struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// Token returns a valid access token, fetching one when the cached token is
// missing or within five minutes of expiring.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	q := url.Values{}
	path := "/cgi-bin/gettoken"
	if c.Flavor == OfficialAccount {
		path = "/cgi-bin/token"
		q.Set("grant_type", "client_credential")
		q.Set("appid", c.ID)
		q.Set("secret", c.Secret)
	} else {
		q.Set("corpid", c.ID)
		q.Set("corpsecret", c.Secret)
	}
	resp, err := c.do(ctx, "gettoken", http.MethodGet, path, q, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		status
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return "", fmt.Errorf("wecom gettoken: bad answer: %v", err)
	}
	if r.ErrCode != 0 {
		return "", &APIError{Call: "gettoken", Code: r.ErrCode, Message: r.ErrMsg}
	}
	if r.AccessToken == "" || r.ExpiresIn <= 0 {
		return "", errors.New("wecom gettoken: answer without access_token or expires_in")
	}
	// Refresh five minutes early (never less than half the lifetime), so a
	// token is not used across its expiry.
	margin := min(5*time.Minute, time.Duration(r.ExpiresIn)*time.Second/2)
	c.token, c.expires = r.AccessToken, c.now().Add(time.Duration(r.ExpiresIn)*time.Second-margin)
	return c.token, nil
}

// invalidate forgets a token the server refused (only if it is still the
// cached one: another call may have refreshed it already).
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

func tokenRefused(code int) bool {
	return code == CodeInvalidToken || code == CodeTokenExpired || code == CodeInvalidCredit
}

// postJSON calls a JSON API with the access token, retrying once with a
// fresh token when the server refuses the cached one.
func (c *Client) postJSON(ctx context.Context, call, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return err
		}
		resp, err := c.do(ctx, call, http.MethodPost, path, url.Values{"access_token": {tok}}, body)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("wecom %s: %v", call, redact(err))
		}
		var st status
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("wecom %s: bad answer: %v", call, err)
		}
		if tokenRefused(st.ErrCode) && attempt == 0 {
			c.invalidate(tok)
			continue
		}
		if st.ErrCode != 0 {
			return &APIError{Call: call, Code: st.ErrCode, Message: st.ErrMsg}
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("wecom %s: bad answer: %v", call, err)
		}
		return nil
	}
}

// Fetch downloads temporary media (valid three days after upload) by media
// id: GET /cgi-bin/media/get. An unknown or expired id matches
// fs.ErrNotExist. It implements ingest.MediaSource.
func (c *Client) Fetch(ctx context.Context, mediaID string) ([]byte, error) {
	limit := c.MaxMediaBytes
	if limit <= 0 {
		limit = 1 << 30
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.do(ctx, "media/get", http.MethodGet, "/cgi-bin/media/get", url.Values{"access_token": {tok}, "media_id": {mediaID}}, nil)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("wecom media/get: %v", redact(err))
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("wecom media/get: media is over the %d-byte limit", limit)
		}
		// Errors come back as JSON where the media would be.
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" || mt == "text/plain" {
			var st status
			if json.Unmarshal(data, &st) == nil && st.ErrCode != 0 {
				if tokenRefused(st.ErrCode) && attempt == 0 {
					c.invalidate(tok)
					continue
				}
				return nil, &APIError{Call: "media/get", Code: st.ErrCode, Message: st.ErrMsg}
			}
		}
		return data, nil
	}
}

// PermitUsers lists the employees whose conversations the archive is
// licensed to capture (msgaudit/get_permit_user_list). kind 0 asks for
// all; 1 office, 2 service, 3 enterprise editions.
func (c *Client) PermitUsers(ctx context.Context, kind int) ([]string, error) {
	in := map[string]any{}
	if kind != 0 {
		in["type"] = kind
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	err := c.postJSON(ctx, "msgaudit/get_permit_user_list", "/cgi-bin/msgaudit/get_permit_user_list", in, &out)
	return out.IDs, err
}

// Agreement is an external contact's consent state for archiving.
type Agreement struct {
	UserID     string    // employee (single conversations)
	ExternalID string    // external_userid
	Agreed     bool      // agree_status "Agree" (else "Disagree" or "Default_Agree"…)
	Status     string    // agree_status as sent
	ChangedAt  time.Time // status_change_time
}

type agreeInfo struct {
	StatusChangeTime int64  `json:"status_change_time"`
	UserID           string `json:"userid"`
	// The documented field name is misspelt "exteranalopenid"; newer
	// answers use external_userid. Accept both.
	Exteranal    string `json:"exteranalopenid"`
	ExternalUser string `json:"external_userid"`
	AgreeStatus  string `json:"agree_status"`
}

func (a agreeInfo) agreement() Agreement {
	ext := a.ExternalUser
	if ext == "" {
		ext = a.Exteranal
	}
	return Agreement{UserID: a.UserID, ExternalID: ext, Status: a.AgreeStatus,
		Agreed:    a.AgreeStatus == "Agree" || a.AgreeStatus == "Default_Agree",
		ChangedAt: time.Unix(a.StatusChangeTime, 0).UTC()}
}

// Pair is an employee and an external contact of a single conversation.
type Pair struct {
	UserID     string
	ExternalID string
}

// CheckSingleAgree asks whether external contacts agreed to archiving of
// their conversations with employees (msgaudit/check_single_agree).
func (c *Client) CheckSingleAgree(ctx context.Context, pairs []Pair) ([]Agreement, error) {
	type info struct {
		UserID    string `json:"userid"`
		Exteranal string `json:"exteranalopenid"`
	}
	in := struct {
		Info []info `json:"info"`
	}{}
	for _, p := range pairs {
		in.Info = append(in.Info, info{p.UserID, p.ExternalID})
	}
	var out struct {
		AgreeInfo []agreeInfo `json:"agreeinfo"`
	}
	if err := c.postJSON(ctx, "msgaudit/check_single_agree", "/cgi-bin/msgaudit/check_single_agree", in, &out); err != nil {
		return nil, err
	}
	res := make([]Agreement, len(out.AgreeInfo))
	for i, a := range out.AgreeInfo {
		res[i] = a.agreement()
	}
	return res, nil
}

// CheckRoomAgree asks which external members of a room agreed to
// archiving (msgaudit/check_room_agree).
func (c *Client) CheckRoomAgree(ctx context.Context, roomID string) ([]Agreement, error) {
	var out struct {
		AgreeInfo []agreeInfo `json:"agreeinfo"`
	}
	if err := c.postJSON(ctx, "msgaudit/check_room_agree", "/cgi-bin/msgaudit/check_room_agree", map[string]string{"roomid": roomID}, &out); err != nil {
		return nil, err
	}
	res := make([]Agreement, len(out.AgreeInfo))
	for i, a := range out.AgreeInfo {
		res[i] = a.agreement()
	}
	return res, nil
}

// Room is a group chat as msgaudit/groupchat/get describes an internal
// room — or as externalcontact/groupchat/get describes a customer group,
// through CustomerGroup.Room, so that callers treat both kinds alike.
type Room struct {
	Name      string
	Creator   string // a customer group's owner
	CreatedAt time.Time
	Notice    string
	Members   []RoomMember
	// Call is the API that described the room: CallGroupChat or
	// CallCustomerGroup.
	Call string
}

// RoomMember is one member and when they joined. Type, Name and
// GroupNickname come with customer groups only: msgaudit/groupchat/get
// gives ids alone.
type RoomMember struct {
	ID            string
	JoinedAt      time.Time
	Type          MemberType // 0 when the call does not say
	Name          string
	GroupNickname string
}

// GroupChat fetches a room's name and members (msgaudit/groupchat/get).
func (c *Client) GroupChat(ctx context.Context, roomID string) (*Room, error) {
	var out struct {
		RoomName       string `json:"roomname"`
		Creator        string `json:"creator"`
		RoomCreateTime int64  `json:"room_create_time"`
		Notice         string `json:"notice"`
		Members        []struct {
			MemberID string `json:"memberid"`
			JoinTime int64  `json:"jointime"`
		} `json:"members"`
	}
	if err := c.postJSON(ctx, CallGroupChat, "/cgi-bin/"+CallGroupChat, map[string]string{"roomid": roomID}, &out); err != nil {
		return nil, err
	}
	r := &Room{Name: out.RoomName, Creator: out.Creator, CreatedAt: time.Unix(out.RoomCreateTime, 0).UTC(), Notice: out.Notice, Call: CallGroupChat}
	for _, m := range out.Members {
		r.Members = append(r.Members, RoomMember{ID: m.MemberID, JoinedAt: time.Unix(m.JoinTime, 0).UTC()})
	}
	return r, nil
}

// The two calls that describe a group chat, as APIError.Call and
// Room.Call name them.
const (
	CallGroupChat     = "msgaudit/groupchat/get"        // internal rooms; the conversation-archive secret
	CallCustomerGroup = "externalcontact/groupchat/get" // customer groups; a customer-contact secret
)

// Errcodes with which externalcontact/groupchat/get says it will not
// describe a chat: not a customer group it knows, or one this secret may
// not see. They match fs.ErrNotExist ("not found here"), unlike a token,
// permission-to-call or transport failure, which concerns every group.
const (
	CodeInvalidChatID    = 86001  // not a valid chat id (an internal room's, say)
	CodeChatNotFound     = 86003  // no such chat
	CodeNoInteropLicense = 701008 // no member with an interop (互通) licence: not visible to the API
)

// MemberType says who a customer group's member is.
type MemberType int

// Member types of externalcontact/groupchat/get.
const (
	MemberEmployee MemberType = 1
	MemberExternal MemberType = 2 // an external contact: external_userid
)

// CustomerGroup is a customer group (客户群, a group chat an employee owns
// with external contacts in it) as externalcontact/groupchat/get
// describes it.
type CustomerGroup struct {
	ChatID    string
	Name      string // "" when the group has none
	Owner     string // the employee who owns it
	CreatedAt time.Time
	Notice    string
	Members   []GroupMember
	Admins    []string // employees the owner made administrators
}

// GroupMember is one member of a customer group.
type GroupMember struct {
	UserID        string // userid, or external_userid for an external contact
	Type          MemberType
	UnionID       string // external contacts only, when WeCom discloses it
	JoinedAt      time.Time
	JoinScene     int    // 1 invited directly, 2 through a link, 3 through a QR code
	Invitor       string // the employee who invited them ("" when they joined by themselves)
	GroupNickname string // their nickname in this group
	Name          string // their name
}

// Room is the group as a Room, for callers that handle internal rooms
// and customer groups alike.
func (g *CustomerGroup) Room() *Room {
	r := &Room{Name: g.Name, Creator: g.Owner, CreatedAt: g.CreatedAt, Notice: g.Notice, Call: CallCustomerGroup}
	for _, m := range g.Members {
		r.Members = append(r.Members, RoomMember{ID: m.UserID, JoinedAt: m.JoinedAt, Type: m.Type, Name: m.Name, GroupNickname: m.GroupNickname})
	}
	return r
}

// CustomerGroup fetches a customer group's name, owner and members
// (externalcontact/groupchat/get, with need_name so members' names come
// too). The client's secret must have customer-contact (客户联系)
// permission: the conversation-archive secret does not. An error matching
// fs.ErrNotExist means WeCom will not describe the chat with this secret
// (not a customer group, or not one it may see).
func (c *Client) CustomerGroup(ctx context.Context, chatID string) (*CustomerGroup, error) {
	var out struct {
		GroupChat struct {
			ChatID     string `json:"chat_id"`
			Name       string `json:"name"`
			Owner      string `json:"owner"`
			CreateTime int64  `json:"create_time"`
			Notice     string `json:"notice"`
			MemberList []struct {
				UserID        string     `json:"userid"`
				Type          MemberType `json:"type"`
				UnionID       string     `json:"unionid"`
				JoinTime      int64      `json:"join_time"`
				JoinScene     int        `json:"join_scene"`
				GroupNickname string     `json:"group_nickname"`
				Name          string     `json:"name"`
				Invitor       struct {
					UserID string `json:"userid"`
				} `json:"invitor"`
			} `json:"member_list"`
			AdminList []struct {
				UserID string `json:"userid"`
			} `json:"admin_list"`
		} `json:"group_chat"`
	}
	in := map[string]any{"chat_id": chatID, "need_name": 1}
	if err := c.postJSON(ctx, CallCustomerGroup, "/cgi-bin/"+CallCustomerGroup, in, &out); err != nil {
		return nil, err
	}
	gc := &out.GroupChat
	g := &CustomerGroup{ChatID: gc.ChatID, Name: gc.Name, Owner: gc.Owner, CreatedAt: time.Unix(gc.CreateTime, 0).UTC(), Notice: gc.Notice}
	if g.ChatID == "" {
		g.ChatID = chatID
	}
	for _, m := range gc.MemberList {
		g.Members = append(g.Members, GroupMember{UserID: m.UserID, Type: m.Type, UnionID: m.UnionID, JoinedAt: time.Unix(m.JoinTime, 0).UTC(),
			JoinScene: m.JoinScene, Invitor: m.Invitor.UserID, GroupNickname: m.GroupNickname, Name: m.Name})
	}
	for _, a := range gc.AdminList {
		g.Admins = append(g.Admins, a.UserID)
	}
	return g, nil
}

// KFPage is one page of customer-service messages (kf/sync_msg).
type KFPage struct {
	NextCursor string
	HasMore    bool
	Messages   []json.RawMessage // each exactly as sent
}

// KFSyncMsg reads customer-service (微信客服) messages after cursor. token
// is the one a kf_msg_or_event callback carried (ten minutes valid; it
// lifts the rate limit), or "". An empty page with has_more set is not
// the end: the caller continues with the next cursor.
func (c *Client) KFSyncMsg(ctx context.Context, cursor, token, openKfID string, limit int) (*KFPage, error) {
	in := map[string]any{"limit": limit}
	if cursor != "" {
		in["cursor"] = cursor
	}
	if token != "" {
		in["token"] = token
	}
	if openKfID != "" {
		in["open_kfid"] = openKfID
	}
	var out struct {
		NextCursor string            `json:"next_cursor"`
		HasMore    int               `json:"has_more"`
		MsgList    []json.RawMessage `json:"msg_list"`
	}
	if err := c.postJSON(ctx, "kf/sync_msg", "/cgi-bin/kf/sync_msg", in, &out); err != nil {
		return nil, err
	}
	return &KFPage{NextCursor: out.NextCursor, HasMore: out.HasMore == 1, Messages: out.MsgList}, nil
}
