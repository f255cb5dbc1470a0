package extract

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"
)

// textResult extracts plain text or CSV. It cannot fail: decoding replaces
// bad bytes, and CSV that does not parse falls back to plain text.
func textResult(data []byte, format, charset string, lim Limits) Result {
	s := newSink(lim.MaxOutput)
	if format == formatCSV || format == formatTSV {
		comma := '\t'
		if format == formatCSV {
			comma = csvComma(data)
		}
		if err := csvText(decodeText(data, charset), comma, s); err == nil {
			return s.result(formatCSV)
		}
		s.reset()
	}
	plainText(decodeText(data, charset), s)
	return s.result(formatText)
}

// plainText copies decoded text verbatim. It reads a few bytes more than
// fit, so that the sink can tell "exactly full" from "truncated", and no
// more: a 64 MiB GBK file is not decoded just to keep its first megabyte.
func plainText(r io.Reader, s *sink) {
	// Decoders replace invalid input instead of failing, and the source
	// is in memory, so the only possible error is none.
	b, _ := io.ReadAll(io.LimitReader(r, int64(s.max)+utf8.UTFMax))
	s.put(string(b))
}

// csvText writes cells separated by tabs and records by newlines. Ragged
// rows are fine; any parse error (bad quotes) is returned so the caller
// can fall back to the raw text.
func csvText(r io.Reader, comma rune, s *sink) error {
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for !s.full() {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		s.sep(sepNewline)
		for _, field := range rec {
			s.sep(sepTab)
			s.text(field)
		}
	}
	return nil
}

// csvComma guesses the delimiter from the first line: spreadsheets in
// locales with a decimal comma write semicolons, and some tools write tabs.
func csvComma(data []byte) rune {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	best, bestN := ',', bytes.Count(line, []byte(","))
	for _, c := range []rune{';', '\t'} {
		if n := bytes.Count(line, []byte(string(c))); n > bestN {
			best, bestN = c, n
		}
	}
	return best
}
