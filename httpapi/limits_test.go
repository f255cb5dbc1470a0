package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

// TestOversizeVectors: every journaled field an API caller controls, at
// its limit and one byte over (docs/FORMAT.md §4.6). Over the limit the
// request is refused naming the field and nothing is journaled; at the
// limit it is journaled and reads back. finish then requires verify to
// find the archive clean — before the limits, one of these requests made
// verify and reindex fail for good.
func TestOversizeVectors(t *testing.T) {
	e := newSupervisionEnv(t)
	a := e.seedAlerts()
	jsonBody := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	action := func(note, reason, assignee, act string, alerts ...uint64) []byte {
		return jsonBody(map[string]any{"action": act, "alerts": alerts, "note": note, "reason": reason, "assignee": assignee})
	}
	lt := func(n int) string { return strings.Repeat("<", n) } // six bytes each once escaped
	zh := func(n int) string { return strings.Repeat("注", n/3) + strings.Repeat("x", n%3) }
	over := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		code, what                string
	}{
		{"note", "POST", "/api/v1/alerts/actions", "application/json", action(lt(archive.MaxNoteBytes+1), "", "", "comment", a[0]), 400, "bad_note", "over the limit of 16384"},
		{"note (the 300,000 '<' of issue 12)", "POST", "/api/v1/alerts/actions", "application/json", action(lt(300_000), "", "", "comment", a[0]), 413, "body_too_large", "bytes"},
		{"note in Chinese", "POST", "/api/v1/alerts/actions", "application/json", action(zh(archive.MaxNoteBytes+1), "", "", "comment", a[0]), 400, "bad_note", "note"},
		{"reason", "POST", "/api/v1/alerts/actions", "application/json", action("", lt(archive.MaxReasonBytes+1), "", "claim", a[0], a[1]), 400, "bad_reason", "reason"},
		{"assignee", "POST", "/api/v1/alerts/actions", "application/json", action("", "", strings.Repeat("b", archive.MaxIDBytes+1), "assign", a[0]), 400, "bad_assignee", "assignee"},
		{"alerts", "POST", "/api/v1/alerts/actions", "application/json", action("", "bulk", "", "claim", make([]uint64, archive.MaxReviewAlerts+1)...), 400, "bad_alerts", "alerts"},
		{"search query", "GET", "/api/v1/search?q=" + url.QueryEscape(lt(archive.MaxQueryBytes+1)), "", nil, 400, "bad_query", "query"},
		{"consent id", "GET", "/api/v1/consent/" + strings.Repeat("w", archive.MaxIDBytes+1), "", nil, 400, "bad_external_id", "external_id"},
		{"corp (1 MiB)", "POST", ingestPath + "?corp=" + strings.Repeat("c", 1<<20), "application/json", []byte(`{}`), 400, "bad_parameter", "corp"},
		{"corp (a path)", "POST", ingestPath + "?corp=" + url.QueryEscape("../../.."), "application/json", []byte(`{}`), 400, "bad_parameter", "corp"},
		{"corp (65 bytes)", "POST", ingestPath + "?corp=" + strings.Repeat("c", 65), "application/json", []byte(`{}`), 400, "bad_parameter", "corp"},
		{"policy file", "PUT", "/api/v1/policies/promises", "application/yaml", []byte("policy: promises\n# " + lt(archive.MaxPolicySourceBytes) + "\nrules:\n  - id: r\n    lexicon: [保本]\n"), 413, "body_too_large", "bytes"},
	}
	for _, c := range over {
		t.Logf("over the limit: %s", c.name)
		e.refused(c.method, c.path, "alice", c.ctype, c.body, c.status, c.code, c.what)
	}
	// At the limits: journaled, and every leaf written reads back (finish
	// verifies the whole archive).
	before := e.head().JournalSize
	at := []struct {
		name, method, path, ctype string
		body                      []byte
	}{
		{"note", "POST", "/api/v1/alerts/actions", "application/json", action(lt(archive.MaxNoteBytes), "", "", "comment", a[0])},
		{"note in Chinese", "POST", "/api/v1/alerts/actions", "application/json", action(zh(archive.MaxNoteBytes), "", "", "comment", a[0])},
		{"reason and assignee", "POST", "/api/v1/alerts/actions", "application/json",
			action("", lt(archive.MaxReasonBytes), strings.Repeat("b", archive.MaxIDBytes), "assign", a[0], a[1])},
		{"search query", "GET", "/api/v1/search?q=" + url.QueryEscape(zh(archive.MaxQueryBytes)), "", nil},
		{"consent id", "GET", "/api/v1/consent/" + strings.Repeat("w", archive.MaxIDBytes), "", nil},
		{"corp", "POST", ingestPath + "?corp=" + strings.Repeat("c", 64), "application/json", textMsg("at-limit-1", "zhangwei", []string{"wmExtClient001"}, 1700700000000, "上限")},
		{"policy file", "PUT", "/api/v1/policies/promises", "application/yaml",
			[]byte(fmt.Sprintf("policy: promises\n# %s\nrules:\n  - id: r\n    lexicon: [保本]\n", lt(archive.MaxPolicySourceBytes-64)))},
	}
	for _, c := range at {
		status, b := e.call(c.method, c.path, "alice", c.ctype, c.body)
		if status >= 300 {
			t.Errorf("at the limit, %s: %d %s", c.name, status, b)
		}
	}
	if after := e.head().JournalSize; after < before+uint64(len(at)) {
		t.Fatalf("%d events journaled for %d requests at the limits", after-before, len(at))
	}
}
