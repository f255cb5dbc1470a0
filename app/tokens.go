package app

import (
	"context"

	"github.com/wxarchive/wxarchive/auth"
)

// API token administration: auth.PermUsers of a principal with an
// identity; token.created and token.revoked journaled (never the secret).

// TokenCreated is a new token: its secret, shown this once and stored
// only as a hash, and what it is.
type TokenCreated struct {
	Secret string         `json:"secret"`
	Token  auth.TokenInfo `json:"token"`
}

// CreateToken issues an API token.
func (a *App) CreateToken(ctx context.Context, nt auth.NewToken) (*TokenCreated, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	secret, ti, err := s.CreateToken(ctx, p.Actor, nt)
	if err != nil {
		return nil, authErr("token", err)
	}
	return &TokenCreated{Secret: secret, Token: *ti}, nil
}

// Tokens lists the tokens of owner ("": every owner's).
func (a *App) Tokens(ctx context.Context, owner string) ([]auth.TokenInfo, error) {
	_, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.Tokens(ctx, owner)
	return t, authErr("tokens", err)
}

// RevokeToken stops a token at its next use.
func (a *App) RevokeToken(ctx context.Context, id string) (*auth.TokenInfo, error) {
	p, s, err := a.adminPrincipal(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.RevokeToken(ctx, p.Actor, id)
	return t, authErr("token "+id, err)
}
