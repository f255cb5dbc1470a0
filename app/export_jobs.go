package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/export"
)

// ExportJobs runs productions in the background of a server: each is
// created (planned and journaled) while the request waits, then written by
// a goroutine acting as the principal who asked for it, under a context
// that outlives the request and ends when the server stops (Close). Every
// production goes into a directory of its own under one directory the
// server owns (serve: <archive>/exports), named after the time it was
// asked for and a counter (20260301T101500Z-001): the name is chosen
// before CreateExport journals it (export.created records it as Out), so
// it can never disagree with the journal, which renaming to the export id
// afterwards would. A client never chooses where a production goes.
//
// At most ExportsAtOnce productions are written at once — a production
// reads most of the archive's records and proves each, so two at once
// only slow each other and the ingest path — the others wait in order,
// at most MaxQueuedExports of them.
//
// Productions survive a crash or a stop: Open finds every directory with
// an unfinished, journaled job (.export/job.json) and resumes it
// (RunExport continues from the last conversation-day written).
//
// A production is seen (Get, List) and downloaded (File) by its creator
// or a supervising principal only: a regulator exports within their scope
// and may not read another user's production, even a colleague's.
type ExportJobs struct {
	a   *App
	dir string

	// Producer names the software in productions ("wxarchive VERSION");
	// "": "wxarchive".
	Producer string
	// Progress, when set, is told after each conversation-day a running
	// production wrote how many of its messages are written.
	Progress func(id string, written, total int)
	// Logger reports what runs in the background (nil: nothing).
	Logger *slog.Logger

	mu      sync.Mutex
	ctx     context.Context // nil until Open; cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	jobs    map[string]*exportJob // by export id
	queue   []*exportJob          // created, waiting their turn, oldest first
	running int
	seq     int
}

// ExportsAtOnce is how many productions are written at once;
// MaxQueuedExports how many more may wait (a request past it is refused
// before anything is journaled).
const (
	ExportsAtOnce    = 1
	MaxQueuedExports = 16
)

// exportJob is a production this server knows: in its directory, written
// here (or finished before it started).
type exportJob struct {
	id, name, dir string
	actor         string
	principal     Principal // who it runs as
	state         string    // created (waiting), running, finished, failed
	written       int
	view          *ExportView // as created, or as RunExport finished it
	err           string
}

// ExportJobView is a production as the server tracks it: its state
// (created — journaled, waiting its turn —, running, finished, failed),
// how many messages are written, who asked for it, and why it failed.
// Out is its directory's name under the server's exports directory.
type ExportJobView struct {
	ExportView
	Actor string `json:"actor"`
	Error string `json:"error,omitempty"`
}

// ExportJobsView lists productions.
type ExportJobsView struct {
	Exports []ExportJobEntry `json:"exports"`
}

// ExportJobEntry is a production the journal records with what the server
// knows of it now.
type ExportJobEntry struct {
	ExportEntry
	State   string `json:"state"`
	Written int    `json:"written"`
	Error   string `json:"error,omitempty"`
}

// NewExportJobs returns the manager of the productions in dir (created
// when the first is). Nothing runs before Open.
func NewExportJobs(a *App, dir string) *ExportJobs {
	return &ExportJobs{a: a, dir: dir, jobs: map[string]*exportJob{}}
}

// systemActor reads the journal for Open (nothing is journaled as it).
const systemActor = "serve:exports"

// Open starts the manager under ctx (cancelled, or Close: every running
// production stops where it is, to be resumed by the next Open) and
// resumes the unfinished productions of its directory. A directory whose
// job was never journaled (its creation was interrupted) or is not this
// archive's is left alone and logged.
func (j *ExportJobs) Open(ctx context.Context) error {
	j.mu.Lock()
	if j.ctx != nil {
		j.mu.Unlock()
		return errors.New("export jobs: already open")
	}
	j.ctx, j.cancel = context.WithCancel(ctx)
	j.mu.Unlock()
	ents, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil // nothing to resume: the journal need not be read
	}
	if err != nil {
		return fmt.Errorf("exports directory: %w", err)
	}
	list, err := j.a.Exports(WithPrincipal(ctx, Principal{Actor: systemActor, Via: "api"}))
	if err != nil {
		return fmt.Errorf("exports directory: the journal's productions: %w", err)
	}
	journaled := map[string]string{} // id → directory name
	for _, e := range list.Exports {
		journaled[e.ID] = e.Out
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ent := range ents {
		name := ent.Name()
		if !ent.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(j.dir, name)
		if _, err := os.Stat(filepath.Join(dir, export.StateDir, "job.json")); err == nil {
			job, _, err := export.ReadState(dir)
			switch {
			case err != nil:
				j.logger().Error("export not resumed", "dir", name, "err", err)
				continue
			case job.ID == "" || job.Checkpoint == "":
				j.logger().Warn("export not resumed: its creation was interrupted before it was journaled", "dir", name)
				continue
			case journaled[job.ID] != name:
				j.logger().Warn("export not resumed: the journal records no such production in this directory", "dir", name, "export", job.ID)
				continue
			}
			jb := &exportJob{id: job.ID, name: name, dir: dir, actor: job.Actor, principal: resumer(job.Actor), state: "created",
				written: export.Written(dir), view: exportView(dir, job, "created")}
			j.jobs[jb.id] = jb
			j.queue = append(j.queue, jb)
			j.logger().Info("export resumed", "export", jb.id, "dir", name, "written", jb.written, "messages", job.Messages)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
		if err != nil {
			continue // not a production
		}
		var m export.Manifest
		if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
			j.logger().Warn("exports directory: unreadable manifest", "dir", name)
			continue
		}
		if journaled[m.ID] != name {
			continue // copied in from elsewhere: not this server's to serve
		}
		j.jobs[m.ID] = &exportJob{id: m.ID, name: name, dir: dir, actor: m.Actor, state: "finished", written: m.Messages}
	}
	j.dispatch()
	return nil
}

// resumer is the principal a production resumed after a restart runs as:
// its creator (export.finished is theirs, as export.created was). The
// creator's grant was checked when the production was planned, and the
// plan is what is written.
func resumer(actor string) Principal {
	user, _ := strings.CutPrefix(actor, "api:")
	return Principal{Actor: actor, User: user, Via: "api"}
}

// Close stops every running production where it is (it stays on disk, to
// be resumed by the next Open) and waits for them to stop.
func (j *ExportJobs) Close() {
	j.mu.Lock()
	if j.cancel != nil {
		j.cancel()
	}
	j.queue = nil
	j.mu.Unlock()
	j.wg.Wait()
}

func (j *ExportJobs) logger() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Logger
}

// Start creates a production of req as the principal of ctx in a new
// directory of the manager's and queues it to be written; the view is the
// one created (journaled). req.Out and req.Font are the server's to
// choose and refused here.
func (j *ExportJobs) Start(ctx context.Context, req ExportRequest) (*ExportJobView, error) {
	p, err := j.a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := j.a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	if req.Out != "" {
		return nil, badParam("out", "the server chooses where a production is written")
	}
	if req.Font != "" {
		return nil, badParam("font", "the transcripts' font is the server's configuration")
	}
	if req.Hold != "" {
		// A hold the archive does not have is a field to change (400), not
		// an object the request addressed (404).
		if _, err := j.a.findHold(ctx, req.Hold); errors.Is(err, ErrNotFound) {
			return nil, badParam("hold", "no hold %q (wxarchive hold list names them)", req.Hold)
		} else if err != nil {
			return nil, err
		}
	}
	j.mu.Lock()
	if j.ctx == nil || j.ctx.Err() != nil {
		j.mu.Unlock()
		return nil, fmt.Errorf("%w: the server is not running productions", ErrUnavailable)
	}
	if len(j.queue) >= MaxQueuedExports {
		j.mu.Unlock()
		return nil, &ConflictError{Object: "exports", Reason: fmt.Sprintf("%d productions are already waiting to be written; ask again once one has finished", len(j.queue))}
	}
	name := j.newName()
	j.mu.Unlock()
	req.Out = filepath.Join(j.dir, name)
	if req.Producer == "" {
		req.Producer = j.Producer
	}
	v, err := j.a.CreateExport(ctx, req)
	if err != nil {
		// A refused request leaves nothing: the directory is removed when
		// empty (a creation journaled but unfinished keeps its state).
		os.Remove(req.Out)
		return nil, err
	}
	jb := &exportJob{id: v.ID, name: name, dir: req.Out, actor: p.Actor, principal: p, state: "created", view: v}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs[jb.id] = jb
	if j.ctx.Err() != nil {
		// Stopping: it is resumed by the next Open.
		return j.viewLocked(jb), nil
	}
	j.queue = append(j.queue, jb)
	j.dispatch()
	return j.viewLocked(jb), nil
}

// newName is a new production directory's name (j.mu held): the time in
// UTC and a counter, never one that exists.
func (j *ExportJobs) newName() string {
	stamp := j.a.d.Now().UTC().Format("20060102T150405Z")
	for {
		j.seq++
		name := fmt.Sprintf("%s-%03d", stamp, j.seq)
		if _, err := os.Lstat(filepath.Join(j.dir, name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
	}
}

// dispatch starts waiting productions while fewer than ExportsAtOnce run
// (j.mu held).
func (j *ExportJobs) dispatch() {
	for j.running < ExportsAtOnce && len(j.queue) > 0 && j.ctx.Err() == nil {
		jb := j.queue[0]
		j.queue = j.queue[1:]
		j.running++
		jb.state = "running"
		j.wg.Add(1)
		go j.run(jb)
	}
}

func (j *ExportJobs) run(jb *exportJob) {
	defer j.wg.Done()
	ctx := WithPrincipal(j.ctx, jb.principal)
	v, err := j.a.RunExport(ctx, jb.dir, func(written, total int) {
		j.mu.Lock()
		jb.written = written
		j.mu.Unlock()
		if j.Progress != nil {
			j.Progress(jb.id, written, total)
		}
	})
	j.mu.Lock()
	defer j.mu.Unlock()
	j.running--
	switch {
	case err != nil && j.ctx.Err() != nil:
		// Stopped with the server: resumed by the next Open.
		jb.state = "created"
		j.logger().Info("export stopped with the server", "export", jb.id, "written", jb.written)
	case err != nil:
		jb.state = "failed"
		// The production's directory is the server's business: the
		// client is told what failed relative to it.
		jb.err = strings.ReplaceAll(err.Error(), jb.dir+string(filepath.Separator), "")
		j.logger().Error("export failed", "export", jb.id, "dir", jb.name, "err", err)
	default:
		jb.state, jb.view, jb.written = "finished", v, v.Written
		j.logger().Info("export finished", "export", jb.id, "dir", jb.name, "messages", v.Messages, "files", v.Files, "manifest_sha256", v.ManifestSHA256)
	}
	j.dispatch()
}

// viewLocked is jb's view as tracked (j.mu held); a finished production
// read back from disk has none yet (viewOf reads it).
func (j *ExportJobs) viewLocked(jb *exportJob) *ExportJobView {
	v := &ExportJobView{Actor: jb.actor, Error: jb.err}
	if jb.view != nil {
		v.ExportView = *jb.view
	}
	v.ID, v.Out, v.State, v.Written = jb.id, jb.name, jb.state, jb.written
	return v
}

// viewOf is jb's view now: a finished production's from its manifest
// unless this server finished it.
func (j *ExportJobs) viewOf(ctx context.Context, jb *exportJob) (*ExportJobView, error) {
	j.mu.Lock()
	v := j.viewLocked(jb)
	fromDisk := jb.state == "finished" && jb.view == nil
	j.mu.Unlock()
	if fromDisk {
		st, err := j.a.ExportStatus(ctx, jb.dir)
		if err != nil {
			return nil, err
		}
		v.ExportView = *st
		v.Out = jb.name
	}
	return v, nil
}

// mayRead says whether p may see and download a production created by
// actor: its creator, or a supervising principal (or the CLI, the
// archive's owner). A regulator's grant reaches their own productions.
func mayRead(p Principal, actor string) bool {
	return p.Identity == nil || p.Identity.Has(auth.Principal) || p.Actor == actor
}

func notTheirs(p Principal, id string) error {
	return &auth.ForbiddenError{User: p.Identity.User, Need: auth.PermExport,
		Reason: id + " was created by another user: only its creator or a supervising principal may read it"}
}

func (j *ExportJobs) lookup(id string) *exportJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.jobs[id]
}

// Get is the production id as it stands: running ones with their
// progress, others from their directory, productions written elsewhere
// (the CLI) from the journal.
func (j *ExportJobs) Get(ctx context.Context, id string) (*ExportJobView, error) {
	p, err := j.a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := j.a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	if jb := j.lookup(id); jb != nil {
		if !mayRead(p, jb.actor) {
			return nil, notTheirs(p, id)
		}
		return j.viewOf(ctx, jb)
	}
	list, err := j.a.Exports(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range list.Exports {
		if e.ID != id {
			continue
		}
		if !mayRead(p, e.Actor) {
			return nil, notTheirs(p, id)
		}
		v := &ExportJobView{Actor: e.Actor, ExportView: ExportView{ID: e.ID, Out: e.Out, State: "created", Messages: e.Messages,
			Formats: e.Formats, Scope: e.Scope, Hold: e.Hold, ManifestSHA256: e.ManifestSHA256, Files: e.Files, Bytes: e.Bytes}}
		v.CreatedIndex, _ = strconv.ParseUint(strings.TrimPrefix(e.ID, "export-"), 10, 64)
		if e.Finished != nil {
			v.State, v.Written = "finished", e.Messages
		}
		return v, nil
	}
	return nil, fmt.Errorf("no export %q: %w", id, ErrNotFound)
}

// List is every production the journal records that the caller may read,
// oldest first, with the state and progress of those this server writes.
func (j *ExportJobs) List(ctx context.Context) (*ExportJobsView, error) {
	p, err := j.a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := j.a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	list, err := j.a.Exports(ctx)
	if err != nil {
		return nil, err
	}
	out := &ExportJobsView{Exports: []ExportJobEntry{}}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range list.Exports {
		if !mayRead(p, e.Actor) {
			continue
		}
		en := ExportJobEntry{ExportEntry: e, State: "created"}
		if e.Finished != nil {
			en.State, en.Written = "finished", e.Messages
		}
		if jb := j.jobs[e.ID]; jb != nil && en.State != "finished" {
			en.State, en.Written, en.Error = jb.state, jb.written, jb.err
		}
		out.Exports = append(out.Exports, en)
	}
	return out, nil
}

// MaxExportPathBytes bounds a file name asked of a production.
const MaxExportPathBytes = 1024

// checkExportPath refuses a name that is not a clean relative slash path
// (what a manifest lists): no "..", ".", empty or absolute component.
func checkExportPath(name string) error {
	bad := name == "" || len(name) > MaxExportPathBytes || !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00") ||
		strings.HasPrefix(name, "/") || path.Clean(name) != name
	for _, c := range strings.Split(name, "/") {
		bad = bad || c == "" || c == "." || c == ".."
	}
	if bad {
		return badParam("path", "%q is not a file of a production (a relative path as its manifest lists it)", name)
	}
	return nil
}

// File opens a file of the finished production id — one its manifest
// lists, or the manifest and its proof — for the caller to download, and
// journals the download as an access (export:ID:PATH) first. Only the
// production's creator or a supervising principal may. Nothing the
// manifest does not list is opened, and nothing outside the production's
// directory (the name is resolved inside it: no "..", no symbolic link
// leading out).
func (j *ExportJobs) File(ctx context.Context, id, name string) (*os.File, int64, error) {
	p, err := j.a.principal(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := j.a.authorize(p, auth.PermExport); err != nil {
		return nil, 0, err
	}
	if err := checkExportPath(name); err != nil {
		return nil, 0, err
	}
	jb := j.lookup(id)
	if jb == nil {
		return nil, 0, fmt.Errorf("no production %q on this server: %w", id, ErrNotFound)
	}
	if !mayRead(p, jb.actor) {
		return nil, 0, notTheirs(p, id)
	}
	j.mu.Lock()
	state := jb.state
	j.mu.Unlock()
	if state != "finished" {
		return nil, 0, &ConflictError{Object: id, Reason: "the production is " + state + ": its files can be downloaded once it is finished"}
	}
	root, err := os.OpenRoot(jb.dir)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	b, err := root.ReadFile(export.ManifestName)
	if err != nil {
		return nil, 0, err
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", id, export.ManifestName, err)
	}
	size := int64(-1)
	listed := name == export.ManifestName || name == export.ManifestProofName
	for _, f := range m.Files {
		if f.Path == name {
			listed, size = true, f.Size
			break
		}
	}
	if !listed {
		return nil, 0, fmt.Errorf("%s lists no file %q: %w", id, name, ErrNotFound)
	}
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s %s is not a regular file", id, name)
	}
	if err == nil && size >= 0 && st.Size() != size {
		err = &ConflictError{Object: id, Reason: fmt.Sprintf("%s has %d bytes where the manifest lists %d: the production was changed after it was finished (verify-export names what)", name, st.Size(), size)}
	}
	if err == nil {
		err = j.a.journalAccess(ctx, p, archive.AccessEvent{What: "export:" + id + ":" + name})
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
