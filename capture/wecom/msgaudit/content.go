package msgaudit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// decoder carries what a message's content contributes while it is decoded:
// text parts, details, attachments, and the budget of items expanded.
type decoder struct {
	env  *envelope
	body []byte // the decoded copy of the line (control bytes escaped)

	sender string
	sentAt archive.Time

	text     strings.Builder // Text once it has two parts or more
	text1    string          // Text while it has at most one part: no copy
	details  []archive.Detail
	atts     []archive.Attachment
	refersTo string
	consent  *archive.Consent

	warnings []warning // fields set aside (keep.go)

	items int // array elements expanded so far (MaxItems)
	depth int // chatrecord/mixed item nesting; 0 for the message itself
}

// handler decodes one content object. raw is the object, path its JSON path
// (for errors), role the attachment role media in it get.
type handler func(d *decoder, raw []byte, path, role string) *DecodeError

type kindSpec struct {
	kind archive.Kind
	keys []string // content keys, in order of preference
	role string   // attachment role at the top level
	flat bool     // the content may instead be flattened into the top level
	fn   handler
}

// kinds maps each documented msgtype to its Kind, the keys its content may
// sit under and its decoder.
var kinds = map[string]kindSpec{
	"text":               {kind: archive.KindText, keys: []string{"text"}, fn: textContent},
	"image":              {kind: archive.KindImage, keys: []string{"image"}, role: "image", fn: imageContent},
	"voice":              {kind: archive.KindVoice, keys: []string{"voice"}, role: "voice", fn: voiceContent},
	"video":              {kind: archive.KindVideo, keys: []string{"video"}, role: "video", fn: videoContent},
	"file":               {kind: archive.KindFile, keys: []string{"file"}, role: "file", fn: fileContent},
	"emotion":            {kind: archive.KindEmotion, keys: []string{"emotion"}, role: "emotion", fn: emotionContent},
	"link":               {kind: archive.KindLink, keys: []string{"link"}, fn: linkContent},
	"weapp":              {kind: archive.KindWeapp, keys: []string{"weapp"}, fn: weappContent},
	"location":           {kind: archive.KindLocation, keys: []string{"location"}, fn: locationContent},
	"card":               {kind: archive.KindCard, keys: []string{"card"}, fn: cardContent},
	"chatrecord":         {kind: archive.KindChatRecord, keys: []string{"chatrecord"}, fn: chatRecordContent},
	"mixed":              {kind: archive.KindMixed, keys: []string{"mixed"}, fn: mixedContent},
	"redpacket":          {kind: archive.KindRedPacket, keys: []string{"redpacket", "external_redpacket"}, fn: redPacketContent},
	"external_redpacket": {kind: archive.KindRedPacket, keys: []string{"redpacket", "external_redpacket"}, fn: redPacketContent},
	"todo":               {kind: archive.KindTodo, keys: []string{"todo"}, flat: true, fn: todoContent},
	"vote":               {kind: archive.KindVote, keys: []string{"vote"}, flat: true, fn: voteContent},
	"collect":            {kind: archive.KindCollect, keys: []string{"collect"}, fn: collectContent},
	"meeting":            {kind: archive.KindMeeting, keys: []string{"meeting"}, fn: meetingContent},
	"docmsg":             {kind: archive.KindDocMsg, keys: []string{"doc", "docmsg"}, fn: docContent},
	"markdown":           {kind: archive.KindMarkdown, keys: []string{"info", "markdown"}, fn: markdownContent},
	"news":               {kind: archive.KindNews, keys: []string{"info", "news"}, fn: newsContent},
	"calendar":           {kind: archive.KindCalendar, keys: []string{"calendar"}, fn: calendarContent},
	"sphfeed":            {kind: archive.KindSphFeed, keys: []string{"sphfeed"}, fn: sphFeedContent},
	"meeting_voice_call": {kind: archive.KindVoip, keys: []string{"meeting_voice_call"}, role: "voip", fn: voiceCallContent},
	"voip_doc_share":     {kind: archive.KindFile, keys: []string{"voip_doc_share"}, role: "file", fn: voipDocContent},
	"voiptext":           {kind: archive.KindVoip, keys: []string{"info", "voiptext"}, fn: voipTextContent},
	"qydiskfile":         {kind: archive.KindFile, keys: []string{"info", "qydiskfile"}, fn: diskFileContent},
	"revoke":             {kind: archive.KindRevoke, keys: []string{"revoke"}, fn: revokeContent},
	"agree":              {kind: archive.KindAgree, keys: []string{"agree"}, fn: agreeContent},
	"disagree":           {kind: archive.KindDisagree, keys: []string{"disagree"}, fn: disagreeContent},
}

// known decodes the content of a documented msgtype.
func (d *decoder) known(m *archive.Message, spec kindSpec) *DecodeError {
	d.sender, d.sentAt = m.Sender, m.SentAt
	var raw []byte
	key := ""
	for _, k := range spec.keys {
		if r := d.env.content(k); r != nil {
			raw, key = r, k
			break
		}
	}
	if raw == nil {
		if !spec.flat {
			return fieldErr(spec.keys[0], "missing: msgtype %q carries its content there", m.SourceType)
		}
		raw = d.body // vote/todo flattened into the top level
	}
	return spec.fn(d, raw, key, spec.role)
}

// --- text, details, attachments, budgets ---

// addText appends one part of Message.Text. Parts are joined by "\n" in the
// order the handlers add them (documented per kind in doc.go); blank parts
// are dropped so they cannot shift what a search snippet shows.
func (d *decoder) addText(at loc, s string) *DecodeError {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	have := d.textLen()
	n := have + len(s)
	if have > 0 {
		n++
	}
	if n > MaxTextBytes {
		return limitErr(at.String(), "extracted text reaches %d bytes, over the limit of %d (MaxTextBytes)", n, MaxTextBytes)
	}
	switch {
	case have == 0:
		d.text1 = s
	case d.text.Len() == 0:
		d.text.Grow(n + 64)
		d.text.WriteString(d.text1)
		fallthrough
	default:
		d.text.WriteByte('\n')
		d.text.WriteString(s)
	}
	return nil
}

func (d *decoder) textLen() int {
	if d.text.Len() > 0 {
		return d.text.Len()
	}
	return len(d.text1)
}

// textString returns the joined Text.
func (d *decoder) textString() string {
	if d.text.Len() > 0 {
		return d.text.String()
	}
	return d.text1
}

// detail appends a Detail. Items inside mixed/chatrecord contribute text and
// attachments but no details: their fields would drown the message's own.
func (d *decoder) detail(name, value string) {
	if d.depth > 0 || value == "" {
		return
	}
	if d.details == nil {
		d.details = make([]archive.Detail, 0, 6) // most kinds have a handful
	}
	d.details = append(d.details, archive.Detail{Name: name, Value: value})
}

func (d *decoder) intDetail(name string, n num, at loc, want string) *DecodeError {
	v, ok, err := n.int(at, want)
	if err != nil {
		return err
	}
	if ok {
		d.detail(name, strconv.FormatInt(v, 10))
	}
	return nil
}

// codeDetail renders an enumerated code with its documented meaning.
func (d *decoder) codeDetail(name string, n num, at loc, labels map[int64]string) *DecodeError {
	v, ok, err := n.int(at, "an integer code")
	if err != nil || !ok {
		return err
	}
	s := strconv.FormatInt(v, 10)
	if l, found := labels[v]; found {
		s = l + " (" + s + ")"
	}
	d.detail(name, s)
	return nil
}

// secondsDetail renders a time in seconds as RFC 3339. WeCom sends 0 for
// "not set", so 0 adds nothing.
func (d *decoder) secondsDetail(name string, n num, at loc) *DecodeError {
	v, ok, err := n.int(at, "a number of seconds")
	if err != nil || !ok || v == 0 {
		return err
	}
	d.detail(name, renderSeconds(v))
	return nil
}

// renderSeconds renders a Unix time in seconds in Beijing time. A value too
// large to be seconds is taken as milliseconds (some producers mix them up);
// an implausible one is shown as received rather than as a wrong date.
func renderSeconds(v int64) string {
	if v >= 1e11 || v <= -1e11 {
		return renderMillis(v)
	}
	return renderTime(time.Unix(v, 0), v)
}

func renderMillis(v int64) string { return renderTime(time.UnixMilli(v), v) }

func renderTime(t time.Time, v int64) string {
	if t.Before(minTime) || !t.Before(maxTime) {
		return strconv.FormatInt(v, 10)
	}
	return t.In(chinaTime).Format(time.RFC3339)
}

// count spends n items of the MaxItems budget.
func (d *decoder) count(n int, field string) *DecodeError {
	d.items += n
	if d.items > MaxItems {
		return limitErr(field, "the message expands to %d items, over the limit of %d (MaxItems)", d.items, MaxItems)
	}
	return nil
}

// media is the union of the media content objects' fields.
type media struct {
	MD5Sum     string `json:"md5sum"`
	SDKFileID  string `json:"sdkfileid"`
	FileSize   num    `json:"filesize"`
	VoiceSize  num    `json:"voice_size"`
	ImageSize  num    `json:"imagesize"`
	PlayLength num    `json:"play_length"`
	FileName   string `json:"filename"`
	FileExt    string `json:"fileext"`
	Type       num    `json:"type"`
	Width      num    `json:"width"`
	Height     num    `json:"height"`
}

// size returns the declared size from the first of keys present.
func (m *media) size(path string, keys ...string) (int64, *DecodeError) {
	for _, k := range keys {
		var n num
		switch k {
		case "filesize":
			n = m.FileSize
		case "voice_size":
			n = m.VoiceSize
		case "imagesize":
			n = m.ImageSize
		}
		v, ok, err := n.int(loc{path, k}, "a size in bytes")
		if err != nil {
			return 0, err
		}
		if ok {
			if v < 0 {
				return 0, fieldErr(joinPath(path, k), "want a size in bytes, got %d", v)
			}
			return v, nil
		}
	}
	return 0, nil
}

// attach records a media object as a pending attachment. The md5sum is
// lower-cased when it is 32 hex digits; otherwise it is kept verbatim (it is
// what the source said) and can never match a fetched file, which the
// fetcher then reports as md5_mismatch. A media object without an sdkfileid
// can never be fetched: it is recorded as missing, never dropped.
func (d *decoder) attach(role string, m *media, size int64, fileName string) {
	a := archive.Attachment{
		Role:         role,
		SourceRef:    m.SDKFileID,
		DeclaredSize: size,
		FileName:     fileName,
		SourceMD5:    m.MD5Sum,
		Status:       archive.AttachmentPending,
	}
	if isMD5(m.MD5Sum) {
		a.SourceMD5 = strings.ToLower(m.MD5Sum)
	}
	if m.SDKFileID == "" {
		a.Status, a.Reason = archive.AttachmentMissing, "no sdkfileid"
	}
	d.atts = append(d.atts, a)
}

func isMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (d *decoder) decodeMedia(raw []byte, path string) (*media, *DecodeError) {
	var m media
	if err := unmarshalObject(raw, path, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// --- per-kind content ---

func textContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Content string `json:"content"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	return d.addText(loc{path, "content"}, c.Content)
}

func imageContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, "")
	if m.FileSize.set() {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	d.detail("md5sum", m.MD5Sum)
	return nil
}

func voiceContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "voice_size", "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, "")
	if err := d.intDetail("duration_s", m.PlayLength, loc{path, "play_length"}, "a number of seconds"); err != nil {
		return err
	}
	if size > 0 {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	d.detail("format", "AMR") // msgaudit voice is always AMR (document 91774)
	return nil
}

func videoContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, "")
	if err := d.intDetail("duration_s", m.PlayLength, loc{path, "play_length"}, "a number of seconds"); err != nil {
		return err
	}
	if m.FileSize.set() {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	return nil
}

func fileContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, m.FileName)
	if err := d.addText(loc{path, "filename"}, m.FileName); err != nil {
		return err
	}
	d.detail("file_name", m.FileName)
	d.detail("file_ext", m.FileExt)
	if m.FileSize.set() {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	return nil
}

var emotionTypes = map[int64]string{1: "gif", 2: "png"}

func emotionContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "imagesize", "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, "")
	if err := d.codeDetail("emotion_type", m.Type, loc{path, "type"}, emotionTypes); err != nil {
		return err
	}
	if err := d.intDetail("width", m.Width, loc{path, "width"}, "a number of pixels"); err != nil {
		return err
	}
	if err := d.intDetail("height", m.Height, loc{path, "height"}, "a number of pixels"); err != nil {
		return err
	}
	if size > 0 {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	return nil
}

// texts adds several text parts; fields are the JSON keys below path.
func (d *decoder) texts(path string, kv ...string) *DecodeError {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := d.addText(loc{path, kv[i]}, kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func linkContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		LinkURL     string `json:"link_url"`
		ImageURL    string `json:"image_url"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "description", c.Description, "link_url", c.LinkURL); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("description", c.Description)
	d.detail("url", c.LinkURL)
	d.detail("image_url", c.ImageURL)
	return nil
}

func weappContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		UserName    string `json:"username"`
		DisplayName string `json:"displayname"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "description", c.Description, "displayname", c.DisplayName); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("description", c.Description)
	d.detail("app_name", c.DisplayName)
	d.detail("username", c.UserName)
	return nil
}

func locationContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Longitude num    `json:"longitude"`
		Latitude  num    `json:"latitude"`
		Address   string `json:"address"`
		Title     string `json:"title"`
		Zoom      num    `json:"zoom"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	lat, err := c.Latitude.float(loc{path, "latitude"})
	if err != nil {
		return err
	}
	lon, err := c.Longitude.float(loc{path, "longitude"})
	if err != nil {
		return err
	}
	zoom, err := c.Zoom.float(loc{path, "zoom"})
	if err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "address", c.Address); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("address", c.Address)
	d.detail("latitude", lat)
	d.detail("longitude", lon)
	d.detail("zoom", zoom)
	return nil
}

func cardContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		CorpName string `json:"corpname"`
		UserID   string `json:"userid"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.addText(loc{path, "corpname"}, c.CorpName); err != nil {
		return err
	}
	d.detail("corpname", c.CorpName)
	d.detail("userid", c.UserID)
	return nil
}

func chatRecordContent(d *decoder, raw []byte, path, role string) *DecodeError {
	var c struct {
		Title string          `json:"title"`
		Item  json.RawMessage `json:"item"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.addText(loc{path, "title"}, c.Title); err != nil {
		return err
	}
	n, first, last, err := d.itemList(c.Item, joinPath(path, "item"), role, true)
	if err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("items", strconv.Itoa(n))
	if first != 0 {
		d.detail("first_item_time", renderSeconds(first))
	}
	if last != 0 {
		d.detail("last_item_time", renderSeconds(last))
	}
	return nil
}

func mixedContent(d *decoder, raw []byte, path, role string) *DecodeError {
	var c struct {
		Item json.RawMessage `json:"item"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	n, _, _, err := d.itemList(c.Item, joinPath(path, "item"), role, false)
	if err != nil {
		return err
	}
	d.detail("items", strconv.Itoa(n))
	return nil
}

// itemKinds are the kinds an item of chatrecord/mixed may have. revoke,
// agree and disagree are left out: they describe the message itself, so
// inside a forwarded record they are only text.
var itemKinds map[string]kindSpec

// init builds itemKinds from kinds; an initializer expression would be an
// initialization cycle (kinds → chatRecordContent → itemList → itemKinds).
func init() {
	itemKinds = make(map[string]kindSpec, len(kinds)+1)
	for k, v := range kinds {
		switch k {
		case "revoke", "agree", "disagree":
			continue
		}
		itemKinds[k] = v
	}
	itemKinds["doc"] = kinds["docmsg"]
}

// itemType maps an item's type to a msgtype: chatrecord items say
// "ChatRecordText", "ChatRecordImage"…, mixed items "text", "image"…, and a
// nested merged forward "chatrecord".
func itemType(t string) string {
	l := strings.ToLower(t)
	if l == "chatrecord" {
		return l
	}
	return strings.TrimPrefix(l, "chatrecord")
}

// itemList decodes the items of chatrecord or mixed. Each item's content is
// a JSON document encoded in a string (an object is accepted too) and is
// decoded like a message of the item's type; media in it become attachments
// with role "item[i]" ("item[i].item[j]" when nested). first and last are
// the chatrecord items' earliest and latest msgtime (seconds).
func (d *decoder) itemList(raw []byte, path, role string, chatrecord bool) (n int, first, last int64, derr *DecodeError) {
	elems, err := objectList(raw, path, false)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(elems) == 0 {
		return 0, 0, 0, nil
	}
	if err := d.count(len(elems), path); err != nil {
		return 0, 0, 0, err
	}
	if d.depth >= MaxNesting {
		return 0, 0, 0, limitErr(path, "items nested deeper than %d levels (MaxNesting)", MaxNesting)
	}
	prefix := ""
	if d.depth > 0 {
		prefix = role + "."
	}
	for i, e := range elems {
		ip := indexPath(path, i)
		var it struct {
			Type    string          `json:"type"`
			MsgTime num             `json:"msgtime"`
			Content json.RawMessage `json:"content"`
		}
		if err := unmarshalObject(e, ip, &it); err != nil {
			return 0, 0, 0, err
		}
		if chatrecord {
			t, ok, err := it.MsgTime.int(loc{ip, "msgtime"}, "a number of seconds")
			if err != nil {
				return 0, 0, 0, err
			}
			if ok && t != 0 {
				if first == 0 || t < first {
					first = t
				}
				if t > last {
					last = t
				}
			}
		}
		cp := joinPath(ip, "content")
		content, err := itemContent(it.Content, cp)
		if err != nil {
			return 0, 0, 0, err
		}
		itemRole := prefix + indexPath("item", i)
		d.depth++
		if spec, ok := itemKinds[itemType(it.Type)]; ok {
			err = spec.fn(d, content, cp, itemRole)
		} else {
			err = d.unknownValue(content, cp, itemRole)
		}
		d.depth--
		if err != nil {
			return 0, 0, 0, err
		}
	}
	return len(elems), first, last, nil
}

// itemContent returns the JSON object an item's content holds. Absent, null
// or "" content decodes as an empty object, so a media item without content
// still shows up as a missing attachment.
func itemContent(raw []byte, path string) ([]byte, *DecodeError) {
	switch firstByte(raw) {
	case 0, 'n':
		if isNull(raw) {
			return []byte("{}"), nil
		}
	case '{':
		return raw, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, jsonErr(err, path)
		}
		b := trimSpace([]byte(s))
		if len(b) == 0 {
			return []byte("{}"), nil
		}
		lead := int64(len(s) - len(trimSpaceLeft([]byte(s))))
		var orig []byte
		if hasControl(b) {
			orig, b = b, escapeControls(b)
		}
		if !json.Valid(b) {
			de := lineSyntaxErr(b, orig, lead)
			de.Field = path
			de.Reason = "the content string is " + de.Reason
			return nil, de
		}
		if b[0] != '{' {
			return nil, fieldErr(path, "want a string holding a JSON object, got a string holding %s", describe(b))
		}
		return b, nil
	}
	return nil, fieldErr(path, "want a string holding a JSON object, got %s", describe(raw))
}

var redPacketTypes = map[int64]string{1: "普通红包", 2: "拼手气群红包", 3: "激励群红包"}

func redPacketContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Type        num    `json:"type"`
		Wish        string `json:"wish"`
		TotalCnt    num    `json:"totalcnt"`
		TotalAmount num    `json:"totalamount"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.addText(loc{path, "wish"}, c.Wish); err != nil {
		return err
	}
	if err := d.codeDetail("redpacket_type", c.Type, loc{path, "type"}, redPacketTypes); err != nil {
		return err
	}
	d.detail("wish", c.Wish)
	if err := d.intDetail("total_count", c.TotalCnt, loc{path, "totalcnt"}, "an integer count"); err != nil {
		return err
	}
	fen, ok, err := c.TotalAmount.int(loc{path, "totalamount"}, "an amount in fen")
	if err != nil {
		return err
	}
	if ok {
		d.detail("amount", yuan(fen))
		d.detail("amount_fen", strconv.FormatInt(fen, 10))
	}
	return nil
}

// yuan renders an amount in 分 (fen, 1/100 yuan) as "30.00 元", exactly:
// money is never put through floating point.
func yuan(fen int64) string {
	sign, u := "", uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-(fen+1))+1
	}
	return fmt.Sprintf("%s%d.%02d 元", sign, u/100, u%100)
}

func todoContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Title   string `json:"title"`
		Content string `json:"content"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "content", c.Content); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("content", c.Content)
	return nil
}

var voteTypes = map[int64]string{101: "发起投票", 102: "参与投票"}

func voteContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		VoteTitle string          `json:"votetitle"`
		VoteItem  json.RawMessage `json:"voteitem"`
		VoteType  num             `json:"votetype"`
		VoteID    num             `json:"voteid"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	ip := joinPath(path, "voteitem")
	items, err := stringList(c.VoteItem, ip, false)
	if err != nil {
		return err
	}
	if err := d.count(len(items), ip); err != nil {
		return err
	}
	if err := d.addText(loc{path, "votetitle"}, c.VoteTitle); err != nil {
		return err
	}
	d.detail("title", c.VoteTitle)
	for i, it := range items {
		if err := d.addText(loc{indexPath(ip, i), ""}, it); err != nil {
			return err
		}
		d.detail("option", it)
	}
	if err := d.codeDetail("vote_type", c.VoteType, loc{path, "votetype"}, voteTypes); err != nil {
		return err
	}
	id, err := c.VoteID.str(loc{path, "voteid"})
	if err != nil {
		return err
	}
	d.detail("vote_id", id)
	return nil
}

func collectContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		RoomName   string          `json:"room_name"`
		Creator    string          `json:"creator"`
		CreateTime num             `json:"create_time"`
		Title      string          `json:"title"`
		Details    json.RawMessage `json:"details"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	qp := joinPath(path, "details")
	qs, err := objectList(c.Details, qp, false)
	if err != nil {
		return err
	}
	if err := d.count(len(qs), qp); err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "room_name", c.RoomName); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("room_name", c.RoomName)
	d.detail("creator", c.Creator)
	created, err := collectTime(c.CreateTime, loc{path, "create_time"})
	if err != nil {
		return err
	}
	d.detail("create_time", created)
	for i, q := range qs {
		var qc struct {
			Ques string `json:"ques"`
			Type string `json:"type"`
		}
		p := indexPath(qp, i)
		if err := unmarshalObject(q, p, &qc); err != nil {
			return err
		}
		if err := d.addText(loc{p, "ques"}, qc.Ques); err != nil {
			return err
		}
		d.detail("question", qc.Ques)
	}
	return nil
}

// collectTime renders collect.create_time, a Beijing wall-clock string
// ("2019-12-11 11:21:22"), as RFC 3339. Any other string is kept as is —
// it is only displayed, and the raw record has the truth; a number is taken
// as a Unix time.
func collectTime(n num, at loc) (string, *DecodeError) {
	switch n.kind {
	case 0:
		return "", nil
	case 's':
		if t, err := time.ParseInLocation(time.DateTime, n.text, chinaTime); err == nil {
			return t.Format(time.RFC3339), nil
		}
		return n.text, nil
	}
	v, _, err := n.int(at, "a time")
	if err != nil {
		return "", err
	}
	return renderSeconds(v), nil
}

var (
	meetingTypes  = map[int64]string{101: "发起会议邀请", 102: "处理会议邀请"}
	meetingStatus = map[int64]string{1: "参加会议", 2: "拒绝会议", 3: "待定", 4: "未被邀请", 5: "会议已取消", 6: "会议已过期", 7: "不在房间内"}
)

func meetingContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Topic       string `json:"topic"`
		StartTime   num    `json:"starttime"`
		EndTime     num    `json:"endtime"`
		Address     string `json:"address"`
		Remarks     string `json:"remarks"`
		MeetingType num    `json:"meetingtype"`
		MeetingID   num    `json:"meetingid"`
		Status      num    `json:"status"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "topic", c.Topic, "remarks", c.Remarks, "address", c.Address); err != nil {
		return err
	}
	d.detail("topic", c.Topic)
	if err := d.secondsDetail("start", c.StartTime, loc{path, "starttime"}); err != nil {
		return err
	}
	if err := d.secondsDetail("end", c.EndTime, loc{path, "endtime"}); err != nil {
		return err
	}
	d.detail("address", c.Address)
	d.detail("remarks", c.Remarks)
	if err := d.codeDetail("meeting_type", c.MeetingType, loc{path, "meetingtype"}, meetingTypes); err != nil {
		return err
	}
	id, err := c.MeetingID.str(loc{path, "meetingid"})
	if err != nil {
		return err
	}
	d.detail("meeting_id", id)
	return d.codeDetail("status", c.Status, loc{path, "status"}, meetingStatus)
}

func docContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Title      string `json:"title"`
		DocCreator string `json:"doc_creator"`
		LinkURL    string `json:"link_url"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.addText(loc{path, "title"}, c.Title); err != nil {
		return err
	}
	d.detail("title", c.Title)
	d.detail("url", c.LinkURL)
	d.detail("creator", c.DocCreator)
	return nil
}

func markdownContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Content string `json:"content"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.addText(loc{path, "content"}, c.Content); err != nil {
		return err
	}
	// The content itself is the Text; the detail tells a viewer to render it
	// as markdown rather than show the asterisks.
	d.detail("format", "markdown")
	return nil
}

func newsContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Item json.RawMessage `json:"item"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	ip := joinPath(path, "item")
	items, err := objectList(c.Item, ip, false)
	if err != nil {
		return err
	}
	if err := d.count(len(items), ip); err != nil {
		return err
	}
	for i, e := range items {
		var it struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			URL         string `json:"url"`
			PicURL      string `json:"picurl"`
		}
		p := indexPath(ip, i)
		if err := unmarshalObject(e, p, &it); err != nil {
			return err
		}
		if err := d.texts(p, "title", it.Title, "description", it.Description); err != nil {
			return err
		}
		d.detail("title", it.Title)
		d.detail("description", it.Description)
		d.detail("url", it.URL)
		d.detail("image_url", it.PicURL)
	}
	return nil
}

func calendarContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		Title        string          `json:"title"`
		CreatorName  string          `json:"creatorname"`
		AttendeeName json.RawMessage `json:"attendeename"`
		StartTime    num             `json:"starttime"`
		EndTime      num             `json:"endtime"`
		Place        string          `json:"place"`
		Remarks      string          `json:"remarks"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	ap := joinPath(path, "attendeename")
	attendees, err := stringList(c.AttendeeName, ap, true)
	if err != nil {
		return err
	}
	if err := d.count(len(attendees), ap); err != nil {
		return err
	}
	if err := d.texts(path, "title", c.Title, "place", c.Place, "remarks", c.Remarks); err != nil {
		return err
	}
	for i, a := range attendees {
		if err := d.addText(loc{indexPath(ap, i), ""}, a); err != nil {
			return err
		}
	}
	d.detail("title", c.Title)
	d.detail("creator", c.CreatorName)
	for _, a := range attendees {
		d.detail("attendee", a)
	}
	if err := d.secondsDetail("start", c.StartTime, loc{path, "starttime"}); err != nil {
		return err
	}
	if err := d.secondsDetail("end", c.EndTime, loc{path, "endtime"}); err != nil {
		return err
	}
	d.detail("place", c.Place)
	d.detail("remarks", c.Remarks)
	return nil
}

func sphFeedContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		FeedType num    `json:"feed_type"`
		SphName  string `json:"sph_name"`
		FeedDesc string `json:"feed_desc"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "sph_name", c.SphName, "feed_desc", c.FeedDesc); err != nil {
		return err
	}
	if err := d.intDetail("feed_type", c.FeedType, loc{path, "feed_type"}, "an integer code"); err != nil {
		return err
	}
	d.detail("sph_name", c.SphName)
	d.detail("feed_desc", c.FeedDesc)
	return nil
}

// voiceCallContent decodes meeting_voice_call: a recorded voice meeting.
// Its sdkfileid is the recording; the documents presented during the call
// are text. The call id (voiceid) sits at the top level.
func voiceCallContent(d *decoder, raw []byte, path, role string) *DecodeError {
	var c struct {
		EndTime         num             `json:"endtime"`
		SDKFileID       string          `json:"sdkfileid"`
		DemoFileData    json.RawMessage `json:"demofiledata"`
		ShareScreenData json.RawMessage `json:"sharescreendata"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	dp, sp := joinPath(path, "demofiledata"), joinPath(path, "sharescreendata")
	demos, err := objectList(c.DemoFileData, dp, true)
	if err != nil {
		return err
	}
	shares, err := objectList(c.ShareScreenData, sp, true)
	if err != nil {
		return err
	}
	if err := d.count(len(demos)+len(shares), path); err != nil {
		return err
	}
	d.attach(role, &media{SDKFileID: c.SDKFileID}, 0, "")
	if d.depth == 0 {
		d.detail("voice_id", d.env.VoiceID)
	}
	if err := d.secondsDetail("end", c.EndTime, loc{path, "endtime"}); err != nil {
		return err
	}
	for i, e := range demos {
		var demo struct {
			FileName     string `json:"filename"`
			DemoOperator string `json:"demooperator"`
			StartTime    num    `json:"starttime"`
			EndTime      num    `json:"endtime"`
		}
		p := indexPath(dp, i)
		if err := unmarshalObject(e, p, &demo); err != nil {
			return err
		}
		if err := d.addText(loc{p, "filename"}, demo.FileName); err != nil {
			return err
		}
		d.detail("demo_file", demo.FileName)
		d.detail("demo_operator", demo.DemoOperator)
		if err := d.secondsDetail("demo_start", demo.StartTime, loc{p, "starttime"}); err != nil {
			return err
		}
		if err := d.secondsDetail("demo_end", demo.EndTime, loc{p, "endtime"}); err != nil {
			return err
		}
	}
	for i, e := range shares {
		var share struct {
			Share     string `json:"share"`
			StartTime num    `json:"starttime"`
			EndTime   num    `json:"endtime"`
		}
		p := indexPath(sp, i)
		if err := unmarshalObject(e, p, &share); err != nil {
			return err
		}
		d.detail("screen_share", share.Share)
		if err := d.secondsDetail("screen_share_start", share.StartTime, loc{p, "starttime"}); err != nil {
			return err
		}
		if err := d.secondsDetail("screen_share_end", share.EndTime, loc{p, "endtime"}); err != nil {
			return err
		}
	}
	return nil
}

// voipDocContent decodes voip_doc_share: a file shared during a voice/video
// call, fetched like any file. The call id (voipid) sits at the top level.
func voipDocContent(d *decoder, raw []byte, path, role string) *DecodeError {
	m, err := d.decodeMedia(raw, path)
	if err != nil {
		return err
	}
	size, err := m.size(path, "filesize")
	if err != nil {
		return err
	}
	d.attach(role, m, size, m.FileName)
	if err := d.addText(loc{path, "filename"}, m.FileName); err != nil {
		return err
	}
	if d.depth == 0 {
		d.detail("voip_id", d.env.VoipID)
	}
	d.detail("file_name", m.FileName)
	if m.FileSize.set() {
		d.detail("size_bytes", strconv.FormatInt(size, 10))
	}
	return nil
}

// voipInviteTypes are voiptext's documented invitetype codes.
var voipInviteTypes = map[int64]string{1: "单人视频通话", 2: "单人语音通话", 3: "多人视频通话", 4: "多人语音通话"}

// voipTextContent decodes voiptext (音视频通话): a voice or video call's
// record — its duration in seconds and kind, no media (WeCom archives the
// call's audio only as meeting_voice_call). The kind's name is the text, so
// a search for 语音通话 finds the call.
func voipTextContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		CallDuration num `json:"callduration"`
		InviteType   num `json:"invitetype"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	v, ok, err := c.InviteType.int(loc{path, "invitetype"}, "an integer code")
	if err != nil {
		return err
	}
	if ok {
		if err := d.addText(loc{path, "invitetype"}, voipInviteTypes[v]); err != nil {
			return err
		}
	}
	if err := d.codeDetail("invite_type", c.InviteType, loc{path, "invitetype"}, voipInviteTypes); err != nil {
		return err
	}
	return d.intDetail("duration_seconds", c.CallDuration, loc{path, "callduration"}, "a number of seconds")
}

// diskFileContent decodes qydiskfile (微盘文件): a file shared from WeCom's
// WeDrive. The archive carries only its name — WeCom gives no sdkfileid for
// it — so the name is the text and a Detail says where the file lives.
func diskFileContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		FileName string `json:"filename"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := d.texts(path, "filename", c.FileName); err != nil {
		return err
	}
	d.detail("filename", c.FileName)
	d.detail("storage", "微盘 WeDrive (the file itself is not in the conversation archive)")
	return nil
}

// revokeContent decodes a recall. The recalled message stays archived
// (invariant 2); RefersTo links the two, so it must name a message.
func revokeContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	var c struct {
		PreMsgID string `json:"pre_msgid"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	if err := checkID(joinPath(path, "pre_msgid"), c.PreMsgID, true); err != nil {
		return err
	}
	d.refersTo = c.PreMsgID
	d.detail("pre_msgid", c.PreMsgID)
	return nil
}

func agreeContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	return d.consentContent(raw, path, true)
}

func disagreeContent(d *decoder, raw []byte, path, _ string) *DecodeError {
	return d.consentContent(raw, path, false)
}

// consentContent decodes an external contact's agreement (or refusal) to
// have the conversation archived. The consent time is evidence, so a present
// but unreadable or implausible time is an error rather than replaced; an
// absent one falls back to msgtime. SDKs disagree on its unit: a value below
// 1e11 can only be seconds (1e11 ms is in 1973).
func (d *decoder) consentContent(raw []byte, path string, agreed bool) *DecodeError {
	var c struct {
		UserID       string `json:"userid"`
		AgreeTime    num    `json:"agree_time"`
		DisagreeTime num    `json:"disagree_time"`
	}
	if err := unmarshalObject(raw, path, &c); err != nil {
		return err
	}
	up := joinPath(path, "userid")
	if err := checkID(up, c.UserID, false); err != nil {
		return err
	}
	key, t := "agree_time", c.AgreeTime
	if !agreed {
		key, t = "disagree_time", c.DisagreeTime
	}
	tp := loc{path, key}
	v, ok, err := t.int(tp, "a time in milliseconds")
	if err != nil {
		return err
	}
	at := d.sentAt
	if ok && v != 0 {
		if v > 0 && v < 1e11 {
			v *= 1000
		}
		if v < minTime.UnixMilli() || v >= maxTime.UnixMilli() {
			return fieldErr(tp.String(), "want a time between 2000 and 2100, got %d", v)
		}
		at = archive.MillisTime(v)
	}
	id := c.UserID
	if id == "" {
		id = d.sender
	}
	d.consent = &archive.Consent{ExternalID: id, Agreed: agreed, At: at}
	d.detail("userid", id)
	d.detail(key, renderMillis(at.Millis()))
	return nil
}

// --- unknown msgtypes ---

// unknownTop indexes a message of a msgtype this decoder does not know
// (WeCom adds types over time): every string under the key named after the
// msgtype, or, when there is none, under every non-common top-level key (in
// sorted key order), becomes text. Nothing is rejected for being unknown.
func (d *decoder) unknownTop() *DecodeError {
	var top map[string]any
	if err := json.Unmarshal(d.body, &top); err != nil {
		return jsonErr(err, "")
	}
	if v, ok := top[d.env.MsgType]; ok {
		d.unknownMedia(v, "media")
		return d.walkStrings(v, d.env.MsgType)
	}
	d.unknownMedia(top, "media") // the content may be flattened into the top level
	keys := make([]string, 0, len(top))
	for k := range top {
		if !commonKeys[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := d.walkStrings(top[k], k); err != nil {
			return err
		}
	}
	return nil
}

// unknownValue indexes the content of an item of unknown type.
func (d *decoder) unknownValue(raw []byte, path, role string) *DecodeError {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return jsonErr(err, path)
	}
	d.unknownMedia(v, role)
	return d.walkStrings(v, path)
}

// unknownMedia records media in content of an unknown type: an object with
// an sdkfileid is something the archive must fetch, so it becomes an
// attachment with the given role — a capture gap is never silent, even for
// types this decoder has never seen.
func (d *decoder) unknownMedia(v any, role string) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	id, ok := obj["sdkfileid"].(string)
	if !ok {
		return
	}
	m := &media{SDKFileID: id}
	m.MD5Sum, _ = obj["md5sum"].(string)
	fn, _ := obj["filename"].(string)
	var size int64
	if f, ok := obj["filesize"].(float64); ok && f >= 0 && f <= 1<<53 && f == float64(int64(f)) {
		size = int64(f)
	}
	d.attach(role, m, size, fn)
}

// walkStrings adds every string in v to the text (archive.WalkJSONStrings:
// object keys in sorted order, so the result never depends on map
// iteration). The path below base is spelled out only for an error:
// building it at every level would be quadratic in the nesting depth.
func (d *decoder) walkStrings(v any, base string) *DecodeError {
	var derr *DecodeError
	archive.WalkJSONStrings(v, func(s string, path []archive.PathStep) error {
		if err := d.addText(loc{}, s); err != nil {
			p := base
			for _, st := range path {
				if st.IsIndex {
					p = indexPath(p, st.Index)
				} else {
					p = joinPath(p, st.Key)
				}
			}
			err.Field = p
			derr = err
			return err
		}
		return nil
	})
	return derr
}
