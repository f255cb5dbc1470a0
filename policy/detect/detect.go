// Package detect finds sensitive data in message text with validation, not
// bare patterns: a PRC resident ID must have a valid region, birth date and
// GB 11643 check digit; a card number must pass Luhn; an IBAN mod 97. Each
// hit records its span (code-point offsets into the text, like search
// highlights) and a masked value, never the full value, so alerts and logs
// do not spread what they flag.
//
// Full-width digits and letters (０-９, Ａ-Ｚ) count as their ASCII forms,
// and a number is never matched inside a longer run of digits.
package detect

import (
	"strings"
	"time"
	"unicode"
)

// Kind names a detector.
type Kind string

// Detectors.
const (
	PRCResidentID Kind = "prc_resident_id"
	BankCard      Kind = "bank_card"
	USSSN         Kind = "us_ssn"
	CNMobile      Kind = "cn_mobile"
	Email         Kind = "email"
	IBAN          Kind = "iban"
	Passport      Kind = "passport"
)

// All lists every detector.
var All = []Kind{PRCResidentID, BankCard, USSSN, CNMobile, Email, IBAN, Passport}

// Hit is one detected value.
type Hit struct {
	Kind   Kind   `json:"kind"`
	Start  int    `json:"start"` // code points
	End    int    `json:"end"`
	Masked string `json:"masked"`
}

// Options tune detection.
type Options struct {
	// Now bounds birth dates in resident IDs (default time.Now).
	Now func() time.Time
}

// Find runs the given detectors (all when kinds is empty) over text and
// returns hits in text order.
func Find(text string, kinds []Kind, opts Options) []Hit {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	want := map[Kind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	on := func(k Kind) bool { return len(kinds) == 0 || want[k] }
	rs := fold([]rune(text))
	var hits []Hit
	add := func(k Kind, start, end int, value string) {
		hits = append(hits, Hit{Kind: k, Start: start, End: end, Masked: mask(k, value)})
	}
	if on(PRCResidentID) || on(BankCard) || on(CNMobile) || on(USSSN) {
		digitRuns(rs, func(start, end int, digits string, grouped bool) {
			switch {
			case on(PRCResidentID) && !grouped && validResidentID(digits, opts.Now()):
				add(PRCResidentID, start, end, digits)
			case !allDigits(digits):
				// only a resident ID ends in X
			case on(BankCard) && len(digits) >= 13 && len(digits) <= 19 && luhn(digits) && !(len(digits) == 18 && looksLikeResidentID(digits)) &&
				!(start > 0 && rs[start-1] == '+'): // +country code: a phone number
				add(BankCard, start, end, digits)
			case on(CNMobile) && validCNMobile(digits) && (!grouped || mobileLayout(rs[start:end])):
				s := start
				if len(digits) == 13 && s > 0 && rs[s-1] == '+' {
					s--
				}
				add(CNMobile, s, end, strings.TrimPrefix(digits, "86"))
			case on(USSSN) && grouped && validSSN(rs[start:end]):
				add(USSSN, start, end, digits)
			}
		})
	}
	if on(Email) {
		for _, h := range findEmails(rs) {
			add(Email, h[0], h[1], string(rs[h[0]:h[1]]))
		}
	}
	if on(IBAN) {
		for _, h := range findIBANs(rs) {
			add(IBAN, h[0], h[1], compact(rs[h[0]:h[1]]))
		}
	}
	if on(Passport) {
		for _, h := range findPassports(rs) {
			add(Passport, h[0], h[1], string(rs[h[0]:h[1]]))
		}
	}
	sortHits(hits)
	return hits
}

// fold maps full-width ASCII variants to ASCII, one rune for one rune, so
// offsets stay those of the original text.
func fold(rs []rune) []rune {
	out := make([]rune, len(rs))
	for i, r := range rs {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFF01 - 0x21
		} else if r == 0x3000 {
			r = ' '
		}
		out[i] = r
	}
	return out
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitRuns calls fn for every maximal run of digits, and for digit groups
// joined by one space or hyphen in the layouts cards and SSNs are written
// in (4-4-4-4, 4-4-4-4-3, 4-6-5, 3-2-4), with the digits alone. A run that
// touches an ASCII letter or digit is part of an identifier and is skipped.
func digitRuns(rs []rune, fn func(start, end int, digits string, grouped bool)) {
	type run struct{ start, end int }
	var runs []run
	for i := 0; i < len(rs); {
		if !isDigit(rs[i]) {
			i++
			continue
		}
		j := i
		for j < len(rs) && isDigit(rs[j]) {
			j++
		}
		runs = append(runs, run{i, j})
		i = j
	}
	free := func(start, end int) bool {
		return !(start > 0 && isASCIIAlnum(rs[start-1])) && !(end < len(rs) && isASCIIAlnum(rs[end]))
	}
	digits := func(start, end int) string {
		var b strings.Builder
		for _, r := range rs[start:end] {
			if isDigit(r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	for i, r := range runs {
		if free(r.start, r.end) {
			fn(r.start, r.end, string(rs[r.start:r.end]), false)
		} else if r.end-r.start == 17 && r.end < len(rs) && (rs[r.end] == 'X' || rs[r.end] == 'x') && free(r.start, r.end+1) {
			// A resident ID whose check character is X.
			fn(r.start, r.end+1, string(rs[r.start:r.end])+"X", false)
		}
		// Groups: the same separator between each.
		lens := []int{r.end - r.start}
		sep := rune(0)
		for k := i + 1; k < len(runs) && len(lens) < 5; k++ {
			prev := runs[k-1]
			if runs[k].start != prev.end+1 {
				break
			}
			c := rs[prev.end]
			if (c != ' ' && c != '-') || (sep != 0 && c != sep) {
				break
			}
			sep = c
			lens = append(lens, runs[k].end-runs[k].start)
			end := runs[k].end
			if groupLayout(lens) && free(r.start, end) {
				fn(r.start, end, digits(r.start, end), true)
			}
		}
	}
}

func groupLayout(l []int) bool {
	eq := func(want ...int) bool {
		if len(l) != len(want) {
			return false
		}
		for i := range l {
			if l[i] != want[i] {
				return false
			}
		}
		return true
	}
	switch {
	case eq(3, 2, 4), eq(4, 6, 5), eq(4, 6, 4), eq(4, 4, 4, 4), eq(3, 4, 4), eq(2, 3, 4, 4):
		return true
	case len(l) == 5 && eq(4, 4, 4, 4, l[4]) && l[4] >= 1 && l[4] <= 3:
		return true
	}
	return false
}

// Resident IDs: GB 11643-1999.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// provinces are the first two digits of valid administrative division
// codes (GB/T 2260), including Hong Kong, Macao and Taiwan residence
// permits.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true, "21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true, "71": true, "81": true, "82": true, "83": true,
}

func looksLikeResidentID(s string) bool { return len(s) == 18 && provinces[s[:2]] }

// ResidentIDCheck is the GB 11643 MOD 11-2 check character of 17 digits.
func ResidentIDCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

func validResidentID(s string, now time.Time) bool {
	if len(s) != 18 || !provinces[s[:2]] {
		return false
	}
	if ResidentIDCheck(s[:17]) != s[17] {
		return false
	}
	return validBirth(s[6:14], now)
}

func validBirth(ymd string, now time.Time) bool {
	t, err := time.Parse("20060102", ymd)
	if err != nil {
		return false
	}
	return t.Year() >= 1900 && !t.After(now)
}

// luhn reports whether a digit string passes the Luhn check.
func luhn(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// mobileLayout: the groups mobiles are written in, 138 0013 8000 or
// (after +) 86 138 0013 8000.
func mobileLayout(run []rune) bool {
	var lens []int
	n := 0
	for _, r := range run {
		if isDigit(r) {
			n++
		} else {
			lens = append(lens, n)
			n = 0
		}
	}
	lens = append(lens, n)
	return len(lens) == 3 && lens[0] == 3 && lens[1] == 4 && lens[2] == 4 ||
		len(lens) == 4 && lens[0] == 2 && lens[1] == 3 && lens[2] == 4 && lens[3] == 4
}

// validCNMobile: 11 digits, 1 then 3-9 (mainland mobile prefixes), alone
// or after +86.
func validCNMobile(digits string) bool {
	if len(digits) == 13 && strings.HasPrefix(digits, "86") {
		digits = digits[2:]
	}
	return len(digits) == 11 && digits[0] == '1' && digits[1] >= '3' && digits[1] <= '9'
}

// validSSN: AAA-GG-SSSS (or with spaces): area not 000, 666 or 9xx; group
// not 00; serial not 0000.
func validSSN(run []rune) bool {
	s := string(run)
	sep := "-"
	if strings.Contains(s, " ") {
		sep = " "
	}
	parts := strings.Split(s, sep)
	if len(parts) != 3 || len(parts[0]) != 3 || len(parts[1]) != 2 || len(parts[2]) != 4 {
		return false
	}
	area, group, serial := parts[0], parts[1], parts[2]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

func sortHits(h []Hit) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && (h[j].Start < h[j-1].Start || h[j].Start == h[j-1].Start && h[j].End > h[j-1].End); j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

func compact(rs []rune) string {
	var b strings.Builder
	for _, r := range rs {
		if r != ' ' {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}
