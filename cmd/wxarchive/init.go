package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) initCmd() *cobra.Command {
	var opts repo.InitOptions
	c := &cobra.Command{
		Use:   "init",
		Short: "Create an archive: configuration, signing key, database and blob store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := initArchive(cmd.Context(), a.dir, opts)
			if err != nil {
				return usageErr("%v", err)
			}
			fmt.Fprintf(a.stdout, "Created archive %s in %s\n", cfg.ArchiveID, a.dir)
			fmt.Fprintf(a.stdout, "Retention: %d years. Checkpoint public key (keep a copy elsewhere):\n  %s\n", cfg.RetentionYears, cfg.PublicKey)
			return nil
		},
	}
	c.Flags().IntVar(&opts.RetentionYears, "retention-years", 6, "minimum retention of every record (at least 3)")
	c.Flags().StringVar(&opts.TimeZone, "timezone", "Asia/Shanghai", "time zone for human-facing times")
	return c
}
