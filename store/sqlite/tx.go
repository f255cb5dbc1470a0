package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// writeStmts are prepared once on the write connection; every Tx reuses them.
type writeStmts struct {
	list          []*sql.Stmt
	lookup        *sql.Stmt
	appendLeaf    *sql.Stmt
	putNode       *sql.Stmt
	putCheckpoint *sql.Stmt
	putPending    *sql.Stmt
	insMessage    *sql.Stmt
	insAttachment *sql.Stmt
	insRecall     *sql.Stmt
	markRecalled  *sql.Stmt
	insConsent    *sql.Stmt
	insParty      *sql.Stmt
	insFTS        *sql.Stmt
	freeKey       *sql.Stmt

	partiesMu sync.Mutex
	parties   map[string]struct{} // ids known to be in the parties table
}

func (s *Store) prepare(ctx context.Context) error {
	w := &s.w
	w.parties = map[string]struct{}{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.lookup, `SELECT source_id, serial, version, raw_hash, jidx FROM messages
			WHERE source = ? AND source_id IN (` + strings.TrimSuffix(strings.Repeat("?,", lookupChunk), ",") + `) ORDER BY source_id, version`},
		{&w.appendLeaf, `INSERT INTO journal (idx, hash, leaf) VALUES (?, ?, ?)`},
		{&w.putNode, `INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`},
		{&w.putCheckpoint, `INSERT INTO checkpoints (size, time, note) VALUES (?, ?, ?)`},
		{&w.putPending, `INSERT INTO pending (key, hash, retain_until, created_at, data) VALUES (?, ?, ?, ?, ?)`},
		// recalled_by is looked up in the same statement: a recall may have
		// arrived before the message it recalls. Parameters are plain "?"
		// (source and source_id are passed twice): numbered ones cost a
		// name lookup per parameter per bind in the driver.
		{&w.insMessage, `INSERT INTO messages (serial, jidx, source, source_id, version, conflicts_with, kind, source_type,
			action, sent_at, captured_at, conversation, conv_kind, sender, recipients, direction, text, raw_hash, record_hash,
			raw_size, record_size, n_attachments, attach_faults, refers_to, recalled_by, retain_until, origin, skey,
			retention_rule, retention_version, time_unknown)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
			(SELECT min(serial) FROM recalls WHERE source = ? AND target = ?), ?, ?, ?, ?, ?, ?)`},
		{&w.insAttachment, `INSERT INTO attachments (serial, ord, role, blob, size, declared_size, media_type, file_name,
			source_ref, source_md5, status, reason, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.insFTS, `INSERT INTO fts (rowid, body, attachments) VALUES (?, ?, ?)`},
		{&w.freeKey, `SELECT coalesce(max(skey) + 1, ?1) FROM messages WHERE skey >= ?1 AND skey < ?2`},
		{&w.insRecall, `INSERT INTO recalls (source, target, serial) VALUES (?, ?, ?)`},
		{&w.markRecalled, `UPDATE messages SET recalled_by = ?1 WHERE source_id = ?2 AND source = ?3 AND (recalled_by IS NULL OR recalled_by > ?1)`},
		{&w.insConsent, `INSERT INTO consent (external_id, serial, agreed, at, employee) VALUES (?, ?, ?, ?, ?)`},
		{&w.insParty, `INSERT OR IGNORE INTO parties (id, kind, first_serial) VALUES (?, ?, ?)`},
	} {
		st, err := s.write.PrepareContext(ctx, p.sql)
		if err != nil {
			w.close()
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = st
		w.list = append(w.list, st)
	}
	return nil
}

func (w *writeStmts) close() {
	for _, st := range w.list {
		st.Close()
	}
	w.list = nil
}

// Tx is the write transaction.
type Tx struct {
	s       *Store
	tx      *sql.Tx
	ctx     context.Context
	st      map[*sql.Stmt]*sql.Stmt
	parties []string // ids inserted into parties by this tx
	reset   bool
	// identity is set by the writes IdentityVersioner counts; Commit
	// then moves the store's identity version.
	identity bool
}

var _ store.Tx = (*Tx)(nil)

// Begin starts the write transaction (BEGIN IMMEDIATE).
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	if s.write == nil {
		return nil, errors.New("index database is open read-only")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin write transaction: %w", noSpace(err))
	}
	return &Tx{s: s, tx: tx, ctx: ctx, st: map[*sql.Stmt]*sql.Stmt{}}, nil
}

func (t *Tx) stmt(st *sql.Stmt) *sql.Stmt {
	if x, ok := t.st[st]; ok {
		return x
	}
	x := t.tx.StmtContext(t.ctx, st)
	t.st[st] = x
	return x
}

// Commit makes the transaction durable.
func (t *Tx) Commit() error {
	if t.identity {
		// Moved whether or not the commit reports success: a commit
		// whose outcome is unknown may have changed a grant, and a
		// needless move costs only a lookup.
		defer t.s.idVersion.Add(1)
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", noSpace(err))
	}
	t.s.resetWAL()
	w := &t.s.w
	w.partiesMu.Lock()
	if t.reset {
		w.parties = map[string]struct{}{}
	}
	for _, id := range t.parties {
		w.parties[id] = struct{}{}
	}
	w.partiesMu.Unlock()
	return nil
}

// Rollback abandons the transaction. It is safe after Commit.
func (t *Tx) Rollback() error {
	err := t.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// Head reads the state a writer continues from.
func (t *Tx) Head(ctx context.Context) (store.Head, error) { return head(ctx, t.tx) }

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func head(ctx context.Context, q queryer) (store.Head, error) {
	var h store.Head
	var next sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(max(idx) + 1, 0) FROM journal),
		(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_serial'),
		(SELECT coalesce(max(size), 0) FROM checkpoints),
		(SELECT coalesce(max(end), 0) FROM segments)`).Scan(&h.JournalSize, &next, &h.CheckpointSize, &h.SealedSize)
	if err != nil {
		return h, fmt.Errorf("read head: %w", err)
	}
	h.NextSerial = 1
	if next.Valid {
		h.NextSerial = uint64(next.Int64)
	}
	return h, nil
}

// StoredNodes implements journal.NodeReader inside the transaction.
func (t *Tx) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	return storedNodes(ctx, t.tx, level, begin, end)
}

// storedNodes reads hashes at a stored level: leaf hashes from the journal
// at level 0, complete-subtree hashes from tree_nodes above. A gap is
// journal.ErrMissingNode, never a short answer.
func storedNodes(ctx context.Context, q queryer, level uint, begin, end uint64) ([][]byte, error) {
	var rows *sql.Rows
	var err error
	if level == 0 {
		rows, err = q.QueryContext(ctx, `SELECT hash FROM journal WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(begin), int64(end))
	} else {
		rows, err = q.QueryContext(ctx, `SELECT hash FROM tree_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx`, int64(level), int64(begin), int64(end))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]byte, 0, end-begin)
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if uint64(len(out)) != end-begin {
		return nil, fmt.Errorf("%w: level %d [%d,%d) has %d stored hashes", journal.ErrMissingNode, level, begin, end, len(out))
	}
	return out, nil
}

// lookupChunk is how many ids one lookup statement asks for: one query per
// batch chunk instead of one per message.
const lookupChunk = 200

// LookupMessages returns archived versions per source id.
func (t *Tx) LookupMessages(ctx context.Context, source string, ids []string) (map[string][]store.Version, error) {
	out := make(map[string][]store.Version, len(ids))
	seen := make(map[string]struct{}, len(ids))
	uniq := ids[:0:0]
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			uniq = append(uniq, id)
		}
	}
	ids = uniq
	st := t.stmt(t.s.w.lookup)
	args := make([]any, 1+lookupChunk)
	args[0] = source
	for start := 0; start < len(ids); start += lookupChunk {
		chunk := ids[start:min(start+lookupChunk, len(ids))]
		for i := 0; i < lookupChunk; i++ {
			if i < len(chunk) {
				args[1+i] = chunk[i]
			} else {
				args[1+i] = nil // IN (…, NULL) matches nothing
			}
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("look up messages: %w", err)
		}
		for rows.Next() {
			var id string
			var v store.Version
			var raw []byte
			if err := rows.Scan(&id, &v.Serial, &v.Version, &raw, &v.JournalIndex); err != nil {
				rows.Close()
				return nil, err
			}
			copy(v.Raw[:], raw)
			out[id] = append(out[id], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LatestPolicyVersion is the latest version of a policy (0: none).
func (t *Tx) LatestPolicyVersion(ctx context.Context, name string) (int, error) {
	var v int
	err := t.tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM policies WHERE name = ?`, name).Scan(&v)
	return v, err
}

// LastReviewAction is the journal index of the latest review action on any
// of the alerts (0: none); views change no state and do not count.
func (t *Tx) LastReviewAction(ctx context.Context, alerts []uint64) (uint64, error) {
	var last uint64
	for _, a := range alerts {
		var j int64
		if err := t.tx.QueryRowContext(ctx, `SELECT coalesce(max(jidx), 0) FROM review_actions WHERE alert = ? AND action != 'view'`, int64(a)).Scan(&j); err != nil {
			return 0, err
		}
		last = max(last, uint64(j))
	}
	return last, nil
}

// LookupRejects finds already quarantined inputs.
func (t *Tx) LookupRejects(ctx context.Context, keys []store.RejectKey) (map[store.RejectKey]uint64, error) {
	out := map[store.RejectKey]uint64{}
	for _, k := range keys {
		var idx int64
		err := t.tx.QueryRowContext(ctx, `SELECT jidx FROM rejects WHERE input_hash = ? AND origin = ? ORDER BY jidx LIMIT 1`, k.Input[:], k.Origin).Scan(&idx)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up quarantined input: %w", err)
		}
		out[k] = uint64(idx)
	}
	return out, nil
}

func (t *Tx) exec(ctx context.Context, st *sql.Stmt, what string, args ...any) error {
	if _, err := t.stmt(st).ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("%s: %w", what, noSpace(err))
	}
	return nil
}

// execSQL runs a statement of the transaction that is not prepared.
func (t *Tx) execSQL(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	return res, noSpace(err)
}

// AppendLeaf stores a journal leaf.
func (t *Tx) AppendLeaf(ctx context.Context, index uint64, hash, leaf []byte) error {
	return t.exec(ctx, t.s.w.appendLeaf, fmt.Sprintf("append journal leaf %d", index), int64(index), hash, leaf)
}

// PutNode stores a tree node.
func (t *Tx) PutNode(ctx context.Context, n journal.Node) error {
	return t.exec(ctx, t.s.w.putNode, "store tree node", int64(n.Level), int64(n.Index), n.Hash)
}

// PutCheckpoint stores a signed checkpoint.
func (t *Tx) PutCheckpoint(ctx context.Context, cp store.CheckpointRow) error {
	return t.exec(ctx, t.s.w.putCheckpoint, fmt.Sprintf("store checkpoint %d", cp.Size), int64(cp.Size), cp.Time.Millis(), cp.Note)
}

// SetNextSerial records the next serial to assign.
func (t *Tx) SetNextSerial(ctx context.Context, next uint64) error {
	_, err := t.execSQL(ctx, `INSERT INTO meta (key, value) VALUES ('next_serial', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fmt.Sprint(next))
	return err
}

func pendingKey(k store.RecordKey) int64 { return int64(k.JournalIndex)*8 + int64(k.Ordinal) }

func keyOf(v int64) store.RecordKey {
	return store.RecordKey{JournalIndex: uint64(v / 8), Ordinal: uint32(v % 8)}
}

// PutPending stores a record until it is sealed.
func (t *Tx) PutPending(ctx context.Context, r store.PendingRecord) error {
	if r.Key.Ordinal >= 8 {
		return fmt.Errorf("record ordinal %d out of range", r.Key.Ordinal)
	}
	return t.exec(ctx, t.s.w.putPending, "store pending record", pendingKey(r.Key), r.Hash[:], r.RetainUntil.Millis(), r.CreatedAt.Millis(), r.Data)
}

// DeletePending removes sealed records, failing unless exactly want go.
func (t *Tx) DeletePending(ctx context.Context, from, to store.RecordKey, retainUntil archive.Time, want int) error {
	res, err := t.execSQL(ctx, `DELETE FROM pending WHERE key >= ? AND key <= ? AND retain_until = ?`,
		pendingKey(from), pendingKey(to), retainUntil.Millis())
	if err != nil {
		return fmt.Errorf("delete sealed records: %w", err)
	}
	if n, _ := res.RowsAffected(); n != int64(want) {
		return fmt.Errorf("delete sealed records %d/%d..%d/%d: %d rows, want %d (sealed concurrently?)",
			from.JournalIndex, from.Ordinal, to.JournalIndex, to.Ordinal, n, want)
	}
	return nil
}

// PutSegment records a sealed journal segment.
func (t *Tx) PutSegment(ctx context.Context, s store.SegmentRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO segments (first, end, blob, sealed_at) VALUES (?, ?, ?, ?)`,
		int64(s.First), int64(s.End), s.Blob[:], s.SealedAt.Millis())
	return err
}

// PutCursor records a connector's cursor.
func (t *Tx) PutCursor(ctx context.Context, c store.CursorRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO cursors (connector, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (connector) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		c.Connector, c.Value, c.UpdatedAt.Millis())
	return err
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullU64(v uint64) any {
	if v == 0 {
		return nil
	}
	return int64(v)
}

func nullBlob(id archive.BlobID) any {
	if id.IsZero() {
		return nil
	}
	return id[:]
}

// IndexMessage writes a message's index rows.
func (t *Tx) IndexMessage(ctx context.Context, m store.MessageRow, atts []store.AttachmentRow) error {
	w := &t.s.w
	recips, err := json.Marshal(m.Recipients)
	if err != nil {
		return err
	}
	if m.Recipients == nil {
		recips = []byte("[]")
	}
	key := store.SearchKey(m.SentAt, m.Serial)
	insert := func(key int64) error {
		_, err := t.stmt(w.insMessage).ExecContext(ctx,
			int64(m.Serial), int64(m.JournalIndex), m.Source, m.SourceID, m.Version, nullU64(m.ConflictsWith),
			string(m.Kind), m.SourceType, string(m.Action), m.SentAt.Millis(), m.CapturedAt.Millis(), m.Conversation,
			string(m.ConvKind), m.Sender, string(recips), string(m.Direction), m.Text, m.RawHash[:], m.RecordHash[:],
			m.RawSize, m.RecordSize, m.Attachments, m.AttachFaults, nullStr(m.RefersTo), m.Source, m.SourceID,
			m.RetainUntil.Millis(), nullStr(m.Origin), key, m.RetentionRule, m.RetentionVersion, m.TimeUnknown)
		return noSpace(err)
	}
	err = insert(key)
	if err != nil && strings.Contains(err.Error(), "messages.skey") {
		// The key is taken: take the next free one of the same second. A
		// failed INSERT leaves the transaction as it was.
		block := key &^ (1<<store.SearchKeySlotBits - 1)
		if err = t.stmt(w.freeKey).QueryRowContext(ctx, block, block+1<<store.SearchKeySlotBits).Scan(&key); err == nil {
			if key >= block+1<<store.SearchKeySlotBits {
				err = store.ErrSearchKeysExhausted
			} else {
				err = insert(key)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("index message %d: %w", m.Serial, err)
	}
	// A message with no text (an image, a recall) has no document: nothing
	// a query could match, and one write less.
	if m.SearchBody != "" || m.SearchAttachments != "" {
		if err := t.exec(ctx, w.insFTS, fmt.Sprintf("index text of message %d", m.Serial), key, m.SearchBody, m.SearchAttachments); err != nil {
			return err
		}
	}
	for _, a := range atts {
		if err := t.exec(ctx, w.insAttachment, fmt.Sprintf("index attachment %d/%d", a.Serial, a.Ordinal),
			int64(a.Serial), a.Ordinal, a.Role, nullBlob(a.Blob), a.Size, a.DeclaredSize, a.MediaType, a.FileName,
			a.SourceRef, a.SourceMD5, string(a.Status), a.Reason, a.Text); err != nil {
			return err
		}
	}
	if m.Action == archive.ActionRecall && m.RefersTo != "" {
		if err := t.exec(ctx, w.insRecall, "index recall", m.Source, m.RefersTo, int64(m.Serial)); err != nil {
			return err
		}
		if err := t.exec(ctx, w.markRecalled, "mark recalled", int64(m.Serial), m.RefersTo, m.Source); err != nil {
			return err
		}
	}
	if c := m.Consent; c != nil {
		employee := ""
		for _, p := range m.Participants {
			if p.ID != c.ExternalID && p.Kind == archive.ParticipantEmployee {
				employee = p.ID
				break
			}
		}
		if err := t.exec(ctx, w.insConsent, "index consent", c.ExternalID, int64(m.Serial), c.Agreed, c.At.Millis(), employee); err != nil {
			return err
		}
	}
	if len(m.Participants) > 0 {
		w.partiesMu.Lock()
		var fresh []archive.Participant
		for _, p := range m.Participants {
			if _, ok := w.parties[p.ID]; !ok {
				fresh = append(fresh, p)
			}
		}
		w.partiesMu.Unlock()
		for _, p := range fresh {
			if err := t.exec(ctx, w.insParty, "index participant", p.ID, string(p.Kind), int64(m.Serial)); err != nil {
				return err
			}
			t.parties = append(t.parties, p.ID)
		}
	}
	return nil
}

// IndexReject records a quarantined input.
func (t *Tx) IndexReject(ctx context.Context, r store.RejectRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO rejects (jidx, time, source, origin, field, reason, raw_hash, raw_size, input_hash, input_size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(r.JournalIndex), r.Time.Millis(), r.Source, r.Origin, r.Field, r.Reason,
		r.RawHash[:], r.RawSize, r.InputHash[:], r.InputSize)
	return err
}

// IndexPack records where sealed records are.
func (t *Tx) IndexPack(ctx context.Context, p store.PackRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO packs (blob, first, last, count, bytes, retain_until, jidx)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, p.Blob[:], int64(p.First), int64(p.Last), p.Count, p.Bytes, p.RetainUntil.Millis(), int64(p.JournalIndex))
	return err
}

// IndexParticipant records a directory fact.
func (t *Tx) IndexParticipant(ctx context.Context, p store.ParticipantRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO directory (id, valid_from, jidx, kind, name, department, title, supervisory_group)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.ValidFrom.Millis(), int64(p.JournalIndex), string(p.Kind), p.Name,
		p.Department, p.Title, p.SupervisoryGroup)
	return err
}

// IndexFault records a capture.fault event.
func (t *Tx) IndexFault(ctx context.Context, f store.FaultRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO capture_faults (jidx, time, connector, kind, subject, state, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, int64(f.JournalIndex), f.Time.Millis(), f.Connector, f.Kind, f.Subject, f.State, f.Detail)
	return err
}

// IndexPolicy records a policy.applied event.
func (t *Tx) IndexPolicy(ctx context.Context, p store.PolicyRow) error {
	_, err := t.execSQL(ctx, `INSERT INTO policies (name, version, jidx, time, actor, sha256, source) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.Policy, p.Version, int64(p.JournalIndex), p.Time.Millis(), p.Actor, p.SHA256[:], p.Source)
	return err
}

// IndexAlert records an alert.raised event.
func (t *Tx) IndexAlert(ctx context.Context, a store.AlertRow) error {
	hit, err := json.Marshal(struct {
		Spans        [][2]int `json:"spans"`
		InAttachment int      `json:"in_attachment,omitempty"`
		Masked       []string `json:"masked,omitempty"`
		Department   string   `json:"department,omitempty"`
		Detail       string   `json:"detail,omitempty"`
	}{a.Spans, a.InAttachment, a.Masked, a.Department, a.Detail})
	if err != nil {
		return err
	}
	_, err = t.execSQL(ctx, `INSERT INTO alerts (jidx, time, serial, policy, policy_version, rule, hit) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		int64(a.JournalIndex), a.Time.Millis(), int64(a.Serial), a.Policy, a.PolicyVersion, a.Rule, string(hit))
	return err
}

// IndexAttachmentFetched records media fetched after capture.
func (t *Tx) IndexAttachmentFetched(ctx context.Context, a archive.AttachmentFetchedEvent) error {
	var status string
	err := t.tx.QueryRowContext(ctx, `SELECT status FROM attachments WHERE serial = ? AND ord = ?`, int64(a.Serial), a.Ordinal).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("attachment %d of serial %d: %w", a.Ordinal, a.Serial, store.ErrNotFound)
	}
	if err != nil || status == string(archive.AttachmentFetched) {
		return err
	}
	if _, err := t.execSQL(ctx, `UPDATE attachments SET blob = ?, size = ?, media_type = ?, status = ?, reason = '' WHERE serial = ? AND ord = ?`,
		a.Blob[:], a.Size, a.MediaType, string(archive.AttachmentFetched), int64(a.Serial), a.Ordinal); err != nil {
		return err
	}
	_, err = t.execSQL(ctx, `UPDATE messages SET attach_faults = attach_faults - 1 WHERE serial = ? AND attach_faults > 0`, int64(a.Serial))
	return err
}

// IndexReview records a review.action event, one row per alert.
func (t *Tx) IndexReview(ctx context.Context, r store.ReviewRow) error {
	for _, it := range r.Items {
		if _, err := t.execSQL(ctx, `INSERT INTO review_actions (jidx, alert, time, actor, action, disposition, note, reason, assignee)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(r.JournalIndex), int64(it.Alert), r.Time.Millis(), r.Actor, r.Action,
			r.Disposition, r.Note, r.Reason, r.Assignee); err != nil {
			return err
		}
	}
	return nil
}

// projectionKeys are the key columns that order each projection table
// (store.ProjectionTables gives the table order).
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

// ResetProjection empties the projection tables.
func (t *Tx) ResetProjection(ctx context.Context) error {
	for _, name := range store.ProjectionTables {
		q := "DELETE FROM " + name
		if name == "search" {
			q = `INSERT INTO fts (fts) VALUES ('delete-all')`
		}
		if _, err := t.execSQL(ctx, q); err != nil {
			return fmt.Errorf("reset %s: %w", name, err)
		}
	}
	// Rebuilding the projection is what a required reindex asks for.
	if _, err := t.execSQL(ctx, `DELETE FROM meta WHERE key = 'reindex_required'`); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	t.reset = true
	t.s.w.partiesMu.Lock()
	t.s.w.parties = map[string]struct{}{}
	t.s.w.partiesMu.Unlock()
	return nil
}
