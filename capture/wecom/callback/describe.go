package callback

import "fmt"

// Describe says what a decrypted plaintext is and what the receiver does
// with it — for `wxarchive wecom decrypt`, which prints every plaintext it
// can decrypt. err is the receiver's reason to refuse it (nil: accepted).
func Describe(plain []byte) (what string, err error) {
	doc, err := ParseXML(plain)
	if err != nil {
		return "not a callback document: the receiver refuses it", err
	}
	if s, ok := SuiteOf(doc); ok {
		w := fmt.Sprintf("suite callback %s (suite %s): acknowledged and archived as an event, credentials as their SHA-256 only", s.InfoType, s.SuiteID)
		if s.TimeProblem != "" {
			w += "; " + s.TimeProblem + ", filed at the time captured"
		}
		return w, nil
	}
	m, err := MessageOf(doc)
	if err != nil {
		return "not a message or event the receiver accepts", err
	}
	var w string
	switch {
	case m.MsgType == "event" && m.Event == "msgaudit_notify":
		return "signal msgaudit_notify: wakes the conversation-archive pull; not archived", nil
	case m.MsgType == "event" && m.Event == "kf_msg_or_event":
		return "signal kf_msg_or_event: wakes the customer-service sync with its token; not archived", nil
	case m.MsgType == "event":
		w = fmt.Sprintf("event %s from %s: archived as an event", m.Event, orSys(m.FromUserName))
	default:
		k := kinds[m.MsgType]
		if k == "" {
			k = "unknown"
		}
		w = fmt.Sprintf("message %s (kind %s) %s from %s: archived", m.MsgType, k, m.MsgID, m.FromUserName)
	}
	if m.TimeProblem != "" {
		w += "; " + m.TimeProblem + ", filed at the time captured"
	}
	return w, nil
}

func orSys(s string) string {
	if s == "" {
		return SystemSender
	}
	return s
}
