// Package extract pulls human-readable text out of text-like attachments so
// that the full-text index can find words inside files, not only in chat
// messages. It is pure Go (no cgo): an archive must build and run anywhere,
// and parsing hostile files in C is how archives get owned.
//
// What is extracted:
//   - plain text (any text/* type) and CSV/TSV, decoded from UTF-8 (BOM
//     stripped), UTF-16 LE/BE (BOM, or obvious NUL patterns when the sniffer
//     gave up), or GB18030/GBK when the bytes are not UTF-8. Chinese Windows
//     still saves GBK by default, so a non-UTF-8 file is far more likely
//     GBK than anything else. Invalid bytes become U+FFFD, never an error.
//     CSV cells are joined by tabs and rows by newlines; CSV that does not
//     parse strictly is returned as plain text instead, because indexing
//     the raw text beats indexing nothing.
//   - docx: w:t (and tracked-deletion w:delText) runs of word/document.xml,
//     then headers, footers, footnotes, endnotes and comments; paragraphs
//     end lines, w:tab is a tab, w:br a newline.
//   - xlsx: every worksheet in natural name order (sheet2 before sheet10):
//     shared strings, inline strings, and cell values as written (numbers
//     are not reformatted); cells joined by tabs, rows by newlines; then
//     cell comments.
//   - pptx: a:t text of every slide in numeric order, then the notes slides.
//
// OOXML is recognised by its content: a zip sniffed as application/zip is
// searched for word/document.xml, xl/worksheets/*.xml or
// ppt/slides/slideN.xml. The file name only breaks ties; it never makes
// bytes count as a format they are not.
//
// Limits (see Limits and DefaultLimits) bound work and memory, because every
// attachment comes from an untrusted sender:
//   - input larger than MaxInput (64 MiB) is refused with ErrTooLarge;
//   - output is cut at MaxOutput (1 MiB) on a UTF-8 boundary and reported
//     as Result.Truncated, not as an error: the index needs the head of a
//     huge file, not a failure;
//   - zips with more than MaxZipEntries (10000) entries, entries that inflate
//     past MaxEntrySize (64 MiB), or archives whose entries inflate past
//     MaxUncompressed (256 MiB) in total are refused with ErrTooLarge. Bytes
//     are counted as they are actually inflated; zip headers are not
//     trusted, since a zip bomb lies in them.
//   - memory: parts are streamed through encoding/xml, never held whole, but
//     the decoder buffers one text node at a time, so a worst-case entry
//     costs about 2×MaxEntrySize transiently (measured: ~130 MB for a
//     64 MiB run of whitespace). Lower MaxEntrySize to lower that peak.
//   - XML with a DOCTYPE (and so any entity declaration) is refused with
//     ErrDTD: OOXML never needs one, and entities are the XXE and
//     billion-laughs attack surface. Element nesting is capped too.
//
// Only entries with known names are read, and nothing is ever written to
// disk, so path tricks in entry names ("../../etc/passwd") have no effect.
// Duplicate entries with the same name are all read: hiding text in a
// second copy of document.xml must not hide it from search.
//
// Every error is an *Error wrapping one of ErrUnsupported, ErrTooLarge or
// ErrMalformed, so callers can skip unsupported files silently with
// errors.Is.
package extract
