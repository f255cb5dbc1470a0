package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/wxarchive/wxarchive/archive"
)

// LoadRow is one message of a production as the load files (DAT, CSV)
// list it.
type LoadRow struct {
	Number       string   `json:"number"`
	Serial       uint64   `json:"serial"`
	Custodian    string   `json:"custodian"`
	From         string   `json:"from"`
	FromName     string   `json:"from_name,omitempty"`
	Participants []string `json:"participants"` // everyone but the sender, "name <id>"
	IDs          []string `json:"ids"`          // their ids, in the same order
	Conversation string   `json:"conversation"`
	Title        string   `json:"title"`
	Thread       string   `json:"thread"` // the unit's collection id: conversation/day
	SentUTC      string   `json:"sent_utc"`
	SentLocal    string   `json:"sent_local"`
	TimeUnknown  bool     `json:"time_unknown,omitempty"`
	Kind         string   `json:"kind"`
	SourceType   string   `json:"source_type"`
	Direction    string   `json:"direction,omitempty"`
	Version      int      `json:"version"`
	RecalledBy   uint64   `json:"recalled_by,omitempty"`
	RecordSHA256 string   `json:"record_sha256"`
	RawSHA256    string   `json:"raw_sha256"`
	Attachments  int      `json:"attachments"`
	Natives      []string `json:"natives,omitempty"` // the attachments' files
	// Absent are the attachments whose bytes the archive does not hold:
	// "2: missing (reason)".
	Absent   []string `json:"absent,omitempty"`
	TextPath string   `json:"text_path,omitempty"` // the message's extracted text
	// Units are the per-conversation files that show the message, by
	// format (rsmf → VOL001/RSMF/….rsmf).
	Units map[string]string `json:"units,omitempty"`
}

// RowOf is the load-file row of message m of unit u; files are the unit
// files showing it, by format.
func RowOf(u *Unit, m *Message, files map[string]string, loc *time.Location) LoadRow {
	return loadRow(u, m, files, loc)
}

func loadRow(u *Unit, m *Message, files map[string]string, loc *time.Location) LoadRow {
	msg := m.Message
	r := LoadRow{Number: m.ProductionNumber, Serial: m.Serial, Custodian: u.Custodian, From: msg.Sender, FromName: m.Sender.Name,
		Conversation: u.Conversation, Title: u.Title, Thread: u.CollectionID,
		SentUTC: msg.SentAt.UTC().Format(time.RFC3339Nano), SentLocal: msg.SentAt.In(loc).Format(time.RFC3339Nano), TimeUnknown: msg.TimeUnknown,
		Kind: string(msg.Kind), SourceType: msg.SourceType, Direction: string(msg.Direction), Version: m.Version, RecalledBy: m.RecalledBy,
		RecordSHA256: m.RecordSHA256.String(), RawSHA256: m.RawSHA256.String(), Attachments: len(m.Attachments), Units: files}
	for _, p := range u.Participants {
		if p.ID != msg.Sender {
			r.Participants = append(r.Participants, personLabel(p))
			r.IDs = append(r.IDs, p.ID)
		}
	}
	for _, a := range m.Attachments {
		if a.Path != "" {
			r.Natives = append(r.Natives, a.Path)
		} else if a.Status != archive.AttachmentFetched {
			why := fmt.Sprintf("%d: %s", a.Ordinal+1, a.Status)
			if a.Reason != "" {
				why += " (" + a.Reason + ")"
			}
			r.Absent = append(r.Absent, why)
		}
	}
	return r
}

func personLabel(p Person) string {
	if p.Name == "" {
		return p.ID
	}
	return p.Name + " <" + p.ID + ">"
}

// LoadColumns are the load files' columns, in order.
var LoadColumns = []string{"BEGDOC", "ENDDOC", "CUSTODIAN", "FROM", "FROM_NAME", "PARTICIPANTS", "CONVERSATION", "CONVERSATION_TITLE",
	"THREAD", "SENT_UTC", "SENT_LOCAL", "TIME_UNKNOWN", "KIND", "SOURCE_TYPE", "DIRECTION", "SERIAL", "VERSION", "RECALLED_BY",
	"SHA256", "RAW_SHA256", "ATTACHMENT_COUNT", "NATIVE_PATH", "TEXT_PATH", "RSMF_PATH", "EML_PATH", "PDF_PATH", "HTML_PATH", "JSONL_PATH"}

func (r *LoadRow) fields(path func(string) string) []string {
	yes := func(b bool) string {
		if b {
			return "Y"
		}
		return ""
	}
	paths := func(ps []string) string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = path(p)
		}
		return strings.Join(out, "; ")
	}
	unit := func(f string) string {
		if p := r.Units[f]; p != "" {
			return path(p)
		}
		return ""
	}
	recalled := ""
	if r.RecalledBy != 0 {
		recalled = fmt.Sprint(r.RecalledBy)
	}
	text := ""
	if r.TextPath != "" {
		text = path(r.TextPath)
	}
	return []string{r.Number, r.Number, r.Custodian, r.From, r.FromName, strings.Join(r.Participants, "; "), r.Conversation, r.Title,
		r.Thread, r.SentUTC, r.SentLocal, yes(r.TimeUnknown), r.Kind, r.SourceType, r.Direction, fmt.Sprint(r.Serial), fmt.Sprint(r.Version), recalled,
		r.RecordSHA256, r.RawSHA256, fmt.Sprint(r.Attachments), paths(r.Natives), text,
		unit("rsmf"), unit("eml"), unit("pdf"), unit("html"), unit("jsonl")}
}

// Load-file encodings (--load-encoding).
var loadEncodings = map[string]encoding.Encoding{
	"utf-8":    unicode.UTF8BOM,                                     // with a byte-order mark: Excel and Relativity read it as UTF-8
	"utf-16le": unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), // Concordance's "Unicode"
	"gb18030":  simplifiedchinese.GB18030,                           // mainland-Chinese desktop tools; covers all of Unicode
}

// CheckLoadEncoding names the encodings when e is not one.
func CheckLoadEncoding(e string) error {
	if _, ok := loadEncodings[e]; !ok {
		return fmt.Errorf("--load-encoding %q: expected utf-8, utf-16le or gb18030", e)
	}
	return nil
}

// Concordance DAT delimiters: the field separator is the control
// character DC4 (0x14), never the pilcrow ¶ that some tools show it as;
// þ (U+00FE) quotes every field; ® (U+00AE) stands for a newline inside
// a field.
const (
	DATSeparator = "\x14"
	DATQuote     = "þ"
	DATNewline   = "®"
)

// DAT is the Concordance load file of the rows (WriteDAT into memory).
func DAT(rows []LoadRow, enc string) ([]byte, error) {
	var b bytes.Buffer
	err := WriteDAT(&b, enc, eachOf(rows))
	return b.Bytes(), err
}

// CSV is the rows as CSV (WriteCSV into memory).
func CSV(rows []LoadRow, enc string) ([]byte, error) {
	var b bytes.Buffer
	err := WriteCSV(&b, enc, eachOf(rows))
	return b.Bytes(), err
}

func eachOf(rows []LoadRow) func(func(*LoadRow) error) error {
	return func(fn func(*LoadRow) error) error {
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

var datNewline = strings.NewReplacer("\r\n", DATNewline, "\n", DATNewline, "\r", DATNewline)

// WriteDAT writes the Concordance load file of the rows each yields, in
// encoding enc. Paths use backslashes, relative to the load file, as
// Concordance and Relativity expect.
func WriteDAT(w io.Writer, enc string, each func(func(*LoadRow) error) error) error {
	ew, err := encodingWriter(w, enc)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(ew, 256<<10)
	line := func(fields []string) {
		for i, f := range fields {
			if i > 0 {
				bw.WriteString(DATSeparator)
			}
			bw.WriteString(DATQuote)
			datNewline.WriteString(bw, f)
			bw.WriteString(DATQuote)
		}
		bw.WriteString("\r\n")
	}
	line(LoadColumns)
	win := func(p string) string { return `.\` + strings.ReplaceAll(p, "/", `\`) }
	if err := each(func(r *LoadRow) error { line(r.fields(win)); return nil }); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("load file in %s: %w", enc, err)
	}
	return ew.Close()
}

// WriteCSV writes the rows each yields as RFC 4180 CSV with a header line;
// paths as in the manifest (slashes).
func WriteCSV(w io.Writer, enc string, each func(func(*LoadRow) error) error) error {
	ew, err := encodingWriter(w, enc)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(ew, 256<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(LoadColumns); err != nil {
		return err
	}
	same := func(p string) string { return p }
	if err := each(func(r *LoadRow) error { return cw.Write(r.fields(same)) }); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("load file in %s: %w", enc, err)
	}
	return ew.Close()
}

// encodingWriter encodes into w; Close flushes it (and closes nothing
// else).
func encodingWriter(w io.Writer, enc string) (io.WriteCloser, error) {
	e, ok := loadEncodings[enc]
	if !ok {
		return nil, CheckLoadEncoding(enc)
	}
	return transform.NewWriter(w, e.NewEncoder()), nil
}

// PlainText is a message as a reader of its text file sees it: who,
// when, what, and every fact about it a reviewer needs without opening
// another file.
func PlainText(u *Unit, m *Message) string {
	var b strings.Builder
	msg := m.Message
	fmt.Fprintf(&b, "%s\n", m.ProductionNumber)
	fmt.Fprintf(&b, "会话 Conversation: %s (%s)\n", u.Title, u.Conversation)
	fmt.Fprintf(&b, "发送人 From: %s\n", personLabel(m.Sender)+dept(m.Sender))
	fmt.Fprintf(&b, "时间 Sent: %s", msg.SentAt.In(u.Location).Format("2006-01-02 15:04:05 MST"))
	if msg.TimeUnknown {
		b.WriteString(" (来源未提供时间 the source gave no time; this is when it was captured)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "类型 Kind: %s (%s)\n", msg.Kind, msg.SourceType)
	if m.Version > 1 {
		fmt.Fprintf(&b, "版本 Version %d of serial %d\n", m.Version, m.ConflictsWith)
	}
	if m.RecalledBy != 0 {
		fmt.Fprintf(&b, "已撤回 Recalled by serial %d\n", m.RecalledBy)
	}
	if msg.Action == archive.ActionRecall {
		if m.RefersToSerial != 0 {
			fmt.Fprintf(&b, "撤回消息 Recalls serial %d (%s)\n", m.RefersToSerial, msg.RefersTo)
		} else {
			fmt.Fprintf(&b, "撤回消息 Recalls %s\n", msg.RefersTo)
		}
	}
	if c := msg.Consent; c != nil {
		if c.Agreed {
			fmt.Fprintf(&b, "同意存档 %s agreed to archiving\n", c.ExternalID)
		} else {
			fmt.Fprintf(&b, "拒绝存档 %s refused archiving\n", c.ExternalID)
		}
	}
	b.WriteString("\n")
	if msg.Text != "" {
		b.WriteString(msg.Text)
		b.WriteString("\n")
	}
	for _, d := range msg.Details {
		fmt.Fprintf(&b, "%s: %s\n", d.Name, d.Value)
	}
	for _, a := range m.Attachments {
		fmt.Fprintf(&b, "附件 Attachment %d: %s", a.Ordinal+1, a.Role)
		if a.FileName != "" {
			fmt.Fprintf(&b, " %q", a.FileName)
		}
		if a.MediaType != "" {
			fmt.Fprintf(&b, " %s", a.MediaType)
		}
		if !a.Blob.IsZero() {
			fmt.Fprintf(&b, " %d bytes sha256:%s", a.Size, a.Blob)
		}
		if a.Status != archive.AttachmentFetched {
			fmt.Fprintf(&b, " [%s", a.Status)
			if a.Reason != "" {
				fmt.Fprintf(&b, ": %s", a.Reason)
			}
			b.WriteString("]")
		}
		if a.Path != "" {
			fmt.Fprintf(&b, " → %s", a.Path)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func dept(p Person) string {
	if p.Department == "" {
		return ""
	}
	return " · " + p.Department
}
