package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) consentCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "consent EXTERNAL_USERID",
		Short: "List an external contact's consent (agree/disagree) events and their current state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Consent(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				fmt.Fprintf(a.stdout, "%s: %s (%d %s)\n", v.ExternalID, v.State, len(v.Events), plural(int64(len(v.Events)), "event", "events"))
				for _, e := range v.Events {
					verb := "agreed"
					if !e.Agreed {
						verb = "disagreed"
					}
					fmt.Fprintf(a.stdout, "  %s  %-9s  serial %d  with %s\n", e.At.In(u.Location()).Format("2006-01-02 15:04:05 MST"), verb, e.Serial, e.Employee)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
