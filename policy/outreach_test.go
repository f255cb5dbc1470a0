package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

const massPolicy = `policy: retail-communication
scope:
  directions: [outbound]
rules:
  - id: finra-2210
    behaviour: mass_communication
`

// sendTo is an outbound message from sender to the external recipients.
func sendTo(sender, text string, at time.Time, recipients ...string) *archive.Message {
	m := &archive.Message{Source: "t", Kind: archive.KindText, Action: archive.ActionSend, Sender: sender, Recipients: recipients,
		Direction: archive.DirectionOutbound, ConversationKind: archive.ConversationDirect, Text: text, SentAt: archive.At(at),
		Participants: []archive.Participant{{ID: sender, Kind: archive.ParticipantEmployee}}}
	for _, r := range recipients {
		m.Participants = append(m.Participants, archive.Participant{ID: r, Kind: archive.ParticipantExternal})
	}
	return m
}

var names = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
	"郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹"}

// template is the kind of text a salesperson pastes to client after
// client, with the name and the date changed.
func template(i int) string {
	return fmt.Sprintf("%s总您好！本周五%d点我们有一场新发私募产品的线上路演，年化业绩基准6.5%%，起投100万，名额有限，感兴趣的话我帮您预留一个席位。", names[i%len(names)], 9+i%3)
}

func TestMassCommunication(t *testing.T) {
	p, err := Parse("mass.yaml", []byte(massPolicy))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	o := NewOutreach()
	serial := uint64(0)
	eval := func(m *archive.Message) []Hit {
		serial++
		return p.Evaluate(Input{Message: m, Serial: serial, Outreach: o})
	}
	// 25 clients get the template over 25 days, with other chat between:
	// nothing yet — 25 is not more than 25.
	for i := 0; i < 25; i++ {
		if h := eval(sendTo("zhangwei", template(i), t0.Add(time.Duration(i)*24*time.Hour), fmt.Sprintf("wmC%02d", i))); len(h) > 0 {
			t.Fatalf("recipient %d: %s", i+1, result(h))
		}
		if h := eval(sendTo("zhangwei", fmt.Sprintf("好的，第%d份材料已经发您邮箱了，请查收。如有问题随时联系我，谢谢！", i), t0.Add(time.Duration(i)*24*time.Hour+time.Hour), fmt.Sprintf("wmC%02d", i))); len(h) > 0 {
			t.Fatalf("ordinary follow-up %d: %s", i, result(h))
		}
	}
	// The same client again, and another employee's copy: still nothing.
	if h := eval(sendTo("zhangwei", template(3), t0.Add(25*24*time.Hour), "wmC03")); len(h) > 0 {
		t.Fatalf("a client already counted: %s", result(h))
	}
	if h := eval(sendTo("lina", template(40), t0.Add(25*24*time.Hour), "wmX99")); len(h) > 0 {
		t.Fatalf("another employee: %s", result(h))
	}
	// The 26th distinct client within 30 days, in traditional characters
	// and full-width digits: flagged, once.
	trad := "郭總您好！本週五１０點我們有一場新發私募產品的線上路演，年化業績基準6.5%，起投100萬，名額有限，感興趣的話我幫您預留一個席位。"
	serialBefore := serial
	h := eval(sendTo("zhangwei", trad, t0.Add(26*24*time.Hour), "wmC25"))
	if got := result(h); !strings.HasPrefix(got, "finra-2210[]") || !strings.Contains(h[0].Detail, "26 distinct external recipients within 30 days") {
		t.Fatalf("26th recipient: %q %q", got, h[0].Detail)
	}
	// Evaluating the same message again (a batch retried) counts nothing twice.
	serial = serialBefore
	if h := eval(sendTo("zhangwei", trad, t0.Add(26*24*time.Hour), "wmC25")); len(h) != 1 {
		t.Fatalf("the same serial again: %s", result(h))
	}
	if h := eval(sendTo("zhangwei", template(27), t0.Add(27*24*time.Hour), "wmC27")); len(h) > 0 {
		t.Fatalf("27th: flagged again: %s", result(h))
	}
	// A different text to many clients is another cluster; a short one
	// never counts.
	for i := 0; i < 40; i++ {
		if h := eval(sendTo("zhangwei", "收到", t0.Add(28*24*time.Hour), fmt.Sprintf("wmD%02d", i))); len(h) > 0 {
			t.Fatalf("short text: %s", result(h))
		}
	}
	other := "Dear client, our research team has published the quarterly outlook on Asian equities; I attach the PDF for your reference."
	for i := 0; i < 25; i++ {
		if h := eval(sendTo("zhangwei", other, t0.Add(28*24*time.Hour), fmt.Sprintf("wmE%02d", i))); len(h) > 0 {
			t.Fatalf("other text, recipient %d: %s", i+1, result(h))
		}
	}
	// Inbound messages do not count.
	in := sendTo("zhangwei", other, t0.Add(28*24*time.Hour), "wmE99")
	in.Direction = archive.DirectionInbound
	if h := eval(in); len(h) > 0 {
		t.Fatalf("inbound: %s", result(h))
	}
	if h := eval(sendTo("zhangwei", other, t0.Add(28*24*time.Hour), "wmE25")); len(h) != 1 {
		t.Fatalf("26th of the other text: %s", result(h))
	}
}

// TestMassCommunicationWindow: sends older than the window fall out of
// the count; a group message reaching many external members at once
// crosses the threshold by itself.
func TestMassCommunicationWindow(t *testing.T) {
	p, err := Parse("mass.yaml", []byte(massPolicy))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	o := NewOutreach()
	serial := uint64(0)
	eval := func(m *archive.Message) []Hit {
		serial++
		return p.Evaluate(Input{Message: m, Serial: serial, Outreach: o})
	}
	for i := 0; i < 20; i++ {
		eval(sendTo("zhangwei", template(i), t0, fmt.Sprintf("wmA%02d", i)))
	}
	for i := 0; i < 20; i++ { // 31 days later: the first 20 are out of the window
		if h := eval(sendTo("zhangwei", template(i), t0.Add(31*24*time.Hour), fmt.Sprintf("wmB%02d", i))); len(h) > 0 {
			t.Fatalf("window: recipient %d flagged: %s", i, result(h))
		}
	}
	var members []string
	for i := 0; i < 30; i++ {
		members = append(members, fmt.Sprintf("wmG%02d", i))
	}
	g := sendTo("lina", template(1), t0, members...)
	g.ConversationKind = archive.ConversationGroup
	if h := eval(g); len(h) != 1 || !strings.Contains(h[0].Detail, "30 distinct") {
		t.Fatalf("group of 30: %s", result(h))
	}
	// Without a history the rule matches nothing (a single message cannot
	// say how many others received it).
	if h := p.Evaluate(Input{Message: g, Serial: 999}); len(h) > 0 {
		t.Fatalf("no history: %s", result(h))
	}
}

func TestMassCommunicationParse(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{massPolicy + "    mass: {recipients: 10, days: 7, similarity: 0.9, min_length: 30}\n", ""},
		{massPolicy + "    mass: {similarity: 1.5}\n", "7: rules[0].mass.similarity: 1.5: between 0 and 1"},
		{massPolicy + "    mass: {days: 400}\n", "7: rules[0].mass.days: 400: at most 366"},
		{massPolicy + "    mass: {window: 3}\n", "unknown key"},
		{"policy: x\nrules:\n  - id: a\n    lexicon: [x]\n    mass: {days: 3}\n", "rules[0].mass: only a mass_communication rule has mass"},
	} {
		_, err := Parse("p.yaml", []byte(tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
