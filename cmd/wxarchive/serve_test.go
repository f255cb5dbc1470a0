package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8080",
		"localhost:8080": "127.0.0.1:8080",
		"[::1]:9":        "[::1]:9",
		"0.0.0.0:0":      "0.0.0.0:0",
		":8080":          "0.0.0.0:8080",
		"[::]:80":        "[::]:80",
		"10.1.2.3:443":   "10.1.2.3:443",
	} {
		got, err := parseListenAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseListenAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	// Nothing that would need a lookup: host names, service names.
	for in, says := range map[string]string{
		"archive.example.com:8080": "not an IP address",
		"myhost:8080":              "does not resolve host names",
		"127.0.0.1:http":           "service names are not looked up",
		"127.0.0.1":                "HOST:PORT",
		"127.0.0.1:70000":          "not a number from 0 to 65535",
		"[fe80::1%eth0]:80":        "not an IP address",
	} {
		if _, err := parseListenAddr(in); err == nil || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "--addr") {
			t.Errorf("parseListenAddr(%q): %v, want an error naming --addr saying %q", in, err, says)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	h, err := allowedHosts(netip.MustParseAddrPort("10.9.8.7:8443"), []string{"archive.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"10.9.8.7:8443": true, "10.9.8.7:80": false, "localhost:8443": true, "127.0.0.1:1": true,
		"archive.example.com": true, "evil.example:8443": false,
	} {
		if h.Allowed(host) != want {
			t.Errorf("Allowed(%q) = %v", host, !want)
		}
	}
	// Listening on every interface: every address of this machine, on
	// the port.
	h, err = allowedHosts(netip.MustParseAddrPort("0.0.0.0:8080"), nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Zone() == "" {
			if hp := net.JoinHostPort(p.Addr().String(), "8080"); !h.Allowed(hp) {
				t.Errorf("interface address %s not allowed", hp)
			}
		}
	}
	if h.Allowed("0.0.0.0:8080") || h.Allowed("evil.example:8080") {
		t.Error("unspecified address or a foreign name allowed")
	}
}

func TestServeAddrAndHosts(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")

	// A host name is refused before anything starts: exit 2, no lookup.
	_, errs, code := runCLI(t, "--dir", dir, "serve", "--addr", "archive.invalid:8080")
	if code != exitUsage || !strings.Contains(errs, "--addr") || !strings.Contains(errs, "not an IP address") {
		t.Fatalf("serve --addr with a host name: exit %d %q", code, errs)
	}
	_, errs, code = runCLI(t, "--dir", dir, "serve", "--allowed-host", "http://x/")
	if code != exitUsage || !strings.Contains(errs, "--allowed-host") {
		t.Fatalf("serve --allowed-host with a URL: exit %d %q", code, errs)
	}

	// Every interface over plain HTTP: refused unless told
	// --insecure-http, and then warned about.
	_, errs, code = runCLI(t, "--dir", dir, "serve", "--addr", "0.0.0.0:0")
	if code != exitUsage || !strings.Contains(errs, "--tls-cert") || !strings.Contains(errs, "--insecure-http") || !strings.Contains(errs, "clear text") {
		t.Fatalf("serve --addr 0.0.0.0 without TLS: exit %d %q", code, errs)
	}
	// Requests must name the server.
	srv := startServe(t, dir, "--addr", "0.0.0.0:0", "--insecure-http", "--allowed-host", "archive.example.com")
	defer srv.stop(30 * time.Second)
	_, port, _ := net.SplitHostPort(srv.addr)
	base := "http://127.0.0.1:" + port
	get := func(host string) int {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for host, want := range map[string]int{
		"127.0.0.1:" + port:     200,
		"localhost:" + port:     200,
		"archive.example.com":   200,
		"rebind.evil.example":   http.StatusMisdirectedRequest,
		"rebind.evil.example:1": http.StatusMisdirectedRequest,
	} {
		if got := get(host); got != want {
			t.Errorf("Host %s: %d, want %d", host, got, want)
		}
	}
	logs := srv.out.String()
	if !strings.Contains(logs, "WARNING: serve --addr 0.0.0.0:") || !strings.Contains(logs, "plain HTTP") {
		t.Errorf("no warning on stderr for a non-loopback address:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"listening on a non-loopback address over plain HTTP"`) {
		t.Errorf("no warning in the log:\n%s", logs)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	for _, c := range []struct {
		flag    string
		flagSet bool
		config  string
		want    int64
	}{
		{"", false, "", defaultMemoryLimit},
		{"1GiB", true, "2GiB", 1 << 30},
		{"", false, "512MiB", 512 << 20},
		{"", false, "768mb", 768 << 20},
		{"off", true, "", math.MaxInt64},
		{"", false, "0", math.MaxInt64},
	} {
		got, _, err := memoryLimit(c.flag, c.flagSet, c.config)
		if err != nil || got != c.want {
			t.Errorf("memoryLimit(%q, %v, %q) = %d, %v; want %d", c.flag, c.flagSet, c.config, got, err, c.want)
		}
	}
	for _, bad := range []string{"lots", "12XB", "1MiB", "-5MiB", "99999999999999999999GiB"} {
		if _, _, err := memoryLimit(bad, true, ""); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
			t.Errorf("memoryLimit(%q): %v, want an error naming the flag", bad, err)
		}
	}
	if _, _, err := memoryLimit("", false, "lots"); err == nil || !strings.Contains(err.Error(), "serve.memory_limit") {
		t.Errorf("a bad config value: %v", err)
	}
	// GOMEMLIMIT is the operator's: left to the runtime.
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got, from, _ := memoryLimit("", false, ""); got != 0 || !strings.Contains(from, "GOMEMLIMIT") {
		t.Errorf("with GOMEMLIMIT: %d %q", got, from)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key (mode) into
// dir and returns their paths and the certificate.
func selfSigned(t *testing.T, dir string, mode os.FileMode) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wxarchive test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), mode)
	os.Chmod(keyFile, mode)
	return certFile, keyFile, cert
}

// TestServeTLS: --tls-cert/--tls-key serve HTTPS on any address (no
// --insecure-http needed); a key others can read, a missing half or a bad
// file is refused before anything starts.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "--dir", dir, "init")
	tdir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, tdir, 0o600)

	_, errs, code := runCLI(t, "--dir", dir, "serve", "--tls-cert", certFile)
	if code != exitUsage || !strings.Contains(errs, "go together") {
		t.Fatalf("--tls-cert alone: exit %d %q", code, errs)
	}
	_, errs, code = runCLI(t, "--dir", dir, "serve", "--tls-cert", keyFile, "--tls-key", keyFile)
	if code != exitUsage || !strings.Contains(errs, "--tls-cert/--tls-key") {
		t.Fatalf("a key as the certificate: exit %d %q", code, errs)
	}
	_, openKey, _ := selfSigned(t, t.TempDir(), 0o644)
	_, errs, code = runCLI(t, "--dir", dir, "serve", "--tls-cert", certFile, "--tls-key", openKey)
	if code != exitUsage || !strings.Contains(errs, "readable by other users") {
		t.Fatalf("a world-readable key: exit %d %q", code, errs)
	}

	srv := startServe(t, dir, "--addr", "0.0.0.0:0", "--tls-cert", certFile, "--tls-key", keyFile)
	defer srv.stop(30 * time.Second)
	_, port, _ := net.SplitHostPort(srv.addr)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("https /healthz: %d %+v", resp.StatusCode, resp.TLS)
	}
	// A plain-HTTP request to the TLS port gets net/http's 400, never an
	// answer from the archive.
	if r, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
	if strings.Contains(srv.out.String(), "WARNING") {
		t.Errorf("warned although serving TLS:\n%s", srv.out.String())
	}
}
