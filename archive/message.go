package archive

// Kind is the normalized type of a message. The source's own type name is
// kept in Message.SourceType; Kind groups equivalent source types.
type Kind string

// Message kinds (DESIGN.md §3). Sources map their types onto these; anything
// a source sends that has no mapping becomes KindUnknown and is still archived.
const (
	KindText       Kind = "text"
	KindImage      Kind = "image"
	KindVoice      Kind = "voice"
	KindVideo      Kind = "video"
	KindFile       Kind = "file"
	KindLink       Kind = "link"
	KindLocation   Kind = "location"
	KindCard       Kind = "card"
	KindEmotion    Kind = "emotion"
	KindWeapp      Kind = "weapp"
	KindChatRecord Kind = "chatrecord"
	KindMixed      Kind = "mixed"
	KindRedPacket  Kind = "redpacket"
	KindTodo       Kind = "todo"
	KindVote       Kind = "vote"
	KindCollect    Kind = "collect"
	KindMeeting    Kind = "meeting"
	KindDocMsg     Kind = "docmsg"
	KindMarkdown   Kind = "markdown"
	KindNews       Kind = "news"
	KindCalendar   Kind = "calendar"
	KindSphFeed    Kind = "sphfeed"
	KindVoip       Kind = "voip"
	KindRevoke     Kind = "revoke"
	KindAgree      Kind = "agree"
	KindDisagree   Kind = "disagree"
	KindSwitch     Kind = "switch"
	KindEvent      Kind = "event"
	KindUnknown    Kind = "unknown"
)

// Action says what the sender did.
type Action string

// Actions.
const (
	ActionSend   Action = "send"
	ActionRecall Action = "recall"
	ActionSwitch Action = "switch"
)

// Direction says which side of the firm's boundary a message crossed,
// derived from which participants are employees.
type Direction string

// Directions.
const (
	DirectionInternal Direction = "internal" // every participant is an employee (or a firm bot)
	DirectionInbound  Direction = "inbound"  // sent by an external party to the firm
	DirectionOutbound Direction = "outbound" // sent by the firm to at least one external party
	DirectionNone     Direction = ""         // no conversation (e.g. a switch event)
)

// ParticipantKind classifies a participant id.
type ParticipantKind string

// Participant kinds.
const (
	ParticipantEmployee ParticipantKind = "employee"
	ParticipantExternal ParticipantKind = "external"
	ParticipantBot      ParticipantKind = "bot"
)

// ConversationKind is direct (two parties) or group (a room).
type ConversationKind string

// Conversation kinds.
const (
	ConversationDirect ConversationKind = "direct"
	ConversationGroup  ConversationKind = "group"
	ConversationNone   ConversationKind = ""
)

// Message is the canonical normalized message (DESIGN.md §3). Its canonical
// JSON encoding is the normalized record stored next to the raw record. The
// serial is not part of it: a serial is assigned at commit and lives in the
// journal event that archives the record.
type Message struct {
	Schema           int              `json:"schema"`              // RecordSchema
	Source           string           `json:"source"`              // connector id, e.g. "wecom-archive:ww123"
	SourceID         string           `json:"source_id"`           // msgid at the source
	SourceType       string           `json:"source_type"`         // the source's own type name (msgtype)
	Kind             Kind             `json:"kind"`                // normalized type
	Action           Action           `json:"action"`              // send, recall, switch
	SentAt           Time             `json:"sent_at"`             // source time
	Conversation     string           `json:"conversation"`        // room id, or a stable id of the 1:1 pair
	ConversationKind ConversationKind `json:"conversation_kind"`   // direct or group
	Sender           string           `json:"sender"`              // participant id
	Recipients       []string         `json:"recipients"`          // participant ids, as delivered
	Participants     []Participant    `json:"participants"`        // everyone named above, classified
	Direction        Direction        `json:"direction"`           // from which participants are employees
	Text             string           `json:"text"`                // all human-readable text, for search
	Details          []Detail         `json:"details,omitempty"`   // structured fields worth showing, in order
	Attachments      []Attachment     `json:"attachments"`         // media and files, in source order
	RefersTo         string           `json:"refers_to,omitempty"` // source id this message refers to (recall → pre_msgid)
	Consent          *Consent         `json:"consent,omitempty"`   // for agree/disagree events
	// TimeUnknown: the source gave no usable time (missing, 0, impossible),
	// so SentAt is when the message was captured; views say so.
	TimeUnknown bool `json:"time_unknown,omitempty"`
}

// RecordSchema is the version of the normalized record layout.
const RecordSchema = 1

// Detail is one named, human-readable field of a message (a link's URL, a
// location's coordinates, a meeting's start time…) in the order a reader
// would expect to see them.
type Detail struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Participant is a party named by a message, classified at capture time.
type Participant struct {
	ID   string          `json:"id"`
	Kind ParticipantKind `json:"kind"`
}

// Consent records an external contact agreeing or refusing to have their
// conversation archived (WeCom agree/disagree events).
type Consent struct {
	ExternalID string `json:"external_id"`
	Agreed     bool   `json:"agreed"`
	At         Time   `json:"at"`
}

// AttachmentStatus is the fetch state of an attachment's bytes.
type AttachmentStatus string

// Attachment statuses. Anything other than fetched is a capture-health fact
// the archive reports, never hides.
const (
	AttachmentFetched     AttachmentStatus = "fetched"      // bytes stored, checksum matched (or none given)
	AttachmentMD5Mismatch AttachmentStatus = "md5_mismatch" // bytes stored, but they differ from the source checksum
	AttachmentMissing     AttachmentStatus = "missing"      // the media was not available
	AttachmentPending     AttachmentStatus = "pending"      // not fetched yet
	AttachmentFailed      AttachmentStatus = "failed"       // fetching failed; Reason says why
)

// Attachment is one media item or file of a message.
type Attachment struct {
	Role         string           `json:"role"`                    // image, file, voice, video, emotion, voip, or "item[2]" inside mixed/chatrecord
	Blob         BlobID           `json:"blob"`                    // zero unless bytes were stored
	Size         int64            `json:"size"`                    // stored byte count (0 if none)
	DeclaredSize int64            `json:"declared_size,omitempty"` // size the source announced
	MediaType    string           `json:"media_type,omitempty"`    // sniffed from the bytes, not the name
	FileName     string           `json:"file_name,omitempty"`
	SourceRef    string           `json:"source_ref,omitempty"` // sdkfileid / media id at the source
	SourceMD5    string           `json:"source_md5,omitempty"` // checksum the source announced (hex)
	Status       AttachmentStatus `json:"status"`
	Reason       string           `json:"reason,omitempty"`
	// Text is the readable text extracted from the bytes of a text-like
	// file (docx, xlsx, pptx, txt, csv) at capture, for search.
	Text string `json:"text,omitempty"`
}
