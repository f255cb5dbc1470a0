package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/repo"
)

// How a command opens the archive for its use case.
type openMode int

const (
	// readOnly: the use case journals nothing (lists, reports).
	readOnly openMode = iota
	// journaling: the use case journals an access or an action; the
	// command writes alongside a running serve (as a guest).
	journaling
)

// withApp opens the archive, runs fn with the use cases acting as the
// person at the terminal, and closes it: the one way CLI commands reach
// app/ (imported as uc, the use cases). Errors come back through cliError.
func (a *app) withApp(ctx context.Context, mode openMode, fn func(ctx context.Context, u *uc.App, r *repo.Repo) error) error {
	var r *repo.Repo
	var err error
	if mode == journaling {
		r, err = a.openWriter(ctx, false)
	} else {
		r, err = a.openReader(ctx)
	}
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	return cliError(fn(uc.WithPrincipal(ctx, cliPrincipal()), uc.New(uc.FromRepo(r)), r))
}

// cliPrincipal is the person at the terminal: the operating system user,
// who is also the supervision principal of that name (supervision.principals).
func cliPrincipal() uc.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return uc.Principal{Actor: "cli:" + name, User: name, Via: "cli"}
}

// cliError maps the use cases' errors to exit codes once: what the user
// must change (a parameter, an unknown object, a state that refuses the
// action, a policy that does not validate) is a usage error, exit 2;
// anything else is a failure, exit 1.
func cliError(err error) error {
	if err == nil {
		return nil
	}
	var (
		inv *uc.InvalidError
		se  *uc.SearchError
		pe  *uc.PolicyError
		re  *uc.RetentionError
		ce  *uc.ConflictError
		le  *archive.LimitError
	)
	if errors.As(err, &inv) && inv.Code == "bad_parameter" && inv.Field != "id" {
		// A request parameter is a flag here: name it as the user typed it.
		return &exitError{code: exitUsage, err: fmt.Errorf("--%s: %s", strings.ReplaceAll(inv.Field, "_", "-"), inv.Reason)}
	}
	switch {
	case errors.As(err, &inv), errors.As(err, &se), errors.As(err, &pe), errors.As(err, &re), errors.As(err, &ce), errors.As(err, &le),
		errors.Is(err, uc.ErrNotFound):
		return &exitError{code: exitUsage, err: err}
	}
	return err
}
