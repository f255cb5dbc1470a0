package archive

// Legal-hold events (docs/FORMAT.md §4.2, §11).
const (
	EventHoldCreated  = "hold.created"  // a legal hold: what it covers, who owns it, why
	EventHoldReleased = "hold.released" // a hold released (what it held stays held for its grace period)
)

// HoldScope is what a legal hold covers: the messages that match every
// criterion given (within a list, any value). A hold covers what is
// archived and what arrives while it is active alike.
type HoldScope struct {
	// Custodians are employee ids: a message they sent or received.
	Custodians    []string `json:"custodians,omitempty"`
	Conversations []string `json:"conversations,omitempty"`
	// Query is a search-language query (docs/SEARCH.md) the message's
	// text or an attachment's text must match.
	Query string `json:"query,omitempty"`
	From  Time   `json:"from,omitzero"` // sent at or after
	To    Time   `json:"to,omitzero"`   // sent before
}

// HoldEvent is the payload of hold.created.
type HoldEvent struct {
	Name   string    `json:"name"`   // unique over the archive, released or not
	Matter string    `json:"matter"` // the litigation, investigation or request
	Reason string    `json:"reason"`
	Owner  string    `json:"owner"` // who answers for it (a user)
	Scope  HoldScope `json:"scope"`
	// GraceDays is how long what the hold held stays held after its
	// release.
	GraceDays int `json:"grace_days"`
}

// HoldReleasedEvent is the payload of hold.released.
type HoldReleasedEvent struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}
