package httpapi_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
)

// concrete turns a route pattern into a request path (wildcards filled).
func concrete(path string) string {
	r := strings.NewReplacer("{$}", "", "{serial}", "1", "{external_id}", "wmExtClient001", "{name}", "promises",
		"{id}", "1", "{format}", "wecom-archive")
	return r.Replace(path)
}

// TestAuthorizationMatrix sends every registered route as every role, and
// with no, a malformed, a revoked and an expired credential, and checks
// each is allowed exactly when a role grants the route's permission: 401
// without a valid credential, 403 (naming the permission) without the
// permission. The routes come from the server's own table, so a route
// added without a permission cannot be registered at all (route panics)
// and one added with a permission is in this matrix.
func TestAuthorizationMatrix(t *testing.T) {
	now := time.Now()
	e := newEnvWith(t, httpapi.Options{Now: func() time.Time { return now }}, nil)
	routes := httpapi.New(e.r, httpapi.Options{}).Routes()
	if len(routes) < 18 {
		t.Fatalf("%d routes: the table is not the server's", len(routes))
	}
	revoked := e.auth.Bearer("gone", auth.Principal)
	e.auth.Revoke(revoked)
	expired := e.auth.BearerFor(&auth.Identity{User: "examiner", Roles: []auth.Role{auth.Regulator}, Expires: now.Add(-time.Minute)})
	callers := []caller{
		{name: "none", want: 401},
		{name: "malformed", header: "Basic dGVzdDp0ZXN0", want: 401},
		{name: "revoked", header: "Bearer " + revoked, want: 401},
		{name: "regulator-expired", header: "Bearer " + expired, want: 401},
	}
	for _, r := range auth.Roles {
		id := &auth.Identity{User: "as-" + string(r), Roles: []auth.Role{r}}
		switch r {
		case auth.Reviewer:
			id.Departments = []string{"财富管理部"}
		case auth.Regulator:
			id.Scope, id.Expires = &auth.Scope{Query: "保本"}, now.Add(time.Hour)
		}
		callers = append(callers, caller{name: string(r), header: "Bearer " + e.auth.BearerFor(id), roles: []auth.Role{r}})
	}
	matrix(t, e.srv.URL, routes, callers)
}

// noRedirects answers a redirect as it is, so a page's 303 to the login
// page is seen.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// caller is one column of the matrix: a credential, the roles it
// carries, and the status it must get on every route when not 0.
type caller struct {
	name   string
	header string // Authorization
	roles  []auth.Role
	want   int // forced status (401) when not 0
}

// matrix sends every route as every caller to the server at base and
// checks each is allowed exactly when the caller's roles grant the
// route's permission.
func matrix(t *testing.T, base string, routes []httpapi.Route, callers []caller) {
	t.Helper()
	for _, rt := range routes {
		method := rt.Method()
		if method == "" {
			method = "POST"
		}
		for _, c := range callers {
			req, _ := http.NewRequest(method, base+concrete(rt.Path()), strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			} else {
				req.Header.Set("Authorization", "") // not the env's default token
				req.Header.Del("Authorization")
			}
			resp, err := noRedirects.Do(req) // not e.srv.Client(): it adds the tester's token
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var body struct {
				Error struct{ Code, Need string }
			}
			json.Unmarshal(raw, &body)
			got := resp.StatusCode
			// A page sends a browser without a session to the login page
			// with the return path; it never answers 401.
			toLogin := got == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?next=")
			denied := got == 401 || got == 403 || toLogin
			if rt.Page && rt.Public == "" && !denied && got != 303 {
				// An allowed page: HTML, never cached.
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || resp.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("%s as %s: %d Content-Type %q Cache-Control %q, want an uncached HTML page", rt.Pattern, c.name, got, ct, resp.Header.Get("Cache-Control"))
				}
			}
			switch {
			case rt.Public != "":
				if denied {
					t.Errorf("%s as %s: %d, but the route is public (%s)", rt.Pattern, c.name, got, rt.Public)
				}
			case rt.Page && c.want == 401:
				if !toLogin {
					t.Errorf("%s as %s: %d Location %q, want 303 to /login?next=…", rt.Pattern, c.name, got, resp.Header.Get("Location"))
				}
			case rt.Page:
				id := &auth.Identity{User: "x", Roles: c.roles}
				need := `data-need="` + string(rt.Need) + `"`
				if allowed := id.Can(rt.Need); allowed && denied {
					t.Errorf("%s as %s: %d, but %s grants %s", rt.Pattern, c.name, got, c.name, rt.Need)
				} else if !allowed && (got != 403 || !strings.Contains(string(raw), need) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")) {
					t.Errorf("%s as %s: %d, want a 403 page naming %s", rt.Pattern, c.name, got, rt.Need)
				}
			case c.want != 0:
				if got != c.want || body.Error.Code == "" {
					t.Errorf("%s as %s: %d %q, want %d", rt.Pattern, c.name, got, body.Error.Code, c.want)
				}
				if got == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s as %s: 401 without WWW-Authenticate", rt.Pattern, c.name)
				}
			default:
				id := &auth.Identity{User: "x", Roles: c.roles}
				if allowed := id.Can(rt.Need); allowed && denied {
					t.Errorf("%s as %s: %d %s, but %s grants %s", rt.Pattern, c.name, got, body.Error.Code, c.name, rt.Need)
				} else if !allowed && (got != 403 || body.Error.Need != string(rt.Need)) {
					t.Errorf("%s as %s: %d need=%q, want 403 naming %s", rt.Pattern, c.name, got, body.Error.Need, rt.Need)
				}
			}
		}
	}
}

// TestPublicRoutesAreTheDocumentedOnes: exactly the probes and the
// platform callbacks ask no credentials (the login flow joins them, with
// the web interface's login page, language switch and static assets).
func TestPublicRoutesAreTheDocumentedOnes(t *testing.T) {
	e := newEnv(t)
	var public []string
	for _, rt := range httpapi.New(e.r, httpapi.Options{}).Routes() {
		if rt.Public != "" {
			public = append(public, rt.Pattern)
		}
	}
	want := "GET /healthz|GET /readyz|POST /api/v1/auth/login|GET /login|POST /login|GET /lang|GET /assets/{name}|GET /favicon.ico|/capture/wecom/callback/{id}"
	if got := strings.Join(public, "|"); got != want {
		t.Fatalf("public routes %s, want exactly %s", got, want)
	}
}

var update = flag.Bool("update", false, "rewrite the role matrix in docs/SECURITY.md from the route table")

const (
	matrixBegin = "<!-- route-matrix:begin (generated by go test ./httpapi -run TestRoleMatrixDoc -update) -->"
	matrixEnd   = "<!-- route-matrix:end -->"
)

// roleMatrix is the role × route table of docs/SECURITY.md.
func roleMatrix(routes []httpapi.Route) string {
	var b strings.Builder
	b.WriteString("| route | permission |")
	for _, r := range auth.Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(auth.Roles)) + "\n")
	for _, rt := range routes {
		if rt.Public != "" {
			fmt.Fprintf(&b, "| `%s` | none: %s |%s\n", rt.Pattern, rt.Public, strings.Repeat(" ✓ |", len(auth.Roles)))
			continue
		}
		fmt.Fprintf(&b, "| `%s` | `%s` |", rt.Pattern, rt.Need)
		for _, r := range auth.Roles {
			if (&auth.Identity{User: "x", Roles: []auth.Role{r}}).Can(rt.Need) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestRoleMatrixDoc: the matrix in docs/SECURITY.md is the one the code
// enforces (route table × auth.Grants); it cannot drift, and a change of
// a route's permission or a role's grants shows in the document's diff.
func TestRoleMatrixDoc(t *testing.T) {
	e := newEnv(t)
	want := roleMatrix(httpapi.New(e.r, httpapi.Options{}).Routes())
	const path = "../docs/SECURITY.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, matrixBegin), strings.Index(doc, matrixEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, matrixBegin, matrixEnd)
	}
	got := doc[i+len(matrixBegin)+1 : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i+len(matrixBegin)+1]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("the role matrix in %s differs from the route table; run go test ./httpapi -run TestRoleMatrixDoc -update\nwant:\n%s", path, want)
}
