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

const holdColumns = `name, jidx, time, actor, matter, reason, owner, scope, grace_days, released_jidx, released_at, released_by, release_reason`

func scanHold(sc scanner) (store.HoldRow, error) {
	var h store.HoldRow
	var jidx, t, grace, rj, rt int64
	var scope string
	if err := sc.Scan(&h.Name, &jidx, &t, &h.Actor, &h.Matter, &h.Reason, &h.Owner, &scope, &grace, &rj, &rt, &h.ReleasedBy, &h.ReleaseReason); err != nil {
		return h, err
	}
	h.JournalIndex, h.Time, h.ReleaseIndex, h.GraceDays = uint64(jidx), archive.MillisTime(t), uint64(rj), int(grace)
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
	return collect(ctx, s, scanHold, `SELECT `+holdColumns+` FROM holds ORDER BY name`)
}

// HoldState returns a hold as the transaction sees it.
func (t *Tx) HoldState(ctx context.Context, name string) (store.HoldRow, bool, error) {
	h, err := scanHold(t.tx.QueryRow(ctx, `SELECT `+holdColumns+` FROM holds WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
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
	return t.exec(ctx, "index hold", `INSERT INTO holds (name, jidx, time, actor, matter, reason, owner, scope, grace_days)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		h.Name, int64(h.JournalIndex), h.Time.Millis(), h.Actor, h.Matter, h.Reason, h.Owner, string(scope), h.GraceDays)
}

// IndexHoldReleased records a hold.released event.
func (t *Tx) IndexHoldReleased(ctx context.Context, r store.HoldReleaseRow) error {
	tag, err := t.tx.Exec(ctx, `UPDATE holds SET released_jidx = $1, released_at = $2, released_by = $3, release_reason = $4
		WHERE name = $5 AND released_jidx = 0`, int64(r.JournalIndex), r.Time.Millis(), r.Actor, r.Reason, r.Name)
	if err != nil {
		return noSpace(err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("hold.released %s (journal %d): no active hold of that name", r.Name, r.JournalIndex)
	}
	return nil
}
