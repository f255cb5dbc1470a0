package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// RetentionVersions returns every version of the retention rule set,
// oldest first.
func (s *Store) RetentionVersions(ctx context.Context) ([]store.RetentionRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT version, jidx, time, actor, name, sha256, source, overrides FROM retention_sets ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RetentionRow
	for rows.Next() {
		var r store.RetentionRow
		var jidx, t int64
		var h []byte
		var ov string
		if err := rows.Scan(&r.Version, &jidx, &t, &r.Actor, &r.Name, &h, &r.Source, &ov); err != nil {
			return nil, err
		}
		r.JournalIndex, r.Time = uint64(jidx), archive.MillisTime(t)
		copy(r.SHA256[:], h)
		if err := json.Unmarshal([]byte(ov), &r.Overrides); err != nil {
			return nil, fmt.Errorf("retention_sets version %d: overrides: %w", r.Version, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RetentionCoverage counts messages by rule and below each cutoff.
func (s *Store) RetentionCoverage(ctx context.Context, cutoffs []archive.Time) (store.RetentionCoverage, error) {
	var out store.RetentionCoverage
	rows, err := s.rq.QueryContext(ctx, `SELECT retention_rule, retention_version, count(*), min(retain_until), max(retain_until)
		FROM messages GROUP BY retention_version, retention_rule ORDER BY retention_version, retention_rule`)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.RuleCount
		var lo, hi int64
		if err := rows.Scan(&r.Rule, &r.Version, &r.Messages, &lo, &hi); err != nil {
			return out, err
		}
		r.Earliest, r.Latest = archive.MillisTime(lo), archive.MillisTime(hi)
		out.Rules = append(out.Rules, r)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	for _, c := range cutoffs {
		var n int64
		if err := s.rq.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE retain_until <= ?`, c.Millis()).Scan(&n); err != nil {
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
	err := t.tx.QueryRowContext(ctx, `SELECT version, jidx FROM retention_sets ORDER BY version DESC LIMIT 1`).Scan(&v, &j)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return int(v), uint64(j), err
}

// RetentionVersion returns one version of the rule set, as the
// transaction sees it.
func (t *Tx) RetentionVersion(ctx context.Context, version int) (store.RetentionRow, error) {
	var r store.RetentionRow
	var jidx, tm int64
	var h []byte
	var ov string
	err := t.tx.QueryRowContext(ctx, `SELECT version, jidx, time, actor, name, sha256, source, overrides FROM retention_sets WHERE version = ?`, version).
		Scan(&r.Version, &jidx, &tm, &r.Actor, &r.Name, &h, &r.Source, &ov)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("retention rule set version %d: %w", version, store.ErrNotFound)
	}
	if err != nil {
		return r, err
	}
	r.JournalIndex, r.Time = uint64(jidx), archive.MillisTime(tm)
	copy(r.SHA256[:], h)
	if err := json.Unmarshal([]byte(ov), &r.Overrides); err != nil {
		return r, fmt.Errorf("retention_sets version %d: overrides: %w", r.Version, err)
	}
	return r, nil
}

// IndexRetentionExtended records a retention.extended event.
func (t *Tx) IndexRetentionExtended(ctx context.Context, e archive.RetentionExtendedEvent) error {
	for _, g := range e.Groups {
		for _, s := range g.Serials {
			if _, err := t.execSQL(ctx, `UPDATE messages SET retain_until = ?1, retention_rule = ?2, retention_version = ?3
				WHERE serial = ?4 AND retain_until < ?1`, g.RetainUntil.Millis(), g.Rule, e.Version, int64(s)); err != nil {
				return err
			}
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
	_, err = t.execSQL(ctx, `INSERT INTO retention_sets (version, jidx, time, actor, name, sha256, source, overrides) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Version, int64(r.JournalIndex), r.Time.Millis(), r.Actor, r.Name, r.SHA256[:], r.Source, string(b))
	return err
}
