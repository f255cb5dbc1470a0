//go:build !wecomsdk || !cgo

package native

import (
	"errors"

	"github.com/wxarchive/wxarchive/capture/wecom/finance"
)

// ErrNotBuilt is returned by Open in a build without the vendor binding.
var ErrNotBuilt = errors.New("finance SDK: this wxarchive was built without the WeCom Finance SDK binding (build with -tags wecomsdk; README, \"WeCom Finance SDK\")")

// Open fails: see ErrNotBuilt.
func Open(path, corpID, secret string) (finance.SDK, error) { return nil, ErrNotBuilt }
