package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/repo"
)

// grantFlags are the flags that say what a user may do.
type grantFlags struct {
	roles, depts, convs []string
	expires             string
	query, from, to     string
}

func (g *grantFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringSliceVar(&g.roles, "role", nil, "role (admin, principal, reviewer, auditor, regulator, ingest); repeat or comma-separate")
	f.StringSliceVar(&g.depts, "department", nil, "a reviewer's department (information barrier); repeatable")
	f.StringVar(&g.expires, "expires", "", "when access ends: a day (YYYY-MM-DD, archive time zone) or a duration (30d, 72h); required for a regulator")
	f.StringVar(&g.query, "scope-query", "", "regulator: the search every view must match")
	f.StringVar(&g.from, "scope-from", "", "regulator: messages sent on or after this day")
	f.StringVar(&g.to, "scope-to", "", "regulator: messages sent before this day")
	f.StringSliceVar(&g.convs, "scope-conversation", nil, "regulator: a conversation id; repeatable")
}

// parseExpiry reads --expires: a day in loc (access ends as it starts)
// or a duration from now (Nd for days). "" is no expiry.
func parseExpiry(loc *time.Location, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 && days <= 100*366 && strconv.Itoa(days) == n {
			return now.AddDate(0, 0, days), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, usageErr("--expires: %s is not in the future", v)
		}
		return now.Add(d), nil
	}
	t, err := time.ParseInLocation(uc.DateLayout, v, loc)
	if err != nil {
		return time.Time{}, usageErr("--expires: %q is neither a day (%s) nor a duration (30d, 72h)", v, uc.DateLayout)
	}
	return t, nil
}

func (g *grantFlags) grant(u *uc.App) (auth.Grant, error) {
	var out auth.Grant
	for _, s := range g.roles {
		r, err := auth.ParseRole(strings.TrimSpace(s))
		if err != nil {
			return out, usageErr("--role: %v", err)
		}
		out.Roles = append(out.Roles, r)
	}
	out.Departments = g.depts
	var err error
	if out.Expires, err = parseExpiry(u.Location(), g.expires, time.Now()); err != nil {
		return out, err
	}
	if g.query != "" || g.from != "" || g.to != "" || len(g.convs) > 0 {
		sc := &auth.Scope{Query: g.query, Conversations: g.convs}
		if g.from != "" {
			if sc.From, err = u.ParseDay("scope_from", g.from); err != nil {
				return out, err
			}
		}
		if g.to != "" {
			if sc.To, err = u.ParseDay("scope_to", g.to); err != nil {
				return out, err
			}
		}
		out.Scope = sc
	}
	return out, nil
}

func (a *app) input() io.Reader {
	if a.stdin != nil {
		return a.stdin
	}
	return os.Stdin
}

// readPassword gets a new password: one line of stdin with --password-stdin,
// else a prompt (twice) on a terminal, else none ("" — the caller decides).
func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.input()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usageErr("--password-stdin: stdin holds no password")
		}
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if a.stdin != nil || !term.IsTerminal(fd) {
		return "", nil
	}
	fmt.Fprint(a.stderr, "New password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(a.stderr, "Again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", usageErr("the two passwords differ")
	}
	return string(p1), nil
}

// initialPassword is a random password for a user created without a
// terminal to type one: printed once, never stored but as its hash.
func initialPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newPassword is readPassword, or a generated password (generated true)
// when there is no terminal and no --password-stdin.
func (a *app) newPassword(fromStdin bool) (pw string, generated bool, err error) {
	if pw, err = a.readPassword(fromStdin); err != nil || pw != "" {
		return pw, false, err
	}
	pw, err = initialPassword()
	return pw, true, err
}

func (a *app) userCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Users and their roles: add, list, roles, disable, passwd, totp — every change journaled",
		Long: `Users log in to the web interface and the API (docs/SECURITY.md has what each role
may do). Every change is a journal event naming you and the grant, never a password.
A password is prompted on a terminal, read from stdin with --password-stdin, or —
with neither — generated and printed once.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.userAddCmd(), a.userListCmd(), a.userRolesCmd(), a.userDisableCmd(), a.userPasswdCmd(), a.userTOTPCmd())
	return c
}

func (a *app) userAddCmd() *cobra.Command {
	var g grantFlags
	var sso, pwStdin, asJSON bool
	c := &cobra.Command{
		Use:   "add NAME --role ROLE...",
		Short: "Add a user with a local password (or --sso: single sign-on only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sso && pwStdin {
				return usageErr("--sso and --password-stdin exclude each other")
			}
			var pw string
			var generated bool
			if !sso {
				var err error
				if pw, generated, err = a.newPassword(pwStdin); err != nil {
					return err
				}
			}
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				gr, err := g.grant(u)
				if err != nil {
					return err
				}
				info, err := u.AddUser(ctx, auth.NewUser{Name: args[0], Password: pw, Grant: gr})
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(info)
				}
				fmt.Fprintf(a.stdout, "Added user %s (%s)\n", info.Name, rolesText(info.Roles))
				if generated {
					fmt.Fprintf(a.stdout, "Initial password (shown once; change it with `wxarchive user passwd %s`):\n  %s\n", info.Name, pw)
				}
				return nil
			})
		},
	}
	g.register(c)
	c.Flags().BoolVar(&sso, "sso", false, "no local password: the user signs in through single sign-on only")
	c.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	c.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON")
	c.MarkFlagRequired("role")
	return c
}

func rolesText(rs []auth.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func (a *app) userListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List users, their roles and how they log in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				users, err := u.Users(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					if users == nil {
						users = []auth.UserInfo{}
					}
					return a.printJSON(users)
				}
				t := newTable(a.stdout)
				fmt.Fprintln(t, "USER\tROLES\tDEPARTMENTS\tLOGIN\tTOTP\tEXPIRES\tSTATE")
				for _, x := range users {
					exp, state, totp := "-", "active", "no"
					if !x.Expires.IsZero() {
						exp = x.Expires.In(u.Location()).Format(time.RFC3339)
					}
					if x.Disabled {
						state = "disabled"
					}
					if x.TOTP {
						totp = "yes"
					}
					depts := strings.Join(x.Departments, ",")
					if depts == "" {
						depts = "-"
					}
					fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Name, strings.ReplaceAll(rolesText(x.Roles), " ", ""), depts, x.Login, totp, exp, state)
				}
				return t.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func (a *app) userRolesCmd() *cobra.Command {
	var g grantFlags
	c := &cobra.Command{
		Use:   "roles NAME --role ROLE...",
		Short: "Set a user's roles, departments, regulator scope and expiry (replacing the previous ones)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				gr, err := g.grant(u)
				if err != nil {
					return err
				}
				info, err := u.SetUserGrant(ctx, args[0], gr)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: %s\n", info.Name, rolesText(info.Roles))
				return nil
			})
		},
	}
	g.register(c)
	c.MarkFlagRequired("role")
	return c
}

func (a *app) userDisableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: no more logins; their sessions end and their tokens stop working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				info, err := u.DisableUser(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Disabled %s\n", info.Name)
				return nil
			})
		},
	}
}

func (a *app) userPasswdCmd() *cobra.Command {
	var pwStdin bool
	c := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (their sessions end)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := a.newPassword(pwStdin)
			if err != nil {
				return err
			}
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				info, err := u.SetPassword(ctx, args[0], pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Set the password of %s\n", info.Name)
				if generated {
					fmt.Fprintf(a.stdout, "New password (shown once):\n  %s\n", pw)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func (a *app) userTOTPCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "totp NAME",
		Short: "Enrol a user in TOTP (a new key, shown once): their password logins then need a code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				e, err := u.EnrolTOTP(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "TOTP key of %s (shown once; add it to an authenticator app):\n  %s\n  secret: %s\n", e.User, e.URI, e.Secret)
				return nil
			})
		},
	}
}
