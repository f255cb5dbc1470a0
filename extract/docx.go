package extract

import "archive/zip"

// docx extracts the body first (the most useful text when the output is
// truncated), then headers, footers, notes and comments.
func (a *archive) docx(s *sink) error {
	var parts []*zip.File
	parts = append(parts, a.named("word/document.xml")...)
	parts = append(parts, a.glob("word/header", ".xml", false)...)
	parts = append(parts, a.glob("word/footer", ".xml", false)...)
	for _, name := range []string{"word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"} {
		parts = append(parts, a.named(name)...)
	}
	w := &textWalker{s: s, roles: docxRole}
	return a.walkParts(formatDocx, parts, s, docxSkip, w.token)
}

// docxRole maps WordprocessingML elements to text roles. w:delText is text
// deleted under change tracking: still in the file, still the sender's
// words, so a compliance search must find it.
func docxRole(local string) role {
	switch local {
	case "t", "delText":
		return roleText
	case "p":
		return roleBlock
	case "br", "cr":
		return roleBreak
	case "tab", "ptab":
		return roleTab
	}
	return roleNone
}

// docxSkip skips paragraph properties (their w:tabs/w:tab are tab stops,
// not tabs) and mc:Fallback duplicates.
func docxSkip(local string) bool { return local == "pPr" || skipFallback(local) }
