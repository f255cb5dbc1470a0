package witness_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"

	"github.com/wxarchive/wxarchive/witness"
)

const seedNote = "wxarchive.local/0123456789abcdef\n12\nP0nbJ3dIhn0kgKQpvU7a+JYhPLCRUdyEyaKMIzUHs9w=\ntime 2026-01-02T03:04:05.000Z\n\n— wxarchive-test 6KfQ0ZVCiK1b+o7uDdtyr4vbSFOl1IFu1dx8QnqqtdnDJ0JAtWdKp8lyaHW+LjAv1K5v6gf+h5Ob/zAgPg26z5XfgA4=\n"

// FuzzParseNote: a stored checkpoint file or a witness's answer. An
// accepted note's fields are the checkpoint its text encodes.
func FuzzParseNote(f *testing.F) {
	f.Add([]byte(seedNote))
	f.Add([]byte(seedNote + "— witness.test/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— k AAAAAAA=\n"))
	f.Add([]byte("o\n01\nAA==\n\n— k AAAAAAA=\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := witness.ParseNote(b)
		if err != nil {
			if e != nil {
				t.Fatal("entry returned with an error")
			}
			return
		}
		head := log.Checkpoint{Origin: e.Origin, Size: e.Size, Hash: e.Root}.Marshal()
		if !bytes.HasPrefix(b, head) || len(e.Root) != 32 || !bytes.Equal(e.Note, b) {
			t.Fatalf("accepted note %q parsed as %+v", b, e)
		}
	})
}

// FuzzParseAddCheckpoint: an add-checkpoint body as the witness server
// reads it. Whatever is accepted re-encodes to exactly itself.
func FuzzParseAddCheckpoint(f *testing.F) {
	f.Add([]byte("old 0\n\n" + seedNote))
	f.Add([]byte("old 8\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\n" + seedNote))
	f.Add([]byte("old 08\n\nx"))
	f.Add([]byte("old 18446744073709551616\n\nx"))
	f.Add([]byte("old 1\nnot base64\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := witness.ParseAddCheckpoint(b)
		if err != nil {
			if r != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		if len(r.Proof) > witness.MaxProofLines {
			t.Fatalf("%d proof lines accepted", len(r.Proof))
		}
		if again := r.Marshal(); !bytes.Equal(again, b) {
			t.Fatalf("accepted %q re-encodes as %q", b, again)
		}
	})
}

// FuzzParseSize: a 409 answer (text/x.tlog.size).
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0\n", "20852014\n", "08\n", "-1\n", "1", "9223372036854775808\n", "１\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := witness.ParseSize(b)
		if err == nil && strconv.FormatUint(n, 10)+"\n" != string(b) {
			t.Fatalf("accepted %q as %d", b, n)
		}
	})
}

// FuzzParseListing: a plain store's listing.
func FuzzParseListing(f *testing.F) {
	for _, s := range []string{"", "1\n2\n30\n", "2\n1\n", "1\n1\n", "1\n\n", "x\n", "1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sizes, err := witness.ParseListing(b)
		if err != nil {
			return
		}
		if again := witness.FormatListing(sizes); !bytes.Equal(again, b) {
			t.Fatalf("accepted %q re-encodes as %q", b, again)
		}
		for i := 1; i < len(sizes); i++ {
			if sizes[i] <= sizes[i-1] {
				t.Fatalf("not increasing: %v", sizes)
			}
		}
	})
}

// FuzzParseSignatureLines: an add-checkpoint answer (cosignature lines).
func FuzzParseSignatureLines(f *testing.F) {
	for _, s := range []string{
		"— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n",
		"— a AAAAAAA=\n— b AAAAAAA=\n", "- a AAAAAAA=\n", "— a  AAAAAAA=\n", "— a AAAAAAA=", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := witness.ParseSignatureLines(b)
		if err != nil {
			return
		}
		if again := strings.Join(lines, "\n") + "\n"; again != string(b) {
			t.Fatalf("accepted %q as %q", b, lines)
		}
	})
}

// FuzzServerAddCheckpoint sends arbitrary bodies to a real witness
// server: it answers every one with a 2xx/4xx, never a 5xx, and never
// cosigns something the log did not sign.
func FuzzServerAddCheckpoint(f *testing.F) {
	l := newTestLog(f)
	cp := l.grow(5)
	f.Add([]byte("old 0\n\n" + string(cp.Note)))
	f.Add([]byte("old 5\n\n" + string(cp.Note)))
	f.Add([]byte("old 0\n\n" + seedNote))
	f.Add([]byte("old 3\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n" + string(cp.Note)))
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, _, _ := server(t, l.logKey())
		resp, err := http.Post(ts.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("HTTP %d for %q: %s", resp.StatusCode, body, b)
		}
		if resp.StatusCode == 200 {
			req, err := witness.ParseAddCheckpoint(body)
			if err != nil {
				t.Fatalf("cosigned an unparsable request %q", body)
			}
			if _, err := l.verifier.Open(req.Checkpoint); err != nil {
				t.Fatalf("cosigned a checkpoint the log did not sign: %q", req.Checkpoint)
			}
		}
	})
}
