package transcript

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // image.Decode reads GIF (the first frame)
	"image/jpeg"
	_ "image/png" // image.Decode reads PNG
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/draw"

	"github.com/wxarchive/wxarchive/export"
)

// PDF writes one A4 PDF per unit, <unit.Name>.pdf: the same view as the
// HTML, as a two-column transcript (left: time, production number,
// sender as they were; right: the message in a box shaded by side), with
// images inline and a footer on every page giving "page N of M" and the
// page's production (Bates) number, export.PageNumber(prefix,
// firstPage+i).
//
// Use a pointer (&PDF{...}): the font is loaded once, on first use, and
// shared by every unit the value writes.
type PDF struct {
	// Font is a TrueType font or collection (face 0 is used) with CJK
	// glyphs; "" searches FontPaths (the --font flag sets it).
	Font string
	// Fallback prints a character the font cannot draw as a visible
	// marker, [U+XXXX], and notes it in the page footer. Without it such a
	// character fails WriteUnit: a transcript must never silently lose a
	// character of what someone wrote.
	Fallback bool

	once sync.Once
	font *cjkFont
	err  error
}

var _ export.Format = (*PDF)(nil)

// Name implements export.Format.
func (*PDF) Name() string { return "pdf" }

// loaded loads the font once for every unit (a CJK face is megabytes).
func (p *PDF) loaded() (*cjkFont, error) {
	p.once.Do(func() { p.font, p.err = findFont(p.Font) })
	return p.font, p.err
}

// Page geometry, millimetres (A4 portrait).
const (
	ptMM       = 25.4 / 72 // one point in millimetres
	pageW      = 210.0
	pageH      = 297.0
	marginL    = 15.0
	marginR    = 15.0
	marginT    = 14.0
	contTop    = 21.0 // first content line on pages after the first (below the running head)
	bottom     = 279.0
	footerY    = 285.0
	leftX      = marginL
	leftW      = 40.0
	rightX     = marginL + leftW + 4
	rightW     = pageW - marginR - rightX
	pad        = 2.0
	blockGap   = 2.5
	lineFactor = 1.32
	fullW      = pageW - marginL - marginR
)

// Font sizes, points.
const (
	sizeTitle = 14.0
	sizeBody  = 9.5
	sizeMeta  = 8.0
	sizeSmall = 6.5
	sizeBadge = 7.5
)

type rgb struct{ r, g, b uint8 }

var (
	black      = rgb{17, 17, 17}
	grey       = rgb{102, 102, 102}
	blue       = rgb{34, 85, 170}
	red        = rgb{190, 0, 0}
	orange     = rgb{170, 85, 0}
	fillEmp    = rgb{222, 244, 206}
	fillExt    = rgb{241, 241, 241}
	fillSys    = rgb{226, 226, 232}
	strokeBox  = rgb{190, 190, 190}
	badgeColor = map[string]rgb{"recalled": red, "version": blue, "time": orange, "warn": orange}
)

type opKind uint8

const (
	opText opKind = iota
	opFill
	opStroke
	opLine
	opImage
)

// op is one drawing operation; positions are relative to the item while
// laying out, absolute once placed on a page.
type op struct {
	kind       opKind
	x, y, w, h float64 // text: x and baseline y; line: from (x,y) to (x+w,y+h)
	size       float64
	color      rgb
	text       string // text, or the image's registered name
}

// item is an unbreakable piece of a column: a line of text, an image.
type item struct {
	h      float64
	ops    []op
	marked bool // holds a [U+XXXX] fallback marker
}

// page is one laid-out page: background (boxes) under foreground.
type page struct {
	bg, fg      []op
	first, last string // production numbers of the messages on it
	marked      bool
}

// pdfImage is an image ready for the PDF: an image XObject's entries and
// stream, and its alpha channel's when it has one.
type pdfImage struct {
	name  string // the document's resource name, Im1…
	w, h  int
	dict  string // entries but Length (and SMask)
	data  []byte
	smask []byte // compressed 8-bit alpha; nil when opaque
}

// layout lays a unit out into pages before anything is drawn, so each
// page knows the page count for its footer.
type layout struct {
	ctx      context.Context
	font     *cjkFont
	fallback bool
	unit     *export.Unit
	pages    []*page
	y        float64
	err      error
	where    string // what is being laid out, for the unsupported-character error
	marked   bool   // the item being built holds a marker
	images   []pdfImage
	imgByKey map[string]int
	head     string // running head of continuation pages
	name     string // the unit's name as the footer prints it
}

// WriteUnit implements export.Format: it returns the number of pages.
func (p *PDF) WriteUnit(ctx context.Context, u *export.Unit, out export.Sink, firstPage int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if u == nil || u.Name == "" {
		return 0, errors.New("transcript: pdf: unit without a name")
	}
	f, err := p.loaded()
	if err != nil {
		return 0, err
	}
	l := &layout{ctx: ctx, font: f, fallback: p.Fallback, unit: u, imgByKey: map[string]int{}}
	v := buildView(u)
	l.build(v)
	if l.err != nil {
		return 0, fmt.Errorf("transcript: pdf %s: %w", u.Name, l.err)
	}
	data, err := l.render(v, firstPage)
	if err != nil {
		return 0, fmt.Errorf("transcript: pdf %s: %w", u.Name, err)
	}
	if err := writeFile(out, u.Name+".pdf", data); err != nil {
		return 0, fmt.Errorf("transcript: pdf %s: %w", u.Name, err)
	}
	return len(l.pages), nil
}

// clean returns s with every character the font cannot draw replaced by
// a marker (Fallback), or records the error naming it.
func (l *layout) clean(s string) string {
	ok := true
	for _, r := range s {
		if !l.font.has(r) && r != ' ' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b []byte
	for _, r := range s {
		if l.font.has(r) || r == ' ' {
			b = append(b, string(r)...)
			continue
		}
		if !l.fallback {
			if l.err == nil {
				l.err = fmt.Errorf("%s: character U+%04X %q cannot be drawn by the font %s (use a font that has it, or --font-fallback to print a [U+%04X] marker; wxarchive export resume DIR --font-fallback continues this production)",
					l.where, r, r, l.font.path, r)
			}
			return ""
		}
		b = fmt.Appendf(b, "[U+%04X]", r)
		l.marked = true
	}
	return string(b)
}

func lineH(size float64) float64 { return size * ptMM * lineFactor }

func breakable(r rune) bool { return r >= 0x2E80 } // CJK and beyond: a line may break at any character

// wrap splits one line of text into lines at most width mm wide: at
// spaces, between CJK characters, and inside an over-long word as a last
// resort (nothing is ever cut off).
func (l *layout) wrap(s string, size, width float64) []string {
	var lines []string
	start, lastBreak := 0, -1
	lineW, wAtBreak := 0.0, 0.0
	prevBreakAfter := false
	for i, r := range s {
		rw := l.font.width(r, size)
		if i > start && (breakable(r) || prevBreakAfter) {
			lastBreak, wAtBreak = i, lineW
		}
		for lineW+rw > width && i > start {
			if lastBreak > start {
				lines = append(lines, trimRight(s[start:lastBreak]))
				start, lineW = lastBreak, lineW-wAtBreak
			} else {
				lines = append(lines, s[start:i])
				start, lineW = i, 0
			}
			lastBreak = -1
		}
		lineW += rw
		prevBreakAfter = r == ' ' || breakable(r)
	}
	return append(lines, s[start:])
}

func trimRight(s string) string {
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// textItems wraps text (which may hold line breaks) into one item per
// line, at x within width.
func (l *layout) textItems(s string, x, width, size float64, c rgb, strike bool) []item {
	var items []item
	for _, para := range cleanText(s) {
		l.marked = false
		para = l.clean(para)
		marked := l.marked
		for _, line := range l.wrap(para, size, width) {
			h := lineH(size)
			it := item{h: h, marked: marked, ops: []op{{kind: opText, x: x, y: size * ptMM * 1.02, size: size, color: c, text: line}}}
			if strike && line != "" {
				w := 0.0
				for _, r := range line {
					w += l.font.width(r, size)
				}
				mid := size * ptMM * 0.68
				it.ops = append(it.ops, op{kind: opLine, x: x, y: mid, w: w, h: 0, color: red})
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		items = append(items, item{h: lineH(size)})
	}
	return items
}

// rowItems lays cells side by side as rows of one line each (a table
// row whose cells wrap).
func (l *layout) rowItems(cells []string, xs, ws []float64, size float64, colors []rgb) []item {
	cols := make([][]string, len(cells))
	n := 0
	marked := false
	for i, c := range cells {
		l.marked = false
		cols[i] = l.wrap(l.clean(c), size, ws[i])
		marked = marked || l.marked
		n = max(n, len(cols[i]))
	}
	items := make([]item, n)
	for k := range items {
		items[k].h = lineH(size)
		items[k].marked = marked
		for i := range cols {
			if k < len(cols[i]) && cols[i][k] != "" {
				items[k].ops = append(items[k].ops, op{kind: opText, x: xs[i], y: size * ptMM * 1.02, size: size, color: colors[i], text: cols[i][k]})
			}
		}
	}
	return items
}

func (l *layout) newPage() *page {
	pg := &page{}
	l.pages = append(l.pages, pg)
	l.y = marginT
	if len(l.pages) > 1 {
		l.y = contTop
	}
	return pg
}

func (l *layout) cur() *page {
	if len(l.pages) == 0 {
		return l.newPage()
	}
	return l.pages[len(l.pages)-1]
}

// placeFull places items across the full width, breaking pages as needed.
func (l *layout) placeFull(items []item) {
	pg := l.cur()
	for _, it := range items {
		if l.y+it.h > bottom {
			pg = l.newPage()
		}
		pg.fg = append(pg.fg, offset(it.ops, 0, l.y)...)
		pg.marked = pg.marked || it.marked
		l.y += it.h
	}
}

func offset(ops []op, dx, dy float64) []op {
	out := make([]op, len(ops))
	for i, o := range ops {
		o.x += dx
		o.y += dy
		out[i] = o
	}
	return out
}

func sum(items []item) float64 {
	h := 0.0
	for _, it := range items {
		h += it.h
	}
	return h
}

// placeBlock places one message: left column and right box side by side,
// on one page when it fits on one, else continued on the next pages
// (each page's part of the box drawn as its own box).
func (l *layout) placeBlock(number string, left, right []item, fill rgb, border rgb, borderW float64) {
	// On a page the box continues onto, the left column says whose it is.
	cont := []op{{kind: opText, x: leftX, y: contTop + sizeMeta*ptMM*1.02, size: sizeMeta, color: blue, text: number},
		{kind: opText, x: leftX, y: contTop + sizeMeta*ptMM*1.02 + lineH(sizeMeta), size: sizeSmall, color: grey, text: "续 continued"}}
	l.cur()
	total := max(sum(left), sum(right)+2*pad)
	room := bottom - l.y
	if total > room && (total <= bottom-contTop || room < 30) {
		l.newPage()
	}
	startPage, startY := len(l.pages)-1, l.y

	// place one column's items from the block's start; returns where it
	// ended and, per page, the vertical extent used.
	type extent struct{ top, bot float64 }
	place := func(items []item, x float64, topPad float64, ext map[int]*extent) (int, float64) {
		pi, y := startPage, startY+topPad
		for _, it := range items {
			if y+it.h > bottom-topPad {
				pi++
				for pi >= len(l.pages) {
					l.newPage()
				}
				y = contTop + topPad
				if ext != nil {
					l.pages[pi].fg = append(l.pages[pi].fg, cont...)
				} else {
					y += 2*lineH(sizeMeta) + 1 // below the continuation label
				}
			}
			pg := l.pages[pi]
			pg.fg = append(pg.fg, offset(it.ops, x, y)...)
			pg.marked = pg.marked || it.marked
			if ext != nil {
				e := ext[pi]
				if e == nil {
					e = &extent{top: y - topPad, bot: y}
					ext[pi] = e
				}
				e.bot = y + it.h
			}
			y += it.h
		}
		return pi, y
	}
	lp, ly := place(left, leftX, 0, nil)
	ext := map[int]*extent{}
	rp, ry := place(right, rightX+pad, pad, ext)
	for pi := startPage; pi <= rp; pi++ {
		if e := ext[pi]; e != nil {
			pg := l.pages[pi]
			pg.bg = append(pg.bg, op{kind: opFill, x: rightX, y: e.top, w: rightW, h: e.bot + pad - e.top, color: fill})
			if borderW > 0 {
				pg.bg = append(pg.bg, op{kind: opStroke, x: rightX, y: e.top, w: rightW, h: e.bot + pad - e.top, color: border, size: borderW})
			}
		}
	}
	endPage, endY := rp, ry+pad
	if lp > rp || (lp == rp && ly > endY) {
		endPage, endY = lp, ly
	}
	for pi := startPage; pi <= endPage && pi < len(l.pages); pi++ {
		pg := l.pages[pi]
		if pg.first == "" {
			pg.first = number
		}
		pg.last = number
	}
	l.y = endY + blockGap
}

// build lays out the header and every entry.
func (l *layout) build(v *view) {
	l.where = "the conversation header"
	l.head = l.clean(fmt.Sprintf("%s · %s · %s · 续 continued", v.Title, v.Day, v.Conversation))
	l.name = l.clean(v.Name)
	l.newPage()
	l.placeFull(l.textItems(v.Title, marginL, fullW, sizeTitle, black, false))
	l.placeFull(l.textItems("会话记录 Conversation transcript", marginL, fullW, sizeMeta, grey, false))
	l.y += 1.5
	kx, kw := marginL, 48.0
	meta := [][2]string{
		{"会话编号 Conversation ID", v.Conversation},
		{"会话类型 Kind", v.ConvKind},
		{"日期 Day", v.Day},
		{"时区 Time zone", v.Zone},
		{"分段 Slice", v.Slice + "   集合 Collection " + v.Collection},
	}
	if v.Custodian != "" {
		meta = append(meta, [2]string{"保管人 Custodian", v.Custodian})
	}
	meta = append(meta, [2]string{"生产编号 Production numbers", v.First + " – " + v.Last})
	for _, kv := range meta {
		l.placeFull(l.rowItems(kv[:], []float64{kx, kx + kw}, []float64{kw - 2, fullW - kw}, sizeMeta, []rgb{grey, black}))
	}
	l.y += 2
	l.placeFull(l.textItems("参与者 Participants", marginL, fullW, sizeMeta+1, black, false))
	xs := []float64{marginL, marginL + 52, marginL + 102, marginL + 146}
	ws := []float64{50, 48, 42, fullW - 146}
	cg := []rgb{grey, grey, grey, grey}
	cb := []rgb{black, grey, black, black}
	l.placeFull(l.rowItems([]string{"姓名 Name", "编号 ID", "部门 Department", "类型 Type"}, xs, ws, sizeMeta, cg))
	for _, p := range v.Participants {
		l.where = "participant " + p.ID
		l.placeFull(l.rowItems([]string{p.Name, p.ID, p.Department, p.Kind}, xs, ws, sizeMeta, cb))
		if l.err != nil {
			return
		}
	}
	l.where = "the conversation header"
	l.y += 1.5
	l.placeFull(l.textItems("左栏：时间、生产编号、发送人（当时的姓名、编号、部门） Left: time, production number, sender as they were · 绿底：员工 Green: employee · 灰底：外部联系人 Grey: external contact · 紫灰：系统事件 Blue-grey: system event · 红框划线：已撤回 Red, struck through: recalled",
		marginL, fullW, sizeSmall, grey, false))
	l.y += 3
	if l.err != nil {
		return
	}
	for i := range v.Entries {
		if i%256 == 0 {
			if err := l.ctx.Err(); err != nil {
				l.err = err
				return
			}
		}
		l.entry(&v.Entries[i])
		if l.err != nil {
			return
		}
	}
}

// entry lays out one message.
func (l *layout) entry(e *entry) {
	l.where = fmt.Sprintf("message %s (serial %d)", e.Number, e.Serial)
	e.Number = l.clean(e.Number)
	var left []item
	lw := leftW - 1
	left = append(left, l.textItems(e.Time, leftX, lw, sizeMeta, black, false)...)
	left = append(left, l.textItems(e.Number, leftX, lw, sizeMeta, blue, false)...)
	left = append(left, l.textItems(fmt.Sprintf("序号 serial %d", e.Serial), leftX, lw, sizeSmall, grey, false)...)
	if e.Side != sideSystem {
		left = append(left, l.textItems(e.Sender.Name, leftX, lw, sizeMeta+0.5, black, false)...)
		left = append(left, l.textItems(e.Sender.ID, leftX, lw, sizeSmall, grey, false)...)
		if e.Sender.Department != "" {
			left = append(left, l.textItems(e.Sender.Department, leftX, lw, sizeSmall, grey, false)...)
		}
		left = append(left, l.textItems(e.Sender.Kind, leftX, lw, sizeSmall, grey, false)...)
	}
	for k := range left {
		left[k].ops = offset(left[k].ops, -leftX, 0)
	}

	// The right column is laid out at x = 0 (placeBlock moves it).
	w := rightW - 2*pad
	var right []item
	kind := e.Kind
	if e.SourceType != "" {
		kind += " · " + e.SourceType
	}
	right = append(right, l.textItems(kind, 0, w, sizeSmall, grey, false)...)
	for _, b := range e.Badges {
		right = append(right, l.textItems(b.Text, 0, w, sizeBadge, badgeColor[b.Class], false)...)
	}
	if e.Event != "" {
		right = append(right, l.textItems(e.Event, 0, w, sizeBody, black, false)...)
	}
	if len(e.Lines) > 0 {
		c := black
		if e.Recalled {
			c = grey
		}
		for _, line := range e.Lines {
			right = append(right, l.textItems(line, 0, w, sizeBody, c, e.Recalled)...)
		}
	}
	for _, d := range e.Details {
		right = append(right, l.rowItems([]string{d.Name, d.Value}, []float64{0, 30}, []float64{29, w - 30}, sizeMeta, []rgb{grey, black})...)
	}
	for k := range e.Atts {
		right = append(right, l.attItems(&e.Atts[k], w, e.Recalled)...)
	}
	fill, border, bw := fillExt, strokeBox, 0.0
	switch e.Side {
	case sideEmployee:
		fill = fillEmp
	case sideSystem:
		fill = fillSys
	}
	if e.Recalled {
		border, bw = red, 0.6
	}
	if l.err != nil {
		return
	}
	l.placeBlock(e.Number, left, right, fill, border, bw)
}

// attItems lists an attachment: an image inline with its caption, other
// files (and images that cannot be decoded) as a description with hash.
func (l *layout) attItems(a *attView, w float64, recalled bool) []item {
	var items []item
	if !a.HasBytes {
		return l.textItems(fmt.Sprintf("附件 Attachment %s · %s · 未附文件 No file produced · %s%s", a.FileName, a.MediaType, a.Status, prefixed(": ", a.Reason)), 0, w, sizeMeta, red, recalled)
	}
	if a.Image {
		img, why := l.image(a)
		if img != nil {
			iw, ih := thumb(img.w, img.h)
			items = append(items, item{h: ih + 1, ops: []op{{kind: opImage, x: 0, y: 0.5, w: iw, h: ih, text: img.name}}})
		} else {
			items = append(items, l.textItems("图片无法显示 Image not rendered: "+why, 0, w, sizeMeta, orange, false)...)
		}
	}
	desc := fmt.Sprintf("附件 Attachment %s · %s · %s", a.FileName, a.MediaType, a.Size)
	if a.Mismatch {
		desc += " · " + a.Status
	}
	items = append(items, l.textItems(desc, 0, w, sizeMeta, black, recalled)...)
	items = append(items, l.textItems("SHA-256 "+a.SHA256+"  ·  "+a.Href, 0, w, sizeSmall, grey, false)...)
	return items
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// thumb sizes an image for the page: at most 60 × 50 mm, small images
// enlarged to 20 mm so they can be seen, aspect ratio kept.
func thumb(pw, ph int) (float64, float64) {
	w := float64(pw) * 25.4 / 96
	w = min(max(w, 20), 60)
	h := w * float64(ph) / float64(pw)
	if h > 50 {
		w, h = w*50/h, 50
	}
	return w, h
}

// Limits on inline images: beyond them the image is listed, not drawn
// (the native file is in the production either way).
const (
	maxImageBytes  = 64 << 20
	maxImagePixels = 50_000_000
	maxImageSide   = 1200 // longer side of the copy embedded in the PDF
)

// image decodes an attachment for embedding (PNG, JPEG, GIF), once per
// blob per document; it says why when it cannot.
func (l *layout) image(a *attView) (*pdfImage, string) {
	key := a.SHA256
	if key == "" {
		key = a.Href
	}
	if i, ok := l.imgByKey[key]; ok {
		if i < 0 {
			return nil, "cannot be decoded"
		}
		return &l.images[i], ""
	}
	img, why := images.get(a.SHA256)
	if img == nil {
		img, why = decodeImage(l.ctx, a)
		if img != nil {
			images.put(a.SHA256, img)
		}
	}
	if img == nil {
		l.imgByKey[key] = -1
		return nil, why
	}
	mine := *img // shares the (read-only) streams
	mine.name = fmt.Sprintf("Im%d", len(l.images)+1)
	l.images = append(l.images, mine)
	l.imgByKey[key] = len(l.images) - 1
	return &l.images[len(l.images)-1], ""
}

// imageCache keeps recently embedded images by the SHA-256 of their
// bytes, process-wide: the same picture (a sticker, a logo, a forwarded
// photo) recurs across many conversation-days, and decoding and
// compressing it is most of what an image costs. What is embedded
// depends only on the bytes, so a hit gives the same PDF as a miss.
type imageCache struct {
	mu    sync.Mutex
	byKey map[string]*pdfImage
	order []string // oldest first
	bytes int
}

const imageCacheBytes = 32 << 20

var images = &imageCache{byKey: map[string]*pdfImage{}}

func (c *imageCache) get(key string) (*pdfImage, string) {
	if key == "" {
		return nil, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key], ""
}

func (c *imageCache) put(key string, img *pdfImage) {
	size := len(img.data) + len(img.smask)
	if key == "" || size > imageCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey[key] != nil {
		return
	}
	for c.bytes+size > imageCacheBytes && len(c.order) > 0 {
		old := c.byKey[c.order[0]]
		c.bytes -= len(old.data) + len(old.smask)
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.byKey[key] = img
	c.order = append(c.order, key)
	c.bytes += size
}

func decodeImage(ctx context.Context, a *attView) (*pdfImage, string) {
	if a.att == nil || a.att.Open == nil {
		return nil, "no bytes"
	}
	rc, err := a.att.Open(ctx)
	if err != nil {
		return nil, "cannot be read: " + err.Error()
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxImageBytes+1))
	rc.Close()
	if err != nil {
		return nil, "cannot be read: " + err.Error()
	}
	if len(data) > maxImageBytes {
		return nil, "larger than 64 MiB"
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "not a PNG, JPEG or GIF image the transcript can decode"
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxImagePixels {
		return nil, fmt.Sprintf("%d × %d pixels, too large to render", cfg.Width, cfg.Height)
	}
	// Decoded in full even when the bytes are embedded as they are: a
	// JPEG that does not decode is listed, never drawn broken.
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "cannot be decoded: " + err.Error()
	}
	b := src.Bounds()
	scaled := false
	if long := max(b.Dx(), b.Dy()); long > maxImageSide {
		// An examiner's copy is the native file; the page needs a
		// legible thumbnail, not a 20 MB re-encoding of a photo.
		dw, dh := max(b.Dx()*maxImageSide/long, 1), max(b.Dy()*maxImageSide/long, 1)
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		src, scaled = dst, true
	}
	sb := src.Bounds()
	img := &pdfImage{w: sb.Dx(), h: sb.Dy()}
	dims := fmt.Sprintf("/Width %d /Height %d /BitsPerComponent 8 ", img.w, img.h)
	if format == "jpeg" {
		// A baseline or progressive YCbCr or greyscale JPEG is what
		// DCTDecode reads as it is; anything else (CMYK, RGB-coded,
		// scaled down) is re-encoded by Go's encoder, deterministically.
		gray := cfg.ColorModel == color.GrayModel
		if scaled || (!gray && cfg.ColorModel != color.YCbCrModel) {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 88}); err != nil {
				return nil, "cannot be re-encoded: " + err.Error()
			}
			_, gray = src.(*image.Gray) // the encoder writes one component only for these
			data = buf.Bytes()
		}
		cs := "/DeviceRGB"
		if gray {
			cs = "/DeviceGray"
		}
		img.dict = dims + "/ColorSpace " + cs + " /Filter /DCTDecode"
		img.data = data
		return img, ""
	}
	// PNG and GIF: 8-bit RGB samples, and the alpha as a soft mask when
	// any pixel is not opaque.
	nrgba, ok := src.(*image.NRGBA)
	if !ok || nrgba.Rect.Min != (image.Point{}) {
		nrgba = image.NewNRGBA(image.Rect(0, 0, img.w, img.h))
		draw.Draw(nrgba, nrgba.Rect, src, sb.Min, draw.Src)
	}
	px := make([]byte, 0, 3*img.w*img.h)
	alpha := make([]byte, 0, img.w*img.h)
	opaque := true
	for y := 0; y < img.h; y++ {
		row := nrgba.Pix[y*nrgba.Stride : y*nrgba.Stride+4*img.w]
		for x := 0; x < len(row); x += 4 {
			px = append(px, row[x], row[x+1], row[x+2])
			alpha = append(alpha, row[x+3])
			opaque = opaque && row[x+3] == 0xFF
		}
	}
	var z bytes.Buffer
	deflate(&z, px)
	img.dict = dims + "/ColorSpace /DeviceRGB /Filter /FlateDecode"
	img.data = z.Bytes()
	if !opaque {
		var za bytes.Buffer
		deflate(&za, alpha)
		img.smask = za.Bytes()
	}
	return img, ""
}

// docTime is the fixed creation and modification date of a unit's PDF:
// its first message's time (the same unit gives the same bytes).
func docTime(u *export.Unit) time.Time {
	for _, m := range u.Messages {
		if m != nil && m.Message != nil && !m.Message.SentAt.IsZero() {
			return m.Message.SentAt.Time.In(location(u))
		}
	}
	if d, err := time.ParseInLocation("2006-01-02", u.Day, location(u)); err == nil {
		return d
	}
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
}

// render writes the laid-out pages as a PDF (pdfwrite.go).
func (l *layout) render(v *view, firstPage int) ([]byte, error) {
	u := l.unit
	// Every string drawn is known before drawing starts (footers
	// included), so the embedded font can hold just those.
	n := len(l.pages)
	footers := make([]footer, n)
	for i, pg := range l.pages {
		footers[i] = l.footer(pg, i, n, firstPage)
	}
	cids, ttfLen, fontZ, err := l.fontFor(footers)
	if err != nil {
		return nil, err
	}

	// Objects: 1 catalog, 2 page tree, 3 info, from 4 the font (five
	// objects, six with a CIDToGIDMap), then the images (one object, two
	// with an alpha mask), then per page its page object and content
	// stream: numbered without gaps.
	const catalog, pages, info, font = 1, 2, 3, 4
	next := font + 5
	if cids.gids != nil {
		next++
	}
	imgObj := make([]int, len(l.images))
	for i := range l.images {
		imgObj[i] = next
		next++
		if l.images[i].smask != nil {
			next++
		}
	}
	firstPageObj := next

	p := &pdfFile{}
	p.buf.Grow(16<<10 + len(fontZ))
	p.buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	p.object(catalog, "<</Type /Catalog /Pages 2 0 R /Lang (zh-Hans)>>")
	t := docTime(u)
	p.object(info, "<</Producer "+textString(u.Producer)+" /Creator "+textString("wxarchive transcript")+
		" /Title "+textString(v.Title+" · "+v.Day)+
		" /Subject "+textString(fmt.Sprintf("%s %s, %s – %s", v.Conversation, v.Day, v.First, v.Last))+
		" /CreationDate "+pdfDate(t)+" /ModDate "+pdfDate(t)+">>")
	p.fontObjects(font, l.font, cids, ttfLen, fontZ)

	res := "/Resources <</Font <</F1 4 0 R>>"
	if len(l.images) > 0 {
		var b strings.Builder
		b.WriteString(" /XObject <<")
		for i, img := range l.images {
			fmt.Fprintf(&b, "/%s %d 0 R ", img.name, imgObj[i])
			d := "/Type /XObject /Subtype /Image " + img.dict
			if img.smask != nil {
				d += " /SMask " + strconv.Itoa(imgObj[i]+1) + " 0 R"
			}
			p.stream(imgObj[i], d, img.data)
			if img.smask != nil {
				p.stream(imgObj[i]+1, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", img.w, img.h), img.smask)
			}
		}
		b.WriteString(">>")
		res += b.String()
	}
	res += " /ProcSet [/PDF /Text /ImageB /ImageC /ImageI]>>"

	kids := make([]byte, 0, 12*n)
	c := &content{cids: cids}
	for i, pg := range l.pages {
		if i%64 == 0 {
			if err := l.ctx.Err(); err != nil {
				return nil, err
			}
		}
		// A content stream starts with the default graphics state.
		*c = content{b: c.b[:0], cids: cids, width: -1, size: -1}
		if i > 0 {
			c.text(marginL, 15, sizeSmall, grey, l.head)
			c.setStroke(rgb{200, 200, 200}, 0.2)
			c.line(marginL, 17, pageW-marginR, 17)
		}
		for _, ops := range [][]op{pg.bg, pg.fg} {
			for _, o := range ops {
				switch o.kind {
				case opText:
					c.text(o.x, o.y, o.size, o.color, o.text)
				case opFill:
					c.setFill(o.color)
					c.rect(o.x, o.y, o.w, o.h, "f")
				case opStroke:
					c.setStroke(o.color, o.size)
					c.rect(o.x, o.y, o.w, o.h, "S")
				case opLine:
					c.setStroke(o.color, 0.3)
					c.line(o.x, o.y, o.x+o.w, o.y+o.h)
				case opImage:
					c.image(o.text, o.x, o.y, o.w, o.h)
				}
			}
		}
		// Footer: where the page is in the unit and in the production.
		c.setStroke(rgb{200, 200, 200}, 0.2)
		c.line(marginL, footerY-4, pageW-marginR, footerY-4)
		ft := footers[i]
		c.text(marginL, footerY, sizeMeta, black, ft.pageOf)
		c.text(pageW-marginR-l.textWidth(ft.bates, sizeMeta), footerY, sizeMeta, black, ft.bates)
		c.text(marginL, footerY+3.5, sizeSmall, grey, ft.span)
		if ft.note != "" {
			c.text(marginL, footerY+7, sizeSmall, red, ft.note)
		}
		obj := firstPageObj + 2*i
		p.object(obj, "<</Type /Page /Parent 2 0 R "+res+" /Contents "+strconv.Itoa(obj+1)+" 0 R>>")
		p.flateStream(obj+1, "", c.b)
		kids = strconv.AppendInt(kids, int64(obj), 10)
		kids = append(kids, " 0 R "...)
	}
	p.object(pages, fmt.Sprintf("<</Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 %s %s]>>",
		strings.TrimSpace(string(kids)), n, num(nil, pageW*k), num(nil, pageH*k)))
	return p.finish(catalog, info), nil
}

// footer is the text of a page's footer: where the page is in the unit
// and in the production, which messages it holds, whether it has markers.
type footer struct {
	pageOf, bates, span, note string
}

const markerNote = "本页含字体无法显示的字符，以 [U+XXXX] 标示 · This page shows characters the font cannot draw as [U+XXXX] markers"

func (l *layout) footer(pg *page, i, n, firstPage int) footer {
	ft := footer{
		pageOf: fmt.Sprintf("第 %d 页，共 %d 页 · Page %d of %d", i+1, n, i+1, n),
		bates:  export.PageNumber(l.unit.Prefix, firstPage+i),
		span:   l.name,
	}
	if pg.first != "" {
		ft.span += " · " + pg.first
		if pg.last != pg.first {
			ft.span += " – " + pg.last
		}
	}
	if pg.marked {
		ft.note = markerNote
	}
	return ft
}

// fontFor numbers the runes the pages draw and returns the font to
// embed, compressed, and its length uncompressed: the face cut down to
// those runes, or the whole face when it cannot be cut.
func (l *layout) fontFor(footers []footer) (*cidMap, int, []byte, error) {
	var seen [0x10000 / 64]uint64
	addS := func(s string) {
		for _, r := range s {
			if r >= 0 && r <= 0xFFFF && l.font.has(r) {
				seen[r/64] |= 1 << (uint(r) % 64)
			}
		}
	}
	addS(l.head)
	for _, pg := range l.pages {
		for _, o := range pg.fg {
			if o.kind == opText {
				addS(o.text)
			}
		}
	}
	for _, ft := range footers {
		addS(ft.pageOf)
		addS(ft.bates)
		addS(ft.span)
		addS(ft.note)
	}
	m := newCIDMap(&seen)
	if l.font.sub == nil {
		m.gids = make([]uint16, len(m.runes))
		for i, r := range m.runes {
			m.gids[i] = l.font.gid[r]
		}
		return m, len(l.font.ttf), l.font.wholeFace(), nil
	}
	// The subset's glyph ids are the CIDs (its glyph k draws runes[k-1]).
	ttf, z, err := l.font.sub.subsetZ(l.font, m.runes)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("font %s: %w", l.font.path, err)
	}
	return m, len(ttf), z, nil
}

func (l *layout) textWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += l.font.width(r, size)
	}
	return w
}
