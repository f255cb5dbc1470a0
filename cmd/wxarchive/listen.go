package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/httpx"
)

// parseListenAddr reads serve --addr without any lookup: the address the
// archive listens on is decided by what the operator typed, never by a
// DNS answer (or /etc/services) that someone else controls. The host is
// an IP literal, "localhost" (127.0.0.1), or empty (every interface); the
// port is a number.
func parseListenAddr(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--addr %q: want HOST:PORT with HOST an IP address (127.0.0.1, ::1, 0.0.0.0): %v", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--addr %q: the port %q is not a number from 0 to 65535 (service names are not looked up)", addr, port)
	}
	var ip netip.Addr
	switch {
	case host == "":
		ip = netip.IPv4Unspecified()
	case strings.EqualFold(host, "localhost"):
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if ip, err = netip.ParseAddr(host); err != nil || ip.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("--addr %q: %q is not an IP address; serve does not resolve host names (a DNS answer must not decide where the archive listens): give the address itself, e.g. 127.0.0.1:8080", addr, host)
		}
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// exposed reports whether a listen address is reachable from other
// machines: anything but loopback.
func exposed(a netip.AddrPort) bool { return !a.Addr().IsLoopback() }

// allowedHosts is the Host allow-list of a server listening on bound: the
// loopback names on any port, the listen address (for an unspecified one,
// every address of this machine's interfaces, read from the system, not
// the DNS) on its port, and what the operator added.
func allowedHosts(bound netip.AddrPort, extra []string) (*httpx.Hosts, error) {
	entries := append([]string(nil), httpx.LoopbackHosts...)
	port := strconv.Itoa(int(bound.Port()))
	if bound.Addr().IsUnspecified() {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("list this machine's addresses for the Host allow-list: %w", err)
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Zone() == "" {
				entries = append(entries, net.JoinHostPort(pfx.Addr().Unmap().String(), port))
			}
		}
	} else {
		entries = append(entries, net.JoinHostPort(bound.Addr().String(), port))
	}
	return httpx.NewHosts(append(entries, extra...)...)
}

// defaultMemoryLimit is serve's soft limit on the Go heap when neither
// --memory-limit, serve.memory_limit nor GOMEMLIMIT says otherwise: the
// garbage collector works harder near it instead of letting the heap grow
// to twice what is live, which is what keeps the server's peak RSS under
// load within the bound docs/SECURITY.md states. It is soft: a heap that
// needs more gets it (the collector then runs often, never fails).
const defaultMemoryLimit = 384 << 20

// memoryLimit decides the soft memory limit: the flag (when given), else
// the configuration, else GOMEMLIMIT (left to the runtime: limit 0), else
// the default. "off" (or "0") sets none. from says where it came from.
func memoryLimit(flag string, flagSet bool, config string) (limit int64, from string, err error) {
	v, what := "", ""
	switch {
	case flagSet:
		v, what = flag, "--memory-limit"
	case config != "":
		v, what = config, "serve.memory_limit"
	case os.Getenv("GOMEMLIMIT") != "":
		return 0, "GOMEMLIMIT=" + os.Getenv("GOMEMLIMIT"), nil
	default:
		return defaultMemoryLimit, formatBytes(defaultMemoryLimit) + " (default)", nil
	}
	if v == "off" || v == "0" {
		return math.MaxInt64, "off", nil
	}
	n, err := parseBytes(v)
	if err != nil {
		return 0, "", fmt.Errorf("%s %q: %v", what, v, err)
	}
	if n < 64<<20 {
		return 0, "", fmt.Errorf("%s %q: at least 64MiB (or off)", what, v)
	}
	return n, formatBytes(n) + " (" + what + ")", nil
}

// parseBytes reads a size: a whole number with an optional unit (B, KiB,
// MiB, GiB; KB, MB, GB are read as the binary ones too).
func parseBytes(v string) (int64, error) {
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil || i == 0 {
		return 0, fmt.Errorf("want a size such as 384MiB or 2GiB")
	}
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[strings.ToLower(strings.TrimSpace(v[i:]))]
	if mult == 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size such as 384MiB or 2GiB")
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// serverTLS loads the certificate and key serve --tls-cert/--tls-key
// name (nil, nil when neither is given). TLS 1.2 at least; the key file
// must be readable by its owner only.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--tls-key %s is readable by other users (mode %04o): chmod 600 it", keyFile, fi.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %v", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
