package extract

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// maxDepth caps element nesting. Real documents nest tables in text boxes
// a few dozen levels deep; the decoder spends memory on every open
// element, so "<a><a><a>..." must stop early.
const maxDepth = 512

// walkXML streams the XML in r to fn token by token, never holding the
// document in memory. Subtrees whose element local name satisfies skip are
// not delivered at all. fn may return errStop to end the walk early.
//
// The decoder is strict, knows only the five predefined entities, and has
// no CharsetReader, so only UTF-8 parts are read. A DOCTYPE is refused
// outright rather than ignored: OOXML never has one, and a file that does
// is an attack or garbage.
func walkXML(r io.Reader, skip func(local string) bool, fn func(xml.Token) error) error {
	d := xml.NewDecoder(r)
	depth, skipping := 0, 0 // skipping: depth inside a skipped subtree
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return malformed(err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return ErrDTD
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return fmt.Errorf("%w: XML nests deeper than %d elements", ErrTooLarge, maxDepth)
			}
			if skipping > 0 || skip(t.Name.Local) {
				skipping++
				continue
			}
		case xml.EndElement:
			depth--
			if skipping > 0 {
				skipping--
				continue
			}
		default:
			if skipping > 0 {
				continue
			}
		}
		if err := fn(tok); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
}

// role says what an element means to a textWalker.
type role uint8

const (
	roleNone  role = iota
	roleText       // character data inside is text (w:t, a:t)
	roleBlock      // a paragraph: lines break before and after it
	roleBreak      // a line break (w:br, a:br)
	roleTab        // a tab (w:tab)
)

// textWalker turns the tokens of a document-like part (docx, pptx,
// comments) into sink calls according to the roles of element local names.
// Local names only: Transitional and Strict OOXML use different namespace
// URIs for the same elements, and m:t or a:t text inside a docx is text too.
type textWalker struct {
	s      *sink
	roles  func(local string) role
	inText int
}

func (w *textWalker) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		switch w.roles(t.Name.Local) {
		case roleText:
			w.inText++
		case roleBlock, roleBreak:
			w.s.sep(sepNewline)
		case roleTab:
			w.s.sep(sepTab)
		}
	case xml.EndElement:
		switch w.roles(t.Name.Local) {
		case roleText:
			w.inText--
		case roleBlock:
			w.s.sep(sepNewline)
		}
	case xml.CharData:
		if w.inText > 0 {
			w.s.text(string(t))
		}
	}
	if w.s.full() {
		return errStop
	}
	return nil
}
