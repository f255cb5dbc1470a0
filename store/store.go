// Package store defines the archive's database: the journal (leaves, tree
// nodes, checkpoints, sealed-segment index), records not yet sealed into the
// blob store, and the index — the projection of the journal that search,
// show and review read. Adapters: store/sqlite (embedded default) and, later,
// store/postgres; both pass store/storetest.
//
// Contract:
//   - Exactly one Tx writes at a time (Begin takes the database's write lock
//     and waits for it). A Tx sees its own writes; readers see only committed
//     state. A committed transaction is durable once a Sync that started
//     after its Commit returned has returned (so a writer can prepare the
//     next transaction while the previous one is being made durable).
//   - Every method that is given an object that does not exist returns an
//     error matching ErrNotFound.
//   - Projection tables (messages, attachments, recalls, consent,
//     participants, rejects, packs, the full-text index) can be dropped and rebuilt by
//     ResetProjection + replay; everything else is primary (the identity
//     tables of store/auth.go among it).
package store

import (
	"context"
	"errors"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
)

// ErrNotFound is matched by errors for absent objects.
var ErrNotFound = errors.New("not found")

// Store is an open archive database.
type Store interface {
	Reader
	// Begin starts the write transaction.
	Begin(ctx context.Context) (Tx, error)
	// Sync makes every transaction committed so far durable.
	Sync(ctx context.Context) error
	Close() error
	// AuthStore is the identity tables (store/auth.go): primary, kept by
	// ResetProjection.
	AuthStore
}

// Reader answers queries on committed state. It is composed of role
// interfaces; a consumer takes the roles it reads (DESIGN §6: the
// narrowest interface it uses), so that a new engine can be checked role
// by role and a reader's needs are visible in its signature.
type Reader interface {
	JournalReader
	RecordsReader
	MessageReader
	SearchReader
	SupervisionReader
	CaptureReader
	DirectoryReader
	RetentionReader
	HoldReader
	Counts(ctx context.Context) (Counts, error)
	// DumpProjection calls fn for every row of every projection table in a
	// fixed order, rendered canonically, so two databases can be compared.
	// Within a table, keys arrive in increasing byte order (integers are
	// zero-padded, key columns are separated by a NUL byte), so two dumps can be merge-joined as streams.
	DumpProjection(ctx context.Context, fn func(table, key, row string) error) error
	// Snapshot returns a reader of the store as it is now, unaffected by
	// later commits, until release is called.
	Snapshot(ctx context.Context) (r Reader, release func() error, err error)
}

// JournalReader reads the journal: leaves, tree nodes, checkpoints and
// where sealed segments are.
type JournalReader interface {
	journal.NodeReader
	Head(ctx context.Context) (Head, error)
	Leaves(ctx context.Context, begin, end uint64, fn func(index uint64, hash, leaf []byte) error) error
	Checkpoints(ctx context.Context, fn func(CheckpointRow) error) error
	LatestCheckpoint(ctx context.Context) (CheckpointRow, error)
	Segments(ctx context.Context, fn func(SegmentRow) error) error
}

// RecordsReader finds records: pending in the database or sealed in packs.
type RecordsReader interface {
	PendingRecord(ctx context.Context, key RecordKey) (PendingRecord, error)
	PendingRecords(ctx context.Context, after RecordKey, limitBytes int64, fn func(PendingRecord) error) error
	PacksCovering(ctx context.Context, journalIndex uint64) ([]PackRow, error)
	Packs(ctx context.Context, fn func(PackRow) error) error
}

// MessageReader reads the message index: messages, attachments, consent
// and quarantined inputs.
type MessageReader interface {
	Message(ctx context.Context, serial uint64) (MessageRow, error)
	MessagesBySourceID(ctx context.Context, sourceID string) ([]MessageRow, error)
	// Messages visits the messages with first ≤ serial ≤ last in serial
	// order (one query for a batch a supervisor evaluates).
	Messages(ctx context.Context, first, last uint64, fn func(MessageRow) error) error
	Attachments(ctx context.Context, serial uint64) ([]AttachmentRow, error)
	// UnfetchedAttachments returns up to limit attachments of a source's
	// messages captured since a time that have a source reference but no
	// media (failed or missing), oldest first: what a connector fetches
	// again while the source still has the media.
	UnfetchedAttachments(ctx context.Context, source string, since archive.Time, limit int) ([]UnfetchedAttachment, error)
	Consent(ctx context.Context, externalID string) ([]ConsentRow, error)
	Rejects(ctx context.Context, fn func(RejectRow) error) error
}

// SearchReader runs searches.
type SearchReader interface {
	// Search runs a full-text and metadata query (store/search.go).
	Search(ctx context.Context, req SearchRequest) (SearchPage, error)
}

// SupervisionReader reads policies, alerts and review actions.
type SupervisionReader interface {
	// Policies returns the latest version of every policy, by name.
	Policies(ctx context.Context) ([]PolicyRow, error)
	// PolicyVersions returns every version of one policy, oldest first
	// (none for an unknown name).
	PolicyVersions(ctx context.Context, name string) ([]PolicyRow, error)
	// Alerts visits alerts in id order, from after (exclusive), filtered
	// by policy when it is not empty, up to limit (0: all).
	Alerts(ctx context.Context, after uint64, policy string, limit int, fn func(AlertRow) error) error
	// Alert returns one alert; an error matching ErrNotFound if none.
	Alert(ctx context.Context, id uint64) (AlertRow, error)
	// ReviewActions visits review actions in journal order, for one alert
	// (alert > 0) or all.
	ReviewActions(ctx context.Context, alert uint64, fn func(ReviewActionRow) error) error
}

// CaptureReader reads what capture health needs: connectors' cursors,
// faults, and activity per source and employee.
type CaptureReader interface {
	// Cursor returns a connector's committed cursor; an error matching
	// ErrNotFound when it has none.
	Cursor(ctx context.Context, connector string) (CursorRow, error)
	// OpenFaults returns the capture faults whose latest event raised
	// them, oldest first.
	OpenFaults(ctx context.Context) ([]FaultRow, error)
	// FaultHistory returns every capture.fault event, oldest first.
	FaultHistory(ctx context.Context, fn func(FaultRow) error) error
	// SourceActivity reports a source's newest message and how many were
	// captured at or after since.
	SourceActivity(ctx context.Context, source string, since archive.Time) (SourceActivity, error)
	// EmployeeActivity lists every employee the archive knows (seen in a
	// message or the directory) with when they last sent a message.
	EmployeeActivity(ctx context.Context) ([]EmployeeActivity, error)
}

// DirectoryReader reads who participants were.
type DirectoryReader interface {
	// FirstSerial returns the serial of the first message a participant
	// appears in (ok false when never seen).
	FirstSerial(ctx context.Context, id string) (serial uint64, ok bool, err error)
	// Directory returns what the directory said of a participant at a
	// time: the participant.updated fact with the latest valid_from not
	// after at (a later journal index wins a tie). ok is false when the
	// directory knew nothing of the id then.
	Directory(ctx context.Context, id string, at archive.Time) (p ParticipantRow, ok bool, err error)
	// DirectoryHistory calls fn with every directory fact about the ids
	// (at most MaxDirectoryIDs of them), by id, then valid_from, then
	// journal index: one query for a page of views that name people, each
	// fact then picked by time the way Directory picks it.
	DirectoryHistory(ctx context.Context, ids []string, fn func(ParticipantRow) error) error
	// DirectoryValues returns the distinct non-empty values a directory
	// column (DirectoryIDs, DirectoryNames or DirectoryDepartments) has
	// held in any fact, in byte order: what search's person and
	// department filters resolve against, so that a value nobody has can
	// be told from one that matches no message. One scan of the
	// directory, like those filters' own lookup; any other column is an
	// error.
	DirectoryValues(ctx context.Context, column string) ([]string, error)
}

// Directory columns DirectoryValues lists.
const (
	DirectoryIDs         = "id"
	DirectoryNames       = "name"
	DirectoryDepartments = "department"
)

// MaxDirectoryIDs bounds the ids of one DirectoryHistory call.
const MaxDirectoryIDs = 500

// Tx is the write transaction. Journal writes and projection writes of one
// commit share it, so they become durable together or not at all.
type Tx interface {
	journal.NodeReader
	Head(ctx context.Context) (Head, error)
	// LookupMessages returns the archived versions of each source id, in
	// version order.
	LookupMessages(ctx context.Context, source string, ids []string) (map[string][]Version, error)
	// LookupRejects returns the journal index of inputs already quarantined
	// with the same raw bytes from the same origin.
	LookupRejects(ctx context.Context, keys []RejectKey) (map[RejectKey]uint64, error)
	// LatestPolicyVersion is the latest version of a policy (0: none), and
	// LastReviewAction the journal index of the latest review action on
	// any of the alerts other than a view (0: none): what a conditional
	// append checks inside the transaction, so two writers deciding from
	// the same state cannot both commit.
	LatestPolicyVersion(ctx context.Context, name string) (int, error)
	LastReviewAction(ctx context.Context, alerts []uint64) (uint64, error)
	RetentionTx
	HoldTx

	AppendLeaf(ctx context.Context, index uint64, hash, leaf []byte) error
	PutNode(ctx context.Context, n journal.Node) error
	PutCheckpoint(ctx context.Context, cp CheckpointRow) error
	SetNextSerial(ctx context.Context, next uint64) error
	PutPending(ctx context.Context, r PendingRecord) error
	// DeletePending removes the sealed records with keys in [from, to] and
	// the given retain-until; it fails unless exactly want rows go (another
	// writer sealing the same records must not go unnoticed).
	DeletePending(ctx context.Context, from, to RecordKey, retainUntil archive.Time, want int) error
	PutSegment(ctx context.Context, s SegmentRow) error
	// PutCursor records where a connector resumes, in this transaction.
	PutCursor(ctx context.Context, c CursorRow) error

	Projection
	// AuthTx changes the identity tables in the journal's commit, so a
	// grant and the event that records it are durable together.
	AuthTx
	Commit() error
	Rollback() error
}

// Projection writes the index rows derived from journal events.
type Projection interface {
	IndexMessage(ctx context.Context, m MessageRow, atts []AttachmentRow) error
	IndexReject(ctx context.Context, r RejectRow) error
	IndexPack(ctx context.Context, p PackRow) error
	IndexParticipant(ctx context.Context, p ParticipantRow) error
	IndexFault(ctx context.Context, f FaultRow) error
	IndexPolicy(ctx context.Context, p PolicyRow) error
	IndexAlert(ctx context.Context, a AlertRow) error
	IndexReview(ctx context.Context, r ReviewRow) error
	// IndexRetention records a retention.applied event.
	IndexRetention(ctx context.Context, r RetentionRow) error
	// IndexRetentionExtended moves the retain-until of each message of a
	// retention.extended event to its group's (and its rule and version),
	// where that is later than the row's: it only ever extends.
	IndexRetentionExtended(ctx context.Context, e archive.RetentionExtendedEvent) error
	// IndexHold records hold.created; IndexHoldReleased marks the hold
	// released (an unknown or already released hold is an error).
	IndexHold(ctx context.Context, h HoldRow) error
	IndexHoldReleased(ctx context.Context, r HoldReleaseRow) error
	// IndexAttachmentFetched marks an attachment fetched with its blob; an
	// attachment already fetched is left as it is, and one that does not
	// exist is an error.
	IndexAttachmentFetched(ctx context.Context, a archive.AttachmentFetchedEvent) error
	// ResetProjection empties every projection table (reindex).
	ResetProjection(ctx context.Context) error
}

// ProjectionTables names the projection's tables in the order
// DumpProjection visits them.
// "search" is the full-text index: one document per message, keyed by its
// search key, rendered as the index's token counts.
var ProjectionTables = []string{"messages", "attachments", "recalls", "consent", "parties", "directory", "rejects", "packs", "search", "capture_faults", "policies", "alerts", "review_actions", "retention_sets", "holds"}

// Head is the state a writer continues from.
type Head struct {
	JournalSize    uint64
	NextSerial     uint64 // serials start at 1
	CheckpointSize uint64 // size of the latest checkpoint (0 if none)
	SealedSize     uint64 // end of the last sealed segment
}

// Version is one archived version of a source id.
type Version struct {
	Serial       uint64
	Version      int
	Raw          archive.BlobID
	JournalIndex uint64 // the event that archived this version
}

// CheckpointRow is a stored signed checkpoint.
type CheckpointRow struct {
	Size uint64
	Time archive.Time
	Note []byte
}

// RecordKey addresses a record: the journal event that introduced it and its
// ordinal there (archive.OrdinalRaw, archive.OrdinalNormalized).
type RecordKey struct {
	JournalIndex uint64
	Ordinal      uint32
}

// Less orders keys as packs and the pending table do.
func (k RecordKey) Less(o RecordKey) bool {
	return k.JournalIndex < o.JournalIndex || (k.JournalIndex == o.JournalIndex && k.Ordinal < o.Ordinal)
}

// PendingRecord is a record durable in the database and not yet sealed into
// a pack in the blob store.
type PendingRecord struct {
	Key         RecordKey
	Hash        archive.BlobID
	Data        []byte
	RetainUntil archive.Time
	CreatedAt   archive.Time
}

// SegmentRow locates a sealed journal segment.
type SegmentRow struct {
	First    uint64 // first leaf
	End      uint64 // one past the last leaf
	Blob     archive.BlobID
	SealedAt archive.Time
}

// PackRow locates a sealed pack (projection of records.sealed).
type PackRow struct {
	Blob         archive.BlobID
	First, Last  uint64 // journal indexes covered (inclusive)
	Count        int
	Bytes        int64
	RetainUntil  archive.Time
	JournalIndex uint64 // the records.sealed event
}

// MessageRow is the index row of one archived message version.
type MessageRow struct {
	Serial        uint64
	JournalIndex  uint64
	Source        string
	SourceID      string
	Version       int
	ConflictsWith uint64
	Kind          archive.Kind
	SourceType    string
	Action        archive.Action
	SentAt        archive.Time
	CapturedAt    archive.Time
	Conversation  string
	ConvKind      archive.ConversationKind
	Sender        string
	Recipients    []string
	Direction     archive.Direction
	Text          string
	RawHash       archive.BlobID
	RecordHash    archive.BlobID
	RawSize       int
	RecordSize    int
	Attachments   int // count
	AttachFaults  int // attachments whose status is not fetched
	RefersTo      string
	RecalledBy    uint64 // serial of the first recall of this message, 0 if none (derived by the store on insert)
	RetainUntil   archive.Time
	Origin        string
	// RetentionRule and RetentionVersion: the rule (and its set's
	// version) that decided RetainUntil; "" and 0 for retention_years.
	RetentionRule    string
	RetentionVersion int
	// TimeUnknown: the source gave no usable time; SentAt is the capture
	// time (archive.Message.TimeUnknown).
	TimeUnknown bool

	// Derived rows written with the message (not columns of it).
	Participants []archive.Participant // recorded the first time each id is seen
	Consent      *archive.Consent      // agree/disagree events

	// Full-text index terms (textindex.Analyzer.AppendIndexTerms) of the
	// text and of the attachments' extracted texts.
	SearchBody, SearchAttachments string
}

// AttachmentRow is the index row of one attachment.
type AttachmentRow struct {
	Serial  uint64
	Ordinal int
	archive.Attachment
}

// UnfetchedAttachment is an attachment whose media is still to fetch.
type UnfetchedAttachment struct {
	Serial      uint64
	Ordinal     int
	SourceID    string
	SourceRef   string
	FileName    string
	Status      archive.AttachmentStatus
	CapturedAt  archive.Time
	RetainUntil archive.Time // the message's: the blob's too
}

// ConsentRow is one agree/disagree event of an external contact.
type ConsentRow struct {
	ExternalID string       `json:"external_id"`
	Serial     uint64       `json:"serial"`
	Agreed     bool         `json:"agreed"`
	At         archive.Time `json:"at"`
	Employee   string       `json:"employee"` // the other party of the conversation
}

// RejectKey identifies a quarantined input for idempotency.
type RejectKey struct {
	Input  archive.BlobID // SHA-256 of the whole input (= the raw record's unless truncated)
	Origin string
}

// RejectRow is a quarantined input.
type RejectRow struct {
	JournalIndex uint64         `json:"journal_index"`
	Time         archive.Time   `json:"time"`
	Source       string         `json:"source"`
	Origin       string         `json:"origin"`
	Field        string         `json:"field,omitempty"`
	Reason       string         `json:"reason"`
	RawHash      archive.BlobID `json:"raw_sha256"`
	RawSize      int            `json:"raw_size"`
	InputHash    archive.BlobID `json:"input_sha256"` // of the whole input; differs from RawHash when truncated
	InputSize    int64          `json:"input_size"`
}

// ParticipantRow is a directory fact valid from a time.
type ParticipantRow struct {
	archive.ParticipantEvent
	JournalIndex uint64
}

// PolicyRow is one applied policy version.
type PolicyRow struct {
	archive.PolicyEvent
	JournalIndex uint64
	Time         archive.Time
	Actor        string
}

// AlertRow is one raised alert; its id is JournalIndex.
type AlertRow struct {
	archive.AlertEvent
	JournalIndex uint64
	Time         archive.Time
	SourceID     string // the message's
}

// ReviewRow is one review.action event.
type ReviewRow struct {
	archive.ReviewEvent
	JournalIndex uint64
	Time         archive.Time
	Actor        string
}

// ReviewActionRow is a review action as it concerns one alert.
type ReviewActionRow struct {
	JournalIndex uint64
	Alert        uint64
	Time         archive.Time
	Actor        string
	Action       string
	Disposition  string
	Note         string
	Reason       string
	Assignee     string
}

// SupervisionCursor is the supervisor's cursor: the last serial it
// evaluated (package supervise writes it; capture health reports the lag
// behind it; verify proves it against the journal).
const SupervisionCursor = "supervise"

// CursorRow is where a connector resumes.
type CursorRow struct {
	Connector string
	Value     string
	UpdatedAt archive.Time
}

// FaultRow is one capture.fault event.
type FaultRow struct {
	archive.CaptureFaultEvent
	JournalIndex uint64       `json:"journal_index"`
	Time         archive.Time `json:"time"`
}

// SourceActivity is what the index knows of one source's capture.
type SourceActivity struct {
	Messages     int64        // messages captured from the source in the window asked for
	LastSerial   uint64       // newest message captured from the source (0: none ever)
	LastCaptured archive.Time // its capture time
	LastSent     archive.Time // its source time
}

// EmployeeActivity is when an employee last sent a captured message.
type EmployeeActivity struct {
	ID       string
	LastSent archive.Time // zero if never
}

// Counts summarizes the archive.
type Counts struct {
	Messages       int64 // message versions (serials)
	Conflicts      int64 // versions > 1
	Recalled       int64 // messages with a recall
	Attachments    int64
	AttachFaults   int64 // attachments not fetched intact
	Rejects        int64
	PendingRecords int64
	Packs          int64
	Segments       int64
	Checkpoints    int64
}
