package httpapi

import "github.com/wxarchive/wxarchive/auth"

// mountPages registers the web interface (package web) in the route
// table: every page declares its permission like an API route, so the
// authorization matrix and docs/SECURITY.md cover it.
func (s *Server) mountPages() {
	s.publicPage("GET /login", "the login page: a form, no archive data", s.ui.LoginPage)
	s.publicPage("POST /login", "the login itself: user, password and code are the credentials (throttled per user and address)", s.ui.Login)
	s.publicPage("GET /lang", "sets the display language cookie: a preference, no archive data", s.ui.SetLanguage)
	s.publicPage("GET /assets/{name}", "the embedded stylesheet, script and icon: no archive data", s.ui.Asset)
	s.publicPage("GET /favicon.ico", "the icon browsers ask for: no archive data", s.ui.Favicon)
	s.page("POST /logout", auth.PermSession, s.ui.Logout)
	s.page("GET /{$}", auth.PermSession, s.ui.Home)
	s.page("GET /search", auth.PermContent, s.ui.Search)
	s.page("GET /messages/{serial}", auth.PermContent, s.ui.Message)
	s.page("GET /conversations/{id}", auth.PermContent, s.ui.Conversation)
	s.page("GET /alerts", auth.PermAlertsRead, s.ui.Alerts)
	s.page("GET /alerts/{id}", auth.PermAlertsRead, s.ui.Alert)
	s.page("POST /alerts/actions", auth.PermReview, s.ui.Review)
	s.page("GET /reports/evidence", auth.PermEvidence, s.ui.Evidence)
	s.page("GET /audit", auth.PermAudit, s.ui.Audit)
	// Policies: each operation needs what its API route needs (validate
	// reads nothing but a draft: whoever may read policies).
	s.page("GET /policies", auth.PermPolicyRead, s.ui.Policies)
	s.page("GET /policies/{name}", auth.PermPolicyRead, s.ui.Policy)
	s.page("GET /policies/{name}/edit", auth.PermPolicyRead, s.ui.PolicyEdit)
	s.page("POST /policies/validate", auth.PermPolicyRead, s.ui.PolicyValidate)
	s.page("POST /policies/backtest", auth.PermBacktest, s.ui.PolicyBacktest)
	s.page("POST /policies/{name}/apply", auth.PermPolicyWrite, s.ui.PolicyApply)
	// Administration: the API's admin routes' permission; capture health
	// the API's.
	s.page("GET /admin/users", auth.PermUsers, s.ui.Users)
	s.page("POST /admin/users", auth.PermUsers, s.ui.AddUser)
	s.page("POST /admin/users/{name}/grant", auth.PermUsers, s.ui.SetGrant)
	s.page("POST /admin/users/{name}/disable", auth.PermUsers, s.ui.DisableUser)
	s.page("GET /admin/tokens", auth.PermUsers, s.ui.Tokens)
	s.page("POST /admin/tokens", auth.PermUsers, s.ui.CreateToken)
	s.page("POST /admin/tokens/{id}/revoke", auth.PermUsers, s.ui.RevokeToken)
	s.page("GET /admin/connectors", auth.PermHealth, s.ui.Connectors)
}
