package archive

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBlobIDRoundTrip(t *testing.T) {
	id := Hash([]byte("保本"))
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q", s)
	}
	p, err := ParseBlobID(strings.ToUpper(s))
	if err != nil || p != id {
		t.Fatalf("ParseBlobID(upper) = %v, %v", p, err)
	}
	b, _ := json.Marshal(struct{ ID BlobID }{id})
	var back struct{ ID BlobID }
	if err := json.Unmarshal(b, &back); err != nil || back.ID != id {
		t.Fatalf("JSON round trip: %s → %v, %v", b, back.ID, err)
	}
	if id.IsZero() || !(BlobID{}).IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestParseBlobIDErrors(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("g", 64), strings.Repeat("a", 63), strings.Repeat("a", 65)} {
		if _, err := ParseBlobID(s); err == nil {
			t.Errorf("ParseBlobID(%q) accepted", s)
		}
	}
}

func TestTimeCanonicalJSON(t *testing.T) {
	tm := MillisTime(1700000060123)
	b, err := json.Marshal(struct{ T Time }{tm})
	if err != nil || string(b) != `{"T":"2023-11-14T22:14:20.123Z"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back struct{ T Time }
	if err := json.Unmarshal(b, &back); err != nil || back.T != tm {
		t.Fatalf("unmarshal = %v, %v", back.T, err)
	}
	if err := json.Unmarshal([]byte(`{"T":123}`), &back); err == nil {
		t.Fatal("number accepted as time")
	}
}
