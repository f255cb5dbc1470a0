// Package connector is the configuration of capture connectors: the
// connectors section of wxarchive.yaml, with secrets read from files or
// environment variables (never from the file itself), parsed strictly
// (an unknown key is an error naming its line) and validated by Validate
// against the rules each connector type registers (capture.Registry).
package connector

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/internal/secretref"

	"go.yaml.in/yaml/v3"
)

// Type names a kind of connector ("wecom-callback", "wecom-archive", …).
// The types are defined by their own packages and registered with
// capture.Registry.
type Type string

// Secret says where a secret is read from: {env: NAME} or {file: PATH}
// (internal/secretref); a secret written in the file itself is refused.
type Secret = secretref.Ref

// Config is one connector.
type Config struct {
	ID      string `yaml:"id"`
	Type    Type   `yaml:"type"`
	Enabled *bool  `yaml:"enabled,omitempty"` // default true
	// WeCom callback: the CorpID is the receive id and the API account;
	// Official Account: the AppID.
	CorpID string `yaml:"corp_id,omitempty"`
	AppID  string `yaml:"app_id,omitempty"`
	// SuiteID: a WeCom callback URL that is also a third-party or
	// custom-developed (代开发) app's instruction URL receives the
	// suite's callbacks (suite_ticket, create_auth, change_auth…), which
	// are encrypted to the suite id rather than the CorpID.
	SuiteID string `yaml:"suite_id,omitempty"`
	// Callback token and EncodingAESKey (an Official Account in plaintext
	// mode has no key).
	Token  Secret `yaml:"token,omitempty"`
	AESKey Secret `yaml:"aes_key,omitempty"`
	// Plaintext says, explicitly, that an Official Account's callback runs
	// in plaintext mode (no aes_key): its signature covers only the token,
	// timestamp and nonce, so anyone who sees one request can forge
	// messages within the freshness window. Refused unless set.
	Plaintext bool `yaml:"plaintext,omitempty"`
	// Freshness bounds how far a callback's timestamp may be from the
	// server's clock (default 5m): older or later requests are refused, and
	// a request seen within the window is refused as a replay.
	Freshness time.Duration `yaml:"freshness,omitempty"`
	// The app's secret, for access tokens (media downloads). Without it,
	// media of callback messages is recorded as not fetched.
	AppSecret Secret `yaml:"app_secret,omitempty"`
	// APIBase overrides the API endpoint (a proxy, or a test server).
	APIBase string `yaml:"api_base,omitempty"`

	// wecom-archive: the conversation-archive secret, the vendor library,
	// the RSA private key of every publickey_ver ever configured in WeCom,
	// how often to poll, and an optional proxy for the SDK.
	Secret        Secret         `yaml:"secret,omitempty"`
	SDKPath       string         `yaml:"sdk_path,omitempty"`
	PrivateKeys   map[int]Secret `yaml:"private_keys,omitempty"`
	PollInterval  time.Duration  `yaml:"poll_interval,omitempty"`
	Proxy         string         `yaml:"proxy,omitempty"`
	ProxyPassword Secret         `yaml:"proxy_password,omitempty"`
	// wecom-archive, optional: the msgaudit REST calls (room names, the
	// permit list, consent checks) at api_base with corp_id and secret.
	// Absent, the connector uses the Finance SDK only.
	API *ArchiveAPI `yaml:"api,omitempty"`
	// wecom-archive: employees whose conversations must be captured; one
	// missing from WeCom's permit list raises permit_user_missing (needs api).
	ExpectedEmployees []string `yaml:"expected_employees,omitempty"`

	// wecom-kf: one customer-service account (empty: every account the
	// app's secret sees).
	OpenKfID string `yaml:"open_kfid,omitempty"`

	line int
}

// DefaultPollInterval is how often a pulling connector pulls when there is
// nothing new (a msgaudit_notify or kf_msg_or_event callback wakes it
// sooner).
const DefaultPollInterval = 30 * time.Second

// commonKeys are read for every connector; the others belong to the types
// that list them in their Rules.
var commonKeys = []string{"id", "type", "enabled"}

var configKeys = append(slices.Clone(commonKeys), "corp_id", "app_id", "suite_id", "token", "aes_key", "plaintext", "freshness", "app_secret", "api_base",
	"secret", "sdk_path", "private_keys", "poll_interval", "proxy", "proxy_password", "api", "expected_employees", "open_kfid")

// SetFields lists the type-specific keys c sets, in the schema's order.
// A type's rules say which of them it reads; Validate refuses the others.
func (c *Config) SetFields() []string {
	set := map[string]bool{
		"corp_id": c.CorpID != "", "app_id": c.AppID != "", "suite_id": c.SuiteID != "", "token": !c.Token.IsZero(), "aes_key": !c.AESKey.IsZero(),
		"plaintext": c.Plaintext, "freshness": c.Freshness != 0, "app_secret": !c.AppSecret.IsZero(), "api_base": c.APIBase != "",
		"secret": !c.Secret.IsZero(), "sdk_path": c.SDKPath != "", "private_keys": len(c.PrivateKeys) > 0,
		"poll_interval": c.PollInterval != 0, "proxy": c.Proxy != "", "proxy_password": !c.ProxyPassword.IsZero(),
		"api": c.API != nil, "expected_employees": len(c.ExpectedEmployees) > 0, "open_kfid": c.OpenKfID != "",
	}
	var out []string
	for _, k := range configKeys[len(commonKeys):] {
		if set[k] {
			out = append(out, k)
		}
	}
	return out
}

// ArchiveAPI tunes a wecom-archive connector's REST calls. Every field is
// optional (zero: the msgaudit package default); `api: {}` turns the calls
// on with the defaults. The msgaudit calls need no secret of their own:
// WeCom issues their access token for the conversation-archive secret, the
// connector's own `secret`. Customer groups are another matter: only a
// secret with customer-contact (客户联系) permission may describe them,
// hence ContactSecret.
type ArchiveAPI struct {
	RoomRefresh    time.Duration `yaml:"room_refresh,omitempty"`    // a room's name is fetched again after this (default 24h)
	PermitInterval time.Duration `yaml:"permit_interval,omitempty"` // how often the permit list is read (default 1h)
	ConsentRefresh time.Duration `yaml:"consent_refresh,omitempty"` // how long a consent answer is trusted (default 24h)
	MinInterval    time.Duration `yaml:"min_interval,omitempty"`    // between two calls: the rate limit (default 100ms)
	ConsentBatch   int           `yaml:"consent_batch,omitempty"`   // pairs per check_single_agree (default 100)
	// ContactSecret (optional) names customer groups, which
	// msgaudit/groupchat/get does not describe, with
	// externalcontact/groupchat/get. Without it their messages are
	// archived without the room's name.
	ContactSecret Secret `yaml:"contact_secret,omitempty"`

	line int
}

var archiveAPIKeys = []string{"room_refresh", "permit_interval", "consent_refresh", "min_interval", "consent_batch", "contact_secret"}

// UnmarshalYAML refuses unknown keys, like Config.
func (a *ArchiveAPI) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, archiveAPIKeys...); err != nil {
		return err
	}
	type plain ArchiveAPI
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*a = ArchiveAPI(p)
	a.line = n.Line
	return nil
}

// Line is where the section starts in the configuration file (0 when not
// read from one).
func (a *ArchiveAPI) Line() int { return a.line }

// UnmarshalYAML refuses unknown keys (a misspelt key must not silently
// disable something) and remembers the line for errors.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	c.line = n.Line
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a connector is a mapping (id, type, …)", n.Line)
	}
	if err := checkKeys(n, configKeys...); err != nil {
		return err
	}
	type plain Config
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	c.line = n.Line
	return nil
}

func checkKeys(n *yaml.Node, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping with %s", n.Line, strings.Join(allowed, " or "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return fmt.Errorf("line %d: unknown key %q (expected one of %s)", k.Line, k.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// IsEnabled reports whether serve should run the connector.
func (c *Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Line is where the connector starts in the configuration file (0 when not
// read from one).
func (c *Config) Line() int { return c.line }
