package demo

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const fixturePath = "../capture/wecom/msgaudit/testdata/all-types.jsonl"

type run struct {
	lines [][]byte
	media map[string][]byte
	// mediaAt[id] is the number of lines emitted before the file arrived.
	mediaAt map[string]int
	order   []string // media ids in emission order
	sum     Summary
	seed    int64

	decodeOnce sync.Once
	msgs       []map[string]any
}

// decoded returns every line parsed, parsing once per run.
func (r *run) decoded(t *testing.T) []map[string]any {
	r.decodeOnce.Do(func() {
		r.msgs = make([]map[string]any, len(r.lines))
		for i, l := range r.lines {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Errorf("line %d is not JSON: %v: %s", i, err, l)
			}
			r.msgs[i] = m
		}
	})
	if len(r.msgs) != len(r.lines) {
		t.Fatal("lines not decoded")
	}
	return r.msgs
}

func generate(t testing.TB, cfg Config) *run {
	t.Helper()
	r := &run{media: map[string][]byte{}, mediaAt: map[string]int{}}
	sum, err := Generate(cfg, func(b []byte) error {
		r.lines = append(r.lines, bytes.Clone(b))
		return nil
	}, func(id string, data []byte) error {
		if _, dup := r.media[id]; dup {
			return fmt.Errorf("media %s emitted twice", id)
		}
		r.media[id] = bytes.Clone(data)
		r.mediaAt[id] = len(r.lines)
		r.order = append(r.order, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sum = sum
	return r
}

var (
	defaultOnce sync.Once
	defaultRun  *run
)

// defaultGen is the default configuration's output, shared by the tests that
// only read it.
// DEMO_TEST_SEED runs the same checks on another seed.
func defaultGen(t *testing.T) *run {
	defaultOnce.Do(func() {
		seed := int64(1)
		if s := os.Getenv("DEMO_TEST_SEED"); s != "" {
			fmt.Sscan(s, &seed)
		}
		defaultRun = generate(t, Config{Seed: seed})
		defaultRun.seed = seed
	})
	if defaultRun == nil {
		t.Fatal("default generation failed")
	}
	return defaultRun
}

func decode(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	return m
}

// kind returns the msgtype, or "switch" for the switch event that has none.
func kind(m map[string]any) string {
	if m["action"] == "switch" {
		return "switch"
	}
	s, _ := m["msgtype"].(string)
	return s
}

func lineTime(m map[string]any) int64 {
	if v, ok := m["msgtime"].(float64); ok {
		return int64(v)
	}
	v, _ := m["time"].(float64)
	return int64(v)
}

func hashRun(t *testing.T, cfg Config) string {
	h := sha256.New()
	_, err := Generate(cfg, func(b []byte) error {
		h.Write(b)
		h.Write([]byte{'\n'})
		return nil
	}, func(id string, data []byte) error {
		fmt.Fprintf(h, "media %s %d\n", id, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	a := hashRun(t, Config{Seed: 42})
	b := hashRun(t, Config{Seed: 42})
	if a != b {
		t.Fatalf("same seed, different output: %s vs %s", a, b)
	}
	if c := hashRun(t, Config{Seed: 43}); c == a {
		t.Fatal("different seeds gave identical output")
	}
	e1, c1 := Directory(7)
	e2, c2 := Directory(7)
	if !slices.Equal(e1, e2) || !slices.Equal(c1, c2) {
		t.Fatal("Directory is not deterministic")
	}
}

func TestCounts(t *testing.T) {
	r := defaultGen(t)
	if len(r.lines) < 20000 || r.sum.Messages != len(r.lines) {
		t.Fatalf("lines = %d, summary says %d; want ≥ 20000", len(r.lines), r.sum.Messages)
	}
	depts := map[string]int{}
	for _, e := range r.sum.Employees {
		depts[e.Department]++
	}
	if len(r.sum.Employees) < 40 || len(depts) != 3 {
		t.Fatalf("%d employees in departments %v; want ≥ 40 in exactly 3", len(r.sum.Employees), depts)
	}
	if len(r.sum.Clients) < 150 {
		t.Fatalf("%d clients, want ≥ 150", len(r.sum.Clients))
	}

	counts := map[string]int{}
	for _, m := range r.decoded(t) {
		counts[kind(m)]++
	}
	for k, n := range counts {
		if r.sum.ByType[k] != n {
			t.Errorf("Summary.ByType[%s] = %d, lines have %d", k, r.sum.ByType[k], n)
		}
	}
	for _, fk := range fixtureKinds(t) {
		if counts[fk] < 3 {
			t.Errorf("msgtype %s appears %d times, want ≥ 3", fk, counts[fk])
		}
	}
	if rate := float64(counts["revoke"]) / float64(len(r.lines)); rate < 0.003 || rate > 0.012 {
		t.Errorf("recall rate %.4f, want about 0.5%%", rate)
	}
}

type fixtureLine struct {
	top     []string // top-level keys
	content []string // keys of the content object
	key     string   // content key
}

// fixtureShapes returns, per kind, the key sets of the fixture's line.
func fixtureShapes(t *testing.T) map[string]fixtureLine {
	t.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fixtureLine{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		k := kind(m)
		out[k] = shapeOf(m)
	}
	return out
}

func shapeOf(m map[string]any) fixtureLine {
	var fl fixtureLine
	for k := range m {
		fl.top = append(fl.top, k)
	}
	slices.Sort(fl.top)
	for _, key := range []string{kind(m), "doc", "info", "redpacket"} {
		if c, ok := m[key].(map[string]any); ok {
			fl.key = key
			for ck := range c {
				fl.content = append(fl.content, ck)
			}
			slices.Sort(fl.content)
			break
		}
	}
	return fl
}

func fixtureKinds(t *testing.T) []string {
	var ks []string
	for k := range fixtureShapes(t) {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	if len(ks) < 25 {
		t.Fatalf("fixture has only %d kinds", len(ks))
	}
	return ks
}

// TestShapes: every generated line has exactly the fixture's keys for its
// kind, so a decoder written against the fixture reads the demo archive.
func TestShapes(t *testing.T) {
	r := defaultGen(t)
	want := fixtureShapes(t)
	bad := map[string]int{}
	for i, m := range r.decoded(t) {
		k := kind(m)
		w, ok := want[k]
		if !ok {
			t.Fatalf("kind %q not in the fixture: %s", k, r.lines[i])
		}
		got := shapeOf(m)
		if !slices.Equal(got.top, w.top) || got.key != w.key || !slices.Equal(got.content, w.content) {
			if bad[k]++; bad[k] == 1 {
				t.Errorf("%s: keys %v %s%v, fixture %v %s%v", k, got.top, got.key, got.content, w.top, w.key, w.content)
			}
		}
		// Items of chatrecord and mixed carry JSON strings.
		for _, key := range []string{"chatrecord", "mixed"} {
			if c, ok := m[key].(map[string]any); ok {
				for _, it := range c["item"].([]any) {
					s, ok := it.(map[string]any)["content"].(string)
					var inner map[string]any
					if !ok || json.Unmarshal([]byte(s), &inner) != nil {
						t.Errorf("%s item content is not a JSON string: %v", key, it)
					}
				}
			}
		}
		if k == "collect" {
			ct := m["collect"].(map[string]any)["create_time"].(string)
			if _, err := time.Parse(time.DateTime, ct); err != nil {
				t.Errorf("collect.create_time %q: %v", ct, err)
			}
		}
	}
}

func TestOrderRevokeAndIDs(t *testing.T) {
	r := defaultGen(t)
	type sent struct {
		from string
		at   int64
	}
	seen := map[string]sent{}
	var last int64
	external, updown := 0, 0
	for i, l := range r.lines {
		if !utf8.Valid(l) {
			t.Fatalf("line %d is not UTF-8", i)
		}
		m := r.decoded(t)[i]
		ts := lineTime(m)
		if ts <= last {
			t.Fatalf("line %d: time %d not after %d", i, ts, last)
		}
		last = ts
		id := m["msgid"].(string)
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate msgid %s", id)
		}
		switch {
		case strings.HasSuffix(id, "_external"):
			external++
		case strings.HasSuffix(id, "_updown_stream"):
			updown++
		}
		from, _ := m["from"].(string)
		if kind(m) == "revoke" {
			if m["action"] != "recall" {
				t.Errorf("revoke with action %v", m["action"])
			}
			pre := m["revoke"].(map[string]any)["pre_msgid"].(string)
			orig, ok := seen[pre]
			switch {
			case !ok:
				t.Errorf("revoke %s refers to %s, not an earlier message", id, pre)
			case orig.from != from:
				t.Errorf("revoke %s by %s recalls a message by %s", id, from, orig.from)
			case ts-orig.at > 2*60*1000:
				t.Errorf("revoke %s comes %d ms after its message", id, ts-orig.at)
			}
		}
		seen[id] = sent{from, ts}
	}
	if external == 0 || updown == 0 {
		t.Errorf("msgid suffixes: %d _external, %d _updown_stream; want some of each", external, updown)
	}
	// Business hours dominate.
	var work int
	for _, m := range r.decoded(t) {
		h := time.UnixMilli(lineTime(m)).In(cst).Hour()
		if h >= 8 && h < 19 {
			work++
		}
	}
	if f := float64(work) / float64(len(r.lines)); f < 0.7 || f > 0.97 {
		t.Errorf("%.2f of messages in business hours", f)
	}
	first, lastDay := r.sum.First, r.sum.Last
	if got := lastDay.Format(time.DateOnly); got != "2026-09-30" {
		t.Errorf("last message on %s, want the End day", got)
	}
	if days := lastDay.Sub(first).Hours() / 24; days < 85 || days > 90 {
		t.Errorf("messages span %.1f days, want ~90", days)
	}
}

var sdkIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

type mediaRef struct {
	id       string
	md5      string
	size     int64
	kind     string // image, voice, video, file, emotion
	secs     int64
	ext      string
	w, h     int64
	lineIdx  int
	viaInner bool
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

func str(v any) string { s, _ := v.(string); return s }

func refs(t *testing.T, r *run) []mediaRef {
	var out []mediaRef
	for i, m := range r.decoded(t) {
		k := kind(m)
		c, _ := m[k].(map[string]any)
		switch k {
		case "image":
			out = append(out, mediaRef{id: str(c["sdkfileid"]), md5: str(c["md5sum"]), size: num(c["filesize"]), kind: k, lineIdx: i})
		case "voice":
			out = append(out, mediaRef{id: str(c["sdkfileid"]), md5: str(c["md5sum"]), size: num(c["voice_size"]), kind: k, secs: num(c["play_length"]), lineIdx: i})
		case "video":
			out = append(out, mediaRef{id: str(c["sdkfileid"]), md5: str(c["md5sum"]), size: num(c["filesize"]), kind: k, secs: num(c["play_length"]), lineIdx: i})
		case "file", "voip_doc_share":
			fn := str(c["filename"])
			ext := str(c["fileext"])
			if ext == "" {
				ext = fn[strings.LastIndexByte(fn, '.')+1:]
			}
			out = append(out, mediaRef{id: str(c["sdkfileid"]), md5: str(c["md5sum"]), size: num(c["filesize"]), kind: "file", ext: ext, lineIdx: i})
		case "emotion":
			out = append(out, mediaRef{id: str(c["sdkfileid"]), md5: str(c["md5sum"]), size: num(c["imagesize"]), kind: k, w: num(c["width"]), h: num(c["height"]), secs: num(c["type"]), lineIdx: i})
		case "meeting_voice_call":
			out = append(out, mediaRef{id: str(c["sdkfileid"]), kind: "voice", size: -1, lineIdx: i})
		case "chatrecord", "mixed":
			for _, it := range c["item"].([]any) {
				im := it.(map[string]any)
				var inner map[string]any
				if err := json.Unmarshal([]byte(str(im["content"])), &inner); err != nil {
					t.Fatal(err)
				}
				if id := str(inner["sdkfileid"]); id != "" {
					out = append(out, mediaRef{id: id, md5: str(inner["md5sum"]), size: num(inner["filesize"]), kind: "image", lineIdx: i, viaInner: true})
				}
			}
		}
	}
	return out
}

func TestMedia(t *testing.T) {
	r := defaultGen(t)
	rs := refs(t, r)
	if len(rs) < 500 {
		t.Fatalf("only %d media references", len(rs))
	}
	var total int64
	for _, d := range r.media {
		total += int64(len(d))
	}
	if r.sum.Media != len(r.media) || r.sum.MediaBytes != total {
		t.Errorf("summary media %d/%d bytes, emitted %d/%d", r.sum.Media, r.sum.MediaBytes, len(r.media), total)
	}
	if len(r.media) < 100 || total > 16<<20 {
		t.Errorf("%d distinct media files, %d bytes: want a pool of some hundreds, a few MB", len(r.media), total)
	}
	checked := map[string]bool{}
	for _, ref := range rs {
		data, ok := r.media[ref.id]
		if !ok {
			t.Fatalf("line %d references media %s that was never emitted", ref.lineIdx, ref.id)
		}
		if r.mediaAt[ref.id] > ref.lineIdx {
			t.Fatalf("media %s emitted after line %d that references it", ref.id, ref.lineIdx)
		}
		if !sdkIDRe.MatchString(ref.id) {
			t.Fatalf("sdkfileid %q is not file-name safe", ref.id)
		}
		if ref.size >= 0 {
			sum := md5.Sum(data)
			if got := hex.EncodeToString(sum[:]); got != ref.md5 {
				t.Fatalf("line %d: md5 %s, bytes have %s", ref.lineIdx, ref.md5, got)
			}
			if int64(len(data)) != ref.size {
				t.Fatalf("line %d: size %d, bytes have %d", ref.lineIdx, ref.size, len(data))
			}
		}
		key := ref.kind + ref.id
		if checked[key] {
			continue
		}
		checked[key] = true
		checkMedia(t, ref, data)
	}
	kinds := map[string]bool{}
	for k := range checked {
		for _, p := range []string{"image", "voice", "video", "file", "emotion"} {
			if strings.HasPrefix(k, p) {
				kinds[p] = true
			}
		}
	}
	if len(kinds) != 5 {
		t.Errorf("media kinds seen: %v", kinds)
	}
}

func checkMedia(t *testing.T, ref mediaRef, data []byte) {
	t.Helper()
	ct := http.DetectContentType(data)
	switch ref.kind {
	case "image":
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			t.Fatalf("image %s: %v", ref.id, err)
		}
		if ct != "image/jpeg" {
			t.Fatalf("image sniffed as %s", ct)
		}
	case "voice":
		if !bytes.HasPrefix(data, []byte("#!AMR\n")) || (len(data)-6)%32 != 0 {
			t.Fatalf("voice %s: not AMR-NB 12.2k (%d bytes)", ref.id, len(data))
		}
		frames := (len(data) - 6) / 32
		for f := range frames {
			if data[6+32*f] != 0x3C {
				t.Fatalf("voice %s: frame %d header %#x", ref.id, f, data[6+32*f])
			}
		}
		if ref.secs > 0 && int64(frames) != ref.secs*50 {
			t.Fatalf("voice %s: %d frames for play_length %d s", ref.id, frames, ref.secs)
		}
	case "video":
		if len(data) < 16 || string(data[4:8]) != "ftyp" || string(data[8:12]) != "isom" {
			t.Fatalf("video %s: no ftyp/isom box", ref.id)
		}
		if ct != "video/mp4" {
			t.Fatalf("video sniffed as %s", ct)
		}
		for _, b := range []string{"moov", "mvhd", "avcC", "mdat"} {
			if !bytes.Contains(data, []byte(b)) {
				t.Fatalf("video %s lacks %s", ref.id, b)
			}
		}
	case "emotion":
		var w, h int
		if ref.secs == 1 {
			g, err := gif.DecodeAll(bytes.NewReader(data))
			if err != nil || len(g.Image) < 2 {
				t.Fatalf("emotion gif %s: %v", ref.id, err)
			}
			w, h = g.Config.Width, g.Config.Height
		} else {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("emotion png %s: %v", ref.id, err)
			}
			w, h = img.Bounds().Dx(), img.Bounds().Dy()
		}
		if int64(w) != ref.w || int64(h) != ref.h {
			t.Fatalf("emotion %s is %dx%d, line says %dx%d", ref.id, w, h, ref.w, ref.h)
		}
	case "file":
		switch ref.ext {
		case "pdf":
			if !bytes.HasPrefix(data, []byte("%PDF-1.4")) || !bytes.HasSuffix(bytes.TrimSpace(data), []byte("%%EOF")) || ct != "application/pdf" {
				t.Fatalf("pdf %s: sniffed %s", ref.id, ct)
			}
		case "docx", "xlsx":
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("%s %s: %v", ref.ext, ref.id, err)
			}
			main := map[string]string{"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}[ref.ext]
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if len(names) < 3 || names[0] != "[Content_Types].xml" || !slices.Contains(names, main) {
				t.Fatalf("%s %s parts %v", ref.ext, ref.id, names)
			}
		case "txt", "csv":
			if !utf8.Valid(data) || !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("%s %s: sniffed %s", ref.ext, ref.id, ct)
			}
		default:
			t.Fatalf("unexpected file type %q", ref.ext)
		}
	}
}

// validID is an independent GB 11643 checker: region, birth date, MOD 11-2.
func validID(s string) bool {
	if len(s) != 18 {
		return false
	}
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum += int(s[i]-'0') * w[i]
	}
	if s[0] == '0' || s[0] == '9' {
		return false
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		return false
	}
	return "10X98765432"[(sum%11)] == s[17]
}

func luhn(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

var (
	idRe   = regexp.MustCompile(`\d{17}[\dX]`)
	cardRe = regexp.MustCompile(`\d{4}(?: ?\d{4}){3}(?: ?\d{1,3})?`)
)

func TestPlanted(t *testing.T) {
	r := defaultGen(t)
	texts := map[string]string{}
	recalled := map[string]bool{}
	for _, m := range r.decoded(t) {
		switch kind(m) {
		case "text":
			texts[str(m["msgid"])] = str(m["text"].(map[string]any)["content"])
		case "revoke":
			recalled[str(m["revoke"].(map[string]any)["pre_msgid"])] = true
		}
	}
	cats := map[string]int{}
	employees := map[string]bool{}
	for _, e := range r.sum.Employees {
		employees[e.UserID] = true
	}
	senders := map[string]bool{}
	nRecalled := 0
	for _, p := range r.sum.Planted {
		cats[p.Category]++
		senders[p.From] = true
		if got, ok := texts[p.MsgID]; !ok || got != p.Text {
			t.Errorf("planted %s: line text %q, summary %q", p.MsgID, got, p.Text)
		}
		if p.Recalled != recalled[p.MsgID] {
			t.Errorf("planted %s: Recalled=%v but revoke seen=%v", p.MsgID, p.Recalled, recalled[p.MsgID])
		}
		if p.Recalled {
			nRecalled++
		}
		switch p.Category {
		case CatIDNumber, CatIDNearMiss:
			ids := idRe.FindAllString(p.Text, -1)
			if len(ids) != 1 {
				t.Fatalf("%s: no ID number in %q", p.Category, p.Text)
			}
			if validID(ids[0]) != (p.Category == CatIDNumber) {
				t.Errorf("%s: %s validates=%v", p.Category, ids[0], validID(ids[0]))
			}
			if p.Category == CatIDNearMiss && !validID(ids[0][:17]+string(idCheck(ids[0][:17]))) {
				t.Errorf("near miss %s is wrong in more than its check digit", ids[0])
			}
		case CatCardNumber, CatCardNearMiss:
			cards := cardRe.FindAllString(p.Text, -1)
			if len(cards) != 1 {
				t.Fatalf("%s: no card number in %q", p.Category, p.Text)
			}
			digits := strings.ReplaceAll(cards[0], " ", "")
			if len(digits) < 16 || len(digits) > 19 {
				t.Fatalf("card %q has %d digits", cards[0], len(digits))
			}
			if luhn(digits) != (p.Category == CatCardNumber) {
				t.Errorf("%s: %s passes Luhn=%v", p.Category, digits, luhn(digits))
			}
		}
	}
	for _, s := range plantSpecs {
		if cats[s.cat] == 0 {
			t.Errorf("no planted %s", s.cat)
		}
	}
	for _, c := range []string{"guaranteed-return", "off-channel", "id-number", "card-number", "insider", "gift", "complaint", "delete-records"} {
		if cats[c] == 0 {
			t.Errorf("category %s missing", c)
		}
	}
	if len(r.sum.Planted) < 20 || len(senders) < 10 || nRecalled == 0 {
		t.Errorf("%d planted by %d senders, %d recalled; want them spread and some recalled", len(r.sum.Planted), len(senders), nRecalled)
	}
	// Ordinary messages stay clear of the lexicon so that precision can be
	// measured: the planted phrases appear only in planted messages.
	planted := map[string]bool{}
	for _, p := range r.sum.Planted {
		planted[p.MsgID] = true
	}
	for id, txt := range texts {
		for _, w := range []string{"保本保收益", "稳赚不赔", "私人微信", "删掉聊天记录", "内幕消息", "购物卡", "投诉", "WhatsApp", "還沒公告", "还没公告"} {
			if strings.Contains(txt, w) && !planted[id] {
				t.Errorf("unplanted message %s contains %q: %s", id, w, txt)
			}
		}
	}
}

func TestConsent(t *testing.T) {
	r := defaultGen(t)
	clients := map[string]bool{}
	for _, c := range r.sum.Clients {
		clients[c.ExternalUserID] = true
	}
	agreed := map[string]int64{}
	disagreed := map[string]bool{}
	laterAgreed := 0
	var agrees, disagrees int
	for i, m := range r.decoded(t) {
		k := kind(m)
		from := str(m["from"])
		switch k {
		case "agree", "disagree":
			c := m[k].(map[string]any)
			if str(c["userid"]) != from || !clients[from] || num(c[k+"_time"]) != lineTime(m) {
				t.Errorf("bad consent event %s", r.lines[i])
			}
			if k == "agree" {
				agrees++
				agreed[from] = lineTime(m)
				if disagreed[from] {
					laterAgreed++
				}
			} else {
				disagrees++
				disagreed[from] = true
				delete(agreed, from)
			}
			continue
		}
		// A 1:1 message with a client who refused archiving must not exist.
		if str(m["roomid"]) != "" || k == "switch" {
			continue
		}
		peer := from
		if !clients[peer] {
			tl := m["tolist"].([]any)
			peer = str(tl[0])
		}
		if disagreed[peer] {
			if _, ok := agreed[peer]; !ok {
				t.Errorf("1:1 message with %s after they disagreed: %s", peer, r.lines[i])
			}
		}
	}
	if agrees <= disagrees || disagrees < 3 || laterAgreed == 0 {
		t.Errorf("%d agree, %d disagree, %d agree after disagree; want mostly agree, some of each", agrees, disagrees, laterAgreed)
	}
	if r.sum.Consents != agrees+disagrees {
		t.Errorf("Summary.Consents = %d, lines have %d", r.sum.Consents, agrees+disagrees)
	}
}

func TestDirectory(t *testing.T) {
	r := defaultGen(t)
	emps, clients := Directory(r.seed)
	if !slices.Equal(emps, r.sum.Employees) || !slices.Equal(clients, r.sum.Clients) {
		t.Fatal("Directory(seed) differs from what Generate used")
	}
	ids := map[string]bool{}
	useridRe := regexp.MustCompile(`^[a-z]+[0-9]*$`)
	groups := map[string]bool{}
	for _, e := range emps {
		if ids[e.UserID] || !useridRe.MatchString(e.UserID) || e.Name == "" || e.Title == "" {
			t.Errorf("bad employee %+v", e)
		}
		ids[e.UserID] = true
		groups[e.SupervisoryGroup] = true
	}
	if len(groups) < 4 {
		t.Errorf("supervisory groups %v", groups)
	}
	var hant, en int
	for _, c := range clients {
		if ids[c.ExternalUserID] || !strings.HasPrefix(c.ExternalUserID, "wm") || len(c.ExternalUserID) != 32 || !ids[c.Advisor] {
			t.Errorf("bad client %+v", c)
		}
		ids[c.ExternalUserID] = true
		if c.Traditional {
			hant++
		}
		if c.Lang == "en" {
			en++
		}
	}
	if hant < 10 || en < 3 {
		t.Errorf("%d traditional-Chinese and %d English clients", hant, en)
	}
	for _, rb := range r.sum.Robots {
		if !strings.HasPrefix(rb.RobotID, "wb") {
			t.Errorf("robot id %s", rb.RobotID)
		}
	}
	var internal, external int
	for _, rm := range r.sum.Rooms {
		if !strings.HasPrefix(rm.RoomID, "wr") || len(rm.Members) < 3 {
			t.Errorf("bad room %+v", rm)
		}
		if rm.External {
			external++
		} else {
			internal++
		}
	}
	if internal < 3 || external < 3 {
		t.Errorf("%d internal and %d client groups", internal, external)
	}
}

// TestLanguages checks the mix evaluators see first: Chinese, English,
// traditional characters, full-width forms, emoji and line breaks.
func TestLanguages(t *testing.T) {
	r := defaultGen(t)
	has := map[string]int{}
	checks := map[string]*regexp.Regexp{
		"english":   regexp.MustCompile(`^[A-Za-z][A-Za-z ,.'’?!:;$%&()\-0-9/]{15,}`),
		"mixed":     regexp.MustCompile(`\p{Han}.*[A-Za-z]{2,}|[A-Za-z]{2,}.*\p{Han}`),
		"hant":      regexp.MustCompile(`[們這個時說會來對發過還沒問題錢買賣賬戶開關]`),
		"cantonese": regexp.MustCompile(`[唔嘅咩喺哋啲揸]`),
		"fullwidth": regexp.MustCompile(`[０-９Ａ-Ｚａ-ｚ％]`),
		"emoji":     regexp.MustCompile(`[\x{1F300}-\x{1FAFF}]`),
		"newline":   regexp.MustCompile(`\n`),
	}
	// Short acknowledgements (好的, 收到) repeat in real chats; longer
	// sentences should not come out verbatim over and over.
	long := map[string]int{}
	nLong := 0
	n := 0
	for _, m := range r.decoded(t) {
		if kind(m) != "text" {
			continue
		}
		txt := str(m["text"].(map[string]any)["content"])
		n++
		if utf8.RuneCountInString(txt) >= 10 {
			long[txt]++
			nLong++
		}
		for k, re := range checks {
			if re.MatchString(txt) {
				has[k]++
			}
		}
	}
	for k := range checks {
		if has[k] < 20 {
			t.Errorf("%d texts match %s", has[k], k)
		}
	}
	if float64(len(long)) < 0.6*float64(nLong) {
		t.Errorf("%d distinct longer texts of %d: too repetitive", len(long), nLong)
	}
	for txt, k := range long {
		if float64(k) > 0.005*float64(n) {
			t.Errorf("%q appears %d times in %d texts", txt, k, n)
		}
	}
}

func TestSmallAndCustom(t *testing.T) {
	end := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, cfg := range []Config{{Seed: 5, Messages: 1}, {Seed: 5, Messages: 37, Days: 3}, {Seed: 9, Messages: 3000, Days: 10, End: end, CorpID: "wwtest"}} {
		r := generate(t, cfg)
		if len(r.lines) != cfg.Messages {
			t.Errorf("%+v: %d lines", cfg, len(r.lines))
		}
		if cfg.End.IsZero() {
			continue
		}
		lo := time.Date(2025, 12, 22, 0, 0, 0, 0, cst)
		hi := time.Date(2026, 1, 1, 0, 0, 0, 0, cst)
		for _, l := range r.lines {
			ts := time.UnixMilli(lineTime(decode(t, l)))
			if ts.Before(lo) || !ts.Before(hi) {
				t.Fatalf("%s outside the configured period", ts.In(cst))
			}
		}
	}
	if _, err := Generate(Config{Messages: -1}, nil, nil); err == nil {
		t.Error("negative Messages accepted")
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("disk full")
	n := 0
	_, err := Generate(Config{Seed: 3, Messages: 2000}, func([]byte) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("err=%v after %d lines", err, n)
	}
	m := 0
	_, err = Generate(Config{Seed: 3, Messages: 2000}, nil, func(string, []byte) error {
		m++
		return stop
	})
	if !errors.Is(err, stop) || m != 1 {
		t.Fatalf("media error: err=%v after %d calls", err, m)
	}
}

// TestStreamingMemory: large runs must not keep lines; the live heap stays
// small however many messages stream through.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 300k messages")
	}
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := live()
	var peak uint64
	n := 0
	_, err := Generate(Config{Seed: 11, Messages: 300000}, func([]byte) error {
		if n++; n%60000 == 0 {
			peak = max(peak, live())
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live heap: %d MB before, %d MB peak", base>>20, peak>>20)
	if peak > base && peak-base > 24<<20 {
		t.Errorf("live heap grew by %d MB while streaming", (peak-base)>>20)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{20000, 1000000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			var bytesOut int64
			for b.Loop() {
				_, err := Generate(Config{Seed: 1, Messages: n}, func(l []byte) error {
					bytesOut += int64(len(l))
					return nil
				}, func(string, []byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.SetBytes(bytesOut / int64(b.N))
		})
	}
}

// ExampleGenerate writes a demo archive as `wxarchive ingest wecom-archive
// FILE.jsonl --media DIR` reads it: one JSON line per message, one file per
// sdkfileid.
func ExampleGenerate() {
	dir, _ := os.MkdirTemp("", "demo")
	defer os.RemoveAll(dir)
	f, _ := os.Create(dir + "/messages.jsonl")
	w := bufio.NewWriter(f)
	sum, err := Generate(Config{Seed: 1, Messages: 500},
		func(line []byte) error {
			w.Write(line)
			return w.WriteByte('\n')
		},
		func(sdkfileid string, data []byte) error {
			return os.WriteFile(dir+"/"+sdkfileid, data, 0o644)
		})
	if err == nil {
		err = w.Flush()
	}
	f.Close()
	fmt.Println(sum.Messages, err)
	// Output: 500 <nil>
}
