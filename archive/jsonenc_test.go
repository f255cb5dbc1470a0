package archive

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func randString(r *rand.Rand) string {
	pieces := []string{"a", "保本", "\u2028", "\u2029", "<", ">", "&", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"\xff", "\xe4\xbf", "😀", " ", "é", "\ufffd", "T+0", "Ａ１"}
	var sb strings.Builder
	for n := r.IntN(8); n > 0; n-- {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		s := randString(r)
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	}
	// Every single byte and every rune class.
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("byte %#x: got %s want %s", c, got, want)
		}
	}
	for _, rn := range []rune{0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff, utf8.RuneError} {
		s := string(rn)
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("rune %U: got %s want %s", rn, got, want)
		}
	}
}

func TestMessageEventAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		p := MessageEvent{
			Serial: r.Uint64N(1 << 40), Source: randString(r), SourceID: randString(r), Version: 1 + r.IntN(3),
			Kind: Kind(randString(r)), SentAt: MillisTime(r.Int64N(4e12)), Raw: Hash([]byte(randString(r))),
			Record: Hash([]byte(randString(r))), RawSize: r.IntN(1e6), RecordSize: r.IntN(1e6),
			RetainUntil: MillisTime(r.Int64N(4e12)),
		}
		if r.IntN(2) == 0 {
			p.ConflictsWith = r.Uint64N(1000) + 1
			p.RefersTo = randString(r) + "x"
		}
		if r.IntN(2) == 0 {
			p.Origin = randString(r) + "o"
		}
		if r.IntN(2) == 0 { // a rule set decided (retention_rule, retention_version)
			p.RetentionRule, p.RetentionVersion = randString(r)+"r", 1+r.IntN(50)
		}
		for n := r.IntN(3); n > 0; n-- {
			p.Attachments = append(p.Attachments, AttachmentRef{Blob: Hash([]byte{byte(n)}), Status: AttachmentStatus(randString(r))})
		}
		want, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

func TestAppendJSONStringRawMatchesEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20000; i++ {
		s := randString(r)
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		want := strings.TrimSuffix(buf.String(), "\n")
		if got := AppendJSONStringRaw(nil, s); string(got) != want {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	}
}
