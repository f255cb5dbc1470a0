package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
)

const guarantees = `policy: guaranteed-returns
description: 保本保收益 and guaranteed returns
scope:
  directions: [outbound]
  except_senders: [compliance-bot]
disclaimers:
  - 提醒您：本产品不保本、不保证收益，过往业绩不代表未来表现。
rules:
  - id: zh-guarantee
    lexicon: [保本, 保证收益, 稳赚不赔, "保证 NEAR/3 回报"]
    unless: [不保本]
  - id: en-guarantee
    lexicon: ['"guaranteed return"', guarantee]
    whole_word: false
  - id: rate-promise
    regex: '年化\s*\d+(\.\d+)?%'
  - id: card
    detector: bank_card
  - id: recalled
    behaviour: recalled
`

func msg(text string) *archive.Message {
	return &archive.Message{Source: "t", SourceID: "m", Kind: archive.KindText, Action: archive.ActionSend, Sender: "zhangwei",
		Recipients: []string{"wmC"}, Direction: archive.DirectionOutbound, ConversationKind: archive.ConversationDirect, Text: text,
		Participants: []archive.Participant{{ID: "zhangwei", Kind: archive.ParticipantEmployee}, {ID: "wmC", Kind: archive.ParticipantExternal}}}
}

func result(hits []Hit) string {
	var out []string
	for _, h := range hits {
		s := fmt.Sprintf("%s%v", h.Rule, h.Spans)
		if h.InAttachment > 0 {
			s += fmt.Sprintf("@%d", h.InAttachment)
		}
		if len(h.Masked) > 0 {
			s += fmt.Sprint(h.Masked)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestEvaluate(t *testing.T) {
	p, err := Parse("guarantees.yaml", []byte(guarantees))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    func() *archive.Message
		in   Input
		want string
	}{
		{"1:1 Chinese word inside a run", func() *archive.Message {
			return msg("黄女士，这个产品保本保收益，年化6.5%，绝对没问题")
		}, Input{},
			"zh-guarantee[[8 10]] rate-promise[[14 20]]"},
		{"traditional and full-width", func() *archive.Message { return msg("這個產品保證收益，年化６．５％") }, Input{},
			"zh-guarantee[[4 8]] rate-promise[[9 15]]"},
		{"NEAR across a few characters", func() *archive.Message { return msg("我们保证投资有回报") }, Input{}, "zh-guarantee[[2 4] [7 9]]"},
		{"NEAR too far", func() *archive.Message { return msg("我们保证这笔投资一定有回报") }, Input{}, ""},
		{"the disclaimer raises nothing", func() *archive.Message {
			return msg("提醒您：本产品不保本、不保证收益，过往业绩不代表未来表现。")
		}, Input{}, ""},
		{"unless suppresses the rule", func() *archive.Message { return msg("这个产品不保本，收益浮动") }, Input{}, ""},
		{"English prefix (whole_word false)", func() *archive.Message { return msg("We GUARANTEED the coupon") }, Input{}, "en-guarantee[[3 13]]"},
		{"English phrase", func() *archive.Message { return msg("a guaranteed return of 8%") }, Input{}, "en-guarantee[[2 19]]"},
		{"card with mask", func() *archive.Message { return msg("银行卡号6225886660325471") }, Input{}, "card[[4 20]][622588******5471]"},
		{"recalled", func() *archive.Message { return msg("随便说说") }, Input{Recalled: true}, "recalled[]"},
		{"attachment text", func() *archive.Message {
			m := msg("见附件")
			m.Attachments = []archive.Attachment{{Role: "file", Text: "本基金保本"}}
			return m
		}, Input{}, "zh-guarantee[[3 5]]@1"},
		{"out of scope: inbound", func() *archive.Message {
			m := msg("保本吗？")
			m.Direction = archive.DirectionInbound
			return m
		}, Input{}, ""},
		{"out of scope: privileged sender", func() *archive.Message {
			m := msg("保本")
			m.Sender = "compliance-bot"
			return m
		}, Input{}, ""},
		{"保 … 本 far apart is not 保本", func() *archive.Message { return msg("保持联系，本周见") }, Input{}, ""},
	} {
		in := tc.in
		in.Message = tc.m()
		if got := result(p.Evaluate(in)); got != tc.want {
			t.Errorf("%s: %q\n got %s\nwant %s", tc.name, in.Message.Text, got, tc.want)
		}
	}
}

func TestScopeDepartments(t *testing.T) {
	p, err := Parse("", []byte("policy: wealth-only\nscope:\n  departments: [财富管理部]\n  conversation_kinds: [direct]\nrules:\n  - id: r\n    lexicon: [收益]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dept := map[string]string{"zhangwei": "财富管理部", "lina": "投资银行部"}
	in := Input{Message: msg("收益如何"), Department: func(id string) string { return dept[id] }}
	if len(p.Evaluate(in)) != 1 {
		t.Fatal("in-department message not flagged")
	}
	in.Message.Participants[0].ID, in.Message.Sender = "lina", "lina"
	if len(p.Evaluate(in)) != 0 {
		t.Fatal("other department flagged")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "policy: p\nrulez: []\nrules:\n  - id: r\n    lexicon: [a]\n", "x.yaml:2: rulez: unknown key"},
		{"two kinds", "policy: p\nrules:\n  - id: r\n    lexicon: [a]\n    regex: b\n", "x.yaml:3: rules[0].lexicon: a rule has exactly one of"},
		{"bad lexicon term", "policy: p\nrules:\n  - id: r\n    lexicon: ['\"unclosed']\n", `x.yaml:3: rules[0].lexicon[0]: "\"unclosed": query: column 1: unterminated phrase`},
		{"bad regex", "policy: p\nrules:\n  - id: r\n    regex: '(a'\n", "rules[0].regex: not an RE2 pattern"},
		{"lookahead is not RE2", "policy: p\nrules:\n  - id: r\n    regex: 'a(?=b)'\n", "rules[0].regex: not an RE2 pattern"},
		{"unknown detector", "policy: p\nrules:\n  - id: r\n    detector: ssn\n", `rules[0].detector: "ssn": want one of`},
		{"duplicate id", "policy: p\nrules:\n  - id: r\n    lexicon: [a]\n  - id: r\n    lexicon: [b]\n", `x.yaml:5: rules[1].id: "r" is also rules[0]`},
		{"no rules", "policy: p\n", "rules: a policy needs at least one rule"},
		{"bad name", "policy: My Policy\nrules:\n  - id: r\n    lexicon: [a]\n", `policy: "My Policy"`},
		{"bad direction", "policy: p\nscope:\n  directions: [sideways]\nrules:\n  - id: r\n    lexicon: [a]\n", `scope.directions: "sideways"`},
		{"not yaml", "policy: [\n", "x.yaml:"},
		{"unknown rule key", "policy: p\nrules:\n  - id: r\n    lexicon: [a]\n    near: 3\n", "x.yaml:5: rules[0].near: unknown key"},
	} {
		_, err := Parse("x.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
		}
	}
	// Every problem, not only the first.
	_, err := Parse("x.yaml", []byte("policy: p\nrules:\n  - id: A\n    detector: x\n  - id: b\n    regex: '('\n"))
	if pe, ok := err.(*ParseError); !ok || len(pe.Problems) != 3 {
		t.Fatalf("problems: %v", err)
	}
}

// FuzzParse: any bytes give a policy or a *ParseError whose problems all
// have a line; never a panic. A parsed policy evaluates without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(guarantees))
	f.Add([]byte("policy: p\nrules:\n  - id: r\n    lexicon: ['a NEAR/2 b', x*]\n"))
	f.Add([]byte("policy: [\n"))
	f.Add([]byte(massPolicy + "    mass: {recipients: 1, days: 7, similarity: 0.5, min_length: 2}\n"))
	f.Add([]byte("policy: p\nsampling: {rate: 0.5, min_per_employee: 2, period: week, seed: 0123456789abcdefg}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok || len(pe.Problems) == 0 {
				t.Fatalf("%v (%T)", err, err)
			}
			for _, pr := range pe.Problems {
				if pr.Line < 1 {
					t.Fatalf("problem without a line: %+v", pr)
				}
			}
			return
		}
		m := msg("保本 guaranteed 6225886660325471 年化5% 这是一条足够长的消息用来测试")
		m.SentAt = archive.MillisTime(1700000000000)
		o := NewOutreach()
		p.Evaluate(Input{Message: m, Recalled: true, Serial: 1, Outreach: o})
		p.Evaluate(Input{Message: m, Serial: 2, Outreach: o})
	})
}

func TestBehaviourAndAttachmentRules(t *testing.T) {
	p, err := Parse("b.yaml", []byte(`policy: behaviour
rules:
  - id: after-hours
    behaviour: outside_hours
    hours: {start: "08:30", end: "18:00", days: [mon, tue, wed, thu, fri], timezone: Asia/Shanghai}
  - id: new-client
    behaviour: first_contact
  - id: risky-files
    attachment: {types: [executable, archive], max_size: 1000000, max_count: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("CST", 8*3600)
	at := func(s string) archive.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", s, cst)
		return archive.At(tm)
	}
	for _, tc := range []struct {
		name string
		edit func(m *archive.Message, in *Input)
		want string
	}{
		{"office hours", func(m *archive.Message, _ *Input) { m.SentAt = at("2026-11-25 10:00") }, ""}, // Wednesday
		{"late evening", func(m *archive.Message, _ *Input) { m.SentAt = at("2026-11-25 22:15") }, "after-hours[]"},
		{"just at closing", func(m *archive.Message, _ *Input) { m.SentAt = at("2026-11-25 18:00") }, "after-hours[]"},
		{"saturday", func(m *archive.Message, _ *Input) { m.SentAt = at("2026-11-28 11:00") }, "after-hours[]"},
		{"first contact", func(m *archive.Message, in *Input) {
			m.SentAt = at("2026-11-25 10:00")
			in.FirstContacts = []string{"wmC"}
		}, "new-client[]"},
		{"executable renamed .pdf", func(m *archive.Message, _ *Input) {
			m.SentAt = at("2026-11-25 10:00")
			m.Attachments = []archive.Attachment{{FileName: "report.pdf", MediaType: "application/vnd.microsoft.portable-executable", Size: 100}}
		}, "risky-files[]"},
		{"a docx is not an archive", func(m *archive.Message, _ *Input) {
			m.SentAt = at("2026-11-25 10:00")
			m.Attachments = []archive.Attachment{{MediaType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Size: 100}}
		}, ""},
		{"too big", func(m *archive.Message, _ *Input) {
			m.SentAt = at("2026-11-25 10:00")
			m.Attachments = []archive.Attachment{{MediaType: "image/jpeg", Size: 2000000}}
		}, "risky-files[]"},
		{"too many", func(m *archive.Message, _ *Input) {
			m.SentAt = at("2026-11-25 10:00")
			m.Attachments = make([]archive.Attachment, 4)
		}, "risky-files[]"},
	} {
		m := msg("见附件")
		in := Input{Message: m}
		tc.edit(m, &in)
		if got := result(p.Evaluate(in)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ yaml, want string }{
		{"policy: p\nrules:\n  - id: r\n    behaviour: outside_hours\n", "outside_hours needs hours"},
		{"policy: p\nrules:\n  - id: r\n    behaviour: outside_hours\n    hours: {start: '18:00', end: '08:00'}\n", "not after start"},
		{"policy: p\nrules:\n  - id: r\n    behaviour: outside_hours\n    hours: {start: '8h', end: '18:00', days: [someday], timezone: Mars/Base}\n", "hours.start"},
		{"policy: p\nrules:\n  - id: r\n    attachment: {types: [virus]}\n", `"virus": executable, archive`},
		{"policy: p\nrules:\n  - id: r\n    attachment: {}\n", "give types, max_size or max_count"},
		{"policy: p\nrules:\n  - id: r\n    lexicon: [a]\n    hours: {start: '08:00', end: '18:00'}\n", "only an outside_hours rule has hours"},
	} {
		if _, err := Parse("x.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
