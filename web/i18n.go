package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Lang is a language of the interface: a catalog name.
type Lang string

// The languages. Every string of every page is in both catalogs
// (catalog/*.json; a test checks they have the same keys).
const (
	English    Lang = "en"
	Simplified Lang = "zh"
)

// Langs lists the languages in the order the switch shows them.
var Langs = []Lang{Simplified, English}

// LangCookie remembers the viewer's choice of language.
const LangCookie = "wxarchive_lang"

// missingMark brackets a key that has no string in the catalog, so a
// missing string is visible on the page and a test can find it.
const missingMark = "⟦"

// catalog is one language's strings by key.
type catalog map[string]string

// loadCatalogs reads catalog/<lang>.json for every language.
func loadCatalogs(fsys fs.FS) (map[Lang]catalog, error) {
	out := map[Lang]catalog{}
	for _, l := range Langs {
		b, err := fs.ReadFile(fsys, path.Join("catalog", string(l)+".json"))
		if err != nil {
			return nil, err
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("catalog/%s.json: %w", l, err)
		}
		out[l] = c
	}
	return out, nil
}

// text is key's string in c, formatted with args; a key without a
// string is shown as ⟦key⟧ rather than as nothing.
func (c catalog) text(key string, args ...any) string {
	s, ok := c[key]
	if !ok {
		return missingMark + key + "⟧"
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})

// langOf chooses the language of a request: the cookie the switch set,
// else the best match of Accept-Language (English when nothing matches).
func langOf(r *http.Request) Lang {
	if c, err := r.Cookie(LangCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	return negotiate(r.Header.Get("Accept-Language"))
}

// negotiate is the language of an Accept-Language header.
func negotiate(accept string) Lang {
	if len(accept) > 512 {
		accept = accept[:512] // a header longer than this is not a browser's
	}
	tags, _, err := language.ParseAcceptLanguage(accept)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	if i == 1 {
		return Simplified
	}
	return English
}

func parseLang(s string) (Lang, bool) {
	l := Lang(strings.TrimSpace(s))
	return l, slices.Contains(Langs, l)
}

// htmlLang is the lang attribute of a page in l.
func (l Lang) htmlLang() string {
	if l == Simplified {
		return "zh-Hans"
	}
	return "en"
}
