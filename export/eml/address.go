package eml

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/export"
)

// Participant addresses. WeChat and WeCom ids are not mailboxes, but mail
// readers and review platforms group messages by address, so every person
// gets one, deterministic and visibly not deliverable:
//
//	local part  the id itself when it is a dot-atom of at most 64
//	            characters (WeCom userids and external_userids are);
//	            otherwise "h-" and the first 24 hex digits of the id's
//	            SHA-256, so the address stays valid and stable (the id
//	            itself is still in the transcript and the X- fields)
//	domain      by kind: employee.wxarchive.invalid,
//	            external.wxarchive.invalid, bot.wxarchive.invalid, and
//	            participant.wxarchive.invalid when the kind is unknown
//
// e.g. "张伟" <zhangwei@employee.wxarchive.invalid> (the name RFC 2047
// encoded).

// PersonAddress is p's mailbox, named by its display name.
func PersonAddress(p export.Person) Address {
	return Address{Name: p.Display(), Addr: LocalPart(p.ID) + "@" + KindDomain(p.Kind)}
}

// KindDomain is the address domain of a participant kind.
func KindDomain(k archive.ParticipantKind) string {
	switch k {
	case archive.ParticipantEmployee:
		return "employee." + Domain
	case archive.ParticipantExternal:
		return "external." + Domain
	case archive.ParticipantBot:
		return "bot." + Domain
	}
	return "participant." + Domain
}

// LocalPart is the local part of id's address (see above).
func LocalPart(id string) string {
	if isDotAtom(id) && len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h-" + hex.EncodeToString(sum[:])[:24]
}

// isDotAtom: RFC 5322 §3.2.3 dot-atom-text.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		default:
			if c >= 0x80 || !isAtextSymbol(c) {
				return false
			}
		}
	}
	return true
}

func isAtextSymbol(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~':
		return true
	}
	return false
}
