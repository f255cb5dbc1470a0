package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/policy"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/supervise"
)

// Backtest samples.
const (
	DefaultSamples     = 20
	MaxBacktestSamples = 1000
)

// PolicyView is one version of a policy.
type PolicyView struct {
	Policy       string   `json:"policy"`
	Version      int      `json:"version"`
	Enabled      bool     `json:"enabled"`
	Rules        int      `json:"rules"`
	AppliedBy    string   `json:"applied_by"`
	AppliedAt    string   `json:"applied_at"`
	SHA256       string   `json:"sha256"`
	JournalIndex uint64   `json:"journal_index"`
	Description  string   `json:"description,omitempty"`
	RuleIDs      []string `json:"rule_ids"`
	// Invalid says why a stored version no longer validates (a later
	// release may be stricter): it is still shown, since it is evidence of
	// what was applied.
	Invalid string `json:"invalid,omitempty"`
}

func (a *App) describePolicy(row store.PolicyRow, p *policy.Policy) PolicyView {
	out := PolicyView{Policy: row.Policy, Version: row.Version, AppliedBy: row.Actor, AppliedAt: a.rfc3339(row.Time),
		SHA256: row.SHA256.String(), JournalIndex: row.JournalIndex, RuleIDs: []string{}}
	if p == nil {
		var err error
		if p, err = policy.Parse("", []byte(row.Source)); err != nil {
			out.Invalid = err.Error()
			return out
		}
	}
	out.Enabled, out.Rules, out.Description = p.IsEnabled(), len(p.Rules), strings.TrimSpace(p.Description)
	for _, r := range p.Rules {
		out.RuleIDs = append(out.RuleIDs, r.ID)
	}
	return out
}

// PoliciesView is every policy's latest version.
type PoliciesView struct {
	Policies []PolicyView `json:"policies"`
}

// Policies lists every policy's latest version.
func (a *App) Policies(ctx context.Context) (*PoliciesView, error) {
	pols, rows, err := supervise.Policies(ctx, a.d.Store)
	if err != nil {
		return nil, err
	}
	out := &PoliciesView{Policies: []PolicyView{}}
	for i, p := range pols {
		out.Policies = append(out.Policies, a.describePolicy(rows[i], p))
	}
	return out, nil
}

// PolicyVersionView is one entry of a policy's history.
type PolicyVersionView struct {
	Version      int    `json:"version"`
	SHA256       string `json:"sha256"`
	AppliedBy    string `json:"applied_by"`
	AppliedAt    string `json:"applied_at"`
	JournalIndex uint64 `json:"journal_index"`
}

// PolicyDetail is a version of a policy with its file as applied and the
// history of versions.
type PolicyDetail struct {
	PolicyView
	Latest   int                 `json:"latest_version"`
	Source   string              `json:"source"`
	Versions []PolicyVersionView `json:"versions"`
}

// Policy shows a version of a policy (0: the latest).
func (a *App) Policy(ctx context.Context, name string, version int) (*PolicyDetail, error) {
	if version < 0 {
		return nil, badParam("version", "want a version number from 1, not %d", version)
	}
	versions, err := a.d.Store.PolicyVersions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("no policy %q: %w", name, ErrNotFound)
	}
	latest := versions[len(versions)-1]
	row := latest
	if version > 0 {
		i := slices.IndexFunc(versions, func(r store.PolicyRow) bool { return r.Version == version })
		if i < 0 {
			return nil, fmt.Errorf("policy %q has no version %d (it has versions 1 to %d): %w", name, version, latest.Version, ErrNotFound)
		}
		row = versions[i]
	}
	out := &PolicyDetail{PolicyView: a.describePolicy(row, nil), Latest: latest.Version, Source: row.Source, Versions: []PolicyVersionView{}}
	for _, v := range versions {
		out.Versions = append(out.Versions, PolicyVersionView{v.Version, v.SHA256.String(), v.Actor, a.rfc3339(v.Time), v.JournalIndex})
	}
	return out, nil
}

// PolicyError is a policy file that does not validate: every problem with
// its line (a surface shows them all: HTTP 422, CLI exit 2).
type PolicyError struct{ *policy.ParseError }

func (e *PolicyError) Unwrap() error { return e.ParseError }

// ParsePolicy validates a policy file (file names it in messages).
func ParsePolicy(file string, data []byte) (*policy.Policy, error) {
	p, err := policy.Parse(file, data)
	var pe *policy.ParseError
	if errors.As(err, &pe) {
		return nil, &PolicyError{pe}
	}
	return p, err
}

// ApplyResult is a policy file applied.
type ApplyResult struct {
	Policy  string `json:"policy"`
	Version int    `json:"version"`
	Changed bool   `json:"changed"` // false: the bytes are the latest version's, nothing was journaled
}

// ApplyPolicy journals a policy file as the next version of its policy,
// by the principal. name, when not empty, is the policy the caller means:
// a file naming another is refused (the name in the file is what alerts
// cite).
func (a *App) ApplyPolicy(ctx context.Context, name, file string, data []byte) (*ApplyResult, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(file, data)
	if err != nil {
		return nil, err
	}
	if name != "" && p.Name != name {
		return nil, &InvalidError{Field: "policy", Reason: fmt.Sprintf("the file names policy %q, the request %q", p.Name, name), Code: "name_mismatch"}
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	v, changed, err := supervise.Apply(ctx, w, a.d.Store, file, data, pr.Actor)
	if err != nil {
		return nil, unavailable(err)
	}
	return &ApplyResult{Policy: p.Name, Version: v, Changed: changed}, nil
}

// BacktestRequest is a draft policy to run over archived messages.
type BacktestRequest struct {
	File    string // names the draft in messages
	Data    []byte
	Period  Range // default: everything up to a year from now
	Samples int   // matches to show, 0 to MaxBacktestSamples
}

// Backtest runs a draft policy over the messages of a period without
// raising anything: hits, reviewers' dispositions and precision per rule,
// and samples. The samples' texts are content, so showing them is
// journaled as an access.
func (a *App) Backtest(ctx context.Context, r BacktestRequest) (*policy.Backtest, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Samples < 0 || r.Samples > MaxBacktestSamples {
		return nil, badParam("samples", "want a number from 0 to %d, not %d", MaxBacktestSamples, r.Samples)
	}
	from, to, err := a.period(r.Period, time.Unix(0, 0), a.d.Now().AddDate(1, 0, 0))
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(r.File, r.Data)
	if err != nil {
		return nil, err
	}
	if r.Samples > 0 {
		// Refused before the run, not after: a read-only archive cannot
		// account for the samples it would show.
		if _, err := a.writer(); err != nil {
			return nil, err
		}
	}
	bt, err := policy.RunBacktest(ctx, p, a.d.Store, a.d.Records, from, to, r.Samples)
	if err != nil {
		return nil, err
	}
	if len(bt.Samples) > 0 {
		var serials []uint64
		for _, m := range bt.Samples {
			if !slices.Contains(serials, m.Serial) {
				serials = append(serials, m.Serial)
			}
		}
		if err := a.journalAccess(ctx, pr, accessOf("backtest:"+p.Name, serials)); err != nil {
			return nil, err
		}
	}
	return bt, nil
}
