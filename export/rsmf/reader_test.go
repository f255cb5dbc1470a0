package rsmf

// A tests-only RSMF reader and checker. It shares no code with the writer:
// the envelope is parsed with go-message, the manifest into its own types,
// and the same code reads Relativity's published samples, so it is not
// built to agree with our output alone.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type rManifest struct {
	Version      string `json:"version"`
	Participants []struct {
		ID      string    `json:"id"`
		Display string    `json:"display"`
		Avatar  string    `json:"avatar"`
		Custom  []rCustom `json:"custom"`
	} `json:"participants"`
	Conversations []struct {
		ID           string    `json:"id"`
		Display      string    `json:"display"`
		Platform     string    `json:"platform"`
		Type         string    `json:"type"`
		Participants []string  `json:"participants"`
		Custodian    string    `json:"custodian"`
		Icon         string    `json:"icon"`
		Custom       []rCustom `json:"custom"`
	} `json:"conversations"`
	Events []rEvent `json:"events"`
	// EventCollectionID ties the slices of one conversation.
	EventCollectionID string `json:"eventcollectionid"`
}

type rEvent struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Parent       string `json:"parent"`
	Body         string `json:"body"`
	Participant  string `json:"participant"`
	Conversation string `json:"conversation"`
	Timestamp    string `json:"timestamp"`
	Deleted      bool   `json:"deleted"`
	Importance   string `json:"importance"`
	Direction    string `json:"direction"`
	Attachments  []struct {
		ID      string `json:"id"`
		Display string `json:"display"`
		Size    int64  `json:"size"`
	} `json:"attachments"`
	Custom []rCustom `json:"custom"`
}

func (e rEvent) custom(name string) string {
	for _, c := range e.Custom {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

type rCustom struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// rsmfFile is a read .rsmf (or a bare rsmf.zip, with no header).
type rsmfFile struct {
	header       *mail.Header // nil for a bare zip
	text         string       // the text/plain body parts
	parts        int          // attachment parts
	zipEntries   []*zip.File
	files        map[string][]byte // zip entries other than the manifest
	manifestJSON []byte
	manifest     rManifest
}

// readRSMF reads an .rsmf: an RFC 5322 message whose attachment named
// rsmf.zip (exactly one) holds the manifest.
func readRSMF(data []byte) (*rsmfFile, error) {
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	f := &rsmfFile{header: &r.Header}
	var zipData []byte
	zips := 0
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return nil, err
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			f.text += string(body)
		case *mail.AttachmentHeader:
			f.parts++
			name, err := h.Filename()
			if err != nil {
				return nil, err
			}
			if name == "rsmf.zip" {
				zips++
				zipData = body
			}
		}
	}
	if zips != 1 {
		return nil, fmt.Errorf("%d attachments named rsmf.zip, want 1", zips)
	}
	if err := f.readZip(zipData); err != nil {
		return nil, err
	}
	return f, nil
}

func readZipFile(data []byte) (*rsmfFile, error) {
	f := &rsmfFile{}
	return f, f.readZip(data)
}

func (f *rsmfFile) readZip(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	f.zipEntries = zr.File
	f.files = map[string][]byte{}
	for _, e := range zr.File {
		rc, err := e.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		if e.Name == "rsmf_manifest.json" {
			f.manifestJSON = b
			continue
		}
		if _, dup := f.files[e.Name]; dup {
			return fmt.Errorf("zip entry %s twice", e.Name)
		}
		f.files[e.Name] = b
	}
	if f.manifestJSON == nil {
		return errors.New("no rsmf_manifest.json at the zip's root")
	}
	return json.Unmarshal(f.manifestJSON, &f.manifest)
}

// sharedFixtures is the copy of the shared RSMF fixtures in testdata
// (the schema and Relativity's samples, BSD-2-Clause): the schema check
// runs on every clone, never skipped.
func sharedFixtures(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "relativity")
	if _, err := os.Stat(filepath.Join(dir, "rsmf_schema_2_0_0.json")); err != nil {
		t.Fatalf("the RSMF schema is missing from %s: %v", dir, err)
	}
	return dir
}

// compileSchema compiles the published 2.0.0 schema. The validator asserts
// draft-07 formats; strict keeps its RFC 3339 date-time, which our output
// must pass. Relativity's own samples carry zone-less local times
// ("2013-01-10T15:53:00", the schema's own example), which ISO 8601 allows
// and RFC 3339 does not, so the lenient schema accepts those too.
func compileSchema(t *testing.T, strict bool) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(sharedFixtures(t), "rsmf_schema_2_0_0.json")
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	doc, err := jsonschema.UnmarshalJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if !strict {
		c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: func(v any) error {
			s, ok := v.(string)
			if !ok {
				return nil // not a string: the type keyword's business
			}
			_, err := parseTime(s)
			return err
		}})
	}
	if err := c.AddResource("rsmf_schema_2_0_0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("rsmf_schema_2_0_0.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// check returns every way f breaks the RSMF rules: the schema, the
// referential rules and, for an .rsmf, the header's agreement with the
// manifest.
func check(f *rsmfFile, sch *jsonschema.Schema) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(f.manifestJSON))
	if err != nil {
		bad("manifest: %v", err)
	} else if err := sch.Validate(inst); err != nil {
		bad("schema: %v", err)
	}

	m := f.manifest
	parts := map[string]string{} // id → display
	for _, p := range m.Participants {
		if _, dup := parts[p.ID]; dup {
			bad("participant %s twice", p.ID)
		}
		parts[p.ID] = p.Display
	}
	referenced := map[string]bool{}
	ref := func(what, name string) {
		if name == "" {
			return
		}
		referenced[name] = true
		if _, ok := f.files[name]; !ok {
			bad("%s names %s, which is not in the zip", what, name)
		}
	}
	for _, p := range m.Participants {
		ref("participant "+p.ID+" avatar", p.Avatar)
	}
	convs := map[string][]string{}
	for _, c := range m.Conversations {
		if _, dup := convs[c.ID]; dup {
			bad("conversation %s twice", c.ID)
		}
		convs[c.ID] = c.Participants
		for _, p := range c.Participants {
			if _, ok := parts[p]; !ok {
				bad("conversation %s: participant %s does not resolve", c.ID, p)
			}
		}
		if c.Custodian != "" && !contains(c.Participants, c.Custodian) {
			bad("conversation %s: custodian %s is not one of its participants", c.ID, c.Custodian)
		}
		ref("conversation "+c.ID+" icon", c.Icon)
	}
	events := map[string]string{} // id → conversation
	for _, e := range m.Events {
		if e.ID == "" {
			continue
		}
		if _, dup := events[e.ID]; dup {
			bad("event %s twice", e.ID)
		}
		events[e.ID] = e.Conversation
	}
	attRefs := 0
	for i, e := range m.Events {
		name := e.ID
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		if _, ok := parts[e.Participant]; e.Participant != "" && !ok {
			bad("event %s: participant %s does not resolve", name, e.Participant)
		}
		if _, ok := convs[e.Conversation]; e.Conversation != "" && !ok {
			bad("event %s: conversation %s does not resolve", name, e.Conversation)
		}
		if e.Parent != "" {
			if c, ok := events[e.Parent]; !ok {
				bad("event %s: parent %s does not resolve", name, e.Parent)
			} else if c != e.Conversation {
				bad("event %s: parent %s is in another conversation", name, e.Parent)
			}
		}
		for _, a := range e.Attachments {
			attRefs++
			ref("event "+name+" attachment", a.ID)
			if b, ok := f.files[a.ID]; ok && int64(len(b)) != a.Size {
				bad("event %s: attachment %s has %d bytes, the manifest says %d", name, a.ID, len(b), a.Size)
			}
		}
	}
	var names []string
	for n := range f.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !referenced[n] {
			bad("zip entry %s is referenced by nothing", n)
		}
	}

	if f.header == nil {
		return problems
	}
	h := f.header
	if h.Get("X-RSMF-Version") == "" {
		bad("no X-RSMF-Version")
	}
	if v := h.Get("X-RSMF-EventCount"); v != "" && v != strconv.Itoa(len(m.Events)) {
		bad("X-RSMF-EventCount %s, the manifest has %d events", v, len(m.Events))
	}
	if v := h.Get("X-RSMF-AttachmentCount"); v != "" && v != strconv.Itoa(attRefs) {
		bad("X-RSMF-AttachmentCount %s, the manifest references %d attachments", v, attRefs)
	}
	var begin, end time.Time
	for _, e := range m.Events {
		t, err := parseTime(e.Timestamp)
		if err != nil {
			continue // the schema check reports it
		}
		if begin.IsZero() || t.Before(begin) {
			begin = t
		}
		if end.IsZero() || t.After(end) {
			end = t
		}
	}
	for _, d := range []struct {
		field string
		want  time.Time
	}{{"X-RSMF-BeginDate", begin}, {"X-RSMF-EndDate", end}} {
		v := h.Get(d.field)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			bad("%s %q: %v", d.field, v, err)
		} else if !t.Equal(d.want) {
			bad("%s %s, the manifest's events say %s", d.field, v, d.want.Format(time.RFC3339Nano))
		}
	}
	if v, _ := h.Text("X-RSMF-EventCollectionID"); v != m.EventCollectionID {
		bad("X-RSMF-EventCollectionID %q, the manifest's eventcollectionid %q", v, m.EventCollectionID)
	}
	if v, _ := h.Text("X-RSMF-Custodian"); v != "" {
		// The header names the conversations' custodian when they
		// name one, else some participant (by display or id).
		var ids []string
		for _, c := range m.Conversations {
			if c.Custodian != "" {
				ids = append(ids, c.Custodian)
			}
		}
		if len(ids) == 0 {
			for id := range parts {
				ids = append(ids, id)
			}
		}
		found := false
		for _, id := range ids {
			if d, ok := parts[id]; ok && (d == v || id == v) {
				found = true
			}
		}
		if !found {
			bad("X-RSMF-Custodian %q is not the custodian participant", v)
		}
	}
	return problems
}

// parseTime reads an ISO 8601 timestamp, with or without a zone (the
// samples have none).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not ISO 8601", s)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
