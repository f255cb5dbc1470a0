// Package api is a client for the WeCom (qyapi.weixin.qq.com) and WeChat
// Official Account (api.weixin.qq.com) server APIs the capture connectors
// need: access tokens (cached, refreshed before they expire and when the
// server says they are invalid), temporary media by media id, and the
// conversation-archive (msgaudit) REST calls — permitted users, consent of
// single and room conversations, and room details.
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

// Is makes an invalid media id match fs.ErrNotExist, as ingest.MediaSource
// requires of "the source does not have it".
func (e *APIError) Is(target error) bool {
	return target == fs.ErrNotExist && e.Code == CodeInvalidMediaID
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

// Room is an internal group chat as msgaudit/groupchat/get describes it.
type Room struct {
	Name      string
	Creator   string
	CreatedAt time.Time
	Notice    string
	Members   []RoomMember
}

// RoomMember is one member and when they joined.
type RoomMember struct {
	ID       string
	JoinedAt time.Time
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
	if err := c.postJSON(ctx, "msgaudit/groupchat/get", "/cgi-bin/msgaudit/groupchat/get", map[string]string{"roomid": roomID}, &out); err != nil {
		return nil, err
	}
	r := &Room{Name: out.RoomName, Creator: out.Creator, CreatedAt: time.Unix(out.RoomCreateTime, 0).UTC(), Notice: out.Notice}
	for _, m := range out.Members {
		r.Members = append(r.Members, RoomMember{ID: m.MemberID, JoinedAt: time.Unix(m.JoinTime, 0).UTC()})
	}
	return r, nil
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
