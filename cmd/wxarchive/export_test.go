package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/repo"
)

// exportArchive is a demo archive (every message type, media, recalls,
// consent events, emoji) and its public key.
func exportArchive(t *testing.T, messages int) (dir, key string) {
	t.Helper()
	dir = cliArchiveDir(t)
	mustCLI(t, "--dir", dir, "demo", "--messages", fmt.Sprint(messages))
	cfg, err := repo.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg.PublicKey
}

func exportCount(t *testing.T, dir string) int {
	t.Helper()
	var v struct{ Exports []json.RawMessage }
	cliJSON(t, &v, "--dir", dir, "export", "list", "--json")
	return len(v.Exports)
}

// TestCLIExport: a production of every format from a demo archive
// verifies offline with the archive's key; its RSMF manifests are valid
// RSMF 2.0, its EML parses with an independent MIME reader and its PDFs
// hold the Chinese text; a changed byte in any kind of file, a removed or
// added file, and a foreign key are each named by verify-export; bad
// scopes change nothing in the journal.
func TestCLIExport(t *testing.T) {
	t.Parallel()
	dir, key := exportArchive(t, 1500)
	out := filepath.Join(t.TempDir(), "prod")
	var v struct {
		ID       string
		State    string
		Messages int
		Written  int
		Files    int
		Pages    int
	}
	cliJSON(t, &v, "--dir", dir, "export", "create", "--query", "收益 OR 合同 OR has:attachment", "--format", "rsmf,eml,pdf,html,dat,csv,jsonl",
		"--font-fallback", "--out", out, "--json")
	if v.State != "finished" || v.Messages == 0 || v.Written != v.Messages || v.Pages == 0 {
		t.Fatalf("export: %+v", v)
	}
	vo, _, code := runCLI(t, "verify-export", out, "--public-key", key)
	if code != 0 || !strings.HasPrefix(vo, "OK") {
		t.Fatalf("verify-export: exit %d\n%s", code, vo)
	}

	byKind := map[string]string{} // one file of each kind
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		kind := rel
		if parts := strings.Split(filepath.ToSlash(rel), "/"); len(parts) == 3 {
			kind = parts[1]
		}
		if _, ok := byKind[kind]; !ok {
			byKind[kind] = rel
		}
		return nil
	})
	for _, k := range []string{"RSMF", "EML", "PDF", "HTML", "JSONL", "PROOFS", "NATIVES", "TEXT", "loadfile.dat", "loadfile.csv", "audit.jsonl", "coverage.json", "manifest.json", "manifest.proof.json"} {
		if byKind[k] == "" {
			t.Errorf("the production has no %s file", k)
		}
	}
	checkRSMF(t, out)
	checkEML(t, out)
	checkPDF(t, out)

	// Tampering, one copy per case.
	tamper := func(name string, change func(dir string) string) {
		t.Run(name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(cp, os.DirFS(out)); err != nil {
				t.Fatal(err)
			}
			want := change(cp)
			vo, _, code := runCLI(t, "verify-export", cp, "--public-key", key)
			if code != 1 || !strings.Contains(vo, want) {
				t.Fatalf("verify-export after %s: exit %d, want 1 naming %q\n%s", name, code, want, vo)
			}
		})
	}
	for kind, rel := range byKind {
		tamper("byte "+kind, func(cp string) string {
			p := filepath.Join(cp, rel)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if kind == "manifest.json" || kind == "manifest.proof.json" {
				return "PROBLEM"
			}
			return filepath.ToSlash(rel)
		})
	}
	tamper("removed", func(cp string) string {
		os.Remove(filepath.Join(cp, byKind["NATIVES"]))
		return filepath.ToSlash(byKind["NATIVES"]) + "\n        missing"
	})
	tamper("added", func(cp string) string {
		os.WriteFile(filepath.Join(cp, "VOL001", "PDF", "extra.pdf"), []byte("%PDF"), 0o644)
		return "VOL001/PDF/extra.pdf\n        extra"
	})
	tamper("foreign key", func(cp string) string {
		p := filepath.Join(cp, "manifest.json")
		b, _ := os.ReadFile(p)
		var m map[string]any
		json.Unmarshal(b, &m)
		m["public_key"] = "other+01234567+AYRqqcPhNAVv7KItHCd+EWMxqCPEi9clWkVOHuLQ9sbp"
		b, _ = json.MarshalIndent(m, "", "  ")
		os.WriteFile(p, append(b, '\n'), 0o644)
		return "not the archive's key"
	})

	// Bad scopes: a clear error, exit 2, nothing journaled.
	before := exportCount(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--query", "收益 AND (", "--format", "jsonl"}, "query"},
		{[]string{"--hold", "no-such-hold", "--format", "jsonl"}, "no-such-hold"},
		{[]string{"--custodian", "nobody-at-all", "--format", "jsonl"}, "nobody-at-all"},
		{[]string{"--query", "收益", "--format", "jsonl,tiff"}, "tiff"},
		{[]string{"--format", "jsonl"}, "scope"},
		{[]string{"--query", "收益", "--format", "jsonl", "--prefix", "bad prefix"}, "prefix"},
		{[]string{"--from", "2026-13-01", "--format", "jsonl"}, "from"},
	} {
		args := append([]string{"--dir", dir, "export", "create", "--out", filepath.Join(t.TempDir(), "p")}, c.args...)
		_, errs, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("export create %v: exit %d, want 2 naming %q\n%s", c.args, code, c.want, errs)
		}
	}
	_, errs, code := runCLI(t, "--dir", dir, "export", "create", "--query", "收益", "--format", "jsonl", "--out", out)
	if code != 2 || !strings.Contains(errs, "not empty") {
		t.Errorf("export into a finished production: exit %d\n%s", code, errs)
	}
	if n := exportCount(t, dir); n != before {
		t.Errorf("bad scopes journaled %d exports", n-before)
	}
	// An empty result is an empty, valid production.
	empty := filepath.Join(t.TempDir(), "empty")
	cliJSON(t, &v, "--dir", dir, "export", "create", "--query", "不存在的词组zzz", "--format", "jsonl,dat", "--out", empty, "--json")
	if v.Messages != 0 || v.State != "finished" {
		t.Fatalf("empty export: %+v", v)
	}
	if vo, _, code := runCLI(t, "verify-export", empty, "--public-key", key); code != 0 {
		t.Fatalf("verify-export of the empty production: exit %d\n%s", code, vo)
	}
}

// checkRSMF validates every RSMF manifest of a production against the
// RSMF 2.0 schema and checks that the zip holds what the manifest names.
func checkRSMF(t *testing.T, out string) {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("../../export/rsmf/testdata/relativity/rsmf_schema_2_0_0.json")
	if err != nil {
		t.Fatalf("RSMF schema: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "VOL*", "RSMF", "*.rsmf"))
	if len(files) == 0 {
		t.Fatal("no RSMF files")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		zb := attachment(t, raw, "rsmf.zip")
		zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
		if err != nil {
			t.Fatalf("%s: rsmf.zip: %v", f, err)
		}
		names := map[string]bool{}
		var manifest []byte
		for _, zf := range zr.File {
			names[zf.Name] = true
			if zf.Name == "rsmf_manifest.json" {
				rc, _ := zf.Open()
				manifest, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(manifest))
		if err != nil {
			t.Fatalf("%s: manifest: %v", f, err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("%s: the manifest is not valid RSMF 2.0: %v", f, err)
		}
		var m struct {
			Events []struct {
				Attachments []struct{ ID string } `json:"attachments"`
			} `json:"events"`
		}
		json.Unmarshal(manifest, &m)
		for _, e := range m.Events {
			for _, a := range e.Attachments {
				if !names[a.ID] {
					t.Errorf("%s: attachment %s is not in rsmf.zip", f, a.ID)
				}
			}
		}
	}
}

// attachment is the named attachment of a MIME message, parsed with
// go-message.
func attachment(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			if fn, _ := h.Filename(); fn == name {
				b, _ := io.ReadAll(p.Body)
				return b
			}
		}
	}
	t.Fatalf("no attachment %s", name)
	return nil
}

// checkEML parses every EML file with go-message: each is a valid MIME
// message, and the text parts hold the Chinese the messages hold.
func checkEML(t *testing.T, out string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(out, "VOL*", "EML", "*.eml"))
	var text strings.Builder
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		e, err := message.Read(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := e.Walk(func(_ []int, p *message.Entity, err error) error {
			if err != nil {
				return err
			}
			if ct, _, _ := p.Header.ContentType(); ct == "text/plain" {
				b, err := io.ReadAll(p.Body)
				text.Write(b)
				return err
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if !strings.Contains(text.String(), "收益") {
		t.Errorf("the EML text parts of %d files do not hold 收益", len(files))
	}
}

func checkPDF(t *testing.T, out string) {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext is missing: .ci/run installs poppler-utils")
		}
		t.Log("pdftotext not installed: PDF text not checked")
		return
	}
	files, _ := filepath.Glob(filepath.Join(out, "VOL*", "PDF", "*.pdf"))
	all := ""
	for _, f := range files {
		b, err := exec.Command("pdftotext", f, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext %s: %v", f, err)
		}
		all += string(b)
	}
	for _, want := range []string{"收益", "WXA-P0000001", "会话记录"} {
		if !strings.Contains(all, want) {
			t.Errorf("the PDF transcripts' text has no %q", want)
		}
	}
}

// TestCLIExportKillResume: a production killed with SIGKILL while it
// writes, then resumed, is byte for byte the production an uninterrupted
// run of the same job writes.
func TestCLIExportKillResume(t *testing.T) {
	t.Parallel()
	dir := cliArchiveDir(t)
	mustCLI(t, "--dir", dir, "init")
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	emp := []string{"zhangwei", "lina", "wangfang", "liuyang"}
	for i := 0; i < n; i++ {
		from, to := emp[i%len(emp)], fmt.Sprintf("wmExt%04d", i%500)
		if i%2 == 1 {
			from, to = to, from
		}
		fmt.Fprintf(w, `{"msgid":"k%07d","action":"send","from":%q,"tolist":[%q],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"第%d条 关于收益的消息 message %d"}}`+"\n",
			i, from, to, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()+int64(i)*60_000, i, i)
	}
	w.Flush()
	f.Close()
	mustCLI(t, "--dir", dir, "ingest", "wecom-archive", in)

	a := filepath.Join(t.TempDir(), "a")
	mustCLI(t, "--dir", dir, "export", "create", "--from", "2026-01-01", "--format", "jsonl,dat,html", "--out", a, "--create-only")
	b := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(b, os.DirFS(a)); err != nil {
		t.Fatal(err)
	}
	// Kill the first run once it has written some conversation-days.
	cmd := exec.Command(binary, "--dir", dir, "export", "resume", a)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	progress := filepath.Join(a, export.StateDir, "progress.jsonl")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, _ := os.ReadFile(progress); bytes.Count(b, []byte("\n")) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the export wrote nothing in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(a, export.ManifestName)); err == nil {
		t.Fatal("the export finished before it was killed; nothing was resumed")
	}
	mustCLI(t, "--dir", dir, "export", "resume", a)
	mustCLI(t, "--dir", dir, "export", "resume", b)
	fa, fb := treeFiles(t, a), treeFiles(t, b)
	if len(fa) != len(fb) {
		t.Fatalf("%d files after resuming, %d uninterrupted", len(fa), len(fb))
	}
	for name, ha := range fa {
		if name == export.ManifestProofName {
			continue // the checkpoint it proves in is the latest: later for the second run
		}
		if fb[name] != ha {
			t.Errorf("%s differs between the resumed and the uninterrupted production", name)
		}
	}
	if vo, _, code := runCLI(t, "verify-export", a); code != 0 {
		t.Fatalf("verify-export of the resumed production: exit %d\n%s", code, vo)
	}
}

// treeFiles maps every file under dir to its bytes (as a string).
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCLIExportOffline: with the primary unavailable, a production is
// made from a replica restored without its key (it cannot journal): it
// verifies, saying it is offline; a plain export there is refused
// pointing to --offline; once recorded on the primary it verifies as a
// journaled production with the primary's key, and a copy of it from
// another history is refused.
func TestCLIExportOffline(t *testing.T) {
	t.Parallel()
	dir, key := exportArchive(t, 400)
	rep := "file:" + filepath.Join(t.TempDir(), "replica")
	mustCLI(t, "--dir", dir, "replicate", "--to", rep)
	ro := filepath.Join(t.TempDir(), "restored")
	mustCLI(t, "restore", "--from", rep, "--dir", ro)

	out := filepath.Join(t.TempDir(), "prod")
	if _, errs, code := runCLI(t, "--dir", ro, "export", "create", "--query", "收益", "--format", "jsonl", "--out", out); code != 2 || !strings.Contains(errs, "--offline") {
		t.Fatalf("export from a copy without its key: exit %d, want 2 pointing to --offline\n%s", code, errs)
	}
	before := exportCount(t, dir)
	var v struct{ ID, State string }
	cliJSON(t, &v, "--dir", ro, "export", "create", "--offline", "--query", "收益", "--format", "jsonl,dat", "--out", out, "--json")
	if !strings.HasPrefix(v.ID, "offline-") || v.State != "finished offline" {
		t.Fatalf("offline export: %+v", v)
	}
	vo, _, code := runCLI(t, "verify-export", out, "--public-key", key)
	if code != 0 || !strings.Contains(vo, "made offline") {
		t.Fatalf("verify-export of the offline production: exit %d\n%s", code, vo)
	}
	cp := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(cp, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "--dir", dir, "export", "record", out)
	if n := exportCount(t, dir); n != before+1 {
		t.Errorf("record journaled %d exports, want 1", n-before)
	}
	vo, _, code = runCLI(t, "verify-export", out, "--public-key", key)
	if code != 0 || strings.Contains(vo, "made offline") {
		t.Fatalf("verify-export of the recorded production: exit %d\n%s", code, vo)
	}
	// Recording it again (from its copy) journals nothing new.
	mustCLI(t, "--dir", dir, "export", "record", cp)
	if n := exportCount(t, dir); n != before+1 {
		t.Errorf("a second record journaled again: %d exports", n-before)
	}
	// Another archive cannot record it: its key does not sign the
	// production's checkpoint.
	other, _ := exportArchive(t, 50)
	if _, errs, code := runCLI(t, "--dir", other, "export", "record", cp); code != 2 {
		t.Errorf("record on another archive: exit %d\n%s", code, errs)
	}
}
