package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FileEntry is one file of a production as the manifest lists it.
type FileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// UnitDone is a unit's record in the job's progress file: once it is
// there, the unit's files are in place and a resumed run skips it.
type UnitDone struct {
	Unit   int         `json:"unit"`
	Volume int         `json:"volume"`
	Pages  int         `json:"pages"`
	Files  []FileEntry `json:"files"`
	Rows   []LoadRow   `json:"rows"`
}

// Runner writes a job's units. Run is resumable: the units recorded in
// the progress file are checked on disk and skipped, and every unit is
// written the same way whenever it is written, so a resumed production
// is byte for byte the one an uninterrupted run writes.
type Runner struct {
	Dir     string
	Job     *Job
	Plan    []PlannedUnit
	Source  Source
	Formats []Format
	// Progress, when set, is told after each unit how many messages of
	// the job are written.
	Progress func(messages int)
	// RootFiles are root files Finish writes by streaming (the audit
	// trail: a line per event, too much for memory in a large
	// production), by name.
	RootFiles map[string]func(w io.Writer) error

	dirs map[string]bool
}

// Loaded is what Run leaves for Finish: counts, and the progress file
// the files and rows are read back from in production order. Nothing of
// the production is held in memory but the unit being written: a
// production of any size runs in bounded memory.
type Loaded struct {
	dir      string
	Messages int
	Units    int
	Files    int
	Bytes    int64
	Pages    int
	Volumes  int
	First    string
	Last     string
}

// EachUnit calls fn with every unit's record, in production order.
func (l *Loaded) EachUnit(fn func(d *UnitDone) error) error {
	f, err := os.Open(statePath(l.dir, "progress.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<31-1)
	for sc.Scan() {
		d := new(UnitDone)
		if err := json.Unmarshal(sc.Bytes(), d); err != nil {
			return fmt.Errorf("%s: %w", statePath(l.dir, "progress.jsonl"), err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return sc.Err()
}

// EachFile calls fn with every file written, in production order.
func (l *Loaded) EachFile(fn func(FileEntry) error) error {
	return l.EachUnit(func(d *UnitDone) error {
		for _, f := range d.Files {
			if err := fn(f); err != nil {
				return err
			}
		}
		return nil
	})
}

// EachRow calls fn with every message's load-file row, in production
// order.
func (l *Loaded) EachRow(fn func(*LoadRow) error) error {
	return l.EachUnit(func(d *UnitDone) error {
		for i := range d.Rows {
			if err := fn(&d.Rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Run writes every unit not written yet.
func (r *Runner) Run(ctx context.Context) (*Loaded, error) {
	loc, err := time.LoadLocation(r.Job.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("job time zone %q: %w", r.Job.TimeZone, err)
	}
	// Unit names are file names: two units under one name would write
	// over each other.
	names := make(map[string]int, len(r.Plan))
	for i, pu := range r.Plan {
		n := UnitName(pu)
		if j, dup := names[n]; dup {
			return nil, fmt.Errorf("units %d and %d are both named %s: file %s would be written twice", j+1, i+1, n, n)
		}
		names[n] = i
	}
	names = nil
	out := &Loaded{dir: r.Dir, Volumes: 1}
	vol, volBytes := 1, int64(0)
	advance := func(d *UnitDone) {
		var n int64
		for _, f := range d.Files {
			n += f.Size
		}
		out.Units++
		out.Files += len(d.Files)
		out.Bytes += n
		out.Pages += d.Pages
		out.Messages += len(d.Rows)
		if len(d.Rows) > 0 {
			if out.First == "" {
				out.First = d.Rows[0].Number
			}
			out.Last = d.Rows[len(d.Rows)-1].Number
		}
		out.Volumes = max(out.Volumes, d.Volume)
		volBytes += n
		if r.Job.VolumeSize > 0 && volBytes >= r.Job.VolumeSize {
			vol, volBytes = vol+1, 0
		}
	}
	if err := r.resume(advance); err != nil {
		return nil, err
	}
	r.dirs = map[string]bool{}
	pf, err := os.OpenFile(statePath(r.Dir, "progress.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	if r.Progress != nil {
		r.Progress(out.Messages)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	units := r.prefetch(ctx, out.Units)
	for i := out.Units; i < len(r.Plan); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok := <-units
		if !ok {
			return nil, ctx.Err()
		}
		lu := <-l
		if lu.err != nil {
			return nil, fmt.Errorf("unit %d (%s, %s): %w", i+1, r.Plan[i].Conversation, r.Plan[i].Day, lu.err)
		}
		d, err := r.unit(ctx, i, lu.u, vol, out.Messages, out.Pages+1, loc)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		// Not synced per unit: after a crash, resume re-hashes every
		// recorded unit's files and rewrites from the first that is not
		// intact, so a record that outlives its files costs nothing but
		// the rewrite; syncing each of thousands of small units would
		// cost more than writing them.
		if _, err := pf.Write(append(b, '\n')); err != nil {
			return nil, err
		}
		advance(d)
		if r.Progress != nil {
			r.Progress(out.Messages)
		}
	}
	// Every file durable before Finish journals the manifest that names
	// them.
	if err := pf.Sync(); err != nil {
		return nil, err
	}
	unix.Sync()
	return out, nil
}

// resume reads the progress file and keeps the units whose files are on
// disk as recorded (calling keep with each); from the first that is not
// (a crash between its files and its record, a file changed since),
// everything is written again.
func (r *Runner) resume(keep func(*UnitDone)) error {
	name := statePath(r.Dir, "progress.jsonl")
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	good, n := int64(0), 0
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // the end, or a record cut by a crash: its unit is written again
		}
		d := new(UnitDone)
		if err := json.Unmarshal(line, d); err != nil || d.Unit != n || d.Unit >= len(r.Plan) {
			break
		}
		if !filesIntact(r.Dir, d.Files) {
			break
		}
		keep(d)
		n++
		good += int64(len(line))
	}
	f.Close()
	if err := os.Truncate(name, good); err != nil {
		return err
	}
	// Temporary files of an interrupted unit, from a version that wrote
	// through them.
	return os.RemoveAll(filepath.Join(r.Dir, StateDir, "tmp"))
}

func filesIntact(dir string, files []FileEntry) bool {
	for _, f := range files {
		sum, size, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || size != f.Size || sum != f.SHA256 {
			return false
		}
	}
	return true
}

func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// VolumeName is the directory of the n-th volume.
func VolumeName(n int) string { return fmt.Sprintf("VOL%03d", n) }

type loadedUnit struct {
	u   *Unit
	err error
}

// Units are loaded ahead of the writer, loadWorkers at a time: loading
// is index queries and record reads, writing is formatting and files, so
// on two cores they overlap. Units arrive in plan order.
const (
	loadAhead   = 16
	loadWorkers = 2
)

func (r *Runner) prefetch(ctx context.Context, from int) <-chan chan loadedUnit {
	out := make(chan chan loadedUnit, loadAhead)
	sem := make(chan struct{}, loadWorkers)
	go func() {
		defer close(out)
		for i := from; i < len(r.Plan); i++ {
			ch := make(chan loadedUnit, 1)
			select {
			case out <- ch:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ch <- loadedUnit{err: ctx.Err()}
				return
			}
			go func(pu PlannedUnit) {
				defer func() { <-sem }()
				u, err := r.Source.Unit(ctx, pu)
				ch <- loadedUnit{u, err}
			}(r.Plan[i])
		}
	}()
	return out
}

// unit writes unit i, loaded as u, into volume vol; before is how many
// messages the production has before it, firstPage its first transcript
// page.
func (r *Runner) unit(ctx context.Context, i int, u *Unit, vol, before, firstPage int, loc *time.Location) (*UnitDone, error) {
	pu := r.Plan[i]
	if len(u.Messages) != len(pu.Serials) {
		return nil, fmt.Errorf("unit %d (%s, %s): %d messages loaded, %d planned", i+1, pu.Conversation, pu.Day, len(u.Messages), len(pu.Serials))
	}
	volDir := VolumeName(vol)
	u.Conversation, u.Day, u.Slice, u.Slices = pu.Conversation, pu.Day, pu.Slice, pu.Slices
	u.CollectionID = pu.Conversation + "/" + pu.Day
	u.Name = UnitName(pu)
	u.Location, u.Producer, u.Prefix = loc, r.Job.Producer, r.Job.Prefix
	for k, m := range u.Messages {
		if m.Serial != pu.Serials[k] {
			return nil, fmt.Errorf("unit %d: message %d is serial %d, planned %d", i+1, k, m.Serial, pu.Serials[k])
		}
		m.ProductionNumber = MessageNumber(r.Job.Prefix, before+k+1)
		for _, a := range m.Attachments {
			a.Path = ""
			if a.Open != nil {
				a.Path = volDir + "/NATIVES/" + m.ProductionNumber + "_" + fmt.Sprint(a.Ordinal+1) + extOf(a)
			}
		}
	}
	d := &UnitDone{Unit: i, Volume: vol}
	w := &writer{root: r.Dir, files: &d.Files, dirs: r.dirs}
	// Natives first: every format refers to them.
	for _, m := range u.Messages {
		for _, a := range m.Attachments {
			if a.Path == "" {
				continue
			}
			if err := w.copyNative(ctx, m, a); err != nil {
				return nil, err
			}
		}
	}
	unitFiles := map[string]string{}
	for _, f := range r.Formats {
		s := &prefixSink{w: w, prefix: volDir + "/" + strings.ToUpper(f.Name()) + "/", unit: u.Name}
		pages, err := f.WriteUnit(ctx, u, s, firstPage+d.Pages)
		if err != nil {
			return nil, fmt.Errorf("%s of unit %s: %w", f.Name(), u.Name, err)
		}
		d.Pages += pages
		if len(s.created) > 0 {
			unitFiles[f.Name()] = s.created[0]
		}
	}
	if err := r.proofs(u, w, volDir); err != nil {
		return nil, err
	}
	text := slices.Contains(r.Job.Formats, "dat") || slices.Contains(r.Job.Formats, "csv")
	for _, m := range u.Messages {
		row := loadRow(u, m, unitFiles, loc)
		if text {
			row.TextPath = volDir + "/TEXT/" + m.ProductionNumber + ".txt"
			if err := w.write(row.TextPath, []byte(PlainText(u, m))); err != nil {
				return nil, err
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// ProofLine is one line of a unit's proof file (PROOFS/NAME.jsonl): a
// message, the journal leaf that archived it and its inclusion proof in
// the job's checkpoint.
type ProofLine struct {
	ProductionNumber string   `json:"production_number"`
	Serial           uint64   `json:"serial"`
	LeafIndex        uint64   `json:"leaf_index"`
	Leaf             string   `json:"leaf"`   // the canonical event JSON, byte for byte
	Hashes           []string `json:"hashes"` // hex, bottom to top
	// Files are the unit files of this production that show the message
	// (JSONL first when there is one).
	Natives []string `json:"natives,omitempty"`
}

func (r *Runner) proofs(u *Unit, w *writer, volDir string) error {
	var b bytes.Buffer
	for _, m := range u.Messages {
		if len(m.Leaf) == 0 {
			return fmt.Errorf("serial %d: no journal leaf to prove", m.Serial)
		}
		l := ProofLine{ProductionNumber: m.ProductionNumber, Serial: m.Serial, LeafIndex: m.JournalIndex, Leaf: string(m.Leaf), Hashes: []string{}}
		for _, h := range m.Proof {
			l.Hashes = append(l.Hashes, hex.EncodeToString(h))
		}
		for _, a := range m.Attachments {
			if a.Path != "" {
				l.Natives = append(l.Natives, a.Path)
			}
		}
		if err := jsonLine(&b, &l); err != nil {
			return err
		}
	}
	return w.write(volDir+"/PROOFS/"+u.Name+".jsonl", b.Bytes())
}

// jsonLine appends v as one line of JSON without HTML escaping (text
// stays as written: a < in a message is a <).
func jsonLine(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// extOf is a native file's extension: the source file name's when it
// has a plain one, else the media type's, else .bin.
func extOf(a *Attachment) string {
	if e := strings.ToLower(path.Ext(a.FileName)); len(e) >= 2 && len(e) <= 10 && unsafeRune.FindString(e[1:]) == "" && !strings.Contains(e[1:], ".") {
		return e
	}
	if exts, _ := mime.ExtensionsByType(a.MediaType); len(exts) > 0 {
		// The shortest, then alphabetical: the same on every machine
		// whatever order the system's MIME table lists them in.
		slices.SortFunc(exts, func(x, y string) int {
			if len(x) != len(y) {
				return len(x) - len(y)
			}
			return strings.Compare(x, y)
		})
		return exts[0]
	}
	switch a.MediaType {
	case "audio/amr":
		return ".amr"
	case "audio/silk":
		return ".silk"
	}
	return ".bin"
}

// writer creates a production's files and records each with its hash.
// Files are written in place: a unit is recorded in the progress file
// only after all its files are closed, and a resumed run rewrites every
// unit not recorded (or whose files are not intact), so a file a crash
// cut short is rewritten before anything names it — a temporary file and
// a rename per file would buy nothing and cost a third of the time of a
// production of many small conversation-days.
type writer struct {
	root  string
	files *[]FileEntry
	dirs  map[string]bool // directories known to exist
	// written are the root files written already (Finish): a unit's
	// files are checked against the unit's own; units cannot meet, since
	// their files start with the unit's name, unique in the plan.
	written map[string]bool
}

type hashingFile struct {
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
	rel  string
	w    *writer
	done bool
}

// bufs recycles the files' write buffers: a production writes hundreds of
// thousands of small files.
var bufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

func (h *hashingFile) Write(p []byte) (int, error) {
	n, err := h.bw.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// abort closes and removes a file that will not be recorded.
func (h *hashingFile) abort() {
	if h.done {
		return
	}
	h.done = true
	h.bw.Reset(nil)
	bufs.Put(h.bw)
	h.f.Close()
	os.Remove(h.f.Name())
}

func (h *hashingFile) Close() error {
	if h.done {
		return nil
	}
	err := h.bw.Flush()
	if err != nil {
		h.abort()
		return err
	}
	h.done = true
	h.bw.Reset(nil)
	bufs.Put(h.bw)
	if err := h.f.Close(); err != nil {
		os.Remove(h.f.Name())
		return err
	}
	*h.w.files = append(*h.w.files, FileEntry{Path: h.rel, SHA256: hex.EncodeToString(h.h.Sum(nil)), Size: h.n})
	return nil
}

func (w *writer) create(rel string) (*hashingFile, error) {
	if err := cleanRel(rel); err != nil {
		return nil, err
	}
	// Two units, or two files of one, under one name would silently
	// replace each other: refuse.
	if w.written[rel] || slices.ContainsFunc(*w.files, func(f FileEntry) bool { return f.Path == rel }) {
		return nil, fmt.Errorf("file %s written twice", rel)
	}
	final := filepath.Join(w.root, filepath.FromSlash(rel))
	if dir := filepath.Dir(final); !w.dirs[dir] {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		w.dirs[dir] = true
	}
	f, err := os.OpenFile(final, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	bw := bufs.Get().(*bufio.Writer)
	bw.Reset(f)
	return &hashingFile{f: f, bw: bw, h: sha256.New(), rel: rel, w: w}, nil
}

func (w *writer) write(rel string, data []byte) error {
	f, err := w.create(rel)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.abort()
		return err
	}
	return f.Close()
}

// copyNative writes an attachment's bytes, checking them against the
// hash the journal recorded: a production never carries bytes the
// archive cannot vouch for.
func (w *writer) copyNative(ctx context.Context, m *Message, a *Attachment) error {
	if a.Blob.IsZero() {
		return fmt.Errorf("serial %d attachment %d: bytes without the hash the journal recorded", m.Serial, a.Ordinal+1)
	}
	rc, err := a.Open(ctx)
	if err != nil {
		return fmt.Errorf("serial %d attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	defer rc.Close()
	f, err := w.create(a.Path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.abort()
		return fmt.Errorf("serial %d attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	if got := f.h.Sum(nil); !bytes.Equal(got, a.Blob[:]) {
		f.abort()
		return fmt.Errorf("serial %d attachment %d: the stored bytes hash to %x, the journal recorded %s", m.Serial, a.Ordinal+1, got, a.Blob)
	}
	return f.Close()
}

// prefixSink is a format's Sink: its files go under prefix
// (VOL001/RSMF/), in the order created.
type prefixSink struct {
	w       *writer
	prefix  string
	unit    string // the unit's name, which every file name starts with
	created []string
}

func (s *prefixSink) Create(name string) (io.WriteCloser, error) {
	if err := cleanRel(name); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(name, s.unit+".") && !strings.HasPrefix(name, s.unit+"/") {
		return nil, fmt.Errorf("file %s: a unit's files are named after the unit (%s.EXT)", s.prefix+name, s.unit)
	}
	f, err := s.w.create(s.prefix + name)
	if err != nil {
		return nil, err
	}
	s.created = append(s.created, s.prefix+name)
	return f, nil
}

// Written counts the messages an unfinished production has written (its
// progress records), for a status report.
func Written(dir string) int {
	b, err := os.ReadFile(statePath(dir, "progress.jsonl"))
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		var d struct {
			Rows []json.RawMessage `json:"rows"`
		}
		if json.Unmarshal(line, &d) == nil {
			n += len(d.Rows)
		}
	}
	return n
}
