// Package msgaudit decodes WeCom conversation-archive (会话内容存档,
// "msgaudit") messages — one decrypted JSON object per line, as the Finance
// SDK's DecryptData returns them — into archive.Message. It only decodes:
// the caller keeps the raw line byte for byte as evidence, fetches media and
// stores records. The callers are msgaudit/pull (the connector pulling the
// archive through the SDK) and msgaudit/jsonl (files and ingest requests of
// decrypted JSON lines).
//
// Glossary:
//   - msgid: the message's id at WeCom, kept verbatim (it may end in
//     "_external" or "_updown_stream"); becomes Message.SourceID.
//   - action: send, recall (msgtype revoke, revoke.pre_msgid naming the
//     recalled message → RefersTo) or switch (a user switched enterprise:
//     {"msgid","action":"switch","time","user"}, no msgtype, no conversation).
//   - from / tolist / roomid: sender, recipients, and the group chat id ("" or
//     absent for a 1:1 chat, whose conversation id is then
//     "direct:" + the sorted distinct participant ids joined by "|").
//   - userid / external_userid: employees have userids; external contacts'
//     ids start with "wm" or "wo"; robots' ids start with "wb"
//     (ClassifyParticipant).
//   - msgtype and content key: the content object sits under the msgtype's
//     name, except docmsg → "doc", markdown and news → "info", and
//     external_redpacket → "redpacket" (either key is accepted for both red
//     packet types). vote and todo may instead be flattened into the top
//     level. Every documented msgtype needs its content object; an unknown
//     msgtype is never an error (Kind unknown, all its strings become Text).
//   - sdkfileid / md5sum: the handle to fetch a media file through
//     GetMediaData and the checksum the fetched bytes must match. Each media
//     object becomes a pending Attachment (missing if it has no sdkfileid).
//   - chatrecord (合并转发, a forwarded chat excerpt) and mixed (图文混排):
//     their items carry their content as a JSON document encoded in a string;
//     items are decoded like messages of their type, media in them become
//     attachments with role "item[i]".
//   - agree / disagree: an external contact's consent (or refusal) to
//     archiving → Message.Consent.
//   - 分 (fen): red packet amounts are in 1/100 yuan; Details show both.
//   - units: msgtime, time and agree_time are milliseconds; meeting,
//     calendar, meeting_voice_call and chatrecord item times are seconds.
//
// Text is every human-readable string of the message, for search, parts
// joined by "\n" in this order (blank parts dropped): text: content. file:
// filename. link: title, description, link_url. weapp: title, description,
// displayname. location: title, address. card: corpname. chatrecord: title,
// then each item's text. mixed: each item's text. redpacket: wish. todo:
// title, content. vote: votetitle, each voteitem. collect: title,
// room_name, each question. meeting: topic, remarks, address. docmsg: title.
// markdown: content. news: each item's title, description. calendar:
// title, place, remarks, each attendee. sphfeed: sph_name, feed_desc.
// meeting_voice_call: each demo file name. voip_doc_share: filename.
// Unknown: every string value, object keys in sorted order (an object there
// with an sdkfileid also becomes an attachment with role "media", so its
// media is fetched like any other).
//
// Details hold the fields worth showing, as strings: times in RFC 3339 at
// Beijing time (+08:00), money as "30.00 元" plus the amount in fen,
// documented codes with their meaning ("普通红包 (1)").
//
// Decoding is strict about the line and lenient about what WeCom varies:
// invalid UTF-8, a syntax error, a missing or mistyped common field, a time
// outside 2000–2100 or a value over a limit (MaxLineBytes…) rejects the whole
// line with a *DecodeError naming the field; raw control characters inside
// strings (which DecryptData emits), numbers sent as strings, unknown fields
// and unknown msgtypes are accepted. Keys follow encoding/json: a duplicate
// key keeps its last value, and keys match case-insensitively.
package msgaudit
