package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/store"
)

// Deps are what connectors are built with: the archive's narrow faces,
// never the engine itself.
type Deps struct {
	Writer ingest.MessageWriter // the journal writer: archives messages, journals facts
	Blobs  blob.Store           // attachments
	Store  store.Reader         // cursors, directory, attachments still to fetch
	Health Health               // where connectors report (Build: a *Tracker, usually)
	Logger *slog.Logger         // nil: discard
	// Now is the clock of freshness windows and caches (nil: the writer's).
	Now func() time.Time
	// Media is where an EntryIngester looks up attachments by their
	// source reference (nil: they stay pending).
	Media ingest.MediaSource
	// Signal hands a wake-up a connector received to the connectors it
	// concerns. Build sets it; it never blocks.
	Signal func(Signal)
}

// Clock returns d.Now, else the writer's clock.
func (d Deps) Clock() func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return d.Writer.Now
}

// Log returns d.Logger, else a logger that discards.
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Type is a kind of connector: how its configuration is checked and how
// its connectors are built. Each type is defined in its own package and
// registered with one line where the archive is wired (cmd/).
type Type struct {
	Name  connector.Type
	Rules connector.Rules
	// Source is the archive source of c's messages; it must not depend on
	// anything but the configuration.
	Source func(c *connector.Config) string
	// New builds a connector from a validated configuration: secrets are
	// resolved here, and an error (naming the field, never a secret's
	// value) keeps serve from starting.
	New func(ctx context.Context, c connector.Config, d Deps) (Connector, error)
	// Standing, if set, returns the standing faults of c's configuration:
	// kind → detail, with an empty detail for a kind c does not have. Build
	// raises each one for an enabled connector (and logs a warning) and
	// resolves the others, so the fault stays open exactly while the
	// configuration says so (FaultPlaintextMode).
	Standing func(c *connector.Config) map[string]string
}

// IngesterType is a named EntryIngester: the ingest route of that name
// archives request bodies through it.
type IngesterType struct {
	Name string // e.g. "wecom-archive"
	New  func(d Deps) EntryIngester
}

// Registry maps type names to connector types and ingester names to
// EntryIngesters. It is filled once, before use; reads are safe for
// concurrent use afterwards.
type Registry struct {
	types     map[connector.Type]Type
	order     []connector.Type
	ingesters map[string]IngesterType
	inOrder   []string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[connector.Type]Type{}, ingesters: map[string]IngesterType{}}
}

// Register adds a connector type. Registering a name twice, or a type
// without Name, Source or New, is a programming error and panics.
func (r *Registry) Register(t Type) {
	if t.Name == "" || t.Source == nil || t.New == nil {
		panic(fmt.Sprintf("capture: connector type %q lacks a name, Source or New", t.Name))
	}
	if _, dup := r.types[t.Name]; dup {
		panic(fmt.Sprintf("capture: connector type %q registered twice", t.Name))
	}
	r.types[t.Name] = t
	r.order = append(r.order, t.Name)
}

// RegisterIngester adds an EntryIngester under its name (panics like
// Register on a duplicate or incomplete one).
func (r *Registry) RegisterIngester(t IngesterType) {
	if t.Name == "" || t.New == nil {
		panic(fmt.Sprintf("capture: ingester %q lacks a name or New", t.Name))
	}
	if _, dup := r.ingesters[t.Name]; dup {
		panic(fmt.Sprintf("capture: ingester %q registered twice", t.Name))
	}
	r.ingesters[t.Name] = t
	r.inOrder = append(r.inOrder, t.Name)
}

// Types lists the registered type names in registration order.
func (r *Registry) Types() []connector.Type { return append([]connector.Type(nil), r.order...) }

// Type returns a registered type.
func (r *Registry) Type(name connector.Type) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

func (r *Registry) rules(name connector.Type) (connector.Rules, bool) {
	t, ok := r.types[name]
	return t.Rules, ok
}

// Validate checks a configuration against the registered types and returns
// every problem (connector.Validate), or nil.
func (r *Registry) Validate(cs []connector.Config) error {
	return connector.Validate(cs, r.rules, r.order)
}

// Source is the archive source of a connector's messages; a connector of a
// type nobody registered gets "<type>:<id>", which no connector writes.
func (r *Registry) Source(c connector.Config) string {
	if r != nil {
		if t, ok := r.types[c.Type]; ok {
			return t.Source(&c)
		}
	}
	return string(c.Type) + ":" + c.ID
}

// ErrUnknownIngester is returned by Ingester for a name nobody registered.
var ErrUnknownIngester = errors.New("no ingester of that name")

// Ingesters builds every registered EntryIngester, by name.
func (r *Registry) Ingesters(d Deps) map[string]EntryIngester {
	out := make(map[string]EntryIngester, len(r.ingesters))
	for _, name := range r.inOrder {
		out[name] = r.ingesters[name].New(d)
	}
	return out
}

// Ingester builds the EntryIngester registered under name.
func (r *Registry) Ingester(name string, d Deps) (EntryIngester, error) {
	t, ok := r.ingesters[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownIngester, name)
	}
	return t.New(d), nil
}

// Set is the connectors built from a configuration, ready to run.
type Set struct {
	conns    []Connector
	handlers map[string]http.Handler
	logger   *slog.Logger
}

// registerer is what a Tracker offers beside Health: Build declares each
// connector it built there, so the health report shows it running.
type registerer interface {
	Register(id string, typ connector.Type, source string)
}

// Build validates the configuration and builds every enabled connector.
// Every problem is reported at once (configuration first, then what New
// refused), and no Set is returned unless every enabled connector could be
// built: serve does not start with a connector it cannot run. Standing
// faults are raised or resolved (Type.Standing).
func (r *Registry) Build(ctx context.Context, cs []connector.Config, d Deps) (*Set, error) {
	if err := r.Validate(cs); err != nil {
		return nil, err
	}
	s := &Set{handlers: map[string]http.Handler{}, logger: d.Log()}
	d.Logger = s.logger
	d.Signal = s.Signal
	var errs []error
	for _, c := range cs {
		t := r.types[c.Type]
		if t.Standing != nil && d.Health != nil {
			r.standing(ctx, t, c, d)
		}
		exposed(ctx, c, d)
		if !c.IsEnabled() {
			s.logger.Info("connector disabled", "connector", c.ID)
			continue
		}
		conn, err := t.New(ctx, c, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", c.ID, err))
			continue
		}
		s.conns = append(s.conns, conn)
		if h, ok := conn.(http.Handler); ok {
			s.handlers[c.ID] = h
		}
		info := conn.Info()
		if reg, ok := d.Health.(registerer); ok {
			reg.Register(info.ID, info.Type, info.Source)
		}
		s.logger.Info("connector running", "connector", info.ID, "type", info.Type, "source", info.Source)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// exposed warns, and raises secret_exposed per field, for every secret
// file of an enabled connector that other users can read; a field whose
// file is private again (or a disabled connector) resolves it.
func exposed(ctx context.Context, c connector.Config, d Deps) {
	open := map[string]string{}
	if c.IsEnabled() {
		for _, p := range c.ExposedSecrets() {
			open[p.Field] = p.Reason
		}
	}
	c.EachSecretField(func(field string) {
		if why, ok := open[field]; ok {
			d.Log().Warn("connector secret file readable by other users", "connector", c.ID, "field", field, "detail", why)
			if d.Health != nil {
				d.Health.Raise(ctx, c.ID, FaultSecretExposed, field, why)
			}
		} else if d.Health != nil {
			d.Health.Resolve(ctx, c.ID, FaultSecretExposed, field, "the secret file is readable by its owner only", "connector:"+c.ID)
		}
	})
}

func (r *Registry) standing(ctx context.Context, t Type, c connector.Config, d Deps) {
	for kind, detail := range t.Standing(&c) {
		switch {
		case detail != "" && c.IsEnabled():
			d.Log().Warn("connector runs with a standing risk", "connector", c.ID, "fault", kind, "detail", detail)
			d.Health.Raise(ctx, c.ID, kind, "", detail)
		case detail != "":
			d.Health.Resolve(ctx, c.ID, kind, "", "the connector is disabled", "connector:"+c.ID)
		default:
			d.Health.Resolve(ctx, c.ID, kind, "", "the configuration no longer has it", "connector:"+c.ID)
		}
	}
}

// Connectors lists the built connectors in configuration order.
func (s *Set) Connectors() []Connector { return append([]Connector(nil), s.conns...) }

// Handlers returns the connectors that receive requests, by id.
func (s *Set) Handlers() map[string]http.Handler {
	out := make(map[string]http.Handler, len(s.handlers))
	for id, h := range s.handlers {
		out[id] = h
	}
	return out
}

// Signal hands a wake-up to every connector that may be concerned.
func (s *Set) Signal(sig Signal) {
	for _, c := range s.conns {
		if w, ok := c.(Waker); ok {
			w.Wake(sig)
		}
	}
}

// Run runs every connector until ctx is cancelled and returns when all of
// them have returned. A connector that cannot run is logged; the others
// keep running.
func (s *Set) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info := c.Info()
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("connector stopped", "connector", info.ID, "type", info.Type, "err", err)
			}
		}()
	}
	wg.Wait()
}
