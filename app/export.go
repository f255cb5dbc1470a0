package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/export"
	exportall "github.com/wxarchive/wxarchive/export/all"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/retention"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/textindex"
)

// ExportRequest is a production as a user asks for it: a scope (any of a
// query, a legal hold, custodians, conversations and a period — all of
// those given), the formats and where to write it.
type ExportRequest struct {
	Query         string
	Hold          string
	Custodians    []string
	Conversations []string
	From, To      string // sent on or after From, before To (DateLayout, the archive's time zone)
	Formats       []string
	Out           string
	Prefix        string
	VolumeSize    int64
	LoadEncoding  string
	Font          string
	Fallback      bool
	Producer      string // "wxarchive VERSION"
	// Offline makes the production from an archive that cannot journal
	// (a read-only copy, a restored replica) while the primary is
	// unavailable: nothing is journaled, the messages are proved in the
	// copy's latest checkpoint, and the production says it is offline
	// until `export record` journals it on the primary (docs/PRODUCTION.md).
	Offline bool
}

// ExportView is a production's state.
type ExportView struct {
	ID             string            `json:"id"`
	Out            string            `json:"out"`
	State          string            `json:"state"` // created, running, finished
	Messages       int               `json:"messages"`
	Units          int               `json:"units"`
	Written        int               `json:"written"` // messages written so far
	Files          int               `json:"files,omitempty"`
	Bytes          int64             `json:"bytes,omitempty"`
	Pages          int               `json:"pages,omitempty"`
	Volumes        int               `json:"volumes,omitempty"`
	Formats        []string          `json:"formats"`
	Scope          archive.HoldScope `json:"scope"`
	Hold           string            `json:"hold,omitempty"`
	ManifestSHA256 string            `json:"manifest_sha256,omitempty"`
	First          string            `json:"first_number,omitempty"`
	Last           string            `json:"last_number,omitempty"`
	CreatedIndex   uint64            `json:"created_index"`
	FinishedIndex  uint64            `json:"finished_index,omitempty"`
}

// Formats a production may be written in.
var exportFormats = []string{"rsmf", "eml", "pdf", "html", "dat", "csv", "jsonl"}

var prefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_-]{0,15}$`)

// CreateExport plans a production and journals it (export.created): the
// messages of the scope within the principal's reach, grouped into
// conversation-days, and the state RunExport resumes from in req.Out.
// Nothing is written to the journal unless the plan is complete; an
// empty scope gives an empty, valid production.
func (a *App) CreateExport(ctx context.Context, req ExportRequest) (*ExportView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	var w ingest.EventWriter
	if !req.Offline {
		if w, err = a.writer(); err != nil {
			return nil, err
		}
	}
	job, sets, err := a.exportJob(ctx, &req)
	if err != nil {
		return nil, err
	}
	b, err := a.barrierOf(p)
	if err != nil {
		return nil, err
	}
	keys, err := a.exportKeys(ctx, sets, b)
	if err != nil {
		return nil, err
	}
	plan := export.Plan(keys, a.Location())
	job.Messages = len(keys)
	if ents, err := os.ReadDir(req.Out); err == nil && len(ents) > 0 {
		return nil, badParam("out", "%s is not empty: a production is written into a new or empty directory", req.Out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, badParam("out", "%v", err)
	}
	if req.Offline {
		return a.createOffline(ctx, p, req, job, plan)
	}
	// The state first, journaled after: a job that cannot write its
	// directory journals nothing.
	if err := export.WriteState(req.Out, job, plan); err != nil {
		return nil, err
	}
	ev := archive.ExportCreatedEvent{Scope: job.Scope, Hold: job.Hold, Formats: job.Formats, Prefix: job.Prefix,
		Messages: job.Messages, Units: job.Units, PlanSHA256: job.PlanSHA256, Via: p.Via, Out: filepath.Base(req.Out)}
	e, err := journal.NewEvent(archive.EventExportCreated, p.Actor, archive.Time{}, nil, &ev)
	if err != nil {
		return nil, err
	}
	idx, err := w.Append(ctx, e)
	if err != nil {
		os.RemoveAll(filepath.Join(req.Out, export.StateDir))
		return nil, fmt.Errorf("record the export: %w", unavailable(err))
	}
	job.CreatedIndex, job.ID, job.Actor = idx[0], fmt.Sprintf("export-%d", idx[0]), p.Actor
	cp, err := a.d.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.d.Verifier.Open(cp.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	if c.Size <= job.CreatedIndex {
		return nil, fmt.Errorf("the latest checkpoint (size %d) does not cover export.created (leaf %d)", c.Size, job.CreatedIndex)
	}
	job.Checkpoint, job.Created = string(cp.Note), c.Time
	if err := export.UpdateJob(req.Out, job); err != nil {
		return nil, err
	}
	return exportView(req.Out, job, "created"), nil
}

// createOffline writes the state of an offline production: proved in
// the latest checkpoint the copy holds, which covers every message of the
// plan; its id names that checkpoint and the plan.
func (a *App) createOffline(ctx context.Context, p Principal, req ExportRequest, job *export.Job, plan []export.PlannedUnit) (*ExportView, error) {
	cp, err := a.d.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.d.Verifier.Open(cp.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	job.Offline, job.Actor, job.Checkpoint, job.Created = true, p.Actor, string(cp.Note), archive.At(a.d.Now())
	job.CreatedIndex = c.Size
	if err := export.WriteState(req.Out, job, plan); err != nil {
		return nil, err
	}
	job.ID = fmt.Sprintf("offline-%d-%s", c.Size, job.PlanSHA256[:12])
	if err := export.UpdateJob(req.Out, job); err != nil {
		return nil, err
	}
	return exportView(req.Out, job, "created"), nil
}

func exportView(out string, job *export.Job, state string) *ExportView {
	return &ExportView{ID: job.ID, Out: out, State: state, Messages: job.Messages, Units: job.Units, Formats: job.Formats,
		Scope: job.Scope, Hold: job.Hold, CreatedIndex: job.CreatedIndex}
}

// exportJob validates a request into a job (without its journal facts)
// and the hold sets a message must be covered by (the scope's own, the
// named hold's).
func (a *App) exportJob(ctx context.Context, req *ExportRequest) (*export.Job, []*retention.HoldSet, error) {
	if req.Out == "" {
		return nil, nil, badParam("out", "name the directory to write the production into")
	}
	if len(req.Formats) == 0 {
		return nil, nil, badParam("format", "name at least one format (%s)", strings.Join(exportFormats, ", "))
	}
	var formats []string
	for _, f := range req.Formats {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(exportFormats, f) {
			return nil, nil, badParam("format", "unknown format %q (formats: %s)", f, strings.Join(exportFormats, ", "))
		}
		if !slices.Contains(formats, f) {
			formats = append(formats, f)
		}
	}
	// The job's order is the registry's, so the same request in another
	// order writes the same production.
	slices.SortFunc(formats, func(x, y string) int { return slices.Index(exportFormats, x) - slices.Index(exportFormats, y) })
	if req.Prefix == "" {
		req.Prefix = export.DefaultPrefix
	}
	if !prefixPattern.MatchString(req.Prefix) {
		return nil, nil, badParam("prefix", "%q: 1 to 16 capital letters, digits, _ or -, starting with a letter", req.Prefix)
	}
	if req.VolumeSize == 0 {
		req.VolumeSize = export.DefaultVolumeSize
	}
	if req.VolumeSize < 1<<20 {
		return nil, nil, badParam("volume-size", "%d bytes: a volume holds at least 1 MiB", req.VolumeSize)
	}
	if req.LoadEncoding == "" {
		req.LoadEncoding = "utf-8"
	}
	if err := export.CheckLoadEncoding(req.LoadEncoding); err != nil {
		return nil, nil, badParam("load-encoding", "%s", strings.TrimPrefix(err.Error(), "--load-encoding "))
	}
	scope := archive.HoldScope{Custodians: dedupe(req.Custodians), Conversations: dedupe(req.Conversations), Query: req.Query}
	if req.From != "" {
		t, err := a.ParseDay("from", req.From)
		if err != nil {
			return nil, nil, err
		}
		scope.From = archive.At(t)
	}
	if req.To != "" {
		t, err := a.ParseDay("to", req.To)
		if err != nil {
			return nil, nil, err
		}
		scope.To = archive.At(t)
	}
	if !scope.From.IsZero() && !scope.To.IsZero() && !scope.To.After(scope.From.Time) {
		return nil, nil, badParam("to", "%s is not after from (%s)", req.To, req.From)
	}
	for _, id := range req.Custodians {
		if err := archive.CheckText("custodian", id, archive.MaxIDBytes); err != nil || id == "" {
			return nil, nil, badParam("custodian", "%q is not an id", id)
		}
		if _, ok, err := a.d.Store.FirstSerial(ctx, id); err != nil {
			return nil, nil, err
		} else if !ok {
			return nil, nil, badParam("custodian", "%q appears in no archived message", id)
		}
	}
	for _, c := range req.Conversations {
		if err := archive.CheckText("conversation", c, archive.MaxIDBytes); err != nil || c == "" {
			return nil, nil, badParam("conversation", "%q is not a conversation id", c)
		}
	}
	if req.Query != "" {
		if err := archive.CheckText("query", req.Query, archive.MaxQueryBytes); err != nil {
			return nil, nil, &SearchError{"query", errors.New(strings.TrimPrefix(err.Error(), "query: "))}
		}
		if _, err := textindex.Parse(req.Query, textindex.ParseOptions{}); err != nil {
			return nil, nil, &SearchError{"query", err}
		}
	}
	var sets []*retention.HoldSet
	if len(scope.Custodians) > 0 || len(scope.Conversations) > 0 || scope.Query != "" || !scope.From.IsZero() || !scope.To.IsZero() {
		hs, err := retention.CompileHolds([]store.HoldRow{{HoldEvent: archive.HoldEvent{Name: "export", Scope: scope}}})
		if err != nil {
			return nil, nil, &SearchError{"query", err}
		}
		sets = append(sets, hs)
	}
	if req.Hold != "" {
		h, err := a.findHold(ctx, req.Hold)
		if err != nil {
			return nil, nil, err
		}
		hs, err := retention.CompileHolds([]store.HoldRow{h})
		if err != nil {
			return nil, nil, err
		}
		sets = append(sets, hs)
	}
	if len(sets) == 0 {
		return nil, nil, badParam("scope", "name what to export: a query, a hold, custodians, conversations or a period (from, to)")
	}
	job := &export.Job{Scope: scope, Hold: req.Hold, Formats: formats, Prefix: req.Prefix, VolumeSize: req.VolumeSize,
		TimeZone: a.Location().String(), Producer: req.Producer, PublicKey: a.d.Config.PublicKey, Font: req.Font, Fallback: req.Fallback,
		LoadEncoding: req.LoadEncoding}
	if job.Producer == "" {
		job.Producer = "wxarchive"
	}
	job.Origin = a.d.Config.Origin
	return job, sets, nil
}

// exportKeys lists the messages every set covers and the barrier lets p
// see, as the plan orders them.
func (a *App) exportKeys(ctx context.Context, sets []*retention.HoldSet, b *barrier) ([]export.Key, error) {
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	withText := false
	for _, s := range sets {
		withText = withText || s.NeedsText()
	}
	var keys []export.Key
	// The plan holds a key per message; each conversation's id is kept
	// once, not once per message (about 40 bytes a message instead of 80).
	convs := map[string]string{}
	const chunk = 8192
	for first := uint64(1); first < head.NextSerial; first += chunk {
		last := min(first+chunk-1, head.NextSerial-1)
		var in []export.Key
		if err := a.d.Store.Messages(ctx, first, last, func(row store.MessageRow) error {
			m, err := a.messageOfRow(ctx, &row, withText)
			if err != nil {
				return err
			}
			m.Participants = row.Participants
			for _, s := range sets {
				if len(s.Covers(m)) == 0 {
					return nil
				}
			}
			conv, ok := convs[row.Conversation]
			if !ok {
				conv = row.Conversation
				convs[conv] = conv
			}
			in = append(in, export.Key{Serial: row.Serial, Conversation: conv, SentAt: row.SentAt.Time})
			return nil
		}); err != nil {
			return nil, err
		}
		if in, err = a.reachable(ctx, b, in); err != nil {
			return nil, err
		}
		keys = append(keys, in...)
	}
	return keys, nil
}

// reachable keeps the keys within the barrier: a regulator's production
// holds what their scope reaches, a reviewer's their departments'.
func (a *App) reachable(ctx context.Context, b *barrier, keys []export.Key) ([]export.Key, error) {
	if b.all || len(keys) == 0 {
		return keys, nil
	}
	var out []export.Key
	for start := 0; start < len(keys); start += store.MaxSearchSerials {
		chunk := keys[start:min(start+store.MaxSearchSerials, len(keys))]
		serials := make([]uint64, len(chunk))
		for i, k := range chunk {
			serials[i] = k.Serial
		}
		page, err := a.d.Store.Search(ctx, store.SearchRequest{Query: b.query, Serials: serials, Limit: len(serials), Sort: store.SortTime})
		if err != nil {
			return nil, err
		}
		in := map[uint64]bool{}
		for _, h := range page.Hits {
			in[h.Serial] = true
		}
		for _, k := range chunk {
			if in[k.Serial] {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// RunExport writes (or resumes) the production in dir, then finishes it:
// the load files, the audit trail and the coverage certificate, the
// manifest, export.finished with the manifest's hash, and the proof of
// that event.
func (a *App) RunExport(ctx context.Context, dir string, progress func(written, total int)) (*ExportView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	job, plan, err := export.ReadState(dir)
	if err != nil {
		return nil, badParam("out", "%v", err)
	}
	var w ingest.EventWriter
	if !job.Offline {
		if w, err = a.writer(); err != nil {
			return nil, err
		}
	}
	if job.ID == "" || job.Checkpoint == "" {
		return nil, badParam("out", "%s: the export was never journaled (its creation was interrupted); create it again in an empty directory", dir)
	}
	if job.PublicKey != a.d.Config.PublicKey || job.Origin != a.d.Config.Origin {
		return nil, badParam("out", "%s was created by another archive (%s)", dir, job.Origin)
	}
	cp, err := a.d.Verifier.Open([]byte(job.Checkpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: the job's checkpoint: %w", dir, err)
	}
	fs, err := exportall.Formats(job)
	if err != nil {
		return nil, err
	}
	es, err := a.newExportSource(ctx, cp.Size, job.Scope)
	if err != nil {
		return nil, err
	}
	var src export.Source = es
	if !exportBatches {
		src = unitSource{es}
	}
	trail := newExportTrail()
	r := &export.Runner{Dir: dir, Job: job, Plan: plan, Source: src, Formats: fs, OnUnit: trail.add}
	if progress != nil {
		r.Progress = func(n int) { progress(n, job.Messages) }
	}
	// The audit trail depends on the plan's messages (every one of them
	// is exported) and the journal before the production, not on what
	// the run writes: it is drawn while the units are written, into the
	// job's state, and copied into the production by Finish.
	audit, err := a.startExportAudit(ctx, dir, job, plan)
	if err != nil {
		return nil, err
	}
	defer audit.discard()
	loaded, err := r.Run(ctx)
	if err != nil {
		return nil, err
	}
	coverage, err := a.exportCoverage(ctx, job, trail)
	if err != nil {
		return nil, err
	}
	r.RootFiles = map[string]func(io.Writer) error{"audit.jsonl": audit.copyTo}
	sum, m, err := r.Finish(ctx, loaded, job.LoadEncoding, map[string][]byte{"coverage.json": coverage})
	if err != nil {
		return nil, err
	}
	size := m.Bytes()
	if job.Offline {
		if err := export.Seal(dir, &export.ManifestProof{ManifestSHA256: sum, Offline: true, Checkpoint: job.Checkpoint}); err != nil {
			return nil, err
		}
		return manifestView(dir, job, "finished offline", m, sum, 0), nil
	}
	fin := archive.ExportFinishedEvent{ID: job.ID, ManifestSHA256: sum, Messages: job.Messages, Files: m.FileCount(), Bytes: size}
	idx, err := a.sealFinished(ctx, w, dir, job.CreatedIndex, cp.Size, fin, p.Actor)
	if err != nil {
		return nil, err
	}
	return manifestView(dir, job, "finished", m, sum, idx), nil
}

// manifestView is the view of a production its manifest describes.
func manifestView(dir string, job *export.Job, state string, m *export.Manifest, sum string, finished uint64) *ExportView {
	v := exportView(dir, job, state)
	v.Written, v.Files, v.Bytes, v.Pages, v.Volumes, v.ManifestSHA256, v.First, v.Last, v.FinishedIndex =
		m.Messages, m.FileCount(), m.Bytes(), m.Pages, m.Volumes, sum, m.First, m.Last, finished
	return v
}

// sealFinished journals fin (after the events before it, in the same
// commit) unless a run that crashed before sealing already did — the
// journal is searched after leaf after — then proves it in the latest
// checkpoint, consistent with the job's of size jobSize, and seals the
// production with that proof. It returns export.finished's index.
func (a *App) sealFinished(ctx context.Context, w ingest.EventWriter, dir string, after, jobSize uint64, fin archive.ExportFinishedEvent, actor string, before ...journal.Event) (uint64, error) {
	idx, leaf, err := a.findFinished(ctx, after, fin)
	if err != nil {
		return 0, err
	}
	if leaf == nil {
		e, err := journal.NewEvent(archive.EventExportFinished, actor, archive.Time{}, nil, &fin)
		if err != nil {
			return 0, err
		}
		ids, err := w.Append(ctx, append(before, e)...)
		if err != nil {
			return 0, fmt.Errorf("record the finished export: %w", unavailable(err))
		}
		idx = ids[len(ids)-1]
		if err := a.d.Store.Leaves(ctx, idx, idx+1, func(_ uint64, _, l []byte) error { leaf = slices.Clone(l); return nil }); err != nil {
			return 0, err
		}
	}
	proof, err := a.manifestProof(ctx, idx, leaf, fin.ManifestSHA256, jobSize)
	if err != nil {
		return 0, err
	}
	return idx, export.Seal(dir, proof)
}

// findFinished looks for an export.finished of this job already
// journaled (a run that crashed after journaling it and before writing
// its proof): the production is then sealed with that event, not a
// second one.
func (a *App) findFinished(ctx context.Context, after uint64, want archive.ExportFinishedEvent) (uint64, []byte, error) {
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return 0, nil, err
	}
	var idx uint64
	var leaf []byte
	err = a.d.Store.Leaves(ctx, after+1, head.CheckpointSize, func(i uint64, _, l []byte) error {
		if leaf != nil || !bytes.Contains(l, []byte(`"`+archive.EventExportFinished+`"`)) {
			return nil
		}
		ev, err := journal.DecodeLeaf(i, l)
		if err != nil || ev.Type != archive.EventExportFinished {
			return nil
		}
		var got archive.ExportFinishedEvent
		if json.Unmarshal(ev.Payload, &got) == nil && got == want {
			idx, leaf = i, slices.Clone(l)
		}
		return nil
	})
	return idx, leaf, err
}

// manifestProof proves the export.finished leaf in the latest checkpoint
// and that checkpoint consistent with the job's.
func (a *App) manifestProof(ctx context.Context, idx uint64, leaf []byte, sum string, jobSize uint64) (*export.ManifestProof, error) {
	row, err := a.d.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := a.d.Verifier.Open(row.Note)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	if cp.Size <= idx {
		return nil, fmt.Errorf("the latest checkpoint (size %d) does not cover export.finished (leaf %d)", cp.Size, idx)
	}
	hs, err := journal.InclusionProof(ctx, a.d.Store, idx, cp.Size)
	if err != nil {
		return nil, err
	}
	cs, err := journal.ConsistencyProof(ctx, a.d.Store, jobSize, cp.Size)
	if err != nil {
		return nil, err
	}
	return &export.ManifestProof{ManifestSHA256: sum, LeafIndex: idx, Leaf: string(leaf), Hashes: hexes(hs), Checkpoint: string(row.Note), Consistency: hexes(cs)}, nil
}

func hexes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("%x", h)
	}
	return out
}

// exportSource reads a unit's messages for the runner: records verified
// against the journal's hashes, people as the directory described them
// when each message was sent, the leaf and its proof in the job's
// checkpoint.
type exportSource struct {
	a       *App
	size    uint64
	scope   archive.HoldScope
	records RecordReader
	nodes   journal.NodeReader
}

// exportProofTiles bounds the proof cache: 8,192 tiles, about 12 MB. The
// plan runs by day, so the messages proved one after another lie close in
// the journal: the tiles in use are the recent ones and the few upper
// levels every proof shares.
const exportProofTiles = 1 << 13

func (a *App) newExportSource(ctx context.Context, size uint64, scope archive.HoldScope) (*exportSource, error) {
	s := &exportSource{a: a, size: size, scope: scope, records: a.d.Records, nodes: journal.NewTileCache(a.d.Store, size, exportProofTiles)}
	// A production reads most records of many packs: locate them from
	// the pack list read once, not one index query per record.
	if rr, ok := a.d.Records.(interface {
		WithPacks([]store.PackRow) *repo.Records
	}); ok {
		var packs []store.PackRow
		if err := a.d.Store.Packs(ctx, func(p store.PackRow) error { packs = append(packs, p); return nil }); err != nil {
			return nil, err
		}
		s.records = rr.WithPacks(packs)
	}
	return s, nil
}

func (s *exportSource) Unit(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error) {
	return s.unit(ctx, newNamer(s.a.d.Store), nil, pu)
}

// exportBatches: the runner loads runs of units together
// (exportSource.Units); off, unit by unit (a test compares the two).
var exportBatches = true

// unitSource is a source without its batches.
type unitSource struct{ s *exportSource }

func (u unitSource) Unit(ctx context.Context, pu export.PlannedUnit) (*export.Unit, error) {
	return u.s.Unit(ctx, pu)
}

// exportBatch is the index rows and journal leaves of a run of units,
// read with one range query each where the run's serials (and journal
// indexes) lie close together — the plan runs by day and the archive
// numbers messages in capture order, so they do.
type exportBatch struct {
	rows   map[uint64]*store.MessageRow // by serial
	leaves map[uint64][]byte            // by journal index
}

// dense says whether reading the range lo..hi for n wanted keys reads
// little more than them.
func dense(lo, hi uint64, n int) bool { return hi-lo < 4*uint64(n)+256 }

// Units implements export.BatchSource.
func (s *exportSource) Units(ctx context.Context, pus []export.PlannedUnit) ([]*export.Unit, error) {
	st := s.a.d.Store
	b := &exportBatch{rows: map[uint64]*store.MessageRow{}, leaves: map[uint64][]byte{}}
	lo, hi, n := uint64(1<<64-1), uint64(0), 0
	for _, pu := range pus {
		for _, serial := range pu.Serials {
			b.rows[serial] = nil
			lo, hi, n = min(lo, serial), max(hi, serial), n+1
		}
	}
	if n > 0 && dense(lo, hi, n) {
		if err := st.Messages(ctx, lo, hi, func(row store.MessageRow) error {
			if r, ok := b.rows[row.Serial]; ok && r == nil {
				b.rows[row.Serial] = &row
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	lo, hi, n = uint64(1<<64-1), 0, 0
	for _, r := range b.rows {
		if r != nil {
			b.leaves[r.JournalIndex] = nil
			lo, hi, n = min(lo, r.JournalIndex), max(hi, r.JournalIndex), n+1
		}
	}
	if n > 0 && dense(lo, hi, n) {
		if err := st.Leaves(ctx, lo, hi+1, func(i uint64, _, l []byte) error {
			if v, ok := b.leaves[i]; ok && v == nil {
				b.leaves[i] = slices.Clone(l)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	nm := newNamer(st)
	out := make([]*export.Unit, len(pus))
	for k, pu := range pus {
		u, err := s.unit(ctx, nm, b, pu)
		if err != nil {
			return nil, err
		}
		out[k] = u
	}
	return out, nil
}

func (s *exportSource) unit(ctx context.Context, n *namer, b *exportBatch, pu export.PlannedUnit) (*export.Unit, error) {
	u := &export.Unit{}
	kinds := map[string]archive.ParticipantKind{}
	var ids []string
	for _, serial := range pu.Serials {
		m, err := s.message(ctx, b, serial)
		if err != nil {
			return nil, err
		}
		u.Messages = append(u.Messages, m)
		for _, p := range m.Message.Participants {
			if _, ok := kinds[p.ID]; !ok {
				kinds[p.ID] = p.Kind
				ids = append(ids, p.ID)
			}
		}
		if _, ok := kinds[m.Message.Sender]; !ok && m.Message.Sender != "" {
			kinds[m.Message.Sender] = archive.ParticipantExternal
			ids = append(ids, m.Message.Sender)
		}
	}
	// Everyone the unit names, in one directory query.
	if err := n.load(ctx, append(slices.Clone(ids), pu.Conversation)...); err != nil {
		return nil, err
	}
	for _, m := range u.Messages {
		msg := m.Message
		kind := archive.ParticipantExternal
		for _, p := range msg.Participants {
			if p.ID == msg.Sender {
				kind = p.Kind
			}
		}
		var err error
		if m.Sender, err = s.person(ctx, n, msg.Sender, kind, msg.SentAt); err != nil {
			return nil, err
		}
	}
	first := u.Messages[0].Message.SentAt
	u.ConversationKind = u.Messages[0].Message.ConversationKind
	for _, id := range ids {
		p, err := s.person(ctx, n, id, kinds[id], first)
		if err != nil {
			return nil, err
		}
		u.Participants = append(u.Participants, p)
	}
	slices.SortFunc(u.Participants, func(x, y export.Person) int {
		ex, ey := x.Kind == archive.ParticipantEmployee, y.Kind == archive.ParticipantEmployee
		if ex != ey {
			if ex {
				return -1
			}
			return 1
		}
		return strings.Compare(x.ID, y.ID)
	})
	title, err := n.conversation(ctx, pu.Conversation, first)
	if err != nil {
		return nil, err
	}
	if title == "" {
		title = pu.Conversation
	}
	if pu.Conversation == "" {
		title = "无会话 No conversation (system events)"
	}
	u.Title = title
	for _, p := range u.Participants {
		if slices.Contains(s.scope.Custodians, p.ID) {
			u.Custodian = p.ID
			break
		}
	}
	if u.Custodian == "" {
		for _, p := range u.Participants {
			if p.Kind == archive.ParticipantEmployee {
				u.Custodian = p.ID
				break
			}
		}
	}
	if u.Custodian == "" && len(u.Participants) > 0 {
		u.Custodian = u.Participants[0].ID
	}
	return u, nil
}

func (s *exportSource) person(ctx context.Context, n *namer, id string, kind archive.ParticipantKind, at archive.Time) (export.Person, error) {
	p := export.Person{ID: id, Kind: kind}
	if err := n.load(ctx, id); err != nil {
		return p, err
	}
	for _, f := range n.history[id] {
		if f.ValidFrom.After(at.Time) {
			break
		}
		p.Name, p.Department = f.Name, f.Department
	}
	return p, nil
}

func (s *exportSource) message(ctx context.Context, b *exportBatch, serial uint64) (*export.Message, error) {
	a := s.a
	var row store.MessageRow
	if b != nil && b.rows[serial] != nil {
		row = *b.rows[serial]
	} else {
		var err error
		if row, err = a.d.Store.Message(ctx, serial); err != nil {
			return nil, fmt.Errorf("serial %d: %w", serial, err)
		}
	}
	raw, err := s.records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalRaw}, row.RawHash)
	if err != nil {
		return nil, fmt.Errorf("serial %d raw record: %w", serial, err)
	}
	rec, err := s.records.Get(ctx, store.RecordKey{JournalIndex: row.JournalIndex, Ordinal: archive.OrdinalNormalized}, row.RecordHash)
	if err != nil {
		return nil, fmt.Errorf("serial %d normalized record: %w", serial, err)
	}
	msg := new(archive.Message)
	if err := decodeRecord(rec, msg); err != nil {
		return nil, fmt.Errorf("normalized record of serial %d: %w", serial, err)
	}
	m := &export.Message{Serial: serial, JournalIndex: row.JournalIndex, Version: row.Version, ConflictsWith: row.ConflictsWith,
		RecalledBy: row.RecalledBy, CapturedAt: row.CapturedAt.Time, Message: msg, Raw: raw, Record: rec, RawSHA256: row.RawHash, RecordSHA256: row.RecordHash}
	if row.RefersTo != "" {
		if targets, err := a.d.Store.MessagesBySourceID(ctx, row.RefersTo); err == nil {
			for _, t := range targets {
				if t.Source == row.Source {
					m.RefersToSerial = t.Serial
					break
				}
			}
		}
	}
	var later map[int]store.AttachmentRow
	// The index counts the attachments not fetched, less those fetched
	// since (attachment.fetched): as many as the record has, and none
	// was fetched later.
	faults := 0
	for _, at := range msg.Attachments {
		if at.Status != archive.AttachmentFetched {
			faults++
		}
	}
	if row.Attachments > 0 && faults != row.AttachFaults {
		atts, err := a.d.Store.Attachments(ctx, serial)
		if err != nil {
			return nil, err
		}
		later = map[int]store.AttachmentRow{}
		for _, at := range atts {
			later[at.Ordinal] = at
		}
	}
	for i, at := range msg.Attachments {
		ea := &export.Attachment{Ordinal: i, Role: at.Role, FileName: at.FileName, MediaType: at.MediaType, Status: at.Status, Reason: at.Reason, Blob: at.Blob, Size: at.Size}
		if r, ok := later[i]; ok && r.Status == archive.AttachmentFetched && at.Status != archive.AttachmentFetched {
			// Fetched after capture (attachment.fetched): the record
			// keeps what happened then; the production carries the bytes.
			ea.Status, ea.Blob, ea.Size, ea.Reason = r.Status, r.Blob, r.Size, ""
			if ea.MediaType == "" {
				ea.MediaType = r.MediaType
			}
		}
		if !ea.Blob.IsZero() && a.d.Media != nil {
			blob := ea.Blob
			ea.Open = func(ctx context.Context) (io.ReadCloser, error) {
				b, err := a.d.Media.Get(ctx, blob)
				if err != nil {
					return nil, err
				}
				return io.NopCloser(bytes.NewReader(b)), nil
			}
		}
		m.Attachments = append(m.Attachments, ea)
	}
	if b != nil && b.leaves[row.JournalIndex] != nil {
		m.Leaf = b.leaves[row.JournalIndex]
	} else if err := a.d.Store.Leaves(ctx, row.JournalIndex, row.JournalIndex+1, func(_ uint64, _, l []byte) error { m.Leaf = slices.Clone(l); return nil }); err != nil {
		return nil, err
	}
	if m.Proof, err = journal.InclusionProof(ctx, s.nodes, row.JournalIndex, s.size); err != nil {
		return nil, fmt.Errorf("serial %d: inclusion proof: %w", serial, err)
	}
	return m, nil
}

// ExportStatus reads a production directory's state: how far an
// unfinished job got, or what a finished one holds (its manifest). It
// shows no content.
func (a *App) ExportStatus(ctx context.Context, dir string) (*ExportView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, export.ManifestName)); err == nil {
		var m export.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, badParam("out", "%s: %v", export.ManifestName, err)
		}
		sum := sha256.Sum256(b)
		v := manifestView(dir, &m.Job, "finished", &m, hex.EncodeToString(sum[:]), 0)
		if _, err := os.Stat(filepath.Join(dir, export.StateDir)); err == nil {
			v.State = "finishing"
		}
		return v, nil
	}
	job, _, err := export.ReadState(dir)
	if err != nil {
		return nil, badParam("out", "%v", err)
	}
	v := exportView(dir, job, "running")
	if job.ID == "" {
		v.State = "interrupted before it was journaled"
	}
	v.Written = export.Written(dir)
	return v, nil
}

// ExportsView lists the productions the journal records.
type ExportsView struct {
	Exports []ExportEntry `json:"exports"`
}

// ExportEntry is one production as the journal recorded it.
type ExportEntry struct {
	ID             string            `json:"id"`
	Created        archive.Time      `json:"created"`
	Actor          string            `json:"actor"`
	Scope          archive.HoldScope `json:"scope"`
	Hold           string            `json:"hold,omitempty"`
	Formats        []string          `json:"formats"`
	Messages       int               `json:"messages"`
	Out            string            `json:"out,omitempty"`
	Finished       *archive.Time     `json:"finished,omitempty"`
	ManifestSHA256 string            `json:"manifest_sha256,omitempty"`
	Files          int               `json:"files,omitempty"`
	Bytes          int64             `json:"bytes,omitempty"`
}

// Exports lists every production the journal records, oldest first. It
// reads the journal (productions are rare; no index is kept for them).
func (a *App) Exports(ctx context.Context) (*ExportsView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	v := &ExportsView{Exports: []ExportEntry{}}
	byID := map[string]int{}
	err = a.d.Store.Leaves(ctx, 0, head.CheckpointSize, func(i uint64, _, leaf []byte) error {
		if !bytes.Contains(leaf, []byte(`"export.`)) {
			return nil
		}
		ev, err := journal.DecodeLeaf(i, leaf)
		if err != nil {
			return nil
		}
		switch ev.Type {
		case archive.EventExportCreated:
			var c archive.ExportCreatedEvent
			if json.Unmarshal(ev.Payload, &c) != nil {
				return nil
			}
			id := fmt.Sprintf("export-%d", i)
			byID[id] = len(v.Exports)
			v.Exports = append(v.Exports, ExportEntry{ID: id, Created: ev.Time, Actor: ev.Actor, Scope: c.Scope, Hold: c.Hold, Formats: c.Formats, Messages: c.Messages, Out: c.Out})
		case archive.EventExportFinished:
			var f archive.ExportFinishedEvent
			if json.Unmarshal(ev.Payload, &f) != nil {
				return nil
			}
			if k, ok := byID[f.ID]; ok {
				t := ev.Time
				e := &v.Exports[k]
				e.Finished, e.ManifestSHA256, e.Files, e.Bytes = &t, f.ManifestSHA256, f.Files, f.Bytes
			}
		}
		return nil
	})
	return v, err
}

// RecordExport journals, on the primary, a production made offline from
// a copy of it (ExportRequest.Offline): once the production verifies,
// and its checkpoint is one of this archive's (the same tree at that
// size), export.created and export.finished are journaled for it and its
// manifest.proof.json is replaced by one that proves export.finished —
// the production is then what an online export would have been, with the
// offline creation's time and actor in its manifest.
func (a *App) RecordExport(ctx context.Context, dir string) (*ExportView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(p, auth.PermExport); err != nil {
		return nil, err
	}
	w, err := a.writer()
	if err != nil {
		return nil, err
	}
	rep, err := export.Verify(dir, a.d.Config.PublicKey)
	if err != nil {
		return nil, badParam("out", "%v", err)
	}
	if !rep.OK() {
		return nil, badParam("out", "%s does not verify (%d problems; run wxarchive verify-export): %s: %s", dir, len(rep.Problems), rep.Problems[0].Path, rep.Problems[0].What)
	}
	mb, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
	if err != nil {
		return nil, err
	}
	var m export.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, err
	}
	if !m.Offline {
		return nil, badParam("out", "%s (%s) was journaled when it was made", dir, m.ID)
	}
	cp, err := a.d.Verifier.Open([]byte(m.Checkpoint))
	if err != nil {
		return nil, fmt.Errorf("the production's checkpoint: %w", err)
	}
	head, err := a.d.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if cp.Size > head.CheckpointSize {
		return nil, badParam("out", "%s was made from a copy holding %d journal events; this archive holds %d", dir, cp.Size, head.CheckpointSize)
	}
	root, err := journal.RootAt(ctx, a.d.Store, cp.Size)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(root, cp.Root) {
		return nil, badParam("out", "%s was made from another history: this archive's tree of size %d has another root", dir, cp.Size)
	}
	sum := sha256.Sum256(mb)
	fin := archive.ExportFinishedEvent{ID: m.ID, ManifestSHA256: hex.EncodeToString(sum[:]), Messages: m.Messages, Files: m.FileCount(), Bytes: m.Bytes()}
	c := archive.ExportCreatedEvent{Scope: m.Scope, Hold: m.Hold, Formats: m.Formats, Prefix: m.Prefix, Messages: m.Messages, Units: m.Units,
		PlanSHA256: m.PlanSHA256, Via: p.Via, Out: filepath.Base(dir)}
	ec, err := journal.NewEvent(archive.EventExportCreated, m.Actor, archive.Time{}, nil, &c)
	if err != nil {
		return nil, err
	}
	idx, err := a.sealFinished(ctx, w, dir, cp.Size-1, cp.Size, fin, p.Actor, ec)
	if err != nil {
		return nil, err
	}
	return manifestView(dir, &m.Job, "finished", &m, fin.ManifestSHA256, idx), nil
}

// decodeRecord decodes a normalized record into m exactly as
// json.Unmarshal does. Records are canonical JSON the archive wrote, so
// a direct reading of that form (no reflection, no validation pass
// before the decoding one) covers them; anything else — an unknown or
// repeated key, a null, an escape it does not read — is left to
// encoding/json, which then decodes the whole record.
func decodeRecord(b []byte, m *archive.Message) error {
	d := recordDecoder{b: b}
	var out archive.Message
	if d.message(&out) && d.end() {
		*m = out
		return nil
	}
	return json.Unmarshal(b, m)
}

type recordDecoder struct {
	b []byte
	i int
}

func (d *recordDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *recordDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// peek returns the next byte after white space (0 at the end).
func (d *recordDecoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *recordDecoder) eat(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// raw reads a string's contents without unescaping: ok only when there
// is nothing to unescape and it is valid UTF-8 (as encoding/json reads
// it byte for byte).
func (d *recordDecoder) raw() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// str reads a string, unescaping the escapes a canonical encoder writes
// (\" \\ \/ \b \f \n \r \t and \u of a rune outside the surrogates).
func (d *recordDecoder) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return "", false
}

func (d *recordDecoder) escaped(start int) (string, bool) {
	out := make([]byte, 0, d.i-start+64)
	d.i = start
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				return "", false
			}
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return "", false
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if d.i+4 > len(d.b) {
					return "", false
				}
				var r rune
				for _, h := range d.b[d.i : d.i+4] {
					switch {
					case h >= '0' && h <= '9':
						r = r<<4 | rune(h-'0')
					case h >= 'a' && h <= 'f':
						r = r<<4 | rune(h-'a'+10)
					case h >= 'A' && h <= 'F':
						r = r<<4 | rune(h-'A'+10)
					default:
						return "", false
					}
				}
				if r >= 0xD800 && r < 0xE000 {
					return "", false // a surrogate: encoding/json's rules
				}
				d.i += 4
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		default:
			out = append(out, c)
			d.i++
		}
	}
	return "", false
}

func (d *recordDecoder) int() (int64, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || n > 18 || (n > 1 && d.b[digits] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return v, err == nil
}

func (d *recordDecoder) bool() (bool, bool) {
	d.ws()
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, true
	}
	return false, false
}

func (d *recordDecoder) time(t *archive.Time) bool {
	s, ok := d.raw()
	return ok && t.UnmarshalText(s) == nil
}

// object reads {"key": value, …}, calling field with each key (a
// field's bit in seen: a repeated or unknown key fails).
func (d *recordDecoder) object(field func(key []byte) (bit uint32, ok bool)) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var seen uint32
	for {
		k, ok := d.raw()
		if !ok || !d.eat(':') {
			return false
		}
		bit, ok := field(k)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// array reads [v, …] calling elem for each; empty gives n 0.
func (d *recordDecoder) array(elem func() bool) bool {
	if !d.eat('[') {
		return false
	}
	if d.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

func (d *recordDecoder) message(m *archive.Message) bool {
	return d.object(func(k []byte) (uint32, bool) {
		var ok bool
		switch string(k) {
		case "schema":
			var n int64
			n, ok = d.int()
			m.Schema = int(n)
			return 1 << 0, ok && n == int64(int(n))
		case "source":
			m.Source, ok = d.str()
			return 1 << 1, ok
		case "source_id":
			m.SourceID, ok = d.str()
			return 1 << 2, ok
		case "source_type":
			m.SourceType, ok = d.str()
			return 1 << 3, ok
		case "kind":
			var s string
			s, ok = d.str()
			m.Kind = archive.Kind(s)
			return 1 << 4, ok
		case "action":
			var s string
			s, ok = d.str()
			m.Action = archive.Action(s)
			return 1 << 5, ok
		case "sent_at":
			return 1 << 6, d.time(&m.SentAt)
		case "conversation":
			m.Conversation, ok = d.str()
			return 1 << 7, ok
		case "conversation_kind":
			var s string
			s, ok = d.str()
			m.ConversationKind = archive.ConversationKind(s)
			return 1 << 8, ok
		case "sender":
			m.Sender, ok = d.str()
			return 1 << 9, ok
		case "recipients":
			m.Recipients = []string{}
			return 1 << 10, d.array(func() bool {
				s, ok := d.str()
				m.Recipients = append(m.Recipients, s)
				return ok
			})
		case "participants":
			m.Participants = []archive.Participant{}
			return 1 << 11, d.array(func() bool {
				var p archive.Participant
				ok := d.object(func(k []byte) (uint32, bool) {
					var ok bool
					switch string(k) {
					case "id":
						p.ID, ok = d.str()
						return 1, ok
					case "kind":
						var s string
						s, ok = d.str()
						p.Kind = archive.ParticipantKind(s)
						return 2, ok
					}
					return 0, false
				})
				m.Participants = append(m.Participants, p)
				return ok
			})
		case "direction":
			var s string
			s, ok = d.str()
			m.Direction = archive.Direction(s)
			return 1 << 12, ok
		case "text":
			m.Text, ok = d.str()
			return 1 << 13, ok
		case "details":
			m.Details = []archive.Detail{}
			return 1 << 14, d.array(func() bool {
				var x archive.Detail
				ok := d.object(func(k []byte) (uint32, bool) {
					var ok bool
					switch string(k) {
					case "name":
						x.Name, ok = d.str()
						return 1, ok
					case "value":
						x.Value, ok = d.str()
						return 2, ok
					}
					return 0, false
				})
				m.Details = append(m.Details, x)
				return ok
			})
		case "attachments":
			m.Attachments = []archive.Attachment{}
			return 1 << 15, d.array(func() bool {
				var a archive.Attachment
				ok := d.attachment(&a)
				m.Attachments = append(m.Attachments, a)
				return ok
			})
		case "refers_to":
			m.RefersTo, ok = d.str()
			return 1 << 16, ok
		case "consent":
			c := new(archive.Consent)
			m.Consent = c
			return 1 << 17, d.object(func(k []byte) (uint32, bool) {
				var ok bool
				switch string(k) {
				case "external_id":
					c.ExternalID, ok = d.str()
					return 1, ok
				case "agreed":
					c.Agreed, ok = d.bool()
					return 2, ok
				case "at":
					return 4, d.time(&c.At)
				}
				return 0, false
			})
		case "time_unknown":
			m.TimeUnknown, ok = d.bool()
			return 1 << 18, ok
		}
		return 0, false
	})
}

func (d *recordDecoder) attachment(a *archive.Attachment) bool {
	return d.object(func(k []byte) (uint32, bool) {
		var ok bool
		switch string(k) {
		case "role":
			a.Role, ok = d.str()
			return 1 << 0, ok
		case "blob":
			var s []byte
			s, ok = d.raw()
			return 1 << 1, ok && a.Blob.UnmarshalText(s) == nil
		case "size":
			a.Size, ok = d.int()
			return 1 << 2, ok
		case "declared_size":
			a.DeclaredSize, ok = d.int()
			return 1 << 3, ok
		case "media_type":
			a.MediaType, ok = d.str()
			return 1 << 4, ok
		case "file_name":
			a.FileName, ok = d.str()
			return 1 << 5, ok
		case "source_ref":
			a.SourceRef, ok = d.str()
			return 1 << 6, ok
		case "source_md5":
			a.SourceMD5, ok = d.str()
			return 1 << 7, ok
		case "status":
			var s string
			s, ok = d.str()
			a.Status = archive.AttachmentStatus(s)
			return 1 << 8, ok
		case "reason":
			a.Reason, ok = d.str()
			return 1 << 9, ok
		case "text":
			a.Text, ok = d.str()
			return 1 << 10, ok
		}
		return 0, false
	})
}
