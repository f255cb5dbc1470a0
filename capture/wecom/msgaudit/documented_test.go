package msgaudit

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

// knownGaps lists lines of testdata/documented.jsonl (1-based) that do
// not decode as docs/FORMAT.md §3.2 says. They are decoder bugs, reported
// with t.Log rather than failing, until the decoder is fixed; a gap that no
// longer fails is an error, so the list cannot go stale.
var knownGaps = map[int]string{}

// documentedWarnings are the fields a documented example is expected to
// have set aside (line → field): WeCom's own image example gives msgtime 0,
// and WxJava's Uint64 variant gives a filesize past int64. Any other warning
// means the decoder did not understand a documented field.
var documentedWarnings = map[int]string{
	3:  "msgtime",
	4:  "msgtime",
	40: "voip_doc_share.filesize",
}

// formatRow is one row of docs/FORMAT.md §3.2.
type formatRow struct {
	key        string // content key ("" for action switch)
	flat       bool   // "(or flattened)"
	kind       archive.Kind
	textFields []string // fields of the content the text column names
	attachment bool     // the details column says "attachment"
}

// textFieldAlias maps the phrases of the table's text column to the field of
// the content they name.
var textFieldAlias = map[string]string{
	"each item's text":          "content",
	"each item's title":         "title",
	"each voteitem":             "voteitem",
	"each question":             "ques",
	"each attendee":             "attendeename",
	"each demo file name":       "filename",
	"the call's kind (单人语音通话…)": "invitetype",
}

// formatTable parses docs/FORMAT.md §3.2 into rows keyed by msgtype; the
// action switch row is keyed "switch".
func formatTable(t *testing.T) map[string]formatRow {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "### 3.2 Conversation-archive msgtypes")
	if !ok {
		t.Fatal("FORMAT.md has no §3.2 msgtype table")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	sec, _, _ = strings.Cut(sec, "\n### ")
	rows := map[string]formatRow{}
	for _, ln := range strings.Split(sec, "\n") {
		cells := strings.Split(ln, "|")
		if len(cells) < 7 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		mt := strings.Trim(cells[1], "`")
		if cells[1] == "(action `switch`)" {
			mt = "switch"
		} else if !strings.HasPrefix(cells[1], "`") {
			continue
		}
		r := formatRow{
			kind:       archive.Kind(cells[3]),
			flat:       strings.Contains(cells[2], "flattened"),
			attachment: strings.Contains(cells[5], "attachment"),
		}
		if f := strings.Fields(cells[2]); len(f) > 0 {
			r.key = strings.Trim(f[0], "`")
		}
		if cells[4] != "" {
			for _, f := range strings.Split(cells[4], ", ") {
				if a, ok := textFieldAlias[f]; ok {
					f = a
				} else if strings.ContainsAny(f, " ()") {
					t.Errorf("FORMAT.md §3.2 %s: text %q names no field; add it to textFieldAlias", mt, f)
				}
				r.textFields = append(r.textFields, f)
			}
		}
		rows[mt] = r
	}
	if len(rows) < len(kinds)+1 {
		t.Fatalf("FORMAT.md §3.2: %d rows parsed, the decoder has %d msgtypes and action switch", len(rows), len(kinds))
	}
	return rows
}

// documentedLines returns the lines of testdata/documented.jsonl.
func documentedLines(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/documented.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), MaxLineBytes)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hasField reports whether the JSON value v holds, at any depth, a field
// name with a non-empty value (a string, a number, or a non-empty array).
func hasField(v any, name string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == name {
				switch x := x.(type) {
				case string:
					if strings.TrimSpace(x) != "" {
						return true
					}
				case json.Number:
					return true
				case []any:
					if len(x) > 0 {
						return true
					}
				}
			}
			if hasField(x, name) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasField(x, name) {
				return true
			}
		}
	}
	return false
}

// TestDocumentedExamples decodes each of WeCom's documented message examples
// (testdata/documented.jsonl, sources in testdata/documented.md) and checks
// it against docs/FORMAT.md §3.2: nothing documented is refused, each has
// its table kind, text where the table names a text field the example has,
// and attachments where the table says so or the example has an sdkfileid.
func TestDocumentedExamples(t *testing.T) {
	rows := formatTable(t)
	lines := documentedLines(t)
	seen := map[string]bool{}
	for i, ln := range lines {
		n := i + 1
		var head map[string]any
		dec := json.NewDecoder(strings.NewReader(string(ln)))
		dec.UseNumber()
		if err := dec.Decode(&head); err != nil {
			t.Fatalf("line %d is not JSON: %v", n, err)
		}
		mt, _ := head["msgtype"].(string)
		if mt == "" && head["action"] == "switch" {
			mt = "switch"
		}
		seen[mt] = true
		row, ok := rows[mt]
		if !ok {
			t.Errorf("line %d: msgtype %q is not in FORMAT.md §3.2", n, mt)
			continue
		}
		var problems []string
		m, err := Decode(ln, testOpts)
		if err != nil {
			problems = append(problems, "refused: "+err.Error())
		} else {
			if m.Kind != row.kind {
				problems = append(problems, "kind "+string(m.Kind)+", the table says "+string(row.kind))
			}
			content := head[row.key]
			if content == nil && row.flat {
				content = head
			}
			for _, f := range row.textFields {
				if hasField(content, f) && strings.TrimSpace(m.Text) == "" {
					problems = append(problems, "empty text although the example has "+row.key+"."+f)
					break
				}
			}
			wantAtt := row.attachment || (mt != "qydiskfile" && strings.Contains(string(ln), "sdkfileid"))
			if wantAtt && len(m.Attachments) == 0 {
				problems = append(problems, "no attachment")
			}
			for _, a := range m.Attachments {
				if a.SourceRef == "" || a.Status != archive.AttachmentPending {
					problems = append(problems, "attachment "+a.Role+" not to be fetched")
				}
			}
			switch mt {
			case "revoke":
				pre, _ := head["revoke"].(map[string]any)["pre_msgid"].(string)
				if m.RefersTo != pre {
					problems = append(problems, "refers_to "+m.RefersTo+", want pre_msgid "+pre)
				}
			case "agree", "disagree":
				if m.Consent == nil || m.Consent.Agreed != (mt == "agree") || m.Consent.ExternalID == "" || m.Consent.At.IsZero() {
					problems = append(problems, "no consent from "+mt)
				}
			}
			roles := make([]string, len(m.Attachments))
			for j, a := range m.Attachments {
				roles[j] = a.Role
			}
			t.Logf("line %d (%s): kind %s, text %q, attachments %q", n, mt, m.Kind, m.Text, roles)
			if ws := Warnings(m); len(ws) > 0 {
				t.Logf("line %d (%s): warnings %q", n, mt, ws)
			}
			want := documentedWarnings[n]
			got := WarnedFields(m)
			if (want == "") != (len(got) == 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
				problems = append(problems, "warned fields "+strings.Join(got, ",")+", want "+want)
			}
		}
		gap, known := knownGaps[n]
		switch {
		case len(problems) > 0 && known:
			t.Logf("line %d (%s): known gap (%s): %s", n, mt, gap, strings.Join(problems, "; "))
		case len(problems) > 0:
			t.Errorf("line %d (%s): %s", n, mt, strings.Join(problems, "; "))
		case known:
			t.Errorf("line %d (%s) is listed as a gap (%s) but decodes as documented", n, mt, gap)
		}
	}
	for mt := range kinds {
		if !seen[mt] {
			t.Errorf("msgtype %q is decoded but has no documented example", mt)
		}
	}
	if !seen["switch"] {
		t.Error("no documented example of action switch")
	}
}
