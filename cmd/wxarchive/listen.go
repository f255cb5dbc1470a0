package main

import (
	"fmt"
	"net"
	"net/netip"
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
