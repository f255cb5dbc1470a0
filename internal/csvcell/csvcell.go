// Package csvcell makes cells of the CSV files wxarchive hands to people
// safe to open in a spreadsheet.
package csvcell

import "strings"

// Safe prefixes a cell a spreadsheet would take for a formula (one
// starting with =, +, -, @, a tab or a carriage return) with an
// apostrophe, so opening a report never runs what someone typed into a
// note, a query or a name (CSV injection, OWASP).
func Safe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
