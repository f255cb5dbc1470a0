package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Head reads the committed head.
func (s *Store) Head(ctx context.Context) (store.Head, error) {
	var h store.Head
	var journalSize, ckpt, sealed int64
	var next *string
	err := s.q.QueryRow(ctx, `SELECT
		(SELECT coalesce(max(idx) + 1, 0) FROM journal),
		(SELECT value FROM meta WHERE key = 'next_serial'),
		(SELECT coalesce(max(size), 0) FROM checkpoints),
		(SELECT coalesce(max("end"), 0) FROM segments)`).Scan(&journalSize, &next, &ckpt, &sealed)
	if err != nil {
		return h, fmt.Errorf("read head: %w", err)
	}
	h.JournalSize, h.CheckpointSize, h.SealedSize = uint64(journalSize), uint64(ckpt), uint64(sealed)
	h.NextSerial = 1
	if next != nil {
		var n uint64
		if _, err := fmt.Sscan(*next, &n); err != nil {
			return h, fmt.Errorf("read head: next serial %q: %w", *next, err)
		}
		h.NextSerial = n
	}
	return h, nil
}

// StoredNodes reads hashes at a stored level: leaf hashes from the journal
// at level 0, complete-subtree hashes from tree_nodes above. A gap is
// journal.ErrMissingNode, never a short answer.
func (s *Store) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	scan := func(r scanner) ([]byte, error) {
		var h []byte
		err := r.Scan(&h)
		return h, err
	}
	var out [][]byte
	var err error
	if level == 0 {
		out, err = collect(ctx, s, scan, `SELECT hash FROM journal WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(begin), int64(end))
	} else {
		out, err = collect(ctx, s, scan, `SELECT hash FROM tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`,
			int64(level), int64(begin), int64(end))
	}
	if err != nil {
		return nil, err
	}
	if uint64(len(out)) != end-begin {
		return nil, fmt.Errorf("%w: level %d [%d,%d) has %d stored hashes", journal.ErrMissingNode, level, begin, end, len(out))
	}
	if out == nil {
		out = [][]byte{}
	}
	return out, nil
}

type leafRow struct {
	idx        int64
	hash, leaf []byte
}

// Leaves streams journal leaves [begin, end) in order.
func (s *Store) Leaves(ctx context.Context, begin, end uint64, fn func(index uint64, hash, leaf []byte) error) error {
	return each(ctx, s, func(r scanner) (leafRow, error) {
		var l leafRow
		err := r.Scan(&l.idx, &l.hash, &l.leaf)
		return l, err
	}, func(l leafRow) error { return fn(uint64(l.idx), l.hash, l.leaf) },
		`SELECT idx, hash, leaf FROM journal WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(begin), int64(end))
}

func scanCheckpoint(r scanner) (store.CheckpointRow, error) {
	var c store.CheckpointRow
	var size, t int64
	err := r.Scan(&size, &t, &c.Note)
	c.Size, c.Time = uint64(size), archive.MillisTime(t)
	return c, err
}

// Checkpoints streams stored checkpoints by increasing size.
func (s *Store) Checkpoints(ctx context.Context, fn func(store.CheckpointRow) error) error {
	return each(ctx, s, scanCheckpoint, fn, `SELECT size, time, note FROM checkpoints ORDER BY size`)
}

// LatestCheckpoint returns the checkpoint of the largest size.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.CheckpointRow, error) {
	c, err := scanCheckpoint(s.q.QueryRow(ctx, `SELECT size, time, note FROM checkpoints ORDER BY size DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("latest checkpoint: %w", store.ErrNotFound)
	}
	return c, err
}

const messageColumns = `serial, jidx, source, source_id, version, coalesce(conflicts_with, 0), kind, source_type, action,
	sent_at, captured_at, conversation, conv_kind, sender, recipients, direction, text, raw_hash, record_hash, raw_size,
	record_size, n_attachments, attach_faults, coalesce(refers_to, ''), coalesce(recalled_by, 0), retain_until, coalesce(origin, ''),
	retention_rule, retention_version, time_unknown`

func scanMessage(sc scanner) (store.MessageRow, error) {
	var m store.MessageRow
	var serial, jidx, version, conflicts, sent, captured, rawSize, recSize, natt, faults, recalled, retain, rver, unknown int64
	var kind, action, convKind, dir, recips string
	var raw, rec []byte
	err := sc.Scan(&serial, &jidx, &m.Source, &m.SourceID, &version, &conflicts, &kind, &m.SourceType, &action,
		&sent, &captured, &m.Conversation, &convKind, &m.Sender, &recips, &dir, &m.Text, &raw, &rec, &rawSize,
		&recSize, &natt, &faults, &m.RefersTo, &recalled, &retain, &m.Origin,
		&m.RetentionRule, &rver, &unknown)
	if err != nil {
		return m, err
	}
	m.TimeUnknown = unknown != 0
	m.Serial, m.JournalIndex, m.ConflictsWith, m.RecalledBy = uint64(serial), uint64(jidx), uint64(conflicts), uint64(recalled)
	m.Version, m.RawSize, m.RecordSize, m.Attachments, m.AttachFaults, m.RetentionVersion =
		int(version), int(rawSize), int(recSize), int(natt), int(faults), int(rver)
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
	m, err := scanMessage(s.q.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE serial = $1`, int64(serial)))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("message serial %d: %w", serial, store.ErrNotFound)
	}
	return m, err
}

// UnfetchedAttachments lists a source's attachments still without media.
func (s *Store) UnfetchedAttachments(ctx context.Context, source string, since archive.Time, limit int) ([]store.UnfetchedAttachment, error) {
	return collect(ctx, s, func(r scanner) (store.UnfetchedAttachment, error) {
		var u store.UnfetchedAttachment
		var serial, ord, captured, retain int64
		var status string
		err := r.Scan(&serial, &ord, &u.SourceID, &u.SourceRef, &u.FileName, &status, &captured, &retain)
		u.Serial, u.Ordinal, u.Status = uint64(serial), int(ord), archive.AttachmentStatus(status)
		u.CapturedAt, u.RetainUntil = archive.MillisTime(captured), archive.MillisTime(retain)
		return u, err
	}, `SELECT a.serial, a.ord, m.source_id, a.source_ref, a.file_name, a.status, m.captured_at, m.retain_until
		FROM messages m JOIN attachments a ON a.serial = m.serial
		WHERE m.source = $1 AND m.captured_at >= $2 AND a.source_ref != '' AND a.status IN ($3, $4)
		ORDER BY a.serial, a.ord LIMIT $5`, source, since.Millis(), string(archive.AttachmentFailed), string(archive.AttachmentMissing), limit)
}

// Messages visits the messages of a serial range in order.
func (s *Store) Messages(ctx context.Context, first, last uint64, fn func(store.MessageRow) error) error {
	return each(ctx, s, scanMessage, fn, `SELECT `+messageColumns+` FROM messages WHERE serial BETWEEN $1 AND $2 ORDER BY serial`,
		int64(first), int64(last))
}

// MessagesBySourceID returns every version of a source id, from any source.
func (s *Store) MessagesBySourceID(ctx context.Context, sourceID string) ([]store.MessageRow, error) {
	out, err := collect(ctx, s, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE source_id = $1 ORDER BY serial`, sourceID)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("message %q: %w", sourceID, store.ErrNotFound)
	}
	return out, nil
}

// Attachments returns a message's attachments in order.
func (s *Store) Attachments(ctx context.Context, serial uint64) ([]store.AttachmentRow, error) {
	return collect(ctx, s, func(r scanner) (store.AttachmentRow, error) {
		a := store.AttachmentRow{Serial: serial}
		var blob []byte
		var status string
		var ord int64
		err := r.Scan(&ord, &a.Role, &blob, &a.Size, &a.DeclaredSize, &a.MediaType, &a.FileName,
			&a.SourceRef, &a.SourceMD5, &status, &a.Reason)
		a.Ordinal = int(ord)
		copy(a.Blob[:], blob)
		a.Status = archive.AttachmentStatus(status)
		return a, err
	}, `SELECT ord, role, blob, size, declared_size, media_type, file_name, source_ref,
		source_md5, status, reason FROM attachments WHERE serial = $1 ORDER BY ord`, int64(serial))
}

func scanPending(sc scanner) (store.PendingRecord, error) {
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
	r, err := scanPending(s.q.QueryRow(ctx, `SELECT key, hash, retain_until, created_at, data FROM pending WHERE key = $1`, pendingKey(key)))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("pending record %d/%d: %w", key.JournalIndex, key.Ordinal, store.ErrNotFound)
	}
	return r, err
}

// errLimit stops a stream once its byte budget is spent.
var errLimit = errors.New("limit reached")

// PendingRecords streams unsealed records after a key, in key order, until
// about limitBytes of data have been delivered (0: no limit).
func (s *Store) PendingRecords(ctx context.Context, after store.RecordKey, limitBytes int64, fn func(store.PendingRecord) error) error {
	start := pendingKey(after)
	if after == (store.RecordKey{}) {
		start = -1
	}
	q := `SELECT key, hash, retain_until, created_at, data FROM pending WHERE key > $1 ORDER BY key`
	args := []any{start}
	if limitBytes > 0 {
		// Only the rows up to the budget leave the server: a running sum
		// of the sizes before each row.
		q = `SELECT key, hash, retain_until, created_at, data FROM (
			SELECT key, hash, retain_until, created_at, data,
				coalesce(sum(length(data)) OVER (ORDER BY key ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
			FROM pending WHERE key > $1) p WHERE before < $2 ORDER BY key`
		args = append(args, limitBytes)
	}
	var total int64
	err := each(ctx, s, scanPending, func(r store.PendingRecord) error {
		if err := fn(r); err != nil {
			return err
		}
		total += int64(len(r.Data))
		if limitBytes > 0 && total >= limitBytes {
			return errLimit
		}
		return nil
	}, q, args...)
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func scanPack(sc scanner) (store.PackRow, error) {
	var p store.PackRow
	var blob []byte
	var first, last, count, jidx, retain int64
	if err := sc.Scan(&blob, &first, &last, &count, &p.Bytes, &retain, &jidx); err != nil {
		return p, err
	}
	copy(p.Blob[:], blob)
	p.Count = int(count)
	p.First, p.Last, p.JournalIndex, p.RetainUntil = uint64(first), uint64(last), uint64(jidx), archive.MillisTime(retain)
	return p, nil
}

const packCols = `SELECT blob, first, last, count, bytes, retain_until, jidx FROM packs `

// PacksCovering returns the packs whose journal range includes an index.
func (s *Store) PacksCovering(ctx context.Context, jidx uint64) ([]store.PackRow, error) {
	return collect(ctx, s, scanPack, packCols+`WHERE first <= $1 AND last >= $1 ORDER BY first, jidx`, int64(jidx))
}

// Packs streams every pack.
func (s *Store) Packs(ctx context.Context, fn func(store.PackRow) error) error {
	return each(ctx, s, scanPack, fn, packCols+`ORDER BY first, jidx`)
}

// Segments streams sealed segments in order.
func (s *Store) Segments(ctx context.Context, fn func(store.SegmentRow) error) error {
	return each(ctx, s, func(r scanner) (store.SegmentRow, error) {
		var sr store.SegmentRow
		var first, end, at int64
		var blob []byte
		err := r.Scan(&first, &end, &blob, &at)
		sr.First, sr.End, sr.SealedAt = uint64(first), uint64(end), archive.MillisTime(at)
		copy(sr.Blob[:], blob)
		return sr, err
	}, fn, `SELECT first, "end", blob, sealed_at FROM segments ORDER BY first`)
}

// Consent returns an external contact's consent events in order.
func (s *Store) Consent(ctx context.Context, externalID string) ([]store.ConsentRow, error) {
	return collect(ctx, s, func(r scanner) (store.ConsentRow, error) {
		c := store.ConsentRow{ExternalID: externalID}
		var serial, agreed, at int64
		err := r.Scan(&serial, &agreed, &at, &c.Employee)
		c.Serial, c.Agreed, c.At = uint64(serial), agreed != 0, archive.MillisTime(at)
		return c, err
	}, `SELECT serial, agreed, at, employee FROM consent WHERE external_id = $1 ORDER BY at, serial`, externalID)
}

// Rejects streams quarantined inputs in journal order.
func (s *Store) Rejects(ctx context.Context, fn func(store.RejectRow) error) error {
	return each(ctx, s, func(r scanner) (store.RejectRow, error) {
		var rj store.RejectRow
		var jidx, t, rawSize int64
		var h, ih []byte
		err := r.Scan(&jidx, &t, &rj.Source, &rj.Origin, &rj.Field, &rj.Reason, &h, &rawSize, &ih, &rj.InputSize)
		rj.JournalIndex, rj.Time, rj.RawSize = uint64(jidx), archive.MillisTime(t), int(rawSize)
		copy(rj.RawHash[:], h)
		copy(rj.InputHash[:], ih)
		return rj, err
	}, fn, `SELECT jidx, time, source, origin, field, reason, raw_hash, raw_size, input_hash, input_size FROM rejects ORDER BY jidx`)
}

// Cursor returns a connector's committed cursor.
func (s *Store) Cursor(ctx context.Context, connector string) (store.CursorRow, error) {
	c := store.CursorRow{Connector: connector}
	var t int64
	err := s.q.QueryRow(ctx, `SELECT value, updated_at FROM cursors WHERE connector = $1`, connector).Scan(&c.Value, &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("cursor of connector %q: %w", connector, store.ErrNotFound)
	}
	c.UpdatedAt = archive.MillisTime(t)
	return c, err
}

// FirstSerial returns a participant's first message.
func (s *Store) FirstSerial(ctx context.Context, id string) (uint64, bool, error) {
	var serial int64
	err := s.q.QueryRow(ctx, `SELECT first_serial FROM parties WHERE id = $1`, id).Scan(&serial)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint64(serial), err == nil, err
}

// Directory returns the directory fact about id valid at a time.
func (s *Store) Directory(ctx context.Context, id string, at archive.Time) (store.ParticipantRow, bool, error) {
	var out store.ParticipantRow
	var validFrom, jidx int64
	var kind string
	err := s.q.QueryRow(ctx, `SELECT valid_from, jidx, kind, name, department, title, supervisory_group FROM directory
		WHERE id = $1 AND valid_from <= $2 ORDER BY valid_from DESC, jidx DESC LIMIT 1`, id, at.Millis()).
		Scan(&validFrom, &jidx, &kind, &out.Name, &out.Department, &out.Title, &out.SupervisoryGroup)
	if errors.Is(err, pgx.ErrNoRows) {
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
	// column is one of three constants, never user input. Sorted here, not
	// by the database's collation, for the byte order SQLite gives.
	out, err := collect(ctx, s, func(r scanner) (string, error) {
		var v string
		return v, r.Scan(&v)
	}, `SELECT DISTINCT `+column+` FROM directory WHERE `+column+` <> ''`)
	slices.Sort(out)
	return out, err
}

// DirectoryHistory implements store.DirectoryReader.
func (s *Store) DirectoryHistory(ctx context.Context, ids []string, fn func(store.ParticipantRow) error) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > store.MaxDirectoryIDs {
		return fmt.Errorf("directory history: %d ids, more than %d", len(ids), store.MaxDirectoryIDs)
	}
	rows, err := collect(ctx, s, func(r scanner) (store.ParticipantRow, error) {
		var p store.ParticipantRow
		var validFrom, jidx int64
		var kind string
		err := r.Scan(&p.ID, &validFrom, &jidx, &kind, &p.Name, &p.Department, &p.Title, &p.SupervisoryGroup)
		p.Kind, p.ValidFrom, p.JournalIndex = archive.ParticipantKind(kind), archive.MillisTime(validFrom), uint64(jidx)
		return p, err
	}, `SELECT id, valid_from, jidx, kind, name, department, title, supervisory_group FROM directory
		WHERE id = ANY($1) ORDER BY id, valid_from, jidx`, ids)
	if err != nil {
		return err
	}
	for _, p := range rows {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
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
		q += " WHERE alert = $1"
		args = append(args, int64(alert))
	}
	q += " ORDER BY jidx, alert"
	return each(ctx, s, func(r scanner) (store.ReviewActionRow, error) {
		var ra store.ReviewActionRow
		var jidx, al, t int64
		err := r.Scan(&jidx, &al, &t, &ra.Actor, &ra.Action, &ra.Disposition, &ra.Note, &ra.Reason, &ra.Assignee)
		ra.JournalIndex, ra.Alert, ra.Time = uint64(jidx), uint64(al), archive.MillisTime(t)
		return ra, err
	}, fn, q, args...)
}

func scanPolicy(r scanner) (store.PolicyRow, error) {
	var p store.PolicyRow
	var version, jidx, t int64
	var h []byte
	err := r.Scan(&p.Policy, &version, &jidx, &t, &p.Actor, &h, &p.Source)
	p.Version, p.JournalIndex, p.Time = int(version), uint64(jidx), archive.MillisTime(t)
	copy(p.SHA256[:], h)
	return p, err
}

// Policies returns the latest version of every policy.
func (s *Store) Policies(ctx context.Context) ([]store.PolicyRow, error) {
	return collect(ctx, s, scanPolicy, `SELECT DISTINCT ON (name) name, version, jidx, time, actor, sha256, source
		FROM policies ORDER BY name, version DESC`)
}

// PolicyVersions returns every version of a policy, oldest first.
func (s *Store) PolicyVersions(ctx context.Context, name string) ([]store.PolicyRow, error) {
	return collect(ctx, s, scanPolicy, `SELECT name, version, jidx, time, actor, sha256, source FROM policies WHERE name = $1 ORDER BY version`, name)
}

// Alerts visits alerts in id order.
func (s *Store) Alerts(ctx context.Context, after uint64, policy string, limit int, fn func(store.AlertRow) error) error {
	q := `SELECT a.jidx, a.time, a.serial, a.policy, a.policy_version, a.rule, a.hit, coalesce(m.source_id, '')
		FROM alerts a LEFT JOIN messages m ON m.serial = a.serial WHERE a.jidx > $1`
	args := []any{int64(after)}
	if policy != "" {
		args = append(args, policy)
		q += fmt.Sprintf(" AND a.policy = $%d", len(args))
	}
	q += " ORDER BY a.jidx"
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	return each(ctx, s, func(r scanner) (store.AlertRow, error) {
		var a store.AlertRow
		var jidx, t, serial, pv int64
		var hit string
		if err := r.Scan(&jidx, &t, &serial, &a.Policy, &pv, &a.Rule, &hit, &a.SourceID); err != nil {
			return a, err
		}
		if err := json.Unmarshal([]byte(hit), &a.AlertEvent); err != nil {
			return a, fmt.Errorf("alert %d: %w", jidx, err)
		}
		a.JournalIndex, a.Time, a.Serial, a.PolicyVersion = uint64(jidx), archive.MillisTime(t), uint64(serial), int(pv)
		return a, nil
	}, fn, q, args...)
}

const faultCols = `jidx, time, connector, kind, subject, state, detail`

func scanFault(r scanner) (store.FaultRow, error) {
	var f store.FaultRow
	var jidx, t int64
	err := r.Scan(&jidx, &t, &f.Connector, &f.Kind, &f.Subject, &f.State, &f.Detail)
	f.JournalIndex, f.Time = uint64(jidx), archive.MillisTime(t)
	return f, err
}

// OpenFaults returns the faults whose latest event raised them.
func (s *Store) OpenFaults(ctx context.Context) ([]store.FaultRow, error) {
	return collect(ctx, s, scanFault, `SELECT `+faultCols+` FROM capture_faults f
		WHERE state = 'raised' AND jidx = (SELECT max(jidx) FROM capture_faults g
			WHERE g.connector = f.connector AND g.kind = f.kind AND g.subject = f.subject)
		ORDER BY jidx`)
}

// FaultHistory visits every capture.fault event in journal order.
func (s *Store) FaultHistory(ctx context.Context, fn func(store.FaultRow) error) error {
	return each(ctx, s, scanFault, fn, `SELECT `+faultCols+` FROM capture_faults ORDER BY jidx`)
}

// SourceActivity reads a source's newest message and counts those
// captured since: both ranges of the (source, captured_at) index.
func (s *Store) SourceActivity(ctx context.Context, source string, since archive.Time) (store.SourceActivity, error) {
	var a store.SourceActivity
	var serial, captured, sent int64
	err := s.q.QueryRow(ctx, `SELECT serial, captured_at, sent_at FROM messages
		WHERE source = $1 ORDER BY captured_at DESC, serial DESC LIMIT 1`, source).Scan(&serial, &captured, &sent)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return a, nil
	case err != nil:
		return a, err
	}
	a.LastSerial, a.LastCaptured, a.LastSent = uint64(serial), archive.MillisTime(captured), archive.MillisTime(sent)
	err = s.q.QueryRow(ctx, `SELECT count(*) FROM messages WHERE source = $1 AND captured_at >= $2`, source, since.Millis()).Scan(&a.Messages)
	return a, err
}

// EmployeeActivity lists the archive's employees with their newest sent
// message, one index lookup each.
func (s *Store) EmployeeActivity(ctx context.Context) ([]store.EmployeeActivity, error) {
	return collect(ctx, s, func(r scanner) (store.EmployeeActivity, error) {
		var a store.EmployeeActivity
		var sent *int64
		err := r.Scan(&a.ID, &sent)
		if sent != nil {
			a.LastSent = archive.MillisTime(*sent)
		}
		return a, err
	}, `SELECT e.id, (SELECT sent_at FROM messages WHERE sender = e.id ORDER BY skey DESC LIMIT 1)
		FROM (SELECT id FROM parties WHERE kind = 'employee' UNION SELECT id FROM directory WHERE kind = 'employee') e
		ORDER BY e.id`)
}

// Counts summarizes the archive.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := s.q.QueryRow(ctx, `SELECT
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

// projectionKeys are the key columns that order each projection table
// (store.ProjectionTables gives the table order). Text columns are
// COLLATE "C", so ORDER BY is byte order, as SQLite's BINARY.
var projectionKeys = map[string]string{
	"messages":       "serial",
	"attachments":    "serial, ord",
	"recalls":        "source, target, serial",
	"consent":        "external_id, serial",
	"parties":        "id",
	"directory":      "id, valid_from, jidx",
	"rejects":        "jidx",
	"packs":          "blob",
	"search":         "id",
	"capture_faults": "jidx",
	"policies":       "name, version",
	"alerts":         "jidx",
	"review_actions": "jidx, alert",
	"retention_sets": "version",
	"holds":          "name",
}

// DumpProjection renders every projection row canonically, table by table
// in key order, exactly as store/sqlite renders it.
func (s *Store) DumpProjection(ctx context.Context, fn func(table, key, row string) error) error {
	for _, name := range store.ProjectionTables {
		if err := s.dumpTable(ctx, name, projectionKeys[name], fn); err != nil {
			return fmt.Errorf("dump %s: %w", name, err)
		}
	}
	return nil
}

type dumpRow struct{ key, row string }

func (s *Store) dumpTable(ctx context.Context, table, key string, fn func(table, key, row string) error) error {
	// Table and key names come from store.ProjectionTables and the map
	// above, not from input.
	q := "SELECT * FROM " + table + " ORDER BY " + key
	if table == "search" {
		// SQLite renders its FTS5 docsize rows: the document's key and
		// its token count per column as a blob of varints, hex-encoded.
		q = "SELECT skey AS id, body_len, atts_len FROM search ORDER BY skey"
	}
	rows, err := s.q.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	keyCols := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		keyCols[strings.TrimSpace(k)] = true
	}
	render1 := func(vals []any) dumpRow {
		var kb, rb strings.Builder
		if table == "search" {
			id := vals[0].(int64)
			sz := putVarint(putVarint(nil, uint64(vals[1].(int64))), uint64(vals[2].(int64)))
			return dumpRow{"id=" + renderKey(id), "id=" + render(id) + " sz=" + render(strings.ToUpper(hex.EncodeToString(sz)))}
		}
		for i, c := range cols {
			if keyCols[c] {
				if kb.Len() > 0 {
					kb.WriteByte(0) // sorts before any text byte, so tuples order like SQL
				}
				kb.WriteString(c + "=" + renderKey(vals[i]))
			}
			if i > 0 {
				rb.WriteByte(' ')
			}
			rb.WriteString(c + "=" + render(vals[i]))
		}
		return dumpRow{kb.String(), rb.String()}
	}
	var buf []dumpRow
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		r := render1(vals)
		if s.single {
			buf = append(buf, r)
			continue
		}
		if err := fn(table, r.key, r.row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, r := range buf {
		if err := fn(table, r.key, r.row); err != nil {
			return err
		}
	}
	return nil
}

// putVarint appends v as SQLite's (and FTS5's) variable-length integer:
// big-endian groups of 7 bits, the high bit set on all but the last byte;
// a ninth byte, if needed, holds 8 bits.
func putVarint(dst []byte, v uint64) []byte {
	if v&(uint64(0xff000000)<<32) != 0 {
		var b [9]byte
		b[8] = byte(v)
		v >>= 8
		for i := 7; i >= 0; i-- {
			b[i] = byte(v&0x7f) | 0x80
			v >>= 7
		}
		return append(dst, b[:]...)
	}
	var b [10]byte
	n := 0
	for {
		b[n] = byte(v&0x7f) | 0x80
		n++
		v >>= 7
		if v == 0 {
			break
		}
	}
	b[0] &= 0x7f
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, b[i])
	}
	return dst
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(x) + "'"
	case string:
		// U+0000 renders as U+FFFD, as PostgreSQL stores it (pgArgs).
		b, _ := json.Marshal(strings.ReplaceAll(x, "\x00", "\uFFFD"))
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// renderKey renders a key column so that byte order of the rendering equals
// ORDER BY order: non-negative integers are zero-padded, text is raw,
// blobs are hex (store/sqlite's rendering).
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
