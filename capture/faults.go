package capture

import "context"

// Health is where a connector reports what happens to it: outcomes for
// the counts and metrics, faults for capture health. *Tracker implements
// it in a server; tests give their own. Contract: every method is safe
// for concurrent use, returns quickly and never fails the caller — a
// fault that cannot be journaled is logged by the implementation, because
// health bookkeeping must never take capture down. Raise journals a fault
// only if (connector, kind, subject) is not already open; Resolve journals
// its end only if it is open, and reports whether it did. detail is for a
// person: never a secret, a token or message content.
type Health interface {
	Observe(ctx context.Context, connector, outcome, detail string)
	Raise(ctx context.Context, connector, kind, subject, detail string)
	Resolve(ctx context.Context, connector, kind, subject, detail, actor string) bool
}

// PermitGauge is implemented by a Health that shows how many employees a
// wecom-archive connector's permit list holds (*Tracker does). Optional,
// so a Health that only counts and raises faults still fits.
type PermitGauge interface {
	SetPermitUsers(connector string, n int)
}

// Fault kinds (the kind of a capture.fault journal event, docs/FORMAT.md).
// Each is journaled when raised and when resolved.
const (
	FaultMediaFailed      = "media_failed"      // an attachment could not be fetched (subject: msgid)
	FaultRequestsRejected = "requests_rejected" // callback requests refused (bad signature, stale or replayed, key, XML…)
	FaultEmployeeSilent   = "employee_silent"   // no message sent by an employee for the configured days (subject: employee)
	FaultDataExpired      = "data_expired"      // the source no longer holds data not yet captured
	FaultSeqGap           = "seq_gap"           // sequence numbers skipped
	FaultKeyMissing       = "key_version_missing"
	FaultConsentWithdrawn = "consent_withdrawn"
	FaultPullFailed       = "pull_failed" // a pulling connector cannot pull (SDK, network, credentials)
	// An expected employee is not in WeCom's conversation-archive permit
	// list, so their conversations are silently not archived (subject:
	// employee).
	FaultPermitUserMissing = "permit_user_missing"
	// The permit list cannot be read, so permit_user_missing cannot be
	// checked (credentials, API permission, network).
	FaultPermitCheckFailed = "permit_check_failed"
	// An Official Account callback runs in plaintext mode, whose signature
	// covers only token, timestamp and nonce: anyone who sees one request
	// can forge messages within the freshness window. Raised at start for
	// as long as the configuration says `plaintext: true`.
	FaultPlaintextMode = "plaintext_mode"
	// A secret file ({file: PATH}) can be read by other users of the
	// machine (subject: the field). Checked at start, on every connector.
	FaultSecretExposed = "secret_exposed"
	// A message was archived with a field set aside that the decoder could
	// not use (subject: msgid); its details name the field and keep the
	// value as received.
	FaultDecodeWarning = "decode_warning"
)

// Outcomes a connector observes (Health.Observe): the outcome label of
// wxarchive_capture_messages_total and the counts of the health report.
const (
	OutcomeArchived        = "archived"         // a message archived (or a new version of one)
	OutcomeDuplicate       = "duplicate"        // already archived: nothing written
	OutcomeRejected        = "rejected"         // a request refused (signature, freshness, replay, XML…): raises requests_rejected
	OutcomeRejectedMessage = "rejected_message" // a message quarantined (undecryptable, undecodable)
	OutcomeMediaFailed     = "media_failed"     // an attachment not fetched intact (subject: msgid)
	OutcomeMediaFetched    = "media_fetched"    // every attachment of a message fetched after capture (subject: msgid)
	OutcomeDecodeWarning   = "decode_warning"   // a message archived with a field it could not use set aside (subject: msgid): raises decode_warning
	// Failed REST calls of a wecom-archive connector's api section.
	OutcomeRoomLookupFailed          = "room_lookup_failed"
	OutcomeCustomerGroupLookupFailed = "customer_group_lookup_failed"
	OutcomeConsentCheckFailed        = "consent_check_failed"
	OutcomePermitCheckFailed         = "permit_check_failed"
)
