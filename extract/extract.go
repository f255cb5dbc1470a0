package extract

import (
	"bytes"
	"fmt"
	"math"
	"mime"
	"path"
	"strings"
	"unicode/utf8"
)

// Limits bound the work and memory of one extraction. A zero or negative
// field takes its DefaultLimits value, so the zero Limits is safe to use.
type Limits struct {
	MaxInput        int64 // largest input accepted, in bytes
	MaxOutput       int   // longest text returned, in bytes; longer text is truncated, not an error
	MaxZipEntries   int   // most entries a zip may list
	MaxUncompressed int64 // most bytes inflated from one zip, summed over the entries read
	MaxEntrySize    int64 // most bytes inflated from any single zip entry
}

// DefaultLimits returns the limits used for zero fields: 64 MiB input,
// 1 MiB output, 10000 zip entries, 256 MiB inflated in total and 64 MiB per
// entry. A function rather than a variable, so no caller can change the
// defaults under another.
func DefaultLimits() Limits {
	return Limits{
		MaxInput:        64 << 20,
		MaxOutput:       1 << 20,
		MaxZipEntries:   10000,
		MaxUncompressed: 256 << 20,
		MaxEntrySize:    64 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxInput <= 0 {
		l.MaxInput = d.MaxInput
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = d.MaxOutput
	}
	// Extractors look a few bytes past the output limit to detect
	// truncation; keep that arithmetic from overflowing.
	l.MaxOutput = min(l.MaxOutput, math.MaxInt-utf8.UTFMax)
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = d.MaxZipEntries
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = d.MaxUncompressed
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	return l
}

// Result is the outcome of TextInfo.
type Result struct {
	Text      string // valid UTF-8, at most Limits.MaxOutput bytes
	Truncated bool   // text was cut at Limits.MaxOutput
	Format    string // "text", "csv", "docx", "xlsx" or "pptx"
}

// Format names, used in Result.Format and Error.Format.
const (
	formatText = "text"
	formatCSV  = "csv"
	formatTSV  = "tsv" // internal only: reported as "csv"
	formatDocx = "docx"
	formatXlsx = "xlsx"
	formatPptx = "pptx"
	formatZip  = "zip" // a zip whose OOXML flavour is decided by its content
)

// Text returns the readable text of an attachment's bytes, given its
// sniffed media type and file name. The name is only a hint for generic
// media types (application/zip, application/octet-stream, text/plain); the
// content always wins. Text longer than lim.MaxOutput is truncated on a
// UTF-8 boundary without error; use TextInfo to learn whether it was.
// Types this package does not read yield an error wrapping ErrUnsupported.
func Text(data []byte, mediaType, fileName string, lim Limits) (string, error) {
	res, err := TextInfo(data, mediaType, fileName, lim)
	return res.Text, err
}

// TextInfo is Text that also reports truncation and the detected format.
// On error the Result is the zero value and the error is an *Error.
func TextInfo(data []byte, mediaType, fileName string, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxInput {
		return Result{}, &Error{Err: fmt.Errorf("%w: input is %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxInput)}
	}
	mt, params := parseMediaType(mediaType)
	format := classify(mt, fileName, data)
	switch format {
	case formatText, formatCSV, formatTSV:
		return textResult(data, format, strings.ToLower(params["charset"]), lim), nil
	case formatDocx, formatXlsx, formatPptx, formatZip:
		return zipResult(data, format, fileName, lim)
	}
	return Result{}, &Error{Err: fmt.Errorf("%w: media type %q", ErrUnsupported, mediaType)}
}

// parseMediaType lower-cases the type and returns its parameters; a
// malformed parameter list still yields the bare type.
func parseMediaType(mediaType string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(mediaType)
	if err != nil {
		mt, _, _ = strings.Cut(mediaType, ";")
		return strings.ToLower(strings.TrimSpace(mt)), nil
	}
	return mt, params
}

// classify picks the format to try, or "" if unsupported. Media types come
// from a content sniffer, so they are trusted; the name only refines
// generic ones.
func classify(mt, fileName string, data []byte) string {
	if f := ooxmlFormat(mt); f != "" {
		return f
	}
	hint := nameFormat(fileName)
	switch {
	case mt == "text/csv":
		return formatCSV
	case mt == "text/tab-separated-values":
		return formatTSV
	case mt == "text/plain" && (hint == formatCSV || hint == formatTSV):
		// Sniffers cannot tell CSV from text; the content is text
		// either way, the name only chooses the layout.
		return hint
	case strings.HasPrefix(mt, "text/"):
		return formatText
	case mt == "application/zip" || mt == "application/x-zip-compressed":
		return formatZip
	case mt == "" || mt == "application/octet-stream":
		return classifyGeneric(hint, data)
	}
	return ""
}

// classifyGeneric handles media types that say nothing: a zip signature
// makes it a zip; a text-like name makes it text only if the bytes look
// like text (a renamed binary stays unsupported).
func classifyGeneric(hint string, data []byte) string {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return formatZip
	}
	switch hint {
	case formatText, formatCSV, formatTSV:
		if looksText(data) {
			return hint
		}
	}
	return ""
}

func ooxmlFormat(mt string) string {
	switch mt {
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.template",
		"application/vnd.ms-word.document.macroenabled.12",
		"application/vnd.ms-word.template.macroenabled.12":
		return formatDocx
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.template",
		"application/vnd.ms-excel.sheet.macroenabled.12",
		"application/vnd.ms-excel.template.macroenabled.12":
		return formatXlsx
	case "application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.openxmlformats-officedocument.presentationml.slideshow",
		"application/vnd.openxmlformats-officedocument.presentationml.template",
		"application/vnd.ms-powerpoint.presentation.macroenabled.12",
		"application/vnd.ms-powerpoint.slideshow.macroenabled.12",
		"application/vnd.ms-powerpoint.template.macroenabled.12":
		return formatPptx
	}
	return ""
}

// nameFormat maps a file name's extension to a format hint.
func nameFormat(fileName string) string {
	// WeCom file names may come from Windows clients.
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(fileName, `\`, "/")))
	switch ext {
	case ".txt", ".text", ".log", ".md", ".markdown":
		return formatText
	case ".csv":
		return formatCSV
	case ".tsv", ".tab":
		return formatTSV
	case ".docx", ".docm", ".dotx", ".dotm":
		return formatDocx
	case ".xlsx", ".xlsm", ".xltx", ".xltm":
		return formatXlsx
	case ".pptx", ".pptm", ".ppsx", ".ppsm", ".potx", ".potm":
		return formatPptx
	}
	return ""
}
