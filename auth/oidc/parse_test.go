package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseClaimPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ClaimPath
	}{
		{"groups", ClaimPath{"groups"}},
		{"realm_access.roles", ClaimPath{"realm_access", "roles"}},
		{`resource_access."archive.prod".roles`, ClaimPath{"resource_access", "archive.prod", "roles"}},
		{`"https://wxarchive.example/groups"`, ClaimPath{"https://wxarchive.example/groups"}},
		{`"a\"b\\c"`, ClaimPath{`a"b\c`}},
		{`"with space".x`, ClaimPath{"with space", "x"}},
		{"组.角色", ClaimPath{"组", "角色"}},
	} {
		got, err := ParseClaimPath(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseClaimPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		if again, err := ParseClaimPath(got.String()); err != nil || !slices.Equal(again, got) {
			t.Errorf("round trip of %q through %q: %q, %v", tc.in, got.String(), again, err)
		}
	}
	for in, says := range map[string]string{
		"":                       "empty claim path",
		".groups":                "empty segment at byte 0",
		"a..b":                   "empty segment at byte 2",
		"a.":                     "ends with '.'",
		`"open`:                  "not closed",
		`""`:                     "empty quoted segment",
		`"a"b`:                   "expected '.' after a quoted segment",
		`a"b`:                    "must be inside a quoted segment",
		"a b":                    "must be inside a quoted segment",
		`"a\x"`:                  `only \" and \\ may be escaped`,
		"\"a\x01\"":              "control character",
		"\xff":                   "not valid UTF-8",
		strings.Repeat("a", 513): "longer than 512",
	} {
		_, err := ParseClaimPath(in)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseClaimPath(%q) = %v, want an error saying %q", in, err, says)
		}
	}
}

func TestClaimPathLookup(t *testing.T) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{"groups":["a"],"realm_access":{"roles":["r"]},"s":"x","https://x.example/g":["ns"]}`), &claims); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"groups": `["a"]`, "realm_access.roles": `["r"]`, `"https://x.example/g"`: `["ns"]`, "realm_access": `{"roles":["r"]}`,
	} {
		p, _ := ParseClaimPath(path)
		v, ok := p.Lookup(claims)
		b, _ := json.Marshal(v)
		if !ok || string(b) != want {
			t.Errorf("Lookup(%s) = %s, %v; want %s", path, b, ok, want)
		}
	}
	for _, path := range []string{"nope", "s.x", "groups.a", "realm_access.roles.x"} {
		p, _ := ParseClaimPath(path)
		if v, ok := p.Lookup(claims); ok {
			t.Errorf("Lookup(%s) = %v, want none", path, v)
		}
	}
}

func FuzzParseClaimPath(f *testing.F) {
	for _, s := range []string{"groups", "realm_access.roles", `resource_access."a.b".roles`, `"x\"y"`, "a..b", `"`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseClaimPath(s)
		if err != nil {
			if p != nil {
				t.Fatalf("an error and a path %q", p)
			}
			return
		}
		if len(p) == 0 {
			t.Fatal("no error and no segment")
		}
		for _, seg := range p {
			if seg == "" || !utf8.ValidString(seg) {
				t.Fatalf("segment %q of %q", seg, s)
			}
		}
		again, err := ParseClaimPath(p.String())
		if err != nil || !slices.Equal(again, p) {
			t.Fatalf("%q → %q → %q, %v", s, p.String(), again, err)
		}
		// Looking the path up in claims of any shape never panics.
		p.Lookup(map[string]any{p[0]: map[string]any{"x": 1}})
	})
}

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/alerts?queue=mine#top": "/alerts?queue=mine#top", "/a/../b": "/a/../b", "/%2F%2Fevil": "/%2F%2Fevil"} {
		if got, err := SafeReturnTo(in); err != nil || got != want {
			t.Errorf("SafeReturnTo(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{
		"//evil.example", "///evil.example", "/\\evil.example", "/a\\b", "https://evil.example/", "javascript:alert(1)",
		"alerts", "/\t/evil.example", "/a\nb", "/a b", "/\u0085x", "\xff", "/" + strings.Repeat("a", 2048),
	} {
		if got, err := SafeReturnTo(in); !errors.Is(err, ErrReturnTo) {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want ErrReturnTo", in, got, err)
		}
	}
}

// FuzzSafeReturnTo: whatever it accepts, a browser resolving it against
// the site stays on the site.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/alerts?x=1", "//evil", "/\\evil", "https://evil/", "/\t/evil", "/%2F%2Fevil", "/a/../../b"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://archive.example/auth/oidc/corp/callback")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := SafeReturnTo(s)
		if err != nil {
			if !errors.Is(err, ErrReturnTo) {
				t.Fatalf("error %v does not match ErrReturnTo", err)
			}
			return
		}
		// What a browser does first: strip tabs and newlines, read
		// backslashes as slashes (WHATWG URL); none may be there.
		if strings.ContainsAny(got, "\t\r\n\\") {
			t.Fatalf("accepted %q", got)
		}
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", got, err)
		}
		if u := base.ResolveReference(ref); u.Host != "archive.example" || u.Scheme != "https" {
			t.Fatalf("accepted %q, which leads to %s", got, u)
		}
	})
}

// FuzzClaims: the claims of any token (as JSON) give a username and
// groups that pass the checks, or a refusal — never a panic, never an
// empty or control-character name.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"sub":"s","preferred_username":"alice","groups":["a","b","a"]}`,
		`{"sub":"s","email":"e@x","email_verified":false,"realm_access":{"roles":["r"]}}`,
		`{"sub":"s","groups":"one"}`,
		`{"sub":"s","groups":[1,2]}`,
		`{"sub":"s","_claim_names":{"groups":"src1"}}`,
		`{"sub":"s","groups":null,"preferred_username":""}`,
	} {
		f.Add(s, "groups")
		f.Add(s, "realm_access.roles")
	}
	f.Fuzz(func(t *testing.T, doc, groupsPath string) {
		path, err := ParseClaimPath(groupsPath)
		if err != nil {
			return
		}
		var all map[string]any
		if decodeJSON([]byte(doc), &all) != nil {
			return
		}
		groups, err := groupsOf(all, path)
		if err == nil {
			if len(groups) > maxGroups {
				t.Fatalf("%d groups", len(groups))
			}
			for i, g := range groups {
				if checkName(g) != nil || slices.Contains(groups[:i], g) {
					t.Fatalf("group %q of %v", g, groups)
				}
			}
		}
		sub, _ := all["sub"].(string)
		if checkName(sub) != nil {
			return
		}
		for _, is := range []*issuer{{}, {username: path}} {
			cl := &Claims{Subject: sub, Email: email(all)}
			if cl.Email != "" && checkName(cl.Email) != nil {
				t.Fatalf("email %q", cl.Email)
			}
			u, claim, err := is.usernameOf(all, cl)
			if err == nil && claim == "" {
				t.Fatalf("username %q from no claim", u)
			}
		}
	})
}

func TestMemoryStates(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMemoryStates(3)
	put := func(key string, at time.Time) {
		if err := m.Put(ctx, key, Pending{Issuer: "corp", Verifier: "v-" + key, Nonce: "n-" + key, Created: at, Expires: at.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a", t0)
	put("b", t0)
	p, err := m.Take(ctx, "a", t0.Add(time.Second))
	if err != nil || p.Verifier != "v-a" || p.Nonce != "n-a" {
		t.Fatalf("Take(a) = %+v, %v", p, err)
	}
	if _, err := m.Take(ctx, "a", t0.Add(2*time.Second)); !errors.Is(err, ErrStateReplayed) {
		t.Errorf("second Take(a) = %v, want ErrStateReplayed", err)
	}
	if _, err := m.Take(ctx, "zz", t0); !errors.Is(err, ErrStateUnknown) {
		t.Errorf("Take(zz) = %v, want ErrStateUnknown", err)
	}
	// Full: the oldest (the tombstone of a) goes first, then b.
	put("c", t0)
	put("d", t0)
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
	if _, err := m.Take(ctx, "a", t0); !errors.Is(err, ErrStateUnknown) {
		t.Errorf("a after eviction: %v", err)
	}
	put("e", t0)
	if _, err := m.Take(ctx, "b", t0); !errors.Is(err, ErrStateUnknown) {
		t.Errorf("b after eviction: %v", err)
	}
	// Expiry.
	if _, err := m.Take(ctx, "c", t0.Add(time.Minute)); !errors.Is(err, ErrStateExpired) {
		t.Errorf("c at its expiry: %v, want ErrStateExpired", err)
	}
	if _, err := m.Take(ctx, "c", t0); !errors.Is(err, ErrStateUnknown) {
		t.Errorf("c after expiring: %v, want it gone", err)
	}
	// A Put later than everyone's expiry forgets them all.
	put("f", t0.Add(time.Hour))
	if m.Len() != 1 {
		t.Errorf("Len after expiry = %d, want 1", m.Len())
	}
}

// Of many concurrent Takes of one state exactly one succeeds.
func TestMemoryStatesTakeOnce(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStates(0)
	now := time.Now()
	for i := range 50 {
		m.Put(ctx, fmt.Sprint(i), Pending{Created: now, Expires: now.Add(time.Minute)})
	}
	wins := make(chan string, 50*8)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				if _, err := m.Take(ctx, fmt.Sprint(i), now); err == nil {
					wins <- fmt.Sprint(i)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(wins)
	seen := map[string]int{}
	for k := range wins {
		seen[k]++
	}
	for i := range 50 {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("state %d taken %d times", i, seen[fmt.Sprint(i)])
		}
	}
}

func TestLimitedBody(t *testing.T) {
	for _, tc := range []struct {
		size, limit int
		fails       bool
	}{{10, 10, false}, {11, 10, true}, {0, 10, false}, {5000, 4096, true}} {
		b := &limitedBody{rc: nopCloser{strings.NewReader(strings.Repeat("x", tc.size))}, left: int64(tc.limit)}
		var got []byte
		buf := make([]byte, 7)
		var err error
		for {
			var n int
			n, err = b.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if tc.fails != errors.Is(err, errResponseTooLarge) || len(got) > tc.limit {
			t.Errorf("size %d limit %d: read %d, %v", tc.size, tc.limit, len(got), err)
		}
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
