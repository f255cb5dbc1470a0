package callback

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// documentedDir holds callback plaintexts as WeCom's and the Official
// Account platform's documentation show them (as the major SDKs copy
// them): one per file, named wecom-*, oa-* or suite-*, each one's source
// in SOURCES.md there.
const documentedDir = "testdata/documented"

// knownGaps are documented examples the receiver handles wrongly: file →
// what goes wrong. They are reported, not failed; a gap that no longer
// shows is an error (take it out of the list).
var knownGaps = map[string]string{}

// labelGaps are keys of eventLabels or suiteLabels that no documented
// example carries in that role: label → why.
var labelGaps = map[string]string{
	"suite:batch_job_result": "no documented example of a suite (InfoType batch_job_result) 异步任务完成通知 was found in the SDK " +
		"copies searched (WxJava, SKIT, wechatpy, Senparc); only the self-built Event form (wecom-event-batch_job_result.xml)",
}

// credentialNames are the fields whose values are live credentials
// (docs/FORMAT.md §3.3): matched on the last element of a field's path, so
// a nested one (ContactSync/AccessToken) counts too.
var credentialNames = map[string]bool{
	"SuiteTicket": true, "AuthCode": true, "PermanentCode": true, "RegisterCode": true, "Token": true,
	"AccessToken": true, "ProviderAccessToken": true, "Secret": true,
	"ComponentVerifyTicket": true, "AuthorizationCode": true,
}

// mediaTypes are the MsgTypes whose documents carry media to fetch.
var mediaTypes = map[string]bool{"image": true, "voice": true, "video": true, "shortvideo": true, "file": true}

// textTypes are the MsgTypes whose normalized text must not be empty.
var textTypes = map[string]bool{"text": true, "link": true, "location": true}

func lastName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// TestDocumentedCallbacks runs every documented plaintext through the
// receiver's parsing and normalizing.
func TestDocumentedCallbacks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(documentedDir, "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("%d documented examples in %s: the corpus is missing", len(files), documentedDir)
	}
	kindOf := map[string]archive.Kind{}
	for mt, cells := range formatRows(t, "MsgType") {
		kindOf[mt] = archive.Kind(cells[0])
	}
	now := time.Unix(1700000000, 0)
	events := map[string][]string{} // Event → files
	infos := map[string][]string{}  // InfoType → files
	for _, path := range files {
		name := filepath.Base(path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var problems []string
		bad := func(format string, a ...any) {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
		func() {
			if what, err := Describe(data); err != nil {
				bad("Describe refuses it (%s): %v", what, err)
				return
			}
			doc, err := ParseXML(data)
			if err != nil {
				bad("ParseXML: %v", err)
				return
			}
			var secrets []string
			for _, f := range doc.Fields {
				if v := strings.TrimSpace(f.Value); v != "" && credentialNames[lastName(f.Name)] {
					secrets = append(secrets, f.Name+"="+v)
				}
			}
			var out *archive.Message
			if s, ok := SuiteOf(doc); ok {
				if !strings.HasPrefix(name, "suite-") {
					bad("read as a suite callback (InfoType %s), but the file is not named suite-*", s.InfoType)
				}
				infos[s.InfoType] = append(infos[s.InfoType], name)
				out = NormalizeSuite(s, PlatformWeCom, "documented", "callback:documented", now)
				if out.Kind != archive.KindEvent {
					bad("suite callback: kind %q, want event", out.Kind)
				}
				if want := "suite:" + s.InfoType; out.SourceType != want {
					bad("suite callback: source type %q, want %q", out.SourceType, want)
				}
				if out.Text == "" {
					bad("suite callback: empty text")
				}
				if s.TimeProblem != "" {
					t.Logf("%s: %s (documented so; filed at capture time)", name, s.TimeProblem)
				}
			} else {
				platform := PlatformWeCom
				switch {
				case strings.HasPrefix(name, "oa-"):
					platform = PlatformOfficialAccount
				case strings.HasPrefix(name, "wecom-"):
				default:
					bad("a message or event, but the file is not named wecom-* or oa-*")
				}
				m, err := MessageOf(doc)
				if err != nil {
					bad("MessageOf: %v", err)
					return
				}
				out = Normalize(m, platform, "documented", now)
				want, known := kindOf[m.MsgType]
				if !known {
					want = archive.KindUnknown
				}
				if out.Kind != want {
					bad("MsgType %s: kind %q, FORMAT.md §3.3 says %q", m.MsgType, out.Kind, want)
				}
				switch {
				case m.MsgType == "event":
					events[m.Event] = append(events[m.Event], name)
					if out.Text == "" {
						bad("event %s: empty text", m.Event)
					} else if l := label(eventLabels, m.Event, ""); !strings.HasPrefix(out.Text, l) {
						bad("event %s: text %q does not start with its label %q", m.Event, out.Text, l)
					}
					if want := "event:" + m.Event; out.SourceType != want {
						bad("event: source type %q, want %q", out.SourceType, want)
					}
				case textTypes[m.MsgType] && out.Text == "":
					bad("MsgType %s: empty text", m.MsgType)
				}
				if mediaTypes[m.MsgType] && len(out.Attachments) == 0 {
					bad("MsgType %s: no attachment", m.MsgType)
				}
				if m.TimeProblem != "" {
					t.Logf("%s: %s (documented so; filed at capture time)", name, m.TimeProblem)
				}
			}
			// No credential survives: not in the raw record, not in the
			// normalized one.
			raw, _ := Redacted(data, doc)
			for _, sv := range secrets {
				field, v, _ := strings.Cut(sv, "=")
				if bytes.Contains(raw, []byte(v)) {
					bad("credential %s is in the redacted raw record", field)
				}
				if normalizedHas(out, v) {
					bad("credential %s is in the normalized record", field)
				}
			}
		}()
		gap, isGap := knownGaps[name]
		switch {
		case len(problems) > 0 && isGap:
			t.Logf("known gap %s: %s\n\tseen: %s", name, gap, strings.Join(problems, "; "))
		case len(problems) > 0:
			t.Errorf("%s: %s", name, strings.Join(problems, "; "))
		case isGap:
			t.Errorf("%s is listed in knownGaps (%s) but passes: take it out", name, gap)
		}
	}
	for gap := range knownGaps {
		if _, err := os.Stat(filepath.Join(documentedDir, gap)); err != nil {
			t.Errorf("knownGaps lists %s, which is not in %s", gap, documentedDir)
		}
	}

	// Every label names something documented; report what is documented
	// but has no label.
	check := func(kind string, labels map[string]string, seen map[string][]string) {
		for _, k := range sortedKeys(labels) {
			if len(seen[k]) > 0 {
				continue
			}
			if why, ok := labelGaps[kind+":"+k]; ok {
				t.Logf("label gap: %s %s has a label but no documented example in that role: %s", kind, k, why)
				continue
			}
			t.Errorf("%s %s has a label but no documented example in %s", kind, k, documentedDir)
		}
		for _, k := range sortedKeys(seen) {
			if _, ok := labels[k]; !ok {
				t.Logf("documented %s %s has no label (archived under its name): %s", kind, k, strings.Join(seen[k], ", "))
			}
		}
	}
	check("event", eventLabels, events)
	check("suite", suiteLabels, infos)
	for k := range labelGaps {
		kind, key, _ := strings.Cut(k, ":")
		seen := events
		if kind == "suite" {
			seen = infos
		}
		if len(seen[key]) > 0 {
			t.Errorf("labelGaps lists %s, which now has a documented example: take it out", k)
		}
	}
	t.Logf("%d documented examples: %d Events, %d InfoTypes", len(files), len(events), len(infos))
}

func normalizedHas(m *archive.Message, v string) bool {
	if m == nil {
		return false
	}
	if strings.Contains(m.Text, v) {
		return true
	}
	for _, d := range m.Details {
		if strings.Contains(d.Value, v) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
