// Package demo generates a deterministic, realistic synthetic WeCom
// conversation archive: the input `wxarchive demo` ingests through the same
// path as real data, and the corpus benchmarks, search and supervision
// policies are tested on.
//
// Glossary:
//
//   - line: one decrypted msgaudit message as the Finance SDK's DecryptData
//     returns it (see capture/wecom/msgaudit/testdata/all-types.jsonl), in
//     msgtime order; msgtime (or time, for switch) strictly increases.
//   - media: the bytes behind an sdkfileid (JPEG, AMR-NB, H.264 MP4, PDF,
//     DOCX, XLSX, TXT, CSV, GIF, PNG). Distinct files come from a small pool
//     and are emitted once, before the first line that references them;
//     md5sum and sizes in the lines match the bytes.
//   - directory: the firm (three departments, supervisory groups), its
//     external clients (wm…, some writing traditional Chinese), robots (wb…)
//     and group chats (wr…). Directory returns it without generating messages.
//   - consent: agree/disagree events; a client who has not agreed never
//     appears in a 1:1 chat, as WeCom does not archive such chats.
//   - planted: messages a supervision policy must catch (guaranteed returns,
//     off-channel, deleting records, resident ID and bank card numbers,
//     insider cues, gifts, complaints) and near misses it must not (bad check
//     digits, risk disclosures). Summary.Planted is their ground truth.
//   - seed: the only source of randomness (math/rand/v2 PCG); the same Config
//     gives byte-identical lines and media.
package demo
