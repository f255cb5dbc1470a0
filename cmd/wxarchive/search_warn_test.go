package main

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
)

// cliDirectory journals directory facts into the archive at dir, as a
// directory sync would.
func cliDirectory(t *testing.T, dir string, facts ...archive.ParticipantEvent) {
	t.Helper()
	ctx := context.Background()
	r, err := archivetest.Open(ctx, dir, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	for _, p := range facts {
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCLISearchWarnings: a department no directory entry has and a person
// the archive does not know are warnings on stderr (and in --json), with a
// close match, and the search still answers with exit 0; known values warn
// nothing. Facets name senders and conversations beside their ids.
func TestCLISearchWarnings(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	cliInit(t, dir)
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", fixture)
	cliDirectory(t, dir,
		archive.ParticipantEvent{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(0)},
		archive.ParticipantEvent{ID: "wmExtClient001", Kind: archive.ParticipantExternal, Name: "王总", ValidFrom: archive.MillisTime(0)})

	for _, tc := range []struct {
		query, warning string
	}{
		{"保本 department:销售部x", `warning: department: "销售部x" is not in the directory (known: 财富管理部)` + "\n"},
		{"保本 department:财富管理部x", `warning: department: "财富管理部x" is not in the directory (did you mean 财富管理部? known: 财富管理部)` + "\n"},
		{"保本 from:zhangwie", `warning: from: "zhangwie" is no one the archive knows, by id or directory name (did you mean zhangwei?)` + "\n"},
		{"保本 to:王宗", `warning: to: "王宗" is no one the archive knows, by id or directory name (did you mean 王总?)` + "\n"},
		{"保本 department:财富管理部", ""},
		{"保本 from:zhangwei", ""},
		{"保本 from:张伟", ""},
		{"保本 to:王总", ""},
	} {
		out, errs, code := runCLI(t, "--dir", dir, "search", tc.query)
		if code != 0 || errs != tc.warning {
			t.Errorf("search %s: exit %d, stderr %q; want exit 0, stderr %q\n%s", tc.query, code, errs, tc.warning, out)
		}
		if want := "1 match, by time\n"; tc.warning == "" && !strings.HasPrefix(out, want) {
			t.Errorf("search %s: %q, want %q", tc.query, out, want)
		}
		if tc.warning != "" && out != "no messages match\n" {
			t.Errorf("search %s: %q", tc.query, out)
		}
		var res struct {
			Total    int64     `json:"total"`
			Warnings *[]string `json:"warnings"`
		}
		jout, errs, code := runCLI(t, "--dir", dir, "search", tc.query, "--json")
		if err := json.Unmarshal([]byte(jout), &res); err != nil || code != 0 || errs != tc.warning {
			t.Errorf("search %s --json: exit %d, stderr %q, %v:\n%s", tc.query, code, errs, err, jout)
			continue
		}
		switch {
		case tc.warning == "" && res.Warnings != nil:
			t.Errorf("search %s --json: warnings %q", tc.query, *res.Warnings)
		case tc.warning != "" && (res.Warnings == nil || len(*res.Warnings) != 1 || "warning: "+(*res.Warnings)[0]+"\n" != tc.warning):
			t.Errorf("search %s --json: warnings %v, want %q", tc.query, res.Warnings, tc.warning)
		}
	}

	// Facets: the name, and the id beside it.
	out := mustCLI(t, "--dir", dir, "search", "type:text", "--facets")
	for _, want := range []string{"\nsender: ", "张伟 zhangwei (", "王总 wmExtClient001 (", "王总、张伟 direct:wmExtClient001|zhangwei ("} {
		if !strings.Contains(out, want) {
			t.Errorf("search --facets lacks %q:\n%s", want, out)
		}
	}
	var fj struct {
		Facets map[string][]struct {
			Value string `json:"value"`
			Name  string `json:"name"`
			Count int64  `json:"count"`
		} `json:"facets"`
	}
	cliJSON(t, &fj, "--dir", dir, "search", "type:text", "--facets", "--json")
	named := map[string]string{}
	for _, c := range fj.Facets["sender"] {
		named[c.Value] = c.Name
	}
	if named["zhangwei"] != "张伟" || named["wmExtClient001"] != "王总" {
		t.Errorf("sender facets in --json: %+v", fj.Facets["sender"])
	}

	// The API answers the same view: the same warnings.
	serviceToken(t, dir)
	srv := startServe(t, dir)
	defer srv.stop(30 * time.Second)
	resp, err := srv.do("GET", "http://"+srv.addr+"/api/v1/search?q="+url.QueryEscape("保本 from:zhangwie department:销售部x"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&api); err != nil || resp.StatusCode != 200 {
		t.Fatalf("API search: %d %v", resp.StatusCode, err)
	}
	want := []string{`from: "zhangwie" is no one the archive knows, by id or directory name (did you mean zhangwei?)`,
		`department: "销售部x" is not in the directory (known: 财富管理部)`}
	if !slices.Equal(api.Warnings, want) {
		t.Errorf("API search warnings %q, want %q", api.Warnings, want)
	}
}
