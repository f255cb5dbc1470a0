package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/store"
)

// Tx is the write transaction.
type Tx struct {
	s   *Store
	tx  pgx.Tx
	ctx context.Context
	r   *Store // reads inside the transaction
}

var _ store.Tx = (*Tx)(nil)

// Begin starts the write transaction and waits for the write lock.
//
// READ COMMITTED, not REPEATABLE READ: a REPEATABLE READ snapshot would be
// taken by the lock statement itself, before the previous writer's commit
// that it waits for, and the Tx would not see that commit. At READ
// COMMITTED each statement after the lock sees every earlier writer's
// commit and this Tx's own writes, and no other Tx writes meanwhile.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	if s.pool == nil {
		return nil, errors.New("a snapshot is read-only")
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("begin write transaction: %w", noSpace(err))
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
		tx.Rollback(context.Background())
		return nil, fmt.Errorf("begin write transaction: take the write lock: %w", err)
	}
	return &Tx{s: s, tx: tx, ctx: ctx, r: &Store{q: tx, single: true}}, nil
}

// Commit commits; with synchronous_commit on it is durable when it returns.
func (t *Tx) Commit() error {
	if err := t.tx.Commit(t.ctx); err != nil {
		return fmt.Errorf("commit: %w", noSpace(err))
	}
	return nil
}

// Rollback abandons the transaction. It is safe after Commit.
func (t *Tx) Rollback() error {
	err := t.tx.Rollback(context.Background())
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

func (t *Tx) exec(ctx context.Context, what, sql string, args ...any) error {
	if _, err := t.tx.Exec(ctx, sql, pgArgs(args)...); err != nil {
		return fmt.Errorf("%s: %w", what, noSpace(err))
	}
	return nil
}

// pgArgs makes text arguments storable: PostgreSQL's text cannot hold
// U+0000, which WeCom's messages may carry (the decoder keeps text as
// received), so it is stored as U+FFFD — the records keep the exact
// bytes, and both engines render U+0000 as U+FFFD when comparing
// projections (render), so a PostgreSQL index still verifies.
func pgArgs(args []any) []any {
	for i, a := range args {
		switch x := a.(type) {
		case string:
			if strings.IndexByte(x, 0) >= 0 {
				args[i] = strings.ReplaceAll(x, "\x00", "\uFFFD")
			}
		case []string:
			for j, s := range x {
				if strings.IndexByte(s, 0) >= 0 {
					c := slices.Clone(x)
					for k := j; k < len(c); k++ {
						c[k] = strings.ReplaceAll(c[k], "\x00", "\uFFFD")
					}
					args[i] = c
					break
				}
			}
		}
	}
	return args
}

// Head reads the state a writer continues from.
func (t *Tx) Head(ctx context.Context) (store.Head, error) { return t.r.Head(ctx) }

// StoredNodes implements journal.NodeReader inside the transaction.
func (t *Tx) StoredNodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	return t.r.StoredNodes(ctx, level, begin, end)
}

// lookupChunk bounds the ids of one lookup query.
const lookupChunk = 5000

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
	for start := 0; start < len(uniq); start += lookupChunk {
		chunk := uniq[start:min(start+lookupChunk, len(uniq))]
		rows, err := t.tx.Query(ctx, `SELECT source_id, serial, version, raw_hash, jidx FROM messages
			WHERE source = $1 AND source_id = ANY($2) ORDER BY source_id, version`, source, chunk)
		if err != nil {
			return nil, fmt.Errorf("look up messages: %w", err)
		}
		for rows.Next() {
			var id string
			var serial, jidx int64
			var v store.Version
			var raw []byte
			if err := rows.Scan(&id, &serial, &v.Version, &raw, &jidx); err != nil {
				rows.Close()
				return nil, err
			}
			v.Serial, v.JournalIndex = uint64(serial), uint64(jidx)
			copy(v.Raw[:], raw)
			out[id] = append(out[id], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up messages: %w", err)
		}
	}
	return out, nil
}

// LatestPolicyVersion is the latest version of a policy (0: none).
func (t *Tx) LatestPolicyVersion(ctx context.Context, name string) (int, error) {
	var v int64
	err := t.tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM policies WHERE name = $1`, name).Scan(&v)
	return int(v), err
}

// LastReviewAction is the journal index of the latest review action on any
// of the alerts (0: none); views change no state and do not count.
func (t *Tx) LastReviewAction(ctx context.Context, alerts []uint64) (uint64, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(alerts))
	for i, a := range alerts {
		ids[i] = int64(a)
	}
	var j int64
	err := t.tx.QueryRow(ctx, `SELECT coalesce(max(jidx), 0) FROM review_actions WHERE alert = ANY($1) AND action != 'view'`, ids).Scan(&j)
	return uint64(j), err
}

// LookupRejects finds already quarantined inputs.
func (t *Tx) LookupRejects(ctx context.Context, keys []store.RejectKey) (map[store.RejectKey]uint64, error) {
	out := map[store.RejectKey]uint64{}
	for _, k := range keys {
		var idx int64
		err := t.tx.QueryRow(ctx, `SELECT jidx FROM rejects WHERE input_hash = $1 AND origin = $2 ORDER BY jidx LIMIT 1`, k.Input[:], k.Origin).Scan(&idx)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up quarantined input: %w", err)
		}
		out[k] = uint64(idx)
	}
	return out, nil
}

// AppendLeaf stores a journal leaf.
func (t *Tx) AppendLeaf(ctx context.Context, index uint64, hash, leaf []byte) error {
	return t.exec(ctx, fmt.Sprintf("append journal leaf %d", index), `INSERT INTO journal (idx, hash, leaf) VALUES ($1, $2, $3)`, int64(index), hash, leaf)
}

// PutNode stores a tree node.
func (t *Tx) PutNode(ctx context.Context, n journal.Node) error {
	return t.exec(ctx, "store tree node", `INSERT INTO tree_nodes (level, idx, hash) VALUES ($1, $2, $3)`, int64(n.Level), int64(n.Index), n.Hash)
}

// PutCheckpoint stores a signed checkpoint.
func (t *Tx) PutCheckpoint(ctx context.Context, cp store.CheckpointRow) error {
	return t.exec(ctx, fmt.Sprintf("store checkpoint %d", cp.Size), `INSERT INTO checkpoints (size, time, note) VALUES ($1, $2, $3)`,
		int64(cp.Size), cp.Time.Millis(), cp.Note)
}

// SetNextSerial records the next serial to assign.
func (t *Tx) SetNextSerial(ctx context.Context, next uint64) error {
	return t.exec(ctx, "set next serial", `INSERT INTO meta (key, value) VALUES ('next_serial', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fmt.Sprint(next))
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
	data := r.Data
	if data == nil {
		data = []byte{} // NOT NULL: an empty record is empty, not absent
	}
	return t.exec(ctx, "store pending record", `INSERT INTO pending (key, hash, retain_until, created_at, data) VALUES ($1, $2, $3, $4, $5)`,
		pendingKey(r.Key), r.Hash[:], r.RetainUntil.Millis(), r.CreatedAt.Millis(), data)
}

// DeletePending removes sealed records, failing unless exactly want go.
func (t *Tx) DeletePending(ctx context.Context, from, to store.RecordKey, retainUntil archive.Time, want int) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM pending WHERE key >= $1 AND key <= $2 AND retain_until = $3`,
		pendingKey(from), pendingKey(to), retainUntil.Millis())
	if err != nil {
		return fmt.Errorf("delete sealed records: %w", noSpace(err))
	}
	if n := tag.RowsAffected(); n != int64(want) {
		return fmt.Errorf("delete sealed records %d/%d..%d/%d: %d rows, want %d (sealed concurrently?)",
			from.JournalIndex, from.Ordinal, to.JournalIndex, to.Ordinal, n, want)
	}
	return nil
}

// PutSegment records a sealed journal segment.
func (t *Tx) PutSegment(ctx context.Context, s store.SegmentRow) error {
	return t.exec(ctx, "store segment", `INSERT INTO segments (first, "end", blob, sealed_at) VALUES ($1, $2, $3, $4)`,
		int64(s.First), int64(s.End), s.Blob[:], s.SealedAt.Millis())
}

// PutCursor records a connector's cursor.
func (t *Tx) PutCursor(ctx context.Context, c store.CursorRow) error {
	return t.exec(ctx, "store cursor", `INSERT INTO cursors (connector, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (connector) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		c.Connector, c.Value, c.UpdatedAt.Millis())
}

// Empty values are stored as NULL where SQLite stores NULL, so that dumps
// of the two engines compare equal.
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

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ftsTokens counts the tokens of an index-term string as SQLite's FTS5
// "ascii" tokenizer with tokenchars '.' does (runs of ASCII letters and
// digits, '.', and any non-ASCII byte): the length its docsize table
// records, which DumpProjection renders and BM25 normalizes by.
func ftsTokens(s string) int64 {
	var n int64
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		tok := c >= 0x80 || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if tok && !in {
			n++
		}
		in = tok
	}
	return n
}

// prefixMark starts the one-character prefix entries of search.terms: an
// index term never holds a space, so " 保" stands for "some term starts
// with 保", as FTS5's prefix index (prefix = '1') does for store/sqlite.
// A one-character prefix query (a single CJK character, the commonest) is
// then a GIN lookup, and a longer prefix narrows by its first character.
const prefixMark = " "

// termSet is the distinct terms of the two index-term strings (split as
// textindex.PrepareIndexed splits them) and their one-character prefixes.
func termSet(a, b string) []string {
	seen := map[string]struct{}{}
	out := []string{}
	add := func(t string) {
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	for _, s := range []string{a, b} {
		for _, t := range strings.Split(s, " ") {
			if t == "" {
				continue
			}
			add(t)
			_, n := utf8.DecodeRuneInString(t)
			add(prefixMark + t[:n])
		}
	}
	return out
}

const insMessage = `INSERT INTO messages (serial, jidx, source, source_id, version, conflicts_with, kind, source_type,
	action, sent_at, captured_at, conversation, conv_kind, sender, recipients, direction, text, raw_hash, record_hash,
	raw_size, record_size, n_attachments, attach_faults, refers_to, recalled_by, retain_until, origin, skey,
	retention_rule, retention_version, time_unknown)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
	(SELECT min(serial) FROM recalls WHERE source = $3 AND target = $4), $25, $26, $27, $28, $29, $30)
	ON CONFLICT (skey) DO NOTHING`

// IndexMessage writes a message's index rows.
func (t *Tx) IndexMessage(ctx context.Context, m store.MessageRow, atts []store.AttachmentRow) error {
	recips, err := json.Marshal(m.Recipients)
	if err != nil {
		return err
	}
	if m.Recipients == nil {
		recips = []byte("[]")
	}
	key := store.SearchKey(m.SentAt, m.Serial)
	msgArgs := func(key int64) []any {
		return []any{int64(m.Serial), int64(m.JournalIndex), m.Source, m.SourceID, m.Version, nullU64(m.ConflictsWith),
			string(m.Kind), m.SourceType, string(m.Action), m.SentAt.Millis(), m.CapturedAt.Millis(), m.Conversation,
			string(m.ConvKind), m.Sender, string(recips), string(m.Direction), m.Text, m.RawHash[:], m.RecordHash[:],
			m.RawSize, m.RecordSize, m.Attachments, m.AttachFaults, nullStr(m.RefersTo),
			m.RetainUntil.Millis(), nullStr(m.Origin), key, m.RetentionRule, m.RetentionVersion, boolInt(m.TimeUnknown)}
	}
	hasDoc := m.SearchBody != "" || m.SearchAttachments != ""
	docArgs := func(key int64) []any {
		return []any{key, m.SearchBody, m.SearchAttachments, termSet(m.SearchBody, m.SearchAttachments),
			ftsTokens(m.SearchBody), ftsTokens(m.SearchAttachments), int64(m.Serial)}
	}

	// A message's rows go in one round trip (a pipeline, run in order): a
	// batch of messages is one transaction of many statements. A taken
	// search key is not an error (ON CONFLICT (skey) DO NOTHING: a failed
	// statement would abort the whole transaction); the document then
	// waits (its INSERT finds no message with its key) until the message
	// has a free key.
	b := &pgx.Batch{}
	var whats []string
	queue := func(what, sql string, args ...any) {
		b.Queue(sql, pgArgs(args)...)
		whats = append(whats, what)
	}
	queue(fmt.Sprintf("index message %d", m.Serial), insMessage, msgArgs(key)...)
	// A message with no text (an image, a recall) has no document, as in
	// SQLite's full-text index.
	if hasDoc {
		queue(fmt.Sprintf("index text of message %d", m.Serial),
			`INSERT INTO search (skey, body, atts, terms, body_len, atts_len)
			SELECT $1::bigint, $2::text, $3::text, $4::text[], $5::bigint, $6::bigint
			WHERE EXISTS (SELECT 1 FROM messages WHERE serial = $7::bigint AND skey = $1::bigint)`, docArgs(key)...)
	}
	for _, a := range atts {
		queue(fmt.Sprintf("index attachment %d/%d", a.Serial, a.Ordinal),
			`INSERT INTO attachments (serial, ord, role, blob, size, declared_size, media_type, file_name,
			source_ref, source_md5, status, reason, text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			int64(a.Serial), a.Ordinal, a.Role, nullBlob(a.Blob), a.Size, a.DeclaredSize, a.MediaType, a.FileName,
			a.SourceRef, a.SourceMD5, string(a.Status), a.Reason, a.Text)
	}
	if m.Action == archive.ActionRecall && m.RefersTo != "" {
		queue("index recall", `INSERT INTO recalls (source, target, serial) VALUES ($1, $2, $3)`,
			m.Source, m.RefersTo, int64(m.Serial))
		queue("mark recalled", `UPDATE messages SET recalled_by = $1
			WHERE source_id = $2 AND source = $3 AND (recalled_by IS NULL OR recalled_by > $1)`,
			int64(m.Serial), m.RefersTo, m.Source)
	}
	if c := m.Consent; c != nil {
		employee := ""
		for _, p := range m.Participants {
			if p.ID != c.ExternalID && p.Kind == archive.ParticipantEmployee {
				employee = p.ID
				break
			}
		}
		queue("index consent", `INSERT INTO consent (external_id, serial, agreed, at, employee) VALUES ($1, $2, $3, $4, $5)`,
			c.ExternalID, int64(m.Serial), boolInt(c.Agreed), c.At.Millis(), employee)
	}
	for _, p := range m.Participants {
		// The first message an id appears in keeps it.
		queue("index participant", `INSERT INTO parties (id, kind, first_serial) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, p.ID, string(p.Kind), int64(m.Serial))
	}
	br := t.tx.SendBatch(ctx, b)
	collided := false
	for i, what := range whats {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", what, noSpace(err))
		}
		if i == 0 {
			collided = tag.RowsAffected() == 0
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("index message %d: %w", m.Serial, noSpace(err))
	}
	if !collided {
		return nil
	}
	// The key is taken: take the next free one of the same second.
	block := key &^ (1<<store.SearchKeySlotBits - 1)
	end := block + 1<<store.SearchKeySlotBits
	if err := t.tx.QueryRow(ctx, `SELECT coalesce(max(skey) + 1, $1) FROM messages WHERE skey >= $1 AND skey < $2`, block, end).Scan(&key); err != nil {
		return fmt.Errorf("index message %d: %w", m.Serial, err)
	}
	if key >= end {
		return fmt.Errorf("index message %d: %w", m.Serial, store.ErrSearchKeysExhausted)
	}
	tag, err := t.tx.Exec(ctx, insMessage, pgArgs(msgArgs(key))...)
	if err == nil && tag.RowsAffected() != 1 {
		err = errors.New("the next free search key is taken")
	}
	if err != nil {
		return fmt.Errorf("index message %d: %w", m.Serial, noSpace(err))
	}
	if hasDoc {
		return t.exec(ctx, fmt.Sprintf("index text of message %d", m.Serial),
			`INSERT INTO search (skey, body, atts, terms, body_len, atts_len) VALUES ($1, $2, $3, $4, $5, $6)`, docArgs(key)[:6]...)
	}
	return nil
}

// IndexReject records a quarantined input.
func (t *Tx) IndexReject(ctx context.Context, r store.RejectRow) error {
	return t.exec(ctx, "index reject", `INSERT INTO rejects (jidx, time, source, origin, field, reason, raw_hash, raw_size, input_hash, input_size)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, int64(r.JournalIndex), r.Time.Millis(), r.Source, r.Origin, r.Field, r.Reason,
		r.RawHash[:], r.RawSize, r.InputHash[:], r.InputSize)
}

// IndexPack records where sealed records are.
func (t *Tx) IndexPack(ctx context.Context, p store.PackRow) error {
	return t.exec(ctx, "index pack", `INSERT INTO packs (blob, first, last, count, bytes, retain_until, jidx)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.Blob[:], int64(p.First), int64(p.Last), p.Count, p.Bytes, p.RetainUntil.Millis(), int64(p.JournalIndex))
}

// IndexParticipant records a directory fact.
func (t *Tx) IndexParticipant(ctx context.Context, p store.ParticipantRow) error {
	return t.exec(ctx, "index directory fact", `INSERT INTO directory (id, valid_from, jidx, kind, name, department, title, supervisory_group)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, p.ID, p.ValidFrom.Millis(), int64(p.JournalIndex), string(p.Kind), p.Name,
		p.Department, p.Title, p.SupervisoryGroup)
}

// IndexFault records a capture.fault event.
func (t *Tx) IndexFault(ctx context.Context, f store.FaultRow) error {
	return t.exec(ctx, "index capture fault", `INSERT INTO capture_faults (jidx, time, connector, kind, subject, state, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, int64(f.JournalIndex), f.Time.Millis(), f.Connector, f.Kind, f.Subject, f.State, f.Detail)
}

// IndexPolicy records a policy.applied event.
func (t *Tx) IndexPolicy(ctx context.Context, p store.PolicyRow) error {
	return t.exec(ctx, "index policy", `INSERT INTO policies (name, version, jidx, time, actor, sha256, source) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		p.Policy, p.Version, int64(p.JournalIndex), p.Time.Millis(), p.Actor, p.SHA256[:], p.Source)
}

// IndexAlert records an alert.raised event; hit is the JSON SQLite keeps.
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
	return t.exec(ctx, "index alert", `INSERT INTO alerts (jidx, time, serial, policy, policy_version, rule, hit) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		int64(a.JournalIndex), a.Time.Millis(), int64(a.Serial), a.Policy, a.PolicyVersion, a.Rule, string(hit))
}

// IndexAttachmentFetched records media fetched after capture.
func (t *Tx) IndexAttachmentFetched(ctx context.Context, a archive.AttachmentFetchedEvent) error {
	var status string
	err := t.tx.QueryRow(ctx, `SELECT status FROM attachments WHERE serial = $1 AND ord = $2`, int64(a.Serial), a.Ordinal).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("attachment %d of serial %d: %w", a.Ordinal, a.Serial, store.ErrNotFound)
	}
	if err != nil || status == string(archive.AttachmentFetched) {
		return err
	}
	if err := t.exec(ctx, "mark attachment fetched", `UPDATE attachments SET blob = $1, size = $2, media_type = $3, status = $4, reason = ''
		WHERE serial = $5 AND ord = $6`, a.Blob[:], a.Size, a.MediaType, string(archive.AttachmentFetched), int64(a.Serial), a.Ordinal); err != nil {
		return err
	}
	return t.exec(ctx, "mark attachment fetched", `UPDATE messages SET attach_faults = attach_faults - 1 WHERE serial = $1 AND attach_faults > 0`, int64(a.Serial))
}

// IndexReview records a review.action event, one row per alert.
func (t *Tx) IndexReview(ctx context.Context, r store.ReviewRow) error {
	for _, it := range r.Items {
		if err := t.exec(ctx, "index review action", `INSERT INTO review_actions (jidx, alert, time, actor, action, disposition, note, reason, assignee)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, int64(r.JournalIndex), int64(it.Alert), r.Time.Millis(), r.Actor, r.Action,
			r.Disposition, r.Note, r.Reason, r.Assignee); err != nil {
			return err
		}
	}
	return nil
}

// ResetProjection empties the projection tables.
func (t *Tx) ResetProjection(ctx context.Context) error {
	for _, name := range store.ProjectionTables {
		// DELETE, not TRUNCATE: TRUNCATE's exclusive lock would stop
		// every reader until the reindex commits. Table names come from
		// store.ProjectionTables, not from input.
		if err := t.exec(ctx, "reset "+name, "DELETE FROM "+name); err != nil {
			return err
		}
	}
	// Rebuilding the projection is what a required reindex asks for.
	return t.exec(ctx, "reset", `DELETE FROM meta WHERE key = 'reindex_required'`)
}
