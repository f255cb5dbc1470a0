package callback

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// DetailDecodeWarning names the Details that say what could not be read
// of a callback, and why (archive.DetailDecodeWarning).
const DetailDecodeWarning = archive.DetailDecodeWarning

// SystemSender is the sender of an event WeCom sends without
// FromUserName: WeCom itself ("sys" is what its other events carry).
const SystemSender = "sys"

// Suite is a third-party or custom-developed (代开发) app's instruction
// callback: no MsgType, an InfoType saying what happened (suite_ticket
// every ten minutes, create_auth, change_auth, cancel_auth,
// reset_permanent_code, change_contact, change_external_contact…), the
// suite id it concerns, and the corp it concerns when it concerns one.
type Suite struct {
	SuiteID   string
	InfoType  string
	TimeStamp int64 // seconds; 0 when TimeProblem says why
	AuthCorp  string
	Doc       *Document
	// TimeProblem says why TimeStamp is missing or unreadable.
	TimeProblem string
}

// SuiteOf reads a parsed document as a suite callback, or reports that it
// is not one (no InfoType, or a MsgType: then it is a message or event).
func SuiteOf(doc *Document) (*Suite, bool) {
	info, ok := doc.Get("InfoType")
	if !ok || strings.TrimSpace(info) == "" {
		return nil, false
	}
	if _, isMsg := doc.Get("MsgType"); isMsg {
		return nil, false
	}
	s := &Suite{SuiteID: strings.TrimSpace(doc.Value("SuiteId")), InfoType: strings.TrimSpace(info),
		AuthCorp: strings.TrimSpace(doc.Value("AuthCorpId")), Doc: doc}
	ts, has := doc.Get("TimeStamp")
	switch n, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64); {
	case !has:
		s.TimeProblem = "TimeStamp: missing"
	case err != nil || n <= 0 || n > maxCreateTime:
		s.TimeProblem = fmt.Sprintf("TimeStamp: %q is not a time in seconds", clip(ts, 40))
	default:
		s.TimeStamp = n
	}
	return s, true
}

// secretField reports whether a callback field carries a credential:
// the suite ticket (with the suite secret it buys the suite's access
// token), a temporary authorization code (it buys the permanent code),
// a permanent code, a token. Such values are archived as their SHA-256
// digest only: whoever holds the value can still prove it was the one
// received, and the archive never becomes a store of live credentials.
func secretField(path string) bool {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:] // nested: register_corp's ContactSync/AccessToken
	}
	return secretFields[path]
}

// secretFields are the credential fields WeCom's and the Official Account
// platform's callbacks document. (An Official Account's QR-scan <Ticket>
// is not one: it names the code scanned.)
var secretFields = map[string]bool{
	"SuiteTicket": true, "AuthCode": true, "PermanentCode": true, "RegisterCode": true, "Token": true,
	"AccessToken": true, "ProviderAccessToken": true, "Secret": true,
	"ComponentVerifyTicket": true, "AuthorizationCode": true,
}

// redact is what a credential is archived as.
func redact(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return "redacted sha256:" + hex.EncodeToString(sum[:])
}

// Redacted returns the document's bytes with the text of every credential
// field (secretField) replaced by its redact form, and whether anything
// was replaced, nested ones too (register_corp's ContactSync/AccessToken).
// The result is checked to parse to the same fields with only those
// values changed and, should the in-place edit not give that (an unusual
// spelling of the document), the document is written out again field by
// field.
func Redacted(plain []byte, doc *Document) ([]byte, bool) {
	want := make([]Field, len(doc.Fields))
	changed := false
	for i, f := range doc.Fields {
		want[i] = f
		if secretField(f.Name) && f.Value != "" {
			want[i].Value = redact(f.Value)
			changed = true
		}
	}
	if !changed {
		return plain, false
	}
	out := plain
	done := map[string]bool{}
	for i, f := range doc.Fields {
		if want[i].Value == f.Value || done[f.Name] {
			continue
		}
		done[f.Name] = true
		leaf := f.Name[strings.LastIndexByte(f.Name, '/')+1:]
		out = replaceElement(out, leaf, redactedLeaf(doc, want, f.Name))
	}
	if got, err := ParseXML(out); err == nil && sameFields(got.Fields, want) {
		return out, true
	}
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, f := range want {
		writeElement(&b, f.Name, f.Value)
	}
	b.WriteString("</xml>")
	return b.Bytes(), true
}

// redactedLeaf is the value every field at path is redacted to: fields
// sharing a path (repeated items) are replaced one by one below, so this
// is only the first; a document whose repeated credentials differ is
// written out again by Redacted's check.
func redactedLeaf(doc *Document, want []Field, path string) string {
	for i, f := range doc.Fields {
		if f.Name == path {
			return want[i].Value
		}
	}
	return ""
}

// replaceElement replaces the content of every <name>…</name> (at any
// depth) with value in CDATA.
func replaceElement(doc []byte, name, value string) []byte {
	open, end := []byte("<"+name+">"), []byte("</"+name+">")
	var out []byte
	rest := doc
	for {
		i := bytes.Index(rest, open)
		if i < 0 {
			break
		}
		j := bytes.Index(rest[i+len(open):], end)
		if j < 0 {
			break
		}
		out = append(out, rest[:i+len(open)]...)
		out = append(out, "<![CDATA["+value+"]]>"...)
		rest = rest[i+len(open)+j:]
	}
	return append(out, rest...)
}

func writeElement(b *bytes.Buffer, path, value string) {
	parts := strings.Split(path, "/")
	for _, p := range parts {
		b.WriteString("<" + p + ">")
	}
	xml.EscapeText(b, []byte(value))
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString("</" + parts[i] + ">")
	}
}

func sameFields(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// docHash identifies a document by its fields: WeChat's retries of one
// callback carry the same fields.
func docHash(d *Document) string {
	h := sha256.New()
	for _, f := range d.Fields {
		fmt.Fprintf(h, "%d:%s%d:%s", len(f.Name), f.Name, len(f.Value), f.Value)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// NormalizeSuite turns a suite callback into an archived event: kind
// event, source type "suite:" + InfoType, sent by the suite, addressed to
// the corp it concerns (or app: the receiving connector), with every other field as
// a detail — credentials only as their digest.
func NormalizeSuite(s *Suite, platform Platform, source, app string, captured time.Time) *archive.Message {
	sender := "suite:" + s.SuiteID
	if s.SuiteID == "" {
		sender = "suite:unknown"
	}
	to := app
	if s.AuthCorp != "" {
		to = "corp:" + s.AuthCorp
	}
	out := &archive.Message{
		Schema: archive.RecordSchema, Source: source, SourceType: "suite:" + s.InfoType,
		SourceID: fmt.Sprintf("suite:%s:%s:%d:%s", s.SuiteID, s.InfoType, s.TimeStamp, docHash(s.Doc)),
		Kind:     archive.KindEvent, Action: archive.ActionSend, SentAt: archive.MillisTime(s.TimeStamp * 1000),
		Sender: sender, Recipients: []string{to}, Attachments: []archive.Attachment{},
		Details: []archive.Detail{{Name: "event", Value: s.InfoType}},
	}
	if s.TimeProblem != "" {
		out.SentAt, out.TimeUnknown = archive.At(captured), true
		out.Details = append(out.Details, archive.Detail{Name: DetailDecodeWarning,
			Value: s.TimeProblem + "; the time sent is unknown, filed at the time captured"})
	}
	// Both ends are systems: the suite, and the corp (or app) it acts for.
	out.SetConversation("", func(string) archive.ParticipantKind { return archive.ParticipantBot })
	for _, f := range s.Doc.Fields {
		switch f.Name {
		case "SuiteId", "InfoType":
			continue
		case "TimeStamp":
			if s.TimeProblem == "" {
				continue
			}
		}
		v := strings.TrimSpace(f.Value)
		if v == "" {
			continue
		}
		if secretField(f.Name) {
			v = redact(v)
		}
		out.Details = append(out.Details, archive.Detail{Name: f.Name, Value: v})
	}
	out.Text = label(suiteLabels, s.InfoType, strings.TrimSpace(s.Doc.Value("ChangeType")))
	return out
}
