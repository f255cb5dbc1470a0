package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }

func hits(text string, kinds ...Kind) string {
	var out []string
	for _, h := range Find(text, kinds, Options{Now: now}) {
		out = append(out, fmt.Sprintf("%s[%d:%d]%s", h.Kind, h.Start, h.End, h.Masked))
	}
	return strings.Join(out, " ")
}

func TestDetectors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		kinds      []Kind
		want       string
	}{
		// Resident IDs: check digit, region, birth date.
		{"id valid", "沈经理，我的身份证号码350203198705109724，名字没变", []Kind{PRCResidentID}, "prc_resident_id[11:29]350203********9724"},
		{"id wrong check digit", "证件号码500103197306238646，你看下对不对", []Kind{PRCResidentID}, ""},
		{"id with X", "身份证11010519491231002X", []Kind{PRCResidentID}, "prc_resident_id[3:21]110105********002X"},
		{"id full-width", "号码３５０２０３１９８７０５１０９７２４", []Kind{PRCResidentID}, "prc_resident_id[2:20]350203********9724"},
		{"id unknown region", "990203198705109727", []Kind{PRCResidentID}, ""},
		{"id impossible birth date", "350203198713409727", []Kind{PRCResidentID}, ""},
		{"id born in the future", "350203203001019724", []Kind{PRCResidentID}, ""},
		{"id inside a longer number", "12350203198705109724", []Kind{PRCResidentID}, ""},
		{"id inside an identifier", "ref350203198705109724x", []Kind{PRCResidentID}, ""},
		// Bank cards: Luhn, 13-19 digits, grouped layouts.
		{"card valid", "银行卡号6225886660325471，开户行中信银行", []Kind{BankCard}, "bank_card[4:20]622588******5471"},
		{"card fails Luhn", "卡号是6259 6571 2228 5225", []Kind{BankCard}, ""},
		{"card grouped", "card 4111 1111 1111 1111 thanks", []Kind{BankCard}, "bank_card[5:24]411111******1111"},
		{"card hyphens", "4111-1111-1111-1111", []Kind{BankCard}, "bank_card[0:19]411111******1111"},
		{"card mixed separators", "4111-1111 1111-1111", []Kind{BankCard}, ""},
		{"card amex layout", "3782 822463 10005", []Kind{BankCard}, "bank_card[0:17]378282*****0005"},
		{"date then number is no card", "2023-11-15 13812345678", []Kind{BankCard}, ""},
		{"card too short", "4111111111111", []Kind{BankCard}, ""},
		// US SSN.
		{"ssn valid", "SSN 123-45-6789 on file", []Kind{USSSN}, "us_ssn[4:15]***-**-6789"},
		{"ssn area 666", "666-45-6789", []Kind{USSSN}, ""},
		{"ssn area 9xx", "912-45-6789", []Kind{USSSN}, ""},
		{"ssn group 00", "123-00-6789", []Kind{USSSN}, ""},
		{"ssn serial 0000", "123-45-0000", []Kind{USSSN}, ""},
		{"ssn bare digits are not assumed", "123456789", []Kind{USSSN}, ""},
		// CN mobile.
		{"mobile", "电话13812345678找我", []Kind{CNMobile}, "cn_mobile[2:13]138****5678"},
		{"mobile +86", "call +8613812345678", []Kind{CNMobile}, "cn_mobile[5:19]138****5678"},
		{"mobile bad prefix", "12812345678", []Kind{CNMobile}, ""},
		{"mobile in a longer number", "138123456789", []Kind{CNMobile}, ""},
		// E-mail.
		{"email", "写信到 zhang.wei@example.com.cn。", []Kind{Email}, "email[4:28]z********@example.com.cn"},
		{"email trailing dot", "Mail li@firm.com.", []Kind{Email}, "email[5:16]l*@firm.com"},
		{"not an email", "a@b, user@localhost, x@y.1", []Kind{Email}, ""},
		// IBAN.
		{"iban", "IBAN GB82 WEST 1234 5698 7654 32 please", []Kind{IBAN}, "iban[5:32]GB82**************5432"},
		{"iban compact", "DE89370400440532013000", []Kind{IBAN}, "iban[0:22]DE89**************3000"},
		{"iban bad check", "GB82 WEST 1234 5698 7654 33", []Kind{IBAN}, ""},
		{"iban wrong length", "DE8937040044053201300", []Kind{IBAN}, ""},
		// Passports.
		{"passport", "护照号E12345678，下周出差", []Kind{Passport}, "passport[3:12]E******78"},
		{"passport new series", "passport EA1234567", []Kind{Passport}, "passport[9:18]E******67"},
		{"passport inside a word", "XE12345678", []Kind{Passport}, ""},
		// Several at once, in text order.
		{"mixed", "卡6225886660325471 电话13812345678 邮箱 a.b@c.io", nil,
			"bank_card[1:17]622588******5471 cn_mobile[20:31]138****5678 email[35:43]a**@c.io"},
	} {
		if got := hits(tc.text, tc.kinds...); got != tc.want {
			t.Errorf("%s: %q\n got %s\nwant %s", tc.name, tc.text, got, tc.want)
		}
	}
}

func TestResidentIDCheck(t *testing.T) {
	// Every check character, computed both ways.
	for _, id := range []string{"350203198705109724", "11010519491231002X", "440524188001010014"} {
		if c := ResidentIDCheck(id[:17]); c != id[17] {
			t.Errorf("%s: check %c", id, c)
		}
	}
}

// FuzzFind: any text gives hits inside it, in order, with masks that hide
// at least part of the value; never a panic.
func FuzzFind(f *testing.F) {
	f.Add("身份证350203198705109724 卡6225886660325471 a@b.cn GB82 WEST 1234 5698 7654 32 E12345678 +8613812345678 123-45-6789")
	f.Add("１２３４ ５６７８ ９０１２ ３４５６")
	f.Fuzz(func(t *testing.T, text string) {
		n := len([]rune(text))
		last := -1
		for _, h := range Find(text, nil, Options{Now: now}) {
			if h.Start < 0 || h.End > n || h.Start >= h.End || h.Start < last {
				t.Fatalf("hit %+v in %d runes (after %d)", h, n, last)
			}
			last = h.Start
			if !strings.Contains(h.Masked, "*") {
				t.Fatalf("mask %q hides nothing", h.Masked)
			}
		}
	})
}
