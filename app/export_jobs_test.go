package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
)

// jobsArchive is an archive of 48 messages in Chinese: four conversations
// over six days, two a day, every one about a product (产品).
func jobsArchive(t *testing.T) (*repo.Repo, *app.App, context.Context) {
	t.Helper()
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	var items []ingest.Item
	base := time.Date(2026, 2, 2, 1, 0, 0, 0, time.UTC)
	for d := 0; d < 6; d++ {
		for c := 0; c < 4; c++ {
			for k, text := range []string{"这款理财产品保本，收益稳定", "产品说明书已发送，请查收"} {
				id := fmt.Sprintf("j-%d-%d-%d", d, c, k)
				m, raw := testMessage(id, fmt.Sprintf("%s（%d）", text, d))
				m.Conversation = fmt.Sprintf("direct:emp%d|wmc%d", c, c)
				m.Sender, m.Recipients = fmt.Sprintf("emp%d", c), []string{fmt.Sprintf("wmc%d", c)}
				m.Participants = []archive.Participant{{ID: m.Sender, Kind: archive.ParticipantEmployee}, {ID: m.Recipients[0], Kind: archive.ParticipantExternal}}
				m.SentAt = archive.At(base.Add(time.Duration(d)*24*time.Hour + time.Duration(c*10+k)*time.Minute))
				items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
			}
		}
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	return r, u, uctx
}

func waitFinished(t *testing.T, jobs *app.ExportJobs, ctx context.Context, id string) *app.ExportJobView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v, err := jobs.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case v.State == "finished":
			return v
		case v.State == "failed":
			t.Fatalf("%s failed: %s", id, v.Error)
		case time.Now().After(deadline):
			t.Fatalf("%s still %s", id, v.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExportJobsResume: a production stopped mid-way (the server stops)
// stays on disk unfinished; a new manager over the same directory resumes
// it on Open, as its creator, and it finishes and verifies.
func TestExportJobsResume(t *testing.T) {
	r, u, uctx := jobsArchive(t)
	dir := filepath.Join(t.TempDir(), "exports")
	jobs := app.NewExportJobs(u, dir)
	life, stop := context.WithCancel(context.Background())
	var once sync.Once
	stoppedAt := 0
	jobs.Progress = func(_ string, written, total int) {
		if written > 0 && written < total {
			once.Do(func() { stoppedAt = written; stop() })
		}
	}
	if err := jobs.Open(life); err != nil {
		t.Fatal(err)
	}
	v, err := jobs.Start(uctx, app.ExportRequest{Query: "产品", Formats: []string{"jsonl", "html", "csv"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Messages != 48 || v.Units != 24 || v.State == "finished" {
		t.Fatalf("created %+v", v)
	}
	select {
	case <-life.Done(): // the server stops mid-way
	case <-time.After(2 * time.Minute):
		t.Fatal("the production was never stopped mid-way")
	}
	jobs.Close()
	if stoppedAt == 0 {
		t.Fatal("the production was never stopped mid-way")
	}
	out := filepath.Join(dir, v.Out)
	if _, err := os.Stat(filepath.Join(out, export.StateDir, "job.json")); err != nil {
		t.Fatalf("the stopped production has no state: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, export.ManifestProofName)); err == nil {
		t.Fatal("the stopped production is sealed")
	}
	if w := export.Written(out); w == 0 || w == 48 {
		t.Fatalf("%d of 48 written when stopped", w)
	}

	// The next server: resumed on Open, as its creator.
	again := app.NewExportJobs(u, dir)
	if err := again.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	fin := waitFinished(t, again, uctx, v.ID)
	if fin.Written != 48 || fin.Out != v.Out || fin.Actor != archivetest.Principal.Actor {
		t.Fatalf("resumed %+v", fin)
	}
	rep, err := export.Verify(out, r.Config.PublicKey)
	if err != nil || !rep.OK() || rep.Messages != 48 {
		t.Fatalf("verify the resumed production: %v %+v", err, rep)
	}
	list, err := u.Exports(uctx)
	if err != nil || len(list.Exports) != 1 || list.Exports[0].Finished == nil || list.Exports[0].Actor != archivetest.Principal.Actor {
		t.Fatalf("journal's exports %+v %v", list, err)
	}

	// A third start finds it finished: nothing to resume, its files served.
	third := app.NewExportJobs(u, dir)
	if err := third.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if g, err := third.Get(uctx, v.ID); err != nil || g.State != "finished" || g.ManifestSHA256 != fin.ManifestSHA256 {
		t.Fatalf("after restart: %+v %v", g, err)
	}
	f, size, err := third.File(uctx, v.ID, export.ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if size == 0 {
		t.Fatal("empty manifest")
	}
}

// TestExportJobsQueue: productions are written one at a time, in order.
func TestExportJobsQueue(t *testing.T) {
	_, u, uctx := jobsArchive(t)
	jobs := app.NewExportJobs(u, filepath.Join(t.TempDir(), "exports"))
	if err := jobs.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer jobs.Close()
	var ids []string
	for _, q := range []string{"产品", "保本", "说明书"} {
		v, err := jobs.Start(uctx, app.ExportRequest{Query: q, Formats: []string{"jsonl", "html"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	for {
		l, err := jobs.List(uctx)
		if err != nil {
			t.Fatal(err)
		}
		running, finished := 0, 0
		for i, e := range l.Exports {
			switch e.State {
			case "running":
				running++
			case "finished":
				finished++
				if finished != i+1 {
					t.Fatalf("%s finished before an earlier one: %+v", e.ID, l.Exports)
				}
			case "failed":
				t.Fatalf("%s failed: %s", e.ID, e.Error)
			}
		}
		if running > app.ExportsAtOnce {
			t.Fatalf("%d running at once", running)
		}
		if finished == len(ids) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestExportJobsRefusals: the server chooses the directory and the font;
// a regulator reads only their own productions; a file is served only as
// the manifest lists it, inside the production; nothing refused is
// journaled.
func TestExportJobsRefusals(t *testing.T) {
	r, u, uctx := jobsArchive(t)
	dir := filepath.Join(t.TempDir(), "exports")
	jobs := app.NewExportJobs(u, dir)
	if _, err := jobs.Start(uctx, app.ExportRequest{Query: "产品", Formats: []string{"jsonl"}}); !errors.Is(err, app.ErrUnavailable) {
		t.Fatalf("Start before Open: %v", err)
	}
	if err := jobs.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer jobs.Close()
	size := head(t, r)
	for field, req := range map[string]app.ExportRequest{
		"out":  {Query: "产品", Formats: []string{"jsonl"}, Out: t.TempDir()},
		"font": {Query: "产品", Formats: []string{"jsonl"}, Font: "/etc/passwd"},
		"hold": {Hold: "no-such-hold", Formats: []string{"jsonl"}},
	} {
		var inv *app.InvalidError
		if _, err := jobs.Start(uctx, req); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%s: %v, want an InvalidError naming it", field, err)
		}
	}
	if h := head(t, r); h != size {
		t.Fatalf("refused requests journaled %d events", h-size)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused requests created the exports directory: %v", err)
	}

	reg := &auth.Identity{User: "examiner", Roles: []auth.Role{auth.Regulator}, Scope: &auth.Scope{Query: "保本"}, Expires: time.Now().Add(time.Hour)}
	rctx := as(reg)
	mine, err := jobs.Start(rctx, app.ExportRequest{Query: "产品", Formats: []string{"jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := jobs.Start(uctx, app.ExportRequest{Query: "产品", Formats: []string{"jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	if mine.Messages != 24 || theirs.Messages != 48 {
		t.Fatalf("the regulator's production holds %d (want the 24 of their scope), the CLI's %d", mine.Messages, theirs.Messages)
	}
	waitFinished(t, jobs, uctx, mine.ID)
	waitFinished(t, jobs, uctx, theirs.ID)
	var fe *auth.ForbiddenError
	if _, err := jobs.Get(rctx, theirs.ID); !errors.As(err, &fe) {
		t.Fatalf("regulator reading another's production: %v", err)
	}
	if _, _, err := jobs.File(rctx, theirs.ID, export.ManifestName); !errors.As(err, &fe) {
		t.Fatalf("regulator downloading another's production: %v", err)
	}
	if l, err := jobs.List(rctx); err != nil || len(l.Exports) != 1 || l.Exports[0].ID != mine.ID {
		t.Fatalf("regulator's list: %+v %v", l, err)
	}
	if f, _, err := jobs.File(rctx, mine.ID, export.ManifestName); err != nil {
		t.Fatalf("regulator downloading their own: %v", err)
	} else {
		f.Close()
	}

	size = head(t, r)
	for _, p := range []string{"", "../manifest.json", "/etc/passwd", "a/../manifest.json", "./manifest.json", "VOL001//x", `VOL001\x`, "a\x00b"} {
		var inv *app.InvalidError
		if _, _, err := jobs.File(uctx, theirs.ID, p); !errors.As(err, &inv) || inv.Field != "path" {
			t.Errorf("File(%q): %v, want an InvalidError naming path", p, err)
		}
	}
	out := filepath.Join(dir, theirs.Out)
	os.WriteFile(filepath.Join(out, "planted.txt"), []byte("x"), 0o644)
	for _, p := range []string{"planted.txt", "VOL001", "nope.json"} {
		if _, _, err := jobs.File(uctx, theirs.ID, p); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("File(%q): %v, want not found", p, err)
		}
	}
	// A listed file replaced by a link out of the production is not
	// followed.
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	if err := os.Remove(filepath.Join(out, "coverage.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(out, "coverage.json")); err != nil {
		t.Fatal(err)
	}
	if f, _, err := jobs.File(uctx, theirs.ID, "coverage.json"); err == nil {
		f.Close()
		t.Fatal("a link out of the production was followed")
	}
	if h := head(t, r); h != size {
		t.Fatalf("refused downloads journaled %d events", h-size)
	}
}
