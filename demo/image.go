package demo

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
)

// Images are drawn, not random noise: a fund NAV curve, a bar chart, a phone
// screenshot, a photographed form with a red seal, an allocation pie, a
// candlestick chart — the pictures advisers and clients actually exchange.
// There is no font rendering; "text" is grey bars, which is how such pictures
// look as thumbnails anyway.

const (
	imgNAV = iota
	imgBars
	imgScreenshot
	imgDocument
	imgPie
	imgCandles
	numImageStyles
)

var (
	cWhite  = color.RGBA{255, 255, 255, 255}
	cGrid   = color.RGBA{228, 231, 236, 255}
	cAxis   = color.RGBA{150, 155, 165, 255}
	cText   = color.RGBA{120, 124, 132, 255}
	cTextLt = color.RGBA{190, 194, 200, 255}
	cRed    = color.RGBA{229, 57, 53, 255} // up, in Chinese market colours
	cGreen  = color.RGBA{38, 166, 91, 255} // down
	cBlue   = color.RGBA{33, 99, 200, 255}
	cOrange = color.RGBA{245, 146, 40, 255}
	cSeal   = color.RGBA{210, 30, 40, 255}
)

var chartColors = []color.RGBA{cBlue, cRed, cOrange, {112, 72, 200, 255}, {0, 150, 160, 255}, {120, 130, 140, 255}}

func makeJPEG(r *rand.Rand, style int) ([]byte, error) {
	var img *image.RGBA
	switch style {
	case imgNAV:
		img = drawNAV(r)
	case imgBars:
		img = drawBars(r)
	case imgScreenshot:
		img = drawScreenshot(r)
	case imgDocument:
		img = drawDocument(r)
	case imgPie:
		img = drawPie(r)
	default:
		img = drawCandles(r)
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 72 + r.IntN(14)}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newCanvas(w, h int, bg color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fillRect(img, 0, 0, w, h, bg)
	return img
}

func fillRect(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	b := img.Bounds()
	x0, y0 = max(x0, b.Min.X), max(y0, b.Min.Y)
	x1, y1 = min(x1, b.Max.X), min(y1, b.Max.Y)
	for y := y0; y < y1; y++ {
		off := img.PixOffset(x0, y)
		for x := x0; x < x1; x++ {
			img.Pix[off], img.Pix[off+1], img.Pix[off+2], img.Pix[off+3] = c.R, c.G, c.B, 255
			off += 4
		}
	}
}

func drawLine(img *image.RGBA, x0, y0, x1, y1 float64, thick int, c color.RGBA) {
	steps := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		x := int(x0 + (x1-x0)*t)
		y := int(y0 + (y1-y0)*t)
		fillRect(img, x-thick/2, y-thick/2, x-thick/2+thick, y-thick/2+thick, c)
	}
}

func disc(img *image.RGBA, cx, cy, rad float64, c color.RGBA) {
	for y := int(cy - rad); y <= int(cy+rad); y++ {
		for x := int(cx - rad); x <= int(cx+rad); x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			if dx*dx+dy*dy <= rad*rad && image.Pt(x, y).In(img.Bounds()) {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

// textBars draws grey bars where a line of text would be.
func textBars(r *rand.Rand, img *image.RGBA, x, y, w, lines, lineH int, c color.RGBA) {
	for i := range lines {
		lw := w * (55 + r.IntN(45)) / 100
		if i == lines-1 {
			lw = w * (20 + r.IntN(40)) / 100
		}
		fillRect(img, x, y+i*lineH, x+lw, y+i*lineH+lineH/2, c)
	}
}

func gridAxes(img *image.RGBA, left, top, right, bottom int) {
	for i := 0; i <= 4; i++ {
		y := top + (bottom-top)*i/4
		fillRect(img, left, y, right, y+1, cGrid)
	}
	fillRect(img, left, bottom, right, bottom+2, cAxis)
	fillRect(img, left-2, top, left, bottom+2, cAxis)
	for i := 0; i <= 4; i++ {
		y := top + (bottom-top)*i/4
		fillRect(img, 6, y-3, left-8, y+3, cTextLt) // axis labels
	}
}

func drawNAV(r *rand.Rand) *image.RGBA {
	w, h := 300, 180
	img := newCanvas(w, h, cWhite)
	textBars(r, img, 14, 10, 160, 1, 16, cText)
	left, top, right, bottom := 44, 36, w-12, h-26
	gridAxes(img, left, top, right, bottom)
	n := 60
	series := func(drift, vol float64) []float64 {
		v := make([]float64, n)
		x := 1.0
		for i := range v {
			x *= 1 + drift + vol*r.NormFloat64()
			v[i] = x
		}
		return v
	}
	fund := series(0.002, 0.012)
	bench := series(0.0008, 0.009)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range n {
		lo, hi = math.Min(lo, math.Min(fund[i], bench[i])), math.Max(hi, math.Max(fund[i], bench[i]))
	}
	yOf := func(v float64) float64 { return float64(bottom) - (v-lo)/(hi-lo+1e-9)*float64(bottom-top-8) - 4 }
	xOf := func(i int) float64 { return float64(left) + float64(i)*float64(right-left)/float64(n-1) }
	main := cRed
	if fund[n-1] < 1 {
		main = cGreen
	}
	for i := 1; i < n; i++ {
		drawLine(img, xOf(i-1), yOf(bench[i-1]), xOf(i), yOf(bench[i]), 1, cAxis)
		drawLine(img, xOf(i-1), yOf(fund[i-1]), xOf(i), yOf(fund[i]), 2, main)
	}
	fillRect(img, right-90, 12, right-78, 18, main)
	fillRect(img, right-74, 12, right-40, 18, cTextLt)
	return img
}

func drawBars(r *rand.Rand) *image.RGBA {
	w, h := 300, 180
	img := newCanvas(w, h, cWhite)
	textBars(r, img, 14, 10, 180, 1, 16, cText)
	left, top, right, bottom := 44, 36, w-12, h-26
	gridAxes(img, left, top, right, bottom)
	n := 6 + r.IntN(7)
	mid := (top + bottom) / 2
	fillRect(img, left, mid, right, mid+1, cAxis)
	bw := (right - left) / n
	for i := range n {
		v := r.NormFloat64() * 0.35
		v = math.Max(-0.95, math.Min(0.95, v))
		x0 := left + i*bw + bw/5
		x1 := left + (i+1)*bw - bw/5
		hpx := int(v * float64(bottom-top) / 2)
		if hpx >= 0 {
			fillRect(img, x0, mid-hpx, x1, mid, cRed)
		} else {
			fillRect(img, x0, mid, x1, mid-hpx, cGreen)
		}
		fillRect(img, x0, bottom+8, x1, bottom+13, cTextLt)
	}
	return img
}

func drawScreenshot(r *rand.Rand) *image.RGBA {
	w, h := 180, 320
	img := newCanvas(w, h, color.RGBA{244, 245, 247, 255})
	brand := pick(r, []color.RGBA{{25, 90, 200, 255}, {200, 40, 45, 255}, {20, 130, 110, 255}})
	fillRect(img, 0, 0, w, 18, color.RGBA{20, 20, 20, 255})               // status bar
	fillRect(img, 8, 6, 30, 12, cWhite)                                   // clock
	fillRect(img, w-34, 6, w-10, 12, cWhite)                              // battery
	fillRect(img, 0, 18, w, 64, brand)                                    // app header
	fillRect(img, w/2-50, 34, w/2+50, 44, color.RGBA{255, 255, 255, 220}) // title
	// Account summary card with a big red/green number.
	fillRect(img, 10, 74, w-10, 160, cWhite)
	textBars(r, img, 22, 84, 90, 1, 14, cTextLt)
	big := cRed
	if r.IntN(3) == 0 {
		big = cGreen
	}
	fillRect(img, 22, 104, 22+90+r.IntN(60), 126, big)
	textBars(r, img, 22, 136, w-50, 2, 12, cTextLt)
	// Holdings rows.
	for i := range (h - 40 - 172) / 40 {
		y := 172 + i*40
		fillRect(img, 10, y, w-10, y+34, cWhite)
		textBars(r, img, 20, y+8, 80, 2, 12, cText)
		c := cRed
		if r.IntN(2) == 0 {
			c = cGreen
		}
		fillRect(img, w-70, y+10, w-22, y+20, c)
	}
	fillRect(img, 0, h-40, w, h, cWhite) // tab bar
	for i := range 4 {
		disc(img, float64(w/8+i*w/4), float64(h-22), 7, cTextLt)
	}
	return img
}

func drawDocument(r *rand.Rand) *image.RGBA {
	w, h := 240, 320
	img := newCanvas(w, h, color.RGBA{92, 84, 76, 255}) // the desk under the paper
	// Paper with uneven lighting, as in a phone photo.
	for y := 14; y < h-10; y++ {
		wave := int(6 * math.Sin(float64(y)/70))
		off := img.PixOffset(12, y)
		for x := 12; x < w-14; x++ {
			l := 236 - (x+y)/40 + wave
			img.Pix[off], img.Pix[off+1], img.Pix[off+2] = uint8(l), uint8(l-4), uint8(l-12)
			off += 4
		}
	}
	textBars(r, img, w/2-50, 30, 100, 1, 16, color.RGBA{70, 70, 70, 255})
	for b := range 3 {
		textBars(r, img, 28, 60+b*62, w-64, 4, 13, color.RGBA{120, 118, 112, 255})
	}
	// Signature scribble and a red round seal.
	sy0 := float64(h - 45)
	sx, sy := 40.0, sy0
	for i := range 35 {
		nx := sx + 2.5 + r.Float64()*2
		ny := sy0 + 9*math.Sin(float64(i)*0.9) + r.NormFloat64()
		drawLine(img, sx, sy, nx, ny, 2, color.RGBA{30, 40, 90, 255})
		sx, sy = nx, ny
	}
	cx, cy := float64(w-68), float64(h-62)
	for y := int(cy - 36); y <= int(cy+36); y++ {
		for x := int(cx - 36); x <= int(cx+36); x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			if (d <= 34 && d >= 30) || (d < 10 && r.IntN(3) > 0) {
				img.SetRGBA(x, y, cSeal)
			}
		}
	}
	return img
}

func drawPie(r *rand.Rand) *image.RGBA {
	w, h := 240, 200
	img := newCanvas(w, h, cWhite)
	n := 3 + r.IntN(4)
	parts := make([]float64, n)
	var sum float64
	for i := range parts {
		parts[i] = 0.3 + r.Float64()
		sum += parts[i]
	}
	cx, cy, rad := 95.0, 100.0, 80.0
	for y := int(cy - rad); y <= int(cy+rad); y++ {
		for x := int(cx - rad); x <= int(cx+rad); x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			d := math.Hypot(dx, dy)
			if d > rad || d < rad*0.45 {
				continue
			}
			a := (math.Atan2(dy, dx) + math.Pi) / (2 * math.Pi) * sum
			k := 0
			for k < n-1 && a > parts[k] {
				a -= parts[k]
				k++
			}
			img.SetRGBA(x, y, chartColors[k%len(chartColors)])
		}
	}
	for i := range n {
		y := 30 + i*24
		fillRect(img, 186, y, 196, y+10, chartColors[i%len(chartColors)])
		fillRect(img, 200, y+2, 232, y+8, cTextLt)
	}
	return img
}

func drawCandles(r *rand.Rand) *image.RGBA {
	w, h := 300, 180
	img := newCanvas(w, h, color.RGBA{20, 24, 32, 255}) // trading apps' dark theme
	left, top, right, bottom := 10, 20, w-40, h-50
	n := 36
	o := make([]float64, n)
	c := make([]float64, n)
	hi := make([]float64, n)
	lo := make([]float64, n)
	p := 100.0
	mn, mx := math.Inf(1), math.Inf(-1)
	for i := range n {
		o[i] = p
		p *= 1 + 0.02*r.NormFloat64()
		c[i] = p
		hi[i] = math.Max(o[i], c[i]) * (1 + 0.01*r.Float64())
		lo[i] = math.Min(o[i], c[i]) * (1 - 0.01*r.Float64())
		mn, mx = math.Min(mn, lo[i]), math.Max(mx, hi[i])
	}
	yOf := func(v float64) int { return bottom - int((v-mn)/(mx-mn+1e-9)*float64(bottom-top)) }
	bw := (right - left) / n
	for i := range n {
		col := cRed
		if c[i] < o[i] {
			col = cGreen
		}
		x := left + i*bw + bw/2
		fillRect(img, x, yOf(hi[i]), x+1, yOf(lo[i])+1, col)
		y0, y1 := yOf(math.Max(o[i], c[i])), yOf(math.Min(o[i], c[i]))
		fillRect(img, x-bw/2+1, y0, x+bw/2, max(y1, y0+1), col)
		// volume
		v := 5 + r.IntN(35)
		fillRect(img, x-bw/2+1, h-8-v, x+bw/2, h-8, col)
	}
	for i := range 5 {
		fillRect(img, right+6, top+i*(bottom-top)/4-3, w-4, top+i*(bottom-top)/4+3, color.RGBA{90, 96, 110, 255})
	}
	return img
}

// makeGIF draws a small animated sticker: a face that nods and changes mood.
// It paints palette indexes directly; converting RGBA frames to a palette
// costs more than everything else in the generator.
func makeGIF(r *rand.Rand, w, h int) ([]byte, error) {
	face := pick(r, []color.RGBA{{255, 200, 60, 255}, {255, 160, 180, 255}, {140, 200, 255, 255}, {170, 230, 140, 255}})
	pal := color.Palette{cWhite, face, color.RGBA{40, 40, 40, 255}, color.RGBA{120, 40, 40, 255}, cRed}
	anim := &gif.GIF{LoopCount: 0}
	frames := 4 + r.IntN(3)
	for f := range frames {
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		dy := 4 * math.Sin(float64(f)/float64(frames)*2*math.Pi)
		cx, cy := float64(w)/2, float64(h)/2+dy
		discIdx(img, cx, cy, float64(w)*0.4, 1)
		discIdx(img, cx-14, cy-10, 5, 2)
		discIdx(img, cx+14, cy-10, 5, 2)
		smile := 1.0
		if f%2 == 1 {
			smile = -0.4
		}
		for x := -18; x <= 18; x++ {
			y := int(cy + 14 + smile*float64(x*x)/40)
			for k := range 3 {
				img.SetColorIndex(int(cx)+x, y+k, 3)
			}
		}
		if f == frames-1 {
			discIdx(img, cx+28, cy-28, 6, 4) // a blush of colour on the last frame
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 12)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func discIdx(img *image.Paletted, cx, cy, rad float64, idx uint8) {
	for y := int(cy - rad); y <= int(cy+rad); y++ {
		for x := int(cx - rad); x <= int(cx+rad); x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			if dx*dx+dy*dy <= rad*rad {
				img.SetColorIndex(x, y, idx)
			}
		}
	}
}

// makePNG draws a static sticker: a thumbs-up-ish badge or a heart.
func makePNG(r *rand.Rand, w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h)) // transparent background
	col := pick(r, []color.RGBA{cRed, cOrange, cBlue, {230, 80, 150, 255}})
	cx, cy := float64(w)/2, float64(h)/2
	if r.IntN(2) == 0 {
		// heart: two discs and a triangle
		disc(img, cx-14, cy-8, 18, col)
		disc(img, cx+14, cy-8, 18, col)
		for y := int(cy - 6); y < int(cy+30); y++ {
			half := int(cy+30) - y
			fillRect(img, int(cx)-half, y, int(cx)+half, y+1, col)
		}
	} else {
		disc(img, cx, cy, float64(w)*0.42, col)
		fillRect(img, int(cx)-14, int(cy)-4, int(cx)+16, int(cy)+20, cWhite)
		fillRect(img, int(cx)-6, int(cy)-26, int(cx)+4, int(cy)-2, cWhite)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
