package main

import (
	"context"
	"fmt"
	"os/user"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) initCmd() *cobra.Command {
	var opts repo.InitOptions
	var admin string
	var pwStdin bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Create an archive: configuration, signing key, database and blob store, and its first administrator",
		Long: `Init creates the archive and its first administrator (--admin, by default the
operating-system user): the password is prompted on a terminal, read from stdin
with --admin-password-stdin, or else generated and printed once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := auth.CheckUserName(admin); err != nil {
				return usageErr("--admin: %v", err)
			}
			// The password is asked before anything is created: a typo in it
			// must not leave an archive without an administrator.
			pw, generated, err := a.newPassword(pwStdin)
			if err != nil {
				return err
			}
			cfg, err := initArchive(cmd.Context(), a.dir, opts)
			if err != nil {
				return usageErr("%v", err)
			}
			fmt.Fprintf(a.stdout, "Created archive %s in %s\n", cfg.ArchiveID, a.dir)
			fmt.Fprintf(a.stdout, "Retention: %d years. Checkpoint public key (keep a copy elsewhere):\n  %s\n", cfg.RetentionYears, cfg.PublicKey)
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				if _, err := u.AddUser(ctx, auth.NewUser{Name: admin, Password: pw, Grant: auth.Grant{Roles: []auth.Role{auth.Admin}}}); err != nil {
					return fmt.Errorf("create the first administrator: %w", err)
				}
				fmt.Fprintf(a.stdout, "Administrator: %s\n", admin)
				if generated {
					fmt.Fprintf(a.stdout, "Initial password (shown once; change it with `wxarchive user passwd %s`):\n  %s\n", admin, pw)
				}
				return nil
			})
		},
	}
	c.Flags().IntVar(&opts.RetentionYears, "retention-years", 6, "minimum retention of every record (at least 3)")
	c.Flags().StringVar(&opts.TimeZone, "timezone", "Asia/Shanghai", "time zone for human-facing times")
	c.Flags().StringVar(&opts.Index, "index", "", "the index database's URL (default sqlite:index.db in the archive directory)")
	c.Flags().StringVar(&opts.Blobs, "blobs", "", "the blob store's URL: file:DIR (default file:blobs) or s3://BUCKET?endpoint=HOST&access_key_env=NAME&secret_key_env=NAME (docs/DEPLOY.md)")
	c.Flags().StringVar(&admin, "admin", osUserName(), "user name of the first administrator")
	c.Flags().BoolVar(&pwStdin, "admin-password-stdin", false, "read the administrator's password from the first line of stdin")
	return c
}

// osUserName is the operating-system user's name when it is a valid user
// name, else "admin".
func osUserName() string {
	if u, err := user.Current(); err == nil && auth.CheckUserName(u.Username) == nil {
		return u.Username
	}
	return "admin"
}
