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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// OnUnit, when set, is called by Run with every unit's record in
	// production order — the units a resumed run keeps, then those it
	// writes — for what Finish's callers need of the rows (the audit
	// trail's serials, the coverage certificate's people), so they need
	// not read the progress file again.
	OnUnit func(d *UnitDone)

	dirs    map[string]bool
	locOnce sync.Once
	loc     *time.Location
	locErr  error
}

// Loaded is what Run leaves for Finish: counts, and the progress file
// the files and rows are read back from in production order. Nothing of
// the production is held in memory but the unit being written: a
// production of any size runs in bounded memory.
type Loaded struct {
	dir string
	// part is the manifest's file entries of every unit, rendered as
	// writeManifest writes them, in production order (a state file Run
	// writes as it goes; "" when there is none).
	part     string
	partErr  error
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
	loc, err := r.location()
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
	out := &Loaded{dir: r.Dir, Volumes: 1, part: statePath(r.Dir, "manifest-files.part")}
	// Created with the first unit: a run that writes nothing leaves
	// nothing but its progress file.
	var partFile *os.File
	var part *bufio.Writer
	defer func() {
		if partFile != nil {
			partFile.Close()
		}
	}()
	var entry []byte
	vol, volBytes := 1, int64(0)
	advance := func(d *UnitDone) {
		if partFile == nil && out.partErr == nil {
			if partFile, out.partErr = os.Create(out.part); out.partErr == nil {
				part = bufio.NewWriterSize(partFile, 256<<10)
			} else {
				partFile = nil
			}
		}
		for _, f := range d.Files {
			if out.partErr != nil {
				break
			}
			entry = appendManifestEntry(entry[:0], &f)
			if _, err := part.Write(entry); err != nil {
				out.partErr = err
			}
		}
		if r.OnUnit != nil {
			r.OnUnit(d)
		}
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
	// before[i] is how many messages the plan has before unit i: the
	// production numbers of a unit are known before the units ahead of it
	// are written, so units are formatted ahead (prepare) and written in
	// order.
	before := make([]int, len(r.Plan)+1)
	for i, pu := range r.Plan {
		before[i+1] = before[i] + len(pu.Serials)
	}
	var curVol atomic.Int64
	curVol.Store(int64(vol))
	units := r.prefetch(ctx, out.Units, before, &curVol)
	uio := newUnitIO(pf)
	defer uio.finish()
	for i := out.Units; i < len(r.Plan); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := uio.failed(); err != nil {
			return nil, err
		}
		l, ok := <-units
		if !ok {
			return nil, ctx.Err()
		}
		p := <-l
		if p.release != nil {
			p.release()
		}
		if p.err != nil {
			return nil, fmt.Errorf("unit %d (%s, %s): %w", i+1, r.Plan[i].Conversation, r.Plan[i].Day, p.err)
		}
		if p.vol != vol {
			// Formatted ahead for the volume before this one's: again,
			// here, for the volume it goes into.
			p.vol = vol
			if err := r.prepare(ctx, i, p, before[i]); err != nil {
				return nil, err
			}
		}
		d, writes, err := r.unit(ctx, i, p, out.Pages+1, loc)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		// The unit's files are written by the I/O workers, its record
		// appended once they all are, in unit order. Not synced per
		// unit: after a crash, resume re-hashes every recorded unit's
		// files and rewrites from the first that is not intact, so a
		// record that outlives its files costs nothing but the rewrite;
		// syncing each of thousands of small units would cost more than
		// writing them.
		uio.submit(writes, append(b, '\n'))
		advance(d)
		curVol.Store(int64(vol))
		if r.Progress != nil {
			r.Progress(out.Messages)
		}
	}
	if err := uio.finish(); err != nil {
		return nil, err
	}
	// Every file durable before Finish journals the manifest that names
	// them.
	if err := pf.Sync(); err != nil {
		return nil, err
	}
	if out.partErr != nil {
		return nil, out.partErr
	}
	if partFile == nil {
		out.part = ""
	} else {
		if err := part.Flush(); err != nil {
			return nil, err
		}
		err := partFile.Close()
		partFile = nil
		if err != nil {
			return nil, err
		}
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

// prepared is a unit loaded, and formatted ahead where its formats allow
// (Unpaged): the writer writes it in production order.
type prepared struct {
	u   *Unit
	err error // loading it
	// vol is the volume it was laid out for (its natives' paths, its
	// files' directory): the volume being written when it was prepared.
	vol int
	// ahead holds, per format (r.Formats' order), the files an Unpaged
	// format wrote into memory, nil for a format the writer runs.
	ahead []*memSink
	// natives are the attachments' bytes, read and checked ahead when
	// the unit's are small (nil: the writer copies them).
	natives    []*memFile
	nativesErr error
	// proofs is the unit's proof file, rendered.
	proofs    []byte
	proofsSum string
	proofsErr error
	size      int64
	release   func()
}

// Units are loaded and formatted ahead of the writer, loadWorkers
// batches at a time: loading is index queries and record reads,
// formatting is CPU, writing is files, so on two cores they overlap.
// Units arrive in plan order. A batch is consecutive units of at most
// batchMessages messages (or one larger unit); at most aheadMessages
// messages and aheadBytes of formatted files wait for the writer.
const (
	loadWorkers   = 2
	batchMessages = 512
	batchUnits    = 128
	aheadMessages = 4096
	aheadBytes    = 96 << 20
)

// budget bounds what is loaded ahead of the writer.
type budget struct {
	mu          sync.Mutex
	cond        *sync.Cond
	msgs, bytes int64
	closed      bool
}

func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && b.msgs > 0 && (b.msgs+n > aheadMessages || b.bytes > aheadBytes) {
		b.cond.Wait()
	}
	b.msgs += n
	return !b.closed
}

func (b *budget) add(msgs, bytes int64) {
	b.mu.Lock()
	b.msgs += msgs
	b.bytes += bytes
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (r *Runner) prefetch(ctx context.Context, from int, before []int, curVol *atomic.Int64) <-chan chan *prepared {
	out := make(chan chan *prepared, aheadMessages)
	sem := make(chan struct{}, loadWorkers)
	b := &budget{}
	b.cond = sync.NewCond(&b.mu)
	context.AfterFunc(ctx, b.close)
	bs, batched := r.Source.(BatchSource)
	go func() {
		defer close(out)
		for i := from; i < len(r.Plan); {
			j, n := i, 0
			for j < len(r.Plan) && j-i < batchUnits && (j == i || n+len(r.Plan[j].Serials) <= batchMessages) {
				n += len(r.Plan[j].Serials)
				j++
			}
			if !b.acquire(int64(n)) {
				return
			}
			chs := make([]chan *prepared, j-i)
			for k := range chs {
				chs[k] = make(chan *prepared, 1)
				select {
				case out <- chs[k]:
				case <-ctx.Done():
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				chs[0] <- &prepared{err: ctx.Err()}
				return
			}
			go func(first int, chs []chan *prepared) {
				defer func() { <-sem }()
				pus := r.Plan[first : first+len(chs)]
				var us []*Unit
				var err error
				if batched && len(pus) > 1 {
					// A batch that fails is loaded unit by unit: the
					// error is then the unit's own.
					if us, err = bs.Units(ctx, pus); err != nil || len(us) != len(pus) {
						us, err = nil, ctx.Err()
					}
				}
				for k, ch := range chs {
					i := first + k
					p := &prepared{}
					switch {
					case err != nil:
						p.err = err
					case us != nil:
						p.u = us[k]
					default:
						p.u, p.err = r.Source.Unit(ctx, pus[k])
					}
					if p.err == nil {
						p.vol = int(curVol.Load())
						p.err = r.prepare(ctx, i, p, before[i])
					}
					msgs := int64(len(pus[k].Serials))
					size := p.size
					p.release = func() { b.add(-msgs, -size) }
					b.add(0, size)
					ch <- p
				}
			}(i, chs)
			i = j
		}
	}()
	return out
}

// prepare lays unit i out for volume p.vol (before is how many messages
// the production has before it) and formats it with the formats that
// allow it (Unpaged), into memory. A format's error is kept for the
// writer to report in the order the formats are written.
func (r *Runner) prepare(ctx context.Context, i int, p *prepared, before int) error {
	pu, u := r.Plan[i], p.u
	if len(u.Messages) != len(pu.Serials) {
		return fmt.Errorf("unit %d (%s, %s): %d messages loaded, %d planned", i+1, pu.Conversation, pu.Day, len(u.Messages), len(pu.Serials))
	}
	volDir := VolumeName(p.vol)
	u.Conversation, u.Day, u.Slice, u.Slices = pu.Conversation, pu.Day, pu.Slice, pu.Slices
	u.CollectionID = pu.Conversation + "/" + pu.Day
	u.Name = UnitName(pu)
	u.Location, u.Producer, u.Prefix = nil, r.Job.Producer, r.Job.Prefix
	for k, m := range u.Messages {
		if m.Serial != pu.Serials[k] {
			return fmt.Errorf("unit %d: message %d is serial %d, planned %d", i+1, k, m.Serial, pu.Serials[k])
		}
		m.ProductionNumber = MessageNumber(r.Job.Prefix, before+k+1)
		for _, a := range m.Attachments {
			a.Path = ""
			if a.Open != nil {
				a.Path = volDir + "/NATIVES/" + m.ProductionNumber + "_" + strconv.Itoa(a.Ordinal+1) + extOf(a)
			}
		}
	}
	loc, err := r.location()
	if err != nil {
		return err
	}
	u.Location = loc
	p.ahead, p.size, p.natives, p.nativesErr = make([]*memSink, len(r.Formats)), 0, nil, nil
	var attached int64
	for _, m := range u.Messages {
		for _, a := range m.Attachments {
			if a.Path != "" {
				attached += max(a.Size, 0)
			}
		}
	}
	p.proofs, p.proofsErr = proofsOf(u)
	sum := sha256.Sum256(p.proofs)
	p.proofsSum = hex.EncodeToString(sum[:])
	p.size += int64(len(p.proofs))
	if attached > aheadAttached {
		// Large media: streamed by the writer, not held in memory.
		return nil
	}
	p.natives = []*memFile{}
	for _, m := range u.Messages {
		for _, a := range m.Attachments {
			if a.Path == "" || p.nativesErr != nil {
				continue
			}
			mf, err := readNative(ctx, m, a)
			if err != nil {
				p.nativesErr = err
				continue
			}
			p.natives = append(p.natives, mf)
			p.size += int64(len(mf.data))
		}
	}
	for k, f := range r.Formats {
		if _, ok := f.(Unpaged); !ok {
			continue
		}
		s := &memSink{prefix: volDir + "/" + strings.ToUpper(f.Name()) + "/", unit: u.Name}
		s.pages, s.err = f.WriteUnit(ctx, u, s, 0)
		if s.err != nil {
			s.err = fmt.Errorf("%s of unit %s: %w", f.Name(), u.Name, s.err)
		}
		for _, mf := range s.files {
			p.size += int64(len(mf.data))
		}
		p.ahead[k] = s
	}
	return nil
}

// aheadAttached bounds the attachment bytes of a unit formatted ahead;
// a unit with more is written by the writer, streaming.
const aheadAttached = 16 << 20

// readNative reads an attachment's bytes, checked against the hash the
// journal recorded (as copyNative does).
func readNative(ctx context.Context, m *Message, a *Attachment) (*memFile, error) {
	if a.Blob.IsZero() {
		return nil, fmt.Errorf("serial %d attachment %d: bytes without the hash the journal recorded", m.Serial, a.Ordinal+1)
	}
	rc, err := a.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("serial %d attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("serial %d attachment %d: %w", m.Serial, a.Ordinal+1, err)
	}
	got := sha256.Sum256(data)
	if got != a.Blob {
		return nil, fmt.Errorf("serial %d attachment %d: the stored bytes hash to %x, the journal recorded %s", m.Serial, a.Ordinal+1, got, a.Blob)
	}
	return &memFile{rel: a.Path, data: data, sum: hex.EncodeToString(got[:]), done: true}, nil
}

// location is the job's time zone, loaded once.
func (r *Runner) location() (*time.Location, error) {
	r.locOnce.Do(func() { r.loc, r.locErr = time.LoadLocation(r.Job.TimeZone) })
	return r.loc, r.locErr
}

// unit writes unit i, prepared as p, into volume p.vol; firstPage is its
// first transcript page. The files it had in memory are left for the
// I/O workers (writes), already listed with their hashes in the record.
func (r *Runner) unit(ctx context.Context, i int, p *prepared, firstPage int, loc *time.Location) (*UnitDone, []fileWrite, error) {
	u, vol := p.u, p.vol
	volDir := VolumeName(vol)
	d := &UnitDone{Unit: i, Volume: vol}
	w := &writer{root: r.Dir, files: &d.Files, dirs: r.dirs, queued: []fileWrite{}}
	// Natives first: every format refers to them.
	if p.natives != nil {
		if p.nativesErr != nil {
			return nil, nil, p.nativesErr
		}
		for _, mf := range p.natives {
			if err := w.queue(mf.rel, mf.data, mf.sum); err != nil {
				return nil, nil, err
			}
		}
	} else {
		for _, m := range u.Messages {
			for _, a := range m.Attachments {
				if a.Path == "" {
					continue
				}
				if err := w.copyNative(ctx, m, a); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	unitFiles := map[string]string{}
	for k, f := range r.Formats {
		if s := p.ahead[k]; s != nil {
			if s.err != nil {
				return nil, nil, s.err
			}
			for _, mf := range s.files {
				if err := w.queue(mf.rel, mf.data, mf.sum); err != nil {
					return nil, nil, fmt.Errorf("%s of unit %s: %w", f.Name(), u.Name, err)
				}
			}
			d.Pages += s.pages
			if len(s.created) > 0 {
				unitFiles[f.Name()] = s.created[0]
			}
			continue
		}
		s := &prefixSink{w: w, prefix: volDir + "/" + strings.ToUpper(f.Name()) + "/", unit: u.Name}
		pages, err := f.WriteUnit(ctx, u, s, firstPage+d.Pages)
		if err != nil {
			return nil, nil, fmt.Errorf("%s of unit %s: %w", f.Name(), u.Name, err)
		}
		d.Pages += pages
		if len(s.created) > 0 {
			unitFiles[f.Name()] = s.created[0]
		}
	}
	if p.proofsErr != nil {
		return nil, nil, p.proofsErr
	}
	if err := w.queue(volDir+"/PROOFS/"+u.Name+".jsonl", p.proofs, p.proofsSum); err != nil {
		return nil, nil, err
	}
	text := slices.Contains(r.Job.Formats, "dat") || slices.Contains(r.Job.Formats, "csv")
	for _, m := range u.Messages {
		row := loadRow(u, m, unitFiles, loc)
		if text {
			row.TextPath = volDir + "/TEXT/" + m.ProductionNumber + ".txt"
			t := []byte(PlainText(u, m))
			sum := sha256.Sum256(t)
			if err := w.queue(row.TextPath, t, hex.EncodeToString(sum[:])); err != nil {
				return nil, nil, err
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, w.queued, nil
}

// fileWrite is a file whose bytes are in memory, for an I/O worker.
type fileWrite struct {
	name string // absolute
	data []byte
}

// unitIO writes units' files on ioWorkers goroutines and appends each
// unit's progress record once its files are all written, in unit order;
// after a failure it records nothing more.
type unitIO struct {
	pf       *os.File
	files    chan fileJob
	units    chan *ioUnit
	workers  sync.WaitGroup
	recorded chan struct{}
	mu       sync.Mutex
	err      error
	done     bool
	// pending is the bytes submitted and not written yet, at most
	// ioPending (or one unit's) at a time.
	pending  int64
	lessWork *sync.Cond
}

type ioUnit struct {
	wg     sync.WaitGroup
	record []byte
	mu     sync.Mutex
	err    error
}

type fileJob struct {
	w fileWrite
	u *ioUnit
}

const (
	ioWorkers = 1
	ioPending = 64 << 20
)

func newUnitIO(pf *os.File) *unitIO {
	o := &unitIO{pf: pf, files: make(chan fileJob, 256), units: make(chan *ioUnit, 64), recorded: make(chan struct{})}
	o.lessWork = sync.NewCond(&o.mu)
	for range ioWorkers {
		o.workers.Add(1)
		go func() {
			defer o.workers.Done()
			for j := range o.files {
				if err := writeFileBytes(j.w.name, j.w.data); err != nil {
					j.u.mu.Lock()
					if j.u.err == nil {
						j.u.err = err
					}
					j.u.mu.Unlock()
				}
				o.mu.Lock()
				o.pending -= int64(len(j.w.data))
				o.mu.Unlock()
				o.lessWork.Broadcast()
				j.u.wg.Done()
			}
		}()
	}
	go func() {
		defer close(o.recorded)
		for u := range o.units {
			u.wg.Wait()
			if o.failed() != nil {
				continue
			}
			err := u.err
			if err == nil {
				_, err = o.pf.Write(u.record)
			}
			if err != nil {
				o.mu.Lock()
				o.err = err
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *unitIO) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *unitIO) submit(writes []fileWrite, record []byte) {
	var n int64
	for _, w := range writes {
		n += int64(len(w.data))
	}
	o.mu.Lock()
	for o.pending > 0 && o.pending+n > ioPending {
		o.lessWork.Wait()
	}
	o.pending += n
	o.mu.Unlock()
	u := &ioUnit{record: record}
	u.wg.Add(len(writes))
	o.units <- u
	for _, w := range writes {
		o.files <- fileJob{w, u}
	}
}

// finish waits for every file and record submitted.
func (o *unitIO) finish() error {
	if !o.done {
		o.done = true
		close(o.units)
		close(o.files)
		o.workers.Wait()
		<-o.recorded
	}
	return o.failed()
}

func writeFileBytes(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// memSink is a Sink that keeps a unit's files in memory, hashed, in the
// order they are closed (the order a file sink records them), for the
// writer to write.
type memSink struct {
	prefix  string
	unit    string
	created []string
	files   []*memFile
	pages   int
	err     error
}

type memFile struct {
	s    *memSink
	rel  string
	data []byte
	sum  string
	done bool
}

func (s *memSink) Create(name string) (io.WriteCloser, error) {
	if err := cleanRel(name); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(name, s.unit+".") && !strings.HasPrefix(name, s.unit+"/") {
		return nil, fmt.Errorf("file %s: a unit's files are named after the unit (%s.EXT)", s.prefix+name, s.unit)
	}
	rel := s.prefix + name
	if err := cleanRel(rel); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(s.files, func(f *memFile) bool { return f.rel == rel }) {
		return nil, fmt.Errorf("file %s written twice", rel)
	}
	s.created = append(s.created, rel)
	return &memFile{s: s, rel: rel}, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.data = append(f.data, p...)
	return len(p), nil
}

func (f *memFile) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	sum := sha256.Sum256(f.data)
	f.sum = hex.EncodeToString(sum[:])
	f.s.files = append(f.s.files, f)
	return nil
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

// proofsOf renders a unit's proof file.
func proofsOf(u *Unit) ([]byte, error) {
	var b bytes.Buffer
	for _, m := range u.Messages {
		if len(m.Leaf) == 0 {
			return nil, fmt.Errorf("serial %d: no journal leaf to prove", m.Serial)
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
			return nil, err
		}
	}
	return b.Bytes(), nil
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
	// queued are the files listed whose bytes the I/O workers write.
	queued []fileWrite
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

// queue lists a file whose bytes and SHA-256 (hex) are known, for the
// I/O workers to write (w.queued).
func (w *writer) queue(rel string, data []byte, sum string) error {
	if err := cleanRel(rel); err != nil {
		return err
	}
	if w.written[rel] || slices.ContainsFunc(*w.files, func(f FileEntry) bool { return f.Path == rel }) {
		return fmt.Errorf("file %s written twice", rel)
	}
	final := filepath.Join(w.root, filepath.FromSlash(rel))
	if dir := filepath.Dir(final); !w.dirs[dir] {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		w.dirs[dir] = true
	}
	w.queued = append(w.queued, fileWrite{final, data})
	*w.files = append(*w.files, FileEntry{Path: rel, SHA256: sum, Size: int64(len(data))})
	return nil
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
