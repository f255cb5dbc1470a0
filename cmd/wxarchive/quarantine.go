package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) quarantineCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "quarantine",
		Short: "List inputs that could not be archived, with the reason (their raw bytes are kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), readOnly, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				v, err := u.Quarantine(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				for _, x := range v.Rejects {
					field := ""
					if x.Field != "" {
						field = fmt.Sprintf(" field %q:", x.Field)
					}
					fmt.Fprintf(a.stdout, "journal %d  %s  %s%s %s  (%d bytes, sha256 %s)\n", x.JournalIndex, x.Time, x.Origin, field, x.Reason, x.RawSize, x.RawHash.Short())
				}
				fmt.Fprintf(a.stdout, "%d quarantined inputs\n", len(v.Rejects))
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}
