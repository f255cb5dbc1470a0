package auth

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Config is the `auth:` section of wxarchive.yaml. Zero values take the
// named defaults; Policy validates it.
type Config struct {
	// OIDCGroups maps a single sign-on groups claim value to the roles it
	// grants (a user holds the union of their groups' roles). Regulator
	// cannot be granted this way: its mandatory expiry is set per user.
	OIDCGroups map[string][]string `yaml:"oidc_groups,omitempty"`
	// RequireTOTP lists the roles whose holders must pass a TOTP code to
	// log in with a password (e.g. [admin, principal]).
	RequireTOTP []string `yaml:"require_totp,omitempty"`
	// SessionIdle and SessionAbsolute are a browser session's idle and
	// absolute timeouts.
	SessionIdle     time.Duration `yaml:"session_idle,omitempty"`
	SessionAbsolute time.Duration `yaml:"session_absolute,omitempty"`
	// LockoutThreshold failed logins within LockoutWindow, for one user
	// or from one address, lock it for LockoutDuration.
	LockoutThreshold int           `yaml:"lockout_threshold,omitempty"`
	LockoutWindow    time.Duration `yaml:"lockout_window,omitempty"`
	LockoutDuration  time.Duration `yaml:"lockout_duration,omitempty"`
}

// The defaults of Config.
const (
	// DefaultSessionIdle: a browser left alone this long logs out (the
	// common supervisory-system setting; FINRA firms often use 15–30 min).
	DefaultSessionIdle = 30 * time.Minute
	// DefaultSessionAbsolute: a session ends after a working day
	// whatever its activity.
	DefaultSessionAbsolute = 12 * time.Hour
	// DefaultLockoutThreshold failures in DefaultLockoutWindow lock for
	// DefaultLockoutDuration: slows a password guesser to 5 tries per 15
	// minutes per account and per address.
	DefaultLockoutThreshold = 5
	DefaultLockoutWindow    = 15 * time.Minute
	DefaultLockoutDuration  = 15 * time.Minute
)

// Bounds of a configuration: past them it is refused as a mistake.
const (
	maxSession      = 30 * 24 * time.Hour
	maxLockout      = 7 * 24 * time.Hour
	maxThreshold    = 1000
	maxGroupBytes   = 256
	maxConfigGroups = 10000
)

// Policy is a validated Config.
type Policy struct {
	groups           map[string][]Role
	requireTOTP      []Role
	SessionIdle      time.Duration
	SessionAbsolute  time.Duration
	LockoutThreshold int
	LockoutWindow    time.Duration
	LockoutDuration  time.Duration
}

// DefaultPolicy is the policy of an empty Config.
func DefaultPolicy() Policy {
	p, _ := Config{}.Policy() // the zero Config is valid
	return p
}

// Policy validates c and applies the defaults. An error names the field
// at fault as it is written in wxarchive.yaml (auth.oidc_groups.GROUP…).
func (c Config) Policy() (Policy, error) {
	p := Policy{groups: map[string][]Role{}}
	if len(c.OIDCGroups) > maxConfigGroups {
		return Policy{}, fmt.Errorf("auth.oidc_groups: %d groups, more than %d", len(c.OIDCGroups), maxConfigGroups)
	}
	groups := make([]string, 0, len(c.OIDCGroups))
	for g := range c.OIDCGroups {
		groups = append(groups, g)
	}
	sort.Strings(groups) // the first fault is the same on every run
	for _, g := range groups {
		field := "auth.oidc_groups." + g
		if g == "" || len(g) > maxGroupBytes {
			return Policy{}, fmt.Errorf("auth.oidc_groups: a group name must have 1 to %d bytes", maxGroupBytes)
		}
		rs := c.OIDCGroups[g]
		if len(rs) == 0 {
			return Policy{}, fmt.Errorf("%s: no roles (give at least one, or remove the group)", field)
		}
		var roles []Role
		for i, s := range rs {
			r, err := ParseRole(s)
			if err != nil {
				return Policy{}, fmt.Errorf("%s[%d]: %w", field, i, err)
			}
			if r == Regulator {
				return Policy{}, fmt.Errorf("%s[%d]: the regulator role cannot come from a group: it needs an expiry per user (wxarchive user roles --expires)", field, i)
			}
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
		p.groups[g] = roles
	}
	for i, s := range c.RequireTOTP {
		r, err := ParseRole(s)
		if err != nil {
			return Policy{}, fmt.Errorf("auth.require_totp[%d]: %w", i, err)
		}
		if !slices.Contains(p.requireTOTP, r) {
			p.requireTOTP = append(p.requireTOTP, r)
		}
	}
	var err error
	dur := func(field string, v, def, limit time.Duration) time.Duration {
		switch {
		case err != nil:
		case v < 0:
			err = fmt.Errorf("auth.%s: %s is negative", field, v)
		case v > limit:
			err = fmt.Errorf("auth.%s: %s is more than %s", field, v, limit)
		case v == 0:
			return def
		}
		return v
	}
	p.SessionIdle = dur("session_idle", c.SessionIdle, DefaultSessionIdle, maxSession)
	p.SessionAbsolute = dur("session_absolute", c.SessionAbsolute, DefaultSessionAbsolute, maxSession)
	p.LockoutWindow = dur("lockout_window", c.LockoutWindow, DefaultLockoutWindow, maxLockout)
	p.LockoutDuration = dur("lockout_duration", c.LockoutDuration, DefaultLockoutDuration, maxLockout)
	if err != nil {
		return Policy{}, err
	}
	if p.SessionIdle > p.SessionAbsolute {
		return Policy{}, fmt.Errorf("auth.session_idle: %s is longer than auth.session_absolute (%s)", p.SessionIdle, p.SessionAbsolute)
	}
	switch {
	case c.LockoutThreshold < 0 || c.LockoutThreshold > maxThreshold:
		return Policy{}, fmt.Errorf("auth.lockout_threshold: %d is not between 1 and %d", c.LockoutThreshold, maxThreshold)
	case c.LockoutThreshold == 0:
		p.LockoutThreshold = DefaultLockoutThreshold
	default:
		p.LockoutThreshold = c.LockoutThreshold
	}
	return p, nil
}

// GroupRoles returns the roles groups map to (in the order of Roles) and
// the groups that mapped to any.
func (p Policy) GroupRoles(groups []string) (roles []Role, matched []string) {
	for _, g := range groups {
		rs, ok := p.groups[g]
		if !ok {
			continue
		}
		if !slices.Contains(matched, g) {
			matched = append(matched, g)
		}
		for _, r := range rs {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	return sortRoles(roles), matched
}

// RequiresTOTP reports whether a holder of roles must pass a TOTP code.
func (p Policy) RequiresTOTP(roles []Role) bool {
	for _, r := range roles {
		if slices.Contains(p.requireTOTP, r) {
			return true
		}
	}
	return false
}

func sortRoles(rs []Role) []Role {
	slices.SortFunc(rs, func(a, b Role) int { return slices.Index(Roles, a) - slices.Index(Roles, b) })
	return rs
}
