package main

// CLI acceptance tests: every command is run as a user would run it (in
// process through runCLI, or as a real process through binary) and the
// output, exit code and resulting archive are checked.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

// cliArchiveDir returns a path for a new archive (not created yet).
func cliArchiveDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "archive")
}

// cliInit creates an archive and returns the public key `init` printed.
func cliInit(t *testing.T, dir string) string {
	t.Helper()
	out := mustCLI(t, "--dir", dir, "init")
	m := regexp.MustCompile(`Checkpoint public key \(keep a copy elsewhere\):\n  (\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no public key:\n%s", out)
	}
	return m[1]
}

// cliJSON runs a command that must succeed and decodes its JSON output.
func cliJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	out := mustCLI(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("wxarchive %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cliRendered is the human-readable part of `show` output, without the raw
// record (which would contain every string of the input anyway).
func cliRendered(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "\n  raw:\n")
	if i < 0 {
		t.Fatalf("show output has no raw section:\n%s", out)
	}
	return out[:i]
}

type cliStats struct {
	Messages     int64  `json:"messages"`
	Attachments  int64  `json:"attachments"`
	AttachFaults int64  `json:"attachment_faults"`
	Recalled     int64  `json:"recalled"`
	Quarantined  int64  `json:"quarantined"`
	JournalSize  uint64 `json:"journal_size"`
	PublicKey    string `json:"public_key"`
}

func cliGetStats(t *testing.T, dir string) cliStats {
	t.Helper()
	var s cliStats
	cliJSON(t, &s, "--dir", dir, "stats", "--json")
	return s
}

type cliVerifyReport struct {
	OK     bool              `json:"ok"`
	Faults []json.RawMessage `json:"faults"`
	Stats  struct {
		Leaves   uint64 `json:"leaves"`
		Messages int64  `json:"messages"`
	} `json:"stats"`
}

// cliVerifyOK runs `verify` and `verify --json` and requires a clean result.
func cliVerifyOK(t *testing.T, dir string) cliVerifyReport {
	t.Helper()
	out, errs, code := runCLI(t, "--dir", dir, "verify")
	if code != 0 || !strings.HasPrefix(out, "OK — ") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errs)
	}
	var rep cliVerifyReport
	raw := cliJSON(t, &rep, "--dir", dir, "verify", "--json")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || string(fields["faults"]) != "[]" {
		t.Fatalf("verify --json: ok %v, faults %s", rep.OK, fields["faults"])
	}
	return rep
}

type cliQuarantine struct {
	Rejects []store.RejectRow `json:"rejects"`
}

// fixtureExpect is, per serial of the fixture, a substring the rendered
// view (without the raw record) must contain.
var fixtureExpect = map[int][]string{
	1:  {"王总您好，关于上周说的那只基金，我下午把资料发您。"},
	2:  {"OK thanks, please also send the fee schedule."},
	3:  {"sdkfileid SDKFILEID-IMAGE-0003  md5 50de8e5ae8ffe4f1df7a93841f71993a", "(70961 bytes announced)"},
	4:  {"产品说明书.pdf", "sdkfileid SDKFILEID-FILE-0004"},
	5:  {"这个产品保本保收益，年化8%，绝对没问题", "⚠ RECALLED by the sender (recall is serial 6)"},
	6:  {"refers to     fx0005_1700000005 (serial 5)"},
	7:  {"consent       wmExtClient001 AGREED to archiving at 2023-11-15 06:20:20 CST"},
	8:  {"consent       wmExtClient002 REFUSED archiving at 2023-11-15 06:21:20 CST"},
	9:  {"sdkfileid SDKFILEID-VOICE-0009"},
	10: {"sdkfileid SDKFILEID-VIDEO-0010"},
	11: {"微信联系人"},
	12: {"国贸中心", "北京市朝阳区建国路88号"},
	13: {"sdkfileid SDKFILEID-EMOTION-0013"},
	14: {"2024年第三季度市场展望"},
	15: {"开户小程序"},
	16: {"明天开盘前加仓"},
	17: {"客户回访"},
	18: {"下次路演时间"},
	19: {"客户风险测评"},
	20: {"恭喜发财"},
	21: {"季度复盘"},
	22: {"type          switch", "from          zhangwei (employee)"},
	23: {"客户持仓明细"},
	24: {"提醒"},
	25: {"今日市场快讯"},
	26: {"客户面谈"},
	27: {"您看下这张图[微笑]"},
	28: {"方案.pptx"},
	29: {"欢迎使用微盘.pdf"},
	30: {"新年快乐"},
	31: {"财经观察"},
	32: {"大家注意，明天早上九点开晨会。"},
}

var cliSummaryRE = regexp.MustCompile(`(?m)^(\d+) lines in \S+: (\d+) archived, (\d+) duplicate, (\d+) conflict, (\d+) rejected$`)

// cliSummary returns the counts of an ingest summary line.
func cliSummary(t *testing.T, out string) [5]int {
	t.Helper()
	m := cliSummaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ingest summary line in:\n%s", out)
	}
	var n [5]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n
}

func TestCLIFixture(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	pub := cliInit(t, dir)

	out, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	if code != 0 {
		t.Fatalf("ingest: exit %d\n%s\n%s", code, out, errs)
	}
	if got, want := cliSummary(t, out), [5]int{32, 32, 0, 0, 0}; got != want {
		t.Fatalf("ingest summary = %v, want %v\n%s", got, want, out)
	}
	if !strings.Contains(out, "serials 1–32\n") {
		t.Errorf("ingest output does not say serials 1–32:\n%s", out)
	}

	lines := strings.Split(strings.TrimSuffix(mustRead(t, fixture), "\n"), "\n")
	if len(lines) != 32 {
		t.Fatalf("fixture has %d lines", len(lines))
	}
	for serial := 1; serial <= 32; serial++ {
		var msg struct {
			MsgID string `json:"msgid"`
		}
		if err := json.Unmarshal([]byte(lines[serial-1]), &msg); err != nil {
			t.Fatal(err)
		}
		out := mustCLI(t, "--dir", dir, "show", strconv.Itoa(serial))
		view := cliRendered(t, out)
		want := []string{
			fmt.Sprintf("Message serial %d\n", serial),
			"  msgid         " + msg.MsgID + "\n",
			fmt.Sprintf("  origin        file:all-types.jsonl line %d\n", serial),
			"    inclusion proof   VERIFIED against signed checkpoint",
		}
		want = append(want, fixtureExpect[serial]...)
		for _, w := range want {
			if !strings.Contains(view, w) {
				t.Errorf("show %d: rendered view lacks %q:\n%s", serial, w, view)
			}
		}
		if !strings.Contains(out, "\n  raw:\n    "+lines[serial-1]+"\n") {
			t.Errorf("show %d: raw record is not the input line verbatim:\n%s", serial, out)
		}
		if serial != 5 && strings.Contains(view, "RECALLED") {
			t.Errorf("show %d: marked RECALLED:\n%s", serial, view)
		}
	}
	if ok, _ := regexp.MatchString(`(?m)^    user\s+zhangwei$`, mustCLI(t, "--dir", dir, "show", "22")); !ok {
		t.Errorf("show 22 (switch) does not show user zhangwei")
	}

	// By msgid.
	out = mustCLI(t, "--dir", dir, "show", "fx0031_1700000031_external")
	if !strings.HasPrefix(out, "Message serial 31\n") || !strings.Contains(cliRendered(t, out), "财经观察") {
		t.Errorf("show by msgid fx0031_1700000031_external:\n%s", out)
	}

	// JSON view of the recalled message.
	var v struct {
		Serial     uint64 `json:"serial"`
		RecalledBy uint64 `json:"recalled_by"`
		RawSHA256  string `json:"raw_sha256"`
		Raw        string `json:"raw"`
		Message    struct {
			SourceID string `json:"source_id"`
			Text     string `json:"text"`
		} `json:"message"`
		Proof *struct {
			Verified bool   `json:"verified"`
			TreeSize uint64 `json:"tree_size"`
		} `json:"proof"`
	}
	cliJSON(t, &v, "--dir", dir, "show", "--json", "5")
	if v.Serial != 5 || v.RecalledBy != 6 || v.Message.SourceID != "fx0005_1700000005" || v.Proof == nil || !v.Proof.Verified {
		t.Errorf("show --json 5 = %+v", v)
	}
	if v.Raw != lines[4] || v.RawSHA256 != archive.Hash([]byte(lines[4])).String() {
		t.Errorf("show --json 5: raw %q sha256 %s, want the input line", v.Raw, v.RawSHA256)
	}

	if out, errs, code := runCLI(t, "--dir", dir, "show", "999"); code != 2 || !strings.Contains(errs, "999") {
		t.Errorf("show 999: exit %d, want 2\n%s\n%s", code, out, errs)
	}

	// Idempotent re-run.
	out, errs, code = runCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	if code != 0 {
		t.Fatalf("re-ingest: exit %d\n%s\n%s", code, out, errs)
	}
	if got, want := cliSummary(t, out), [5]int{32, 0, 32, 0, 0}; got != want {
		t.Errorf("re-ingest summary = %v, want %v\n%s", got, want, out)
	}

	st := cliGetStats(t, dir)
	if st.Messages != 32 || st.Recalled != 1 || st.Quarantined != 0 {
		t.Errorf("stats: %+v, want 32 messages, 1 recalled, 0 quarantined", st)
	}
	if st.PublicKey == "" || st.PublicKey != pub {
		t.Errorf("stats public_key %q, init printed %q", st.PublicKey, pub)
	}
	rep := cliVerifyOK(t, dir)
	if rep.Stats.Leaves != st.JournalSize || rep.Stats.Messages != 32 {
		t.Errorf("verify stats leaves %d messages %d; stats journal_size %d", rep.Stats.Leaves, rep.Stats.Messages, st.JournalSize)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCLIConsent(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)

	var c struct {
		ExternalID string             `json:"external_id"`
		State      string             `json:"state"`
		Events     []store.ConsentRow `json:"events"`
	}
	cliJSON(t, &c, "--dir", dir, "consent", "wmExtClient001", "--json")
	if c.ExternalID != "wmExtClient001" || c.State != "agreed" || len(c.Events) != 1 {
		t.Fatalf("consent wmExtClient001 = %+v", c)
	}
	if e := c.Events[0]; !e.Agreed || e.Serial != 7 || e.Employee != "zhangwei" || e.At.Millis() != 1700000420000 {
		t.Errorf("consent event = %+v", e)
	}

	out := mustCLI(t, "--dir", dir, "consent", "wmExtClient002")
	if !strings.HasPrefix(out, "wmExtClient002: disagreed (1 event)\n") || !strings.Contains(out, "disagreed  serial 8  with zhangwei") {
		t.Errorf("consent wmExtClient002:\n%s", out)
	}

	out = mustCLI(t, "--dir", dir, "consent", "wmNobody")
	if out != "wmNobody: unknown (0 events)\n" {
		t.Errorf("consent of an unknown contact: %q", out)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestCLIMedia(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "archive")
	cliInit(t, dir)
	mediaDir := filepath.Join(root, "in", "media")
	if err := os.MkdirAll(mediaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	okBytes := []byte("\xff\xd8\xff\xe0 an image that matches its md5")
	badBytes := []byte("%PDF-1.4 bytes that do not match the announced md5")
	slashBytes := []byte("\xff\xd8\xff\xe0 stored under the url-safe name")
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(mediaDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("MEDIA-OK-1", okBytes)
	write("MEDIA-BAD-2", badBytes)
	write("ab_cd-ef_4", slashBytes) // sdkfileid "ab/cd+ef/4"
	wrongMD5 := md5hex([]byte("something else"))
	absentMD5 := md5hex([]byte("never delivered"))

	msg := func(n int, typ, content string) string {
		return fmt.Sprintf(`{"msgid":"media%d","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":%d,"msgtype":%q,%q:%s}`,
			n, 1700000000000+int64(n)*60000, typ, typ, content)
	}
	jsonl := strings.Join([]string{
		msg(1, "image", fmt.Sprintf(`{"md5sum":%q,"filesize":%d,"sdkfileid":"MEDIA-OK-1"}`, md5hex(okBytes), len(okBytes))),
		msg(2, "file", fmt.Sprintf(`{"md5sum":%q,"filename":"合同.pdf","fileext":"pdf","filesize":%d,"sdkfileid":"MEDIA-BAD-2"}`, wrongMD5, len(badBytes))),
		msg(3, "image", fmt.Sprintf(`{"md5sum":%q,"filesize":15,"sdkfileid":"MEDIA-ABSENT-3"}`, absentMD5)),
		msg(4, "image", fmt.Sprintf(`{"md5sum":%q,"filesize":%d,"sdkfileid":"ab/cd+ef/4"}`, md5hex(slashBytes), len(slashBytes))),
	}, "\n") + "\n"
	in := filepath.Join(root, "in", "media.jsonl")
	if err := os.WriteFile(in, []byte(jsonl), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", in, "--media", mediaDir)
	if code != 0 {
		t.Fatalf("ingest --media: exit %d\n%s\n%s", code, out, errs)
	}
	if got, want := cliSummary(t, out), [5]int{4, 4, 0, 0, 0}; got != want {
		t.Errorf("summary = %v, want %v\n%s", got, want, out)
	}
	for _, w := range []string{
		"2 of 4 attachments not fetched intact:\n",
		fmt.Sprintf("  line 2 serial 2 media2 file: md5_mismatch (md5 of stored bytes is %s, source announced %s)\n", md5hex(badBytes), wrongMD5),
		"  line 3 serial 3 media3 image: missing (media file not found for sdkfileid)\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("ingest summary lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "line 1 serial") || strings.Contains(out, "line 4 serial") {
		t.Errorf("intact attachments reported as faults:\n%s", out)
	}

	type att struct {
		Status    string `json:"status"`
		Reason    string `json:"reason"`
		Blob      string `json:"blob"`
		Size      int64  `json:"size"`
		SourceRef string `json:"source_ref"`
	}
	var zero archive.BlobID
	cases := []struct {
		serial int
		status string
		data   []byte // nil: nothing stored
		reason string
	}{
		{1, "fetched", okBytes, ""},
		{2, "md5_mismatch", badBytes, fmt.Sprintf("md5 of stored bytes is %s, source announced %s", md5hex(badBytes), wrongMD5)},
		{3, "missing", nil, "media file not found for sdkfileid"},
		{4, "fetched", slashBytes, ""},
	}
	for _, c := range cases {
		var v struct {
			Message struct {
				Attachments []att `json:"attachments"`
			} `json:"message"`
		}
		cliJSON(t, &v, "--dir", dir, "show", "--json", strconv.Itoa(c.serial))
		if len(v.Message.Attachments) != 1 {
			t.Errorf("serial %d: %d attachments", c.serial, len(v.Message.Attachments))
			continue
		}
		a := v.Message.Attachments[0]
		wantBlob, wantSize := zero.String(), int64(0)
		if c.data != nil {
			wantBlob, wantSize = archive.Hash(c.data).String(), int64(len(c.data))
		}
		if a.Status != c.status || a.Reason != c.reason || a.Blob != wantBlob || a.Size != wantSize {
			t.Errorf("serial %d attachment = %+v, want status %s reason %q blob %s size %d", c.serial, a, c.status, c.reason, wantBlob, wantSize)
		}
		view := cliRendered(t, mustCLI(t, "--dir", dir, "show", strconv.Itoa(c.serial)))
		if ok, _ := regexp.MatchString(`(?m)^    1\. \S+\s+`+c.status+` `, view); !ok {
			t.Errorf("show %d does not render status %s:\n%s", c.serial, c.status, view)
		}
		if c.reason != "" && !strings.Contains(view, "       reason: "+c.reason+"\n") {
			t.Errorf("show %d does not render the reason %q:\n%s", c.serial, c.reason, view)
		}
	}
	if st := cliGetStats(t, dir); st.Messages != 4 || st.Attachments != 4 || st.AttachFaults != 2 {
		t.Errorf("stats = %+v, want 4 messages, 4 attachments, 2 faults", st)
	}

	// A hostile sdkfileid must not reach outside the media directory, even
	// where the file it names exists with the announced checksum.
	secret := []byte("outside the media directory")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mediaDir, "../../etc/passwd")); err != nil {
		t.Fatalf("test setup: %v", err)
	}
	hostile := filepath.Join(root, "in", "hostile.jsonl")
	line := msg(5, "file", fmt.Sprintf(`{"md5sum":%q,"filename":"passwd","fileext":"","filesize":%d,"sdkfileid":"../../etc/passwd"}`, md5hex(secret), len(secret)))
	if err := os.WriteFile(hostile, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCLI(t, "--dir", dir, "ingest", "wecom-archive", hostile, "--media", mediaDir)
	if code != 0 {
		t.Fatalf("ingest hostile sdkfileid: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "  line 1 serial 5 media5 file: missing (media file not found for sdkfileid)\n") {
		t.Errorf("hostile sdkfileid not reported missing:\n%s", out)
	}
	var v struct {
		Message struct {
			Attachments []att `json:"attachments"`
		} `json:"message"`
	}
	cliJSON(t, &v, "--dir", dir, "show", "--json", "5")
	if len(v.Message.Attachments) != 1 || v.Message.Attachments[0].Status != "missing" || v.Message.Attachments[0].Blob != zero.String() {
		t.Errorf("hostile sdkfileid attachment = %+v", v.Message.Attachments)
	}
	if st := cliGetStats(t, dir); st.Messages != 5 || st.AttachFaults != 3 {
		t.Errorf("stats after hostile = %+v, want 5 messages, 3 faults", st)
	}
	cliVerifyOK(t, dir)
}

// badInput is a JSONL file mixing good lines with every kind of bad one.
type badLine struct {
	data   []byte
	good   bool
	field  string // for a bad line: the field the rejection names
	reason string // for a bad line: a substring of the reason
}

func badInputLines() []badLine {
	good := func(id, text string) badLine {
		return badLine{good: true, data: fmt.Appendf(nil, `{"msgid":%q,"action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000060000,"msgtype":"text","text":{"content":%q}}`, id, text)}
	}
	bad := func(field, reason string, data []byte) badLine {
		return badLine{data: data, field: field, reason: reason}
	}
	huge := func(id string, n int) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"msgid":%q,"action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000070000,"msgtype":"text","text":{"content":"`, id)
		b.Write(bytes.Repeat([]byte("z"), n))
		b.WriteString(`"}}`)
		return b.Bytes()
	}
	// msg builds a text message with the given raw JSON for tolist and msgtime.
	msg := func(id, tolist, msgtime string) []byte {
		return fmt.Appendf(nil, `{"msgid":%q,"action":"send","from":"zhangwei","tolist":%s,"roomid":"","msgtime":%s,"msgtype":"text","text":{"content":"x"}}`, id, tolist, msgtime)
	}
	// Line numbers are 1-based: the comment is the line's number.
	return []badLine{
		// 1
		good("good01", "第一行"),
		// 2: malformed JSON
		bad("", "invalid JSON", []byte(`{"msgid": "x",`)),
		// 3
		good("good03", "third"),
		// 4: a recipient of the wrong type (a bad msgtime is kept, its time
		// unknown: msgaudit/keep.go)
		bad("tolist[1]", "", msg("bt04", `["wmExtClient001",7]`, `1700000060000`)),
		// 5: wrong type
		bad("tolist", "", msg("bt05", `"a"`, "1700000060000")),
		// 6: invalid UTF-8 inside a string
		bad("", "invalid UTF-8", []byte("{\"msgid\":\"bt06\",\"action\":\"send\",\"from\":\"zhangwei\",\"tolist\":[\"wmExtClient001\"],\"roomid\":\"\",\"msgtime\":1700000060000,\"msgtype\":\"text\",\"text\":{\"content\":\"bad \xff\xfe\xc3 bytes\"}}")),
		// 7: text over MaxTextBytes, line under MaxLineBytes
		bad("text.content", "MaxTextBytes", huge("bt07", msgaudit.MaxTextBytes+1)),
		// 8: empty line
		bad("", "empty line", []byte{}),
		// 9
		good("good09", "after the empty line"),
		// 10: whitespace only
		bad("", "empty line", []byte(" \t  ")),
		// 11: a JSON array
		bad("", "want a JSON object", []byte(`[{"msgid":"arr11"}]`)),
		// 12: unknown fields, top level and in the content: archived
		{good: true, data: []byte(`{"msgid":"unk12","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000080000,"msgtype":"text","text":{"content":"extra fields","x_new":1},"x_future_field":{"nested":[1,"two",{"k":null}]}}`)},
		// 13: a 5 MiB line, over MaxLineBytes
		bad("", "over the 4194304-byte limit", huge("bt13", 5<<20)),
		// 14
		good("good14", "last line"),
	}
}

func writeBadInput(t *testing.T, path string) []badLine {
	t.Helper()
	lines := badInputLines()
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l.data)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "archive")
	cliInit(t, dir)
	in := filepath.Join(root, "bad-input.jsonl")
	lines := writeBadInput(t, in)
	var nGood, nBad int
	for _, l := range lines {
		if l.good {
			nGood++
		} else {
			nBad++
		}
	}

	out, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", in)
	if code != 2 {
		t.Errorf("ingest: exit %d, want 2\n%s", code, errs)
	}
	if got, want := cliSummary(t, out), [5]int{len(lines), nGood, 0, 0, nBad}; got != want {
		t.Errorf("summary = %v, want %v\n%s", got, want, out)
	}
	reported := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^  line (\d+):(.*)$`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		reported[n] = m[2]
	}
	for i, l := range lines {
		no := i + 1
		msg, ok := reported[no]
		if l.good {
			if ok {
				t.Errorf("good line %d reported as rejected: %s", no, msg)
			}
			continue
		}
		if !ok {
			t.Errorf("bad line %d not named in the summary:\n%s", no, out)
			continue
		}
		if l.field != "" && !strings.HasPrefix(msg, fmt.Sprintf(" field %q: ", l.field)) {
			t.Errorf("line %d: summary %q does not name field %q", no, msg, l.field)
		}
		if !strings.Contains(msg, l.reason) {
			t.Errorf("line %d: summary %q does not say %q", no, msg, l.reason)
		}
	}

	// The unknown fields are archived verbatim.
	var v struct {
		Raw     string `json:"raw"`
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	cliJSON(t, &v, "--dir", dir, "show", "--json", "unk12")
	if v.Raw != string(lines[11].data) || !strings.Contains(v.Raw, `"x_future_field":{"nested":[1,"two",{"k":null}]}`) || v.Message.Text != "extra fields" {
		t.Errorf("show unk12: raw %q text %q", v.Raw, v.Message.Text)
	}

	checkQuarantine := func(when string) []store.RejectRow {
		t.Helper()
		var q cliQuarantine
		cliJSON(t, &q, "--dir", dir, "quarantine", "--json")
		byOrigin := map[string]store.RejectRow{}
		for _, r := range q.Rejects {
			if _, dup := byOrigin[r.Origin]; dup {
				t.Errorf("%s: origin %q quarantined twice", when, r.Origin)
			}
			byOrigin[r.Origin] = r
		}
		if len(q.Rejects) != nBad {
			t.Errorf("%s: %d quarantined, want %d", when, len(q.Rejects), nBad)
		}
		for i, l := range lines {
			origin := fmt.Sprintf("file:bad-input.jsonl line %d", i+1)
			r, ok := byOrigin[origin]
			if l.good {
				if ok {
					t.Errorf("%s: good line %d quarantined", when, i+1)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: no quarantine entry %q", when, origin)
				continue
			}
			kept := l.data[:min(len(l.data), msgaudit.MaxLineBytes)]
			if r.Field != l.field || !strings.Contains(r.Reason, l.reason) || r.Reason == "" ||
				r.RawSize != len(kept) || r.RawHash != archive.Hash(kept) {
				t.Errorf("%s: quarantine %s = field %q reason %q size %d hash %s; want field %q reason ~%q size %d hash %s",
					when, origin, r.Field, r.Reason, r.RawSize, r.RawHash, l.field, l.reason, len(kept), archive.Hash(kept))
			}
		}
		return q.Rejects
	}
	rejects := checkQuarantine("first run")
	if st := cliGetStats(t, dir); st.Messages != int64(nGood) || st.Quarantined != int64(nBad) {
		t.Errorf("stats = %+v, want %d messages, %d quarantined", st, nGood, nBad)
	}
	cliVerifyOK(t, dir)

	// Re-running the same file writes nothing new and still fails.
	before := cliGetStats(t, dir)
	out, _, code = runCLI(t, "--dir", dir, "ingest", "wecom-archive", in)
	if code != 2 {
		t.Errorf("re-ingest: exit %d, want 2", code)
	}
	if got, want := cliSummary(t, out), [5]int{len(lines), 0, nGood, 0, nBad}; got != want {
		t.Errorf("re-ingest summary = %v, want %v\n%s", got, want, out)
	}
	checkQuarantine("second run")
	if after := cliGetStats(t, dir); after.Messages != before.Messages || after.Quarantined != before.Quarantined || after.JournalSize != before.JournalSize {
		t.Errorf("re-ingest changed the archive: before %+v after %+v", before, after)
	}

	// The quarantined bytes are kept exactly, and the journal says what was
	// cut from the oversize line.
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	byOrigin := map[string]store.RejectRow{}
	for _, row := range rejects {
		byOrigin[row.Origin] = row
	}
	for i, l := range lines {
		row, ok := byOrigin[fmt.Sprintf("file:bad-input.jsonl line %d", i+1)]
		if l.good || !ok {
			continue
		}
		got, err := r.Records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: 0}, row.RawHash)
		if err != nil {
			t.Errorf("line %d: raw record: %v", i+1, err)
			continue
		}
		truncated := len(l.data) > msgaudit.MaxLineBytes
		want := l.data
		if truncated {
			want = l.data[:msgaudit.MaxLineBytes]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("line %d: kept %d bytes (%q…), want the %d input bytes (%q…)", i+1, len(got), got[:min(len(got), 40)], len(want), want[:min(len(want), 40)])
		}
		var ev *journal.Event
		err = r.Store.Leaves(ctx, row.JournalIndex, row.JournalIndex+1, func(idx uint64, _, leaf []byte) error {
			var err error
			ev, err = journal.ParseLeaf(idx, leaf)
			return err
		})
		if err != nil || ev == nil {
			t.Fatalf("line %d: journal leaf %d: %v", i+1, row.JournalIndex, err)
		}
		var p archive.RejectEvent
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if ev.Type != archive.EventInputRejected || p.Origin != row.Origin || p.Raw != archive.Hash(want) || p.RawSize != len(want) {
			t.Errorf("line %d: journal event %s %+v", i+1, ev.Type, p)
		}
		if truncated {
			if !p.Truncated || p.FullSize != int64(len(l.data)) || p.FullHash != archive.Hash(l.data) {
				t.Errorf("line %d: journal says truncated %v full_size %d full_hash %s; want true, %d, %s",
					i+1, p.Truncated, p.FullSize, p.FullHash, len(l.data), archive.Hash(l.data))
			}
		} else if p.Truncated || p.FullSize != 0 {
			t.Errorf("line %d: journal says truncated %v full_size %d", i+1, p.Truncated, p.FullSize)
		}
	}
}

// Two different oversize inputs that share their first MaxLineBytes bytes
// and arrive under the same origin (a daily export that keeps its file
// name) are different inputs: both must be quarantined.
func TestCLIBadInputOversizeDistinctTails(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "archive")
	cliInit(t, dir)
	prefix := `{"msgid":"big","action":"send","from":"zhangwei","tolist":["wmExtClient001"],"roomid":"","msgtime":1700000060000,"msgtype":"text","text":{"content":"` +
		strings.Repeat("a", 5<<20)
	var want []int64
	for i, tail := range []string{`"}}`, `zzzz"}}`} {
		d := filepath.Join(root, fmt.Sprintf("day%d", i+1))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		line := prefix + tail
		want = append(want, int64(len(line)))
		if err := os.WriteFile(filepath.Join(d, "export.jsonl"), []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", filepath.Join(d, "export.jsonl")); code != 2 {
			t.Fatalf("ingest day %d: exit %d, want 2", i+1, code)
		}
	}
	var q cliQuarantine
	cliJSON(t, &q, "--dir", dir, "quarantine", "--json")
	if len(q.Rejects) != 2 {
		t.Fatalf("%d quarantined, want 2 (two different inputs of %v bytes)", len(q.Rejects), want)
	}
}

func TestCLIReindex(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "archive")
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	in := filepath.Join(root, "bad-input.jsonl")
	writeBadInput(t, in)
	if _, _, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", in); code != 2 {
		t.Fatalf("ingest bad input: exit %d, want 2", code)
	}
	var q1, q2 cliQuarantine
	cliJSON(t, &q1, "--dir", dir, "quarantine", "--json")
	beforeShow := cliRendered(t, mustCLI(t, "--dir", dir, "show", "5"))
	before := mustCLI(t, "--dir", dir, "stats", "--json")

	out := mustCLI(t, "--dir", dir, "reindex")
	if !strings.Contains(out, ": 37 messages, 9 attachments, 9 quarantined\n") {
		t.Errorf("reindex output:\n%s", out)
	}
	if after := mustCLI(t, "--dir", dir, "stats", "--json"); after != before {
		t.Errorf("stats changed by reindex:\nbefore %s\nafter  %s", before, after)
	}
	cliJSON(t, &q2, "--dir", dir, "quarantine", "--json")
	if fmt.Sprint(q1) != fmt.Sprint(q2) {
		t.Errorf("quarantine changed by reindex:\nbefore %v\nafter  %v", q1, q2)
	}
	afterShow := cliRendered(t, mustCLI(t, "--dir", dir, "show", "5"))
	// Only the checkpoint (a new access event) may differ.
	strip := regexp.MustCompile(`(?m)^    inclusion proof .*$`)
	if strip.ReplaceAllString(beforeShow, "") != strip.ReplaceAllString(afterShow, "") {
		t.Errorf("show 5 changed by reindex:\n%s\n---\n%s", beforeShow, afterShow)
	}
	cliVerifyOK(t, dir)
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "archive")
	cliInit(t, dir)
	empty := t.TempDir()
	notDir := filepath.Join(root, "file.txt")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		bug  string
		args []string
		want string // substring of stderr, which must not be empty
	}{
		{name: "unknown command", args: []string{"--dir", dir, "frobnicate"}, want: `unknown command "frobnicate"`,
			bug: `main.go (*app).run maps only exitError, repo.ErrNoArchive and errUsage to exit 2; cobra's "unknown command" error falls through to exit 1`},
		{name: "ingest without file", args: []string{"--dir", dir, "ingest", "wecom-archive"}, want: "accepts 1 arg(s), received 0",
			bug: "cobra.ExactArgs errors are plain errors, so (*app).run exits 1 for a missing positional argument"},
		{name: "show without argument", args: []string{"--dir", dir, "show"}, want: "accepts 1 arg(s), received 0",
			bug: "cobra.ExactArgs errors are plain errors, so (*app).run exits 1 for a missing positional argument"},
		{name: "stats with extra argument", args: []string{"--dir", dir, "stats", "extra"}, want: `unknown command "extra"`,
			bug: "cobra.NoArgs errors are plain errors, so (*app).run exits 1 for an extra positional argument"},
		{name: "ingest without source", args: []string{"--dir", dir, "ingest"}, want: "",
			bug: "`ingest` has no RunE: cobra prints the help to stdout and the command exits 0"},
		{name: "unknown flag", args: []string{"--dir", dir, "stats", "--bogus"}, want: "unknown flag: --bogus"},
		{name: "nonexistent file", args: []string{"--dir", dir, "ingest", "wecom-archive", filepath.Join(root, "nope.jsonl")}, want: "no such file"},
		{name: "media is a file", args: []string{"--dir", dir, "ingest", "wecom-archive", fixture, "--media", notDir}, want: "not a directory"},
		{name: "media does not exist", args: []string{"--dir", dir, "ingest", "wecom-archive", fixture, "--media", filepath.Join(root, "nomedia")}, want: "not a directory"},
		{name: "show without archive", args: []string{"--dir", empty, "show", "1"}, want: "no archive here"},
		{name: "stats without archive", args: []string{"--dir", filepath.Join(root, "missing"), "stats"}, want: "no archive here"},
		{name: "init twice", args: []string{"--dir", dir, "init"}, want: "already holds an archive"},
		{name: "show unknown msgid", args: []string{"--dir", dir, "show", "no-such-msgid"}, want: `no message with serial or msgid "no-such-msgid"`},
		{name: "demo negative messages", args: []string{"--dir", filepath.Join(root, "demo"), "demo", "--messages", "-1"}, want: "--messages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.bug != "" {
			}
			out, errs, code := runCLI(t, c.args...)
			if code != 2 || errs == "" || !strings.Contains(errs, c.want) {
				t.Errorf("wxarchive %s: exit %d, want 2 with %q\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.want, out, errs)
			}
		})
	}
	// Nothing above touched the archive.
	if st := cliGetStats(t, dir); st.Messages != 0 || st.Quarantined != 0 {
		t.Errorf("usage errors wrote to the archive: %+v", st)
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("show on an empty dir: %v, left %v", err, entries)
	}
}

func TestCLIDemo(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "A"), filepath.Join(root, "B")}
	type result struct {
		out, errs string
		code      int
	}
	res := make([]result, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			a := &app{stdout: &out, stderr: &errb}
			res[i].code = a.run(context.Background(), []string{"--dir", d, "demo", "--messages", "2000", "--seed", "7"})
			res[i].out, res[i].errs = out.String(), errb.String()
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("demo into %s: exit %d\n%s\n%s", dirs[i], r.code, r.out, r.errs)
		}
		if !strings.Contains(r.out, "Archived 2000 demo messages (seed 7) in ") || !strings.Contains(r.out, ": 2000 new, 0 already archived,") ||
			!strings.Contains(r.out, " 0 rejected.\n") {
			t.Errorf("demo into %s:\n%s", dirs[i], r.out)
		}
	}

	// Same seed, same messages: every serial holds the same raw bytes.
	ctx := context.Background()
	rawByDir := make([]map[uint64]archive.BlobID, len(dirs))
	for i, d := range dirs {
		r, err := archivetest.Open(ctx, d, repo.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		rawByDir[i] = map[uint64]archive.BlobID{}
		for s := uint64(1); s <= 2001; s++ {
			row, err := r.Store.Message(ctx, s)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			rawByDir[i][s] = row.RawHash
		}
		r.Close(ctx)
	}
	if len(rawByDir[0]) != 2000 || len(rawByDir[1]) != 2000 {
		t.Fatalf("serials held: A %d, B %d, want 2000 each (1..2000)", len(rawByDir[0]), len(rawByDir[1]))
	}
	for s, h := range rawByDir[0] {
		if rawByDir[1][s] != h {
			t.Errorf("serial %d: raw %s in A, %s in B", s, h, rawByDir[1][s])
		}
	}

	// The "Try next" section ends the output and its examples exist.
	out := res[0].out
	// (The test binary runs from the go-build cache, so the demo also
	// explains how to run wxarchive without installing it.)
	i := strings.Index(out, "\nTry next (add --dir "+dirs[0])
	if i < 0 || !strings.Contains(out[i:], "):\n") {
		t.Fatalf("demo output has no Try next section:\n%s", out)
	}
	var shows []uint64
	for _, l := range strings.Split(strings.TrimRight(out[i+1:], "\n"), "\n")[1:] {
		if !strings.HasPrefix(l, "  wxarchive ") {
			t.Errorf("line after Try next is not a command: %q", l)
		}
		if m := regexp.MustCompile(`^  wxarchive show (\d+)\s+# \S`).FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			shows = append(shows, n)
		}
	}
	if len(shows) == 0 {
		t.Errorf("Try next lists no `wxarchive show N`:\n%s", out[i:])
	}
	for _, s := range shows {
		if _, ok := rawByDir[0][s]; !ok {
			t.Errorf("Try next suggests show %d, which does not exist", s)
		}
	}
	if len(shows) > 0 {
		if o := mustCLI(t, "--dir", dirs[0], "show", strconv.FormatUint(shows[0], 10)); !strings.Contains(o, "inclusion proof   VERIFIED") {
			t.Errorf("show %d:\n%s", shows[0], o)
		}
	}

	// Again into A: all duplicates.
	before := cliGetStats(t, dirs[0])
	out = mustCLI(t, "--dir", dirs[0], "demo", "--messages", "2000", "--seed", "7")
	if !strings.Contains(out, ": 0 new, 2000 already archived,") || strings.Contains(out, "Created archive") {
		t.Errorf("demo again:\n%s", out)
	}
	if after := cliGetStats(t, dirs[0]); after.Messages != 2000 || before.Messages != 2000 || after.Attachments != before.Attachments {
		t.Errorf("demo again: stats before %+v after %+v", before, after)
	}
	cliVerifyOK(t, dirs[0])
}

func TestCLIExitCodesSubprocess(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}

	missing := filepath.Join(root, "missing")
	if out, code := run("--dir", missing, "stats"); code != 2 || !strings.Contains(out, "no archive here") {
		t.Errorf("stats on a missing archive: exit %d, want 2\n%s", code, out)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stats on a missing archive created %s", missing)
	}

	dir := filepath.Join(root, "archive")
	if out, code := run("--dir", dir, "init"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	if out, code := run("--dir", dir, "ingest", "wecom-archive", fixture); code != 0 {
		t.Fatalf("ingest: exit %d\n%s", code, out)
	}
	if out, code := run("--dir", dir, "verify"); code != 0 {
		t.Fatalf("verify before tampering: exit %d\n%s", code, out)
	}

	var objects []string
	err := filepath.WalkDir(filepath.Join(dir, "blobs", "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			objects = append(objects, p)
		}
		return err
	})
	if err != nil || len(objects) == 0 {
		t.Fatalf("no blob objects: %v", err)
	}
	sort.Strings(objects)
	victim := objects[0]
	if err := os.Chmod(victim, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(victim)
	if err != nil || len(data) == 0 {
		t.Fatalf("read %s: %v", victim, err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(victim, data, 0o444); err != nil {
		t.Fatal(err)
	}
	out, code := run("--dir", dir, "verify")
	if code != 1 {
		t.Errorf("verify on a tampered archive: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "FAULT blob.corrupt") || !strings.Contains(out, filepath.Base(victim)) || !strings.Contains(out, "FAILED: ") {
		t.Errorf("verify does not name the corrupt blob %s:\n%s", filepath.Base(victim), out)
	}
}

func TestCLISearch(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)

	// The table marks hits (no terminal here: «»), shows the time in the
	// archive's zone and the sender.
	out := mustCLI(t, "--dir", dir, "search", "保本")
	if !strings.HasPrefix(out, "1 match, by time\n") || !strings.Contains(out, "这个产品«保本»保收益") || !strings.Contains(out, "zhangwei") {
		t.Fatalf("search 保本:\n%s", out)
	}
	// Several arguments are one query; no match is not an error.
	out = mustCLI(t, "--dir", dir, "search", "保本", "税收")
	if out != "no messages match\n" {
		t.Fatalf("search 保本 税收: %q", out)
	}

	// --json has the shape scripts rely on (DESIGN.md §9).
	var res struct {
		Total   *int64 `json:"total"`
		Results []struct {
			Serial       *uint64   `json:"serial"`
			SourceID     *string   `json:"source_id"`
			Conversation *string   `json:"conversation"`
			Sender       *string   `json:"sender"`
			SentAt       *string   `json:"sent_at"`
			Kind         *string   `json:"kind"`
			Snippet      *string   `json:"snippet"`
			Highlights   *[][2]int `json:"highlights"`
		} `json:"results"`
		NextCursor *string `json:"next_cursor"`
	}
	cliJSON(t, &res, "--dir", dir, "search", "type:text", "--json", "--limit", "2")
	if res.Total == nil || *res.Total < 3 || len(res.Results) != 2 || res.NextCursor == nil {
		t.Fatalf("search --json: %+v", res)
	}
	for _, r := range res.Results {
		if r.Serial == nil || r.SourceID == nil || r.Conversation == nil || r.Sender == nil || r.SentAt == nil ||
			r.Kind == nil || r.Snippet == nil || r.Highlights == nil {
			t.Fatalf("search --json result lacks a field: %+v", r)
		}
	}
	// The cursor continues where the page ended.
	var next struct {
		Results []struct {
			Serial uint64 `json:"serial"`
		} `json:"results"`
	}
	cliJSON(t, &next, "--dir", dir, "search", "type:text", "--json", "--limit", "2", "--cursor", *res.NextCursor)
	if len(next.Results) == 0 || next.Results[0].Serial == *res.Results[0].Serial || next.Results[0].Serial == *res.Results[1].Serial {
		t.Fatalf("second page %+v repeats the first", next)
	}

	// --count-all: the same total, stated exact.
	var all struct {
		Total      int64 `json:"total"`
		TotalExact *bool `json:"total_exact"`
	}
	cliJSON(t, &all, "--dir", dir, "search", "type:text", "--json", "--limit", "1", "--count-all")
	if all.Total != *res.Total || all.TotalExact == nil || !*all.TotalExact {
		t.Fatalf("search --count-all: %+v, want total %d, exact", all, *res.Total)
	}

	// --exact scans for a literal.
	out = mustCLI(t, "--dir", dir, "search", "--exact", "保本保收益")
	if !strings.Contains(out, "«保本保收益»") {
		t.Fatalf("search --exact:\n%s", out)
	}

	// Bad queries are usage errors that point at the mistake.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"search", `保本 "收益`}, "wxarchive: query: column 4: unterminated phrase"},
		{[]string{"search", "after:someday"}, "after: expected a date"},
		{[]string{"search", "x", "--sort", "random"}, "sort: expected time or relevance"},
		{[]string{"search", "x", "--cursor", "nope"}, "cursor: not a cursor"},
		{[]string{"search", "x", "--limit", "0"}, "limit: must be between 1 and 1000"},
		{[]string{"search"}, "requires at least 1 arg"},
	} {
		_, errs, code := runCLI(t, append([]string{"--dir", dir}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("wxarchive %s: exit %d, stderr %q; want exit 2 mentioning %q", strings.Join(tc.args, " "), code, errs, tc.want)
		}
	}

	// Every search that ran is in the journal, with its query and count.
	r, err := archivetest.Open(context.Background(), dir, repo.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	var queries []string
	head, _ := r.Store.Head(context.Background())
	r.Store.Leaves(context.Background(), 0, head.JournalSize, func(idx uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(idx, leaf)
		if err != nil || ev.Type != archive.EventAccessView {
			return err
		}
		var a archive.AccessEvent
		if err := ev.DecodePayload(&a); err != nil {
			return err
		}
		if a.What == "search" && a.Results != nil {
			queries = append(queries, fmt.Sprintf("%s=%d", a.Query, *a.Results))
		}
		return nil
	})
	if want := []string{"保本=1", "保本 税收=0", fmt.Sprintf("type:text=%d", *res.Total), fmt.Sprintf("type:text=%d", *res.Total), fmt.Sprintf("type:text=%d", *res.Total), "保本保收益=1"}; !slices.Equal(queries, want) {
		t.Fatalf("journaled searches %v, want %v", queries, want)
	}
}

// TestRenderSearchLowerBound: a total that is a lower bound reads
// "100,000+" and says how to count them all.
func TestRenderSearchLowerBound(t *testing.T) {
	var buf strings.Builder
	a := &app{stdout: &buf}
	a.renderSearch(&uc.SearchResult{Total: 100000, TotalExact: false, Sort: "time",
		Results: []uc.SearchResultItem{{Serial: 7, SentAt: "2026-08-01T10:00:00+08:00", Sender: "lulin", Snippet: "的", Highlights: [][2]int{{0, 1}}}}},
		time.UTC, []string{"的"})
	if !strings.HasPrefix(buf.String(), "100,000+ matches, showing 1, by time (--count-all for the exact number)\n") {
		t.Fatalf("lower-bound header:\n%s", buf.String())
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 2600000: "2,600,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCLIIngestSealsWhileRunning: a long `ingest` seals records into the
// blob store within the seal delay, not only when it exits.
func TestCLIIngestSealsWhileRunning(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg := strings.Replace(mustRead(t, cfgPath), "seal_delay: 10s", "seal_delay: 200ms", 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "lines.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan string, 1)
	go func() {
		out, errs, code := runCLI(t, "--dir", dir, "ingest", "wecom-archive", fifo)
		done <- fmt.Sprintf("exit %d\n%s%s", code, out, errs)
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// More than one batch of 1,000 lines (the ingester commits a batch
	// once it is full), with msgids made unique.
	text := mustRead(t, fixture)
	for i := 0; i < 40; i++ {
		if _, err := w.WriteString(strings.ReplaceAll(text, `"msgid": "`, fmt.Sprintf(`"msgid": "r%d-`, i))); err != nil {
			t.Fatal(err)
		}
	}
	// The ingest is still running (the pipe is open): the committed batch's
	// records must reach a sealed pack within the delay.
	sealed := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !sealed; time.Sleep(100 * time.Millisecond) {
		if r, err := archivetest.Open(context.Background(), dir, repo.OpenOptions{ReadOnly: true}); err == nil {
			c, err := r.Store.Counts(context.Background())
			sealed = err == nil && c.Packs > 0 && c.Messages >= 1000
			r.Close(context.Background())
		}
	}
	w.Close()
	out := <-done
	if !sealed {
		t.Fatalf("no pack sealed while the ingest ran\n%s", out)
	}
	if !strings.HasPrefix(out, "exit 0\n") {
		t.Fatalf("ingest: %s", out)
	}
}

// TestCLITimeUnknown: a message whose msgtime is 0 (WeCom's own image
// example) archives, and search and show say its time is unknown.
func TestCLITimeUnknown(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	in := filepath.Join(t.TempDir(), "m.jsonl")
	os.WriteFile(in, []byte(`{"msgid":"tu1","action":"send","from":"zhangwei","tolist":["wmClient"],"roomid":"","msgtime":0,"msgtype":"text","text":{"content":"保本理财"}}`+"\n"+
		`{"msgid":"tu2","action":"send","from":"zhangwei","tolist":["wmClient"],"roomid":"","msgtime":1700000000000,"msgtype":"text","text":{"content":"保本基金"}}`+"\n"), 0o644)
	if out := mustCLI(t, "--dir", dir, "ingest", "wecom-archive", in); !strings.Contains(out, "1 archived with fields set aside") ||
		!strings.Contains(out, "line 1 serial 1 tu1: msgtime") {
		t.Fatalf("ingest summary does not name the decode warning:\n%s", out)
	}
	out := mustCLI(t, "--dir", dir, "search", "保本")
	if !strings.Contains(out, "? time unknown") || strings.Count(out, "?  ") != 1 {
		t.Fatalf("search does not mark the unknown time:\n%s", out)
	}
	js := mustCLI(t, "--dir", dir, "search", "保本", "--json")
	if strings.Count(js, `"time_unknown": true`) != 1 {
		t.Fatalf("search --json: %s", js)
	}
	if out := mustCLI(t, "--dir", dir, "show", "tu1"); !strings.Contains(out, "sent          unknown (the source gave no usable time") {
		t.Fatalf("show:\n%s", out)
	}
	if out := mustCLI(t, "--dir", dir, "show", "tu2"); strings.Contains(out, "unknown") {
		t.Fatalf("show of a message with a time:\n%s", out)
	}
}

// TestCLIVersionAndUsage: --version prints the build; a missing required
// flag is a usage error (exit 2); the help lists --dir's default once and
// not serve's child command.
func TestCLIVersionAndUsage(t *testing.T) {
	t.Parallel()
	if out := mustCLI(t, "--version"); !strings.HasPrefix(out, "wxarchive ") || !strings.Contains(out, "go1.") {
		t.Fatalf("--version: %q", out)
	}
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	if _, errs, code := runCLI(t, "--dir", dir, "token", "create"); code != 2 || !strings.Contains(errs, `required flag(s) "name", "owner" not set`) {
		t.Fatalf("missing required flags: exit %d, %s", code, errs)
	}
	help := mustCLI(t, "--help")
	if strings.Contains(help, "capture-agent") || strings.Count(help, "wxarchive-data") != 1 {
		t.Fatalf("help:\n%s", help)
	}
}

// TestCLIDemoLooksAlive: right after demo, health reports no fault the
// demo did not plant (its period is fixed and it has no live connector, so
// silence is not checked, and says so), and the consent id it suggests has
// a history.
func TestCLIDemoLooksAlive(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	out := mustCLI(t, "--dir", dir, "demo", "--messages", "3000")
	if h, _, code := runCLI(t, "--dir", dir, "health"); code != 0 || !strings.Contains(h, "capture health OK") || !strings.Contains(h, "silence not checked") {
		t.Fatalf("health after demo: exit %d\n%s", code, h)
	}
	var id string
	for _, ln := range strings.Split(out, "\n") {
		if f := strings.Fields(ln); len(f) >= 3 && f[0] == "wxarchive" && f[1] == "consent" {
			id = f[2]
		}
	}
	if id == "" {
		t.Fatalf("demo suggests no consent id:\n%s", out)
	}
	if c := mustCLI(t, "--dir", dir, "consent", id); strings.Contains(c, "(0 events)") || !strings.Contains(c, "serial") {
		t.Fatalf("the suggested consent id %s has no history:\n%s", id, c)
	}
	// People and conversations by name, as they were when the message was
	// sent, the ids kept beside them.
	js := mustCLI(t, "--dir", dir, "search", "大家", "--json")
	var named struct {
		Results []struct {
			Serial           uint64 `json:"serial"`
			Sender           string `json:"sender"`
			SenderName       string `json:"sender_name"`
			ConversationName string `json:"conversation_name"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(js), &named); err != nil || len(named.Results) == 0 {
		t.Fatalf("search --json: %v\n%s", err, js)
	}
	h := named.Results[0]
	if h.SenderName == "" || h.ConversationName == "" || h.Sender == "" {
		t.Fatalf("search hit without names: %+v", h)
	}
	if sh := mustCLI(t, "--dir", dir, "show", fmt.Sprint(h.Serial)); !strings.Contains(sh, h.SenderName+" "+h.Sender+" (employee)") &&
		!strings.Contains(sh, h.SenderName+" "+h.Sender+" (external)") {
		t.Fatalf("show does not name %s %s:\n%s", h.SenderName, h.Sender, sh)
	}
	if tbl := mustCLI(t, "--dir", dir, "search", "大家"); !strings.Contains(tbl, h.SenderName+" "+h.Sender) {
		t.Fatalf("search table without names:\n%s", tbl)
	}
	// stats counts supervision too.
	var st struct {
		Policies   int   `json:"policies"`
		Alerts     int64 `json:"alerts"`
		OpenAlerts int64 `json:"open_alerts"`
	}
	cliJSON(t, &st, "--dir", dir, "stats", "--json")
	if st.Policies == 0 || st.Alerts == 0 || st.OpenAlerts != st.Alerts {
		t.Fatalf("stats supervision counts %+v", st)
	}
	if out := mustCLI(t, "--dir", dir, "stats"); !strings.Contains(out, fmt.Sprintf("supervision    %d policies, %d alerts (%d open, 0 overdue)", st.Policies, st.Alerts, st.OpenAlerts)) {
		t.Fatalf("stats:\n%s", out)
	}
	// The evidence of review for the demo's quarter (its messages' dates,
	// not today's, when the alerts were raised) lists its alerts and reviews.
	var al struct{ Alerts []struct{ ID uint64 } }
	cliJSON(t, &al, "--dir", dir, "alerts", "list", "--json")
	if len(al.Alerts) == 0 {
		t.Fatal("the demo raised no alerts")
	}
	mustCLI(t, "--dir", dir, "review", "close", fmt.Sprint(al.Alerts[0].ID), "--disposition", "no_issue")
	var ev struct {
		By     string
		Alerts []struct {
			Alert    uint64
			Reviewed bool
			SentAt   string `json:"sent_at"`
		}
	}
	cliJSON(t, &ev, "--dir", dir, "report", "review-evidence", "--from", "2026-07-01", "--to", "2026-10-01", "--format", "json")
	reviewed := false
	for _, a := range ev.Alerts {
		reviewed = reviewed || a.Alert == al.Alerts[0].ID && a.Reviewed
		if a.SentAt < "2026-07-01" || a.SentAt >= "2026-10-01" {
			t.Fatalf("alert %d on a message sent %s is not in Q3", a.Alert, a.SentAt)
		}
	}
	if ev.By != "sent" || len(ev.Alerts) == 0 || !reviewed {
		t.Fatalf("Q3 evidence: by %q, %d alerts, the review shown: %v", ev.By, len(ev.Alerts), reviewed)
	}
	cliJSON(t, &ev, "--dir", dir, "report", "review-evidence", "--from", "2026-07-01", "--to", "2026-10-01", "--format", "json", "--by", "raised")
	if len(ev.Alerts) != 0 {
		t.Fatalf("by raised: %d alerts raised in Q3 (they were raised today)", len(ev.Alerts))
	}
	if _, errs, code := runCLI(t, "--dir", dir, "report", "review-evidence", "--from", "2026-07-01", "--to", "2026-10-01", "--by", "seen"); code != 2 || !strings.Contains(errs, "by: want sent") {
		t.Fatalf("--by seen: exit %d %s", code, errs)
	}
}

// TestCLIConnectorsCheckSecrets: connectors says what serve would refuse
// to start on — a secret it cannot read — naming where it looked, never a
// value (exit 2).
func TestCLIConnectorsCheckSecrets(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "token"), []byte("QDG6eK"), 0o600)
	cfg := filepath.Join(dir, repo.ConfigFile)
	os.WriteFile(cfg, []byte(mustRead(t, cfg)+fmt.Sprintf(`connectors:
  - id: staff-app
    type: wecom-callback
    corp_id: ww0123456789abcdef
    token: {file: %s/token}
    aes_key: {file: %s/missing.key}
`, secrets, secrets)), 0o644)
	_, errs, code := runCLI(t, "--dir", dir, "connectors")
	if code != 2 || !strings.Contains(errs, "serve would not start: connector staff-app: aes_key: read "+secrets+"/missing.key") ||
		strings.Contains(errs, "token:") || strings.Contains(errs, "QDG6eK") {
		t.Fatalf("connectors: exit %d, %s", code, errs)
	}
}
