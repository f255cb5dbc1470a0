package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/repo"
)

// TestCLIAlertJSONMatchesAPI: `alerts show --json` and GET
// /api/v1/alerts/{id} are one JSON document for an alert that was assigned,
// commented on, escalated and closed (so every field is filled in).
//
// The comparison is of bytes: the CLI's output with its indentation
// removed (json.Compact, which changes nothing but insignificant
// whitespace) against the API's body without its trailing newline. Each
// read journals a view and lists it, so the API's read (the later) has one
// view more: the test checks that view on its own — it is the API's, last,
// and is the view_journal_index it reports — and takes exactly it (the
// action, the count of actions and the view index) out before comparing
// every other byte.
func TestCLIAlertJSONMatchesAPI(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	cliDirectory(t, dir,
		archive.ParticipantEvent{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(0)})
	var list struct {
		Alerts []struct {
			ID     uint64 `json:"id"`
			Policy string `json:"policy"`
		} `json:"alerts"`
	}
	cliJSON(t, &list, "--dir", dir, "alerts", "list", "--json")
	var id string
	for _, a := range list.Alerts {
		if a.Policy == "guaranteed-returns" {
			id = fmt.Sprint(a.ID)
		}
	}
	if id == "" {
		t.Fatalf("no guaranteed-returns alert: %+v", list)
	}
	// The OS user closes the escalation as a principal.
	u, _ := user.Current()
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	if err := os.WriteFile(cfgPath, []byte(mustRead(t, cfgPath)+"supervision:\n  principals: ["+u.Username+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "--dir", dir, "review", "assign", id, "--assignee", "lina")
	mustCLI(t, "--dir", dir, "review", "comment", id, "--note", "问过客户经理：说的是“保本”")
	mustCLI(t, "--dir", dir, "review", "escalate", id, "--note", "looks like a real promise <of returns>")
	mustCLI(t, "--dir", dir, "review", "close", id, "--disposition", "violation", "--note", "adviser retrained & warned")
	srvToken := serviceToken(t, dir) // before serve: it writes to the archive

	cli := mustCLI(t, "--dir", dir, "alerts", "show", id, "--json")
	srv := startServe(t, dir)
	defer srv.stop(30 * time.Second)
	if srv.token != srvToken {
		t.Fatal("serve uses another token")
	}
	resp, err := srv.do("GET", "http://"+srv.addr+"/api/v1/alerts/"+id, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/alerts/%s: %d %s", id, resp.StatusCode, api)
	}

	type detail struct {
		ViewJournalIndex uint64            `json:"view_journal_index"`
		Actions          []json.RawMessage `json:"actions"`
		State            struct {
			Status      string `json:"status"`
			Assignee    string `json:"assignee"`
			Escalated   bool   `json:"escalated"`
			Viewed      bool   `json:"viewed"`
			Reviewed    bool   `json:"reviewed"`
			ClosedBy    string `json:"closed_by"`
			ClosedAt    string `json:"closed_at"`
			Disposition string `json:"disposition"`
			Note        string `json:"note"`
			Actions     int    `json:"actions"`
		} `json:"state"`
		Alert struct {
			SenderName string `json:"sender_name"`
		} `json:"alert"`
		Message struct {
			RecordSHA256 string `json:"record_sha256"`
			RecalledBy   uint64 `json:"recalled_by"`
		} `json:"message"`
	}
	var c, a detail
	if err := json.Unmarshal([]byte(cli), &c); err != nil {
		t.Fatalf("alerts show --json: %v\n%s", err, cli)
	}
	if err := json.Unmarshal(api, &a); err != nil {
		t.Fatalf("API: %v\n%s", err, api)
	}
	// Every field is filled in.
	st := c.State
	if st.Status != "closed" || st.Assignee != "lina" || !st.Escalated || !st.Viewed || !st.Reviewed || st.ClosedBy == "" || st.ClosedAt == "" ||
		st.Disposition != "violation" || st.Note != "adviser retrained & warned" || c.Alert.SenderName != "张伟" || c.Message.RecordSHA256 == "" ||
		c.Message.RecalledBy == 0 {
		t.Errorf("alerts show --json does not tell the whole story:\n%s", cli)
	}
	var actions []string
	for _, raw := range c.Actions {
		var v struct{ Action string }
		json.Unmarshal(raw, &v)
		actions = append(actions, v.Action)
	}
	if got := strings.Join(actions, " "); got != "assign comment escalate close view" {
		t.Errorf("actions %s, want assign comment escalate close view (this read's view last)", got)
	}

	// The views: each read lists the view it journaled, last; the API's
	// read has the CLI's view and its own.
	compact := func(raw []byte) []byte {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	view := func(what string, d detail) []byte {
		last := compact(d.Actions[len(d.Actions)-1])
		var v struct {
			JournalIndex uint64 `json:"journal_index"`
			Action       string `json:"action"`
		}
		json.Unmarshal(last, &v)
		if v.Action != "view" || v.JournalIndex != d.ViewJournalIndex {
			t.Fatalf("%s: the last action %s is not this read's view %d", what, last, d.ViewJournalIndex)
		}
		return last
	}
	cView, aView := view("CLI", c), view("API", a)
	if len(a.Actions) != len(c.Actions)+1 || a.State.Actions != c.State.Actions+1 || a.ViewJournalIndex <= c.ViewJournalIndex ||
		!bytes.Equal(a.Actions[len(c.Actions)-1], cView) || !bytes.Equal(a.Actions[len(c.Actions)-2], compact(c.Actions[len(c.Actions)-2])) {
		t.Fatalf("the API lists %d actions (count %d, view %d), the CLI %d (count %d, view %d): want the CLI's and one view more",
			len(a.Actions), a.State.Actions, a.ViewJournalIndex, len(c.Actions), c.State.Actions, c.ViewJournalIndex)
	}
	if !strings.Contains(string(aView), `"actor":"api:`) && !strings.Contains(string(aView), `"actor":"svc`) {
		t.Errorf("the API's view %s is not the API caller's", aView)
	}

	// Bytes: the CLI's document, compacted, with the API's view added is
	// the API's document.
	want := compact([]byte(cli))
	replace := func(old, new string) {
		if n := bytes.Count(want, []byte(old)); n != 1 {
			t.Fatalf("%q occurs %d times in the CLI's JSON, want once:\n%s", old, n, want)
		}
		want = bytes.Replace(want, []byte(old), []byte(new), 1)
	}
	replace(string(cView)+"]", string(cView)+","+string(aView)+"]")
	replace(fmt.Sprintf(`"actions":%d}`, c.State.Actions), fmt.Sprintf(`"actions":%d}`, a.State.Actions))
	replace(fmt.Sprintf(`"view_journal_index":%d`, c.ViewJournalIndex), fmt.Sprintf(`"view_journal_index":%d`, a.ViewJournalIndex))
	got := bytes.TrimSuffix(api, []byte("\n"))
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the API's alert differs from alerts show --json at byte %d:\nAPI: …%s\nCLI: …%s\n\nAPI:\n%s\nCLI (compacted, API's view added):\n%s",
			i, got[max(0, i-40):min(len(got), i+80)], want[max(0, i-40):min(len(want), i+80)], got, want)
	}
}
