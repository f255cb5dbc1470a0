package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth/oidc"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/supervise"
)

func (a *app) serveCmd() *cobra.Command {
	var addr, mediaDir string
	var allowed []string
	var memLimit string
	var drain time.Duration
	var tlsCert, tlsKey string
	var insecureHTTP, secureCookies, openMetrics bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the archive over HTTP: health, metrics and the JSON API",
		Long: `Serve runs the archive's HTTP API (see README): /healthz, /readyz, /metrics and
/api/v1/…. Every route but the probes, the login and the platforms' callbacks
needs a session or an API token (docs/SECURITY.md has the role matrix). It binds
to 127.0.0.1 by default; --addr takes an IP address, never a host name (no DNS
lookup decides where the archive listens). On any address but loopback it
serves only over TLS (--tls-cert and --tls-key), unless --insecure-http says
that something in front of it (a reverse proxy) terminates TLS.
Requests must name the server in their Host header (the loopback names, the
listen address, and --allowed-host / serve.allowed_hosts in wxarchive.yaml).
On SIGTERM or Ctrl-C it stops accepting connections, waits for in-flight
requests (every acknowledged message is durable), seals everything pending into
the blob store and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			listenAddr, err := parseListenAddr(addr)
			if err != nil {
				return usageErr("%v", err)
			}
			tlsConf, err := serverTLS(tlsCert, tlsKey)
			if err != nil {
				return usageErr("%v", err)
			}
			if exposed(listenAddr) && tlsConf == nil && !insecureHTTP {
				return usageErr("serve --addr %s is reachable from other machines: passwords, session cookies and tokens would cross the network in clear text.\n"+
					"Give --tls-cert and --tls-key, or --insecure-http if a reverse proxy in front of it terminates TLS (then also --secure-cookies)", listenAddr)
			}
			for _, h := range allowed {
				if _, err := httpx.NewHosts(h); err != nil {
					return usageErr("--allowed-host: %v", err)
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			r, err := a.open(ctx, repo.OpenOptions{Exclusive: true, Logger: logger, Metrics: ingest.NewMetrics(reg)})
			if err != nil {
				return err
			}
			sc := r.Config.Serve
			if _, err := httpx.NewHosts(sc.AllowedHosts...); err != nil {
				r.Close(context.Background())
				return usageErr("%s: serve.allowed_hosts: %v", repo.ConfigFile, err)
			}
			limit, limitFrom, err := memoryLimit(memLimit, cmd.Flags().Changed("memory-limit"), sc.MemoryLimit)
			if err != nil {
				r.Close(context.Background())
				return usageErr("%v", err)
			}
			if limit > 0 {
				debug.SetMemoryLimit(limit)
			}
			// Records and journal events a crash left unsealed are sealed
			// before serving, so the WORM copy never lags across restarts.
			if st, err := r.Engine.Seal(ctx, true); err != nil {
				r.Close(context.Background())
				return fmt.Errorf("seal records left by the previous run: %w", err)
			} else if st.Records > 0 {
				logger.Info("sealed records left by the previous run", "records", st.Records, "packs", st.Packs)
			}
			// Supervision catches up with what arrived while it was down
			// before serving, as sealing does: afterwards it follows new
			// messages within seconds.
			if res, err := (&supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Logger: logger}).CatchUp(ctx); err != nil {
				r.Close(context.Background())
				return fmt.Errorf("supervision: %w", err)
			} else if res.Evaluated > 0 {
				logger.Info("supervision caught up", "messages", res.Evaluated, "alerts", res.Alerts)
			}
			opts := httpapi.Options{Gatherer: reg, Logger: logger, SecureCookies: secureCookies, OpenMetrics: openMetrics, Limits: httpapi.Limits{
				IngestRequests: sc.MaxIngestRequests,
				Body:           httpx.BodyPolicy{MinRate: sc.BodyMinRate, Max: sc.BodyTimeout},
			}}
			if len(r.Config.OIDC.Issuers) > 0 {
				// Single sign-on; providers are discovered at the first
				// sign-in, so an unreachable one does not stop serve.
				if opts.OIDC, err = oidc.New(r.Config.OIDC, oidc.Options{}); err != nil {
					r.Close(context.Background())
					return usageErr("%s: %v", repo.ConfigFile, err)
				}
			}
			var media ingest.MediaSource
			if mediaDir != "" {
				media = ingest.DirMedia{Dir: mediaDir}
			}
			health, err := capture.NewTracker(ctx, r.Engine, r.Store, reg, nil, logger)
			if err != nil {
				r.Close(context.Background())
				return err
			}
			// Checkpoints go to the witnesses outside the archive.
			wit, err := a.startWitnessing(r, health, reg, logger)
			if err != nil {
				r.Close(context.Background())
				return err
			}
			// The backup copies follow the sealed journal.
			rep, err := a.startReplicating(r, health, reg, logger)
			if err != nil {
				wit.Stop()
				r.Close(context.Background())
				return err
			}
			// The configured connectors, built through the registry of
			// connector types; every configuration problem is reported at
			// once, and serve does not start with one it cannot run.
			types := connectorTypes()
			conns, err := types.Build(ctx, r.Config.Connectors, capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store,
				Health: health, Logger: logger})
			if err != nil {
				rep.Stop(nil)
				wit.Stop()
				r.Close(context.Background())
				return usageErr("%s: %v", repo.ConfigFile, err)
			}
			opts.Callbacks, opts.Health, opts.Connectors = conns.Handlers(), health, types
			opts.Ingesters = types.Ingesters(capture.Deps{Writer: r.Engine, Blobs: r.Blobs, Store: r.Store, Media: media, Health: health, Logger: logger})
			tcp, err := net.Listen("tcp", listenAddr.String())
			if err != nil {
				rep.Stop(nil)
				wit.Stop()
				r.Close(context.Background())
				return usageErr("listen on %s: %v", listenAddr, err)
			}
			bound := tcp.Addr().(*net.TCPAddr).AddrPort()
			bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
			if opts.Hosts, err = allowedHosts(bound, append(append([]string(nil), sc.AllowedHosts...), allowed...)); err != nil {
				tcp.Close()
				rep.Stop(nil)
				wit.Stop()
				r.Close(context.Background())
				return err
			}
			if exposed(bound) && tlsConf == nil {
				fmt.Fprintf(a.stderr, "WARNING: serve --addr %s (listening on %s) is reachable from other machines over plain HTTP (--insecure-http):\n"+
					"credentials are protected only if the reverse proxy in front of it terminates TLS (docs/SECURITY.md, \"The HTTP server\").\n", listenAddr, bound)
				logger.Warn("listening on a non-loopback address over plain HTTP", "addr", listenAddr.String(), "listening", bound.String())
			}
			maxConns := sc.MaxConnections
			if maxConns <= 0 {
				maxConns = httpx.DefaultMaxConns
			}
			var ln net.Listener = httpx.LimitListener(tcp, maxConns)
			scheme := "http"
			if tlsConf != nil {
				ln, scheme = tls.NewListener(ln, tlsConf), "https"
			}
			// Productions asked for over the API are written in the
			// background into <archive>/exports; those a stop or a crash
			// interrupted resume now.
			exports := uc.NewExportJobs(uc.New(uc.FromRepo(r)), filepath.Join(r.Dir, "exports"))
			exports.Producer, exports.Logger = "wxarchive "+buildVersion(), logger
			if err := exports.Open(context.Background()); err != nil {
				tcp.Close()
				rep.Stop(nil)
				wit.Stop()
				r.Close(context.Background())
				return err
			}
			opts.Exports = exports
			srv := &http.Server{Handler: httpapi.New(r, opts),
				// Headers must be in within ReadHeaderTimeout; bodies
				// arrive under the guard's BodyPolicy, answers leave under
				// its write timeout; an idle keep-alive connection is
				// closed after IdleTimeout.
				ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
				ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
			sealCtx, stopSealer := context.WithCancel(context.Background())
			sealerDone := make(chan struct{})
			go func() {
				defer close(sealerDone)
				// Records left pending by a crash are sealed on the first tick.
				r.Engine.RunSealer(sealCtx, 0)
			}()
			// Pulling connectors stop before the archive closes: their
			// last batch and its cursor commit first.
			pullCtx, stopPullers := context.WithCancel(context.Background())
			var pullers sync.WaitGroup
			pullers.Add(1)
			go func() {
				defer pullers.Done()
				conns.Run(pullCtx)
			}()
			pullers.Add(1)
			go func() {
				defer pullers.Done()
				// Supervision evaluates every new message right behind
				// the engine (woken by its commits).
				sup := &supervise.Supervisor{Engine: r.Engine, Store: r.Store, Records: r.Records, Logger: logger, Location: r.Config.Location()}
				sup.Run(pullCtx, 2*time.Second)
			}()
			healthDone := make(chan struct{})
			go func() {
				defer close(healthDone)
				live := false
				for _, c := range r.Config.Connectors {
					live = live || c.IsEnabled()
				}
				runHealthChecks(sealCtx, health, r.Config.CaptureHealth.SilentDays, live, logger)
			}()
			serveErr := make(chan error, 1)
			go func() { serveErr <- srv.Serve(ln) }()
			fmt.Fprintf(a.stdout, "wxarchive serving %s on %s://%s\n", a.dir, scheme, ln.Addr())
			logger.Info("serving", "addr", ln.Addr().String(), "archive", r.Config.ArchiveID, "allowed_hosts", opts.Hosts.List(),
				"max_connections", maxConns, "memory_limit", limitFrom)

			var runErr error
			select {
			case <-ctx.Done():
			case err := <-serveErr:
				runErr = err
			}
			logger.Info("shutting down: draining requests")
			shutCtx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("drain incomplete", "err", err)
			}
			// Running productions stop where they are (resumed at the
			// next start) before the archive closes.
			exports.Close()
			stopPullers()
			pullers.Wait()
			stopSealer()
			<-sealerDone
			<-healthDone
			rep.Stop(r)
			wit.Stop()
			if err := r.Close(context.Background()); err != nil {
				return fmt.Errorf("close archive: %w", err)
			}
			wit.AfterClose(context.Background())
			logger.Info("stopped; everything sealed")
			if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
				return runErr
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address: an IP address and a port (host names are refused: no DNS lookup)")
	c.Flags().StringVar(&memLimit, "memory-limit", "", "soft limit of the Go heap, e.g. 384MiB or off (default serve.memory_limit, else GOMEMLIMIT, else "+formatBytes(defaultMemoryLimit)+")")
	c.Flags().StringArrayVar(&allowed, "allowed-host", nil, "a Host header value to answer besides the loopback names and the listen address (repeatable; NAME or NAME:PORT)")
	c.Flags().StringVar(&mediaDir, "media", "", "directory of media files named by sdkfileid, for API-ingested messages")
	c.Flags().StringVar(&tlsCert, "tls-cert", "", "PEM certificate chain to serve HTTPS with (with --tls-key)")
	c.Flags().StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert (readable by its owner only)")
	c.Flags().BoolVar(&insecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address (a reverse proxy terminates TLS)")
	c.Flags().BoolVar(&secureCookies, "secure-cookies", false, "mark session cookies Secure over plain HTTP (behind a TLS-terminating proxy)")
	c.Flags().BoolVar(&openMetrics, "metrics-open", false, "serve /metrics without a token to loopback clients (a local Prometheus)")
	c.Flags().DurationVar(&drain, "drain-timeout", 30*time.Second, "how long to wait for in-flight requests on shutdown")
	return c
}

// Limits of the HTTP server (README "HTTP API", docs/SECURITY.md).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10
)

// healthInterval is how often serve re-checks employee activity and
// re-reads faults resolved by hand.
const healthInterval = time.Minute

// Employee silence is checked only with a capture connector enabled:
// without one (imports, the demo) nothing live can fall silent, and the
// report says so (capture.Report.SilenceNotChecked).
func runHealthChecks(ctx context.Context, h *capture.Tracker, silentDays int, live bool, logger *slog.Logger) {
	if silentDays <= 0 {
		silentDays = capture.DefaultSilentDays
	}
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		if err := h.Reload(ctx); err != nil && ctx.Err() == nil {
			logger.Error("capture health: reload faults", "err", err)
		}
		if live {
			if err := h.CheckEmployees(ctx, silentDays); err != nil && ctx.Err() == nil {
				logger.Error("capture health: employee activity", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
