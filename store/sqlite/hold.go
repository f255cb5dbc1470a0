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

const holdColumns = `name, jidx, time, actor, matter, reason, owner, scope, grace_days, released_jidx, released_at, released_by, release_reason`

func scanHold(sc interface{ Scan(...any) error }) (store.HoldRow, error) {
	var h store.HoldRow
	var jidx, t, rj, rt int64
	var scope string
	if err := sc.Scan(&h.Name, &jidx, &t, &h.Actor, &h.Matter, &h.Reason, &h.Owner, &scope, &h.GraceDays, &rj, &rt, &h.ReleasedBy, &h.ReleaseReason); err != nil {
		return h, err
	}
	h.JournalIndex, h.Time, h.ReleaseIndex = uint64(jidx), archive.MillisTime(t), uint64(rj)
	if rj != 0 {
		h.Released = archive.MillisTime(rt)
	}
	if err := json.Unmarshal([]byte(scope), &h.Scope); err != nil {
		return h, fmt.Errorf("hold %s: scope: %w", h.Name, err)
	}
	return h, nil
}

// Holds returns every hold by name.
func (s *Store) Holds(ctx context.Context) ([]store.HoldRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+holdColumns+` FROM holds ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.HoldRow
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// HoldState returns a hold as the transaction sees it.
func (t *Tx) HoldState(ctx context.Context, name string) (store.HoldRow, bool, error) {
	h, err := scanHold(t.tx.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM holds WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.HoldRow{}, false, nil
	}
	return h, err == nil, err
}

// IndexHold records a hold.created event.
func (t *Tx) IndexHold(ctx context.Context, h store.HoldRow) error {
	scope, err := json.Marshal(h.Scope)
	if err != nil {
		return err
	}
	_, err = t.execSQL(ctx, `INSERT INTO holds (name, jidx, time, actor, matter, reason, owner, scope, grace_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.Name, int64(h.JournalIndex), h.Time.Millis(), h.Actor, h.Matter, h.Reason, h.Owner, string(scope), h.GraceDays)
	return err
}

// IndexHoldReleased records a hold.released event.
func (t *Tx) IndexHoldReleased(ctx context.Context, r store.HoldReleaseRow) error {
	res, err := t.execSQL(ctx, `UPDATE holds SET released_jidx = ?, released_at = ?, released_by = ?, release_reason = ?
		WHERE name = ? AND released_jidx = 0`, int64(r.JournalIndex), r.Time.Millis(), r.Actor, r.Reason, r.Name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("hold.released %s (journal %d): no active hold of that name", r.Name, r.JournalIndex)
	}
	return nil
}
