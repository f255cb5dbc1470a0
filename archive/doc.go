// Package archive holds the domain types of wxarchive: the canonical
// normalized message, its attachments and participants, content-addressed
// blob identities, and the errors shared by every layer.
//
// Glossary:
//   - serial: the gap-free, monotonic number of an archived message version
//     (SEC 17a-4 "serialize"); assigned when the message becomes durable.
//   - source / source id: the connector a message came from and its id there
//     (WeCom msgid). (source, source id) is the idempotency key of ingest.
//   - raw record: the exact bytes the source delivered; normalized record: the
//     canonical JSON of Message. Both are content-addressed by SHA-256.
//   - blob: a content-addressed object in the WORM blob store (attachments,
//     packs of small records, sealed journal segments).
package archive
