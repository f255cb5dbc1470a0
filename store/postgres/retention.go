package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

const retentionCols = `version, jidx, time, actor, name, sha256, source, overrides`

func scanRetention(r scanner) (store.RetentionRow, error) {
	var rr store.RetentionRow
	var version, jidx, t int64
	var h []byte
	var ov string
	if err := r.Scan(&version, &jidx, &t, &rr.Actor, &rr.Name, &h, &rr.Source, &ov); err != nil {
		return rr, err
	}
	rr.Version, rr.JournalIndex, rr.Time = int(version), uint64(jidx), archive.MillisTime(t)
	copy(rr.SHA256[:], h)
	if err := json.Unmarshal([]byte(ov), &rr.Overrides); err != nil {
		return rr, fmt.Errorf("retention_sets version %d: overrides: %w", rr.Version, err)
	}
	return rr, nil
}

// RetentionVersions returns every version of the retention rule set,
// oldest first.
func (s *Store) RetentionVersions(ctx context.Context) ([]store.RetentionRow, error) {
	return collect(ctx, s, scanRetention, `SELECT `+retentionCols+` FROM retention_sets ORDER BY version`)
}

// RetentionCoverage counts messages by rule and below each cutoff.
func (s *Store) RetentionCoverage(ctx context.Context, cutoffs []archive.Time) (store.RetentionCoverage, error) {
	var out store.RetentionCoverage
	rules, err := collect(ctx, s, func(r scanner) (store.RuleCount, error) {
		var rc store.RuleCount
		var version, lo, hi int64
		err := r.Scan(&rc.Rule, &version, &rc.Messages, &lo, &hi)
		rc.Version, rc.Earliest, rc.Latest = int(version), archive.MillisTime(lo), archive.MillisTime(hi)
		return rc, err
	}, `SELECT retention_rule, retention_version, count(*), min(retain_until), max(retain_until)
		FROM messages GROUP BY retention_version, retention_rule ORDER BY retention_version, retention_rule`)
	if err != nil {
		return out, err
	}
	out.Rules = rules
	for _, c := range cutoffs {
		var n int64
		if err := s.q.QueryRow(ctx, `SELECT count(*) FROM messages WHERE retain_until <= $1`, c.Millis()).Scan(&n); err != nil {
			return out, err
		}
		out.Eligible = append(out.Eligible, n)
	}
	return out, nil
}

// LatestRetentionVersion is the latest version of the rule set and the
// journal index of its event (0, 0: none).
func (t *Tx) LatestRetentionVersion(ctx context.Context) (int, uint64, error) {
	var v, j int64
	err := t.tx.QueryRow(ctx, `SELECT version, jidx FROM retention_sets ORDER BY version DESC LIMIT 1`).Scan(&v, &j)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil
	}
	return int(v), uint64(j), err
}

// RetentionVersion returns one version of the rule set, as the
// transaction sees it.
func (t *Tx) RetentionVersion(ctx context.Context, version int) (store.RetentionRow, error) {
	r, err := scanRetention(t.tx.QueryRow(ctx, `SELECT `+retentionCols+` FROM retention_sets WHERE version = $1`, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("retention rule set version %d: %w", version, store.ErrNotFound)
	}
	return r, err
}

// IndexRetentionExtended records a retention.extended event: each group's
// messages in one statement, only ever extending.
func (t *Tx) IndexRetentionExtended(ctx context.Context, e archive.RetentionExtendedEvent) error {
	for _, g := range e.Groups {
		serials := make([]int64, len(g.Serials))
		for i, s := range g.Serials {
			serials[i] = int64(s)
		}
		if err := t.exec(ctx, "extend retention", `UPDATE messages SET retain_until = $1, retention_rule = $2, retention_version = $3
			WHERE serial = ANY($4) AND retain_until < $1`, g.RetainUntil.Millis(), g.Rule, e.Version, serials); err != nil {
			return err
		}
	}
	return nil
}

// IndexRetention records a retention.applied event.
func (t *Tx) IndexRetention(ctx context.Context, r store.RetentionRow) error {
	ov := r.Overrides
	if ov == nil {
		ov = []archive.RetentionOverride{}
	}
	b, err := json.Marshal(ov)
	if err != nil {
		return err
	}
	return t.exec(ctx, "index retention rule set", `INSERT INTO retention_sets (`+retentionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Version, int64(r.JournalIndex), r.Time.Millis(), r.Actor, r.Name, r.SHA256[:], r.Source, string(b))
}
