package extract

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Media types as ingest.SniffMediaType reports them.
const (
	mtText = "text/plain; charset=utf-8"
	mtDocx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	mtXlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	mtPptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	mtZip  = "application/zip"
	mtBin  = "application/octet-stream"
)

// part is one zip entry of a generated document.
type part struct{ name, body string }

// zipOf builds a deflated zip in memory. Test inputs are generated, never
// committed as binaries, so every fixture is readable in review.
func zipOf(parts ...part) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			panic(err) // only on misuse of zip.Writer
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

func contentTypesPart() part {
	return part{"[Content_Types].xml", xmlDecl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`}
}

func wordXML(root, inner string) string {
	return xmlDecl + `<w:` + root + ` xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"` +
		` xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">` + inner + `</w:` + root + `>`
}

func docXML(body string) string { return wordXML("document", "<w:body>"+body+"</w:body>") }

// wp is a paragraph of plain runs.
func wp(runs ...string) string {
	var b strings.Builder
	b.WriteString("<w:p>")
	for _, r := range runs {
		b.WriteString("<w:r><w:t>" + r + "</w:t></w:r>")
	}
	b.WriteString("</w:p>")
	return b.String()
}

func docxOf(body string, extra ...part) []byte {
	return zipOf(append([]part{contentTypesPart(), {"word/document.xml", docXML(body)}}, extra...)...)
}

func sheetXML(rows string) string {
	return xmlDecl + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows + `</sheetData></worksheet>`
}

func inlineRow(text string) string {
	return `<row><c t="inlineStr"><is><t>` + text + `</t></is></c></row>`
}

func sstXML(items string) string {
	return xmlDecl + `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + items + `</sst>`
}

func slideXML(paras ...string) string {
	var b strings.Builder
	b.WriteString(xmlDecl + `<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"` +
		` xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody>`)
	for _, p := range paras {
		b.WriteString("<a:p><a:r><a:t>" + p + "</a:t></a:r></a:p>")
	}
	b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
	return b.String()
}

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// utf16Bytes encodes s as UTF-16 with an optional BOM.
func utf16Bytes(s string, bigEndian, bom bool) []byte {
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	out := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// mustText runs TextInfo and checks the text and format exactly.
func mustText(t *testing.T, data []byte, mediaType, name string, lim Limits, want, wantFormat string) Result {
	t.Helper()
	res, err := TextInfo(data, mediaType, name, lim)
	if err != nil {
		t.Fatalf("TextInfo(%q, %q): %v", mediaType, name, err)
	}
	if res.Text != want {
		t.Errorf("TextInfo(%q, %q) text\n got %q\nwant %q", mediaType, name, res.Text, want)
	}
	if res.Format != wantFormat {
		t.Errorf("TextInfo(%q, %q) format %q, want %q", mediaType, name, res.Format, wantFormat)
	}
	return res
}

// mustFail runs TextInfo and checks the error's sentinel and shape.
func mustFail(t *testing.T, data []byte, mediaType, name string, lim Limits, target error) *Error {
	t.Helper()
	res, err := TextInfo(data, mediaType, name, lim)
	if !errors.Is(err, target) {
		t.Fatalf("TextInfo(%q, %q) error %v, want %v", mediaType, name, err, target)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if res != (Result{}) {
		t.Errorf("result on error = %+v, want zero", res)
	}
	return e
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, mediaType, fileName string
		in                        []byte
		want                      string
	}{
		{"utf8", mtText, "a.txt", []byte("保证收益\r\nline 2\n"), "保证收益\r\nline 2\n"},
		{"utf8 BOM stripped", mtText, "", []byte("\xEF\xBB\xBF加我私人微信"), "加我私人微信"},
		{"traditional", mtText, "", []byte("保證收益"), "保證收益"},
		{"gbk", mtText, "", gbk(t, "保证收益，加我私人微信\n"), "保证收益，加我私人微信\n"},
		{"gbk traditional", mtText, "", gbk(t, "保證收益 100%"), "保證收益 100%"},
		{"gbk mostly ascii", mtText, "", gbk(t, "call me: 加我私人微信 asap"), "call me: 加我私人微信 asap"},
		{"gbk label", "text/plain; charset=GBK", "", gbk(t, "证"), "证"},
		{"gb18030 BOM", mtText, "", append([]byte("\x84\x31\x95\x33"), gbk(t, "收益")...), "收益"},
		{"utf16le BOM", "text/plain; charset=utf-16le", "", utf16Bytes("加我私人微信 ok😀", false, true), "加我私人微信 ok😀"},
		{"utf16be BOM", "text/plain; charset=utf-16be", "", utf16Bytes("保证收益\n", true, true), "保证收益\n"},
		{"utf16le no BOM, generic type, text name", mtBin, "聊天记录.TXT", utf16Bytes("hello 保证收益 world", false, false), "hello 保证收益 world"},
		{"utf16be no BOM", mtBin, `C:\Users\a\log.txt`, utf16Bytes("hello 保证收益 world", true, false), "hello 保证收益 world"},
		{"stray byte in utf8", mtText, "", []byte("保证收益保证收益保证收益\xff!"), "保证收益保证收益保证收益\uFFFD!"},
		{"utf8 cut mid-rune", mtText, "", []byte("保证收益")[:11], "保证收\uFFFD"},
		{"odd utf16 byte", mtText, "", append(utf16Bytes("ab", false, true), 'c'), "ab\uFFFD"},
		{"html is text", "text/html; charset=utf-8", "", []byte("<p>保证收益</p>"), "<p>保证收益</p>"},
		{"empty", mtText, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustText(t, tt.in, tt.mediaType, tt.fileName, Limits{}, tt.want, "text")
		})
	}
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name, mediaType, fileName string
		in                        []byte
		want, format              string
	}{
		{"quoted", "text/csv", "", []byte("name,note\r\n张三,\"保证收益, 加我私人微信\"\r\n李四\r\n"),
			"name\tnote\n张三\t保证收益, 加我私人微信\n李四", "csv"},
		{"by name", mtText, "export.CSV", []byte("a,,\"b\"\"c\"\n\n1,2\n"), "a\tb\"c\n1\t2", "csv"},
		{"semicolon", "text/csv", "", []byte("名称;金额\n保證收益;1,5\n"), "名称\t金额\n保證收益\t1,5", "csv"},
		{"gbk", "text/csv", "", gbk(t, "客户,备注\n王五,加我私人微信\n"), "客户\t备注\n王五\t加我私人微信", "csv"},
		{"utf16 BOM", "text/csv", "", utf16Bytes("a,b\n保证,收益\n", false, true), "a\tb\n保证\t收益", "csv"},
		{"tsv", "text/tab-separated-values", "", []byte("x\ty\n1\t\"2\"\n"), "x\ty\n1\t2", "csv"},
		{"tsv by name", mtText, "a.tsv", []byte("x\ty z\n"), "x\ty z", "csv"},
		{"multiline cell", "text/csv", "", []byte("\"第一行\n第二行\",b\n"), "第一行\n第二行\tb", "csv"},
		{"bad quote falls back to raw", "text/csv", "", []byte("a,b\"c,d\n\"x"), "a,b\"c,d\n\"x", "text"},
		{"unterminated quote falls back", "text/csv", "", []byte("a,\"保证收益\n"), "a,\"保证收益\n", "text"},
		{"generic type csv name", mtBin, "a.csv", []byte("a,b\x1a"), "a\tb\x1a", "csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustText(t, tt.in, tt.mediaType, tt.fileName, Limits{}, tt.want, tt.format)
		})
	}
}

func docxFixture() []byte {
	body := `<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>` +
		`<w:r><w:t>承诺</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">保证收益 </w:t></w:r>` +
		`<w:r><w:tab/><w:t>20%</w:t></w:r></w:p>` +
		`<w:p><w:r><w:t>第一行</w:t><w:br/><w:t>第二行</w:t></w:r></w:p>` +
		`<w:p/><w:p><w:pPr/></w:p>` +
		`<w:p><w:del w:id="1" w:author="x"><w:r><w:delText>加我私人微信</w:delText></w:r></w:del></w:p>` +
		`<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>` + wp("文本框") +
		`</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>` + wp("文本框") +
		`</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + wp("A1") + `</w:tc><w:tc>` + wp("B1") + `</w:tc></w:tr></w:tbl>` +
		wp("a &amp; b &lt;c&gt; &#x4E2D;") +
		`<w:p><w:r><w:instrText> PAGE </w:instrText></w:r></w:p>`
	// Zip order differs from extraction order on purpose.
	return zipOf(
		part{"word/comments.xml", wordXML("comments", `<w:comment w:id="0">`+wp("批注：保證收益")+`</w:comment>`)},
		contentTypesPart(),
		part{"word/footer1.xml", wordXML("ftr", wp("页脚"))},
		part{"word/document.xml", docXML(body)},
		part{"word/header10.xml", wordXML("hdr", wp("页眉10"))},
		part{"word/header2.xml", wordXML("hdr", wp("页眉2"))},
		part{"word/footnotes.xml", wordXML("footnotes", `<w:footnote w:id="1">`+wp("脚注")+`</w:footnote>`)},
		part{"word/styles.xml", wordXML("styles", wp("STYLE TEXT MUST NOT APPEAR"))},
		part{"word/_rels/document.xml.rels", xmlDecl + `<Relationships/>`},
	)
}

const docxWant = "承诺保证收益 \t20%\n第一行\n第二行\n加我私人微信\n文本框\nA1\nB1\na & b <c> 中\n" +
	"页眉2\n页眉10\n页脚\n脚注\n批注：保證收益"

func TestDocx(t *testing.T) {
	data := docxFixture()
	mustText(t, data, mtDocx, "合同.docx", Limits{}, docxWant, "docx")
	// OOXML often arrives sniffed as a plain zip or as nothing at all.
	mustText(t, data, mtZip, "", Limits{}, docxWant, "docx")
	mustText(t, data, mtBin, "file.bin", Limits{}, docxWant, "docx")
	mustText(t, data, "", "", Limits{}, docxWant, "docx")
	// The content wins over a lying name or media type.
	mustText(t, data, mtZip, "table.xlsx", Limits{}, docxWant, "docx")
	mustText(t, data, mtXlsx, "table.xlsx", Limits{}, docxWant, "docx")
	mustText(t, data, "Application/ZIP", "", Limits{}, docxWant, "docx")
}

func TestDocxEdgeCases(t *testing.T) {
	t.Run("case-insensitive part names", func(t *testing.T) {
		data := zipOf(part{"Word/Document.XML", docXML(wp("保证收益"))})
		mustText(t, data, mtZip, "", Limits{}, "保证收益", "docx")
	})
	t.Run("duplicate entries are all read", func(t *testing.T) {
		data := zipOf(part{"word/document.xml", docXML(wp("表面"))}, part{"word/document.xml", docXML(wp("加我私人微信"))})
		mustText(t, data, mtDocx, "", Limits{}, "表面\n加我私人微信", "docx")
	})
	t.Run("path tricks are ignored", func(t *testing.T) {
		data := zipOf(
			part{"../../word/document.xml", docXML(wp("evil"))},
			part{"/word/document.xml", docXML(wp("evil"))},
			part{"word/../word/document.xml", docXML(wp("evil"))},
			part{"word/document.xml", docXML(wp("good"))},
		)
		mustText(t, data, mtDocx, "", Limits{}, "good", "docx")
	})
	t.Run("strict OOXML namespace", func(t *testing.T) {
		doc := `<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body>` + wp("严格") + `</w:body></w:document>`
		mustText(t, zipOf(part{"word/document.xml", doc}), mtDocx, "", Limits{}, "严格", "docx")
	})
	t.Run("empty document", func(t *testing.T) {
		mustText(t, docxOf(""), mtDocx, "", Limits{}, "", "docx")
	})
}

func TestXlsx(t *testing.T) {
	sst := sstXML(`<si><t>姓名</t></si>` +
		`<si><r><t>保证</t></r><r><rPr><b/></rPr><t>收益</t></r></si>` +
		`<si><t>漢字</t><rPh sb="0" eb="2"><t>カンジ</t></rPh></si>`)
	sheet1 := sheetXML(`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v> 1 </v></c></row>` +
		`<row r="2"><c r="A2"><v>3.14</v></c><c r="B2" t="b"><v>1</v></c>` +
		`<c r="C2" t="inlineStr"><is><t>加我私人微信</t></is></c>` +
		`<c r="D2" t="str"><f>A2*2</f><v>6.28</v></c><c r="E2" t="e"><v>#DIV/0!</v></c></row>` +
		`<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3" t="s"><v>99</v></c><c r="C3" t="s"><v>x</v></c>` +
		`<c r="D3"/><c r="E3"><v>0042</v></c><c r="F3" t="d"><v>2024-01-02T00:00:00</v></c></row>`)
	data := zipOf(
		contentTypesPart(),
		part{"xl/worksheets/sheet10.xml", sheetXML(inlineRow("第十"))},
		part{"xl/worksheets/sheet2.xml", sheetXML(`<row><c t="inlineStr"><is><r><t>第二</t></r><r><t>页</t></r></is></c><c t="b"><v>0</v></c></row>`)},
		part{"xl/worksheets/sheet1.xml", sheet1},
		part{"xl/worksheets/_rels/sheet1.xml.rels", xmlDecl + `<Relationships/>`},
		part{"xl/sharedStrings.xml", sst},
		part{"xl/comments1.xml", xmlDecl + `<comments><authors><author>张三</author></authors><commentList>` +
			`<comment ref="A1" authorId="0"><text><r><t>备注：保證收益</t></r></text></comment></commentList></comments>`},
		part{"xl/workbook.xml", xmlDecl + `<workbook><sheets><sheet name="NOT TEXT"/></sheets></workbook>`},
	)
	want := "姓名\t保证收益\n3.14\tTRUE\t加我私人微信\t6.28\t#DIV/0!\n漢字\t0042\t2024-01-02T00:00:00\n" +
		"第二页\tFALSE\n第十\n备注：保證收益"
	mustText(t, data, mtXlsx, "", Limits{}, want, "xlsx")
	mustText(t, data, mtZip, "x.zip", Limits{}, want, "xlsx")
}

func TestXlsxWithoutSharedStrings(t *testing.T) {
	data := zipOf(part{"xl/worksheets/sheet1.xml", sheetXML(`<row><c t="s"><v>0</v></c><c><v>7</v></c></row>`)})
	mustText(t, data, mtXlsx, "", Limits{}, "7", "xlsx")
}

func TestPptx(t *testing.T) {
	slide1 := xmlDecl + `<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">` +
		`<p:cSld><p:spTree><p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:t>第一页：</a:t></a:r><a:r><a:t>保证收益</a:t></a:r></a:p>` +
		`<a:p><a:r><a:t>line</a:t></a:r><a:br/><a:r><a:t>two</a:t></a:r></a:p></p:txBody></p:sp>` +
		`<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tr><a:tc><a:txBody><a:p><a:r><a:t>表格</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl>` +
		`</a:graphicData></a:graphic></p:graphicFrame></p:spTree></p:cSld></p:sld>`
	data := zipOf(
		contentTypesPart(),
		part{"ppt/slides/slide10.xml", slideXML("第十页")},
		part{"ppt/slides/slide2.xml", slideXML("第二页", "保證收益")},
		part{"ppt/slides/slide1.xml", slide1},
		part{"ppt/slides/_rels/slide1.xml.rels", xmlDecl + `<Relationships/>`},
		part{"ppt/slideLayouts/slideLayout1.xml", slideXML("LAYOUT MUST NOT APPEAR")},
		part{"ppt/slideMasters/slideMaster1.xml", slideXML("MASTER MUST NOT APPEAR")},
		part{"ppt/notesSlides/notesSlide2.xml", slideXML("备注二")},
		part{"ppt/notesSlides/notesSlide1.xml", slideXML("备注：加我私人微信")},
	)
	want := "第一页：保证收益\nline\ntwo\n表格\n第二页\n保證收益\n第十页\n备注：加我私人微信\n备注二"
	mustText(t, data, mtPptx, "", Limits{}, want, "pptx")
	mustText(t, data, mtZip, "deck.pptx", Limits{}, want, "pptx")
}

func TestZipFlavourTieBreak(t *testing.T) {
	data := zipOf(
		part{"word/document.xml", docXML(wp("文档"))},
		part{"xl/worksheets/sheet1.xml", sheetXML(inlineRow("表格"))},
	)
	mustText(t, data, mtZip, "a.xlsx", Limits{}, "表格", "xlsx")
	mustText(t, data, mtZip, "a.docx", Limits{}, "文档", "docx")
	mustText(t, data, mtZip, "a.zip", Limits{}, "文档", "docx")
	mustText(t, data, mtXlsx, "a.docx", Limits{}, "表格", "xlsx")
}

func TestUnsupported(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		name, mediaType, fileName string
		in                        []byte
	}{
		{"png", "image/png", "a.png", png},
		{"png named txt", "image/png", "a.txt", png},
		{"pdf", "application/pdf", "a.pdf", []byte("%PDF-1.7\n")},
		{"amr", "audio/amr", "", []byte("#!AMR\n")},
		{"mp4", "video/mp4", "", nil},
		{"exe", "application/vnd.microsoft.portable-executable", "a.txt", []byte("MZ\x90\x00")},
		{"binary named txt", mtBin, "a.txt", []byte("\x00\x01\x02\x03\x04binary\x00\x00")},
		{"generic unknown name", mtBin, "a.dat", []byte("plain words")},
		{"legacy xls", "application/vnd.ms-excel", "a.xls", []byte("\xD0\xCF\x11\xE0")},
		{"plain zip", mtZip, "photos.zip", zipOf(part{"a.txt", "保证收益"}, part{"word/other.xml", "x"})},
		{"plain zip generic", mtBin, "photos.docx", zipOf(part{"a.txt", "保证收益"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustFail(t, tt.in, tt.mediaType, tt.fileName, Limits{}, ErrUnsupported)
		})
	}
}

func TestMalformed(t *testing.T) {
	doc := docxFixture()
	t.Run("truncated zip", func(t *testing.T) {
		for _, n := range []int{0, 4, len(doc) / 2, len(doc) - 1} {
			mustFail(t, doc[:n], mtDocx, "", Limits{}, ErrMalformed)
		}
	})
	t.Run("truncated zip sniffed generic", func(t *testing.T) {
		mustFail(t, doc[:len(doc)/2], mtZip, "", Limits{}, ErrMalformed)
	})
	t.Run("corrupt deflate stream", func(t *testing.T) {
		data := zipOf(part{"word/document.xml", docXML(wp(strings.Repeat("保证收益", 200)))})
		bad := bytes.Clone(data)
		for i := 60; i < 90; i++ { // inside the compressed data of the only entry
			bad[i] ^= 0x55
		}
		mustFail(t, bad, mtDocx, "", Limits{}, ErrMalformed)
	})
	t.Run("bad checksum", func(t *testing.T) {
		data := rawZip(t, "word/document.xml", []byte(docXML(wp("x"))), 12345)
		e := mustFail(t, data, mtDocx, "", Limits{}, ErrMalformed)
		if !errors.Is(e, zip.ErrChecksum) {
			t.Errorf("error %v does not wrap zip.ErrChecksum", e)
		}
	})
	t.Run("bad XML names the entry", func(t *testing.T) {
		data := zipOf(part{"word/document.xml", docXML("<w:p><w:t>unclosed")})
		e := mustFail(t, data, mtDocx, "", Limits{}, ErrMalformed)
		if e.Entry != "word/document.xml" || e.Format != "docx" {
			t.Errorf("error entry %q format %q", e.Entry, e.Format)
		}
	})
	t.Run("non-UTF-8 XML", func(t *testing.T) {
		doc := `<?xml version="1.0" encoding="GBK"?><w:document/>`
		mustFail(t, zipOf(part{"word/document.xml", doc}), mtDocx, "", Limits{}, ErrMalformed)
	})
	t.Run("docx type without document", func(t *testing.T) {
		mustFail(t, zipOf(part{"word/styles.xml", "<x/>"}), mtDocx, "", Limits{}, ErrMalformed)
	})
	t.Run("unknown compression method", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: 99, CompressedSize64: 3, UncompressedSize64: 3})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abc"))
		zw.Close()
		e := mustFail(t, buf.Bytes(), mtDocx, "", Limits{}, ErrUnsupported)
		if e.Entry != "word/document.xml" {
			t.Errorf("entry %q", e.Entry)
		}
	})
}

// rawZip stores body uncompressed under a CRC of the caller's choosing.
func rawZip(t *testing.T, name string, body []byte, crc uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc,
		CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	zw.Close()
	return buf.Bytes()
}

func TestRawZipHelperValid(t *testing.T) {
	body := []byte(docXML(wp("原样")))
	mustText(t, rawZip(t, "word/document.xml", body, crc32.ChecksumIEEE(body)), mtDocx, "", Limits{}, "原样", "docx")
}

func TestDTDRejected(t *testing.T) {
	const entity = `<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x "保证收益">]>`
	const laughs = `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`
	const xxe = `<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`
	tests := []struct {
		name, mediaType, entry string
		data                   []byte
	}{
		{"docx entity", mtDocx, "word/document.xml",
			docxOf("", part{"word/document.xml", entity + `<w:document><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>`})},
		{"billion laughs", mtDocx, "word/document.xml",
			zipOf(part{"word/document.xml", laughs + `<w:document><w:t>&lol3;</w:t></w:document>`})},
		{"xxe in header", mtDocx, "word/header1.xml",
			docxOf(wp("ok"), part{"word/header1.xml", xxe + `<w:hdr>&xxe;</w:hdr>`})},
		{"shared strings", mtXlsx, "xl/sharedStrings.xml",
			zipOf(part{"xl/worksheets/sheet1.xml", sheetXML("")}, part{"xl/sharedStrings.xml", entity + `<sst/>`})},
		{"slide", mtPptx, "ppt/slides/slide1.xml", zipOf(part{"ppt/slides/slide1.xml", xxe + `<p:sld/>`})},
		{"bare doctype", mtPptx, "ppt/slides/slide1.xml", zipOf(part{"ppt/slides/slide1.xml", `<!DOCTYPE html><p:sld/>`})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustFail(t, tt.data, tt.mediaType, "", Limits{}, ErrDTD)
			if !errors.Is(e, ErrMalformed) {
				t.Errorf("%v does not match ErrMalformed", e)
			}
			if e.Entry != tt.entry {
				t.Errorf("entry %q, want %q", e.Entry, tt.entry)
			}
			if msg := e.Error(); !strings.Contains(msg, fmt.Sprintf("%q", tt.entry)) || !strings.Contains(msg, "DOCTYPE") {
				t.Errorf("message %q does not name the entry and the DOCTYPE", msg)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	deep := strings.Repeat("<w:p>", maxDepth+10) + strings.Repeat("</w:p>", maxDepth+10)
	mustFail(t, docxOf(deep), mtDocx, "", Limits{}, ErrTooLarge)
	ok := strings.Repeat("<w:r>", 100) + "<w:t>深</w:t>" + strings.Repeat("</w:r>", 100)
	mustText(t, docxOf(`<w:p>`+ok+`</w:p>`), mtDocx, "", Limits{}, "深", "docx")
}

func TestZipBomb(t *testing.T) {
	t.Run("entry over per-entry cap", func(t *testing.T) {
		doc := docXML(`<w:p><w:r><w:t>` + strings.Repeat("a", 4<<20) + `</w:t></w:r></w:p>`)
		data := zipOf(part{"word/document.xml", doc})
		if len(data) > 64<<10 {
			t.Fatalf("bomb is %d bytes compressed; want a tiny file", len(data))
		}
		e := mustFail(t, data, mtDocx, "", Limits{MaxEntrySize: 1 << 20}, ErrTooLarge)
		if e.Entry != "word/document.xml" || !strings.Contains(e.Error(), "entry inflates past") {
			t.Errorf("error %v", e)
		}
	})
	t.Run("entries over total cap", func(t *testing.T) {
		// Each sheet is under the per-entry cap and yields no text, so
		// only the total inflated size can stop it.
		sheet := sheetXML(strings.Repeat("<row/>", 100000)) // ~600 KB
		var parts []part
		for i := 1; i <= 6; i++ {
			parts = append(parts, part{fmt.Sprintf("xl/worksheets/sheet%d.xml", i), sheet})
		}
		e := mustFail(t, zipOf(parts...), mtXlsx, "", Limits{MaxEntrySize: 1 << 20, MaxUncompressed: 2 << 20}, ErrTooLarge)
		if e.Entry != "xl/worksheets/sheet4.xml" || !strings.Contains(e.Error(), "archive inflates past") {
			t.Errorf("error %v", e)
		}
	})
	t.Run("default limits", func(t *testing.T) {
		if testing.Short() {
			t.Skip("inflates 64 MiB")
		}
		sheet := `<worksheet>` + strings.Repeat(" ", 65<<20) + `</worksheet>`
		data := zipOf(part{"xl/worksheets/sheet1.xml", sheet})
		mustFail(t, data, mtXlsx, "", Limits{}, ErrTooLarge)
	})
	t.Run("output cap stops inflating early", func(t *testing.T) {
		// Text beyond the output cap is not an error: the entry is
		// abandoned as soon as the output is full.
		sheet := sheetXML(strings.Repeat(`<row><c><v>1</v></c></row>`, 200000))
		res := mustText(t, zipOf(part{"xl/worksheets/sheet1.xml", sheet}), mtXlsx, "", Limits{MaxOutput: 9}, "1\n1\n1\n1\n1", "xlsx")
		if !res.Truncated {
			t.Error("not truncated")
		}
	})
}

func TestTooManyEntries(t *testing.T) {
	parts := []part{{"word/document.xml", docXML(wp("x"))}}
	for i := 0; i < 30; i++ {
		parts = append(parts, part{fmt.Sprintf("media/%d.bin", i), ""})
	}
	data := zipOf(parts...)
	mustFail(t, data, mtDocx, "", Limits{MaxZipEntries: 20}, ErrTooLarge)
	mustText(t, data, mtDocx, "", Limits{MaxZipEntries: 31}, "x", "docx")
}

func TestMaxInput(t *testing.T) {
	e := mustFail(t, []byte("保证收益"), mtText, "", Limits{MaxInput: 11}, ErrTooLarge)
	if e.Format != "" || !strings.Contains(e.Error(), "12 bytes") {
		t.Errorf("error %v", e)
	}
	mustText(t, []byte("保证收益"), mtText, "", Limits{MaxInput: 12}, "保证收益", "text")
}

func TestTruncation(t *testing.T) {
	three := strings.Repeat("保证收益", 3) // 36 bytes
	tests := []struct {
		name, mediaType string
		in              []byte
		max             int
		want            string
		truncated       bool
	}{
		{"plain mid-rune", mtText, []byte(three), 10, "保证收", true},
		{"plain exact fit", mtText, []byte("保证收益"), 12, "保证收益", false},
		{"plain one short", mtText, []byte("保证收益"), 11, "保证收", true},
		{"gbk", mtText, gbk(t, three), 7, "保证", true},
		{"utf16", mtText, utf16Bytes(three, false, true), 4, "保", true},
		{"csv separator", "text/csv", []byte("保证,收益\n"), 7, "保证", true},
		{"docx", mtDocx, docxOf(wp("保证", "收益") + wp("加我私人微信")), 13, "保证收益", true},
		{"docx fits", mtDocx, docxOf(wp("保证", "收益")), 12, "保证收益", false},
		{"xlsx", mtXlsx, zipOf(part{"xl/worksheets/sheet1.xml", sheetXML(inlineRow("加我私人微信"))}), 8, "加我", true},
		{"pptx", mtPptx, zipOf(part{"ppt/slides/slide1.xml", slideXML("保證收益")}), 5, "保", true},
		{"tiny", mtText, []byte("保"), 1, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := TextInfo(tt.in, tt.mediaType, "", Limits{MaxOutput: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tt.want || res.Truncated != tt.truncated {
				t.Errorf("got %q truncated=%v, want %q truncated=%v", res.Text, res.Truncated, tt.want, tt.truncated)
			}
			if !utf8.ValidString(res.Text) || len(res.Text) > tt.max {
				t.Errorf("text %q invalid or over %d bytes", res.Text, tt.max)
			}
			got, err := Text(tt.in, tt.mediaType, "", Limits{MaxOutput: tt.max})
			if err != nil || got != res.Text {
				t.Errorf("Text = %q, %v; want %q", got, err, res.Text)
			}
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	d := DefaultLimits()
	want := Limits{MaxInput: 64 << 20, MaxOutput: 1 << 20, MaxZipEntries: 10000, MaxUncompressed: 256 << 20, MaxEntrySize: 64 << 20}
	if d != want {
		t.Errorf("DefaultLimits() = %+v", d)
	}
	if got := (Limits{MaxOutput: -1}).withDefaults(); got != want {
		t.Errorf("zero/negative limits become %+v", got)
	}
	res, e := TextInfo([]byte(strings.Repeat("a", 1<<20+1)), mtText, "", Limits{})
	if e != nil || len(res.Text) != 1<<20 || !res.Truncated {
		t.Errorf("default output cap: len %d truncated %v err %v", len(res.Text), res.Truncated, e)
	}
}

func TestHugeLimits(t *testing.T) {
	huge := Limits{MaxInput: math.MaxInt64, MaxOutput: math.MaxInt, MaxZipEntries: math.MaxInt,
		MaxUncompressed: math.MaxInt64, MaxEntrySize: math.MaxInt64}
	mustText(t, docxFixture(), mtDocx, "", huge, docxWant, "docx")
	mustText(t, []byte("保证收益"), mtText, "", huge, "保证收益", "text")
	mustText(t, zipOf(part{"xl/worksheets/sheet1.xml", sheetXML(inlineRow("加我私人微信"))}), mtXlsx, "", huge, "加我私人微信", "xlsx")
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Format: "docx", Entry: "word/\x00.xml", Err: ErrMalformed}
	if got, want := e.Error(), `extract docx entry "word/\x00.xml": malformed input`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err := Text([]byte("x"), "image/jpeg", "", Limits{})
	if got, want := err.Error(), `extract: unsupported format: media type "image/jpeg"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestNaturalLess(t *testing.T) {
	ordered := []string{"sheet", "sheet1.xml", "sheet2.xml", "sheet02.xml", "sheet10.xml", "sheet99999999999999999999.xml", "sheeta.xml", "sheetb1.xml"}
	for i := range ordered {
		for j := range ordered {
			if got := naturalLess(ordered[i], ordered[j]); got != (i < j) {
				t.Errorf("naturalLess(%q, %q) = %v", ordered[i], ordered[j], got)
			}
		}
	}
}

func TestEncodingDetection(t *testing.T) {
	if !mostlyUTF8([]byte("保证收益")) || mostlyUTF8(gbk(t, "保证收益")) {
		t.Error("utf8/gbk misdetected")
	}
	if looksText([]byte("a\x00b")) || !looksText([]byte("hello\r\n")) || !looksText(utf16Bytes("hi there", false, false)) {
		t.Error("looksText misjudged")
	}
}
