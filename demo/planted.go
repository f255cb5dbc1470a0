package demo

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Planted is a message that a supervision policy should (or, for the
// near-miss categories, should not) flag. Tests of lexicons and detectors use
// Summary.Planted as their ground truth.
type Planted struct {
	MsgID, Category, Text string
	From                  string
	Recalled              bool // the sender recalled it within two minutes
}

// Planted categories. The "-near-miss" ones look like their namesake but are
// not violations (an 18-digit number failing MOD 11-2, a 16-digit number
// failing Luhn, a risk disclosure that says 不保本): a detector that flags them
// has a precision problem.
const (
	CatGuaranteedReturn = "guaranteed-return"
	CatOffChannel       = "off-channel"
	CatDeleteRecords    = "delete-records"
	CatIDNumber         = "id-number"
	CatIDNearMiss       = "id-number-near-miss"
	CatCardNumber       = "card-number"
	CatCardNearMiss     = "card-number-near-miss"
	CatInsider          = "insider"
	CatGift             = "gift"
	CatComplaint        = "complaint"
	CatRiskDisclosure   = "risk-disclosure"
)

type plantSpec struct {
	cat string
	// who says it: the employee or the client; internal means an
	// employee-to-employee chat is fine too.
	byClient   bool
	internalOK bool
	recallable bool
	zh, hant   []string
	en         []string
}

var plantSpecs = []plantSpec{
	{cat: CatGuaranteedReturn, recallable: true,
		zh: []string{
			"{C}，这个产品保本保收益，年化{pct8}%，绝对没问题",
			"跟着我买稳赚不赔，上个月我的客户都赚了{pct8}%",
			"放心，{product}我们内部是兜底的，保底收益{pct8}%，到期一分不会少",
			"这只私募我跟您保证不会亏，今年至少{pct8}%的收益",
		},
		hant: []string{"{C}，呢隻產品保證收益，年化{pct8}%，穩賺不賠", "放心啦，保本保息，年化{pct8}%"},
		en:   []string{"This note offers a guaranteed {pct8}% return, zero downside.", "Trust me, you can't lose money on this one — guaranteed 8% return."},
	},
	{cat: CatOffChannel, recallable: true,
		zh: []string{
			"加我私人微信吧，{wxid}，这边说话不方便",
			"加我私人微信号：{wxid}，以后细节在那边聊",
			"我们换个地方聊，这里公司都能看到",
			"有些话不方便在这里说，晚上打我私人手机{phone}",
		},
		hant: []string{"加我私人微信啦，{wxid}，呢度唔方便講"},
		en:   []string{"Let's move to WhatsApp, my number is +852 {hkphone}", "Ping me on Telegram instead, this chat is monitored."},
	},
	{cat: CatDeleteRecords, recallable: true, internalOK: true,
		zh: []string{
			"看完记得删掉聊天记录",
			"刚才那几条你删掉聊天记录吧，别让合规看到",
			"这个别留痕，聊完把记录清一下",
		},
		en: []string{"Please delete this chat after reading."},
	},
	{cat: CatIDNumber, byClient: true,
		zh: []string{
			"身份证号是{id}，麻烦帮我更新一下资料",
			"{E}，我的身份证号码{id}，名字没变",
			"开户信息：姓名{cname}，证件号{id}",
		},
		hant: []string{"我的身份證號碼：{id}，唔該幫我更新"},
		en:   []string{"My PRC ID number is {id}, please update my file."},
	},
	{cat: CatIDNearMiss, byClient: true,
		zh:   []string{"身份证号是{badid}，麻烦帮我更新一下资料", "证件号码{badid}，你看下对不对"},
		hant: []string{"身份證號碼{badid}"},
	},
	{cat: CatCardNumber, byClient: true,
		zh: []string{
			"银行卡号{card}，开户行{bank}",
			"收款账户：{card}（{bank}）",
			"赎回款打到这张卡：{card}",
		},
		hant: []string{"銀行卡號{card}，{bank}"},
		en:   []string{"Please use card {card} for the redemption."},
	},
	{cat: CatCardNearMiss, byClient: true,
		zh: []string{"银行卡号{badcard}，开户行{bank}", "卡号是{badcard}"},
	},
	{cat: CatInsider, recallable: true, internalOK: true,
		zh: []string{
			"{stock}下周有重大资产重组，内幕消息，还没公告，先别外传",
			"我朋友在{stock}，说三季度业绩大超预期，还没公告，可以先埋伏",
			"消息绝对可靠，{stock}要被并购了，公告前买进去",
		},
		en: []string{"Heads-up: {stock} will announce the acquisition on Monday — not public yet."},
	},
	{cat: CatGift, recallable: true,
		zh: []string{
			"{C}，中秋给您准备了一盒月饼，另外送您一张购物卡，{giftamt}元的，一点心意",
			"送您两张周六的演唱会门票，您一定要收下",
			"{C}，这次认购的返点我私下转给您，{giftamt}元",
		},
		hant: []string{"送您一張購物卡，{giftamt}元，小小心意"},
		en:   []string{"I'll send you a gift card for your birthday, {giftamt} RMB, just a small token."},
	},
	{cat: CatComplaint, byClient: true,
		zh: []string{
			"我要投诉，你们{product}亏了{pct8}%，当初说没什么风险",
			"这个服务太差了，我要去证监会投诉",
			"客服电话一直打不通，我要投诉你们",
			"不给个说法的话我就去12386投诉",
		},
		hant: []string{"你哋咁做法，我要投訴"},
		en:   []string{"This is unacceptable, I want to file a complaint with your compliance department."},
	},
	{cat: CatRiskDisclosure,
		zh: []string{
			"提醒您：本产品不保本、不保证收益，过往业绩不代表未来表现。",
			"需要跟您说明一下，{product}是非保本浮动收益产品，可能损失本金。",
		},
		en: []string{"Please note this product is not principal-protected and returns are not guaranteed."},
	},
}

func plantSpecFor(cat string) *plantSpec {
	for i := range plantSpecs {
		if plantSpecs[i].cat == cat {
			return &plantSpecs[i]
		}
	}
	return nil
}

// Region codes are real county-level codes (GB/T 2260), so a detector that
// checks the region prefix accepts them.
var idRegions = []string{"110105", "310115", "440305", "330106", "510107", "320102", "420106", "440106", "370202",
	"500103", "610113", "350203", "210202", "120101", "430104", "440304"}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// idCheck returns the GB 11643 MOD 11-2 check character for 17 digits.
func idCheck(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// residentID returns a PRC resident ID number with a valid region, birth date
// and (unless bad) check character.
func residentID(r *rand.Rand, bad bool) string {
	y := 1958 + r.IntN(45)
	m := 1 + r.IntN(12)
	d := 1 + r.IntN(28)
	var b strings.Builder
	b.WriteString(pick(r, idRegions))
	b.WriteString(strconv.Itoa(y))
	b.WriteString(pad2(m))
	b.WriteString(pad2(d))
	b.WriteString(strconv.Itoa(1000 + r.IntN(1000))[1:]) // sequence; last digit odd = male
	s := b.String()
	c := idCheck(s)
	if bad {
		// Any other check character: the classic near miss is a typo.
		i := strings.IndexByte(idCheckChars, c)
		c = idCheckChars[(i+1+r.IntN(10))%11]
	}
	return s + string(c)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// Issuer prefixes of Chinese debit cards (UnionPay 62…), with card lengths.
var cardBINs = []struct {
	bin string
	n   int
}{{"622202", 19}, {"621700", 19}, {"622848", 19}, {"621661", 19}, {"622588", 16}, {"621483", 16}, {"622262", 19},
	{"621799", 19}, {"625965", 16}, {"436742", 19}, {"622700", 19}, {"621226", 19}}

func luhnCheck(payload string) byte {
	sum := 0
	double := true
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// cardNumber returns a bank card number that passes Luhn (or, if bad, fails
// it), sometimes grouped in fours as people type them.
func cardNumber(r *rand.Rand, bad bool) string {
	c := pick(r, cardBINs)
	var b strings.Builder
	b.WriteString(c.bin)
	for b.Len() < c.n-1 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	s := b.String()
	chk := luhnCheck(s)
	if bad {
		chk = byte('0' + (int(chk-'0')+1+r.IntN(9))%10)
	}
	s += string(chk)
	if r.IntN(3) == 0 {
		var g strings.Builder
		for i := 0; i < len(s); i += 4 {
			if i > 0 {
				g.WriteByte(' ')
			}
			g.WriteString(s[i:min(i+4, len(s))])
		}
		return g.String()
	}
	return s
}
