// Package repo opens an archive directory: its configuration, signing key
// and lock, the index database and blob store its configuration names (by
// URL, opened through the Engines registry that cmd/ fills), and the
// writer over them. docs/FORMAT.md describes the
// layout:
//
//	<dir>/wxarchive.yaml        configuration (archive id, origin, public key, retention…)
//	<dir>/keys/checkpoint.key   Ed25519 note signing key (0600)
//	<dir>/index.db              SQLite index database (journal + projection), by default
//	<dir>/blobs/                fsblob store: attachments, packs, segments, by default
//	<dir>/.lock                 advisory lock held by exclusive writers
package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/diskprobe"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/retention"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/witness"
)

// Version is the program version recorded in archive.created.
const Version = "0.1.0"

// File names inside an archive directory.
const (
	ConfigFile = "wxarchive.yaml"
	KeyFile    = "keys/checkpoint.key"
	DBFile     = "index.db"
	BlobDir    = "blobs"
	LockFile   = ".lock"
)

// Config is the archive's configuration file.
type Config struct {
	ArchiveID      string        `yaml:"archive_id"`
	Origin         string        `yaml:"origin"`     // checkpoint origin line
	PublicKey      string        `yaml:"public_key"` // note verifier key
	RetentionYears int           `yaml:"retention_years"`
	TimeZone       string        `yaml:"timezone"` // for human-facing times
	SealDelay      time.Duration `yaml:"seal_delay"`
	// ReadSealDelay bounds how long journaled reads alone (searches,
	// views) may wait for a segment; 0: ingest.DefaultReadSealDelay.
	ReadSealDelay time.Duration `yaml:"read_seal_delay,omitempty"`
	CreatedAt     archive.Time  `yaml:"created_at"`
	// Index and Blobs name the storage engines by URL (Engines); empty
	// means the embedded defaults, DefaultIndexURL and DefaultBlobsURL.
	Index string `yaml:"index,omitempty"`
	Blobs string `yaml:"blobs,omitempty"`
	// Connectors are the capture connectors `serve` runs (README,
	// "Connectors"). Secrets are references to files or environment
	// variables, never values.
	Connectors    []connector.Config `yaml:"connectors,omitempty"`
	CaptureHealth CaptureHealth      `yaml:"capture_health,omitempty"`
	Supervision   Supervision        `yaml:"supervision,omitempty"`
	// Witnesses keep the archive's checkpoints outside it (serve publishes
	// to each every WitnessInterval; docs/SECURITY.md says why).
	Witnesses       []WitnessConfig `yaml:"witnesses,omitempty"`
	WitnessInterval time.Duration   `yaml:"witness_interval,omitempty"`
	// Replicas are the backup copies `serve` keeps up continuously
	// (docs/FORMAT.md §12), each a blob store URL, every ReplicaInterval;
	// one missing a sealed event for longer than ReplicaMaxLag is a
	// capture health fault.
	Replicas        []ReplicaConfig `yaml:"replicas,omitempty"`
	ReplicaInterval time.Duration   `yaml:"replica_interval,omitempty"`
	ReplicaMaxLag   time.Duration   `yaml:"replica_max_lag,omitempty"`
	// Serve configures the HTTP server of `wxarchive serve` (README,
	// "HTTP API"; docs/SECURITY.md, "The HTTP server"). Zero values take
	// the defaults.
	Serve ServeConfig `yaml:"serve,omitempty"`
	// Auth configures access control (docs/SECURITY.md): single sign-on
	// group → role mapping, roles that need TOTP, session timeouts and
	// login lockout. Validated by LoadConfig (Config.AuthPolicy).
	Auth auth.Config `yaml:"auth,omitempty"`
	// OIDC is single sign-on: the identity providers `serve` offers at
	// /auth/oidc/{name}/login (docs/SECURITY.md, "OIDC single sign-on");
	// the groups they send map to roles by auth.oidc_groups.
	OIDC oidc.Config `yaml:"oidc,omitempty"`

	// Warnings are what LoadConfig noticed but could ignore: top-level
	// settings it does not know (a misspelt `retension_years:` would
	// otherwise pass silently, its default in force). Not written.
	Warnings []string `yaml:"-"`
}

// unknownSettings lists the top-level keys of a configuration file that
// no field of Config reads, each with the known key it is closest to.
func unknownSettings(b []byte) []string {
	var top map[string]yaml.Node
	if yaml.Unmarshal(b, &top) != nil {
		return nil
	}
	var known []string
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			known = append(known, name)
		}
	}
	var out []string
	for k := range top {
		if slices.Contains(known, k) {
			continue
		}
		w := fmt.Sprintf("unknown setting %q is ignored", k)
		best, dist := "", 3
		for _, n := range known {
			if d := editDistance(k, n); d < dist {
				best, dist = n, d
			}
		}
		if best != "" {
			w += fmt.Sprintf(" (did you mean %q?)", best)
		}
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// AuthPolicy is the validated auth section.
func (c *Config) AuthPolicy() (auth.Policy, error) {
	p, err := c.Auth.Policy()
	if err != nil {
		return p, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	return p, nil
}

// ServeConfig is the `serve:` section of wxarchive.yaml.
type ServeConfig struct {
	// AllowedHosts are Host header values the server answers to besides
	// the loopback names and its listen address (serve --allowed-host
	// adds more): the names a reverse proxy or the operators use.
	AllowedHosts []string `yaml:"allowed_hosts,omitempty"`
	// MaxConnections bounds the connections held at once; more are
	// closed as they arrive.
	MaxConnections int `yaml:"max_connections,omitempty"`
	// MaxIngestRequests bounds the ingest requests in progress at once;
	// more are answered 503 with Retry-After.
	MaxIngestRequests int `yaml:"max_ingest_requests,omitempty"`
	// BodyMinRate (bytes per second) and BodyTimeout bound how slowly a
	// request body may arrive (httpx.BodyPolicy).
	BodyMinRate int64         `yaml:"body_min_rate,omitempty"`
	BodyTimeout time.Duration `yaml:"body_timeout,omitempty"`
	// MemoryLimit is the soft limit of the Go heap ("384MiB", "off"),
	// serve --memory-limit's default.
	MemoryLimit string `yaml:"memory_limit,omitempty"`
}

// WitnessConfig is one witness: its location (witness.Config) and, for an
// URL witness, a bearer token as a secret reference ({env: NAME} or
// {file: PATH}, never a value).
type WitnessConfig struct {
	witness.Config `yaml:",inline"`
	Token          connector.Secret `yaml:"token,omitempty"`
}

// OpenWitnesses validates the witnesses section and opens every witness;
// errors name the entry (witnesses[i].field).
func (c *Config) OpenWitnesses() ([]witness.Witness, error) {
	var out []witness.Witness
	names := map[string]bool{}
	for i, wc := range c.Witnesses {
		field := fmt.Sprintf("witnesses[%d]", i)
		if err := wc.Validate(field); err != nil {
			return nil, fmt.Errorf("%s: %w", ConfigFile, err)
		}
		var token string
		if !wc.Token.IsZero() {
			if wc.Dir != "" {
				return nil, fmt.Errorf("%s: %s.token: a directory witness takes no token", ConfigFile, field)
			}
			t, err := wc.Token.Resolve()
			if err != nil {
				return nil, fmt.Errorf("%s: %s.token: %v", ConfigFile, field, err)
			}
			token = t
		}
		if names[wc.DisplayName()] {
			return nil, fmt.Errorf("%s: %s: another witness is named %q (give a name)", ConfigFile, field, wc.DisplayName())
		}
		names[wc.DisplayName()] = true
		w, err := wc.Open(token, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ConfigFile, field, err)
		}
		out = append(out, w)
	}
	if c.WitnessInterval < 0 {
		return nil, fmt.Errorf("%s: witness_interval must not be negative", ConfigFile)
	}
	return out, nil
}

// ReplicaConfig is one replica serve keeps up: a blob store URL (file:DIR,
// relative to the archive directory, or s3://BUCKET?… with credentials
// named by access_key_env/secret_key_env, never in the URL).
type ReplicaConfig struct {
	URL string `yaml:"url"`
}

// ValidateReplicas checks the replicas section; errors name the entry.
func (c *Config) ValidateReplicas() error {
	seen := map[string]bool{}
	for i, rc := range c.Replicas {
		field := fmt.Sprintf("replicas[%d].url", i)
		if strings.TrimSpace(rc.URL) == "" {
			return fmt.Errorf("%s: %s is required", ConfigFile, field)
		}
		if seen[rc.URL] {
			return fmt.Errorf("%s: %s: %s is listed twice", ConfigFile, field, rc.URL)
		}
		seen[rc.URL] = true
		if rc.URL == c.BlobsURL() {
			return fmt.Errorf("%s: %s: the archive's own blob store is no replica", ConfigFile, field)
		}
	}
	if c.ReplicaInterval < 0 || c.ReplicaMaxLag < 0 {
		return fmt.Errorf("%s: replica_interval and replica_max_lag must not be negative", ConfigFile)
	}
	return nil
}

// Supervision configures review.
type Supervision struct {
	// Principals may close escalated alerts (user names: the NAME of
	// actor cli:NAME).
	Principals []string `yaml:"principals,omitempty"`
	// SLADays: an alert open longer than this is overdue (default
	// DefaultSLADays). Firms set it in their written supervisory
	// procedures; overdue alerts are what an examiner asks about first.
	SLADays int `yaml:"sla_days,omitempty"`
}

// DefaultSLADays is the review SLA when none is configured.
const DefaultSLADays = 7

// SLA is the review SLA in days.
func (s Supervision) SLA() int {
	if s.SLADays > 0 {
		return s.SLADays
	}
	return DefaultSLADays
}

// CaptureHealth configures capture-health reporting.
type CaptureHealth struct {
	// SilentDays: an employee with no captured message for this many days
	// is reported (default connector.DefaultSilentDays).
	SilentDays int `yaml:"silent_days,omitempty"`
}

// IndexURL is the index database's URL.
func (c *Config) IndexURL() string {
	if c.Index == "" {
		return DefaultIndexURL
	}
	return c.Index
}

// BlobsURL is the blob store's URL.
func (c *Config) BlobsURL() string {
	if c.Blobs == "" {
		return DefaultBlobsURL
	}
	return c.Blobs
}

// Location returns the configured time zone (UTC if unknown).
func (c *Config) Location() *time.Location {
	if loc, err := time.LoadLocation(c.TimeZone); err == nil && c.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// ErrNoArchive is returned when a directory holds no archive.
var ErrNoArchive = errors.New("no archive here (run `wxarchive init` first)")

// ErrBusy is returned when another process holds the archive exclusively.
var ErrBusy = errors.New("archive is in use by another wxarchive process")

// ErrNoSigningKey: the archive has no checkpoint signing key (a replica
// restored without --key), so nothing can be journaled on it.
var ErrNoSigningKey = errors.New("the archive has no signing key")

// InitOptions configure a new archive.
type InitOptions struct {
	RetentionYears int
	TimeZone       string
	// Index and Blobs name the storage engines (default: the embedded ones).
	Index, Blobs string
	// Engines opens them (required).
	Engines *Engines
	// Setup runs on the new archive before its configuration is written
	// (the archive exists only once it succeeded): cmd installs the
	// default supervision policies with it.
	Setup func(ctx context.Context, r *Repo) error
	Now   func() time.Time
}

// Init creates an archive in dir (which may exist but must not hold one).
//
// A failed Init leaves no archive behind: the signing key it wrote is
// removed again (an engine URL that does not open, a bucket without Object
// Lock, must not leave a half-made archive to confuse the next attempt).
func Init(ctx context.Context, dir string, opts InitOptions) (_ *Config, err error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("%s already holds an archive", dir)
	}
	if opts.RetentionYears == 0 {
		opts.RetentionYears = ingest.DefaultRetentionYears
	}
	if opts.RetentionYears < 3 {
		// SEC 17a-4(b) requires at least three years for communications.
		return nil, fmt.Errorf("retention of %d years is below the 3-year regulatory minimum", opts.RetentionYears)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "Asia/Shanghai"
	}
	if _, err := time.LoadLocation(opts.TimeZone); err != nil {
		return nil, fmt.Errorf("time zone %q: %w", opts.TimeZone, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(idb[:])
	skey, vkey, err := journal.GenerateKey("wxarchive-" + id[:12])
	if err != nil {
		return nil, err
	}
	cfg := &Config{ArchiveID: id, Origin: "wxarchive.local/" + id, PublicKey: vkey, RetentionYears: opts.RetentionYears,
		TimeZone: opts.TimeZone, SealDelay: ingest.DefaultSealDelay, CreatedAt: archive.At(opts.Now()), Index: opts.Index, Blobs: opts.Blobs}
	if err := opts.Engines.check(cfg.IndexURL(), cfg.BlobsURL()); err != nil {
		return nil, err
	}
	keyDir := filepath.Join(dir, filepath.Dir(KeyFile))
	_, statErr := os.Stat(keyDir)
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.Remove(filepath.Join(dir, KeyFile))
			if os.IsNotExist(statErr) {
				os.Remove(keyDir)
			}
		}
	}()
	if err := writeFileSync(filepath.Join(dir, KeyFile), []byte(skey+"\n"), 0o600); err != nil {
		return nil, err
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	header := "# wxarchive archive configuration. The public key verifies every checkpoint;\n# keep a copy outside this machine.\n"
	y = append(y, []byte(connectorExample)...)
	// The config file is written last: its presence marks a complete archive.
	r, err := openParts(ctx, dir, cfg, OpenOptions{Now: opts.Now, Engines: opts.Engines})
	if err != nil {
		return nil, err
	}
	_, err = r.Engine.Append(ctx, mustEvent(archive.EventArchiveCreated, "cli:init", &archive.ArchiveCreated{
		ArchiveID: id, Origin: cfg.Origin, PublicKey: vkey, RetentionYears: cfg.RetentionYears, Version: Version}))
	if err == nil && opts.Setup != nil {
		err = opts.Setup(ctx, r)
	}
	if cerr := r.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(dir, ConfigFile), append([]byte(header), y...), 0o644); err != nil {
		return nil, err
	}
	return cfg, nil
}

// connectorExample is appended to a new configuration file, commented out.
const connectorExample = `
# Capture connectors run by ` + "`wxarchive serve`" + ` (README, "Connectors"). Secrets are
# read from environment variables or files, never written here.
# connectors:
#   - id: staff-app                  # callback URL: /capture/wecom/callback/staff-app
#     type: wecom-callback           # or oa-callback (app_id instead of corp_id)
#     corp_id: ww0123456789abcdef
#     token: {env: WXARCHIVE_STAFF_APP_TOKEN}
#     aes_key: {file: /etc/wxarchive/staff-app.aeskey}
#     app_secret: {env: WXARCHIVE_STAFF_APP_SECRET}   # to download media
# capture_health:
#   silent_days: 7                   # report employees with no message for this long
# supervision:
#   principals: [alice]              # may close escalated alerts (cli:alice)
#   sla_days: 7                      # open alerts older than this are overdue
# Witnesses keep every checkpoint outside this machine, so a rollback or a
# rewritten history is caught by ` + "`wxarchive verify --witness`" + ` (docs/SECURITY.md).
# witnesses:
#   - dir: /mnt/other-host/wx-witness    # another mount or host
#   - url: https://witness.example.com/  # ` + "`wxarchive witness serve`" + ` on another host
#     kind: c2sp
#     key: witness.example.com+1a2b3c4d+BA…   # the key it printed at start
# witness_interval: 10s
# Replicas: backup copies serve keeps up with what it seals (docs/FORMAT.md §12);
# check one with ` + "`wxarchive verify --replica URL`" + `, rebuild from one with ` + "`wxarchive restore`" + `.
# replicas:
#   - url: file:/mnt/backup/wxarchive    # another disk, mount or host
#   - url: s3://wx-backup?endpoint=s3.example.com&region=ap-east-1   # credentials: access_key_env/secret_key_env
# replica_interval: 30s                  # how often serve copies
# replica_max_lag: 15m                   # a sealed event missing longer than this is a health fault
# Access control (docs/SECURITY.md). Users and tokens: wxarchive user / token.
# auth:
#   oidc_groups: {wx-compliance: [principal], wx-it: [admin]}   # single sign-on group -> roles
#   require_totp: [admin, principal]   # these roles log in with a TOTP code too
#   session_idle: 30m                  # browser sessions: idle and absolute timeouts
#   session_absolute: 12h
#   lockout_threshold: 5               # failed logins within lockout_window lock
#   lockout_window: 15m                # the user (and the address) for lockout_duration
#   lockout_duration: 15m
`

func mustEvent(typ, actor string, v any) journal.Event {
	ev, err := journal.NewEvent(typ, actor, archive.Time{}, nil, v)
	if err != nil {
		panic(err) // payload types are fixed structs; Marshal cannot fail
	}
	return ev
}

func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadConfig reads an archive's configuration.
func LoadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoArchive)
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	// Every section's problems at once: fixing one only to be told of the
	// next, run after run, is how a configuration stays broken.
	var problems []error
	if c.ArchiveID == "" || c.Origin == "" || c.PublicKey == "" {
		problems = append(problems, errors.New("archive_id, origin and public_key are required"))
	}
	if c.RetentionYears == 0 {
		c.RetentionYears = ingest.DefaultRetentionYears
	}
	if _, err := c.Auth.Policy(); err != nil {
		problems = append(problems, err)
	}
	if len(c.OIDC.Issuers) > 0 {
		if err := c.OIDC.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	if err := c.ValidateReplicas(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), errors.Join(problems...))
	}
	c.Warnings = unknownSettings(b)
	return &c, nil
}

// OpenOptions configure Open.
type OpenOptions struct {
	ReadOnly  bool // no writer: verify, stats
	Exclusive bool // fail with ErrBusy if another process holds the archive exclusively
	// Guest, with Exclusive, falls back to writing alongside the process
	// that holds the archive (e.g. `show` while `serve` runs): commits are
	// still durable and serialized by the database, but sealing is left to
	// the holder.
	Guest    bool
	Now      func() time.Time // injected clock
	Logger   *slog.Logger
	Metrics  *ingest.Metrics
	MaxBatch int
	NoSync   bool // tests only
	// Engines opens the index and blob stores the configuration names
	// (required: cmd/ registers the adapters).
	Engines *Engines
}

// Repo is an open archive.
type Repo struct {
	Dir      string
	Config   *Config
	Store    store.Store
	Blobs    blob.Store
	Verifier *journal.Verifier
	Engine   *ingest.Engine // nil when read-only
	// Retention is the rule set in force for Engine (nil when read-only).
	Retention *retention.Live
	Records   *Records
	lock      *os.File
	guest     bool
	logger    *slog.Logger
}

// Open opens the archive in dir.
func Open(ctx context.Context, dir string, opts OpenOptions) (*Repo, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	return openParts(ctx, dir, cfg, opts)
}

func openParts(ctx context.Context, dir string, cfg *Config, opts OpenOptions) (_ *Repo, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Repo{Dir: dir, Config: cfg, logger: opts.Logger}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			r.closeParts()
		}
	}()
	if r.Verifier, err = journal.NewVerifier(cfg.Origin, cfg.PublicKey); err != nil {
		if !opts.ReadOnly {
			return nil, err
		}
		// A reader still opens an archive whose configured key is
		// damaged: verify, given the auditor's key, must run, and says
		// the configuration is at fault; stats says nothing verifies.
		r.Verifier, err = journal.InvalidVerifier(fmt.Errorf("public key in %s: %w", ConfigFile, err)), nil
	}
	if opts.Exclusive {
		r.lock, err = lockDir(dir)
		if errors.Is(err, ErrBusy) && opts.Guest {
			r.guest, err = true, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if opts.Engines == nil {
		return nil, errors.New("repo: no storage engines (OpenOptions.Engines: cmd/ registers them)")
	}
	if r.Blobs, err = opts.Engines.openBlobs(ctx, cfg.BlobsURL(), BlobOptions{Dir: dir, Now: opts.Now, NoSync: opts.NoSync}); err != nil {
		return nil, err
	}
	if r.Store, err = opts.Engines.openStore(ctx, cfg.IndexURL(), StoreOptions{Dir: dir, ReadOnly: opts.ReadOnly, NoSync: opts.NoSync}); err != nil {
		return nil, err
	}
	r.Records = NewRecords(r.Store, r.Blobs)
	if opts.ReadOnly {
		return r, nil
	}
	if r.lock != nil {
		if err := r.recoverRotation(ctx, r.Store); err != nil {
			return nil, fmt.Errorf("finish the signing key rotation: %w", err)
		}
		if r.Verifier, err = journal.NewVerifier(cfg.Origin, cfg.PublicKey); err != nil {
			return nil, err
		}
	}
	skey, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s): this copy can be verified and counted, not written or read", ErrNoSigningKey, filepath.Join(dir, KeyFile))
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	signer, err := journal.NewSigner(cfg.Origin, string(skey))
	if err != nil {
		return nil, err
	}
	// A key that does not match the configured public key would sign
	// checkpoints nobody can verify: find out now, not at audit time.
	probe, err := signer.Sign(0, journal.EmptyRoot(), archive.At(opts.Now()))
	if err != nil {
		return nil, err
	}
	if _, err := r.Verifier.Open(probe); err != nil {
		return nil, fmt.Errorf("signing key %s does not match the public key in %s: %w", KeyFile, ConfigFile, err)
	}
	// The retention rules in force are read by the writer inside each
	// commit (retention.Live); departments come from the directory.
	st := r.Store
	r.Retention = &retention.Live{DefaultYears: cfg.RetentionYears, Department: func(id string, at time.Time) (string, bool) {
		p, ok, err := st.Directory(context.Background(), id, archive.At(at))
		return p.Department, ok && err == nil
	}}
	r.Engine = ingest.New(ingest.Config{Now: opts.Now, RetentionYears: cfg.RetentionYears, SealDelay: cfg.SealDelay,
		ReadSealDelay: cfg.ReadSealDelay, Logger: opts.Logger, Metrics: opts.Metrics, MaxBatch: opts.MaxBatch, Retainer: r.Retention}, r.Store, r.Blobs, signer)
	return r, nil
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	// A lock held for a moment is retried for up to a second: a process
	// forking a child (serve starting a tool, a test starting serve)
	// lends the child its descriptors, and so a lock just released, until
	// the child execs.
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || wait > 640*time.Millisecond {
			f.Close()
			return nil, fmt.Errorf("%s: %w", dir, ErrBusy)
		}
		time.Sleep(wait)
	}
}

// Close seals everything pending (for a writer) and closes the archive.
func (r *Repo) Close(ctx context.Context) error {
	var errs []error
	if r.Engine != nil {
		errs = append(errs, r.Engine.Close(ctx, !r.guest))
		r.Engine = nil
	}
	errs = append(errs, r.closeParts())
	return errors.Join(errs...)
}

func (r *Repo) closeParts() error {
	var errs []error
	if r.Store != nil {
		errs = append(errs, r.Store.Close())
		r.Store = nil
	}
	if c, ok := r.Blobs.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
		r.Blobs = nil
	}
	if r.lock != nil {
		errs = append(errs, r.lock.Close())
		r.lock = nil
	}
	return errors.Join(errs...)
}

// Reindex rebuilds the index from the journal and the records, locating
// sealed records through the journal (the index being rebuilt cannot be
// trusted to find them). The caller must hold the archive exclusively.
// A leaf the journal's reader refuses does not stop it: it is applied as
// journal.DecodeLeaf reads it, or skipped when it cannot be read, with a
// warning naming its index either way (verify reports it as a fault).
func (r *Repo) Reindex(ctx context.Context, progress func(done, total uint64)) error {
	rec, err := r.Records.FromJournal(ctx)
	if err != nil {
		return err
	}
	malformed := func(le *journal.LeafError, decoded bool) {
		if decoded {
			r.logger.Warn("reindex: journal leaf is not in the documented form; indexed as it reads", "index", le.Index, "reason", le.Reason)
		} else {
			r.logger.Warn("reindex: journal leaf cannot be read; skipped", "index", le.Index, "reason", le.Reason)
		}
	}
	if err := ingest.Reindex(ctx, r.Store, rec.Get, progress, malformed); err != nil {
		return err
	}
	// An engine with a write-ahead log folds it in now, so that the rebuilt
	// index does not leave a log as large as itself.
	if c, ok := r.Store.(interface{ Checkpoint(context.Context) error }); ok {
		return c.Checkpoint(ctx)
	}
	return nil
}

// WriteChecker is a storage engine that can tell whether it can write now
// (an optional interface of store.Store and blob.Store implementations):
// CheckWritable writes something that is not part of the archive, makes
// it durable and removes it. A full disk fails it with an error matching
// syscall.ENOSPC.
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

// CheckWritable probes every storage of the archive that can be probed —
// the archive directory (the request spool, the configuration), the index
// database and the blob store where their engines implement WriteChecker —
// and returns every failure.
func (r *Repo) CheckWritable(ctx context.Context) error {
	errs := []error{diskprobe.Write(r.Dir)}
	for _, part := range []any{r.Store, r.Blobs} {
		if wc, ok := part.(WriteChecker); ok {
			errs = append(errs, wc.CheckWritable(ctx))
		}
	}
	return errors.Join(errs...)
}
