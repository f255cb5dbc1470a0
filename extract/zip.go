package extract

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// archive is an opened zip plus the inflation budget of one extraction.
type archive struct {
	files  []*zip.File            // in central-directory order
	byName map[string][]*zip.File // lower-cased name → entries with that name
	lim    Limits
	left   int64 // bytes that may still be inflated, over all entries
}

// openZip parses the central directory and enforces the entry limit.
func openZip(data []byte, lim Limits) (*archive, error) {
	// Every central-directory record starts with this signature, so the
	// count bounds the records archive/zip would allocate for. Checking it
	// first refuses a directory of a million empty records before it
	// costs hundreds of megabytes; the exact count is checked after.
	if n := bytes.Count(data, []byte("PK\x01\x02")); n > lim.MaxZipEntries {
		return nil, fmt.Errorf("%w: about %d zip entries, limit %d", ErrTooLarge, n, lim.MaxZipEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	// ErrInsecurePath comes with a usable reader; entry names never
	// become paths here, so "../" names are harmless.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(zr.File) > lim.MaxZipEntries {
		return nil, fmt.Errorf("%w: %d zip entries, limit %d", ErrTooLarge, len(zr.File), lim.MaxZipEntries)
	}
	a := &archive{files: zr.File, byName: make(map[string][]*zip.File, len(zr.File)), lim: lim, left: lim.MaxUncompressed}
	for _, f := range zr.File {
		// OPC part names compare case-insensitively.
		name := strings.ToLower(f.Name)
		a.byName[name] = append(a.byName[name], f)
	}
	return a, nil
}

// named returns the entries called name (lower case), in directory order.
func (a *archive) named(name string) []*zip.File { return a.byName[name] }

// glob returns entries named prefix + middle + suffix (all lower case),
// where middle is non-empty, has no '/', and if digits is set is all
// digits; sorted in natural order so slide2 comes before slide10.
func (a *archive) glob(prefix, suffix string, digits bool) []*zip.File {
	var out []*zip.File
	for _, f := range a.files {
		name := strings.ToLower(f.Name)
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) || len(name) <= len(prefix)+len(suffix) {
			continue
		}
		middle := name[len(prefix) : len(name)-len(suffix)]
		if strings.Contains(middle, "/") || digits && strings.Trim(middle, "0123456789") != "" {
			continue
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return naturalLess(strings.ToLower(out[i].Name), strings.ToLower(out[j].Name))
	})
	return out
}

// open returns the inflated content of f, failing with ErrTooLarge as soon
// as more bytes come out than the entry or archive budget allows. Counting
// the bytes actually inflated is the only defence against zip bombs: the
// sizes in the headers are whatever the attacker wrote.
func (a *archive) open(f *zip.File) (io.ReadCloser, error) {
	rc, err := f.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &cappedReader{rc: rc, a: a, entryLeft: a.lim.MaxEntrySize}, nil
}

type cappedReader struct {
	rc        io.ReadCloser
	a         *archive
	entryLeft int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	// Ask for at most one byte beyond the budget: enough to detect the
	// overflow without inflating further.
	if room := min(c.entryLeft, c.a.left); room < int64(len(p)) {
		p = p[:room+1] // room < len(p): cannot overflow
	}
	n, err := c.rc.Read(p)
	c.entryLeft -= int64(n)
	c.a.left -= int64(n)
	switch {
	case c.entryLeft < 0:
		return 0, fmt.Errorf("%w: entry inflates past %d bytes", ErrTooLarge, c.a.lim.MaxEntrySize)
	case c.a.left < 0:
		return 0, fmt.Errorf("%w: archive inflates past %d bytes", ErrTooLarge, c.a.lim.MaxUncompressed)
	case err != nil && !errors.Is(err, io.EOF):
		// zip.ErrChecksum, flate.CorruptInputError, io.ErrUnexpectedEOF.
		return n, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return n, err
}

func (c *cappedReader) Close() error { return c.rc.Close() }

// naturalLess orders strings with digit runs compared by numeric value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		ra, restA := leadingRun(a)
		rb, restB := leadingRun(b)
		if ra != rb {
			if isDigit(ra[0]) && isDigit(rb[0]) {
				return numLess(ra, rb)
			}
			return ra < rb
		}
		a, b = restA, restB
	}
	return len(a) < len(b)
}

// leadingRun splits s after its first run of digits or of non-digits.
func leadingRun(s string) (run, rest string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

// numLess compares digit strings of any length without overflow.
func numLess(a, b string) bool {
	ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(ta) != len(tb) {
		return len(ta) < len(tb)
	}
	if ta != tb {
		return ta < tb
	}
	return len(a) < len(b) // "01" after "1": any fixed order will do
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
