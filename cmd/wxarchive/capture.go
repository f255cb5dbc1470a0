package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture"
	"github.com/wxarchive/wxarchive/capture/all"
	"github.com/wxarchive/wxarchive/capture/connector"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/agent"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/native"
	"github.com/wxarchive/wxarchive/repo"
)

// connectorTypes is the registry of every connector type and ingester
// (capture/all), with the Finance SDK run in a `wxarchive capture-agent`
// child process, restarted whenever it dies.
func connectorTypes() *capture.Registry {
	return all.Registry(all.Options{OpenSDK: agentSDK})
}

// agentSDK starts the Finance SDK of a wecom-archive connector in a
// capture-agent child process: a crash inside the vendor library ends that
// process, not the archive.
func agentSDK(c connector.Config, secret string, logger *slog.Logger) (finance.SDK, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return agent.Start(exe, []string{"capture-agent", "--sdk-path", c.SDKPath, "--corp-id", c.CorpID},
		[]string{agentSecretEnv + "=" + secret}, slogWriter{logger.With("from", "capture-agent")})
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
		Use:    "capture-agent",
		Hidden: true, // serve's child process, not a user command
		Short:  "Host the WeCom Finance SDK for serve (started by serve; not for direct use)",
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
			r, err := a.open(ctx, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			reg := connectorTypes()
			verr := reg.Validate(r.Config.Connectors)
			rep, err := capture.BuildReport(ctx, r.Store, reg, r.Config.Connectors, r.Config.CaptureHealth.SilentDays, time.Now(), r.Config.Location(), nil)
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
			// What serve would refuse on beyond the file's form: secrets
			// it cannot read (named by where they were looked for).
			var unresolved []string
			for _, c := range r.Config.Connectors {
				if !c.IsEnabled() {
					continue
				}
				for _, p := range c.UnresolvedSecrets() {
					unresolved = append(unresolved, fmt.Sprintf("connector %s: %s: %s", c.ID, p.Field, p.Reason))
				}
			}
			if verr != nil || len(unresolved) > 0 {
				msg := ""
				if verr != nil {
					msg = verr.Error()
				}
				if len(unresolved) > 0 {
					msg = strings.TrimSpace(msg + "\nserve would not start: " + strings.Join(unresolved, "; "))
				}
				return usageErr("%s: %s", repo.ConfigFile, msg)
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
			r, err := a.open(ctx, repo.OpenOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			rep, err := capture.BuildReport(ctx, r.Store, connectorTypes(), r.Config.Connectors, r.Config.CaptureHealth.SilentDays, time.Now(), r.Config.Location(), nil)
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

func (a *app) renderHealth(rep *capture.Report) {
	defer func() {
		s := rep.Supervision
		fmt.Fprintf(a.stdout, "supervision: evaluated through serial %d of %d (%d %s not yet evaluated)\n",
			s.EvaluatedThrough, s.ArchivedThrough, s.Lag, plural(int64(s.Lag), "message", "messages"))
	}()
	if rep.OK {
		if rep.SilenceNotChecked != "" {
			fmt.Fprintf(a.stdout, "capture health OK: no open faults; silence not checked: %s\n", rep.SilenceNotChecked)
			return
		}
		fmt.Fprintf(a.stdout, "capture health OK: %d connectors, no open faults, no employee silent for %d days\n", len(rep.Connectors), rep.SilentDays)
		return
	}
	if rep.SilenceNotChecked != "" {
		defer fmt.Fprintf(a.stdout, "silence not checked: %s\n", rep.SilenceNotChecked)
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
			if err := capture.RecordFault(ctx, r.Engine, actor("cli"), archive.CaptureFaultEvent{Connector: args[0], Kind: args[1],
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
