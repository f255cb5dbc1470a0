package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpx"
	"github.com/wxarchive/wxarchive/policy"
)

// The policy pages join the page list and the navigation here, beside
// their handlers.
func init() {
	pageNames = append(pageNames, "policies", "policy", "policy_edit")
	nav = append(nav, navItem{Href: "/policies", Key: "nav.policies", Need: auth.PermPolicyRead})
}

// policiesPage is every policy's latest version.
type policiesPage struct {
	Policies []policyRow
	CanWrite bool
}

type policyRow struct {
	app.PolicyView
	Href, EditHref string
	Applied        timeView
}

// parseRFC3339 is an app timestamp as a time ("" or malformed: zero,
// which a page shows as nothing).
func parseRFC3339(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// policyHref is the page of a policy (version 0: the latest).
func policyHref(name string, version int) string {
	h := "/policies/" + url.PathEscape(name)
	if version > 0 {
		h += "?version=" + strconv.Itoa(version)
	}
	return h
}

// can says whether the request's principal holds perm.
func can(r *http.Request, perm auth.Permission) bool {
	p, ok := app.PrincipalFrom(r.Context())
	return ok && p.Identity != nil && p.Identity.Can(perm)
}

// Policies: GET /policies[?new=NAME], app.Policies; new= opens the
// editor of a policy not yet applied.
func (u *UI) Policies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "new"); err != nil {
		return err
	}
	if q.Has("new") {
		name := strings.TrimSpace(q.Get("new"))
		if name == "" || strings.ContainsAny(name, "/?#") {
			return httpx.BadParam("new: want a policy name, not %q", name)
		}
		http.Redirect(w, r, "/policies/"+url.PathEscape(name)+"/edit", http.StatusSeeOther)
		return nil
	}
	ps, err := u.opts.App.Policies(r.Context())
	if err != nil {
		return err
	}
	pp := &policiesPage{CanWrite: can(r, auth.PermPolicyWrite) || can(r, auth.PermBacktest)}
	v := u.newView(r, "policies.title", pp)
	for _, p := range ps.Policies {
		pp.Policies = append(pp.Policies, policyRow{PolicyView: p, Href: policyHref(p.Policy, 0),
			EditHref: "/policies/" + url.PathEscape(p.Policy) + "/edit", Applied: v.Time(parseRFC3339(p.AppliedAt))})
	}
	return u.render(w, http.StatusOK, "policies", v)
}

// policyPage is a version of a policy, its file as applied and its
// history.
type policyPage struct {
	P          *app.PolicyDetail
	Applied    timeView
	Versions   []policyVersionRow
	EditHref   string
	LatestHref string
	CanEdit    bool
	Done       string // "applied" or "unchanged" after an apply
}

type policyVersionRow struct {
	app.PolicyVersionView
	Href    string
	At      timeView
	Current bool
}

// Policy: GET /policies/{name}[?version=N], app.Policy: the version with
// its YAML, SHA-256, who applied it and when, and every version.
func (u *UI) Policy(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "version", "done"); err != nil {
		return err
	}
	version := 0
	if q.Has("version") {
		n, err := httpx.Int("version", q.Get("version"), 1, 1<<30)
		if err != nil {
			return err
		}
		version = n
	}
	name := r.PathValue("name")
	d, err := u.opts.App.Policy(r.Context(), name, version)
	if err != nil {
		return err
	}
	pp := &policyPage{P: d, LatestHref: policyHref(name, 0), EditHref: "/policies/" + url.PathEscape(name) + "/edit", CanEdit: can(r, auth.PermPolicyWrite) || can(r, auth.PermBacktest)}
	switch done := q.Get("done"); done {
	case "", "applied", "unchanged":
		pp.Done = done
	}
	if version > 0 && version != d.Latest {
		pp.EditHref += "?version=" + strconv.Itoa(version)
	}
	v := u.newView(r, "", pp)
	v.Title = v.T("policy.title", d.Policy)
	pp.Applied = v.Time(parseRFC3339(d.AppliedAt))
	for i := len(d.Versions) - 1; i >= 0; i-- {
		pv := d.Versions[i]
		pp.Versions = append(pp.Versions, policyVersionRow{PolicyVersionView: pv, Href: policyHref(name, pv.Version),
			At: v.Time(parseRFC3339(pv.AppliedAt)), Current: pv.Version == d.Version})
	}
	return u.render(w, http.StatusOK, "policy", v)
}

// policyEditPage is the editor: the YAML in a textarea, and what the
// last button found (validation problems by line, a backtest, a refused
// apply).
type policyEditPage struct {
	Name        string
	Source      string
	Exists      bool
	Base        int // the version the source came from (0: a new policy)
	CanBacktest bool
	CanApply    bool
	From, To    string // the backtest's period
	ApplyAction string
	PolicyHref  string
	// What ran: "validate", "backtest" or "apply" ("" on the first
	// showing).
	Ran      string
	Problems []policy.Problem
	ErrField string
	Err      string
	Valid    *validView
	Backtest *backtestView
}

type validView struct {
	Policy string
	Rules  int
}

type backtestView struct {
	*policy.Backtest
	Rules   []backtestRule
	Samples []backtestSample
}

type backtestRule struct {
	policy.RuleBacktest
	Precision string // "" when no hit has been dispositioned
}

type backtestSample struct {
	Href string
	policy.BacktestMatch
	Text []segment
}

// starterPolicy is the YAML a new policy's editor starts from.
func starterPolicy(name string) string {
	return "policy: " + name + "\ndescription: \nscope:\n  directions: [outbound]\nrules:\n  - id: rule-1\n    lexicon: [\"保证收益\", '\"guaranteed return\"']\n"
}

func (u *UI) editPage(r *http.Request, name string) *policyEditPage {
	return &policyEditPage{Name: name, CanBacktest: can(r, auth.PermBacktest), CanApply: can(r, auth.PermPolicyWrite),
		ApplyAction: "/policies/" + url.PathEscape(name) + "/apply", PolicyHref: policyHref(name, 0)}
}

func (u *UI) renderEdit(w http.ResponseWriter, r *http.Request, status int, ep *policyEditPage) error {
	v := u.newView(r, "", ep)
	v.Title = v.T("policy_edit.title", ep.Name)
	return u.render(w, status, "policy_edit", v)
}

// PolicyEdit: GET /policies/{name}/edit[?version=N], the editor over a
// version's YAML (default the latest), or over a starter file for a
// policy not yet applied.
func (u *UI) PolicyEdit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckParams(q, "version"); err != nil {
		return err
	}
	version := 0
	if q.Has("version") {
		n, err := httpx.Int("version", q.Get("version"), 1, 1<<30)
		if err != nil {
			return err
		}
		version = n
	}
	name := r.PathValue("name")
	ep := u.editPage(r, name)
	d, err := u.opts.App.Policy(r.Context(), name, version)
	switch {
	case err == nil:
		ep.Source, ep.Exists, ep.Base = d.Source, true, d.Version
	case errors.Is(err, app.ErrNotFound) && version == 0:
		ep.Source = starterPolicy(name)
	default:
		return err
	}
	return u.renderEdit(w, r, http.StatusOK, ep)
}

// editForm reads the editor's form: the YAML and the backtest period.
func (u *UI) editForm(r *http.Request, name string) (*policyEditPage, error) {
	// The edge bounded the body and checked the form's CSRF token.
	if err := r.ParseForm(); err != nil {
		return nil, httpx.Errorf(http.StatusBadRequest, "bad_form", "the policy form cannot be read: %v", err)
	}
	f := r.PostForm
	for field := range f {
		switch field {
		case "name", "source", "base", "from", "to", CSRFField:
		default:
			return nil, httpx.BadParam("%s: unknown field (expected name, source, base, from, to)", field)
		}
	}
	if name == "" {
		name = strings.TrimSpace(f.Get("name"))
	}
	ep := u.editPage(r, name)
	// Browsers send a textarea's line breaks as CRLF.
	ep.Source = strings.ReplaceAll(f.Get("source"), "\r\n", "\n")
	ep.From, ep.To = f.Get("from"), f.Get("to")
	if b, err := strconv.Atoi(f.Get("base")); err == nil && b > 0 {
		ep.Base, ep.Exists = b, true
	}
	if ep.Name == "" {
		if p, err := policy.Parse("", []byte(ep.Source)); err == nil {
			ep.Name = p.Name
			ep.ApplyAction, ep.PolicyHref = "/policies/"+url.PathEscape(p.Name)+"/apply", policyHref(p.Name, 0)
		}
	}
	return ep, nil
}

// fileName names the draft in problems.
func (ep *policyEditPage) fileName() string {
	if ep.Name == "" {
		return "policy.yaml"
	}
	return ep.Name + ".yaml"
}

// refused shows a refusal of the draft on the editor: every problem of
// a file that does not validate, with its line, or the field at fault.
// Other errors are the caller's.
func (u *UI) refused(w http.ResponseWriter, r *http.Request, ep *policyEditPage, err error) error {
	var pe *app.PolicyError
	var ie *app.InvalidError
	switch {
	case errors.As(err, &pe):
		ep.Problems = slices.Clone(pe.Problems)
		slices.SortStableFunc(ep.Problems, func(a, b policy.Problem) int { return a.Line - b.Line })
	case errors.As(err, &ie):
		ep.ErrField, ep.Err = ie.Field, ie.Reason
	default:
		return err
	}
	return u.renderEdit(w, r, http.StatusUnprocessableEntity, ep)
}

// PolicyValidate: POST /policies/validate (name, source), app.ParsePolicy
// — `wxarchive policy validate` — with every problem shown by line.
// Nothing is written.
func (u *UI) PolicyValidate(w http.ResponseWriter, r *http.Request) error {
	ep, err := u.editForm(r, "")
	if err != nil {
		return err
	}
	ep.Ran = "validate"
	p, err := app.ParsePolicy(ep.fileName(), []byte(ep.Source))
	if err != nil {
		return u.refused(w, r, ep, err)
	}
	ep.Valid = &validView{Policy: p.Name, Rules: len(p.Rules)}
	return u.renderEdit(w, r, http.StatusOK, ep)
}

// PolicyBacktest: POST /policies/backtest (name, source, from, to),
// app.Backtest — the draft run over the archive without raising
// anything: hits and precision per rule, and samples (journaled there
// as an access).
func (u *UI) PolicyBacktest(w http.ResponseWriter, r *http.Request) error {
	ep, err := u.editForm(r, "")
	if err != nil {
		return err
	}
	ep.Ran = "backtest"
	bt, err := u.opts.App.Backtest(r.Context(), app.BacktestRequest{File: ep.fileName(), Data: []byte(ep.Source),
		Period: app.Range{From: ep.From, To: ep.To}, Samples: app.DefaultSamples})
	if err != nil {
		return u.refused(w, r, ep, err)
	}
	bv := &backtestView{Backtest: bt}
	for _, rb := range bt.Rules {
		row := backtestRule{RuleBacktest: rb}
		if rb.Precision != nil {
			row.Precision = fmt.Sprintf("%.0f%%", *rb.Precision*100)
		}
		bv.Rules = append(bv.Rules, row)
	}
	for _, m := range bt.Samples {
		bv.Samples = append(bv.Samples, backtestSample{Href: "/messages/" + strconv.FormatUint(m.Serial, 10), BacktestMatch: m,
			Text: segments(m.Text, m.Spans)})
	}
	ep.Backtest = bv
	return u.renderEdit(w, r, http.StatusOK, ep)
}

// PolicyApply: POST /policies/{name}/apply (source), app.ApplyPolicy —
// `wxarchive policy apply`, journaled there with its author — then to
// the policy's page at the version applied. A file that does not
// validate, or names another policy, is shown on the editor and nothing
// is written.
func (u *UI) PolicyApply(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	ep, err := u.editForm(r, name)
	if err != nil {
		return err
	}
	ep.Ran = "apply"
	res, err := u.opts.App.ApplyPolicy(r.Context(), name, ep.fileName(), []byte(ep.Source))
	if err != nil {
		return u.refused(w, r, ep, err)
	}
	done := "unchanged"
	if res.Changed {
		done = "applied"
	}
	u.opts.Logger.Info("policy applied", "policy", res.Policy, "version", res.Version, "changed", res.Changed, "via", "web")
	http.Redirect(w, r, policyHref(res.Policy, res.Version)+"&done="+done, http.StatusSeeOther)
	return nil
}
