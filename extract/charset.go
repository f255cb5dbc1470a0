package extract

import (
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Byte order marks. Constants, not []byte variables: no mutable globals.
const (
	bomUTF8    = "\xEF\xBB\xBF"
	bomUTF16LE = "\xFF\xFE"
	bomUTF16BE = "\xFE\xFF"
	bomGB18030 = "\x84\x31\x95\x33"
)

// sniffWindow is how much of a file the UTF-16 heuristic looks at.
const sniffWindow = 64 << 10

// decodeText returns a reader of the text in data as valid UTF-8. Invalid
// input bytes become U+FFFD: the x/text decoders replace rather than fail.
func decodeText(data []byte, charset string) io.Reader {
	body, enc := detectEncoding(data, charset)
	return transform.NewReader(bytes.NewReader(body), enc.NewDecoder())
}

// detectEncoding strips any byte order mark and picks the encoding. A BOM
// is the strongest evidence; then an explicit non-default charset label;
// then the bytes themselves. The charset label from a sniffer is ignored
// when it is utf-8, because sniffers say utf-8 for anything textual.
func detectEncoding(data []byte, charset string) ([]byte, encoding.Encoding) {
	switch {
	case hasPrefix(data, bomUTF8):
		return data[len(bomUTF8):], unicode.UTF8
	case hasPrefix(data, bomGB18030):
		return data[len(bomGB18030):], simplifiedchinese.GB18030
	case hasPrefix(data, bomUTF16LE):
		return data[len(bomUTF16LE):], unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case hasPrefix(data, bomUTF16BE):
		return data[len(bomUTF16BE):], unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	if enc := labelEncoding(charset); enc != nil {
		return data, enc
	}
	if enc := utf16ByNULs(data); enc != nil {
		return data, enc
	}
	if mostlyUTF8(data) {
		return data, unicode.UTF8
	}
	// Not UTF-8: in a Chinese archive that is GBK (a subset of GB18030)
	// far more often than anything else.
	return data, simplifiedchinese.GB18030
}

// labelEncoding honours explicit charset labels that a sniffer would never
// invent; utf-8 and unknown labels return nil (decide by content).
func labelEncoding(charset string) encoding.Encoding {
	switch charset {
	case "gbk", "gb2312", "gb18030", "x-gbk", "cp936":
		return simplifiedchinese.GB18030
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}

// utf16ByNULs recognises BOM-less UTF-16 of mostly ASCII text: every other
// byte is NUL. Returns nil when the pattern is absent.
func utf16ByNULs(data []byte) encoding.Encoding {
	if len(data) > sniffWindow {
		data = data[:sniffWindow]
	}
	pairs := len(data) / 2
	if pairs < 2 {
		return nil
	}
	var evenNUL, oddNUL int
	for i := 0; i+1 < len(data); i += 2 {
		if data[i] == 0 {
			evenNUL++
		}
		if data[i+1] == 0 {
			oddNUL++
		}
	}
	switch {
	case oddNUL*10 >= pairs*3 && evenNUL*20 <= pairs:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case evenNUL*10 >= pairs*3 && oddNUL*20 <= pairs:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}

// mostlyUTF8 reports whether data should be read as UTF-8. Valid UTF-8 is;
// a rune cut off at the very end (a truncated upload) is forgiven; and a
// few stray bytes in text with many multi-byte runes are forgiven too. GBK
// text forms valid multi-byte UTF-8 only by accident, far less often than
// once per eight invalid sequences.
func mostlyUTF8(data []byte) bool {
	var multi, invalid int
	for i := 0; i < len(data); {
		if data[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r != utf8.RuneError || size > 1:
			multi++
		case !utf8.FullRune(data[i:]):
			// Only possible in the final bytes: truncated, not foreign.
			size = len(data) - i
		default:
			invalid++
		}
		i += size
	}
	return invalid == 0 || multi >= 8*invalid
}

// looksText reports whether bytes with a text-like name but a generic
// media type really are text: a BOM, UTF-16 NUL patterns, or almost no
// control bytes. A renamed binary must not be indexed as text.
func looksText(data []byte) bool {
	for _, bom := range []string{bomUTF8, bomUTF16LE, bomUTF16BE, bomGB18030} {
		if hasPrefix(data, bom) {
			return true
		}
	}
	if utf16ByNULs(data) != nil {
		return true
	}
	if len(data) > sniffWindow {
		data = data[:sniffWindow]
	}
	control := 0
	for _, c := range data {
		switch {
		case c == 0:
			return false
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1A && c != 0x1B:
			control++
		}
	}
	return control*100 <= len(data)
}

func hasPrefix(data []byte, prefix string) bool {
	return len(data) >= len(prefix) && string(data[:len(prefix)]) == prefix
}
