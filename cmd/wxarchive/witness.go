package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/witness"
)

// Files in a witness server's state directory (docs/FORMAT.md §9.3).
const (
	witnessKeyFile = "witness.key"
	witnessPubFile = "witness.pub"
)

func (a *app) witnessCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "witness",
		Short: "Run a witness: a checkpoint keeper on another host (docs/SECURITY.md)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.witnessServeCmd())
	return c
}

func (a *app) witnessServeCmd() *cobra.Command {
	var addr, name string
	var logs []string
	c := &cobra.Command{
		Use:   "serve --dir D --log ORIGIN=PUBLICKEY [--addr A]",
		Short: "Serve a C2SP tlog-witness and a plain checkpoint store for the archives given",
		Long: `witness serve keeps, in the directory given by --dir (its own, never an archive's),
the checkpoints of the archives it is given with --log ORIGIN=PUBLICKEY (the
origin and public_key of each archive's wxarchive.yaml). It speaks two protocols:

  POST /add-checkpoint            C2SP tlog-witness: the archive sends its newest
                                  checkpoint with a consistency proof from the one
                                  cosigned before; a smaller or inconsistent tree is
                                  refused (and kept as evidence), a consistent one
                                  cosigned with this witness's key
  GET  /cosigned/<origin>         the latest cosigned checkpoint (for verify)
  POST /checkpoints/<origin>/     a plain checkpoint store (listing, latest, by size)

The cosigning key is created in the directory on first start; its public key is
printed: give it to the archives (witnesses: [{url: …, kind: c2sp, key: …}]) and
their auditors (verify --witness c2sp+URL --witness-key KEY). Run it on a host the
archive's administrators do not control.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("dir") {
				return usageErr("witness serve needs --dir: the witness's own state directory")
			}
			dir := a.dir
			if _, err := os.Stat(filepath.Join(dir, repo.ConfigFile)); err == nil {
				return usageErr("%s holds an archive: a witness kept with the archive protects nothing", dir)
			}
			if len(logs) == 0 {
				return usageErr("give at least one --log ORIGIN=PUBLICKEY (an archive's origin and public_key)")
			}
			var keys []witness.LogKey
			for _, l := range logs {
				k, err := witness.ParseLogKey(l)
				if err != nil {
					return usageErr("--log: %v", err)
				}
				keys = append(keys, k)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			cos, created, err := loadCosigner(dir, name)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			srv, err := witness.NewServer(dir, keys, cos, logger)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usageErr("listen on %s: %v", addr, err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
				WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
				ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
			if created {
				fmt.Fprintf(a.stdout, "created the witness key %s\n", filepath.Join(dir, witnessKeyFile))
			}
			fmt.Fprintf(a.stdout, "witness public key: %s\n", cos.VerifierKey())
			fmt.Fprintf(a.stdout, "wxarchive witness serving %s on http://%s\n", dir, ln.Addr())
			logger.Info("witness serving", "addr", ln.Addr().String(), "logs", len(keys), "key", cos.VerifierKey())
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case <-ctx.Done():
			case err := <-errc:
				return err
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	c.Flags().StringVar(&name, "name", "", "the witness's key name, used when the key is created (default wxarchive-witness/<hostname>)")
	c.Flags().StringArrayVar(&logs, "log", nil, "an archive to witness: ORIGIN=PUBLICKEY (repeatable)")
	return c
}

// loadCosigner reads the witness's key, creating it on first start.
func loadCosigner(dir, name string) (*witness.Cosigner, bool, error) {
	path := filepath.Join(dir, witnessKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("%s is readable by others (mode %o): chmod 600 it", path, fi.Mode().Perm())
		}
		c, err := witness.NewCosigner(string(b), time.Now)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if name != "" && name != c.Name() {
			return nil, false, usageErr("--name %s: the witness key in %s is named %s", name, dir, c.Name())
		}
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if name == "" {
		host, _ := os.Hostname()
		name = "wxarchive-witness/" + strings.Map(func(r rune) rune {
			if r <= ' ' || r == '+' {
				return '-'
			}
			return r
		}, host)
	}
	skey, vkey, err := witness.GenerateCosignerKey(name)
	if err != nil {
		return nil, false, usageErr("--name: %v", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, false, err
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(dir, witnessPubFile), []byte(vkey+"\n"), 0o644); err != nil {
		return nil, false, err
	}
	c, err := witness.NewCosigner(skey, time.Now)
	return c, true, err
}

// witnessing publishes an archive's checkpoints to its configured
// witnesses while a command runs, and once more after the archive is
// closed (the final seal signs one more checkpoint).
type witnessing struct {
	a      *app
	dir    string
	ws     []witness.Witness
	stop   context.CancelFunc
	done   chan struct{}
	logger *slog.Logger
}

// startWitnessing starts publishing for an open writer. faults and reg
// may be nil (commands without capture health or metrics). An invalid
// witnesses section is a usage error: the operator asked for witnesses and
// must not believe there are some.
func (a *app) startWitnessing(r *repo.Repo, faults witness.Faults, reg prometheus.Registerer, logger *slog.Logger) (*witnessing, error) {
	ws, err := r.Config.OpenWitnesses()
	if err != nil {
		return nil, usageErr("%v", err)
	}
	w := &witnessing{a: a, dir: r.Dir, ws: ws, logger: logger, done: make(chan struct{})}
	if len(ws) == 0 {
		close(w.done)
		return w, nil
	}
	m, err := witness.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &witness.Publishing{Log: witness.NewLog(r.Verifier, r.Store), Interval: r.Config.WitnessInterval, Faults: faults, Metrics: m, Logger: logger,
		Latest: func(ctx context.Context) ([]byte, error) {
			row, err := r.Store.LatestCheckpoint(ctx)
			return row.Note, err
		}}
	for _, x := range ws {
		p.Witnesses = append(p.Witnesses, x)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	go func() {
		defer close(w.done)
		p.Run(ctx, witness.RequestTimeout)
	}()
	return w, nil
}

// Stop ends the loop (after its final publication); call it before the
// archive is closed.
func (w *witnessing) Stop() {
	if w.stop != nil {
		w.stop()
	}
	<-w.done
}

// AfterClose publishes the checkpoint the archive's close signed.
// Failures are logged: the next run publishes again.
func (w *witnessing) AfterClose(ctx context.Context) {
	if len(w.ws) == 0 {
		return
	}
	r, err := repo.Open(ctx, w.dir, repo.OpenOptions{ReadOnly: true, Engines: engines()})
	if err != nil {
		w.logger.Warn("witness: reopen the archive to publish its last checkpoint", "err", err.Error())
		return
	}
	defer r.Close(ctx)
	p := &witness.Publishing{Log: witness.NewLog(r.Verifier, r.Store), Logger: w.logger,
		Latest: func(ctx context.Context) ([]byte, error) {
			row, err := r.Store.LatestCheckpoint(ctx)
			return row.Note, err
		}}
	for _, x := range w.ws {
		p.Witnesses = append(p.Witnesses, x)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*witness.RequestTimeout)
	defer cancel()
	if err := p.PublishOnce(pctx); err != nil {
		w.logger.Warn("witness: the last checkpoint was not published everywhere", "err", err.Error())
	}
}

// witnessSources are the witnesses verify reads: those given on the
// command line, then those configured (which an insider could have
// removed: an auditor passes their own).
func witnessSources(cfg *repo.Config, locations, keys []string) ([]witness.Source, error) {
	var out []witness.Source
	seen := map[string]bool{}
	for _, loc := range locations {
		w, err := witness.ParseLocation(loc, keys)
		if err != nil {
			return nil, usageErr("--witness: %v", err)
		}
		seen[w.Name()] = true
		out = append(out, w)
	}
	ws, err := cfg.OpenWitnesses()
	if err != nil {
		// A configured witness that cannot be opened (a token not set for
		// this user) is a finding, not a reason not to verify.
		return append(out, brokenSource{name: repo.ConfigFile + " witnesses", err: err}), nil
	}
	for _, w := range ws {
		if !seen[w.Name()] {
			out = append(out, w)
		}
	}
	return out, nil
}

type brokenSource struct {
	name string
	err  error
}

func (b brokenSource) Name() string { return b.name }
func (b brokenSource) Witnessed(context.Context, string, int) ([]witness.Witnessed, error) {
	return nil, b.err
}
