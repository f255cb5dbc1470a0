package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// Head reads the committed head.
func (s *Store) Head(ctx context.Context) (store.Head, error) { return head(ctx, s.rq) }

// StoredNodes implements journal.NodeReader on committed state.
func (s *Store) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	return storedNodes(ctx, stmtQueryer{s}, level, begin, end)
}

// stmtQueryer runs a read through the store's prepared statements:
// proofs and leaf reads come thousands at a time (a production proves
// every message it holds), and preparing each costs more than running it.
type stmtQueryer struct{ s *Store }

func (q stmtQueryer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.s.readStmt(ctx, query)
	if err != nil {
		return q.s.rq.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (q stmtQueryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// Leaves streams journal leaves [begin, end) in order.
func (s *Store) Leaves(ctx context.Context, begin, end uint64, fn func(index uint64, hash, leaf []byte) error) error {
	rows, err := stmtQueryer{s}.QueryContext(ctx, `SELECT idx, hash, leaf FROM journal WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(begin), int64(end))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var h, leaf []byte
		if err := rows.Scan(&idx, &h, &leaf); err != nil {
			return err
		}
		if err := fn(uint64(idx), h, leaf); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Checkpoints streams stored checkpoints by increasing size.
func (s *Store) Checkpoints(ctx context.Context, fn func(store.CheckpointRow) error) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT size, time, note FROM checkpoints ORDER BY size`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c store.CheckpointRow
		var size, t int64
		if err := rows.Scan(&size, &t, &c.Note); err != nil {
			return err
		}
		c.Size, c.Time = uint64(size), archive.MillisTime(t)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LatestCheckpoint returns the checkpoint of the largest size.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.CheckpointRow, error) {
	var c store.CheckpointRow
	var size, t int64
	err := s.rq.QueryRowContext(ctx, `SELECT size, time, note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &t, &c.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("latest checkpoint: %w", store.ErrNotFound)
	}
	c.Size, c.Time = uint64(size), archive.MillisTime(t)
	return c, err
}

const messageColumns = `serial, jidx, source, source_id, version, coalesce(conflicts_with, 0), kind, source_type, action,
	sent_at, captured_at, conversation, conv_kind, sender, recipients, direction, text, raw_hash, record_hash, raw_size,
	record_size, n_attachments, attach_faults, coalesce(refers_to, ''), coalesce(recalled_by, 0), retain_until, coalesce(origin, ''),
	retention_rule, retention_version, time_unknown`

func scanMessage(sc interface{ Scan(...any) error }) (store.MessageRow, error) {
	var m store.MessageRow
	var serial, jidx, conflicts, sent, captured, recalled, retain int64
	var kind, action, convKind, dir, recips string
	var raw, rec []byte
	err := sc.Scan(&serial, &jidx, &m.Source, &m.SourceID, &m.Version, &conflicts, &kind, &m.SourceType, &action,
		&sent, &captured, &m.Conversation, &convKind, &m.Sender, &recips, &dir, &m.Text, &raw, &rec, &m.RawSize,
		&m.RecordSize, &m.Attachments, &m.AttachFaults, &m.RefersTo, &recalled, &retain, &m.Origin,
		&m.RetentionRule, &m.RetentionVersion, &m.TimeUnknown)
	if err != nil {
		return m, err
	}
	m.Serial, m.JournalIndex, m.ConflictsWith, m.RecalledBy = uint64(serial), uint64(jidx), uint64(conflicts), uint64(recalled)
	m.Kind, m.Action, m.ConvKind, m.Direction = archive.Kind(kind), archive.Action(action), archive.ConversationKind(convKind), archive.Direction(dir)
	m.SentAt, m.CapturedAt, m.RetainUntil = archive.MillisTime(sent), archive.MillisTime(captured), archive.MillisTime(retain)
	copy(m.RawHash[:], raw)
	copy(m.RecordHash[:], rec)
	if err := json.Unmarshal([]byte(recips), &m.Recipients); err != nil {
		return m, fmt.Errorf("message %d recipients: %w", serial, err)
	}
	return m, nil
}

// Message returns the index row of a serial.
func (s *Store) Message(ctx context.Context, serial uint64) (store.MessageRow, error) {
	st, err := s.readStmt(ctx, `SELECT `+messageColumns+` FROM messages WHERE serial = ?`)
	if err != nil {
		return store.MessageRow{}, err
	}
	m, err := scanMessage(st.QueryRowContext(ctx, int64(serial)))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message serial %d: %w", serial, store.ErrNotFound)
	}
	return m, err
}

// UnfetchedAttachments lists a source's attachments still without media.
func (s *Store) UnfetchedAttachments(ctx context.Context, source string, since archive.Time, limit int) ([]store.UnfetchedAttachment, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT a.serial, a.ord, m.source_id, a.source_ref, a.file_name, a.status, m.captured_at, m.retain_until
		FROM messages m JOIN attachments a ON a.serial = m.serial
		WHERE m.source = ? AND m.captured_at >= ? AND a.source_ref != '' AND a.status IN (?, ?)
		ORDER BY a.serial, a.ord LIMIT ?`, source, since.Millis(), string(archive.AttachmentFailed), string(archive.AttachmentMissing), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.UnfetchedAttachment
	for rows.Next() {
		var u store.UnfetchedAttachment
		var serial, captured, retain int64
		var status string
		if err := rows.Scan(&serial, &u.Ordinal, &u.SourceID, &u.SourceRef, &u.FileName, &status, &captured, &retain); err != nil {
			return nil, err
		}
		u.Serial, u.Status, u.CapturedAt, u.RetainUntil = uint64(serial), archive.AttachmentStatus(status), archive.MillisTime(captured), archive.MillisTime(retain)
		out = append(out, u)
	}
	return out, rows.Err()
}

// Messages visits the messages of a serial range in order.
func (s *Store) Messages(ctx context.Context, first, last uint64, fn func(store.MessageRow) error) error {
	st, err := s.readStmt(ctx, `SELECT `+messageColumns+` FROM messages WHERE serial BETWEEN ? AND ? ORDER BY serial`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, int64(first), int64(last))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// MessagesBySourceID returns every version of a source id, from any source.
func (s *Store) MessagesBySourceID(ctx context.Context, sourceID string) ([]store.MessageRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE source_id = ? ORDER BY serial`, sourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.MessageRow
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("message %q: %w", sourceID, store.ErrNotFound)
	}
	return out, nil
}

// Attachments returns a message's attachments in order.
func (s *Store) Attachments(ctx context.Context, serial uint64) ([]store.AttachmentRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT ord, role, blob, size, declared_size, media_type, file_name, source_ref,
		source_md5, status, reason FROM attachments WHERE serial = ? ORDER BY ord`, int64(serial))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AttachmentRow
	for rows.Next() {
		a := store.AttachmentRow{Serial: serial}
		var blob []byte
		var status string
		if err := rows.Scan(&a.Ordinal, &a.Role, &blob, &a.Size, &a.DeclaredSize, &a.MediaType, &a.FileName,
			&a.SourceRef, &a.SourceMD5, &status, &a.Reason); err != nil {
			return nil, err
		}
		copy(a.Blob[:], blob)
		a.Status = archive.AttachmentStatus(status)
		out = append(out, a)
	}
	return out, rows.Err()
}

func scanPending(sc interface{ Scan(...any) error }) (store.PendingRecord, error) {
	var r store.PendingRecord
	var key, retain, created int64
	var h []byte
	if err := sc.Scan(&key, &h, &retain, &created, &r.Data); err != nil {
		return r, err
	}
	r.Key = keyOf(key)
	copy(r.Hash[:], h)
	r.RetainUntil, r.CreatedAt = archive.MillisTime(retain), archive.MillisTime(created)
	return r, nil
}

// PendingRecord returns one unsealed record.
func (s *Store) PendingRecord(ctx context.Context, key store.RecordKey) (store.PendingRecord, error) {
	st, err := s.readStmt(ctx, `SELECT key, hash, retain_until, created_at, data FROM pending WHERE key = ?`)
	if err != nil {
		return store.PendingRecord{}, err
	}
	r, err := scanPending(st.QueryRowContext(ctx, pendingKey(key)))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("pending record %d/%d: %w", key.JournalIndex, key.Ordinal, store.ErrNotFound)
	}
	return r, err
}

// PendingRecords streams unsealed records after a key, in key order, until
// about limitBytes of data have been delivered (0: no limit).
func (s *Store) PendingRecords(ctx context.Context, after store.RecordKey, limitBytes int64, fn func(store.PendingRecord) error) error {
	start := pendingKey(after)
	if after == (store.RecordKey{}) {
		start = -1
	}
	rows, err := s.rq.QueryContext(ctx, `SELECT key, hash, retain_until, created_at, data FROM pending WHERE key > ? ORDER BY key`, start)
	if err != nil {
		return err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		r, err := scanPending(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		total += int64(len(r.Data))
		if limitBytes > 0 && total >= limitBytes {
			break
		}
	}
	return rows.Err()
}

func scanPack(sc interface{ Scan(...any) error }) (store.PackRow, error) {
	var p store.PackRow
	var blob []byte
	var first, last, retain, jidx int64
	if err := sc.Scan(&blob, &first, &last, &p.Count, &p.Bytes, &retain, &jidx); err != nil {
		return p, err
	}
	copy(p.Blob[:], blob)
	p.First, p.Last, p.JournalIndex, p.RetainUntil = uint64(first), uint64(last), uint64(jidx), archive.MillisTime(retain)
	return p, nil
}

func (s *Store) packs(ctx context.Context, fn func(store.PackRow) error, where string, args ...any) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT blob, first, last, count, bytes, retain_until, jidx FROM packs `+where+` ORDER BY first, jidx`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPack(rows)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PacksCovering returns the packs whose journal range includes an index.
func (s *Store) PacksCovering(ctx context.Context, jidx uint64) ([]store.PackRow, error) {
	var out []store.PackRow
	// Packs are short, contiguous runs; the newest pack starting at or
	// before jidx is found through the index on first, and overlapping
	// runs (different retain-until days) are few.
	err := s.packs(ctx, func(p store.PackRow) error { out = append(out, p); return nil },
		`WHERE first <= ?1 AND last >= ?1`, int64(jidx))
	return out, err
}

// Packs streams every pack.
func (s *Store) Packs(ctx context.Context, fn func(store.PackRow) error) error {
	return s.packs(ctx, fn, "")
}

// Segments streams sealed segments in order.
func (s *Store) Segments(ctx context.Context, fn func(store.SegmentRow) error) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT first, end, blob, sealed_at FROM segments ORDER BY first`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.SegmentRow
		var first, end, at int64
		var blob []byte
		if err := rows.Scan(&first, &end, &blob, &at); err != nil {
			return err
		}
		r.First, r.End, r.SealedAt = uint64(first), uint64(end), archive.MillisTime(at)
		copy(r.Blob[:], blob)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Consent returns an external contact's consent events in order.
func (s *Store) Consent(ctx context.Context, externalID string) ([]store.ConsentRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT serial, agreed, at, employee FROM consent WHERE external_id = ? ORDER BY at, serial`, externalID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ConsentRow
	for rows.Next() {
		c := store.ConsentRow{ExternalID: externalID}
		var serial, at int64
		if err := rows.Scan(&serial, &c.Agreed, &at, &c.Employee); err != nil {
			return nil, err
		}
		c.Serial, c.At = uint64(serial), archive.MillisTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Rejects streams quarantined inputs in journal order.
func (s *Store) Rejects(ctx context.Context, fn func(store.RejectRow) error) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT jidx, time, source, origin, field, reason, raw_hash, raw_size, input_hash, input_size FROM rejects ORDER BY jidx`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.RejectRow
		var jidx, t int64
		var h, ih []byte
		if err := rows.Scan(&jidx, &t, &r.Source, &r.Origin, &r.Field, &r.Reason, &h, &r.RawSize, &ih, &r.InputSize); err != nil {
			return err
		}
		r.JournalIndex, r.Time = uint64(jidx), archive.MillisTime(t)
		copy(r.RawHash[:], h)
		copy(r.InputHash[:], ih)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Cursor returns a connector's committed cursor.
func (s *Store) Cursor(ctx context.Context, connector string) (store.CursorRow, error) {
	c := store.CursorRow{Connector: connector}
	var t int64
	err := s.rq.QueryRowContext(ctx, `SELECT value, updated_at FROM cursors WHERE connector = ?`, connector).Scan(&c.Value, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("cursor of connector %q: %w", connector, store.ErrNotFound)
	}
	c.UpdatedAt = archive.MillisTime(t)
	return c, err
}

// FirstSerial returns a participant's first message.
func (s *Store) FirstSerial(ctx context.Context, id string) (uint64, bool, error) {
	var serial int64
	st, err := s.readStmt(ctx, `SELECT first_serial FROM parties WHERE id = ?`)
	if err != nil {
		return 0, false, err
	}
	err = st.QueryRowContext(ctx, id).Scan(&serial)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return uint64(serial), err == nil, err
}

// Directory returns the directory fact about id valid at a time.
func (s *Store) Directory(ctx context.Context, id string, at archive.Time) (store.ParticipantRow, bool, error) {
	var out store.ParticipantRow
	var validFrom, jidx int64
	var kind string
	st, err := s.readStmt(ctx, `SELECT valid_from, jidx, kind, name, department, title, supervisory_group FROM directory
		WHERE id = ? AND valid_from <= ? ORDER BY valid_from DESC, jidx DESC LIMIT 1`)
	if err != nil {
		return out, false, err
	}
	err = st.QueryRowContext(ctx, id, at.Millis()).
		Scan(&validFrom, &jidx, &kind, &out.Name, &out.Department, &out.Title, &out.SupervisoryGroup)
	if errors.Is(err, sql.ErrNoRows) {
		return out, false, nil
	}
	if err != nil {
		return out, false, err
	}
	out.ID, out.Kind, out.ValidFrom, out.JournalIndex = id, archive.ParticipantKind(kind), archive.MillisTime(validFrom), uint64(jidx)
	return out, true, nil
}

// DirectoryValues implements store.DirectoryReader.
func (s *Store) DirectoryValues(ctx context.Context, column string) ([]string, error) {
	switch column {
	case store.DirectoryIDs, store.DirectoryNames, store.DirectoryDepartments:
	default:
		return nil, fmt.Errorf("directory values: no column %q", column)
	}
	// column is one of three constants, never user input.
	rows, err := s.rq.QueryContext(ctx, `SELECT DISTINCT `+column+` FROM directory WHERE `+column+` <> '' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DirectoryHistory implements store.DirectoryReader.
func (s *Store) DirectoryHistory(ctx context.Context, ids []string, fn func(store.ParticipantRow) error) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > store.MaxDirectoryIDs {
		return fmt.Errorf("directory history: %d ids, more than %d", len(ids), store.MaxDirectoryIDs)
	}
	// A few statement shapes, prepared once: the ids are padded with ""
	// (no participant's id) up to the next size.
	n := store.MaxDirectoryIDs
	for _, size := range []int{8, 32, 128} {
		if len(ids) <= size {
			n = size
			break
		}
	}
	args := make([]any, n)
	for i := range args {
		args[i] = ""
		if i < len(ids) {
			args[i] = ids[i]
		}
	}
	st, err := s.readStmt(ctx, `SELECT id, valid_from, jidx, kind, name, department, title, supervisory_group FROM directory
		WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?,", n), ",")+`) ORDER BY id, valid_from, jidx`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p store.ParticipantRow
		var validFrom, jidx int64
		var kind string
		if err := rows.Scan(&p.ID, &validFrom, &jidx, &kind, &p.Name, &p.Department, &p.Title, &p.SupervisoryGroup); err != nil {
			return err
		}
		p.Kind, p.ValidFrom, p.JournalIndex = archive.ParticipantKind(kind), archive.MillisTime(validFrom), uint64(jidx)
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Alert returns one alert.
func (s *Store) Alert(ctx context.Context, id uint64) (store.AlertRow, error) {
	var out store.AlertRow
	found := false
	err := s.Alerts(ctx, id-1, "", 1, func(a store.AlertRow) error {
		if a.JournalIndex == id {
			out, found = a, true
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
	}
	return out, err
}

// ReviewActions visits review actions in journal order.
func (s *Store) ReviewActions(ctx context.Context, alert uint64, fn func(store.ReviewActionRow) error) error {
	q := `SELECT jidx, alert, time, actor, action, disposition, note, reason, assignee FROM review_actions`
	var args []any
	if alert > 0 {
		q += " WHERE alert = ?"
		args = append(args, int64(alert))
	}
	q += " ORDER BY jidx, alert"
	rows, err := s.rq.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.ReviewActionRow
		var jidx, al, t int64
		if err := rows.Scan(&jidx, &al, &t, &r.Actor, &r.Action, &r.Disposition, &r.Note, &r.Reason, &r.Assignee); err != nil {
			return err
		}
		r.JournalIndex, r.Alert, r.Time = uint64(jidx), uint64(al), archive.MillisTime(t)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Policies returns the latest version of every policy.
func (s *Store) Policies(ctx context.Context) ([]store.PolicyRow, error) {
	return s.policyRows(ctx, `SELECT name, version, jidx, time, actor, sha256, source FROM policies p
		WHERE version = (SELECT max(version) FROM policies q WHERE q.name = p.name) ORDER BY name`)
}

// PolicyVersions returns every version of a policy, oldest first.
func (s *Store) PolicyVersions(ctx context.Context, name string) ([]store.PolicyRow, error) {
	return s.policyRows(ctx, `SELECT name, version, jidx, time, actor, sha256, source FROM policies WHERE name = ? ORDER BY version`, name)
}

func (s *Store) policyRows(ctx context.Context, query string, args ...any) ([]store.PolicyRow, error) {
	rows, err := s.rq.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PolicyRow
	for rows.Next() {
		var p store.PolicyRow
		var jidx, t int64
		var h []byte
		if err := rows.Scan(&p.Policy, &p.Version, &jidx, &t, &p.Actor, &h, &p.Source); err != nil {
			return nil, err
		}
		p.JournalIndex, p.Time = uint64(jidx), archive.MillisTime(t)
		copy(p.SHA256[:], h)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Alerts visits alerts in id order.
func (s *Store) Alerts(ctx context.Context, after uint64, policy string, limit int, fn func(store.AlertRow) error) error {
	q := `SELECT a.jidx, a.time, a.serial, a.policy, a.policy_version, a.rule, a.hit, coalesce(m.source_id, '')
		FROM alerts a LEFT JOIN messages m ON m.serial = a.serial WHERE a.jidx > ?`
	args := []any{int64(after)}
	if policy != "" {
		q += " AND a.policy = ?"
		args = append(args, policy)
	}
	q += " ORDER BY a.jidx"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.rq.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a store.AlertRow
		var jidx, t, serial int64
		var hit string
		if err := rows.Scan(&jidx, &t, &serial, &a.Policy, &a.PolicyVersion, &a.Rule, &hit, &a.SourceID); err != nil {
			return err
		}
		a.JournalIndex, a.Time, a.Serial = uint64(jidx), archive.MillisTime(t), uint64(serial)
		if err := json.Unmarshal([]byte(hit), &a.AlertEvent); err != nil {
			return fmt.Errorf("alert %d: %w", jidx, err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

const faultCols = `jidx, time, connector, kind, subject, state, detail`

func scanFault(rows *sql.Rows) (store.FaultRow, error) {
	var f store.FaultRow
	var jidx, t int64
	err := rows.Scan(&jidx, &t, &f.Connector, &f.Kind, &f.Subject, &f.State, &f.Detail)
	f.JournalIndex, f.Time = uint64(jidx), archive.MillisTime(t)
	return f, err
}

// OpenFaults returns the faults whose latest event raised them.
func (s *Store) OpenFaults(ctx context.Context) ([]store.FaultRow, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+faultCols+` FROM capture_faults f
		WHERE state = 'raised' AND jidx = (SELECT max(jidx) FROM capture_faults g
			WHERE g.connector = f.connector AND g.kind = f.kind AND g.subject = f.subject)
		ORDER BY jidx`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FaultRow
	for rows.Next() {
		f, err := scanFault(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// FaultHistory visits every capture.fault event in journal order.
func (s *Store) FaultHistory(ctx context.Context, fn func(store.FaultRow) error) error {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+faultCols+` FROM capture_faults ORDER BY jidx`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFault(rows)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SourceActivity reads a source's newest message and counts those
// captured since: both are ranges of the (source, captured_at) index.
func (s *Store) SourceActivity(ctx context.Context, source string, since archive.Time) (store.SourceActivity, error) {
	var a store.SourceActivity
	var serial, captured, sent int64
	err := s.rq.QueryRowContext(ctx, `SELECT serial, captured_at, sent_at FROM messages INDEXED BY messages_source_captured
		WHERE source = ? ORDER BY captured_at DESC, serial DESC LIMIT 1`, source).Scan(&serial, &captured, &sent)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return a, nil
	case err != nil:
		return a, err
	}
	a.LastSerial, a.LastCaptured, a.LastSent = uint64(serial), archive.MillisTime(captured), archive.MillisTime(sent)
	err = s.rq.QueryRowContext(ctx, `SELECT count(*) FROM messages INDEXED BY messages_source_captured
		WHERE source = ? AND captured_at >= ?`, source, since.Millis()).Scan(&a.Messages)
	return a, err
}

// EmployeeActivity lists the archive's employees with their newest sent
// message, one index lookup each.
func (s *Store) EmployeeActivity(ctx context.Context) ([]store.EmployeeActivity, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT e.id, (SELECT sent_at FROM messages INDEXED BY messages_sender_skey
			WHERE sender = e.id ORDER BY skey DESC LIMIT 1)
		FROM (SELECT id FROM parties WHERE kind = 'employee' UNION SELECT id FROM directory WHERE kind = 'employee') e
		ORDER BY e.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EmployeeActivity
	for rows.Next() {
		var a store.EmployeeActivity
		var sent sql.NullInt64
		if err := rows.Scan(&a.ID, &sent); err != nil {
			return nil, err
		}
		if sent.Valid {
			a.LastSent = archive.MillisTime(sent.Int64)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Counts summarizes the archive.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := s.rq.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM messages),
		(SELECT count(*) FROM messages WHERE version > 1),
		(SELECT count(*) FROM messages WHERE recalled_by IS NOT NULL),
		(SELECT count(*) FROM attachments),
		(SELECT count(*) FROM attachments WHERE status <> 'fetched'),
		(SELECT count(*) FROM rejects),
		(SELECT count(*) FROM pending),
		(SELECT count(*) FROM packs),
		(SELECT count(*) FROM segments),
		(SELECT count(*) FROM checkpoints)`).Scan(&c.Messages, &c.Conflicts, &c.Recalled, &c.Attachments, &c.AttachFaults,
		&c.Rejects, &c.PendingRecords, &c.Packs, &c.Segments, &c.Checkpoints)
	return c, err
}

// DumpProjection renders every projection row canonically, table by table
// in key order.
func (s *Store) DumpProjection(ctx context.Context, fn func(table, key, row string) error) error {
	for _, name := range store.ProjectionTables {
		if err := s.dumpTable(ctx, name, projectionKeys[name], fn); err != nil {
			return fmt.Errorf("dump %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) dumpTable(ctx context.Context, table, key string, fn func(table, key, row string) error) error {
	q := "SELECT * FROM " + table + " ORDER BY " + key
	if table == "search" {
		// The contentless full-text index keeps one row per document in
		// its docsize table: the key and the token count per column. A
		// document added, dropped or re-tokenized shows here.
		q = "SELECT id, hex(sz) AS sz FROM fts_docsize ORDER BY id"
	}
	rows, err := s.rq.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	keyCols := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		keyCols[strings.TrimSpace(k)] = true
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var kb, rb strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		kb.Reset()
		rb.Reset()
		for i, c := range cols {
			v := render(vals[i])
			if keyCols[c] {
				if kb.Len() > 0 {
					kb.WriteByte(0) // sorts before any text byte, so tuples order like SQL
				}
				kb.WriteString(c + "=" + renderKey(vals[i]))
			}
			if i > 0 {
				rb.WriteByte(' ')
			}
			rb.WriteString(c + "=" + v)
		}
		if err := fn(table, kb.String(), rb.String()); err != nil {
			return err
		}
	}
	return rows.Err()
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(x) + "'"
	case string:
		// U+0000 renders as U+FFFD: the PostgreSQL index must store it so
		// (its text cannot hold U+0000), and the two engines' projections
		// are compared by their renderings (verify's rebuilt index).
		b, _ := json.Marshal(strings.ReplaceAll(x, "\x00", "\uFFFD"))
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// renderKey renders a key column so that byte order of the rendering equals
// SQLite's ORDER BY order (BINARY collation): non-negative integers are
// zero-padded, text is raw, blobs are hex. Dumps of two databases can then
// be merge-joined as streams.
func renderKey(v any) string {
	switch x := v.(type) {
	case int64:
		return fmt.Sprintf("%020d", x)
	case []byte:
		return hex.EncodeToString(x)
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD") // as render does
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}
