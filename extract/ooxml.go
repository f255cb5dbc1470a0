package extract

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
)

// zipResult extracts an OOXML document. format is what the media type
// said: a specific OOXML format, or formatZip when only the container is
// known and the name may hint which flavour to look for first.
func zipResult(data []byte, format, fileName string, lim Limits) (Result, error) {
	a, err := openZip(data, lim)
	if err != nil {
		return Result{}, &Error{Format: format, Err: err}
	}
	kind := a.kind(format, nameFormat(fileName))
	if kind == "" {
		return Result{}, noMainPart(format)
	}
	s := newSink(lim.MaxOutput)
	switch kind {
	case formatDocx:
		err = a.docx(s)
	case formatXlsx:
		err = a.xlsx(s)
	case formatPptx:
		err = a.pptx(s)
	}
	if err != nil {
		return Result{}, err
	}
	return s.result(kind), nil
}

// noMainPart explains a zip without a document inside: an ordinary zip is
// unsupported (we do not recurse into archives), while a file sniffed as a
// specific OOXML type but lacking its main part is broken.
func noMainPart(format string) error {
	if format == formatZip {
		return &Error{Format: formatZip, Err: fmt.Errorf("%w: zip holds no docx, xlsx or pptx document", ErrUnsupported)}
	}
	return &Error{Format: format, Err: fmt.Errorf("%w: zip lacks the %s main part", ErrMalformed, format)}
}

// kind decides the OOXML flavour by the parts present. The media type's
// format is tried first, then the name's hint (only for generic zips), then
// the rest; a flavour is chosen only if its main part exists, so a name
// can break ties but never invent content.
func (a *archive) kind(format, hint string) string {
	order := []string{format}
	if format == formatZip {
		order = []string{hint}
	}
	order = append(order, formatDocx, formatXlsx, formatPptx)
	for _, k := range order {
		if len(a.mainParts(k)) > 0 {
			return k
		}
	}
	return ""
}

// mainParts returns the entries that make a zip a document of format k.
func (a *archive) mainParts(k string) []*zip.File {
	switch k {
	case formatDocx:
		return a.named("word/document.xml")
	case formatXlsx:
		return a.worksheets()
	case formatPptx:
		return a.glob("ppt/slides/slide", ".xml", true)
	}
	return nil
}

func (a *archive) worksheets() []*zip.File { return a.glob("xl/worksheets/", ".xml", false) }

// walkParts streams each part through fn in order, a newline between
// parts, and stops once the sink is full.
func (a *archive) walkParts(format string, parts []*zip.File, s *sink, skip func(string) bool, fn func(xml.Token) error) error {
	for _, f := range parts {
		if s.full() {
			return nil
		}
		s.sep(sepNewline)
		if err := a.walkPart(format, f, skip, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkPart streams one entry through fn, naming the entry in any error.
func (a *archive) walkPart(format string, f *zip.File, skip func(string) bool, fn func(xml.Token) error) error {
	rc, err := a.open(f)
	if err != nil {
		return &Error{Format: format, Entry: f.Name, Err: err}
	}
	defer rc.Close()
	if err := walkXML(rc, skip, fn); err != nil {
		return &Error{Format: format, Entry: f.Name, Err: err}
	}
	return nil
}

// skipFallback skips mc:Fallback, the legacy copy of content also given in
// mc:Choice; reading both would double every text box.
func skipFallback(local string) bool { return local == "Fallback" }
