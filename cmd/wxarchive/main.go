// Command wxarchive is the compliance archive for WeChat and WeCom business
// communications. See README.md and shared/DESIGN.md §9 for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wxarchive/wxarchive/repo"
)

// Exit codes (DESIGN.md §9).
const (
	exitOK      = 0
	exitFailure = 1 // a check failed (verify fault, open health fault)
	exitUsage   = 2 // bad usage or bad input
)

// exitError carries an exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

type app struct {
	dir     string
	started bool      // a command's RunE began: errors before that are usage errors
	stdin   io.Reader // nil: os.Stdin (tests set it)
	stdout  io.Writer
	stderr  io.Writer
	logger  *slog.Logger
}

func main() {
	a := &app{stdout: os.Stdout, stderr: os.Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(a.run(ctx, os.Args[1:]))
}

func (a *app) run(ctx context.Context, args []string) int {
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(a.stderr, "wxarchive:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(a.stderr, "wxarchive:", err)
	// Unknown commands, wrong argument counts and bad flags are rejected by
	// cobra before any command runs: usage errors, never "a check failed".
	// A missing required flag is found after the pre-run hook, in cobra's
	// own words.
	if !a.started || errors.Is(err, repo.ErrNoArchive) || errors.Is(err, errUsage) || strings.HasPrefix(err.Error(), "required flag(s) ") {
		return exitUsage
	}
	return exitFailure
}

var errUsage = errors.New("usage")

// defaultDir is the archive directory when --dir is not given.
func defaultDir() string {
	if d := os.Getenv("WXARCHIVE_DIR"); d != "" {
		return d
	}
	return "./wxarchive-data"
}

// buildVersion is the module version and the commit the binary was built
// from (go build stamps it from git; "go run" and test binaries may not).
func buildVersion() string {
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v = bi.Main.Version
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %.12s, %s%s)", rev, at, dirty)
	}
	return v + " " + bi.GoVersion
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wxarchive",
		Short: "Compliance archive for WeChat and WeCom business communications",
		Long: `wxarchive captures WeCom (企业微信) and WeChat business messages, keeps them
unaltered in a write-once store with a signed Merkle journal, and proves it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			a.started = true
			if a.dir == "" {
				a.dir = defaultDir()
			}
		},
		Version: buildVersion(),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q\n%s", args[0], c.UsageString())
			}
			return usageErr("a command is required\n%s", c.UsageString())
		},
		Args: cobra.ArbitraryArgs,
	}
	// No default value in the flag itself: the help would print it twice.
	root.PersistentFlags().StringVar(&a.dir, "dir", "", "archive directory (default $WXARCHIVE_DIR, else ./wxarchive-data)")
	root.SetVersionTemplate("wxarchive {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w\n%s", err, c.UsageString())}
	})
	root.AddCommand(a.initCmd(), a.ingestCmd(), a.showCmd(), a.verifyCmd(), a.reindexCmd(), a.statsCmd(),
		a.serveCmd(), a.demoCmd(), a.consentCmd(), a.quarantineCmd(), a.searchCmd(), a.wecomCmd(), a.connectorsCmd(), a.healthCmd(), a.captureAgentCmd(), a.importCmd(), a.policyCmd(), a.retentionCmd(), a.holdCmd(), a.exportCmd(), a.verifyExportCmd(), a.alertsCmd(), a.reviewCmd(), a.reportCmd(), a.witnessCmd(), a.keyCmd(),
		a.userCmd(), a.tokenCmd(), a.auditCmd(), a.replicateCmd(), a.restoreCmd())
	return root
}

func actor(prefix string) string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return prefix + ":" + name
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// interactive reports whether progress bars should be drawn.
func (a *app) interactive() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == ""
}

func (a *app) progressBar(total int64, what string) *progressbar.ProgressBar {
	if !a.interactive() {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(false),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
	)
}

func (a *app) openWriter(ctx context.Context, exclusive bool) (*repo.Repo, error) {
	return a.open(ctx, repo.OpenOptions{Exclusive: true, Guest: !exclusive, Logger: a.logger})
}

// sealWhileRunning seals records in the background, as serve does, for a
// command that may ingest for a long time: the WORM copy of every record
// must follow within the seal delay (DESIGN §4), not only at exit. The
// returned stop must run before the archive is closed.
func sealWhileRunning(r *repo.Repo) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Engine.RunSealer(ctx, 0)
	}()
	return func() {
		cancel()
		<-done
	}
}

// whileWriting runs a command's long write to the open archive r as serve
// would: checkpoints published to the witnesses, records sealed within the
// seal delay and policies evaluated behind the writer while run runs; then
// supervision finishes, the archive closes (sealing everything) and its
// last checkpoint is published. It returns run's error (or supervision's)
// and the close's.
func (a *app) whileWriting(ctx context.Context, r *repo.Repo, run func() error) (runErr, closeErr error) {
	wit, err := a.startWitnessing(r, nil, nil, a.logger)
	if err != nil {
		return err, r.Close(ctx)
	}
	stopSealer := sealWhileRunning(r)
	finishSupervision := a.superviseWhileRunning(r)
	runErr = run()
	// Supervision: the policies see every new message.
	if _, err := finishSupervision(ctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("supervision: %w", err)
	}
	stopSealer()
	wit.Stop()
	closeErr = r.Close(ctx)
	wit.AfterClose(ctx)
	return runErr, closeErr
}

func (a *app) openReader(ctx context.Context) (*repo.Repo, error) {
	return a.open(ctx, repo.OpenOptions{ReadOnly: true, Logger: a.logger})
}
