// Package capture is the root of the capture connectors: what every
// connector shares and what the rest of the archive sees of them — the
// Connector contract, capture health (Health, the Tracker behind it, fault
// kinds and outcomes, defined once), the registry of connector types that
// serve builds its connectors from, and the vendor-neutral EntryIngester
// seam of the HTTP ingest route. The configuration schema of a connector
// is in capture/connector; each vendor's connectors are below (wecom/…,
// importer/) and only cmd/ picks them, through a Registry.
//
// Glossary:
//   - connector: one configured source of messages (a callback URL, a
//     pulled archive, a sync), with an id unique in the archive.
//   - source: the archive source name of what a connector captures
//     ("wecom-archive:<corp>"); (source, msgid) is ingest's idempotency key.
//   - cursor: how far a pulling connector has durably read; committed in
//     the transaction of the messages it delivered.
//   - acknowledgement: what tells the source a message is safe (a
//     callback's 200, a cursor advance); never before it is durable.
//   - fault: a capture-health problem journaled as capture.fault when
//     raised and when resolved (FaultMediaFailed, FaultSeqGap, …).
package capture
