package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/transparency-dev/formats/log"
)

// Limits on what a witness or a client reads, so no input decides how much
// memory is used.
const (
	// MaxNoteSize bounds a checkpoint note (with its signatures).
	MaxNoteSize = 16 << 10
	// MaxProofLines is the most consistency proof lines tlog-witness allows.
	MaxProofLines = 63
	// MaxBodySize bounds every request and response body.
	MaxBodySize = MaxNoteSize + (MaxProofLines+2)*48
	// MaxListing bounds a listing of stored sizes.
	MaxListing = 16 << 20
)

// Entry is a checkpoint as a witness stores it. Its fields come from the
// note's text; the signatures are not checked.
type Entry struct {
	Origin string
	Size   uint64
	Root   []byte
	Note   []byte
}

// ParseNote parses a checkpoint note without verifying any signature:
// the text (origin, size, base64 root, extension lines) and at least one
// signature line, as C2SP signed-note writes them. Every problem is an
// error matching ErrMalformed.
func ParseNote(b []byte) (*Entry, error) {
	fail := func(format string, a ...any) (*Entry, error) {
		return nil, fmt.Errorf("%w: checkpoint note: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	if len(b) > MaxNoteSize {
		return fail("%d bytes, more than %d", len(b), MaxNoteSize)
	}
	if !utf8.Valid(b) {
		return fail("not UTF-8")
	}
	i := bytes.LastIndex(b, []byte("\n\n"))
	if i < 0 {
		return fail("no blank line before the signatures")
	}
	text, sigs := b[:i+1], b[i+2:]
	if _, err := ParseSignatureLines(sigs); err != nil {
		return fail("%v", err)
	}
	for _, c := range string(text) {
		if c < 0x20 && c != '\n' {
			return fail("control character %U in the text", c)
		}
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal(text); err != nil {
		return fail("%v", err)
	}
	if len(cp.Hash) != 32 {
		return fail("root hash is %d bytes, not 32", len(cp.Hash))
	}
	// One checkpoint has one encoding: a decimal with a sign or leading
	// zeros, or base64 with stray bits, would let two files that differ
	// claim the same tree.
	if !bytes.HasPrefix(text, cp.Marshal()) {
		return fail("size or root hash not in canonical form")
	}
	return &Entry{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Note: bytes.Clone(b)}, nil
}

// checkDecimal accepts what C2SP calls an ASCII decimal: digits, no sign,
// no leading zero (except "0"), below 2^63.
func checkDecimal(s string) error {
	if s == "" {
		return fmt.Errorf("empty number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return fmt.Errorf("%q has a leading zero", s)
	}
	if _, err := strconv.ParseUint(s, 10, 63); err != nil {
		return fmt.Errorf("%q is out of range", s)
	}
	return nil
}

func parseDecimal(s string) (uint64, error) {
	if err := checkDecimal(s); err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 63)
}

// ParseSignatureLines parses note signature lines, each "— <name>
// <base64>\n" (the dash is U+2014), and returns them without their final
// newline. There must be at least one.
func ParseSignatureLines(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("no signature lines")
	}
	if b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("signature lines do not end in a newline")
	}
	var out []string
	for n, line := range strings.Split(string(b[:len(b)-1]), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			return nil, fmt.Errorf("signature line %d does not start with \"— \"", n+1)
		}
		name, sig, ok := strings.Cut(rest, " ")
		if !ok || name == "" || strings.ContainsAny(name, "+") || strings.ContainsFunc(name, isSpaceOrControl) {
			return nil, fmt.Errorf("signature line %d: bad key name", n+1)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("signature line %d: bad base64 signature", n+1)
		}
		out = append(out, line)
	}
	return out, nil
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029
}

// AddCheckpoint is a tlog-witness add-checkpoint request.
type AddCheckpoint struct {
	Old        uint64
	Proof      [][]byte
	Checkpoint []byte
}

// Marshal encodes the request body.
func (r *AddCheckpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.Old)
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// ParseAddCheckpoint parses an add-checkpoint body: "old N", up to 63
// base64 hashes, an empty line, then the checkpoint note. Errors match
// ErrMalformed and name the line.
func ParseAddCheckpoint(b []byte) (*AddCheckpoint, error) {
	fail := func(line int, format string, a ...any) (*AddCheckpoint, error) {
		return nil, fmt.Errorf("%w: add-checkpoint line %d: %s", ErrMalformed, line, fmt.Sprintf(format, a...))
	}
	if len(b) > MaxBodySize {
		return fail(1, "body of %d bytes, more than %d", len(b), MaxBodySize)
	}
	r := &AddCheckpoint{}
	rest := b
	next := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		line := string(rest[:i])
		rest = rest[i+1:]
		return line, true
	}
	line, ok := next()
	if !ok {
		return fail(1, "no old size line")
	}
	num, ok := strings.CutPrefix(line, "old ")
	if !ok {
		return fail(1, "want \"old <size>\"")
	}
	old, err := parseDecimal(num)
	if err != nil {
		return fail(1, "old size: %v", err)
	}
	r.Old = old
	for n := 2; ; n++ {
		line, ok := next()
		if !ok {
			return fail(n, "no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(r.Proof) == MaxProofLines {
			return fail(n, "more than %d proof lines", MaxProofLines)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(h) != 32 {
			return fail(n, "a proof line must be one base64 SHA-256 hash")
		}
		r.Proof = append(r.Proof, h)
	}
	if len(rest) == 0 {
		return fail(len(r.Proof)+3, "no checkpoint")
	}
	r.Checkpoint = bytes.Clone(rest)
	return r, nil
}

// ParseSize parses a tlog-witness 409 body (text/x.tlog.size): a decimal
// size and a newline.
func ParseSize(b []byte) (uint64, error) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok {
		return 0, fmt.Errorf("%w: size body does not end in a newline", ErrMalformed)
	}
	n, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("%w: size body: %v", ErrMalformed, err)
	}
	return n, nil
}

// ParseListing parses a checkpoint store listing: one decimal size per
// line, strictly increasing (docs/FORMAT.md §9.2). Errors name the line.
func ParseListing(b []byte) ([]uint64, error) {
	if len(b) > MaxListing {
		return nil, fmt.Errorf("%w: listing of %d bytes, more than %d", ErrMalformed, len(b), MaxListing)
	}
	if len(b) == 0 {
		return nil, nil
	}
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok {
		return nil, fmt.Errorf("%w: listing does not end in a newline", ErrMalformed)
	}
	var out []uint64
	for i, line := range strings.Split(s, "\n") {
		n, err := parseDecimal(line)
		if err != nil {
			return nil, fmt.Errorf("%w: listing line %d: %v", ErrMalformed, i+1, err)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%w: listing line %d: %d does not follow %d", ErrMalformed, i+1, n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// FormatListing is the inverse of ParseListing.
func FormatListing(sizes []uint64) []byte {
	var b []byte
	for _, n := range sizes {
		b = strconv.AppendUint(b, n, 10)
		b = append(b, '\n')
	}
	return b
}

// sample returns at most max of sizes, evenly spaced, always including
// the last (max <= 0: all).
func sample(sizes []uint64, max int) []uint64 {
	if max <= 0 || len(sizes) <= max {
		return sizes
	}
	out := make([]uint64, 0, max)
	step := float64(len(sizes)-1) / float64(max-1)
	for i := 0; i < max; i++ {
		out = append(out, sizes[int(float64(i)*step+0.5)])
	}
	out[len(out)-1] = sizes[len(sizes)-1]
	return out
}
