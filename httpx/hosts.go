package httpx

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Hosts is the list of Host header values a server answers to: the
// defence against DNS rebinding, where a hostile page makes a browser
// send requests to the archive under the attacker's own host name. A
// request whose Host is not on the list is refused before any handler.
//
// An entry is a host name or an IP literal, alone (any port) or with a
// port (that port only). Matching is case-insensitive and ignores a
// trailing dot. Entries are never resolved: a name is compared as text.
type Hosts struct {
	anyPort  map[string]bool // host → allowed on every port
	withPort map[string]bool // "host:port" (IPv6 unbracketed host) → allowed
	list     []string        // as given, for messages
}

// LoopbackHosts are allowed on every port by default: a page cannot make
// a browser send them for a name the attacker controls.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// NewHosts validates the entries; the error names the entry at fault.
func NewHosts(entries ...string) (*Hosts, error) {
	h := &Hosts{anyPort: map[string]bool{}, withPort: map[string]bool{}}
	for _, e := range entries {
		host, port, err := parseHostEntry(e)
		if err != nil {
			return nil, fmt.Errorf("allowed host %q: %w", e, err)
		}
		if port == "" {
			h.anyPort[host] = true
		} else {
			h.withPort[net.JoinHostPort(host, port)] = true
		}
		if !slices.Contains(h.list, e) {
			h.list = append(h.list, e)
		}
	}
	return h, nil
}

// List returns the entries, as given.
func (h *Hosts) List() []string { return slices.Clone(h.list) }

// Allowed reports whether a request's Host header names this server.
func (h *Hosts) Allowed(hostHeader string) bool {
	if h == nil {
		return true
	}
	host, port, ok := splitHostHeader(hostHeader)
	if !ok {
		return false
	}
	if h.anyPort[host] {
		return true
	}
	return port != "" && h.withPort[net.JoinHostPort(host, port)]
}

// parseHostEntry reads "host", "host:port", "[v6]" or "[v6]:port".
func parseHostEntry(e string) (host, port string, err error) {
	if e == "" {
		return "", "", fmt.Errorf("empty")
	}
	if strings.ContainsAny(e, "/@?#* \t") {
		return "", "", fmt.Errorf("want a host name or IP address, optionally with :port (no scheme, path or wildcard)")
	}
	host, port, ok := splitHostHeader(e)
	if !ok {
		return "", "", fmt.Errorf("want a host name or IP address, optionally with :port")
	}
	return host, port, nil
}

// splitHostHeader splits a Host header into a normalized host and its
// port ("" when absent). ok is false for anything that is neither an IP
// literal nor a syntactically valid DNS name, or for a bad port.
func splitHostHeader(v string) (host, port string, ok bool) {
	if v == "" || len(v) > 260 {
		return "", "", false
	}
	host = v
	switch {
	case strings.HasPrefix(v, "["):
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", "", false
		}
		host = v[1:end]
		rest := v[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", false
			}
			port = rest[1:]
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return "", "", false
		}
		host = a.String()
	case strings.Count(v, ":") == 1:
		i := strings.IndexByte(v, ':')
		host, port = v[:i], v[i+1:]
	case strings.Count(v, ":") > 1:
		// An unbracketed IPv6 literal (allowed in configuration only;
		// a Host header always brackets it).
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", "", false
		}
		return a.String(), "", true
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", "", false
		}
	} else if strings.HasSuffix(v, ":") {
		return "", "", false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String(), port, true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !dnsName(host) {
		return "", "", false
	}
	return host, port, true
}

// dnsName reports whether s is a syntactically valid host name: labels
// of letters, digits and '-' (and '_', which some internal names use),
// not starting or ending with '-', at most 63 bytes each.
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
