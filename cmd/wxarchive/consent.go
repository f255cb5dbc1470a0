package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

func (a *app) consentCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "consent EXTERNAL_USERID",
		Short: "List an external contact's consent (agree/disagree) events and their current state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.openWriter(ctx, false)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			rows, err := r.Store.Consent(ctx, args[0])
			if err != nil {
				return err
			}
			var serials []uint64
			for _, e := range rows {
				serials = append(serials, e.Serial)
			}
			// Looking up a client's consent is an access like any other.
			if _, err := r.Engine.Append(ctx, repo.AccessEvent(actor("cli"), "consent:"+args[0], "cli", serials...)); err != nil {
				return fmt.Errorf("record access: %w", err)
			}
			state := "unknown"
			if n := len(rows); n > 0 {
				state = "disagreed"
				if rows[n-1].Agreed {
					state = "agreed"
				}
			}
			if asJSON {
				if rows == nil {
					rows = []store.ConsentRow{}
				}
				return a.printJSON(map[string]any{"external_id": args[0], "state": state, "events": rows})
			}
			fmt.Fprintf(a.stdout, "%s: %s (%d events)\n", args[0], state, len(rows))
			for _, e := range rows {
				verb := "agreed"
				if !e.Agreed {
					verb = "disagreed"
				}
				fmt.Fprintf(a.stdout, "  %s  %-9s  serial %d  with %s\n", e.At.In(r.Config.Location()).Format("2006-01-02 15:04:05 MST"), verb, e.Serial, e.Employee)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
