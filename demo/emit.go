package demo

import (
	"strings"
	"time"
)

// Per-context msgtype weights (per 10,000 messages). What people send
// depends on where they are: clients send voice notes and stickers, advisers
// send files and links, votes and collections exist only in groups.
type typeWeights [numTypes]int

func tw(pairs ...int) typeWeights {
	var w typeWeights
	for i := 0; i < len(pairs); i += 2 {
		w[pairs[i]] = pairs[i+1]
	}
	return w
}

var (
	wDMEmployee = tw(tyText, 8000, tyImage, 350, tyFile, 300, tyVoice, 200, tyVideo, 30, tyEmotion, 150, tyCard, 40,
		tyLocation, 30, tyLink, 250, tyWeapp, 80, tyChatrecord, 40, tyMixed, 80, tyTodo, 20, tyRedpacket, 10,
		tyExtRedpacket, 15, tyMeeting, 60, tyDocmsg, 100, tyCalendar, 50, tySphfeed, 40, tyMeetingVoiceCall, 40,
		tyVoipDocShare, 25)
	wDMClient = tw(tyText, 8300, tyImage, 400, tyVoice, 450, tyEmotion, 350, tyFile, 80, tyVideo, 40, tyLink, 100,
		tyLocation, 30, tyMixed, 80, tyCard, 20, tyRedpacket, 15, tyExtRedpacket, 30, tySphfeed, 30)
	wInternalDM = tw(tyText, 8200, tyImage, 300, tyFile, 350, tyVoice, 150, tyEmotion, 150, tyLink, 100, tyCard, 60,
		tyDocmsg, 250, tyTodo, 100, tyCalendar, 80, tyMeeting, 80, tyChatrecord, 120, tyMixed, 60,
		tyMeetingVoiceCall, 30, tyVoipDocShare, 20)
	wRoomInternal = tw(tyText, 8000, tyImage, 350, tyFile, 300, tyEmotion, 250, tyLink, 200, tyDocmsg, 250, tyVote, 80,
		tyCollect, 60, tyTodo, 80, tyCalendar, 60, tyMeeting, 80, tyRedpacket, 80, tyChatrecord, 50, tySphfeed, 60,
		tyMixed, 40)
	wRoomClientEmp = tw(tyText, 7800, tyImage, 500, tyFile, 300, tyLink, 400, tyEmotion, 150, tySphfeed, 100, tyWeapp, 100,
		tyVideo, 60, tyMeeting, 50, tyVote, 40, tyCollect, 40, tyDocmsg, 80, tyMixed, 40)
	wRoomClientCli = tw(tyText, 8600, tyImage, 300, tyEmotion, 500, tyVoice, 100, tyLink, 100, tyRedpacket, 30,
		tyExtRedpacket, 60, tyVideo, 40)
)

func pickType(r interface{ IntN(int) int }, w *typeWeights) int {
	sum := 0
	for _, x := range w {
		sum += x
	}
	u := r.IntN(sum)
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return tyText
}

func (g *gen) emitDay() error {
	for i := range g.ev {
		e := &g.ev[i]
		t := max(e.t, g.last+1)
		g.last = t
		e.t = t
		if err := g.emit(e); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) emit(e *event) error {
	g.w.reset()
	s := &g.sess[e.sess]
	var ty int
	switch e.kind {
	case evSwitch:
		ty = tySwitch
		w := &g.w
		w.begin()
		w.str("msgid", g.msgID(e.t, ""))
		w.str("action", "switch")
		w.int("time", e.t)
		w.str("user", g.person(int(e.spk)).id)
		w.end()
	case evAgree, evDisagree:
		ty = tyAgree
		name, field := "agree", "agree_time"
		if e.kind == evDisagree {
			ty, name, field = tyDisagree, "disagree", "disagree_time"
		}
		g.header(g.msgID(e.t, "_external"), "send", s, int(e.spk), e.t, name, true)
		w := &g.w
		w.obj(name)
		w.str("userid", g.person(int(e.spk)).id)
		w.int(field, e.t)
		w.end()
		w.end()
		g.sum.Consents++
		if g.sum.ConsentExample == "" || e.kind == evDisagree && !g.sum.consentExampleDisagreed {
			// The demo suggests a client whose history has events (one
			// who disagreed, when there is one: the more telling story).
			g.sum.ConsentExample = g.person(int(e.spk)).id
			g.sum.consentExampleDisagreed = e.kind == evDisagree
		}
	case evRevoke:
		ty = tyRevoke
		tg, ok := g.targets[e.ref]
		if !ok {
			// Cannot happen: a revoke is always planned after its target.
			tg.msgid = "unknown"
		}
		delete(g.targets, e.ref)
		g.header(g.msgID(e.t, g.idSuffix(s, int(e.spk))), "recall", s, int(e.spk), e.t, "revoke", true)
		w := &g.w
		w.obj("revoke")
		w.str("pre_msgid", tg.msgid)
		w.end()
		w.end()
		g.sum.Recalls++
		if tg.planted >= 0 {
			g.sum.Planted[tg.planted].Recalled = true
		}
	case evRobot:
		ty = tyMarkdown
		if s.topic == 1 {
			ty = tyNews
		}
		id := g.msgID(e.t, "")
		g.robotPost(id, s, int(e.spk), e.t, ty == tyNews)
	default:
		var err error
		ty, err = g.emitMessage(e, s)
		if err != nil {
			return err
		}
	}
	g.counts[ty]++
	g.sum.Messages++
	if g.sum.Messages == 1 {
		g.sum.First = time.UnixMilli(e.t).In(cst)
	}
	g.sum.Last = time.UnixMilli(e.t).In(cst)
	if g.lineFn == nil {
		return nil
	}
	return g.lineFn(g.w.b)
}

// header writes the common fields and opens nothing: the caller writes the
// content object and closes the message.
func (g *gen) header(msgid, action string, s *session, spk int, t int64, msgtype string, withRoom bool) {
	w := &g.w
	w.begin()
	w.str("msgid", msgid)
	w.str("action", action)
	w.str("from", g.person(spk).id)
	w.arr("tolist")
	switch s.kind {
	case sRoom, sRobot:
		for _, m := range g.d.rooms[s.room].members {
			if m != spk {
				w.elem(g.person(m).id)
			}
		}
	default:
		w.elem(g.person(g.addressee(s, spk)).id)
	}
	w.endArr()
	if withRoom {
		room := ""
		if s.kind == sRoom || s.kind == sRobot {
			room = g.d.rooms[s.room].RoomID
		}
		w.str("roomid", room)
	}
	w.int("msgtime", t)
	w.str("msgtype", msgtype)
}

// idSuffix: messages from external contacts carry "_external"; a few from
// institutional counterparties "_updown_stream" (WeCom's 上下游 chats), a
// suffix decoders must accept too.
func (g *gen) idSuffix(s *session, spk int) string {
	if !g.isClient(spk) {
		return ""
	}
	if s.kind == sRoom && g.d.rooms[s.room].kind == roomInst && g.r.IntN(10) == 0 {
		return "_updown_stream"
	}
	return "_external"
}

func (g *gen) chooseType(e *event, s *session) int {
	r := g.r
	if e.turn == 0 && r.IntN(100) < 85 {
		return tyText
	}
	spClient := g.isClient(int(e.spk))
	var w *typeWeights
	switch s.kind {
	case sClientDM:
		w = &wDMEmployee
		if spClient {
			w = &wDMClient
		}
	case sInternalDM:
		w = &wInternalDM
	default:
		rm := &g.d.rooms[s.room]
		switch {
		case spClient:
			w = &wRoomClientCli
		case rm.External:
			w = &wRoomClientEmp
		default:
			w = &wRoomInternal
		}
	}
	return pickType(r, w)
}

func (g *gen) emitMessage(e *event, s *session) (int, error) {
	spk := int(e.spk)
	c := g.ctx(s, spk, e.t)
	id := g.msgID(e.t, g.idSuffix(s, spk))
	planted := -1
	var text string
	ty := tyText
	if e.cat > 0 {
		text = g.plantedText(&plantSpecs[e.cat-1], c)
		planted = len(g.sum.Planted)
		g.sum.Planted = append(g.sum.Planted, Planted{MsgID: id, Category: plantSpecs[e.cat-1].cat, Text: text, From: g.person(spk).id})
	} else {
		ty = g.chooseType(e, s)
	}
	if e.flags&flagTarget != 0 {
		g.targets[e.id] = recalled{msgid: id, planted: planted}
	}
	// Media first: the callback must see a file before any line naming it.
	var media [3]*mediaItem
	var err error
	switch ty {
	case tyImage:
		media[0], err = g.useMedia(g.pickMedia(mImage))
	case tyVoice:
		media[0], err = g.useMedia(g.pickMedia(mVoice))
	case tyVideo:
		media[0], err = g.useMedia(g.pickMedia(mVideo))
	case tyEmotion:
		media[0], err = g.useMedia(g.pickMedia(mEmotion))
	case tyFile:
		media[0], err = g.useMedia(g.pickFile(s))
	case tyVoipDocShare:
		media[0], err = g.useMedia(g.pickFileKind(fPDF))
	case tyMeetingVoiceCall:
		media[0], err = g.useMedia(g.pickMedia(mVoice))
	case tyMixed, tyChatrecord:
		for k := range media {
			if err == nil && g.r.IntN(3) > 0 {
				media[k], err = g.useMedia(g.pickMedia(mImage))
			}
		}
	}
	if err != nil {
		return 0, err
	}
	if ty == tyMeetingVoiceCall && s.kind != sClientDM && s.kind != sInternalDM {
		ty = tyText
	}

	name := typeNames[ty]
	key := name
	switch ty {
	case tyDocmsg:
		key = "doc"
	case tyExtRedpacket:
		key = "redpacket"
	}
	g.header(id, "send", s, spk, e.t, name, ty != tyMeetingVoiceCall)
	w := &g.w
	r := g.r
	w.obj(key)
	switch ty {
	case tyText:
		if text == "" {
			text = g.chatText(s, e)
		}
		w.str("content", text)
	case tyImage:
		w.str("md5sum", media[0].md5)
		w.int("filesize", int64(media[0].size))
		w.str("sdkfileid", media[0].id)
	case tyVoice:
		w.str("md5sum", media[0].md5)
		w.int("voice_size", int64(media[0].size))
		w.int("play_length", int64(media[0].secs))
		w.str("sdkfileid", media[0].id)
	case tyVideo:
		w.str("md5sum", media[0].md5)
		w.int("filesize", int64(media[0].size))
		w.int("play_length", int64(media[0].secs))
		w.str("sdkfileid", media[0].id)
	case tyFile:
		w.str("md5sum", media[0].md5)
		w.str("filename", media[0].name)
		w.str("fileext", media[0].ext)
		w.int("filesize", int64(media[0].size))
		w.str("sdkfileid", media[0].id)
	case tyEmotion:
		w.int("type", int64(media[0].sub))
		w.int("width", int64(media[0].w))
		w.int("height", int64(media[0].h))
		w.int("imagesize", int64(media[0].size))
		w.str("md5sum", media[0].md5)
		w.str("sdkfileid", media[0].id)
	case tyCard:
		if g.isEmployee(spk) && r.IntN(10) < 6 {
			w.str("corpname", FirmName)
			w.str("userid", g.person(r.IntN(g.d.nEmp)).id)
		} else {
			w.str("corpname", "微信联系人")
			w.str("userid", g.person(g.d.nEmp+r.IntN(g.d.nCli)).id)
		}
	case tyLocation:
		l := pick(r, locations)
		w.float("longitude", l.lon+(r.Float64()-0.5)*0.002, 9)
		w.float("latitude", l.lat+(r.Float64()-0.5)*0.002, 9)
		w.str("address", l.addr)
		w.str("title", l.title)
		w.int("zoom", int64(15+r.IntN(3)))
	case tyLink:
		l := pick(r, links)
		w.str("title", g.fill(l.title, c))
		w.str("description", g.fill(l.desc, c))
		w.str("link_url", "https://mp.weixin.qq.com/s/"+randChars(r, 22))
		w.str("image_url", "https://mmbiz.qpic.cn/mmbiz_jpg/"+randChars(r, 40)+"/0?wx_fmt=jpeg")
	case tyWeapp:
		a := pick(r, weapps)
		w.str("title", a.title)
		w.str("description", g.fill(a.desc, c))
		w.str("username", a.user)
		w.str("displayname", a.display)
	case tyChatrecord:
		g.chatRecord(e, media[:])
	case tyMixed:
		g.mixed(s, e, media[:])
	case tyTodo:
		td := pick(r, todoTitles)
		w.str("title", td.title)
		w.str("content", g.fill(td.content, c))
	case tyVote:
		g.vote(s, c)
	case tyCollect:
		cl := pick(r, collectTitles)
		w.str("room_name", g.d.rooms[s.room].Name)
		w.str("creator", g.person(spk).id)
		w.str("create_time", g.localTime(e.t).Format(time.DateTime))
		w.str("title", cl.title)
		w.arr("details")
		for i, q := range cl.ques {
			w.begin()
			w.int("id", int64(i+1))
			w.str("ques", q)
			w.str("type", cl.types[i])
			w.end()
		}
		w.endArr()
	case tyRedpacket, tyExtRedpacket:
		cnt := 1
		if s.kind == sRoom {
			cnt = 3 + r.IntN(18)
		}
		typ := 1
		if cnt > 1 && r.IntN(3) > 0 {
			typ = 2 // lucky draw
		}
		w.int("type", int64(typ))
		w.str("wish", pick(r, wishes))
		w.int("totalcnt", int64(cnt))
		w.int("totalamount", int64(pick(r, []int{88, 100, 200, 520, 666, 888, 1000, 2000, 5200})*cnt))
	case tyMeeting:
		st := g.futureSlot(e.t)
		w.str("topic", g.fill(pick(r, meetingTopics), c))
		w.int("starttime", st)
		w.int("endtime", st+int64(30+30*r.IntN(4))*60)
		addr := ""
		if r.IntN(3) == 0 {
			addr = pick(r, places)
		}
		w.str("address", addr)
		w.str("remarks", "")
		mt, status := 101, 1
		if r.IntN(3) == 0 {
			mt, status = 102, pick(r, []int{1, 1, 2, 3})
		}
		w.int("meetingtype", int64(mt))
		w.int("meetingid", int64(1000000000+r.IntN(900000000)))
		w.int("status", int64(status))
	case tyDocmsg:
		d := pick(r, docTitles)
		w.str("title", g.fill(d.title, c))
		w.str("doc_creator", g.person(spk).id)
		path := "doc/w3_"
		if d.kind == "sheet" {
			path = "sheet/e3_"
		}
		w.str("link_url", "https://doc.weixin.qq.com/"+path+randChars(r, 24)+"?scode="+randChars(r, 16))
	case tyCalendar:
		st := g.futureSlot(e.t)
		w.str("title", g.fill(pick(r, calendarTitles), c))
		sp := g.person(spk)
		w.str("creatorname", displayName(sp))
		w.arr("attendeename")
		if c.to >= 0 {
			w.elem(g.shortName(c.to))
		}
		w.elem(g.shortName(r.IntN(g.d.nEmp)))
		w.endArr()
		w.int("starttime", st)
		w.int("endtime", st+3600)
		w.str("place", pick(r, places))
		w.str("remarks", pick(r, []string{"", "带上合同", "提前十分钟到", "需要双录设备", "准备产品资料"}))
	case tySphfeed:
		f := pick(r, sphFeeds)
		w.int("feed_type", int64(f.kind))
		w.str("sph_name", f.name)
		w.str("feed_desc", g.fill(f.desc, c))
	case tyMeetingVoiceCall:
		start := e.t / 1000
		end := start + int64(300+r.IntN(2400))
		w.int("endtime", end)
		w.str("sdkfileid", media[0].id)
		w.arr("demofiledata")
		if r.IntN(2) == 0 {
			w.begin()
			w.str("filename", pick(r, []string{"方案.pptx", "产品介绍.pdf", "资产配置建议.pptx", "路演材料.pdf"}))
			w.str("demooperator", g.person(spk).id)
			w.int("starttime", start+60)
			w.int("endtime", start+60+int64(r.IntN(600)))
			w.end()
		}
		w.endArr()
		w.arr("sharescreendata")
		if r.IntN(2) == 0 {
			w.begin()
			w.str("share", g.person(spk).id)
			w.int("starttime", start+120)
			w.int("endtime", start+120+int64(r.IntN(300)))
			w.end()
		}
		w.endArr()
	case tyVoipDocShare:
		w.str("filename", media[0].name)
		w.str("md5sum", media[0].md5)
		w.int("filesize", int64(media[0].size))
		w.str("sdkfileid", media[0].id)
	}
	w.end()
	switch ty {
	case tyMeetingVoiceCall:
		w.str("voiceid", "gr"+hexChars(r, 32))
	case tyVoipDocShare:
		w.str("voipid", "gr"+hexChars(r, 32))
	}
	w.end()
	return ty, nil
}

func hexChars(r interface{ IntN(int) int }, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[r.IntN(16)]
	}
	return string(b)
}

func displayName(p *person) string {
	if p.kind == pkClient && p.lang == langEN {
		return p.given + " " + p.surname
	}
	return p.surname + p.given
}

func (g *gen) shortName(i int) string {
	p := g.person(i)
	if p.kind == pkClient {
		return p.sal
	}
	return p.surname + p.given
}

// futureSlot returns a meeting start (seconds) on a later working hour.
func (g *gen) futureSlot(t int64) int64 {
	lt := g.localTime(t).AddDate(0, 0, 1+g.r.IntN(7))
	st := time.Date(lt.Year(), lt.Month(), lt.Day(), 9+g.r.IntN(9), 30*g.r.IntN(2), 0, 0, cst)
	return st.Unix()
}

func (g *gen) pickMedia(k mediaKind) int {
	ids := g.pool.byKind[k]
	// Popular files are reused more: a skewed pick.
	u := g.r.Float64()
	return ids[int(u*u*float64(len(ids)))]
}

func (g *gen) pickFileKind(k int) int {
	ids := g.pool.byFile[k]
	return ids[g.r.IntN(len(ids))]
}

func (g *gen) pickFile(s *session) int {
	w := []float64{40, 20, 20, 8, 12}
	switch {
	case s.kind == sClientDM && (s.topic == tTrade):
		w = []float64{10, 5, 20, 5, 60}
	case s.kind == sClientDM && (s.topic == tReport):
		w = []float64{50, 5, 40, 0, 5}
	case s.kind == sInternalDM:
		w = []float64{20, 30, 30, 10, 10}
	}
	return g.pickFileKind(weightedIndex(g.r, w))
}

func (g *gen) useMedia(i int) (*mediaItem, error) {
	it := &g.pool.items[i]
	if it.built {
		return it, nil
	}
	data, err := g.pool.build(i)
	if err != nil {
		return nil, err
	}
	g.sum.Media++
	g.sum.MediaBytes += int64(len(data))
	if g.mediaFn != nil {
		if err := g.mediaFn(it.id, data); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// innerJSON builds the JSON text that chatrecord and mixed items carry as a
// string.
func (g *gen) innerMedia(it *mediaItem) string {
	w := &g.iw
	w.reset()
	w.begin()
	w.str("md5sum", it.md5)
	w.int("filesize", int64(it.size))
	w.str("sdkfileid", it.id)
	w.end()
	return string(w.b)
}

func (g *gen) innerText(s string) string {
	w := &g.iw
	w.reset()
	w.begin()
	w.str("content", s)
	w.end()
	return string(w.b)
}

// chatRecord writes a forwarded conversation ("merged forward"): usually a
// client chat an adviser passes to a colleague or compliance.
func (g *gen) chatRecord(e *event, media []*mediaItem) {
	r := g.r
	w := &g.w
	fromRoom := r.IntN(3) == 0
	a, b := int(e.spk), g.d.nEmp+r.IntN(g.d.nCli)
	if g.isClient(a) {
		a, b = g.person(a).advisor, a
	}
	title := g.shortName(a) + "和" + g.shortName(b) + "的聊天记录"
	if fromRoom {
		title = "群聊的聊天记录"
	}
	w.str("title", title)
	w.arr("item")
	n := 2 + r.IntN(4)
	base := e.t/1000 - int64(600+r.IntN(86400))
	mi := 0
	for k := range n {
		w.begin()
		ts := base + int64(k*(20+r.IntN(200)))
		if mi < len(media) && media[mi] != nil && r.IntN(3) == 0 {
			w.str("type", "ChatRecordImage")
			w.int("msgtime", ts)
			w.str("content", g.innerMedia(media[mi]))
			mi++
		} else {
			for mi < len(media) && media[mi] == nil {
				mi++
			}
			w.str("type", "ChatRecordText")
			w.int("msgtime", ts)
			tc := &tctx{spk: b, to: a, t: e.t, room: -1}
			var tpl string
			if k%2 == 0 && b >= g.d.nEmp {
				tpl = pick(r, wmTopics[r.IntN(numWMTopics)].cli)
			} else {
				tpl = pick(r, wmTopics[r.IntN(numWMTopics)].emp)
				tc = &tctx{spk: a, to: b, t: e.t, room: -1}
			}
			w.str("content", g.innerText(g.fill(tpl, tc)))
		}
		w.boolean("from_chatroom", fromRoom)
		w.end()
	}
	w.endArr()
}

func (g *gen) mixed(s *session, e *event, media []*mediaItem) {
	r := g.r
	w := &g.w
	w.arr("item")
	text := g.chatText(s, e)
	if r.IntN(2) == 0 {
		text += pick(r, wxEmoticons)
	}
	w.begin()
	w.str("type", "text")
	w.str("content", g.innerText(text+"\n"))
	w.end()
	n := 0
	for _, m := range media {
		if m == nil {
			continue
		}
		w.begin()
		w.str("type", "image")
		w.str("content", g.innerMedia(m))
		w.end()
		n++
	}
	if n == 0 || r.IntN(4) == 0 {
		w.begin()
		w.str("type", "text")
		w.str("content", g.innerText(pick(r, []string{"您看下这张图", "截图在这里", "以这个为准", "请查收", "FYI"})))
		w.end()
	}
	w.endArr()
}

func (g *gen) vote(s *session, c *tctx) {
	r := g.r
	w := &g.w
	v := pick(r, voteTitles)
	prev := g.votes[s.room]
	if prev != "" && r.IntN(2) == 0 {
		// Someone answers the room's open vote.
		w.str("votetitle", g.fill(v.title, c))
		w.arr("voteitem")
		w.elem(g.fill(pick(r, v.items), c))
		w.endArr()
		w.int("votetype", 102)
		w.str("voteid", prev)
		return
	}
	id := hexChars(r, 24)
	g.votes[s.room] = id
	w.str("votetitle", g.fill(v.title, c))
	w.arr("voteitem")
	for _, it := range v.items {
		w.elem(g.fill(it, c))
	}
	w.endArr()
	w.int("votetype", 101)
	w.str("voteid", id)
}

func (g *gen) robotPost(id string, s *session, robot int, t int64, news bool) {
	r := g.r
	c := &tctx{spk: robot, to: -1, t: t, room: s.room}
	name := "markdown"
	if news {
		name = "news"
	}
	g.header(id, "send", s, robot, t, name, true)
	w := &g.w
	w.obj("info")
	if news {
		w.arr("item")
		for range 1 + r.IntN(3) {
			n := pick(r, newsPosts)
			w.begin()
			w.str("title", g.fill(n.title, c))
			w.str("description", g.fill(n.desc, c))
			code := randChars(r, 10)
			w.str("url", "https://research.example.com/yunfan/news/"+code)
			w.str("picurl", "https://research.example.com/yunfan/news/"+code+".jpg")
			w.end()
		}
		w.endArr()
	} else {
		post := pick(r, markdownPosts)
		rb := g.person(robot).given
		switch rb {
		case "合规提醒助手":
			post = markdownPosts[1+2*r.IntN(2)]
		case "日程小助手":
			post = pick(r, []string{markdownPosts[2], markdownPosts[5]})
		default:
			post = pick(r, []string{markdownPosts[0], markdownPosts[4]})
		}
		w.str("content", g.fill(post, c))
	}
	w.end()
	w.end()
}

func (g *gen) plantedText(spec *plantSpec, c *tctx) string {
	r := g.r
	// The language follows the client in the conversation.
	cl := c.spk
	if !g.isClient(cl) {
		cl = c.to
	}
	tpls := spec.zh
	hant := false
	if g.isClient(cl) {
		switch p := g.person(cl); {
		case p.lang == langEN && len(spec.en) > 0:
			tpls = spec.en
		case p.lang == langHant && len(spec.hant) > 0 && (g.isClient(c.spk) || r.IntN(2) == 0):
			tpls = spec.hant
		case p.lang == langHant && g.isClient(c.spk):
			hant = true
		}
	}
	text := g.fill(pick(r, tpls), c)
	if hant {
		text = toTraditional(text)
	}
	return strings.TrimSpace(text)
}

type place struct {
	title, addr string
	lon, lat    float64
}

var locations = []place{
	{"上海国金中心", "上海市浦东新区世纪大道8号", 121.501823, 31.236301},
	{"上海中心大厦", "上海市浦东新区银城中路501号", 121.505517, 31.233502},
	{"静安嘉里中心", "上海市静安区南京西路1515号", 121.449712, 31.224118},
	{"前滩太古里", "上海市浦东新区东育路500号", 121.479640, 31.155331},
	{"国贸中心", "北京市朝阳区建国门外大街1号", 116.459722, 39.908712},
	{"深圳平安金融中心", "广东省深圳市福田区益田路5033号", 114.055631, 22.536611},
	{"杭州来福士中心", "浙江省杭州市上城区新业路228号", 120.212103, 30.246012},
	{"國際金融中心", "香港中環金融街8號", 114.158823, 22.285312},
	{"上海虹桥站", "上海市闵行区申贵路1500号", 121.320312, 31.194203},
	{"浦东国际机场T2航站楼", "上海市浦东新区迎宾大道6000号", 121.808614, 31.151205},
}
