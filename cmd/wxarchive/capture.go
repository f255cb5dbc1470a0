package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/api"
	"github.com/wxarchive/wxarchive/capture/wecom/callback"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/agent"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/native"
	"github.com/wxarchive/wxarchive/capture/wecom/kf"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/repo"
)

// connectors is what serve runs: callback receivers by connector id and
// pulling connectors (the conversation archive) by corp id.
// MediaRetryInterval is how often a callback connector fetches again the
// media it could not fetch at capture.
const MediaRetryInterval = 5 * time.Minute

type connectors struct {
	retries  []*callback.Receiver // callback connectors that fetch missed media again
	handlers map[string]http.Handler
	pullers  map[string]*puller   // by corp id: a msgaudit_notify wakes the puller of its corp
	syncers  map[string]*kfSyncer // by corp id: a kf_msg_or_event wakes the customer-service sync
}

type kfSyncer struct {
	s        *kf.Syncer
	interval time.Duration
	wake     chan string
}

func (k *kfSyncer) run(ctx context.Context) { k.s.Run(ctx, k.interval, k.wake) }

func (cs *connectors) kfEvent(corpID, token string) {
	if k := cs.syncers[corpID]; k != nil {
		select {
		case k.wake <- token:
		default: // a sync is already due
		}
	}
}

// runners are the pulling connectors' loops.
func (cs *connectors) runners() []func(context.Context) {
	var out []func(context.Context)
	for _, p := range cs.pullers {
		out = append(out, p.run)
	}
	for _, k := range cs.syncers {
		out = append(out, k.run)
	}
	for _, rcv := range cs.retries {
		out = append(out, func(ctx context.Context) { rcv.RunMediaRetry(ctx, MediaRetryInterval) })
	}
	return out
}

type puller struct {
	c        *msgaudit.Connector
	interval time.Duration
	wake     chan struct{}
}

// run pulls until ctx ends, then releases the SDK (ending its agent).
func (p *puller) run(ctx context.Context) {
	p.c.Run(ctx, p.interval, p.wake)
	p.c.Close()
}

func (cs *connectors) notify(corpID string) {
	if p := cs.pullers[corpID]; p != nil {
		select {
		case p.wake <- struct{}{}:
		default: // a pull is already due
		}
	}
}

// startConnectors builds the configured, enabled connectors. Every
// configuration problem is reported at once, and serve does not start with
// a connector it cannot run.
func startConnectors(ctx context.Context, r *repo.Repo, h *connector.Health, logger *slog.Logger) (*connectors, error) {
	if err := connector.Validate(r.Config.Connectors); err != nil {
		return nil, fmt.Errorf("%s: %w", repo.ConfigFile, err)
	}
	cs := &connectors{handlers: map[string]http.Handler{}, pullers: map[string]*puller{}, syncers: map[string]*kfSyncer{}}
	var errs []error
	for _, c := range r.Config.Connectors {
		if !c.IsEnabled() {
			logger.Info("connector disabled", "connector", c.ID)
			continue
		}
		if c.Type == connector.TypeWeComArchive {
			p, err := newPuller(r, c, h, logger)
			if err != nil {
				errs = append(errs, fmt.Errorf("connector %s: %w", c.ID, err))
				continue
			}
			if cs.pullers[c.CorpID] != nil {
				errs = append(errs, fmt.Errorf("connector %s: a second wecom-archive connector for corp %s", c.ID, c.CorpID))
				continue
			}
			cs.pullers[c.CorpID] = p
			h.Register(c.ID, c.Type, connector.SourceName(c))
			logger.Info("connector running", "connector", c.ID, "type", c.Type, "every", p.interval.String())
			continue
		}
		if c.Type == connector.TypeWeComKF {
			secret, err := c.AppSecret.Resolve()
			if err != nil {
				errs = append(errs, fmt.Errorf("connector %s: app_secret: %w", c.ID, err))
				continue
			}
			if cs.syncers[c.CorpID] != nil {
				errs = append(errs, fmt.Errorf("connector %s: a second wecom-kf connector for corp %s", c.ID, c.CorpID))
				continue
			}
			interval := c.PollInterval
			if interval == 0 {
				interval = connector.DefaultPollInterval
			}
			client := &api.Client{Flavor: api.WeCom, BaseURL: c.APIBase, ID: c.CorpID, Secret: secret}
			cs.syncers[c.CorpID] = &kfSyncer{interval: interval, wake: make(chan string, 1), s: &kf.Syncer{ID: c.ID, CorpID: c.CorpID,
				OpenKfID: c.OpenKfID, Client: client, Engine: r.Engine, Blobs: r.Blobs, Store: r.Store, Health: h, Logger: logger}}
			h.Register(c.ID, c.Type, connector.SourceName(c))
			logger.Info("connector running", "connector", c.ID, "type", c.Type, "every", interval.String())
			continue
		}
		rcv, err := newReceiver(ctx, r, c, h, logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", c.ID, err))
			continue
		}
		if c.Type == connector.TypeWeComCallback {
			corp := c.CorpID
			rcv.Notify = func() {
				logger.Info("msgaudit_notify: pulling the conversation archive now", "connector", c.ID, "corp", corp)
				cs.notify(corp)
			}
			rcv.OnKFEvent = func(token, openKfID string) {
				logger.Info("kf_msg_or_event: syncing customer service now", "connector", c.ID, "corp", corp, "open_kfid", openKfID)
				cs.kfEvent(corp, token)
			}
		}
		cs.handlers[c.ID] = rcv
		if rcv.Media != nil {
			cs.retries = append(cs.retries, rcv)
		}
		h.Register(c.ID, c.Type, connector.SourceName(c))
		logger.Info("connector running", "connector", c.ID, "type", c.Type, "path", "/capture/wecom/callback/"+c.ID)
	}
	return cs, errors.Join(errs...)
}

// newPuller builds a wecom-archive connector. The vendor SDK runs in a
// `wxarchive capture-agent` child process, restarted whenever it dies.
func newPuller(r *repo.Repo, c connector.Config, h *connector.Health, logger *slog.Logger) (*puller, error) {
	secret, err := c.Secret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	pems := map[int][]byte{}
	for ver, s := range c.PrivateKeys {
		v, err := s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("private_keys[%d]: %w", ver, err)
		}
		pems[ver] = []byte(v)
	}
	ring, err := finance.ParseKeyRing(pems)
	if err != nil {
		return nil, fmt.Errorf("private_keys: %w", err)
	}
	var passwd string
	if !c.ProxyPassword.IsZero() {
		if passwd, err = c.ProxyPassword.Resolve(); err != nil {
			return nil, fmt.Errorf("proxy_password: %w", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	agentLog := slogWriter{logger.With("connector", c.ID, "from", "capture-agent")}
	interval := c.PollInterval
	if interval == 0 {
		interval = connector.DefaultPollInterval
	}
	mc := &msgaudit.Connector{ID: c.ID, CorpID: c.CorpID, Keys: ring, Engine: r.Engine, Blobs: r.Blobs, Store: r.Store,
		Health: h, Proxy: c.Proxy, Passwd: passwd, Logger: logger,
		Open: func() (finance.SDK, error) {
			return agent.Start(exe, []string{"capture-agent", "--sdk-path", c.SDKPath, "--corp-id", c.CorpID},
				[]string{agentSecretEnv + "=" + secret}, agentLog)
		}}
	// The msgaudit REST calls (room names, permit list, consent checks),
	// when the connector has an api section.
	if c.API != nil {
		client, err := c.ArchiveAPIClient()
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		mc.API = client
		// Customer groups' names (contact_secret); a nil *api.Client must not become a non-nil interface.
		if contact, err := c.ContactAPIClient(); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		} else if contact != nil {
			mc.Contact = contact
		}
		mc.APIOptions = msgaudit.APIOptions{RoomRefresh: c.API.RoomRefresh, PermitInterval: c.API.PermitInterval,
			ConsentRefresh: c.API.ConsentRefresh, MinInterval: c.API.MinInterval, ConsentBatch: c.API.ConsentBatch,
			ExpectedEmployees: c.ExpectedEmployees}
	}
	return &puller{c: mc, interval: interval, wake: make(chan struct{}, 1)}, nil
}

// agentSecretEnv passes the conversation-archive secret to the agent: the
// environment of a process is private to its user, its arguments are not.
const agentSecretEnv = "WXARCHIVE_MSGAUDIT_SECRET"

// slogWriter logs each line the agent writes to stderr.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.l.Warn(line)
		}
	}
	return len(p), nil
}

func (a *app) captureAgentCmd() *cobra.Command {
	var sdkPath, corpID string
	c := &cobra.Command{
		Use:   "capture-agent",
		Short: "Host the WeCom Finance SDK for serve (started by serve; not for direct use)",
		Long: `capture-agent loads the WeCom Finance SDK (libWeWorkFinanceSdk_C.so) and answers
serve's calls on standard input and output, so that a crash inside the vendor
library ends this process, not the archive. serve starts it for each
wecom-archive connector and starts a new one when it dies. The conversation-
archive secret comes from $` + agentSecretEnv + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret := os.Getenv(agentSecretEnv)
			if sdkPath == "" || corpID == "" || secret == "" {
				return usageErr("--sdk-path, --corp-id and $%s are required", agentSecretEnv)
			}
			sdk, err := native.Open(sdkPath, corpID, secret)
			if err != nil {
				return err
			}
			defer sdk.Close()
			return agent.Serve(cmd.Context(), sdk, os.Stdin, a.stdout)
		},
	}
	c.Flags().StringVar(&sdkPath, "sdk-path", "", "path of libWeWorkFinanceSdk_C.so")
	c.Flags().StringVar(&corpID, "corp-id", "", "the CorpID")
	return c
}

func newReceiver(ctx context.Context, r *repo.Repo, c connector.Config, h *connector.Health, logger *slog.Logger) (*callback.Receiver, error) {
	secret := func(field string, s connector.Secret) (string, error) {
		if s.IsZero() {
			return "", nil
		}
		v, err := s.Resolve()
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return v, nil
	}
	token, err := secret("token", c.Token)
	if err != nil {
		return nil, err
	}
	aesKey, err := secret("aes_key", c.AESKey)
	if err != nil {
		return nil, err
	}
	appSecret, err := secret("app_secret", c.AppSecret)
	if err != nil {
		return nil, err
	}
	cr, err := callback.NewCrypter(token, aesKey, c.ReceiveID())
	if err != nil {
		return nil, err
	}
	platform, flavor := callback.PlatformWeCom, api.WeCom
	if c.Type == connector.TypeOACallback {
		platform, flavor = callback.PlatformOfficialAccount, api.OfficialAccount
	}
	rcv := &callback.Receiver{ID: c.ID, Platform: platform, Crypter: cr, Engine: r.Engine, Blobs: r.Blobs,
		Logger: logger.With("connector", c.ID), Store: r.Store}
	if appSecret != "" {
		rcv.Media = &api.Client{Flavor: flavor, BaseURL: c.APIBase, ID: c.ReceiveID(), Secret: appSecret}
	} else {
		logger.Warn("connector has no app_secret: media of its messages will not be fetched", "connector", c.ID)
	}
	rcv.Notify = func() {
		logger.Info("msgaudit_notify received, but no wecom-archive connector is configured for it", "connector", c.ID)
	}
	rcv.OnEvent = func(outcome, subject, detail string) {
		// Health bookkeeping must outlive the request that reported it.
		ctx := context.WithoutCancel(ctx)
		h.Observe(ctx, c.ID, outcome, detail)
		switch outcome {
		case "media_failed":
			h.Raise(ctx, c.ID, connector.FaultMediaFailed, subject, detail)
		case "media_fetched":
			h.Resolve(ctx, c.ID, connector.FaultMediaFailed, subject, detail, "connector:"+c.ID)
		}
	}
	return rcv, nil
}

func (a *app) connectorsCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "connectors",
		Short: "List the configured capture connectors and their state",
		Long: `List the connectors of wxarchive.yaml (README, "Connectors") with what the
archive knows of each: its newest captured message, the capture lag, messages per
minute over the last ten minutes and open faults. Configuration problems are
listed too (exit 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			verr := connector.Validate(r.Config.Connectors)
			rep, err := connector.BuildReport(ctx, r.Store, r.Config.Connectors, r.Config.CaptureHealth.SilentDays, time.Now(), r.Config.Location(), nil)
			if err != nil {
				return err
			}
			if asJSON {
				if err := a.printJSON(map[string]any{"connectors": rep.Connectors}); err != nil {
					return err
				}
			} else if len(rep.Connectors) == 0 {
				fmt.Fprintf(a.stdout, "no connectors configured (see the connectors section of %s)\n", repo.ConfigFile)
			} else {
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "ID\tTYPE\tENABLED\tLAST CAPTURED\tLAG\tMSG/MIN\tOPEN FAULTS")
				for _, c := range rep.Connectors {
					last := c.LastCaptured
					if last == "" {
						last = "never"
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%.1f\t%d\n", c.ID, c.Type, c.Enabled, last,
						(time.Duration(c.LagSeconds) * time.Second).String(), c.MessagesPerMinute, c.OpenFaults)
				}
				tw.Flush()
			}
			if verr != nil {
				return usageErr("%s: %v", repo.ConfigFile, verr)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) healthCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "health",
		Short: "Report capture health; exit 1 when a fault is open or an employee went silent",
		Long: `Report capture health from the archive: every open capture fault (media that could
not be fetched, rejected callback requests, expired data, sequence gaps, missing
keys, withdrawn consent…) and every employee with no captured message for
capture_health.silent_days (default 7). Exit 0 when there is nothing to report,
1 otherwise — for cron and monitoring.

Faults are journaled when raised and when resolved. A fault only a person can
close (lost media, for instance) is closed with 'wxarchive health resolve'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := repo.Open(ctx, a.dir, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			rep, err := connector.BuildReport(ctx, r.Store, r.Config.Connectors, r.Config.CaptureHealth.SilentDays, time.Now(), r.Config.Location(), nil)
			if err != nil {
				return err
			}
			if asJSON {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				a.renderHealth(rep)
			}
			if !rep.OK {
				return &exitError{code: exitFailure}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.AddCommand(a.healthResolveCmd())
	return c
}

func (a *app) renderHealth(rep *connector.Report) {
	defer func() {
		s := rep.Supervision
		fmt.Fprintf(a.stdout, "supervision: evaluated through serial %d of %d (%d %s not yet evaluated)\n",
			s.EvaluatedThrough, s.ArchivedThrough, s.Lag, plural(int64(s.Lag), "message", "messages"))
	}()
	if rep.OK {
		fmt.Fprintf(a.stdout, "capture health OK: %d connectors, no open faults, no employee silent for %d days\n", len(rep.Connectors), rep.SilentDays)
		return
	}
	if len(rep.Faults) > 0 {
		fmt.Fprintf(a.stdout, "%d open %s:\n", len(rep.Faults), plural(int64(len(rep.Faults)), "fault", "faults"))
		tw := newTable(a.stdout)
		fmt.Fprintln(tw, "SINCE\tCONNECTOR\tKIND\tSUBJECT\tDETAIL")
		for _, f := range rep.Faults {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Since, f.Connector, f.Kind, f.Subject, f.Detail)
		}
		tw.Flush()
	}
	if len(rep.SilentEmployees) > 0 {
		if len(rep.Faults) > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "%d %s with no captured message for %d days:\n", len(rep.SilentEmployees),
			plural(int64(len(rep.SilentEmployees)), "employee", "employees"), rep.SilentDays)
		for _, e := range rep.SilentEmployees {
			last := e.LastSent
			if last == "" {
				last = "never"
			}
			fmt.Fprintf(a.stdout, "  %-24s last sent %s\n", e.ID, last)
		}
	}
}

func (a *app) healthResolveCmd() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "resolve CONNECTOR KIND [SUBJECT]",
		Short: "Close an open capture fault, with the reason (journaled)",
		Example: `  wxarchive health resolve staff-app media_failed 4561255354251345929 \
    --reason "image re-requested from the employee, archived as serial 1234"`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if strings.TrimSpace(reason) == "" {
				return usageErr("--reason is required: it is the evidence of why the fault was closed")
			}
			subject := ""
			if len(args) == 3 {
				subject = args[2]
			}
			r, err := a.openWriter(ctx, false)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			open, err := r.Store.OpenFaults(ctx)
			if err != nil {
				return err
			}
			found := false
			for _, f := range open {
				found = found || (f.Connector == args[0] && f.Kind == args[1] && f.Subject == subject)
			}
			if !found {
				return usageErr("no open fault %s %s %q (see wxarchive health)", args[0], args[1], subject)
			}
			if err := connector.RecordFault(ctx, r.Engine, actor("cli"), archive.CaptureFaultEvent{Connector: args[0], Kind: args[1],
				Subject: subject, State: archive.FaultResolved, Detail: reason}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "resolved %s %s %s\n", args[0], args[1], subject)
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why the fault is closed (required, journaled)")
	return c
}
