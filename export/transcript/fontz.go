package transcript

import (
	"encoding/binary"
	"hash/adler32"
	"sort"
)

// fontCoder zlib-compresses a face's subsets with one Huffman code made
// once for the face (RFC 1950/1951: one dynamic-Huffman block of
// literals only). A subset is a few dozen KB of glyph outlines, in which
// LZ77 finds little to match: zlib's BestSpeed makes it 70 % of its
// size, Huffman coding alone about 82 %, and coding with a code built
// beforehand from the whole face's byte frequencies about the same
// (measured in TestFontCoder) while skipping, per document, the histogram,
// the code construction and the match search — a table look-up per byte.
type fontCoder struct {
	code [257]uint32 // bit-reversed code | length<<16, per literal; 256 ends the block
	// The zlib header and the block header (constant for the face): the
	// whole bytes, and the bits of a last partial byte.
	head     []byte
	headBits uint64
	headN    uint
	// Each simple glyph of the face (padded to four bytes) coded once:
	// glyph g's bits are bits[at[g]:], nbits[g] of them; nbits[g] is
	// noBits for a composite glyph (a subset renumbers its components).
	bits  []uint64
	at    []uint32
	nbits []uint32
}

const noBits = ^uint32(0)

// codeGlyphs codes each of the face's simple glyphs, once.
func (c *fontCoder) codeGlyphs(s *subsetter) {
	c.at = make([]uint32, s.numGlyphs)
	c.nbits = make([]uint32, s.numGlyphs)
	c.bits = make([]uint64, 0, len(s.tables["glyf"])/9)
	var pad [3]byte
	for g := range s.numGlyphs {
		data, err := s.glyph(g)
		if err != nil || (len(data) >= 2 && int16(binary.BigEndian.Uint16(data)) < 0) {
			c.nbits[g] = noBits
			continue
		}
		c.at[g] = uint32(len(c.bits))
		w := wordWriter{out: c.bits}
		for _, b := range data {
			w.code(c.code[b])
		}
		for _, b := range pad[:(4-len(data)%4)%4] {
			w.code(c.code[b])
		}
		c.nbits[g] = uint32(64*(len(w.out)-int(c.at[g])) + int(w.n))
		if w.n > 0 {
			w.out = append(w.out, w.acc)
		}
		c.bits = w.out
	}
}

// wordWriter packs codes into 64-bit words, least significant bit first.
type wordWriter struct {
	out []uint64
	acc uint64
	n   uint
}

func (w *wordWriter) code(e uint32) {
	nb := uint(e >> 16)
	w.acc |= uint64(e&0xFFFF) << w.n
	if w.n+nb >= 64 {
		w.out = append(w.out, w.acc)
		w.acc = uint64(e&0xFFFF) >> (64 - w.n)
		w.n = w.n + nb - 64
		return
	}
	w.n += nb
}

// newFontCoder builds the code from the frequencies of sample's bytes.
func newFontCoder(sample []byte) *fontCoder {
	var freq [257]int
	for _, b := range sample {
		freq[b]++
	}
	for i := range freq {
		freq[i]++ // every byte codable
	}
	lit := huffLengths(freq[:], 15)
	c := &fontCoder{}
	codes := canonical(lit)
	for i := range c.code {
		c.code[i] = uint32(reverse(codes[i], lit[i])) | uint32(lit[i])<<16
	}

	// The sequence of code lengths the block header transmits: 257
	// literal/length codes, then two distance codes of one bit each (a
	// complete code every decoder accepts; never used).
	seq := append(append([]uint8(nil), lit...), 1, 1)
	var clFreq [19]int
	for _, l := range seq {
		clFreq[l]++
	}
	clLen := huffLengths(clFreq[:], 7)
	clCode := canonical(clLen)
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	numCL := 4
	for i, sym := range order {
		if clLen[sym] != 0 {
			numCL = max(numCL, i+1)
		}
	}
	w := &bitWriter{}
	w.bits(1, 1)               // BFINAL
	w.bits(2, 2)               // BTYPE: dynamic Huffman
	w.bits(0, 5)               // HLIT: 257 codes
	w.bits(1, 5)               // HDIST: 2 codes
	w.bits(uint64(numCL-4), 4) // HCLEN
	for _, sym := range order[:numCL] {
		w.bits(uint64(clLen[sym]), 3)
	}
	for _, l := range seq {
		w.bits(uint64(reverse(clCode[l], clLen[l])), uint(clLen[l]))
	}
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
	c.head, c.headBits, c.headN = w.out, w.acc, w.n
	return c
}

// compress returns data as a zlib stream.
func (c *fontCoder) compress(data []byte) []byte {
	return c.compressWith(data, 0, nil, 0)
}

// compressWith returns data as a zlib stream in up to three parts: its
// first stored bytes as they are (a stored block), then preLen bytes sent
// as pre — raw deflate blocks made beforehand of exactly those bytes,
// ending byte-aligned and not final (a flate.Writer's output up to
// Flush) — and the rest with the code.
func (c *fontCoder) compressWith(data []byte, stored int, pre []byte, preLen int) []byte {
	z := c.start(data, stored, pre)
	z.codeBytes(c, data[stored+preLen:])
	return z.finish(c, data)
}

// compressSubset is compressWith for a subset s built: its directory
// stored, its tables copied from the face as compressed once (s.constZ),
// each simple glyph of its glyf table (at glyfAt, the face's glyphs old)
// as coded once, the rest coded.
func (c *fontCoder) compressSubset(s *subsetter, ttf []byte, glyfAt int, old []int) []byte {
	z := c.start(ttf, s.dirLen, s.constZ)
	z.codeBytes(c, ttf[s.dirLen+s.constLen:glyfAt])
	at := glyfAt
	for _, g := range old {
		data, _ := s.glyph(g)
		size := (len(data) + 3) &^ 3
		if c.nbits == nil || c.nbits[g] == noBits {
			z.codeBytes(c, ttf[at:at+size])
		} else {
			z.putWords(c.bits[c.at[g]:], uint(c.nbits[g]))
		}
		at += size
	}
	z.codeBytes(c, ttf[at:])
	return z.finish(c, ttf)
}

// zstream is a zlib stream being written: whole bytes in out, then n
// bits (n < 64) in acc.
type zstream struct {
	out []byte
	acc uint64
	n   uint
}

func (c *fontCoder) start(data []byte, stored int, pre []byte) *zstream {
	z := &zstream{out: make([]byte, 0, 16+stored+len(pre)+len(data)), acc: c.headBits, n: c.headN}
	z.out = append(z.out, 0x78, 0x01) // zlib: deflate, 32 KiB window, fastest
	if stored > 0 {
		// BFINAL 0, BTYPE 00 and padding in one byte, LEN, NLEN.
		z.out = append(z.out, 0, byte(stored), byte(stored>>8), ^byte(stored), ^byte(stored>>8))
		z.out = append(z.out, data[:stored]...)
	}
	z.out = append(z.out, pre...)
	z.out = append(z.out, c.head...)
	return z
}

// codeBytes codes data, a table look-up per byte.
func (z *zstream) codeBytes(c *fontCoder, data []byte) {
	acc, n, out := z.acc, z.n, z.out
	for _, b := range data {
		if n >= 32 {
			out = binary.LittleEndian.AppendUint32(out, uint32(acc))
			acc >>= 32
			n -= 32
		}
		e := c.code[b]
		acc |= uint64(e&0xFFFF) << n
		n += uint(e >> 16)
	}
	z.acc, z.n, z.out = acc, n, out
}

// putWords appends nb bits packed in words.
func (z *zstream) putWords(words []uint64, nb uint) {
	acc, n, out := z.acc, z.n, z.out
	for i := 0; nb > 0; i++ {
		x, r := words[i], min(nb, 64)
		nb -= r
		acc |= x << n
		if n+r >= 64 {
			out = binary.LittleEndian.AppendUint64(out, acc)
			acc = x >> (64 - n) // 0 when n is 0
			n = n + r - 64
		} else {
			n += r
		}
	}
	z.acc, z.n, z.out = acc, n, out
}

// finish ends the block and the stream: the end-of-block code, the last
// bits padded to a byte, the Adler-32 of data.
func (z *zstream) finish(c *fontCoder, data []byte) []byte {
	z.codeBytes(c, nil)
	if z.n >= 32 {
		z.out = binary.LittleEndian.AppendUint32(z.out, uint32(z.acc))
		z.acc >>= 32
		z.n -= 32
	}
	e := c.code[256]
	z.acc |= uint64(e&0xFFFF) << z.n
	z.n += uint(e >> 16)
	for z.n > 0 {
		z.out = append(z.out, byte(z.acc))
		z.acc >>= 8
		if z.n < 8 {
			break
		}
		z.n -= 8
	}
	return binary.BigEndian.AppendUint32(z.out, adler32.Checksum(data))
}

type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, nb uint) {
	w.acc |= v << w.n
	w.n += nb
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// huffLengths returns Huffman code lengths for freq (every symbol with a
// frequency gets a code), at most maxLen bits: frequencies are halved
// until the tree is shallow enough. Fewer than two symbols are padded
// to two, so the code is complete.
func huffLengths(freq []int, maxLen int) []uint8 {
	f := append([]int(nil), freq...)
	used := 0
	for _, v := range f {
		if v > 0 {
			used++
		}
	}
	for i := 0; used < 2 && i < len(f); i++ {
		if f[i] == 0 {
			f[i] = 1
			used++
		}
	}
	for {
		lens := huffBuild(f)
		deepest := uint8(0)
		for _, l := range lens {
			deepest = max(deepest, l)
		}
		if int(deepest) <= maxLen {
			return lens
		}
		for i := range f {
			if f[i] > 0 {
				f[i] = (f[i] + 1) / 2
			}
		}
	}
}

// huffBuild is the classic construction: join the two lightest nodes
// until one is left; a symbol's length is its leaf's depth. Ties are
// broken by symbol order, so the code is deterministic.
func huffBuild(freq []int) []uint8 {
	type node struct {
		w, order    int
		left, right int // children, -1 for a leaf
		sym         int
	}
	var nodes []node
	var live []int
	for s, v := range freq {
		if v > 0 {
			nodes = append(nodes, node{w: v, order: len(nodes), left: -1, right: -1, sym: s})
			live = append(live, len(nodes)-1)
		}
	}
	less := func(a, b int) bool {
		if nodes[a].w != nodes[b].w {
			return nodes[a].w < nodes[b].w
		}
		return nodes[a].order < nodes[b].order
	}
	for len(live) > 1 {
		sort.Slice(live, func(i, j int) bool { return less(live[i], live[j]) })
		a, b := live[0], live[1]
		nodes = append(nodes, node{w: nodes[a].w + nodes[b].w, order: len(nodes), left: a, right: b, sym: -1})
		live = append(live[2:], len(nodes)-1)
	}
	lens := make([]uint8, len(freq))
	var walk func(i int, depth uint8)
	walk = func(i int, depth uint8) {
		if nodes[i].left < 0 {
			lens[nodes[i].sym] = max(depth, 1)
			return
		}
		walk(nodes[i].left, depth+1)
		walk(nodes[i].right, depth+1)
	}
	walk(live[0], 0)
	return lens
}

// canonical assigns the canonical codes of RFC 1951 §3.2.2 to lengths.
func canonical(lens []uint8) []uint16 {
	var count [16]int
	for _, l := range lens {
		if l > 0 {
			count[l]++
		}
	}
	var next [16]int
	code := 0
	for bits := 1; bits < 16; bits++ {
		code = (code + count[bits-1]) << 1
		next[bits] = code
	}
	codes := make([]uint16, len(lens))
	for s, l := range lens {
		if l > 0 {
			codes[s] = uint16(next[l])
			next[l]++
		}
	}
	return codes
}

// reverse is code's n bits in reverse order: deflate sends Huffman
// codes most significant bit first into a stream packed from the least
// significant bit.
func reverse(code uint16, n uint8) uint16 {
	var r uint16
	for i := uint8(0); i < n; i++ {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}
