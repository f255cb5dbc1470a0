package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/retention"
	"github.com/wxarchive/wxarchive/store"
)

// RetentionError is a retention rule set that does not validate: every
// problem with its line (a surface shows them all: HTTP 422, CLI exit 2).
type RetentionError struct{ *retention.ParseError }

func (e *RetentionError) Unwrap() error { return e.ParseError }

// ParseRetention validates a rule-set file (file names it in messages).
func ParseRetention(file string, data []byte) (*retention.Set, error) {
	s, err := retention.Parse(file, data)
	var pe *retention.ParseError
	if errors.As(err, &pe) {
		return nil, &RetentionError{pe}
	}
	return s, err
}

// RetentionRuleView is one rule of a set.
type RetentionRuleView struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Match       string `json:"match"`  // what it matches, in words ("everything" when empty)
	Period      string `json:"period"` // "6y", "400d"
	// Effective is what the period becomes: the floor for a period below
	// it without an override.
	Effective string `json:"effective"`
	Override  string `json:"override,omitempty"` // the reason a period stands below the floor
	Line      int    `json:"line"`
}

// RetentionSetView is a rule set, as a person reads it.
type RetentionSetView struct {
	Name          string              `json:"name"`
	Description   string              `json:"description,omitempty"`
	Default       string              `json:"default"` // period of a message no rule matches
	FloorYears    int                 `json:"floor_years"`
	Jurisdictions map[string]string   `json:"jurisdictions"` // tag → what it matches
	Rules         []RetentionRuleView `json:"rules"`
	SHA256        string              `json:"sha256"`
}

func (a *App) describeRetention(s *retention.Set) RetentionSetView {
	out := RetentionSetView{Name: s.Name, Description: strings.TrimSpace(s.Description), FloorYears: retention.FloorYears,
		Jurisdictions: map[string]string{}, Rules: []RetentionRuleView{}, SHA256: s.SHA256.String()}
	if s.Default != nil {
		out.Default = s.Default.String()
	} else {
		out.Default = fmt.Sprintf("%dy (the archive's retention_years)", a.defaultYears())
	}
	for _, j := range s.Jurisdictions {
		out.Jurisdictions[j.Tag] = describeMatch(j.Match)
	}
	for _, r := range s.Rules {
		v := RetentionRuleView{Name: r.Name, Description: strings.TrimSpace(r.Description), Match: describeMatch(r.Match),
			Period: r.Period.String(), Effective: r.Period.String(), Line: r.Line}
		switch {
		case r.Override != nil:
			v.Override = r.Override.Reason
		case r.Period.Years > 0 && r.Period.Years < retention.FloorYears,
			r.Period.Days > 0 && r.Period.Days <= retention.FloorYears*365:
			v.Effective = fmt.Sprintf("%dy (the floor)", retention.FloorYears)
		}
		out.Rules = append(out.Rules, v)
	}
	return out
}

func describeMatch(m retention.Match) string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, name+" "+strings.Join(vals, ", "))
		}
	}
	add("source", m.Sources)
	add("conversation", m.Conversations)
	add("conversation kind", strs(m.ConversationKinds))
	add("department", m.Departments)
	add("participant", m.Participants)
	add("kind", strs(m.Kinds))
	add("jurisdiction", m.Jurisdictions)
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, "; ")
}

func strs[S ~string](list []S) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

func (a *App) defaultYears() int {
	if a.d.Config != nil && a.d.Config.RetentionYears > 0 {
		return a.d.Config.RetentionYears
	}
	return ingest.DefaultRetentionYears
}

// CheckRetention validates a rule-set file and describes it; it reads and
// writes nothing of the archive.
func (a *App) CheckRetention(file string, data []byte) (*RetentionSetView, error) {
	s, err := ParseRetention(file, data)
	if err != nil {
		return nil, err
	}
	v := a.describeRetention(s)
	return &v, nil
}

// RetentionVersionView is one entry of the rule set's history.
type RetentionVersionView struct {
	Version      int                         `json:"version"`
	Name         string                      `json:"name"`
	SHA256       string                      `json:"sha256"`
	AppliedBy    string                      `json:"applied_by"`
	AppliedAt    string                      `json:"applied_at"`
	JournalIndex uint64                      `json:"journal_index"`
	Overrides    []archive.RetentionOverride `json:"overrides"`
}

func (a *App) retentionVersion(r store.RetentionRow) RetentionVersionView {
	ov := r.Overrides
	if ov == nil {
		ov = []archive.RetentionOverride{}
	}
	return RetentionVersionView{Version: r.Version, Name: r.Name, SHA256: r.SHA256.String(), AppliedBy: r.Actor,
		AppliedAt: a.rfc3339(r.Time), JournalIndex: r.JournalIndex, Overrides: ov}
}

// RetentionDetail is a version of the rule set with its file as applied
// and the history of versions.
type RetentionDetail struct {
	RetentionVersionView
	Latest int               `json:"latest_version"`
	Source string            `json:"source"`
	Set    *RetentionSetView `json:"set,omitempty"`
	// Invalid says why a stored version no longer validates (a later
	// release may be stricter): it is still shown, since it is evidence
	// of what was applied.
	Invalid  string                 `json:"invalid,omitempty"`
	Versions []RetentionVersionView `json:"versions"`
}

// Retention shows a version of the rule set (0: the latest). With none
// applied the answer matches ErrNotFound: the archive keeps every record
// its retention_years.
func (a *App) Retention(ctx context.Context, version int) (*RetentionDetail, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermPolicyRead); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, badParam("version", "want a version number from 1, not %d", version)
	}
	versions, err := a.d.Store.RetentionVersions(ctx)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("no retention rule set has been applied (every record is kept %d years from its capture): %w", a.defaultYears(), ErrNotFound)
	}
	latest := versions[len(versions)-1]
	row := latest
	if version > 0 {
		i := slices.IndexFunc(versions, func(r store.RetentionRow) bool { return r.Version == version })
		if i < 0 {
			return nil, fmt.Errorf("the retention rule set has no version %d (it has versions 1 to %d): %w", version, latest.Version, ErrNotFound)
		}
		row = versions[i]
	}
	out := &RetentionDetail{RetentionVersionView: a.retentionVersion(row), Latest: latest.Version, Source: row.Source, Versions: []RetentionVersionView{}}
	if s, err := retention.Parse("", []byte(row.Source)); err != nil {
		out.Invalid = err.Error()
	} else {
		v := a.describeRetention(s)
		out.Set = &v
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, a.retentionVersion(v))
	}
	return out, nil
}

// RetentionApplyResult is a rule-set file applied.
type RetentionApplyResult struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Changed is false when the bytes are the latest version's: nothing
	// was journaled.
	Changed   bool                        `json:"changed"`
	Overrides []archive.RetentionOverride `json:"overrides"`
	// Recompute is what the new version did to records already archived
	// (nil when nothing changed).
	Recompute *retention.RecomputeResult `json:"recompute,omitempty"`
}

// ApplyRetention journals a rule-set file as the next version of the
// archive's rule set, by the principal, who needs PermRetention (an
// administrator or a supervising principal). Records archived from then
// on take their retain-until from it.
func (a *App) ApplyRetention(ctx context.Context, file string, data []byte) (*RetentionApplyResult, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermRetention); err != nil {
		return nil, err
	}
	s, err := ParseRetention(file, data)
	if err != nil {
		return nil, err
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	ov := []archive.RetentionOverride{}
	for _, o := range s.Overrides() {
		ov = append(ov, archive.RetentionOverride{Rule: o.Rule, Period: o.Period, Reason: o.Reason})
	}
	out := &RetentionApplyResult{Name: s.Name, Overrides: ov}
	// Versions are numbered from what was read; the append commits only if
	// that is still the latest, so two writers applying at once cannot
	// both take one number. The loser reads again and takes the next.
	for attempt := 0; ; attempt++ {
		versions, err := a.d.Store.RetentionVersions(ctx)
		if err != nil {
			return nil, err
		}
		latest := 0
		if n := len(versions); n > 0 {
			latest = versions[n-1].Version
			if versions[n-1].SHA256 == s.SHA256 {
				out.Version = latest
				return out, nil
			}
		}
		ev, err := journal.NewEvent(archive.EventRetentionApplied, pr.Actor, archive.Time{}, []string{"retention:" + s.Name},
			&archive.RetentionEvent{Name: s.Name, Version: latest + 1, SHA256: s.SHA256, Source: string(data), Overrides: ov})
		if err != nil {
			return nil, err
		}
		_, err = w.AppendIf(ctx, func(ctx context.Context, tx store.Tx) error {
			v, _, err := tx.LatestRetentionVersion(ctx)
			if err != nil {
				return err
			}
			if v != latest {
				return &ingest.ConflictError{Reason: fmt.Sprintf("the retention rule set is at version %d, not %d", v, latest)}
			}
			return nil
		}, ev)
		var ce *ingest.ConflictError
		if errors.As(err, &ce) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, unavailable(err)
		}
		out.Version, out.Changed = latest+1, true
		if out.Recompute, err = a.recompute(ctx, pr, s, out.Version); err != nil {
			return out, fmt.Errorf("version %d applied; extending the records already archived failed (run wxarchive retention recompute): %w", out.Version, err)
		}
		return out, nil
	}
}

// RecomputeRetention re-evaluates every archived message under the rule
// set in force: later dates are applied (blobs extended, one
// retention.extended event per batch), earlier ones reported and left.
// It is what apply does after journaling a version; run again, it picks
// up messages that were still unsealed then, and does nothing else.
func (a *App) RecomputeRetention(ctx context.Context) (*retention.RecomputeResult, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermRetention); err != nil {
		return nil, err
	}
	if _, err := a.writer(); err != nil {
		return nil, err
	}
	s, v, err := a.retentionInForce(ctx)
	if err != nil {
		return nil, err
	}
	return a.recompute(ctx, pr, s, v)
}

// retentionInForce is the latest version of the rule set, parsed.
func (a *App) retentionInForce(ctx context.Context) (*retention.Set, int, error) {
	versions, err := a.d.Store.RetentionVersions(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(versions) == 0 {
		return nil, 0, fmt.Errorf("no retention rule set has been applied: %w", ErrNotFound)
	}
	row := versions[len(versions)-1]
	s, err := retention.Parse(fmt.Sprintf("retention version %d", row.Version), []byte(row.Source))
	if err != nil {
		return nil, 0, &ConflictError{Object: fmt.Sprintf("retention:%d", row.Version), Reason: "the rule set in force no longer validates: " + err.Error()}
	}
	return s, row.Version, nil
}

// sealer is the writer's sealing, when it has one (ingest.Engine): a
// recompute seals first so that the records it extends are in packs.
type sealer interface {
	Seal(ctx context.Context, force bool) (ingest.SealStats, error)
}

func (a *App) recompute(ctx context.Context, pr Principal, s *retention.Set, v int) (*retention.RecomputeResult, error) {
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	if sl, ok := w.(sealer); ok {
		if _, err := sl.Seal(ctx, true); err != nil {
			return nil, fmt.Errorf("seal pending records: %w", unavailable(err))
		}
	}
	rc := &retention.Recompute{Store: a.d.Store, Blobs: a.d.Blobs, Writer: w, Actor: pr.Actor, DefaultYears: a.defaultYears(), Department: a.department(ctx)}
	if a.d.Blobs == nil {
		rc.Writer = nil // no blob store to extend: plan only
	}
	res, err := rc.Run(ctx, s, v)
	return res, unavailable(err)
}

// department is the directory's department of an employee at a time.
func (a *App) department(ctx context.Context) func(id string, at time.Time) (string, bool) {
	return func(id string, at time.Time) (string, bool) {
		p, ok, err := a.d.Store.Directory(ctx, id, archive.At(at))
		return p.Department, ok && err == nil
	}
}

// ReportHorizons are the periods the retention report counts what
// becomes eligible in, in days.
var ReportHorizons = []int{30, 90, 365}

// RetentionRuleCount is how many messages a rule decided.
type RetentionRuleCount struct {
	Rule     string `json:"rule"`    // "retention_years" when no rule set decided
	Version  int    `json:"version"` // 0 with "retention_years"
	Messages int64  `json:"messages"`
	Earliest string `json:"earliest_retain_until"`
	Latest   string `json:"latest_retain_until"`
}

// RetentionEligibility is how many messages' retain-until has passed by a
// horizon.
type RetentionEligibility struct {
	Days     int    `json:"days"` // 0: now
	Until    string `json:"until"`
	Messages int64  `json:"messages"`
}

// RetentionReport is coverage (messages per rule) and what becomes
// eligible for disposition — past retain-until; legal holds, which keep
// content beyond it, are not counted here — now and in the next 30, 90
// and 365 days.
type RetentionReport struct {
	Version  int                    `json:"version"` // the rule set in force (0: none)
	Rules    []RetentionRuleCount   `json:"rules"`
	Eligible []RetentionEligibility `json:"eligible"`
}

// RetentionReport counts messages by rule and by when they become
// eligible. It shows no content.
func (a *App) RetentionReport(ctx context.Context) (*RetentionReport, error) {
	pr, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(pr, auth.PermPolicyRead); err != nil {
		return nil, err
	}
	now := a.d.Now()
	cutoffs := []archive.Time{archive.At(now)}
	for _, d := range ReportHorizons {
		cutoffs = append(cutoffs, archive.At(now.AddDate(0, 0, d)))
	}
	cov, err := a.d.Store.RetentionCoverage(ctx, cutoffs)
	if err != nil {
		return nil, err
	}
	out := &RetentionReport{Rules: []RetentionRuleCount{}, Eligible: []RetentionEligibility{}}
	if versions, err := a.d.Store.RetentionVersions(ctx); err != nil {
		return nil, err
	} else if len(versions) > 0 {
		out.Version = versions[len(versions)-1].Version
	}
	for _, r := range cov.Rules {
		rule := r.Rule
		if rule == "" {
			rule = "retention_years"
		}
		out.Rules = append(out.Rules, RetentionRuleCount{Rule: rule, Version: r.Version, Messages: r.Messages,
			Earliest: a.rfc3339(r.Earliest), Latest: a.rfc3339(r.Latest)})
	}
	for i, n := range cov.Eligible {
		days := 0
		if i > 0 {
			days = ReportHorizons[i-1]
		}
		out.Eligible = append(out.Eligible, RetentionEligibility{Days: days, Until: a.rfc3339(cutoffs[i]), Messages: n})
	}
	return out, nil
}
