package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) holdCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "hold",
		Short: "Legal holds: keep what a matter needs beyond its retention (create, list, show, release, check)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.holdCreateCmd(), a.holdListCmd(), a.holdShowCmd(), a.holdReleaseCmd(), a.holdCheckCmd())
	return c
}

func (a *app) printHold(v *uc.HoldView) {
	fmt.Fprintf(a.stdout, "hold %s (%s): %s\n", v.Name, v.State, v.Matter)
	fmt.Fprintf(a.stdout, "  reason      %s\n  owner       %s\n  created     %s by %s (journal %d)\n", v.Reason, v.Owner, v.CreatedAt, v.CreatedBy, v.JournalIndex)
	s := v.Scope
	if len(s.Custodians) > 0 {
		fmt.Fprintf(a.stdout, "  custodians  %s\n", strings.Join(s.Custodians, ", "))
	}
	if len(s.Conversations) > 0 {
		fmt.Fprintf(a.stdout, "  conversations %s\n", strings.Join(s.Conversations, ", "))
	}
	if s.Query != "" {
		fmt.Fprintf(a.stdout, "  query       %s\n", s.Query)
	}
	if v.SentFrom != "" || v.SentTo != "" {
		fmt.Fprintf(a.stdout, "  sent        from %s, before %s\n", orDash(v.SentFrom), orDash(v.SentTo))
	}
	fmt.Fprintf(a.stdout, "  grace       %d days after release\n", v.GraceDays)
	if v.ReleasedAt != "" {
		fmt.Fprintf(a.stdout, "  released    %s by %s: %s (holds until %s)\n", v.ReleasedAt, v.ReleasedBy, v.ReleaseReason, v.HoldsUntil)
	}
	if v.Messages >= 0 {
		fmt.Fprintf(a.stdout, "  covers      %d archived messages (and those archived later that match)\n", v.Messages)
	}
}

func (a *app) holdCreateCmd() *cobra.Command {
	var r uc.HoldRequest
	var grace int
	var asJSON bool
	c := &cobra.Command{
		Use:   "create NAME --matter M --reason R [--custodian ID]… [--conversation ID]… [--query Q] [--from DAY] [--to DAY]",
		Short: "Create a legal hold (journaled with you, the matter and the reason)",
		Long: `Create journals a legal hold (hold.created). It covers the messages that match
every criterion given — custodians (employees: sent or received), conversations,
a search query (docs/SEARCH.md), sent from DAY (inclusive) to DAY (exclusive), in
the archive's time zone — already archived or archived while it is in force.
Held messages are never disposed of. A release (hold release) takes effect only
after the grace period (--grace-days, default 30).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.Name = args[0]
			if cmd.Flags().Changed("grace-days") {
				r.GraceDays = &grace
			}
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.CreateHold(ctx, r)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printHold(v)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&r.Matter, "matter", "", "the litigation, investigation or request (required)")
	f.StringVar(&r.Reason, "reason", "", "why (required)")
	f.StringVar(&r.Owner, "owner", "", "who answers for the hold (default: you)")
	f.StringArrayVar(&r.Custodians, "custodian", nil, "an employee id whose messages are held (repeat for several)")
	f.StringArrayVar(&r.Conversations, "conversation", nil, "a conversation id (repeat for several)")
	f.StringVar(&r.Query, "query", "", "a search query the messages must match")
	f.StringVar(&r.From, "from", "", "messages sent on or after this day ("+uc.DateLayout+")")
	f.StringVar(&r.To, "to", "", "messages sent before this day ("+uc.DateLayout+")")
	f.IntVar(&grace, "grace-days", 30, "days what the hold held stays held after its release")
	f.BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) holdListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "Every legal hold, active or released",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Holds(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "HOLD\tSTATE\tMATTER\tOWNER\tCREATED\tRELEASED")
				for _, h := range v.Holds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.State, h.Matter, h.Owner, h.CreatedAt, orDash(h.ReleasedAt))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) holdShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "A legal hold: its scope, state and how many archived messages it covers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Hold(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printHold(v)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) holdReleaseCmd() *cobra.Command {
	var reason string
	var asJSON bool
	c := &cobra.Command{
		Use:   "release NAME --reason R",
		Short: "Release a legal hold (a supervising principal or an administrator; effective after its grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.ReleaseHold(ctx, args[0], reason)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				a.printHold(v)
				return nil
			})
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why the hold ends (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) holdCheckCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "check SERIAL",
		Short: "Whether a message is held now, and by which holds (exit 0 either way)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			serial, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || serial == 0 {
				return usageErr("SERIAL: %q is not a message serial", args[0])
			}
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Held(ctx, serial)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				if !v.Held {
					fmt.Fprintf(a.stdout, "serial %d: not held\n", serial)
				} else {
					fmt.Fprintf(a.stdout, "serial %d: held by %s\n", serial, strings.Join(v.Holds, ", "))
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
