// Package connector holds what every capture connector shares: its
// configuration (the connectors section of wxarchive.yaml, with secrets
// read from files or environment variables, never from the file itself)
// and, in health.go, its capture health.
package connector

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/capture/wecom/api"
)

// Type names a kind of connector.
type Type string

// Connector types.
const (
	TypeWeComCallback Type = "wecom-callback" // a WeCom self-built app's callback URL
	TypeOACallback    Type = "oa-callback"    // a WeChat Official Account's callback URL
	TypeWeComArchive  Type = "wecom-archive"  // the conversation archive (会话内容存档) through the Finance SDK
	TypeWeComKF       Type = "wecom-kf"       // customer service (微信客服) through kf/sync_msg
)

var types = map[Type]bool{TypeWeComCallback: true, TypeOACallback: true, TypeWeComArchive: true, TypeWeComKF: true}

// Secret says where a secret is read from: an environment variable or a
// file (its content, without a final newline). A secret written in the
// configuration file itself is refused: the file is copied and backed up
// far more widely than a secret should be.
type Secret struct {
	Env  string `yaml:"env,omitempty"`
	File string `yaml:"file,omitempty"`

	inline bool // written as a plain value: refused by Validate
	line   int
}

// UnmarshalYAML accepts {env: NAME} or {file: PATH}. A plain value is
// remembered (not its text) so Validate can point at the line.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	s.line = n.Line
	if n.Kind == yaml.ScalarNode {
		s.inline = n.Value != ""
		return nil
	}
	type plain struct {
		Env  string `yaml:"env"`
		File string `yaml:"file"`
	}
	if err := checkKeys(n, "env", "file"); err != nil {
		return err
	}
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	s.Env, s.File = p.Env, p.File
	return nil
}

// IsZero reports whether no secret is configured.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && !s.inline }

// Resolve reads the secret. Errors name where it was looked for, never
// its value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.inline:
		return "", errors.New("written in the configuration file: use {env: NAME} or {file: PATH}")
	case s.Env != "" && s.File != "":
		return "", errors.New("give env or file, not both")
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", s.File, errors.Unwrap(err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s is empty", s.File)
		}
		return v, nil
	}
	return "", errors.New("not configured")
}

// Config is one connector.
type Config struct {
	ID      string `yaml:"id"`
	Type    Type   `yaml:"type"`
	Enabled *bool  `yaml:"enabled,omitempty"` // default true
	// WeCom callback: the CorpID is the receive id and the API account;
	// Official Account: the AppID.
	CorpID string `yaml:"corp_id,omitempty"`
	AppID  string `yaml:"app_id,omitempty"`
	// Callback token and EncodingAESKey (an Official Account in plaintext
	// mode has no key).
	Token  Secret `yaml:"token,omitempty"`
	AESKey Secret `yaml:"aes_key,omitempty"`
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

// DefaultPollInterval is how often a wecom-archive connector pulls when
// there is nothing new (a msgaudit_notify callback wakes it sooner).
const DefaultPollInterval = 30 * time.Second

var configKeys = []string{"id", "type", "enabled", "corp_id", "app_id", "token", "aes_key", "app_secret", "api_base",
	"secret", "sdk_path", "private_keys", "poll_interval", "proxy", "proxy_password", "api", "expected_employees", "open_kfid"}

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

// ArchiveAPIClient returns the REST client of a wecom-archive connector
// that has an api section (nil, nil without one): corp_id with the
// conversation-archive secret, at api_base (default WeCom's). The secret
// is resolved here; errors say where it was looked for, never its value.
func (c *Config) ArchiveAPIClient() (*api.Client, error) {
	if c.Type != TypeWeComArchive || c.API == nil {
		return nil, nil
	}
	secret, err := c.Secret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &api.Client{Flavor: api.WeCom, BaseURL: c.APIBase, ID: c.CorpID, Secret: secret}, nil
}

// ContactAPIClient returns the customer-contact client of a wecom-archive
// connector whose api section has a contact_secret (nil, nil without
// one): corp_id with that secret, at api_base. It is a client of its own
// because WeCom caches one access token per secret.
func (c *Config) ContactAPIClient() (*api.Client, error) {
	if c.Type != TypeWeComArchive || c.API == nil || c.API.ContactSecret.IsZero() {
		return nil, nil
	}
	secret, err := c.API.ContactSecret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("contact_secret: %w", err)
	}
	return &api.Client{Flavor: api.WeCom, BaseURL: c.APIBase, ID: c.CorpID, Secret: secret}, nil
}

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

// ReceiveID is the id callback plaintexts must end with.
func (c *Config) ReceiveID() string {
	if c.Type == TypeOACallback {
		return c.AppID
	}
	return c.CorpID
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks every connector and returns every problem, each naming
// the connector, the field and the line.
func Validate(cs []Config) error {
	var errs []error
	seen := map[string]int{}
	for i := range cs {
		c := &cs[i]
		bad := func(field, format string, a ...any) {
			where := fmt.Sprintf("connectors[%d]", i)
			if c.ID != "" {
				where += " (" + c.ID + ")"
			}
			if c.line > 0 {
				where = fmt.Sprintf("line %d: %s", c.line, where)
			}
			errs = append(errs, fmt.Errorf("%s: %s: %s", where, field, fmt.Sprintf(format, a...)))
		}
		switch {
		case c.ID == "":
			bad("id", "required")
		case !idPattern.MatchString(c.ID):
			bad("id", "%q: use lower-case letters, digits and '-' (it appears in URLs)", c.ID)
		case seen[c.ID] > 0:
			bad("id", "%q is also connectors[%d]", c.ID, seen[c.ID]-1)
		}
		seen[c.ID] = i + 1
		if !types[c.Type] {
			bad("type", "%q: expected wecom-callback, oa-callback, wecom-archive or wecom-kf", c.Type)
			continue
		}
		secret := func(field string, s Secret, required bool) {
			switch {
			case s.inline:
				bad(field, "a secret must not be written in the configuration file: use {env: NAME} or {file: PATH} (line %d)", s.line)
			case s.Env != "" && s.File != "":
				bad(field, "give env or file, not both")
			case required && s.IsZero():
				bad(field, "required ({env: NAME} or {file: PATH})")
			}
		}
		switch c.Type {
		case TypeWeComCallback:
			if c.CorpID == "" {
				bad("corp_id", "required (the CorpID that callback messages are addressed to)")
			}
			if c.AppID != "" {
				bad("app_id", "is for oa-callback; a WeCom app uses corp_id")
			}
			secret("token", c.Token, true)
			secret("aes_key", c.AESKey, true) // WeCom callbacks are always encrypted
		case TypeOACallback:
			if c.AppID == "" {
				bad("app_id", "required (the Official Account's AppID)")
			}
			if c.CorpID != "" {
				bad("corp_id", "is for wecom-callback; an Official Account uses app_id")
			}
			secret("token", c.Token, true)
			secret("aes_key", c.AESKey, false) // plaintext mode has none
		case TypeWeComArchive:
			if c.CorpID == "" {
				bad("corp_id", "required (the CorpID whose conversation archive is pulled)")
			}
			secret("secret", c.Secret, true)
			if c.SDKPath == "" {
				bad("sdk_path", "required: the path of libWeWorkFinanceSdk_C.so, which you obtain from WeCom")
			}
			if len(c.PrivateKeys) == 0 {
				bad("private_keys", "required: the RSA private key (PEM) of every publickey_ver, e.g. {1: {file: /etc/wxarchive/msgaudit-v1.pem}}")
			}
			for ver, k := range c.PrivateKeys {
				if ver <= 0 {
					bad("private_keys", "version %d: versions start at 1", ver)
				}
				secret(fmt.Sprintf("private_keys[%d]", ver), k, true)
			}
			if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Second) {
				bad("poll_interval", "%s: at least 1s", c.PollInterval)
			}
			secret("proxy_password", c.ProxyPassword, false)
			if a := c.API; a != nil {
				for _, d := range []struct {
					name string
					v    time.Duration
				}{{"api.room_refresh", a.RoomRefresh}, {"api.permit_interval", a.PermitInterval}, {"api.consent_refresh", a.ConsentRefresh}} {
					if d.v < 0 || (d.v > 0 && d.v < time.Minute) {
						bad(d.name, "%s: at least 1m (line %d)", d.v, a.line)
					}
				}
				if a.MinInterval < 0 || a.MinInterval > time.Minute {
					bad("api.min_interval", "%s: between 0 and 1m (line %d)", a.MinInterval, a.line)
				}
				if a.ConsentBatch < 0 || a.ConsentBatch > 1000 {
					bad("api.consent_batch", "%d: at most 1000 pairs per call (line %d)", a.ConsentBatch, a.line)
				}
				secret("api.contact_secret", a.ContactSecret, false)
			}
			if len(c.ExpectedEmployees) > 0 && c.API == nil {
				bad("expected_employees", "needs the api section: the permit list is read with msgaudit/get_permit_user_list (e.g. api: {})")
			}
			seenEmp := map[string]bool{}
			for j, e := range c.ExpectedEmployees {
				switch {
				case strings.TrimSpace(e) == "":
					bad(fmt.Sprintf("expected_employees[%d]", j), "empty userid")
				case seenEmp[e]:
					bad(fmt.Sprintf("expected_employees[%d]", j), "%q is listed twice", e)
				}
				seenEmp[e] = true
			}
		case TypeWeComKF:
			if c.CorpID == "" {
				bad("corp_id", "required")
			}
			secret("app_secret", c.AppSecret, true)
			if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Second) {
				bad("poll_interval", "%s: at least 1s", c.PollInterval)
			}
		}
		if c.Type != TypeWeComArchive {
			for _, f := range []struct {
				name string
				set  bool
			}{{"secret", !c.Secret.IsZero()}, {"sdk_path", c.SDKPath != ""}, {"private_keys", len(c.PrivateKeys) > 0},
				{"poll_interval", c.PollInterval != 0 && c.Type != TypeWeComKF}, {"proxy", c.Proxy != ""},
				{"api", c.API != nil}, {"expected_employees", len(c.ExpectedEmployees) > 0}} {
				if f.set {
					bad(f.name, "is for wecom-archive connectors")
				}
			}
		}
		if c.Type != TypeWeComKF {
			secret("app_secret", c.AppSecret, false)
		}
		if c.APIBase != "" && !strings.HasPrefix(c.APIBase, "https://") && !strings.HasPrefix(c.APIBase, "http://") {
			bad("api_base", "%q is not an http(s) URL", c.APIBase)
		}
	}
	return errors.Join(errs...)
}

// SourceName is the archive source name of a connector's messages.
func SourceName(c Config) string {
	switch c.Type {
	case TypeOACallback:
		return "oa-callback:" + c.ID
	case TypeWeComCallback:
		return "wecom-callback:" + c.ID
	case TypeWeComKF:
		return "wecom-kf:" + c.CorpID
	case TypeWeComArchive:
		// The same source as `wxarchive ingest wecom-archive`: a message
		// captured both ways is archived once.
		return "wecom-archive:" + c.CorpID
	}
	return string(c.Type) + ":" + c.ID
}
