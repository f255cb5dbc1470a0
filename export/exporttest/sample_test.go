package exporttest

import (
	"testing"

	"github.com/wxarchive/wxarchive/archive"
)

// The sample must keep covering what the format tests rely on.
func TestSampleCoversKinds(t *testing.T) {
	s := Units("T")
	kinds := map[archive.Kind]bool{}
	n := 0
	for _, u := range s.Units {
		for _, m := range u.Messages {
			n++
			kinds[m.Message.Kind] = true
			if m.ProductionNumber == "" || m.RawSHA256.IsZero() {
				t.Errorf("serial %d: no production number or raw hash", m.Serial)
			}
		}
	}
	for _, k := range []archive.Kind{archive.KindText, archive.KindImage, archive.KindFile, archive.KindVoice, archive.KindVideo,
		archive.KindLink, archive.KindCard, archive.KindChatRecord, archive.KindRedPacket, archive.KindRevoke,
		archive.KindAgree, archive.KindDisagree, archive.KindUnknown} {
		if !kinds[k] {
			t.Errorf("the sample has no %s message", k)
		}
	}
	if len(s.Files) != 3 {
		t.Errorf("%d native files, want 3 (image, file, voice)", len(s.Files))
	}
	if n != 18 {
		t.Errorf("%d messages", n)
	}
}
