package demo

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// cst is China Standard Time; business hours, weekends and holidays are
// reckoned in it, msgtime is epoch milliseconds as the SDK delivers it.
var cst = time.FixedZone("CST", 8*3600)

// Defaults. DefaultEnd is fixed, not time.Now, so that output is
// reproducible.
var DefaultEnd = time.Date(2026, 9, 30, 0, 0, 0, 0, cst)

const (
	DefaultMessages = 20000
	DefaultDays     = 90
	DefaultCorpID   = "ww5f3c9a1e2b7d4068"
)

// Config selects what Generate produces. Zero fields take the defaults.
type Config struct {
	Seed     int64     // same seed → byte-identical output
	Messages int       // total lines to emit (default 20000)
	End      time.Time // last day of the period (its date in China Standard Time); default DefaultEnd
	Days     int       // period length in days, default 90
	CorpID   string    // default "ww5f3c9a1e2b7d4068"
}

// Summary describes what Generate emitted.
type Summary struct {
	Messages   int            // lines emitted
	ByType     map[string]int // per msgtype; "switch" for action=switch lines
	Media      int            // distinct media files emitted
	MediaBytes int64
	Recalls    int
	Consents   int // agree + disagree events
	// ConsentExample is a client with consent events, for `wxarchive consent`.
	ConsentExample          string
	consentExampleDisagreed bool
	Planted                 []Planted
	Employees               []Employee
	Clients                 []Client
	Rooms                   []Room
	Robots                  []Robot
	First                   time.Time // time of the first line
	Last                    time.Time // time of the last line
}

var typeNames = [...]string{"text", "image", "voice", "video", "file", "emotion", "card", "location", "link", "weapp",
	"chatrecord", "mixed", "todo", "vote", "collect", "redpacket", "external_redpacket", "meeting", "docmsg", "calendar",
	"sphfeed", "meeting_voice_call", "voip_doc_share", "markdown", "news", "revoke", "agree", "disagree", "switch"}

const (
	tyText = iota
	tyImage
	tyVoice
	tyVideo
	tyFile
	tyEmotion
	tyCard
	tyLocation
	tyLink
	tyWeapp
	tyChatrecord
	tyMixed
	tyTodo
	tyVote
	tyCollect
	tyRedpacket
	tyExtRedpacket
	tyMeeting
	tyDocmsg
	tyCalendar
	tySphfeed
	tyMeetingVoiceCall
	tyVoipDocShare
	tyMarkdown
	tyNews
	tyRevoke
	tyAgree
	tyDisagree
	tySwitch
	numTypes
)

// Session kinds.
const (
	sClientDM = iota
	sInternalDM
	sRoom
	sRobot
	sSwitch
	sConsent
)

type session struct {
	kind   uint8
	topic  uint8
	a, b   int // 1:1 participants (a is the employee in a client chat)
	room   int // room index for sRoom and sRobot
	recent [4]string
}

// Event kinds.
const (
	evMsg = iota
	evRevoke
	evAgree
	evDisagree
	evSwitch
	evRobot
)

const (
	flagLast   = 1 << iota // last content message of its session
	flagTarget             // a later revoke refers to it
)

type event struct {
	t     int64
	id    int32 // position at planning time; ties in t sort by it
	sess  int32
	ref   int32 // revoke: id of the recalled event
	spk   int32
	turn  int16
	kind  uint8
	flags uint8
	cat   int8 // planted category index + 1, 0 if none
}

type recalled struct {
	msgid   string
	planted int // index into Summary.Planted, -1 if none
}

type consentEv struct {
	client int
	t      int64
	agree  bool
}

type plantReq struct {
	spec   int
	recall bool
}

type gen struct {
	cfg     Config
	d       *directory
	r       *rand.Rand
	pool    *mediaPool
	lineFn  func([]byte) error
	mediaFn func(string, []byte) error

	sum       Summary
	counts    [numTypes]int
	w, iw     jw // iw builds JSON strings nested in chatrecord/mixed items
	tb        []byte
	lastPrice float64
	last      int64
	seq       uint64

	start   int64 // ms of the first day's midnight, CST
	days    int
	dayType []uint8
	dayN    []int

	ev       []event
	sess     []session
	targets  map[int32]recalled
	agreeAt  []int64 // per client: 0 consented before the period, >0 from then on, <0 never
	consents [][]consentEv
	planted  [][]plantReq
	votes    []string // last vote id per room
	hourCum  [3][24]float64
}

const (
	dayWork = iota
	dayWeekend
	dayHoliday
)

// Generate emits each message line (no trailing newline) in msgtime order and
// each distinct media file once, before the first line that references it.
// It stops at the first error returned by a callback. Either callback may be
// nil to discard its output.
func Generate(cfg Config, line func([]byte) error, media func(sdkfileid string, data []byte) error) (Summary, error) {
	if cfg.Messages < 0 || cfg.Days < 0 {
		return Summary{}, errors.New("demo: Messages and Days must not be negative")
	}
	if cfg.Messages == 0 {
		cfg.Messages = DefaultMessages
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if cfg.End.IsZero() {
		cfg.End = DefaultEnd
	}
	if cfg.CorpID == "" {
		cfg.CorpID = DefaultCorpID
	}
	g := &gen{cfg: cfg, lineFn: line, mediaFn: media, targets: map[int32]recalled{}}
	g.d = newDirectory(cfg.Seed)
	g.r = newRand(cfg.Seed, 3)
	endDay := cfg.End.In(cst)
	endDay = time.Date(endDay.Year(), endDay.Month(), endDay.Day(), 0, 0, 0, 0, cst)
	g.pool = newMediaPool(cfg.Seed, endDay.Add(9*time.Hour))
	g.days = cfg.Days
	g.start = endDay.AddDate(0, 0, 1-cfg.Days).UnixMilli()
	g.sum.ByType = map[string]int{}
	g.sum.Employees = g.d.emps
	g.sum.Clients = g.d.clients
	g.sum.Robots = g.d.robots
	for _, rm := range g.d.rooms {
		g.sum.Rooms = append(g.sum.Rooms, rm.Room)
	}
	g.votes = make([]string, len(g.d.rooms))
	g.setupHours()
	g.allocateDays()
	g.planConsents()
	g.planPlanted()

	for d := range g.days {
		g.planDay(d)
		if err := g.emitDay(); err != nil {
			return g.sum, err
		}
	}
	for i, n := range g.counts {
		if n > 0 {
			g.sum.ByType[typeNames[i]] = n
		}
	}
	return g.sum, nil
}

func (g *gen) dayStart(d int) int64 {
	// Calendar days, not 24 h steps: CST has no DST but AddDate keeps this
	// obviously right.
	return time.UnixMilli(g.start).In(cst).AddDate(0, 0, d).UnixMilli()
}

// Mainland public holidays (days off) in and around the default period.
var daysOff = [][2]string{{"2025-10-01", "2025-10-08"}, {"2026-01-01", "2026-01-03"}, {"2026-02-15", "2026-02-23"},
	{"2026-04-04", "2026-04-06"}, {"2026-05-01", "2026-05-05"}, {"2026-06-19", "2026-06-21"}, {"2026-09-25", "2026-09-27"},
	{"2026-10-01", "2026-10-07"}, {"2027-01-01", "2027-01-03"}, {"2027-02-05", "2027-02-11"}}

func (g *gen) allocateDays() {
	g.dayType = make([]uint8, g.days)
	w := make([]float64, g.days)
	var sum float64
	for d := range g.days {
		lt := time.UnixMilli(g.dayStart(d)).In(cst)
		ds := lt.Format("2006-01-02")
		g.dayType[d] = dayWork
		switch lt.Weekday() {
		case time.Saturday, time.Sunday:
			g.dayType[d] = dayWeekend
		}
		for _, h := range daysOff {
			if ds >= h[0] && ds <= h[1] {
				g.dayType[d] = dayHoliday
			}
		}
		x := [...]float64{1, 0.14, 0.12}[g.dayType[d]]
		if lt.Weekday() == time.Monday {
			x *= 1.08
		}
		x *= 0.8 + 0.4*g.r.Float64()
		w[d] = x
		sum += x
	}
	// Largest remainder, so the counts add up to exactly Messages.
	g.dayN = make([]int, g.days)
	type frac struct {
		d int
		f float64
	}
	fr := make([]frac, g.days)
	total := 0
	for d := range g.days {
		exact := float64(g.cfg.Messages) * w[d] / sum
		g.dayN[d] = int(exact)
		total += g.dayN[d]
		fr[d] = frac{d, exact - float64(g.dayN[d])}
	}
	slices.SortStableFunc(fr, func(a, b frac) int { return cmp.Compare(b.f, a.f) })
	for i := 0; total < g.cfg.Messages; i++ {
		g.dayN[fr[i%len(fr)].d]++
		total++
	}
}

func (g *gen) setupHours() {
	work := [24]float64{0.1, 0.05, 0.02, 0.01, 0.01, 0.03, 0.15, 0.6, 2.5, 6, 7, 6, 2.5, 5, 6.5, 5.5, 5, 4, 2.2, 1.6, 1.5, 1.2, 0.7, 0.3}
	off := [24]float64{0.3, 0.1, 0.05, 0.02, 0.02, 0.03, 0.1, 0.3, 0.8, 1.4, 1.8, 1.8, 1.4, 1.3, 1.5, 1.6, 1.6, 1.5, 1.4, 1.6, 1.8, 1.6, 1.0, 0.5}
	for k, h := range [3][24]float64{work, off, off} {
		var c float64
		for i, x := range h {
			c += x
			g.hourCum[k][i] = c
		}
	}
}

// sampleTime returns a ms time on day d following the day type's hourly
// profile.
func (g *gen) sampleTime(d int) int64 {
	h := &g.hourCum[g.dayType[d]]
	u := g.r.Float64() * h[23]
	hour := 0
	for hour < 23 && u >= h[hour] {
		hour++
	}
	return g.dayStart(d) + int64(hour)*3600000 + g.r.Int64N(3600000)
}

func (g *gen) planConsents() {
	nc := g.d.nCli
	g.agreeAt = make([]int64, nc)
	g.consents = make([][]consentEv, g.days)
	// Scale with volume: a 500-message demo should not be mostly consent events.
	keep := math.Min(1, float64(g.cfg.Messages)/8000)
	workDay := func(d int) int {
		for k := 0; k < 7 && d+k < g.days; k++ {
			if g.dayType[d+k] == dayWork {
				return d + k
			}
		}
		return d
	}
	at := func(d int) int64 {
		// Consent is asked when the adviser adds the contact: business hours.
		return g.dayStart(d) + int64(9+g.r.IntN(9))*3600000 + g.r.Int64N(3600000)
	}
	for i := range nc {
		p := g.person(g.d.nEmp + i)
		u := g.r.Float64()
		d1 := workDay(int(float64(g.days) * math.Pow(g.r.Float64(), 1.5)))
		switch {
		case p.consent == consentBefore:
		case p.consent == consentRefuse:
			g.agreeAt[i] = -1
			if u < keep {
				g.consents[d1] = append(g.consents[d1], consentEv{i, at(d1), false})
			}
		case u >= keep:
			// not part of this run's story: treat as consented before
		case p.consent == consentAgree:
			t := at(d1)
			g.agreeAt[i] = t
			g.consents[d1] = append(g.consents[d1], consentEv{i, t, true})
		default: // disagree first, agree after thinking it over
			t1 := at(d1)
			g.consents[d1] = append(g.consents[d1], consentEv{i, t1, false})
			g.agreeAt[i] = -1
			if d2 := workDay(d1 + 1 + g.r.IntN(14)); d2 < g.days && d2 > d1 {
				t2 := at(d2)
				g.agreeAt[i] = t2
				g.consents[d2] = append(g.consents[d2], consentEv{i, t2, true})
			}
		}
	}
}

func (g *gen) planPlanted() {
	n := g.cfg.Messages
	total := n / 400
	if lo := 2 * len(plantSpecs); total < lo {
		total = min(lo, n/10)
	}
	total = min(total, 2500)
	g.planted = make([][]plantReq, g.days)
	cum := make([]int, g.days)
	c := 0
	for d, k := range g.dayN {
		c += k
		cum[d] = c
	}
	var order []int
	for i := range total {
		if len(order) == 0 {
			// Shuffled rounds: every category appears before any repeats.
			order = g.r.Perm(len(plantSpecs))
		}
		spec := order[0]
		order = order[1:]
		pos := int((float64(i) + 0.1 + 0.8*g.r.Float64()) * float64(n) / float64(total))
		d, _ := slices.BinarySearch(cum, pos+1)
		d = min(d, g.days-1)
		recall := plantSpecs[spec].recallable && g.r.IntN(100) < 25
		g.planted[d] = append(g.planted[d], plantReq{spec, recall})
	}
}

// eligible reports whether client i may appear in archived chats at time t:
// a client who has not agreed to archiving is not archived.
func (g *gen) eligible(i int, t int64) bool {
	a := g.agreeAt[i]
	return a == 0 || (a > 0 && t > a)
}

func (g *gen) pickClient(t int64) int {
	cum := g.d.cliCum
	for range 24 {
		u := g.r.Float64() * cum[len(cum)-1]
		i, _ := slices.BinarySearch(cum, u)
		i = min(i, len(cum)-1)
		if g.eligible(i, t) {
			return i
		}
	}
	return -1
}

func (g *gen) addEvent(e event) *event {
	e.id = int32(len(g.ev))
	g.ev = append(g.ev, e)
	return &g.ev[len(g.ev)-1]
}

func (g *gen) addSession(s session) int32 {
	g.sess = append(g.sess, s)
	return int32(len(g.sess) - 1)
}

func (g *gen) planDay(d int) {
	g.ev = g.ev[:0]
	g.sess = g.sess[:0]
	clear(g.targets)
	target := g.dayN[d]
	dayEnd := g.dayStart(d) + 86400000
	budget := target

	for _, c := range g.consents[d] {
		if budget < 1 {
			g.agreeAt[c.client] = -1
			continue
		}
		cl := g.d.nEmp + c.client
		s := g.addSession(session{kind: sConsent, a: g.person(cl).advisor, b: cl})
		k := uint8(evDisagree)
		if c.agree {
			k = evAgree
		}
		g.addEvent(event{t: c.t, sess: s, spk: int32(cl), kind: k})
		budget--
		if c.agree && budget >= 4 {
			// The chat that prompted the consent request follows it.
			adv := g.person(cl).advisor
			n := g.planSession(session{kind: sClientDM, a: adv, b: cl, topic: uint8(pick(g.r, []int{tKYC, tDocs, tFund, tSmall}))},
				c.t+20000+g.r.Int64N(150000), min(budget, 2+g.r.IntN(6)), dayEnd)
			budget -= n
		}
	}

	if g.dayType[d] == dayWork && target >= 60 {
		budget -= g.planRobots(d, dayEnd, budget)
	}

	for k := int(float64(target)*0.0012 + g.r.Float64()); k > 0 && budget > 0; k-- {
		s := g.addSession(session{kind: sSwitch})
		g.addEvent(event{t: g.sampleTime(d), sess: s, spk: int32(g.r.IntN(g.d.nEmp)), kind: evSwitch})
		budget--
	}

	reqs := g.planted[d]
	reserve := 0
	for _, p := range reqs {
		if p.recall {
			reserve++
		}
	}
	reserve = min(reserve, max(budget-len(reqs), 0))
	budget -= g.fillSessions(d, budget-reserve, dayEnd)
	budget -= g.assignPlanted(reqs, dayEnd)
	if budget > 0 {
		budget -= g.fillSessions(d, budget, dayEnd)
	}

	slices.SortFunc(g.ev, func(a, b event) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
}

// planRobots schedules the robots' routine posts: the morning brief, the
// closing summary, reminders.
func (g *gen) planRobots(d int, dayEnd int64, budget int) int {
	n := 0
	post := func(robot string, at int64, news bool) {
		if n >= budget {
			return
		}
		rb := g.d.robot(robot)
		var rooms []int
		for i, rm := range g.d.rooms {
			if slices.Contains(rm.robots, rb) {
				rooms = append(rooms, i)
			}
		}
		if len(rooms) == 0 {
			return
		}
		topic := uint8(0)
		if news {
			topic = 1
		}
		s := g.addSession(session{kind: sRobot, room: pick(g.r, rooms), topic: topic})
		g.addEvent(event{t: at, sess: s, spk: int32(rb), kind: evRobot})
		n++
	}
	ds := g.dayStart(d)
	post("行情播报机器人", ds+8*3600000+30*60000+g.r.Int64N(15*60000), true)
	post("行情播报机器人", ds+15*3600000+5*60000+g.r.Int64N(10*60000), false)
	if time.UnixMilli(ds).In(cst).Weekday() == time.Monday {
		post("合规提醒助手", ds+9*3600000+g.r.Int64N(5*60000), false)
	}
	if g.r.IntN(3) == 0 {
		post("日程小助手", ds+int64(10+g.r.IntN(7))*3600000, false)
	}
	if g.r.IntN(4) == 0 {
		post("合规提醒助手", ds+int64(11+g.r.IntN(6))*3600000, g.r.IntN(2) == 0)
	}
	return n
}

// fillSessions plans ordinary conversations until n events are planned.
func (g *gen) fillSessions(d, n int, dayEnd int64) int {
	made := 0
	weekend := g.dayType[d] != dayWork
	for made < n {
		start := g.sampleTime(d)
		var s session
		u := g.r.Float64()
		switch {
		case u < 0.52 || (weekend && u < 0.7):
			s.kind = sClientDM
			c := g.pickClient(start)
			if c < 0 {
				s.kind = sInternalDM
				break
			}
			s.b = g.d.nEmp + c
			s.a = g.person(s.b).advisor
			if g.r.IntN(100) < 12 {
				// A colleague covers: the team's assistant or another adviser.
				pool := g.d.wmFront
				if g.person(s.a).dept == 1 {
					pool = g.d.isFront
				}
				s.a = pick(g.r, pool)
			}
			s.topic = uint8(weightedIndex(g.r, wmTopicWeights[:]))
		case u < 0.72 && !weekend:
			s.kind = sInternalDM
		default:
			s.kind = sRoom
			s.room = g.pickRoom(weekend)
		}
		if s.kind == sInternalDM {
			g.internalPair(&s)
		}
		var length int
		switch s.kind {
		case sRoom:
			length = 1 + geometric(g.r, 6)
		case sInternalDM:
			length = 1 + geometric(g.r, 4)
		default:
			length = 1 + geometric(g.r, 6)
		}
		made += g.planSession(s, start, min(length, n-made), dayEnd)
	}
	return made
}

func geometric(r *rand.Rand, mean float64) int {
	return int(-math.Log(1-r.Float64()) * mean)
}

func (g *gen) internalPair(s *session) {
	r := g.r
	s.a = r.IntN(g.d.nEmp)
	pa := g.person(s.a)
	for {
		// Mostly within the department; compliance talks to everyone.
		s.b = r.IntN(g.d.nEmp)
		if s.b == s.a {
			continue
		}
		pb := g.person(s.b)
		if pb.dept == pa.dept || pa.dept == 2 || pb.dept == 2 || r.IntN(5) == 0 {
			break
		}
	}
	w := internalTopicWeights
	pb := g.person(s.b)
	if pa.dept == 2 || pb.dept == 2 {
		w[iCompliance] = 60
	}
	if pa.dept == 1 && pb.dept == 1 {
		w[iDesk] = 35
		w[iFollow] = 15
	}
	s.topic = uint8(weightedIndex(r, w[:]))
}

func (g *gen) pickRoom(weekend bool) int {
	w := make([]float64, len(g.d.rooms))
	for i, rm := range g.d.rooms {
		switch rm.kind {
		case roomInternal:
			w[i] = 3
			if rm.Name == "合规通知群" {
				w[i] = 0.8
			}
			if weekend {
				w[i] = 0.3
			}
		case roomSocial:
			w[i] = 1.5
		case roomClient:
			w[i] = 3
		case roomInst:
			w[i] = 1.5
			if weekend {
				w[i] = 0.3
			}
		}
	}
	return weightedIndex(g.r, w)
}

// planSession lays out up to n events of one conversation starting at start
// and returns how many it planned (conversations stop at midnight).
func (g *gen) planSession(s session, start int64, n int, dayEnd int64) int {
	if n <= 0 || start >= dayEnd {
		return 0
	}
	si := g.addSession(s)
	r := g.r
	t := start
	made := 0
	turn := int16(0)
	var members []int
	if s.kind == sRoom {
		members = g.d.rooms[s.room].members
	}
	spk := s.a
	switch s.kind {
	case sClientDM:
		if r.IntN(100) < 45 {
			spk = s.b
		}
	case sRoom:
		spk = g.roomSpeaker(members, -1, true)
	}
	lastMsg := int32(-1)
	for made < n {
		if turn > 0 {
			median := 35.0
			if s.kind == sRoom {
				median = 25
			}
			gap := math.Exp(math.Log(median) + 1.1*r.NormFloat64())
			if r.IntN(20) == 0 {
				gap += 600 + r.Float64()*3000 // a meeting, a call: the reply comes later
			}
			t += int64(math.Min(math.Max(gap, 2), 5400)*1000) + r.Int64N(1000)
			// Who speaks next.
			switch s.kind {
			case sRoom:
				spk = g.roomSpeaker(members, spk, false)
			default:
				if r.IntN(100) < 68 {
					if spk == s.a {
						spk = s.b
					} else {
						spk = s.a
					}
				}
			}
		}
		if t >= dayEnd {
			break
		}
		e := g.addEvent(event{t: t, sess: si, spk: int32(spk), turn: turn, kind: evMsg})
		lastMsg = e.id
		made++
		turn++
		// ~0.5 % of messages are recalled within two minutes.
		if made < n && r.IntN(1000) < 7 {
			rt := t + 3000 + r.Int64N(110000)
			if rt < dayEnd {
				e.flags |= flagTarget
				g.addEvent(event{t: rt, sess: si, spk: int32(spk), ref: e.id, kind: evRevoke, turn: -1})
				made++
				t = max(t, rt-r.Int64N(20000))
			}
		}
	}
	if lastMsg >= 0 {
		g.ev[lastMsg].flags |= flagLast
	}
	return made
}

func (g *gen) roomSpeaker(members []int, prev int, first bool) int {
	r := g.r
	for range 8 {
		m := members[r.IntN(len(members))]
		p := g.person(m)
		if m == prev && r.IntN(10) < 7 {
			continue
		}
		// Employees talk more in groups than clients do; the first speaker
		// in a client group is usually staff.
		if p.kind == pkClient && (first && r.IntN(10) < 8 || r.IntN(10) < 4) {
			continue
		}
		return m
	}
	return members[r.IntN(len(members))]
}

// assignPlanted turns ordinary planned messages into the day's planted ones,
// picking conversations where each would plausibly be said.
func (g *gen) assignPlanted(reqs []plantReq, dayEnd int64) int {
	added := 0
	for _, req := range reqs {
		spec := &plantSpecs[req.spec]
		internal := spec.internalOK && g.r.IntN(10) < 3
		n := len(g.sess)
		if n == 0 {
			break
		}
		off := g.r.IntN(n)
		chosen := -1
		for k := range n {
			si := (off + k) % n
			s := &g.sess[si]
			if internal && s.kind == sInternalDM || !internal && s.kind == sClientDM {
				chosen = si
				break
			}
		}
		if chosen < 0 {
			continue
		}
		s := &g.sess[chosen]
		// Pick one of the session's ordinary messages.
		var cands []int
		for i := range g.ev {
			e := &g.ev[i]
			if int(e.sess) == chosen && e.kind == evMsg && e.cat == 0 {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			continue
		}
		e := &g.ev[pick(g.r, cands)]
		e.cat = int8(req.spec + 1)
		switch {
		case s.kind == sInternalDM:
		case spec.byClient:
			e.spk = int32(s.b)
		default:
			e.spk = int32(s.a)
		}
		if e.flags&flagTarget != 0 {
			// Already recalled by plan: keep the speaker of the revoke in step.
			for i := range g.ev {
				if g.ev[i].kind == evRevoke && g.ev[i].ref == e.id {
					g.ev[i].spk = e.spk
				}
			}
		} else if req.recall {
			room := dayEnd - e.t - 1
			if room > 5000 {
				rt := e.t + 5000 + g.r.Int64N(min(room-5000, 100000))
				e.flags |= flagTarget
				g.addEvent(event{t: rt, sess: int32(chosen), spk: e.spk, ref: e.id, kind: evRevoke, turn: -1})
				added++
			}
		}
	}
	return added
}

// msgID mimics the SDK's "<number>_<unix seconds>" ids; the number is a
// bijective mix of a counter, so ids never collide.
func (g *gen) msgID(t int64, suffix string) string {
	g.seq++
	x := g.seq ^ (uint64(g.cfg.Seed) * 0x9e3779b97f4a7c15)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	b := strconv.AppendUint(make([]byte, 0, 48), x, 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, t/1000, 10)
	b = append(b, suffix...)
	return string(b)
}
