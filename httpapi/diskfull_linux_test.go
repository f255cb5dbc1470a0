package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/internal/archivetest"
)

// A real full disk: the archive on a small tmpfs, filled until ingest
// fails. The failure is 507 naming the storage, nothing of it is
// acknowledged, /readyz says not ready with the reason; once space is
// freed the write probe makes the server ready, the retry is archived,
// every acknowledged message is there, and verify is clean (finish).
func TestDiskFullReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs for a real full disk needs root; TestDiskFullInjected covers the mapping")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=48m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); TestDiskFullInjected covers the mapping", err)
	}
	// Registered first, so it runs after the environment's own cleanup
	// (close, seal, verify) has finished with the archive.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	media := mapMedia{}
	for i := range 200 {
		b := make([]byte, 256<<10)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		media[fmt.Sprintf("SDK-FULL-%03d", i)] = b
	}
	e := newEnvIn(t, filepath.Join(mnt, "archive"), httpapi.Options{}, nil)
	e.restart(httpapi.Options{Ingesters: archivetest.Ingesters(e.r, media)})

	// Leave about 4 MiB free.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-4<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	acked := map[string]uint64{}
	var failed []byte
	var failedMedia []byte
	var answer []byte
	for i := 0; i < len(media); i++ {
		msg := imageMsg(fmt.Sprintf("full%03d", i), fmt.Sprintf("SDK-FULL-%03d", i), 1701000000000+int64(i)*1000)
		resp, b := e.request("POST", ingestPath, map[string]string{"Content-Type": "application/json"}, msg)
		if resp.StatusCode == http.StatusOK {
			var r ingestResp
			if err := json.Unmarshal(b, &r); err != nil || r.Archived != 1 {
				t.Fatalf("ingest %d: %s", i, b)
			}
			acked[r.Results[0].MsgID] = r.Results[0].Serial
			continue
		}
		failed, answer, failedMedia = msg, b, media[fmt.Sprintf("SDK-FULL-%03d", i)]
		if p := problemOf(t, b); resp.StatusCode != http.StatusInsufficientStorage || p.Code != "insufficient_storage" || !strings.Contains(p.Message, "no space left on the device holding") {
			t.Fatalf("ingest %d on a full disk: %d %s, want 507 insufficient_storage", i, resp.StatusCode, b)
		}
		break
	}
	if failed == nil {
		t.Fatalf("the disk never filled (%d messages acknowledged)", len(acked))
	}
	t.Logf("%d messages acknowledged before the disk filled; then: %s", len(acked), bytes.TrimSpace(answer))
	// Its attachment, if it was stored before the failure, is staged: not
	// locked for six years with nothing referencing it.
	attID := archive.Hash(failedMedia)
	if info, err := e.r.Blobs.Stat(context.Background(), attID); err == nil && !info.RetainUntil.IsZero() {
		t.Fatalf("the attachment of the refused message is retained until %v", info.RetainUntil)
	}
	reason := e.wantReady(false)
	if !strings.Contains(reason, "no space left") {
		t.Fatalf("/readyz reason %q", reason)
	}
	t.Logf("/readyz: %s", reason)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, _ := e.request("GET", "/readyz", nil, nil); resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready a minute after space was freed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The message the full disk refused was not acknowledged: its retry
	// is archived now (or a duplicate, if its commit made it to disk
	// before the failure that refused it).
	res := e.ingest("", "application/json", failed, 200)
	if o := res.Results[0].Outcome; o != "archived" && o != "duplicate" {
		t.Fatalf("retry: %+v", res.Results)
	}
	// Acknowledged now: locked with the message's retention.
	if info, err := e.r.Blobs.Stat(context.Background(), attID); err != nil || info.RetainUntil.IsZero() {
		t.Fatalf("the acknowledged retry's attachment: %+v, %v", info, err)
	}
	for id, serial := range acked {
		if m := e.message(serial); m.Message.SourceID != id {
			t.Fatalf("acknowledged %s as serial %d; the archive has %s there", id, serial, m.Message.SourceID)
		}
	}
}
