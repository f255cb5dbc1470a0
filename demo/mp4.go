package demo

import (
	"encoding/binary"
	"image/color"
	"math/rand/v2"
)

// Videos are real, playable H.264 in MP4, without an encoder: key frames use
// I_PCM macroblocks (raw samples, legal in the Baseline profile) and the
// frames between them are P frames whose macroblocks are all skipped. The
// result is a small slide show (a chart that builds up) that any player and
// ffprobe accept, with a duration equal to play_length.

const (
	vidW, vidH   = 128, 96
	vidMBW       = vidW / 16
	vidMBH       = vidH / 16
	vidFPS       = 5
	vidKeyEvery  = 3 * vidFPS // one I_PCM frame every 3 s keeps files ~20 KB/s
	vidTimescale = 1000
)

type bitWriter struct {
	b   []byte
	cur byte
	n   uint8
}

func (w *bitWriter) bit(v uint) {
	w.cur = w.cur<<1 | byte(v&1)
	w.n++
	if w.n == 8 {
		w.b = append(w.b, w.cur)
		w.cur, w.n = 0, 0
	}
}

func (w *bitWriter) bits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(uint(v >> uint(i)))
	}
}

// ue writes an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(x, n+1)
}

func (w *bitWriter) se(v int) {
	if v <= 0 {
		w.ue(uint(-2 * v))
	} else {
		w.ue(uint(2*v - 1))
	}
}

func (w *bitWriter) alignZero() {
	for w.n != 0 {
		w.bit(0)
	}
}

func (w *bitWriter) byteAligned() bool { return w.n == 0 }

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() []byte {
	w.bit(1)
	w.alignZero()
	return w.b
}

// nal wraps an RBSP in a NAL unit, inserting emulation-prevention bytes.
func nal(header byte, rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+len(rbsp)/64+2)
	out = append(out, header)
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

const (
	h264Profile = 66 // Baseline
	h264Compat  = 0xC0
	h264Level   = 20
)

func h264SPS() []byte {
	var w bitWriter
	w.bits(h264Profile, 8)
	w.bits(h264Compat, 8)
	w.bits(h264Level, 8)
	w.ue(0) // seq_parameter_set_id
	w.ue(4) // log2_max_frame_num_minus4: frame_num is 8 bits
	w.ue(2) // pic_order_cnt_type 2: output order = decode order
	w.ue(1) // max_num_ref_frames
	w.bit(0)
	w.ue(vidMBW - 1)
	w.ue(vidMBH - 1)
	w.bit(1) // frame_mbs_only_flag
	w.bit(1) // direct_8x8_inference_flag
	w.bit(0) // frame_cropping_flag
	w.bit(0) // vui_parameters_present_flag
	return nal(0x67, w.trailing())
}

func h264PPS() []byte {
	var w bitWriter
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bit(0)     // entropy_coding_mode_flag: CAVLC
	w.bit(0)     // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bit(0)     // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.se(0)      // pic_init_qp_minus26
	w.se(0)      // pic_init_qs_minus26
	w.se(0)      // chroma_qp_index_offset
	w.bit(1)     // deblocking_filter_control_present_flag
	w.bit(0)     // constrained_intra_pred_flag
	w.bit(0)     // redundant_pic_cnt_present_flag
	return nal(0x68, w.trailing())
}

// yuvFrame holds one 4:2:0 picture in studio range.
type yuvFrame struct {
	y      [vidW * vidH]byte
	cb, cr [vidW * vidH / 4]byte
}

func rgbToYCbCr(c color.RGBA) (byte, byte, byte) {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	y := 16 + (65.481*r+128.553*g+24.966*b)/255
	cb := 128 + (-37.797*r-74.203*g+112*b)/255
	cr := 128 + (112*r-93.786*g-18.214*b)/255
	cl := func(v, lo, hi float64) byte {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		return byte(v + 0.5)
	}
	return cl(y, 16, 235), cl(cb, 16, 240), cl(cr, 16, 240)
}

func h264IDR(f *yuvFrame, idrID uint) []byte {
	var w bitWriter
	w.ue(0)      // first_mb_in_slice
	w.ue(7)      // slice_type: I, all slices
	w.ue(0)      // pic_parameter_set_id
	w.bits(0, 8) // frame_num
	w.ue(idrID)  // idr_pic_id
	w.bit(0)     // no_output_of_prior_pics_flag
	w.bit(0)     // long_term_reference_flag
	w.se(0)      // slice_qp_delta
	w.ue(1)      // disable_deblocking_filter_idc
	for my := range vidMBH {
		for mx := range vidMBW {
			w.ue(25) // mb_type I_PCM
			w.alignZero()
			for y := range 16 {
				off := (my*16+y)*vidW + mx*16
				w.b = append(w.b, f.y[off:off+16]...)
			}
			for _, plane := range [][]byte{f.cb[:], f.cr[:]} {
				for y := range 8 {
					off := (my*8+y)*(vidW/2) + mx*8
					w.b = append(w.b, plane[off:off+8]...)
				}
			}
		}
	}
	if !w.byteAligned() {
		panic("demo: I_PCM slice not byte aligned")
	}
	return nal(0x65, w.trailing())
}

func h264PSkip(frameNum uint) []byte {
	var w bitWriter
	w.ue(0)                     // first_mb_in_slice
	w.ue(5)                     // slice_type: P, all slices
	w.ue(0)                     // pic_parameter_set_id
	w.bits(uint64(frameNum), 8) // frame_num
	w.bit(0)                    // num_ref_idx_active_override_flag
	w.bit(0)                    // ref_pic_list_modification_flag_l0
	w.bit(0)                    // adaptive_ref_pic_marking_mode_flag
	w.se(0)                     // slice_qp_delta
	w.ue(1)                     // disable_deblocking_filter_idc
	w.ue(vidMBW * vidMBH)       // mb_skip_run: every macroblock
	return nal(0x41, w.trailing())
}

// drawSlide paints key frame k of n: a titled card whose bar chart grows.
func drawSlide(f *yuvFrame, r *rand.Rand, bg color.RGBA, bars []float64, k, n int) {
	img := newCanvas(vidW, vidH, bg)
	fillRect(img, 8, 8, vidW-8, 20, color.RGBA{255, 255, 255, 255})
	fillRect(img, 12, 12, 12+40+r.IntN(40), 16, cText)
	fillRect(img, 8, 26, vidW-8, vidH-14, color.RGBA{250, 250, 252, 255})
	shown := 1 + (len(bars)-1)*k/max(1, n-1)
	bw := (vidW - 24) / len(bars)
	for i := 0; i < shown; i++ {
		h := int(bars[i] * float64(vidH-48))
		c := cRed
		if i%3 == 2 {
			c = cGreen
		}
		fillRect(img, 14+i*bw, vidH-18-h, 14+i*bw+bw-3, vidH-18, c)
	}
	// progress bar along the bottom
	fillRect(img, 0, vidH-6, vidW*(k+1)/n, vidH, cOrange)
	for y := range vidH {
		for x := range vidW {
			yy, cb, cr := rgbToYCbCr(img.RGBAAt(x, y))
			f.y[y*vidW+x] = yy
			if x%2 == 0 && y%2 == 0 {
				f.cb[(y/2)*(vidW/2)+x/2] = cb
				f.cr[(y/2)*(vidW/2)+x/2] = cr
			}
		}
	}
}

func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint32(b, uint32(n))
	copy(b[4:], typ)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func u16s(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

var unityMatrix = u32s(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)

func makeMP4(r *rand.Rand, secs int) ([]byte, error) {
	nFrames := secs * vidFPS
	bg := pick(r, []color.RGBA{{25, 90, 200, 255}, {200, 40, 45, 255}, {20, 130, 110, 255}, {60, 60, 80, 255}})
	bars := make([]float64, 6+r.IntN(4))
	for i := range bars {
		bars[i] = 0.2 + 0.8*r.Float64()
	}
	nKeys := (nFrames + vidKeyEvery - 1) / vidKeyEvery
	var samples [][]byte
	var sync []uint32
	var frame yuvFrame
	for i := range nFrames {
		var n []byte
		if i%vidKeyEvery == 0 {
			k := i / vidKeyEvery
			drawSlide(&frame, r, bg, bars, k, nKeys)
			n = h264IDR(&frame, uint(k%2))
			sync = append(sync, uint32(i+1))
		} else {
			n = h264PSkip(uint(i % vidKeyEvery))
		}
		s := make([]byte, 4, 4+len(n))
		binary.BigEndian.PutUint32(s, uint32(len(n)))
		samples = append(samples, append(s, n...))
	}
	sps, pps := h264SPS(), h264PPS()
	durMS := uint32(secs * 1000)
	delta := uint32(vidTimescale / vidFPS)

	ftyp := box("ftyp", []byte("isom"), u32s(0x200), []byte("isomiso2avc1mp41"))
	moov := func(chunkOffset uint32) []byte {
		mvhd := box("mvhd", u32s(0, 0, 0, vidTimescale, durMS, 0x00010000), u16s(0x0100, 0), make([]byte, 8), unityMatrix, make([]byte, 24), u32s(2))
		tkhd := box("tkhd", u32s(3, 0, 0, 1, 0, durMS), make([]byte, 8), u16s(0, 0, 0, 0), unityMatrix, u32s(vidW<<16, vidH<<16))
		mdhd := box("mdhd", u32s(0, 0, 0, vidTimescale, durMS), u16s(0x55C4, 0))
		hdlr := box("hdlr", u32s(0, 0), []byte("vide"), make([]byte, 12), []byte("VideoHandler\x00"))
		vmhd := box("vmhd", u32s(1), make([]byte, 8))
		dinf := box("dinf", box("dref", u32s(0, 1), box("url ", u32s(1))))
		avcC := box("avcC", []byte{1, h264Profile, h264Compat, h264Level, 0xFF, 0xE1}, u16s(uint16(len(sps))), sps, []byte{1}, u16s(uint16(len(pps))), pps)
		compressor := make([]byte, 32)
		compressor[0] = byte(copy(compressor[1:], "wxarchive demo I_PCM"))
		avc1 := box("avc1", make([]byte, 6), u16s(1, 0, 0), make([]byte, 12), u16s(vidW, vidH), u32s(0x00480000, 0x00480000, 0), u16s(1), compressor, u16s(0x0018, 0xFFFF), avcC)
		stsd := box("stsd", u32s(0, 1), avc1)
		stts := box("stts", u32s(0, 1, uint32(nFrames), delta))
		stss := box("stss", u32s(0, uint32(len(sync))), u32s(sync...))
		stsc := box("stsc", u32s(0, 1, 1, uint32(nFrames), 1))
		sizes := make([]uint32, len(samples))
		for i, s := range samples {
			sizes[i] = uint32(len(s))
		}
		stsz := box("stsz", u32s(0, 0, uint32(nFrames)), u32s(sizes...))
		stco := box("stco", u32s(0, 1, chunkOffset))
		stbl := box("stbl", stsd, stts, stss, stsc, stsz, stco)
		minf := box("minf", vmhd, dinf, stbl)
		mdia := box("mdia", mdhd, hdlr, minf)
		trak := box("trak", tkhd, mdia)
		return box("moov", mvhd, trak)
	}
	// moov's size does not depend on the offset value, so build it twice.
	offset := uint32(len(ftyp) + len(moov(0)) + 8)
	mdat := box("mdat", samples...)
	out := make([]byte, 0, len(ftyp)+int(offset)+len(mdat))
	out = append(out, ftyp...)
	out = append(out, moov(offset)...)
	out = append(out, mdat...)
	return out, nil
}
