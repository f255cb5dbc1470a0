package textindex

import "unicode/utf8"

//go:generate go run ./internal/t2sdata/gen -dict ${OPENCC_DICT}

// foldTable maps traditional (and Taiwan/Hong Kong variant) characters to
// simplified ones, one character at a time: the index and the query must
// fold identically whatever surrounds a character. It is generated from
// OpenCC's dictionary files (internal/t2sdata); with OPENCC_DICT set,
// TestFoldTableIsCurrent checks it against them.
var foldTable = func() map[rune]rune {
	t := make(map[rune]rune, utf8.RuneCountInString(t2sPairs)/2)
	s := t2sPairs
	for len(s) > 0 {
		a, n := utf8.DecodeRuneInString(s)
		b, m := utf8.DecodeRuneInString(s[n:])
		t[a] = b
		s = s[n+m:]
	}
	return t
}()

func fold() map[rune]rune { return foldTable }
