package demo

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Employee is a member of the demo firm. SupervisoryGroup names the unit whose
// principal reviews the employee's communications (FINRA 3110 style), so that
// supervision policies can be scoped by it.
type Employee struct {
	UserID, Name, Department, Title, SupervisoryGroup string
}

// Client is an external WeCom contact (external_userid "wm…").
type Client struct {
	ExternalUserID, Name string
	Traditional          bool   // writes traditional Chinese, e.g. a Hong Kong or Taiwan client
	Lang                 string // "zh", "zh-Hant", "en" or "mixed" (Chinese with English terms)
	Advisor              string // userid of the relationship employee
	Institution          string // set for institutional clients
}

// Robot is a group robot; its id starts with "wb".
type Robot struct {
	RobotID, Name string
}

// Room is a group chat; Members are userids and external_userids, robots excluded.
type Room struct {
	RoomID, Name string
	Members      []string
	External     bool // has external members
}

// FirmName is the (fictional) corporation name shown on business cards.
const FirmName = "云帆证券股份有限公司"

const (
	deptWM   = "财富管理部"
	deptIS   = "机构销售部"
	deptComp = "合规部"
)

// Participant indexes: employees first, then clients, then robots, so that a
// single int identifies any sender.
type person struct {
	id      string
	surname string // Chinese surname as written by this person
	given   string
	male    bool
	kind    uint8 // pkEmployee, pkClient, pkRobot
	// employee attributes
	dept  uint8 // 0 WM, 1 IS, 2 compliance
	role  uint8 // roleHead, roleLead, roleFront, roleAssistant, roleComp
	eName string
	// client attributes
	sal     string // how the other side addresses this person in Chinese
	salEN   string
	lang    uint8 // langZH, langHant, langEN, langMixed
	hk      bool  // Hong Kong (Cantonese flavour) rather than Taiwan
	inst    string
	advisor int
	consent uint8
	weight  float64
}

const (
	pkEmployee = iota
	pkClient
	pkRobot
)

const (
	roleHead = iota
	roleLead
	roleFront
	roleAssistant
	roleComp
)

const (
	langZH = iota
	langHant
	langEN
	langMixed
)

// Consent classes: most clients agreed to archiving before the period; the
// others produce agree/disagree events inside it.
const (
	consentBefore = iota
	consentAgree
	consentDisagreeThenAgree
	consentRefuse
)

type room struct {
	Room
	members []int // participant indexes
	robots  []int
	kind    uint8 // roomInternal, roomSocial, roomClient, roomInst
}

const (
	roomInternal = iota
	roomSocial
	roomClient
	roomInst
)

type directory struct {
	people              []person
	nEmp, nCli, nRobots int
	emps                []Employee
	clients             []Client
	robots              []Robot
	rooms               []room
	wmFront, isFront    []int // employees who serve clients
	comp                []int
	cliCum              []float64 // cumulative client activity weights
}

type pyName struct{ c, py string }

var surnames = []pyName{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"}, {"黄", "huang"},
	{"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"},
	{"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"高", "gao"}, {"林", "lin"}, {"罗", "luo"}, {"郑", "zheng"},
	{"梁", "liang"}, {"谢", "xie"}, {"宋", "song"}, {"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"},
	{"邓", "deng"}, {"曹", "cao"}, {"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"}, {"田", "tian"}, {"董", "dong"},
	{"潘", "pan"}, {"袁", "yuan"}, {"蔡", "cai"}, {"蒋", "jiang"}, {"杜", "du"}, {"叶", "ye"}, {"程", "cheng"},
	{"魏", "wei"}, {"苏", "su"}, {"吕", "lv"}, {"丁", "ding"}, {"沈", "shen"}, {"任", "ren"}, {"姚", "yao"},
	{"卢", "lu"}, {"傅", "fu"}, {"钟", "zhong"}, {"姜", "jiang"}, {"崔", "cui"}, {"谭", "tan"}, {"廖", "liao"},
	{"汪", "wang"}, {"陆", "lu"}, {"金", "jin"}, {"石", "shi"}, {"戴", "dai"}, {"贾", "jia"}, {"夏", "xia"},
	{"邱", "qiu"}, {"方", "fang"}, {"侯", "hou"}, {"邹", "zou"}, {"熊", "xiong"}, {"孟", "meng"}, {"秦", "qin"},
	{"白", "bai"}, {"江", "jiang"}, {"薛", "xue"}, {"尹", "yin"}, {"段", "duan"}, {"雷", "lei"}, {"黎", "li"},
	{"史", "shi"}, {"陶", "tao"}, {"贺", "he"}, {"顾", "gu"}, {"毛", "mao"}, {"龚", "gong"}, {"邵", "shao"},
	{"钱", "qian"}, {"严", "yan"}, {"欧阳", "ouyang"}, {"上官", "shangguan"},
}

var givenMale = []pyName{
	{"伟", "wei"}, {"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"杰", "jie"},
	{"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"刚", "gang"}, {"辉", "hui"}, {"鹏", "peng"}, {"斌", "bin"},
	{"浩", "hao"}, {"凯", "kai"}, {"峰", "feng"}, {"晨", "chen"}, {"宇", "yu"}, {"建国", "jianguo"},
	{"建华", "jianhua"}, {"志强", "zhiqiang"}, {"志明", "zhiming"}, {"海涛", "haitao"}, {"晓东", "xiaodong"},
	{"国庆", "guoqing"}, {"文博", "wenbo"}, {"俊杰", "junjie"}, {"浩然", "haoran"}, {"子轩", "zixuan"},
	{"宇航", "yuhang"}, {"思远", "siyuan"}, {"天翼", "tianyi"}, {"嘉诚", "jiacheng"}, {"立新", "lixin"},
	{"永刚", "yonggang"}, {"振华", "zhenhua"}, {"学军", "xuejun"}, {"家豪", "jiahao"}, {"一鸣", "yiming"},
	{"博文", "bowen"}, {"晓峰", "xiaofeng"}, {"建军", "jianjun"}, {"卫东", "weidong"}, {"子豪", "zihao"},
	{"明轩", "mingxuan"}, {"泽宇", "zeyu"}, {"国栋", "guodong"}, {"世杰", "shijie"},
}

var givenFemale = []pyName{
	{"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"}, {"艳", "yan"}, {"娟", "juan"},
	{"霞", "xia"}, {"婷", "ting"}, {"琳", "lin"}, {"颖", "ying"}, {"蕾", "lei"}, {"倩", "qian"}, {"洁", "jie"},
	{"雪", "xue"}, {"慧", "hui"}, {"欣", "xin"}, {"秀英", "xiuying"}, {"桂英", "guiying"}, {"海燕", "haiyan"},
	{"丽娟", "lijuan"}, {"晓燕", "xiaoyan"}, {"雨萱", "yuxuan"}, {"欣怡", "xinyi"}, {"梓涵", "zihan"},
	{"嘉怡", "jiayi"}, {"佳琪", "jiaqi"}, {"思琪", "siqi"}, {"雅婷", "yating"}, {"晓雯", "xiaowen"},
	{"诗涵", "shihan"}, {"美玲", "meiling"}, {"文静", "wenjing"}, {"婉清", "wanqing"}, {"若曦", "ruoxi"},
	{"可馨", "kexin"}, {"一诺", "yinuo"}, {"晓琳", "xiaolin"}, {"春梅", "chunmei"}, {"凤仪", "fengyi"},
}

var englishMale = []string{"Kevin", "Michael", "David", "Jason", "Eric", "Tony", "Leo", "Vincent", "Peter", "Frank",
	"Alex", "Steven", "Henry", "Jack", "Ryan", "Daniel", "Ken", "Raymond", "Edmund", "Felix"}
var englishFemale = []string{"Amy", "Grace", "Cindy", "Vivian", "Emily", "Jessica", "Irene", "Joyce", "Helen", "Karen",
	"Sophie", "Cherry", "Iris", "Winnie", "Crystal", "Angela", "Jenny", "Fiona", "Tina", "Coco"}
var westernSurnames = []string{"Miller", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Lim", "Tan",
	"Müller", "Dubois", "Walker", "Hughes", "Kim", "Park", "Nakamura", "Rossi", "Schmidt"}

// Fictional institutions for the institutional-sales desk's clients.
var institutions = []string{"景澄基金", "远川资产", "华睿保险资管", "博衍私募", "海桐投资", "青岚基金", "磐石资管",
	"润禾资本", "Cedar Ridge Capital", "Northbridge AM", "嘉实泰和养老金", "明曜量化", "Harbourfront Partners", "长乐信托"}

var cityRemarks = []string{"（陆家嘴）", "（静安）", "（浦东）", "（滨江）", "-VIP", "-高净值", "（深圳）", "（杭州）", "（老客户）"}

// Directory returns the employees (with departments) and clients for a seed
// without generating messages.
func Directory(seed int64) ([]Employee, []Client) {
	d := newDirectory(seed)
	return d.emps, d.clients
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^0x9e3779b97f4a7c15))
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randChars(r *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(idAlphabet[r.IntN(len(idAlphabet))])
	}
	return b.String()
}

// weightedIndex picks i with probability w[i]/sum(w).
func weightedIndex(r *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := r.Float64() * sum
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(w) - 1
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func newDirectory(seed int64) *directory {
	r := newRand(seed, 1)
	d := &directory{}
	// Real external ids of one corp share a prefix after "wm"; mimic that.
	corpTag := randChars(r, 4)
	usedIDs := map[string]bool{}
	usedNames := map[string]bool{}

	surnameIdx := func() int {
		// Common surnames first: a skewed pick keeps 王/李/张 frequent.
		x := r.Float64()
		return int(x * x * float64(len(surnames)))
	}
	newName := func(male bool) (pyName, pyName) {
		for {
			s := surnames[surnameIdx()]
			var g pyName
			if male {
				g = pick(r, givenMale)
			} else {
				g = pick(r, givenFemale)
			}
			if !usedNames[s.c+g.c] {
				usedNames[s.c+g.c] = true
				return s, g
			}
		}
	}
	userID := func(s, g pyName) string {
		base := s.py + g.py
		id := base
		for n := 2; usedIDs[id]; n++ {
			id = base + strconv.Itoa(n)
		}
		usedIDs[id] = true
		return id
	}

	type slot struct {
		dept  uint8
		role  uint8
		title string
		group string
	}
	var slots []slot
	add := func(n int, dept, role uint8, title, group string) {
		for range n {
			slots = append(slots, slot{dept, role, title, group})
		}
	}
	// Wealth management: three advisory teams of six or seven under one head.
	add(1, 0, roleHead, "部门总经理", "WM-1")
	for t := 1; t <= 3; t++ {
		g := "WM-" + strconv.Itoa(t)
		add(1, 0, roleLead, "团队长", g)
		add(2, 0, roleFront, "高级投资顾问", g)
		add(2, 0, roleFront, "投资顾问", g)
		add(1, 0, roleFront, "理财经理", g)
		add(1, 0, roleFront, "客户经理", g)
	}
	add(1, 0, roleAssistant, "销售助理", "WM-1")
	add(1, 0, roleAssistant, "销售助理", "WM-2")
	// Institutional sales: two coverage teams.
	add(1, 1, roleHead, "董事总经理", "IS-1")
	for t := 1; t <= 2; t++ {
		g := "IS-" + strconv.Itoa(t)
		add(1, 1, roleLead, "执行董事", g)
		add(2, 1, roleFront, "高级机构销售", g)
		add(2, 1, roleFront, "机构销售经理", g)
		add(1, 1, roleFront, "研究销售", g)
	}
	add(1, 1, roleAssistant, "销售助理", "IS-2")
	add(1, 2, roleHead, "合规总监", "COMP")
	add(2, 2, roleComp, "合规经理", "COMP")
	add(2, 2, roleComp, "合规专员", "COMP")
	add(1, 2, roleComp, "反洗钱专员", "COMP")

	// The fixtures' three advisers exist in every demo archive, so examples
	// in docs and issues ("from:zhangwei") work whatever the seed.
	fixed := []struct {
		s, g pyName
		male bool
	}{
		{pyName{"张", "zhang"}, pyName{"伟", "wei"}, true},
		{pyName{"李", "li"}, pyName{"娜", "na"}, false},
		{pyName{"王", "wang"}, pyName{"芳", "fang"}, false},
	}
	fixedSlots := []int{2, 3, 9} // front-office advisers in WM-1, WM-1, WM-2
	depts := []string{deptWM, deptIS, deptComp}
	for i, sl := range slots {
		var s, g pyName
		var male bool
		fixedAt := -1
		for k, fs := range fixedSlots {
			if fs == i {
				fixedAt = k
			}
		}
		if fixedAt >= 0 {
			s, g, male = fixed[fixedAt].s, fixed[fixedAt].g, fixed[fixedAt].male
			usedNames[s.c+g.c] = true
		} else {
			male = r.IntN(100) < 55
			s, g = newName(male)
		}
		p := person{
			surname: s.c, given: g.c, male: male, kind: pkEmployee,
			dept: sl.dept, role: sl.role,
		}
		p.id = userID(s, g)
		if male {
			p.eName = pick(r, englishMale)
		} else {
			p.eName = pick(r, englishFemale)
		}
		d.people = append(d.people, p)
		d.emps = append(d.emps, Employee{UserID: p.id, Name: s.c + g.c, Department: depts[sl.dept], Title: sl.title, SupervisoryGroup: sl.group})
		switch {
		case sl.dept == 0 && (sl.role == roleFront || sl.role == roleLead):
			d.wmFront = append(d.wmFront, i)
		case sl.dept == 1 && (sl.role == roleFront || sl.role == roleLead):
			d.isFront = append(d.isFront, i)
		case sl.dept == 2:
			d.comp = append(d.comp, i)
		}
	}
	d.nEmp = len(d.people)

	// Clients: 140 private clients of wealth management, 40 institutional.
	extID := func(prefix string) string {
		for {
			id := prefix + corpTag + "DQAA" + randChars(r, 22)
			if !usedIDs[id] {
				usedIDs[id] = true
				return id
			}
		}
	}
	type cspec struct {
		lang uint8
		hk   bool
		inst bool
	}
	var specs []cspec
	for i := range 140 {
		switch {
		case i%10 == 3:
			specs = append(specs, cspec{langHant, true, false})
		case i%23 == 5:
			specs = append(specs, cspec{langHant, false, false})
		case i%17 == 8:
			specs = append(specs, cspec{langEN, false, false})
		default:
			specs = append(specs, cspec{langZH, false, false})
		}
	}
	for i := range 40 {
		switch {
		case i%10 == 4:
			specs = append(specs, cspec{langHant, true, true})
		case i%19 == 7:
			specs = append(specs, cspec{langEN, false, true})
		case i%3 == 0:
			specs = append(specs, cspec{langZH, false, true})
		default:
			specs = append(specs, cspec{langMixed, false, true})
		}
	}
	for _, sp := range specs {
		male := r.IntN(100) < 58
		p := person{kind: pkClient, male: male, lang: sp.lang, hk: sp.hk}
		p.id = extID("wm")
		var first string
		if male {
			first = pick(r, englishMale)
		} else {
			first = pick(r, englishFemale)
		}
		var name string
		if sp.lang == langEN {
			var last string
			if sp.inst || r.IntN(3) > 0 {
				last = pick(r, westernSurnames)
			} else {
				last = pick(r, []string{"Wong", "Chan", "Lee", "Ng", "Cheung"})
			}
			p.surname, p.given = last, first
			name = first + " " + last
			p.salEN = first
			p.sal = first
		} else {
			s, g := newName(male)
			p.surname, p.given = s.c, g.c
			name = s.c + g.c
			if sp.lang == langHant {
				p.surname, p.given = toTraditional(s.c), toTraditional(g.c)
				name = p.surname + p.given
			}
			if male {
				p.salEN = "Mr. " + strings.ToUpper(s.py[:1]) + s.py[1:]
			} else {
				p.salEN = "Ms. " + strings.ToUpper(s.py[:1]) + s.py[1:]
			}
			switch {
			case sp.lang == langHant && sp.hk:
				// Hong Kong display names often carry the English given name.
				if r.IntN(2) == 0 {
					name = name + " " + first
				} else {
					hkSurname := map[string]string{"chen": "Chan", "huang": "Wong", "wang": "Wong", "zhang": "Cheung", "li": "Lee", "liu": "Lau", "wu": "Ng", "zhou": "Chow", "lin": "Lam", "he": "Ho", "guo": "Kwok", "liang": "Leung", "xie": "Tse", "zheng": "Cheng", "cai": "Choi", "ye": "Yip", "zhao": "Chiu", "deng": "Tang", "lu": "Lo"}[s.py]
					if hkSurname != "" {
						name = first + " " + hkSurname
					}
				}
				if male {
					p.sal = p.surname + pick(r, []string{"生", "先生", "總"})
				} else {
					p.sal = p.surname + pick(r, []string{"小姐", "太", "小姐"})
				}
			case sp.lang == langHant:
				if male {
					p.sal = p.surname + "先生"
				} else {
					p.sal = p.surname + "小姐"
				}
			case male:
				p.sal = s.c + pick(r, []string{"总", "总", "先生", "哥", "老师"})
			default:
				p.sal = s.c + pick(r, []string{"姐", "女士", "总", "老师"})
			}
			if sp.lang == langMixed && r.IntN(3) == 0 {
				p.sal = first
			}
		}
		if sp.inst {
			p.inst = pick(r, institutions)
			if sp.lang == langEN || sp.lang == langMixed && r.IntN(4) == 0 {
				name = name + " | " + p.inst
			} else {
				name = name + "-" + p.inst
			}
			p.advisor = d.isFront[r.IntN(len(d.isFront))]
		} else {
			if sp.lang == langZH && r.IntN(6) == 0 {
				name += pick(r, cityRemarks)
			}
			p.advisor = d.wmFront[r.IntN(len(d.wmFront))]
		}
		switch x := r.IntN(100); {
		case x < 62:
			p.consent = consentBefore
		case x < 88:
			p.consent = consentAgree
		case x < 95:
			p.consent = consentDisagreeThenAgree
		default:
			p.consent = consentRefuse
		}
		d.people = append(d.people, p)
		lang := [...]string{"zh", "zh-Hant", "en", "mixed"}[sp.lang]
		d.clients = append(d.clients, Client{ExternalUserID: p.id, Name: name, Traditional: sp.lang == langHant,
			Lang: lang, Advisor: d.people[p.advisor].id, Institution: p.inst})
	}
	d.nCli = len(d.people) - d.nEmp

	// Activity is heavy-tailed: a few clients chat every day, most rarely.
	perm := r.Perm(d.nCli)
	d.cliCum = make([]float64, d.nCli)
	var cum float64
	for i := range d.nCli {
		p := &d.people[d.nEmp+i]
		p.weight = 1 / math.Pow(float64(perm[i]+3), 0.8)
		if p.consent == consentRefuse {
			p.weight = 0
		}
		cum += p.weight
		d.cliCum[i] = cum
	}

	for _, rb := range []string{"行情播报机器人", "合规提醒助手", "日程小助手"} {
		p := person{kind: pkRobot, id: extID("wb"), given: rb}
		d.people = append(d.people, p)
		d.robots = append(d.robots, Robot{RobotID: p.id, Name: rb})
	}
	d.nRobots = len(d.robots)
	d.buildRooms(r, corpTag, usedIDs)
	return d
}

func (d *directory) robot(name string) int {
	for i, rb := range d.robots {
		if rb.Name == name {
			return d.nEmp + d.nCli + i
		}
	}
	return -1
}

func (d *directory) buildRooms(r *rand.Rand, corpTag string, used map[string]bool) {
	roomID := func() string {
		for {
			id := "wr" + corpTag + "DwAA" + randChars(r, 19) + "AAA"
			if !used[id] {
				used[id] = true
				return id
			}
		}
	}
	var wmAll, isAll, all []int
	teams := map[string][]int{}
	for i := range d.nEmp {
		all = append(all, i)
		switch d.people[i].dept {
		case 0:
			wmAll = append(wmAll, i)
		case 1:
			isAll = append(isAll, i)
		}
		g := d.emps[i].SupervisoryGroup
		teams[g] = append(teams[g], i)
	}
	market, compBot, sched := d.robot("行情播报机器人"), d.robot("合规提醒助手"), d.robot("日程小助手")
	add := func(name string, kind uint8, members []int, robots ...int) {
		rm := room{kind: kind, members: members, robots: robots}
		rm.RoomID = roomID()
		rm.Name = name
		for _, m := range members {
			rm.Members = append(rm.Members, d.people[m].id)
			if d.people[m].kind == pkClient {
				rm.External = true
			}
		}
		d.rooms = append(d.rooms, rm)
	}
	sample := func(from []int, n int) []int {
		p := r.Perm(len(from))
		if n > len(from) {
			n = len(from)
		}
		out := make([]int, n)
		for i := range n {
			out[i] = from[p[i]]
		}
		sortInts(out)
		return out
	}
	liaison := d.comp[1]
	add("财富管理部全员群", roomInternal, append(append([]int{}, wmAll...), liaison), market, compBot)
	add("机构销售 Desk 晨会", roomInternal, append(append([]int{}, isAll...), d.comp[2]), market, sched)
	add("合规通知群", roomInternal, all, compBot)
	for _, g := range []string{"WM-1", "WM-2", "WM-3"} {
		add("财富"+map[string]string{"WM-1": "一", "WM-2": "二", "WM-3": "三"}[g]+"组工作群", roomInternal, teams[g], sched)
	}
	add("IS-1 coverage", roomInternal, teams["IS-1"])
	proj := append(sample(wmAll, 4), sample(isAll, 3)...)
	proj = append(proj, d.comp[0])
	sortInts(proj)
	add("新产品上线筹备", roomInternal, proj, sched)
	add("午饭搭子🍜", roomSocial, sample(all, 7))

	var pre, preHant, preEN []int
	instMembers := map[string][]int{}
	for i := d.nEmp; i < d.nEmp+d.nCli; i++ {
		p := d.people[i]
		if p.consent != consentBefore {
			continue
		}
		if p.inst != "" {
			instMembers[p.inst] = append(instMembers[p.inst], i)
			continue
		}
		pre = append(pre, i)
		switch p.lang {
		case langHant:
			preHant = append(preHant, i)
		case langEN:
			preEN = append(preEN, i)
		}
	}
	withStaff := func(clients []int, staff ...int) []int {
		m := append(append([]int{}, staff...), clients...)
		sortInts(m)
		return dedupInts(m)
	}
	lead := func(g string) int { return teams[g][0] }
	add("鑫享VIP客户服务群（上海）", roomClient, withStaff(sample(pre, 22), lead("WM-1"), teams["WM-1"][1], teams["WM-1"][2]), market)
	add("鑫享VIP客户服务群（杭州）", roomClient, withStaff(sample(pre, 16), lead("WM-2"), teams["WM-2"][1], teams["WM-2"][3]), market)
	add("港股通投资者交流群", roomClient, withStaff(append(sample(pre, 10), sample(preHant, 5)...), lead("WM-3"), teams["WM-3"][2]), market)
	add("Family Office Club 🇭🇰", roomClient, withStaff(append(sample(preHant, 5), sample(preEN, 4)...), 0, lead("WM-3")))
	// Institutional coverage groups: one per larger client institution, in
	// the fixed order of the institutions list so map order never matters.
	nInst := 0
	for _, inst := range institutions {
		m := instMembers[inst]
		if len(m) < 2 || nInst == 3 {
			continue
		}
		nInst++
		staff := []int{d.people[m[0]].advisor, teams["IS-"+strconv.Itoa(1+nInst%2)][0]}
		add(inst+"-云帆机构服务群", roomInst, withStaff(m, staff...), sched)
	}
	var instAll []int
	for _, inst := range institutions {
		instAll = append(instAll, instMembers[inst]...)
	}
	add("2026秋季投资策略会", roomInst, withStaff(append(sample(instAll, 8), sample(pre, 6)...), append(sample(isAll, 3), sample(wmAll, 2)...)...), market, sched)
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func dedupInts(a []int) []int {
	out := a[:0]
	for i, x := range a {
		if i == 0 || x != a[i-1] {
			out = append(out, x)
		}
	}
	return out
}
