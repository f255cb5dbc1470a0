package rsmf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/eml"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func writeAll(t *testing.T, units []*export.Unit) *memSink {
	t.Helper()
	sink := newMemSink()
	for _, u := range units {
		pages, err := Format{}.WriteUnit(context.Background(), u, sink, 1)
		if err != nil {
			t.Fatalf("unit %s: %v", u.Name, err)
		}
		if pages != 0 {
			t.Errorf("unit %s: %d pages, want 0", u.Name, pages)
		}
	}
	return sink
}

func read(t *testing.T, data []byte) *rsmfFile {
	t.Helper()
	f, err := readRSMF(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The .rsmf files are fixed byte for byte; next to each, its manifest, so
// a change reads as a JSON diff. (The zip is deflated by compress/flate:
// a Go release that changes its output changes the goldens too.)
func TestGolden(t *testing.T) {
	sink := writeAll(t, exporttest.Units("WXA").Units)
	dir := filepath.Join("testdata", "golden")
	got := map[string][]byte{}
	for name, data := range sink.Files {
		got[name] = data
		got[strings.TrimSuffix(name, ".rsmf")+"."+ManifestName] = read(t, data).manifestJSON
	}
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range got {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if names := sink.Names(); strings.Join(names, ",") != "2026-03-02_direct_lina_wmEXTsmith.rsmf,2026-03-02_wrSampleGroup01.rsmf" {
		t.Fatalf("files %v", names)
	}
	for name, data := range got {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./export/rsmf -update)", err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs from its golden file; if the change is intended, run with -update and review the diff", name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := writeAll(t, exporttest.Units("WXA").Units)
	b := writeAll(t, exporttest.Units("WXA").Units)
	for name := range a.Files {
		if !bytes.Equal(a.Files[name], b.Files[name]) {
			t.Errorf("%s: two writes of the same unit differ", name)
		}
	}
}

// Our output passes the published schema (formats asserted) and every
// referential and header rule.
func TestValid(t *testing.T) {
	sch := compileSchema(t, true)
	sample := exporttest.Units("WXA")
	sink := writeAll(t, sample.Units)
	for _, u := range sample.Units {
		t.Run(u.Name, func(t *testing.T) {
			f := read(t, sink.Files[u.Name+".rsmf"])
			for _, p := range check(f, sch) {
				t.Error(p)
			}
			if f.parts != 1 {
				t.Errorf("%d attachment parts, want exactly rsmf.zip", f.parts)
			}
			if f.manifest.Version != "2.0.0" || f.header.Get("X-RSMF-Version") != "2.0.0" {
				t.Errorf("version %q / %q", f.manifest.Version, f.header.Get("X-RSMF-Version"))
			}
			for _, h := range []string{"X-RSMF-Generator", "X-RSMF-BeginDate", "X-RSMF-EndDate", "X-RSMF-EventCount",
				"X-RSMF-Application", "X-RSMF-Custodian", "X-RSMF-Participants", "X-RSMF-AttachmentCount"} {
				if f.header.Get(h) == "" {
					t.Errorf("no %s", h)
				}
			}
			if v := f.header.Get("X-RSMF-EventCollectionID"); v != "" || f.manifest.EventCollectionID != "" {
				t.Errorf("a unit of one slice has a collection id (%q, %q)", v, f.manifest.EventCollectionID)
			}
			for _, h := range []string{"X-RSMF-BeginDate", "X-RSMF-EndDate"} {
				if v := f.header.Get(h); !strings.HasSuffix(v, "Z") {
					t.Errorf("%s %q is not UTC", h, v)
				}
			}
			// The reader found the custodian by display name; the
			// conversation names them by id.
			if c := f.manifest.Conversations[0].Custodian; c != u.Custodian {
				t.Errorf("conversation custodian %q, want %q", c, u.Custodian)
			}
			// Zip entries: sorted, deflated, all with the unit's first
			// message time.
			first, _ := eml.Span(u)
			var names []string
			for _, e := range f.zipEntries {
				names = append(names, e.Name)
				if e.Method != 8 {
					t.Errorf("%s: method %d, want deflate", e.Name, e.Method)
				}
				if !e.Modified.Equal(first) {
					t.Errorf("%s: modified %v, want %v", e.Name, e.Modified, first)
				}
			}
			if !sort.StringsAreSorted(names) {
				t.Errorf("zip entries not sorted: %v", names)
			}
		})
	}
}

// What the group's manifest says about each kind of message.
func TestManifestContent(t *testing.T) {
	sample := exporttest.Units("WXA")
	u := sample.Units[0]
	f := read(t, writeAll(t, sample.Units).Files[u.Name+".rsmf"])
	m := f.manifest
	ev := map[string]rEvent{}
	for _, e := range m.Events {
		ev[e.ID] = e
	}
	if len(m.Events) != len(u.Messages) {
		t.Fatalf("%d events for %d messages", len(m.Events), len(u.Messages))
	}
	for i, msg := range u.Messages {
		e := m.Events[i]
		if e.ID != msg.ProductionNumber {
			t.Errorf("event %d id %s, want %s", i+1, e.ID, msg.ProductionNumber)
		}
		if e.custom("raw_sha256") != msg.RawSHA256.String() || e.custom("record_sha256") != msg.RecordSHA256.String() {
			t.Errorf("%s: hashes do not match the record", e.ID)
		}
		if want := msg.Message.SentAt.UTC().Format("2006-01-02T15:04:05.000Z"); e.Timestamp != want {
			t.Errorf("%s: timestamp %s, want %s", e.ID, e.Timestamp, want)
		}
		if e.Participant != msg.Sender.ID {
			t.Errorf("%s: participant %s, want %s", e.ID, e.Participant, msg.Sender.ID)
		}
		if want := map[bool]string{true: "outgoing", false: "incoming"}[msg.Sender.ID == u.Custodian]; e.Direction != want {
			t.Errorf("%s: direction %s, want %s", e.ID, e.Direction, want)
		}
		if msg.Message.Text != "" && !strings.Contains(e.Body, msg.Message.Text) {
			t.Errorf("%s: body %q lacks the text", e.ID, e.Body)
		}
	}
	for _, c := range []struct {
		id   string
		test func(e rEvent) bool
		what string
	}{
		{"WXA0000001", func(e rEvent) bool { return e.Type == "message" && strings.Contains(e.Body, "保证收益") }, "a text message"},
		{"WXA0000003", func(e rEvent) bool {
			return len(e.Attachments) == 1 && e.Attachments[0].ID == "WXA0000003_1.png" && e.Attachments[0].Size == int64(len(exporttest.PNG()))
		}, "the image in the zip"},
		{"WXA0000004", func(e rEvent) bool {
			return len(e.Attachments) == 1 && e.Attachments[0].ID == "WXA0000004_1_产品合同.pdf" && e.Attachments[0].Display == "产品合同.pdf" &&
				bytes.Equal(f.files[e.Attachments[0].ID], exporttest.FileBytes)
		}, "the contract in the zip under its name"},
		{"WXA0000005", func(e rEvent) bool { return e.custom("detail: duration") == "4 s" }, "details as custom fields"},
		{"WXA0000006", func(e rEvent) bool {
			return len(e.Attachments) == 0 && strings.Contains(e.Body, "missing: media expired at the source (errcode 10001)") &&
				strings.Contains(e.custom("attachment 1"), "not in this production")
		}, "the missing video described, not zipped"},
		{"WXA0000007", func(e rEvent) bool { return e.custom("detail: url") == "https://example.com/report?a=1&b=<2>" }, "the link's URL"},
		{"WXA0000011", func(e rEvent) bool {
			return e.Deleted && strings.HasPrefix(e.Body, "[recalled by serial 36]") && e.custom("recalled_by") == "36"
		}, "the recalled message deleted"},
		{"WXA0000012", func(e rEvent) bool {
			return e.Type == "message" && e.Parent == "WXA0000011" && strings.Contains(e.Body, "[recalls serial 33 (WXA0000011)]") && e.custom("recalls") == "33"
		}, "the recall pointing at it"},
		{"WXA0000013", func(e rEvent) bool {
			return e.Type == "disclaimer" && strings.Contains(e.Body, "agreed to have the conversation archived")
		},
			"consent as a disclaimer"},
		{"WXA0000014", func(e rEvent) bool {
			return e.Type == "unknown" && strings.Contains(e.Body, `source type "hongbao_v9"`)
		}, "an unknown type"},
		{"WXA0000015", func(e rEvent) bool {
			return e.custom("version") == "2" && e.custom("conflicts_with") == "3" && strings.Contains(e.Body, "[version 2 of serial 3 (WXA0000001)]")
		}, "a second version"},
	} {
		if e, ok := ev[c.id]; !ok || !c.test(e) {
			t.Errorf("%s: not %s: %+v", c.id, c.what, e)
		}
	}
	conv := m.Conversations[0]
	if conv.Type != "channel" || conv.Platform != "WeChat Work" || conv.Display != "财富管理VIP群" || len(conv.Participants) != 3 {
		t.Errorf("conversation %+v", conv)
	}
	if v, _ := f.header.Text("X-RSMF-Custodian"); v != "张伟" {
		t.Errorf("X-RSMF-Custodian %q", v)
	}
	if v := f.header.Get("X-RSMF-Application"); v != "WeCom" {
		t.Errorf("X-RSMF-Application %q", v)
	}
	if v, _ := f.header.Text("X-RSMF-Participants"); v != "李娜, 张伟, 王先生 (客户)" {
		t.Errorf("X-RSMF-Participants %q", v)
	}
	if v := f.header.Get("X-RSMF-AttachmentCount"); v != "3" {
		t.Errorf("X-RSMF-AttachmentCount %q", v)
	}
	dept := ""
	for _, p := range m.Participants {
		for _, c := range p.Custom {
			if p.ID == "zhangwei" && c.Name == "department" {
				dept = c.Value
			}
		}
	}
	if dept != "财富管理部" {
		t.Errorf("zhangwei's department %q", dept)
	}
	if !strings.Contains(f.text, "Events:       15, WXA0000001 to WXA0000015") {
		t.Errorf("summary %q", f.text)
	}

	d := read(t, writeAll(t, sample.Units).Files[sample.Units[1].Name+".rsmf"]).manifest
	if d.Conversations[0].Type != "direct" {
		t.Errorf("the 1:1 chat is %q", d.Conversations[0].Type)
	}
	if e := d.Events[1]; e.Type != "disclaimer" || !strings.Contains(e.Body, "refused") {
		t.Errorf("refusal %+v", e)
	}
	if e := d.Events[2]; e.custom("time_unknown") != "true" || !strings.Contains(e.Body, "the source gave no time") {
		t.Errorf("time unknown %+v", e)
	}
}

// A slice of a split day carries the collection id in header and
// manifest, and still validates.
func TestSlices(t *testing.T) {
	sch := compileSchema(t, true)
	u := exporttest.Units("WXA").Units[0]
	u.Slice, u.Slices, u.Name = 2, 3, u.Name+"_2"
	f := read(t, writeAll(t, []*export.Unit{u}).Files[u.Name+".rsmf"])
	if v, _ := f.header.Text("X-RSMF-EventCollectionID"); v != u.CollectionID {
		t.Errorf("X-RSMF-EventCollectionID %q, want %q", v, u.CollectionID)
	}
	if f.manifest.EventCollectionID != u.CollectionID {
		t.Errorf("eventcollectionid %q, want %q", f.manifest.EventCollectionID, u.CollectionID)
	}
	for _, p := range check(f, sch) {
		t.Error(p)
	}
}

// The checker catches each kind of breakage: it is not a rubber stamp.
func TestCheckerCatches(t *testing.T) {
	sch := compileSchema(t, true)
	data := writeAll(t, exporttest.Units("WXA").Units[:1]).Files["2026-03-02_wrSampleGroup01.rsmf"]
	for _, c := range []struct {
		name string
		edit func(f *rsmfFile)
		want string
	}{
		{"unknown participant", func(f *rsmfFile) { f.manifest.Events[0].Participant = "nobody" }, "participant nobody does not resolve"},
		{"unknown parent", func(f *rsmfFile) { f.manifest.Events[11].Parent = "WXA9999999" }, "parent WXA9999999 does not resolve"},
		{"unknown conversation", func(f *rsmfFile) { f.manifest.Events[0].Conversation = "wrOther" }, "conversation wrOther does not resolve"},
		{"custodian not a participant", func(f *rsmfFile) { f.manifest.Conversations[0].Custodian = "ghost" }, "custodian ghost is not one of its participants"},
		{"extra zip file", func(f *rsmfFile) { f.files["stray.bin"] = []byte("x") }, "zip entry stray.bin is referenced by nothing"},
		{"missing zip file", func(f *rsmfFile) { delete(f.files, "WXA0000003_1.png") }, "WXA0000003_1.png, which is not in the zip"},
		{"wrong size", func(f *rsmfFile) { f.manifest.Events[2].Attachments[0].Size = 1 }, "the manifest says 1"},
		{"event count", func(f *rsmfFile) { f.header.Set("X-RSMF-EventCount", "3") }, "X-RSMF-EventCount 3"},
		{"attachment count", func(f *rsmfFile) { f.header.Set("X-RSMF-AttachmentCount", "9") }, "X-RSMF-AttachmentCount 9"},
		{"begin date", func(f *rsmfFile) { f.header.Set("X-RSMF-BeginDate", "2026-03-02T00:00:00.000Z") }, "X-RSMF-BeginDate"},
		{"collection id", func(f *rsmfFile) { f.header.Set("X-RSMF-EventCollectionID", "x") }, "X-RSMF-EventCollectionID"},
		{"custodian header", func(f *rsmfFile) { f.header.Set("X-RSMF-Custodian", "李娜") }, "X-RSMF-Custodian"},
		{"schema: event type", func(f *rsmfFile) { f.manifest.Events[0].Type = "reaction" }, "schema"},
		{"schema: zone-less timestamp", func(f *rsmfFile) { f.manifest.Events[0].Timestamp = "yesterday" }, "schema"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := read(t, data)
			// Edit the parsed manifest and re-encode it (the custom
			// fields survive in rEvent), so the schema sees the edit.
			c.edit(f)
			b, err := json.Marshal(f.manifest)
			if err != nil {
				t.Fatal(err)
			}
			f.manifestJSON = b
			problems := check(f, sch)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, c.want)
			}
			if !found {
				t.Errorf("problems %q, want one containing %q", problems, c.want)
			}
		})
	}
}

// The reader and checker read Relativity's own samples: sample.rsmf is
// valid; the bare rsmf.zip names an avatar "AV1" it does not hold, and
// the checker says so.
func TestRelativitySamples(t *testing.T) {
	dir := filepath.Join(sharedFixtures(t), "samples")
	sch := compileSchema(t, false)

	data, err := os.ReadFile(filepath.Join(dir, "sample.rsmf"))
	if err != nil {
		t.Fatal(err)
	}
	f := read(t, data)
	for _, p := range check(f, sch) {
		t.Errorf("sample.rsmf: %s", p)
	}
	if len(f.manifest.Events) != 1 || f.manifest.Participants[0].Avatar != "AV1" || f.header.Get("X-RSMF-EventCount") != "1" {
		t.Errorf("sample.rsmf read as %+v", f.manifest)
	}
	if !strings.Contains(f.text, "This is body text.") {
		t.Errorf("sample.rsmf text %q", f.text)
	}

	data, err = os.ReadFile(filepath.Join(dir, "rsmf.zip"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := readZipFile(data)
	if err != nil {
		t.Fatal(err)
	}
	problems := check(z, sch)
	if len(problems) != 1 || !strings.Contains(problems[0], "avatar names AV1, which is not in the zip") {
		t.Errorf("rsmf.zip problems %q, want the missing avatar", problems)
	}
	// Strict formats reject the samples' zone-less timestamps, which
	// is why our own output is checked strictly and theirs is not.
	if len(check(z, compileSchema(t, true))) == len(problems) {
		t.Error("the strict schema accepts a timestamp without a zone")
	}
}

// Bad input is an error naming the message, never a panic.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(u *export.Unit) *export.Unit
		want string
	}{
		{"nil unit", func(*export.Unit) *export.Unit { return nil }, "no unit"},
		{"no messages", func(u *export.Unit) *export.Unit { u.Messages = nil; return u }, "no messages"},
		{"no record", func(u *export.Unit) *export.Unit { u.Messages[5].Message = nil; return u }, "serial 18 has no normalized record"},
		{"duplicate production number", func(u *export.Unit) *export.Unit {
			u.Messages[1].ProductionNumber = u.Messages[0].ProductionNumber
			return u
		}, "serial 6: production number WXA0000001 is also serial 3's"},
		{"bytes differ", func(u *export.Unit) *export.Unit {
			u.Messages[2].Attachments[0].Open = func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("not the png")), nil
			}
			return u
		}, "serial 9: attachment 1: stored bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Format{}.WriteUnit(context.Background(), c.edit(exporttest.Units("WXA").Units[0]), newMemSink(), 1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Format{}).WriteUnit(ctx, exporttest.Units("WXA").Units[0], newMemSink(), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestZipEntryName(t *testing.T) {
	m := &export.Message{ProductionNumber: "WXA0000004"}
	long := strings.Repeat("很长的文件名", 10) + ".docx"
	for _, c := range []struct {
		display string
		ordinal int
		want    string
	}{
		{"产品合同.pdf", 0, "WXA0000004_1_产品合同.pdf"},
		{"WXA0000004_2.png", 1, "WXA0000004_2.png"},
		{"a b/c?.txt", 0, "WXA0000004_1_a_b_c_.txt"},
		{"..hidden", 0, "WXA0000004_1_hidden"},
		{"", 2, "WXA0000004_3"},
		{long, 0, "WXA0000004_1_" + strings.Repeat("很长的文件名", 4) + "很.docx"},
	} {
		got := ZipEntryName(m, &export.Attachment{Ordinal: c.ordinal}, c.display)
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.display, got, c.want)
		}
	}
}

// Timestamps are the archive's UTC form.
func TestTimeLayout(t *testing.T) {
	ts := time.Date(2026, 3, 2, 9, 30, 0, 0, exporttest.Location).UTC().Format(TimeLayout)
	if ts != "2026-03-02T01:30:00.000Z" {
		t.Errorf("%s", ts)
	}
}

// TestNoConversation: messages outside any conversation (switch events)
// still make a valid RSMF file, under the archive's stand-in id.
func TestNoConversation(t *testing.T) {
	u := exporttest.Units("WXA").Units[1]
	u.Conversation = ""
	out := newMemSink()
	if _, err := (Format{}).WriteUnit(context.Background(), u, out, 1); err != nil {
		t.Fatal(err)
	}
	if len(out.Files) != 1 {
		t.Fatalf("%d files", len(out.Files))
	}
	sch := compileSchema(t, true)
	for name, b := range out.Files {
		f := read(t, b)
		if probs := check(f, sch); len(probs) > 0 {
			t.Errorf("%s: %v", name, probs)
		}
		if cs := f.manifest.Conversations; len(cs) != 1 || cs[0].ID != export.NoConversation {
			t.Errorf("%s: conversations %+v, want the stand-in %s", name, cs, export.NoConversation)
		}
	}
}
