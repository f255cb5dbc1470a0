package sqlite

import (
	"context"
	"encoding/json"
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

// LatestRetentionVersion is the latest version of the rule set (0: none).
func (t *Tx) LatestRetentionVersion(ctx context.Context) (int, error) {
	var v int
	err := t.tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM retention_sets`).Scan(&v)
	return v, err
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
