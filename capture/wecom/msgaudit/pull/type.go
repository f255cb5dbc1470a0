package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
)

// TypeName is the connector type of the conversation archive.
const TypeName connector.Type = "wecom-archive"

// OpenSDK starts the Finance SDK for a connector: the corp's
// conversation-archive secret is resolved by the caller. serve runs the
// vendor library in a child process (capture-agent) so that a crash in it
// ends that process, not the archive.
type OpenSDK func(c connector.Config, secret string, logger *slog.Logger) (finance.SDK, error)

// Type is the wecom-archive connector type: pulls through the SDK that
// open starts, with the REST calls when the configuration has an api
// section.
func Type(open OpenSDK) capture.Type {
	return capture.Type{
		Name: TypeName,
		Rules: connector.Rules{
			Fields: []string{"corp_id", "secret", "sdk_path", "private_keys", "poll_interval", "proxy", "proxy_password",
				"api_base", "api", "expected_employees"},
			Check: check,
			// Two connectors pulling one corp would each archive it: one.
			Unique: func(c *connector.Config) string { return "corp " + c.CorpID },
		},
		Source: func(c *connector.Config) string { return msgaudit.Source(c.CorpID) },
		New: func(_ context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
			return New(c, d, open)
		},
	}
}

func check(c *connector.Config) []connector.Problem {
	var ps []connector.Problem
	bad := func(field, format string, a ...any) { ps = append(ps, connector.Problemf(field, format, a...)) }
	if c.CorpID == "" {
		bad("corp_id", "required (the CorpID whose conversation archive is pulled)")
	}
	ps = append(ps, connector.RequireSecret("secret", c.Secret)...)
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
		ps = append(ps, connector.RequireSecret(fmt.Sprintf("private_keys[%d]", ver), k)...)
	}
	if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Second) {
		bad("poll_interval", "%s: at least 1s", c.PollInterval)
	}
	if a := c.API; a != nil {
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"api.room_refresh", a.RoomRefresh}, {"api.permit_interval", a.PermitInterval}, {"api.consent_refresh", a.ConsentRefresh}} {
			if d.v < 0 || (d.v > 0 && d.v < time.Minute) {
				bad(d.name, "%s: at least 1m (line %d)", d.v, a.Line())
			}
		}
		if a.MinInterval < 0 || a.MinInterval > time.Minute {
			bad("api.min_interval", "%s: between 0 and 1m (line %d)", a.MinInterval, a.Line())
		}
		if a.ConsentBatch < 0 || a.ConsentBatch > maxConsentBatch {
			bad("api.consent_batch", "%d: at most %d pairs per call (line %d)", a.ConsentBatch, maxConsentBatch, a.Line())
		}
	}
	if len(c.ExpectedEmployees) > 0 && c.API == nil {
		bad("expected_employees", "needs the api section: the permit list is read with msgaudit/get_permit_user_list (e.g. api: {})")
	}
	seen := map[string]bool{}
	for j, e := range c.ExpectedEmployees {
		switch {
		case strings.TrimSpace(e) == "":
			bad(fmt.Sprintf("expected_employees[%d]", j), "empty userid")
		case seen[e]:
			bad(fmt.Sprintf("expected_employees[%d]", j), "%q is listed twice", e)
		}
		seen[e] = true
	}
	return ps
}

// New builds a wecom-archive connector from a validated configuration:
// the secret, every private key and the proxy password are resolved here
// (errors say where each was looked for, never its value).
func New(c connector.Config, d capture.Deps, open OpenSDK) (*Connector, error) {
	if open == nil {
		return nil, errors.New("this program cannot start the Finance SDK (no SDK opener): run the connector with wxarchive serve")
	}
	secret, err := c.Secret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	pems := map[int][]byte{}
	for ver, s := range c.PrivateKeys {
		v, err := s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("private_keys[%d]: %w", ver, err)
		}
		pems[ver] = []byte(v)
	}
	ring, err := finance.ParseKeyRing(pems)
	if err != nil {
		return nil, fmt.Errorf("private_keys: %w", err)
	}
	var passwd string
	if !c.ProxyPassword.IsZero() {
		if passwd, err = c.ProxyPassword.Resolve(); err != nil {
			return nil, fmt.Errorf("proxy_password: %w", err)
		}
	}
	logger := d.Log()
	mc := &Connector{ID: c.ID, CorpID: c.CorpID, Keys: ring, Engine: d.Writer, Blobs: d.Blobs, Store: d.Store,
		Health: d.Health, Proxy: c.Proxy, Passwd: passwd, Interval: c.PollInterval, Logger: logger, Now: d.Now,
		Open: func() (finance.SDK, error) { return open(c, secret, logger) }}
	// The msgaudit REST calls (room names, permit list, consent checks),
	// when the connector has an api section.
	if c.API != nil {
		client, err := ArchiveAPIClient(&c)
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		mc.API = client
		// Customer groups' names (contact_secret); a nil *api.Client must
		// not become a non-nil interface.
		if contact, err := ContactAPIClient(&c); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		} else if contact != nil {
			mc.Contact = contact
		}
		mc.APIOptions = APIOptions{RoomRefresh: c.API.RoomRefresh, PermitInterval: c.API.PermitInterval,
			ConsentRefresh: c.API.ConsentRefresh, MinInterval: c.API.MinInterval, ConsentBatch: c.API.ConsentBatch,
			ExpectedEmployees: c.ExpectedEmployees}
	}
	return mc, nil
}

// ArchiveAPIClient returns the REST client of a wecom-archive connector
// that has an api section (nil, nil without one): corp_id with the
// conversation-archive secret, at api_base (default WeCom's). The secret
// is resolved here; errors say where it was looked for, never its value.
func ArchiveAPIClient(c *connector.Config) (*api.Client, error) {
	if c.Type != TypeName || c.API == nil {
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
func ContactAPIClient(c *connector.Config) (*api.Client, error) {
	if c.Type != TypeName || c.API == nil || c.API.ContactSecret.IsZero() {
		return nil, nil
	}
	secret, err := c.API.ContactSecret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("contact_secret: %w", err)
	}
	return &api.Client{Flavor: api.WeCom, BaseURL: c.APIBase, ID: c.CorpID, Secret: secret}, nil
}
