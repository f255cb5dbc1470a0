// Package textindex is the one analyzer of wxarchive: search indexing,
// queries, highlighting and lexicon policies all go through it, so a term
// matches exactly the same text wherever it is used (DESIGN.md §5).
//
// Glossary:
//
//   - unit: one character after normalization (NFKC, case fold,
//     traditional → simplified), remembering the byte span of the original
//     text it came from.
//   - token: a Latin/digit word or a single CJK character (Han, kana,
//     Hangul). Words split where letters meet digits ("5G" → 5, g); a number
//     keeps its decimal point and drops thousands separators ("1,000.5" →
//     1000.5).
//   - position: every token occupies one position; NEAR distances and
//     phrases count positions.
//   - index term: what the full-text index stores at a position — the word,
//     or for a CJK character the bigram it forms with the next CJK character
//     (only spaces between), or the character alone at the end of a CJK run.
//     A 1-character query is a prefix of index terms, a 2-character query is
//     one index term, a longer Chinese run is a phrase of bigrams.
//   - join: two CJK characters are joined (form a bigram) when nothing but
//     horizontal white space lies between them, so "保 本" is still 保本 (a
//     common way to dodge lexicons), while punctuation and line breaks end
//     a run.
//
// docs/SEARCH.md documents the behaviour for users.
package textindex
