package archive

import (
	"slices"
	"strings"
)

// The rules of DESIGN §3 that every connector and the importer share: how a
// conversation without a room is named, who its participants are and which
// way a message crossed the firm's boundary. Each source knows only how to
// classify its own ids (a WeCom external_userid starts with "wm"; an import
// names its employees); the rules themselves are written once, here.

// DirectPrefix starts the id of every conversation that has no room id at
// the source.
const DirectPrefix = "direct:"

// DirectConversation is the id of a conversation without a room (a 1:1
// chat, or an app's chat with a user): DirectPrefix followed by the
// distinct non-empty ids, sorted and joined by "|". Sorting makes both
// directions of a chat land in the same conversation. With no id at all
// the result is DirectPrefix alone.
func DirectConversation(ids ...string) string {
	switch len(ids) {
	case 1:
		return DirectPrefix + ids[0]
	case 2:
		// The usual case (a sender and one recipient): no allocation
		// beyond the result.
		a, b := ids[0], ids[1]
		switch {
		case a == "" || a == b:
			return DirectPrefix + b
		case b == "":
			return DirectPrefix + a
		case b < a:
			a, b = b, a
		}
		return DirectPrefix + a + "|" + b
	}
	s := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			s = append(s, id)
		}
	}
	slices.Sort(s)
	return DirectPrefix + strings.Join(slices.Compact(s), "|")
}

// Classifier says what kind of party an id names, as its source knows it.
type Classifier func(id string) ParticipantKind

// Participants lists the distinct non-empty ids of sender and recipients,
// sender first, each classified.
func Participants(sender string, recipients []string, classify Classifier) []Participant {
	parts := make([]Participant, 0, 1+len(recipients))
	// Deduplicate by scanning for the usual handful of ids; a map only pays
	// off for big groups (and keeps 20,000 recipients from going quadratic).
	var seen map[string]bool
	if len(recipients) > 16 {
		seen = make(map[string]bool, 1+len(recipients))
	}
	add := func(id string) {
		if id == "" {
			return
		}
		if seen != nil {
			if seen[id] {
				return
			}
			seen[id] = true
		} else {
			for _, p := range parts {
				if p.ID == id {
					return
				}
			}
		}
		parts = append(parts, Participant{ID: id, Kind: classify(id)})
	}
	add(sender)
	for _, id := range recipients {
		add(id)
	}
	return parts
}

// DirectionOf derives a message's direction from which participants are
// employees: inbound when an external party sent it, outbound when the
// firm (an employee or one of its bots) sent it to at least one external
// party, internal when nobody outside the firm took part.
func DirectionOf(sender ParticipantKind, participants []Participant) Direction {
	if sender == ParticipantExternal {
		// Inbound is toward the firm: a message between two outsiders (an
		// import that does not say who the employee is) crosses nothing
		// we can name. A lone external sender (a room message captured
		// with no recipients listed) was captured from an employee's
		// conversation, so it is inbound.
		for _, p := range participants {
			if p.Kind != ParticipantExternal {
				return DirectionInbound
			}
		}
		if len(participants) > 1 {
			return DirectionNone
		}
		return DirectionInbound
	}
	for _, p := range participants {
		if p.Kind == ParticipantExternal {
			return DirectionOutbound
		}
	}
	return DirectionInternal
}

// SetConversation fills m's Participants, Conversation, ConversationKind
// and Direction from its Sender and Recipients: the room when the source
// names one (a group), else the direct conversation of the participants.
func (m *Message) SetConversation(room string, classify Classifier) {
	m.Participants = Participants(m.Sender, m.Recipients, classify)
	if room != "" {
		m.Conversation, m.ConversationKind = room, ConversationGroup
	} else {
		m.Conversation, m.ConversationKind = directOf(m.Participants), ConversationDirect
	}
	sender := ParticipantKind("")
	if len(m.Participants) > 0 && m.Participants[0].ID == m.Sender {
		sender = m.Participants[0].Kind
	}
	m.Direction = DirectionOf(sender, m.Participants)
}

func directOf(parts []Participant) string {
	switch len(parts) {
	case 1:
		return DirectConversation(parts[0].ID)
	case 2:
		return DirectConversation(parts[0].ID, parts[1].ID)
	}
	ids := make([]string, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	return DirectConversation(ids...)
}
