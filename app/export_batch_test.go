package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
)

// TestExportBatchedIsIdentical: a production whose units are loaded in
// runs (one index query for many units' messages and leaves, the
// attachments' index rows read only when a later fetch changed them)
// writes the same unit files as one loaded unit by unit, message by
// message — with media fetched after capture, media never fetched,
// media stored at capture, a recall, two conversations over two days.
func TestExportBatchedIsIdentical(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u, uctx := archivetest.App(ctx, r)
	const day = int64(1700000000000)
	stored, err := r.Blobs.Put(ctx, []byte("stored at capture"), blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var items []ingest.Item
	for i := 0; i < 40; i++ {
		m, raw := testMessage(fmt.Sprintf("b%02d", i), fmt.Sprintf("消息 %d\n\"quoted\" <b>", i))
		m.SentAt = archive.MillisTime(day + int64(i)*3_600_000)
		if i%3 == 0 {
			m.Conversation, m.ConversationKind, m.Recipients = "wrRoom", archive.ConversationGroup, []string{"b", "c"}
		}
		switch i % 5 {
		case 1:
			m.Kind, m.SourceType = archive.KindImage, "image"
			m.Attachments = []archive.Attachment{{Role: "image", Status: archive.AttachmentMissing, Reason: "later", SourceRef: fmt.Sprintf("ref%d", i)},
				{Role: "image", Status: archive.AttachmentFailed, Reason: "never"}}
		case 2:
			m.Kind, m.SourceType = archive.KindFile, "file"
			m.Attachments = []archive.Attachment{{Role: "file", FileName: "a.txt", Blob: stored, Size: 17, MediaType: "text/plain", Status: archive.AttachmentFetched}}
		case 4:
			if i > 5 {
				m.Kind, m.SourceType, m.Action, m.RefersTo, m.Text = archive.KindRevoke, "revoke", archive.ActionRecall, fmt.Sprintf("b%02d", i-3), ""
			}
		}
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	res, err := r.Engine.Archive(ctx, "test", items)
	if err != nil {
		t.Fatal(err)
	}
	// Half the media missing at capture is fetched later.
	for i := range items {
		if i%5 != 1 || i%2 == 0 {
			continue
		}
		data := []byte(fmt.Sprintf("fetched later %d", i))
		id, err := r.Blobs.Put(ctx, data, blob.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := journal.NewEvent(archive.EventAttachmentFetched, "connector:test", archive.Time{}, []string{fmt.Sprintf("serial:%d", res[i].Serial)},
			&archive.AttachmentFetchedEvent{Serial: res[i].Serial, Ordinal: 0, Blob: id, Size: int64(len(data)), MediaType: "image/png", SourceRef: fmt.Sprintf("ref%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Engine.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	run := func(batched bool) string {
		*app.ExportBatches = batched
		defer func() { *app.ExportBatches = true }()
		out := filepath.Join(t.TempDir(), "p")
		if _, err := u.CreateExport(uctx, app.ExportRequest{From: "2000-01-01", Formats: []string{"jsonl", "rsmf"}, Out: out}); err != nil {
			t.Fatal(err)
		}
		v, err := u.RunExport(uctx, out, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Written != len(items) {
			t.Fatalf("%d of %d messages written", v.Written, len(items))
		}
		return out
	}
	a, b := run(true), run(false)
	fa, fb := volumeFiles(t, a), volumeFiles(t, b)
	if len(fa) != len(fb) || len(fa) < 20 {
		t.Fatalf("%d unit files batched, %d unit by unit", len(fa), len(fb))
	}
	natives := 0
	for name, data := range fa {
		if strings.Contains(name, "/PROOFS/") {
			// Proved in each production's own checkpoint: the leaves and
			// everything else are the same, the hashes are not.
			data, fb[name] = withoutHashes(t, data), withoutHashes(t, fb[name])
		}
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs", name)
		}
		if strings.Contains(name, "/NATIVES/") {
			natives++
		}
	}
	// 8 stored at capture, 4 fetched later.
	if natives != 12 {
		t.Errorf("%d natives, want 12", natives)
	}
}

func withoutHashes(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var l export.ProofLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		l.Hashes = nil
		j, _ := json.Marshal(&l)
		out = append(append(out, j...), '\n')
	}
	return out
}

// volumeFiles reads the files of a production's volumes (the unit files;
// the root files name the job, which differs between two productions).
func volumeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !strings.HasPrefix(rel, "VOL") {
			return nil
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
