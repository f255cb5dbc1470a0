package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

// TestAuthorizationMatrixService is the authorization matrix against the
// real identity service (users and tokens in the index database, hashed
// tokens, the service's own expiry and revocation checks), not the test
// authenticator: every route × every role, no credential, a malformed
// header, a revoked token, an expired token and a regulator past the
// expiry of their grant. Then the information barrier through the same
// credentials: a reviewer reads their department's message and is refused
// the other department's, naming what is missing.
func TestAuthorizationMatrixService(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Two employees in two departments, a message from each.
	for _, p := range []archive.ParticipantEvent{{ID: "zhangsan", Kind: archive.ParticipantEmployee, Department: "财富管理部"},
		{ID: "lisi", Kind: archive.ParticipantEmployee, Department: "投资银行部"}} {
		p.ValidFrom = archive.MillisTime(0)
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	ms := time.Now().Add(-time.Hour).UnixMilli()
	res := e.ingest("", "", jsonLines([][]byte{
		textMsg("m-zs", "zhangsan", []string{"wmClient1"}, ms, "您好，基金净值已更新"),
		textMsg("m-ls", "lisi", []string{"wmClient2"}, ms+1, "项目材料请查收"),
	}), 200)
	if res.Archived != 2 {
		t.Fatalf("archived %d of 2: %+v", res.Archived, res)
	}
	inside, outside := res.Results[0].Serial, res.Results[1].Serial

	t0 := time.Now()
	var offset atomic.Int64 // the service's clock: t0 + offset
	now := func() time.Time { return t0.Add(time.Duration(offset.Load())) }
	svc, err := auth.NewService(auth.Options{Store: e.r.Store, Journal: e.r.Engine, Now: now,
		Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(e.r, httpapi.Options{Auth: svc, Now: now, Ingesters: archivetest.Ingesters(e.r, nil)}))
	defer srv.Close()

	const admin = "cli:root"
	token := func(user string, expires time.Time) string {
		t.Helper()
		secret, _, err := svc.CreateToken(ctx, admin, auth.NewToken{Name: "matrix", Owner: user, Expires: expires})
		if err != nil {
			t.Fatalf("token for %s: %v", user, err)
		}
		return secret
	}
	day := t0.Add(24 * time.Hour)
	var callers []caller
	tokens := map[auth.Role]string{}
	for _, r := range auth.Roles {
		g := auth.Grant{Roles: []auth.Role{r}}
		switch r {
		case auth.Reviewer:
			g.Departments = []string{"财富管理部"}
		case auth.Regulator:
			g.Scope, g.Expires = &auth.Scope{From: t0.Add(-30 * 24 * time.Hour), To: day}, t0.Add(time.Hour)
		}
		name := "as-" + string(r)
		if _, err := svc.AddUser(ctx, admin, auth.NewUser{Name: name, Grant: g}); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
		tokens[r] = token(name, day)
		callers = append(callers, caller{name: string(r), header: "Bearer " + tokens[r], roles: []auth.Role{r}})
	}
	if _, err := svc.AddUser(ctx, admin, auth.NewUser{Name: "principal2", Grant: auth.Grant{Roles: []auth.Role{auth.Principal}}}); err != nil {
		t.Fatal(err)
	}
	revoked, ti, err := svc.CreateToken(ctx, admin, auth.NewToken{Name: "revoked", Owner: "principal2", Expires: day})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, admin, ti.ID); err != nil {
		t.Fatal(err)
	}
	expired := token("principal2", t0.Add(time.Minute))
	if _, err := svc.AddUser(ctx, admin, auth.NewUser{Name: "examiner-old", Grant: auth.Grant{Roles: []auth.Role{auth.Regulator},
		Scope: &auth.Scope{Conversations: []string{"direct:lisi|wmClient2"}}, Expires: t0.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	pastExpiry := token("examiner-old", day)
	offset.Store(int64(5 * time.Minute)) // the short token and the old examiner's grant have ended

	callers = append([]caller{
		{name: "none", want: 401},
		{name: "malformed", header: "Bearer " + strings.Repeat("x", 10), want: 401},
		{name: "basic", header: "Basic dGVzdDp0ZXN0", want: 401},
		{name: "revoked", header: "Bearer " + revoked, want: 401},
		{name: "expired-token", header: "Bearer " + expired, want: 401},
		{name: "regulator-past-expiry", header: "Bearer " + pastExpiry, want: 401},
	}, callers...)
	routes := httpapi.New(e.r, httpapi.Options{}).Routes()
	matrix(t, srv.URL, routes, callers)

	// The barrier, through the real credentials.
	get := func(path, secret string) (int, string, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code, Need, Message string }
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error.Need, body.Error.Message
	}
	if code, _, msg := get("/api/v1/messages/"+itoa(inside), tokens[auth.Reviewer]); code != 200 {
		t.Errorf("reviewer of 财富管理部 reading zhangsan's message: %d %s", code, msg)
	}
	code, need, msg := get("/api/v1/messages/"+itoa(outside), tokens[auth.Reviewer])
	if code != 403 || need != string(auth.PermContent) || !strings.Contains(msg, "outside") {
		t.Errorf("reviewer of 财富管理部 reading lisi's message (投资银行部): %d need=%q %q, want 403 naming %s and the barrier", code, need, msg, auth.PermContent)
	}
	if code, _, msg := get("/api/v1/messages/"+itoa(outside), tokens[auth.Auditor]); code != 200 {
		t.Errorf("auditor reading lisi's message: %d %s", code, msg)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
