package oidc_test

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wxarchive/wxarchive/auth/oidc"
)

// How the HTTP edge mounts the relying party: two unauthenticated routes,
// a generic answer for every refusal, the check and its reason for the log
// (and the journal, through app/), and the claims handed to the identity
// store's group → role mapping before a session starts.
func ExampleRP() {
	var cfg oidc.Config // the oidc section of wxarchive.yaml
	rp, err := oidc.New(cfg, oidc.Options{})
	if err != nil {
		slog.Error("oidc", "error", err) // names the field at fault
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/oidc/{issuer}/login", func(w http.ResponseWriter, r *http.Request) {
		err := rp.Begin(w, r, r.PathValue("issuer"), r.URL.Query().Get("return"))
		switch {
		case err == nil: // redirected to the provider
		case errors.Is(err, oidc.ErrUnknownIssuer), errors.Is(err, oidc.ErrReturnTo):
			http.Error(w, err.Error(), http.StatusBadRequest)
		default: // the provider cannot be reached
			slog.Warn("oidc sign-in could not start", "error", err)
			http.Error(w, "the identity provider is unavailable", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /auth/oidc/{issuer}/callback", func(w http.ResponseWriter, r *http.Request) {
		claims, err := rp.Complete(r)
		if err != nil {
			var le *oidc.LoginError
			if errors.As(err, &le) {
				slog.Warn("oidc sign-in refused", "issuer", le.Issuer, "check", le.Check, "reason", le.Reason)
			}
			status := http.StatusUnauthorized
			if errors.Is(err, oidc.ErrUnavailable) {
				status = http.StatusServiceUnavailable
			}
			http.Error(w, "sign-in failed", status) // the same answer whatever the check
			return
		}
		// identity := service.MapOIDC(ctx, claims) … StartSession … set the session cookie.
		http.Redirect(w, r, claims.ReturnTo, http.StatusSeeOther)
	})
	_ = mux
}
