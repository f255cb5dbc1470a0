// Package all registers every connector type and ingester of the archive:
// adding a connector type is its own package plus one line here. Only
// cmd/ (and tests) import it, so nothing else depends on a vendor package.
package all

import (
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/capture/wecom/kf"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
)

// Options are what a connector type needs from the program that runs it.
type Options struct {
	// OpenSDK starts the WeCom Finance SDK for a wecom-archive connector
	// (serve: a capture-agent child process). Nil: building one fails with
	// an error saying so; validating a configuration needs none.
	OpenSDK pull.OpenSDK
}

// Registry returns the registry of every connector type and ingester.
func Registry(o Options) *capture.Registry {
	r := capture.NewRegistry()
	r.Register(callback.WeComType())
	r.Register(callback.OfficialAccountType())
	r.Register(pull.Type(o.OpenSDK))
	r.Register(kf.Type())
	r.RegisterIngester(jsonl.IngesterType())
	return r
}
