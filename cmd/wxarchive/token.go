package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) tokenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "API tokens for machines: create (the secret is shown once), list, revoke",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return c
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var name, owner, expires string
	var scopes []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "create --name NAME --owner USER",
		Short: "Create an API token acting as its owner, narrowed to --scope permissions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				exp, err := parseExpiry(u.Location(), expires, time.Now())
				if err != nil {
					return err
				}
				nt := auth.NewToken{Name: name, Owner: owner, Expires: exp}
				for _, s := range scopes {
					nt.Scopes = append(nt.Scopes, auth.Permission(strings.TrimSpace(s)))
				}
				tc, err := u.CreateToken(ctx, nt)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(tc)
				}
				fmt.Fprintf(a.stdout, "Created token %s (%s) for %s, expires %s\n", tc.Token.ID, tc.Token.Name, tc.Token.Owner,
					tc.Token.Expires.In(u.Location()).Format(time.RFC3339))
				fmt.Fprintf(a.stdout, "Secret (shown once; send it as Authorization: Bearer …):\n  %s\n", tc.Secret)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "what the token is for")
	c.Flags().StringVar(&owner, "owner", "", "the user the token acts as")
	c.Flags().StringSliceVar(&scopes, "scope", nil, "a permission the token is limited to (default: all of the owner's); repeatable")
	c.Flags().StringVar(&expires, "expires", "90d", "when it stops working: a day or a duration (at most 366d)")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.MarkFlagRequired("name")
	c.MarkFlagRequired("owner")
	return c
}

func (a *app) tokenListCmd() *cobra.Command {
	var owner string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				ts, err := u.Tokens(ctx, owner)
				if err != nil {
					return err
				}
				if asJSON {
					if ts == nil {
						ts = []auth.TokenInfo{}
					}
					return a.printJSON(ts)
				}
				t := newTable(a.stdout)
				fmt.Fprintln(t, "ID\tNAME\tOWNER\tSCOPES\tEXPIRES\tLAST USED\tSTATE")
				now := time.Now()
				for _, x := range ts {
					sc := make([]string, len(x.Scopes))
					for i, p := range x.Scopes {
						sc[i] = string(p)
					}
					scopes, used, state := strings.Join(sc, ","), "never", "active"
					if scopes == "" {
						scopes = "(owner's)"
					}
					if !x.LastUsed.IsZero() {
						used = x.LastUsed.In(u.Location()).Format(uc.DateLayout)
					}
					switch {
					case !x.Revoked.IsZero():
						state = "revoked"
					case !now.Before(x.Expires):
						state = "expired"
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Name, x.Owner, scopes, x.Expires.In(u.Location()).Format(time.RFC3339), used, state)
				}
				return t.Flush()
			})
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "only this user's tokens")
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token: its next request fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				t, err := u.RevokeToken(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Revoked token %s (%s, owner %s)\n", t.ID, t.Name, t.Owner)
				return nil
			})
		},
	}
}
