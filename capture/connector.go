package capture

import (
	"context"

	"github.com/wxarchive/wxarchive/capture/connector"
)

// Connector is one running capture connector, built by its type's New
// (Registry.Build) from its configuration. The contract:
//
//   - Info names it: its configured id, its type, and the archive source of
//     what it captures. They do not change while it runs.
//   - Run captures until ctx is cancelled, then releases what it holds (an
//     SDK process, connections, timers) and returns nil. It returns an error
//     only when it cannot run at all; every transient failure (the network,
//     the source, the writer's push-back) is retried by Run itself and
//     reported through Health — a fault such as pull_failed, never a return:
//     capture does not stop by itself. Run is called once.
//   - Nothing is acknowledged to the source before it is durable. A callback
//     answers 200 only after the writer committed the message (so the
//     source's retries of an unanswered one are not lost, and those of an
//     archived one are duplicates); a pulling connector commits its cursor
//     in the transaction of the messages it delivered (SubmitWithCursor), so
//     a crash or restart resumes from the last durable batch and the replay
//     is absorbed by idempotent ingest: capture is at-least-once, the
//     archive holds each message once.
//   - What cannot be archived as a message is quarantined with the reason
//     (an ingest.Rejection keeping the source's bytes), never dropped; a gap
//     the connector notices (a skipped seq, expired data, lost media) is a
//     fault, never silence.
//
// A connector that receives requests (a callback URL) also implements
// http.Handler; one that a source's signal can start early implements Waker.
type Connector interface {
	Info() Info
	Run(ctx context.Context) error
}

// Info names a connector.
type Info struct {
	ID     string         // the configured id (unique in the archive)
	Type   connector.Type // e.g. "wecom-callback"
	Source string         // archive source of its messages, e.g. "wecom-archive:ww1234"
}

// Waker is a connector that a Signal may concern: Wake must not block (a
// wake-up already pending is enough) and ignores signals for others.
type Waker interface {
	Wake(Signal)
}

// Signal is a wake-up one connector receives for others: WeCom sends a
// msgaudit_notify or kf_msg_or_event event to an app's callback URL when
// conversation-archive or customer-service data is waiting.
type Signal struct {
	Kind  string // SignalMsgauditNotify or SignalKF
	Corp  string // the corp the data belongs to
	Token string // kf_msg_or_event's token: lifts sync_msg's rate limit for ten minutes
	// OpenKfID is the customer-service account kf_msg_or_event concerns.
	OpenKfID string
	From     string // the id of the connector that received it, for logs
}

// Signal kinds.
const (
	SignalMsgauditNotify = "msgaudit_notify" // new conversation-archive data: pull now
	SignalKF             = "kf_msg_or_event" // new customer-service messages: sync now
)
