package app

import (
	"context"
	"errors"
	"net/url"

	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/store"
)

// User administration (the CLI's `wxarchive user`, the API's users
// routes): each use case needs auth.PermUsers of a principal that carries
// an identity, and journals its change (auth.Service: one event per
// change, never a credential). The view is auth.UserInfo.

// authService returns the identity service, or why there is none.
func (a *App) authService() (*auth.Service, error) {
	if a.d.Auth == nil {
		return nil, ErrReadOnly
	}
	return a.d.Auth, nil
}

// adminPrincipal is the principal of a use case that needs PermUsers,
// with the service.
func (a *App) adminPrincipal(ctx context.Context) (Principal, *auth.Service, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return p, nil, err
	}
	if err := a.authorize(p, auth.PermUsers); err != nil {
		return p, nil, err
	}
	s, err := a.authService()
	return p, s, err
}

// authErr maps the identity service's errors to the use cases' own:
// a field at fault is an InvalidError, a name taken or a concurrent
// change a ConflictError; absent objects stay ErrNotFound.
func authErr(object string, err error) error {
	var fe *auth.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return &InvalidError{Field: fe.Field, Reason: fe.Reason}
	case errors.Is(err, store.ErrExists):
		return &ConflictError{Object: object, Reason: "already exists"}
	case errors.Is(err, auth.ErrConcurrent):
		return &ConflictError{Object: object, Reason: auth.ErrConcurrent.Error()}
	}
	return unavailable(err)
}

// AddUser creates a user (a local password, or none for single sign-on
// only).
func (a *App) AddUser(ctx context.Context, nu auth.NewUser) (*auth.UserInfo, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.AddUser(ctx, p.Actor, nu)
	return u, authErr("user "+nu.Name, err)
}

// Users lists every user.
func (a *App) Users(ctx context.Context) ([]auth.UserInfo, error) {
	_, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.Users(ctx)
	return u, authErr("users", err)
}

// SetUserGrant replaces a user's roles, departments, scope and expiry.
func (a *App) SetUserGrant(ctx context.Context, name string, g auth.Grant) (*auth.UserInfo, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.SetGrant(ctx, p.Actor, name, g)
	return u, authErr("user "+name, err)
}

// DisableUser stops a user: logins, sessions and tokens.
func (a *App) DisableUser(ctx context.Context, name string) (*auth.UserInfo, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.Disable(ctx, p.Actor, name)
	return u, authErr("user "+name, err)
}

// SetPassword sets a user's local password (their sessions end).
func (a *App) SetPassword(ctx context.Context, name, password string) (*auth.UserInfo, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.SetPassword(ctx, p.Actor, name, password)
	return u, authErr("user "+name, err)
}

// TOTPEnrolment is a new TOTP key, shown once.
type TOTPEnrolment struct {
	User string `json:"user"`
	// URI is the otpauth:// URI authenticator apps read (as a QR code or
	// typed); Secret the same key in base32.
	URI    string `json:"uri"`
	Secret string `json:"secret"`
}

// EnrolTOTP gives a user a new TOTP key.
func (a *App) EnrolTOTP(ctx context.Context, name string) (*TOTPEnrolment, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	_, uri, err := s.EnrolTOTP(ctx, p.Actor, name)
	if err != nil {
		return nil, authErr("user "+name, err)
	}
	return &TOTPEnrolment{User: name, URI: uri, Secret: secretOf(uri)}, nil
}

// secretOf is the secret parameter of an otpauth URI.
func secretOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Query().Get("secret")
}
