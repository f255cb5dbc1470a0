package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/store"
)

func (a *app) quarantineCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "quarantine",
		Short: "List inputs that could not be archived, with the reason (their raw bytes are kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			rows := []store.RejectRow{}
			if err := r.Store.Rejects(ctx, func(x store.RejectRow) error { rows = append(rows, x); return nil }); err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"rejects": rows})
			}
			for _, x := range rows {
				field := ""
				if x.Field != "" {
					field = fmt.Sprintf(" field %q:", x.Field)
				}
				fmt.Fprintf(a.stdout, "journal %d  %s  %s%s %s  (%d bytes, sha256 %s)\n", x.JournalIndex, x.Time, x.Origin, field, x.Reason, x.RawSize, x.RawHash.Short())
			}
			fmt.Fprintf(a.stdout, "%d quarantined inputs\n", len(rows))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
