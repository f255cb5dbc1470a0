package kf

import (
	"context"
	"fmt"
	"time"

	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
)

// TypeName is the connector type of WeCom customer service.
const TypeName connector.Type = "wecom-kf"

// Type is the wecom-kf connector type: kf/sync_msg from a cursor, with the
// app secret of an app that may read customer service.
func Type() capture.Type {
	return capture.Type{
		Name: TypeName,
		Rules: connector.Rules{
			Fields: []string{"corp_id", "app_secret", "open_kfid", "poll_interval", "api_base"},
			Check: func(c *connector.Config) []connector.Problem {
				var ps []connector.Problem
				if c.CorpID == "" {
					ps = append(ps, connector.Problemf("corp_id", "required"))
				}
				ps = append(ps, connector.RequireSecret("app_secret", c.AppSecret)...)
				if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Second) {
					ps = append(ps, connector.Problemf("poll_interval", "%s: at least 1s", c.PollInterval))
				}
				return ps
			},
			// One sync per corp: two would read the same cursor twice.
			Unique: func(c *connector.Config) string { return "corp " + c.CorpID },
		},
		Source: func(c *connector.Config) string { return SourceName(c.CorpID) },
		New: func(_ context.Context, c connector.Config, d capture.Deps) (capture.Connector, error) {
			secret, err := c.AppSecret.Resolve()
			if err != nil {
				return nil, fmt.Errorf("app_secret: %w", err)
			}
			client := &api.Client{Flavor: api.WeCom, BaseURL: c.APIBase, ID: c.CorpID, Secret: secret}
			return &Syncer{ID: c.ID, CorpID: c.CorpID, OpenKfID: c.OpenKfID, Client: client, Engine: d.Writer, Blobs: d.Blobs,
				Store: d.Store, Health: d.Health, Interval: c.PollInterval, Logger: d.Log()}, nil
		},
	}
}
