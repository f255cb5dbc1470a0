package demo

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Files are small but real: a PDF with a valid xref table, Office Open XML
// packages that Word/Excel open and that content sniffers classify by their
// parts, and UTF-8 text/CSV in Chinese and English.

func makeFile(r *rand.Rand, it *mediaItem, stamp time.Time) ([]byte, error) {
	switch it.sub {
	case fPDF:
		return makePDF(r, it.title, stamp), nil
	case fDOCX:
		return makeDOCX(r, it.title, stamp)
	case fXLSX:
		return makeXLSX(r, it.title, stamp)
	case fTXT:
		return makeTXT(r, it.title), nil
	default:
		return makeCSV(r, it.title, stamp), nil
	}
}

func randPersonName(r *rand.Rand) string {
	s := surnames[r.IntN(len(surnames)/2)].c
	if r.IntN(2) == 0 {
		return s + pick(r, givenMale).c
	}
	return s + pick(r, givenFemale).c
}

func fundCode(r *rand.Rand) string { return strconv.Itoa(100000 + r.IntN(900000))[0:6] }

func money(r *rand.Rand, lo, hi float64) string {
	return strconv.FormatFloat(lo+r.Float64()*(hi-lo), 'f', 2, 64)
}

// --- PDF ---------------------------------------------------------------------

func pdfString(s string) string {
	return "(" + strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(s) + ")"
}

// pdfUTF16 encodes a text string for the Info dictionary (Chinese titles).
func pdfUTF16(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

func makePDF(r *rand.Rand, title string, stamp time.Time) []byte {
	// Page content: a heading, a key-facts table, a performance bar chart and
	// the standard disclaimer. Standard 14 fonts only, so no embedding.
	var c strings.Builder
	fund := pick(r, fundsEN)
	heading := fund + " - Product Factsheet"
	if strings.Contains(title, "风险") || strings.Contains(title, "适当性") {
		heading = "Risk Disclosure Statement"
	} else if strings.Contains(title, "报告") || strings.Contains(title, "Strategy") || strings.Contains(title, "配置") {
		heading = "Asset Allocation & Strategy Outlook"
	} else if strings.Contains(title, "Fee") {
		heading = "Fee Schedule 2026"
	}
	fmt.Fprintf(&c, "0.13 0.39 0.78 rg 0 790 595 52 re f\n")
	fmt.Fprintf(&c, "BT /F2 20 Tf 1 1 1 rg 40 808 Td %s Tj ET\n", pdfString(heading))
	fmt.Fprintf(&c, "BT /F1 9 Tf 0.4 0.4 0.4 rg 40 770 Td %s Tj ET\n", pdfString("Yunfan Securities Co., Ltd. | Wealth Management | "+stamp.Format("2 January 2006")))
	facts := [][2]string{
		{"Fund code", fundCode(r)},
		{"Risk rating", pick(r, []string{"R2 (low-medium)", "R3 (medium)", "R4 (medium-high)"})},
		{"NAV", strconv.FormatFloat(0.8+r.Float64()*1.6, 'f', 4, 64)},
		{"1Y return", strconv.FormatFloat(-8+r.Float64()*25, 'f', 2, 64) + "%"},
		{"Max drawdown", "-" + strconv.FormatFloat(2+r.Float64()*18, 'f', 2, 64) + "%"},
		{"Management fee", "1.20% p.a."},
		{"Custody fee", "0.20% p.a."},
		{"Subscription fee", strconv.FormatFloat(0.6+r.Float64(), 'f', 2, 64) + "%"},
	}
	y := 730
	for i, f := range facts {
		if i%2 == 0 {
			fmt.Fprintf(&c, "0.95 0.96 0.98 rg 40 %d 515 18 re f\n", y-5)
		}
		fmt.Fprintf(&c, "BT /F1 11 Tf 0.2 0.2 0.2 rg 50 %d Td %s Tj ET\n", y, pdfString(f[0]))
		fmt.Fprintf(&c, "BT /F2 11 Tf 0.1 0.1 0.1 rg 300 %d Td %s Tj ET\n", y, pdfString(f[1]))
		y -= 18
	}
	y -= 30
	fmt.Fprintf(&c, "BT /F2 13 Tf 0 0 0 rg 40 %d Td %s Tj ET\n", y, pdfString("Calendar-year returns"))
	base := y - 150
	fmt.Fprintf(&c, "0.6 0.6 0.6 RG 0.8 w 60 %d m 540 %d l S\n", base+60, base+60)
	for i := range 8 {
		v := r.NormFloat64() * 25
		x := 70 + i*58
		if v >= 0 {
			fmt.Fprintf(&c, "0.90 0.22 0.21 rg %d %d 34 %.1f re f\n", x, base+60, v)
		} else {
			fmt.Fprintf(&c, "0.15 0.65 0.36 rg %d %.1f 34 %.1f re f\n", x, float64(base+60)+v, -v)
		}
		fmt.Fprintf(&c, "BT /F1 8 Tf 0.3 0.3 0.3 rg %d %d Td (%d) Tj ET\n", x+6, base-8, 2018+i)
	}
	lines := []string{
		"Past performance is not indicative of future results. The fund is not principal-protected.",
		"Investors should read the prospectus and the risk disclosure statement before investing.",
		"This material is for clients whose risk profile matches the product's risk rating only.",
	}
	y = 120
	for _, l := range lines {
		fmt.Fprintf(&c, "BT /F1 8 Tf 0.45 0.45 0.45 rg 40 %d Td %s Tj ET\n", y, pdfString(l))
		y -= 12
	}
	content := c.String()

	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	obj(fmt.Sprintf("<< /Title %s /Author (Yunfan Securities) /Producer (wxarchive demo) /CreationDate (D:%s+08'00') >>",
		pdfUTF16(title), stamp.Format("20060102150405")))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// --- Office Open XML -----------------------------------------------------------

var xmlEsc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// Parts are written in the order Office itself uses ([Content_Types].xml,
// _rels/.rels, then the main part): libmagic only recognises that order.
type zipPart struct{ name, body string }

func writeZip(parts []zipPart, stamp time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate, Modified: stamp})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func coreProps(title string, stamp time.Time) string {
	return xmlHeader + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ` +
		`xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<dc:title>` + xmlEsc.Replace(title) + `</dc:title><dc:creator>云帆证券</dc:creator>` +
		`<dcterms:created xsi:type="dcterms:W3CDTF">` + stamp.UTC().Format(time.RFC3339) + `</dcterms:created></cp:coreProperties>`
}

const relsNS = `http://schemas.openxmlformats.org/package/2006/relationships`

func makeDOCX(r *rand.Rand, title string, stamp time.Time) ([]byte, error) {
	var body strings.Builder
	para := func(text string, bold bool, size int) {
		body.WriteString(`<w:p><w:r>`)
		if bold || size > 0 {
			body.WriteString(`<w:rPr>`)
			if bold {
				body.WriteString(`<w:b/>`)
			}
			if size > 0 {
				fmt.Fprintf(&body, `<w:sz w:val="%d"/>`, size)
			}
			body.WriteString(`</w:rPr>`)
		}
		body.WriteString(`<w:t xml:space="preserve">` + xmlEsc.Replace(text) + `</w:t></w:r></w:p>`)
	}
	para(title, true, 32)
	para("日期："+stamp.Format("2006年1月2日")+"    记录人："+randPersonName(r), false, 0)
	para("一、基本情况", true, 0)
	para(fmt.Sprintf("参会人员：%s、%s、%s（%s）", randPersonName(r), randPersonName(r), randPersonName(r), pick(r, institutions)), false, 0)
	para("二、主要内容", true, 0)
	points := []string{
		"客户关注" + pick(r, sectors) + "板块的中长期配置价值，希望了解相关产品。",
		"介绍了" + pick(r, funds) + "的投资策略、历史业绩与风险特征，提示过往业绩不代表未来表现。",
		"客户风险承受能力等级为" + pick(r, clientRisk) + "，与拟推荐产品风险等级匹配。",
		"需补充材料：身份证件复印件、近三个月银行流水、税收居民身份声明。",
		"The client asked for the English version of the fee schedule; to be sent by email.",
		"下次沟通时间：" + pick(r, dayWords) + pick(r, timeWords) + "。",
	}
	for i, p := range points {
		if r.IntN(5) == 0 {
			continue
		}
		para(strconv.Itoa(i+1)+". "+p, false, 0)
	}
	para("三、后续安排", true, 0)
	para("由"+randPersonName(r)+"负责跟进，合规部审核宣传材料后再发送客户。", false, 0)
	doc := xmlHeader + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
		body.String() + `<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>`
	parts := []zipPart{
		{"[Content_Types].xml", xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`},
		{"_rels/.rels", xmlHeader + `<Relationships xmlns="` + relsNS + `">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`},
		{"word/document.xml", doc},
		{"docProps/core.xml", coreProps(title, stamp)},
	}
	return writeZip(parts, stamp)
}

func makeXLSX(r *rand.Rand, title string, stamp time.Time) ([]byte, error) {
	var rows [][]any
	sheet := "Sheet1"
	switch {
	case strings.Contains(title, "业绩"):
		sheet = "业绩"
		rows = append(rows, []any{"姓名", "团队", "新增资产(万元)", "新开户", "完成率"})
		for range 8 + r.IntN(8) {
			rows = append(rows, []any{randPersonName(r), pick(r, []string{"WM-1", "WM-2", "WM-3"}), float64(50 + r.IntN(3000)), float64(r.IntN(12)), float64(40+r.IntN(90)) / 100})
		}
	case strings.Contains(title, "路演") || strings.Contains(title, "名单"):
		sheet = "排期"
		rows = append(rows, []any{"日期", "机构/客户", "城市", "对接人", "备注"})
		for i := range 6 + r.IntN(10) {
			rows = append(rows, []any{stamp.AddDate(0, 0, i+r.IntN(3)).Format("2006-01-02"), pick(r, institutions), pick(r, cities), randPersonName(r), pick(r, []string{"1on1", "小组会", "电话会", "", "待确认"})})
		}
	case strings.Contains(title, "Fee") || strings.Contains(title, "收益"):
		sheet = "Comparison"
		rows = append(rows, []any{"Product", "Mgmt fee", "Custody fee", "1Y return", "Risk"})
		for range 5 + r.IntN(5) {
			rows = append(rows, []any{pick(r, funds), 0.5 + float64(r.IntN(150))/100, 0.1 + float64(r.IntN(20))/100, -10 + r.Float64()*30, pick(r, []string{"R2", "R3", "R4"})})
		}
	default:
		sheet = "持仓"
		rows = append(rows, []any{"代码", "名称", "持有份额", "成本价", "最新净值", "市值(元)", "盈亏比例"})
		for range 6 + r.IntN(12) {
			cost := 0.8 + r.Float64()
			nav := cost * (0.8 + r.Float64()*0.45)
			units := float64(1000 * (1 + r.IntN(500)))
			rows = append(rows, []any{fundCode(r), pick(r, funds), units, round4(cost), round4(nav), round2(units * nav), round4(nav/cost - 1)})
		}
	}
	var sd strings.Builder
	for i, row := range rows {
		fmt.Fprintf(&sd, `<row r="%d">`, i+1)
		for j, v := range row {
			ref := string(rune('A'+j)) + strconv.Itoa(i+1)
			switch x := v.(type) {
			case string:
				fmt.Fprintf(&sd, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, xmlEsc.Replace(x))
			case float64:
				fmt.Fprintf(&sd, `<c r="%s"><v>%s</v></c>`, ref, strconv.FormatFloat(x, 'f', -1, 64))
			}
		}
		sd.WriteString(`</row>`)
	}
	mainNS := `http://schemas.openxmlformats.org/spreadsheetml/2006/main`
	parts := []zipPart{
		{"[Content_Types].xml", xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`},
		{"_rels/.rels", xmlHeader + `<Relationships xmlns="` + relsNS + `">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`},
		{"xl/workbook.xml", xmlHeader + `<workbook xmlns="` + mainNS + `" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="` + sheet + `" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", xmlHeader + `<Relationships xmlns="` + relsNS + `">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", xmlHeader + `<worksheet xmlns="` + mainNS + `"><sheetData>` + sd.String() + `</sheetData></worksheet>`},
		{"docProps/core.xml", coreProps(title, stamp)},
	}
	return writeZip(parts, stamp)
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
func round4(x float64) float64 {
	if x < 0 {
		return -round4(-x)
	}
	return float64(int64(x*10000+0.5)) / 10000
}

// --- text ------------------------------------------------------------------------

func makeTXT(r *rand.Rand, title string) []byte {
	var b strings.Builder
	b.WriteString(title + "\n\n")
	if strings.Contains(title, "开户") {
		for i, l := range []string{"本人有效身份证件原件", "本人名下银行卡（一类户）", "风险承受能力测评（APP内完成）",
			"税收居民身份声明", "如开通港股通：资产证明（近20个交易日日均资产不低于50万元）", "如开通两融：开户满半年、资产不低于50万元"} {
			fmt.Fprintf(&b, "%d. %s\n", i+1, l)
		}
		return []byte(b.String())
	}
	fmt.Fprintf(&b, "参会：%s、%s、%s\n", randPersonName(r), randPersonName(r), pick(r, englishMale))
	for range 4 + r.IntN(5) {
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "- %s：景气度回升，关注龙头估值修复\n", pick(r, sectors))
		case 1:
			fmt.Fprintf(&b, "- %s 近一年收益 %.2f%%，最大回撤 -%.2f%%\n", pick(r, funds), -5+r.Float64()*20, 2+r.Float64()*12)
		case 2:
			fmt.Fprintf(&b, "- Action: send the fee schedule and the factsheet to the client by %s\n", pick(r, dayEN))
		default:
			fmt.Fprintf(&b, "- 客户问题：%s的赎回到账时间？答：T+%d个工作日\n", pick(r, funds), 1+r.IntN(3))
		}
	}
	b.WriteString("\n（内部资料，请勿外传）\n")
	return []byte(b.String())
}

func makeCSV(r *rand.Rand, title string, stamp time.Time) []byte {
	ym := stamp.Format("2006-01")
	var b strings.Builder
	// Excel in China writes CSV with a UTF-8 BOM; half of the files keep it.
	if r.IntN(2) == 0 {
		b.WriteString("\ufeff")
	}
	switch {
	case strings.Contains(title, "净值"):
		b.WriteString("日期,基金代码,基金名称,单位净值,累计净值,日涨跌幅\n")
		nav := 1 + r.Float64()
		code, name := fundCode(r), pick(r, funds)
		for i := range 20 {
			chg := r.NormFloat64() * 0.01
			nav *= 1 + chg
			fmt.Fprintf(&b, "%s-%02d,%s,%s,%.4f,%.4f,%.2f%%\n", ym, 1+i, code, name, nav, nav+0.35, chg*100)
		}
	case strings.Contains(title, "holdings"):
		b.WriteString("code,name,quantity,cost,last,market_value\n")
		for range 8 + r.IntN(8) {
			q := 100 * (1 + r.IntN(200))
			last := 5 + r.Float64()*200
			fmt.Fprintf(&b, "%06d,%s,%d,%.2f,%.2f,%.2f\n", r.IntN(1000000), pick(r, stocks), q, last*(0.8+r.Float64()*0.4), last, float64(q)*last)
		}
	case strings.Contains(title, "资金"):
		b.WriteString("日期,摘要,发生金额,余额,备注\n")
		bal := 100000 + r.Float64()*900000
		for i := range 12 {
			amt := (r.Float64() - 0.4) * 200000
			bal += amt
			fmt.Fprintf(&b, "%s-%02d,%s,%.2f,%.2f,\"%s\"\n", ym, 1+i*2, pick(r, []string{"银证转入", "银证转出", "基金赎回", "基金申购", "红利发放"}), amt, bal, pick(r, []string{"", "客户指令", "到期兑付", "定投扣款"}))
		}
	default:
		b.WriteString("成交日期,证券代码,证券名称,买卖方向,成交数量,成交价格,成交金额\n")
		for i := range 10 + r.IntN(15) {
			p := 5 + r.Float64()*200
			q := 100 * (1 + r.IntN(50))
			fmt.Fprintf(&b, "%s-%02d,%06d,%s,%s,%d,%.2f,%.2f\n", ym, 1+i%28, r.IntN(1000000), pick(r, stocks), pick(r, []string{"买入", "卖出"}), q, p, p*float64(q))
		}
	}
	return []byte(b.String())
}
