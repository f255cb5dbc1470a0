package transcript

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"strings"

	"github.com/wxarchive/wxarchive/export"
)

// HTML writes one HTML5 page per unit, <unit.Name>.html. The page needs
// nothing but itself and the production's NATIVES (images are linked as
// RootFromUnit + Path): the style is embedded and there is no script, so
// it opens the same in any browser, offline, years later.
type HTML struct{}

var _ export.Format = HTML{}

// Name implements export.Format.
func (HTML) Name() string { return "html" }

//go:embed page.html.tmpl
var pageTemplate string

// html/template, not text/template: message texts are hostile input (a
// message saying "<script>" must print as those characters).
var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"join": func(lines []string) string { return strings.Join(lines, "\n") },
}).Parse(pageTemplate))

// WriteUnit implements export.Format. An HTML page has no pages in the
// production's sense, so it returns 0.
func (HTML) WriteUnit(ctx context.Context, u *export.Unit, out export.Sink, firstPage int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if u == nil || u.Name == "" {
		return 0, errors.New("transcript: html: unit without a name")
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, buildView(u)); err != nil {
		return 0, fmt.Errorf("transcript: html %s: %w", u.Name, err)
	}
	if err := writeFile(out, u.Name+".html", b.Bytes()); err != nil {
		return 0, fmt.Errorf("transcript: html %s: %w", u.Name, err)
	}
	return 0, nil
}

// writeFile writes data as one file of the sink; a failed Close is a
// failed write (the sink hashes and flushes there).
func writeFile(out export.Sink, name string, data []byte) error {
	w, err := out.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
