package demo

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tctx is what a template slot may depend on: who speaks to whom, and when.
type tctx struct {
	spk  int   // participant index of the sender
	to   int   // addressee in a 1:1 chat, -1 in a group
	t    int64 // ms
	room int   // room index in a group, else -1
}

func (g *gen) person(i int) *person { return &g.d.people[i] }

func (g *gen) isClient(i int) bool { return i >= 0 && g.d.people[i].kind == pkClient }

func (g *gen) isEmployee(i int) bool { return i >= 0 && g.d.people[i].kind == pkEmployee }

func (g *gen) localTime(t int64) time.Time { return time.UnixMilli(t).In(cst) }

// fill expands {slot}s. Unknown slots are kept verbatim so a typo in a
// template shows up in the output instead of silently vanishing.
func (g *gen) fill(tpl string, c *tctx) string {
	if strings.IndexByte(tpl, '{') < 0 {
		return tpl
	}
	b := g.tb[:0]
	for i := 0; i < len(tpl); i++ {
		if tpl[i] != '{' {
			b = append(b, tpl[i])
			continue
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			b = append(b, tpl[i:]...)
			break
		}
		b = g.slot(b, tpl[i+1:i+j], c)
		i += j
	}
	g.tb = b
	return string(b)
}

func (g *gen) slot(b []byte, name string, c *tctx) []byte {
	r := g.r
	num := func(lo, hi float64, prec int) []byte {
		return strconv.AppendFloat(b, lo+r.Float64()*(hi-lo), 'f', prec, 64)
	}
	switch name {
	case "C":
		if g.isClient(c.to) {
			return append(b, g.person(c.to).sal...)
		}
		if c.room >= 0 {
			// In a group, address one of its clients by name.
			for range 6 {
				m := pick(r, g.d.rooms[c.room].members)
				if g.isClient(m) {
					return append(b, g.person(m).sal...)
				}
			}
			return append(b, "各位"...)
		}
		return append(b, "您"...)
	case "Ce":
		if g.isClient(c.to) {
			return append(b, g.person(c.to).salEN...)
		}
		return append(b, "there"...)
	case "E":
		if !g.isEmployee(c.to) {
			return append(b, "老师"...)
		}
		p := g.person(c.to)
		// A client addresses an adviser consistently, so the form depends on
		// the pair, not on the message.
		switch (c.to*31 + c.spk) % 4 {
		case 0:
			return append(b, p.surname+"经理"...)
		case 1:
			return append(b, "小"+p.surname...)
		case 2:
			return append(b, p.surname+"老师"...)
		default:
			return append(b, p.eName...)
		}
	case "col":
		for {
			k := r.IntN(g.d.nEmp)
			if k != c.spk && k != c.to {
				p := g.person(k)
				if r.IntN(3) == 0 {
					return append(b, p.surname+"总"...)
				}
				return append(b, p.surname+p.given...)
			}
		}
	case "cname":
		if g.isClient(c.spk) {
			p := g.person(c.spk)
			return append(b, p.surname+p.given...)
		}
		p := g.person(g.d.nEmp + r.IntN(g.d.nCli))
		if p.lang == langEN {
			return append(b, p.given+" "+p.surname...)
		}
		return append(b, p.surname+p.given...)
	case "fund", "fund2":
		return append(b, pick(r, funds)...)
	case "fundEN":
		return append(b, pick(r, fundsEN)...)
	case "code":
		return append(b, fundCode(r)...)
	case "stock", "company":
		return append(b, pick(r, stocks)...)
	case "hk":
		return append(b, pick(r, hkStocks)...)
	case "hkEN":
		return append(b, pick(r, hkStocksEN)...)
	case "tech":
		return append(b, pick(r, techSectors)...)
	case "us":
		return append(b, pick(r, usStocks)...)
	case "idx":
		return append(b, pick(r, indices)...)
	case "idxEN":
		return append(b, pick(r, indicesEN)...)
	case "sector", "sector2":
		return append(b, pick(r, sectors)...)
	case "sectorEN":
		return append(b, pick(r, sectorsEN)...)
	case "product":
		return append(b, pick(r, products)...)
	case "risk":
		return append(b, pick(r, riskLevels)...)
	case "cr":
		return append(b, pick(r, clientRisk)...)
	case "pct":
		return num(1, 28, 2)
	case "pct1":
		return num(0.3, 9.9, 1)
	case "pct8":
		return append(b, pick(r, []string{"8", "10", "12", "15", "6.5", "9"})...)
	case "chg", "chg2", "chg3":
		v := r.NormFloat64() * 1.1
		if v >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendFloat(b, v, 'f', 2, 64)
		return append(b, '%')
	case "nav":
		return num(0.85, 2.6, 4)
	case "price":
		g.lastPrice = 4 + r.Float64()*316
		return strconv.AppendFloat(b, g.lastPrice, 'f', 2, 64)
	case "price2":
		// The top of a range follows its bottom.
		return strconv.AppendFloat(b, g.lastPrice*(1.05+0.2*r.Float64()), 'f', 2, 64)
	case "qty":
		return strconv.AppendInt(b, int64(100*(1+r.IntN(80))), 10)
	case "fee":
		return append(b, pick(r, []string{"1.5", "1.2", "0.8", "0.6", "1.0", "0.15"})...)
	case "bps":
		return append(b, pick(r, []string{"25", "50", "25"})...)
	case "rate":
		return num(1.3, 3.4, 2)
	case "amt":
		return append(b, pick(r, []string{"50万", "100万", "200万", "30万", "300万", "80万", "500万", "20万"})...)
	case "amt2":
		return append(b, pick(r, []string{"1000元", "2000元", "3000元", "5000元", "1万"})...)
	case "n":
		return strconv.AppendInt(b, int64(2+r.IntN(7)), 10)
	case "N":
		return strconv.AppendInt(b, int64(10+r.IntN(80)), 10)
	case "day", "day2":
		return append(b, pick(r, dayWords)...)
	case "time":
		return append(b, pick(r, timeWords)...)
	case "dayEN":
		return append(b, pick(r, dayEN)...)
	case "timeEN":
		return append(b, pick(r, timeEN)...)
	case "place":
		return append(b, pick(r, places)...)
	case "doc":
		return append(b, pick(r, docs)...)
	case "event":
		return append(b, pick(r, events)...)
	case "city":
		return append(b, pick(r, cities)...)
	case "room":
		return append(b, pick(r, meetingRooms)...)
	case "food":
		return append(b, pick(r, foods)...)
	case "bank":
		return append(b, pick(r, banks)...)
	case "emo":
		return append(b, pick(r, emojis)...)
	case "mtg":
		x := 100000000 + r.IntN(900000000)
		s := strconv.Itoa(x)
		return append(b, s[0:3]+"-"+s[3:6]+"-"+s[6:9]...)
	case "date":
		return appendMonthDay(b, g.localTime(c.t).AddDate(0, 0, 1+r.IntN(10)))
	case "today":
		return appendMonthDay(b, g.localTime(c.t))
	case "dateEN":
		return append(b, g.localTime(c.t).AddDate(0, 0, 2+r.IntN(20)).Format("Jan 2")...)
	case "month":
		return strconv.AppendInt(b, int64(g.localTime(c.t).Month()), 10)
	case "q", "qn":
		lt := g.localTime(c.t)
		q := (int(lt.Month())-1)/3 + 1
		if name == "qn" {
			return strconv.AppendInt(b, int64(q), 10)
		}
		b = strconv.AppendInt(b, int64(lt.Year()), 10)
		return append(b, "年"+[]string{"一", "二", "三", "四"}[q-1]+"季度"...)
	case "greet":
		return append(b, g.greeting(c.t)...)
	case "wxid":
		if r.IntN(2) == 0 {
			return append(b, "wxid_"+strings.ToLower(randChars(r, 12))...)
		}
		return append(b, g.pinyinHandle(c.spk)+strconv.Itoa(1975+r.IntN(25))...)
	case "phone":
		return append(b, "1"+pick(r, []string{"38", "39", "58", "86", "36", "77", "50"})+digits(r, 8)...)
	case "hkphone":
		return append(b, pick(r, []string{"9", "6", "5"})+digits(r, 3)+" "+digits(r, 4)...)
	case "id":
		return append(b, residentID(r, false)...)
	case "badid":
		return append(b, residentID(r, true)...)
	case "card":
		return append(b, cardNumber(r, false)...)
	case "badcard":
		return append(b, cardNumber(r, true)...)
	case "giftamt":
		return append(b, pick(r, []string{"500", "1000", "2000", "3000"})...)
	}
	return append(b, "{"+name+"}"...)
}

func digits(r interface{ IntN(int) int }, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func (g *gen) pinyinHandle(i int) string {
	p := g.person(i)
	if p.kind == pkEmployee {
		return p.id + "_"
	}
	return "wx_" + strings.ToLower(randChars(g.r, 6))
}

func appendMonthDay(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, int64(t.Month()), 10)
	b = append(b, "月"...)
	b = strconv.AppendInt(b, int64(t.Day()), 10)
	return append(b, "日"...)
}

func (g *gen) greeting(t int64) string {
	lt := g.localTime(t)
	for _, h := range holidays {
		hd := time.Date(h.y, time.Month(h.m), h.d, 0, 0, 0, 0, cst)
		if d := hd.Sub(lt); d > -24*time.Hour && d < 4*24*time.Hour {
			return h.greet
		}
	}
	switch lt.Weekday() {
	case time.Friday:
		return pick(g.r, []string{"周末愉快😊", "周五啦，周末愉快！", "祝您周末愉快🌹"})
	case time.Monday:
		return pick(g.r, []string{"新的一周，工作顺利💪", "周一早上好☀️"})
	}
	return pick(g.r, []string{"早上好☀️", "今天辛苦啦", "祝您工作顺利！", "早安🌞"})
}

// role/language of one utterance
const (
	styleZH = iota
	styleHant
	styleHK
	styleEN
	styleIS
)

// chatText returns the text of a 1:1 or group message: an opener from the
// session's topic, replies, acknowledgements, and a closer, in the language
// the speaker would use with this audience.
func (g *gen) chatText(s *session, e *event) string {
	c := g.ctx(s, int(e.spk), e.t)
	r := g.r
	sp := g.person(c.spk)
	opener := e.turn == 0
	closer := e.flags&flagLast != 0 && !opener && r.IntN(10) < 6
	ack := !opener && (closer || r.IntN(10) < 3)

	var list []string
	style := styleZH
	switch s.kind {
	case sClientDM:
		cl := g.person(s.b)
		isClient := sp.kind == pkClient
		switch {
		case cl.lang == langEN:
			style = styleEN
		case cl.lang == langHant:
			style = styleHant
			if isClient && cl.hk && r.IntN(100) < 55 {
				style = styleHK
			}
			if !isClient && r.IntN(100) < 65 {
				style = styleZH // mainland advisers mostly write simplified
			}
		case cl.inst != "" && cl.lang == langMixed:
			style = styleIS
		}
		switch {
		case style == styleEN && ack:
			list = acksEN
		case style == styleEN && isClient:
			list = enCli
		case style == styleEN:
			list = enEmp
		case style == styleHK:
			list = hkCli
		case ack && isClient:
			list = pickAck(r, acksZH, acksCliZH)
		case ack:
			list = pickAck(r, acksZH, acksEmpZH)
		case cl.inst != "" && isClient:
			list = isCli
		case cl.inst != "":
			list = isEmp
		case isClient:
			list = wmTopics[s.topic].cli
		default:
			list = wmTopics[s.topic].emp
		}
	case sInternalDM:
		if ack {
			list = acksInternal
		} else {
			list = internalTopics[s.topic]
		}
	case sRoom:
		rm := &g.d.rooms[s.room]
		isClient := sp.kind == pkClient
		switch {
		case isClient && sp.lang == langEN:
			style = styleEN
			list = enCli
			if ack {
				list = acksEN
			}
		case isClient && sp.lang == langHant && sp.hk && r.IntN(2) == 0:
			style = styleHK
			list = hkCli
		case isClient && sp.inst != "":
			list = isCli
		case isClient:
			if sp.lang == langHant {
				style = styleHant
			}
			list = groupClientCli
		case rm.kind == roomClient && ack:
			list = acksEmpZH
		case rm.kind == roomClient:
			list = groupClientEmp
		case rm.kind == roomInst:
			list = isEmp
		case ack:
			list = acksInternal
		case rm.kind == roomSocial:
			list = groupSocial
		case rm.Name == "合规通知群":
			list = groupCompliance
		case sp.dept == 1:
			list = groupDesk
		default:
			list = groupMorning
		}
	}
	text := g.fill(g.pickFresh(s, list), c)
	if (style == styleZH || style == styleHant) && !ack {
		text = g.vary(text, sp.kind == pkClient, opener)
	}
	return g.decorate(text, style, sp.kind == pkClient)
}

func pickAck(r interface{ IntN(int) int }, common, specific []string) []string {
	if r.IntN(3) == 0 {
		return specific
	}
	return common
}

// pickFresh picks a template the conversation has not used recently: people
// do not repeat themselves word for word three messages apart.
func (g *gen) pickFresh(s *session, list []string) string {
	var tpl string
	for try := 0; try < 4; try++ {
		tpl = list[g.r.IntN(len(list))]
		if tpl != s.recent[0] && tpl != s.recent[1] && tpl != s.recent[2] && tpl != s.recent[3] {
			break
		}
	}
	copy(s.recent[1:], s.recent[:3])
	s.recent[0] = tpl
	return tpl
}

var (
	clientQPrefix = []string{"请问", "想问下，", "对了，", "另外，", "问一下，"}
	clientPrefix  = []string{"嗯，", "哦哦，", "好吧，", "那个，"}
	staffPrefix   = []string{"另外，", "补充一下，", "对了，"}
	particles     = []string{"哈", "～", "哈哈", "。", "！", "呀", "啊"}
)

// vary adds the small words people put around a sentence (请问…, 对了…, …哈),
// so that a template does not come out verbatim hundreds of times.
func (g *gen) vary(text string, byClient, opener bool) string {
	if text == "" || strings.IndexByte(text, '\n') >= 0 || strings.HasPrefix(text, "【") {
		return text
	}
	r := g.r
	last, _ := utf8.DecodeLastRuneInString(text)
	question := last == '？' || last == '?'
	switch x := r.IntN(100); {
	case byClient && question && x < 22:
		text = pick(r, clientQPrefix) + text
	case byClient && !question && x < 8:
		text = pick(r, clientPrefix) + text
	case !byClient && !opener && x < 10:
		text = pick(r, staffPrefix) + text
	}
	if !unicode.IsPunct(last) && !unicode.IsSymbol(last) && last < 0x1F000 && r.IntN(100) < 14 {
		text += pick(r, particles)
	}
	return text
}

// decorate applies what people do to their own messages: traditional
// characters, full-width input mode, trailing emoji and WeCom emoticons.
func (g *gen) decorate(text string, style int, byClient bool) string {
	r := g.r
	switch style {
	case styleHant:
		text = toTraditional(text)
	case styleHK:
		return toTraditional(text) // slot values (stock names) are simplified
	case styleEN:
		return text
	}
	if r.IntN(1000) < 25 {
		text = toFullWidth(text)
	}
	if last, _ := utf8.DecodeLastRuneInString(text); last >= 0x2600 && last < 0x3000 || last >= 0x1F000 || last == ']' {
		return text // already ends with an emoji or emoticon
	}
	if byClient && r.IntN(100) < 8 {
		text += pick(r, emojis)
	} else if r.IntN(100) < 3 {
		text += pick(r, wxEmoticons)
	}
	return text
}

func (g *gen) ctx(s *session, spk int, t int64) *tctx {
	c := &tctx{spk: spk, to: g.addressee(s, spk), t: t, room: -1}
	if s.kind == sRoom || s.kind == sRobot {
		c.room = s.room
	}
	return c
}

// addressee is the other party of a 1:1 chat, or -1 in a group.
func (g *gen) addressee(s *session, spk int) int {
	switch s.kind {
	case sClientDM, sInternalDM, sConsent:
		if spk == s.a {
			return s.b
		}
		return s.a
	}
	return -1
}
