package archive

// Journal events of access control (docs/FORMAT.md, "Access control
// events"). They record who was granted what and every login, never a
// credential: no password, hash, TOTP secret, token or session secret.
const (
	EventUserAdded      = "user.added"      // a user was created (roles, departments, scope)
	EventUserChanged    = "user.changed"    // roles, departments, scope, password, TOTP or enablement changed
	EventUserDisabled   = "user.disabled"   // a user can no longer log in; their sessions ended
	EventTokenCreated   = "token.created"   // an API token was issued (id, name, owner, scopes, expiry)
	EventTokenRevoked   = "token.revoked"   // an API token stopped working
	EventTokenUsed      = "token.used"      // an API token's first use of the day
	EventLoginSucceeded = "login.succeeded" // a user authenticated (password, single sign-on)
	EventLoginFailed    = "login.failed"    // a login was refused
	EventLoginLocked    = "login.locked"    // too many failures: a user or an address is locked out
	EventSessionEnded   = "session.ended"   // a browser session was logged out
	EventOIDCMapped     = "oidc.mapped"     // a single sign-on identity was mapped to a user and roles
)

// AccessScope is the journal's form of a regulator's scope (auth.Scope).
type AccessScope struct {
	Query         string   `json:"query,omitempty"`
	From          Time     `json:"from,omitzero"`
	To            Time     `json:"to,omitzero"`
	Conversations []string `json:"conversations,omitempty"`
}

// UserEvent is the payload of user.added, user.changed and user.disabled:
// the user's grants after the change, and which of them changed.
type UserEvent struct {
	User        string       `json:"user"`
	Roles       []string     `json:"roles"`
	Departments []string     `json:"departments,omitempty"`
	Scope       *AccessScope `json:"scope,omitempty"`
	Expires     Time         `json:"expires,omitzero"`
	// Login is how the user signs in: "password" (a local password) or
	// "sso" (single sign-on only).
	Login    string `json:"login"`
	TOTP     bool   `json:"totp,omitempty"` // a TOTP second factor is enrolled
	Disabled bool   `json:"disabled,omitempty"`
	// Changed names what this event changed: roles, departments, scope,
	// expires, password, totp, disabled (user.added: empty).
	Changed []string `json:"changed,omitempty"`
}

// TokenEvent is the payload of token.created, token.revoked and
// token.used. The
// token's secret is never in it.
type TokenEvent struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Owner   string   `json:"owner"`
	Scopes  []string `json:"scopes,omitempty"` // empty: the owner's permissions
	Expires Time     `json:"expires"`
}

// LoginEvent is the payload of login.succeeded, login.failed and
// login.locked.
type LoginEvent struct {
	User   string `json:"user"`   // as given (bounded), whether or not such a user exists
	Method string `json:"method"` // password, oidc
	Addr   string `json:"addr,omitempty"`
	// Reason says why a login failed: bad_credentials (unknown user, wrong
	// password or code — one reason, as the caller is told), locked,
	// disabled, expired, totp_required.
	Reason string `json:"reason,omitempty"`
	// login.locked: what is locked ("user:NAME", "addr:ADDRESS"), until
	// when, after how many failures.
	Key      string `json:"key,omitempty"`
	Until    Time   `json:"until,omitzero"`
	Failures int    `json:"failures,omitempty"`
	// Session is the public id of the session a login opened.
	Session string `json:"session,omitempty"`
}

// SessionEvent is the payload of session.ended.
type SessionEvent struct {
	User    string `json:"user"`
	Session string `json:"session"` // the public id
	Reason  string `json:"reason"`  // logout
}

// OIDCEvent is the payload of oidc.mapped: which identity provider's
// subject signed in as which user, with the groups it presented and the
// roles they mapped to.
type OIDCEvent struct {
	Issuer  string   `json:"issuer"`
	Subject string   `json:"subject"`
	User    string   `json:"user"`
	Groups  []string `json:"groups,omitempty"`
	Roles   []string `json:"roles"`
	Created bool     `json:"created,omitempty"` // the user was created by this sign-in
}
