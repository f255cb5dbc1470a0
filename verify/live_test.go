package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/httpapi"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/verify"
)

func liveItems(worker, batch, n int) []ingest.Item {
	items := make([]ingest.Item, n)
	for i := range items {
		id := fmt.Sprintf("live-%d-%d-%d", worker, batch, i)
		raw := fmt.Sprintf(`{"msgid":%q,"action":"send","from":"zhangwei","tolist":["wmClient%d"],"msgtime":1700000000000,"msgtype":"text","text":{"content":"第%d批 消息 %d 保本保息"}}`, id, worker, batch, i)
		items[i] = ingest.Item{Source: "wecom-archive:live", Raw: []byte(raw), Origin: "test:live", Message: &archive.Message{
			Source: "wecom-archive:live", SourceID: id, SourceType: "text", Kind: archive.KindText, Action: archive.ActionSend,
			SentAt: archive.MillisTime(1700000000000 + int64(batch*1000+i)), Sender: "zhangwei", Recipients: []string{fmt.Sprintf("wmClient%d", worker)},
			Conversation: fmt.Sprintf("direct:wmClient%d|zhangwei", worker), ConversationKind: archive.ConversationDirect,
			Participants: []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: fmt.Sprintf("wmClient%d", worker), Kind: archive.ParticipantExternal}},
			Direction:    archive.DirectionOutbound, Text: fmt.Sprintf("第%d批 消息 %d 保本保息", batch, i)}}
	}
	return items
}

// TestVerifyUnderLoad is verify next to a server ingesting at concurrency
// 8 with its sealer running (issue 12, "live verify"): the archive is as
// it should be at every moment, so verify must find nothing — in
// particular no record or leaf "unsealed" because verify itself took
// longer than the seal delay: ages are measured at the snapshot verify
// reads, not at the end of the run. The eight clients call the engine
// directly, or the API's ingest route over HTTP (httpapi's handler, as
// serve runs it).
func TestVerifyUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests for several seconds")
	}
	t.Run("engine", func(t *testing.T) {
		verifyUnderLoad(t, func(w *repo.Repo) func(ctx context.Context, items []ingest.Item) error {
			return func(ctx context.Context, items []ingest.Item) error {
				_, err := w.Engine.Archive(ctx, "test", items)
				return err
			}
		})
	})
	t.Run("http", func(t *testing.T) {
		verifyUnderLoad(t, func(w *repo.Repo) func(ctx context.Context, items []ingest.Item) error {
			a := archivetest.NewAuth()
			token := a.Bearer("ingest-service", auth.Ingest)
			srv := httptest.NewServer(httpapi.New(w, httpapi.Options{Ingesters: archivetest.Ingesters(w, nil), Auth: a}))
			t.Cleanup(srv.Close)
			return func(ctx context.Context, items []ingest.Item) error {
				var body bytes.Buffer
				for _, it := range items {
					body.Write(it.Raw)
					body.WriteByte('\n')
				}
				req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/ingest/wecom-archive?corp=live", &body)
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := srv.Client().Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				var out struct {
					Archived int `json:"archived"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Archived != len(items) {
					return fmt.Errorf("POST ingest: %s: %s", resp.Status, b)
				}
				return nil
			}
		})
	})
}

// verifyUnderLoad runs verify three times while eight clients archive
// through the ingest function client returns.
func verifyUnderLoad(t *testing.T, client func(w *repo.Repo) func(ctx context.Context, items []ingest.Item) error) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := archivetest.Init(ctx, dir, repo.InitOptions{Setup: archivetest.NoPolicies}); err != nil {
		t.Fatal(err)
	}
	// A short seal delay, so that a verify run lasts several of them.
	const sealDelay = time.Second
	cfg := filepath.Join(dir, repo.ConfigFile)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "seal_delay: 10s", "seal_delay: 1s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := archivetest.Open(ctx, dir, repo.OpenOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Config.SealDelay != sealDelay {
		t.Fatalf("seal delay %s", w.Config.SealDelay)
	}
	// Enough history that one verify run takes longer than the delay.
	for batch := range 24 {
		if _, err := w.Engine.Archive(ctx, "test", liveItems(99, batch, 500)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	archiveItems := client(w)
	sealCtx, stopSealer := context.WithCancel(ctx)
	sealed := make(chan struct{})
	go func() { defer close(sealed); w.Engine.RunSealer(sealCtx, 0) }()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var archived atomic.Int64
	errs := make(chan error, 8)
	for worker := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := 0; ; batch++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := archiveItems(ctx, liveItems(worker, batch, 10)); err != nil {
					errs <- err
					return
				}
				archived.Add(10)
				// Clients, not a bulk load: about 4,000 messages a second
				// in all, which keeps the archive verify reads growing
				// without making each run longer than the last.
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	var reports []*verify.Report
	for range 3 {
		r, err := archivetest.Open(ctx, dir, repo.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch, ScratchDir: t.TempDir()})
		r.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	close(stop)
	wg.Wait()
	stopSealer()
	<-sealed
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, rep := range reports {
		t.Logf("run %d: %d messages checked in %s", i, rep.Stats.Messages, rep.Duration)
		if !rep.OK {
			t.Errorf("run %d (%s, %d messages ingested meanwhile): %d faults, first %+v", i, rep.Duration, archived.Load(), len(rep.Faults), rep.Faults[:min(len(rep.Faults), 5)])
		}
		if rep.Duration < sealDelay {
			t.Errorf("run %d took %s, less than the seal delay: the test proves nothing", i, rep.Duration)
		}
	}
}
