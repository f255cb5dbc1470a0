// Package s3test runs a throw-away SeaweedFS server (`weed mini`) for tests
// of the S3 Object Lock blob store: the only S3 server these tests use
// (/work/shared/ENGINES.md: MinIO's server is AGPL, gofakes3 enforces no
// locking). Only tests import it.
//
// One server per test package (Shared, started on first use and stopped by
// Main), one Object Lock bucket per test (Bucket), so a package pays the
// server's start (≈ 5–10 s) once. Every port is chosen per server on
// 127.0.0.1, so packages testing in parallel never collide; requests are
// signed with a random access key and secret, never anonymous.
//
// weed is $WXARCHIVE_WEED, else ${WXARCHIVE_TOOLS:-$HOME/.cache/wxarchive-tools}/bin/weed,
// which tools/seaweedfs/build.sh builds. Without it a test skips saying
// so, except under CI=true, where it fails: CI must run these tests.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Region is the region the server is addressed with.
const Region = "us-east-1"

// Server is a running (or stopped) weed mini.
type Server struct {
	Weed      string // the binary
	Dir       string // its data directory
	Endpoint  string // host:port of the S3 API
	FilerURL  string // http://host:port of the filer, which bypasses Object Lock: tests only
	AccessKey string
	SecretKey string

	ports []int
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	log   *os.File
}

// WeedPath returns the weed binary's path, or "" and why it is missing.
func WeedPath() (string, string) {
	if p := os.Getenv("WXARCHIVE_WEED"); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Sprintf("WXARCHIVE_WEED=%s is not a file", p)
		}
		return p, ""
	}
	root := os.Getenv("WXARCHIVE_TOOLS")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "neither WXARCHIVE_WEED, WXARCHIVE_TOOLS nor HOME is set"
		}
		root = filepath.Join(home, ".cache", "wxarchive-tools")
	}
	p := filepath.Join(root, "bin", "weed")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Sprintf("no SeaweedFS weed at %s", p)
	}
	return p, ""
}

// RequireWeed returns the weed binary's path; without one it skips the
// test with how to build it, or fails it under CI=true.
func RequireWeed(t testing.TB) string {
	t.Helper()
	p, why := WeedPath()
	if p != "" {
		return p
	}
	msg := why + ": build it with tools/seaweedfs/build.sh (≈ 5 min cold, from the Go module proxy) or set WXARCHIVE_WEED to a weed binary"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + msg)
	}
	t.Skip(msg)
	return ""
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the package's server, starting it on first use in a
// temporary directory; Main stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	weed := RequireWeed(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "wxarchive-s3test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = Start(weed, dir)
		if shared.err != nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("s3test: starting SeaweedFS: %v", shared.err)
	}
	return shared.srv
}

// Main runs the package's tests and then stops the shared server (if one
// was started) and removes its data: call it from TestMain as
// os.Exit(s3test.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if s := shared.srv; s != nil {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "s3test: stopping SeaweedFS:", err)
		}
		os.RemoveAll(s.Dir)
	}
	return code
}

// Start starts weed mini on dir with fresh ports and credentials and
// waits until its S3 API stores objects. A port taken between choosing it
// and weed binding it makes weed fail; Start then tries other ports.
func Start(weed, dir string) (*Server, error) {
	s := &Server{Weed: weed, Dir: dir, AccessKey: "wxt" + randHex(8), SecretKey: randHex(20)}
	var err error
	for range 4 {
		if s.ports, err = freePorts(10); err != nil {
			return nil, err
		}
		s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports[6]))
		s.FilerURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports[4]))
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// Restart stops the server and starts it again on the same data
// directory, ports and credentials: what a lock must survive.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	var err error
	for range 3 { // the old process's ports may linger briefly
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("s3test: server already running")
	}
	p := s.ports
	args := []string{"mini",
		"-dir=" + s.Dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		fmt.Sprint("-master.port=", p[0]), fmt.Sprint("-master.port.grpc=", p[1]),
		fmt.Sprint("-volume.port=", p[2]), fmt.Sprint("-volume.port.grpc=", p[3]),
		fmt.Sprint("-filer.port=", p[4]), fmt.Sprint("-filer.port.grpc=", p[5]),
		fmt.Sprint("-s3.port=", p[6]), fmt.Sprint("-s3.port.grpc=", p[7]),
		fmt.Sprint("-admin.port=", p[8]), fmt.Sprint("-admin.port.grpc=", p[9]),
		"-admin.port.legacy=0", "-admin.ui=false", "-webdav=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
		"-master.volumeSizeLimitMB=64",
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.Weed, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The identity weed mini creates for its S3 API: every request must
	// be signed with it.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.SecretKey)
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", s.Weed, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.log = cmd, done, logf
	if err := s.waitReady(done); err != nil {
		s.stopLocked()
		return fmt.Errorf("%w (log: %s)", err, s.tail())
	}
	return nil
}

// waitReady polls until a signed put into a scratch bucket succeeds: the
// S3 API answers and a volume takes writes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	c := s.Client()
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("weed exited while starting")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = s.probe(ctx, c)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("SeaweedFS S3 at %s not ready after 90 s: %v", s.Endpoint, last)
}

func (s *Server) probe(ctx context.Context, c *minio.Client) error {
	const b = "s3test-ready"
	ok, err := c.BucketExists(ctx, b)
	if err != nil {
		return err
	}
	if !ok {
		if err := c.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: Region}); err != nil {
			return err
		}
	}
	_, err = c.PutObject(ctx, b, "ready", strings.NewReader("ok"), 2, minio.PutObjectOptions{})
	return err
}

// Stop stops the server (SIGTERM, then SIGKILL after 15 s).
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return s.log.Close()
}

func (s *Server) tail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "weed.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Client returns a minio-go client signed with the server's credentials:
// the raw S3 calls the WORM tests make beside the store's.
func (s *Server) Client() *minio.Client {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:     Region,
		MaxRetries: 1,
	})
	if err != nil {
		panic(err) // only a malformed endpoint, which Start never makes
	}
	return c
}

// Bucket creates a new Object Lock bucket for the test, with a name of its
// own, and returns the name. It is left behind when the test ends: its
// locked objects cannot be deleted, which is the point; the server's
// directory goes with the server.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := BucketName(t)
	if err := s.Client().MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region, ObjectLocking: true}); err != nil {
		t.Fatalf("s3test: creating Object Lock bucket %s: %v", name, err)
	}
	return name
}

// BucketName returns a fresh valid bucket name derived from the test name.
func BucketName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-") + "-" + randHex(6)
}

// URL is the blobs URL (as in wxarchive.yaml) of bucket on this server,
// with the credentials by reference to the environment variables
// accessEnv and secretEnv, which the caller sets (t.Setenv).
func (s *Server) URL(bucket, accessEnv, secretEnv string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=%s&secure=false&access_key_env=%s&secret_key_env=%s",
		bucket, s.Endpoint, Region, accessEnv, secretEnv)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePorts returns n distinct ports free on 127.0.0.1 right now, below
// the Linux ephemeral range (32768+), where an outgoing connection could
// take one before weed binds it.
func freePorts(n int) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("s3test: no free ports in 20000-32000")
		}
		r, _ := rand.Int(rand.Reader, big.NewInt(12000))
		p := 20000 + int(r.Int64())
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}
