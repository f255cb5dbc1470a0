package extract

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxInput: 1 << 20, MaxOutput: 4096, MaxZipEntries: 64, MaxUncompressed: 4 << 20, MaxEntrySize: 1 << 20}

// checkResult asserts the contract that holds for every input: no panic
// (implicit), errors are *Error wrapping a sentinel with a zero Result,
// and text is valid UTF-8 within the output limit.
func checkResult(t *testing.T, res Result, err error, lim Limits) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not *Error", err, err)
		}
		if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if res != (Result{}) {
			t.Fatalf("non-zero result %+v with error %v", res, err)
		}
		return
	}
	if !utf8.ValidString(res.Text) {
		t.Fatalf("invalid UTF-8 in %q", res.Text)
	}
	if len(res.Text) > lim.MaxOutput {
		t.Fatalf("text is %d bytes, limit %d", len(res.Text), lim.MaxOutput)
	}
	switch res.Format {
	case "text", "csv", "docx", "xlsx", "pptx":
	default:
		t.Fatalf("format %q", res.Format)
	}
}

// FuzzText feeds whole files with any media type and name.
func FuzzText(f *testing.F) {
	docx := docxFixture()
	seeds := []struct {
		data            []byte
		mediaType, name string
	}{
		{docx, mtDocx, "a.docx"},
		{docx, mtZip, ""},
		{docx[:len(docx)/2], mtZip, "a.docx"},
		{zipOf(part{"xl/sharedStrings.xml", sstXML(`<si><t>保证收益</t></si>`)},
			part{"xl/worksheets/sheet1.xml", sheetXML(`<row><c t="s"><v>0</v></c><c><v>1.5</v></c></row>`)}), mtXlsx, ""},
		{zipOf(part{"ppt/slides/slide2.xml", slideXML("保證收益")}, part{"ppt/slides/slide10.xml", slideXML("x")}), mtBin, "a.pptx"},
		{zipOf(part{"word/document.xml", `<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`}), mtDocx, ""},
		{[]byte("名称,金额\n\"保证收益\",1\n"), "text/csv", ""},
		{[]byte("a,b\"c\n"), mtText, "x.csv"},
		{[]byte("\xEF\xBB\xBF加我私人微信"), mtText, ""},
		{[]byte("\xb1\xa3\xd6\xa4\xca\xd5\xd2\xe6"), mtText, "gbk.txt"}, // 保证收益 in GBK
		{utf16Bytes("加我私人微信", false, true), "text/plain; charset=utf-16le", ""},
		{utf16Bytes("hello 微信", true, false), mtBin, "a.txt"},
		{[]byte("\x89PNG\r\n"), "image/png", "a.png"},
	}
	for _, s := range seeds {
		f.Add(s.data, s.mediaType, s.name)
	}
	f.Fuzz(func(t *testing.T, data []byte, mediaType, name string) {
		res, err := TextInfo(data, mediaType, name, fuzzLimits)
		checkResult(t, res, err, fuzzLimits)
	})
}

// FuzzPlain targets charset detection, decoding and CSV parsing.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("保证收益\r\n"), false)
	f.Add([]byte("\xb1\xa3\xd6\xa4"), false)
	f.Add(utf16Bytes("保证收益", false, true), false)
	f.Add(utf16Bytes("ab", true, true)[:5], false)
	f.Add([]byte("a,\"b\"\"c\",d\n1;2;3\n"), true)
	f.Add([]byte("a,b\"c\n\"x"), true)
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		mediaType := mtText
		if csv {
			mediaType = "text/csv"
		}
		res, err := TextInfo(data, mediaType, "", fuzzLimits)
		checkResult(t, res, err, fuzzLimits)
		if err != nil {
			t.Fatalf("text never fails, got %v", err)
		}
		// Plain UTF-8 without BOM or NUL patterns must come back verbatim
		// (up to the limit, cut on a rune boundary).
		if csv || !utf8.Valid(data) || hasAnyBOM(data) || utf16ByNULs(data) != nil {
			return
		}
		if !strings.HasPrefix(string(data), res.Text) {
			t.Fatalf("text %q is not a prefix of input %q", res.Text, data)
		}
		if res.Truncated != (len(data) > fuzzLimits.MaxOutput) || !res.Truncated && res.Text != string(data) {
			t.Fatalf("truncated=%v len(text)=%d len(input)=%d", res.Truncated, len(res.Text), len(data))
		}
	})
}

func hasAnyBOM(data []byte) bool {
	for _, bom := range []string{bomUTF8, bomUTF16LE, bomUTF16BE, bomGB18030} {
		if hasPrefix(data, bom) {
			return true
		}
	}
	return false
}

// FuzzDocx fuzzes the XML of word/document.xml and a header inside a valid
// zip: mutating a whole zip mostly breaks its CRCs, so the XML walker
// would barely be reached.
func FuzzDocx(f *testing.F) {
	f.Add(docXML(wp("保证收益")+`<w:p><w:r><w:tab/><w:t>x</w:t><w:br/></w:r></w:p>`), wordXML("hdr", wp("页眉")))
	f.Add(docXML(`<w:p><w:r><mc:AlternateContent><mc:Choice>`+wp("a")+`</mc:Choice><mc:Fallback>`+wp("a")+`</mc:Fallback></mc:AlternateContent></w:r></w:p>`), "")
	f.Add(docXML(`<w:p><w:del><w:r><w:delText>加我私人微信</w:delText></w:r></w:del></w:p>`), "<x>")
	f.Add(`<!DOCTYPE w [<!ENTITY x "y">]><w:document>&x;</w:document>`, "")
	f.Add(docXML(`<w:p><w:t>&amp;&#x4E2D;&#0;</w:t></w:p>`), "")
	f.Fuzz(func(t *testing.T, document, header string) {
		data := zipOf(part{"word/document.xml", document}, part{"word/header1.xml", header})
		res, err := TextInfo(data, mtDocx, "", fuzzLimits)
		checkResult(t, res, err, fuzzLimits)
	})
}

// FuzzXlsx fuzzes the shared strings and a worksheet.
func FuzzXlsx(f *testing.F) {
	f.Add(sstXML(`<si><t>姓名</t></si><si><r><t>保证</t></r><r><t>收益</t></r></si><si><t>x</t><rPh><t>y</t></rPh></si>`),
		sheetXML(`<row><c t="s"><v>1</v></c><c t="b"><v>1</v></c><c><f>1+1</f><v>2</v></c><c t="inlineStr"><is><t>微信</t></is></c></row>`))
	f.Add("", sheetXML(`<row><c t="s"><v>-1</v></c><c t="s"><v>99999999999999999999</v></c></row>`))
	f.Add(sstXML(`<si/><si><t/></si>`), `<worksheet><row><c><is><t>a</t></is></c></row>`)
	f.Fuzz(func(t *testing.T, sst, sheet string) {
		data := zipOf(part{"xl/sharedStrings.xml", sst}, part{"xl/worksheets/sheet1.xml", sheet})
		res, err := TextInfo(data, mtXlsx, "", fuzzLimits)
		checkResult(t, res, err, fuzzLimits)
	})
}

// FuzzPptx fuzzes a slide and a notes slide.
func FuzzPptx(f *testing.F) {
	f.Add(slideXML("保證收益", "加我私人微信"), slideXML("备注"))
	f.Add(`<p:sld><a:p><a:t>a</a:t><a:br/><a:t>b</a:t></a:p></p:sld>`, "")
	f.Add(`<!DOCTYPE x><p:sld/>`, `<a:p>`)
	f.Fuzz(func(t *testing.T, slide, notes string) {
		data := zipOf(part{"ppt/slides/slide1.xml", slide}, part{"ppt/notesSlides/notesSlide1.xml", notes})
		res, err := TextInfo(data, mtPptx, "", fuzzLimits)
		checkResult(t, res, err, fuzzLimits)
	})
}
