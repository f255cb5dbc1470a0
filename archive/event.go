package archive

import "encoding/json"

// Journal event types (DESIGN.md §1.4). docs/FORMAT.md specifies each
// payload; adding a type is a format change and must be documented there.
const (
	EventArchiveCreated     = "archive.created"     // init: archive id, origin, public key, retention
	EventMessageArchived    = "message.archived"    // a new message (or the first version of a msgid)
	EventMessageConflict    = "message.conflict"    // different bytes under an already archived msgid: a new version, both kept
	EventInputRejected      = "input.rejected"      // a line/record that could not be archived, kept raw in quarantine
	EventRecordsSealed      = "records.sealed"      // pending records written to a WORM pack
	EventParticipantUpdated = "participant.updated" // directory facts (name, department, group) from a point in time
	EventAccessView         = "access.view"         // someone displayed a message or its proof
	EventCaptureFault       = "capture.fault"       // a capture-health fault raised or resolved
	EventPolicyApplied      = "policy.applied"      // a new version of a supervision policy
	EventAlertRaised        = "alert.raised"        // a policy rule matched a message
	EventReviewAction       = "review.action"       // a reviewer viewed, claimed, commented, escalated, closed or reopened alerts
	EventAttachmentFetched  = "attachment.fetched"  // media that could not be fetched at capture, fetched later
	EventKeyRotated         = "key.rotated"         // a new checkpoint signing key, vouched for by the old one
	// The supervisor evaluated serials From+1..Through with these policy
	// versions; committed with its cursor, so verify can prove every
	// message behind the cursor was evaluated.
	EventSupervisionProgress = "supervision.progress"
)

// Record ordinals within the event that introduced them.
const (
	OrdinalRaw        = 0 // the bytes exactly as the source delivered them
	OrdinalNormalized = 1 // canonical JSON of Message
)

// MessageEvent is the payload of message.archived and message.conflict. The
// message content is referenced by hash (Raw, Record) so that lawful
// disposition can delete content without breaking the Merkle tree.
type MessageEvent struct {
	Serial        uint64          `json:"serial"`
	Source        string          `json:"source"`
	SourceID      string          `json:"source_id"`
	Version       int             `json:"version"`                  // 1, or n > 1 for the n-th distinct version of a msgid
	ConflictsWith uint64          `json:"conflicts_with,omitempty"` // serial of version 1 when Version > 1
	Kind          Kind            `json:"kind"`
	SentAt        Time            `json:"sent_at"`
	Raw           BlobID          `json:"raw"`    // SHA-256 of the raw record (ordinal 0)
	Record        BlobID          `json:"record"` // SHA-256 of the normalized record (ordinal 1)
	RawSize       int             `json:"raw_size"`
	RecordSize    int             `json:"record_size"`
	Attachments   []AttachmentRef `json:"attachments,omitempty"`
	RefersTo      string          `json:"refers_to,omitempty"`
	Origin        string          `json:"origin,omitempty"` // where the bytes came from (e.g. "file:x.jsonl line 17", "api")
	RetainUntil   Time            `json:"retain_until"`
	// RetentionRule names the rule of the retention rule set (version
	// RetentionVersion) that gave RetainUntil; both omitted when the
	// archive's retention_years did (no rule set in force).
	RetentionRule    string `json:"retention_rule,omitempty"`
	RetentionVersion int    `json:"retention_version,omitempty"`
}

// AttachmentRef is the journal's view of an attachment: which blob, and
// whether the media was obtained intact.
type AttachmentRef struct {
	Blob   BlobID           `json:"blob"`
	Status AttachmentStatus `json:"status"`
}

// RejectEvent is the payload of input.rejected. The raw bytes are record 0.
type RejectEvent struct {
	Source      string `json:"source"`
	Origin      string `json:"origin"`          // file and line, or API request
	MsgID       string `json:"msgid,omitempty"` // when it could be read
	Field       string `json:"field,omitempty"`
	Reason      string `json:"reason"`
	Raw         BlobID `json:"raw"`
	RawSize     int    `json:"raw_size"`
	Truncated   bool   `json:"truncated,omitempty"` // only the first MaxQuarantineBytes were kept
	FullSize    int64  `json:"full_size,omitempty"`
	FullHash    BlobID `json:"full_hash,omitempty"` // SHA-256 of the whole input when truncated
	RetainUntil Time   `json:"retain_until"`
}

// SealEvent is the payload of records.sealed: the records introduced by
// journal events First..Last (inclusive) that share RetainUntil are now in Pack.
type SealEvent struct {
	Pack        BlobID `json:"pack"`
	First       uint64 `json:"first"`
	Last        uint64 `json:"last"`
	Count       int    `json:"count"`
	Bytes       int64  `json:"bytes"`
	RetainUntil Time   `json:"retain_until"`
}

// ArchiveCreated is the payload of archive.created, the first event.
type ArchiveCreated struct {
	ArchiveID      string `json:"archive_id"`
	Origin         string `json:"origin"`
	PublicKey      string `json:"public_key"`
	RetentionYears int    `json:"retention_years"`
	Version        string `json:"version"`
}

// ParticipantEvent is the payload of participant.updated. Values hold from
// ValidFrom until the next event for the same id, so a message is always
// attributed to who the sender was when it was sent.
type ParticipantEvent struct {
	ID               string          `json:"id"`
	Kind             ParticipantKind `json:"kind"`
	Name             string          `json:"name,omitempty"`
	Department       string          `json:"department,omitempty"`
	Title            string          `json:"title,omitempty"`
	SupervisoryGroup string          `json:"supervisory_group,omitempty"`
	ValidFrom        Time            `json:"valid_from"`
}

// Capture fault states.
const (
	FaultRaised   = "raised"
	FaultResolved = "resolved"
)

// CaptureFaultEvent is the payload of capture.fault: a connector raised or
// resolved a capture-health fault (DESIGN.md §1.7: gaps are reported,
// never papered over). A fault is identified by connector, kind and
// subject; it is open from a raise until a resolve of the same identity.
type CaptureFaultEvent struct {
	Connector string `json:"connector"`
	Kind      string `json:"kind"`              // e.g. media_failed, requests_rejected, employee_silent
	Subject   string `json:"subject,omitempty"` // what it concerns (a msgid, an employee id); empty for the connector itself
	State     string `json:"state"`             // raised or resolved
	Detail    string `json:"detail,omitempty"`  // why, for a human; never a secret or message content
}

// PolicyEvent is the payload of policy.applied: the whole policy file of
// one version, so an alert can always be traced to the rule that raised
// it.
type PolicyEvent struct {
	Policy  string `json:"policy"`
	Version int    `json:"version"` // 1, 2, … per policy
	SHA256  BlobID `json:"sha256"`  // of Source
	Source  string `json:"source"`  // the YAML as applied
}

// AlertEvent is the payload of alert.raised. The alert's id is the
// event's journal index.
type AlertEvent struct {
	Serial        uint64   `json:"serial"`
	Policy        string   `json:"policy"`
	PolicyVersion int      `json:"policy_version"`
	Rule          string   `json:"rule"`
	Spans         [][2]int `json:"spans"`                   // code points in the text (or attachment text)
	InAttachment  int      `json:"in_attachment,omitempty"` // 1-based, when the hit is in an attachment's text
	Masked        []string `json:"masked,omitempty"`        // detector values, masked
	// Department is the department of the employee concerned (the sender,
	// or the first employee of an inbound message) when the message was
	// sent, from the directory: the review queue the alert goes to.
	Department string `json:"department,omitempty"`
	// Detail says why a behaviour rule matched (e.g. how many external
	// recipients received the same text), in words for the reviewer.
	Detail string `json:"detail,omitempty"`
}

// ReviewEvent is the payload of review.action: the evidence of review
// (FINRA 3110.07) — who did what to which alerts, with the hashes of the
// messages and the policy versions concerned. The actor is the reviewer.
type ReviewEvent struct {
	Action      string       `json:"action"`                // view, claim, assign, comment, escalate, close, reopen
	Items       []ReviewItem `json:"items"`                 // the alerts acted on
	Disposition string       `json:"disposition,omitempty"` // close: no_issue, false_positive, violation
	Note        string       `json:"note,omitempty"`        // comment, remediation note, escalation reason
	Reason      string       `json:"reason,omitempty"`      // required for an action on several alerts
	Assignee    string       `json:"assignee,omitempty"`    // assign
}

// ReviewItem is one alert a review action concerns.
type ReviewItem struct {
	Alert         uint64 `json:"alert"`
	Serial        uint64 `json:"serial"`
	RecordHash    BlobID `json:"record_sha256"` // the message's normalized record
	Policy        string `json:"policy"`
	PolicyVersion int    `json:"policy_version"`
}

// AccessEvent is the payload of access.* events.
type AccessEvent struct {
	What    string   `json:"what"`              // "message", "proof", "consent:<external id>", "search"
	Serials []uint64 `json:"serials,omitempty"` // messages concerned (for a search: the ones shown)
	Via     string   `json:"via"`               // "cli", "api"
	// Search only: the query as typed, whether it was an exact-match scan,
	// and how many messages matched in all (not only those shown) — or at
	// least how many, when ResultsAtLeast (counting stopped at a bound).
	Query          string `json:"query,omitempty"`
	Exact          bool   `json:"exact,omitempty"`
	Results        *int64 `json:"results,omitempty"`
	ResultsAtLeast bool   `json:"results_at_least,omitempty"`
}

// AttachmentFetchedEvent is the payload of attachment.fetched: an
// attachment of an archived message whose media could not be fetched at
// capture (a callback's 3-second budget, a transient error) was fetched
// later from its source reference. The message's records are never
// rewritten; this event adds the blob, and the index shows the attachment
// as fetched from then on.
type AttachmentFetchedEvent struct {
	Serial    uint64 `json:"serial"`
	Ordinal   int    `json:"ordinal"` // the attachment's index in the message
	Blob      BlobID `json:"blob"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"` // sniffed from the bytes
	SourceRef string `json:"source_ref"`           // the media id it was fetched by
}

// KeyRotatedEvent is the payload of key.rotated: checkpoints after the one
// that commits this event are signed by PublicKey instead of PreviousKey.
// Note is a signed note (golang.org/x/mod/sumdb/note) by PreviousKey
// whose text is journal.RotationStatement(origin, PreviousKey, PublicKey):
// the old key vouches for the new, so a verifier holding any key of the
// chain (from archive.created's on) can follow it.
type KeyRotatedEvent struct {
	PublicKey   string `json:"public_key"`
	PreviousKey string `json:"previous_key"`
	Note        string `json:"note"`
}

// SupervisionProgressEvent is the payload of supervision.progress.
type SupervisionProgressEvent struct {
	From     uint64             `json:"from"`     // the supervisor's cursor before this batch
	Through  uint64             `json:"through"`  // its cursor after: serials From+1..Through were evaluated
	Policies []PolicyVersionRef `json:"policies"` // every policy version they were evaluated with
}

// PolicyVersionRef names one version of a policy.
type PolicyVersionRef struct {
	Policy  string `json:"policy"`
	Version int    `json:"version"`
}

// IsReadEvent reports whether an event of type typ with this payload only
// records that someone read the archive — an access.view, or a
// review.action whose action is "view" — and so adds no record and changes
// no grant, policy or review state. A journal tail of such events alone
// may wait longer for its segment (ingest's ReadSealDelay, docs/FORMAT.md
// §5): otherwise every short command that reads would leave a segment of
// its own.
func IsReadEvent(typ string, payload []byte) bool {
	switch typ {
	case EventAccessView:
		return true
	case EventReviewAction:
		var p struct {
			Action string `json:"action"`
		}
		return json.Unmarshal(payload, &p) == nil && p.Action == "view"
	}
	return false
}
