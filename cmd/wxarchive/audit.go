package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) auditCmd() *cobra.Command {
	var f uc.AuditFilter
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "The access and change log: views, searches, review actions, policy, user and token changes, logins — newest first",
		Long: `Audit reads the journal's access and change events back, newest first. Filters:
--user (the actor, or the user an event is about), --kind (` + strings.Join(uc.AuditKinds, ", ") + `),
--from/--to (days [from, to) in the archive's time zone). A page ends with the
cursor of the next one (--before). Reading the log is itself journaled.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				page, err := u.Audit(ctx, f)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(page)
				}
				t := newTable(a.stdout)
				fmt.Fprintln(t, "INDEX\tTIME\tKIND\tACTOR\tUSER\tDETAIL")
				for _, e := range page.Entries {
					user := e.User
					if user == "" {
						user = "-"
					}
					fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Index, e.Time, e.Kind, e.Actor, user, string(e.Payload))
				}
				if err := t.Flush(); err != nil {
					return err
				}
				switch {
				case page.Partial:
					fmt.Fprintf(a.stdout, "(stopped after %d events read; continue with --before %d)\n", uc.MaxAuditScan, page.Next)
				case page.Next > 0:
					fmt.Fprintf(a.stdout, "(more: --before %d)\n", page.Next)
				}
				return nil
			})
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.User, "user", "", "only events by or about this user")
	fl.StringVar(&f.Kind, "kind", "", "only events of this kind")
	fl.StringVar(&f.Period.From, "from", "", "first day")
	fl.StringVar(&f.Period.To, "to", "", "day after the last")
	fl.Uint64Var(&f.Before, "before", 0, "cursor: events before this journal index")
	fl.IntVar(&f.Limit, "limit", uc.DefaultAuditLimit, fmt.Sprintf("events per page (at most %d)", uc.MaxAuditLimit))
	fl.BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
