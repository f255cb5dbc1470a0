package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

// StateDir is the directory inside a production that holds the job's
// state while it runs (the job, its plan, the units done). It is removed
// when the production is finished; a directory that still has it is an
// unfinished production, which Run resumes.
const StateDir = ".export"

// Default sizes.
const (
	DefaultVolumeSize = 10 << 30 // 10 GiB: fits any review platform's upload and a Blu-ray
	DefaultPrefix     = "WXA"
)

// Job is a production as it was asked for and journaled: everything a
// resumed run needs to write the same bytes again.
type Job struct {
	ID           string            `json:"id"`            // export-<journal index of export.created>
	CreatedIndex uint64            `json:"created_index"` // the export.created event
	Created      archive.Time      `json:"created"`
	Actor        string            `json:"actor"`
	Scope        archive.HoldScope `json:"scope"`
	Hold         string            `json:"hold,omitempty"`
	Formats      []string          `json:"formats"`
	Prefix       string            `json:"prefix"`
	VolumeSize   int64             `json:"volume_size"`
	TimeZone     string            `json:"time_zone"`
	Producer     string            `json:"producer"`
	Origin       string            `json:"origin"`     // the journal's origin line
	PublicKey    string            `json:"public_key"` // the archive's checkpoint key (note verifier key)
	// Checkpoint is the signed checkpoint every message's proof leads
	// to: the first after export.created, so it covers every message of
	// the plan.
	Checkpoint string `json:"checkpoint"`
	Messages   int    `json:"messages"`
	Units      int    `json:"units"`
	PlanSHA256 string `json:"plan_sha256"`
	// Fallback: characters a transcript's font cannot draw are replaced
	// by a visible marker instead of refusing the export.
	Fallback bool   `json:"fallback,omitempty"`
	Font     string `json:"font,omitempty"`
	// Offline: made from a copy that cannot journal (a read-only
	// archive, a restored replica); ID is offline-<checkpoint size>-<plan>
	// and nothing was journaled until `export record` (CreatedIndex is the
	// checkpoint's size).
	Offline bool `json:"offline,omitempty"`
	// LoadEncoding is the load files' encoding: utf-8 (with a BOM),
	// utf-16le or gb18030.
	LoadEncoding string `json:"load_encoding"`
}

// PlannedUnit is one unit of the plan: which messages, in order.
type PlannedUnit struct {
	Conversation string   `json:"conversation"`
	Day          string   `json:"day"`
	Slice        int      `json:"slice"`
	Slices       int      `json:"slices"`
	Serials      []uint64 `json:"serials"`
}

// Key is a message as the plan orders it.
type Key struct {
	Serial       uint64
	Conversation string
	SentAt       time.Time
	day          int32 // days since 1970-01-01 in the plan's location
}

// Plan groups the keys into units: by day (in loc), then conversation,
// then time and serial; a conversation-day of more than MaxUnitEvents
// messages is sliced. The order is total, so a plan is a function of its
// keys. Day first: production numbers run by date, as an examiner reads
// them, and the records of a day lie in the same few packs (the archive
// seals in capture order), so a production reads each pack about once
// instead of once per conversation.
func Plan(keys []Key, loc *time.Location) []PlannedUnit {
	for i := range keys {
		y, m, d := keys[i].SentAt.In(loc).Date()
		keys[i].day = int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if a.day != b.day {
			return int(a.day - b.day)
		}
		if c := strings.Compare(a.Conversation, b.Conversation); c != 0 {
			return c
		}
		if c := a.SentAt.Compare(b.SentAt); c != 0 {
			return c
		}
		return cmpU(a.Serial, b.Serial)
	})
	var out []PlannedUnit
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j].Conversation == keys[i].Conversation && keys[j].day == keys[i].day {
			j++
		}
		day := keys[i].SentAt.In(loc).Format(time.DateOnly)
		n := (j - i + MaxUnitEvents - 1) / MaxUnitEvents
		for s := 0; s < n; s++ {
			u := PlannedUnit{Conversation: keys[i].Conversation, Day: day, Slice: s + 1, Slices: n}
			for _, k := range keys[i+s*MaxUnitEvents : min(j, i+(s+1)*MaxUnitEvents)] {
				u.Serials = append(u.Serials, k.Serial)
			}
			out = append(out, u)
		}
		i = j
	}
	return out
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// UnitName is a planned unit's file name stem: the day and the
// conversation id, kept readable where the id is safe in a file name and
// made unique with a hash of it where it is not.
func UnitName(u PlannedUnit) string {
	name := u.Day + "_" + SafeName(u.Conversation, 80)
	if u.Slice > 1 {
		name += fmt.Sprintf("_%d", u.Slice)
	}
	return name
}

var (
	unsafeRune = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	// hashedName is how a name SafeName had to change ends: an id that
	// already ends so is hashed too, so a kept id never equals a changed one.
	hashedName = regexp.MustCompile(`-[0-9a-f]{8}$`)
)

// SafeName is s as a file name component on every file system (ASCII
// letters, digits, ".", "_", "-"), at most max bytes; when anything had
// to change, 8 hex digits of s's SHA-256 keep distinct inputs distinct
// (and a written file name is never written twice: the runner refuses).
func SafeName(s string, limit int) string {
	safe := unsafeRune.ReplaceAllString(s, "_")
	safe = strings.Trim(safe, ".")
	if safe == s && len(s) <= limit && s != "" && !hashedName.MatchString(s) {
		return s
	}
	limit = max(limit, 9+8)
	sum := sha256.Sum256([]byte(s))
	if len(safe) > limit-9 {
		safe = safe[:limit-9]
	}
	return safe + "-" + hex.EncodeToString(sum[:4])
}

// statePath is a file of the job's state.
func statePath(dir, name string) string { return filepath.Join(dir, StateDir, name) }

// WriteState creates a production directory's state: the job and its
// plan. dir must be empty or not exist: a production never mixes with
// other files.
func WriteState(dir string, job *Job, plan []PlannedUnit) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("--out %s: the directory is not empty (a production is written into a new or empty directory)", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, StateDir), 0o750); err != nil {
		return err
	}
	h := sha256.New()
	pf, err := os.Create(statePath(dir, "plan.jsonl"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(io.MultiWriter(pf, h))
	enc := json.NewEncoder(bw)
	for i := range plan {
		if err := enc.Encode(&plan[i]); err != nil {
			pf.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		pf.Close()
		return err
	}
	if err := syncClose(pf); err != nil {
		return err
	}
	job.PlanSHA256 = hex.EncodeToString(h.Sum(nil))
	job.Units = len(plan)
	return writeJSONFile(statePath(dir, "job.json"), job)
}

// ReadState reads an unfinished production's job and plan, checking the
// plan against the job's hash.
func ReadState(dir string) (*Job, []PlannedUnit, error) {
	b, err := os.ReadFile(statePath(dir, "job.json"))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
			return nil, nil, fmt.Errorf("%s is a finished production (verify it with wxarchive verify-export)", dir)
		}
		return nil, nil, fmt.Errorf("%s holds no unfinished production (no %s/job.json)", dir, StateDir)
	}
	if err != nil {
		return nil, nil, err
	}
	job := new(Job)
	if err := json.Unmarshal(b, job); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", statePath(dir, "job.json"), err)
	}
	pb, err := os.ReadFile(statePath(dir, "plan.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	if sum := sha256.Sum256(pb); hex.EncodeToString(sum[:]) != job.PlanSHA256 {
		return nil, nil, fmt.Errorf("%s: the plan does not match the job's hash; the state was changed", statePath(dir, "plan.jsonl"))
	}
	var plan []PlannedUnit
	dec := json.NewDecoder(strings.NewReader(string(pb)))
	for dec.More() {
		var u PlannedUnit
		if err := dec.Decode(&u); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", statePath(dir, "plan.jsonl"), err)
		}
		plan = append(plan, u)
	}
	return job, plan, nil
}

// SetFont changes an unfinished job's transcript font and fallback:
// what a production that stopped on a character its font lacks needs to
// go on. The units written so far drew every character they had, so they
// are what the new settings write too.
func SetFont(dir, font string, fallback bool) error {
	job, _, err := ReadState(dir)
	if err != nil {
		return err
	}
	if font != "" {
		job.Font = font
	}
	job.Fallback = job.Fallback || fallback
	return UpdateJob(dir, job)
}

// UpdateJob rewrites the job file (the checkpoint, once known).
func UpdateJob(dir string, job *Job) error { return writeJSONFile(statePath(dir, "job.json"), job) }

func writeJSONFile(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := syncClose(f); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cleanRel checks a production-relative path: slash separated, no "..",
// not absolute, no empty component — what a sink may create and what a
// manifest may name.
func cleanRel(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || path.Clean(name) != name {
		return fmt.Errorf("file name %q is not a clean relative path", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." || c == "." || c == "" {
			return fmt.Errorf("file name %q is not a clean relative path", name)
		}
	}
	return nil
}

// Source is what a job reads the archive through (app/ implements it:
// records verified against the journal, people named as they were).
type Source interface {
	// Unit loads a planned unit's messages in the plan's order, with
	// Title, Participants, the messages' Sender, records and attachments
	// (Open set where bytes are stored). The runner fills in the
	// production's numbering and layout.
	Unit(ctx context.Context, u PlannedUnit) (*Unit, error)
}
