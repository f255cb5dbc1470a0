package web

import (
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogsHaveTheSameKeys: every string exists in both languages.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	en, zh := cats[English], cats[Simplified]
	if len(en) < 50 {
		t.Fatalf("%d English strings: not the catalog", len(en))
	}
	for k := range en {
		if _, ok := zh[k]; !ok {
			t.Errorf("key %q is in en.json, not in zh.json", k)
		}
	}
	for k, v := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in zh.json, not in en.json", k)
		}
		// The same placeholders, in the same order, or Sprintf garbles.
		if a, b := verbs(en[k]), verbs(v); !slices.Equal(a, b) {
			t.Errorf("key %q: en has %v, zh has %v", k, a, b)
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(en[k]) == "" {
			t.Errorf("key %q has an empty string", k)
		}
	}
}

var verbRE = regexp.MustCompile(`%[sdv]`)

func verbs(s string) []string { return verbRE.FindAllString(s, -1) }

// TestTemplatesUseOnlyCatalogKeys: every literal key a template asks for
// is in the catalogs (keys built at run time are checked by rendering
// every page, TestPagesInBothLanguages).
func TestTemplatesUseOnlyCatalogKeys(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`\.T "([^"]+)"`)
	n := 0
	err = fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			n++
			if _, ok := cats[English][m[1]]; !ok {
				t.Errorf("%s asks for %q, which the catalogs lack", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("%d keys found in the templates: the pattern no longer matches them", n)
	}
	for _, n := range nav {
		if _, ok := cats[English][n.Key]; !ok {
			t.Errorf("navigation key %q is not in the catalogs", n.Key)
		}
	}
	for _, l := range Langs {
		if _, ok := cats[English]["lang."+string(l)]; !ok {
			t.Errorf("language %s has no name in the catalogs", l)
		}
	}
}

func TestMissingKeyIsVisible(t *testing.T) {
	c := catalog{"a": "A %d"}
	if got := c.text("a", 3); got != "A 3" {
		t.Fatalf("text(a, 3) = %q", got)
	}
	if got := c.text("nope"); !strings.Contains(got, missingMark) || !strings.Contains(got, "nope") {
		t.Fatalf("a missing key renders %q: it must be visible", got)
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   Lang
	}{
		{"", English},
		{"zh-CN,zh;q=0.9,en;q=0.8", Simplified},
		{"zh", Simplified},
		{"en-US,en;q=0.9,zh-CN;q=0.5", English},
		{"fr-FR", English},
		{"zh-Hans-CN", Simplified},
		{"garbage;;;q=x", English},
		{strings.Repeat("zh,", 1000), Simplified},
	} {
		if got := negotiate(c.accept); got != c.want {
			t.Errorf("negotiate(%.40q) = %s, want %s", c.accept, got, c.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for _, ok := range []string{"/", "/search?q=%E4%BF%9D&sort=time", "/messages/12", "/a/b#frag"} {
		if got, valid := SafeNext(ok); !valid || got != ok {
			t.Errorf("SafeNext(%q) = %q, %v; want it kept", ok, got, valid)
		}
	}
	for _, bad := range []string{"", "search", "//evil.example/", "/\\evil.example", "https://evil.example/",
		"/ok\r\nLocation: x", "/a b", "/\x00", "javascript:alert(1)", "\\\\evil", "/x\\y",
		"/" + strings.Repeat("a", maxNext)} {
		if got, valid := SafeNext(bad); valid {
			t.Errorf("SafeNext(%q) = %q, valid: an open redirect", bad, got)
		}
	}
}

// FuzzSafeNext: whatever SafeNext accepts stays on this site when a
// browser resolves it against the page it was on.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/search?q=x", "//evil", "/\\evil", "https://x", "/%2F%2Fevil", "/.//evil", "/@evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://archive.example/login")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := SafeNext(s)
		if !ok {
			return
		}
		if got != s {
			t.Fatalf("SafeNext(%q) changed it to %q", s, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("SafeNext(%q) accepted an unparsable URL: %v", s, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("SafeNext(%q) accepted a path leading to %s", s, r)
		}
	})
}

func TestSegments(t *testing.T) {
	got := segments("提醒您：不保证收益。", [][2]int{{5, 9}, {8, 20}, {-1, 2}})
	want := []segment{{Text: "提醒您：不"}, {Text: "保证收益", Hit: true}, {Text: "。"}}
	if !slices.Equal(got, want) {
		t.Fatalf("segments = %+v, want %+v", got, want)
	}
	if got := segments("", nil); len(got) != 0 {
		t.Fatalf("segments of nothing = %+v", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFacetFilter(t *testing.T) {
	for _, c := range []struct{ facet, value, want string }{
		{"sender", "zhangwei", "from:zhangwei"},
		{"sender", "David Lee", `from:"David Lee"`},
		{"type", "text", "type:text"},
		{"month", "2026-02", "after:2026-02-01 before:2026-03-01"},
		{"month", "bad", ""},
		{"sender", `a"b`, ""},
		{"unknown", "x", ""},
	} {
		if got := facetFilter(c.facet, c.value); got != c.want {
			t.Errorf("facetFilter(%s, %q) = %q, want %q", c.facet, c.value, got, c.want)
		}
	}
}
