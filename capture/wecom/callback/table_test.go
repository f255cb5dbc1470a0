package callback

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// formatRows reads one table of docs/FORMAT.md §3.3: its rows' first
// column (without backquotes) to their cells.
func formatRows(t *testing.T, header string) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "### 3.3 Callback MsgTypes, Events and suite InfoTypes")
	if !ok {
		t.Fatal("FORMAT.md has no §3.3")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	_, table, ok := strings.Cut(sec, "\n| "+header+" |")
	if !ok {
		t.Fatalf("§3.3 has no %s table", header)
	}
	rows := map[string][]string{}
	for _, ln := range strings.Split(table, "\n")[1:] {
		if !strings.HasPrefix(ln, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(ln, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[1], "`")] = cells[2:]
	}
	return rows
}

// TestFormatCallbackTable checks docs/FORMAT.md §3.3 against the
// receiver: each MsgType normalizes to its kind, each Event and InfoType
// to its label, and every one the receiver knows is in the tables.
func TestFormatCallbackTable(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for mt, cells := range formatRows(t, "MsgType") {
		extra := "<MsgId>1</MsgId>"
		if mt == "event" {
			extra = "<Event>enter_agent</Event>"
		}
		m, err := ParseMessage([]byte("<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime><MsgType>" + mt + "</MsgType>" + extra + "</xml>"))
		if err != nil {
			t.Errorf("%s: %v", mt, err)
			continue
		}
		if got := Normalize(m, PlatformWeCom, "s", now).Kind; got != archive.Kind(cells[0]) {
			t.Errorf("MsgType %s: kind %q, the table says %q", mt, got, cells[0])
		}
	}
	events := formatRows(t, "Event")
	for ev, cells := range events {
		m, err := ParseMessage([]byte("<xml><ToUserName>ww1</ToUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>" + ev + "</Event></xml>"))
		if err != nil {
			t.Errorf("%s: %v", ev, err)
			continue
		}
		if got := Normalize(m, PlatformWeCom, "s", now); got.Kind != archive.KindEvent || got.Text != cells[0] {
			t.Errorf("Event %s: kind %q text %q, the table says %q", ev, got.Kind, got.Text, cells[0])
		}
	}
	for ev := range eventLabels {
		if _, ok := events[ev]; !ok {
			t.Errorf("Event %s has a label but no row in §3.3", ev)
		}
	}
	for k := range kinds {
		if _, ok := formatRows(t, "MsgType")[k]; !ok {
			t.Errorf("MsgType %s is normalized but not in §3.3", k)
		}
	}
	suites := formatRows(t, "InfoType")
	for info, cells := range suites {
		doc, err := ParseXML([]byte("<xml><SuiteId>ww1</SuiteId><InfoType>" + info + "</InfoType><TimeStamp>1700000000</TimeStamp></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		s, ok := SuiteOf(doc)
		if !ok {
			t.Errorf("InfoType %s: not read as a suite callback", info)
			continue
		}
		if got := NormalizeSuite(s, PlatformWeCom, "s", "callback:c", now); got.Text != cells[0] || got.SourceType != "suite:"+info {
			t.Errorf("InfoType %s: text %q, the table says %q", info, got.Text, cells[0])
		}
	}
	for info := range suiteLabels {
		if _, ok := suites[info]; !ok {
			t.Errorf("InfoType %s has a label but no row in §3.3", info)
		}
	}
	if len(events) < 40 || len(suites) < 15 {
		t.Errorf("tables of %d events and %d InfoTypes: fewer than documented", len(events), len(suites))
	}
}
