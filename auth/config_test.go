package auth

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigPolicy(t *testing.T) {
	p, err := Config{}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.SessionIdle != DefaultSessionIdle || p.SessionAbsolute != DefaultSessionAbsolute || p.LockoutThreshold != DefaultLockoutThreshold ||
		p.LockoutWindow != DefaultLockoutWindow || p.LockoutDuration != DefaultLockoutDuration {
		t.Fatalf("defaults: %+v", p)
	}
	c := Config{OIDCGroups: map[string][]string{"compliance": {"principal", "auditor"}, "it": {"admin"}, "review-eq": {"reviewer", "reviewer"}},
		RequireTOTP: []string{"admin", "principal"}, SessionIdle: time.Minute, SessionAbsolute: time.Hour, LockoutThreshold: 3}
	p, err = c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	roles, matched := p.GroupRoles([]string{"it", "unknown", "compliance", "it"})
	if strings.Join(rolesStrings(roles), ",") != "admin,principal,auditor" || strings.Join(matched, ",") != "it,compliance" {
		t.Fatalf("GroupRoles = %v %v", roles, matched)
	}
	if !p.RequiresTOTP([]Role{Reviewer, Principal}) || p.RequiresTOTP([]Role{Reviewer, Auditor}) {
		t.Fatal("RequiresTOTP")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		yaml, want string
	}{
		{"oidc_groups: {traders: [trader]}", `auth.oidc_groups.traders[0]: unknown role "trader"`},
		{"oidc_groups: {exam: [auditor, regulator]}", "auth.oidc_groups.exam[1]: the regulator role cannot come from a group"},
		{"oidc_groups: {empty: []}", "auth.oidc_groups.empty: no roles"},
		{"require_totp: [admin, root]", `auth.require_totp[1]: unknown role "root"`},
		{"session_idle: -1m", "auth.session_idle: -1m0s is negative"},
		{"session_idle: 2h\nsession_absolute: 1h", "auth.session_idle: 2h0m0s is longer than auth.session_absolute"},
		{"session_absolute: 1000h", "auth.session_absolute: 1000h0m0s is more than"},
		{"lockout_threshold: -2", "auth.lockout_threshold: -2 is not between 1 and 1000"},
		{"lockout_duration: 999h", "auth.lockout_duration"},
		{"lockout_window: -5s", "auth.lockout_window"},
	} {
		var cfg Config
		if err := yaml.Unmarshal([]byte(c.yaml), &cfg); err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		_, err := cfg.Policy()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.yaml, err, c.want)
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte("oidc_groups: {it: [admin]}\nrequire_totp: [admin]\nsession_idle: 10m\n"))
	f.Add([]byte("lockout_threshold: 5\nlockout_window: 15m\nlockout_duration: 15m\n"))
	f.Add([]byte("oidc_groups: {x: [regulator]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var cfg Config
		if yaml.Unmarshal(b, &cfg) != nil {
			return
		}
		p, err := cfg.Policy()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "auth.") {
				t.Fatalf("error %q does not name its field", err)
			}
			return
		}
		if p.SessionIdle <= 0 || p.SessionIdle > p.SessionAbsolute || p.LockoutThreshold < 1 || p.LockoutWindow <= 0 || p.LockoutDuration <= 0 {
			t.Fatalf("accepted an unusable policy %+v from %q", p, b)
		}
		for g, rs := range p.groups {
			for _, r := range rs {
				if r == Regulator {
					t.Fatalf("group %q grants regulator", g)
				}
			}
		}
	})
}
