package detect

import (
	"math/big"
	"strings"
	"unicode"
)

func isASCIILetter(r rune) bool { return r < 0x80 && unicode.IsLetter(r) }
func isASCIIAlnum(r rune) bool  { return isASCIILetter(r) || isDigit(r) }

// findEmails finds local@domain.tld addresses (ASCII, as mail systems
// accept them unquoted).
func findEmails(rs []rune) [][2]int {
	var out [][2]int
	localOK := func(r rune) bool { return isASCIIAlnum(r) || strings.ContainsRune("._%+-", r) }
	domainOK := func(r rune) bool { return isASCIIAlnum(r) || r == '-' || r == '.' }
	for i, r := range rs {
		if r != '@' {
			continue
		}
		s := i
		for s > 0 && localOK(rs[s-1]) {
			s--
		}
		e := i + 1
		for e < len(rs) && domainOK(rs[e]) {
			e++
		}
		for e > i+1 && (rs[e-1] == '.' || rs[e-1] == '-') {
			e-- // a sentence's full stop is not part of the domain
		}
		for s < i && rs[s] == '.' {
			s++
		}
		if s == i || e == i+1 {
			continue
		}
		domain := string(rs[i+1 : e])
		dot := strings.LastIndexByte(domain, '.')
		if dot <= 0 || len(domain)-dot-1 < 2 || strings.Contains(domain, "..") {
			continue
		}
		tld := domain[dot+1:]
		if strings.IndexFunc(tld, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
			continue
		}
		out = append(out, [2]int{s, e})
	}
	return out
}

// ibanLengths are the IBAN lengths of the countries the firm's clients use
// most; other countries are checked by the mod 97 rule alone.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
	"EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
	"IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
	"PT": 25, "QA": 29, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}

// findIBANs finds IBANs, compact or in groups of four: two letters, two
// check digits, the account; valid when mod 97 gives 1.
func findIBANs(rs []rune) [][2]int {
	var out [][2]int
	for i := 0; i+4 <= len(rs); i++ {
		if !(isUpper(rs[i]) && isUpper(rs[i+1]) && isDigit(rs[i+2]) && isDigit(rs[i+3])) {
			continue
		}
		if i > 0 && isASCIIAlnum(rs[i-1]) {
			continue
		}
		var b strings.Builder
		j := i
		for j < len(rs) && b.Len() < 34 {
			if isDigit(rs[j]) || isUpper(rs[j]) {
				b.WriteRune(rs[j])
				j++
				continue
			}
			if rs[j] == ' ' && j+1 < len(rs) && (isDigit(rs[j+1]) || isUpper(rs[j+1])) && (b.Len())%4 == 0 {
				j++
				continue
			}
			break
		}
		if j < len(rs) && isASCIIAlnum(rs[j]) {
			continue
		}
		s := b.String()
		if want, ok := ibanLengths[s[:2]]; (ok && len(s) != want) || len(s) < 15 || !ibanValid(s) {
			continue
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

func isUpper(r rune) bool { return r >= 'A' && r <= 'Z' }

// ibanValid is the ISO 13616 check: move the first four characters to the
// end, letters to 10..35, the number mod 97 is 1.
func ibanValid(s string) bool {
	var digits strings.Builder
	for _, r := range s[4:] + s[:4] {
		if isDigit(r) {
			digits.WriteRune(r)
		} else {
			digits.WriteString(big.NewInt(int64(r - 'A' + 10)).String())
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// findPassports finds Chinese passport numbers: E or G and eight digits,
// or E, a letter (not I or O) and seven digits (the 2019 series).
func findPassports(rs []rune) [][2]int {
	var out [][2]int
	for i := 0; i+9 <= len(rs); i++ {
		if (rs[i] != 'E' && rs[i] != 'G') || (i > 0 && isASCIIAlnum(rs[i-1])) {
			continue
		}
		end := i + 9
		if end < len(rs) && isASCIIAlnum(rs[end]) {
			continue
		}
		body := rs[i+1 : end]
		allDigits := true
		for _, r := range body {
			allDigits = allDigits && isDigit(r)
		}
		newSeries := rs[i] == 'E' && isUpper(body[0]) && body[0] != 'I' && body[0] != 'O'
		for _, r := range body[1:] {
			newSeries = newSeries && isDigit(r)
		}
		if allDigits || newSeries {
			out = append(out, [2]int{i, end})
		}
	}
	return out
}

// mask keeps enough of a value to recognize it and hides the rest.
func mask(k Kind, v string) string {
	keep := func(head, tail int) string {
		r := []rune(v)
		if len(r) <= head+tail {
			return strings.Repeat("*", len(r))
		}
		return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
	}
	switch k {
	case PRCResidentID:
		return keep(6, 4) // region and the last four, as Chinese forms print them
	case BankCard:
		return keep(6, 4) // issuer prefix and the last four (PCI DSS)
	case USSSN:
		return "***-**-" + v[len(v)-4:]
	case CNMobile:
		return keep(3, 4)
	case Email:
		at := strings.IndexByte(v, '@')
		if at <= 1 {
			return "*" + v[max(at, 0):]
		}
		return v[:1] + strings.Repeat("*", at-1) + v[at:]
	case IBAN:
		return keep(4, 4)
	case Passport:
		return keep(1, 2)
	}
	return keep(0, 0)
}
