package archive

import "strings"

// DetailDecodeWarning names the Details in which a capture decoder says
// what of its input it set aside and why ("FIELD: reason"), the value as
// received in a Detail named by the field (docs/FORMAT.md §8). Capture
// raises a decode_warning fault for a message that has one.
const DetailDecodeWarning = "decode_warning"

// DecodeWarnings returns m's decode warnings.
func DecodeWarnings(m *Message) []string {
	var out []string
	for _, d := range m.Details {
		if d.Name == DetailDecodeWarning {
			out = append(out, d.Value)
		}
	}
	return out
}

// WarnedFields returns the paths of the fields set aside in m, for a
// fault's detail: names only, never values, which may be message content.
// A warning about the message as a whole is "(message)".
func WarnedFields(m *Message) []string {
	var out []string
	for _, w := range DecodeWarnings(m) {
		f, _, ok := strings.Cut(w, ": ")
		if !ok || strings.ContainsAny(f, " \"") {
			f = "(message)"
		}
		out = append(out, f)
	}
	return out
}
