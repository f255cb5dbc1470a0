package oidc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Bounds of the requests the relying party makes to a provider
// (discovery, JWKS, token endpoint). A provider is trusted to say who a
// user is, not to hold a server thread or its memory: a discovery
// document or a key set is a few kilobytes.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	maxRedirects            = 3
)

// errResponseTooLarge: a provider's answer exceeded MaxResponseBytes.
var errResponseTooLarge = errors.New("the provider's response exceeds the size limit")

// newClient is the client for provider requests: base (or a transport
// with dial, TLS and header timeouts) behind a body-size limit, an
// overall timeout, and few redirects, none of them to plain http off the
// loopback address.
func newClient(base http.RoundTripper, timeout time.Duration, maxBytes int64) *http.Client {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone() // keeps the proxy settings of the environment
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 5 * time.Second
		t.ResponseHeaderTimeout = timeout
		t.MaxResponseHeaderBytes = 64 << 10
		base = t
	}
	return &http.Client{
		Transport: limitTransport{base: base, max: maxBytes},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && isLoopback(req.URL.Hostname())) {
				return fmt.Errorf("redirect to %s: not https", req.URL.Redacted())
			}
			return nil
		},
	}
}

type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// limitedBody fails a read past left bytes with errResponseTooLarge, so
// that a truncated document is never parsed as a whole one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, errResponseTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
