package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDirectConversation(t *testing.T) {
	for _, tc := range []struct {
		ids  []string
		want string
	}{
		{nil, "direct:"},
		{[]string{"a"}, "direct:a"},
		{[]string{"b", "a"}, "direct:a|b"},
		{[]string{"a", "b"}, "direct:a|b"},
		{[]string{"a", "a"}, "direct:a"},
		{[]string{"", "a"}, "direct:a"},
		{[]string{"a", ""}, "direct:a"},
		{[]string{"c", "a", "b", "a", ""}, "direct:a|b|c"},
		{[]string{"kf:wkA", "wmC"}, "direct:kf:wkA|wmC"},
	} {
		if got := DirectConversation(tc.ids...); got != tc.want {
			t.Errorf("DirectConversation(%q) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

func kinds(id string) ParticipantKind {
	switch {
	case strings.HasPrefix(id, "wm"):
		return ParticipantExternal
	case strings.HasPrefix(id, "wb"):
		return ParticipantBot
	}
	return ParticipantEmployee
}

// TestSetConversation: the rule of DESIGN §3 on the cases every source
// meets, including both directions of one chat landing in one
// conversation and a big group deduplicated.
func TestSetConversation(t *testing.T) {
	big := make([]string, 40)
	for i := range big {
		big[i] = fmt.Sprintf("u%02d", i%20) // every id twice
	}
	for _, tc := range []struct {
		name       string
		sender     string
		recipients []string
		room       string
		conv       string
		kind       ConversationKind
		dir        Direction
		parts      int
	}{
		{"employee to customer", "zhangwei", []string{"wmC"}, "", "direct:wmC|zhangwei", ConversationDirect, DirectionOutbound, 2},
		{"customer to employee", "wmC", []string{"zhangwei"}, "", "direct:wmC|zhangwei", ConversationDirect, DirectionInbound, 2},
		{"customer to customer", "wmC", []string{"wmD"}, "", "direct:wmC|wmD", ConversationDirect, DirectionNone, 2},
		{"customer in a room, no one listed", "wmC", nil, "wrRoom", "wrRoom", ConversationGroup, DirectionInbound, 1},
		{"colleagues", "lina", []string{"zhangwei"}, "", "direct:lina|zhangwei", ConversationDirect, DirectionInternal, 2},
		{"bot to employee", "wbBot", []string{"lina"}, "", "direct:lina|wbBot", ConversationDirect, DirectionInternal, 2},
		{"bot to customer", "wbBot", []string{"wmC"}, "", "direct:wbBot|wmC", ConversationDirect, DirectionOutbound, 2},
		{"note to self", "lina", []string{"lina"}, "", "direct:lina", ConversationDirect, DirectionInternal, 1},
		{"no recipients", "lina", nil, "", "direct:lina", ConversationDirect, DirectionInternal, 1},
		{"room with a customer", "zhangwei", []string{"lina", "wmC"}, "wrRoom", "wrRoom", ConversationGroup, DirectionOutbound, 3},
		{"three without a room", "c", []string{"a", "b", "a"}, "", "direct:a|b|c", ConversationDirect, DirectionInternal, 3},
		{"big group", "u00", big, "wrBig", "wrBig", ConversationGroup, DirectionInternal, 20},
	} {
		m := &Message{Sender: tc.sender, Recipients: tc.recipients}
		m.SetConversation(tc.room, kinds)
		if m.Conversation != tc.conv || m.ConversationKind != tc.kind || m.Direction != tc.dir || len(m.Participants) != tc.parts {
			t.Errorf("%s: %q %q %q, %d participants; want %q %q %q, %d", tc.name, m.Conversation, m.ConversationKind, m.Direction, len(m.Participants),
				tc.conv, tc.kind, tc.dir, tc.parts)
			continue
		}
		if m.Participants[0].ID != tc.sender || m.Participants[0].Kind != kinds(tc.sender) {
			t.Errorf("%s: first participant %+v, want the sender", tc.name, m.Participants[0])
		}
		seen := map[string]bool{}
		for _, p := range m.Participants {
			if seen[p.ID] || p.Kind != kinds(p.ID) {
				t.Errorf("%s: participants %+v: duplicated or misclassified", tc.name, m.Participants)
			}
			seen[p.ID] = true
		}
	}
}

func TestParticipantsSkipEmpty(t *testing.T) {
	got := Participants("", []string{"a", "", "a", "wmB"}, kinds)
	want := []Participant{{ID: "a", Kind: ParticipantEmployee}, {ID: "wmB", Kind: ParticipantExternal}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Participants = %+v, want %+v", got, want)
	}
	if d := DirectionOf(kinds("wmB"), want); d != DirectionInbound {
		t.Fatalf("external sender: %q", d)
	}
	if d := DirectionOf("", nil); d != DirectionInternal {
		t.Fatalf("nobody: %q", d)
	}
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func spell(path []PathStep) string {
	var b strings.Builder
	for _, s := range path {
		if s.IsIndex {
			fmt.Fprintf(&b, "[%d]", s.Index)
		} else {
			b.WriteString("." + s.Key)
		}
	}
	return b.String()
}

// TestWalkJSONStrings: every string, keys in sorted order, with its path;
// numbers, booleans and null are skipped; fn's error stops the walk.
func TestWalkJSONStrings(t *testing.T) {
	v := decodeAny(t, `{"b":"2","a":["1",{"d":"4","c":"3"},7,true,null],"e":{"":"5"},"f":[[["6"]]]}`)
	var got []string
	if err := WalkJSONStrings(v, func(s string, path []PathStep) error {
		got = append(got, spell(path)+"="+s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{".a[0]=1", ".a[1].c=3", ".a[1].d=4", ".b=2", ".e.=5", ".f[0][0][0]=6"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("walk = %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err := WalkJSONStrings(v, func(s string, _ []PathStep) error {
		n++
		if s == "3" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("stop after the 2nd string: %d strings, %v", n, err)
	}
	if err := WalkJSONStrings("alone", func(s string, path []PathStep) error {
		if s != "alone" || len(path) != 0 {
			t.Fatalf("a bare string: %q %v", s, path)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
