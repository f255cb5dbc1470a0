package extract

import "archive/zip"

// pptx extracts slides in numeric order (slide2 before slide10), then the
// speaker notes, also in numeric order.
func (a *archive) pptx(s *sink) error {
	var parts []*zip.File
	parts = append(parts, a.glob("ppt/slides/slide", ".xml", true)...)
	parts = append(parts, a.glob("ppt/notesslides/notesslide", ".xml", true)...)
	w := &textWalker{s: s, roles: drawingRole}
	return a.walkParts(formatPptx, parts, s, skipFallback, w.token)
}

// drawingRole maps DrawingML text elements (a:p, a:t, a:br) to text roles.
func drawingRole(local string) role {
	switch local {
	case "t":
		return roleText
	case "p":
		return roleBlock
	case "br":
		return roleBreak
	}
	return roleNone
}
