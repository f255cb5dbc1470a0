package demo

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The media pool: a few hundred distinct files that messages reuse. WeCom
// gives every message its own sdkfileid, but distinct bytes are what an
// archive stores and dedups, and a small pool keeps `wxarchive demo` fast.
// Each file's bytes depend only on (seed, pool index), so a file is built
// lazily on first use and the output is still byte-identical across runs.

type mediaKind uint8

const (
	mImage mediaKind = iota
	mVoice
	mVideo
	mFile
	mEmotion
	numMediaKinds
)

const (
	fPDF = iota
	fDOCX
	fXLSX
	fTXT
	fCSV
	numFileKinds
)

type mediaItem struct {
	kind  mediaKind
	sub   uint8 // image style, file kind, or emotion 1=gif 2=png (the WeCom emotion type)
	name  string
	ext   string
	secs  int // voice and video play_length
	w, h  int // emotion size
	id    string
	md5   string
	size  int
	built bool
	title string // file title used in contents
}

type mediaPool struct {
	seed   int64
	stamp  time.Time // fixed modification time inside zip/PDF files
	items  []mediaItem
	byKind [numMediaKinds][]int
	byFile [numFileKinds][]int
}

var fileNames = [numFileKinds][]string{
	fPDF: {"{fund}产品说明书.pdf", "{fund}基金合同.pdf", "风险揭示书.pdf", "{q}资产配置建议.pdf", "{sector}行业深度报告.pdf",
		"Fee_Schedule_2026.pdf", "港股通业务介绍.pdf", "Weekly_Strategy.pdf", "投资者适当性告知书.pdf", "{product}产品要素表.pdf"},
	fDOCX: {"会议纪要.docx", "KYC补充材料清单.docx", "客户拜访记录.docx", "{event}邀请函.docx", "Meeting_Notes.docx", "{sector}调研纪要.docx"},
	fXLSX: {"客户持仓明细.xlsx", "{month}月业绩统计.xlsx", "路演排期表.xlsx", "Fee_Comparison.xlsx", "新客户名单.xlsx", "产品收益对比.xlsx"},
	fTXT:  {"会议记录.txt", "notes.txt", "开户所需材料.txt", "电话会要点.txt"},
	fCSV:  {"交易明细.csv", "holdings.csv", "净值数据.csv", "资金流水.csv"},
}

var fileExts = [numFileKinds]string{"pdf", "docx", "xlsx", "txt", "csv"}

func newMediaPool(seed int64, stamp time.Time) *mediaPool {
	p := &mediaPool{seed: seed, stamp: stamp}
	r := newRand(seed, 2)
	used := map[string]bool{}
	add := func(it mediaItem) {
		for {
			it.id = sdkFileID(r)
			if !used[it.id] {
				used[it.id] = true
				break
			}
		}
		p.byKind[it.kind] = append(p.byKind[it.kind], len(p.items))
		if it.kind == mFile {
			p.byFile[it.sub] = append(p.byFile[it.sub], len(p.items))
		}
		p.items = append(p.items, it)
	}
	for i := range 48 {
		add(mediaItem{kind: mImage, sub: uint8(i % numImageStyles)})
	}
	for range 48 {
		// Voice notes are mostly short.
		secs := 2 + r.IntN(12)
		if r.IntN(4) == 0 {
			secs = 10 + r.IntN(50)
		}
		add(mediaItem{kind: mVoice, secs: secs})
	}
	for range 12 {
		add(mediaItem{kind: mVideo, secs: 3 + r.IntN(18)})
	}
	counts := [numFileKinds]int{16, 10, 10, 6, 8}
	tr := &textFiller{r: r}
	for k, n := range counts {
		for range n {
			tpl := pick(r, fileNames[k])
			name := tr.fillSimple(tpl)
			title := name[:len(name)-len(fileExts[k])-1]
			add(mediaItem{kind: mFile, sub: uint8(k), name: name, ext: fileExts[k], title: title})
		}
	}
	for i := range 20 {
		it := mediaItem{kind: mEmotion, sub: 1, w: 120, h: 120}
		if i%5 >= 3 {
			it.sub = 2
			it.w, it.h = 96, 96
		}
		add(it)
	}
	return p
}

// sdkFileID mimics the SDK's ids (base64 of a protobuf holding hex strings)
// in the URL-safe alphabet, so ids are also safe file names.
func sdkFileID(r *rand.Rand) string {
	raw := make([]byte, 0, 100)
	raw = append(raw, 0x0a, 0x40)
	var h [32]byte
	for i := range h {
		h[i] = byte(r.Uint32())
	}
	raw = hex.AppendEncode(raw, h[:])
	raw = append(raw, 0x12, 0x20)
	raw = append(raw, randChars(r, 32)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// build returns the bytes of item i and fills in md5 and size.
func (p *mediaPool) build(i int) ([]byte, error) {
	it := &p.items[i]
	r := newRand(p.seed, 1000+uint64(i))
	var data []byte
	var err error
	switch it.kind {
	case mImage:
		data, err = makeJPEG(r, int(it.sub))
	case mVoice:
		data = makeAMR(r, it.secs)
	case mVideo:
		data, err = makeMP4(r, it.secs)
	case mFile:
		data, err = makeFile(r, it, p.stamp)
	case mEmotion:
		if it.sub == 1 {
			data, err = makeGIF(r, it.w, it.h)
		} else {
			data, err = makePNG(r, it.w, it.h)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("demo: building media %d: %w", i, err)
	}
	sum := md5.Sum(data)
	it.md5 = hex.EncodeToString(sum[:])
	it.size = len(data)
	it.built = true
	return data, nil
}

// AMR-NB at 12.2 kbit/s: one frame per 20 ms, a 1-byte header (mode 7,
// quality bit set: 0x3C) and 31 bytes of payload.
const (
	amrMagic     = "#!AMR\n"
	amrFrameSize = 32
	amrFramesSec = 50
)

func makeAMR(r *rand.Rand, secs int) []byte {
	frames := secs * amrFramesSec
	b := make([]byte, 0, len(amrMagic)+frames*amrFrameSize)
	b = append(b, amrMagic...)
	// The payload is a slowly varying pseudo-signal rather than white noise
	// so the bytes compress a little like speech does; any payload bits form
	// a decodable frame.
	var state uint32 = r.Uint32()
	for f := range frames {
		b = append(b, 0x3C)
		for k := range amrFrameSize - 1 {
			state = state*1664525 + 1013904223
			v := byte(state >> 24)
			if (f/25)%3 == 2 && k > 6 {
				v &= 0x0f // quieter stretches between phrases
			}
			b = append(b, v)
		}
	}
	return b
}

// textFiller fills template slots that need no chat context (file names,
// media text); the chat generator has its own, richer filler.
type textFiller struct {
	r *rand.Rand
}

func (t *textFiller) fillSimple(tpl string) string {
	var out []byte
	for i := 0; i < len(tpl); i++ {
		if tpl[i] != '{' {
			out = append(out, tpl[i])
			continue
		}
		j := i + 1
		for j < len(tpl) && tpl[j] != '}' {
			j++
		}
		switch tpl[i+1 : j] {
		case "fund":
			out = append(out, pick(t.r, funds)...)
		case "sector":
			out = append(out, pick(t.r, sectors)...)
		case "product":
			out = append(out, pick(t.r, products)...)
		case "event":
			out = append(out, pick(t.r, events)...)
		case "q":
			out = append(out, pick(t.r, []string{"2026年三季度", "2026年四季度", "2026年中期", "四季度"})...)
		case "month":
			out = strconv.AppendInt(out, int64(6+t.r.IntN(4)), 10)
		default:
			out = append(out, tpl[i:j+1]...)
		}
		i = j
	}
	return string(out)
}
