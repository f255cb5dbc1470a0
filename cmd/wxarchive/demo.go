package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/capture/wecom/finance"
	"github.com/wxarchive/wxarchive/capture/wecom/finance/sim"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/jsonl"
	"github.com/wxarchive/wxarchive/capture/wecom/msgaudit/pull"
	"github.com/wxarchive/wxarchive/demo"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) demoCmd() *cobra.Command {
	var seed int64
	var messages int
	var keep string
	var live bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Create (if needed) an archive and fill it with a realistic synthetic WeCom data set",
		Long: `Demo generates a deterministic (--seed) WeCom conversation archive — by default
20,000 messages over 90 days between 44 employees in 3 departments and 180 clients,
1:1 and group chats in Chinese, English and mixed text, every message type, real
image/voice/video/file bytes, recalls, consent events and a few planted
compliance-relevant messages — and archives it through the same path as real data.

With --live the data is served by a simulator of WeCom's conversation-archive
service (encrypted messages by seq, RSA-wrapped keys, media in 512 KB chunks) and
captured by the same connector a wecom-archive connector runs under serve.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if messages <= 0 {
				return usageErr("--messages must be positive")
			}
			if _, err := repo.LoadConfig(a.dir); errors.Is(err, repo.ErrNoArchive) {
				cfg, err := initArchive(ctx, a.dir, repo.InitOptions{})
				if err != nil {
					return usageErr("%v", err)
				}
				fmt.Fprintf(a.stdout, "Created archive %s in %s\n", cfg.ArchiveID, a.dir)
			} else if err != nil {
				return err
			}
			// The users come first: the demo's output ends with its "Try
			// next" commands.
			if err := a.demoUsers(ctx); err != nil {
				return err
			}
			return a.runDemo(ctx, seed, messages, keep, live)
		},
	}
	c.Flags().Int64Var(&seed, "seed", 1, "seed: the same seed gives the same data")
	c.Flags().IntVar(&messages, "messages", 20000, "number of messages to generate")
	c.Flags().StringVar(&keep, "export", "", "also write the generated messages.jsonl and media/ to this directory")
	c.Flags().BoolVar(&live, "live", false, "capture from a simulated WeCom conversation-archive service through the msgaudit connector")
	return c
}

func (a *app) runDemo(ctx context.Context, seed int64, messages int, export string, live bool) error {
	start := time.Now()
	r, err := a.openWriter(ctx, true)
	if err != nil {
		return err
	}
	defer r.Close(context.Background())
	stopSealer := sealWhileRunning(r)
	var sealerOnce sync.Once
	stopSealerOnce := func() { sealerOnce.Do(stopSealer) }
	defer stopSealerOnce()
	cfg := demo.Config{Seed: seed, Messages: messages}
	source := "wecom-archive:" + demoCorp(cfg)
	head, err := r.Store.Head(ctx)
	if err != nil {
		return err
	}
	if head.NextSerial == 1 {
		// Directory facts first, so every message is attributed to who the
		// sender was (department, supervisory group) when it was sent.
		if err := demo.JournalDirectory(ctx, r.Engine, seed, actor("cli:demo")); err != nil {
			return err
		}
	}
	finishSupervision := a.superviseWhileRunning(r)
	defer finishSupervision(context.Background())
	mediaDir := filepath.Join(export, "media")
	if export == "" {
		if mediaDir, err = os.MkdirTemp("", "wxarchive-demo-media-"); err != nil {
			return err
		}
		defer os.RemoveAll(mediaDir)
	} else if err := os.MkdirAll(mediaDir, 0o755); err != nil {
		return err
	}
	var exportFile *bufio.Writer
	if export != "" {
		f, err := os.Create(filepath.Join(export, "messages.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		exportFile = bufio.NewWriter(f)
		defer exportFile.Flush()
	}

	var gsum demo.Summary
	var sum *jsonl.Summary
	if live {
		var err error
		if gsum, sum, err = a.demoLive(ctx, r, cfg, source, exportFile, mediaDir); err != nil {
			return err
		}
	} else {
		pr, pw := io.Pipe()
		genDone := make(chan error, 1)
		go func() {
			bw := bufio.NewWriterSize(pw, 1<<20)
			var err error
			gsum, err = demo.Generate(cfg, func(line []byte) error {
				if exportFile != nil {
					exportFile.Write(line)
					exportFile.WriteByte('\n')
				}
				if _, err := bw.Write(line); err != nil {
					return err
				}
				return bw.WriteByte('\n')
			}, func(id string, data []byte) error {
				// Media is written before the first line that references it,
				// so it is in place when that line's batch is processed.
				return os.WriteFile(filepath.Join(mediaDir, id), data, 0o644)
			})
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err)
			genDone <- err
		}()
		in := &jsonl.Ingester{Engine: r.Engine, Blobs: r.Blobs, Media: ingest.DirMedia{Dir: mediaDir}, Source: source,
			Actor: actor("cli:demo"), Origin: fmt.Sprintf("demo seed %d", seed)}
		bar := a.progressBar(int64(messages), "demo")
		if bar != nil {
			in.Progress = func(lines int, _ int64) { bar.Set(lines) }
		}
		var runErr error
		sum, runErr = in.Run(ctx, pr)
		pr.CloseWithError(io.ErrClosedPipe)
		genErr := <-genDone
		if bar != nil {
			bar.Finish()
		}
		if runErr != nil {
			return runErr
		}
		if genErr != nil {
			return genErr
		}
	}
	sup, err := finishSupervision(ctx)
	if err != nil {
		return fmt.Errorf("supervision: %w", err)
	}
	stopSealerOnce() // the sealer uses the archive: it stops before it closes
	if err := r.Close(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)

	w := a.stdout
	fmt.Fprintf(w, "Archived %d demo messages (seed %d) in %s: %d new, %d already archived, %d attachments (%d not intact), %d rejected.\n",
		sum.Lines, seed, elapsed.Round(time.Millisecond), sum.Archived, sum.Duplicates, sum.Attachments, len(sum.AttachmentFaults), sum.Rejected)
	fmt.Fprintf(w, "%d employees, %d clients, %d group chats, %d recalls, %d consent events, %s to %s.\n",
		len(gsum.Employees), len(gsum.Clients), len(gsum.Rooms), gsum.Recalls, gsum.Consents,
		gsum.First.Format("2006-01-02"), gsum.Last.Format("2006-01-02"))
	fmt.Fprintf(w, "%d supervision alerts raised by the archive's policies (wxarchive alerts list).\n", sup.Alerts)
	ro, err := a.open(context.Background(), repo.OpenOptions{ReadOnly: true})
	var examples []string
	if err == nil {
		defer ro.Close(context.Background())
		seen := map[string]bool{}
		for _, p := range gsum.Planted {
			if seen[p.Category] {
				continue
			}
			if rows, err := ro.Store.MessagesBySourceID(context.Background(), p.MsgID); err == nil {
				seen[p.Category] = true
				examples = append(examples, fmt.Sprintf("  wxarchive show %-6d # %s: %s", rows[0].Serial, p.Category, truncateRunes(p.Text, 40)))
			}
		}
		sort.Strings(examples)
	}
	dirFlag := ""
	if a.dir != "./wxarchive-data" {
		dirFlag = " --dir " + a.dir
	}
	var notes []string
	if dirFlag != "" {
		notes = append(notes, "add"+dirFlag)
	}
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, "go-build") {
		// Started with `go run`: there is no wxarchive on the PATH yet.
		notes = append(notes, "wxarchive = `go run ./cmd/wxarchive`, or `go install ./cmd/wxarchive` once")
	}
	hint := ""
	if len(notes) > 0 {
		hint = " (" + strings.Join(notes, "; ") + ")"
	}
	fmt.Fprintf(w, "\nTry next%s:\n", hint)
	fmt.Fprintln(w, "  wxarchive stats                 # counts, journal size, signed checkpoint, public key")
	fmt.Fprintln(w, "  wxarchive verify                # re-hash everything, recompute the Merkle tree, check the index")
	for _, e := range examples {
		fmt.Fprintln(w, e)
	}
	fmt.Fprintln(w, "  wxarchive search '保证收益 OR 私人微信'   # Chinese and English search (docs/SEARCH.md)")
	fmt.Fprintln(w, "  wxarchive search --facets '(fee OR 收益) after:2026-08-01'")
	if gsum.ConsentExample != "" {
		fmt.Fprintf(w, "  wxarchive consent %s   # a client's consent history\n", gsum.ConsentExample)
	}
	fmt.Fprintln(w, "  wxarchive audit                 # who searched, viewed and changed what (every access is journaled)")
	fmt.Fprintln(w, "  wxarchive export create --query '收益' --format rsmf,pdf,dat,jsonl --font-fallback --out production")
	fmt.Fprintln(w, "  wxarchive verify-export production   # a production for an examiner, checked offline (docs/PRODUCTION.md)")
	fmt.Fprintln(w, "  wxarchive serve                 # then open http://127.0.0.1:8080/ and sign in as a demo user above (JSON API: /api/v1)")
	return nil
}

func demoCorp(cfg demo.Config) string {
	if cfg.CorpID != "" {
		return cfg.CorpID
	}
	return demo.DefaultCorpID
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// demoLive serves the generated data from the Finance SDK simulator and
// captures it with the msgaudit connector, as a wecom-archive connector
// would from WeCom.
func (a *app) demoLive(ctx context.Context, r *repo.Repo, cfg demo.Config, source string, export *bufio.Writer, mediaDir string) (demo.Summary, *jsonl.Summary, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048) // WeCom's key size
	if err != nil {
		return demo.Summary{}, nil, err
	}
	ring, err := finance.ParseKeyRing(map[int][]byte{1: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})})
	if err != nil {
		return demo.Summary{}, nil, err
	}
	svc := sim.New(map[int]*rsa.PublicKey{1: &key.PublicKey})
	media := map[string][]byte{}
	var addErr error
	gsum, err := demo.Generate(cfg, func(line []byte) error {
		if export != nil {
			export.Write(line)
			export.WriteByte('\n')
		}
		if _, err := svc.Add(line, 1, media); err != nil && addErr == nil {
			addErr = err
		}
		clear(media)
		return nil
	}, func(id string, data []byte) error {
		media[id] = append([]byte(nil), data...)
		if export != nil {
			return os.WriteFile(filepath.Join(mediaDir, id), data, 0o644)
		}
		return nil
	})
	if err == nil {
		err = addErr
	}
	if err != nil {
		return gsum, nil, err
	}
	c := &pull.Connector{ID: "demo-live", CorpID: strings.TrimPrefix(source, "wecom-archive:"), Keys: ring, Engine: r.Engine,
		Blobs: r.Blobs, Store: r.Store, Open: func() (finance.SDK, error) { return svc.Open(), nil }}
	defer c.Close()
	bar := a.progressBar(int64(cfg.Messages), "demo --live")
	sum := &jsonl.Summary{}
	for {
		res, err := c.Pull(ctx)
		if err != nil {
			return gsum, sum, err
		}
		sum.Lines += res.Fetched
		sum.Archived += res.Archived
		sum.Duplicates += res.Duplicates
		sum.Rejected += res.Rejected
		if bar != nil {
			bar.Set(sum.Lines)
		}
		if !res.More {
			break
		}
	}
	if bar != nil {
		bar.Finish()
	}
	counts, err := r.Store.Counts(ctx)
	if err == nil {
		sum.Attachments = int(counts.Attachments)
		for i := int64(0); i < counts.AttachFaults; i++ {
			sum.AttachmentFaults = append(sum.AttachmentFaults, jsonl.AttachmentFault{})
		}
	}
	return gsum, sum, nil
}

// demoUsers creates a demo user of every role (once: a second demo run
// keeps them) and prints how to log in.
func (a *app) demoUsers(ctx context.Context) error {
	return a.withApp(ctx, journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
		fmt.Fprintln(a.stdout, "Demo users (log in to `wxarchive serve` with these; passwords are shown once):")
		t := newTable(a.stdout)
		for _, r := range auth.Roles {
			g := auth.Grant{Roles: []auth.Role{r}}
			switch r {
			case auth.Reviewer:
				g.Departments = []string{"财富管理部"} // the demo data set's wealth-management department
			case auth.Regulator:
				// An examiner sees one period: the demo data's last month.
				g.Expires = time.Now().AddDate(0, 0, 30)
				g.Scope = &auth.Scope{From: demo.DefaultEnd.AddDate(0, -1, 0), To: demo.DefaultEnd.AddDate(0, 0, 1)}
			}
			name := "demo-" + string(r)
			pw, err := initialPassword()
			if err != nil {
				return err
			}
			_, err = u.AddUser(ctx, auth.NewUser{Name: name, Password: pw, Grant: g})
			var ce *uc.ConflictError
			switch {
			case errors.As(err, &ce):
				pw = "(exists; wxarchive user passwd " + name + ")"
			case err != nil:
				return err
			}
			fmt.Fprintf(t, "  %s\t%s\t%s\n", name, r, pw)
		}
		return t.Flush()
	})
}
