package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
	"github.com/wxarchive/wxarchive/export/exporttest"
)

// needTool finds a poppler binary: absent, the test skips on a developer
// machine but fails under CI, where it must run.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found; CI must install poppler-utils", name)
		}
		t.Skipf("%s not found: install poppler-utils (apt-get install -y poppler-utils) to run this test", name)
	}
	return p
}

// needFont skips (or fails under CI) when no CJK font is installed.
func needFont(t testing.TB) {
	t.Helper()
	if _, err := findFont(""); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// artifacts is where the rendered PDFs and PNGs are kept for a human.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WXARCHIVE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "transcript", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(needTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// writePDFs writes every unit, numbering pages across them like the
// runner does, into dir; it returns the file paths and page counts.
func writePDFs(t *testing.T, p *PDF, units []*export.Unit, dir string) ([]string, []int) {
	t.Helper()
	sink := newMemSink()
	next := 1
	var paths []string
	var pages []int
	for _, u := range units {
		n, err := p.WriteUnit(context.Background(), u, sink, next)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, u.Name+".pdf")
		if err := os.WriteFile(path, sink.Files[u.Name+".pdf"], 0o644); err != nil {
			t.Fatal(err)
		}
		paths, pages = append(paths, path), append(pages, n)
		next += n
	}
	return paths, pages
}

var pagesRE = regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`)

func TestPDFSample(t *testing.T) {
	needFont(t)
	needTool(t, "pdftotext")
	dir := artifacts(t)
	s := exporttest.Units("WXA")
	paths, pages := writePDFs(t, &PDF{}, s.Units, dir)
	next := 1
	var all strings.Builder
	for i, path := range paths {
		text := run(t, "pdftotext", "-enc", "UTF-8", path, "-")
		all.WriteString(text)
		if got := strings.Count(text, "\f"); got != pages[i] {
			t.Errorf("%s: WriteUnit said %d pages, pdftotext found %d", path, pages[i], got)
		}
		m := pagesRE.FindStringSubmatch(run(t, "pdfinfo", path))
		if m == nil || m[1] != strconv.Itoa(pages[i]) {
			t.Errorf("%s: pdfinfo pages %v, want %d", path, m, pages[i])
		}
		for k, pg := range strings.Split(strings.TrimSuffix(text, "\f"), "\f") {
			want := export.PageNumber("WXA", next+k)
			if !strings.Contains(pg, want) {
				t.Errorf("%s page %d lacks its Bates number %s", path, k+1, want)
			}
			if w := fmt.Sprintf("Page %d of %d", k+1, pages[i]); !strings.Contains(pg, w) {
				t.Errorf("%s page %d lacks %q", path, k+1, w)
			}
		}
		next += pages[i]
	}
	text := all.String()
	// A line wrapped at a space reads back as a line break; one wrapped
	// between CJK characters as a break with nothing between.
	text = text + "\n" + strings.ReplaceAll(text, "\n", " ") + "\n" + strings.ReplaceAll(text, "\n", "")
	for _, want := range []string{"保证收益", "产品合同.pdf", "张伟", "财富管理部", "财富管理VIP群", "王先生 (客户)",
		"内部消息：明天公告重组，先买入", "Recalled by serial 36 (WXA0000012)", "recalled the message serial 33 (WXA0000011)",
		"version 2, conflicts with serial 3 (WXA0000001)", "agreed to the archiving", "refused the archiving",
		"8% <b>not</b> advice & more.", "Time unknown", "source type: hongbao_v9", "media expired at the source",
		s.Units[0].Messages[3].Attachments[0].Blob.String(), "WXA0000001", "WXA0000018"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext output lacks %q", want)
		}
	}
	// Render for a human (and check poppler can rasterize every page).
	for _, path := range paths {
		run(t, "pdftoppm", "-png", "-r", "60", path, strings.TrimSuffix(path, ".pdf"))
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	total := 0
	for _, n := range pages {
		total += n
	}
	if len(pngs) != total {
		t.Errorf("pdftoppm made %d PNGs, want %d", len(pngs), total)
	}
	t.Logf("PDFs and PNGs in %s", dir)
}

func TestPDFDeterministic(t *testing.T) {
	needFont(t)
	p := &PDF{}
	var first [][]byte
	for round := 0; round < 2; round++ {
		s := exporttest.Units("WXA")
		sink := newMemSink()
		for _, u := range s.Units {
			if _, err := p.WriteUnit(context.Background(), u, sink, 7); err != nil {
				t.Fatal(err)
			}
		}
		// A fresh value (font loaded again) must give the same bytes too.
		p = &PDF{}
		for i, name := range sink.Names() {
			if round == 0 {
				first = append(first, sink.Files[name])
			} else if !bytes.Equal(first[i], sink.Files[name]) {
				t.Errorf("%s: two writes differ", name)
			}
		}
	}
}

// TestPDFWellFormed: poppler reads every sample PDF without a complaint
// (a cross-reference table off by a byte, a stream's wrong Length, a bad
// font program are all reported on stderr while the text still reads).
func TestPDFWellFormed(t *testing.T) {
	needFont(t)
	needTool(t, "pdfinfo")
	dir := t.TempDir()
	s := exporttest.Units("WXA")
	paths, _ := writePDFs(t, &PDF{}, s.Units, dir)
	for _, path := range paths {
		for _, cmd := range [][]string{{"pdfinfo", path}, {"pdffonts", path}, {"pdftotext", path, "-"}, {"pdftoppm", "-r", "30", path, filepath.Join(dir, "page")}} {
			var stderr bytes.Buffer
			c := exec.Command(needTool(t, cmd[0]), cmd[1:]...)
			c.Stderr = &stderr
			if err := c.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("%v: %v\n%s", cmd, err, stderr.String())
			}
		}
		data, _ := os.ReadFile(path)
		// Every object the cross-reference table lists is where it says.
		m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: no startxref at the end", path)
		}
		at, _ := strconv.Atoi(string(m[1]))
		lines := strings.Split(string(data[at:]), "\n")
		n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
		for i := 1; i < n; i++ {
			f := strings.Fields(lines[2+i])
			if f[2] != "n" {
				t.Errorf("%s: object %d is free", path, i)
				continue
			}
			off, _ := strconv.Atoi(f[0])
			if want := fmt.Sprintf("%d 0 obj\n", i); !bytes.HasPrefix(data[off:], []byte(want)) {
				t.Errorf("%s: object %d not at %d", path, i, off)
			}
		}
	}
}

// TestPDFImageCache: a unit's PDF is the same whether its images were
// decoded for it or found in the process-wide cache.
func TestPDFImageCache(t *testing.T) {
	needFont(t)
	u := exporttest.Units("WXA").Units[0]
	render := func() []byte {
		sink := newMemSink()
		if _, err := (&PDF{}).WriteUnit(context.Background(), u, sink, 1); err != nil {
			t.Fatal(err)
		}
		return sink.Files[u.Name+".pdf"]
	}
	images = &imageCache{byKey: map[string]*pdfImage{}}
	miss := render()
	if len(images.byKey) == 0 {
		t.Fatal("the sample's image was not cached")
	}
	if hit := render(); !bytes.Equal(miss, hit) {
		t.Error("a cached image gives other bytes")
	}
}

// withText is the sample's direct unit with its first message's text
// replaced.
func withText(text string) *export.Unit {
	u := exporttest.Units("WXA").Units[1]
	u.Messages[0].Message.Text = text
	return u
}

func TestPDFUnsupportedCharacter(t *testing.T) {
	needFont(t)
	f, _ := findFont("")
	cases := []rune{0x1F600} // an emoji: outside the BMP, never drawable
	if !f.has(0xE000) {
		cases = append(cases, 0xE000) // private use
	}
	for _, r := range cases {
		u := withText("before " + string(r) + " after")
		_, err := (&PDF{}).WriteUnit(context.Background(), u, newMemSink(), 1)
		code := fmt.Sprintf("U+%04X", r)
		if err == nil || !strings.Contains(err.Error(), code) || !strings.Contains(err.Error(), u.Messages[0].ProductionNumber) {
			t.Errorf("%s: err %v, want one naming %s and %s", code, err, code, u.Messages[0].ProductionNumber)
		}
		// With Fallback the marker is printed, and the page says so.
		dir := artifacts(t)
		paths, _ := writePDFs(t, &PDF{Fallback: true}, []*export.Unit{withText("before " + string(r) + " after")}, dir)
		if _, err := exec.LookPath("pdftotext"); err != nil && os.Getenv("CI") == "" {
			continue
		}
		text := run(t, "pdftotext", "-enc", "UTF-8", paths[0], "-")
		if !strings.Contains(text, "before ["+code+"] after") {
			t.Errorf("%s: marker not in text:\n%s", code, text)
		}
		if !strings.Contains(text, "[U+XXXX] markers") {
			t.Errorf("%s: page not marked", code)
		}
	}
	// An unsupported character in the header is named too.
	u := exporttest.Units("WXA").Units[1]
	u.Title = "群 😀"
	if _, err := (&PDF{}).WriteUnit(context.Background(), u, newMemSink(), 1); err == nil || !strings.Contains(err.Error(), "U+1F600") || !strings.Contains(err.Error(), "header") {
		t.Errorf("title: err %v", err)
	}
}

// TestPDFLongAndBroken: a message longer than a page continues on the
// next pages, and an image that cannot be decoded is listed instead.
func TestPDFLongAndBroken(t *testing.T) {
	needFont(t)
	needTool(t, "pdftotext")
	u := exporttest.Units("WXA").Units[0]
	var b strings.Builder
	for i := 1; i <= 150; i++ {
		fmt.Fprintf(&b, "第%d行 line %d 合规审查记录\n", i, i)
	}
	u.Messages[0].Message.Text = b.String()
	img := u.Messages[2].Attachments[0]
	junk := []byte("not a png at all")
	img.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(junk)), nil }
	img.Blob = sha256.Sum256(junk)
	dir := artifacts(t)
	paths, pages := writePDFs(t, &PDF{}, []*export.Unit{u}, dir)
	text := run(t, "pdftotext", "-enc", "UTF-8", paths[0], "-")
	if pages[0] < 3 {
		t.Errorf("pages %d, want the long message to span pages", pages[0])
	}
	for _, want := range []string{"第1行 line 1", "第150行 line 150", "Image not rendered"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if got := strings.Count(text, "\f"); got != pages[0] {
		t.Errorf("pages %d, pdftotext %d", pages[0], got)
	}
}

// TestPDFLabelsDrawable: every fixed label is in the font, so no unit
// fails (or prints markers) because of the transcript's own words.
func TestPDFLabelsDrawable(t *testing.T) {
	needFont(t)
	f, _ := findFont("")
	var labels []string
	for _, l := range kindLabels {
		labels = append(labels, l)
	}
	for _, l := range statusLabels {
		labels = append(labels, l)
	}
	labels = append(labels, personKind(archive.ParticipantBot), personKind(archive.ParticipantEmployee), personKind(archive.ParticipantExternal),
		personKind(""), convKind(""), convKind(archive.ConversationGroup), convKind(archive.ConversationDirect),
		"第 1 页，共 2 页 · Page 1 of 2", "本页含字体无法显示的字符，以 [U+XXXX] 标示 · This page shows characters the font cannot draw as [U+XXXX] markers",
		"→ – — · ：（）", "左栏：时间、生产编号、发送人（当时的姓名、编号、部门） 绿底 灰底 紫灰 红框划线 已撤回 撤回记录 序号 版本 冲突 时间未知 来源未提供有效时间，所示为采集时间 于 同意会话内容存档 拒绝会话内容存档 撤回了消息 撤回了一条未存档的消息 来源编号 切换了企业 记录缺失 图片无法显示 附件 未附文件 续 参与者 姓名 编号 部门 类型 会话记录 会话编号 会话类型 日期 时区 分段 集合 保管人 生产编号 未命名 状态未知 状态")
	for _, l := range labels {
		for _, r := range l {
			if r != ' ' && !f.has(r) {
				t.Errorf("label %q: %s has no glyph for U+%04X %q", l, f.path, r, r)
			}
		}
	}
}

func TestPDFFontErrors(t *testing.T) {
	saved := FontPaths
	defer func() { FontPaths = saved }()
	FontPaths = []string{filepath.Join(t.TempDir(), "none.ttc")}
	_, err := (&PDF{}).WriteUnit(context.Background(), exporttest.Units("WXA").Units[1], newMemSink(), 1)
	if err == nil || !strings.Contains(err.Error(), FontPackage) {
		t.Errorf("no font: err %v, want one naming %s", err, FontPackage)
	}
	bad := filepath.Join(t.TempDir(), "bad.ttf")
	os.WriteFile(bad, []byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x05"), 0o644)
	if _, err := (&PDF{Font: bad}).WriteUnit(context.Background(), exporttest.Units("WXA").Units[1], newMemSink(), 1); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad font: err %v", err)
	}
	// A font named by the caller is used (a collection: face 0).
	if _, err := os.Stat(microhei); err == nil {
		p := &PDF{Font: microhei}
		if _, err := p.WriteUnit(context.Background(), exporttest.Units("WXA").Units[1], newMemSink(), 1); err != nil || p.font.path != microhei {
			t.Errorf("Font %s: %v", microhei, err)
		}
	}
	// A Latin-only font is refused: it would print no Chinese.
	if _, err := os.Stat("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"); err == nil {
		if _, err := loadFont("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"); err == nil || !strings.Contains(err.Error(), "中") {
			t.Errorf("latin font: err %v", err)
		}
	}
}

// benchUnit is a synthetic conversation-day of n short Chinese messages
// between an employee and a client.
func benchUnit(n int) *export.Unit {
	u := &export.Unit{Conversation: "wrBench", ConversationKind: archive.ConversationGroup, Title: "性能测试群",
		Day: "2026-03-02", Slice: 1, Slices: 1, Name: "2026-03-02_wrBench", Participants: []export.Person{exporttest.Zhang, exporttest.Client},
		Location: exporttest.Location, Producer: "wxarchive bench", Prefix: "BEN"}
	texts := []string{"王先生您好，今天的净值已经更新，请查收。", "好的，谢谢。收益怎么样？", "本周收益率约为百分之一点二，波动在正常范围内。", "明白，下周再聊。"}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, exporttest.Location)
	for i := 0; i < n; i++ {
		sender := exporttest.Zhang
		if i%2 == 1 {
			sender = exporttest.Client
		}
		m := &archive.Message{Kind: archive.KindText, SourceType: "text", SentAt: archive.At(start.Add(time.Duration(i) * 20 * time.Second)),
			Text: texts[i%len(texts)]}
		u.Messages = append(u.Messages, &export.Message{Serial: uint64(i + 1), ProductionNumber: export.MessageNumber("BEN", i+1),
			Version: 1, Message: m, Sender: sender})
	}
	return u
}

func BenchmarkPDFPages(b *testing.B) {
	needFont(b)
	u := benchUnit(2000)
	p := &PDF{}
	if _, err := p.loaded(); err != nil {
		b.Fatal(err)
	}
	pages := 0
	b.ResetTimer()
	for b.Loop() {
		n, err := p.WriteUnit(context.Background(), u, discard{}, 1)
		if err != nil {
			b.Fatal(err)
		}
		pages += n
	}
	b.ReportMetric(float64(pages)/b.Elapsed().Seconds(), "pages/s")
}

type discard struct{}

func (discard) Create(string) (io.WriteCloser, error) { return nopWC{io.Discard}, nil }

type nopWC struct{ io.Writer }

func (nopWC) Close() error { return nil }

// BenchmarkPDFSmallUnits: the common case, a conversation-day of a few
// dozen messages (one or two pages), where per-document costs dominate.
func BenchmarkPDFSmallUnits(b *testing.B) {
	needFont(b)
	u := benchUnit(30)
	p := &PDF{}
	if _, err := p.loaded(); err != nil {
		b.Fatal(err)
	}
	pages := 0
	b.ResetTimer()
	for b.Loop() {
		n, err := p.WriteUnit(context.Background(), u, discard{}, 1)
		if err != nil {
			b.Fatal(err)
		}
		pages += n
	}
	b.ReportMetric(float64(pages)/b.Elapsed().Seconds(), "pages/s")
}

// TestPDFImages: each kind of image embeds as a valid image XObject — a
// YCbCr or greyscale JPEG as it is (DCTDecode), a large one scaled down
// and re-encoded, PNG and GIF as Flate-compressed RGB with the alpha as
// a soft mask when there is one — and poppler draws it without a
// complaint.
func TestPDFImages(t *testing.T) {
	needFont(t)
	needTool(t, "pdfimages")
	rgbaImg := func(w, h int, alpha uint8) *image.NRGBA {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, alpha})
			}
		}
		return m
	}
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	gray := image.NewGray(image.Rect(0, 0, 30, 20))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 20, 20), color.Palette{color.Transparent, color.RGBA{255, 0, 0, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 2)
	}
	cases := []struct {
		name       string
		data       []byte
		enc, color string // pdfimages -list columns
		w, h       string
		smask      bool
	}{
		{"jpeg", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, rgbaImg(40, 30, 255), nil) }), "jpeg", "rgb", "40", "30", false},
		{"gray jpeg", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, gray, nil) }), "jpeg", "gray", "30", "20", false},
		{"large jpeg", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, rgbaImg(1600, 1000, 255), nil) }), "jpeg", "rgb", "1200", "750", false},
		{"png", enc(func(b *bytes.Buffer) error { return png.Encode(b, rgbaImg(16, 8, 255)) }), "image", "rgb", "16", "8", false},
		{"png alpha", enc(func(b *bytes.Buffer) error { return png.Encode(b, rgbaImg(16, 8, 100)) }), "image", "rgb", "16", "8", true},
		{"gif", enc(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }), "image", "rgb", "20", "20", true},
	}
	for _, c := range cases {
		u := exporttest.Units("WXA").Units[0]
		img := u.Messages[2].Attachments[0]
		img.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c.data)), nil }
		img.Blob = sha256.Sum256(c.data)
		paths, _ := writePDFs(t, &PDF{}, []*export.Unit{u}, t.TempDir())
		list := run(t, "pdfimages", "-list", paths[0])
		var rows [][]string
		for _, line := range strings.Split(list, "\n")[2:] {
			if f := strings.Fields(line); len(f) > 9 {
				rows = append(rows, f)
			}
		}
		// page num type width height color comp bpc enc …
		if len(rows) == 0 || rows[0][2] != "image" || rows[0][3] != c.w || rows[0][4] != c.h || rows[0][5] != c.color || rows[0][8] != c.enc {
			t.Errorf("%s: pdfimages:\n%s", c.name, list)
		}
		if got := len(rows) == 2 && rows[1][2] == "smask"; got != c.smask {
			t.Errorf("%s: soft mask %v, want %v:\n%s", c.name, got, c.smask, list)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(needTool(t, "pdftoppm"), "-r", "30", paths[0], filepath.Join(t.TempDir(), "p"))
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: pdftoppm: %v %s", c.name, err, stderr.String())
		}
	}
}
