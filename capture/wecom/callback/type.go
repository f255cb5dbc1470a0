package callback

import (
	"context"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
)

// Connector types of callback URLs.
const (
	TypeWeCom           connector.Type = "wecom-callback" // a WeCom self-built app's callback URL
	TypeOfficialAccount connector.Type = "oa-callback"    // a WeChat Official Account's callback URL
)

// MediaRetryInterval is how often a callback connector fetches again the
// media it could not fetch at capture.
const MediaRetryInterval = 5 * time.Minute

// SourceName is the archive source of a callback connector's messages.
func SourceName(p Platform, id string) string {
	if p == PlatformOfficialAccount {
		return "oa-callback:" + id
	}
	return "wecom-callback:" + id
}

// ReceiveID is the id a callback connector's decrypted plaintexts must
// end with: the CorpID of a WeCom app, the AppID of an Official Account.
func ReceiveID(c *connector.Config) string {
	if c.Type == TypeOfficialAccount {
		return c.AppID
	}
	return c.CorpID
}

// WeComType is the wecom-callback connector type: a WeCom app's callback
// URL, always in safe mode.
func WeComType() capture.Type {
	return capture.Type{
		Name: TypeWeCom,
		Rules: connector.Rules{
			Fields: []string{"corp_id", "suite_id", "token", "aes_key", "app_secret", "api_base", "freshness"},
			Check: func(c *connector.Config) []connector.Problem {
				var ps []connector.Problem
				if c.CorpID == "" {
					ps = append(ps, connector.Problemf("corp_id", "required (the CorpID that callback messages are addressed to)"))
				}
				ps = append(ps, connector.RequireSecret("token", c.Token)...)
				// WeCom callbacks are always encrypted.
				ps = append(ps, connector.RequireSecret("aes_key", c.AESKey)...)
				return append(ps, checkFreshness(c)...)
			},
		},
		Source: func(c *connector.Config) string { return SourceName(PlatformWeCom, c.ID) },
		New:    newReceiver(PlatformWeCom),
	}
}

// OfficialAccountType is the oa-callback connector type: an Official
// Account's callback URL.
func OfficialAccountType() capture.Type {
	return capture.Type{
		Name: TypeOfficialAccount,
		Rules: connector.Rules{
			Fields: []string{"app_id", "token", "aes_key", "plaintext", "app_secret", "api_base", "freshness"},
			Check: func(c *connector.Config) []connector.Problem {
				var ps []connector.Problem
				if c.AppID == "" {
					ps = append(ps, connector.Problemf("app_id", "required (the Official Account's AppID)"))
				}
				ps = append(ps, connector.RequireSecret("token", c.Token)...)
				switch {
				case c.AESKey.IsZero() && !c.Plaintext:
					ps = append(ps, connector.Problemf("aes_key", "required unless plaintext: true: in plaintext mode the signature covers only "+
						"the token, timestamp and nonce, so anyone who sees one request can forge messages; set the Official Account's "+
						"message encryption to safe mode (安全模式) and configure its EncodingAESKey, or say plaintext: true to accept the risk"))
				case !c.AESKey.IsZero() && c.Plaintext:
					ps = append(ps, connector.Problemf("plaintext", "true with an aes_key: a callback is in plaintext mode or has a key, not both"))
				}
				return append(ps, checkFreshness(c)...)
			},
		},
		Source: func(c *connector.Config) string { return SourceName(PlatformOfficialAccount, c.ID) },
		New:    newReceiver(PlatformOfficialAccount),
		Standing: func(c *connector.Config) map[string]string {
			detail := ""
			if c.Plaintext {
				detail = plaintextRisk
			}
			return map[string]string{capture.FaultPlaintextMode: detail}
		},
	}
}

// plaintextRisk is the standing fault of an Official Account callback in
// plaintext mode.
const plaintextRisk = "the callback runs in plaintext mode (plaintext: true): its signature covers only the token, timestamp and nonce, " +
	"so anyone who sees one request can post forged messages with it within the freshness window; switch the Official Account to safe mode (安全模式) with an EncodingAESKey"

// Bounds of the freshness setting: tighter refuses genuine requests from a
// slightly skewed clock, looser lets a captured request be replayed (and
// the replay cache remember) for longer.
const (
	minFreshness = 30 * time.Second
	maxFreshness = time.Hour
)

func checkFreshness(c *connector.Config) []connector.Problem {
	if c.Freshness != 0 && (c.Freshness < minFreshness || c.Freshness > maxFreshness) {
		return []connector.Problem{connector.Problemf("freshness", "%s: between %s and %s (default %s)", c.Freshness, minFreshness, maxFreshness, DefaultFreshness)}
	}
	return nil
}

// newReceiver builds a callback connector: secrets are resolved here, and
// the receiver's outcomes, media faults and wake-ups are wired to the
// archive's health and to the connectors a signal concerns.
func newReceiver(platform Platform) func(ctx context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
	return func(ctx context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
		secret := func(field string, s connector.Secret) (string, error) {
			if s.IsZero() {
				return "", nil
			}
			v, err := s.Resolve()
			if err != nil {
				return "", fmt.Errorf("%s: %w", field, err)
			}
			return v, nil
		}
		token, err := secret("token", c.Token)
		if err != nil {
			return nil, err
		}
		aesKey, err := secret("aes_key", c.AESKey)
		if err != nil {
			return nil, err
		}
		appSecret, err := secret("app_secret", c.AppSecret)
		if err != nil {
			return nil, err
		}
		cr, err := NewCrypter(token, aesKey, ReceiveID(&c), c.SuiteID)
		if err != nil {
			return nil, err
		}
		logger := d.Log().With("connector", c.ID)
		rcv := &Receiver{ID: c.ID, Platform: platform, Crypter: cr, Engine: d.Writer, Blobs: d.Blobs, Store: d.Store, Logger: logger,
			Now: d.Now, Freshness: c.Freshness, AllowPlaintext: platform == PlatformOfficialAccount && c.Plaintext}
		if rcv.Now == nil && d.Writer != nil {
			rcv.Now = d.Writer.Now // the writer's clock: the one evidence is stamped with
		}
		flavor := api.WeCom
		if platform == PlatformOfficialAccount {
			flavor = api.OfficialAccount
		}
		if appSecret != "" {
			rcv.Media = &api.Client{Flavor: flavor, BaseURL: c.APIBase, ID: ReceiveID(&c), Secret: appSecret}
		} else {
			logger.Warn("connector has no app_secret: media of its messages will not be fetched")
		}
		signal := func(sig capture.Signal) {
			if d.Signal != nil {
				d.Signal(sig)
			}
		}
		rcv.Notify = func() {
			logger.Info("msgaudit_notify: pulling the conversation archive now", "corp", c.CorpID)
			signal(capture.Signal{Kind: capture.SignalMsgauditNotify, Corp: c.CorpID, From: c.ID})
		}
		rcv.OnKFEvent = func(token, openKfID string) {
			logger.Info("kf_msg_or_event: syncing customer service now", "corp", c.CorpID, "open_kfid", openKfID)
			signal(capture.Signal{Kind: capture.SignalKF, Corp: c.CorpID, Token: token, OpenKfID: openKfID, From: c.ID})
		}
		if d.Health != nil {
			rcv.OnEvent = func(outcome, subject, detail string) {
				// Health bookkeeping must outlive the request that reported it.
				ctx := context.WithoutCancel(ctx)
				d.Health.Observe(ctx, c.ID, outcome, detail)
				switch outcome {
				case capture.OutcomeMediaFailed:
					d.Health.Raise(ctx, c.ID, capture.FaultMediaFailed, subject, detail)
				case capture.OutcomeMediaFetched:
					d.Health.Resolve(ctx, c.ID, capture.FaultMediaFailed, subject, detail, "connector:"+c.ID)
				case capture.OutcomeDecodeWarning:
					d.Health.Raise(ctx, c.ID, capture.FaultDecodeWarning, subject, detail)
				}
			}
		}
		return rcv, nil
	}
}

// Info implements capture.Connector.
func (r *Receiver) Info() capture.Info {
	t := TypeWeCom
	if r.Platform == PlatformOfficialAccount {
		t = TypeOfficialAccount
	}
	return capture.Info{ID: r.ID, Type: t, Source: r.Source()}
}

// Run fetches again, every MediaRetryInterval, the media that could not
// be fetched at capture, until ctx ends (capture.Connector). Messages
// themselves arrive through ServeHTTP.
func (r *Receiver) Run(ctx context.Context) error {
	if r.Media == nil || r.Store == nil {
		<-ctx.Done()
		return nil
	}
	r.RunMediaRetry(ctx, MediaRetryInterval)
	return nil
}
